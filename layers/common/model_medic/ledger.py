"""The ledger (one DynamoDB table): decisions, cool-down locks, hourly budgets.

Keys (partition `pk`, sort `sk`; `expiration` is the table's TTL attribute):

| item | pk | sk |
|---|---|---|
| a decision | `ENDPOINT#<endpoint>` | `DECISION#<ISO time>#<id>` |
| a cool-down lock | `ENDPOINT#<endpoint>` | `COOLDOWN#<action>` |
| an hourly action budget | `ENDPOINT#<endpoint>` | `BUDGET#<YYYY-MM-DDTHH>` |
| an idempotency record (Powertools) | `idempotency#<function>` | `<action>#<hash>` |

A claim takes the cool-down lock and one unit of the hour's budget in one transaction,
each under a condition, so that of two concurrent callers exactly one wins.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from botocore.exceptions import ClientError

from model_medic.observability import logger
from model_medic.outcome import Outcome

Refusal = Literal["cooldown", "budget"]

# A claim holds its lock at least this long, even for an action without a cool-down, so
# that concurrent deliveries cannot both act while the first one's AWS calls are under way.
MIN_LOCK = timedelta(seconds=60)


@dataclass(frozen=True)
class Claim:
    """The right to act, held until `release` (on failure) or the cool-down ends."""

    endpoint: str
    action: str
    holder: str
    hour: str


@dataclass(frozen=True)
class Refused:
    """Why a claim was not granted."""

    gate: Refusal
    reason: str


class Ledger:
    def __init__(self, client: Any, table: str, retention_days: int) -> None:
        self._db = client
        self._table = table
        self._retention = timedelta(days=retention_days)

    # --- decisions ---------------------------------------------------------------------

    def record(self, outcome: Outcome, request_id: str) -> None:
        at = datetime.fromisoformat(outcome.at)
        self._db.put_item(
            TableName=self._table,
            Item={
                "pk": {"S": _pk(outcome.endpoint)},
                "sk": {"S": f"DECISION#{outcome.at}#{uuid.uuid4().hex[:12]}"},
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
        self, endpoint: str, variant: str, lever: str, before: int, after: int, alarm_name: str, at: datetime
    ) -> None:
        """Remember a boost; the floor from before the first boost is kept across boosts."""
        self._db.update_item(
            TableName=self._table,
            Key={"pk": {"S": _pk(endpoint)}, "sk": {"S": f"BOOST#{variant}"}},
            UpdateExpression=(
                "SET kind = :kind, variant = :variant, lever = :lever, original = if_not_exists(original, :before),"
                " boosted_to = :after, boosted_at = :at ADD alarms :alarm"
            ),
            ExpressionAttributeValues={
                ":kind": {"S": "boost"},
                ":variant": {"S": variant},
                ":lever": {"S": lever},
                ":before": {"N": str(before)},
                ":after": {"N": str(after)},
                ":at": {"S": at.isoformat()},
                ":alarm": {"SS": [alarm_name]},
            },
        )

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
            }
            for item in page.get("Items", [])
        ]

    def drop_boost(self, endpoint: str, variant: str) -> None:
        self._db.delete_item(TableName=self._table, Key={"pk": {"S": _pk(endpoint)}, "sk": {"S": f"BOOST#{variant}"}})

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
        """A config rolled back from is never a rollback target again."""
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

    # --- canary rollout --------------------------------------------------------------------

    def canary_step_since(self, endpoint: str, step: int | None, now: datetime) -> datetime:
        """When the canary's current step began; a step the ledger has not seen begins now."""
        item = self._get(endpoint, "CANARY#rollout")
        if item is not None and item.get("step", {}).get("N") == str(step) and "ended" not in item:
            return datetime.fromisoformat(item["since"]["S"])
        self.start_canary_step(endpoint, step, now)
        return now

    def start_canary_step(self, endpoint: str, step: int | None, at: datetime) -> None:
        self._db.put_item(
            TableName=self._table,
            Item={
                "pk": {"S": _pk(endpoint)},
                "sk": {"S": "CANARY#rollout"},
                "kind": {"S": "canary"},
                "step": {"N": str(step)} if step is not None else {"NULL": True},
                "since": {"S": at.isoformat()},
            },
        )

    def canary_rollout(self, endpoint: str) -> dict[str, Any] | None:
        """The canary's current (or last) rollout: step, since when, how it ended."""
        item = self._get(endpoint, "CANARY#rollout")
        if item is None:
            return None
        return {
            "step": int(item["step"]["N"]) if "N" in item.get("step", {}) else None,
            "since": item["since"]["S"],
            "ended": item.get("ended", {}).get("S"),
            "ended_at": item.get("ended_at", {}).get("S"),
        }

    def end_canary(self, endpoint: str, how: str, at: datetime) -> None:
        self._db.update_item(
            TableName=self._table,
            Key={"pk": {"S": _pk(endpoint)}, "sk": {"S": "CANARY#rollout"}},
            UpdateExpression="SET kind = :kind, ended = :how, ended_at = :at",
            ExpressionAttributeValues={":kind": {"S": "canary"}, ":how": {"S": how}, ":at": {"S": at.isoformat()}},
        )

    # --- notices and drift -------------------------------------------------------------------

    def notice_once(self, endpoint: str, notice: str, at: datetime) -> bool:
        """True the first time a standing problem is noticed (so a person hears of it once)."""
        try:
            self._db.put_item(
                TableName=self._table,
                Item={
                    "pk": {"S": _pk(endpoint)},
                    "sk": {"S": f"NOTICE#{notice}"},
                    "kind": {"S": "notice"},
                    "since": {"S": at.isoformat()},
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return False
        return True

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

    # --- cool-down and budget ------------------------------------------------------------

    def claim(self, endpoint: str, action: str, cooldown: timedelta, hourly_cap: int, now: datetime) -> Claim | Refused:
        """Take the cool-down lock and one unit of this hour's budget, atomically, or say why not."""
        claim = Claim(endpoint, action, uuid.uuid4().hex, _hour(now))
        epoch = int(now.timestamp())
        hold = int(max(cooldown, MIN_LOCK).total_seconds())
        try:
            self._db.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": {
                                "pk": {"S": _pk(endpoint)},
                                "sk": {"S": f"COOLDOWN#{action}"},
                                "kind": {"S": "cooldown"},
                                "holder": {"S": claim.holder},
                                "claimed_at": {"S": now.isoformat()},
                                "until": {"N": str(epoch + hold)},
                                "expiration": {"N": str(epoch + hold + 86400)},
                            },
                            "ConditionExpression": "attribute_not_exists(pk) OR #until <= :now",
                            "ExpressionAttributeNames": {"#until": "until"},
                            "ExpressionAttributeValues": {":now": {"N": str(epoch)}},
                        }
                    },
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": {"pk": {"S": _pk(endpoint)}, "sk": {"S": f"BUDGET#{claim.hour}"}},
                            "UpdateExpression": "ADD #count :one SET kind = :kind, expiration = :exp",
                            "ConditionExpression": "attribute_not_exists(#count) OR #count < :cap",
                            "ExpressionAttributeNames": {"#count": "actions"},
                            "ExpressionAttributeValues": {
                                ":one": {"N": "1"},
                                ":cap": {"N": str(hourly_cap)},
                                ":kind": {"S": "budget"},
                                ":exp": {"N": str(epoch + 2 * 86400)},
                            },
                        }
                    },
                ]
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
            refusal = self.check(endpoint, action, hourly_cap, now)
            if refusal is not None:
                return refusal
            # Neither condition fails any more: the competing claim was released meanwhile,
            # or the transaction conflicted with a concurrent one. Do less: refuse this time.
            logger.warning("claim cancelled without a standing refusal", reasons=reasons, endpoint=endpoint)
            return Refused("cooldown", "a concurrent claim for this endpoint and action was in flight")
        return claim

    def check(self, endpoint: str, action: str, hourly_cap: int, now: datetime) -> Refused | None:
        """What `claim` would refuse right now, without taking anything (for dry runs)."""
        lock = self._get(endpoint, f"COOLDOWN#{action}")
        if lock is not None and int(lock["until"]["N"]) > int(now.timestamp()):
            until = datetime.fromtimestamp(int(lock["until"]["N"]), tz=now.tzinfo)
            return Refused("cooldown", f"{action} is cooling down until {until.isoformat()}")
        budget = self._get(endpoint, f"BUDGET#{_hour(now)}")
        if budget is not None and int(budget.get("actions", {"N": "0"})["N"]) >= hourly_cap:
            return Refused("budget", f"hourly budget of {hourly_cap} actions for {endpoint} is spent")
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
            self._db.update_item(
                TableName=self._table,
                Key={"pk": {"S": _pk(claim.endpoint)}, "sk": {"S": f"BUDGET#{claim.hour}"}},
                UpdateExpression="ADD #count :minus",
                ConditionExpression="#count > :zero",
                ExpressionAttributeNames={"#count": "actions"},
                ExpressionAttributeValues={":minus": {"N": "-1"}, ":zero": {"N": "0"}},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            logger.warning("claim already gone", endpoint=claim.endpoint, action=claim.action)

    def _get(self, endpoint: str, sk: str) -> dict[str, Any] | None:
        response = self._db.get_item(
            TableName=self._table, Key={"pk": {"S": _pk(endpoint)}, "sk": {"S": sk}}, ConsistentRead=True
        )
        item: dict[str, Any] | None = response.get("Item")
        return item


def _pk(endpoint: str) -> str:
    return f"ENDPOINT#{endpoint}"


def _hour(now: datetime) -> str:
    return now.strftime("%Y-%m-%dT%H")
