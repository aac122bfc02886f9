"""ScaleUpFunction against moto: incidents, one variant's change per call, further steps by
the sweep while the alarm lasts, verification and escalation, and the way back."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
import time_machine
from botocore.exceptions import ClientError

from localcloud.moto_extensions import lag_next_update, set_update_seconds
from tests.conftest import (
    AwsCalls,
    FakeContext,
    Stack,
    bodies,
    decisions,
    load_event,
    load_handler,
    make_endpoint,
    metric_alarm,
    stored_incidents,
)
from tests.real_endpoints import MODEL_ROLE, create_in_moto, load

ENDPOINT = "churn-prod"
OPENED = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)  # StateChangeTime of the sample ALARM events
DELIVERED = OPENED + timedelta(seconds=30)
LATENCY = f"{ENDPOINT}-HighLatency"
ERROR_RATE = f"{ENDPOINT}-HighErrorRate"

Requests = list[tuple[str, str, dict[str, Any]]]


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    """The wall clock the handler (alarm deliveries) and moto read; moved by the tests."""
    with time_machine.travel(OPENED, tick=False) as traveller:
        yield traveller


@pytest.fixture
def fn(stack: Stack, clock: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, value in {
        "MAX_INSTANCE_COUNT": "4",
        "SCALE_STEP": "1",
        "SCALE_UP_COOLDOWN_MINUTES": "10",
        "SCALE_UP_VERIFY_MINUTES": "15",
        "SCALE_BACK_AFTER_MINUTES": "15",
        "POWERTOOLS_SERVICE_NAME": "scale-up",
    }.items():
        monkeypatch.setenv(name, value)
    return load_handler("scale_up")


def invoke(fn: Any, event: Any) -> dict[str, Any]:
    return fn.lambda_handler(event, FakeContext())  # type: ignore[no-any-return]


def deliver(fn: Any, clock: time_machine.Traveller, event: Any, at: datetime = DELIVERED) -> list[dict[str, Any]]:
    """An alarm delivery arriving at `at` (the real clock)."""
    clock.move_to(at)
    return invoke(fn, event)["outcomes"]  # type: ignore[no-any-return]


def sweep(fn: Any, clock: time_machine.Traveller, at: datetime) -> list[dict[str, Any]]:
    """The 5-minute schedule firing at `at`."""
    clock.move_to(at)
    event = load_event("scale_up/scale_back_sweep.json")
    event["time"] = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return invoke(fn, event)["outcomes"]  # type: ignore[no-any-return]


def sns_alarm(relative: str, **message: Any) -> dict[str, Any]:
    """A sample SNS alarm delivery with some keys of its CloudWatch message replaced."""
    event = load_event(relative)
    body = json.loads(event["Records"][0]["Sns"]["Message"])
    body.update(message)
    event["Records"][0]["Sns"]["Message"] = json.dumps(body)
    return event  # type: ignore[no-any-return]


def latency_alarm(endpoint: str = ENDPOINT) -> dict[str, Any]:
    return sns_alarm(
        "scale_up/high_latency_alarm.json",
        AlarmName=f"{endpoint}-HighLatency",
        AlarmArn=f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{endpoint}-HighLatency",
        Trigger={
            **json.loads(load_event("scale_up/high_latency_alarm.json")["Records"][0]["Sns"]["Message"])["Trigger"],
            "Dimensions": [{"value": endpoint, "name": "EndpointName"}],
        },
    )


def ok_at(at: datetime, relative: str = "scale_up/high_latency_ok.json") -> dict[str, Any]:
    return sns_alarm(relative, StateChangeTime=at.strftime("%Y-%m-%dT%H:%M:%S.000+0000"))


def counts() -> dict[str, int]:
    described = boto3.client("sagemaker").describe_endpoint(EndpointName=ENDPOINT)
    return {v["VariantName"]: int(v["CurrentInstanceCount"]) for v in described["ProductionVariants"]}


def scalable_target(variant: str, minimum: int, maximum: int, endpoint: str = ENDPOINT) -> None:
    boto3.client("application-autoscaling").register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId=f"endpoint/{endpoint}/variant/{variant}",
        ScalableDimension="sagemaker:variant:DesiredInstanceCount",
        MinCapacity=minimum,
        MaxCapacity=maximum,
    )


def min_capacity(variant: str) -> int:
    targets = boto3.client("application-autoscaling").describe_scalable_targets(
        ServiceNamespace="sagemaker", ResourceIds=[f"endpoint/{ENDPOINT}/variant/{variant}"]
    )["ScalableTargets"]
    return int(targets[0]["MinCapacity"])


def scale_up_alarms(states: dict[str, str], endpoint: str = ENDPOINT) -> None:
    """The template's two scale-up alarms in CloudWatch, in the given states (at the clock's time)."""
    for suffix, state in states.items():
        errors = suffix == "HighErrorRate"
        metric_alarm(
            f"{endpoint}-{suffix}",
            "ErrorRate" if errors else "TotalLatency",
            state,
            endpoint=endpoint,
            threshold=5.0 if errors else 1000.0,
        )


def set_alarm(name: str, state: str, reason: str = "test") -> None:
    boto3.client("cloudwatch").set_alarm_state(AlarmName=name, StateValue=state, StateReason=reason)


def events(stack: Stack) -> list[dict[str, Any]]:
    return [e["detail"] for e in stack.drain("events")]


def update_calls(requests: Requests) -> list[list[dict[str, Any]]]:
    return [p["DesiredWeightsAndCapacities"] for _, op, p in requests if op == "UpdateEndpointWeightsAndCapacities"]


# --- acting on a transition ----------------------------------------------------------------


def test_latency_alarm_opens_an_incident_and_boosts_each_variant_with_traffic_in_its_own_call(
    fn: Any, stack: Stack, clock: time_machine.Traveller, aws_requests: Requests
) -> None:
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 0.9}, "canary": {"count": 1, "weight": 0.1}})
    [outcome] = deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))
    assert (outcome["result"], outcome["reason"]) == (
        "acted",
        "primary instance-count 2 -> 3; canary instance-count 1 -> 2",
    )
    # AWS changes one variant's capacity per call.
    assert update_calls(aws_requests) == [
        [{"VariantName": "primary", "DesiredInstanceCount": 3}],
        [{"VariantName": "canary", "DesiredInstanceCount": 2}],
    ]
    assert counts() == {"primary": 3, "canary": 2}
    [incident] = stored_incidents(stack)
    assert outcome["incident"] == incident["id"]
    assert incident["id"].startswith("2026-11-22T10:00:00+00:00#")
    assert (incident["alarm_name"], incident["state"], incident["steps"]) == (LATENCY, "verifying", 1)
    assert incident["verify_until"] == (DELIVERED + timedelta(minutes=15)).isoformat()
    assert [e["what"] for e in incident["timeline"]] == ["detected", "action", "in-service", "action", "in-service"]
    # Each boost is remembered with the floor to return to.
    boosts = {b["variant"]: (int(b["original"]), int(b["boosted_to"])) for b in stack.items("boost")}
    assert boosts == {"primary": (2, 3), "canary": (1, 2)}
    [told] = bodies(stack, "info")
    assert (told["result"], told["incident"]) == ("acted", incident["id"])
    assert [c["variant"] for c in told["changes"]["changes"]] == ["primary", "canary"]
    assert [e["incident"] for e in events(stack) if e["result"] == "acted"] == [incident["id"]]
    assert bodies(stack, "critical") == []


def test_a_variant_without_traffic_is_left_alone(fn: Any, stack: Stack, clock: time_machine.Traveller) -> None:
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 1.0}, "canary": {"count": 1, "weight": 0.0}})
    [outcome] = deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))
    assert outcome["reason"] == "primary instance-count 2 -> 3"
    assert counts() == {"primary": 3, "canary": 1}


def test_a_variant_alarm_scales_only_that_variant(fn: Any, stack: Stack, clock: time_machine.Traveller) -> None:
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 0.5}, "canary": {"count": 1, "weight": 0.5}})
    event = load_event("alarms/eventbridge_alarm_state_change.json")  # dimensions name the canary
    [outcome] = deliver(fn, clock, event)
    assert outcome["reason"] == "canary instance-count 1 -> 2"
    assert counts() == {"primary": 2, "canary": 2}


def test_the_step_is_cut_at_the_maximum(
    fn: Any, stack: Stack, clock: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCALE_STEP", "5")
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 1.0}})
    [outcome] = deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))
    assert outcome["reason"] == "primary instance-count 2 -> 4 (cut at MaxInstanceCount, the maximum 4 instances)"
    assert counts() == {"primary": 4}


def test_with_a_scalable_target_the_floor_is_raised_and_the_incident_waits_for_the_instances(
    fn: Any, stack: Stack, clock: time_machine.Traveller, aws_calls: AwsCalls
) -> None:
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 1.0}})
    scalable_target("primary", minimum=2, maximum=6)
    scale_up_alarms({"HighLatency": "ALARM"})
    set_update_seconds(300)  # the raised floor scales the variant; that takes 5 minutes
    aws_calls.made.clear()
    [outcome] = deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))
    assert (outcome["result"], outcome["reason"]) == ("acted", "primary min-capacity 2 -> 3")
    assert "UpdateEndpointWeightsAndCapacities" not in aws_calls.of("sagemaker")
    assert aws_calls.of("application-autoscaling").count("RegisterScalableTarget") == 1
    assert min_capacity("primary") == 3
    assert stored_incidents(stack)[0]["state"] == "waiting"
    # The instances are not there yet: the sweep waits, it does not raise the floor again.
    sweep(fn, clock, OPENED + timedelta(minutes=3))
    assert stored_incidents(stack)[0]["state"] == "waiting"
    assert aws_calls.of("application-autoscaling").count("RegisterScalableTarget") == 1
    [verifying] = sweep(fn, clock, OPENED + timedelta(minutes=6))
    assert (verifying["gate"], verifying["result"]) == ("verifying", "skipped")
    [incident] = stored_incidents(stack)
    assert incident["state"] == "verifying"
    assert incident["verify_until"] == (OPENED + timedelta(minutes=21)).isoformat()
    assert counts() == {"primary": 3}
    assert len(decisions(stack, "acted")) == 1


def test_each_variants_change_waits_until_the_endpoint_is_in_service_again(
    fn: Any, stack: Stack, clock: time_machine.Traveller, aws_requests: Requests
) -> None:
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 0.5}, "canary": {"count": 1, "weight": 0.5}})
    scale_up_alarms({"HighLatency": "ALARM"})
    set_update_seconds(120)
    [acted] = deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))
    assert (acted["result"], acted["reason"]) == (
        "acted",
        "primary instance-count 2 -> 3; canary instance-count 1 -> 2",
    )
    assert update_calls(aws_requests) == [[{"VariantName": "primary", "DesiredInstanceCount": 3}]]
    sweep(fn, clock, OPENED + timedelta(minutes=2))  # primary still Updating (until 10:02:30)
    assert len(update_calls(aws_requests)) == 1
    sweep(fn, clock, OPENED + timedelta(minutes=3))  # primary InService: the canary's turn
    assert update_calls(aws_requests)[1:] == [[{"VariantName": "canary", "DesiredInstanceCount": 2}]]
    assert stored_incidents(stack)[0]["state"] == "waiting"
    sweep(fn, clock, OPENED + timedelta(minutes=6))
    [incident] = stored_incidents(stack)
    assert incident["state"] == "verifying"
    assert incident["verify_until"] == (OPENED + timedelta(minutes=21)).isoformat()
    assert [e["what"] for e in incident["timeline"]] == ["detected", "action", "in-service", "action", "in-service"]
    assert counts() == {"primary": 3, "canary": 2}
    assert len(update_calls(aws_requests)) == 2
    assert len(decisions(stack, "acted")) == 1
    assert [b["result"] for b in bodies(stack, "info")] == ["acted"]


@pytest.mark.parametrize("status", ["InService", "Updating"])
def test_a_change_aws_does_not_show_yet_right_after_its_call_is_waited_for_not_failed(
    fn: Any, stack: Stack, clock: time_machine.Traveller, status: str
) -> None:
    """Read back in the same invocation, the endpoint still shows the old count (InService: AWS
    has not started; Updating: the count asked not shown yet): the step waits for the next look,
    which reads it done, and nobody hears of a failure."""
    make_endpoint(ENDPOINT, {"primary": {"count": 1, "weight": 1.0}})
    scale_up_alarms({"HighLatency": "ALARM"})
    set_update_seconds(120)
    lag_next_update(ENDPOINT, status=status)
    [acted] = deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))
    assert (acted["result"], acted["reason"]) == ("acted", "primary instance-count 1 -> 2")
    assert stored_incidents(stack)[0]["state"] == "waiting"
    sweep(fn, clock, OPENED + timedelta(minutes=3))  # InService at 2 since 10:02:30
    [incident] = stored_incidents(stack)
    assert incident["state"] == "verifying"
    assert [e["what"] for e in incident["timeline"]] == ["detected", "action", "in-service"]
    assert counts() == {"primary": 2}
    assert [b["result"] for b in bodies(stack, "info")] == ["acted"]
    assert bodies(stack, "critical") == []


def test_an_endpoint_still_updating_with_the_old_count_at_a_later_look_is_waited_for_until_it_settles(
    fn: Any, stack: Stack, clock: time_machine.Traveller
) -> None:
    """A later look that finds the endpoint Updating without the count asked waits too: only a
    settled endpoint says whether the change took."""
    make_endpoint(ENDPOINT, {"primary": {"count": 1, "weight": 1.0}})
    scale_up_alarms({"HighLatency": "ALARM"})
    set_update_seconds(300)
    lag_next_update(ENDPOINT, reads=2, status="Updating")
    deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))
    sweep(fn, clock, OPENED + timedelta(minutes=2))  # the second read shown late: Updating at 1
    assert stored_incidents(stack)[0]["state"] == "waiting"
    sweep(fn, clock, OPENED + timedelta(minutes=6))
    assert stored_incidents(stack)[0]["state"] == "verifying"
    assert counts() == {"primary": 2}
    assert bodies(stack, "critical") == []


def test_the_boost_starts_from_what_runs_when_autoscaling_already_went_above_the_floor(
    fn: Any, stack: Stack, clock: time_machine.Traveller
) -> None:
    make_endpoint(ENDPOINT, {"primary": {"count": 3, "weight": 1.0}})
    scalable_target("primary", minimum=1, maximum=6)
    [outcome] = deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))
    assert outcome["reason"] == "primary min-capacity 1 -> 4"
    assert min_capacity("primary") == 4


# --- the loop: further steps, the bound, verification, escalation ------------------------------


def test_while_the_alarm_lasts_the_sweep_steps_up_after_each_cooldown_and_escalates_once_at_the_ceiling(
    fn: Any, stack: Stack, clock: time_machine.Traveller
) -> None:
    make_endpoint(ENDPOINT, {"primary": {"count": 1, "weight": 1.0}})
    scale_up_alarms({"HighLatency": "ALARM", "HighErrorRate": "OK"})
    [first] = deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))
    assert first["reason"] == "primary instance-count 1 -> 2"
    # Inside the cool-down the sweep says when it looks again, once.
    [cooling] = sweep(fn, clock, OPENED + timedelta(minutes=5))
    assert (cooling["result"], cooling["gate"]) == ("skipped", "cooldown")
    assert cooling["reason"].endswith(f"looked at again from {(DELIVERED + timedelta(minutes=10)).isoformat()}")
    assert sweep(fn, clock, OPENED + timedelta(minutes=8)) == []
    assert counts() == {"primary": 2}
    [second] = sweep(fn, clock, OPENED + timedelta(minutes=11))
    assert (second["result"], second["reason"]) == ("acted", "primary instance-count 2 -> 3")
    [third] = sweep(fn, clock, OPENED + timedelta(minutes=22))
    assert (third["result"], third["reason"]) == ("acted", "primary instance-count 3 -> 4")
    # At the ceiling the last step still gets its verification window (15 min from 10:22).
    [verifying] = sweep(fn, clock, OPENED + timedelta(minutes=33))
    assert (verifying["result"], verifying["gate"]) == ("skipped", "verifying")
    assert bodies(stack, "critical") == []
    set_alarm(LATENCY, "ALARM", "Threshold Crossed: 1 datapoint [1390.0] was greater than the threshold (1000.0).")
    [escalated] = sweep(fn, clock, OPENED + timedelta(minutes=38))
    assert (escalated["result"], escalated["gate"]) == ("escalated", "bound")
    assert escalated["changes"]["tried"] == [
        "primary instance-count 1 -> 2",
        "primary instance-count 2 -> 3",
        "primary instance-count 3 -> 4",
    ]
    assert escalated["changes"]["metric_now"].startswith("Threshold Crossed: 1 datapoint [1390.0]")
    assert escalated["changes"]["metric_when_opened"].startswith("Threshold Crossed: 2 out of the last 2")
    # Escalated once; later sweeps repeat nothing and never go above the bound.
    for minutes in (43, 48, 90):
        assert sweep(fn, clock, OPENED + timedelta(minutes=minutes)) == []
    [again] = deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"), OPENED + timedelta(minutes=95))
    assert (again["gate"], again["replayed"]) == ("escalated", True)
    assert counts() == {"primary": 4}
    [critical] = bodies(stack, "critical")
    assert (critical["result"], critical["incident"]) == ("escalated", first["incident"])
    assert [b["result"] for b in bodies(stack, "info")] == ["acted", "acted", "acted"]
    assert len(decisions(stack, "acted")) == 3
    assert len(decisions(stack, "escalated")) == 1
    [incident] = stored_incidents(stack)
    assert incident["state"] == "escalated"
    assert incident["timeline"][-1]["what"] == "escalated"


def test_the_verification_window_is_the_stack_parameter(
    fn: Any, stack: Stack, clock: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCALE_UP_VERIFY_MINUTES", "30")
    make_endpoint(ENDPOINT, {"primary": {"count": 3, "weight": 1.0}})
    scale_up_alarms({"HighLatency": "ALARM", "HighErrorRate": "OK"})
    [acted] = deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))
    assert acted["reason"] == "primary instance-count 3 -> 4"
    assert stored_incidents(stack)[0]["verify_until"] == (DELIVERED + timedelta(minutes=30)).isoformat()
    sweep(fn, clock, OPENED + timedelta(minutes=25))  # at the ceiling, inside the window
    assert decisions(stack, "escalated") == []
    [escalated] = sweep(fn, clock, OPENED + timedelta(minutes=31))
    assert escalated["result"] == "escalated"


def test_at_the_ceiling_from_the_start_nothing_changes_and_a_person_hears_once(
    fn: Any, stack: Stack, clock: time_machine.Traveller
) -> None:
    make_endpoint(ENDPOINT, {"primary": {"count": 4, "weight": 1.0}})
    scale_up_alarms({"HighLatency": "ALARM"})
    [outcome] = deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))
    assert (outcome["result"], outcome["gate"]) == ("bound-reached", "bound")
    assert outcome["reason"] == (
        f"endpoint {ENDPOINT} is at its ceiling: primary (at MaxInstanceCount, the maximum 4 instances) cannot grow; "
        "nothing was changed"
    )
    assert sweep(fn, clock, OPENED + timedelta(minutes=30)) == []
    assert counts() == {"primary": 4}
    [critical] = bodies(stack, "critical")
    assert critical["result"] == "bound-reached"
    assert len(decisions(stack, "bound-reached")) == 1


def test_the_scalable_targets_max_capacity_is_a_bound_too(fn: Any, stack: Stack, clock: time_machine.Traveller) -> None:
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 1.0}})
    scalable_target("primary", minimum=2, maximum=2)
    [outcome] = deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))
    assert outcome["result"] == "bound-reached"
    assert "primary (at the scalable target's MaxCapacity 2) cannot grow" in outcome["reason"]
    assert min_capacity("primary") == 2


# --- every endpoint kind (tests/data/real/endpoints/) ----------------------------------------


def described() -> dict[str, Any]:
    return boto3.client("sagemaker").describe_endpoint(EndpointName=ENDPOINT)  # type: ignore[no-any-return]


def variant_alarm(variant: str) -> dict[str, Any]:
    """The sample EventBridge alarm on one variant of churn-prod, renamed to `variant`."""
    event = json.loads(json.dumps(load_event("alarms/eventbridge_alarm_state_change.json")).replace("canary", variant))
    return event  # type: ignore[no-any-return]


def test_an_instance_variant_endpoint_gets_one_more_instance(
    fn: Any, stack: Stack, clock: time_machine.Traveller, aws_requests: Requests
) -> None:
    create_in_moto("instance-variants", ENDPOINT)
    [outcome] = deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))
    assert (outcome["result"], outcome["reason"]) == ("acted", "AMeaningfulProdVarName instance-count 1 -> 2")
    assert update_calls(aws_requests) == [[{"VariantName": "AMeaningfulProdVarName", "DesiredInstanceCount": 2}]]


def test_a_serverless_variant_shown_with_count_0_gets_more_max_concurrency_not_instances(
    fn: Any, stack: Stack, clock: time_machine.Traveller, aws_requests: Requests
) -> None:
    create_in_moto("serverless", ENDPOINT)
    assert described()["ProductionVariants"][0]["CurrentInstanceCount"] == 0  # as AWS shows it
    [outcome] = deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))
    # On demand (no ProvisionedConcurrency): its MaxConcurrency is the lever (tests/functional/test_serverless.py).
    assert (outcome["result"], outcome["reason"]) == ("acted", "byoVariant max-concurrency 1 -> 2")
    [[call]] = update_calls(aws_requests)
    assert call == {"VariantName": "byoVariant", "ServerlessUpdateConfig": {"MaxConcurrency": 2}}
    assert described()["ProductionVariants"][0]["CurrentInstanceCount"] == 0


def test_an_async_endpoint_gets_one_more_instance_and_keeps_its_async_config(
    fn: Any, stack: Stack, clock: time_machine.Traveller
) -> None:
    request = create_in_moto("async", ENDPOINT)
    [outcome] = deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))
    assert (outcome["result"], outcome["reason"]) == ("acted", "variant1 instance-count 1 -> 2")
    assert counts() == {"variant1": 2}
    assert described()["AsyncInferenceConfig"] == request["AsyncInferenceConfig"]


def test_on_a_shadow_endpoint_only_the_production_variant_is_scaled(
    fn: Any, stack: Stack, clock: time_machine.Traveller, aws_requests: Requests
) -> None:
    create_in_moto("shadow", ENDPOINT)
    [outcome] = deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))
    assert (outcome["result"], outcome["reason"]) == ("acted", "production instance-count 2 -> 3")
    assert update_calls(aws_requests) == [[{"VariantName": "production", "DesiredInstanceCount": 3}]]
    [shadow] = described()["ShadowProductionVariants"]
    assert (shadow["VariantName"], shadow["CurrentInstanceCount"]) == ("shadow", 1)


def test_an_alarm_on_a_shadow_variant_adds_nothing_and_says_why(
    fn: Any, stack: Stack, clock: time_machine.Traveller, aws_requests: Requests
) -> None:
    create_in_moto("shadow", ENDPOINT)
    [outcome] = deliver(fn, clock, variant_alarm("shadow"))
    assert (outcome["result"], outcome["gate"]) == ("bound-reached", "bound")
    assert outcome["reason"] == (
        f"shadow is a shadow variant of {ENDPOINT}: only the production variant's responses are returned to "
        "callers, so more instances for it would not help them; nothing was changed"
    )
    assert update_calls(aws_requests) == []


@pytest.mark.parametrize("kind", ["inference-components", "managed-instance-scaling"])
def test_an_inference_component_endpoint_is_bounded_with_the_reason_and_nothing_is_changed(
    fn: Any, stack: Stack, clock: time_machine.Traveller, aws_calls: AwsCalls, kind: str
) -> None:
    create_in_moto(kind, ENDPOINT)
    aws_calls.made.clear()
    [outcome] = deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))
    assert (outcome["result"], outcome["gate"]) == ("bound-reached", "bound")
    assert outcome["reason"] == (
        f"endpoint {ENDPOINT} serves inference components on AllTraffic: their capacity is each component's copy "
        "count (and the instances managed instance scaling gives them), which the scale-up does not change yet; "
        "nothing was changed"
    )
    assert "DescribeEndpointConfig" in aws_calls.of("sagemaker")  # where the missing ModelName shows
    changes = [op for service, op in aws_calls.made if service in ("sagemaker", "application-autoscaling")]
    assert [op for op in changes if not op.startswith(("Describe", "List"))] == []
    assert counts() == {"AllTraffic": 1}


def managed_variant_endpoint(count: int) -> None:
    """The workshop's managed-instance-scaling variant (MaxInstanceCount 2) with a model of its own, as an
    endpoint made before AWS took ManagedInstanceScaling on inference-component endpoints only shows it
    (tests/data/real/endpoints/README.md)."""
    request = load("managed-instance-scaling", "endpoint-config")
    [variant] = request["ProductionVariants"]
    variant.update(ModelName=f"{ENDPOINT}-model", InitialInstanceCount=count)
    sagemaker = boto3.client("sagemaker")
    sagemaker.create_model(ModelName=f"{ENDPOINT}-model", ExecutionRoleArn=MODEL_ROLE, PrimaryContainer={"Image": "i"})
    sagemaker.create_endpoint_config(**request)
    sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=request["EndpointConfigName"])


def test_managed_instance_scaling_caps_the_step_and_the_plan_names_it(
    fn: Any, stack: Stack, clock: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCALE_STEP", "3")
    managed_variant_endpoint(count=1)
    [outcome] = deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))
    assert (outcome["result"], outcome["reason"]) == (
        "acted",
        "AllTraffic instance-count 1 -> 2 (cut at ManagedInstanceScaling.MaxInstanceCount 2)",
    )
    assert counts() == {"AllTraffic": 2}  # the stack's maximum (4) was never the limit


def test_at_the_managed_instance_scaling_maximum_nothing_changes_and_the_bound_is_named(
    fn: Any, stack: Stack, clock: time_machine.Traveller, aws_requests: Requests
) -> None:
    managed_variant_endpoint(count=2)
    [outcome] = deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))
    assert (outcome["result"], outcome["reason"]) == (
        "bound-reached",
        f"endpoint {ENDPOINT} is at its ceiling: AllTraffic (at ManagedInstanceScaling.MaxInstanceCount 2) cannot "
        "grow; nothing was changed",
    )
    assert update_calls(aws_requests) == []


def test_an_endpoint_whose_config_was_deleted_is_still_scaled(
    fn: Any, stack: Stack, clock: time_machine.Traveller
) -> None:
    request = create_in_moto("instance-variants", ENDPOINT)
    boto3.client("sagemaker").delete_endpoint_config(EndpointConfigName=request["EndpointConfigName"])
    [outcome] = deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))
    assert (outcome["result"], outcome["reason"]) == ("acted", "AMeaningfulProdVarName instance-count 1 -> 2")


def put_errors(errors_4xx: float, errors_5xx: float, invocations: float, at: datetime) -> None:
    boto3.client("cloudwatch").put_metric_data(
        Namespace="AWS/SageMaker",
        MetricData=[
            {
                "MetricName": name,
                "Dimensions": [
                    {"Name": "EndpointName", "Value": ENDPOINT},
                    {"Name": "VariantName", "Value": "primary"},
                ],
                "Timestamp": at,
                "Value": value,
                "Unit": "None",
            }
            for name, value in (
                ("Invocation4XXErrors", errors_4xx),
                ("Invocation5XXErrors", errors_5xx),
                ("Invocations", invocations),
            )
        ],
    )


def test_an_error_rate_of_mostly_4xx_answers_adds_nothing_and_tells_the_counts(
    fn: Any, stack: Stack, clock: time_machine.Traveller
) -> None:
    make_endpoint(ENDPOINT, {"primary": {"count": 1, "weight": 1.0}})
    put_errors(errors_4xx=40, errors_5xx=2, invocations=400, at=OPENED - timedelta(minutes=4))
    [outcome] = deliver(fn, clock, load_event("scale_up/high_error_rate_alarm.json"))
    assert (outcome["result"], outcome["gate"]) == ("bound-reached", "bound")
    assert outcome["reason"].startswith(
        f"the errors on {ENDPOINT} are mostly 4XX (40 4XX, 2 5XX of 400 requests in 10 min)"
    )
    assert counts() == {"primary": 1}
    [told] = bodies(stack, "critical")
    assert {k: told["changes"][k] for k in ("errors_4xx", "errors_5xx", "invocations")} == {
        "errors_4xx": 40.0,
        "errors_5xx": 2.0,
        "invocations": 400.0,
    }


def test_an_error_rate_of_mostly_5xx_answers_gets_capacity(
    fn: Any, stack: Stack, clock: time_machine.Traveller
) -> None:
    make_endpoint(ENDPOINT, {"primary": {"count": 1, "weight": 1.0}})
    put_errors(errors_4xx=2, errors_5xx=40, invocations=400, at=OPENED - timedelta(minutes=4))
    [outcome] = deliver(fn, clock, load_event("scale_up/high_error_rate_alarm.json"))
    assert (outcome["result"], outcome["reason"]) == ("acted", "primary instance-count 1 -> 2")
    assert counts() == {"primary": 2}


# --- the end of an incident, and capacity given back ---------------------------------------


def test_ok_closes_the_incident_as_recovered_with_the_time_to_recover(
    fn: Any, stack: Stack, clock: time_machine.Traveller
) -> None:
    make_endpoint(ENDPOINT, {"primary": {"count": 1, "weight": 1.0}})
    [acted] = deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))
    [recovered] = deliver(fn, clock, load_event("scale_up/high_latency_ok.json"), at=OPENED + timedelta(minutes=30))
    assert (recovered["result"], recovered["incident"]) == ("recovered", acted["incident"])
    assert recovered["reason"] == (
        f"{LATENCY} recovered 30 min after it fired, after 1 scale-up step(s): the alarm returned to OK"
    )
    assert recovered["changes"] == {"time_to_recover_seconds": 1800.0, "steps": 1}
    [incident] = stored_incidents(stack)
    assert (incident["state"], incident["closed_at"], incident["recovered_seconds"]) == (
        "recovered",
        "2026-11-22T10:30:00+00:00",
        1800.0,
    )
    assert [b["result"] for b in bodies(stack, "info")] == ["acted", "recovered"]
    # The same OK delivered again tells nobody twice.
    deliver(fn, clock, load_event("scale_up/high_latency_ok.json"), at=OPENED + timedelta(minutes=31))
    assert bodies(stack, "info") == []
    assert len(decisions(stack, "recovered")) == 1


def test_after_the_ok_no_further_change_of_the_step_is_started(
    fn: Any, stack: Stack, clock: time_machine.Traveller, aws_requests: Requests
) -> None:
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 0.5}, "canary": {"count": 1, "weight": 0.5}})
    scale_up_alarms({"HighLatency": "ALARM", "HighErrorRate": "OK"})
    set_update_seconds(300)
    deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))  # primary 2 -> 3, Updating until 10:05:30
    clock.move_to(OPENED + timedelta(minutes=2))
    set_alarm(LATENCY, "OK")
    deliver(fn, clock, ok_at(OPENED + timedelta(minutes=2)), at=OPENED + timedelta(minutes=2, seconds=10))
    for minutes in (6, 12, 16):  # the scale-back is due from 10:17 only
        sweep(fn, clock, OPENED + timedelta(minutes=minutes))
    # The change in flight is followed to its end; nothing new is started for a cleared alarm.
    assert update_calls(aws_requests) == [[{"VariantName": "primary", "DesiredInstanceCount": 3}]]
    assert counts() == {"primary": 3, "canary": 1}
    [incident] = stored_incidents(stack)
    assert (incident["state"], incident["closed_at"]) == ("recovered", "2026-11-22T10:02:00+00:00")


def test_ok_for_an_incident_that_changed_nothing_closes_it_quietly(
    fn: Any, stack: Stack, clock: time_machine.Traveller
) -> None:
    stack.set_mode("off")
    make_endpoint(ENDPOINT, {"primary": {"count": 1, "weight": 1.0}})
    deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))
    [closed] = deliver(fn, clock, load_event("scale_up/high_latency_ok.json"), at=OPENED + timedelta(minutes=30))
    assert (closed["result"], closed["gate"]) == ("skipped", "closed")
    assert stored_incidents(stack)[0]["state"] == "closed"
    assert bodies(stack, "info") == []


def test_capacity_is_given_back_one_variant_per_sweep_once_every_scale_up_alarm_has_been_ok_long_enough(
    fn: Any, stack: Stack, clock: time_machine.Traveller, aws_requests: Requests
) -> None:
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 0.5}, "canary": {"count": 1, "weight": 0.5}})
    scale_up_alarms({"HighLatency": "ALARM", "HighErrorRate": "OK"})
    deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))
    assert counts() == {"primary": 3, "canary": 2}
    clock.move_to(OPENED + timedelta(minutes=30))
    set_alarm(LATENCY, "OK")
    deliver(fn, clock, ok_at(OPENED + timedelta(minutes=30)), at=OPENED + timedelta(minutes=30))
    # Another scale-up alarm of the endpoint fires (its own incident boosts again): nothing is
    # given back while it is in ALARM.
    clock.move_to(OPENED + timedelta(minutes=32))
    set_alarm(ERROR_RATE, "ALARM")
    [boosted] = sweep(fn, clock, OPENED + timedelta(minutes=50))
    assert (boosted["action"], boosted["alarm_name"], boosted["result"]) == ("scale-up", ERROR_RATE, "acted")
    assert counts() == {"primary": 4, "canary": 3}
    assert [o for o in sweep(fn, clock, OPENED + timedelta(minutes=55)) if o["action"] == "scale-back"] == []
    set_alarm(ERROR_RATE, "OK")  # at 10:55: quiet from here, with the latency alarm OK since 10:30
    deliver(fn, clock, ok_at(OPENED + timedelta(minutes=55), "alarms/sns_high_error_rate_ok.json"))
    aws_requests.clear()
    assert sweep(fn, clock, OPENED + timedelta(minutes=65)) == []  # only 10 of 15 quiet minutes
    given = sweep(fn, clock, OPENED + timedelta(minutes=70))
    # Back to the floor from before the first boost at the pace it was added: ScaleStep (1) a
    # step, one variant's change per sweep, a variant's next step 10 minutes (the scale-up
    # cool-down) after its last one.
    assert [(o["action"], o["result"], o["reason"]) for o in given] == [
        ("scale-back", "acted", "canary instance-count 3 -> 2")
    ]
    steps = [(70, "canary instance-count 3 -> 2")]
    for minutes in (75, 80, 85, 90):
        steps += [(minutes, o["reason"]) for o in sweep(fn, clock, OPENED + timedelta(minutes=minutes))]
    assert steps == [
        (70, "canary instance-count 3 -> 2"),
        (75, "primary instance-count 4 -> 3"),
        (80, "canary instance-count 2 -> 1"),
        (85, "primary instance-count 3 -> 2"),
    ]
    assert counts() == {"primary": 2, "canary": 1}
    assert update_calls(aws_requests) == [
        [{"VariantName": "canary", "DesiredInstanceCount": 2}],
        [{"VariantName": "primary", "DesiredInstanceCount": 3}],
        [{"VariantName": "canary", "DesiredInstanceCount": 1}],
        [{"VariantName": "primary", "DesiredInstanceCount": 2}],
    ]
    # The last steps were read back InService at the original floors (at 11:30): the boosts are done.
    assert stack.items("boost") == []
    assert len([d for d in decisions(stack, "acted") if d["action"] == "scale-back"]) == 4


def test_with_a_scalable_target_the_floor_is_given_back(fn: Any, stack: Stack, clock: time_machine.Traveller) -> None:
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 1.0}})
    scalable_target("primary", minimum=2, maximum=6)
    scale_up_alarms({"HighLatency": "ALARM", "HighErrorRate": "OK"})
    deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))
    assert counts() == {"primary": 3}  # the raised floor scaled the variant
    clock.move_to(OPENED + timedelta(minutes=30))
    set_alarm(LATENCY, "OK")
    [back] = [o for o in sweep(fn, clock, OPENED + timedelta(minutes=50)) if o["action"] == "scale-back"]
    assert (back["result"], back["reason"]) == ("acted", "primary min-capacity 3 -> 2")
    assert min_capacity("primary") == 2


def concurrent_update_once(monkeypatch: pytest.MonkeyPatch, refused: list[dict[str, Any]]) -> None:
    """RegisterScalableTarget answers ConcurrentUpdateException once (a scaling activity of the
    target under way), with a 400 - the answer is waited out whatever its HTTP status; the
    refused request is kept in `refused`."""
    from botocore.client import BaseClient

    original = BaseClient._make_api_call

    def racing(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        if operation == "RegisterScalableTarget" and not refused:
            refused.append(params)
            message = "Concurrent updates caused an exception (a pending update)"
            raise ClientError(
                {
                    "Error": {"Code": "ConcurrentUpdateException", "Message": message},
                    "ResponseMetadata": {"HTTPStatusCode": 400},
                },
                operation,
            )
        return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", racing)


def first_change_waits(
    fn: Any, clock: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch, refused: list[dict[str, Any]]
) -> dict[str, Any]:
    """A latency alarm on a two-instance primary whose first floor raise Application Auto Scaling
    refuses once (ConcurrentUpdateException, `refused` holds the request): the step waits."""
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 1.0}})
    scalable_target("primary", minimum=2, maximum=6)
    scale_up_alarms({"HighLatency": "ALARM"})
    concurrent_update_once(monkeypatch, refused)
    [waiting] = deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))
    assert (waiting["result"], waiting["gate"]) == ("skipped", "waiting")
    return dict(waiting)


def test_a_floor_raised_while_autoscaling_changes_the_target_waits_for_it_and_is_raised_by_the_sweep(
    fn: Any, stack: Stack, clock: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused: list[dict[str, Any]] = []
    waiting = first_change_waits(fn, clock, monkeypatch, refused)
    assert "ConcurrentUpdateException" in waiting["reason"]
    assert [r["MinCapacity"] for r in refused] == [3]
    assert min_capacity("primary") == 2
    assert stored_incidents(stack)[0]["state"] == "waiting"
    assert bodies(stack, "critical") == []  # not a permanent error: nobody is paged
    [acted] = sweep(fn, clock, OPENED + timedelta(minutes=5))
    assert (acted["result"], acted["reason"]) == ("acted", "primary min-capacity 2 -> 3")
    assert min_capacity("primary") == 3
    assert len(decisions(stack, "acted")) == 1
    assert [b["result"] for b in bodies(stack, "info")] == ["acted"]


def test_an_alarm_that_clears_before_the_first_change_went_out_closes_with_nothing_changed(
    fn: Any, stack: Stack, clock: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The step is claimed and counted, its first change waits (AWS busy); the alarm clears before
    # it is made. Nothing changed: not a recovery after a step, and the claim is given back.
    first_change_waits(fn, clock, monkeypatch, [])
    assert stored_incidents(stack)[0]["steps"] == 1
    clock.move_to(OPENED + timedelta(minutes=2))
    set_alarm(LATENCY, "OK")
    [closed] = deliver(fn, clock, ok_at(OPENED + timedelta(minutes=2)), at=OPENED + timedelta(minutes=2, seconds=10))
    assert (closed["result"], closed["gate"]) == ("skipped", "closed")
    assert closed["reason"] == "incident closed: the alarm returned to OK; nothing was changed"
    [incident] = stored_incidents(stack)
    assert (incident["state"], incident["steps"], incident.get("recovered_seconds")) == ("closed", 0, None)
    assert [e["what"] for e in incident["timeline"]][-2:] == ["stopped", "closed"]
    assert min_capacity("primary") == 2
    assert decisions(stack, "recovered") == []
    assert bodies(stack, "info") == []
    # The step never taken holds no cool-down: the alarm's next episode acts at once.
    clock.move_to(OPENED + timedelta(minutes=4))
    set_alarm(LATENCY, "ALARM")
    again = sns_alarm("scale_up/high_latency_alarm.json", StateChangeTime="2026-11-22T10:04:00.000+0000")
    [acted] = deliver(fn, clock, again, at=OPENED + timedelta(minutes=4, seconds=10))
    assert (acted["result"], acted["reason"]) == ("acted", "primary min-capacity 2 -> 3")


def test_a_give_back_step_while_autoscaling_changes_the_target_waits_for_the_next_sweep(
    fn: Any, stack: Stack, clock: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 1.0}})
    scalable_target("primary", minimum=2, maximum=6)
    scale_up_alarms({"HighLatency": "ALARM", "HighErrorRate": "OK"})
    deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))
    assert min_capacity("primary") == 3
    clock.move_to(OPENED + timedelta(minutes=30))
    set_alarm(LATENCY, "OK")
    refused: list[dict[str, Any]] = []
    concurrent_update_once(monkeypatch, refused)
    assert [o for o in sweep(fn, clock, OPENED + timedelta(minutes=50)) if o["action"] == "scale-back"] == []
    assert [r["MinCapacity"] for r in refused] == [2]
    assert min_capacity("primary") == 3
    [back] = [o for o in sweep(fn, clock, OPENED + timedelta(minutes=55)) if o["action"] == "scale-back"]
    assert (back["result"], back["reason"]) == ("acted", "primary min-capacity 3 -> 2")
    assert min_capacity("primary") == 2
    assert bodies(stack, "critical") == []


def boosted_twice(fn: Any, clock: time_machine.Traveller, step: int, second: int = 11) -> None:
    """primary 1 -> 1 + 2 x step in two scale-up steps (the second by the sweep at 10:<second>);
    the latency alarm OK from 10:<second + 9>, so the give-back is due 15 minutes later."""
    make_endpoint(ENDPOINT, {"primary": {"count": 1, "weight": 1.0}})
    scale_up_alarms({"HighLatency": "ALARM", "HighErrorRate": "OK"})
    deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))
    sweep(fn, clock, OPENED + timedelta(minutes=second))
    assert counts() == {"primary": 1 + 2 * step}
    clock.move_to(OPENED + timedelta(minutes=second + 9))
    set_alarm(LATENCY, "OK")
    ok = OPENED + timedelta(minutes=second + 9)
    deliver(fn, clock, ok_at(ok), at=ok)


def scale_backs(fn: Any, clock: time_machine.Traveller, minutes: range) -> list[tuple[int, str]]:
    given = []
    for minute in minutes:
        outcomes = sweep(fn, clock, OPENED + timedelta(minutes=minute))
        # The steps made (a boost a person took over is a recorded skip: test_people_win.py).
        given += [(minute, o["reason"]) for o in outcomes if o["action"] == "scale-back" and o["result"] == "acted"]
    return given


def test_capacity_comes_back_scale_step_instances_a_step_each_read_back_in_service_before_the_next(
    fn: Any, stack: Stack, clock: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCALE_STEP", "2")
    monkeypatch.setenv("MAX_INSTANCE_COUNT", "6")
    boosted_twice(fn, clock, step=2)  # 1 -> 3 -> 5
    set_update_seconds(17 * 60)  # each change keeps the endpoint Updating for 17 minutes
    # 10:35 the first step; 10:40 - 10:50 Updating: nothing more (not read back yet); 10:55 read
    # back InService at 3 and 20 minutes after the step: the next one.
    assert scale_backs(fn, clock, range(30, 80, 5)) == [
        (35, "primary instance-count 5 -> 3"),
        (55, "primary instance-count 3 -> 1"),
    ]
    assert counts() == {"primary": 1}
    assert stack.items("boost") == []  # the last step read back at 11:15


def test_a_step_of_the_give_back_keeps_the_scale_up_pace(
    fn: Any, stack: Stack, clock: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCALE_UP_COOLDOWN_MINUTES", "20")
    boosted_twice(fn, clock, step=1, second=21)  # 1 -> 2 at 10:00, 2 -> 3 at 10:21 (20-minute cool-down)
    # OK at 10:30: due from 10:45; the next step 20 minutes after the first, as the scale-up's were.
    assert scale_backs(fn, clock, range(35, 100, 5)) == [
        (45, "primary instance-count 3 -> 2"),
        (65, "primary instance-count 2 -> 1"),
    ]


def test_the_give_back_stops_when_a_scale_up_alarm_fires_again_and_starts_over_from_the_new_boost(
    fn: Any, stack: Stack, clock: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_INSTANCE_COUNT", "5")
    boosted_twice(fn, clock, step=1)  # 1 -> 3
    assert scale_backs(fn, clock, range(35, 40, 5)) == [(35, "primary instance-count 3 -> 2")]
    clock.move_to(OPENED + timedelta(minutes=37))
    set_alarm(LATENCY, "ALARM")  # found by the sweep: a new incident boosts from 2
    boosted = sweep(fn, clock, OPENED + timedelta(minutes=40))
    assert [(o["action"], o["reason"]) for o in boosted] == [("scale-up", "primary instance-count 2 -> 3")]
    clock.move_to(OPENED + timedelta(minutes=42))
    set_alarm(LATENCY, "OK")
    assert scale_backs(fn, clock, range(45, 85, 5)) == [
        (60, "primary instance-count 3 -> 2"),
        (70, "primary instance-count 2 -> 1"),  # back to the floor from before the first boost
    ]
    assert stack.items("boost") == []


def test_a_variant_re_scaled_by_people_during_the_give_back_is_theirs(
    fn: Any, stack: Stack, clock: time_machine.Traveller
) -> None:
    boosted_twice(fn, clock, step=1)  # 1 -> 3
    assert scale_backs(fn, clock, range(35, 40, 5)) == [(35, "primary instance-count 3 -> 2")]
    boto3.client("sagemaker").update_endpoint_weights_and_capacities(
        EndpointName=ENDPOINT, DesiredWeightsAndCapacities=[{"VariantName": "primary", "DesiredInstanceCount": 4}]
    )
    assert scale_backs(fn, clock, range(40, 70, 5)) == []
    assert counts() == {"primary": 4}
    assert stack.items("boost") == []


def test_a_give_back_step_whose_record_failed_is_recorded_by_the_retry_without_a_second_call(
    fn: Any, stack: Stack, clock: time_machine.Traveller, aws_requests: Requests, monkeypatch: pytest.MonkeyPatch
) -> None:
    boosted_twice(fn, clock, step=1)  # 1 -> 3
    from model_medic.control.loop import ControlLoop

    real = ControlLoop.acted
    failing = {"left": 1}

    def acted_once_failing(self: Any, *args: Any, **kwargs: Any) -> Any:
        if failing["left"]:
            failing["left"] -= 1
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "PutItem")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(ControlLoop, "acted", acted_once_failing)
    aws_requests.clear()
    with pytest.raises(ClientError):
        sweep(fn, clock, OPENED + timedelta(minutes=35))  # the step is made, its record fails: Lambda retries
    [retried] = sweep(fn, clock, OPENED + timedelta(minutes=35))
    assert (retried["action"], retried["reason"]) == ("scale-back", "primary instance-count 3 -> 2")
    assert update_calls(aws_requests) == [[{"VariantName": "primary", "DesiredInstanceCount": 2}]]
    assert scale_backs(fn, clock, range(40, 55, 5)) == [(45, "primary instance-count 2 -> 1")]
    assert len([d for d in decisions(stack, "acted") if d["action"] == "scale-back"]) == 2


def test_a_give_back_step_recorded_without_its_new_floor_is_not_recorded_again_by_a_later_sweep(
    fn: Any, stack: Stack, clock: time_machine.Traveller, aws_requests: Requests
) -> None:
    """What an earlier release left when its sweep failed between recording a step and remembering
    it: the next sweep (a later tick, so a later decision time) records nothing twice, remembers
    the floor, and goes on at the scale-up's pace."""
    boosted_twice(fn, clock, step=1)  # 1 -> 3
    assert scale_backs(fn, clock, range(35, 40, 5)) == [(35, "primary instance-count 3 -> 2")]
    stack.dynamodb.update_item(
        TableName=stack.table,
        Key={"pk": {"S": f"ENDPOINT#{ENDPOINT}"}, "sk": {"S": "BOOST#primary"}},
        UpdateExpression="REMOVE returned_to, returned_at",
    )
    bodies(stack, "info")
    aws_requests.clear()
    assert scale_backs(fn, clock, range(40, 60, 5)) == [(50, "primary instance-count 2 -> 1")]
    assert update_calls(aws_requests) == [[{"VariantName": "primary", "DesiredInstanceCount": 1}]]
    backs = [d["reason"] for d in decisions(stack, "acted") if d["action"] == "scale-back"]
    assert backs == ["primary instance-count 3 -> 2", "primary instance-count 2 -> 1"]
    assert [b["reason"] for b in bodies(stack, "info")] == ["primary instance-count 2 -> 1"]


def test_giving_capacity_back_is_never_blocked_by_the_hourly_budget(
    fn: Any, stack: Stack, clock: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACTIONS_PER_HOUR", "1")
    monkeypatch.setenv("SCALE_BACK_AFTER_MINUTES", "5")
    make_endpoint(ENDPOINT, {"primary": {"count": 1, "weight": 1.0}})
    scale_up_alarms({"HighLatency": "ALARM", "HighErrorRate": "OK"})
    deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))  # the hour's one action
    clock.move_to(OPENED + timedelta(minutes=20))
    set_alarm(LATENCY, "OK")
    deliver(fn, clock, ok_at(OPENED + timedelta(minutes=20)), at=OPENED + timedelta(minutes=20))
    [back] = sweep(fn, clock, OPENED + timedelta(minutes=30))  # the same hour
    assert (back["action"], back["result"]) == ("scale-back", "acted")
    assert counts() == {"primary": 1}


def test_a_spent_budget_pages_once_and_the_sweep_acts_when_the_next_hour_begins(
    fn: Any, stack: Stack, clock: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACTIONS_PER_HOUR", "1")
    monkeypatch.setenv("SCALE_UP_COOLDOWN_MINUTES", "0")
    make_endpoint(ENDPOINT, {"primary": {"count": 1, "weight": 1.0}})
    scale_up_alarms({"HighLatency": "ALARM", "HighErrorRate": "OK"})
    deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))
    [refused] = sweep(fn, clock, OPENED + timedelta(minutes=5))
    assert (refused["result"], refused["gate"]) == ("skipped", "budget")
    assert refused["reason"] == (
        f"hourly budget of 1 actions for {ENDPOINT} is spent; looked at again from 2026-11-22T11:00:00+00:00"
    )
    for minutes in (10, 15, 55):
        sweep(fn, clock, OPENED + timedelta(minutes=minutes))
    # Recorded once, paged once, however many sweeps meet it.
    assert len([d for d in decisions(stack) if d["gate"] == "budget"]) == 1
    [alert] = bodies(stack, "critical")
    assert alert["subject"] == f"[CRITICAL] test budget spent on {ENDPOINT}"
    assert counts() == {"primary": 2}
    # The refusal was not the final answer: the next hour's sweep takes the step.
    [acted] = sweep(fn, clock, OPENED + timedelta(minutes=60))
    assert (acted["result"], acted["reason"]) == ("acted", "primary instance-count 2 -> 3")
    assert counts() == {"primary": 3}


# --- level-triggered: what the transitions alone would lose -----------------------------------


def test_an_alarm_while_the_endpoint_is_updating_is_acted_on_once_it_is_in_service(
    fn: Any, stack: Stack, clock: time_machine.Traveller
) -> None:
    make_endpoint(ENDPOINT, {"primary": {"count": 1, "weight": 1.0}})
    scale_up_alarms({"HighLatency": "ALARM", "HighErrorRate": "OK"})
    # Someone changes the weights at 10:00; the endpoint is Updating for 10 minutes.
    set_update_seconds(600)
    boto3.client("sagemaker").update_endpoint_weights_and_capacities(
        EndpointName=ENDPOINT, DesiredWeightsAndCapacities=[{"VariantName": "primary", "DesiredWeight": 2.0}]
    )
    [skipped] = deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))
    assert (skipped["result"], skipped["gate"]) == ("skipped", "precondition")
    assert skipped["reason"] == f"endpoint {ENDPOINT} is Updating, not InService"
    assert sweep(fn, clock, OPENED + timedelta(minutes=5)) == []  # still Updating: recorded once
    set_update_seconds(0)
    [acted] = sweep(fn, clock, OPENED + timedelta(minutes=11))
    assert (acted["result"], acted["incident"]) == ("acted", skipped["incident"])
    assert counts() == {"primary": 2}
    [cooling] = sweep(fn, clock, OPENED + timedelta(minutes=15))
    assert cooling["gate"] == "cooldown"
    assert counts() == {"primary": 2}
    assert len(decisions(stack, "acted")) == 1
    assert len([d for d in decisions(stack) if d["gate"] == "precondition"]) == 1


def test_an_alarm_whose_delivery_was_lost_is_found_by_the_sweep(
    fn: Any, stack: Stack, clock: time_machine.Traveller
) -> None:
    make_endpoint(ENDPOINT, {"primary": {"count": 1, "weight": 1.0}})
    scale_up_alarms({"HighLatency": "ALARM", "HighErrorRate": "OK"})
    [acted] = sweep(fn, clock, OPENED + timedelta(minutes=5))
    assert (acted["alarm_name"], acted["result"]) == (LATENCY, "acted")
    [incident] = stored_incidents(stack)
    assert (incident["opened_at"], acted["incident"]) == (OPENED.isoformat(), incident["id"])
    assert counts() == {"primary": 2}


def test_an_ok_whose_delivery_was_lost_is_found_by_the_sweep(
    fn: Any, stack: Stack, clock: time_machine.Traveller
) -> None:
    make_endpoint(ENDPOINT, {"primary": {"count": 1, "weight": 1.0}})
    scale_up_alarms({"HighLatency": "ALARM", "HighErrorRate": "OK"})
    [acted] = deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))
    clock.move_to(OPENED + timedelta(minutes=12))
    set_alarm(LATENCY, "OK")  # its OK message never arrives
    [recovered] = sweep(fn, clock, OPENED + timedelta(minutes=15))
    assert (recovered["result"], recovered["incident"]) == ("recovered", acted["incident"])
    assert recovered["changes"]["time_to_recover_seconds"] == 720.0
    [incident] = stored_incidents(stack)
    assert incident["closed_at"] == (OPENED + timedelta(minutes=12)).isoformat()
    assert counts() == {"primary": 2}  # no further step for a cleared alarm


def test_a_lost_alarm_is_dated_by_its_transition_not_by_a_later_update_of_its_state(
    fn: Any, stack: Stack, clock: time_machine.Traveller
) -> None:
    """StateTransitionedTimestamp is the last change of StateValue; StateUpdatedTimestamp also moves
    when the state is set again (or only the evaluation state changes)."""
    make_endpoint(ENDPOINT, {"primary": {"count": 1, "weight": 1.0}})
    scale_up_alarms({"HighLatency": "ALARM", "HighErrorRate": "OK"})
    clock.move_to(OPENED + timedelta(minutes=3))
    set_alarm(LATENCY, "ALARM", "still breaching")  # an update, not a transition
    [acted] = sweep(fn, clock, OPENED + timedelta(minutes=5))
    [incident] = stored_incidents(stack)
    assert (incident["opened_at"], acted["incident"]) == (OPENED.isoformat(), incident["id"])


def test_a_lost_ok_is_dated_by_its_transition_and_capacity_waits_from_then(
    fn: Any, stack: Stack, clock: time_machine.Traveller
) -> None:
    make_endpoint(ENDPOINT, {"primary": {"count": 1, "weight": 1.0}})
    scale_up_alarms({"HighLatency": "ALARM", "HighErrorRate": "OK"})
    deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))
    clock.move_to(OPENED + timedelta(minutes=12))
    set_alarm(LATENCY, "OK")  # its OK message never arrives
    clock.move_to(OPENED + timedelta(minutes=14))
    set_alarm(LATENCY, "OK", "set again")  # an update, not a transition
    [recovered] = sweep(fn, clock, OPENED + timedelta(minutes=15))
    assert recovered["changes"]["time_to_recover_seconds"] == 720.0
    assert stored_incidents(stack)[0]["closed_at"] == (OPENED + timedelta(minutes=12)).isoformat()
    # Quiet since 10:12 (the transition), so the boost goes back at 10:27, not 10:29.
    [given] = sweep(fn, clock, OPENED + timedelta(minutes=27))
    assert (given["action"], given["reason"]) == ("scale-back", "primary instance-count 2 -> 1")


def test_a_late_copy_of_the_alarm_after_its_ok_acts_nothing(
    fn: Any, stack: Stack, clock: time_machine.Traveller
) -> None:
    make_endpoint(ENDPOINT, {"primary": {"count": 1, "weight": 1.0}})
    deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))
    deliver(fn, clock, load_event("scale_up/high_latency_ok.json"), at=OPENED + timedelta(minutes=30))
    late = deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"), at=OPENED + timedelta(minutes=40))
    assert [o["result"] for o in late] == ["skipped"]
    assert counts() == {"primary": 2}
    assert len(decisions(stack, "acted")) == 1
    assert stored_incidents(stack)[0]["state"] == "recovered"


def test_an_alarm_delivered_after_its_own_ok_adds_no_capacity(
    fn: Any, stack: Stack, clock: time_machine.Traveller
) -> None:
    make_endpoint(ENDPOINT, {"primary": {"count": 1, "weight": 1.0}})
    clock.move_to(OPENED + timedelta(minutes=30))
    scale_up_alarms({"HighLatency": "OK", "HighErrorRate": "OK"})  # in CloudWatch it cleared at 10:30
    deliver(fn, clock, load_event("scale_up/high_latency_ok.json"), at=OPENED + timedelta(minutes=30, seconds=5))
    deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"), at=OPENED + timedelta(minutes=30, seconds=6))
    assert counts() == {"primary": 1}
    assert decisions(stack, "acted") == []


def test_a_duplicate_delivery_acts_nothing_more(
    fn: Any, stack: Stack, clock: time_machine.Traveller, aws_calls: AwsCalls
) -> None:
    make_endpoint(ENDPOINT, {"primary": {"count": 1, "weight": 1.0}})
    for seconds in (30, 31, 45, 90):
        deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"), at=OPENED + timedelta(seconds=seconds))
    assert counts() == {"primary": 2}
    assert aws_calls.of("sagemaker").count("UpdateEndpointWeightsAndCapacities") == 1
    assert len(decisions(stack, "acted")) == 1
    assert [b["result"] for b in bodies(stack, "info")] == ["acted"]
    told = [(e["result"], e["gate"], e["reason"]) for e in events(stack)]
    assert [t for t in told if t[0] == "acted"] == [("acted", "", "primary instance-count 1 -> 2")]
    assert len(told) == len(set(told))  # one outcome event of each kind, however often delivered
    assert len(stored_incidents(stack)) == 1


def test_a_throttled_change_raises_for_a_retry_that_makes_it_once(
    fn: Any, stack: Stack, clock: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch, aws_calls: AwsCalls
) -> None:
    from botocore.client import BaseClient

    make_endpoint(ENDPOINT, {"primary": {"count": 1, "weight": 1.0}})
    original = BaseClient._make_api_call
    throttled: list[str] = []

    def throttle_once(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        if operation == "UpdateEndpointWeightsAndCapacities" and not throttled:
            throttled.append(operation)
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, operation)
        return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", throttle_once)
    with pytest.raises(ClientError, match="ThrottlingException"):
        deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))
    assert counts() == {"primary": 1}
    # Lambda delivers the event again.
    [acted] = deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"), at=DELIVERED + timedelta(seconds=60))
    assert acted["result"] == "acted"
    assert counts() == {"primary": 2}
    assert len(decisions(stack, "acted")) == 1
    assert [b["result"] for b in bodies(stack, "info")] == ["acted"]
    assert [e["result"] for e in events(stack) if e["result"] != "skipped"] == ["acted"]


def test_a_boost_write_throttled_once_after_its_change_is_tried_again_in_place(
    fn: Any, stack: Stack, clock: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch, aws_calls: AwsCalls
) -> None:
    """The boost is remembered right after its UpdateEndpointWeightsAndCapacities (`ScaleUp.adopt`,
    through `aws.persist`): one throttle of that write is tried again in the same invocation, which
    acts, rather than failing it over for Lambda's retry to find out what happened."""
    from botocore.client import BaseClient

    make_endpoint(ENDPOINT, {"primary": {"count": 1, "weight": 1.0}})
    original = BaseClient._make_api_call
    throttled: list[str] = []

    def boost_write(params: dict[str, Any]) -> bool:
        keys = [next(iter(item.values())).get("Key", {}) for item in params.get("TransactItems", [])]
        return any(key.get("sk", {}).get("S", "").startswith("BOOST#") for key in keys)

    def throttle_once(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        if operation == "TransactWriteItems" and boost_write(params) and not throttled:
            throttled.append(operation)
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, operation)
        return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", throttle_once)
    [acted] = deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))
    assert (throttled, acted["result"]) == (["TransactWriteItems"], "acted")
    assert counts() == {"primary": 2}
    assert aws_calls.of("sagemaker").count("UpdateEndpointWeightsAndCapacities") == 1
    assert [(b["variant"], int(b["original"]), int(b["boosted_to"])) for b in stack.items("boost")] == [
        ("primary", 1, 2)
    ]


def test_an_outcome_event_that_failed_is_sent_by_the_retry_without_a_second_message(
    fn: Any, stack: Stack, clock: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.client import BaseClient

    make_endpoint(ENDPOINT, {"primary": {"count": 1, "weight": 1.0}})
    original = BaseClient._make_api_call
    throttled: list[str] = []

    def throttle_once(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        if operation == "PutEvents" and not throttled:
            throttled.append(operation)
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, operation)
        return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", throttle_once)
    with pytest.raises(ClientError, match="ThrottlingException"):
        deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))
    assert counts() == {"primary": 2}  # the change was made before telling failed
    deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"), at=DELIVERED + timedelta(seconds=60))
    assert counts() == {"primary": 2}
    assert len(decisions(stack, "acted")) == 1
    assert [b["result"] for b in bodies(stack, "info")] == ["acted"]
    assert [e["result"] for e in events(stack) if e["result"] == "acted"] == ["acted"]


def test_a_change_whose_answer_was_lost_is_finished_by_the_retry_with_its_record_and_boost(
    fn: Any, stack: Stack, clock: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.client import BaseClient

    make_endpoint(ENDPOINT, {"primary": {"count": 1, "weight": 1.0}})
    original = BaseClient._make_api_call
    lost: list[str] = []

    def answer_lost_once(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        answer = original(self, operation, params)
        if operation == "UpdateEndpointWeightsAndCapacities" and not lost:
            lost.append(operation)
            raise ClientError({"Error": {"Code": "InternalFailure", "Message": "try again"}}, operation)
        return answer

    monkeypatch.setattr(BaseClient, "_make_api_call", answer_lost_once)
    with pytest.raises(ClientError):
        deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))
    deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"), at=DELIVERED + timedelta(seconds=60))
    assert counts() == {"primary": 2}  # one change, not two
    assert len(decisions(stack, "acted")) == 1
    assert [b["result"] for b in bodies(stack, "info")] == ["acted"]
    assert [(b["variant"], int(b["original"])) for b in stack.items("boost")] == [("primary", 1)]


# --- gates: scope, mode, bad input ---------------------------------------------------------


def test_an_endpoint_out_of_scope_is_a_recorded_skip_and_is_not_touched(
    fn: Any, stack: Stack, clock: time_machine.Traveller, aws_calls: AwsCalls
) -> None:
    make_endpoint("fraud-prod", {"primary": {"count": 1, "weight": 1.0}})
    aws_calls.made.clear()
    [outcome] = deliver(fn, clock, latency_alarm("fraud-prod"))
    assert (outcome["result"], outcome["gate"]) == ("skipped", "scope")
    assert outcome["reason"] == "endpoint fraud-prod is not in scope (not named in EndpointNames)"
    assert aws_calls.of("sagemaker") == []
    assert [d["gate"] for d in decisions_of("fraud-prod", stack)] == ["scope"]
    assert stack.items("incident") == []


def decisions_of(endpoint: str, stack: Stack) -> list[dict[str, Any]]:
    return [d for d in decisions(stack) if d["endpoint"] == endpoint]


def tagged_endpoint(name: str) -> None:
    make_endpoint(name, {"primary": {"count": 1, "weight": 1.0}})
    sagemaker = boto3.client("sagemaker")
    arn = sagemaker.describe_endpoint(EndpointName=name)["EndpointArn"]
    sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": "model-medic", "Value": "on"}])


# An endpoint named with capitals: SageMaker writes its name in lower case in its ARN (the local
# cloud's `endpoint_arns_as_in_aws`), and its alarms and metrics carry the name as created.
DISCOVERED = pytest.mark.parametrize("name", ["fraud-prod", "Fraud-Prod"])


@DISCOVERED
def test_an_endpoint_with_the_discovery_tag_is_in_scope(
    fn: Any, stack: Stack, clock: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv("DISCOVERY_TAG", "model-medic=on")
    tagged_endpoint(name)
    [outcome] = deliver(fn, clock, latency_alarm(name))
    assert (outcome["endpoint"], outcome["result"]) == (name, "acted")
    described = boto3.client("sagemaker").describe_endpoint(EndpointName=name)
    assert described["ProductionVariants"][0]["CurrentInstanceCount"] == 2
    assert described["EndpointArn"].endswith(f":endpoint/{name.lower()}")


@DISCOVERED
def test_a_boost_on_a_discovered_endpoint_is_given_back_too(
    fn: Any, stack: Stack, clock: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """The sweep finds the endpoint by its tag (ListEndpoints and GetResources, matched by ARN)."""
    monkeypatch.setenv("DISCOVERY_TAG", "model-medic=on")
    tagged_endpoint(name)
    scale_up_alarms({"HighLatency": "ALARM", "HighErrorRate": "OK"}, endpoint=name)
    deliver(fn, clock, latency_alarm(name))
    clock.move_to(OPENED + timedelta(minutes=30))
    set_alarm(f"{name}-HighLatency", "OK")
    given = sweep(fn, clock, OPENED + timedelta(minutes=50))
    assert [(o["action"], o["endpoint"]) for o in given if o["result"] == "acted"] == [("scale-back", name)]
    described = boto3.client("sagemaker").describe_endpoint(EndpointName=name)
    assert described["ProductionVariants"][0]["CurrentInstanceCount"] == 1


def test_mode_off_records_the_incident_and_changes_nothing(
    fn: Any, stack: Stack, clock: time_machine.Traveller, aws_calls: AwsCalls
) -> None:
    stack.set_mode("off")
    make_endpoint(ENDPOINT, {"primary": {"count": 1, "weight": 1.0}})
    scale_up_alarms({"HighLatency": "ALARM", "HighErrorRate": "OK"})
    [outcome] = deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))
    assert (outcome["result"], outcome["gate"]) == ("skipped", "mode")
    assert outcome["reason"] == f"automation is off (SSM {stack.mode_parameter})"
    assert sweep(fn, clock, OPENED + timedelta(minutes=30)) == []
    assert counts() == {"primary": 1}
    assert aws_calls.mutating().count("UpdateEndpointWeightsAndCapacities") == 0
    assert bodies(stack, "info") == []


def test_dry_run_announces_exactly_what_would_be_done_and_changes_nothing(
    fn: Any, stack: Stack, clock: time_machine.Traveller, aws_calls: AwsCalls
) -> None:
    stack.set_mode("dry-run")
    make_endpoint(ENDPOINT, {"primary": {"count": 1, "weight": 1.0}})
    scalable_target("primary", minimum=1, maximum=4)
    scale_up_alarms({"HighLatency": "ALARM", "HighErrorRate": "OK"})
    aws_calls.made.clear()
    [outcome] = deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))
    assert (outcome["result"], outcome["reason"]) == ("dry-run", "primary min-capacity 1 -> 2")
    assert outcome["changes"] == {
        "changes": [{"kind": "scale", "variant": "primary", "lever": "min-capacity", "before": 1, "after": 2}],
        "step": 1,
        "verify_until": (DELIVERED + timedelta(minutes=15)).isoformat(),
    }
    # The dry run goes on as enforce would (tests/functional/test_dry_run.py): the next step after
    # the cool-down, from the floor the first would have set.
    [second] = sweep(fn, clock, OPENED + timedelta(minutes=30))
    assert (second["result"], second["reason"]) == ("dry-run", "primary min-capacity 2 -> 3")
    [cooling] = sweep(fn, clock, OPENED + timedelta(minutes=35))  # as enforce, a skip said once
    assert (cooling["result"], cooling["gate"]) == ("skipped", "cooldown")
    assert sweep(fn, clock, OPENED + timedelta(minutes=37)) == []
    assert min_capacity("primary") == 1
    assert [
        c for c in aws_calls.mutating() if c in ("RegisterScalableTarget", "UpdateEndpointWeightsAndCapacities")
    ] == []
    assert stack.items("boost") == []
    assert [b["result"] for b in bodies(stack, "info")] == ["dry-run", "dry-run"]


def test_the_stack_parameter_off_is_the_mode_while_the_kill_switch_says_inherit(
    fn: Any, stack: Stack, clock: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTOMATION_MODE", "off")  # the switch is "inherit" (conftest)
    make_endpoint(ENDPOINT, {"primary": {"count": 1, "weight": 1.0}})
    scale_up_alarms({"HighLatency": "ALARM", "HighErrorRate": "OK"})
    [outcome] = deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))
    assert (outcome["result"], outcome["gate"], outcome["reason"]) == (
        "skipped",
        "mode",
        "automation is off (stack parameter)",
    )
    assert counts() == {"primary": 1}


@pytest.mark.parametrize("value", ["ENFORCE", "yes", "enforce please", None])
def test_a_kill_switch_with_an_unknown_value_or_deleted_means_dry_run(
    fn: Any, stack: Stack, clock: time_machine.Traveller, aws_calls: AwsCalls, value: str | None
) -> None:
    # The stack says enforce; a switch nobody can read as a mode means do less (gates.ModeSwitch).
    if value is None:
        stack.ssm.delete_parameter(Name=stack.mode_parameter)
    else:
        stack.set_mode(value)
    make_endpoint(ENDPOINT, {"primary": {"count": 1, "weight": 1.0}})
    scale_up_alarms({"HighLatency": "ALARM", "HighErrorRate": "OK"})
    [outcome] = deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))
    assert (outcome["result"], outcome["mode"]) == ("dry-run", "dry-run")
    sweep(fn, clock, OPENED + timedelta(minutes=30))
    assert counts() == {"primary": 1}
    assert aws_calls.mutating().count("UpdateEndpointWeightsAndCapacities") == 0


def test_ten_deliveries_racing_on_one_transition_act_once(fn: Any, stack: Stack, clock: time_machine.Traveller) -> None:
    import inspect
    import threading

    make_endpoint(ENDPOINT, {"primary": {"count": 1, "weight": 1.0}})
    scale_up_alarms({"HighLatency": "ALARM", "HighErrorRate": "OK"})
    clock.move_to(DELIVERED)
    start = threading.Barrier(10)
    handle = inspect.unwrap(fn.lambda_handler)  # the handler's pipeline, without a Lambda context
    results: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def deliver_one() -> None:
        start.wait()
        try:
            results.append(handle(load_event("scale_up/high_latency_alarm.json"), None))
        except BaseException as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=deliver_one) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(results) == 10
    assert counts() == {"primary": 2}
    assert len(decisions(stack, "acted")) == 1
    assert [b["result"] for b in bodies(stack, "info")] == ["acted"]
    assert len(stored_incidents(stack)) == 1


def test_a_missing_endpoint_is_a_recorded_permanent_error_with_one_critical_notice(
    fn: Any, stack: Stack, clock: time_machine.Traveller
) -> None:
    # Answered, not raised: Lambda does not retry it into the DLQ.
    [outcome] = deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))
    assert (outcome["result"], outcome["gate"]) == ("skipped", "permanent-error")
    assert outcome["reason"].startswith("ValidationException: ")
    # A redelivery records and tells nobody again.
    [again] = deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"), at=DELIVERED + timedelta(minutes=1))
    assert again["result"] == "skipped"
    [notice] = bodies(stack, "critical")
    assert notice["subject"] == f"[CRITICAL] test cannot scale-up {ENDPOINT}"
    assert "will not be retried in this incident" in notice["text"]
    assert [d["gate"] for d in decisions(stack)] == ["permanent-error"]


def test_access_denied_on_the_change_is_a_recorded_permanent_error_that_gives_the_claim_back(
    fn: Any, stack: Stack, clock: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.client import BaseClient

    make_endpoint(ENDPOINT, {"primary": {"count": 1, "weight": 1.0}})
    original = BaseClient._make_api_call

    def denied(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        if operation == "UpdateEndpointWeightsAndCapacities":
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "not allowed"}}, operation)
        return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", denied)
    # Answered, not raised: Lambda does not retry it into the DLQ.
    [outcome] = deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))
    assert (outcome["result"], outcome["gate"]) == ("skipped", "permanent-error")
    assert outcome["reason"].startswith("AccessDeniedException: ")
    [again] = deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"), at=DELIVERED + timedelta(minutes=1))
    assert again["result"] == "skipped"
    assert counts() == {"primary": 1}
    [notice] = bodies(stack, "critical")
    assert notice["subject"] == f"[CRITICAL] test cannot scale-up {ENDPOINT}"
    assert decisions(stack, "acted") == []
    # The step's claim was given back: neither the cool-down nor the hour's budget holds it.
    assert [c for c in stack.items("cooldown") if c["sk"] == "COOLDOWN#scale-up"] == []
    assert all(not b.get("holders") for b in stack.items("budget"))
    [incident] = stored_incidents(stack)
    assert (incident["steps"], incident["pending"]) == (0, None)


def test_a_permanent_error_on_the_change_is_not_retried_by_the_sweep_in_that_incident(
    fn: Any, stack: Stack, clock: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.client import BaseClient

    make_endpoint(ENDPOINT, {"primary": {"count": 1, "weight": 1.0}})
    scale_up_alarms({"HighLatency": "ALARM", "HighErrorRate": "OK"})
    original = BaseClient._make_api_call
    attempts = []

    def denied(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        if operation == "UpdateEndpointWeightsAndCapacities":
            attempts.append(operation)
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "not allowed"}}, operation)
        return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", denied)
    deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))
    for minutes in (5, 10, 15):
        sweep(fn, clock, OPENED + timedelta(minutes=minutes))
    assert len(attempts) == 1
    assert len([d for d in decisions(stack) if d["gate"] == "permanent-error"]) == 1


def test_when_automation_is_switched_back_on_the_sweep_acts_on_the_open_incident(
    fn: Any, stack: Stack, clock: time_machine.Traveller
) -> None:
    stack.set_mode("off")
    make_endpoint(ENDPOINT, {"primary": {"count": 1, "weight": 1.0}})
    scale_up_alarms({"HighLatency": "ALARM", "HighErrorRate": "OK"})
    [off] = deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))
    assert off["gate"] == "mode"
    stack.set_mode("inherit")  # the stack's mode: enforce
    [acted] = sweep(fn, clock, OPENED + timedelta(minutes=5))
    assert (acted["result"], acted["incident"], acted["mode"]) == ("acted", off["incident"], "enforce")
    assert counts() == {"primary": 2}


def test_a_batch_of_two_alarm_records_is_one_incident_per_endpoint(
    fn: Any, stack: Stack, clock: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MONITORED_ENDPOINTS", f"{ENDPOINT},fraud-prod")
    make_endpoint(ENDPOINT, {"primary": {"count": 1, "weight": 1.0}})
    make_endpoint("fraud-prod", {"primary": {"count": 2, "weight": 1.0}})
    outcomes = deliver(
        fn, clock, load_event("alarms/sns_batch_two_records.json"), OPENED + timedelta(minutes=1, seconds=5)
    )
    assert [(o["endpoint"], o["result"], o["reason"]) for o in outcomes] == [
        (ENDPOINT, "acted", "primary instance-count 1 -> 2"),
        ("fraud-prod", "acted", "primary instance-count 2 -> 3"),
    ]
    assert len({o["incident"] for o in outcomes}) == 2


@pytest.mark.parametrize(
    "event",
    [
        {"hello": "world"},
        {"Records": [{"EventSource": "aws:sns", "Sns": {"Message": "not json"}}]},
        {"detail-type": "CloudWatch Alarm State Change", "source": "aws.cloudwatch", "detail": {}},
    ],
)
def test_an_event_that_is_not_an_alarm_is_rejected_cleanly(
    fn: Any, stack: Stack, aws_calls: AwsCalls, event: Any
) -> None:
    make_endpoint(ENDPOINT, {"primary": {"count": 1, "weight": 1.0}})
    aws_calls.made.clear()
    result = invoke(fn, event)
    assert result["outcomes"] == []
    assert len(result["rejected"]) == 1
    assert aws_calls.mutating() == []


def test_a_newer_alarm_transition_continues_the_open_episode_and_is_not_called_recovered(
    fn: Any, stack: Stack, clock: time_machine.Traveller
) -> None:
    # ALARM -> INSUFFICIENT_DATA (not acted on) -> ALARM: the problem never went away, so the
    # incident opened by the first ALARM goes on; nothing is closed or told as recovered.
    make_endpoint(ENDPOINT, {"primary": {"count": 1, "weight": 1.0}})
    [first] = deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))
    assert first["result"] == "acted"
    again_at = OPENED + timedelta(minutes=40)
    again = sns_alarm(
        "scale_up/high_latency_alarm.json",
        OldStateValue="INSUFFICIENT_DATA",
        StateChangeTime=again_at.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
    )
    [outcome] = deliver(fn, clock, again, at=again_at + timedelta(seconds=30))
    assert outcome["incident"] == first["incident"]
    assert outcome["result"] != "recovered"
    [incident] = stored_incidents(stack)
    assert incident["closed_at"] is None
    assert [e["what"] for e in incident["timeline"]].count("alarm-again") == 1
    # The same transition delivered twice adds nothing more.
    deliver(fn, clock, again, at=again_at + timedelta(seconds=40))
    [incident] = stored_incidents(stack)
    assert [e["what"] for e in incident["timeline"]].count("alarm-again") == 1
    assert all(b["result"] != "recovered" for b in bodies(stack, "info") + bodies(stack, "critical"))


def test_an_insufficient_data_transition_is_not_acted_on(fn: Any, stack: Stack, clock: time_machine.Traveller) -> None:
    make_endpoint(ENDPOINT, {"primary": {"count": 1, "weight": 1.0}})
    event = sns_alarm("scale_up/high_latency_alarm.json", NewStateValue="INSUFFICIENT_DATA")
    [outcome] = deliver(fn, clock, event)
    assert (outcome["result"], outcome["gate"]) == ("skipped", "state")
    assert counts() == {"primary": 1}
    assert stack.items("incident") == []


@pytest.mark.parametrize(
    ("time", "rejected"),
    [
        ("yesterday", "scheduled event 'time' is not an ISO 8601 time: 'yesterday'"),
        (None, "scheduled event 'time' is not an ISO 8601 time: None"),
        ("2026-11-22T10:50:00", "scheduled event 'time' has no time zone: '2026-11-22T10:50:00'"),
        ("9999-12-31T23:59:59-14:00", "scheduled event 'time' is not an ISO 8601 time: '9999-12-31T23:59:59-14:00'"),
        ("1999-12-31T23:59:59Z", "scheduled event 'time' is '1999-12-31T23:59:59Z': outside 2000-2099"),
    ],
)
def test_a_scheduled_event_with_a_bad_time_is_rejected_cleanly(
    fn: Any, stack: Stack, aws_calls: AwsCalls, time: Any, rejected: str
) -> None:
    make_endpoint(ENDPOINT, {"primary": {"count": 1, "weight": 1.0}})
    event = load_event("scale_up/scale_back_sweep.json")
    event["time"] = time
    aws_calls.made.clear()
    assert invoke(fn, event) == {"outcomes": [], "rejected": [rejected]}
    assert aws_calls.mutating() == []
    assert stack.items("decision") == []
