"""Which items of a cancelled transaction failed on their conditions alone (`conditions_failed`),
from the error as botocore raises it (TransactionCanceledException's CancellationReasons, one per
item in order, "None" for an item that did not fail)."""

from typing import Any

from botocore.exceptions import ClientError

from model_medic.store.table import cancelled_on, conditions_failed


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
