"""ComputeMetricsFunction against moto: values, zero traffic, missing metrics, batching, re-runs,
and datapoints that arrive late (held back, recomputed once, published once)."""

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from tests.conftest import AwsCalls, FakeContext, Stack, load_event, load_handler

WINDOW_START = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
# With the default lag of 2 minutes, the run at 10:07 computes 10:00-10:05.
RUN_AT = WINDOW_START + timedelta(minutes=7)


def schedule(at: datetime = RUN_AT) -> dict[str, Any]:
    return {**load_event("compute_metrics/schedule.json"), "time": at.strftime("%Y-%m-%dT%H:%M:%SZ")}


@pytest.fixture
def fn(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("MONITORED_ENDPOINTS", "churn-prod,fraud-prod,gone-prod")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "compute-metrics")
    return load_handler("compute_metrics")


def seed(endpoint: str, variant: str, first_minute: int = 1, later: bool = True, **series: list[float]) -> None:
    """Datapoints of AWS/SageMaker metrics inside the 10:00-10:05 window, a minute apart from
    10:0<first_minute>; with `later`, one of the next period per metric, which shows the
    window complete and must not be counted in it."""
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
                    "Timestamp": WINDOW_START + timedelta(minutes=first_minute + offset),
                    "Value": value,
                }
            )
        if later:
            data.append({**data[-1], "Timestamp": WINDOW_START + timedelta(minutes=6), "Value": 9e9})
    put(data)


def put(data: list[dict[str, Any]]) -> None:
    cloudwatch = boto3.client("cloudwatch")
    for start in range(0, len(data), 1000):
        cloudwatch.put_metric_data(Namespace="AWS/SageMaker", MetricData=data[start : start + 1000])


def published(metric: str, endpoint: str, variant: str | None = None, stat: str = "Average") -> list[float]:
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
                    "Stat": stat,
                },
            }
        ],
        StartTime=WINDOW_START - timedelta(minutes=5),
        EndTime=WINDOW_START + timedelta(minutes=15),
        ScanBy="TimestampAscending",
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


def test_values_match_hand_computed_expectations(fn: Any, stack: Stack) -> None:
    churn_prod()
    result = fn.lambda_handler(schedule(), FakeContext())
    assert result["window"] == {"start": "2026-11-22T10:00:00+00:00", "end": "2026-11-22T10:05:00+00:00"}
    assert published("TotalLatency", "churn-prod", "primary") == [230.0]
    assert published("TotalLatency", "churn-prod", "canary") == [550.0]
    assert published("TotalLatency", "churn-prod") == [round((900_000 / 3 + 110_000 / 3) / 1000, 4)]
    assert published("ErrorRate", "churn-prod", "primary") == [2.5]
    assert published("ErrorRate", "churn-prod", "canary") == [20.0]
    assert published("ErrorRate", "churn-prod") == [round(45 / 1100 * 100, 4)]


def test_zero_traffic_publishes_no_error_rate_and_missing_endpoints_are_skipped(fn: Any, stack: Stack) -> None:
    churn_prod()
    seed("fraud-prod", "AllTraffic", Invocations=[0])
    result = fn.lambda_handler(schedule(), FakeContext())
    assert result["without_data"] == ["gone-prod"]
    assert published("ErrorRate", "fraud-prod") == []
    assert published("TotalLatency", "fraud-prod") == []
    assert published("ErrorRate", "churn-prod", "primary") == [2.5]  # the others still ran


def test_a_replayed_run_publishes_nothing_twice(fn: Any, stack: Stack) -> None:
    churn_prod()
    first = fn.lambda_handler(schedule(), FakeContext())
    second = fn.lambda_handler(schedule(), FakeContext())
    assert first["published"] == 6
    assert second["published"] == 0
    assert published("TotalLatency", "churn-prod", "primary") == [230.0]
    # One value put for the minute: CloudWatch would average a second one in (see below).
    assert published("TotalLatency", "churn-prod", "primary", stat="SampleCount") == [1.0]


@pytest.mark.parametrize(("endpoints", "get_calls", "put_calls"), [(71, 1, 1), (72, 2, 1), (250, 4, 1), (251, 4, 2)])
def test_calls_are_batched_at_500_queries_and_1000_data(
    fn: Any,
    stack: Stack,
    aws_calls: AwsCalls,
    monkeypatch: pytest.MonkeyPatch,
    endpoints: int,
    get_calls: int,
    put_calls: int,
) -> None:
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
            data.append({**data[-1], "Timestamp": WINDOW_START + timedelta(minutes=5)})  # the next minute is in
    put(data)
    aws_calls.made.clear()
    result = fn.lambda_handler(schedule(), FakeContext())
    # 7 queries a variant: 71 variants = 497 queries (one call), 72 = 504 (two).
    assert aws_calls.of("cloudwatch").count("GetMetricData") == get_calls
    # 2 data a variant + 2 an endpoint: 250 endpoints = 1,000 data (one call), 251 = 1,004 (two).
    assert aws_calls.of("cloudwatch").count("PutMetricData") == put_calls
    assert result["published"] == 4 * endpoints
    assert published("ErrorRate", names[-1], "AllTraffic") == [10.0]
    assert published("TotalLatency", names[0]) == [1.5]


def test_anything_but_a_schedule_is_rejected(fn: Any, stack: Stack, aws_calls: AwsCalls) -> None:
    result = fn.lambda_handler(load_event("scale_up/high_latency_alarm.json"), FakeContext())
    assert result == {"rejected": ["expected an EventBridge Scheduled Event"]}
    assert aws_calls.of("cloudwatch") == []


def test_endpoints_carrying_the_discovery_tag_are_measured_too(
    fn: Any, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
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
    result = fn.lambda_handler(schedule(), FakeContext())
    assert result["endpoints"] == ["churn-prod", "tagged-prod"]
    assert published("ErrorRate", "tagged-prod") == [10.0]
    assert published("ErrorRate", "untagged-prod") == []


def test_a_named_endpoint_created_with_capitals_is_measured_under_its_own_spelling(
    fn: Any, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import make_endpoint

    # EndpointNames holds churn-prod (lower case: the roles' ARNs); SageMaker keeps Churn-Prod
    # and publishes its metrics under it.
    monkeypatch.setenv("MONITORED_ENDPOINTS", "churn-prod,gone-prod")
    make_endpoint("Churn-Prod")
    seed("Churn-Prod", "AllTraffic", Invocations=[10], Invocation4XXErrors=[1], Invocation5XXErrors=[0])
    result = fn.lambda_handler(schedule(), FakeContext())
    assert result["endpoints"] == ["Churn-Prod", "gone-prod"]
    assert published("ErrorRate", "Churn-Prod") == [10.0]
    assert published("ErrorRate", "churn-prod") == []


# --- late datapoints --------------------------------------------------------------------------


def minute(endpoint: str, variant: str, at: int, invocations: float, errors_5xx: float, latency_us: float) -> list[Any]:
    """One minute of a variant as SageMaker sends it (10:00 + `at` minutes): every metric."""
    dimensions = [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}]
    stamp = WINDOW_START + timedelta(minutes=at)
    return [
        {"MetricName": name, "Dimensions": dimensions, "Timestamp": stamp, "Value": value}
        for name, value in (
            ("Invocations", invocations),
            ("Invocation4XXErrors", 0.0),
            ("Invocation5XXErrors", errors_5xx),
            ("ModelLatency", latency_us),
            ("OverheadLatency", 10_000.0),
        )
    ]


def windows(stack: Stack) -> dict[str, dict[str, Any]]:
    return {item["start"]: item for item in stack.items("metrics-window")}


def test_late_datapoints_hold_the_window_back_until_the_next_run_recomputes_it_once(fn: Any, stack: Stack) -> None:
    # 10:00-10:03 arrived by 10:07; 10:04 - the minute with the errors - is still on its way.
    put([d for at in range(4) for d in minute("churn-prod", "AllTraffic", at, 100, 0, 90_000)])
    first = fn.lambda_handler(schedule(), FakeContext())
    assert first["held_back"] == ["churn-prod"]
    assert first["published"] == 0
    assert published("ErrorRate", "churn-prod") == []  # nothing half-computed for the alarm to average
    [record] = windows(stack).values()
    assert record["pending"] == ["churn-prod"]
    assert "complete" not in record

    # The late minute lands, and the stream moves on (10:05-10:11).
    put(minute("churn-prod", "AllTraffic", 4, 100, 50, 290_000))
    put([d for at in range(5, 12) for d in minute("churn-prod", "AllTraffic", at, 100, 0, 90_000)])
    second = fn.lambda_handler(schedule(RUN_AT + timedelta(minutes=5)), FakeContext())
    assert second["window"]["start"] == "2026-11-22T10:05:00+00:00"
    assert second["recomputed"] == ["churn-prod"]
    assert second["held_back"] == []
    # What CloudWatch shows for 10:00 is the whole window, the late minute included, put once.
    assert published("ErrorRate", "churn-prod") == [10.0, 0.0]  # 50 / 500; then 10:05 on its own
    assert published("TotalLatency", "churn-prod") == [round((90_000 * 4 + 290_000) / 5 / 1000 + 10, 4), 100.0]
    assert published("ErrorRate", "churn-prod", stat="SampleCount") == [1.0, 1.0]
    record = windows(stack)["2026-11-22T10:00:00+00:00"]
    assert record["recomputed"] == ["churn-prod"]
    assert "still_incomplete" not in record
    assert record["recomputed_at"] == "2026-11-22T10:12:00+00:00"

    # A replay of that run, and the run after it, leave the window alone: it was recomputed once.
    fn.lambda_handler(schedule(RUN_AT + timedelta(minutes=5)), FakeContext())
    third = fn.lambda_handler(schedule(RUN_AT + timedelta(minutes=10)), FakeContext())
    assert third["recomputed"] == []
    assert published("ErrorRate", "churn-prod", stat="SampleCount")[0] == 1.0


def test_only_the_incomplete_endpoint_waits(fn: Any, stack: Stack) -> None:
    put([d for at in range(7) for d in minute("churn-prod", "AllTraffic", at, 100, 1, 90_000)])  # 10:05, 10:06 in
    put([d for at in range(4) for d in minute("fraud-prod", "AllTraffic", at, 100, 2, 90_000)])  # 10:04 late
    first = fn.lambda_handler(schedule(), FakeContext())
    assert first["held_back"] == ["fraud-prod"]
    assert published("ErrorRate", "churn-prod") == [1.0]
    assert published("ErrorRate", "fraud-prod") == []
    put([d for at in range(4, 12) for d in minute("fraud-prod", "AllTraffic", at, 100, 2, 90_000)])
    put([d for at in range(7, 12) for d in minute("churn-prod", "AllTraffic", at, 100, 1, 90_000)])
    second = fn.lambda_handler(schedule(RUN_AT + timedelta(minutes=5)), FakeContext())
    assert second["recomputed"] == ["fraud-prod"]
    assert published("ErrorRate", "fraud-prod") == [2.0, 2.0]
    assert published("ErrorRate", "churn-prod", stat="SampleCount") == [1.0, 1.0]  # not put again


def test_traffic_that_stops_is_published_by_the_recomputation_and_recorded_incomplete(fn: Any, stack: Stack) -> None:
    put([d for at in range(3) for d in minute("churn-prod", "AllTraffic", at, 100, 5, 90_000)])  # then nothing
    assert fn.lambda_handler(schedule(), FakeContext())["held_back"] == ["churn-prod"]
    second = fn.lambda_handler(schedule(RUN_AT + timedelta(minutes=5)), FakeContext())
    assert second["recomputed"] == ["churn-prod"]
    assert published("ErrorRate", "churn-prod") == [5.0]
    assert windows(stack)["2026-11-22T10:00:00+00:00"]["still_incomplete"] == ["churn-prod"]
    # The quiet window after it has nothing to wait for, so nothing is held back or put.
    assert second["held_back"] == []
    assert fn.lambda_handler(schedule(RUN_AT + timedelta(minutes=10)), FakeContext())["recomputed"] == []
    assert published("ErrorRate", "churn-prod", stat="SampleCount") == [1.0]


def test_an_idle_variant_does_not_hold_its_endpoint_back(fn: Any, stack: Stack) -> None:
    put(minute("churn-prod", "canary", -30, 10, 0, 90_000))  # active half an hour ago, idle since
    put([d for at in range(7) for d in minute("churn-prod", "primary", at, 100, 3, 90_000)])
    result = fn.lambda_handler(schedule(), FakeContext())
    assert result["variants"] == 2
    assert result["held_back"] == []
    assert published("ErrorRate", "churn-prod") == [3.0]
    assert published("ErrorRate", "churn-prod", "canary") == []


def test_cloudwatch_averages_a_second_value_put_for_the_same_minute() -> None:
    """Why a window is put once: a corrected value put again would not replace the first
    (the alarms read Average); checked here against the aggregation the code relies on."""
    from moto import mock_aws

    with mock_aws():
        cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
        for value in (4.0, 10.0):
            put_datum = {"MetricName": "ErrorRate", "Timestamp": WINDOW_START, "Value": value, "Unit": "Percent"}
            cloudwatch.put_metric_data(Namespace="Custom/SageMaker", MetricData=[put_datum])
        result = cloudwatch.get_metric_statistics(
            Namespace="Custom/SageMaker",
            MetricName="ErrorRate",
            StartTime=WINDOW_START,
            EndTime=WINDOW_START + timedelta(minutes=5),
            Period=300,
            Statistics=["Average", "SampleCount"],
        )["Datapoints"]
        assert [(d["Average"], d["SampleCount"]) for d in result] == [(7.0, 2.0)]
