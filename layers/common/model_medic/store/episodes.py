"""Paging episodes: one standing condition (a bound, a spent budget) across the incidents it recurs in."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from model_medic.store.table import Table, epoch

if TYPE_CHECKING:
    pass

# One partition holds the open episodes, so that a sweep finds its unit's in one Query.
EPISODES_PK = "EPISODES#OPEN"
# Another holds the ended ones by when they ended, so that a day's are one Query (the report).
ENDED_PK = "EPISODES#ENDED"
# Every write of an open episode is on the condition that its version is still the one read.
_READ = "#version = :read"
_VERSION = {"#version": "version"}


@dataclass(frozen=True)
class Episode:
    """A condition people were paged about, open until it has been quiet for a while
    (docs/rooms/tell.md): the incidents it stands in, when it was seen and paged."""

    action: str
    endpoint: str
    subject: str  # the alarm, for a bound; "-" for the unit's budget
    cause: str  # "bound" or "budget"
    opened_at: str
    last_seen: str
    paged_at: str  # the first page, or the last reminder
    seen: int = 1  # the times it recurred (incidents met by it)
    pages: int = 1
    holding: frozenset[str] = frozenset()  # the open incidents it stands in, by id
    quiet_since: str | None = None  # when the last of them closed
    version: int = 0  # 0: not stored yet
    ended_at: str | None = None  # when it was found quiet long enough and ended (an ended one's record)

    @property
    def sk(self) -> str:
        return episode_sk(self.action, self.endpoint, self.subject, self.cause)

    def to_item(self) -> dict[str, Any]:
        return {
            "pk": EPISODES_PK,
            "sk": self.sk,
            "kind": "episode",
            "action": self.action,
            "endpoint": self.endpoint,
            "subject": self.subject,
            "cause": self.cause,
            "opened_at": self.opened_at,
            "last_seen": self.last_seen,
            "paged_at": self.paged_at,
            "seen": self.seen,
            "pages": self.pages,
            "holding": set(self.holding),
            "quiet_since": self.quiet_since,
            "version": self.version,
            "ended_at": self.ended_at,
        }

    @classmethod
    def from_item(cls, data: dict[str, Any]) -> Episode:
        return cls(
            action=data["action"],
            endpoint=data["endpoint"],
            subject=data["subject"],
            cause=data["cause"],
            opened_at=data["opened_at"],
            last_seen=data["last_seen"],
            paged_at=data["paged_at"],
            seen=int(data["seen"]),
            pages=int(data["pages"]),
            holding=frozenset(data.get("holding", ())),
            quiet_since=data.get("quiet_since"),
            version=int(data["version"]),
            ended_at=data.get("ended_at"),
        )


def episode_sk(action: str, endpoint: str, subject: str, cause: str) -> str:
    return f"{action}#{endpoint}#{subject}#{cause}"


class Episodes:
    """Open episodes in the ledger table (pk `EPISODES#OPEN`, sk `<action>#<endpoint>#<subject>#<cause>`);
    every write is conditional on the version read, so that of two writers one wins. Ended ones
    are kept for the ledger's retention (pk `EPISODES#ENDED`, sk `<ended ISO time>#<open sk>`)."""

    def __init__(self, table: Table, retention: timedelta = timedelta(days=90)) -> None:
        self._table = table
        self._retention = retention

    def get(self, action: str, endpoint: str, subject: str, cause: str) -> Episode | None:
        item = self._table.get(EPISODES_PK, episode_sk(action, endpoint, subject, cause))
        return None if item is None else Episode.from_item(item)

    def of(self, action: str, endpoint: str | None = None) -> list[Episode]:
        """The unit's open episodes (on one endpoint): one strongly consistent Query."""
        prefix = f"{action}#" if endpoint is None else f"{action}#{endpoint}#"
        items = self._table.query(
            "pk = :pk AND begins_with(sk, :prefix)", {":pk": EPISODES_PK, ":prefix": prefix}, consistent=True
        )
        return [Episode.from_item(item) for item in items]

    def put_request(self, episode: Episode) -> dict[str, Any]:
        """The transaction's Put of the episode as it is now, on the condition that nobody wrote
        it since it was read (a new one: that none exists)."""
        item = replace(episode, version=episode.version + 1).to_item()
        if episode.version == 0:
            return self._table.put_request(item, condition="attribute_not_exists(pk)")
        return self._table.put_request(item, condition=_READ, names=_VERSION, values={":read": episode.version})

    def delete_request(self, episode: Episode) -> dict[str, Any]:
        """The transaction's Delete of an episode that ended, on the same condition."""
        return self._table.delete_request(
            EPISODES_PK, episode.sk, condition=_READ, names=_VERSION, values={":read": episode.version}
        )

    def ended_request(self, episode: Episode, at: datetime) -> dict[str, Any]:
        """The transaction's Put of the record of an episode that ended at `at`, written with what
        ends it (the same key each time: a write repeated is one record)."""
        ended = replace(episode, ended_at=at.isoformat())
        item = ended.to_item() | {
            "pk": ENDED_PK,
            "sk": f"{ended.ended_at}#{episode.sk}",
            "kind": "ended-episode",
            "expiration": epoch(at + self._retention),
        }
        return self._table.put_request(item)

    def ended(self, since: datetime) -> list[Episode]:
        """The episodes that ended since `since` (a UTC time, as the ended keys are), oldest end first."""
        items = self._table.query("pk = :pk AND sk >= :since", {":pk": ENDED_PK, ":since": since.isoformat()})
        return [Episode.from_item(item) for item in items]

    def open(self) -> list[Episode]:
        """Every open episode, of every unit and endpoint: one Query."""
        return [Episode.from_item(item) for item in self._table.query("pk = :pk", {":pk": EPISODES_PK})]
