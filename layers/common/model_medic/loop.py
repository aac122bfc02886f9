"""The control loop (docs/architecture.md, "The control loop"): every remediation runs as a loop over an incident.

Where each stage lives:

* detect - `on_alarm`: an ALARM transition opens the incident (the same transition twice
  gives the same incident), OK closes it (recovered, with the time to recover);
* level-triggered evaluation - `sweep`: every open incident and every alarm of the stack in
  ALARM is evaluated again from the alarm's current state (`DescribeAlarms`), because
  CloudWatch runs actions only on transitions
  (docs/aws-behaviours.md, "Alarm actions run only on transitions");
* gates - `_evaluate`: state, scope, mode, the endpoint status the unit requires, the
  unit's read-only `plan` (preconditions, bounds), then cool-down and hourly budget taken
  in one transaction with the step's intent (`ledger.claim_items` + `Incidents.save`);
* act - `_advance`: one single AWS change at a time; before calling, AWS is read back (a
  retry whose first call went through finds it done and does not repeat it); after the
  call the incident records it at once; then the loop waits for `InService` and reads
  back that the change took before the next change;
* verify - the unit's declared effect within its window: the alarm back to OK (recovered,
  info message with the time to recover), or, when the window passes without it and the
  unit can do no more, escalated once (critical: what was tried, what the metric did);
* tell - one 'acted' decision per step (a deterministic ledger key) and one message of
  each kind, guarded by tell-once marks; refusals and waits are recorded when they
  change, critical ones once per incident and cause.

Errors: AWS's permanent answers (validation, access denied, not found) end the step as a
recorded skip with one critical notice and are not retried; transient ones raise, so
Lambda retries the event (and the retry finishes the step from its intent).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from model_medic import aws
from model_medic.alarms import AlarmEvent
from model_medic.gates import Clock, GateRejection, ModeSwitch, record_decision
from model_medic.incidents import Conflict, Incident, Incidents, opened
from model_medic.ledger import Claim, Ledger, Refused
from model_medic.observability import logger, metrics
from model_medic.outcome import Notifier, Outcome, Result
from model_medic.scope import Scope
from model_medic.step import Step
from model_medic.units import Action, Change, Observation, Plan

# After this many conflicting evaluations in a row, leave the incident to the other one.
_CONFLICT_RETRIES = 3
# Seconds an evaluation may need at most (a rollout's deploy: about 30 AWS calls, each up to
# 3 attempts): with less left, the incidents left wait for the next tick.
TIME_RESERVE = 15.0


class ControlLoop:
    """Runs one remediation unit's incidents."""

    def __init__(
        self,
        *,
        action: Action,
        verify_window: timedelta,
        ledger: Ledger,
        incidents: Incidents,
        notifier: Notifier,
        mode: ModeSwitch,
        scope: Scope,
        sagemaker: Any,
        cloudwatch: Any,
        actions_per_hour: int,
        clock: Clock,
        request_id: str = "",
        time_left: Callable[[], float] | None = None,
    ) -> None:
        self._action = action
        self._unit = action.unit
        self._window = verify_window
        self._ledger = ledger
        self._incidents = incidents
        self._notifier = notifier
        self._mode = mode
        self._scope = scope
        self._sagemaker = sagemaker
        self._cloudwatch = cloudwatch
        self._cap = actions_per_hour
        self._clock = clock
        self._request_id = request_id
        self._time_left = time_left  # seconds left in this invocation (Lambda's context), if known

    # --- entry points ------------------------------------------------------------------

    def on_alarm(self, alarm: AlarmEvent) -> Outcome:
        """A delivered transition: open or close the incident, then evaluate it."""
        if not alarm.endpoint:
            metrics.add_metric(name="RejectedEvents", unit="Count", value=1)
            raise GateRejection(
                f"alarm {alarm.alarm_name!r} has no EndpointName or Endpoint dimension"
                + (" (composite alarm)" if alarm.composite else "")
            )
        endpoint = alarm.endpoint
        base = self._base(endpoint, alarm.alarm_name, alarm.alarm_arn, alarm.transition_id, alarm.state)
        if alarm.state not in self._unit.states and alarm.state != "OK":
            return self._decided(replace(base, gate="state", reason=f"{self._unit.name} does not act on {alarm.state}"))
        in_scope, why = self._scope.contains(endpoint)
        if not in_scope:
            return self._decided(replace(base, gate="scope", reason=why))
        if alarm.state == "OK":
            return self._alarm_cleared(endpoint, alarm.alarm_name, alarm.state_change_time, base)
        stale = self._stale(endpoint, alarm)
        if stale is not None:
            return self._decided(replace(base, gate="stale", reason=stale, replayed=True), record=False)
        for other in self._incidents.of(endpoint, open_only=True):
            if other.alarm_name == alarm.alarm_name and other.opened_at < alarm.state_change_time.isoformat():
                # A newer transition: the older episode ended (its OK was not delivered).
                self._cleared(other, alarm.state_change_time, "superseded by a newer ALARM transition")
        incident = self._incidents.open(
            opened(
                endpoint,
                self._unit.name,
                alarm.alarm_name,
                alarm.alarm_arn,
                alarm.state_change_time,
                alarm.reason,
                alarm.metric_name,
                dict(alarm.dimensions),
            )
        )
        return self._evaluate(incident, alarm.reason)

    def sweep(self, endpoints: list[str]) -> list[Outcome]:
        """Level-triggered: every open incident and every stack alarm in ALARM, evaluated again."""
        # One Query of the open-incident roster, not one per endpoint (incidents.py).
        open_incidents = self._incidents.open_by_endpoint(self._unit.name, endpoints)
        names = sorted(
            {f"{e}-{suffix}" for e in endpoints for suffix in self._unit.alarm_suffixes}
            | {i.alarm_name for found in open_incidents.values() for i in found}
        )
        alarms = self._describe_alarms(names)
        outcomes = []
        for endpoint in endpoints:
            handled = set()
            for incident in open_incidents[endpoint]:
                handled.add(incident.alarm_name)
                alarm = alarms.get(incident.alarm_name)
                state = alarm["StateValue"] if alarm is not None else "OK"
                base = self._base(endpoint, incident.alarm_name, incident.alarm_arn, incident.id, state)
                if state == "OK":
                    # The last change of StateValue (StateUpdatedTimestamp also moves on EvaluationState).
                    at = (
                        alarm.get("StateTransitionedTimestamp", alarm["StateUpdatedTimestamp"])
                        if alarm is not None
                        else self._clock()
                    )
                    outcomes.append(self._alarm_cleared(endpoint, incident.alarm_name, at, base))
                elif state == "ALARM":
                    outcomes.append(self._evaluate(incident, alarm.get("StateReason", "") if alarm else ""))
            for name in names:
                alarm = alarms.get(name)
                if alarm is None or alarm["StateValue"] != "ALARM" or name in handled:
                    continue
                if _alarm_endpoint(alarm) != endpoint:
                    continue
                # An alarm in ALARM without an open incident: its delivery was lost, or it went
                # to ALARM before this stack existed. Open the incident from its own transition.
                at = alarm.get("StateTransitionedTimestamp", alarm["StateUpdatedTimestamp"])
                incident = self._incidents.open(
                    opened(
                        endpoint,
                        self._unit.name,
                        name,
                        alarm["AlarmArn"],
                        at,
                        alarm.get("StateReason", ""),
                        alarm.get("MetricName"),
                        {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])},
                    )
                )
                if not incident.is_closed:
                    outcomes.append(self._evaluate(incident, alarm.get("StateReason", "")))
        return outcomes

    def open_incidents(self, endpoints: list[str]) -> dict[str, list[Incident]]:
        """This unit's open incidents on each of these endpoints (one Query of the roster, incidents.py)."""
        return self._incidents.open_by_endpoint(self._unit.name, endpoints)

    def follow(
        self, endpoints: list[str], found: dict[str, list[Incident]] | None = None, shuffle: str = ""
    ) -> list[Outcome]:
        """Every open incident of this unit on these endpoints, evaluated again - for units whose
        incidents are not alarm episodes: a rollout is judged on every tick. `found`: what
        `open_incidents` read for the whole scope; without it (a few endpoints, an alarm's),
        each endpoint is read itself: the roster is completed only by a read of the whole scope.
        Within the invocation's time (`_in_time`); with a `shuffle` key (the tick's time) the
        order is a fresh pseudo-random one, so that no incident is always the one left over."""
        if found is None:
            found = {
                e: [i for i in self._incidents.of(e, open_only=True) if i.action == self._unit.name] for e in endpoints
            }
        incidents = [incident for endpoint in endpoints for incident in found.get(endpoint, [])]
        if shuffle:
            incidents.sort(key=lambda i: hashlib.sha256(f"{shuffle}|{i.endpoint}|{i.id}".encode()).digest())
        return self._in_time([(i, "") for i in incidents])

    def start(self, incident: Incident) -> Outcome:
        """Open an incident that no alarm opened (an approved model package to roll out) and
        evaluate it; the same trigger twice gives the same incident."""
        return self.start_all([incident])[0]

    def start_all(self, incidents: list[Incident]) -> list[Outcome]:
        """Open every incident first (each durable, so a later tick follows it), then evaluate
        as many as the invocation's time allows (`_in_time`)."""
        decided, opened = [], []
        for incident in incidents:
            base = self._base(incident.endpoint, incident.alarm_name, incident.alarm_arn, incident.id, "ALARM")
            in_scope, why = self._scope.contains(incident.endpoint)
            if not in_scope:
                decided.append(self._decided(replace(base, gate="scope", reason=why)))
            else:
                opened.append((self._incidents.open(incident), incident.opened_reason))
        return decided + self._in_time(opened)

    def _in_time(self, incidents: list[tuple[Incident, str]]) -> list[Outcome]:
        """Evaluate each incident while the invocation has time for one more (`TIME_RESERVE`):
        the rest stay open and the next tick follows them, instead of a timeout that Lambda
        retries (repeating every evaluation) and then parks in the dead-letter queue."""
        outcomes = []
        for index, (incident, reason) in enumerate(incidents):
            if self._time_left is not None and self._time_left() < TIME_RESERVE:
                left = [i.endpoint for i, _ in incidents[index:]]
                logger.warning("out of time: incidents left for the next tick", left=len(left), endpoints=left[:20])
                metrics.add_metric(name="IncidentsDeferred", unit="Count", value=len(left))
                break
            outcomes.append(self._evaluate(incident, reason))
        return outcomes

    def current_mode(self, endpoint: str | None = None) -> str:
        """The mode in force: the stack's, or (given one) the endpoint's (`ModeSwitch.current`)."""
        return self._mode.current(endpoint)[0]

    def acted(self, action: str, endpoint: str, summary: str, key: str, mode: str) -> Outcome:
        """Record and tell, once per key, a change made outside an incident (a scale-back)."""
        outcome = replace(
            self._base(endpoint, "", "", key, "OK"), action=action, result="acted", reason=summary, mode=mode
        )
        aws.persist(lambda: self._record(outcome, key=key))
        self._tell_once(outcome, key)
        return outcome

    # --- evaluation ----------------------------------------------------------------------

    def _evaluate(self, incident: Incident, alarm_reason: str) -> Outcome:
        for _ in range(_CONFLICT_RETRIES):
            try:
                return self._evaluate_once(incident, alarm_reason)
            except Conflict:
                metrics.add_metric(name="IncidentConflicts", unit="Count", value=1)
                reread = self._incidents.get(incident.endpoint, incident.id)
                if reread is None:
                    break
                incident = reread
        base = self._base_of(incident)
        return replace(base, gate="once", reason="another evaluation is handling this incident", replayed=True)

    def _evaluate_once(self, incident: Incident, alarm_reason: str) -> Outcome:
        base = self._base_of(incident)
        if incident.is_closed:
            return replace(base, gate="closed", reason=f"incident closed at {incident.closed_at}", replayed=True)
        if incident.state in ("escalated", "recovered"):
            return replace(
                base, gate=incident.state, reason=f"incident is {incident.state}; nothing is repeated", replayed=True
            )
        mode, source = self._mode.current(incident.endpoint)
        base = replace(base, mode=mode)
        if incident.pending is not None:
            # A step under way is followed (read back) in every mode, but only enforce makes
            # its next change, and only while the alarm lasts: off, dry-run and an OK stop it.
            return self._advance(incident, base, may_change=mode == "enforce" and incident.alarm_ok_at is None)
        if incident.alarm_ok_at is not None:  # closing is bookkeeping: in every mode
            return self._close(incident, datetime.fromisoformat(incident.alarm_ok_at), "the alarm returned to OK")
        if mode == "off":
            return self._note(incident, replace(base, gate="mode", reason=f"automation is off ({source})"))
        described, problem = self._endpoint(incident.endpoint)
        if problem is not None:
            return self._permanent(incident, base, problem)
        assert described is not None
        status = str(described.get("EndpointStatus", "exists"))
        if self._unit.requires == "InService" and status != "InService":
            return self._note(
                incident,
                replace(base, gate="precondition", reason=f"endpoint {incident.endpoint} is {status}, not InService"),
            )
        if self._unit.max_steps is not None and incident.steps >= self._unit.max_steps:
            plan = Plan("", bound=f"{self._unit.name} already acted {incident.steps} time(s) in this incident")
        else:
            try:
                plan = self._action.plan(_alarm_of(incident), incident, described)
            except ClientError as error:
                if aws.is_transient(error):
                    raise
                return self._permanent(incident, base, f"{aws.error_code(error)}: {error}")
        if plan.skip is not None:
            return self._note(
                incident,
                replace(base, gate=plan.gate, reason=plan.skip, changes=plan.notes),
                critical=plan.critical,
                facts=plan.facts,
            )
        if plan.bound is not None:
            return self._bounded(incident, base, plan, alarm_reason)
        if mode == "dry-run":
            refused = self._ledger.check(
                incident.endpoint, self._unit.name, self._cap if self._unit.budgeted else None, self._clock()
            )
            if refused is not None:
                return self._refused(incident, base, refused)
            return self._note(
                incident, replace(base, result="dry-run", reason=plan.summary, changes=_changes(plan.changes))
            )
        return self._start_step(incident, base, plan)

    def _start_step(self, incident: Incident, base: Outcome, plan: Plan) -> Outcome:
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
        items = self._ledger.claim_items(claim, self._action.cooldown, self._cap if self._unit.budgeted else None, now)
        try:
            saved = self._incidents.save(intent, items)
        except ClientError as error:
            if aws.error_code(error) != "TransactionCanceledException":
                raise
            reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
            return self._refused(
                incident, base, self._ledger.refusal(claim, self._cap if self._unit.budgeted else None, now, reasons)
            )
        return self._advance(saved, base)

    def _advance(self, incident: Incident, base: Outcome, may_change: bool = True) -> Outcome:
        """Carry the step in flight on: call, wait for InService, read back, next change."""
        base = replace(base, critical=incident.in_flight.critical)
        outcome: Outcome | None = None
        if incident.in_flight.started and not incident.in_flight.told:
            # The step's first change was made, but recording or telling it failed: finish that.
            incident, outcome = self._tell_step(incident, base)
        while not (step := incident.in_flight).finished:
            described, problem = self._endpoint(incident.endpoint)
            if problem is not None:
                return self._abandon(incident, base, problem)
            assert described is not None
            seen = self._action.observe(incident.endpoint, step.current, described, step.result)
            if not step.called:
                made = self._make(incident, base, described, seen, may_change)
                if isinstance(made, Outcome):
                    return made
                incident, seen, outcome = made[0], made[1], made[2] or outcome
            step = incident.in_flight
            change = step.current
            if seen.seen == "in-flight":
                incident = self._save(replace(incident, state="waiting"))
                waiting = self._note(
                    incident, replace(base, gate="waiting", reason=f"{change.describe()}: {seen.detail}")
                )
                return outcome or waiting
            if seen.seen in ("failed", "not-applied"):
                return self._failed_change(incident, base, change, seen.detail)
            step = step.took()
            facts = {**(incident.facts or {}), **change.settled(self._clock())}
            incident = self._save(
                replace(incident, pending=step, facts=facts).at(
                    "in-service", self._clock(), f"{change.describe()}: {seen.detail}"
                )
            )
        return self._step_done(incident, base, outcome)

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
            # change as made (record, tell), do not repeat it.
            self._action.adopt(incident.endpoint, change, incident)
            result: dict[str, Any] = {"adopted": seen.detail}
        elif self._unit.requires == "InService" and described.get("EndpointStatus") != "InService":
            incident = self._save(replace(incident, state="waiting"))
            return self._note(
                incident,
                replace(
                    base,
                    gate="waiting",
                    reason=f"endpoint {incident.endpoint} is {described.get('EndpointStatus')}; "
                    f"{change.describe()} waits for InService",
                ),
            )
        elif not may_change:
            return self._stop_step(incident, base, change)
        else:
            try:
                result = self._action.execute(incident.endpoint, change, incident)
            except ClientError as error:
                if aws.is_transient(error):
                    raise
                if _is_busy(error):  # another change got there first: wait for it
                    incident = self._save(replace(incident, state="waiting"))
                    return self._note(incident, replace(base, gate="waiting", reason=str(error)))
                return self._abandon(incident, base, f"{aws.error_code(error)}: {error}")
        incident = self._save(
            replace(incident, state="waiting", pending=step.called_(result)).at(
                "action", self._clock(), change.describe()
            )
        )
        outcome = None
        if step.done == 0 and not step.told:
            incident, outcome = self._tell_step(incident, base)
        if not adopted:
            now, _ = self._endpoint(incident.endpoint)
            seen = self._action.observe(incident.endpoint, change, now or {}, result)
        return incident, seen, outcome

    def _tell_step(self, incident: Incident, base: Outcome) -> tuple[Incident, Outcome]:
        """The step's 'acted' decision, recorded and told once; the step remembers it was told."""
        step = incident.in_flight
        outcome = self._acted(incident, base, step)
        return self._save(replace(incident, pending=step.told_())), outcome

    def _stop_step(self, incident: Incident, base: Outcome, change: Change) -> Outcome:
        """The alarm cleared, or automation was switched off or to dry-run, in the middle of a step:
        make no more changes."""
        cause = "the alarm cleared" if incident.alarm_ok_at is not None else f"automation is {base.mode}"
        why = f"{cause}: {change.describe()} and the rest of the step are not made"
        incident = self._save(replace(incident, pending=None, state="acting").at("stopped", self._clock(), why))
        if incident.alarm_ok_at is not None:
            return self._close(incident, datetime.fromisoformat(incident.alarm_ok_at), "the alarm returned to OK")
        return self._note(incident, replace(base, gate="mode", reason=why))

    def _step_done(self, incident: Incident, base: Outcome, outcome: Outcome | None) -> Outcome:
        """Every change of the step took: verify the unit's effect (or, a rollout, judge again)."""
        step = incident.in_flight
        now = self._clock()
        if self._unit.effect == "next-step":
            return self._next_step(incident, base, step, outcome)
        if self._unit.effect == "pipeline-succeeded":
            # Retraining is verified by its pipeline: success is the effect it promised.
            done = replace(incident, pending=None, state="recovered", recovered_seconds=_since(incident, now))
            self._save(done.at("recovered", now, "retraining pipeline succeeded"))
            recovered = replace(
                base,
                result="recovered",
                reason=f"{step.summary}: the pipeline succeeded",
                changes={"results": list(step.results)},
            )
            self._tell_once(recovered, f"{incident.id}#recovered")
            return outcome or recovered
        if incident.alarm_ok_at is not None:
            cleared = datetime.fromisoformat(incident.alarm_ok_at)
            incident = self._save(replace(incident, pending=None))
            closed = self._close(incident, cleared, "the alarm returned to OK")
            return outcome or closed
        verify_until = now + self._window
        incident = self._save(replace(incident, pending=None, state="verifying", verify_until=verify_until.isoformat()))
        verifying = self._note(
            incident,
            replace(
                base,
                gate="verifying",
                reason=f"{step.summary} is InService; the alarm must clear by {verify_until.isoformat()}",
            ),
        )
        return outcome or verifying

    def _next_step(self, incident: Incident, base: Outcome, step: Step, outcome: Outcome | None) -> Outcome:
        """A rollout's step is InService: judged again on the next evaluation, or, when one of its
        changes ends the rollout, the incident closes (complete: recovered; rolled back: escalated,
        the critical 'acted' message having told people already)."""
        now = self._clock()
        ends = step.ends
        if ends is None:
            incident = self._save(replace(incident, pending=None, state="acting", last_note=""))
            return outcome or self._note(
                incident, replace(base, gate="in-service", reason=f"{step.summary} is InService")
            )
        seconds = _since(incident, now)
        if ends == "complete":
            done = replace(
                incident, pending=None, state="recovered", recovered_seconds=seconds, closed_at=now.isoformat()
            )
            self._save(done.at("recovered", now, f"{step.summary}: the rollout is complete"))
            finished = replace(
                base,
                result="recovered",
                reason=f"rollout complete {_minutes(seconds)} after it began: {step.summary}",
                changes={"time_to_complete_seconds": seconds, "steps": incident.steps, "facts": incident.facts},
            )
            self._tell_once(finished, f"{incident.id}#recovered")
            return outcome or finished
        done = replace(incident, pending=None, state="escalated", closed_at=now.isoformat())
        self._save(done.at("closed", now, f"{step.summary}: {ends}"))
        return outcome or self._decided(
            replace(base, gate="closed", reason=f"rollout ended ({ends}): {step.summary}")
        )

    # --- the ends of an incident ---------------------------------------------------------

    def _alarm_cleared(self, endpoint: str, alarm_name: str, at: datetime, base: Outcome) -> Outcome:
        found = [i for i in self._incidents.of(endpoint, open_only=True) if i.alarm_name == alarm_name]
        if not found:
            return self._decided(
                replace(base, gate="state", reason=f"{alarm_name} is OK; no open incident"), record=False
            )
        outcome = base
        for incident in found:
            if at.isoformat() < incident.opened_at:
                continue  # a late OK of an older episode
            outcome = self._cleared(incident, at, "the alarm returned to OK")
        return outcome

    def _cleared(self, incident: Incident, at: datetime, why: str) -> Outcome:
        """The incident's alarm is over; a change still in flight is followed to its end first."""
        if incident.pending is None or incident.state == "escalated":
            return self._close(incident, at, why)
        if incident.alarm_ok_at is None:
            try:
                incident = self._incidents.save(replace(incident, alarm_ok_at=at.isoformat()).at("alarm-ok", at, why))
            except Conflict:
                return replace(self._base_of(incident), gate="once", reason="another evaluation", replayed=True)
        return self._evaluate(incident, why)

    def _close(self, incident: Incident, at: datetime, why: str) -> Outcome:
        base = self._base_of(incident)
        acted = incident.steps > 0 and incident.state not in ("escalated",)
        seconds = (at - datetime.fromisoformat(incident.opened_at)).total_seconds()
        closed = replace(incident, closed_at=at.isoformat(), pending=incident.pending)
        if acted and incident.state != "recovered":
            closed = replace(closed, state="recovered", recovered_seconds=seconds).at("recovered", at, why)
            outcome = replace(
                base,
                result="recovered",
                reason=f"{incident.alarm_name} recovered {_minutes(seconds)} after it fired, "
                f"after {incident.steps} {self._unit.name} step(s): {why}",
                changes={"time_to_recover_seconds": seconds, "steps": incident.steps},
            )
        else:
            closed = replace(closed, state="closed" if incident.state != "recovered" else "recovered").at(
                "closed", at, why
            )
            outcome = replace(base, gate="closed", reason=f"incident closed: {why}")
        try:
            self._incidents.save(closed)
        except Conflict:
            return replace(base, gate="once", reason="the incident was closed by another evaluation", replayed=True)
        if outcome.result == "recovered":
            self._tell_once(outcome, f"{incident.id}#recovered")
        else:
            self._decided(outcome)
        return outcome

    def _bounded(self, incident: Incident, base: Outcome, plan: Plan, alarm_reason: str) -> Outcome:
        """The unit can do no more: wait out the verification window, then escalate once."""
        now = self._clock()
        if (
            incident.steps > 0
            and incident.verify_until is not None
            and now < datetime.fromisoformat(incident.verify_until)
        ):
            return self._note(
                incident,
                replace(base, gate="verifying", reason=f"{plan.bound}; verifying until {incident.verify_until}"),
            )
        tried = [e["detail"] for e in incident.timeline if e["what"] == "action"]
        result: Result
        if incident.steps == 0:
            result, why = "bound-reached", f"{plan.bound}; nothing was changed"
        elif self._unit.effect == "next-step":
            result, why = "escalated", f"stopped after {'; '.join(tried)}: {plan.bound}"
        else:
            result, why = "escalated", f"{incident.alarm_name} is still in ALARM after {'; '.join(tried)}: {plan.bound}"
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
        ended = now.isoformat() if self._unit.effect == "next-step" else None  # a stopped rollout is over
        incident = self._save(
            replace(incident, state="escalated", last_note="", closed_at=ended).at("escalated", now, why)
        )
        self._tell_once(escalated, f"{incident.id}#escalated")
        return escalated

    def _failed_change(self, incident: Incident, base: Outcome, change: Change, detail: str) -> Outcome:
        now = self._clock()
        why = f"{change.describe()} did not take: {detail}"
        failed = replace(base, result="failed", gate="verify", reason=why)
        incident = self._save(replace(incident, state="escalated", pending=None).at("failed", now, why))
        self._tell_once(failed, f"{incident.id}#failed")
        return failed

    def _abandon(self, incident: Incident, base: Outcome, problem: str) -> Outcome:
        """A permanent AWS answer in the middle of a step: give the claim back, tell once."""
        step = incident.pending
        if step is not None and not step.started:
            claim = Claim(incident.endpoint, self._unit.name, step.id, step.hour)
            self._ledger.release(claim)
            incident = replace(incident, steps=max(0, incident.steps - 1))
        incident = self._save(replace(incident, pending=None, state="acting"))
        return self._permanent(incident, base, problem)

    def _permanent(self, incident: Incident, base: Outcome, problem: str) -> Outcome:
        """Recorded, told once, and not tried again in this incident (nor retried into the DLQ)."""
        skipped = replace(base, gate="permanent-error", reason=problem)
        incident = self._save(replace(incident, state="escalated").at("failed", self._clock(), problem))
        self._note(incident, skipped)
        if self._ledger.mark(incident.endpoint, f"{incident.id}#permanent", self._clock()):
            self._notifier.alert(
                f"Model Medic cannot {self._unit.name} {incident.endpoint}",
                f"{self._unit.name} for {incident.alarm_name} on {incident.endpoint} was not done and will not be "
                f"retried in this incident: AWS answered {problem}",
            )
        return skipped

    def _refused(self, incident: Incident, base: Outcome, refused: Refused) -> Outcome:
        """A cool-down or budget refusal is looked at again when it can clear, never final."""
        when = f"; looked at again from {refused.until.isoformat()}" if refused.until else ""
        outcome = replace(base, gate=refused.gate, reason=refused.reason + when)
        if refused.gate == "budget":
            # Automation is churning: a person hears of it, once per incident.
            self._note(incident, outcome)
            if self._ledger.mark(incident.endpoint, f"{incident.id}#budget", self._clock()):
                self._notifier.alert(f"Model Medic budget spent on {incident.endpoint}", outcome.reason)
            return outcome
        return self._note(incident, outcome)

    # --- recording and telling ------------------------------------------------------------

    def _acted(self, incident: Incident, base: Outcome, step: Step) -> Outcome:
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
        aws.persist(lambda: self._record(outcome, key=step.id))
        self._tell_once(outcome, step.id)
        return outcome

    def _note(
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
            self._decided(outcome)
        except Exception:
            # Not told: forget the note, so that the retry records and tells it.
            self._save(replace(noted, last_note=incident.last_note))
            raise
        if critical and self._ledger.mark(incident.endpoint, f"{incident.id}#{outcome.gate}", self._clock()):
            self._notifier.alert(f"Model Medic: {self._unit.name} on {incident.endpoint}", outcome.reason)
        return outcome

    def _decided(self, outcome: Outcome, record: bool = True) -> Outcome:
        if record:
            self._record(outcome)
            self._notifier.tell(outcome)
        return outcome

    def _record(self, outcome: Outcome, key: str | None = None) -> None:
        record_decision(self._ledger, outcome, self._request_id, key)

    def _tell_once(self, outcome: Outcome, key: str) -> None:
        """One SNS message and one EventBridge event per key, however often this runs."""
        if outcome.result not in ("acted",):
            aws.persist(lambda: self._record(outcome, key=key))
        if self._ledger.mark(outcome.endpoint, f"{key}#sns", self._clock()):
            try:
                if outcome.announced:
                    self._notifier.publish(outcome)
            except Exception:
                aws.persist(lambda: self._ledger.unmark(outcome.endpoint, f"{key}#sns"))
                raise
        if self._ledger.mark(outcome.endpoint, f"{key}#event", self._clock()):
            try:
                self._notifier.put_event(outcome)
            except Exception:
                aws.persist(lambda: self._ledger.unmark(outcome.endpoint, f"{key}#event"))
                raise

    def _save(self, incident: Incident) -> Incident:
        return aws.persist(lambda: self._incidents.save(incident))

    # --- reading AWS ----------------------------------------------------------------------

    def _endpoint(self, endpoint: str) -> tuple[dict[str, Any] | None, str | None]:
        """DescribeEndpoint, or the permanent problem that stops it (the endpoint does not exist)."""
        try:
            return self._sagemaker.describe_endpoint(EndpointName=endpoint), None
        except ClientError as error:
            if aws.is_transient(error):
                raise
            return None, f"{aws.error_code(error)}: {error.response.get('Error', {}).get('Message', '')}"

    def _describe_alarms(self, names: list[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(names), 100):
            kwargs: dict[str, Any] = {"AlarmNames": names[start : start + 100], "AlarmTypes": ["MetricAlarm"]}
            while True:
                page = self._cloudwatch.describe_alarms(**kwargs)
                found.update({a["AlarmName"]: a for a in page.get("MetricAlarms", [])})
                if not page.get("NextToken"):
                    break
                kwargs["NextToken"] = page["NextToken"]
        return found

    def _stale(self, endpoint: str, alarm: AlarmEvent) -> str | None:
        """A late delivery: the alarm has changed state since (CloudWatch says so), or an incident
        of a later transition of the alarm was already seen."""
        at = alarm.state_change_time.isoformat()
        now = self._describe_alarms([alarm.alarm_name]).get(alarm.alarm_name)
        if now is not None and now["StateValue"] != "ALARM":
            since = now.get("StateTransitionedTimestamp", now["StateUpdatedTimestamp"])  # its last change of state
            if since > alarm.state_change_time:
                return f"a late delivery: {alarm.alarm_name} is {now['StateValue']} since {since}"
        for incident in self._incidents.of(endpoint):
            if incident.alarm_name != alarm.alarm_name or incident.opened_at == at:
                continue
            if incident.opened_at > at or (incident.closed_at is not None and incident.closed_at > at):
                return f"a late delivery: {alarm.alarm_name} changed again since {at}"
        return None

    def _base(self, endpoint: str, alarm_name: str, alarm_arn: str, transition: str, state: str) -> Outcome:
        return Outcome(
            action=self._unit.name,
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

    def _base_of(self, incident: Incident) -> Outcome:
        return replace(
            self._base(incident.endpoint, incident.alarm_name, incident.alarm_arn, incident.id, "ALARM"),
            incident=incident.id,
        )


def _alarm_of(incident: Incident) -> AlarmEvent:
    """The incident's opening transition, as the plan sees it."""
    _, _, _, region, account, _, _ = (incident.alarm_arn.split(":", 6) + [""] * 7)[:7]
    return AlarmEvent(
        alarm_name=incident.alarm_name,
        alarm_arn=incident.alarm_arn,
        state="ALARM",
        previous_state=None,
        state_change_time=datetime.fromisoformat(incident.opened_at),
        reason=incident.opened_reason,
        account=account,
        region=region,
        source="sweep",
        metric_name=incident.metric or None,
        dimensions={**(incident.dimensions or {}), "EndpointName": incident.endpoint},
    )


def _alarm_endpoint(alarm: dict[str, Any]) -> str | None:
    for dimension in alarm.get("Dimensions", []):
        if dimension["Name"] in ("EndpointName", "Endpoint"):
            return str(dimension["Value"])
    for query in alarm.get("Metrics", []):
        for dimension in query.get("MetricStat", {}).get("Metric", {}).get("Dimensions", []):
            if dimension["Name"] in ("EndpointName", "Endpoint"):
                return str(dimension["Value"])
    return None


def _is_busy(error: ClientError) -> bool:
    """SageMaker's 'the endpoint is being updated' answer: wait and look again, not a permanent error."""
    message = str(error.response.get("Error", {}).get("Message", ""))
    return "in-progress" in message or "Updating" in message or "in progress" in message


def _changes(changes: tuple[Change, ...]) -> dict[str, Any]:
    return {"changes": [c.as_dict() for c in changes]}


def _since(incident: Incident, now: datetime) -> float:
    return (now - datetime.fromisoformat(incident.opened_at)).total_seconds()


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min"
