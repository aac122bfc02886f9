"""Incidents: what the loop knows of one alarm episode (its step in flight too), and the roster of the open ones."""

from __future__ import annotations

import hashlib
import json
from copy import deepcopy
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import ClientError

from model_medic.platform import aws
from model_medic.remediate.units import Change, change_of
from model_medic.store.table import Roster, Table, endpoint_pk, epoch

if TYPE_CHECKING:
    pass


IncidentState = Literal["acting", "waiting", "verifying", "retrained", "recovered", "escalated", "closed"]
OPEN_STATES: frozenset[str] = frozenset({"acting", "waiting", "verifying", "retrained", "escalated", "recovered"})

ROSTER_PK = "INCIDENTS#OPEN"


class Conflict(Exception):  # a control-flow signal
    """Another evaluation moved the incident on first; this one stops."""


@dataclass(frozen=True)
class Shadow:
    """A dry-run incident's shadow of its endpoint: the steps enforce would have taken, none made
    (docs/rooms/control.md, "Dry run")."""

    steps: int = 0  # would-be steps
    changes: tuple[dict[str, Any], ...] = ()  # their single changes, in order (`Change.as_dict`)
    at: str = ""  # when the last would-be step was
    hours: tuple[str, ...] = ()  # the clock hour of each (`Claim.hour`): the budget it would have taken
    verify_until: str | None = None  # the last would-be step's deadline for the alarm to clear
    escalated_at: str | None = None  # when enforce would have escalated

    def made(self) -> tuple[Change, ...]:
        """The would-be changes, typed (`change_of`)."""
        return tuple(change_of(change) for change in self.changes)

    def in_hour(self, hour: str) -> int:
        """Would-be steps in this clock hour."""
        return self.hours.count(hour)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Shadow:
        return cls(
            steps=int(data.get("steps", 0)),
            changes=tuple(data.get("changes", ())),
            at=str(data.get("at", "")),
            hours=tuple(data.get("hours", ())),
            verify_until=data.get("verify_until"),
            escalated_at=data.get("escalated_at"),
        )


@dataclass(frozen=True)
class Step:
    """One step of an incident: its single changes, made one at a time, and how far it got.

    `done` changes took (read back); `called`: the next one, `changes[done]`, was called and
    is not yet read back; `told`: the step's 'acted' decision was recorded and told.
    """

    number: int  # the incident's step count once this step began
    id: str  # the incident's step id: the key of its claim, its 'acted' decision and messages
    at: str  # when it was decided
    summary: str
    changes: tuple[Change, ...]
    hour: str  # the clock hour whose budget its claim took (`Claim.hour`)
    critical: bool = False  # a person must hear of it at once (a rollback)
    done: int = 0
    called: bool = False
    results: tuple[dict[str, Any], ...] = ()  # what AWS answered to each change called
    told: bool = False

    @property
    def started(self) -> bool:
        """Whether its first change was made: from then on, its claim is spent."""
        return self.called or self.done > 0

    @property
    def finished(self) -> bool:
        return self.done >= len(self.changes)

    @property
    def current(self) -> Change:
        """The change to make or to read back next."""
        return self.changes[self.done]

    @property
    def result(self) -> dict[str, Any]:
        """What AWS answered to the current change (empty when it was not called)."""
        return self.results[self.done] if self.done < len(self.results) else {}

    @property
    def ends(self) -> str | None:
        """How the incident ends once this step took, if one of its changes ends it (a rollout's)."""
        return next((c.ends for c in self.changes if c.ends is not None), None)

    def called_(self, result: dict[str, Any]) -> Step:
        """The current change was called (or found made); `result`: what AWS answered."""
        return replace(self, called=True, results=(*self.results[: self.done], result))

    def took(self) -> Step:
        """The current change took: on to the next one."""
        return replace(self, done=self.done + 1, called=False)

    def told_(self) -> Step:
        return replace(self, told=True)

    def as_dict(self) -> dict[str, Any]:
        """The ledger's form (the incident's `pending`), key for key as it has always been stored."""
        return {
            "step": self.number,
            "id": self.id,
            "at": self.at,
            "summary": self.summary,
            "critical": self.critical,
            "changes": [change.as_dict() for change in self.changes],
            "done": self.done,
            "called": self.called,
            "results": [dict(result) for result in self.results],
            "hour": self.hour,
            "told": self.told,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Step:
        """From the ledger's form; a step stored before `told` was kept reads as not told."""
        return cls(
            number=int(data["step"]),
            id=str(data["id"]),
            at=str(data["at"]),
            summary=str(data["summary"]),
            changes=tuple(change_of(change) for change in data["changes"]),
            hour=str(data["hour"]),
            critical=bool(data.get("critical")),
            done=int(data["done"]),
            called=bool(data["called"]),
            results=tuple(data.get("results", ())),
            told=bool(data.get("told")),
        )


@dataclass(frozen=True)
class Incident:
    """One alarm episode on one endpoint, from its opening to its close (docs/rooms/store.md)."""

    endpoint: str
    action: str
    alarm_name: str
    alarm_arn: str
    opened_at: str
    opened_reason: str = ""
    metric: str = ""  # the alarm's metric name, where it has one
    dimensions: dict[str, str] | None = None  # the alarm's dimensions (a per-variant alarm names its variant)
    state: IncidentState = "acting"
    # Steps taken (each: one or more single changes). A step counts from its claim; one that ends
    # with none of its changes made is taken off again (`Stepping._dropped`).
    steps: int = 0
    pending: Step | None = None  # the step in flight
    timeline: tuple[dict[str, str], ...] = ()
    verify_until: str | None = None
    last_note: str = ""  # the last skip recorded, so a sweep does not repeat it every tick
    alarm_ok_at: str | None = None  # the alarm cleared while a change was in flight: close once it lands
    closed_at: str | None = None
    recovered_seconds: float | None = None
    facts: dict[str, Any] | None = None  # what the unit remembers across steps (a rollout's reference capacity)
    # The invocation (its request id) whose evaluation wrote it last: Lambda's retries of that
    # invocation keep its request id and do not evaluate a resting incident again.
    evaluated_by: str = ""
    shadow: Shadow | None = None  # in dry-run: the endpoint as enforce would have left it (`Shadow`)
    version: int = 0

    @property
    def id(self) -> str:
        digest = hashlib.sha256(f"{self.alarm_arn}|{self.opened_at}".encode()).hexdigest()[:16]
        return f"{self.opened_at}#{digest}"

    @property
    def is_closed(self) -> bool:
        return self.closed_at is not None

    @property
    def in_flight(self) -> Step:
        """The step in flight, of an incident that has one."""
        if self.pending is None:
            raise ValueError(f"incident {self.id} has no step in flight")
        return self.pending

    def age(self, at: datetime) -> float:
        """Seconds from its opening to `at`."""
        return (at - datetime.fromisoformat(self.opened_at)).total_seconds()

    def step_id(self, step: int | None = None) -> str:
        return f"{self.id}#step-{self.steps + 1 if step is None else step}"

    def at(self, what: str, when: datetime, detail: str = "", **changes: Any) -> Incident:
        """The incident with one more timeline entry and `changes` to its fields: one new incident."""
        entry = {"at": when.isoformat(), "what": what, "detail": detail}
        return replace(self, timeline=(*self.timeline, entry), **changes)

    def as_dict(self) -> dict[str, Any]:
        """Its ledger form: `asdict`'s, with the id, and the pending step in its own form (`Step.as_dict`)."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data.update(
            timeline=list(self.timeline),
            dimensions=deepcopy(self.dimensions),
            facts=deepcopy(self.facts),
            pending=None if self.pending is None else self.pending.as_dict(),
            shadow=None if self.shadow is None else asdict(self.shadow),
            id=self.id,
        )
        return data


def opened(
    endpoint: str,
    action: str,
    alarm_name: str,
    alarm_arn: str,
    at: datetime,
    reason: str,
    metric: str | None,
    dimensions: dict[str, str] | None = None,
) -> Incident:
    detected = {"at": at.isoformat(), "what": "detected", "detail": reason}
    return Incident(
        endpoint,
        action,
        alarm_name,
        alarm_arn,
        at.isoformat(),
        reason,
        metric or "",
        dict(dimensions or {}),
        timeline=(detected,),
    )


class Incidents:
    """Incidents in the ledger table, and the roster of the open ones."""

    def __init__(self, table: Table, retention: timedelta) -> None:
        self._table = table
        self._retention = retention
        self._rosters: dict[str, Roster] = {}

    def roster(self, action: str) -> Roster:
        """The roster of an action's open incidents (sk `<action>#<endpoint>#<id>`), built once."""
        if action not in self._rosters:
            self._rosters[action] = Roster(self._table, ROSTER_PK, f"{action}#", "open-incident", action=action)
        return self._rosters[action]

    def open(self, incident: Incident) -> Incident:
        """Store a new incident and its roster entry (one transaction); the same transition
        opened twice gives the stored one."""
        first = replace(incident, version=1)
        put = self._table.put_request(self._item(first), condition="attribute_not_exists(pk)")
        entry = self.roster(incident.action).put_request(incident.endpoint, incident.id)
        try:
            self._table.transact([put, entry])
            return first
        except ClientError as error:
            if not _first_condition_failed(error):
                raise
        stored = self.get(incident.endpoint, incident.id)
        assert stored is not None
        return stored

    def get(self, endpoint: str, incident_id: str) -> Incident | None:
        item = self._table.get(endpoint_pk(endpoint), f"INCIDENT#{incident_id}")
        return None if item is None else _decode(item)

    def of(self, endpoint: str, since: datetime | None = None, open_only: bool = False) -> list[Incident]:
        """The endpoint's incidents (opened since `since`), oldest first."""
        if since is None:
            condition = "pk = :pk AND begins_with(sk, :incident)"
            values = {":pk": endpoint_pk(endpoint), ":incident": "INCIDENT#"}
        else:
            condition = "pk = :pk AND sk >= :since"
            values = {":pk": endpoint_pk(endpoint), ":since": f"INCIDENT#{since.isoformat()}"}
        filter_expression = "attribute_not_exists(closed_at)" if open_only else None
        items = self._table.query(condition, values, consistent=True, filter_expression=filter_expression)
        return [_decode(item) for item in items if item["sk"].startswith("INCIDENT#")]

    def save(self, incident: Incident, also: list[dict[str, Any]] | None = None) -> Incident:
        """Write the incident if nobody else did since it was read; `also`: items of the same
        transaction. Closing it deletes its roster entry in the same transaction."""
        saved = replace(incident, version=incident.version + 1)
        if incident.closed_at is not None:
            roster = self.roster(incident.action)
            also = [*(also or []), roster.delete_request(incident.endpoint, incident.id)]
        put = self._table.put_request(
            self._item(saved),
            condition="#version = :read",
            names={"#version": "version"},
            values={":read": incident.version},
        )
        try:
            self._table.write([put, *(also or [])])
        except ClientError as error:
            if _first_condition_failed(error):
                raise Conflict(incident.id) from None
            raise
        return saved

    def persist(self, incident: Incident) -> Incident:
        """`save`, for the bookkeeping that follows an AWS change: transient errors retried in place (`aws.persist`)."""
        return aws.persist(lambda: self.save(incident))

    def open_by_endpoint(self, action: str, endpoints: list[str]) -> dict[str, list[Incident]]:
        """The action's open incidents on each of these endpoints, oldest first: one Query of
        the roster, then the incidents it names, read by key in strongly consistent
        BatchGetItem calls of up to 100, not one Query per endpoint (`Roster.sweep`). An
        entry whose incident is closed is deleted once a read confirms it closed; one whose
        incident cannot be read is kept."""
        return self.roster(action).sweep(endpoints, _OpenIncidents(self, self._table, action))

    def _item(self, incident: Incident) -> dict[str, Any]:
        closed = None if incident.closed_at is None else datetime.fromisoformat(incident.closed_at)
        return {
            "pk": endpoint_pk(incident.endpoint),
            "sk": f"INCIDENT#{incident.id}",
            "kind": "incident",
            "id": incident.id,
            "body": json.dumps(incident.as_dict(), default=str, sort_keys=True),
            "state": incident.state,
            "action": incident.action,
            "alarm_name": incident.alarm_name,
            "version": incident.version,
            "closed_at": incident.closed_at,
            "expiration": None if closed is None else epoch(closed + self._retention),
        }


class _OpenIncidents:
    """An action's open incidents, as their roster lists them (`roster.Members`)."""

    def __init__(self, incidents: Incidents, table: Table, action: str) -> None:
        self._incidents = incidents
        self._table = table
        self._action = action
        self._roster = incidents.roster(action)

    def of_endpoint(self, endpoint: str) -> list[Incident]:
        return [i for i in self._incidents.of(endpoint, open_only=True) if i.action == self._action]

    def named(self, entries: dict[str, str]) -> dict[str, Incident]:
        keys = {sk: self._key(sk, endpoint) for sk, endpoint in entries.items()}
        read = self._table.batch_get(list(keys.values()))
        stored = {(item["pk"], item["sk"]): _decode(item) for item in read}
        return {sk: stored[key] for sk, key in keys.items() if key in stored}

    def placed(self, member: Incident) -> tuple[str, str]:
        return member.endpoint, member.id

    def current(self, member: Incident) -> bool:
        return not member.is_closed and member.action == self._action

    def drop_stale(self, sk: str, endpoint: str, read: dict[str, Incident] | None) -> None:
        incident = read.get(sk) if read is not None else self._incidents.get(endpoint, self._roster.rest(sk, endpoint))
        if incident is not None and incident.is_closed:
            self._roster.delete(sk)

    def _key(self, sk: str, endpoint: str) -> tuple[str, str]:
        return endpoint_pk(endpoint), f"INCIDENT#{self._roster.rest(sk, endpoint)}"


def _first_condition_failed(error: ClientError) -> bool:
    """Whether the write failed on the incident's own condition (a single write's, or the
    first item's of a transaction: the incident is always first)."""
    code = error.response["Error"]["Code"]
    if code == "ConditionalCheckFailedException":
        return True
    if code == "TransactionCanceledException":
        reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
        return bool(reasons) and reasons[0] == "ConditionalCheckFailed"
    return False


def _decode(item: dict[str, Any]) -> Incident:
    body = json.loads(item["body"])
    body.pop("id", None)
    body["timeline"] = tuple(body.get("timeline", ()))
    body["version"] = int(item["version"])
    body["pending"] = None if body.get("pending") is None else Step.from_dict(body["pending"])
    body["shadow"] = None if body.get("shadow") is None else Shadow.from_dict(body["shadow"])
    return Incident(**body)
