"""The journal: every decision recorded, what is told only once (marks, notices), and the outbox of letters to send."""

from __future__ import annotations

import itertools
import json
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import ClientError

from model_medic.store.table import Table, cancelled_on, endpoint_pk, epoch
from model_medic.tell.outcome import Outcome

if TYPE_CHECKING:
    pass


# The order decisions were recorded in, for those with the same `at`: the sort key orders them by
# `at` and then by key, which is random, so two decisions of one instant (a step and the wait that
# follows it, under a clock that does not move) would read back in either order.
_RECORDED = itertools.count(1)


@dataclass(frozen=True)
class Decision:
    """One decision as the ledger keeps it: a recorded `Outcome`."""

    endpoint: str
    at: str
    key: str  # unique for the endpoint and time: a step's id (a retry writes the same item), or random
    incident: str  # "-": none
    action: str
    result: str
    gate: str  # "-": none
    reason: str
    mode: str
    alarm_name: str
    alarm_arn: str
    transition: str
    state: str
    changes: dict[str, Any]
    request_id: str  # "-": not known
    expiration: int
    seq: int = 0  # recording order among decisions of the same `at` (0: not known)

    @classmethod
    def of(cls, outcome: Outcome, request_id: str, key: str, retention: timedelta) -> Decision:
        return cls(
            endpoint=outcome.endpoint,
            at=outcome.at,
            key=key,
            incident=outcome.incident or "-",
            action=outcome.action,
            result=outcome.result,
            gate=outcome.gate or "-",
            reason=outcome.reason,
            mode=outcome.mode,
            alarm_name=outcome.alarm_name,
            alarm_arn=outcome.alarm_arn,
            transition=outcome.transition,
            state=outcome.state,
            changes=outcome.changes,
            request_id=request_id or "-",
            expiration=epoch(datetime.fromisoformat(outcome.at) + retention),
            seq=next(_RECORDED),
        )

    @property
    def sk(self) -> str:
        return f"DECISION#{self.at}#{self.key}"

    def to_item(self) -> dict[str, Any]:
        changes = json.dumps(self.changes, default=str, sort_keys=True)
        order = {"seq": self.seq} if self.seq else {}
        return self.as_dict() | {"changes": changes, "expiration": self.expiration} | order

    @classmethod
    def from_item(cls, data: dict[str, Any]) -> Decision:
        return cls(
            endpoint=data["endpoint"],
            at=data["at"],
            key=data["sk"].split("#", 2)[2],
            incident=data["incident"],
            action=data["action"],
            result=data["result"],
            gate=data["gate"],
            reason=data["reason"],
            mode=data["mode"],
            alarm_name=data["alarm_name"],
            alarm_arn=data["alarm_arn"],
            transition=data["transition"],
            state=data["state"],
            changes=json.loads(data.get("changes", "{}")),
            request_id=data["request_id"],
            expiration=int(data["expiration"]),
            seq=int(data.get("seq", 0)),
        )

    def as_dict(self) -> dict[str, Any]:
        """Every stored attribute, `changes` as data (the daily report's form of a decision)."""
        return {
            "pk": endpoint_pk(self.endpoint),
            "sk": self.sk,
            "incident": self.incident,
            "kind": "decision",
            "endpoint": self.endpoint,
            "action": self.action,
            "result": self.result,
            "gate": self.gate,
            "reason": self.reason,
            "mode": self.mode,
            "alarm_name": self.alarm_name,
            "alarm_arn": self.alarm_arn,
            "transition": self.transition,
            "state": self.state,
            "at": self.at,
            "changes": self.changes,
            "request_id": self.request_id,
            "expiration": str(self.expiration),
        }


@dataclass(frozen=True)
class Mark:
    """Something done once (a message sent, a problem told), kept until it expires."""

    endpoint: str
    key: str
    at: datetime
    expiration: int

    def to_item(self) -> dict[str, Any]:
        return {
            "pk": endpoint_pk(self.endpoint),
            "sk": f"MARK#{self.key}",
            "kind": "mark",
            "at": self.at.isoformat(),
            "expiration": self.expiration,
        }

    @classmethod
    def from_item(cls, data: dict[str, Any]) -> Mark:
        return cls(
            endpoint=data["pk"].removeprefix("ENDPOINT#"),
            key=data["sk"].removeprefix("MARK#"),
            at=datetime.fromisoformat(data["at"]),
            expiration=int(data["expiration"]),
        )


@dataclass(frozen=True)
class Notice:
    """A standing problem told once, kept until it is cleared."""

    endpoint: str
    notice: str
    since: datetime

    def to_item(self) -> dict[str, Any]:
        return {
            "pk": endpoint_pk(self.endpoint),
            "sk": f"NOTICE#{self.notice}",
            "kind": "notice",
            "since": self.since.isoformat(),
        }

    @classmethod
    def from_item(cls, data: dict[str, Any]) -> Notice:
        return cls(
            endpoint=data["pk"].removeprefix("ENDPOINT#"),
            notice=data["sk"].removeprefix("NOTICE#"),
            since=datetime.fromisoformat(data["since"]),
        )


class Journal:
    """Decisions, marks and notices in the ledger table."""

    def __init__(self, table: Table, retention: timedelta) -> None:
        self._table = table
        self._retention = retention

    def record(self, outcome: Outcome, request_id: str, key: str | None = None) -> None:
        """One decision; with `key` (a step's id) a retry writes the same item again, not a second one."""
        self._table.put(self._decision(outcome, request_id, key).to_item())

    def decision_request(self, outcome: Outcome, request_id: str, key: str | None = None) -> dict[str, Any]:
        """A decision's Put, for the transaction that also writes what tells of it (the outbox)."""
        return self._table.put_request(self._decision(outcome, request_id, key).to_item())

    def _decision(self, outcome: Outcome, request_id: str, key: str | None) -> Decision:
        return Decision.of(outcome, request_id, key or uuid.uuid4().hex[:12], self._retention)

    def decisions(self, endpoint: str, since: datetime, until: datetime) -> list[Decision]:
        """Decisions about an endpoint in [since, until), oldest first; none, and no query, when
        `until` is before `since` (a time asked before the incident opened, a clock behind
        Lambda's): DynamoDB refuses a BETWEEN whose bounds are out of order
        (docs/aws-behaviours.md, "Reading a deployed stack")."""
        low, high = f"DECISION#{since.isoformat()}", f"DECISION#{until.isoformat()}"
        if high < low:  # the keys' own order (UTF-8 bytes), as DynamoDB compares them
            return []
        items = self._table.query(
            "pk = :pk AND sk BETWEEN :lo AND :hi", {":pk": endpoint_pk(endpoint), ":lo": low, ":hi": high}
        )
        return sorted((Decision.from_item(item) for item in items), key=lambda d: (d.at, d.seq))

    def mark(self, endpoint: str, key: str, at: datetime, keep: timedelta | None = None) -> bool:
        """True the first time `key` is marked: the caller may do what it guards (tell once).

        The mark expires after `keep` (default: the ledger's retention)."""
        return self._table.put_once(Mark(endpoint, key, at, epoch(at + (keep or self._retention))).to_item())

    def marks(self, endpoint: str, prefix: str) -> list[Mark]:
        """The endpoint's marks whose key starts with `prefix` (what was told once), in key order."""
        items = self._table.query(
            "pk = :pk AND begins_with(sk, :mark)", {":pk": endpoint_pk(endpoint), ":mark": f"MARK#{prefix}"}
        )
        return [Mark.from_item(item) for item in items]

    def mark_request(self, endpoint: str, key: str, at: datetime, keep: timedelta | None = None) -> dict[str, Any]:
        """A mark's Put for a transaction, on the condition that it is not there yet: the
        transaction does what the mark guards (records and queues a message) once."""
        mark = Mark(endpoint, key, at, epoch(at + (keep or self._retention)))
        return self._table.put_request(mark.to_item(), condition="attribute_not_exists(pk)")

    def marked(self, endpoint: str, key: str) -> bool:
        """Whether `key` is marked (strongly consistent)."""
        return self._table.get(endpoint_pk(endpoint), f"MARK#{key}") is not None

    def notice_request(self, endpoint: str, notice: str, at: datetime) -> dict[str, Any]:
        """A standing problem's notice, as a Put for a transaction on the condition that it is not
        there yet: the transaction that tells it (its decision, its letter) is written once, until
        `clear_notice` says the problem ended (`tell/notices.py`)."""
        return self._table.put_request(Notice(endpoint, notice, at).to_item(), condition="attribute_not_exists(pk)")

    def clear_notice(self, endpoint: str, notice: str) -> None:
        """The problem ended: the next time it is noticed, it is told again."""
        self._table.delete(endpoint_pk(endpoint), f"NOTICE#{notice}")


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
        return {
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

    @classmethod
    def from_item(cls, data: dict[str, Any]) -> Letter:
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

    def __init__(self, table: Table, retention: timedelta) -> None:
        self._table = table
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
        taken = self._table.update_returning(
            OUTBOX_PK,
            letter.sk,
            "SET #owner = :me, lease_until = :until ADD attempts :one",
            {":me": owner, ":until": epoch(now + lease), ":now": epoch(now), ":one": 1},
            condition="attribute_exists(pk) AND (#owner = :me OR lease_until <= :now)",
            names={"#owner": "owner"},
        )
        return None if taken is None else Letter.from_item(taken)

    def sent(self, letter: Letter, channel: str, at: datetime) -> Letter:
        """One channel sent: the letter without it (deleted once none is left); a letter told once
        under a key leaves, in the same transaction, the mark `<key>#<channel>` - what was sent,
        and when, as the status room reads it (`Journal.marks`)."""
        left = letter.channels - {channel}
        if not left:
            change = self._table.delete_request(OUTBOX_PK, letter.sk)
        else:
            # On the condition that it is still there: an update would otherwise create a stub.
            change = self._table.update_request(
                OUTBOX_PK, letter.sk, "DELETE channels :sent", {":sent": {channel}}, condition="attribute_exists(pk)"
            )
        requests = [change]
        if letter.key:
            mark = Mark(letter.endpoint, f"{letter.key}#{channel}", at, epoch(at + self.retention))
            requests.append(self._table.put_request(mark.to_item()))
        try:
            self._table.write(requests)
        except ClientError as error:
            if not cancelled_on(error, {0}):
                raise  # gone already: sent by another invocation meanwhile
        return replace(letter, channels=left)

    def later(self, letter: Letter, until: datetime, error: str) -> None:
        """A letter AWS refused to take: left pending, not tried again before `until`."""
        self._table.update(
            OUTBOX_PK,
            letter.sk,
            "SET lease_until = :until, last_error = :error",
            {":until": epoch(until), ":error": error[:500]},
            condition="attribute_exists(pk)",
        )
