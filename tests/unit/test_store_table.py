"""The ledger table (store/table.py): it takes and gives plain values (None and empty sets left out
on the way in, numbers back as Decimal), builds the requests of a transaction in DynamoDB's form,
and tells which items of a cancelled transaction failed on their conditions alone
(`conditions_failed`), from the error as botocore raises it (TransactionCanceledException's
CancellationReasons, one per item in order, "None" for an item that did not fail)."""

from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

import pytest
from botocore.exceptions import ClientError

from model_medic.store.table import Table, cancelled_on, conditions_failed
from tests.unit.conftest import TABLE

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def cancelled(*codes: str) -> ClientError:
    response: Any = {
        "Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"},
        "CancellationReasons": [{"Code": code} for code in codes],
    }
    return ClientError(response, "TransactWriteItems")


def test_the_items_whose_conditions_failed_are_named_by_their_index() -> None:
    error = cancelled("ConditionalCheckFailed", "None", "ConditionalCheckFailed", "None")
    assert conditions_failed(error) == {0, 2}
    assert cancelled_on(error, {0, 2})


def test_a_transaction_cancelled_for_any_other_reason_names_none() -> None:
    assert conditions_failed(cancelled("ConditionalCheckFailed", "TransactionConflict", "None")) == set()
    assert conditions_failed(cancelled("None", "ThrottlingError")) == set()
    throttled = ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "TransactWriteItems")
    assert conditions_failed(throttled) == set()


def test_a_single_conditional_write_whose_condition_failed_is_item_zero() -> None:
    failed = ClientError({"Error": {"Code": "ConditionalCheckFailedException", "Message": "no"}}, "PutItem")
    assert conditions_failed(failed) == {0}


# --- the table speaks plain values ------------------------------------------------------------

NO_CLIENT = cast("DynamoDBClient", None)
Requests = list[tuple[str, str, dict[str, Any]]]


def test_an_item_put_as_plain_values_leaves_out_none_and_empty_sets_and_reads_back_with_decimals(
    dynamodb: Any,
) -> None:
    table = Table(dynamodb, TABLE)
    plain = {"pk": "P", "sk": "S", "n": 7, "d": Decimal("0.25"), "ss": {"a"}, "none": None, "empty": frozenset()}
    assert table.put(plain)
    stored = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "P"}, "sk": {"S": "S"}})["Item"]
    assert stored == {
        "pk": {"S": "P"},
        "sk": {"S": "S"},
        "n": {"N": "7"},
        "d": {"N": "0.25"},
        "ss": {"SS": ["a"]},
    }  # absent rather than NULL, and no empty set
    read = {"pk": "P", "sk": "S", "n": Decimal(7), "d": Decimal("0.25"), "ss": {"a"}}
    got = table.get("P", "S")
    assert got == read
    assert isinstance(got, dict)
    assert (type(got["n"]), type(got["d"]), type(got["ss"])) == (
        Decimal,
        Decimal,
        set,
    )  # as the deserializer gives them
    assert table.get("P", "missing") is None
    assert table.query("pk = :pk", {":pk": "P"}, consistent=True) == [read]
    assert table.batch_get([("P", "S"), ("P", "missing")]) == [read]


def test_a_batch_put_writes_plain_values_in_dynamodbs_form(dynamodb: Any) -> None:
    table = Table(dynamodb, TABLE)
    table.batch_put([{"pk": "P", "sk": f"S{i}", "n": i, "gone": None} for i in range(3)])
    items = dynamodb.query(
        TableName=TABLE, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": "P"}}
    )
    assert [item["n"] for item in items["Items"]] == [{"N": "0"}, {"N": "1"}, {"N": "2"}]
    assert all("gone" not in item for item in items["Items"])


def test_a_conditional_put_request_carries_its_condition_in_dynamodbs_form() -> None:
    table = Table(NO_CLIENT, "ledger")
    request = table.put_request(
        {"pk": "P", "sk": "S", "version": 4, "closed_at": None},
        condition="#version = :read",
        names={"#version": "version"},
        values={":read": 3},
    )
    assert request == {
        "Put": {
            "TableName": "ledger",
            "Item": {"pk": {"S": "P"}, "sk": {"S": "S"}, "version": {"N": "4"}},
            "ConditionExpression": "#version = :read",
            "ExpressionAttributeNames": {"#version": "version"},
            "ExpressionAttributeValues": {":read": {"N": "3"}},
        }
    }
    assert table.put_request({"pk": "P", "sk": "S"}) == {
        "Put": {"TableName": "ledger", "Item": {"pk": {"S": "P"}, "sk": {"S": "S"}}}
    }
    assert table.check_request("P", "S", "attribute_not_exists(pk)") == {
        "ConditionCheck": {
            "TableName": "ledger",
            "Key": {"pk": {"S": "P"}, "sk": {"S": "S"}},
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


def test_one_request_is_written_alone_and_several_as_one_transaction(dynamodb: Any, aws_requests: Requests) -> None:
    table = Table(dynamodb, TABLE)
    put = table.put_request({"pk": "P", "sk": "S", "n": 1}, condition="attribute_not_exists(pk)")
    table.write([put])
    with pytest.raises(ClientError) as failed:
        table.write([put])  # its condition fails, as a single write's does
    assert failed.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    table.write([table.update_request("P", "S", "SET n = :n", {":n": 2}), table.put_request({"pk": "P", "sk": "T"})])
    table.write([table.delete_request("P", "T")])
    assert [operation for _, operation, _ in aws_requests] == ["PutItem", "PutItem", "TransactWriteItems", "DeleteItem"]
    assert table.query("pk = :pk", {":pk": "P"}) == [{"pk": "P", "sk": "S", "n": Decimal(2)}]


def test_an_update_returning_gives_the_item_as_written_or_none_when_its_condition_failed(dynamodb: Any) -> None:
    table = Table(dynamodb, TABLE)
    table.put({"pk": "P", "sk": "S", "holders": {"a"}})
    written = table.update_returning(
        "P", "S", "ADD attempts :one", {":one": 1, ":b": "b"}, condition="NOT contains(holders, :b)"
    )
    assert written == {"pk": "P", "sk": "S", "holders": {"a"}, "attempts": Decimal(1)}
    assert (
        table.update_returning("P", "S", "ADD attempts :one", {":one": 1}, condition="attribute_not_exists(pk)") is None
    )
    assert table.get("P", "S") == written  # nothing written by the one that failed
