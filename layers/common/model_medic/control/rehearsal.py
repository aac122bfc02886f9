"""Dry run, for the control loop: the incident walked as enforce would walk it, on a shadow of the endpoint."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from model_medic.control.parts import Parts
from model_medic.remediate.units import Change, Plan
from model_medic.store.claims import MIN_LOCK, Refused, hour_of
from model_medic.store.incidents import Incident, Shadow
from model_medic.tell.outcome import Outcome
from model_medic.tell.telling import Telling


class Rehearsal:
    """One unit's dry runs (docs/rooms/control.md, "Dry run"): each step enforce would take, when it
    would take it, and its escalation at the bound, recorded as dry-run decisions on the incident's
    shadow (`Shadow`) - never made, never claiming the cool-down or the hour's budget."""

    def __init__(self, parts: Parts, telling: Telling) -> None:
        self._action = parts.action
        self._unit = parts.unit
        self._window = parts.verify_window
        self._claims = parts.claims
        self._budget = parts.budget
        self._clock = parts.clock
        self._telling = telling

    @property
    def walks(self) -> bool:
        """Whether the unit's incident is walked step by step: a unit verified by its alarm. A
        rollout's next step and a pipeline's verdict depend on what the step changed, which a dry
        run cannot see: those record their first would-be step once."""
        return self._unit.effect == "alarm-ok"

    def taken(self, incident: Incident) -> int:
        """The steps enforce would have taken by now: the real ones and the would-be ones."""
        return incident.steps + (0 if incident.shadow is None else incident.shadow.steps)

    def settled(self, incident: Incident, base: Outcome) -> Outcome | None:
        """A dry run that would have escalated does nothing more (until the alarm clears, or
        enforce takes over from the endpoint as it is)."""
        shadow = incident.shadow
        if shadow is None or shadow.escalated_at is None:
            return None
        why = f"would have escalated at {shadow.escalated_at}; nothing more in dry-run"
        return replace(base, result="dry-run", gate="bound", reason=why, replayed=True)

    def step(self, incident: Incident, base: Outcome, plan: Plan) -> Outcome:
        """The step enforce would take now, recorded on the shadow - unless the cool-down or the
        budget would stop enforce here (a skip, as enforce records it)."""
        now = self._clock()
        held = self._held(incident, now)
        if held is not None:
            when = f"; looked at again from {held.until.isoformat()}" if held.until else ""
            return self._telling.note(incident, replace(base, gate=held.gate, reason=held.reason + when))
        if not self.walks:
            return self._telling.note(
                incident, replace(base, result="dry-run", reason=plan.summary, changes=_changes(plan.changes))
            )
        number = self.taken(incident) + 1
        verify_until = (now + self._window).isoformat()
        shadow = incident.shadow or Shadow()
        walked = replace(
            shadow,
            steps=shadow.steps + 1,
            changes=(*shadow.changes, *(change.as_dict() for change in plan.changes)),
            at=now.isoformat(),
            hours=(*shadow.hours, hour_of(now)),
            verify_until=verify_until,
        )
        self._action.rehearse(incident.endpoint, plan.changes, incident)
        outcome = replace(
            base,
            result="dry-run",
            reason=plan.summary,
            changes={**_changes(plan.changes), "step": number, "verify_until": verify_until},
        )
        stepped = incident.at("dry-run", now, f"step {number}: {plan.summary}", shadow=walked, last_note="")
        self._telling.told(stepped, outcome, f"{incident.id}#dry-run-step-{number}")
        return outcome

    def bounded(self, incident: Incident, base: Outcome, plan: Plan, alarm_reason: str) -> Outcome:
        """The shadow at the unit's bound: the last would-be step's verification window waited
        out, then the escalation enforce would make, told once as a dry-run decision."""
        shadow = incident.shadow
        assert shadow is not None
        now = self._clock()
        if shadow.verify_until is not None and now < datetime.fromisoformat(shadow.verify_until):
            why = f"{plan.bound}; verifying the dry run's step until {shadow.verify_until}"
            return self._telling.note(incident, replace(base, gate="verifying", reason=why))
        tried = [e["detail"] for e in incident.timeline if e["what"] == "action"]
        tried += [change.describe() for change in shadow.made()]
        why = f"would have escalated: {incident.alarm_name} is still in ALARM after {'; '.join(tried)}: {plan.bound}"
        outcome = replace(
            base,
            result="dry-run",
            gate="bound",
            reason=why,
            changes={
                "tried": tried,
                "steps": self.taken(incident),
                "metric_when_opened": incident.opened_reason,
                "metric_now": alarm_reason,
                **plan.notes,
            },
        )
        escalated = incident.at("dry-run", now, why, shadow=replace(shadow, escalated_at=now.isoformat()), last_note="")
        self._telling.told(escalated, outcome, f"{incident.id}#dry-run-escalated")
        return outcome

    def _held(self, incident: Incident, now: datetime) -> Refused | None:
        """What would stop enforce's step now: the cool-down after the last would-be step, a real
        cool-down lock, or the hour's budget counted with the would-be steps of this hour."""
        shadow = incident.shadow
        if shadow is not None and shadow.at:
            until = datetime.fromisoformat(shadow.at) + max(self._action.cooldown, MIN_LOCK)
            if now < until:
                return Refused("cooldown", f"{self._unit.name} would be cooling down until {until.isoformat()}", until)
        mine = 0 if shadow is None else shadow.in_hour(hour_of(now))
        cap = None if self._budget is None else self._budget - mine
        refused = self._claims.check(incident.endpoint, self._unit.name, cap, now)
        if refused is None or refused.gate == "cooldown":
            return refused
        return Refused(
            "budget",
            f"enforce would have been stopped here by the hourly budget of {self._budget} actions for "
            f"{incident.endpoint} ({mine} of them taken by this dry run)",
            refused.until,
        )


def _changes(changes: tuple[Change, ...]) -> dict[str, Any]:
    return {"changes": [c.as_dict() for c in changes]}
