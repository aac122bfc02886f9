"""ComputeModelQualityFunction against moto: predictions captured in the real layout,
labels arriving hours and days later, duplicates and strays, per-variant metrics."""

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from sklearn import metrics as sk

from tests.conftest import AwsCalls, FakeContext, Stack, deliver, load_event, load_handler

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


def hourly(fn: Any, stack: Stack, context: Any = None) -> list[dict[str, Any]]:
    """The hourly catch-up as AWS runs it: the tick hands every endpoint in scope to the quality
    queue, and Lambda's event source mapping gives each to an invocation of its own (`deliver`,
    one message a batch as the template's mapping); the endpoints' results in the order handed out."""
    tick = fn.lambda_handler(load_event("compute_model_quality/schedule.json"), context or FakeContext())
    assert tick["job"] == "quality"
    deliveries = deliver(stack, "quality", fn.lambda_handler, batch_size=1, context=context)
    assert all(d.error is None and not d.failed and len(d.event["Records"]) == 1 for d in deliveries), deliveries
    results = {r["endpoint"]: r for d in deliveries for r in d.result["results"]}
    assert sorted(results) == sorted(tick["queued"])  # each endpoint once
    return [results[endpoint] for endpoint in tick["queued"]]


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


def created(key: Any) -> dict[str, Any]:
    event: dict[str, Any] = load_event("compute_model_quality/ground_truth_created.json")
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


def test_labels_join_predictions_across_hours_days_variants_and_encodings(fn: Any, stack: Stack) -> None:
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


def test_one_run_per_endpoint_and_hour_of_labels_and_the_catch_up_agrees(fn: Any, stack: Stack) -> None:
    primary_y, _, _, _ = scenario()
    key = labels(datetime(2026, 11, 22, 10, tzinfo=UTC), [(f"p{i}", str(y)) for i, y in enumerate(primary_y)])
    other = labels(datetime(2026, 11, 22, 10, tzinfo=UTC), [], name="labels-2")
    [first] = fn.lambda_handler(created(key), FakeContext())["results"]
    assert fn.lambda_handler(created(key), FakeContext()) == {"debounced": [key]}  # a redelivery
    assert fn.lambda_handler(created(other), FakeContext()) == {"debounced": [other]}  # a second file, same hour
    [caught_up] = hourly(fn, stack)
    assert caught_up["published"] == first["published"]


def test_below_the_minimum_sample_count_nothing_is_published(fn: Any, stack: Stack) -> None:
    scenario()
    key = labels(datetime(2026, 11, 22, 10, tzinfo=UTC), [(f"c{i}", "1") for i in range(30)])
    [result] = fn.lambda_handler(created(key), FakeContext())["results"]
    assert (result["matched"], result["published"]) == (30, {})


def test_the_hourly_catch_up_covers_every_endpoint(fn: Any, stack: Stack) -> None:
    primary_y, _, _, _ = scenario()
    labels(datetime(2026, 11, 22, 10, tzinfo=UTC), [(f"p{i}", str(y)) for i, y in enumerate(primary_y)])
    [result] = hourly(fn, stack)
    assert result["window"]["end"] == "2026-11-22T11:00:00+00:00"
    assert result["published"]["primary"]["quality_sample_count"] == 300


def test_a_key_outside_the_layout_is_rejected(fn: Any, stack: Stack) -> None:
    result = fn.lambda_handler(created("groundtruth/other-endpoint/2026/11/22/10/x.jsonl"), FakeContext())
    assert result["rejected"][0].startswith("ground-truth key")


def test_an_object_created_event_s3_could_not_have_sent_is_rejected_and_changes_nothing(
    fn: Any, stack: Stack, aws_calls: AwsCalls
) -> None:
    bad = [
        {**created("x"), "detail": 1.5},
        created(["groundtruth/churn-prod/2026/11/22/10/x.jsonl"]),
        created("groundtruth/churn-prod/2026/11/22/10/\ud800.jsonl"),
        created("groundtruth/churn-prod/2026/11/22/10/" + "x" * 1000),  # over S3's 1,024 bytes
        created("groundtruth/churn-prod/9999/12/31/23/x.jsonl"),  # its hour ends after year 9999
    ]
    for event in bad:
        aws_calls.made.clear()
        [rejected] = fn.lambda_handler(event, FakeContext())["rejected"]
        assert "key" in rejected
        assert aws_calls.mutating() == []


def test_regression_models_get_rmse_and_mae(fn: Any, stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
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


# --- real shapes (tests/data/real/README.md says where each file comes from) ------------------

REAL = Path(__file__).resolve().parents[1] / "data" / "real"
HOUR = datetime(2026, 11, 22, 9, tzinfo=UTC)


def put_text(key: str, text: str) -> None:
    boto3.client("s3").put_object(Bucket=BUCKET, Key=key, Body=text.encode())


def test_real_sdk_capture_and_ground_truth_give_scikit_learns_accuracy_and_auc(
    fn: Any, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUALITY_MIN_SAMPLES", "10")
    put_text(
        f"datacapture/churn-prod/AllTraffic/{HOUR:%Y/%m/%d/%H}/capture.jsonl",
        (REAL / "sdk-monitor-capture.jsonl").read_text(),
    )
    key = "groundtruth/churn-prod/2026/11/22/10/actuals.jsonl"
    put_text(key, (REAL / "sdk-monitor-actuals.jsonl").read_text())
    [result] = fn.lambda_handler(created(key), FakeContext())["results"]
    scores, y = [], []
    for capture, actual in zip(
        (REAL / "sdk-monitor-capture.jsonl").read_text().splitlines(),
        (REAL / "sdk-monitor-actuals.jsonl").read_text().splitlines(),
        strict=True,
    ):
        scores.append(float(json.loads(capture)["captureData"]["endpointOutput"]["data"]))
        y.append(int(json.loads(actual)["groundTruthData"]["data"]))
    ours = result["published"]["AllTraffic"]
    assert (result["labels"], result["matched"]) == (12, 12)
    assert ours["accuracy"] == pytest.approx(sk.accuracy_score(y, [int(s >= 0.5) for s in scores]))  # 5/12
    assert ours["accuracy"] == pytest.approx(5 / 12)
    assert ours["auc"] == pytest.approx(sk.roc_auc_score(y, scores))
    assert ours["recall"] == pytest.approx(sk.recall_score(y, [int(s >= 0.5) for s in scores]))


def capture_line(event_id: str, request: dict[str, str], response: dict[str, str]) -> str:
    return json.dumps(
        {
            "captureData": {"endpointInput": request, "endpointOutput": response},
            "eventMetadata": {
                "eventId": f"e-{event_id}",
                "inferenceId": event_id,
                "inferenceTime": "2026-11-22T09:30:00Z",
            },
            "eventVersion": "0",
        }
    )


def test_a_batched_json_request_is_paired_element_by_element_with_its_labels(
    fn: Any, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUALITY_MIN_SAMPLES", "5")
    body = (REAL / "clarify-adult-instances.json").read_text().strip()  # a real request of 8 instances
    request = {"observedContentType": "application/json", "mode": "INPUT", "data": body, "encoding": "JSON"}
    scores = [0.91, 0.12, 0.55, 0.08, 0.73, 0.33, 0.49, 0.97]
    response = {
        "observedContentType": "application/json",
        "mode": "OUTPUT",
        "data": json.dumps({"predictions": [{"score": s, "predicted_label": int(s >= 0.5)} for s in scores]}),
        "encoding": "JSON",
    }
    truth = [1, 0, 0, 0, 1, 1, 0, 1]
    short = {**response, "data": json.dumps({"predictions": [{"score": 0.5, "predicted_label": 1}]})}
    put_text(
        f"datacapture/churn-prod/AllTraffic/{HOUR:%Y/%m/%d/%H}/capture.jsonl",
        "\n".join([capture_line("batch-1", request, response), capture_line("batch-2", request, short)]),
    )
    key = "groundtruth/churn-prod/2026/11/22/10/labels.jsonl"
    put_lines(
        key,
        [
            {
                "groundTruthData": {"data": "\n".join(map(str, truth)), "encoding": "CSV"},
                "eventMetadata": {"eventId": "batch-1"},
                "eventVersion": "0",
            },
            # Eight labels for a response of one prediction: counted, not guessed at.
            {
                "groundTruthData": {"data": "\n".join(map(str, truth)), "encoding": "CSV"},
                "eventMetadata": {"eventId": "batch-2"},
                "eventVersion": "0",
            },
        ],
    )
    [result] = fn.lambda_handler(created(key), FakeContext())["results"]
    assert (result["labels"], result["matched"], result["count_mismatches"]) == (16, 8, 1)
    ours = result["published"]["AllTraffic"]
    assert ours["accuracy"] == pytest.approx(sk.accuracy_score(truth, [int(s >= 0.5) for s in scores]))
    assert ours["auc"] == pytest.approx(sk.roc_auc_score(truth, scores))


def test_one_batched_output_does_not_flip_how_the_window_is_read(
    fn: Any, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's case: one response "0.2\\n0.7\\n" among single probabilities used to turn
    the whole window into label comparison and halve the accuracy."""
    monkeypatch.setenv("QUALITY_MIN_SAMPLES", "5")
    request = {"observedContentType": "text/csv", "mode": "INPUT", "data": "45,basic", "encoding": "CSV"}
    rng = random.Random("flip")
    lines, items, scores, truth = [], [], [], []
    for i in range(40):
        y = int(rng.random() < 0.4)
        s = round(min(1.0, max(0.0, (0.75 if y else 0.25) + rng.gauss(0, 0.15))), 3)
        out = {"observedContentType": "text/csv", "mode": "OUTPUT", "data": f"{s}", "encoding": "CSV"}
        lines.append(capture_line(f"r{i}", request, out))
        items.append((f"r{i}", str(y)))
        scores.append(s)
        truth.append(y)
    batched_request = {**request, "data": "45,basic\n52,pro"}
    batched = {"observedContentType": "text/csv", "mode": "OUTPUT", "data": "0.2\n0.7\n", "encoding": "CSV"}
    lines.append(capture_line("batch", batched_request, batched))
    put_text(f"datacapture/churn-prod/AllTraffic/{HOUR:%Y/%m/%d/%H}/capture.jsonl", "\n".join(lines))
    key = "groundtruth/churn-prod/2026/11/22/10/labels.jsonl"
    put_lines(
        key,
        [
            {"groundTruthData": {"data": y, "encoding": "CSV"}, "eventMetadata": {"eventId": i}, "eventVersion": "0"}
            for i, y in items
        ]
        + [
            {
                "groundTruthData": {"data": "0\n1", "encoding": "CSV"},
                "eventMetadata": {"eventId": "batch"},
                "eventVersion": "0",
            }
        ],
    )
    [result] = fn.lambda_handler(created(key), FakeContext())["results"]
    ours = result["published"]["AllTraffic"]
    all_scores, all_truth = [*scores, 0.2, 0.7], [*truth, 0, 1]
    assert result["matched"] == 42
    assert ours["accuracy"] == pytest.approx(sk.accuracy_score(all_truth, [int(s >= 0.5) for s in all_scores]))
    assert ours["accuracy"] > 0.8
    assert ours["auc"] == pytest.approx(sk.roc_auc_score(all_truth, all_scores))


def test_complete_capture_hours_are_read_once_into_an_index_then_from_it(
    fn: Any, stack: Stack, monkeypatch: pytest.MonkeyPatch, aws_calls: Any
) -> None:
    monkeypatch.setenv("PREDICTION_INDEX_S3_URI", f"s3://{BUCKET}/prediction-index")
    primary_y, _, _, _ = scenario()  # predictions at 21 Nov 23:00, 22 Nov 08:00 and 09:00
    items = [(f"p{i}", str(y)) for i, y in enumerate(primary_y)]
    labels(datetime(2026, 11, 22, 10, tzinfo=UTC), items)
    # The catch-up at 11:10: hours up to 09:00 are complete.
    [first] = hourly(fn, stack)
    reads_first = aws_calls.of("s3").count("GetObject")
    aws_calls.made.clear()
    [second] = hourly(fn, stack)
    reads_second = aws_calls.of("s3").count("GetObject")
    assert first["published"] == second["published"]
    assert first["published"]["primary"]["quality_sample_count"] == 300
    assert (first["indexes_written"], second["indexes_written"]) == (first["indexed_hours"], 0)
    assert first["indexed_hours"] == first["capture_hours"] - 1  # the last hour (10:00) is not complete yet
    # Second run: one GET per complete hour (its index), the label file, and the open hour's files.
    assert reads_second == second["indexed_hours"] + 1
    assert reads_first > reads_second
    index = json.loads(
        boto3.client("s3")
        .get_object(Bucket=BUCKET, Key="prediction-index/churn-prod/2026/11/22/08.json")["Body"]
        .read()
    )
    assert index["format"] == "model-medic-prediction-index/1"
    assert len(index["predictions"]) == 150


def test_an_endpoint_whose_data_s3_refuses_is_told_once_and_the_others_are_measured(
    fn: Any, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ClientError

    from model_medic.measure.ground_truth import GroundTruth

    monkeypatch.setenv("MONITORED_ENDPOINTS", "fraud-prod,churn-prod")
    primary_y, _, _, _ = scenario()
    labels(datetime(2026, 11, 22, 10, tzinfo=UTC), [(f"p{i}", str(y)) for i, y in enumerate(primary_y)])
    read_labels = GroundTruth.labels

    def refused_for_fraud(self: GroundTruth, endpoint: str, *args: Any) -> Any:
        if endpoint == "fraud-prod":
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "ListObjectsV2")
        return read_labels(self, endpoint, *args)

    monkeypatch.setattr(GroundTruth, "labels", refused_for_fraud)
    for _ in range(2):
        results = hourly(fn, stack)
        fraud, churn = (next(r for r in results if r["endpoint"] == name) for name in ("fraud-prod", "churn-prod"))
        assert fraud["status"] == "unreadable"
        assert "AccessDenied" in fraud["problem"]
        assert churn["published"]["primary"]["quality_sample_count"] == 300
    [critical] = stack.drain("critical")
    assert critical["Subject"] == "[CRITICAL] test model quality of fraud-prod is not measured (unreadable)"
    [decision] = stack.items("decision")
    assert (decision["endpoint"], decision["action"]) == ("fraud-prod", "measure-model-quality")


def test_a_first_run_over_a_long_look_back_stops_building_the_index_in_time_and_the_next_goes_on(
    fn: Any, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from model_medic.measure import predictions as captured

    monkeypatch.setenv("PREDICTION_INDEX_S3_URI", f"s3://{BUCKET}/prediction-index")
    primary_y, _, _, _ = scenario()
    labels(datetime(2026, 11, 22, 10, tzinfo=UTC), [(f"p{i}", str(y)) for i, y in enumerate(primary_y)])
    clock = iter(range(10_000))
    monkeypatch.setattr(captured, "monotonic", lambda: float(next(clock)))  # each look at the clock: 1 s later

    @dataclass
    class ShortOfTime(FakeContext):
        def get_remaining_time_in_millis(self) -> int:
            return 10_000  # 6 s of index building: a few hours a run

    [first] = hourly(fn, stack, ShortOfTime())
    assert (first["status"], first["published"]) == ("indexing", {})
    assert 0 < first["indexes_written"] < 95
    runs = 1
    while True:
        [result] = hourly(fn, stack, ShortOfTime())
        runs += 1
        if result["status"] != "indexing":
            break
    assert result["published"]["primary"]["quality_sample_count"] == 300
    assert runs > 2  # the index was built over several runs, each within its time
    assert stack.drain("critical") == []


def copy_endpoint_data(source: str, target: str) -> None:
    """Every captured prediction and label of `source`, as if `target` had served and been labelled the same."""
    s3 = boto3.client("s3")
    for prefix in ("datacapture", "groundtruth"):
        for item in s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{prefix}/{source}/").get("Contents", []):
            key = item["Key"].replace(f"/{source}/", f"/{target}/", 1)
            s3.copy_object(Bucket=BUCKET, Key=key, CopySource={"Bucket": BUCKET, "Key": item["Key"]})


def test_an_endpoint_found_only_by_the_discovery_tag_is_measured_and_one_out_of_scope_is_not(
    fn: Any, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import make_endpoint

    monkeypatch.setenv("MONITORED_ENDPOINTS", "")  # a fleet found by its tag alone
    monkeypatch.setenv("DISCOVERY_TAG", "team=churn")
    sagemaker = boto3.client("sagemaker")
    for name, tags in (("churn-prod", {"team": "churn"}), ("stray-prod", {"team": "other"}), ("bare-prod", {})):
        make_endpoint(name)
        if tags:
            arn = sagemaker.describe_endpoint(EndpointName=name)["EndpointArn"]
            sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
    primary_y, _, _, _ = scenario()
    key = labels(datetime(2026, 11, 22, 10, tzinfo=UTC), [(f"p{i}", str(y)) for i, y in enumerate(primary_y)])
    for other in ("stray-prod", "bare-prod", "gone-prod"):  # the same data, out of scope (gone-prod: no endpoint)
        copy_endpoint_data("churn-prod", other)
    # Its labels' Object Created key is accepted, and its quality published.
    [result] = fn.lambda_handler(created(key), FakeContext())["results"]
    assert result["published"]["primary"]["quality_sample_count"] == 300
    # Keys of endpoints out of scope are turned away, whatever their data.
    for other in ("stray-prod", "bare-prod", "gone-prod"):
        rejected = fn.lambda_handler(created(key.replace("/churn-prod/", f"/{other}/")), FakeContext())["rejected"]
        assert "not in scope" in rejected[0], rejected
    # The hourly catch-up measures the tagged endpoint, and only it.
    results = hourly(fn, stack)
    assert [r["endpoint"] for r in results] == ["churn-prod"]
    assert results[0]["published"]["primary"]["quality_sample_count"] == 300
    published = boto3.client("cloudwatch").list_metrics(Namespace="Custom/SageMaker", MetricName="accuracy")
    endpoints = {d["Value"] for m in published["Metrics"] for d in m["Dimensions"] if d["Name"] == "EndpointName"}
    assert endpoints == {"churn-prod"}


def test_a_discovery_tag_in_model_medics_own_prefix_is_not_told_as_an_unused_policy_tag(
    fn: Any, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The discovery tag says what is in scope, not a policy: every function ignores its key (here too)."""
    from tests.conftest import make_endpoint

    monkeypatch.setenv("MONITORED_ENDPOINTS", "")
    monkeypatch.setenv("DISCOVERY_TAG", "model-medic:fleet=churn")
    make_endpoint("churn-prod")
    sagemaker = boto3.client("sagemaker")
    arn = sagemaker.describe_endpoint(EndpointName="churn-prod")["EndpointArn"]
    sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": "model-medic:fleet", "Value": "churn"}])
    results = hourly(fn, stack)
    assert [r["endpoint"] for r in results] == ["churn-prod"]
    assert [m for m in stack.drain("info") if "is not used" in m.get("Subject", "")] == []
    # The same tag with an unknown key of ours is told, so the check above can fail.
    sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": "model-medic:fleet-size", "Value": "3"}])
    hourly(fn, stack)
    assert [m for m in stack.drain("info") if "is not used" in m.get("Subject", "")] != []


@pytest.mark.parametrize(
    ("folder", "groups"),
    [
        # Where Model Monitor's merge step writes it: <endpoint>/<variant>/YYYY/MM/DD/HH/.
        ("groundtruth/churn-prod/AllTraffic/2024/01/19/20", {"AllTraffic", "(endpoint)"}),
        # Beside plain ground truth: no variant to count it for, the endpoint's figures only.
        ("groundtruth/churn-prod/2024/01/19/20", {"(endpoint)"}),
    ],
)
def test_a_real_merged_record_is_scored_from_the_prediction_it_carries(
    fn: Any, stack: Stack, folder: str, groups: set[str]
) -> None:
    """Model Monitor's merged JSON Lines (capture and ground truth in one record; the real one
    is kept indented as AWS's notebook printed it): no capture to search, 334 labels at once."""
    record = json.loads((REAL / "clarify-merged-record.json").read_text())
    key = f"{folder}/part-00002-99446fe5-7aff-450c-84fa-010ce40bab93.c000.jsonl"  # its name in the notebook
    put_text(key, json.dumps(record) + "\n")
    [result] = fn.lambda_handler(created(key), FakeContext())["results"]
    truth = [int(v["label"]) for v in json.loads(record["groundTruthData"]["data"])["instances"]]
    scores = [p["score"] for p in json.loads(record["captureData"]["endpointOutput"]["data"])["predictions"]]
    assert (result["labels"], result["matched"], result["merged"], result["malformed"]) == (334, 334, 334, 0)
    assert set(result["published"]) == groups
    ours = result["published"]["(endpoint)"]
    predicted = [int(s >= 0.5) for s in scores]  # a probability is judged against the threshold
    assert ours["accuracy"] == pytest.approx(sk.accuracy_score(truth, predicted))
    assert ours["precision"] == pytest.approx(sk.precision_score(truth, predicted))
    assert ours["recall"] == pytest.approx(sk.recall_score(truth, predicted))
    assert ours["f1"] == pytest.approx(sk.f1_score(truth, predicted))
    assert ours["auc"] == pytest.approx(sk.roc_auc_score(truth, scores))
    assert ours["quality_sample_count"] == 334


def test_a_merged_record_whose_capture_is_found_counts_for_the_capture_s_variant(fn: Any, stack: Stack) -> None:
    record = json.loads((REAL / "clarify-merged-record.json").read_text())
    capture = {key: record[key] for key in ("captureData", "eventMetadata", "eventVersion")}
    put_text("datacapture/churn-prod/canary/2026/11/22/09/capture.jsonl", json.dumps(capture))
    key = "groundtruth/churn-prod/2026/11/22/10/merged.jsonl"
    put_text(key, json.dumps(record))
    [result] = fn.lambda_handler(created(key), FakeContext())["results"]
    assert (result["matched"], result["merged"]) == (334, 0)
    assert set(result["published"]) == {"canary", "(endpoint)"}
    assert result["published"]["canary"] == result["published"]["(endpoint)"]


def test_the_catch_up_measures_each_endpoint_in_an_invocation_of_its_own_and_retries_a_failure_alone(
    fn: Any, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ClientError

    from model_medic.measure.ground_truth import GroundTruth
    from tests.conftest import parked

    monkeypatch.setenv("MONITORED_ENDPOINTS", "churn-prod,fraud-prod")
    primary_y, _, _, _ = scenario()
    labels(datetime(2026, 11, 22, 10, tzinfo=UTC), [(f"p{i}", str(y)) for i, y in enumerate(primary_y)])
    read_labels = GroundTruth.labels

    def throttled_for_fraud(self: GroundTruth, endpoint: str, *args: Any) -> Any:
        if endpoint == "fraud-prod":
            raise ClientError(
                {"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."}}, "GetObject"
            )
        return read_labels(self, endpoint, *args)

    monkeypatch.setattr(GroundTruth, "labels", throttled_for_fraud)
    tick = fn.lambda_handler(load_event("compute_model_quality/schedule.json"), FakeContext())
    assert tick["queued"] == ["churn-prod", "fraud-prod"]
    deliveries = deliver(stack, "quality", fn.lambda_handler, batch_size=1)
    endpoints = [json.loads(d.event["Records"][0]["body"])["endpoint"] for d in deliveries]
    # churn-prod once; fraud-prod five times (maxReceiveCount), each time alone, then parked.
    assert sorted(endpoints) == ["churn-prod"] + ["fraud-prod"] * 5
    [churn] = [r for d in deliveries for r in d.result["results"]]
    assert churn["published"]["primary"]["quality_sample_count"] == 300
    assert all(
        d.failed == [d.event["Records"][0]["messageId"]] for d in deliveries if "fraud" in d.event["Records"][0]["body"]
    )
    assert [m["endpoint"] for m in parked(stack)] == ["fraud-prod"]
    assert stack.drain("critical") == []  # a transient error is retried, not told
