"""Component specifications: each inference component's specification now, the one before it and when it changed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from model_medic.store.table import Table

if TYPE_CHECKING:
    pass

# One partition for every component in scope, `<endpoint>#<component>` each: a sweep reads them
# all in one Query beside one ListInferenceComponents (remediate/component_rollback.py).
SPECS_PK = "COMPONENTS#SPECS"


@dataclass(frozen=True)
class ComponentSpec:
    """An inference component's specification as last seen (UpdateInferenceComponent's request
    shape, as JSON), the one it had before and when the change was seen; `rejected`: the digests
    of specifications rolled back from, never a rollback target again."""

    endpoint: str
    component: str
    spec: str
    digest: str
    seen_at: str
    modified: str = ""  # DescribeInferenceComponent's LastModifiedTime when the spec was read
    previous: str | None = None
    previous_digest: str | None = None
    changed_at: str | None = None
    rejected: frozenset[str] = frozenset()

    @property
    def key(self) -> str:
        return f"{self.endpoint}#{self.component}"

    @classmethod
    def from_item(cls, data: dict[str, Any]) -> ComponentSpec:
        return cls(
            endpoint=data["endpoint"],
            component=data["component"],
            spec=data["spec"],
            digest=data["digest"],
            seen_at=data["seen_at"],
            modified=data.get("modified", ""),
            previous=data.get("previous"),
            previous_digest=data.get("previous_digest"),
            changed_at=data.get("changed_at"),
            rejected=frozenset(data.get("rejected", set())),
        )


class ComponentSpecs:
    """The specification history of the inference components, in the ledger table."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def all(self) -> dict[str, ComponentSpec]:
        """Every component's record by `<endpoint>#<component>` (one paginated, consistent Query)."""
        items = self._table.query("pk = :pk", {":pk": SPECS_PK}, consistent=True)
        return {spec.key: spec for spec in map(ComponentSpec.from_item, items)}

    def of_endpoint(self, endpoint: str) -> list[ComponentSpec]:
        items = self._table.query(
            "pk = :pk AND begins_with(sk, :endpoint)", {":pk": SPECS_PK, ":endpoint": f"{endpoint}#"}, consistent=True
        )
        return [spec for spec in map(ComponentSpec.from_item, items) if spec.endpoint == endpoint]

    def observe(
        self, known: ComponentSpec | None, endpoint: str, component: str, seen: tuple[str, str, str], at: datetime
    ) -> None:
        """Record the component's specification `seen` (spec JSON, its digest, LastModifiedTime) at
        `at`, given its record as read (`known`): the first one seen, the same one (its time only),
        or a change (the one before kept, with `at` as when it changed). Conditional on the record
        read, so that two writers record one change once."""
        spec, digest, modified = seen
        if known is None:
            item = {"pk": SPECS_PK, "sk": f"{endpoint}#{component}", "kind": "component-spec"}
            item |= {"endpoint": endpoint, "component": component, "spec": spec, "digest": digest}
            self._table.put({**item, "seen_at": at.isoformat(), "modified": modified}, condition=_NEW)
            return
        if known.digest == digest:
            if known.modified != modified:
                values = {":modified": modified, ":digest": digest}
                self._table.update(
                    SPECS_PK, known.key, "SET modified = :modified", values, condition="digest = :digest"
                )
            return
        self._table.update(
            SPECS_PK,
            known.key,
            "SET previous = :previous, previous_digest = :was, spec = :spec, digest = :digest, "
            "changed_at = :at, seen_at = :at, modified = :modified",
            {
                ":previous": known.spec,
                ":was": known.digest,
                ":spec": spec,
                ":digest": digest,
                ":at": at.isoformat(),
                ":modified": modified,
            },
            condition="digest = :was",
        )

    def reject(self, endpoint: str, component: str, digest: str) -> None:
        """A specification rolled back from is never a rollback target of the component again."""
        # Only on a record there is: a component forgotten since has nothing to keep it from.
        self._table.update(
            SPECS_PK,
            f"{endpoint}#{component}",
            "ADD rejected :digest",
            {":digest": {digest}},
            condition="attribute_exists(pk)",
        )

    def forget(self, key: str) -> None:
        """The record of a component that is gone."""
        self._table.delete(SPECS_PK, key)


_NEW = "attribute_not_exists(pk)"
