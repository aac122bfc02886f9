"""The control loop (docs/architecture.md, "The control loop"): its entry points, and the rooms it is built of."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from model_medic.control.endings import Endings
from model_medic.control.gating import Gating
from model_medic.control.parts import Parts
from model_medic.control.stepping import Stepping
from model_medic.intake.triggers import AlarmEvent, alarm_endpoint, describe_alarms
from model_medic.platform.observability import logger, metrics
from model_medic.store.incidents import Conflict, Incident, opened
from model_medic.tell.outcome import Outcome, Result
from model_medic.tell.telling import Telling

# Seconds an evaluation may need at most (a rollout's deploy: about 30 AWS calls, each up to
# 3 attempts): with less left, the incidents left wait for the next tick.
TIME_RESERVE = 15.0


class GateRejection(ValueError):
    """The alarm cannot be acted on at all (gate 1); nothing was changed or recorded."""


class ControlLoop:
    """Runs one remediation unit's incidents: opens and closes them, and has each evaluated
    (`gating.py`), its steps taken (`stepping.py`), ended (`endings.py`) and told (`telling.py`)."""

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
