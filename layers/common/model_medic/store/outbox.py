"""The outbox: each message to send, written in the transaction of the decision it tells, kept until it is sent."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import ClientError

from model_medic.platform import aws
from model_medic.store.journal import Mark
from model_medic.store.table import Table, cancelled_on, epoch, from_item, to_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# One partition holds every letter not sent yet, so that an invocation finds them in one Query.
OUTBOX_PK = "OUTBOX#PENDING"
# Sort keys begin with the rank: critical letters sort (and are sent) before the others.
_RANKS = {"critical": "0", "info": "1"}

Channel = Literal["sns", "event"]
# The order a letter's channels are sent in: people first, then machines.
CHANNELS: tuple[Channel, ...] = ("sns", "event")
LetterKind = Literal["outcome", "alert", "inform"]
Severity = Literal["critical", "info"]


@dataclass(frozen=True)
class Letter:
    """One message to send: an outcome (SNS and/or EventBridge) or a plain message (SNS), with
    the channels still to send and the invocation that sends it until its lease ends."""

    dedup_id: str  # the same in every copy sent: SNS message attribute, EventBridge detail field
    severity: Severity
    created_at: str  # ISO time it was written
    endpoint: str
    kind: LetterKind
    body: dict[str, Any]  # an outcome's fields, or {"subject": ..., "text": ...}
    channels: frozenset[str]
    owner: str  # the request id of the invocation that sends it
    lease_until: int  # epoch seconds: until then, only its owner sends it
    expiration: int
    attempts: int = 0  # sends tried by invocations that took it over (`Outbox.take`)
    key: str = ""  # the key it is told once under: each channel sent leaves the mark `<key>#<channel>`

    @property
    def sk(self) -> str:
        return f"{_RANKS[self.severity]}#{self.created_at}#{self.dedup_id}"

    def to_item(self) -> dict[str, Any]:
        return to_item(
            {
                "pk": OUTBOX_PK,
                "sk": self.sk,
                "kind": "letter",
                "dedup_id": self.dedup_id,
                "severity": self.severity,
                "created_at": self.created_at,
                "endpoint": self.endpoint,
                "letter": self.kind,
                # Keys in their order: a copy sent from the ledger reads as the one sent at once.
                "body": json.dumps(self.body, default=str),
                "channels": set(self.channels),
                "owner": self.owner,
                "lease_until": self.lease_until,
                "attempts": self.attempts,
                "expiration": self.expiration,
                "key": self.key or None,
            }
        )

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Letter:
        data = from_item(item)
        return cls(
            dedup_id=data["dedup_id"],
            severity=data["severity"],
            created_at=data["created_at"],
            endpoint=data["endpoint"],
            kind=data["letter"],
            body=json.loads(data["body"]),
            channels=frozenset(data.get("channels", ())),
            owner=data["owner"],
            lease_until=int(data["lease_until"]),
            expiration=int(data["expiration"]),
            attempts=int(data.get("attempts", 0)),
            key=data.get("key", ""),
        )


class Outbox:
    """Letters in the ledger table (pk `OUTBOX#PENDING`, sk `<rank>#<created ISO>#<dedup id>`)."""

    def __init__(self, client: DynamoDBClient, table: str, retention: timedelta) -> None:
        self._table = Table(client, table)
        self.retention = retention

    def put_request(self, letter: Letter) -> dict[str, Any]:
        """The Put of a letter, for the transaction that records what it tells."""
        return self._table.put_request(letter.to_item())

    def commit(self, items: list[dict[str, Any]]) -> None:
        """One transaction: a decision (or a mark) and its letters, written together or not at all."""
        self._table.transact(items)

    def pending(self) -> list[Letter]:
        """The letters not sent yet, critical first, then oldest first: one strongly consistent
        Query (its first page: what a page leaves is read by the next invocation)."""
        items = self._table.query("pk = :pk", {":pk": OUTBOX_PK}, consistent=True, every_page=False)
        return [Letter.from_item(item) for item in items]

    def take(self, letter: Letter, owner: str, now: datetime, lease: timedelta) -> Letter | None:
        """The letter leased to `owner` until now + lease, if it is still pending and its lease is
        over (or `owner`'s already); None when another invocation holds it or it was sent."""
        try:
            answer = self._table.client.update_item(
                TableName=self._table.name,
                Key=self._table.key(OUTBOX_PK, letter.sk),
                UpdateExpression="SET #owner = :me, lease_until = :until ADD attempts :one",
                ConditionExpression="attribute_exists(pk) AND (#owner = :me OR lease_until <= :now)",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues=to_item(
                    {":me": owner, ":until": epoch(now + lease), ":now": epoch(now), ":one": 1}
                ),
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if aws.error_code(error) != "ConditionalCheckFailedException":
                raise
            return None
        return Letter.from_item(dict(answer["Attributes"]))

    def sent(self, letter: Letter, channel: str, at: datetime) -> Letter:
        """One channel sent: the letter without it (deleted once none is left); a letter told once
        under a key leaves, in the same transaction, the mark `<key>#<channel>` - what was sent,
        and when, as the status room reads it (`Journal.marks`)."""
        left = letter.channels - {channel}
        if not left:
            change = self._table.delete_request(OUTBOX_PK, letter.sk)
        else:
            # On the condition that it is still there: an update would otherwise create a stub.
            change = {
                "Update": {
                    "TableName": self._table.name,
                    "Key": self._table.key(OUTBOX_PK, letter.sk),
                    "UpdateExpression": "DELETE channels :sent",
                    "ConditionExpression": "attribute_exists(pk)",
                    "ExpressionAttributeValues": to_item({":sent": {channel}}),
                }
            }
        try:
            if letter.key:
                mark = Mark(letter.endpoint, f"{letter.key}#{channel}", at, epoch(at + self.retention))
                self._table.transact([change, self._table.put_request(mark.to_item())])
            else:
                self._write(change)
        except ClientError as error:
            if not cancelled_on(error, {0}):
                raise  # gone already: sent by another invocation meanwhile
        return replace(letter, channels=left)

    def _write(self, change: dict[str, Any]) -> None:
        if "Delete" in change:
            self._table.client.delete_item(**change["Delete"])
        else:
            self._table.client.update_item(**change["Update"])

    def later(self, letter: Letter, until: datetime, error: str) -> None:
        """A letter AWS refused to take: left pending, not tried again before `until`."""
        self._table.update(
            OUTBOX_PK,
            letter.sk,
            "SET lease_until = :until, last_error = :error",
            {":until": epoch(until), ":error": error[:500]},
            condition="attribute_exists(pk)",
        )
