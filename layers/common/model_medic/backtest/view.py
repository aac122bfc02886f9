"""What `model-medic backtest` shows, as typed records built by pure functions."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

from model_medic.backtest.replay import Page
from model_medic.report.incident_view import outcome_of
from model_medic.status.view import TOLD, ActionRow, Entry, action_row, short_id
from model_medic.store.incidents import Incident
from model_medic.store.journal import Decision


@dataclass(frozen=True)
class Window:
    """What was replayed, over which window, under which assumptions."""

    stack: str
    region: str
    start: str
    end: str
    units: tuple[str, ...]
    sweeps: tuple[tuple[str, int], ...]  # (unit, minutes between its scheduled runs)
    alarms: int
    transitions: int
    deliveries: int
    invocations: int
    update_minutes: float


@dataclass(frozen=True)
class SeedRow:
    """A variant as the simulation started it (as SageMaker describes it now)."""

    endpoint: str
    variant: str
    instances: int | None  # None: serverless
    weight: float
    floor: int | None  # its scalable target's MinCapacity
    ceiling: int | None  # its scalable target's MaxCapacity
    policy: bool  # its target has a scaling policy


@dataclass(frozen=True)
class IncidentRow:
    """An incident, simulated or recorded."""

    id: str
    short_id: str
    endpoint: str
    action: str
    alarm_name: str
    opened_at: str
    closed_at: str | None
    state: str
    outcome: str
    steps: int
    recovered_seconds: float | None
    timeline: tuple[Entry, ...]


@dataclass(frozen=True)
class CapacityRow:
    """The instances the simulated remediation held above a variant's starting count."""

    endpoint: str
    variant: str
    start: int
    peak_added: int
    instance_hours: float


@dataclass(frozen=True)
class CompareRow:
    """One count, as the stack recorded it in the window and as the backtest made it."""

    endpoint: str
    action: str
    what: str  # "incidents", or a decision's result
    recorded: int
    backtest: int


@dataclass(frozen=True)
class Backtest:
    """`model-medic backtest`: what the stack would have done in enforce over the window."""

    window: Window
    seeded: tuple[SeedRow, ...]
    incidents: tuple[IncidentRow, ...]
    actions: tuple[ActionRow, ...]  # the decisions a person would have been told of, oldest first
    pages: tuple[Page, ...]
    capacity: tuple[CapacityRow, ...]
    recorded: tuple[IncidentRow, ...]
    comparison: tuple[CompareRow, ...]
    notes: tuple[str, ...]  # what was not simulated and why, invocations parked, the policies' scale-ins

    @property
    def instance_hours(self) -> float:
        return sum(row.instance_hours for row in self.capacity)


def incident_row(incident: Incident) -> IncidentRow:
    """Pure: an incident as the backtest shows it."""
    return IncidentRow(
        id=incident.id,
        short_id=short_id(incident.id),
        endpoint=incident.endpoint,
        action=incident.action,
        alarm_name=incident.alarm_name,
        opened_at=incident.opened_at,
        closed_at=incident.closed_at,
        state=incident.state,
        outcome=outcome_of(incident),
        steps=incident.steps,
        recovered_seconds=incident.recovered_seconds,
        timeline=tuple(Entry(str(e["at"]), str(e["what"]), str(e.get("detail", ""))) for e in incident.timeline),
    )


def told(decisions: Iterable[Decision]) -> tuple[ActionRow, ...]:
    """Pure: the decisions a person is told of (acted, bound-reached, failed, ...), oldest first."""
    return tuple(action_row(d) for d in sorted(decisions, key=lambda d: d.at) if d.result in TOLD)


def compare(
    recorded: tuple[Sequence[Incident], Sequence[Decision]], simulated: tuple[Sequence[Incident], Sequence[Decision]]
) -> tuple[CompareRow, ...]:
    """Pure: per endpoint and action, the incidents and each told result, recorded against simulated."""
    counts: list[Counter[tuple[str, str, str]]] = []
    for incidents, decisions in (recorded, simulated):
        found: Counter[tuple[str, str, str]] = Counter((i.endpoint, i.action, "incidents") for i in incidents)
        found.update((d.endpoint, d.action, d.result) for d in decisions if d.result in TOLD)
        counts.append(found)
    keys = sorted(set(counts[0]) | set(counts[1]), key=lambda k: (k[0], k[1], k[2] != "incidents", k[2]))
    return tuple(CompareRow(*key, counts[0][key], counts[1][key]) for key in keys)


def held(
    counts: Sequence[tuple[datetime, int]],
    floors: Sequence[tuple[datetime, int | None]],
    start_count: int,
    start: datetime,
    end: datetime,
) -> tuple[float, int]:
    """Pure: the instance-hours a variant ran above its starting count because of the remediation,
    and the most instances above it at once. A variant under auto scaling counts up to its
    MinCapacity only (above the floor, instances are its scaling policy's); one without counts
    all it runs. `counts` and `floors` are step series (time, value), each value holding from
    its time to the next."""
    times = sorted({start, end, *(t for t, _ in counts), *(t for t, _ in floors)})
    times = [t for t in times if start <= t <= end]
    hours, peak = 0.0, 0
    for begin, finish in pairwise(times):
        count = _value_at(counts, begin, start_count)
        floor = _value_at(floors, begin, None)
        added = max(0, (count if floor is None else min(count, floor)) - start_count)
        hours += added * (finish - begin).total_seconds() / 3600
        peak = max(peak, added)
    return hours, peak


def _value_at[T](series: Sequence[tuple[datetime, T]], at: datetime, default: T) -> T:
    """The value of a step series at `at`: the last one set at or before it, else its first (or `default`)."""
    ordered = sorted(series, key=lambda point: point[0])
    value = ordered[0][1] if ordered else default
    for when, found in ordered:
        if when > at:
            break
        value = found
    return value
