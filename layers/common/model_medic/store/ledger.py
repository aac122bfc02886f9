"""The ledger (one DynamoDB table): decisions, cool-down locks, hourly budgets, and what the
remediations remember between runs.

Keys (partition `pk`, sort `sk`; `expiration` is the table's TTL attribute):

| item | pk | sk |
|---|---|---|
| a decision | `ENDPOINT#<endpoint>` | `DECISION#<ISO time>#<id>` |
| a cool-down lock | `ENDPOINT#<endpoint>` | `COOLDOWN#<action>` |
| an hourly action budget (the set of claim holders) | `ENDPOINT#<endpoint>` | `BUDGET#<YYYY-MM-DDTHH>` |
| an incident, a rollout too (`incidents.py`) | `ENDPOINT#<endpoint>` | `INCIDENT#<opened ISO time>#<id>` |
| a tell-once mark | `ENDPOINT#<endpoint>` | `MARK#<key>` |
| a standing problem told once | `ENDPOINT#<endpoint>` | `NOTICE#<notice>` |
| a temporary capacity boost (ScaleUp gives it back) | `ENDPOINT#<endpoint>` | `BOOST#<variant>` |
| the roster of boosts (one entry per boost; `boosts_by_endpoint`) | `BOOSTS#ACTIVE` | `<endpoint>#<variant>` |
| the roster of open incidents (`incidents.py`) | `INCIDENTS#OPEN` | `<action>#<endpoint>#<id>` |
| a config or model a rollout made (`cleanup.py`) | `CREATED#ROLLOUTS` | `<endpoint>#<config or model>#<name>` |
| a config seen InService (rollback targets) | `ENDPOINT#<endpoint>` | `CONFIG#<endpoint config>` |
| the most drifted feature of the latest hour | `ENDPOINT#<endpoint>` | `DRIFT#latest` |
| a computed metrics window (ComputeMetrics) | `METRICS` | `WINDOW#<window start ISO>` |
| what an endpoint config's variant serves (rollout.py) | `SERVING#GROUPS` | `<endpoint config>#<variant>` |

A claim (`claim_items`) takes the cool-down lock and one unit of the hour's budget in the
transaction that saves an incident step's intent, each under a condition, so that of two
concurrent callers exactly one wins.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from botocore.exceptions import ClientError

from model_medic.platform.observability import logger
from model_medic.tell.outcome import Outcome

Refusal = Literal["cooldown", "budget"]

# A claim holds its lock at least this long, even for an action without a cool-down, so
# that concurrent deliveries cannot both act while the first one's AWS calls are under way.
MIN_LOCK = timedelta(seconds=60)


# The partition of ComputeMetrics's window records; its role may touch no other (template.yaml).
METRICS_PK = "METRICS"
# The roster of boosts: an entry per boost, put and deleted in the boost's own transactions,
# so that the ScaleUp sweep finds the endpoints with temporary capacity in one Query. The
# first sweep enters the boosts saved before the roster existed, then marks it complete.
BOOSTS_PK = "BOOSTS#ACTIVE"
# What rollouts created in SageMaker, one item per endpoint config or model, kept (no TTL)
# until `cleanup.py` deletes the resource: entered before the Create call, so a crash after
# it leaves nothing untracked.
CREATED_PK = "CREATED#ROLLOUTS"
# A roster's "complete" mark (after its prefix): sorts before every entry, whose sort keys go
# on with an endpoint name (a letter or digit first).
ROSTER_COMPLETE = "!complete"
# What each endpoint config's variant serves (the model package group behind its model):
# endpoint configs and models cannot be changed once created, so an entry stays true while
# the config exists; it is read again after SERVING_KEEP, in case the name was deleted and
# reused for another config (rollout.py, `ServingGroups`).
SERVING_PK = "SERVING#GROUPS"
SERVING_KEEP = timedelta(days=30)
# A window's record is needed by the next run (its recomputation) and kept a week for the record.
METRIC_WINDOW_KEEP = timedelta(days=7)


@dataclass(frozen=True)
class MetricWindow:
    """What ComputeMetrics computed for one window, and whether its datapoints were complete."""

    start: datetime
    end: datetime
    computed_at: datetime  # the scheduled time of the run that first computed it
    complete: frozenset[str]  # endpoints published then: their datapoints were all in
    pending: frozenset[str]  # endpoints held back then: datapoints may still have been arriving
    published: int  # data published, first computation and recomputation together
    recomputed_at: datetime | None = None  # the scheduled time of the run that recomputed it
    recomputed: frozenset[str] = frozenset()  # the pending endpoints, published by the recomputation
    still_incomplete: frozenset[str] = frozenset()  # of those, the ones still incomplete then


@dataclass(frozen=True)
class Claim:
    """The right to act, held until `release` (on failure) or the cool-down ends."""

    endpoint: str
    action: str
    holder: str
    hour: str


@dataclass(frozen=True)
class Refused:
    """Why a claim was not granted, and from when it may be granted."""

    gate: Refusal
    reason: str
    until: datetime | None = None


class Ledger:
    def __init__(self, client: Any, table: str, retention_days: int) -> None:
        self._db = client
        self._table = table
        self._retention = timedelta(days=retention_days)

    # --- decisions ---------------------------------------------------------------------

    def record(self, outcome: Outcome, request_id: str, key: str | None = None) -> None:
        """One decision; with `key` (a step's id) a retry writes the same item again, not a second one."""
        at = datetime.fromisoformat(outcome.at)
        self._db.put_item(
            TableName=self._table,
            Item={
                "pk": {"S": _pk(outcome.endpoint)},
                "sk": {"S": f"DECISION#{outcome.at}#{key or uuid.uuid4().hex[:12]}"},
                "incident": {"S": outcome.incident or "-"},
                "kind": {"S": "decision"},
                "endpoint": {"S": outcome.endpoint},
                "action": {"S": outcome.action},
                "result": {"S": outcome.result},
                "gate": {"S": outcome.gate or "-"},
                "reason": {"S": outcome.reason},
                "mode": {"S": outcome.mode},
                "alarm_name": {"S": outcome.alarm_name},
                "alarm_arn": {"S": outcome.alarm_arn},
                "transition": {"S": outcome.transition},
                "state": {"S": outcome.state},
                "at": {"S": outcome.at},
                "changes": {"S": json.dumps(outcome.changes, default=str, sort_keys=True)},
                "request_id": {"S": request_id or "-"},
                "expiration": {"N": str(int((at + self._retention).timestamp()))},
            },
        )

    def decisions(self, endpoint: str, since: datetime, until: datetime) -> list[dict[str, Any]]:
        """Decisions about an endpoint in [since, until), oldest first."""
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :lo AND :hi",
            "ExpressionAttributeValues": {
                ":pk": {"S": _pk(endpoint)},
                ":lo": {"S": f"DECISION#{since.isoformat()}"},
                ":hi": {"S": f"DECISION#{until.isoformat()}"},
            },
        }
        while True:
            page = self._db.query(**kwargs)
            for item in page.get("Items", []):
                decoded = {key: next(iter(value.values())) for key, value in item.items()}
                decoded["changes"] = json.loads(decoded.get("changes", "{}"))
                items.append(decoded)
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # --- temporary capacity (boosts) ---------------------------------------------------

    def save_boost(
        self,
        endpoint: str,
        variant: str,
        lever: str,
        before: int,
        after: int,
        alarm_name: str,
        at: datetime,
        step: int | None = None,
    ) -> None:
        """Remember a boost (and its roster entry, in one transaction); the floor from before
        the first boost is kept across boosts, and a boost during a give-back starts it over.
        `step`: the scale-up's step (the give-back's pace); absent, the give-back uses the stack's."""
        update = {
            "TableName": self._table,
            "Key": {"pk": {"S": _pk(endpoint)}, "sk": {"S": f"BOOST#{variant}"}},
            "UpdateExpression": (
                "SET kind = :kind, variant = :variant, lever = :lever, original = if_not_exists(original, :before),"
                f" boosted_to = :after, boosted_at = :at{', step = :step' if step is not None else ''}"
                " ADD alarms :alarm REMOVE returned_to, returned_at"
            ),
            "ExpressionAttributeValues": {
                ":kind": {"S": "boost"},
                ":variant": {"S": variant},
                ":lever": {"S": lever},
                ":before": {"N": str(before)},
                ":after": {"N": str(after)},
                ":at": {"S": at.isoformat()},
                ":alarm": {"SS": [alarm_name]},
                **({":step": {"N": str(step)}} if step is not None else {}),
            },
        }
        entry = {"TableName": self._table, "Item": _boost_entry(endpoint, variant)}
        self._db.transact_write_items(TransactItems=[{"Update": update}, {"Put": entry}])

    def boosts(self, endpoint: str) -> list[dict[str, Any]]:
        page = self._db.query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :boost)",
            ExpressionAttributeValues={":pk": {"S": _pk(endpoint)}, ":boost": {"S": "BOOST#"}},
            ConsistentRead=True,
        )
        return [
            {
                "variant": item["variant"]["S"],
                "lever": item["lever"]["S"],
                "original": int(item["original"]["N"]),
                "boosted_to": int(item["boosted_to"]["N"]),
                "boosted_at": item["boosted_at"]["S"],
                "alarms": sorted(item["alarms"]["SS"]),
                **({"step": int(item["step"]["N"])} if "step" in item else {}),
                # The give-back's last step, once one was made (`step_back`).
                **(
                    {"returned_to": int(item["returned_to"]["N"]), "returned_at": item["returned_at"]["S"]}
                    if "returned_to" in item
                    else {}
                ),
            }
            for item in page.get("Items", [])
        ]

    def step_back(self, endpoint: str, variant: str, to: int, at: datetime) -> None:
        """Remember a give-back step of a boost (its new floor and when): the next step waits
        for it to take, and for the scale-up's pace. Nothing when the boost is gone."""
        try:
            self._db.update_item(
                TableName=self._table,
                Key={"pk": {"S": _pk(endpoint)}, "sk": {"S": f"BOOST#{variant}"}},
                UpdateExpression="SET returned_to = :to, returned_at = :at",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":to": {"N": str(to)}, ":at": {"S": at.isoformat()}},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def drop_boost(self, endpoint: str, variant: str) -> None:
        """Forget a boost and its roster entry (one transaction)."""
        self._db.transact_write_items(
            TransactItems=[
                {
                    "Delete": {
                        "TableName": self._table,
                        "Key": {"pk": {"S": _pk(endpoint)}, "sk": {"S": f"BOOST#{variant}"}},
                    }
                },
                {"Delete": {"TableName": self._table, "Key": _boost_entry_key(endpoint, variant)}},
            ]
        )

    def boosts_by_endpoint(self, endpoints: list[str]) -> dict[str, list[dict[str, Any]]]:
        """The boosts of those of these endpoints that have any: one Query of the roster, then
        `boosts` of each endpoint it names (not one Query per endpoint of the fleet).

        Until the roster is complete, every endpoint is read once and its boosts entered; the
        roster is then marked complete. An entry whose boost is gone (left by that first
        sweep racing a give-back) is deleted on the condition that the boost still is gone.
        """
        entries, complete = read_roster(self._db, self._table, BOOSTS_PK, "")
        wanted = set(endpoints)
        having = wanted & set(entries.values()) if complete else wanted
        found = {endpoint: self.boosts(endpoint) for endpoint in sorted(having)}
        for sk, endpoint in entries.items():
            variant = sk[len(endpoint) + 1 :]
            if endpoint in found and variant not in {b["variant"] for b in found[endpoint]}:
                self._drop_stale_entry(endpoint, variant)
        if not complete:
            for endpoint, boosts in found.items():
                for boost in boosts:
                    if _boost_entry_key(endpoint, boost["variant"])["sk"]["S"] not in entries:
                        self._db.put_item(TableName=self._table, Item=_boost_entry(endpoint, boost["variant"]))
            self._db.put_item(
                TableName=self._table,
                Item={"pk": {"S": BOOSTS_PK}, "sk": {"S": ROSTER_COMPLETE}, "kind": {"S": "roster"}},
            )
        return {endpoint: boosts for endpoint, boosts in found.items() if boosts}

    def _drop_stale_entry(self, endpoint: str, variant: str) -> None:
        try:
            self._db.transact_write_items(
                TransactItems=[
                    {
                        "ConditionCheck": {
                            "TableName": self._table,
                            "Key": {"pk": {"S": _pk(endpoint)}, "sk": {"S": f"BOOST#{variant}"}},
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {"Delete": {"TableName": self._table, "Key": _boost_entry_key(endpoint, variant)}},
                ]
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            # The boost was saved again meanwhile: the entry is right.

    # --- deployment history ------------------------------------------------------------

    def observe_config(self, endpoint: str, config: str, at: datetime) -> None:
        """Remember that `config` served the endpoint InService at `at` (the rollback targets)."""
        self._db.update_item(
            TableName=self._table,
            Key={"pk": {"S": _pk(endpoint)}, "sk": {"S": f"CONFIG#{config}"}},
            UpdateExpression=(
                "SET kind = :kind, config = :config, last_seen = :at, first_seen = if_not_exists(first_seen, :at)"
            ),
            ExpressionAttributeValues={
                ":kind": {"S": "deployment"},
                ":config": {"S": config},
                ":at": {"S": at.isoformat()},
            },
        )

    def reject_config(self, endpoint: str, config: str, at: datetime) -> None:
        """A config rolled back from (or a rollout's passing canary config) is never a rollback target."""
        self._db.update_item(
            TableName=self._table,
            Key={"pk": {"S": _pk(endpoint)}, "sk": {"S": f"CONFIG#{config}"}},
            UpdateExpression=(
                "SET kind = :kind, config = :config, rejected_at = :at, last_seen = if_not_exists(last_seen, :at)"
            ),
            ExpressionAttributeValues={
                ":kind": {"S": "deployment"},
                ":config": {"S": config},
                ":at": {"S": at.isoformat()},
            },
        )

    def previous_config(self, endpoint: str, current: str) -> str | None:
        """The config last seen InService before `current`, never one that was rolled back from."""
        page = self._db.query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :config)",
            ExpressionAttributeValues={":pk": {"S": _pk(endpoint)}, ":config": {"S": "CONFIG#"}},
            ConsistentRead=True,
        )
        candidates = [
            (item["last_seen"]["S"], item["config"]["S"])
            for item in page.get("Items", [])
            if item["config"]["S"] != current and "rejected_at" not in item
        ]
        return max(candidates)[1] if candidates else None

    # --- what rollouts created ----------------------------------------------------------------

    def track_created(self, endpoint: str, kind: str, name: str, at: datetime) -> None:
        """Remember an endpoint config or model (`kind`) a rollout creates for `endpoint`."""
        self._db.update_item(
            TableName=self._table,
            Key={"pk": {"S": CREATED_PK}, "sk": {"S": f"{endpoint}#{kind}#{name}"}},
            UpdateExpression="SET kind = :kind, endpoint = :endpoint, created = :created, "
            "created_at = if_not_exists(created_at, :at)",
            ExpressionAttributeValues={
                ":kind": {"S": "created"},
                ":endpoint": {"S": endpoint},
                ":created": {"S": kind},
                ":at": {"S": at.isoformat()},
            },
        )

    def created(self) -> list[dict[str, str]]:
        """Every tracked config and model: endpoint, kind (config / model), name, created_at."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": CREATED_PK}},
            "ConsistentRead": True,
        }
        found = []
        while True:
            page = self._db.query(**kwargs)
            for item in page.get("Items", []):
                endpoint, kind = item["endpoint"]["S"], item["created"]["S"]
                name = item["sk"]["S"][len(f"{endpoint}#{kind}#") :]
                found.append({"endpoint": endpoint, "kind": kind, "name": name, "created_at": item["created_at"]["S"]})
            if "LastEvaluatedKey" not in page:
                return found
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def forget_created(self, endpoint: str, kind: str, name: str) -> None:
        self._db.delete_item(
            TableName=self._table, Key={"pk": {"S": CREATED_PK}, "sk": {"S": f"{endpoint}#{kind}#{name}"}}
        )

    # --- notices and drift -------------------------------------------------------------------

    # --- what endpoint configs serve (rollout.py) -------------------------------------------

    def serving_groups(self, now: datetime) -> dict[str, tuple[str | None, datetime]]:
        """`<config>#<variant>` -> (the model package group it serves or None, when that was
        read), for every entry not yet expired: one paginated Query of the partition."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": SERVING_PK}},
        }
        found: dict[str, tuple[str | None, datetime]] = {}
        while True:
            page = self._db.query(**kwargs)
            for item in page.get("Items", []):
                # DynamoDB deletes expired items within days, not at once: an expired one is not read.
                if int(item["expiration"]["N"]) > now.timestamp():
                    group = item.get("group", {}).get("S")
                    found[item["sk"]["S"]] = (group, datetime.fromisoformat(item["read_at"]["S"]))
            if "LastEvaluatedKey" not in page:
                return found
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def save_serving_groups(self, read: dict[str, str | None], at: datetime) -> None:
        """Remember what each `<config>#<variant>` serves, as read at `at` (BatchWriteItem, 25 a call)."""
        items = []
        for key, group in sorted(read.items()):
            item = {
                "pk": {"S": SERVING_PK},
                "sk": {"S": key},
                "kind": {"S": "serving-group"},
                "read_at": {"S": at.isoformat()},
                "expiration": {"N": str(int((at + SERVING_KEEP).timestamp()))},
            }
            if group:
                item["group"] = {"S": group}
            items.append(item)
        batch_put(self._db, self._table, items)

    def notice_once(self, endpoint: str, notice: str, at: datetime) -> bool:
        """True the first time a standing problem is noticed (so a person hears of it once)."""
        return self._put_once(endpoint, f"NOTICE#{notice}", {"kind": {"S": "notice"}, "since": {"S": at.isoformat()}})

    def clear_notice(self, endpoint: str, notice: str) -> None:
        self._db.delete_item(TableName=self._table, Key={"pk": {"S": _pk(endpoint)}, "sk": {"S": f"NOTICE#{notice}"}})

    def save_drift(self, endpoint: str, hour: datetime, feature: str, psi: float) -> None:
        """The most drifted feature of the latest measured hour (StartRetraining names it)."""
        self._db.put_item(
            TableName=self._table,
            Item={
                "pk": {"S": _pk(endpoint)},
                "sk": {"S": "DRIFT#latest"},
                "kind": {"S": "drift"},
                "hour": {"S": hour.isoformat()},
                "feature": {"S": feature},
                "psi": {"N": repr(psi)},
            },
        )

    def latest_drift(self, endpoint: str) -> dict[str, Any] | None:
        item = self._get(endpoint, "DRIFT#latest")
        if item is None:
            return None
        return {"hour": item["hour"]["S"], "feature": item["feature"]["S"], "psi": float(item["psi"]["N"])}

    # --- computed metrics windows (ComputeMetrics) --------------------------------------------

    def metric_window(self, start: datetime) -> MetricWindow | None:
        """What was computed for the window that starts at `start`, if it was."""
        response = self._db.get_item(
            TableName=self._table,
            Key={"pk": {"S": METRICS_PK}, "sk": {"S": f"WINDOW#{start.isoformat()}"}},
            ConsistentRead=True,
        )
        item = response.get("Item")
        if item is None:
            return None

        def names(key: str) -> frozenset[str]:
            return frozenset(item.get(key, {}).get("SS", []))

        recomputed_at = item.get("recomputed_at", {}).get("S")
        return MetricWindow(
            start=datetime.fromisoformat(item["start"]["S"]),
            end=datetime.fromisoformat(item["end"]["S"]),
            computed_at=datetime.fromisoformat(item["computed_at"]["S"]),
            complete=names("complete"),
            pending=names("pending"),
            published=int(item["published"]["N"]),
            recomputed_at=None if recomputed_at is None else datetime.fromisoformat(recomputed_at),
            recomputed=names("recomputed"),
            still_incomplete=names("still_incomplete"),
        )

    def save_metric_window(self, window: MetricWindow) -> bool:
        """Record a computation of a window; False if another run has computed it meanwhile.

        The first computation may be written again only by a retry of the same run (same
        scheduled time), and the recomputation only once: this is what makes it happen once.
        """
        item: dict[str, Any] = {
            "pk": {"S": METRICS_PK},
            "sk": {"S": f"WINDOW#{window.start.isoformat()}"},
            "kind": {"S": "metrics-window"},
            "start": {"S": window.start.isoformat()},
            "end": {"S": window.end.isoformat()},
            "computed_at": {"S": window.computed_at.isoformat()},
            "published": {"N": str(window.published)},
            "expiration": {"N": str(int((window.end + METRIC_WINDOW_KEEP).timestamp()))},
        }
        for key in ("complete", "pending", "recomputed", "still_incomplete"):
            values = getattr(window, key)
            if values:  # DynamoDB has no empty sets
                item[key] = {"SS": sorted(values)}
        if window.recomputed_at is None:
            condition = "attribute_not_exists(pk) OR (computed_at = :at AND attribute_not_exists(recomputed_at))"
            values = {":at": {"S": window.computed_at.isoformat()}}
        else:
            item["recomputed_at"] = {"S": window.recomputed_at.isoformat()}
            condition = "computed_at = :first AND (attribute_not_exists(recomputed_at) OR recomputed_at = :at)"
            values = {":first": {"S": window.computed_at.isoformat()}, ":at": {"S": window.recomputed_at.isoformat()}}
        try:
            self._db.put_item(
                TableName=self._table, Item=item, ConditionExpression=condition, ExpressionAttributeValues=values
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return False
        return True

    # --- cool-down and budget ------------------------------------------------------------

    def claim_items(
        self, claim: Claim, cooldown: timedelta | None, hourly_cap: int | None, now: datetime
    ) -> list[dict[str, Any]]:
        """The transaction items of a claim: the cool-down lock and/or a unit of the hour's budget.

        Both conditions let the same holder in again, so a retried step re-takes its own
        claim instead of being refused by it (and is counted in the budget once).
        """
        epoch = int(now.timestamp())
        items: list[dict[str, Any]] = []
        if cooldown is not None:
            hold = int(max(cooldown, MIN_LOCK).total_seconds())
            items.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": {
                            "pk": {"S": _pk(claim.endpoint)},
                            "sk": {"S": f"COOLDOWN#{claim.action}"},
                            "kind": {"S": "cooldown"},
                            "holder": {"S": claim.holder},
                            "claimed_at": {"S": now.isoformat()},
                            "until": {"N": str(epoch + hold)},
                            "expiration": {"N": str(epoch + hold + 86400)},
                        },
                        "ConditionExpression": "attribute_not_exists(pk) OR #until <= :now OR holder = :holder",
                        "ExpressionAttributeNames": {"#until": "until"},
                        "ExpressionAttributeValues": {":now": {"N": str(epoch)}, ":holder": {"S": claim.holder}},
                    }
                }
            )
        if hourly_cap is not None:
            items.append(
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": {"pk": {"S": _pk(claim.endpoint)}, "sk": {"S": f"BUDGET#{claim.hour}"}},
                        "UpdateExpression": "ADD #holders :holder SET kind = :kind, expiration = :exp",
                        "ConditionExpression": (
                            "attribute_not_exists(#holders) OR size(#holders) < :cap OR contains(#holders, :one)"
                        ),
                        "ExpressionAttributeNames": {"#holders": "holders"},
                        "ExpressionAttributeValues": {
                            ":holder": {"SS": [claim.holder]},
                            ":one": {"S": claim.holder},
                            ":cap": {"N": str(hourly_cap)},
                            ":kind": {"S": "budget"},
                            ":exp": {"N": str(epoch + 2 * 86400)},
                        },
                    }
                }
            )
        return items

    def refusal(self, claim: Claim, hourly_cap: int | None, now: datetime, reasons: list[str | None]) -> Refused:
        """Why a claim's transaction was cancelled, said as a refusal."""
        refusal = self.check(claim.endpoint, claim.action, hourly_cap, now, holder=claim.holder)
        if refusal is not None:
            return refusal
        # Neither condition fails any more: the competing claim was released meanwhile,
        # or the transaction conflicted with a concurrent one. Do less: refuse this time.
        logger.warning("claim cancelled without a standing refusal", reasons=reasons, endpoint=claim.endpoint)
        return Refused("cooldown", "a concurrent claim for this endpoint and action was in flight")

    def check(
        self, endpoint: str, action: str, hourly_cap: int | None, now: datetime, holder: str = ""
    ) -> Refused | None:
        """What `claim` would refuse right now, without taking anything (for dry runs)."""
        lock = self._get(endpoint, f"COOLDOWN#{action}")
        if lock is not None and int(lock["until"]["N"]) > int(now.timestamp()) and lock["holder"]["S"] != holder:
            until = datetime.fromtimestamp(int(lock["until"]["N"]), tz=now.tzinfo)
            return Refused("cooldown", f"{action} is cooling down until {until.isoformat()}", until)
        if hourly_cap is None:
            return None
        budget = self._get(endpoint, f"BUDGET#{_hour(now)}")
        holders = set(budget.get("holders", {"SS": []})["SS"]) if budget is not None else set()
        if len(holders) >= hourly_cap and holder not in holders:
            next_hour = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
            return Refused("budget", f"hourly budget of {hourly_cap} actions for {endpoint} is spent", next_hour)
        return None

    def release(self, claim: Claim) -> None:
        """Give a claim back (the action did not happen), so that a retry may act."""
        try:
            self._db.delete_item(
                TableName=self._table,
                Key={"pk": {"S": _pk(claim.endpoint)}, "sk": {"S": f"COOLDOWN#{claim.action}"}},
                ConditionExpression="holder = :holder",
                ExpressionAttributeValues={":holder": {"S": claim.holder}},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            logger.warning("claim already gone", endpoint=claim.endpoint, action=claim.action)
        self._db.update_item(
            TableName=self._table,
            Key={"pk": {"S": _pk(claim.endpoint)}, "sk": {"S": f"BUDGET#{claim.hour}"}},
            UpdateExpression="DELETE #holders :holder",
            ExpressionAttributeNames={"#holders": "holders"},
            ExpressionAttributeValues={":holder": {"SS": [claim.holder]}},
        )

    # --- telling once --------------------------------------------------------------------

    def mark(self, endpoint: str, key: str, at: datetime, keep: timedelta | None = None) -> bool:
        """True the first time `key` is marked: the caller may do what it guards (tell once).

        The mark expires after `keep` (default: the ledger's retention)."""
        expires = int((at + (keep or self._retention)).timestamp())
        attributes = {"kind": {"S": "mark"}, "at": {"S": at.isoformat()}, "expiration": {"N": str(expires)}}
        return self._put_once(endpoint, f"MARK#{key}", attributes)

    def _put_once(self, endpoint: str, sk: str, attributes: dict[str, Any]) -> bool:
        """A conditional put: True for the caller that wrote the item, False for every later one."""
        try:
            self._db.put_item(
                TableName=self._table,
                Item={"pk": {"S": _pk(endpoint)}, "sk": {"S": sk}, **attributes},
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return False
        return True

    def unmark(self, endpoint: str, key: str) -> None:
        """Take a mark back (what it guarded did not happen), so that a retry does it."""
        self._db.delete_item(TableName=self._table, Key={"pk": {"S": _pk(endpoint)}, "sk": {"S": f"MARK#{key}"}})

    def _get(self, endpoint: str, sk: str) -> dict[str, Any] | None:
        response = self._db.get_item(
            TableName=self._table, Key={"pk": {"S": _pk(endpoint)}, "sk": {"S": sk}}, ConsistentRead=True
        )
        item: dict[str, Any] | None = response.get("Item")
        return item


def read_roster(client: Any, table: str, pk: str, prefix: str) -> tuple[dict[str, str], bool]:
    """A roster's entries under `prefix` (sort key -> endpoint) and whether it is complete
    (its `<prefix>!complete` item exists): one strongly consistent, paginated Query."""
    entries: dict[str, str] = {}
    complete = False
    kwargs: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
        "ExpressionAttributeValues": {":pk": {"S": pk}, ":prefix": {"S": prefix}},
        "ConsistentRead": True,
    }
    if not prefix:
        kwargs["KeyConditionExpression"] = "pk = :pk"
        kwargs["ExpressionAttributeValues"] = {":pk": {"S": pk}}
    while True:
        page = client.query(**kwargs)
        for item in page.get("Items", []):
            if item["sk"]["S"] == prefix + ROSTER_COMPLETE:
                complete = True
            else:
                entries[item["sk"]["S"]] = item["endpoint"]["S"]
        if "LastEvaluatedKey" not in page:
            return entries, complete
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def batch_get(client: Any, table: str, keys: list[dict[str, Any]], consistent: bool = True) -> list[dict[str, Any]]:
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


def batch_put(client: Any, table: str, items: list[dict[str, Any]]) -> None:
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


def _boost_entry_key(endpoint: str, variant: str) -> dict[str, Any]:
    return {"pk": {"S": BOOSTS_PK}, "sk": {"S": f"{endpoint}#{variant}"}}


def _boost_entry(endpoint: str, variant: str) -> dict[str, Any]:
    return {**_boost_entry_key(endpoint, variant), "kind": {"S": "boost-entry"}, "endpoint": {"S": endpoint}}


def _pk(endpoint: str) -> str:
    return f"ENDPOINT#{endpoint}"


def _hour(now: datetime) -> str:
    return now.strftime("%Y-%m-%dT%H")
