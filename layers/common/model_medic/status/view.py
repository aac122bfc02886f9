"""What `model-medic status` and `explain` show, as typed records built from the ledger's records, pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from model_medic.policy.tags import KEYS, PIPELINE_PARAMETER, PREFIX, EndpointPolicy, Problem
from model_medic.remediate.rollout.judge import current_step
from model_medic.remediate.units import change_of
from model_medic.report.incident_view import RolloutView, outcome_of

if TYPE_CHECKING:
    from model_medic.store.claims import Refused
    from model_medic.store.incidents import Incident, Step
    from model_medic.store.journal import Decision, Mark

# Results a person is told of (tell/outcome.py announces these): the "last actions" of an endpoint.
TOLD = frozenset({"acted", "dry-run", "bound-reached", "failed", "retrained", "recovered", "escalated", "stopped"})


@dataclass(frozen=True)
class Tag:
    key: str
    value: str


@dataclass(frozen=True)
class RefusedTag:
    key: str
    value: str
    reason: str


@dataclass(frozen=True)
class PolicyView:
    """An endpoint's `model-medic:` tags: those its functions apply, those they refuse and why."""

    applied: tuple[Tag, ...] = ()
    refused: tuple[RefusedTag, ...] = ()


@dataclass(frozen=True)
class StepView:
    """A step: its single changes and how far it got (`done` took; `called`: the next one was called)."""

    number: int
    at: str
    summary: str
    changes: tuple[str, ...]
    done: int
    called: bool

    @property
    def progress(self) -> str:
        total = len(self.changes)
        if self.done >= total:
            return f"{total}/{total} took"
        state = "called, not yet read back" if self.called else "not yet called"
        return f"{self.done}/{total} took; next {state}: {self.changes[self.done]}"


@dataclass(frozen=True)
class Entry:
    """One line of an incident's timeline."""

    at: str
    what: str
    detail: str


@dataclass(frozen=True)
class IncidentView:
    """An incident: its state, its step in flight, when it is looked at again, its deadline.

    `next_evaluation` is the latest time the function's schedule looks at it again (now plus
    the schedule's rate); `held` says why no new step may start before `held_until` (its
    cool-down, or the hour's budget spent); `verify_until` is the deadline for the alarm to
    clear, while it is verifying."""

    id: str
    short_id: str
    endpoint: str
    action: str
    alarm_name: str
    state: str
    outcome: str
    opened_at: str
    closed_at: str | None
    steps: int
    in_flight: StepView | None
    next_evaluation: str | None
    held: str | None
    held_until: str | None
    verify_until: str | None
    note: str
    timeline: tuple[Entry, ...]


@dataclass(frozen=True)
class MetricFinding:
    """One metric of the judge's last verdict (rollout.judge.MetricVerdict as stored)."""

    metric: str
    finding: str
    canary: str
    primary: str
    estimate: str


@dataclass(frozen=True)
class RolloutStatus:
    """An endpoint's newest rollout: step, share, state, and the judge's last verdict per metric."""

    id: str
    short_id: str
    endpoint: str
    package: str | None
    step: int | None
    steps: tuple[int, ...]
    share: float | None
    share_since: str | None
    state: str
    started_at: str
    ended_at: str | None
    next_evaluation: str | None
    verdict: str | None
    verdict_at: str | None
    metrics: tuple[MetricFinding, ...]
    note: str = ""  # the last decision that did not act (held, waiting for traffic, a precondition)


@dataclass(frozen=True)
class ActionRow:
    """A decision of the ledger."""

    at: str
    endpoint: str
    action: str
    result: str
    gate: str
    reason: str
    mode: str
    incident: str


@dataclass(frozen=True)
class MessageRow:
    """Something told once about an incident: an SNS message, an EventBridge event, a critical alert."""

    at: str
    about: str
    channel: str


@dataclass(frozen=True)
class EndpointStatus:
    """One endpoint: `status` is its EndpointStatus ("missing" when DescribeEndpoint cannot find
    it, `problem` then says what SageMaker answered), `scope` why it is in scope (or why not)."""

    name: str
    status: str
    problem: str | None
    scope: str
    mode: str
    mode_why: str
    policy: PolicyView
    incidents: tuple[IncidentView, ...]
    rollout: RolloutStatus | None
    actions: tuple[ActionRow, ...]
    episodes: tuple[str, ...] = ()  # open paging episodes, one line each (`paging.flapping`)


@dataclass(frozen=True)
class StackStatus:
    name: str
    status: str
    region: str
    at: str
    mode: str
    mode_why: str
    kill_switch: str
    functions: tuple[tuple[str, str, str], ...]  # (unit, function name, schedule)


@dataclass(frozen=True)
class Status:
    """`status`: the stack and every endpoint in scope (`detail`: one endpoint, every incident's timeline)."""

    stack: StackStatus
    endpoints: tuple[EndpointStatus, ...]
    detail: bool = False


@dataclass(frozen=True)
class Explanation:
    """`explain`: one incident's whole story."""

    stack: StackStatus
    incident: IncidentView
    steps: tuple[StepView, ...]
    decisions: tuple[ActionRow, ...]
    messages: tuple[MessageRow, ...]
    rollout: RolloutStatus | None


# --- pure builders --------------------------------------------------------------------------


def short_id(incident_id: str) -> str:
    """The digest part of an incident's id (`<opened ISO time>#<digest>`): how people name it."""
    return incident_id.rsplit("#", 1)[-1]


def note_of(incident: Incident) -> str:
    """The reason of the last decision that did not act (`Telling.note` keeps `result|gate|reason`)."""
    return incident.last_note.split("|", 2)[-1]


def step_view(step: Step) -> StepView:
    return StepView(
        step.number, step.at, step.summary, tuple(c.describe() for c in step.changes), step.done, step.called
    )


def acted_step(decision: Decision) -> StepView | None:
    """A step as its 'acted' decision recorded it (`Telling.step_acted`), None for any other decision."""
    changes = decision.changes
    if decision.result != "acted" or "changes" not in changes or "step" not in changes:
        return None
    described = tuple(change_of(dict(c)).describe() for c in changes["changes"])
    return StepView(int(changes["step"]), decision.at, decision.reason, described, len(described), False)


def incident_view(
    incident: Incident, every: timedelta | None, at: datetime, held: Refused | None = None
) -> IncidentView:
    """Pure: an incident as `status` shows it, at `at`; `every`: its function's schedule rate."""
    is_open = incident.closed_at is None
    return IncidentView(
        id=incident.id,
        short_id=short_id(incident.id),
        endpoint=incident.endpoint,
        action=incident.action,
        alarm_name=incident.alarm_name,
        state=incident.state,
        outcome=outcome_of(incident),
        opened_at=incident.opened_at,
        closed_at=incident.closed_at,
        steps=incident.steps,
        in_flight=None if incident.pending is None else step_view(incident.pending),
        next_evaluation=(at + every).isoformat() if is_open and every is not None else None,
        held=held.reason if is_open and held is not None else None,
        held_until=held.until.isoformat() if is_open and held is not None and held.until is not None else None,
        verify_until=incident.verify_until if incident.state == "verifying" else None,
        note=note_of(incident),
        timeline=tuple(Entry(str(e["at"]), str(e["what"]), str(e.get("detail", ""))) for e in incident.timeline),
    )


def rollout_status(
    view: RolloutView, endpoint: str, steps: Iterable[int], every: timedelta | None, at: datetime, note: str = ""
) -> RolloutStatus:
    """Pure: the report's view of a rollout (`incident_view.rollout_view`) with the step its share
    stands on (`rollout.judge.current_step`) and the judge's last verdict per metric."""
    ladder = tuple(steps)
    step = None
    if view.share is not None and view.share > 0:
        step = 100 if view.share >= 99.5 else current_step(view.share, ladder)
    verdict: Mapping[str, Any] = view.verdict or {}
    metrics = tuple(
        MetricFinding(
            str(m.get("metric", "")),
            str(m.get("finding", "")),
            str(m.get("canary", "")),
            str(m.get("primary", "")),
            str(m.get("estimate", "")),
        )
        for m in verdict.get("metrics", [])
        if isinstance(m, Mapping)
    )
    under_way = view.ended == "under way"
    return RolloutStatus(
        id=view.id,
        short_id=short_id(view.id),
        endpoint=endpoint,
        package=view.package,
        step=step,
        steps=ladder,
        share=view.share,
        share_since=view.share_since,
        state=view.ended,
        started_at=view.started_at,
        ended_at=view.ended_at,
        next_evaluation=(at + every).isoformat() if under_way and every is not None else None,
        verdict=str(verdict["decision"]) if "decision" in verdict else None,
        verdict_at=str(verdict["at"]) if "at" in verdict else None,
        metrics=metrics,
        note=note,
    )


def action_row(decision: Decision) -> ActionRow:
    incident = "-" if decision.incident in ("", "-") else short_id(decision.incident)
    return ActionRow(
        decision.at,
        decision.endpoint,
        decision.action,
        decision.result,
        decision.gate,
        decision.reason,
        decision.mode,
        incident,
    )


def message_row(mark: Mark, incident_id: str) -> MessageRow:
    """A tell-once mark of an incident (`Telling`): `<id>#<what>#sns`, `<id>#<what>#event`, or
    `<id>#<cause>` for a critical alert."""
    rest = mark.key.removeprefix(f"{incident_id}#")
    about, _, channel = rest.rpartition("#")
    if channel in ("sns", "event") and about:
        return MessageRow(mark.at.isoformat(), about, "SNS" if channel == "sns" else "EventBridge")
    return MessageRow(mark.at.isoformat(), rest, "critical alert")


_TAG_OF = {key.variable: PREFIX + key.key for key in KEYS}


def policy_view(tags: Mapping[str, str], policies: Iterable[EndpointPolicy]) -> PolicyView:
    """Pure: the tags an endpoint's functions apply and those they refuse (the union over every
    function's policy, `tags.within_stack`: a bound checked against each function's settings)."""
    refused: dict[tuple[str, str], RefusedTag] = {}
    used: set[str] = set()
    for policy in policies:
        for problem in policy.problems:
            refused.setdefault((problem.endpoint_tag, problem.reason), _refused(problem))
        used |= {_TAG_OF[variable] for variable, _ in policy.values if variable in _TAG_OF}
        used |= {f"{PREFIX}{PIPELINE_PARAMETER}{name}" for name, _ in policy.pipeline_parameters}
    refused_keys = {key for key, _ in refused}
    applied = tuple(Tag(key, tags[key]) for key in sorted(used - refused_keys) if key in tags)
    return PolicyView(applied, tuple(refused.values()))


def _refused(problem: Problem) -> RefusedTag:
    return RefusedTag(problem.endpoint_tag, problem.value, problem.reason)


def last_told(decisions: Iterable[Decision], count: int) -> tuple[ActionRow, ...]:
    """The newest `count` decisions a person was told of, newest first."""
    told = [action_row(d) for d in decisions if d.result in TOLD]
    return tuple(reversed(told[-count:]))
