"""The control loop's incidents and rollouts as the daily report shows them, pure."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from statistics import median
from typing import Any

from model_medic.remediate.units import package_label
from model_medic.report.charts import Lane
from model_medic.store.episodes import Episode
from model_medic.store.incidents import Incident
from model_medic.tell.telling import flapping

# The rollout unit's vocabulary as the ledger records it (rollout/action.py: `Rollout.unit.name`,
# `RollBackCanary.kind`; a unit test checks they agree). The report reads records and does
# not import the rollout's machinery, which its cold start would pay for (`make bench`).
ROLLOUT = "rollout"
ROLLED_BACK_CANARY = "roll-back-canary"

# The outcomes the report and `status` show (docs/rooms/report.md, "One vocabulary of outcomes").
# An alarm's incident: the action helped, it did not (a person was told), the alarm cleared
# with nothing done, its retraining pipeline succeeded and the alarm has not cleared, or it is
# still open.
INCIDENT_OUTCOMES = ("recovered", "escalated", "closed", "retrained", "open")
# A rollout fixes no alarm, so it has its own: a rollback is the judge doing its job, not a
# failure; only "escalated" asks a person to act.
ROLLOUT_OUTCOMES = ("complete", "rolled back", "not deployed", "stopped", "escalated", "under way")


@dataclass(frozen=True)
class TimelineRow:
    """One timeline entry as the report shows it: `at` is HH:MM UTC, `time` the full ISO time;
    `outside` when it happened outside the report's 24 hours (the page then shows its date)."""

    at: str
    time: str
    what: str
    detail: str
    outside: bool


@dataclass(frozen=True)
class IncidentRow:
    """An incident as the report shows it. `outcome` (`outcome_of`): one of INCIDENT_OUTCOMES,
    or of ROLLOUT_OUTCOMES for a rollout; `acted`: the action took at least one step for it (as
    the loop counts them); `would_have_taken`: the steps a dry run would have taken (its shadow's,
    taken by none); the time to recover is a rollout's time to complete."""

    id: str
    action: str
    alarm_name: str
    state: str
    outcome: str
    acted: bool
    steps: int
    opened_at: str
    closed_at: str | None
    time_to_recover_seconds: float | None
    time_to_recover: str
    timeline: list[TimelineRow]
    would_have_taken: int = 0


@dataclass(frozen=True)
class ActionRow:
    """How often one kind of action fixed its alarm: fix rate = recovered / incidents that acted
    (rollouts fix no alarm: `RolloutRow`)."""

    action: str
    incidents: int
    acted: int
    recovered: int
    escalated: int
    fix_rate: float | None
    median_time_to_recover_seconds: float | None
    median_time_to_recover: str


@dataclass(frozen=True)
class RolloutRow:
    """How the rollouts ended, counted by outcome (ROLLOUT_OUTCOMES), with the median time to
    complete of the complete ones. No fix rate: a rollout fixes no alarm."""

    action: str
    rollouts: int
    complete: int
    rolled_back: int
    not_deployed: int
    stopped: int
    escalated: int
    under_way: int
    median_time_to_complete_seconds: float | None
    median_time_to_complete: str


@dataclass(frozen=True)
class RolloutView:
    """The endpoint's newest canary rollout (an incident of the rollout unit) as the report
    shows it. `package`: the model package's short label (None for an operator's canary,
    which names no package); `share`: the canary's share of the traffic as the rollout last
    set it, since `share_since` (None before anything was deployed); `ended`: its outcome
    (`rollout_outcome`); `ended_at`: when (None while under way); `verdict`: the judge's last
    verdict (decision, when, and per metric the figures, estimate and evidence:
    canary.MetricVerdict), if any."""

    id: str
    package: str | None
    canary_config: str | None
    started_at: str
    share: float | None
    share_since: str | None
    ended: str
    ended_at: str | None
    verdict: dict[str, Any] | None = None


def rollout_view(incident: Incident) -> RolloutView:
    """Pure: a rollout incident as the report shows it, from the facts the rollout's changes
    settle (`rollout/changes.py`: `DeployCanary` and `ShiftTraffic` set share and share_since, a
    rollback sets the share to 0) and how it ended (`rollout_outcome`)."""
    facts = incident.facts or {}
    package = facts.get("package")
    share = facts.get("share")
    since = facts.get("share_since")
    deployed = "canary_config" in facts
    ended = rollout_outcome(incident)
    ended_at = incident.closed_at
    if ended_at is None and ended == "escalated":
        stopped = [e["at"] for e in incident.timeline if e["what"] in ("failed", "escalated")]
        ended_at = stopped[-1] if stopped else None
    return RolloutView(
        id=incident.id,
        package=package_label(str(package)) if package else None,
        canary_config=str(facts["canary_config"]) if deployed else None,
        started_at=parse_utc(incident.opened_at).isoformat(),
        share=float(share) if share is not None else None,
        share_since=parse_utc(str(since)).isoformat() if since else None,
        ended=ended,
        ended_at=parse_utc(ended_at).isoformat() if ended_at else None,
        verdict=facts.get("verdict") if isinstance(facts.get("verdict"), dict) else None,
    )


def newest_rollout(incidents: list[Incident]) -> RolloutView | None:
    """Pure: the newest (last opened) rollout among an endpoint's incidents, or None."""
    rollouts = [i for i in incidents if i.action == ROLLOUT]
    return rollout_view(max(rollouts, key=lambda i: parse_utc(i.opened_at))) if rollouts else None


def parse_utc(value: str) -> datetime:
    """An ISO time as an aware UTC datetime (a naive one is taken as UTC)."""
    moment = datetime.fromisoformat(value)
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).astimezone(UTC)


def open_during(incident: Incident, start: datetime, end: datetime) -> bool:
    """Whether the incident was open at any time in [start, end): opened before the end and
    not closed before the start."""
    if parse_utc(incident.opened_at) >= end:
        return False
    return incident.closed_at is None or parse_utc(incident.closed_at) >= start


def incidents_during(incidents: list[Incident], start: datetime, end: datetime) -> list[Incident]:
    """The incidents open at any time in [start, end).

    From all of the endpoint's incidents (one paginated Query), not `of(since=start -
    lookback)`: that filters on the opened time, and an incident stays open as long as its
    alarm stays in ALARM (escalated, for weeks if nobody acts), so no lookback is long
    enough. Reading all of them costs little: closed ones expire after the ledger's
    retention, so the Query reads at most that many days of incidents plus the ones still
    open. The same read gives the report the newest rollout (`newest_rollout`).
    """
    return [i for i in incidents if open_during(i, start, end)]


def rollout_outcome(incident: Incident) -> str:
    """Pure: how a rollout ended (ROLLOUT_OUTCOMES), from its own record only - never from the
    endpoint's config now, so a rollout that completed stays complete whatever happens to the
    config later. complete: the final config took, or the canary had reached 100 % when the
    endpoint was changed outside Model Medic (both close the incident `recovered`); rolled back:
    the judge set the canary's weight to 0; not deployed: no canary was (the candidate was not
    better, not Approved, already served, or was rolled back before); stopped: the endpoint was
    changed outside Model Medic before 100 % (closed, `Endings.as_it_stands`); escalated: a
    bound stopped it or a change did not take - a person must act; else under way."""
    facts = incident.facts or {}
    if incident.state == "recovered":
        return "complete"
    if incident.closed_at is None:
        return "escalated" if incident.state == "escalated" else "under way"
    if incident.state == "closed":
        return "stopped"
    # Deployed: a canary variant, or an inference component's rolling update (`component_since`).
    if "canary_config" not in facts and "component_since" not in facts:
        return "not deployed"
    share = facts.get("share")
    if facts.get("rolled_back_at") or (share is not None and float(share) == 0):
        return "rolled back"
    return "escalated"


def outcome_of(incident: Incident) -> str:
    """An incident's outcome: a rollout's from `rollout_outcome`; an alarm's recovered,
    escalated, closed, retrained (its pipeline succeeded, its alarm not yet back to OK: not a
    recovery) or open - from the timeline as well as the state, because an escalated incident
    is `closed` once its alarm returns to OK."""
    if incident.action == ROLLOUT:
        return rollout_outcome(incident)
    seen = {entry["what"] for entry in incident.timeline}
    if incident.state == "recovered" or "recovered" in seen or incident.recovered_seconds is not None:
        return "recovered"
    if incident.state == "escalated" or seen & {"escalated", "failed"}:
        return "escalated"
    if incident.closed_at is not None or incident.state == "closed":
        return "closed"
    return "retrained" if incident.state == "retrained" else "open"


def duration(seconds: float | None) -> str:
    """As "42 s", "12 min" or "2 h 05 min"; an em dash when there is none."""
    if seconds is None:
        return "\u2014"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def timeline_rows(incident: Incident, start: datetime, end: datetime) -> list[TimelineRow]:
    """The incident's timeline, oldest first, with times as HH:MM UTC."""
    rows = []
    for entry in sorted(incident.timeline, key=lambda e: parse_utc(e["at"])):
        moment = parse_utc(entry["at"])
        rows.append(
            TimelineRow(
                at=moment.strftime("%H:%M"),
                time=moment.isoformat(),
                what=str(entry["what"]),
                detail=str(entry.get("detail", "")),
                outside=not start <= moment < end,
            )
        )
    return rows


def incident_row(incident: Incident, start: datetime, end: datetime) -> IncidentRow:
    acted = incident.steps > 0 or any(entry["what"] == "action" for entry in incident.timeline)
    outcome = outcome_of(incident)
    seconds = incident.recovered_seconds if outcome in ("recovered", "complete") else None
    return IncidentRow(
        id=incident.id,
        action=incident.action,
        alarm_name=incident.alarm_name,
        state=incident.state,
        outcome=outcome,
        acted=acted,
        steps=incident.steps,
        opened_at=parse_utc(incident.opened_at).isoformat(),
        closed_at=None if incident.closed_at is None else parse_utc(incident.closed_at).isoformat(),
        time_to_recover_seconds=seconds,
        time_to_recover=duration(seconds),
        timeline=timeline_rows(incident, start, end),
        would_have_taken=0 if incident.shadow is None else incident.shadow.steps,
    )


def action_table(rows: list[IncidentRow]) -> list[ActionRow]:
    """Per kind of action that answers an alarm (rollouts: `rollout_table`): incidents, how
    many acted, recovered, escalated, the fix rate (recovered among those that acted, in %;
    None when none acted) and the median time to recover of the recovered ones."""
    table = []
    for action in sorted({row.action for row in rows} - {ROLLOUT}):
        mine = [row for row in rows if row.action == action]
        acted = [row for row in mine if row.acted]
        middle = _median([row.time_to_recover_seconds for row in mine])
        table.append(
            ActionRow(
                action=action,
                incidents=len(mine),
                acted=len(acted),
                recovered=sum(row.outcome == "recovered" for row in mine),
                escalated=sum(row.outcome == "escalated" for row in mine),
                fix_rate=round(100 * sum(row.outcome == "recovered" for row in acted) / len(acted), 1)
                if acted
                else None,
                median_time_to_recover_seconds=middle,
                median_time_to_recover=duration(middle),
            )
        )
    return table


def rollout_table(rows: list[IncidentRow]) -> list[RolloutRow]:
    """The rollouts among the incidents counted by how they ended, and the median time to
    complete; empty when there were none."""
    mine = [row for row in rows if row.action == ROLLOUT]
    if not mine:
        return []
    count = Counter(row.outcome for row in mine)
    middle = _median([row.time_to_recover_seconds for row in mine])
    return [
        RolloutRow(
            action=ROLLOUT,
            rollouts=len(mine),
            complete=count["complete"],
            rolled_back=count["rolled back"],
            not_deployed=count["not deployed"],
            stopped=count["stopped"],
            escalated=count["escalated"],
            under_way=count["under way"],
            median_time_to_complete_seconds=middle,
            median_time_to_complete=duration(middle),
        )
    ]


def _median(seconds: list[float | None]) -> float | None:
    known = [s for s in seconds if s is not None]
    return median(known) if known else None


def incident_lanes(rows: list[IncidentRow], start: datetime, end: datetime) -> list[Lane]:
    """The incidents as lanes of the incident strip (fractions of the window)."""
    span = (end - start).total_seconds()

    def fraction(moment: str) -> float:
        return (parse_utc(moment) - start).total_seconds() / span

    lanes = []
    for row in rows:
        lanes.append(
            Lane(
                label=f"{row.action} \u00b7 {row.alarm_name}",
                begin=fraction(row.opened_at),
                end=1.0 if row.closed_at is None else fraction(row.closed_at),
                outcome=row.outcome,
                marks=tuple(
                    (fraction(t.time), t.what, f"{t.at} {t.what}: {t.detail}") for t in row.timeline if not t.outside
                ),
            )
        )
    return lanes


@dataclass(frozen=True)
class EpisodeRow:
    """A paging episode as the report shows it (docs/rooms/tell.md, "One page per standing
    condition"): `met`, the ALARM transitions of a bound (the incidents refused, for a spent
    budget); `pages`, the pages and reminders people got; `ended` None while it stands."""

    action: str
    cause: str
    subject: str
    started: str
    quiet_since: str | None
    ended: str | None
    met: int
    pages: int
    line: str


def episode_rows(episodes: list[Episode], start: datetime, end: datetime) -> list[EpisodeRow]:
    """Pure: the endpoint's episodes open at any time in [start, end) (ended ones and those still
    open), oldest first, each with its line (`paging.flapping`)."""
    during = [
        e for e in episodes if parse_utc(e.opened_at) < end and (e.ended_at is None or parse_utc(e.ended_at) >= start)
    ]
    return [
        EpisodeRow(
            action=e.action,
            cause=e.cause,
            subject=e.subject,
            started=e.opened_at,
            quiet_since=e.quiet_since,
            ended=e.ended_at,
            met=e.seen,
            pages=e.pages,
            line=flapping(e, None, end),
        )
        for e in sorted(during, key=lambda e: (e.opened_at, e.sk))
    ]
