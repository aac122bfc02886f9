"""The ledger table: items in and out through boto3's type (de)serializers, the calls every store makes, and rosters."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, cast

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from model_medic.platform import aws

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef


_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()


def to_item(data: Mapping[str, Any]) -> dict[str, Any]:
    """DynamoDB's form of plain values (str: S, int or Decimal: N, a set of str: SS). A None or
    an empty set is left out: an attribute is absent rather than NULL, and DynamoDB has no
    empty sets."""
    return {
        name: _SERIALIZER.serialize(value)
        for name, value in data.items()
        if value is not None and not (isinstance(value, set | frozenset) and not value)
    }


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """Plain values of an item (numbers come back as Decimal, sets as set)."""
    return {name: _DESERIALIZER.deserialize(value) for name, value in item.items()}


def endpoint_pk(endpoint: str) -> str:
    """The partition of an endpoint's items."""
    return f"ENDPOINT#{endpoint}"


def epoch(moment: datetime) -> int:
    """A time as the table's TTL and lock attributes hold it: whole seconds since the epoch."""
    return int(moment.timestamp())


def request_token(requests: list[dict[str, Any]], retries: str) -> str:
    """A transaction's ClientRequestToken within one write's in-place retries (`aws.persist`, whose
    id is `retries`): a digest of that id and of the requests in a canonical form (keys sorted, the
    members of a set in order), at most 36 characters (DynamoDB's limit)."""
    canonical = json.dumps(_canonical(requests), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{retries}:{canonical}".encode()).hexdigest()[:36]


def _canonical(value: Any) -> Any:
    """A request with the members of its sets (DynamoDB's SS, NS and BS) in order."""
    if isinstance(value, dict):
        return {
            key: sorted(map(str, member))
            if key in ("SS", "NS", "BS") and isinstance(member, list)
            else _canonical(member)
            for key, member in value.items()
        }
    if isinstance(value, list):
        return [_canonical(member) for member in value]
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)


def cancelled_on(error: ClientError, indexes: set[int]) -> bool:
    """Whether a write failed on the conditions of some of these items only: a transaction
    cancelled with ConditionalCheckFailed at these indexes (and no other reason), or a single
    conditional write (index 0) whose condition failed."""
    code = aws.error_code(error)
    if code == "ConditionalCheckFailedException":
        return 0 in indexes
    if code != "TransactionCanceledException":
        return False
    reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
    failed = {i for i, reason in enumerate(reasons) if reason not in (None, "None")}
    return bool(failed) and failed <= indexes and all(reasons[i] == "ConditionalCheckFailed" for i in failed)


def conditions_failed(error: ClientError) -> set[int]:
    """The items of a transaction whose conditions failed, when they alone cancelled it (index 0
    for a single conditional write whose condition failed); empty for any other error."""
    code = aws.error_code(error)
    if code == "ConditionalCheckFailedException":
        return {0}
    if code != "TransactionCanceledException":
        return set()
    reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
    failed = {i for i, reason in enumerate(reasons) if reason not in (None, "None")}
    return failed if all(reasons[i] == "ConditionalCheckFailed" for i in failed) else set()


class Table:
    """One DynamoDB table and the client that reaches it, speaking plain values both ways: items,
    keys and expression values go in as plain values (`to_item`: None and empty sets left out)
    and items come out as plain values (`from_item`: numbers as Decimal, sets as set). The
    requests of a transaction are built here too, so no store assembles DynamoDB's form."""

    def __init__(self, client: DynamoDBClient, name: str) -> None:
        self.client = client
        self.name = name

    def get(self, pk: str, sk: str) -> dict[str, Any] | None:
        """One item, strongly consistent; None if there is none."""
        item = self.client.get_item(TableName=self.name, Key=self._key(pk, sk), ConsistentRead=True).get("Item")
        return None if item is None else from_item(item)

    def query(
        self,
        condition: str,
        values: Mapping[str, Any],
        *,
        consistent: bool = False,
        filter_expression: str | None = None,
        every_page: bool = True,
    ) -> list[dict[str, Any]]:
        """The items of a key condition, in sort-key order: every page, or the first only."""
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": to_item(values),
        }
        if consistent:
            kwargs["ConsistentRead"] = True
        if filter_expression is not None:
            kwargs["FilterExpression"] = filter_expression
        found: list[dict[str, Any]] = []
        while True:
            page = self.client.query(**kwargs)
            found += map(from_item, page.get("Items", []))
            if not every_page or "LastEvaluatedKey" not in page:
                return found
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def put(
        self,
        item: Mapping[str, Any],
        *,
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> bool:
        """A PutItem; with a condition, False when it failed (nothing was written)."""
        return self._written(self.client.put_item, self._put(item, condition, names, values))

    def put_once(self, item: Mapping[str, Any]) -> bool:
        """A conditional put: True for the caller that wrote the item, False for every later one."""
        return self.put(item, condition="attribute_not_exists(pk)")

    def update(
        self,
        pk: str,
        sk: str,
        expression: str,
        values: Mapping[str, Any],
        *,
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
    ) -> bool:
        """An UpdateItem; with a condition, False when it failed (nothing was written)."""
        return self._written(self.client.update_item, self._update(pk, sk, expression, values, condition, names))

    def update_returning(
        self,
        pk: str,
        sk: str,
        expression: str,
        values: Mapping[str, Any],
        *,
        condition: str,
        names: Mapping[str, str] | None = None,
    ) -> dict[str, Any] | None:
        """A conditional UpdateItem that returns the item as written (ALL_NEW); None when the
        condition failed (nothing was written)."""
        params = self._update(pk, sk, expression, values, condition, names) | {"ReturnValues": "ALL_NEW"}
        try:
            answer = self.client.update_item(**params)
        except ClientError as error:
            if aws.error_code(error) != "ConditionalCheckFailedException":
                raise
            return None
        return from_item(answer["Attributes"])

    def delete(
        self,
        pk: str,
        sk: str,
        *,
        condition: str | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> bool:
        """A DeleteItem; with a condition, False when it failed (nothing was deleted)."""
        return self._written(self.client.delete_item, self._delete(pk, sk, condition, None, values))

    def transact(self, requests: list[dict[str, Any]]) -> None:
        """One TransactWriteItems of these requests (`put_request`, `update_request`, ...). Inside
        a write's in-place retries (`aws.persist`) its ClientRequestToken is derived from them
        (`request_token`): the same transaction sent again there - after an answer that said it
        was still in progress, or a fault after it went through - is the one transaction, not a
        second that fails its own conditions. Elsewhere botocore gives each call a token of its own,
        kept through its own retries (docs/aws-behaviours.md, "Transient or permanent")."""
        items = cast("list[TransactWriteItemTypeDef]", requests)
        retries = aws.retries()
        if retries is None:
            self.client.transact_write_items(TransactItems=items)
        else:
            self.client.transact_write_items(TransactItems=items, ClientRequestToken=request_token(requests, retries))

    def write(self, requests: list[dict[str, Any]]) -> None:
        """These requests written together: one alone as its own PutItem, UpdateItem or
        DeleteItem, several as one transaction. A failed condition raises, as it does in one."""
        if len(requests) > 1:
            self.transact(requests)
            return
        [(operation, params)] = requests[0].items()
        calls: dict[str, Callable[..., object]] = {
            "Put": self.client.put_item,
            "Update": self.client.update_item,
            "Delete": self.client.delete_item,
        }
        calls[operation](**params)

    def put_request(
        self,
        item: Mapping[str, Any],
        *,
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A transaction's Put of an item; with a condition, the item is written only if it holds."""
        return {"Put": self._put(item, condition, names, values)}

    def update_request(
        self,
        pk: str,
        sk: str,
        expression: str,
        values: Mapping[str, Any],
        *,
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """A transaction's Update of an item."""
        return {"Update": self._update(pk, sk, expression, values, condition, names)}

    def delete_request(
        self,
        pk: str,
        sk: str,
        *,
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A transaction's Delete of an item."""
        return {"Delete": self._delete(pk, sk, condition, names, values)}

    def check_request(self, pk: str, sk: str, condition: str) -> dict[str, Any]:
        """A transaction's ConditionCheck of an item: the transaction is written only if it holds."""
        return {"ConditionCheck": {"TableName": self.name, "Key": self._key(pk, sk), "ConditionExpression": condition}}

    def batch_get(self, keys: list[tuple[str, str]]) -> list[dict[str, Any]]:
        """`batch_get` of these (pk, sk) keys on this table, strongly consistent."""
        return [from_item(item) for item in batch_get(self.client, self.name, [self._key(*key) for key in keys])]

    def batch_put(self, items: list[Mapping[str, Any]]) -> None:
        batch_put(self.client, self.name, [to_item(item) for item in items])

    def _key(self, pk: str, sk: str) -> dict[str, Any]:
        return to_item({"pk": pk, "sk": sk})

    def _put(
        self,
        item: Mapping[str, Any],
        condition: str | None,
        names: Mapping[str, str] | None,
        values: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        return self._conditional({"TableName": self.name, "Item": to_item(item)}, condition, names, values)

    def _update(
        self,
        pk: str,
        sk: str,
        expression: str,
        values: Mapping[str, Any],
        condition: str | None,
        names: Mapping[str, str] | None,
    ) -> dict[str, Any]:
        params = {"TableName": self.name, "Key": self._key(pk, sk), "UpdateExpression": expression}
        return self._conditional(params, condition, names, values)

    def _delete(
        self,
        pk: str,
        sk: str,
        condition: str | None,
        names: Mapping[str, str] | None,
        values: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        return self._conditional({"TableName": self.name, "Key": self._key(pk, sk)}, condition, names, values)

    @staticmethod
    def _conditional(
        params: dict[str, Any],
        condition: str | None,
        names: Mapping[str, str] | None,
        values: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        """A write's parameters with its condition and expression names and values, where given."""
        if condition is not None:
            params["ConditionExpression"] = condition
        if names is not None:
            params["ExpressionAttributeNames"] = dict(names)
        if values is not None:
            params["ExpressionAttributeValues"] = to_item(values)
        return params

    @staticmethod
    def _written(call: Callable[..., object], params: dict[str, Any]) -> bool:
        """A single write; False when its condition failed (nothing was written)."""
        try:
            call(**params)
        except ClientError as error:
            if "ConditionExpression" not in params or aws.error_code(error) != "ConditionalCheckFailedException":
                raise
            return False
        return True


def batch_get(
    client: DynamoDBClient, table: str, keys: list[dict[str, Any]], consistent: bool = True
) -> list[dict[str, Any]]:
    """The items of these keys that exist, read in BatchGetItem calls of up to 100 keys (the
    API's limit), strongly consistent unless told otherwise. Keys DynamoDB leaves unprocessed
    (throttling, the 16 MB response limit) are asked again, with a short back-off, until none
    is left; a read that still leaves some after 8 rounds raises, as a transient error does."""
    found: list[dict[str, Any]] = []
    for start in range(0, len(keys), 100):
        request: dict[str, Any] = {table: {"Keys": keys[start : start + 100], "ConsistentRead": consistent}}
        for attempt in range(8):
            page = client.batch_get_item(RequestItems=request)
            found += page.get("Responses", {}).get(table, [])
            request = page.get("UnprocessedKeys") or {}
            if not request:
                break
            time.sleep(0.05 * 2**attempt)
        else:
            raise RuntimeError(f"BatchGetItem on {table} left keys unprocessed after 8 rounds")
    return found


def batch_put(client: DynamoDBClient, table: str, items: list[dict[str, Any]]) -> None:
    """Put these items in BatchWriteItem calls of up to 25 (the API's limit); unprocessed
    items are sent again as in `batch_get`. Not conditional: for items that hold no state
    another writer relies on (a cache)."""
    for start in range(0, len(items), 25):
        request: dict[str, Any] = {table: [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]}
        for attempt in range(8):
            page = client.batch_write_item(RequestItems=request)
            request = page.get("UnprocessedItems") or {}
            if not request:
                break
            time.sleep(0.05 * 2**attempt)
        else:
            raise RuntimeError(f"BatchWriteItem on {table} left items unprocessed after 8 rounds")


# A roster's "complete" mark (after its prefix): sorts before every entry, whose sort keys go
# on with an endpoint name (a letter or digit first).
ROSTER_COMPLETE = "!complete"


class Members[T](Protocol):
    """What a roster lists, as its user reads it and confirms an entry stale."""

    def of_endpoint(self, endpoint: str) -> list[T]:
        """One endpoint's members that a sweep hands out, read as before the roster existed."""
        ...

    def named(self, entries: dict[str, str]) -> dict[str, T]:
        """What these entries (sort key -> endpoint) name, read now: entry sort key -> member,
        for the members that exist (and any other member read on the way, under its entry's key)."""
        ...

    def placed(self, member: T) -> tuple[str, str]:
        """Its entry's place: (endpoint, the rest of the sort key)."""
        ...

    def current(self, member: T) -> bool:
        """Whether a sweep hands it out (and its roster lists it)."""
        ...

    def drop_stale(self, sk: str, endpoint: str, read: dict[str, T] | None) -> None:
        """An entry that names nothing current: deleted once a read or a condition confirms it.
        `read`: what the sweep read by key (`named`, the roster being complete), else None."""
        ...


class Roster:
    """Entries `<prefix><endpoint>#<rest>` in the partition `pk`, and the mark `<prefix>!complete`.

    Each entry is put and deleted in the transactions that write its member. Members written
    before the roster existed have none: until the mark exists, a sweep reads every endpoint
    as before (`Members.of_endpoint`), enters what it finds and then puts the mark. An entry
    whose member is no longer current is deleted once that is confirmed (`Members.drop_stale`).
    """

    def __init__(self, table: Table, pk: str, prefix: str, kind: str, **attributes: str) -> None:
        self._table = table
        self.pk = pk
        self._prefix = prefix
        self._kind = kind
        self._attributes = attributes  # what every entry also holds (an incident roster's action)

    def sk(self, endpoint: str, rest: str) -> str:
        return f"{self._prefix}{endpoint}#{rest}"

    def rest(self, sk: str, endpoint: str) -> str:
        """What follows the endpoint in an entry's sort key."""
        return sk[len(self._prefix) + len(endpoint) + 1 :]

    def entry(self, endpoint: str, rest: str) -> dict[str, Any]:
        """An entry's item."""
        data = {"pk": self.pk, "sk": self.sk(endpoint, rest), "kind": self._kind, "endpoint": endpoint}
        return {**data, **self._attributes}

    def put_request(self, endpoint: str, rest: str) -> dict[str, Any]:
        """The Put of an entry, for the transaction that writes its member."""
        return self._table.put_request(self.entry(endpoint, rest))

    def delete_request(self, endpoint: str, rest: str) -> dict[str, Any]:
        """The Delete of an entry, for the transaction that deletes (or closes) its member."""
        return self._table.delete_request(self.pk, self.sk(endpoint, rest))

    def delete(self, sk: str) -> None:
        self._table.delete(self.pk, sk)

    def read(self) -> tuple[dict[str, str], bool]:
        """The entries (sort key -> endpoint) and whether the roster is complete: one strongly
        consistent, paginated Query."""
        if self._prefix:
            condition, values = "pk = :pk AND begins_with(sk, :prefix)", {":pk": self.pk, ":prefix": self._prefix}
        else:
            condition, values = "pk = :pk", {":pk": self.pk}
        entries: dict[str, str] = {}
        complete = False
        for item in self._table.query(condition, values, consistent=True):
            if item["sk"] == self._prefix + ROSTER_COMPLETE:
                complete = True
            else:
                entries[item["sk"]] = item["endpoint"]
        return entries, complete

    def sweep[T](self, endpoints: list[str], members: Members[T]) -> dict[str, list[T]]:
        """Each endpoint's current members: one Query of the roster, then what it names (or, until
        the roster is complete, every endpoint read, its members entered and the mark put)."""
        entries, complete = self.read()
        wanted = set(endpoints)
        named = {sk: endpoint for sk, endpoint in entries.items() if endpoint in wanted}
        by_key = members.named(named) if complete else None
        read = by_key
        if read is None:
            read = {self.sk(*members.placed(m)): m for e in sorted(wanted) for m in members.of_endpoint(e)}
        found: dict[str, list[T]] = {endpoint: [] for endpoint in endpoints}
        listed = set()
        for sk in sorted(read):
            if members.current(read[sk]):
                found[members.placed(read[sk])[0]].append(read[sk])
                listed.add(sk)
        for sk, endpoint in named.items():
            if sk not in listed:
                members.drop_stale(sk, endpoint, by_key)
        if not complete:
            for sk in sorted(listed - entries.keys()):
                self._table.put(self.entry(*members.placed(read[sk])))
            self._table.put({"pk": self.pk, "sk": self._prefix + ROSTER_COMPLETE, "kind": "roster"})
        return found
