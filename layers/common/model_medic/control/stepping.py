"""Taking a step, for the control loop: claim and intent, one AWS change at a time, each read back before the next."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from model_medic.control.endings import Endings, minutes
from model_medic.control.parts import Parts
from model_medic.control.step import Step
from model_medic.platform import aws
from model_medic.remediate.units import Change, Observation, Plan
from model_medic.store.claims import Claim
from model_medic.store.incidents import Incident
from model_medic.tell.outcome import Outcome
from model_medic.tell.telling import Alert, Telling


class Stepping:
    """One unit's steps: each made of single changes, carried on across evaluations until done."""

    def __init__(self, parts: Parts, telling: Telling, endings: Endings) -> None:
        self._action = parts.action
        self._unit = parts.unit
        self._window = parts.verify_window
        self._claims = parts.claims
        self._incidents = parts.incidents
        self._sagemaker = parts.sagemaker
        self._budget = parts.budget
        self._clock = parts.clock
        self._telling = telling
        self._endings = endings

    def start(self, incident: Incident, base: Outcome, plan: Plan) -> Outcome:
        """Claim (cool-down, budget) and intent in one transaction, then make the first change."""
        now = self._clock()
        claim = Claim(incident.endpoint, self._unit.name, incident.step_id(), now.strftime("%Y-%m-%dT%H"))
        step = Step(
            number=incident.steps + 1,
            id=claim.holder,
            at=now.isoformat(),
            summary=plan.summary,
            changes=plan.changes,
            hour=claim.hour,
            critical=plan.critical,
        )
        intent = replace(incident, state="acting", pending=step, steps=incident.steps + 1, last_note="")
        items = self._claims.claim_items(claim, self._action.cooldown, self._budget, now)
        try:
            saved = self._incidents.save(intent, items)
        except ClientError as error:
            if aws.error_code(error) != "TransactionCanceledException":
                raise
            reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
            return self._telling.refused(incident, base, self._claims.refusal(claim, self._budget, now, reasons))
        return self.advance(saved, base)

    def advance(self, incident: Incident, base: Outcome, may_change: bool = True) -> Outcome:
        """Carry the step in flight on: call, wait for InService, read back, next change."""
        base = replace(base, critical=incident.in_flight.critical)
        outcome: Outcome | None = None
        if incident.in_flight.started and not incident.in_flight.told:
            # The step's first change was made, but recording it failed: finish that.
            incident, outcome = self._telling.step_acted(incident, base)
        while not (step := incident.in_flight).finished:
            described, problem = aws.describe_endpoint(self._sagemaker, incident.endpoint)
            if problem is not None:
                return self._abandon(incident, base, problem)
            assert described is not None
            seen = self._action.observe(incident.endpoint, step.current, described, step.result)
            if seen.stops:
                return self._person_stops(incident, base, seen)
            if not step.called:
                made = self._make(incident, base, described, seen, may_change)
                if isinstance(made, Outcome):
                    return made
                incident, seen, outcome = made[0], made[1], made[2] or outcome
            step = incident.in_flight
            change = step.current
            if seen.seen == "in-flight":
                waiting = self._telling.rest(
                    replace(incident, state="waiting"),
                    replace(base, gate="waiting", reason=f"{change.describe()}: {seen.detail}"),
                )
                return outcome or waiting
            if seen.seen in ("failed", "not-applied"):
                return self._endings.failed(incident, base, change, seen.detail)
            step = step.took()
            facts = {**(incident.facts or {}), **change.settled(self._clock())}
            took = incident.at(
                "in-service", self._clock(), f"{change.describe()}: {seen.detail}", pending=step, facts=facts
            )
            incident = self._people(took, base, seen) if seen.person else self._incidents.persist(took)
        return self._done(incident, base, outcome)

    def _people(self, incident: Incident, base: Outcome, seen: Observation) -> Incident:
        """A change taken with a person's own on top (a higher floor): their change on the
        incident's timeline and in a decision of its own, told once at info level - nothing
        failed; what they set is theirs (docs/rooms/control.md, "People win")."""
        step = incident.in_flight  # the change just taken is its `done`-th
        alert = Alert(
            f"operator-change#{step.number}#{step.done}",
            f"Model Medic: a person's change on {incident.endpoint} is kept",
            f"{seen.person} ({self._unit.name} for {incident.alarm_name}, incident {incident.id})",
            kind="inform",
        )
        kept = replace(base, gate="operator-change", reason=seen.person)
        return self._telling.told(incident.at("operator-change", self._clock(), seen.person), kept, alert=alert)

    def _person_stops(self, incident: Incident, base: Outcome, seen: Observation) -> Outcome:
        """A person's value in place of the one asked (a weight, a config): theirs, recorded, and the
        rollout stopped as it stands in the same write (docs/rooms/control.md, "People win")."""
        base = replace(base, critical=False)  # nothing failed, whatever the step was
        why = f"{seen.person}; the rollout stops and leaves it as they set it"
        theirs = incident.at("operator-change", self._clock(), seen.person)
        kept = replace(base, gate="operator-change", reason=seen.person)
        return self._endings.as_it_stands(theirs, base, Plan(why, gate="operator-change", ends="stopped"), kept)

    def _make(
        self, incident: Incident, base: Outcome, described: dict[str, Any], seen: Observation, may_change: bool
    ) -> tuple[Incident, Observation, Outcome | None] | Outcome:
        """The step's current change, not called yet: adopted when AWS shows it made, else made
        (in enforce, on an InService endpoint). Gives the incident and what AWS then shows, or
        the outcome that stops the step here."""
        step = incident.in_flight
        change = step.current
        adopted = seen.seen in ("in-flight", "took")
        if adopted:
            # The call went through before; its answer or its record was lost. Adopt the
            # change as made (record, tell), do not repeat it - nor make it over a person's own
            # (a higher floor than asked), which is theirs, not ours to give back.
            if not seen.person:
                self._action.adopt(incident.endpoint, change, incident)
            result: dict[str, Any] = {"adopted": seen.detail}
        elif self._unit.requires == "InService" and described.get("EndpointStatus") != "InService":
            return self._telling.rest(
                replace(incident, state="waiting"),
                replace(
                    base,
                    gate="waiting",
                    reason=f"endpoint {incident.endpoint} is {described.get('EndpointStatus')}; "
                    f"{change.describe()} waits for InService",
                ),
            )
        elif not may_change:
            return self._stop(incident, base, change)
        else:
            try:
                result = self._action.execute(incident.endpoint, change, incident)
            except ClientError as error:
                if aws.is_transient(error):
                    raise
                if _is_busy(error):  # another change got there first: wait for it
                    waiting = replace(base, gate="waiting", reason=str(error))
                    return self._telling.rest(replace(incident, state="waiting"), waiting)
                return self._abandon(incident, base, f"{aws.error_code(error)}: {error}")
        called = incident.at("action", self._clock(), change.describe(), state="waiting", pending=step.called_(result))
        outcome = None
        if step.done == 0 and not step.told:
            # The step's 'acted' decision, recorded and told with the incident that remembers the call.
            incident, outcome = self._telling.step_acted(called, base)
        else:
            incident = self._incidents.persist(called)
        if not adopted:
            after, _ = aws.describe_endpoint(self._sagemaker, incident.endpoint)
            seen = self._action.observe(incident.endpoint, change, after or {}, result)
        return incident, seen, outcome

    def _stop(self, incident: Incident, base: Outcome, change: Change) -> Outcome:
        """The alarm cleared, or automation was switched off or to dry-run, in the middle of a step:
        make no more changes."""
        cause = "the alarm cleared" if incident.alarm_ok_at is not None else f"automation is {base.mode}"
        why = f"{cause}: {change.describe()} and the rest of the step are not made"
        stopped = incident.at("stopped", self._clock(), why, pending=None, state="acting")
        if stopped.alarm_ok_at is not None:
            return self._endings.close(stopped, datetime.fromisoformat(stopped.alarm_ok_at), "the alarm returned to OK")
        return self._telling.rest(stopped, replace(base, gate="mode", reason=why))

    def _done(self, incident: Incident, base: Outcome, outcome: Outcome | None) -> Outcome:
        """Every change of the step took: verify the unit's effect (or, a rollout, judge again)."""
        step = incident.in_flight
        now = self._clock()
        if self._unit.effect == "next-step":
            return self._next(incident, base, step, outcome)
        if self._unit.effect == "pipeline-succeeded":
            # Retraining is verified by its pipeline: success is the effect it promised.
            over = {"pending": None, "state": "recovered", "recovered_seconds": incident.age(now)}
            done = incident.at("recovered", now, "retraining pipeline succeeded", **over)
            recovered = replace(
                base,
                result="recovered",
                reason=f"{step.summary}: the pipeline succeeded",
                changes={"results": list(step.results)},
            )
            self._telling.told(done, recovered, f"{incident.id}#recovered")
            return outcome or recovered
        if incident.alarm_ok_at is not None:
            cleared = datetime.fromisoformat(incident.alarm_ok_at)
            closed = self._endings.close(replace(incident, pending=None), cleared, "the alarm returned to OK")
            return outcome or closed
        verify_until = now + self._window
        people = "".join(
            f"; {e['detail']}" for e in incident.timeline if e["what"] == "operator-change" and e["at"] >= step.at
        )
        verifying = self._telling.rest(
            replace(incident, pending=None, state="verifying", verify_until=verify_until.isoformat()),
            replace(
                base,
                gate="verifying",
                reason=f"{step.summary} is InService{people}; the alarm must clear by {verify_until.isoformat()}",
            ),
        )
        return outcome or verifying

    def _next(self, incident: Incident, base: Outcome, step: Step, outcome: Outcome | None) -> Outcome:
        """A rollout's step is InService: judged again on the next evaluation, or, when one of its
        changes ends the rollout, the incident closes (complete: recovered; rolled back: escalated,
        the critical 'acted' message having told people already)."""
        now = self._clock()
        ends = step.ends
        # The step's end is its own decision only when people heard it was waiting; a step that
        # took at once was told by its 'acted' decision (made in this evaluation or, before a retry,
        # in an earlier one: the same either way).
        waited = incident.last_note.startswith("skipped|waiting|")
        if ends is None:
            judged = replace(incident, pending=None, state="acting", last_note="")
            in_service = replace(base, gate="in-service", reason=f"{step.summary} is InService")
            if waited:
                return outcome or self._telling.rest(judged, in_service)
            self._incidents.persist(judged)
            return outcome or replace(in_service, replayed=True)
        seconds = incident.age(now)
        if ends == "complete":
            over = {"pending": None, "state": "recovered", "recovered_seconds": seconds, "closed_at": now.isoformat()}
            done = incident.at("recovered", now, f"{step.summary}: the rollout is complete", **over)
            finished = replace(
                base,
                result="recovered",
                reason=f"rollout complete {minutes(seconds)} after it began: {step.summary}",
                changes={"time_to_complete_seconds": seconds, "steps": incident.steps, "facts": incident.facts},
            )
            self._telling.told(done, finished, f"{incident.id}#recovered")
            return outcome or finished
        done = incident.at(
            "closed", now, f"{step.summary}: {ends}", pending=None, state="escalated", closed_at=now.isoformat()
        )
        ended = replace(base, gate="closed", reason=f"rollout ended ({ends}): {step.summary}")
        if waited:
            self._telling.told(done, ended)
            return outcome or ended
        self._incidents.persist(done)
        return outcome or replace(ended, replayed=True)

    def _abandon(self, incident: Incident, base: Outcome, problem: str) -> Outcome:
        """A permanent AWS answer in the middle of a step: give the claim back, tell once."""
        step = incident.pending
        if step is not None and not step.started:
            claim = Claim(incident.endpoint, self._unit.name, step.id, step.hour)
            self._claims.release(claim)
            incident = replace(incident, steps=max(0, incident.steps - 1))
        return self._endings.permanent(replace(incident, pending=None, state="acting"), base, problem)


def _is_busy(error: ClientError) -> bool:
    """SageMaker's 'the endpoint is being updated' answer: wait and look again, not a permanent error."""
    message = str(error.response.get("Error", {}).get("Message", ""))
    return "in-progress" in message or "Updating" in message or "in progress" in message
