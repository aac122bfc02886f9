"""PromoteCanaryFunction against moto: a healthy canary walks to 100%, a bad one is rolled
back at the first evaluation, a canary alarm rolls back at once, duplicates act once."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from localcloud.world import variant_metrics
from tests.conftest import AwsCalls, FakeContext, Stack, load_event, load_handler, make_endpoint

ENDPOINT = "churn-prod"
T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


@pytest.fixture
def fn(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, value in {
        "PRIMARY_VARIANT": "primary",
        "CANARY_VARIANT": "canary",
        "CANARY_STEPS": "5,10,25,50,100",
        "CANARY_BAKE_MINUTES": "30",
        "CANARY_MIN_INVOCATIONS": "100",
        "CANARY_MAX_ERROR_RATE": "5",
        "CANARY_MAX_LATENCY_MS": "1000",
        "ACTIONS_PER_HOUR": "20",
        "POWERTOOLS_SERVICE_NAME": "promote-canary",
    }.items():
        monkeypatch.setenv(name, value)
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 0.95}, "canary": {"count": 1, "weight": 0.05}})
    return load_handler("promote_canary")


def traffic(
    variant: str, start: datetime, minutes: int, per_minute: float, error_rate: float, latency_ms: float
) -> None:
    variant_metrics(boto3.client("cloudwatch"), ENDPOINT, variant, start, minutes, per_minute, error_rate, latency_ms)


def tick(fn: Any, at: datetime) -> list[dict[str, Any]]:
    event = load_event("promote_canary/schedule.json")
    event["time"] = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return fn.lambda_handler(event, FakeContext())["outcomes"]  # type: ignore[no-any-return]


def share() -> float:
    variants = boto3.client("sagemaker").describe_endpoint(EndpointName=ENDPOINT)["ProductionVariants"]
    weights = {v["VariantName"]: v["CurrentWeight"] for v in variants}
    return round(weights["canary"] / (weights["canary"] + weights["primary"]) * 100, 2)


def test_a_healthy_canary_walks_to_100_percent_with_bake_time_honoured(fn: Any, stack: Stack):
    traffic("primary", T0, 300, per_minute=200, error_rate=0.01, latency_ms=200)
    traffic("canary", T0, 300, per_minute=50, error_rate=0.01, latency_ms=210)
    path = [share()]
    decisions = []
    for minutes in range(10, 300, 10):
        for outcome in tick(fn, T0 + timedelta(minutes=minutes)):
            decisions.append((minutes, outcome["result"], outcome["reason"]))
            if outcome["result"] == "acted":
                path.append(share())
    assert path == [5.0, 10.0, 25.0, 50.0, 100.0]
    promotions = [m for m, result, _ in decisions if result == "acted"]
    # The first tick starts the clock of step 5; each promotion comes a full bake (30 min) after the last.
    assert promotions == [40, 70, 100, 130]
    assert all(reason.startswith("hold: baking") for m, result, reason in decisions if m < 40)
    variants = boto3.client("sagemaker").describe_endpoint(EndpointName=ENDPOINT)["ProductionVariants"]
    assert {v["VariantName"]: v["CurrentWeight"] for v in variants} == {"primary": 0.0, "canary": 1.0}
    [rollout] = stack.items("canary")
    assert rollout["ended"] == "complete"
    # Complete: the next tick finds no rollout to judge.
    assert tick(fn, T0 + timedelta(minutes=200)) == []


def test_a_bad_canary_is_rolled_back_at_the_first_evaluation_after_its_errors_appear(
    fn: Any, stack: Stack, aws_calls: AwsCalls
):
    traffic("primary", T0, 60, per_minute=200, error_rate=0.01, latency_ms=200)
    traffic("canary", T0, 30, per_minute=50, error_rate=0.01, latency_ms=200)
    traffic("canary", T0 + timedelta(minutes=30), 30, per_minute=50, error_rate=0.12, latency_ms=200)
    assert [o["result"] for o in tick(fn, T0 + timedelta(minutes=10))] == ["skipped"]  # baking, healthy so far
    aws_calls.made.clear()
    [outcome] = tick(fn, T0 + timedelta(minutes=40))
    assert outcome["result"] == "acted"
    assert outcome["reason"].startswith("roll back canary canary (5% -> 0%)")
    assert aws_calls.of("cloudwatch").count("GetMetricData") == 1  # one call per evaluation
    assert share() == 0.0
    critical = json.loads(stack.drain("critical")[0]["Message"])
    assert critical["changes"]["decision"] == "rollback"
    assert critical["changes"]["p_value"] < 0.05


def test_a_canary_alarm_rolls_back_at_once(fn: Any, stack: Stack):
    cloudwatch = boto3.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName=f"{ENDPOINT}-canary-ErrorRate",
        Namespace="Custom/SageMaker",
        MetricName="ErrorRate",
        Dimensions=[{"Name": "EndpointName", "Value": ENDPOINT}, {"Name": "VariantName", "Value": "canary"}],
        Statistic="Average",
        Period=300,
        EvaluationPeriods=1,
        Threshold=5.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    cloudwatch.set_alarm_state(AlarmName=f"{ENDPOINT}-canary-ErrorRate", StateValue="ALARM", StateReason="test")
    result = fn.lambda_handler(load_event("promote_canary/canary_alarm.json"), FakeContext())
    [outcome] = result["outcomes"]
    assert outcome["result"] == "acted"
    assert "canary alarm in ALARM: churn-prod-canary-ErrorRate" in outcome["reason"]
    assert share() == 0.0


def test_a_duplicate_schedule_event_does_not_promote_twice(fn: Any, stack: Stack):
    traffic("primary", T0, 120, per_minute=200, error_rate=0.01, latency_ms=200)
    traffic("canary", T0, 120, per_minute=50, error_rate=0.01, latency_ms=200)
    tick(fn, T0 + timedelta(minutes=10))
    first = tick(fn, T0 + timedelta(minutes=40))
    again = tick(fn, T0 + timedelta(minutes=40))
    assert [o["result"] for o in first] == ["acted"]
    assert again[0]["replayed"] is True
    assert share() == 10.0


def test_no_canary_traffic_means_nothing_to_judge(fn: Any, stack: Stack):
    boto3.client("sagemaker").update_endpoint_weights_and_capacities(
        EndpointName=ENDPOINT, DesiredWeightsAndCapacities=[{"VariantName": "canary", "DesiredWeight": 0.0}]
    )
    assert tick(fn, T0 + timedelta(minutes=10)) == []
    assert stack.items("decision") == []


def test_dry_run_records_the_promotion_it_would_make(fn: Any, stack: Stack):
    stack.set_mode("dry-run")
    traffic("primary", T0, 60, per_minute=200, error_rate=0.01, latency_ms=200)
    traffic("canary", T0, 60, per_minute=50, error_rate=0.01, latency_ms=200)
    tick(fn, T0 + timedelta(minutes=10))
    [outcome] = tick(fn, T0 + timedelta(minutes=45))
    assert (outcome["result"], outcome["reason"]) == ("dry-run", "promote canary canary 5% -> 10%")
    assert share() == 5.0
