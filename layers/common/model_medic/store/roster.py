"""A roster: one partition listing the items of one kind across endpoints, so that a sweep reads it in one Query."""

from __future__ import annotations

from typing import Any, Protocol

from model_medic.store.table import Table, from_item, to_item

# A roster's "complete" mark (after its prefix): sorts before every entry, whose sort keys go
# on with an endpoint name (a letter or digit first).
ROSTER_COMPLETE = "!complete"


class Members[T](Protocol):
    """What a roster lists, as its user reads it and confirms an entry stale."""

    def of_endpoint(self, endpoint: str) -> list[T]:
        """One endpoint's members that a sweep hands out, read as before the roster existed."""
        ...

    def named(self, entries: dict[str, str]) -> dict[str, T]:
        """What these entries (sort key -> endpoint) name, read now: entry sort key -> member,
        for the members that exist (and any other member read on the way, under its entry's key)."""
        ...

    def placed(self, member: T) -> tuple[str, str]:
        """Its entry's place: (endpoint, the rest of the sort key)."""
        ...

    def current(self, member: T) -> bool:
        """Whether a sweep hands it out (and its roster lists it)."""
        ...

    def drop_stale(self, sk: str, endpoint: str, read: dict[str, T] | None) -> None:
        """An entry that names nothing current: deleted once a read or a condition confirms it.
        `read`: what the sweep read by key (`named`, the roster being complete), else None."""
        ...


class Roster:
    """Entries `<prefix><endpoint>#<rest>` in the partition `pk`, and the mark `<prefix>!complete`.

    Each entry is put and deleted in the transactions that write its member. Members written
    before the roster existed have none: until the mark exists, a sweep reads every endpoint
    as before (`Members.of_endpoint`), enters what it finds and then puts the mark. An entry
    whose member is no longer current is deleted once that is confirmed (`Members.drop_stale`).
    """

    def __init__(self, table: Table, pk: str, prefix: str, kind: str, **attributes: str) -> None:
        self._table = table
        self.pk = pk
        self._prefix = prefix
        self._kind = kind
        self._attributes = attributes  # what every entry also holds (an incident roster's action)

    def sk(self, endpoint: str, rest: str) -> str:
        return f"{self._prefix}{endpoint}#{rest}"

    def rest(self, sk: str, endpoint: str) -> str:
        """What follows the endpoint in an entry's sort key."""
        return sk[len(self._prefix) + len(endpoint) + 1 :]

    def entry(self, endpoint: str, rest: str) -> dict[str, Any]:
        """An entry's item."""
        data = {"pk": self.pk, "sk": self.sk(endpoint, rest), "kind": self._kind, "endpoint": endpoint}
        return to_item({**data, **self._attributes})

    def put_request(self, endpoint: str, rest: str) -> dict[str, Any]:
        """The Put of an entry, for the transaction that writes its member."""
        return self._table.put_request(self.entry(endpoint, rest))

    def delete_request(self, endpoint: str, rest: str) -> dict[str, Any]:
        """The Delete of an entry, for the transaction that deletes (or closes) its member."""
        return self._table.delete_request(self.pk, self.sk(endpoint, rest))

    def delete(self, sk: str) -> None:
        self._table.delete(self.pk, sk)

    def read(self) -> tuple[dict[str, str], bool]:
        """The entries (sort key -> endpoint) and whether the roster is complete: one strongly
        consistent, paginated Query."""
        if self._prefix:
            condition, values = "pk = :pk AND begins_with(sk, :prefix)", {":pk": self.pk, ":prefix": self._prefix}
        else:
            condition, values = "pk = :pk", {":pk": self.pk}
        entries: dict[str, str] = {}
        complete = False
        for item in map(from_item, self._table.query(condition, values, consistent=True)):
            if item["sk"] == self._prefix + ROSTER_COMPLETE:
                complete = True
            else:
                entries[item["sk"]] = item["endpoint"]
        return entries, complete

    def sweep[T](self, endpoints: list[str], members: Members[T]) -> dict[str, list[T]]:
        """Each endpoint's current members: one Query of the roster, then what it names (or, until
        the roster is complete, every endpoint read, its members entered and the mark put)."""
        entries, complete = self.read()
        wanted = set(endpoints)
        named = {sk: endpoint for sk, endpoint in entries.items() if endpoint in wanted}
        by_key = members.named(named) if complete else None
        read = by_key
        if read is None:
            read = {self.sk(*members.placed(m)): m for e in sorted(wanted) for m in members.of_endpoint(e)}
        found: dict[str, list[T]] = {endpoint: [] for endpoint in endpoints}
        listed = set()
        for sk in sorted(read):
            if members.current(read[sk]):
                found[members.placed(read[sk])[0]].append(read[sk])
                listed.add(sk)
        for sk, endpoint in named.items():
            if sk not in listed:
                members.drop_stale(sk, endpoint, by_key)
        if not complete:
            for sk in sorted(listed - entries.keys()):
                self._table.put(self.entry(*members.placed(read[sk])))
            self._table.put(to_item({"pk": self.pk, "sk": self._prefix + ROSTER_COMPLETE, "kind": "roster"}))
        return found
