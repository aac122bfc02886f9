"""Recording decisions and telling people, for the control loop: once per key, however often it runs."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from model_medic.control.parts import Parts
from model_medic.control.step import Step
from model_medic.platform import aws
from model_medic.platform.observability import logger, metrics
from model_medic.store.claims import Refused
from model_medic.store.incidents import Conflict, Incident
from model_medic.tell.outcome import Outcome


class Telling:
    """One unit's decision records, messages and events."""

    def __init__(self, parts: Parts) -> None:
        self._action = parts.unit.name
        self._journal = parts.journal
        self._incidents = parts.incidents
        self._notifier = parts.notifier
        self._clock = parts.clock
        self._request_id = parts.request_id

    def base(self, endpoint: str, alarm_name: str, alarm_arn: str, transition: str, state: str) -> Outcome:
        """A decision not made yet: skipped, for no reason so far."""
        return Outcome(
            action=self._action,
            endpoint=endpoint,
            result="skipped",
            reason="",
            mode="",
            alarm_name=alarm_name,
            alarm_arn=alarm_arn,
            transition=transition,
            state=state,
            at=self._clock().isoformat(),
        )

    def base_of(self, incident: Incident) -> Outcome:
        return replace(
            self.base(incident.endpoint, incident.alarm_name, incident.alarm_arn, incident.id, "ALARM"),
            incident=incident.id,
        )

    def note(
        self, incident: Incident, outcome: Outcome, critical: bool = False, facts: dict[str, Any] | None = None
    ) -> Outcome:
        """Record a decision that did not act - once while it stays the same, not every sweep.
        `facts`: what the incident remembers of it (a rollout's last verdict)."""
        note = f"{outcome.result}|{outcome.gate}|{outcome.reason}"
        if note == incident.last_note:
            return replace(outcome, replayed=True)
        remembered = {**(incident.facts or {}), **facts} if facts else incident.facts
        try:
            noted = self._incidents.save(replace(incident, last_note=note, facts=remembered))
        except Conflict:
            return replace(outcome, replayed=True)
        try:
            self.decided(outcome)
        except Exception:
            # Not told: forget the note, so that the retry records and tells it.
            self._incidents.persist(replace(noted, last_note=incident.last_note))
            raise
        if critical:
            subject = f"Model Medic: {self._action} on {incident.endpoint}"
            self.alert_once(incident, outcome.gate, subject, outcome.reason)
        return outcome

    def refused(self, incident: Incident, base: Outcome, refused: Refused) -> Outcome:
        """A cool-down or budget refusal is looked at again when it can clear, never final."""
        when = f"; looked at again from {refused.until.isoformat()}" if refused.until else ""
        outcome = replace(base, gate=refused.gate, reason=refused.reason + when)
        if refused.gate == "budget":
            # Automation is churning: a person hears of it, once per incident.
            self.note(incident, outcome)
            self.alert_once(incident, "budget", f"Model Medic budget spent on {incident.endpoint}", outcome.reason)
            return outcome
        return self.note(incident, outcome)

    def decided(self, outcome: Outcome, record: bool = True) -> Outcome:
        """A decision recorded and told as it is, every time (the caller keeps it from repeating)."""
        if record:
            self.record(outcome)
            self._notifier.tell(outcome)
        return outcome

    def record(self, outcome: Outcome, key: str | None = None) -> None:
        """A decision into the ledger, a metric and a structured log line."""
        self._journal.record(outcome, self._request_id, key)
        metrics.add_metric(name=f"Outcome_{outcome.result}", unit="Count", value=1)
        logger.info(
            "decision",
            action=outcome.action,
            endpoint=outcome.endpoint,
            result=outcome.result,
            gate=outcome.gate,
            reason=outcome.reason,
            mode=outcome.mode,
            incident=outcome.incident,
        )

    def step_acted(self, base: Outcome, step: Step) -> Outcome:
        """The step's 'acted' decision, recorded and told once (its key: the step's id)."""
        outcome = replace(
            base,
            result="acted",
            reason=step.summary,
            at=step.at,
            changes={
                "changes": [change.as_dict() for change in step.changes],
                "results": list(step.results),
                "step": step.number,
            },
        )
        return self.acted_once(outcome, step.id)

    def acted_once(self, outcome: Outcome, key: str) -> Outcome:
        """An 'acted' decision recorded, then told once per key."""
        aws.persist(lambda: self.record(outcome, key=key))
        self.tell_once(outcome, key)
        return outcome

    def tell_once(self, outcome: Outcome, key: str) -> None:
        """One SNS message and one EventBridge event per key, however often this runs."""
        if outcome.result not in ("acted",):
            aws.persist(lambda: self.record(outcome, key=key))
        if self._journal.mark(outcome.endpoint, f"{key}#sns", self._clock()):
            try:
                if outcome.announced:
                    self._notifier.publish(outcome)
            except Exception:
                aws.persist(lambda: self._journal.unmark(outcome.endpoint, f"{key}#sns"))
                raise
        if self._journal.mark(outcome.endpoint, f"{key}#event", self._clock()):
            try:
                self._notifier.put_event(outcome)
            except Exception:
                aws.persist(lambda: self._journal.unmark(outcome.endpoint, f"{key}#event"))
                raise

    def alert_once(self, incident: Incident, cause: str, subject: str, text: str) -> None:
        """A critical message, once per incident and cause."""
        if self._journal.mark(incident.endpoint, f"{incident.id}#{cause}", self._clock()):
            self._notifier.alert(subject, text)
