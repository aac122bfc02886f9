"""Taking a step for the control loop, one AWS change at a time, each read back; the dry run; how an incident ends."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from model_medic.platform import aws
from model_medic.remediate.units import Change, Observation, Plan, just_called
from model_medic.store.claims import MIN_LOCK, Claim, Refused, hour_of
from model_medic.store.incidents import Conflict, Incident, IncidentState, Shadow, Step
from model_medic.tell.outcome import Outcome, Result
from model_medic.tell.telling import Alert, Standing, Telling, noted

if TYPE_CHECKING:
    from model_medic.control.loop import Parts


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
            # A throttle, or a transaction cancelled by a concurrent one on the shared budget item
            # (TransactionConflict), is tried again in place: it says nothing about the claim.
            saved = aws.persist(partial(self._incidents.save, intent, items))
        except ClientError as error:
            if aws.error_code(error) != "TransactionCanceledException" or aws.is_transient(error):
                raise
            reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
            return self._telling.refused(incident, base, self._claims.refusal(claim, self._budget, now, reasons))
        return self.advance(saved, base)

    def advance(self, incident: Incident, base: Outcome, may_change: bool = True) -> Outcome:
        """Carry the step in flight on: call, wait for InService, read back, next change."""
        step = incident.in_flight
        base = replace(base, critical=step.critical)
        outcome: Outcome | None = None
        if step.started and not step.told:
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
            now = self._clock()
            facts = {**(incident.facts or {}), **change.settled(now)}
            took = incident.at(
                "in-service", now, f"{change.describe()}: {seen.detail}", pending=step.took(), facts=facts
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
                # Another change got there first: wait for it and look again (before the
                # transient check: a busy answer rests the step rather than failing the invocation).
                if aws.is_busy(error):
                    waiting = replace(base, gate="waiting", reason=str(error))
                    return self._telling.rest(replace(incident, state="waiting"), waiting)
                if aws.is_transient(error):
                    raise
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
            seen = just_called(self._action.observe(incident.endpoint, change, after or {}, result))
        return incident, seen, outcome

    def _stop(self, incident: Incident, base: Outcome, change: Change) -> Outcome:
        """The alarm cleared, or automation was switched off or to dry-run, in the middle of a step:
        make no more changes."""
        cause = "the alarm cleared" if incident.alarm_ok_at is not None else f"automation is {base.mode}"
        why = f"{cause}: {change.describe()} and the rest of the step are not made"
        stopped = self._dropped(incident).at("stopped", self._clock(), why, state="acting")
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
            return outcome or self._endings.retrained(incident, base, step)
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
        # Stopped (a person changed what the rollout was changing): closed as theirs, as `as_it_stands` does.
        state = "closed" if ends == "stopped" else "escalated"
        done = incident.at(
            "closed", now, f"{step.summary}: {ends}", pending=None, state=state, closed_at=now.isoformat()
        )
        ended = replace(base, gate="closed", reason=f"rollout ended ({ends}): {step.summary}")
        if waited:
            self._telling.told(done, ended)
            return outcome or ended
        self._incidents.persist(done)
        return outcome or replace(ended, replayed=True)

    def _abandon(self, incident: Incident, base: Outcome, problem: str) -> Outcome:
        """A permanent AWS answer in the middle of a step: give the claim back, tell once."""
        return self._endings.permanent(replace(self._dropped(incident), state="acting"), base, problem)

    def _dropped(self, incident: Incident) -> Incident:
        """The incident without its step in flight. A step none of whose changes was made is no
        step taken: its claim (cool-down, the hour's budget) is given back and it is not counted
        (`Incident.steps` counts the steps that changed something: the bound, the escalation's
        "nothing was changed" and the close's recovery read it)."""
        step = incident.pending
        if step is not None and not step.started:
            claim = Claim(incident.endpoint, self._unit.name, step.id, step.hour)
            self._claims.release(claim)
            incident = replace(incident, steps=max(0, incident.steps - 1))
        return replace(incident, pending=None)


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

    def retrained(self, incident: Incident, base: Outcome, step: Step) -> Outcome:
        """The pipeline the step started succeeded: the effect the unit promised, not a recovery -
        no new model serves yet. The incident is `retrained` and repeats nothing; the alarm's own
        return to OK closes it as recovered (at once, when it cleared while the pipeline ran)."""
        now = self._clock()
        ran = incident.at("retrained", now, f"{step.summary}: the pipeline succeeded", pending=None)
        if ran.alarm_ok_at is not None:
            return self.close(ran, datetime.fromisoformat(ran.alarm_ok_at), "the alarm returned to OK")
        retrained = replace(
            base,
            result="retrained",
            reason=f"{step.summary}: the pipeline succeeded; the incident stays open until "
            f"{incident.alarm_name} returns to OK",
            changes={"results": list(step.results)},
        )
        self._telling.told(replace(ran, state="retrained"), retrained, f"{incident.id}#retrained")
        return retrained

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
    """The incident closed at `at`, and its outcome: recovered when the unit acted - took a step
    that changed something (`Incident.steps`) - and did not escalate; closed otherwise, saying
    when nothing was changed; an incident recovered before stays recovered."""
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
    unchanged = "; nothing was changed" if incident.steps == 0 else ""
    return closed, replace(base, gate="closed", reason=f"incident closed: {why}{unchanged}")


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
