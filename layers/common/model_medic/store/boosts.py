"""Boosts: the temporary capacity ScaleUp added and gives back, and their roster."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from model_medic.platform import aws
from model_medic.store.table import Roster, Table, cancelled_on, endpoint_pk

if TYPE_CHECKING:
    pass

# The roster of boosts: an entry per boost, put and deleted in the boost's own transactions,
# so that the ScaleUp sweep finds the endpoints with temporary capacity in one Query.
BOOSTS_PK = "BOOSTS#ACTIVE"
# A boost kept as it is by the next one: none yet, the same boost saved again (a retry), or a
# boost from the floor the ledger expects - the last boost's, or its give-back's last step.
_EXPECTED = (
    "attribute_not_exists(pk) OR boosted_to = :after"
    " OR (attribute_not_exists(returned_to) AND boosted_to = :before) OR returned_to = :before"
)
# Dry runs' shadow boosts: the capacity enforce would have added, walked back by the dry-run
# give-back only (sk `SHADOW#<variant>`, their own roster), never by the real one.
SHADOWS_PK = "SHADOWS#ACTIVE"


@dataclass(frozen=True)
class Boost:
    """Capacity added to one variant, kept until it is all given back."""

    endpoint: str
    variant: str
    lever: str  # instance-count, or the scalable target's min-capacity
    original: int  # the floor before the first boost
    boosted_to: int
    boosted_at: str
    alarms: tuple[str, ...]  # the alarms that called for it, sorted
    step: int | None = None  # the scale-up's step (the give-back's pace); None: the stack's
    returned_to: int | None = None  # the give-back's last step, once one was made (`step_back_request`)
    returned_at: str | None = None

    @classmethod
    def from_item(cls, data: dict[str, Any]) -> Boost:
        return cls(
            endpoint=data["pk"].removeprefix("ENDPOINT#"),
            variant=data["variant"],
            lever=data["lever"],
            original=int(data["original"]),
            boosted_to=int(data["boosted_to"]),
            boosted_at=data["boosted_at"],
            alarms=tuple(sorted(data["alarms"])),
            step=None if "step" not in data else int(data["step"]),
            returned_to=None if "returned_to" not in data else int(data["returned_to"]),
            returned_at=None if "returned_to" not in data else data["returned_at"],
        )


class Boosts:
    """Boosts in the ledger table (pk `ENDPOINT#<endpoint>`, sk `BOOST#<variant>`), each with its
    roster entry; or, `shadow`, a dry run's shadow boosts (sk `SHADOW#<variant>`)."""

    def __init__(self, table: Table, shadow: bool = False) -> None:
        self._table = table
        self._kind = "shadow-boost" if shadow else "boost"
        self._prefix = "SHADOW#" if shadow else "BOOST#"
        self._roster = Roster(self._table, SHADOWS_PK if shadow else BOOSTS_PK, "", f"{self._kind}-entry")

    def shadows(self) -> Boosts:
        """The dry runs' shadow boosts, kept apart from the real ones (SHADOWS_PK)."""
        return Boosts(self._table, shadow=True)

    def save(
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
        A boost from a floor the ledger does not expect (`before` is neither the floor the
        boost left nor the one its give-back reached: a person set it since) starts over from
        `before`: the give-back never goes below what a person set. Saved again with the same
        floors (a retry), it is the same boost.
        `step`: the scale-up's step (the give-back's pace); absent, the give-back uses the stack's."""
        values: dict[str, Any] = {
            ":kind": self._kind,
            ":variant": variant,
            ":lever": lever,
            ":before": before,
            ":after": after,
            ":at": at.isoformat(),
            ":alarm": {alarm_name},
        }
        if step is not None:
            values[":step"] = step
        pace = ", step = :step" if step is not None else ""
        pk, sk = self.key(endpoint, variant)
        for original, condition in (("if_not_exists(original, :before)", _EXPECTED), (":before", None)):
            expression = (
                f"SET kind = :kind, variant = :variant, lever = :lever, original = {original},"
                f" boosted_to = :after, boosted_at = :at{pace} ADD alarms :alarm REMOVE returned_to, returned_at"
            )
            update = self._table.update_request(pk, sk, expression, values, condition=condition)
            try:
                self._table.transact([update, self._roster.put_request(endpoint, variant)])
            except ClientError as error:
                if cancelled_on(error, {0}):
                    continue  # a person's floor since: the boost starts over from it
                raise
            return

    def of(self, endpoint: str) -> list[Boost]:
        """An endpoint's boosts, by variant."""
        items = self._table.query(
            "pk = :pk AND begins_with(sk, :boost)",
            {":pk": endpoint_pk(endpoint), ":boost": self._prefix},
            consistent=True,
            every_page=False,  # a boost per variant: one page
        )
        return [Boost.from_item(item) for item in items]

    def step_back_request(self, endpoint: str, variant: str, to: int, at: datetime) -> dict[str, Any]:
        """A give-back step of a boost remembered (its new floor and when), as the Update of the
        transaction that records the step's decision: the next step waits for it to take, and for
        the scale-up's pace. The boost must still be there."""
        return self._table.update_request(
            *self.key(endpoint, variant),
            "SET returned_to = :to, returned_at = :at",
            {":to": to, ":at": at.isoformat()},
            condition="attribute_exists(pk)",
        )

    def drop(self, endpoint: str, variant: str) -> None:
        """Forget a boost and its roster entry (one transaction)."""
        self._table.transact(
            [
                self._table.delete_request(*self.key(endpoint, variant)),
                self._roster.delete_request(endpoint, variant),
            ]
        )

    def by_endpoint(self, endpoints: list[str]) -> dict[str, list[Boost]]:
        """The boosts of those of these endpoints that have any: one Query of the roster, then
        `of` each endpoint it names (not one Query per endpoint of the fleet). An entry whose
        boost is gone (left by a first sweep racing a give-back) is deleted on the condition
        that the boost still is gone (`Roster.sweep`)."""
        found = self._roster.sweep(endpoints, _Members(self, self._table, self._roster))
        return {endpoint: boosts for endpoint, boosts in found.items() if boosts}

    def key(self, endpoint: str, variant: str) -> tuple[str, str]:
        """A boost's partition and sort key."""
        return endpoint_pk(endpoint), f"{self._prefix}{variant}"


class _Members:
    """Boosts, as their roster lists them (`roster.Members`)."""

    def __init__(self, boosts: Boosts, table: Table, roster: Roster) -> None:
        self._boosts = boosts
        self._table = table
        self._roster = roster

    def of_endpoint(self, endpoint: str) -> list[Boost]:
        return self._boosts.of(endpoint)

    def named(self, entries: dict[str, str]) -> dict[str, Boost]:
        endpoints = sorted(set(entries.values()))
        return {self._roster.sk(b.endpoint, b.variant): b for e in endpoints for b in self._boosts.of(e)}

    def placed(self, member: Boost) -> tuple[str, str]:
        return member.endpoint, member.variant

    def current(self, member: Boost) -> bool:
        return True

    def drop_stale(self, sk: str, endpoint: str, read: dict[str, Boost] | None) -> None:
        """Deleted on the condition, in the same transaction, that the boost still is gone."""
        variant = self._roster.rest(sk, endpoint)
        check = self._table.check_request(*self._boosts.key(endpoint, variant), "attribute_not_exists(pk)")
        try:
            self._table.transact([check, self._roster.delete_request(endpoint, variant)])
        except ClientError as error:
            if aws.error_code(error) != "TransactionCanceledException":
                raise
            # The boost was saved again meanwhile: the entry is right.
