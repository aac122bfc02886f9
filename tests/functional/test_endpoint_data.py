"""Each endpoint's data read from the endpoint, against moto: two teams' endpoints capturing to
their own buckets (their DataCaptureConfig) with their own baselines, labels and response
attributes (their tags) are each measured for drift and quality; the stack's locations stand
in where an endpoint has no tag; an endpoint without capture, and a bad tag, are told once."""

import json
import random
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from tests.conftest import FakeContext, Stack, deliver, load_event, load_handler

STACK_BUCKET, TEAM_A, TEAM_B = "stack-ml", "team-a-ml", "team-b-ml"
HOUR = datetime(2026, 11, 22, 9, tzinfo=UTC)  # the hour both hourly runs of the events/ ticks read
ENDPOINTS = ("fraud-a", "churn-b", "scale-only")


@pytest.fixture
def handlers(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    """The drift and quality functions of a stack with baseline and label defaults, and no
    capture default: an endpoint's capture is its own."""
    for name, value in {
        "MONITORED_ENDPOINTS": ",".join(ENDPOINTS),
        "CAPTURE_S3_URI": "",
        "BASELINE_S3_URI": f"s3://{STACK_BUCKET}/baselines",
        "GROUND_TRUTH_S3_URI": f"s3://{STACK_BUCKET}/groundtruth",
        "DRIFT_MIN_ROWS": "150",
        "PROBLEM_TYPE": "BinaryClassification",
        "QUALITY_WINDOW_HOURS": "24",
        "LABEL_LOOKBACK_HOURS": "24",
        "QUALITY_MIN_SAMPLES": "50",
    }.items():
        monkeypatch.setenv(name, value)
    s3 = boto3.client("s3")
    for bucket in (STACK_BUCKET, TEAM_A, TEAM_B):
        s3.create_bucket(Bucket=bucket)
    endpoint(
        "fraud-a",
        f"s3://{TEAM_A}/capture",
        **{
            "model-medic:baseline-s3-uri": f"s3://{TEAM_A}/monitoring/baselines",
            "model-medic:ground-truth-s3-uri": f"s3://{TEAM_A}/monitoring/labels",
            "model-medic:inference-attribute": "verdict",
            "model-medic:probability-attribute": "fraud_probability",
            "model-medic:positive-label": "fraud",
        },
    )
    # No data tag that is used: the stack's baseline and labels (a bad tag is told, and left out).
    endpoint("churn-b", f"s3://{TEAM_B}/datacapture/", **{"model-medic:ground-truth-s3-uri": "s3://Team_B/labels"})
    endpoint("scale-only", None, **{"model-medic:max-instance-count": "3"})
    return load_handler("compute_drift"), load_handler("compute_model_quality")


def endpoint(name: str, capture_uri: str | None, **tags: str) -> None:
    """An endpoint in moto whose config captures to `capture_uri` (None: no DataCaptureConfig)."""
    sagemaker = boto3.client("sagemaker")
    sagemaker.create_model(
        ModelName=f"{name}-model",
        ExecutionRoleArn="arn:aws:iam::123456789012:role/sagemaker-execution",
        PrimaryContainer={"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/fraud:latest"},
    )
    config: dict[str, Any] = {
        "EndpointConfigName": f"{name}-config",
        "ProductionVariants": [
            {
                "VariantName": "primary",
                "ModelName": f"{name}-model",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "InitialVariantWeight": 1.0,
            }
        ],
    }
    if capture_uri is not None:
        config["DataCaptureConfig"] = {
            "EnableCapture": True,
            "InitialSamplingPercentage": 100,
            "DestinationS3Uri": capture_uri,
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        }
    sagemaker.create_endpoint_config(**config)
    sagemaker.create_endpoint(
        EndpointName=name,
        EndpointConfigName=f"{name}-config",
        Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
    )


def put(bucket: str, key: str, lines: list[str]) -> None:
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body="\n".join(lines).encode())


def training(bucket: str, prefix: str, endpoint_name: str) -> None:
    rng = random.Random(endpoint_name)
    rows = [f"{rng.choice('01')},{rng.gauss(45, 10):.3f}" for _ in range(2000)]
    put(bucket, f"{prefix}/{endpoint_name}/training.csv", ["label,age", *rows])


def record(age: float, event_id: str, output: dict[str, Any]) -> str:
    """One capture line as SageMaker writes it (docs/aws-behaviours.md, "Data capture and ground truth formats")."""
    return json.dumps(
        {
            "captureData": {
                "endpointInput": {
                    "observedContentType": "text/csv",
                    "mode": "INPUT",
                    "data": f"{age:.3f}",
                    "encoding": "CSV",
                },
                "endpointOutput": {"mode": "OUTPUT", **output},
            },
            "eventMetadata": {
                "eventId": f"evt-{event_id}",
                "inferenceId": event_id,
                "inferenceTime": "2026-11-22T09:20:00Z",
            },
            "eventVersion": "0",
        }
    )


def team_a_hour() -> list[str]:
    """fraud-a: 300 requests of shifted ages; JSON answers with its own attribute names; labels fraud/legit."""
    rng = random.Random("team-a")
    captured, labels = [], []
    for i in range(300):
        fraud = rng.random() < 0.3
        probability = min(1.0, max(0.0, (0.8 if fraud else 0.2) + rng.gauss(0, 0.1)))
        answer = {
            "predictions": [{"verdict": "fraud" if probability >= 0.5 else "legit", "fraud_probability": probability}]
        }
        output = {"observedContentType": "application/json", "data": json.dumps(answer), "encoding": "JSON"}
        captured.append(record(rng.gauss(60, 10), f"a{i}", output))
        labels.append(f"a{i}:{'fraud' if fraud else 'legit'}")
    put(TEAM_A, f"capture/fraud-a/primary/{HOUR:%Y/%m/%d/%H}/capture-1.jsonl", captured)
    return labels


def team_b_hour() -> list[str]:
    """churn-b: 200 requests as its training set; CSV scores; labels 1/0."""
    rng = random.Random("team-b")
    captured, labels = [], []
    for i in range(200):
        churned = rng.random() < 0.4
        score = min(1.0, max(0.0, (0.7 if churned else 0.3) + rng.gauss(0, 0.15)))
        output = {"observedContentType": "text/csv", "data": f"{score:.4f}", "encoding": "CSV"}
        captured.append(record(rng.gauss(45, 10), f"b{i}", output))
        labels.append(f"b{i}:{int(churned)}")
    put(TEAM_B, f"datacapture/churn-b/primary/{HOUR:%Y/%m/%d/%H}/capture-1.jsonl", captured)
    return labels


def ground_truth(bucket: str, root: str, endpoint_name: str, labels: list[str]) -> None:
    lines = []
    for item in labels:
        event_id, label = item.split(":")
        truth = {"groundTruthData": {"data": label, "encoding": "CSV"}, "eventMetadata": {"eventId": event_id}}
        lines.append(json.dumps({**truth, "eventVersion": "0"}))
    put(bucket, f"{root}/{endpoint_name}/{HOUR:%Y/%m/%d}/10/labels.jsonl", lines)


def hourly(fn: Any, stack: Stack, job: str) -> dict[str, dict[str, Any]]:
    """The job's hourly run as AWS runs it (the tick, then each endpoint's message); the results by endpoint."""
    tick = fn.lambda_handler(
        load_event(f"compute_{'drift' if job == 'drift' else 'model_quality'}/schedule.json"), FakeContext()
    )
    deliveries = deliver(stack, job, fn.lambda_handler, batch_size=1)
    assert all(d.error is None and not d.failed for d in deliveries), deliveries
    results = {r["endpoint"]: r for d in deliveries for r in d.result["results"]}
    assert sorted(results) == sorted(tick["queued"])
    return results


def test_two_teams_capturing_to_their_own_buckets_are_each_measured_for_drift_and_quality(
    handlers: tuple[Any, Any], stack: Stack
) -> None:
    drift_fn, quality_fn = handlers
    training(TEAM_A, "monitoring/baselines", "fraud-a")
    training(STACK_BUCKET, "baselines", "churn-b")
    # build-baseline writes where the endpoint's tag says, else where the stack's BaselineS3Uri says.
    built = {e: drift_fn.lambda_handler({"build-baseline": {"endpoint": e}}, FakeContext()) for e in ENDPOINTS[:2]}
    assert built == {
        "fraud-a": {"baseline": f"s3://{TEAM_A}/monitoring/baselines/fraud-a/baseline.json"},
        "churn-b": {"baseline": f"s3://{STACK_BUCKET}/baselines/churn-b/baseline.json"},
    }
    ground_truth(TEAM_A, "monitoring/labels", "fraud-a", team_a_hour())
    ground_truth(STACK_BUCKET, "groundtruth", "churn-b", team_b_hour())

    drift = hourly(drift_fn, stack, "drift")
    fraud_a, churn_b = drift["fraud-a"], drift["churn-b"]
    # Each read its own bucket: 300 rows of team A's, 200 of team B's; team A's ages shifted.
    assert (fraud_a["status"], fraud_a["rows"]) == ("published", 300)
    assert (churn_b["status"], churn_b["rows"]) == ("published", 200)
    assert fraud_a["features"]["age"]["psi"] > 1.0
    assert churn_b["features"]["age"]["psi"] < 0.2

    quality = hourly(quality_fn, stack, "quality")
    a, b = quality["fraud-a"], quality["churn-b"]
    assert (a["status"], a["labels"], a["matched"], a["malformed"]) == ("published", 300, 300, 0)
    assert (b["status"], b["labels"], b["matched"], b["malformed"]) == ("published", 200, 200, 0)
    # fraud-a's answers are read by its tags (verdict, fraud_probability; positive: fraud): well separated.
    assert a["published"]["(endpoint)"]["accuracy"] > 0.9
    assert a["published"]["(endpoint)"]["recall"] > 0.9
    assert b["published"]["(endpoint)"]["accuracy"] > 0.7


def test_an_endpoint_without_capture_is_told_once_what_is_missing_and_a_bad_tag_once(
    handlers: tuple[Any, Any], stack: Stack
) -> None:
    drift_fn, quality_fn = handlers
    for _ in range(2):
        drift = hourly(drift_fn, stack, "drift")
        quality = hourly(quality_fn, stack, "quality")
        for results in (drift, quality):
            only = results["scale-only"]
            assert only["status"] == "no-data"
            assert list(only["missing"]) == ["capture"]  # the stack's baseline and labels stand in
            assert "no DataCaptureConfig" in only["missing"]["capture"]
        # churn-b has its capture and the stack's locations, but nothing in them yet: not a data problem.
        assert drift["churn-b"]["status"] == "no-baseline"
        assert quality["churn-b"]["status"] == "too-few-samples"
    info = stack.drain("info")
    subjects = sorted(m["Subject"] for m in info)
    assert subjects == [
        "[INFO] test a tag of churn-b is not used",
        "[INFO] test drift of scale-only is not measured (no data)",
        "[INFO] test model quality of scale-only is not measured (no data)",
    ], subjects
    [bad_tag] = [m for m in info if "churn-b" in m["Subject"]]
    assert "model-medic:ground-truth-s3-uri='s3://Team_B/labels'" in bad_tag["Message"]
    [told] = [m for m in info if "drift of scale-only" in m["Subject"]]
    assert "- capture: the endpoint has no DataCaptureConfig" in told["Message"]
    assert "scale-up, rollback" in told["Message"]
    # Recorded once in the ledger too, as a skip.
    skips = [d for d in stack.items("decision") if d.get("state") == "no-data"]
    assert sorted(d["action"] for d in skips) == ["measure-drift", "measure-model-quality"]


def test_capture_turned_off_is_missing_even_with_a_stack_capture_default(
    handlers: tuple[Any, Any], stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    drift_fn, _ = handlers
    monkeypatch.setenv("CAPTURE_S3_URI", f"s3://{STACK_BUCKET}/datacapture")
    monkeypatch.setenv("MONITORED_ENDPOINTS", "scale-only,quiet")
    sagemaker = boto3.client("sagemaker")
    sagemaker.create_endpoint_config(
        EndpointConfigName="quiet-config",
        ProductionVariants=[
            {
                "VariantName": "primary",
                "ModelName": "scale-only-model",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
        DataCaptureConfig={
            "EnableCapture": False,
            "InitialSamplingPercentage": 100,
            "DestinationS3Uri": f"s3://{TEAM_A}/capture",
            "CaptureOptions": [{"CaptureMode": "Input"}],
        },
    )
    sagemaker.create_endpoint(EndpointName="quiet", EndpointConfigName="quiet-config")
    drift = hourly(drift_fn, stack, "drift")
    assert drift["quiet"]["status"] == "no-data"
    assert "EnableCapture is false" in drift["quiet"]["missing"]["capture"]
    # The endpoint without a DataCaptureConfig reads the stack's default: no data problem, no baseline yet.
    assert drift["scale-only"]["status"] == "no-baseline"
