"""The step in flight (docs/architecture.md, "The control loop"): what an incident records before its first AWS call."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from model_medic.remediate.units import Change, change_of


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
