"""The control loop's invariants under random histories (issue 15, "How we will know").

Hypothesis draws a world (a plain variant and one with or without an auto scaling
target; step, cool-down and hourly budget) and a sequence of what happens to the
ScaleUp function: its two alarms (HighLatency, HighErrorRate) go to ALARM or OK in
CloudWatch and the transition is delivered (or lost), a delivery comes again (a duplicate)
or late (an older one), time passes, the 5-minute sweep runs, one AWS call of the next
run fails with throttling (and Lambda delivers the event again), someone else deploys to
the endpoint (and the deployment may fail and roll back), AWS refuses the next capacity
change (access denied), and the automation mode changes (off, dry-run, back to the
stack's enforce). Every endpoint change stays `Updating` for 4 simulated minutes.

After every step:

* no variant runs, or is asked to run, more instances than MAX_INSTANCE_COUNT, and no
  scalable target's MinCapacity is above it;
* at most one change in flight per endpoint: every capacity change the function makes
  finds the endpoint InService (AWS would reject it, or for a scalable target silently
  not move the count). This is checked at the AWS call, not from the incidents: an
  incident's `pending` keeps `called` until a later evaluation reads the change back, so
  two incidents may both show a called change when only one is really in flight;
* per clock hour, the 'acted' scale-up decisions stay within ACTIONS_PER_HOUR;
* a run while the mode is off or dry-run changes nothing in SageMaker or Application
  Auto Scaling (not even the rest of a step that was under way when the mode changed);
* an escalated incident gets no further 'acted' decision;
* an incident recovered had a change made for it (an 'acted' decision): an alarm that cleared
  before anything changed is closed, not recovered.

At the end all alarms return to OK (delivered), time passes beyond the verification and
scale-back windows with sweeps: every incident is closed, recovered or escalated.

Product bugs Hypothesis found are kept below as explicit tests with the minimal sequence
it found (both fixed: a step under way is followed in every mode, changed only in enforce).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import boto3
import pytest
import time_machine
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from botocore.client import BaseClient
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from localcloud.moto_extensions import fail_next_update, reset_simulation, set_update_seconds
from model_medic.platform import aws
from model_medic.platform.settings import load_settings
from tests.conftest import REGION, FakeContext, Stack, load_event, load_handler, make_endpoint, metric_alarm

if TYPE_CHECKING:
    from mypy_boto3_application_autoscaling import ApplicationAutoScalingClient
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_cloudwatch.literals import StateValueType
    from mypy_boto3_sagemaker import SageMakerClient

# Its random histories take minutes, in one test: a parallel run starts it first.
pytestmark = pytest.mark.longest
ENDPOINT = "churn-prod"
ACCOUNT = "123456789012"
T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
MAX_INSTANCES = 4
UPDATE_SECONDS = 240
VERIFY_MINUTES = 15
SCALE_BACK_MINUTES = 15
METRICS = {"HighLatency": "TotalLatency", "HighErrorRate": "ErrorRate"}
CAPACITY_CHANGES = {
    ("sagemaker", "UpdateEndpointWeightsAndCapacities"),
    ("application-autoscaling", "RegisterScalableTarget"),
}
READERS = ("Describe", "Get", "List")
# Examples per run: enough to meet each kind of step many times, small enough for CI.
EXAMPLES = int(os.environ.get("MODEL_MEDIC_PROPERTY_EXAMPLES", "50"))


# --- the world and the steps ----------------------------------------------------------------


@dataclass(frozen=True)
class World:
    target: bool  # the primary variant has an auto scaling target (MinCapacity is the lever)
    primary: int  # its instances at the start
    canary: int
    step: int
    cooldown: int  # minutes
    per_hour: int


worlds = st.builds(
    World,
    target=st.booleans(),
    primary=st.integers(1, 3),
    canary=st.integers(1, 2),
    step=st.integers(1, 2),
    cooldown=st.sampled_from([0, 5, 10]),
    per_hour=st.integers(1, 3),
)
suffixes = st.sampled_from(sorted(METRICS))
Step = tuple[Any, ...]
steps = st.one_of(
    # an alarm transition; delivered, or lost (only the sweep can find it)
    st.tuples(st.just("alarm"), suffixes, st.sampled_from(["ALARM", "OK"]), st.sampled_from([True, True, False])),
    st.tuples(st.just("alarm"), suffixes, st.just("ALARM"), st.just(True)),
    st.tuples(st.just("redeliver"), st.integers(0, 4)),  # 0: the last delivery again; more: an older one, late
    st.tuples(st.just("wait"), st.integers(1, 20)),
    st.tuples(st.just("wait"), st.integers(1, 20)),
    st.tuples(st.just("sweep")),
    st.tuples(st.just("sweep")),
    st.tuples(st.just("throttle"), st.integers(0, 60)),  # the n-th AWS call of the next run fails once
    st.tuples(st.just("deploy"), st.booleans()),  # someone else's UpdateEndpoint; True: it fails, rolls back
    st.tuples(st.just("deny")),  # the next capacity increase is answered AccessDenied
    st.tuples(st.just("mode"), st.sampled_from(["off", "dry-run", "inherit"])),
)
histories = st.lists(steps, min_size=1, max_size=24)


def alarm_event(suffix: str, state: str, at: datetime) -> dict[str, Any]:
    """The SNS delivery of a CloudWatch transition, shaped like events/scale_up/*.json."""
    event = load_event("scale_up/high_latency_alarm.json")
    name = f"{ENDPOINT}-{suffix}"
    body = json.loads(event["Records"][0]["Sns"]["Message"])
    body.update(
        AlarmName=name,
        AlarmArn=f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}",
        NewStateValue=state,
        OldStateValue="OK" if state == "ALARM" else "ALARM",
        NewStateReason=f"{suffix} {state} (property test)",
        StateChangeTime=at.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
    )
    body["Trigger"]["MetricName"] = METRICS[suffix]
    event["Records"][0]["Sns"]["Message"] = json.dumps(body)
    event["Records"][0]["Sns"]["Subject"] = f'{state}: "{name}" in US East (N. Virginia)'
    return event  # type: ignore[no-any-return]


def sweep_event(at: datetime) -> dict[str, Any]:
    event = load_event("scale_up/scale_back_sweep.json")
    event["time"] = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return event  # type: ignore[no-any-return]


def _error(code: str, operation: str, message: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 400}}, operation
    )


_HANDLER: list[Any] = []


def handler() -> Any:
    if not _HANDLER:
        _HANDLER.append(load_handler("scale_up"))
    return _HANDLER[0]


# --- one example ------------------------------------------------------------------------------


class Violation(AssertionError):
    pass


@dataclass
class Run:
    """What one invocation (with its redeliveries) did."""

    mode: str
    changes: list[str] = field(default_factory=list)  # capacity changes AWS accepted
    busy: list[str] = field(default_factory=list)  # capacity changes made while the endpoint was not InService


class Example:
    """A fresh moto world driven through one history, checking the invariants as it goes."""

    def __init__(self, world: World, clock: time_machine.Traveller, stack: Stack) -> None:
        self.world = world
        self.clock = clock
        self.stack = stack
        self.now = T0
        self.mode = "inherit"
        self.delivered: list[dict[str, Any]] = []
        self.transitions: dict[str, tuple[str, datetime]] = {}
        self.fail_at: int | None = None
        self.deny = False
        self.calls = 0
        self.run: Run | None = None
        self._inner = False  # the test's own reads inside an intercepted call pass through
        self.escalated: dict[str, int] = {}  # incident id -> 'acted' decisions when it was escalated
        self.log: list[str] = []
        self._sagemaker: SageMakerClient = boto3.client("sagemaker", region_name=REGION)
        self._autoscaling: ApplicationAutoScalingClient = boto3.client("application-autoscaling", region_name=REGION)
        self._cloudwatch: CloudWatchClient = boto3.client("cloudwatch", region_name=REGION)

    # the world

    def build(self) -> None:
        make_endpoint(
            ENDPOINT,
            {
                "primary": {"count": self.world.primary, "weight": 0.9},
                "canary": {"count": self.world.canary, "weight": 0.1},
            },
        )
        if self.world.target:
            self._autoscaling.register_scalable_target(
                ServiceNamespace="sagemaker",
                ResourceId=f"endpoint/{ENDPOINT}/variant/primary",
                ScalableDimension="sagemaker:variant:DesiredInstanceCount",
                MinCapacity=self.world.primary,
                MaxCapacity=6,  # above the bound: the bound must hold anyway
            )
        for suffix, metric in METRICS.items():
            name = f"{ENDPOINT}-{suffix}"
            metric_alarm(name, metric, "OK", threshold=5.0, reason="start")
            self.transitions[name] = ("OK", self.now)
        self.stack.drain("info"), self.stack.drain("critical"), self.stack.drain("events")
        self.advance(1)

    def advance(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)
        self.clock.move_to(self.now)

    # AWS calls of the function under test

    def intercept(self, client: BaseClient, operation: str, params: dict[str, Any], original: Any) -> Any:
        if self.run is None or self._inner:
            return original(client, operation, params)
        service = client.meta.service_model.service_name
        index = self.calls
        self.calls += 1
        if index == self.fail_at:
            self.fail_at = None
            raise _error("ThrottlingException", operation, "Rate exceeded (injected)")
        change = (service, operation) in CAPACITY_CHANGES
        if change:
            self._inner = True
            try:
                status = self._status()
                denied = self.deny and self._increases(operation, params)
            finally:
                self._inner = False
            if denied:
                self.deny = False
                raise _error("AccessDeniedException", operation, "not authorized (injected)")
        answer = original(client, operation, params)
        if change:
            self.run.changes.append(operation)
            if status != "InService":
                self.run.busy.append(f"{operation} while {status}")
        elif service in ("sagemaker", "application-autoscaling") and not operation.startswith(READERS):
            self.run.changes.append(operation)
        return answer

    def _status(self) -> str:
        return str(self._sagemaker.describe_endpoint(EndpointName=ENDPOINT)["EndpointStatus"])

    def _increases(self, operation: str, params: dict[str, Any]) -> bool:
        if operation == "RegisterScalableTarget":
            return int(params.get("MinCapacity", 0)) > self._min_capacity()
        counts = self._counts()
        return any(
            int(d.get("DesiredInstanceCount", 0)) > counts.get(d["VariantName"], (0, 0))[0]
            for d in params["DesiredWeightsAndCapacities"]
        )

    def _counts(self) -> dict[str, tuple[int, int]]:
        described = self._sagemaker.describe_endpoint(EndpointName=ENDPOINT)
        return {
            v["VariantName"]: (int(v.get("CurrentInstanceCount") or 0), int(v.get("DesiredInstanceCount") or 0))
            for v in described["ProductionVariants"]
        }

    def _min_capacity(self) -> int:
        targets = self._autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
        return max((int(t["MinCapacity"]) for t in targets), default=0)

    def invoke(self, event: dict[str, Any]) -> None:
        """One invocation, and Lambda's two retries if it raises (an injected fault only)."""
        self.run = Run(self.mode)
        self.calls = 0
        try:
            for attempt in range(3):
                injected = self.fail_at is not None
                try:
                    handler().lambda_handler(event, FakeContext())
                except (ClientError, GetParameterError) as error:
                    # Powertools wraps the kill switch's throttled GetParameter in GetParameterError.
                    throttled = isinstance(error, GetParameterError) or aws.error_code(error) == "ThrottlingException"
                    if not injected or not throttled or attempt == 2:
                        raise
                    self.calls = 0
                    continue
                break
            run = self.run
        finally:
            self.run = None
        self.fail_at = None  # a fault armed past the run's last call is not carried over
        if run.mode in ("off", "dry-run") and run.changes:
            raise Violation(f"{run.changes} made in mode {run.mode}")
        if run.busy:
            raise Violation(f"a second change while one was in flight: {run.busy}")

    # the steps

    def do(self, step: Step) -> None:
        self.log.append(repr(step))
        kind = step[0]
        if kind == "alarm":
            self.transition(step[1], step[2], delivered=step[3])
        elif kind == "redeliver":
            if self.delivered:
                self.invoke(self.delivered[-1 - step[1] % len(self.delivered)])
        elif kind == "wait":
            self.advance(step[1])
        elif kind == "sweep":
            self.invoke(sweep_event(self.now))
        elif kind == "throttle":
            self.fail_at = step[1]
        elif kind == "deploy":
            if step[1]:
                fail_next_update(ENDPOINT)
            try:
                self._sagemaker.update_endpoint(
                    EndpointName=ENDPOINT, EndpointConfigName=f"{ENDPOINT}-config-1", RetainAllVariantProperties=True
                )
            except ClientError as error:  # the endpoint is Updating: the other deployment is refused
                if "in-progress" not in str(error):
                    raise
        elif kind == "deny":
            self.deny = True
        elif kind == "mode":
            self.mode = step[1]
            self.stack.set_mode(step[1])
        self.check()

    def transition(self, suffix: str, state: StateValueType, delivered: bool) -> None:
        name = f"{ENDPOINT}-{suffix}"
        current, since = self.transitions[name]
        if current == state:
            return  # CloudWatch delivers nothing while the state does not change
        if since >= self.now:
            self.advance(1)  # two transitions of one alarm are never at the same instant
        self._cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason=f"{state} (property test)")
        self.transitions[name] = (state, self.now)
        event = alarm_event(suffix, state, self.now)
        if delivered:
            self.delivered.append(event)
            self.invoke(event)

    # the invariants

    def check(self) -> None:
        for variant, (current, desired) in self._counts().items():
            if max(current, desired) > MAX_INSTANCES:
                raise Violation(f"{variant} runs {current} (desired {desired}) > {MAX_INSTANCES}")
        if self.world.target and self._min_capacity() > MAX_INSTANCES:
            raise Violation(f"MinCapacity {self._min_capacity()} > {MAX_INSTANCES}")
        incidents = [json.loads(i["body"]) for i in self.stack.items("incident")]
        acted = [d for d in self.stack.items("decision") if d["result"] == "acted" and d["action"] == "scale-up"]
        per_hour = Counter(d["at"][:13] for d in acted)
        over = {hour: n for hour, n in per_hour.items() if n > self.world.per_hour}
        if over:
            raise Violation(f"acted more than {self.world.per_hour} times an hour: {over}")
        per_incident = Counter(d["incident"] for d in acted)
        for incident_id, seen in self.escalated.items():
            if per_incident[incident_id] > seen:
                raise Violation(f"incident {incident_id} acted again after it was escalated")
        for incident in incidents:
            if incident["state"] == "escalated":
                self.escalated.setdefault(incident["id"], per_incident[incident["id"]])
            if incident["state"] == "recovered" and not per_incident[incident["id"]]:
                raise Violation(f"incident {incident['id']} recovered with nothing changed for it")

    def finish(self) -> None:
        """Automation on, every alarm back to OK (delivered); then time passes with sweeps.

        Automation is switched back on first, as an operator would after an experiment.
        """
        self.fail_at = None
        self.mode = "inherit"
        self.stack.set_mode("inherit")
        for suffix in METRICS:
            self.transition(suffix, "OK", delivered=True)
        self.check()
        for _ in range(4):
            self.advance(VERIFY_MINUTES + 5)
            self.invoke(sweep_event(self.now))
            self.check()
        unfinished = [
            (i["alarm_name"], i["state"], i.get("pending"))
            for i in (json.loads(item["body"]) for item in self.stack.items("incident"))
            if i.get("closed_at") is None and i["state"] not in ("escalated", "recovered")
        ]
        if unfinished:
            raise Violation(f"incidents that never ended: {unfinished}")


@contextmanager
def example(monkeypatch: pytest.MonkeyPatch, world: World) -> Iterator[Example]:
    """A fresh moto account, stack, clock and function settings for one example."""
    reset_simulation()
    try:
        with monkeypatch.context() as patch, mock_aws(), time_machine.travel(T0, tick=False) as clock:
            stack = Stack()
            env = {
                **stack.env(),
                "MAX_INSTANCE_COUNT": str(MAX_INSTANCES),
                "SCALE_STEP": str(world.step),
                "SCALE_UP_COOLDOWN_MINUTES": str(world.cooldown),
                "SCALE_UP_VERIFY_MINUTES": str(VERIFY_MINUTES),
                "SCALE_BACK_AFTER_MINUTES": str(SCALE_BACK_MINUTES),
                "ACTIONS_PER_HOUR": str(world.per_hour),
                "POWERTOOLS_SERVICE_NAME": "scale-up",
            }
            for name, value in env.items():
                patch.setenv(name, value)
            aws.reset()
            load_settings.cache_clear()
            set_update_seconds(UPDATE_SECONDS)
            driven = Example(world, clock, stack)
            driven.build()
            original = BaseClient._make_api_call

            def call(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
                return driven.intercept(self, operation, params, original)

            patch.setattr(BaseClient, "_make_api_call", call)
            yield driven
    finally:
        reset_simulation()
        aws.reset()
        load_settings.cache_clear()


def replay(monkeypatch: pytest.MonkeyPatch, world: World, history: list[Step]) -> None:
    with example(monkeypatch, world) as driven:
        for step in history:
            driven.do(step)
        driven.finish()


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    # No shrinking in the suite (it can take minutes); the failing history is printed as drawn.
    phases=[Phase.explicit, Phase.generate],
    derandomize=os.environ.get("MODEL_MEDIC_PROPERTY_RANDOM") != "1",  # CI: the same examples every run
    database=None,  # nothing written into the working tree
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(world=worlds, history=histories)
def test_control_loop_invariants_hold_over_random_histories(
    monkeypatch: pytest.MonkeyPatch, world: World, history: list[Step]
) -> None:
    replay(monkeypatch, world, history)


# --- histories Hypothesis found that once broke an invariant (minimal) -----------------------


def test_an_incident_with_a_change_in_flight_ends_while_automation_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    world = World(target=True, primary=2, canary=1, step=1, cooldown=10, per_hour=2)
    with example(monkeypatch, world) as driven:
        driven.do(("alarm", "HighLatency", "ALARM", True))  # step 1 in flight: endpoint Updating 4 min
        driven.do(("mode", "off"))
        driven.transition("HighLatency", "OK", delivered=True)
        for _ in range(4):
            driven.advance(VERIFY_MINUTES + 5)
            driven.invoke(sweep_event(driven.now))
        [incident] = [json.loads(i["body"]) for i in driven.stack.items("incident")]
        assert incident["closed_at"] is not None or incident["state"] in ("recovered", "escalated"), incident


def test_nothing_is_changed_in_dry_run_even_with_a_step_in_flight(monkeypatch: pytest.MonkeyPatch) -> None:
    world = World(target=False, primary=1, canary=1, step=1, cooldown=10, per_hour=3)
    history: list[Step] = [
        ("alarm", "HighLatency", "ALARM", True),  # primary 1 -> 2 made; canary 1 -> 2 waits for InService
        ("mode", "dry-run"),
        ("wait", 5),
    ]
    with example(monkeypatch, world) as driven:
        for step in history:
            driven.do(step)
        driven.run = Run("dry-run")
        driven.mode = "dry-run"
        handler().lambda_handler(sweep_event(driven.now), FakeContext())
        made = driven.run.changes
        driven.run = None
        assert made == [], f"{made} made in dry-run"
