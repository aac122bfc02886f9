"""The control loop (docs/architecture.md, "The control loop"): its entry points, and the rooms it is built of."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from model_medic.control.stepping import Endings, Rehearsal, Stepping
from model_medic.intake.triggers import AlarmEvent, alarm_endpoint, describe_alarms
from model_medic.platform import aws
from model_medic.platform.observability import logger, metrics
from model_medic.remediate.units import Plan
from model_medic.store.incidents import Conflict, Incident, opened
from model_medic.tell.outcome import Outcome, Result
from model_medic.tell.telling import Telling

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_sagemaker import SageMakerClient

    from model_medic.platform.clock import Clock
    from model_medic.policy.policies import ModeSwitch, Scope
    from model_medic.remediate.units import Action, RemediationUnit
    from model_medic.store.claims import Claims
    from model_medic.store.episodes import Episodes
    from model_medic.store.incidents import Incidents
    from model_medic.store.journal import Journal
    from model_medic.tell.telling import Courier, PagingRules


# Seconds an evaluation may need at most (a rollout's deploy: about 30 AWS calls, each up to
# 3 attempts): with less left, the incidents left wait for the next tick.
TIME_RESERVE = 15.0


class GateRejection(ValueError):
    """The alarm cannot be acted on at all (gate 1); nothing was changed or recorded."""


class ControlLoop:
    """Runs one remediation unit's incidents: opens and closes them, and has each evaluated
    (`Gating`), its steps taken (`Stepping`), ended (`Endings`) and told (`Telling`)."""

    def __init__(self, parts: Parts) -> None:
        self._unit = parts.unit
        self._incidents = parts.incidents
        self._mode = parts.mode
        self._scope = parts.scope
        self._cloudwatch = parts.cloudwatch
        self._clock = parts.clock
        self._time_left = parts.time_left
        self._components = parts.components
        self._telling = Telling(parts)
        endings = Endings(parts, self._telling)
        self._gating = Gating(parts, self._telling, endings, Stepping(parts, self._telling, endings))

    # --- entry points ------------------------------------------------------------------

    def on_alarms(self, alarms: list[AlarmEvent]) -> dict[str, Any]:
        """Alarm deliveries open, close and evaluate incidents; a gate's refusal is said, not
        retried. Lambda's answer: `{"outcomes": [...], "rejected": [...]}`."""
        decided: list[dict[str, Any]] = []
        refused: list[str] = []
        for alarm in alarms:
            try:
                decided.append(self.on_alarm(alarm).as_dict())
            except GateRejection as error:
                refused.append(str(error))
                logger.warning("alarm rejected", alarm=alarm.alarm_name, error=str(error))
        return {"outcomes": decided, "rejected": refused}

    def judge_alarms(self, alarms: list[AlarmEvent]) -> dict[str, Any]:
        """Alarms that ask for an open incident to be evaluated at once, for units whose incidents
        no alarm opens (a canary alarm: its rollout is judged now, not at the next tick). Each
        alarm is answered: rejected when it names no endpoint; a skip when its state is not one
        the unit acts on, its endpoint is out of scope or has no incident of the unit; else the
        incident's evaluation. Lambda's answer, as `on_alarms`."""
        decided: list[Outcome] = []
        refused: list[str] = []
        for alarm in alarms:
            if not alarm.endpoint:
                refused.append(_no_endpoint(alarm))
                continue
            in_scope, why = self._scope.contains(alarm.endpoint)
            found = self.follow([alarm.endpoint]) if in_scope and alarm.state in self._unit.states else []
            decided += found or [self._not_judged(alarm, alarm.endpoint, why if not in_scope else "")]
        return {"outcomes": [o.as_dict() for o in decided if not o.replayed], "rejected": refused}

    def _not_judged(self, alarm: AlarmEvent, endpoint: str, out_of_scope: str) -> Outcome:
        """The skip of an alarm that asks for no evaluation: the wrong state, out of scope, nothing under way."""
        base = self._telling.base(endpoint, alarm.alarm_name, alarm.alarm_arn, alarm.transition_id, alarm.state)
        if alarm.state not in self._unit.states:
            return replace(base, gate="state", reason=f"{self._unit.name} does not act on {alarm.state}")
        if out_of_scope:
            return replace(base, gate="scope", reason=out_of_scope)
        return replace(base, gate="state", reason=f"no {self._unit.name} under way on {endpoint}")

    def on_alarm(self, alarm: AlarmEvent) -> Outcome:
        """A delivered transition: open or close the incident, then evaluate it."""
        if not alarm.endpoint:
            raise GateRejection(_no_endpoint(alarm))
        endpoint = alarm.endpoint
        base = self._telling.base(endpoint, alarm.alarm_name, alarm.alarm_arn, alarm.transition_id, alarm.state)
        if alarm.state not in self._unit.states and alarm.state != "OK":
            return self._telling.decided(
                replace(base, gate="state", reason=f"{self._unit.name} does not act on {alarm.state}")
            )
        in_scope, why = self._scope.contains(endpoint)
        if not in_scope:
            return self._telling.decided(replace(base, gate="scope", reason=why))
        if alarm.state == "OK":
            return self._alarm_cleared(endpoint, alarm.alarm_name, alarm.state_change_time, base)
        stale = self._stale(endpoint, alarm)
        if stale is not None:
            return self._telling.decided(replace(base, gate="stale", reason=stale, replayed=True), record=False)
        for other in self._incidents.of(endpoint, open_only=True):
            if other.alarm_name != alarm.alarm_name or other.opened_at >= alarm.state_change_time.isoformat():
                continue
            if alarm.previous_state == "INSUFFICIENT_DATA" and other.state != "recovered":
                # ALARM -> INSUFFICIENT_DATA -> ALARM: the alarm never cleared, the problem is
                # still there, so the episode goes on (closing it would call it recovered).
                return self._gating.evaluate(self._realarmed(other, alarm), alarm.reason)
            # The alarm left ALARM in between (its OK was not delivered): that episode ended.
            self._gating.cleared(
                other, alarm.state_change_time, f"{alarm.alarm_name} left ALARM before this transition"
            )
        incident = self._incidents.open(_opened_by(self._unit.name, endpoint, alarm))
        return self._gating.evaluate(incident, alarm.reason)

    def _realarmed(self, incident: Incident, alarm: AlarmEvent) -> Incident:
        """The open incident with the newer transition in its timeline (once per transition)."""
        at = alarm.state_change_time.isoformat()
        if any(e["what"] == "alarm-again" and e["at"] == at for e in incident.timeline):
            return incident
        try:
            return self._incidents.save(incident.at("alarm-again", alarm.state_change_time, alarm.reason))
        except Conflict:
            return self._incidents.get(incident.endpoint, incident.id) or incident

    def sweep(self, endpoints: list[str]) -> list[Outcome]:
        """Level-triggered: every open incident and every stack alarm in ALARM, evaluated again."""
        # One Query of the open-incident roster, not one per endpoint (incidents.py).
        open_incidents = self._incidents.open_by_endpoint(self._unit.name, endpoints)
        suffixes = self._unit.component_alarm_suffixes
        of_components = component_alarms(endpoints, suffixes, self._components if suffixes else None)
        names = sorted(
            {f"{e}-{suffix}" for e in endpoints for suffix in self._unit.alarm_suffixes}
            | {name for found in of_components.values() for name in found}
            | {i.alarm_name for found in open_incidents.values() for i in found}
        )
        alarms = describe_alarms(self._cloudwatch, names)
        outcomes = []
        for endpoint in endpoints:
            handled = set()
            for incident in open_incidents[endpoint]:
                handled.add(incident.alarm_name)
                alarm = alarms.get(incident.alarm_name)
                state = alarm["StateValue"] if alarm is not None else "OK"
                base = self._telling.base(endpoint, incident.alarm_name, incident.alarm_arn, incident.id, state)
                if state == "OK":
                    # The last change of StateValue (StateUpdatedTimestamp also moves on EvaluationState).
                    at = (
                        alarm.get("StateTransitionedTimestamp", alarm["StateUpdatedTimestamp"])
                        if alarm is not None
                        else self._clock()
                    )
                    outcomes.append(self._alarm_cleared(endpoint, incident.alarm_name, at, base))
                elif state == "ALARM":
                    outcomes.append(self._gating.evaluate(incident, alarm.get("StateReason", "") if alarm else ""))
            for name in names:
                alarm = alarms.get(name)
                if alarm is None or alarm["StateValue"] != "ALARM" or name in handled:
                    continue
                # A component's alarm names the component only (its endpoint is from the listing).
                if alarm_endpoint(alarm) != endpoint and name not in of_components[endpoint]:
                    continue
                # An alarm in ALARM without an open incident: its delivery was lost, or it went
                # to ALARM before this stack existed. Open the incident from its own transition.
                incident = self._incidents.open(_opened_from(self._unit.name, endpoint, alarm))
                if not incident.is_closed:
                    outcomes.append(self._gating.evaluate(incident, alarm.get("StateReason", "")))
        # Standing conditions paged once: reminded while they last, an end line once quiet.
        self._telling.follow_episodes(endpoints)
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
            base = self._telling.base(incident.endpoint, incident.alarm_name, incident.alarm_arn, incident.id, "ALARM")
            in_scope, why = self._scope.contains(incident.endpoint)
            if not in_scope:
                decided.append(self._telling.decided(replace(base, gate="scope", reason=why)))
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
            outcomes.append(self._gating.evaluate(incident, reason))
        return outcomes

    def current_mode(self, endpoint: str | None = None) -> str:
        """The mode in force: the stack's, or (given one) the endpoint's (`ModeSwitch.current`)."""
        return self._mode.current(endpoint)[0]

    def acted(
        self,
        action: str,
        endpoint: str,
        summary: str,
        key: str,
        mode: str,
        also: list[dict[str, Any]] | None = None,
        result: Result = "acted",
    ) -> Outcome:
        """Record and tell, once per key, a change made outside an incident (a scale-back), one
        not made (`result` skipped) or one a dry run would have made (`result` dry-run); `also`:
        what the change leaves in the ledger, written in the same transaction (and on its own by
        a retry that finds the decision recorded)."""
        outcome = replace(
            self._telling.base(endpoint, "", "", key, "OK"), action=action, result=result, reason=summary, mode=mode
        )
        return self._telling.acted_once(outcome, key, also)

    def _alarm_cleared(self, endpoint: str, alarm_name: str, at: datetime, base: Outcome) -> Outcome:
        found = [i for i in self._incidents.of(endpoint, open_only=True) if i.alarm_name == alarm_name]
        if not found:
            return self._telling.decided(
                replace(base, gate="state", reason=f"{alarm_name} is OK; no open incident"), record=False
            )
        outcome = base
        for incident in found:
            if at.isoformat() < incident.opened_at:
                continue  # a late OK of an older episode
            outcome = self._gating.cleared(incident, at, "the alarm returned to OK")
        return outcome

    def _stale(self, endpoint: str, alarm: AlarmEvent) -> str | None:
        """A late delivery: the alarm has changed state since (CloudWatch says so), or an incident
        of a later transition of the alarm was already seen."""
        at = alarm.state_change_time.isoformat()
        now = describe_alarms(self._cloudwatch, [alarm.alarm_name]).get(alarm.alarm_name)
        if now is not None and now["StateValue"] != "ALARM":
            since = now.get("StateTransitionedTimestamp", now["StateUpdatedTimestamp"])  # its last change of state
            if since > alarm.state_change_time:
                return f"a late delivery: {alarm.alarm_name} is {now['StateValue']} since {since}"
        return changed_since(self._incidents.of(endpoint), alarm.alarm_name, at)


def _opened_by(action: str, endpoint: str, alarm: AlarmEvent) -> Incident:
    """The incident a delivered ALARM transition opens."""
    return opened(
        endpoint,
        action,
        alarm.alarm_name,
        alarm.alarm_arn,
        alarm.state_change_time,
        alarm.reason,
        alarm.metric_name,
        dict(alarm.dimensions),
    )


def component_alarms(
    endpoints: list[str], suffixes: tuple[str, ...], listing: Callable[[], dict[str, list[str]]] | None
) -> dict[str, set[str]]:
    """The names of the alarms `<endpoint>-<component>-<suffix>` of each endpoint's inference
    components, from the fleet's listing (none without one)."""
    listed = listing() if listing is not None else {}
    return {e: {f"{e}-{c}-{s}" for c in listed.get(e, []) for s in suffixes} for e in endpoints}


def _opened_from(action: str, endpoint: str, alarm: dict[str, Any]) -> Incident:
    """The incident of an alarm found in ALARM (DescribeAlarms), opened from its own last transition."""
    return opened(
        endpoint,
        action,
        alarm["AlarmName"],
        alarm["AlarmArn"],
        alarm.get("StateTransitionedTimestamp", alarm["StateUpdatedTimestamp"]),
        alarm.get("StateReason", ""),
        alarm.get("MetricName"),
        {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])},
    )


def changed_since(incidents: list[Incident], alarm_name: str, at: str) -> str | None:
    """Why a transition of `alarm_name` at `at` is a late delivery, if an incident of a later
    transition of the same alarm was seen (opened, or closed, after it)."""
    for incident in incidents:
        if incident.alarm_name != alarm_name or incident.opened_at == at:
            continue
        if incident.opened_at > at or (incident.closed_at is not None and incident.closed_at > at):
            return f"a late delivery: {alarm_name} changed again since {at}"
    return None


def _no_endpoint(alarm: AlarmEvent) -> str:
    """Why an alarm cannot be acted on at all: it names no endpoint (counted as a rejected event)."""
    metrics.add_metric(name="RejectedEvents", unit="Count", value=1)
    return f"alarm {alarm.alarm_name!r} has no EndpointName or Endpoint dimension" + (
        " (composite alarm)" if alarm.composite else ""
    )


@dataclass(frozen=True)
class Parts:
    """One remediation unit's collaborators: its action, the stores, the courier and the paging
    rules, the mode and scope, the clients it reads AWS with, the clock and the invocation's time."""

    action: Action
    verify_window: timedelta
    journal: Journal
    claims: Claims
    incidents: Incidents
    courier: Courier
    episodes: Callable[[], Episodes]  # built when a standing condition is first paged (`Telling._pager`)
    paging: PagingRules
    mode: ModeSwitch
    scope: Scope
    sagemaker: SageMakerClient
    cloudwatch: CloudWatchClient
    actions_per_hour: int
    clock: Clock
    request_id: str = ""
    time_left: Callable[[], float] | None = None  # seconds left in this invocation (Lambda's context)
    # The fleet's inference components by endpoint (one listing an invocation), for the units
    # that component alarms trigger (`RemediationUnit.component_alarm_suffixes`).
    components: Callable[[], dict[str, list[str]]] | None = None

    @property
    def unit(self) -> RemediationUnit:
        return self.action.unit

    @property
    def budget(self) -> int | None:
        """Actions per endpoint and hour; None: the unit takes none of the budget."""
        return self.actions_per_hour if self.action.unit.budgeted else None


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
        self._parts = parts

    @cached_property
    def _rehearsal(self) -> Rehearsal:
        """The dry run, built the first time an incident is evaluated in dry-run."""
        return Rehearsal(self._parts, self._telling)

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
    """The gate of an incident that nothing is repeated for (closed, escalated, recovered,
    retrained: its pipeline succeeded, the alarm's OK closes it), and why."""
    if incident.is_closed:
        return "closed", f"incident closed at {incident.closed_at}"
    if incident.state == "retrained":
        return "retrained", "the retraining pipeline succeeded; nothing is repeated until the alarm returns to OK"
    if incident.state in ("escalated", "recovered"):
        return incident.state, f"incident is {incident.state}; nothing is repeated"
    return None
