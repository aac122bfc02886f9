"""The ledger's batched reads and writes: chunks of the API's limits, and what DynamoDB leaves
unprocessed (throttling, the 16 MB response limit) asked again, never dropped. moto never
leaves anything unprocessed, so a recording fake of the two calls stands in for DynamoDB."""

from typing import Any, cast

import pytest
from mypy_boto3_dynamodb import DynamoDBClient

from model_medic.store.table import batch_get, batch_put


def key(i: int) -> dict[str, Any]:
    return {"pk": {"S": "ENDPOINT#e"}, "sk": {"S": f"INCIDENT#{i:03d}"}}


class Dynamo:
    """BatchGetItem / BatchWriteItem that leave the last key or item of a first call unprocessed."""

    def __init__(self) -> None:
        self.gets: list[list[dict[str, Any]]] = []
        self.writes: list[list[dict[str, Any]]] = []

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        [(table, request)] = RequestItems.items()
        assert request["ConsistentRead"] is True
        keys = request["Keys"]
        self.gets.append(keys)
        if len(self.gets) == 1 and len(keys) > 1:
            return {"Responses": {table: keys[:-1]}, "UnprocessedKeys": {table: {**request, "Keys": keys[-1:]}}}
        return {"Responses": {table: keys}, "UnprocessedKeys": {}}

    def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        [(table, requests)] = RequestItems.items()
        self.writes.append(requests)
        if len(self.writes) == 1:
            return {"UnprocessedItems": {table: requests[-1:]}}
        return {"UnprocessedItems": {}}


@pytest.fixture(autouse=True)
def _no_back_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("model_medic.store.table.time.sleep", lambda _: None)


def test_batch_get_reads_100_keys_a_call_and_asks_again_for_what_was_left() -> None:
    dynamo = Dynamo()
    found = batch_get(cast("DynamoDBClient", dynamo), "ledger", [key(i) for i in range(150)])
    assert sorted(item["sk"]["S"] for item in found) == [f"INCIDENT#{i:03d}" for i in range(150)]
    assert [len(keys) for keys in dynamo.gets] == [100, 1, 50]


def test_batch_put_writes_25_items_a_call_and_sends_again_what_was_left() -> None:
    dynamo = Dynamo()
    batch_put(cast("DynamoDBClient", dynamo), "ledger", [key(i) for i in range(30)])
    assert [len(requests) for requests in dynamo.writes] == [25, 1, 5]
    written = [r["PutRequest"]["Item"]["sk"]["S"] for requests in dynamo.writes for r in requests]
    assert sorted(set(written)) == [f"INCIDENT#{i:03d}" for i in range(30)]


def test_keys_left_unprocessed_round_after_round_raise_rather_than_vanish() -> None:
    class Throttled(Dynamo):
        def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
            [(table, request)] = RequestItems.items()
            return {"Responses": {table: []}, "UnprocessedKeys": {table: request}}

    with pytest.raises(RuntimeError, match="unprocessed"):
        batch_get(cast("DynamoDBClient", Throttled()), "ledger", [key(1)])
