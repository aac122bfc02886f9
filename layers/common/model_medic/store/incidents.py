"""Incidents (docs/architecture.md, "The control loop"): what the control loop knows about one alarm episode.

An incident opens when an alarm that a remediation handles goes to ALARM for an endpoint
and closes when the alarm returns to OK. It keeps the alarm, the endpoint, when it opened
and closed, its state, every action with its result (the timeline the daily report
draws), and the step in flight, if any (`pending`, a `Step`: the intent recorded before the
AWS call, so that a retry finishes the change instead of repeating it).

States: acting (deciding and making changes), waiting (a change is in flight in AWS),
verifying (the change is InService; the loop waits for the alarm to clear), recovered,
escalated (a person was told it did not help; the action is not repeated), closed.

Ledger item: pk `ENDPOINT#<endpoint>`, sk `INCIDENT#<opened ISO time>#<id>`. Every write
is conditional on the version read (optimistic locking), so that of two concurrent
evaluations exactly one moves the incident on; the step's claim (cool-down and budget)
is written in the same transaction as the intent.

The roster of open incidents: pk `INCIDENTS#OPEN`, sk `<action>#<endpoint>#<id>`, one item
per open incident, put in the transaction that opens it and deleted in every write that
closes it. A sweep reads the roster in one Query and then the incidents it names by key, up
to 100 a call (`open_by_endpoint`), instead of one Query per endpoint of the fleet. Incidents
opened before the roster existed are entered by the first sweep of their action, which
reads every endpoint once and then marks the roster complete (`<action>#!complete`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from botocore.exceptions import ClientError

from model_medic.control.step import Step
from model_medic.platform import aws
from model_medic.store.ledger import ROSTER_COMPLETE, batch_get, read_roster

IncidentState = Literal["acting", "waiting", "verifying", "recovered", "escalated", "closed"]
OPEN_STATES: frozenset[str] = frozenset({"acting", "waiting", "verifying", "escalated", "recovered"})

ROSTER_PK = "INCIDENTS#OPEN"


class Conflict(Exception):  # a control-flow signal
    """Another evaluation moved the incident on first; this one stops."""


@dataclass(frozen=True)
class Incident:
    endpoint: str
    action: str
    alarm_name: str
    alarm_arn: str
    opened_at: str
    opened_reason: str = ""
    metric: str = ""  # the alarm's metric name, where it has one
    dimensions: dict[str, str] | None = None  # the alarm's dimensions (a per-variant alarm names its variant)
    state: IncidentState = "acting"
    steps: int = 0  # steps taken (each: one or more single changes)
    pending: Step | None = None  # the step in flight
    timeline: tuple[dict[str, str], ...] = ()
    verify_until: str | None = None
    last_note: str = ""  # the last skip recorded, so a sweep does not repeat it every tick
    alarm_ok_at: str | None = None  # the alarm cleared while a change was in flight: close once it lands
    closed_at: str | None = None
    recovered_seconds: float | None = None
    facts: dict[str, Any] | None = None  # what the unit remembers across steps (a rollout's reference capacity)
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

    def at(self, what: str, when: datetime, detail: str = "") -> Incident:
        """The incident with one more timeline entry."""
        return replace(self, timeline=(*self.timeline, {"at": when.isoformat(), "what": what, "detail": detail}))

    def as_dict(self) -> dict[str, Any]:
        data = asdict(replace(self, pending=None))
        data["id"] = self.id
        data["timeline"] = list(self.timeline)
        data["pending"] = None if self.pending is None else self.pending.as_dict()
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
    return Incident(
        endpoint, action, alarm_name, alarm_arn, at.isoformat(), reason, metric or "", dict(dimensions or {})
    ).at("detected", at, reason)


class Incidents:
    """Incidents in the ledger table."""

    def __init__(self, client: Any, table: str, retention: timedelta) -> None:
        self._db = client
        self._table = table
        self._retention = retention

    def open(self, incident: Incident) -> Incident:
        """Store a new incident and its roster entry (one transaction); the same transition
        opened twice gives the stored one."""
        put = {
            "Put": {
                "TableName": self._table,
                "Item": self._item(replace(incident, version=1)),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
        entry = {"Put": {"TableName": self._table, "Item": self._entry(incident)}}
        try:
            self._db.transact_write_items(TransactItems=[put, entry])
            return replace(incident, version=1)
        except ClientError as error:
            if not _first_condition_failed(error):
                raise
        stored = self.get(incident.endpoint, incident.id)
        assert stored is not None
        return stored

    def get(self, endpoint: str, incident_id: str) -> Incident | None:
        item = self._db.get_item(TableName=self._table, Key=_key(endpoint, incident_id), ConsistentRead=True).get(
            "Item"
        )
        return None if item is None else _decode(item)

    def of(self, endpoint: str, since: datetime | None = None, open_only: bool = False) -> list[Incident]:
        """The endpoint's incidents (opened since `since`), oldest first."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :incident)",
            "ExpressionAttributeValues": {":pk": {"S": f"ENDPOINT#{endpoint}"}, ":incident": {"S": "INCIDENT#"}},
            "ConsistentRead": True,
        }
        if since is not None:
            kwargs["KeyConditionExpression"] = "pk = :pk AND sk >= :since"
            kwargs["ExpressionAttributeValues"] = {
                ":pk": {"S": f"ENDPOINT#{endpoint}"},
                ":since": {"S": f"INCIDENT#{since.isoformat()}"},
            }
        if open_only:
            kwargs["FilterExpression"] = "attribute_not_exists(closed_at)"
        found = []
        while True:
            page = self._db.query(**kwargs)
            found += [_decode(item) for item in page.get("Items", []) if item["sk"]["S"].startswith("INCIDENT#")]
            if "LastEvaluatedKey" not in page:
                return found
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def save(self, incident: Incident, also: list[dict[str, Any]] | None = None) -> Incident:
        """Write the incident if nobody else did since it was read; `also`: items of the same
        transaction. Closing it deletes its roster entry in the same transaction."""
        saved = replace(incident, version=incident.version + 1)
        if incident.closed_at is not None:
            also = [*(also or []), {"Delete": {"TableName": self._table, "Key": _roster_key(incident)}}]
        put = {
            "Put": {
                "TableName": self._table,
                "Item": self._item(saved),
                "ConditionExpression": "#version = :read",
                "ExpressionAttributeNames": {"#version": "version"},
                "ExpressionAttributeValues": {":read": {"N": str(incident.version)}},
            }
        }
        try:
            if also:
                self._db.transact_write_items(TransactItems=[put, *also])
            else:
                self._db.put_item(**put["Put"])
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
        BatchGetItem calls of up to 100 (`batch_get`) - not one Query per endpoint.

        Until the roster is complete for the action, every endpoint is read (one Query each, as
        before the roster) and its open incidents entered; the roster is then marked complete.
        An entry whose incident is closed (left by such a first sweep racing a close) is deleted
        once a read confirms the incident closed; one whose incident cannot be read is kept.
        """
        entries, complete = read_roster(self._db, self._table, ROSTER_PK, f"{action}#")
        wanted = set(endpoints)
        found: dict[str, list[Incident]] = {endpoint: [] for endpoint in endpoints}
        if complete:
            named = {sk: endpoint for sk, endpoint in entries.items() if endpoint in wanted}
            keys = {sk: _key(endpoint, sk.split("#", 2)[2]) for sk, endpoint in named.items()}
            stored = {
                item["pk"]["S"] + "|" + item["sk"]["S"]: _decode(item)
                for item in batch_get(self._db, self._table, list(keys.values()))
            }
            for sk, key in sorted(keys.items(), key=lambda pair: pair[1]["sk"]["S"]):
                incident = stored.get(key["pk"]["S"] + "|" + key["sk"]["S"])
                if incident is None:
                    continue  # not readable: the entry is kept
                if incident.is_closed:
                    self._db.delete_item(TableName=self._table, Key={"pk": {"S": ROSTER_PK}, "sk": {"S": sk}})
                elif incident.action == action:
                    found[incident.endpoint].append(incident)
            return found
        for endpoint in sorted(wanted):
            found[endpoint] = [i for i in self.of(endpoint, open_only=True) if i.action == action]
        listed = {_roster_key(i)["sk"]["S"] for incidents in found.values() for i in incidents}
        for sk, endpoint in entries.items():
            if endpoint in wanted and sk not in listed:
                stored_incident = self.get(endpoint, sk.split("#", 2)[2])
                if stored_incident is not None and stored_incident.is_closed:
                    self._db.delete_item(TableName=self._table, Key={"pk": {"S": ROSTER_PK}, "sk": {"S": sk}})
        for incidents in found.values():
            for incident in incidents:
                if _roster_key(incident)["sk"]["S"] not in entries:
                    self._db.put_item(TableName=self._table, Item=self._entry(incident))
        self._db.put_item(
            TableName=self._table,
            Item={"pk": {"S": ROSTER_PK}, "sk": {"S": f"{action}#{ROSTER_COMPLETE}"}, "kind": {"S": "roster"}},
        )
        return found

    def _entry(self, incident: Incident) -> dict[str, Any]:
        return {
            **_roster_key(incident),
            "kind": {"S": "open-incident"},
            "endpoint": {"S": incident.endpoint},
            "action": {"S": incident.action},
        }

    def _item(self, incident: Incident) -> dict[str, Any]:
        item: dict[str, Any] = {
            **_key(incident.endpoint, incident.id),
            "kind": {"S": "incident"},
            "id": {"S": incident.id},
            "body": {"S": json.dumps(incident.as_dict(), default=str, sort_keys=True)},
            "state": {"S": incident.state},
            "action": {"S": incident.action},
            "alarm_name": {"S": incident.alarm_name},
            "version": {"N": str(incident.version)},
        }
        if incident.closed_at is not None:
            item["closed_at"] = {"S": incident.closed_at}
            closed = datetime.fromisoformat(incident.closed_at)
            item["expiration"] = {"N": str(int((closed + self._retention).timestamp()))}
        return item


def _key(endpoint: str, incident_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"ENDPOINT#{endpoint}"}, "sk": {"S": f"INCIDENT#{incident_id}"}}


def _roster_key(incident: Incident) -> dict[str, Any]:
    return {"pk": {"S": ROSTER_PK}, "sk": {"S": f"{incident.action}#{incident.endpoint}#{incident.id}"}}


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
    body = json.loads(item["body"]["S"])
    body.pop("id", None)
    body["timeline"] = tuple(body.get("timeline", ()))
    body["version"] = int(item["version"]["N"])
    body["pending"] = None if body.get("pending") is None else Step.from_dict(body["pending"])
    return Incident(**body)
