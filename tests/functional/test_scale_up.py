"""ScaleUpFunction against moto: bounded boosts, scaling floors, serverless, the way back."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from tests.conftest import AwsCalls, FakeContext, Stack, load_event, load_handler, make_endpoint

ENDPOINT = "churn-prod"
T_ALARM = datetime(2026, 11, 22, 10, 0, 30, tzinfo=UTC)


@pytest.fixture
def fn(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, value in {
        "MAX_INSTANCE_COUNT": "4",
        "SCALE_STEP": "1",
        "SCALE_UP_COOLDOWN_MINUTES": "10",
        "SCALE_BACK_AFTER_MINUTES": "15",
        "POWERTOOLS_SERVICE_NAME": "scale-up",
    }.items():
        monkeypatch.setenv(name, value)
    module = load_handler("scale_up")
    module.now = T_ALARM
    monkeypatch.setattr(module, "utc_now", lambda: module.now)
    return module


def invoke(fn: Any, event: Any) -> dict[str, Any]:
    return fn.lambda_handler(event, FakeContext())  # type: ignore[no-any-return]


def variants() -> dict[str, dict[str, Any]]:
    described = boto3.client("sagemaker").describe_endpoint(EndpointName=ENDPOINT)
    return {v["VariantName"]: v for v in described["ProductionVariants"]}


def scalable_target(variant: str, minimum: int, maximum: int) -> None:
    boto3.client("application-autoscaling").register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId=f"endpoint/{ENDPOINT}/variant/{variant}",
        ScalableDimension="sagemaker:variant:DesiredInstanceCount",
        MinCapacity=minimum,
        MaxCapacity=maximum,
    )


def min_capacity(variant: str) -> int:
    targets = boto3.client("application-autoscaling").describe_scalable_targets(
        ServiceNamespace="sagemaker", ResourceIds=[f"endpoint/{ENDPOINT}/variant/{variant}"]
    )["ScalableTargets"]
    return int(targets[0]["MinCapacity"])


def scale_up_alarms(stack: Stack, states: dict[str, str]) -> None:
    """The template's two scale-up alarms in CloudWatch, in the given states."""
    cloudwatch = boto3.client("cloudwatch")
    for suffix, state in states.items():
        name = f"{ENDPOINT}-{suffix}"
        cloudwatch.put_metric_alarm(
            AlarmName=name,
            Namespace="Custom/SageMaker",
            MetricName="ErrorRate" if suffix == "HighErrorRate" else "TotalLatency",
            Dimensions=[{"Name": "EndpointName", "Value": ENDPOINT}],
            Statistic="Average",
            Period=300,
            EvaluationPeriods=2,
            Threshold=5.0 if suffix == "HighErrorRate" else 1000.0,
            ComparisonOperator="GreaterThanThreshold",
        )
        cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason="test")


def test_latency_alarm_adds_one_instance_to_every_variant_with_traffic(fn: Any, stack: Stack, aws_calls: AwsCalls):
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 0.9}, "canary": {"count": 1, "weight": 0.1}})
    aws_calls.made.clear()
    result = invoke(fn, load_event("scale_up/high_latency_alarm.json"))
    [outcome] = result["outcomes"]
    assert outcome["result"] == "acted"
    assert outcome["reason"] == "primary instance-count 2 -> 3; canary instance-count 1 -> 2"
    # One SageMaker write for all variants.
    assert aws_calls.of("sagemaker") == ["DescribeEndpoint", "UpdateEndpointWeightsAndCapacities"]
    assert {name: v["CurrentInstanceCount"] for name, v in variants().items()} == {"primary": 3, "canary": 2}
    [told] = stack.drain("info")
    assert json.loads(told["Message"])["changes"]["calls"] == ["UpdateEndpointWeightsAndCapacities"]


def test_a_variant_without_traffic_is_left_alone(fn: Any, stack: Stack):
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 1.0}, "canary": {"count": 1, "weight": 0.0}})
    invoke(fn, load_event("scale_up/high_error_rate_alarm.json"))
    assert {name: v["CurrentInstanceCount"] for name, v in variants().items()} == {"primary": 3, "canary": 1}


def test_a_variant_alarm_scales_only_that_variant(fn: Any, stack: Stack):
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 0.5}, "canary": {"count": 1, "weight": 0.5}})
    event = load_event("alarms/eventbridge_alarm_state_change.json")  # dimensions name the canary
    [outcome] = invoke(fn, event)["outcomes"]
    assert outcome["reason"] == "canary instance-count 1 -> 2"
    assert {name: v["CurrentInstanceCount"] for name, v in variants().items()} == {"primary": 2, "canary": 2}


def test_with_a_scalable_target_the_floor_is_raised_not_the_count(fn: Any, stack: Stack, aws_calls: AwsCalls):
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 1.0}})
    scalable_target("primary", minimum=2, maximum=6)
    aws_calls.made.clear()
    [outcome] = invoke(fn, load_event("scale_up/high_latency_alarm.json"))["outcomes"]
    assert outcome["reason"] == "primary min-capacity 2 -> 3"
    assert aws_calls.of("sagemaker") == ["DescribeEndpoint"]
    assert aws_calls.of("application-autoscaling") == ["DescribeScalableTargets", "RegisterScalableTarget"]
    assert min_capacity("primary") == 3
    assert variants()["primary"]["CurrentInstanceCount"] == 2  # the scaling policy adds the instance


def test_the_boost_starts_from_what_runs_when_autoscaling_already_went_above_the_floor(fn: Any, stack: Stack):
    make_endpoint(ENDPOINT, {"primary": {"count": 3, "weight": 1.0}})
    scalable_target("primary", minimum=1, maximum=6)
    [outcome] = invoke(fn, load_event("scale_up/high_latency_alarm.json"))["outcomes"]
    assert outcome["reason"] == "primary min-capacity 1 -> 4"
    assert min_capacity("primary") == 4


def test_at_the_maximum_nothing_changes_and_a_person_hears_of_the_ceiling(fn: Any, stack: Stack):
    make_endpoint(ENDPOINT, {"primary": {"count": 4, "weight": 1.0}})
    [outcome] = invoke(fn, load_event("scale_up/high_latency_alarm.json"))["outcomes"]
    assert (outcome["result"], outcome["gate"]) == ("bound-reached", "bound")
    assert "is at its ceiling" in outcome["reason"]
    assert variants()["primary"]["CurrentInstanceCount"] == 4
    [critical] = stack.drain("critical")
    assert json.loads(critical["Message"])["result"] == "bound-reached"


def test_the_scalable_targets_max_capacity_is_a_bound_too(fn: Any, stack: Stack):
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 1.0}})
    scalable_target("primary", minimum=2, maximum=2)
    [outcome] = invoke(fn, load_event("scale_up/high_latency_alarm.json"))["outcomes"]
    assert outcome["result"] == "bound-reached"
    assert min_capacity("primary") == 2


def test_the_step_is_cut_at_the_maximum(fn: Any, stack: Stack, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SCALE_STEP", "5")
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 1.0}})
    [outcome] = invoke(fn, load_event("scale_up/high_latency_alarm.json"))["outcomes"]
    assert outcome["reason"] == "primary instance-count 2 -> 4"


def test_a_serverless_endpoint_is_reported_as_not_scalable(fn: Any, stack: Stack):
    sagemaker = boto3.client("sagemaker")
    sagemaker.create_model(
        ModelName="m", ExecutionRoleArn="arn:aws:iam::123456789012:role/r", PrimaryContainer={"Image": "i"}
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName="serverless",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "m",
                "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5},
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName="serverless")
    [outcome] = invoke(fn, load_event("scale_up/high_latency_alarm.json"))["outcomes"]
    assert (outcome["result"], outcome["gate"]) == ("skipped", "precondition")
    assert "not scalable" in outcome["reason"]


def test_a_missing_endpoint_raises_so_the_event_is_retried_then_parked(fn: Any, stack: Stack):
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError):
        invoke(fn, load_event("scale_up/high_latency_alarm.json"))
    assert [d["result"] for d in stack.items("decision")] == ["failed"]


def test_a_second_alarm_inside_the_cooldown_adds_nothing(fn: Any, stack: Stack):
    make_endpoint(ENDPOINT, {"primary": {"count": 1, "weight": 1.0}})
    invoke(fn, load_event("scale_up/high_latency_alarm.json"))
    fn.now = T_ALARM + timedelta(minutes=3)
    [outcome] = invoke(fn, load_event("scale_up/high_error_rate_alarm.json"))["outcomes"]
    assert outcome["gate"] == "cooldown"
    assert variants()["primary"]["CurrentInstanceCount"] == 2


def test_dry_run_announces_exactly_what_would_be_done(fn: Any, stack: Stack):
    stack.set_mode("dry-run")
    make_endpoint(ENDPOINT, {"primary": {"count": 1, "weight": 1.0}})
    [outcome] = invoke(fn, load_event("scale_up/high_latency_alarm.json"))["outcomes"]
    assert (outcome["result"], outcome["reason"]) == ("dry-run", "primary instance-count 1 -> 2")
    assert variants()["primary"]["CurrentInstanceCount"] == 1
    assert json.loads(stack.drain("info")[0]["Message"])["changes"]["steps"] == [
        {"variant": "primary", "lever": "instance-count", "before": 1, "after": 2}
    ]


def test_ok_waits_for_the_cooldown_then_the_sweep_gives_the_capacity_back(fn: Any, stack: Stack):
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 1.0}})
    scalable_target("primary", minimum=2, maximum=6)
    scale_up_alarms(stack, {"HighLatency": "ALARM", "HighErrorRate": "OK"})
    invoke(fn, load_event("scale_up/high_latency_alarm.json"))
    fn.now = T_ALARM + timedelta(minutes=5)
    invoke(fn, load_event("scale_up/high_error_rate_alarm.json"))  # cool-down: no second boost
    assert min_capacity("primary") == 3
    # The alarm clears; the OK delivery comes inside the scale-back cool-down.
    cloudwatch = boto3.client("cloudwatch")
    cloudwatch.set_alarm_state(AlarmName=f"{ENDPOINT}-HighLatency", StateValue="OK", StateReason="t")
    [latency] = cloudwatch.describe_alarms(AlarmNames=[f"{ENDPOINT}-HighLatency"])["MetricAlarms"]
    cleared = latency["StateUpdatedTimestamp"]
    ok_event = load_event("scale_up/high_latency_ok.json")
    message = json.loads(ok_event["Records"][0]["Sns"]["Message"])
    message["StateChangeTime"] = cleared.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"
    ok_event["Records"][0]["Sns"]["Message"] = json.dumps(message)
    fn.now = cleared + timedelta(minutes=1)
    [ok] = invoke(fn, ok_event)["outcomes"]
    assert ok["gate"] == "precondition"
    assert "cool-down" in ok["reason"]
    assert min_capacity("primary") == 3
    # A sweep before the cool-down has passed does nothing; one after restores the floor.
    sweep = load_event("scale_up/scale_back_sweep.json")
    sweep["time"] = (cleared + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert invoke(fn, sweep)["outcomes"] == []
    sweep["time"] = (cleared + timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M:%SZ")
    [back] = invoke(fn, sweep)["outcomes"]
    assert (back["action"], back["result"], back["reason"]) == ("scale-back", "acted", "primary min-capacity 3 -> 2")
    assert min_capacity("primary") == 2
    # Nothing left to give back: the next sweep is quiet.
    assert invoke(fn, sweep)["outcomes"] == []


def test_ok_after_the_cooldown_gives_back_at_once_unless_another_scale_up_alarm_fires(fn: Any, stack: Stack):
    make_endpoint(ENDPOINT, {"primary": {"count": 1, "weight": 1.0}})
    scale_up_alarms(stack, {"HighLatency": "OK", "HighErrorRate": "ALARM"})
    invoke(fn, load_event("scale_up/high_latency_alarm.json"))
    assert variants()["primary"]["CurrentInstanceCount"] == 2
    fn.now = datetime(2026, 11, 22, 11, 0, tzinfo=UTC)
    [held] = invoke(fn, load_event("scale_up/high_latency_ok.json"))["outcomes"]
    assert held["reason"] == f"scale-up alarm(s) still in ALARM: {ENDPOINT}-HighErrorRate"
    assert variants()["primary"]["CurrentInstanceCount"] == 2
    boto3.client("cloudwatch").set_alarm_state(AlarmName=f"{ENDPOINT}-HighErrorRate", StateValue="OK", StateReason="t")
    [back] = invoke(fn, load_event("scale_up/high_latency_ok.json"))["outcomes"]
    assert back["result"] == "acted"
    assert variants()["primary"]["CurrentInstanceCount"] == 1


def test_ok_without_a_boost_has_nothing_to_give_back(fn: Any, stack: Stack):
    make_endpoint(ENDPOINT, {"primary": {"count": 1, "weight": 1.0}})
    fn.now = datetime(2026, 11, 22, 11, 0, tzinfo=UTC)
    [outcome] = invoke(fn, load_event("scale_up/high_latency_ok.json"))["outcomes"]
    assert outcome["reason"] == f"no temporary capacity to give back on {ENDPOINT}"
