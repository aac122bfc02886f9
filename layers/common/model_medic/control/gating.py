"""The gates of the control loop: an open incident evaluated, from its state and mode to the plan and the step."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from botocore.exceptions import ClientError

from model_medic.control.endings import Endings
from model_medic.control.parts import Parts
from model_medic.control.rehearsal import Rehearsal
from model_medic.control.stepping import Stepping
from model_medic.platform import aws
from model_medic.platform.observability import metrics
from model_medic.remediate.units import Plan
from model_medic.store.incidents import Conflict, Incident
from model_medic.tell.outcome import Outcome
from model_medic.tell.telling import Telling

# After this many conflicting evaluations in a row, leave the incident to the other one.
_CONFLICT_RETRIES = 3


class Gating:
    """One unit's incidents, evaluated: what stops here is noted; what passes takes a step."""

    def __init__(self, parts: Parts, telling: Telling, endings: Endings, stepping: Stepping) -> None:
        self._action = parts.action
        self._unit = parts.unit
        self._claims = parts.claims
        self._incidents = parts.incidents
        self._mode = parts.mode
        self._sagemaker = parts.sagemaker
        self._budget = parts.budget
        self._clock = parts.clock
        self._request_id = parts.request_id
        self._telling = telling
        self._endings = endings
        self._stepping = stepping
        self._rehearsal = Rehearsal(parts, telling)

    def evaluate(self, incident: Incident, alarm_reason: str) -> Outcome:
        """Evaluate the incident through the gates; on a conflict, read it again and retry."""
        for _ in range(_CONFLICT_RETRIES):
            try:
                return self._evaluate_once(incident, alarm_reason)
            except Conflict:
                metrics.add_metric(name="IncidentConflicts", unit="Count", value=1)
                reread = self._incidents.get(incident.endpoint, incident.id)
                if reread is None:
                    break
                incident = reread
        base = self._telling.base_of(incident)
        return replace(base, gate="once", reason="another evaluation is handling this incident", replayed=True)

    def _evaluate_once(self, incident: Incident, alarm_reason: str) -> Outcome:
        """One pass through the gates, in their order; the first that stops the incident decides."""
        base = self._telling.base_of(incident)
        settled = settled_gate(incident)
        if settled is not None:
            return replace(base, gate=settled[0], reason=settled[1], replayed=True)
        if incident.pending is None and self._request_id and incident.evaluated_by == self._request_id:
            # Lambda retries an invocation with its request id: what it evaluated to a rest is not
            # evaluated again (its letters are sent by the drain); a step in flight is carried on.
            return replace(base, gate="once", reason="evaluated by this invocation before its retry", replayed=True)
        incident = replace(incident, evaluated_by=self._request_id)
        mode, source = self._mode.current(incident.endpoint)
        base = replace(base, mode=mode)
        if incident.pending is not None:
            # A step under way is followed (read back) in every mode, but only enforce makes
            # its next change, and only while the alarm lasts: off, dry-run and an OK stop it.
            return self._stepping.advance(incident, base, may_change=mode == "enforce" and incident.alarm_ok_at is None)
        if incident.alarm_ok_at is not None:  # closing is bookkeeping: in every mode
            return self._endings.close(
                incident, datetime.fromisoformat(incident.alarm_ok_at), "the alarm returned to OK"
            )
        if mode == "off":
            return self._telling.note(incident, replace(base, gate="mode", reason=f"automation is off ({source})"))
        if mode == "enforce" and incident.shadow is not None:
            incident = self._unshadowed(incident, source)
        if mode == "dry-run" and (rehearsed := self._rehearsal.settled(incident, base)) is not None:
            return rehearsed
        plan = self._plan(incident, base)
        if isinstance(plan, Outcome):
            return plan
        return self._act(incident, base, plan, alarm_reason)

    def _act(self, incident: Incident, base: Outcome, plan: Plan, alarm_reason: str) -> Outcome:
        """The plan's skip noted, its bound escalated, its end (as it stands) told, in dry-run
        recorded, else its step taken."""
        if plan.skip is not None:
            return self._telling.note(
                incident,
                replace(base, gate=plan.gate, reason=plan.skip, changes=plan.notes),
                critical=plan.critical,
                facts=plan.facts,
            )
        if plan.bound is not None:
            if base.mode == "dry-run" and incident.shadow is not None:
                return self._rehearsal.bounded(incident, base, plan, alarm_reason)
            return self._endings.bounded(incident, base, plan, alarm_reason)
        if plan.ends is not None:
            return self._endings.as_it_stands(incident, base, plan)
        if base.mode == "dry-run":
            return self._rehearsal.step(incident, base, plan)
        return self._stepping.start(incident, base, plan)

    def _plan(self, incident: Incident, base: Outcome) -> Plan | Outcome:
        """The endpoint read and the unit's plan made, or the outcome of the gate that stops it
        first (the endpoint is gone, not InService, or AWS refuses what the plan reads)."""
        described, problem = aws.describe_endpoint(self._sagemaker, incident.endpoint)
        if problem is not None:
            return self._endings.permanent(incident, base, problem)
        assert described is not None
        status = str(described.get("EndpointStatus", "exists"))
        if self._unit.requires == "InService" and status != "InService":
            return self._telling.note(
                incident,
                replace(base, gate="precondition", reason=f"endpoint {incident.endpoint} is {status}, not InService"),
            )
        taken = self._rehearsal.taken(incident) if base.mode == "dry-run" else incident.steps
        if self._unit.max_steps is not None and taken >= self._unit.max_steps:
            would = " (counting the dry run's would-be steps)" if taken > incident.steps else ""
            return Plan("", bound=f"{self._unit.name} already acted {taken} time(s) in this incident{would}")
        try:
            return self._action.plan(incident, described)
        except ClientError as error:
            if aws.is_transient(error):
                raise
            return self._endings.permanent(incident, base, f"{aws.error_code(error)}: {error}")

    def _unshadowed(self, incident: Incident, source: str) -> Incident:
        """Enforce takes over a dry run: its next step is planned from the endpoint as it is,
        the shadow (what the dry run would have changed) dropped."""
        assert incident.shadow is not None
        why = (
            f"automation is enforce ({source}): planned from the endpoint as it is; "
            f"the dry run's {incident.shadow.steps} would-be step(s) were never made"
        )
        return incident.at("enforce", self._clock(), why, shadow=None)

    def cleared(self, incident: Incident, at: datetime, why: str) -> Outcome:
        """The incident's alarm is over; a change still in flight is followed to its end first."""
        if incident.pending is None or incident.state == "escalated":
            return self._endings.close(incident, at, why)
        if incident.alarm_ok_at is None:
            try:
                incident = self._incidents.save(incident.at("alarm-ok", at, why, alarm_ok_at=at.isoformat()))
            except Conflict:
                return replace(self._telling.base_of(incident), gate="once", reason="another evaluation", replayed=True)
        return self.evaluate(incident, why)


def settled_gate(incident: Incident) -> tuple[str, str] | None:
    """The gate of an incident that nothing is repeated for (closed, escalated, recovered), and why."""
    if incident.is_closed:
        return "closed", f"incident closed at {incident.closed_at}"
    if incident.state in ("escalated", "recovered"):
        return incident.state, f"incident is {incident.state}; nothing is repeated"
    return None
