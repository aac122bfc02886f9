"""How an incident ends, for the control loop: closed, recovered, escalated, failed, stopped by AWS, or as it stands."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from model_medic.control.parts import Parts
from model_medic.remediate.units import Change, Plan
from model_medic.store.incidents import Conflict, Incident, IncidentState
from model_medic.tell.outcome import Outcome, Result
from model_medic.tell.paging import Standing
from model_medic.tell.telling import Alert, Telling, noted


class Endings:
    """One unit's incidents brought to their end, each told once."""

    def __init__(self, parts: Parts, telling: Telling) -> None:
        self._unit = parts.unit
        self._telling = telling
        self._clock = parts.clock

    def close(self, incident: Incident, at: datetime, why: str) -> Outcome:
        """The alarm is over: recovered, when the unit acted and it helped; closed otherwise."""
        base = self._telling.base_of(incident)
        closed, outcome = closing(incident, at, why, self._unit.name, base)
        key = f"{incident.id}#recovered" if outcome.result == "recovered" else None
        try:
            self._telling.told(closed, outcome, key, closing=True)
        except Conflict:
            return replace(base, gate="once", reason="the incident was closed by another evaluation", replayed=True)
        return outcome

    def bounded(self, incident: Incident, base: Outcome, plan: Plan, alarm_reason: str) -> Outcome:
        """The unit can do no more: wait out the verification window, then escalate once."""
        now = self._clock()
        if (
            incident.steps > 0
            and incident.verify_until is not None
            and now < datetime.fromisoformat(incident.verify_until)
        ):
            return self._telling.note(
                incident,
                replace(base, gate="verifying", reason=f"{plan.bound}; verifying until {incident.verify_until}"),
            )
        result, why, tried = escalation(incident, plan, self._unit.effect == "next-step")
        escalated = replace(
            base,
            result=result,
            gate="bound",
            reason=why,
            changes={
                "tried": tried,
                "metric_when_opened": incident.opened_reason,
                "metric_now": alarm_reason,
                **plan.notes,
            },
        )
        rollout = self._unit.effect == "next-step"
        ended = now.isoformat() if rollout else None  # a stopped rollout is over
        # An alarm's bound is a standing condition: paged once per episode, however often the
        # alarm flaps; an escalation (something was tried) is news and pages every time.
        standing = None if rollout else Standing("bound", incident.alarm_name, always=result == "escalated")
        self._telling.told(
            incident.at("escalated", now, why, state="escalated", last_note="", closed_at=ended),
            escalated,
            f"{incident.id}#escalated",
            standing=standing,
        )
        return escalated

    def as_it_stands(self, incident: Incident, base: Outcome, plan: Plan, noting: Outcome | None = None) -> Outcome:
        """The incident over with nothing to change (`Plan.ends`: a rollout whose endpoint was
        changed outside Model Medic): complete (recovered) or stopped, told once at info level -
        nothing failed, so nobody is paged. `noting`: a decision recorded in the same write (a
        person's change that stopped the rollout)."""
        now = self._clock()
        over = {"pending": None, "last_note": "", "closed_at": now.isoformat()}
        if plan.ends == "complete":
            seconds = incident.age(now)
            ended = incident.at("recovered", now, plan.summary, state="recovered", recovered_seconds=seconds, **over)
            result: Result = "recovered"
            changes: dict[str, Any] = {"time_to_complete_seconds": seconds, "steps": incident.steps}
        else:
            ended = incident.at("stopped", now, plan.summary, state="closed", **over)
            result, changes = "stopped", {"steps": incident.steps}
        told = replace(base, result=result, gate=plan.gate, reason=plan.summary, changes=changes)
        self._telling.told(ended, told, f"{incident.id}#{result}", noting=noting)
        return told

    def failed(self, incident: Incident, base: Outcome, change: Change, detail: str) -> Outcome:
        """A change read back as failed or never applied: escalated, told once."""
        now = self._clock()
        why = f"{change.describe()} did not take: {detail}"
        failed = replace(base, result="failed", gate="verify", reason=why)
        self._telling.told(
            incident.at("failed", now, why, state="escalated", pending=None), failed, f"{incident.id}#failed"
        )
        return failed

    def permanent(self, incident: Incident, base: Outcome, problem: str) -> Outcome:
        """Recorded, told once, and not tried again in this incident (nor retried into the DLQ)."""
        skipped = replace(base, gate="permanent-error", reason=problem)
        alert = Alert(
            "permanent",
            f"Model Medic cannot {self._unit.name} {incident.endpoint}",
            f"{self._unit.name} for {incident.alarm_name} on {incident.endpoint} was not done and will not be "
            f"retried in this incident: AWS answered {problem}",
        )
        escalated = incident.at("failed", self._clock(), problem, state="escalated", last_note=noted(skipped))
        self._telling.told(escalated, skipped, alert=alert)
        return skipped


def minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min"


def closing(incident: Incident, at: datetime, why: str, unit: str, base: Outcome) -> tuple[Incident, Outcome]:
    """The incident closed at `at`, and its outcome: recovered when the unit acted (and did not
    escalate), closed otherwise; an incident recovered before stays recovered."""
    acted = incident.steps > 0 and incident.state != "escalated"
    seconds = incident.age(at)
    if acted and incident.state != "recovered":
        closed = incident.at(
            "recovered", at, why, state="recovered", recovered_seconds=seconds, closed_at=at.isoformat()
        )
        return closed, replace(
            base,
            result="recovered",
            reason=f"{incident.alarm_name} recovered {minutes(seconds)} after it fired, "
            f"after {incident.steps} {unit} step(s): {why}",
            changes={"time_to_recover_seconds": seconds, "steps": incident.steps},
        )
    state: IncidentState = "closed" if incident.state != "recovered" else "recovered"
    closed = incident.at("closed", at, why, state=state, closed_at=at.isoformat())
    return closed, replace(base, gate="closed", reason=f"incident closed: {why}")


def escalation(incident: Incident, plan: Plan, stops_a_rollout: bool) -> tuple[Result, str, list[str]]:
    """How an incident at its unit's bound is reported: bound-reached when nothing was changed
    (stopped, for a rollout never deployed), escalated otherwise, with what was tried."""
    tried = [e["detail"] for e in incident.timeline if e["what"] == "action"]
    if incident.steps == 0:
        # A rollout stopped before its first step never deployed: the endpoint serves as it did,
        # nothing to page about (told at info level, docs/rooms/tell.md).
        return ("stopped" if stops_a_rollout else "bound-reached"), f"{plan.bound}; nothing was changed", tried
    if stops_a_rollout:
        return "escalated", f"stopped after {'; '.join(tried)}: {plan.bound}", tried
    return "escalated", f"{incident.alarm_name} is still in ALARM after {'; '.join(tried)}: {plan.bound}", tried
