"""ComputeMetricsFunction against moto: values, zero traffic, missing metrics, batching, re-runs."""

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from tests.conftest import AwsCalls, FakeContext, Stack, load_event, load_handler

WINDOW_START = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


@pytest.fixture
def fn(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("MONITORED_ENDPOINTS", "churn-prod,fraud-prod,gone-prod")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "compute-metrics")
    return load_handler("compute_metrics")


def seed(endpoint: str, variant: str, **series: list[float]) -> None:
    """Datapoints of AWS/SageMaker metrics inside the 10:00-10:05 window (and one outside)."""
    data = []
    for metric, values in series.items():
        for offset, value in enumerate(values):
            data.append(
                {
                    "MetricName": metric,
                    "Dimensions": [
                        {"Name": "EndpointName", "Value": endpoint},
                        {"Name": "VariantName", "Value": variant},
                    ],
                    "Timestamp": WINDOW_START + timedelta(minutes=1 + offset),
                    "Value": value,
                }
            )
        # A datapoint of the next period, which this run must not count.
        data.append({**data[-1], "Timestamp": WINDOW_START + timedelta(minutes=6), "Value": 9e9})
    cloudwatch = boto3.client("cloudwatch")
    for start in range(0, len(data), 1000):
        cloudwatch.put_metric_data(Namespace="AWS/SageMaker", MetricData=data[start : start + 1000])


def published(metric: str, endpoint: str, variant: str | None = None) -> list[float]:
    dimensions = [{"Name": "EndpointName", "Value": endpoint}]
    if variant:
        dimensions.append({"Name": "VariantName", "Value": variant})
    result = boto3.client("cloudwatch").get_metric_data(
        MetricDataQueries=[
            {
                "Id": "m",
                "MetricStat": {
                    "Metric": {"Namespace": "Custom/SageMaker", "MetricName": metric, "Dimensions": dimensions},
                    "Period": 300,
                    "Stat": "Average",
                },
            }
        ],
        StartTime=WINDOW_START - timedelta(minutes=5),
        EndTime=WINDOW_START + timedelta(minutes=15),
    )["MetricDataResults"][0]
    return [round(v, 4) for v in result["Values"]]


def churn_prod() -> None:
    seed(
        "churn-prod",
        "primary",
        ModelLatency=[100_000, 300_000],
        OverheadLatency=[20_000, 40_000],
        Invocations=[600, 400],
        Invocation4XXErrors=[4, 6],
        Invocation5XXErrors=[15],
    )
    seed(
        "churn-prod",
        "canary",
        ModelLatency=[500_000],
        OverheadLatency=[50_000],
        Invocations=[100],
        Invocation4XXErrors=[0],
        Invocation5XXErrors=[20],
    )


def test_values_match_hand_computed_expectations(fn: Any, stack: Stack):
    churn_prod()
    result = fn.lambda_handler(load_event("compute_metrics/schedule.json"), FakeContext())
    assert result["window"] == {"start": "2026-11-22T10:00:00+00:00", "end": "2026-11-22T10:05:00+00:00"}
    assert published("TotalLatency", "churn-prod", "primary") == [230.0]
    assert published("TotalLatency", "churn-prod", "canary") == [550.0]
    assert published("TotalLatency", "churn-prod") == [round((900_000 / 3 + 110_000 / 3) / 1000, 4)]
    assert published("ErrorRate", "churn-prod", "primary") == [2.5]
    assert published("ErrorRate", "churn-prod", "canary") == [20.0]
    assert published("ErrorRate", "churn-prod") == [round(45 / 1100 * 100, 4)]


def test_zero_traffic_publishes_no_error_rate_and_missing_endpoints_are_skipped(fn: Any, stack: Stack):
    churn_prod()
    seed("fraud-prod", "AllTraffic", Invocations=[0])
    result = fn.lambda_handler(load_event("compute_metrics/schedule.json"), FakeContext())
    assert result["without_data"] == ["gone-prod"]
    assert published("ErrorRate", "fraud-prod") == []
    assert published("TotalLatency", "fraud-prod") == []
    assert published("ErrorRate", "churn-prod", "primary") == [2.5]  # the others still ran


def test_a_replayed_run_publishes_the_same_values_for_the_same_timestamps(fn: Any, stack: Stack):
    churn_prod()
    first = fn.lambda_handler(load_event("compute_metrics/schedule.json"), FakeContext())
    second = fn.lambda_handler(load_event("compute_metrics/schedule.json"), FakeContext())
    assert first == second
    assert published("TotalLatency", "churn-prod", "primary") == [230.0]


@pytest.mark.parametrize(("endpoints", "get_calls", "put_calls"), [(71, 1, 1), (72, 2, 1), (250, 4, 1), (251, 4, 2)])
def test_calls_are_batched_at_500_queries_and_1000_data(
    fn: Any,
    stack: Stack,
    aws_calls: AwsCalls,
    monkeypatch: pytest.MonkeyPatch,
    endpoints: int,
    get_calls: int,
    put_calls: int,
):
    names = [f"ep-{i:03d}" for i in range(endpoints)]
    monkeypatch.setenv("MONITORED_ENDPOINTS", ",".join(names))
    data = []
    for name in names:
        for metric, value in (
            ("ModelLatency", 1000.0),
            ("OverheadLatency", 500.0),
            ("Invocations", 10.0),
            ("Invocation4XXErrors", 0.0),
            ("Invocation5XXErrors", 1.0),
        ):
            data.append(
                {
                    "MetricName": metric,
                    "Dimensions": [
                        {"Name": "EndpointName", "Value": name},
                        {"Name": "VariantName", "Value": "AllTraffic"},
                    ],
                    "Timestamp": WINDOW_START + timedelta(minutes=2),
                    "Value": value,
                }
            )
    cloudwatch = boto3.client("cloudwatch")
    for start in range(0, len(data), 1000):
        cloudwatch.put_metric_data(Namespace="AWS/SageMaker", MetricData=data[start : start + 1000])
    aws_calls.made.clear()
    result = fn.lambda_handler(load_event("compute_metrics/schedule.json"), FakeContext())
    # 7 queries a variant: 71 variants = 497 queries (one call), 72 = 504 (two).
    assert aws_calls.of("cloudwatch").count("GetMetricData") == get_calls
    # 2 data a variant + 2 an endpoint: 250 endpoints = 1,000 data (one call), 251 = 1,004 (two).
    assert aws_calls.of("cloudwatch").count("PutMetricData") == put_calls
    assert result["published"] == 4 * endpoints
    assert published("ErrorRate", names[-1], "AllTraffic") == [10.0]
    assert published("TotalLatency", names[0]) == [1.5]


def test_anything_but_a_schedule_is_rejected(fn: Any, stack: Stack, aws_calls: AwsCalls):
    result = fn.lambda_handler(load_event("scale_up/high_latency_alarm.json"), FakeContext())
    assert result == {"rejected": ["expected an EventBridge Scheduled Event"]}
    assert aws_calls.of("cloudwatch") == []


def test_endpoints_carrying_the_discovery_tag_are_measured_too(fn: Any, stack: Stack, monkeypatch: pytest.MonkeyPatch):
    from tests.conftest import make_endpoint

    monkeypatch.setenv("MONITORED_ENDPOINTS", "churn-prod")
    monkeypatch.setenv("DISCOVERY_TAG", "model-medic=monitor")
    make_endpoint("tagged-prod")
    make_endpoint("untagged-prod")
    sagemaker = boto3.client("sagemaker")
    arn = sagemaker.describe_endpoint(EndpointName="tagged-prod")["EndpointArn"]
    sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": "model-medic", "Value": "monitor"}])
    for endpoint in ("tagged-prod", "untagged-prod"):
        seed(endpoint, "AllTraffic", Invocations=[10], Invocation4XXErrors=[1], Invocation5XXErrors=[0])
    result = fn.lambda_handler(load_event("compute_metrics/schedule.json"), FakeContext())
    assert result["endpoints"] == ["churn-prod", "tagged-prod"]
    assert published("ErrorRate", "tagged-prod") == [10.0]
    assert published("ErrorRate", "untagged-prod") == []
