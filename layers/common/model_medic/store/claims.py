"""Claims: the right to act on an endpoint, held by a cool-down lock and a unit of the hour's action budget."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from model_medic.platform.observability import logger
from model_medic.store.table import Table, endpoint_pk, epoch

if TYPE_CHECKING:
    pass

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
    """Why a claim was not granted, and from when it may be granted."""

    gate: Refusal
    reason: str
    until: datetime | None = None


@dataclass(frozen=True)
class Lock:
    """An action's cool-down lock on an endpoint: who holds it, until when (epoch seconds)."""

    endpoint: str
    action: str
    holder: str
    claimed_at: str
    until: int
    expiration: int

    def to_item(self) -> dict[str, Any]:
        return {
            "pk": endpoint_pk(self.endpoint),
            "sk": f"COOLDOWN#{self.action}",
            "kind": "cooldown",
            "holder": self.holder,
            "claimed_at": self.claimed_at,
            "until": self.until,
            "expiration": self.expiration,
        }

    @classmethod
    def from_item(cls, data: dict[str, Any]) -> Lock:
        return cls(
            endpoint=data["pk"].removeprefix("ENDPOINT#"),
            action=data["sk"].removeprefix("COOLDOWN#"),
            holder=data["holder"],
            claimed_at=data.get("claimed_at", ""),
            until=int(data["until"]),
            expiration=int(data.get("expiration", 0)),
        )


@dataclass(frozen=True)
class Budget:
    """An endpoint's action budget of one clock hour: the claims that took a unit of it."""

    endpoint: str
    hour: str
    holders: frozenset[str]

    @classmethod
    def from_item(cls, data: dict[str, Any]) -> Budget:
        return cls(
            endpoint=data["pk"].removeprefix("ENDPOINT#"),
            hour=data["sk"].removeprefix("BUDGET#"),
            holders=frozenset(data.get("holders", ())),  # the set goes when its last holder is released
        )


class Claims:
    """Cool-down locks and hourly budgets in the ledger table."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def claim_items(
        self, claim: Claim, cooldown: timedelta | None, hourly_cap: int | None, now: datetime
    ) -> list[dict[str, Any]]:
        """The transaction items of a claim: the cool-down lock and/or a unit of the hour's budget.

        Both conditions let the same holder in again, so a retried step re-takes its own
        claim instead of being refused by it (and is counted in the budget once).
        """
        items: list[dict[str, Any]] = []
        if cooldown is not None:
            items.append(self._lock(claim, cooldown, now))
        if hourly_cap is not None:
            items.append(self._budget_unit(claim, hourly_cap, now))
        return items

    def _lock(self, claim: Claim, cooldown: timedelta, now: datetime) -> dict[str, Any]:
        at = epoch(now)
        until = at + int(max(cooldown, MIN_LOCK).total_seconds())
        lock = Lock(claim.endpoint, claim.action, claim.holder, now.isoformat(), until, until + 86400)
        return self._table.put_request(
            lock.to_item(),
            condition="attribute_not_exists(pk) OR #until <= :now OR holder = :holder",
            names={"#until": "until"},
            values={":now": at, ":holder": claim.holder},
        )

    def _budget_unit(self, claim: Claim, hourly_cap: int, now: datetime) -> dict[str, Any]:
        return self._table.update_request(
            endpoint_pk(claim.endpoint),
            f"BUDGET#{claim.hour}",
            "ADD #holders :holder SET kind = :kind, expiration = :exp",
            {
                ":holder": {claim.holder},
                ":one": claim.holder,
                ":cap": hourly_cap,
                ":kind": "budget",
                ":exp": epoch(now) + 2 * 86400,
            },
            condition="attribute_not_exists(#holders) OR size(#holders) < :cap OR contains(#holders, :one)",
            names={"#holders": "holders"},
        )

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
        pk = endpoint_pk(endpoint)
        item = self._table.get(pk, f"COOLDOWN#{action}")
        lock = None if item is None else Lock.from_item(item)
        if lock is not None and lock.until > epoch(now) and lock.holder != holder:
            until = datetime.fromtimestamp(lock.until, tz=now.tzinfo)
            return Refused("cooldown", f"{action} is cooling down until {until.isoformat()}", until)
        if hourly_cap is None:
            return None
        item = self._table.get(pk, f"BUDGET#{hour_of(now)}")
        holders = Budget.from_item(item).holders if item is not None else frozenset()
        if len(holders) >= hourly_cap and holder not in holders:
            next_hour = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
            return Refused("budget", f"hourly budget of {hourly_cap} actions for {endpoint} is spent", next_hour)
        return None

    def release(self, claim: Claim) -> None:
        """Give a claim back (the action did not happen), so that a retry may act."""
        pk = endpoint_pk(claim.endpoint)
        if not self._table.delete(
            pk, f"COOLDOWN#{claim.action}", condition="holder = :holder", values={":holder": claim.holder}
        ):
            logger.warning("claim already gone", endpoint=claim.endpoint, action=claim.action)
        self._table.update(
            pk,
            f"BUDGET#{claim.hour}",
            "DELETE #holders :holder",
            {":holder": {claim.holder}},
            names={"#holders": "holders"},
        )


def hour_of(now: datetime) -> str:
    """The clock hour a claim takes a unit of the budget of (`Claim.hour`)."""
    return now.strftime("%Y-%m-%dT%H")
