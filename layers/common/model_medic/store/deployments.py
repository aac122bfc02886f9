"""Deployments: the endpoint configs seen serving (rollback targets), what rollouts created, what configs serve."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from model_medic.store.table import Table, endpoint_pk, epoch

if TYPE_CHECKING:
    pass

# What rollouts created in SageMaker, one item per endpoint config or model, kept (no TTL)
# until `cleanup.py` deletes the resource: entered before the Create call, so a crash after
# it leaves nothing untracked. Entered again by every rollout that uses the name (a model's
# name is its package's, so a package deployed again reuses it): `used_at` says when last.
CREATED_PK = "CREATED#ROLLOUTS"
# What each endpoint config's variant serves (the model package group behind its model):
# endpoint configs and models cannot be changed once created, so an entry stays true while
# the config exists; it is read again after SERVING_KEEP, in case the name was deleted and
# reused for another config (rollout/targets.py, `ServingGroups`).
SERVING_PK = "SERVING#GROUPS"
SERVING_KEEP = timedelta(days=30)


@dataclass(frozen=True)
class ConfigSeen:
    """An endpoint config seen serving an endpoint InService, or rejected as a rollback target."""

    endpoint: str
    config: str
    last_seen: str
    first_seen: str | None = None  # None: only ever rejected
    rejected_at: str | None = None  # never a rollback target once set

    @classmethod
    def from_item(cls, data: dict[str, Any]) -> ConfigSeen:
        return cls(
            endpoint=data["pk"].removeprefix("ENDPOINT#"),
            config=data["config"],
            last_seen=data["last_seen"],
            first_seen=data.get("first_seen"),
            rejected_at=data.get("rejected_at"),
        )


@dataclass(frozen=True)
class Created:
    """An endpoint config or model (`kind`: config / model) a rollout created for an endpoint."""

    endpoint: str
    kind: str
    name: str
    created_at: str  # when a rollout first tracked it
    used_at: str | None = None  # when a rollout last tracked it; None on items written before it was kept

    @property
    def last_used(self) -> datetime:
        """The later of created_at and used_at (an item without used_at: created_at)."""
        return max(datetime.fromisoformat(at) for at in (self.created_at, self.used_at) if at)

    @classmethod
    def from_item(cls, data: dict[str, Any]) -> Created:
        endpoint, kind = data["endpoint"], data["created"]
        name = data["sk"][len(f"{endpoint}#{kind}#") :]
        return cls(endpoint, kind, name, data["created_at"], data.get("used_at"))


@dataclass(frozen=True)
class Serving:
    """What a `<config>#<variant>` serves (a model package group, or None), as read at `read_at`."""

    key: str
    group: str | None
    read_at: datetime
    expiration: int

    def to_item(self) -> dict[str, Any]:
        return {
            "pk": SERVING_PK,
            "sk": self.key,
            "kind": "serving-group",
            "read_at": self.read_at.isoformat(),
            "expiration": self.expiration,
            "group": self.group or None,
        }

    @classmethod
    def from_item(cls, data: dict[str, Any]) -> Serving:
        read_at = datetime.fromisoformat(data["read_at"])
        return cls(data["sk"], data.get("group"), read_at, int(data["expiration"]))


class Deployments:
    """Configs seen, resources created and serving groups, in the ledger table."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def observe_config(self, endpoint: str, config: str, at: datetime) -> None:
        """Remember that `config` served the endpoint InService at `at` (the rollback targets)."""
        self._table.update(
            endpoint_pk(endpoint),
            f"CONFIG#{config}",
            "SET kind = :kind, config = :config, last_seen = :at, first_seen = if_not_exists(first_seen, :at)",
            {":kind": "deployment", ":config": config, ":at": at.isoformat()},
        )

    def reject_config(self, endpoint: str, config: str, at: datetime) -> None:
        """A config rolled back from (or a rollout's passing canary config) is never a rollback target."""
        self._table.update(
            endpoint_pk(endpoint),
            f"CONFIG#{config}",
            "SET kind = :kind, config = :config, rejected_at = :at, last_seen = if_not_exists(last_seen, :at)",
            {":kind": "deployment", ":config": config, ":at": at.isoformat()},
        )

    def configs_seen(self, endpoint: str) -> list[ConfigSeen]:
        items = self._table.query(
            "pk = :pk AND begins_with(sk, :config)",
            {":pk": endpoint_pk(endpoint), ":config": "CONFIG#"},
            consistent=True,
            every_page=False,
        )
        return [ConfigSeen.from_item(item) for item in items]

    def previous_config(self, endpoint: str, current: str) -> str | None:
        """The config last seen InService before `current`, never one that was rolled back from."""
        candidates = [
            (seen.last_seen, seen.config)
            for seen in self.configs_seen(endpoint)
            if seen.config != current and seen.rejected_at is None
        ]
        return max(candidates)[1] if candidates else None

    def track_created(self, endpoint: str, kind: str, name: str, at: datetime) -> None:
        """Remember an endpoint config or model (`kind`) a rollout creates - or uses again - for
        `endpoint`: created_at stays the first time, used_at is this one."""
        self._table.update(
            CREATED_PK,
            f"{endpoint}#{kind}#{name}",
            "SET kind = :kind, endpoint = :endpoint, created = :created, "
            "created_at = if_not_exists(created_at, :at), used_at = :at",
            {":kind": "created", ":endpoint": endpoint, ":created": kind, ":at": at.isoformat()},
        )

    def created(self) -> list[Created]:
        """Every tracked config and model."""
        return [Created.from_item(item) for item in self._table.query("pk = :pk", {":pk": CREATED_PK}, consistent=True)]

    def tracked(self, kind: str, name: str) -> list[Created]:
        """The items of one config or model (`kind`), one per endpoint a rollout tracked it for,
        read now: one consistent Query of the partition, filtered to the name (the key leads
        with the endpoint, and a model's name is its package's, shared by endpoints)."""
        items = self._table.query(
            "pk = :pk",
            {":pk": CREATED_PK, ":tail": f"#{kind}#{name}"},
            consistent=True,
            filter_expression="contains(sk, :tail)",
        )
        return [e for e in map(Created.from_item, items) if (e.kind, e.name) == (kind, name)]

    def forget_created(self, endpoint: str, kind: str, name: str) -> None:
        self._table.delete(CREATED_PK, f"{endpoint}#{kind}#{name}")

    def serving_groups(self, now: datetime) -> dict[str, tuple[str | None, datetime]]:
        """`<config>#<variant>` -> (the model package group it serves or None, when that was
        read), for every entry not yet expired: one paginated Query of the partition."""
        found: dict[str, tuple[str | None, datetime]] = {}
        for serving in map(Serving.from_item, self._table.query("pk = :pk", {":pk": SERVING_PK})):
            # DynamoDB deletes expired items within days, not at once: an expired one is not read.
            if serving.expiration > now.timestamp():
                found[serving.key] = (serving.group, serving.read_at)
        return found

    def save_serving_groups(self, read: dict[str, str | None], at: datetime) -> None:
        """Remember what each `<config>#<variant>` serves, as read at `at` (BatchWriteItem, 25 a call)."""
        expiration = epoch(at + SERVING_KEEP)
        self._table.batch_put([Serving(key, group, at, expiration).to_item() for key, group in sorted(read.items())])
