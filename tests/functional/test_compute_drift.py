"""ComputeDriftFunction against moto: capture files in the real layout, a baseline built by
the function, metrics published, too-quiet hours and missing baselines handled."""

import json
import random
from typing import Any

import boto3
import pytest

from localcloud.world import capture_record
from tests.conftest import FakeContext, Stack, load_event, load_handler

BUCKET = "churn-ml"


@pytest.fixture
def fn(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("CAPTURE_S3_URI", f"s3://{BUCKET}/datacapture")
    monkeypatch.setenv("BASELINE_S3_URI", f"s3://{BUCKET}/baselines")
    monkeypatch.setenv("DRIFT_MIN_ROWS", "500")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "compute-drift")
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    return load_handler("compute_drift")


def put(key: str, body: str) -> None:
    boto3.client("s3").put_object(Bucket=BUCKET, Key=key, Body=body.encode())


def training(rows: int = 3000) -> None:
    rng = random.Random(1)
    # The label first, as SageMaker's built-in algorithms expect it: the baseline leaves it out.
    lines = ["churned,age,plan"] + [
        f"{rng.choice('01')},{rng.gauss(45, 10):.3f},{rng.choices(['basic', 'plus', 'pro'], [50, 30, 20])[0]}"
        for _ in range(rows)
    ]
    put("baselines/churn-prod/training.csv", "\n".join(lines))


def capture(variant: str, hour: str, rows: int, mean: float, mix: tuple[int, int, int], junk: int = 0) -> None:
    rng = random.Random(f"{variant}{hour}{mean}")  # a str seed is stable across runs; hash() is not
    lines = []
    for i in range(rows):
        row = f"{rng.gauss(mean, 10):.3f},{rng.choices(['basic', 'plus', 'pro'], mix)[0]}"
        lines.append(capture_record(row, f"{variant}-{i}", f"{hour.replace('/', '-')}:10:00Z", output="0.42"))
    lines += ["{not json"] * junk
    put(f"datacapture/churn-prod/{variant}/{hour}/capture-1.jsonl", "\n".join(lines))


def metric(name: str, feature: str | None = None) -> list[float]:
    dimensions = [{"Name": "EndpointName", "Value": "churn-prod"}]
    if feature:
        dimensions.append({"Name": "Feature", "Value": feature})
    from datetime import UTC, datetime

    result = boto3.client("cloudwatch").get_metric_data(
        MetricDataQueries=[
            {
                "Id": "m",
                "MetricStat": {
                    "Metric": {"Namespace": "Custom/SageMaker", "MetricName": name, "Dimensions": dimensions},
                    "Period": 3600,
                    "Stat": "Maximum",
                },
            }
        ],
        StartTime=datetime(2026, 11, 22, 8, tzinfo=UTC),
        EndTime=datetime(2026, 11, 22, 11, tzinfo=UTC),
    )["MetricDataResults"][0]
    return result["Values"]


def test_the_function_builds_the_baseline_beside_the_training_data(fn: Any, stack: Stack):
    training()
    result = fn.lambda_handler(load_event("compute_drift/build_baseline.json"), FakeContext())
    assert result == {"baseline": f"s3://{BUCKET}/baselines/churn-prod/baseline.json"}
    stored = json.loads(
        boto3.client("s3").get_object(Bucket=BUCKET, Key="baselines/churn-prod/baseline.json")["Body"].read()
    )
    assert [f["type"] for f in stored["features"]] == ["numeric", "categorical"]


def test_a_shifted_hour_is_detected_and_published_at_the_hour(fn: Any, stack: Stack):
    training()
    fn.lambda_handler(load_event("compute_drift/build_baseline.json"), FakeContext())
    capture("primary", "2026/11/22/09", 700, mean=40, mix=(30, 40, 30), junk=3)
    capture("canary", "2026/11/22/09", 300, mean=40, mix=(30, 40, 30))
    capture("primary", "2026/11/22/08", 700, mean=45, mix=(50, 30, 20))  # another hour: not read
    result = fn.lambda_handler(load_event("compute_drift/schedule.json"), FakeContext())
    [churn] = result["endpoints"]
    assert result["hour"] == "2026-11-22T09:00:00+00:00"
    assert (churn["status"], churn["rows"], churn["malformed"]) == ("published", 1000, 3)
    age, plan = churn["features"]["age"], churn["features"]["plan"]
    assert age["psi"] > 0.2
    assert plan["psi"] > 0.1
    assert plan["ks"] is None
    assert metric("MaxFeatureDrift") == [pytest.approx(max(age["psi"], plan["psi"]))]
    assert metric("FeatureDrift", "age") == [pytest.approx(age["psi"])]
    assert metric("FeatureKS", "age") == [pytest.approx(age["ks"])]
    # The most drifted feature is kept for StartRetraining's {feature}.
    [drift] = stack.items("drift")
    assert drift["feature"] == "age"


def test_an_unshifted_hour_shows_little_drift(fn: Any, stack: Stack):
    training()
    fn.lambda_handler(load_event("compute_drift/build_baseline.json"), FakeContext())
    capture("primary", "2026/11/22/09", 1500, mean=45, mix=(50, 30, 20))
    [churn] = fn.lambda_handler(load_event("compute_drift/schedule.json"), FakeContext())["endpoints"]
    assert churn["features"]["age"]["psi"] < 0.05
    assert churn["features"]["plan"]["psi"] < 0.05


def test_a_quiet_hour_publishes_nothing_and_says_so(fn: Any, stack: Stack):
    training()
    fn.lambda_handler(load_event("compute_drift/build_baseline.json"), FakeContext())
    capture("primary", "2026/11/22/09", 120, mean=40, mix=(30, 40, 30))
    [churn] = fn.lambda_handler(load_event("compute_drift/schedule.json"), FakeContext())["endpoints"]
    assert (churn["status"], churn["rows"]) == ("too-few-rows", 120)
    assert metric("MaxFeatureDrift") == []


def test_a_missing_baseline_is_told_once_not_every_hour(fn: Any, stack: Stack):
    capture("primary", "2026/11/22/09", 700, mean=40, mix=(30, 40, 30))
    for _ in range(3):
        [churn] = fn.lambda_handler(load_event("compute_drift/schedule.json"), FakeContext())["endpoints"]
        assert churn["status"] == "no-baseline"
    [critical] = stack.drain("critical")
    assert "found no baseline at s3://churn-ml/baselines/churn-prod/baseline.json" in critical["Message"]
    assert metric("MaxFeatureDrift") == []
