"""ComputeModelQualityFunction against moto: predictions captured in the real layout,
labels arriving hours and days later, duplicates and strays, per-variant metrics."""

import json
import random
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from sklearn import metrics as sk

from tests.conftest import FakeContext, Stack, load_event, load_handler

BUCKET = "churn-ml"


@pytest.fixture
def fn(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, value in {
        "CAPTURE_S3_URI": f"s3://{BUCKET}/datacapture",
        "GROUND_TRUTH_S3_URI": f"s3://{BUCKET}/groundtruth",
        "PROBLEM_TYPE": "BinaryClassification",
        "QUALITY_WINDOW_HOURS": "24",
        "LABEL_LOOKBACK_HOURS": "72",
        "QUALITY_MIN_SAMPLES": "50",
        "POWERTOOLS_SERVICE_NAME": "compute-model-quality",
    }.items():
        monkeypatch.setenv(name, value)
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    return load_handler("compute_model_quality")


def put_lines(key: str, records: list[dict[str, Any]]) -> None:
    boto3.client("s3").put_object(Bucket=BUCKET, Key=key, Body="\n".join(json.dumps(r) for r in records).encode())


def predictions(variant: str, hour: datetime, ids: list[str], scores: list[float], encoding: str = "CSV") -> None:
    records = []
    for event_id, score in zip(ids, scores, strict=True):
        output = (
            {"observedContentType": "text/csv", "mode": "OUTPUT", "data": f"{score:.4f}", "encoding": "CSV"}
            if encoding == "CSV"
            else {
                "observedContentType": "application/json",
                "mode": "OUTPUT",
                "data": json.dumps({"predictions": [{"score": round(score, 4)}]}),
                "encoding": "JSON",
            }
        )
        records.append(
            {
                "captureData": {
                    "endpointInput": {
                        "observedContentType": "text/csv",
                        "mode": "INPUT",
                        "data": "45,basic",
                        "encoding": "CSV",
                    },
                    "endpointOutput": output,
                },
                "eventMetadata": {
                    "eventId": f"evt-{event_id}",
                    "inferenceId": event_id,
                    "inferenceTime": hour.strftime("%Y-%m-%dT%H:%M:%SZ"),
                },
                "eventVersion": "0",
            }
        )
    put_lines(f"datacapture/churn-prod/{variant}/{hour:%Y/%m/%d/%H}/capture.jsonl", records)


def labels(hour: datetime, items: list[tuple[str, str]], name: str = "labels-1") -> str:
    key = f"groundtruth/churn-prod/{hour:%Y/%m/%d/%H}/{name}.jsonl"
    put_lines(
        key,
        [
            {
                "groundTruthData": {"data": label, "encoding": "CSV"},
                "eventMetadata": {"eventId": event_id},
                "eventVersion": "0",
            }
            for event_id, label in items
        ],
    )
    return key


def created(key: str) -> dict[str, Any]:
    event = load_event("compute_model_quality/ground_truth_created.json")
    event["detail"]["object"]["key"] = key
    return event


def scenario() -> tuple[list[int], list[float], list[int], list[float]]:
    """Predictions of two variants across two days; labels collected on 22 Nov, 10:00."""
    rng = random.Random("quality")
    primary_y = [int(rng.random() < 0.3) for _ in range(300)]
    primary_s = [min(1, max(0, (0.7 if y else 0.3) + rng.gauss(0, 0.15))) for y in primary_y]
    canary_y = [int(rng.random() < 0.3) for _ in range(100)]
    canary_s = [rng.random() for _ in canary_y]  # a useless canary
    # Predictions made the day before and the same morning (late labels cross day folders).
    predictions("primary", datetime(2026, 11, 21, 23, tzinfo=UTC), [f"p{i}" for i in range(150)], primary_s[:150])
    predictions(
        "primary",
        datetime(2026, 11, 22, 8, tzinfo=UTC),
        [f"p{i}" for i in range(150, 300)],
        primary_s[150:],
        encoding="JSON",
    )
    predictions("canary", datetime(2026, 11, 22, 9, tzinfo=UTC), [f"c{i}" for i in range(100)], canary_s)
    return primary_y, primary_s, canary_y, canary_s


def test_labels_join_predictions_across_hours_days_variants_and_encodings(fn: Any, stack: Stack):
    primary_y, primary_s, canary_y, canary_s = scenario()
    items = [(f"p{i}", str(y)) for i, y in enumerate(primary_y)] + [(f"c{i}", str(y)) for i, y in enumerate(canary_y)]
    items += [("p0", "1" if primary_y[0] == 0 else "0")]  # a duplicate label: the first stands
    items += [("ghost-1", "1"), ("ghost-2", "0")]  # labels of predictions never captured
    key = labels(datetime(2026, 11, 22, 10, tzinfo=UTC), items)
    [result] = fn.lambda_handler(created(key), FakeContext())["results"]
    assert (result["labels"], result["matched"], result["unmatched_labels"], result["duplicate_labels"]) == (
        402,
        400,
        2,
        1,
    )
    primary = result["published"]["primary"]
    predicted = [int(float(f"{s:.4f}") >= 0.5) for s in primary_s]
    assert primary["accuracy"] == pytest.approx(sk.accuracy_score(primary_y, predicted))
    assert primary["auc"] == pytest.approx(sk.roc_auc_score(primary_y, [float(f"{s:.4f}") for s in primary_s]))
    assert primary["quality_sample_count"] == 300
    assert result["published"]["canary"]["auc"] == pytest.approx(
        sk.roc_auc_score(canary_y, [float(f"{s:.4f}") for s in canary_s])
    )
    both = result["published"]["(endpoint)"]
    assert both["quality_sample_count"] == 400
    # Published per variant and per endpoint, at the hour of the labels.
    cloudwatch = boto3.client("cloudwatch")
    found = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "a",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "Custom/SageMaker",
                        "MetricName": "accuracy",
                        "Dimensions": [{"Name": "EndpointName", "Value": "churn-prod"}],
                    },
                    "Period": 3600,
                    "Stat": "Average",
                },
            }
        ],
        StartTime=datetime(2026, 11, 22, 9, tzinfo=UTC),
        EndTime=datetime(2026, 11, 22, 12, tzinfo=UTC),
    )["MetricDataResults"][0]
    assert found["Values"] == [pytest.approx(both["accuracy"])]
    assert found["Timestamps"][0].replace(tzinfo=UTC) == datetime(2026, 11, 22, 10, tzinfo=UTC)


def test_one_run_per_endpoint_and_hour_of_labels_and_the_catch_up_agrees(fn: Any, stack: Stack):
    primary_y, _, _, _ = scenario()
    key = labels(datetime(2026, 11, 22, 10, tzinfo=UTC), [(f"p{i}", str(y)) for i, y in enumerate(primary_y)])
    other = labels(datetime(2026, 11, 22, 10, tzinfo=UTC), [], name="labels-2")
    [first] = fn.lambda_handler(created(key), FakeContext())["results"]
    assert fn.lambda_handler(created(key), FakeContext()) == {"debounced": [key]}  # a redelivery
    assert fn.lambda_handler(created(other), FakeContext()) == {"debounced": [other]}  # a second file, same hour
    [caught_up] = fn.lambda_handler(load_event("compute_model_quality/schedule.json"), FakeContext())["results"]
    assert caught_up["published"] == first["published"]


def test_below_the_minimum_sample_count_nothing_is_published(fn: Any, stack: Stack):
    scenario()
    key = labels(datetime(2026, 11, 22, 10, tzinfo=UTC), [(f"c{i}", "1") for i in range(30)])
    [result] = fn.lambda_handler(created(key), FakeContext())["results"]
    assert (result["matched"], result["published"]) == (30, {})


def test_the_hourly_catch_up_covers_every_endpoint(fn: Any, stack: Stack):
    primary_y, _, _, _ = scenario()
    labels(datetime(2026, 11, 22, 10, tzinfo=UTC), [(f"p{i}", str(y)) for i, y in enumerate(primary_y)])
    [result] = fn.lambda_handler(load_event("compute_model_quality/schedule.json"), FakeContext())["results"]
    assert result["window"]["end"] == "2026-11-22T11:00:00+00:00"
    assert result["published"]["primary"]["quality_sample_count"] == 300


def test_a_key_outside_the_layout_is_rejected(fn: Any, stack: Stack):
    result = fn.lambda_handler(created("groundtruth/other-endpoint/2026/11/22/10/x.jsonl"), FakeContext())
    assert result["rejected"][0].startswith("ground-truth key")


def test_regression_models_get_rmse_and_mae(fn: Any, stack: Stack, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PROBLEM_TYPE", "Regression")
    rng = random.Random("regression")
    truth = [rng.uniform(10, 90) for _ in range(80)]
    guess = [t + rng.gauss(0, 3) for t in truth]
    predictions("primary", datetime(2026, 11, 22, 9, tzinfo=UTC), [f"r{i}" for i in range(80)], guess)
    key = labels(datetime(2026, 11, 22, 10, tzinfo=UTC), [(f"r{i}", f"{t:.4f}") for i, t in enumerate(truth)])
    [result] = fn.lambda_handler(created(key), FakeContext())["results"]
    ours = result["published"]["primary"]
    rounded = [float(f"{g:.4f}") for g in guess]
    assert ours["mae"] == pytest.approx(sk.mean_absolute_error([float(f"{t:.4f}") for t in truth], rounded))
    assert set(ours) == {"rmse", "mae", "quality_sample_count"}
