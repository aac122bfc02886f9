"""The safety gates of DESIGN.md §4 against moto: mode, once per transition, cool-down,
budget, preconditions, bounds, failures, and what is recorded and told for each."""

import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from model_medic import runtime
from model_medic.alarms import AlarmEvent, parse_alarms
from model_medic.gates import GateRejection, Plan
from model_medic.outcome import Notifier, Outcome
from model_medic.settings import ActionSettings, load_settings
from tests.conftest import Stack, load_event, make_endpoint

ENDPOINT = "churn-prod"
T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now


@dataclass
class AddInstance:
    """A test remediation: one more instance on AllTraffic, up to a maximum."""

    maximum: int = 10
    cooldown: timedelta = timedelta(minutes=10)
    action: str = "add-instance"
    states: frozenset[str] = frozenset({"ALARM"})
    fail_with: Exception | None = None
    executed: list[str] = field(default_factory=list)

    def plan(self, alarm: AlarmEvent) -> Plan:
        endpoint = boto3.client("sagemaker").describe_endpoint(EndpointName=alarm.endpoint)
        if endpoint["EndpointStatus"] != "InService":
            return Plan("", skip=f"endpoint is {endpoint['EndpointStatus']}")
        current = endpoint["ProductionVariants"][0]["CurrentInstanceCount"]
        if current >= self.maximum:
            return Plan("", bound=f"AllTraffic is at its maximum of {self.maximum}", changes={"count": current})
        return Plan(f"AllTraffic {current} -> {current + 1}", changes={"from": current, "to": current + 1})

    def execute(self, alarm: AlarmEvent, plan: Plan) -> dict[str, Any]:
        if self.fail_with is not None:
            raise self.fail_with
        self.executed.append(alarm.transition_id)
        boto3.client("sagemaker").update_endpoint_weights_and_capacities(
            EndpointName=alarm.endpoint,
            DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": plan.changes["to"]}],
        )
        return {"updated": True}


def instance_count() -> int:
    endpoint = boto3.client("sagemaker").describe_endpoint(EndpointName=ENDPOINT)
    return int(endpoint["ProductionVariants"][0]["CurrentInstanceCount"])


def alarm_at(when: datetime, state: str = "ALARM") -> AlarmEvent:
    event = load_event("alarms/sns_high_latency_alarm.json")
    message = json.loads(event["Records"][0]["Sns"]["Message"])
    message["StateChangeTime"] = when.strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    message["NewStateValue"] = state
    event["Records"][0]["Sns"]["Message"] = json.dumps(message)
    return parse_alarms(event)[0]


@pytest.fixture
def world(stack: Stack) -> Stack:
    make_endpoint(ENDPOINT)
    return stack


def gates(clock: Clock | None = None, **env: str):
    return runtime.gates(load_settings(ActionSettings), None, clock or Clock())


def decisions(stack: Stack) -> list[dict[str, Any]]:
    return sorted(stack.items("decision"), key=lambda d: d["sk"])


def test_enforce_acts_records_and_tells(world: Stack):
    outcome = gates().run(alarm_at(T0), AddInstance())
    assert (outcome.result, outcome.mode) == ("acted", "enforce")
    assert instance_count() == 2
    [decision] = decisions(world)
    assert (decision["result"], decision["action"], decision["endpoint"]) == ("acted", "add-instance", ENDPOINT)
    assert json.loads(decision["changes"]) == {"from": 1, "to": 2, "updated": True}
    [told] = world.drain("info")  # SQS subscribers get the machine-readable body
    assert json.loads(told["Message"]) == outcome.as_dict()
    [event] = world.drain("events")
    assert event["detail-type"] == "Remediation Outcome"
    assert event["detail"]["result"] == "acted"


def test_off_changes_nothing_but_records_the_decision(world: Stack, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AUTOMATION_MODE", "off")
    remediation = AddInstance()
    outcome = gates().run(alarm_at(T0), remediation)
    assert (outcome.result, outcome.gate) == ("skipped", "mode")
    assert remediation.executed == []
    assert instance_count() == 1
    assert [d["result"] for d in decisions(world)] == ["skipped"]
    assert world.drain("info") == []
    assert [e["detail"]["gate"] for e in world.drain("events")] == ["mode"]


def test_dry_run_from_the_kill_switch_changes_nothing_and_says_what_it_would_do(world: Stack):
    world.set_mode("dry-run")  # the stack says enforce; the switch wins
    remediation = AddInstance()
    outcome = gates().run(alarm_at(T0), remediation)
    assert (outcome.result, outcome.mode) == ("dry-run", "dry-run")
    assert remediation.executed == []
    assert instance_count() == 1
    [decision] = decisions(world)
    assert decision["result"] == "dry-run"
    assert decision["reason"] == "AllTraffic 1 -> 2"
    [told] = world.drain("info")
    assert json.loads(told["Message"])["result"] == "dry-run"
    # A dry run takes no cool-down lock: switching to enforce acts at once.
    world.set_mode("enforce")
    assert gates().run(alarm_at(T0 + timedelta(minutes=1)), remediation).result == "acted"


def test_kill_switch_off_overrides_an_enforcing_stack(world: Stack):
    world.set_mode("off")
    assert gates().run(alarm_at(T0), AddInstance()).gate == "mode"
    assert instance_count() == 1


@pytest.mark.parametrize("value", ["ENFORCE", "yes", "enforce please"])
def test_kill_switch_with_an_unknown_value_means_dry_run(world: Stack, value: str):
    world.set_mode(value)
    assert gates().run(alarm_at(T0), AddInstance()).result == "dry-run"
    assert instance_count() == 1


def test_missing_kill_switch_means_dry_run(world: Stack):
    world.ssm.delete_parameter(Name=world.mode_parameter)
    assert gates().run(alarm_at(T0), AddInstance()).result == "dry-run"


def test_a_hundred_deliveries_of_one_transition_act_once(world: Stack):
    remediation = AddInstance()
    safety = gates()
    outcomes = [safety.run(alarm_at(T0), remediation) for _ in range(100)]
    assert len(remediation.executed) == 1
    assert instance_count() == 2
    assert [o.replayed for o in outcomes].count(False) == 1
    assert {o.result for o in outcomes} == {"acted"}
    assert [d["result"] for d in decisions(world)] == ["acted"]
    assert len(world.drain("info")) == 1
    assert len(world.drain("events")) == 1


def test_ten_threads_racing_on_one_transition_act_once(world: Stack):
    remediation = AddInstance()
    start = threading.Barrier(10)
    results: list[str] = []
    errors: list[BaseException] = []

    def deliver() -> None:
        safety = gates()
        start.wait()
        try:
            results.append(safety.run(alarm_at(T0), remediation).result)
        except BaseException as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=deliver) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(results) == 10
    assert len(remediation.executed) == 1
    assert instance_count() == 2
    assert [d["result"] for d in decisions(world)] == ["acted"]


def test_ten_threads_racing_on_different_transitions_are_serialised_by_the_cooldown(world: Stack):
    remediation = AddInstance()
    start = threading.Barrier(10)
    results: list[str] = []

    def deliver(minute: int) -> None:
        safety = gates()
        start.wait()
        results.append(safety.run(alarm_at(T0 + timedelta(seconds=minute)), remediation).gate or "acted")

    threads = [threading.Thread(target=deliver, args=(i,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(remediation.executed) == 1
    assert sorted(results) == ["acted"] + ["cooldown"] * 9
    assert instance_count() == 2


def test_cooldown_stops_the_next_action_and_says_until_when(world: Stack):
    clock = Clock()
    remediation = AddInstance(cooldown=timedelta(minutes=10))
    assert gates(clock).run(alarm_at(T0), remediation).result == "acted"
    clock.now = T0 + timedelta(minutes=5)
    second = gates(clock).run(alarm_at(clock.now), remediation)
    assert (second.result, second.gate) == ("skipped", "cooldown")
    assert "cooling down until 2026-11-22T10:10:00+00:00" in second.reason
    clock.now = T0 + timedelta(minutes=10)
    assert gates(clock).run(alarm_at(clock.now), remediation).result == "acted"
    assert instance_count() == 3


def test_hourly_budget_stops_the_next_action_and_calls_a_person(world: Stack, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ACTIONS_PER_HOUR", "2")
    clock = Clock()
    remediation = AddInstance(cooldown=timedelta(0))
    results = []
    for minute in (0, 1, 2):
        clock.now = T0 + timedelta(minutes=minute)
        results.append(gates(clock).run(alarm_at(clock.now), remediation))
    assert [r.result for r in results] == ["acted", "acted", "bound-reached"]
    assert results[2].gate == "budget"
    assert "hourly budget of 2 actions for churn-prod is spent" in results[2].reason
    assert instance_count() == 3
    [critical] = world.drain("critical")
    assert json.loads(critical["Message"])["gate"] == "budget"
    # The next hour has a fresh budget.
    clock.now = T0 + timedelta(hours=1)
    assert gates(clock).run(alarm_at(clock.now), remediation).result == "acted"


def test_a_dry_run_reports_the_cooldown_it_would_hit(world: Stack):
    clock = Clock()
    assert gates(clock).run(alarm_at(T0), AddInstance()).result == "acted"
    world.set_mode("dry-run")
    clock.now = T0 + timedelta(minutes=1)
    outcome = gates(clock).run(alarm_at(clock.now), AddInstance())
    assert (outcome.result, outcome.gate) == ("skipped", "cooldown")


def test_states_the_action_does_not_handle_are_skipped(world: Stack):
    remediation = AddInstance()
    outcome = gates().run(alarm_at(T0, state="OK"), remediation)
    assert (outcome.result, outcome.gate) == ("skipped", "state")
    assert remediation.executed == []


def test_a_bound_stops_the_action_releases_the_claim_and_calls_a_person(world: Stack):
    clock = Clock()
    outcome = gates(clock).run(alarm_at(T0), AddInstance(maximum=1))
    assert (outcome.result, outcome.gate) == ("bound-reached", "bound")
    assert "maximum of 1" in outcome.reason
    assert instance_count() == 1
    assert len(world.drain("critical")) == 1
    # The refused action did not spend the cool-down.
    clock.now = T0 + timedelta(minutes=1)
    assert gates(clock).run(alarm_at(clock.now), AddInstance(maximum=5)).result == "acted"


def test_a_failed_precondition_skips_and_releases_the_claim(world: Stack, monkeypatch: pytest.MonkeyPatch):
    clock = Clock()
    original = AddInstance.plan
    monkeypatch.setattr(AddInstance, "plan", lambda self, alarm: Plan("", skip="endpoint is Updating"))
    outcome = gates(clock).run(alarm_at(T0), AddInstance())
    assert (outcome.result, outcome.gate, outcome.reason) == ("skipped", "precondition", "endpoint is Updating")
    monkeypatch.setattr(AddInstance, "plan", original)
    clock.now = T0 + timedelta(minutes=1)
    assert gates(clock).run(alarm_at(clock.now), AddInstance()).result == "acted"


def test_a_failed_action_is_recorded_told_and_raised_so_lambda_retries(world: Stack):
    failing = AddInstance(fail_with=RuntimeError("SageMaker said no"))
    with pytest.raises(RuntimeError, match="SageMaker said no"):
        gates().run(alarm_at(T0), failing)
    assert [d["result"] for d in decisions(world)] == ["failed"]
    [critical] = world.drain("critical")
    assert json.loads(critical["Message"])["reason"] == "RuntimeError: SageMaker said no"
    # Lambda's retry of the same transition acts: no idempotency record, no lock, no spent budget.
    healthy = AddInstance()
    assert gates().run(alarm_at(T0), healthy).result == "acted"
    assert healthy.executed == [alarm_at(T0).transition_id]


def test_a_permanent_aws_answer_is_recorded_and_told_once_not_retried(world: Stack):
    # An alarm for an endpoint that does not exist: SageMaker's ValidationException is the
    # same on every retry, so it is a decision (recorded, one critical message), not a DLQ entry.
    event = load_event("alarms/sns_high_latency_alarm.json")
    message = json.loads(event["Records"][0]["Sns"]["Message"])
    message["Trigger"]["Dimensions"] = [{"name": "EndpointName", "value": "churn-gone"}]
    event["Records"][0]["Sns"]["Message"] = json.dumps(message)
    [alarm] = parse_alarms(event)
    first = gates().run(alarm, AddInstance())
    again = gates().run(alarm, AddInstance())
    assert (first.result, first.gate) == ("failed", "permanent-error")
    assert first.reason.startswith("ValidationException: ")
    assert again.replayed
    assert [(d["result"], d["gate"]) for d in decisions(world)] == [("failed", "permanent-error")]
    assert len(world.drain("critical")) == 1
    # Nothing was claimed: the cool-down of the endpoint named is free.
    assert world.items("cooldown") == []


def test_when_telling_fails_the_retry_tells_but_does_not_act_again(world: Stack, monkeypatch: pytest.MonkeyPatch):
    remediation = AddInstance()
    from model_medic.outcome import Notifier

    real_tell = Notifier.tell
    calls = {"n": 0}

    def flaky_tell(self: Notifier, outcome: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("SNS unreachable")
        real_tell(self, outcome)

    monkeypatch.setattr(Notifier, "tell", flaky_tell)
    with pytest.raises(ConnectionError):
        gates().run(alarm_at(T0), remediation)
    retry = gates().run(alarm_at(T0), remediation)
    assert retry.replayed
    assert len(remediation.executed) == 1
    assert len(world.drain("info")) == 1
    # A third delivery neither acts nor tells.
    gates().run(alarm_at(T0), remediation)
    assert world.drain("info") == []


def test_an_alarm_without_an_endpoint_is_rejected_and_changes_nothing(world: Stack):
    composite = parse_alarms(load_event("alarms/sns_composite_alarm.json"))[0]
    with pytest.raises(GateRejection, match="no EndpointName or Endpoint dimension \\(composite alarm\\)"):
        gates().run(composite, AddInstance())
    assert decisions(world) == []


def test_run_alarms_rejects_malformed_events_without_raising(world: Stack):
    result = runtime.run_alarms({"Records": "nope"}, None, load_settings(ActionSettings), lambda a: AddInstance())
    assert result == {"outcomes": [], "rejected": ["'Records' must be a non-empty list"]}
    assert decisions(world) == []


def test_run_alarms_handles_every_record_of_a_batch(world: Stack):
    make_endpoint("fraud-prod")
    result = runtime.run_alarms(
        load_event("alarms/sns_batch_two_records.json"), None, load_settings(ActionSettings), lambda a: AddInstance()
    )
    assert [o["endpoint"] for o in result["outcomes"]] == ["churn-prod", "fraud-prod"]
    assert {o["result"] for o in result["outcomes"]} == {"acted"}


def test_a_redelivery_after_a_failed_precondition_is_evaluated_again(world: Stack, monkeypatch: pytest.MonkeyPatch):
    original = AddInstance.plan
    monkeypatch.setattr(AddInstance, "plan", lambda self, alarm: Plan("", skip="endpoint is Updating"))
    assert gates().run(alarm_at(T0), AddInstance()).gate == "precondition"
    monkeypatch.setattr(AddInstance, "plan", original)
    # The same transition, delivered again once the endpoint is InService, acts.
    assert gates(Clock(T0 + timedelta(minutes=2))).run(alarm_at(T0), AddInstance()).result == "acted"


def test_a_message_attribute_without_a_value_is_left_out_not_refused_by_sns(world: Stack):
    # SNS refuses an empty attribute value (InvalidParameter, after the decision was made).
    # The intake keeps endpoints non-empty; an outcome outside any incident has no incident id.
    outcome = Outcome(
        action="scale-back",
        endpoint="",
        result="acted",
        reason="capacity given back",
        mode="enforce",
        alarm_name="",
        alarm_arn="",
        transition="t",
        state="OK",
        at=T0.isoformat(),
    )
    sns = boto3.client("sns")
    published: list[dict[str, Any]] = []
    real = sns.publish

    def publish(**kwargs: Any) -> Any:
        published.append(kwargs)
        return real(**kwargs)

    sns.publish = publish  # type: ignore[method-assign]
    Notifier(sns, boto3.client("events"), world.topics["info"], world.topics["critical"], "default").publish(outcome)
    assert sorted(published[0]["MessageAttributes"]) == ["action", "result"]
    assert len(world.drain("info")) == 1
