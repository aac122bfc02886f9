"""ComputeDriftFunction against moto: capture files in the real layout, a baseline built by
the function, metrics published, too-quiet hours and missing baselines handled."""

import json
import math
import random
from pathlib import Path
from typing import Any

import boto3
import pytest

from localcloud.world import capture_record
from tests.conftest import FakeContext, Stack, deliver, load_event, load_handler, parked

BUCKET = "churn-ml"


@pytest.fixture
def fn(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("CAPTURE_S3_URI", f"s3://{BUCKET}/datacapture")
    monkeypatch.setenv("BASELINE_S3_URI", f"s3://{BUCKET}/baselines")
    monkeypatch.setenv("DRIFT_MIN_ROWS", "500")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "compute-drift")
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    return load_handler("compute_drift")


def hourly(fn: Any, stack: Stack) -> dict[str, Any]:
    """The hourly run as AWS runs it: the tick hands every endpoint in scope to the drift queue,
    and Lambda's event source mapping gives them to the function (`deliver`); the endpoints'
    results, by name, under the hour they measured."""
    tick = fn.lambda_handler(load_event("compute_drift/schedule.json"), FakeContext())
    assert tick["job"] == "drift"
    deliveries = deliver(stack, "drift", fn.lambda_handler)
    assert all(d.error is None and not d.failed for d in deliveries), deliveries
    results = sorted((r for d in deliveries for r in d.result["results"]), key=lambda r: r["endpoint"])
    assert sorted(r["endpoint"] for r in results) == sorted(tick["queued"])  # each endpoint once
    hours = {r.pop("hour") for r in results}
    assert len(hours) <= 1
    return {"hour": hours.pop() if hours else None, "endpoints": results}


def put(key: str, body: str) -> None:
    boto3.client("s3").put_object(Bucket=BUCKET, Key=key, Body=body.encode())


def training(rows: int = 3000, header: str = "churned,age,plan") -> None:
    rng = random.Random(1)
    # The label first, as SageMaker's built-in algorithms expect it: the baseline leaves it out.
    lines = [header] + [
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
    values: list[float] = result["Values"]
    return values


def test_the_function_builds_the_baseline_beside_the_training_data(fn: Any, stack: Stack) -> None:
    training()
    result = fn.lambda_handler(load_event("compute_drift/build_baseline.json"), FakeContext())
    assert result == {"baseline": f"s3://{BUCKET}/baselines/churn-prod/baseline.json"}
    stored = json.loads(
        boto3.client("s3").get_object(Bucket=BUCKET, Key="baselines/churn-prod/baseline.json")["Body"].read()
    )
    # Every column: whether the first (churned) is the label, the captured rows' width says each hour.
    assert [f["type"] for f in stored["features"]] == ["numeric", "numeric", "categorical"]
    assert stored["label_candidate"] == "churned"


def test_a_shifted_hour_is_detected_and_published_at_the_hour(fn: Any, stack: Stack) -> None:
    training()
    fn.lambda_handler(load_event("compute_drift/build_baseline.json"), FakeContext())
    capture("primary", "2026/11/22/09", 700, mean=40, mix=(30, 40, 30), junk=3)
    capture("canary", "2026/11/22/09", 300, mean=40, mix=(30, 40, 30))
    capture("primary", "2026/11/22/08", 700, mean=45, mix=(50, 30, 20))  # another hour: not read
    result = hourly(fn, stack)
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


def test_an_unshifted_hour_shows_little_drift(fn: Any, stack: Stack) -> None:
    training()
    fn.lambda_handler(load_event("compute_drift/build_baseline.json"), FakeContext())
    capture("primary", "2026/11/22/09", 1500, mean=45, mix=(50, 30, 20))
    [churn] = hourly(fn, stack)["endpoints"]
    assert churn["features"]["age"]["psi"] < 0.05
    assert churn["features"]["plan"]["psi"] < 0.05


def json_capture_record(data: str, event_id: str) -> str:
    """A captured JSON request as SageMaker writes it: the request body verbatim, encoding JSON."""
    captured = {"observedContentType": "application/json", "mode": "INPUT", "data": data, "encoding": "JSON"}
    metadata = {"eventId": event_id, "inferenceTime": "2026-11-22T09:10:00Z"}
    return json.dumps({"captureData": {"endpointInput": captured}, "eventMetadata": metadata, "eventVersion": "0"})


def test_nan_and_infinity_are_malformed_values_in_training_and_capture_and_raise_no_drift(
    fn: Any, stack: Stack
) -> None:
    rng = random.Random(2)
    rows = [f"{rng.choice('01')},{rng.gauss(45, 10):.3f},{rng.choice(['basic', 'plus', 'pro'])}" for _ in range(3000)]
    rows[10:13] = ["0,nan,basic", "1,inf,pro", "0,NaN,plus"]  # numpy's and pandas' spellings
    put("baselines/churn-prod/training.csv", "\n".join(["churned,age,plan", *rows]))
    built = fn.lambda_handler(load_event("compute_drift/build_baseline.json"), FakeContext())
    assert built["baseline"] == f"s3://{BUCKET}/baselines/churn-prod/baseline.json"
    assert built["note"] == (
        "missing, NaN or infinite values of numeric features left out of the baseline (of 3000 rows): age 3; "
        "captured ones are counted as malformed and left out alike"
    )
    assert all(math.isfinite(edge) for edge in baseline_of("churn-prod")["features"][1]["edges"])
    at = "2026-11-22T09:10:00Z"
    lines = [
        capture_record(f"{rng.gauss(45, 10):.3f},{rng.choice(['basic', 'plus', 'pro'])}", f"r{i}", at)
        for i in range(600)
    ]
    lines[100] = capture_record("nan,basic", "csv-nan", at)
    lines[200] = json_capture_record('{"instances": [[44.2, "pro"], ["NaN", "basic"]]}', "json-string-nan")
    lines[300] = json_capture_record('{"instances": [[NaN, "plus"]]}', "json-bare-nan")  # not JSON: RFC 8259 has no NaN
    lines[400] = capture_record("-inf,pro\n47.5,plus", "csv-inf", at)
    put("datacapture/churn-prod/AllTraffic/2026/11/22/09/capture-1.jsonl", "\n".join(lines))
    [churn] = hourly(fn, stack)["endpoints"]
    assert (churn["status"], churn["rows"], churn["malformed"]) == ("published", 598, 4)
    # One NaN used to put an undrifted hour's PSI above 0.2 most hours, and start a retraining.
    assert churn["features"]["age"]["psi"] < 0.05
    assert churn["features"]["age"]["ks"] < 0.1
    assert metric("MaxFeatureDrift") == [pytest.approx(max(f["psi"] for f in churn["features"].values()))]
    assert metric("MaxFeatureDrift")[0] < 0.05


def test_a_stored_baseline_with_nan_edges_is_a_bad_baseline_told_to_be_built_again(fn: Any, stack: Stack) -> None:
    training()
    fn.lambda_handler(load_event("compute_drift/build_baseline.json"), FakeContext())
    stored = baseline_of("churn-prod")
    stored["features"][1]["edges"][3:5] = [math.nan, math.inf]  # as the builder wrote NaN training values before
    put("baselines/churn-prod/baseline.json", json.dumps(stored))  # json writes NaN and Infinity
    capture("primary", "2026/11/22/09", 700, mean=45, mix=(50, 30, 20))
    [churn] = hourly(fn, stack)["endpoints"]
    assert churn["status"] == "bad-baseline"
    assert "NaN or infinite bin edges" in churn["problem"]
    assert "make baseline" in churn["problem"]
    assert metric("MaxFeatureDrift") == []


def test_a_quiet_hour_publishes_nothing_and_says_so(fn: Any, stack: Stack) -> None:
    training()
    fn.lambda_handler(load_event("compute_drift/build_baseline.json"), FakeContext())
    capture("primary", "2026/11/22/09", 120, mean=40, mix=(30, 40, 30))
    [churn] = hourly(fn, stack)["endpoints"]
    assert (churn["status"], churn["rows"]) == ("too-few-rows", 120)
    assert metric("MaxFeatureDrift") == []


def test_a_missing_baseline_is_told_once_not_every_hour(fn: Any, stack: Stack) -> None:
    capture("primary", "2026/11/22/09", 700, mean=40, mix=(30, 40, 30))
    for _ in range(3):
        [churn] = hourly(fn, stack)["endpoints"]
        assert churn["status"] == "no-baseline"
    [critical] = stack.drain("critical")
    assert "found no baseline at s3://churn-ml/baselines/churn-prod/baseline.json" in critical["Message"]
    assert metric("MaxFeatureDrift") == []


# --- feature names CloudWatch refuses as a dimension value (docs/aws-behaviours.md) -----------

FEATURE_NAMES = "drift feature names of churn-prod changed for CloudWatch"


def feature_names_told(stack: Stack) -> list[dict[str, Any]]:
    """The information messages since the last drain that tell of feature names changed for CloudWatch."""
    return [m for m in stack.drain("info") if FEATURE_NAMES in m.get("Subject", "")]


def test_a_feature_name_cloudwatch_refuses_is_published_escaped_and_max_feature_drift_is_never_lost(
    fn: Any, stack: Stack
) -> None:
    training(header="churned,température,plan")
    fn.lambda_handler(load_event("compute_drift/build_baseline.json"), FakeContext())
    capture("primary", "2026/11/22/09", 700, mean=40, mix=(30, 40, 30))
    [churn] = hourly(fn, stack)["endpoints"]
    assert churn["status"] == "published"
    temperature, plan = churn["features"]["température"], churn["features"]["plan"]
    assert temperature["psi"] > 0.2
    assert churn["renamed"] == {"température": "temp\\u00e9rature"}
    # What the DataDrift alarm watches is published; the feature under the escape of its name.
    assert metric("MaxFeatureDrift") == [pytest.approx(max(temperature["psi"], plan["psi"]))]
    assert metric("FeatureDrift", "temp\\u00e9rature") == [pytest.approx(temperature["psi"])]
    assert metric("FeatureKS", "temp\\u00e9rature") == [pytest.approx(temperature["ks"])]
    assert metric("FeatureDrift", "plan") == [pytest.approx(plan["psi"])]
    [drift] = stack.items("drift")
    assert drift["feature"] == "température"  # StartRetraining's {feature}: the name itself
    [told] = feature_names_told(stack)
    assert '"température" is published as "temp\\u00e9rature"' in told["Message"]
    assert "MaxFeatureDrift, which the DataDrift alarm watches, counts every feature" in told["Message"]
    assert stack.drain("critical") == []
    hourly(fn, stack)  # told once per baseline, not every hour
    assert feature_names_told(stack) == []


def test_a_stored_baseline_with_an_unnamed_feature_still_publishes_max_feature_drift(fn: Any, stack: Stack) -> None:
    # A baseline.json built before the builder refused an unnamed column (or written by hand).
    training()
    fn.lambda_handler(load_event("compute_drift/build_baseline.json"), FakeContext())
    s3 = boto3.client("s3")
    stored = json.loads(s3.get_object(Bucket=BUCKET, Key="baselines/churn-prod/baseline.json")["Body"].read())
    [age] = [f for f in stored["features"] if f["name"] == "age"]
    age["name"] = ""
    put("baselines/churn-prod/baseline.json", json.dumps(stored))
    capture("primary", "2026/11/22/09", 700, mean=40, mix=(30, 40, 30))
    [churn] = hourly(fn, stack)["endpoints"]
    assert churn["status"] == "published"
    assert churn["unpublished"] == {"": "it is empty or only spaces"}
    assert metric("MaxFeatureDrift") == [pytest.approx(max(f["psi"] for f in churn["features"].values()))]
    assert metric("FeatureDrift", "plan") == [pytest.approx(churn["features"]["plan"]["psi"])]
    assert features_published() == {"FeatureDrift:plan"}
    [told] = feature_names_told(stack)
    assert '"" is not published per feature: it is empty or only spaces' in told["Message"]
    assert stack.drain("critical") == []


def test_a_training_set_with_an_unnamed_column_is_refused_and_nothing_is_written(fn: Any, stack: Stack) -> None:
    # pandas' DataFrame.to_csv() without index=False: its index is a first column without a name.
    put("baselines/churn-prod/training.csv", ",churned,age\n0,1,41.5\n1,0,37.2\n")
    [refused] = fn.lambda_handler(load_event("compute_drift/build_baseline.json"), FakeContext())["rejected"]
    assert refused.startswith("baseline of churn-prod not built: the training dataset's header names no column 0")
    listed = boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix="baselines/churn-prod/baseline.json")
    assert listed.get("KeyCount", 0) == 0


# --- real shapes (tests/data/real/README.md says where each file comes from) ------------------

REAL = Path(__file__).resolve().parents[1] / "data" / "real"


def churn_training() -> tuple[list[str], list[list[str]]]:
    """The real churn training CSV (label `Churn` first, 69 features), header and rows."""
    lines = (REAL / "churn-training-with-header.csv").read_text().splitlines()
    return lines[0].split(","), [line.split(",") for line in lines[1:]]


def churn_capture(endpoint: str, hour: str, copies: int) -> None:
    """Captured requests as the churn model receives them: the 69 features, no label;
    batched, three rows to a request (a multi-line CSV request)."""
    _, rows = churn_training()
    features = [",".join(row[1:]) for row in rows] * copies
    lines = [
        capture_record("\n".join(features[i : i + 3]), f"{endpoint}-{i}", f"{hour.replace('/', '-')}:10:00Z")
        for i in range(0, len(features), 3)
    ]
    put(f"datacapture/{endpoint}/AllTraffic/{hour}/capture-1.jsonl", "\n".join(lines))


def two_endpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITORED_ENDPOINTS", "churn-prod,fraud-prod")
    monkeypatch.setenv("DRIFT_MIN_ROWS", "150")


def test_a_baseline_built_from_real_training_data_leaves_the_label_out_and_reads_batched_csv(
    fn: Any, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRIFT_MIN_ROWS", "150")
    put("baselines/churn-prod/training.csv", (REAL / "churn-training-with-header.csv").read_text())
    assert fn.lambda_handler(load_event("compute_drift/build_baseline.json"), FakeContext())["baseline"]
    stored = json.loads(
        boto3.client("s3").get_object(Bucket=BUCKET, Key="baselines/churn-prod/baseline.json")["Body"].read()
    )
    header, _ = churn_training()
    assert stored["label_candidate"] == "Churn"
    assert [f["name"] for f in stored["features"]] == header  # 70 columns: the capture decides
    churn_capture("churn-prod", "2026/11/22/09", copies=13)  # 156 rows in 52 requests of 3
    [churn] = hourly(fn, stack)["endpoints"]
    assert (churn["status"], churn["rows"], churn["mismatched"], churn["malformed"]) == ("published", 156, 0, 0)
    assert list(churn["features"]) == header[1:]  # 69 features, the label left out
    # The same rows as training: every feature's PSI is small (the 12 rows, 4 times over).
    assert max(f["psi"] for f in churn["features"].values()) < 0.05


def test_a_baseline_that_kept_the_label_is_told_once_loudly_and_the_other_endpoint_is_measured(
    fn: Any, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    two_endpoints(monkeypatch)
    put("baselines/churn-prod/training.csv", (REAL / "churn-training-with-header.csv").read_text())
    put("baselines/fraud-prod/training.csv", (REAL / "churn-training-with-header.csv").read_text())
    # churn-prod's baseline was built as if the CSV had no label: 70 features for 69-value rows.
    built = fn.lambda_handler({"build-baseline": {"endpoint": "churn-prod", "label-column": "none"}}, FakeContext())
    assert built["baseline"]
    fn.lambda_handler({"build-baseline": {"endpoint": "fraud-prod"}}, FakeContext())
    churn_capture("churn-prod", "2026/11/22/09", copies=13)
    churn_capture("fraud-prod", "2026/11/22/09", copies=13)
    for _ in range(3):  # three hourly runs: one notice
        churn, fraud = hourly(fn, stack)["endpoints"]
        assert (churn["status"], churn["rows"], churn["mismatched"]) == ("shape-mismatch", 0, 156)
        assert "156 captured row(s) have 69 values but the baseline has 70 features" in churn["problem"]
        assert "label column left in" in churn["problem"]
        assert (fraud["status"], fraud["rows"]) == ("published", 156)
    [critical] = stack.drain("critical")
    assert critical["Subject"] == "[CRITICAL] test drift of churn-prod is not measured (shape-mismatch)"
    assert "BaselineLabelColumn" in critical["Message"]
    [decision] = stack.items("decision")
    assert (decision["endpoint"], decision["action"], decision["result"]) == ("churn-prod", "measure-drift", "skipped")
    assert metric("MaxFeatureDrift") == []  # churn-prod: nothing published
    # Rebuilt right, the same captured hour is measured.
    fn.lambda_handler({"build-baseline": {"endpoint": "churn-prod"}}, FakeContext())
    churn, _ = hourly(fn, stack)["endpoints"]
    assert (churn["status"], churn["rows"]) == ("published", 156)


def baseline_of(endpoint: str) -> dict[str, Any]:
    body = boto3.client("s3").get_object(Bucket=BUCKET, Key=f"baselines/{endpoint}/baseline.json")["Body"].read()
    return json.loads(body)  # type: ignore[no-any-return]


def test_a_real_training_set_without_a_label_column_is_measured_on_every_column_beside_one_with_its_label(
    fn: Any, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    two_endpoints(monkeypatch)
    # The same model's training data as AWS's example keeps it twice: inputs only (69 columns,
    # no label), and with the label Churn first (70). BaselineLabelColumn stays at its default.
    put("baselines/churn-prod/training.csv", (REAL / "churn-training-inputs-with-header.csv").read_text())
    put("baselines/fraud-prod/training.csv", (REAL / "churn-training-with-header.csv").read_text())
    for endpoint in ("churn-prod", "fraud-prod"):
        assert fn.lambda_handler({"build-baseline": {"endpoint": endpoint}}, FakeContext())["baseline"]
        churn_capture(endpoint, "2026/11/22/09", copies=13)  # 69 values a row, as the model receives them
    header, _ = churn_training()
    assert baseline_of("churn-prod")["label_candidate"] == "Account Length"
    assert baseline_of("fraud-prod")["label_candidate"] == "Churn"
    for _ in range(3):
        churn, fraud = hourly(fn, stack)["endpoints"]
        for measured in (churn, fraud):
            assert (measured["status"], measured["rows"], measured["mismatched"]) == ("published", 156, 0)
            assert list(measured["features"]) == header[1:]  # every input column; the label never
            assert max(f["psi"] for f in measured["features"].values()) < 0.05
    assert stack.drain("critical") == []
    assert metric("MaxFeatureDrift") == [pytest.approx(max(f["psi"] for f in churn["features"].values()))]


def test_captured_rows_that_fit_the_training_set_neither_way_are_told_once_with_the_widths(
    fn: Any, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    two_endpoints(monkeypatch)
    put("baselines/churn-prod/training.csv", (REAL / "churn-training-with-header.csv").read_text())
    put("baselines/fraud-prod/training.csv", (REAL / "churn-training-with-header.csv").read_text())
    for endpoint in ("churn-prod", "fraud-prod"):
        fn.lambda_handler({"build-baseline": {"endpoint": endpoint}}, FakeContext())
    # churn-prod receives another model's requests: the SDK's real capture, 7 values a row.
    put(
        "datacapture/churn-prod/AllTraffic/2026/11/22/09/capture.jsonl",
        (REAL / "sdk-monitor-capture.jsonl").read_text(),
    )
    churn_capture("fraud-prod", "2026/11/22/09", copies=13)
    for _ in range(3):
        churn, fraud = hourly(fn, stack)["endpoints"]
        assert (churn["status"], churn["rows"], churn["mismatched"]) == ("shape-mismatch", 0, 12)
        assert "12 captured row(s) have 7 values but the training set has 70 columns" in churn["problem"]
        assert (fraud["status"], fraud["rows"]) == ("published", 156)
    [critical] = stack.drain("critical")
    assert critical["Subject"] == "[CRITICAL] test drift of churn-prod is not measured (shape-mismatch)"
    assert "without a label column have 70 values, with the label first 69" in critical["Message"]
    [decision] = stack.items("decision")
    assert (decision["endpoint"], decision["action"], decision["result"]) == ("churn-prod", "measure-drift", "skipped")


def test_real_csv_records_cut_short_are_malformed_not_rows(
    fn: Any, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRIFT_MIN_ROWS", "150")
    put("baselines/churn-prod/training.csv", (REAL / "churn-training-with-header.csv").read_text())
    fn.lambda_handler(load_event("compute_drift/build_baseline.json"), FakeContext())
    _, rows = churn_training()
    features = [",".join(row[1:]) for row in rows] * 13  # 156 whole rows of 69 values
    cut = [",".join(row[1:40]) for row in rows[:5]]  # the same requests cut after 39 values
    longer = [",".join(rows[0])]  # one that still carries its label: 70 values
    lines = [capture_record(data, f"e{i}", "2026-11-22T09:10:00Z") for i, data in enumerate(features + cut + longer)]
    put("datacapture/churn-prod/AllTraffic/2026/11/22/09/capture-1.jsonl", "\n".join(lines))
    [churn] = hourly(fn, stack)["endpoints"]
    assert (churn["status"], churn["rows"], churn["malformed"], churn["mismatched"]) == ("published", 156, 6, 0)
    assert "Churn" not in churn["features"]
    assert stack.drain("critical") == []


def statistics(**extra: Any) -> dict[str, Any]:
    """A Model Monitor statistics.json to AWS's documented schema: a numeric feature with
    KLL buckets and sketch, and a high-cardinality string feature with no distribution."""
    return {
        "version": 0.0,
        "dataset": {"item_count": 100},
        "features": [
            {
                "name": "age",
                "inferred_type": "Fractional",
                "numerical_statistics": {
                    "common": {"num_present": 100, "num_missing": 0},
                    "mean": 45.0,
                    "sum": 4500.0,
                    "std_dev": 10.0,
                    "min": 20.0,
                    "max": 70.0,
                    "distribution": {
                        "kll": {
                            "buckets": [
                                {"lower_bound": 20.0, "upper_bound": 45.0, "count": 50},
                                {"lower_bound": 45.0, "upper_bound": 70.0, "count": 50},
                            ],
                            "sketch": {"parameters": {"c": 0.64, "k": 2048.0}, "data": [[20.0, 45.0, 70.0]]},
                        }
                    },
                },
            },
            {
                "name": "customer_id",
                "inferred_type": "String",
                "string_statistics": {"common": {"num_present": 100, "num_missing": 0}, "distinct_count": 100.0},
            },
        ],
        **extra,
    }


def test_a_statistics_file_without_string_distributions_is_read_and_a_broken_one_blinds_only_its_endpoint(
    fn: Any, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    two_endpoints(monkeypatch)
    monkeypatch.setenv("BASELINE_LABEL_COLUMN", "none")
    put("baselines/churn-prod/statistics.json", json.dumps(statistics()))
    # The real SDK statistics.json, its one feature dropped as the label: nothing left to compare.
    monkeypatch.setenv("BASELINE_LABEL_COLUMN", "none")
    broken = json.loads((REAL / "sdk-monitor-statistics.json").read_text())
    broken["features"][0]["string_statistics"].pop("distribution")
    put("baselines/fraud-prod/statistics.json", json.dumps(broken))
    rng = random.Random("stats")
    for endpoint in ("churn-prod", "fraud-prod"):
        rows = [
            capture_record(f"{rng.uniform(20, 70):.1f},c{i}", f"{endpoint}{i}", "2026-11-22T09:10:00Z")
            for i in range(160)
        ]
        put(f"datacapture/{endpoint}/AllTraffic/2026/11/22/09/capture.jsonl", "\n".join(rows))
    for _ in range(2):
        churn, fraud = hourly(fn, stack)["endpoints"]
        assert churn["status"] == "published"
        assert set(churn["features"]) == {"age"}  # customer_id skipped: no distribution to compare with
        assert fraud["status"] == "bad-baseline"
        assert "no feature with a distribution" in fraud["problem"]
    [critical] = stack.drain("critical")
    assert "fraud-prod" in critical["Subject"]
    assert metric("MaxFeatureDrift") == [pytest.approx(churn["features"]["age"]["psi"])]


def test_a_statistics_file_left_with_nothing_to_compare_once_its_label_is_out_is_told_once(
    fn: Any, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRIFT_MIN_ROWS", "150")
    put("baselines/churn-prod/statistics.json", json.dumps(statistics()))  # age, then customer_id
    # The requests carry one value: age was the label, and customer_id has no distribution.
    rows = [capture_record(f"c{i}", f"e{i}", "2026-11-22T09:10:00Z") for i in range(160)]
    put("datacapture/churn-prod/AllTraffic/2026/11/22/09/capture.jsonl", "\n".join(rows))
    for _ in range(2):
        [churn] = hourly(fn, stack)["endpoints"]
        assert churn["status"] == "bad-baseline"
        assert "no feature besides its label column 'age'" in churn["problem"]
    [critical] = stack.drain("critical")
    assert critical["Subject"] == "[CRITICAL] test drift of churn-prod is not measured (bad-baseline)"
    assert metric("MaxFeatureDrift") == []


def test_a_transient_aws_error_sends_back_only_its_endpoint_which_is_retried_then_parked(
    fn: Any, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ClientError

    from model_medic.measure.drift import ComputeDrift

    two_endpoints(monkeypatch)
    monkeypatch.setenv("BASELINE_LABEL_COLUMN", "none")
    for endpoint in ("churn-prod", "fraud-prod"):
        put(f"baselines/{endpoint}/statistics.json", json.dumps(statistics()))
        rows = [capture_record(f"{30 + i % 20},c", f"{endpoint}{i}", "2026-11-22T09:10:00Z") for i in range(160)]
        put(f"datacapture/{endpoint}/AllTraffic/2026/11/22/09/capture.jsonl", "\n".join(rows))
    measure = ComputeDrift.measure

    def throttled_for_churn(self: ComputeDrift, endpoint: str, baseline: dict[str, Any], hour: Any) -> Any:
        if endpoint == "churn-prod":
            raise ClientError({"Error": {"Code": "SlowDown", "Message": "slow down"}}, "GetObject")
        return measure(self, endpoint, baseline, hour)

    monkeypatch.setattr(ComputeDrift, "measure", throttled_for_churn)
    assert fn.lambda_handler(load_event("compute_drift/schedule.json"), FakeContext())["queued"] == [
        "churn-prod",
        "fraud-prod",
    ]
    first, *retries = deliver(stack, "drift", fn.lambda_handler)
    # One batch of both: fraud-prod measured, churn-prod's message alone handed back (a partial batch response).
    [churn_message] = [r["messageId"] for r in first.event["Records"] if "churn-prod" in r["body"]]
    assert first.result["batchItemFailures"] == [{"itemIdentifier": churn_message}]
    assert [r["endpoint"] for r in first.result["results"]] == ["fraud-prod"]
    # Retried alone until its fifth receive, then parked in the dead-letter queue; never measured twice.
    assert [len(d.event["Records"]) for d in retries] == [1, 1, 1, 1]
    assert [d.event["Records"][0]["attributes"]["ApproximateReceiveCount"] for d in retries] == ["2", "3", "4", "5"]
    assert all(d.failed == [churn_message] for d in retries)
    assert [m["endpoint"] for m in parked(stack)] == ["churn-prod"]
    dims = [{"Name": "EndpointName", "Value": "fraud-prod"}]
    published = boto3.client("cloudwatch").list_metrics(Namespace="Custom/SageMaker", MetricName="MaxFeatureDrift")
    assert [m["Dimensions"] for m in published["Metrics"]][:1] == [dims]  # fraud-prod measured all the same
    assert stack.drain("critical") == []  # a transient error is retried, not told


def test_a_baseline_that_cannot_be_built_is_refused_with_the_reason_and_nothing_is_written(
    fn: Any, stack: Stack
) -> None:
    [missing] = fn.lambda_handler(load_event("compute_drift/build_baseline.json"), FakeContext())["rejected"]
    assert (
        missing
        == f"baseline of churn-prod not built: no training set at s3://{BUCKET}/baselines/churn-prod/training.csv"
    )
    put("baselines/churn-prod/training.csv", (REAL / "churn-training-with-header.csv").read_text())
    bad = fn.lambda_handler({"build-baseline": {"endpoint": "churn-prod", "label-column": "churned"}}, FakeContext())
    assert "label column 'churned' is neither a header name nor a column number" in bad["rejected"][0]
    listed = boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix="baselines/churn-prod/baseline.json")
    assert listed.get("KeyCount", 0) == 0


def test_an_endpoint_found_only_by_the_discovery_tag_is_measured_and_one_out_of_scope_is_not(
    fn: Any, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import make_endpoint

    monkeypatch.setenv("MONITORED_ENDPOINTS", "")  # a fleet found by its tag alone
    monkeypatch.setenv("DISCOVERY_TAG", "team=churn")
    sagemaker = boto3.client("sagemaker")
    for name, team in (("churn-prod", "churn"), ("churn-eu", "churn"), ("stray-prod", "other")):
        make_endpoint(name)
        arn = sagemaker.describe_endpoint(EndpointName=name)["EndpointArn"]
        sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": "team", "Value": team}])
    make_endpoint("bare-prod")  # no tag at all
    training()
    capture("primary", "2026/11/22/09", 700, mean=40, mix=(30, 40, 30))
    s3 = boto3.client("s3")
    for other in ("stray-prod", "bare-prod", "gone-prod"):  # the same data, out of scope (gone-prod: no endpoint)
        for item in s3.list_objects_v2(Bucket=BUCKET, Prefix="")["Contents"]:
            if "/churn-prod/" in item["Key"]:
                key = item["Key"].replace("/churn-prod/", f"/{other}/")
                s3.copy_object(Bucket=BUCKET, Key=key, CopySource={"Bucket": BUCKET, "Key": item["Key"]})
    # build-baseline takes a tagged endpoint, and turns the others away without writing anything.
    assert fn.lambda_handler(load_event("compute_drift/build_baseline.json"), FakeContext())["baseline"]
    for other in ("stray-prod", "bare-prod", "gone-prod", ""):
        rejected = fn.lambda_handler({"build-baseline": {"endpoint": other}}, FakeContext())["rejected"]
        assert "needs an endpoint in scope" in rejected[0], rejected
        assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix=f"baselines/{other}/baseline")
    # The hourly run measures the tagged endpoints, and only them; churn-eu has no baseline: told once.
    for _ in range(2):
        result = hourly(fn, stack)
        by_endpoint = {e["endpoint"]: e for e in result["endpoints"]}
        assert set(by_endpoint) == {"churn-prod", "churn-eu"}
        assert (by_endpoint["churn-prod"]["status"], by_endpoint["churn-prod"]["rows"]) == ("published", 700)
        assert by_endpoint["churn-eu"]["status"] == "no-baseline"
    assert metric("MaxFeatureDrift") == [
        pytest.approx(max(f["psi"] for f in by_endpoint["churn-prod"]["features"].values()))
    ]
    [critical] = stack.drain("critical")
    assert "found no baseline at s3://churn-ml/baselines/churn-eu/baseline.json" in critical["Message"]
    published = boto3.client("cloudwatch").list_metrics(Namespace="Custom/SageMaker", MetricName="MaxFeatureDrift")
    endpoints = {d["Value"] for m in published["Metrics"] for d in m["Dimensions"] if d["Name"] == "EndpointName"}
    assert endpoints == {"churn-prod"}


# --- the fan-out: one message per endpoint, each measured on its own --------------------------


def test_the_hourly_run_queues_every_endpoint_ten_a_call_and_measures_none_itself(
    fn: Any, stack: Stack, monkeypatch: pytest.MonkeyPatch, aws_requests: list[tuple[str, str, dict[str, Any]]]
) -> None:
    fleet = [f"model-{n:02d}" for n in range(23)]
    monkeypatch.setenv("MONITORED_ENDPOINTS", ",".join(fleet))
    aws_requests.clear()
    tick = fn.lambda_handler(load_event("compute_drift/schedule.json"), FakeContext())
    assert tick == {"job": "drift", "at": "2026-11-22T10:05:00+00:00", "queued": fleet}
    sent = [params for service, operation, params in aws_requests if operation == "SendMessageBatch"]
    assert [len(p["Entries"]) for p in sent] == [10, 10, 3]
    # The scope (ListEndpoints, GetResources) and the queue: no capture read, no metric put.
    assert {service for service, _, _ in aws_requests} == {"sagemaker", "resourcegroupstaggingapi", "sqs"}
    bodies = [json.loads(e["MessageBody"]) for p in sent for e in p["Entries"]]
    assert bodies[0] == {"measure": "drift", "endpoint": "model-00", "at": "2026-11-22T10:05:00+00:00"}
    # Lambda's event source mapping: batches of ten, each endpoint measured once, by its own message.
    deliveries = deliver(stack, "drift", fn.lambda_handler)
    assert [len(d.event["Records"]) for d in deliveries] == [10, 10, 3]
    measured = [r["endpoint"] for d in deliveries for r in d.result["results"]]
    assert sorted(measured) == fleet
    assert all(d.result["batchItemFailures"] == [] for d in deliveries)
    assert (
        stack.sqs.get_queue_attributes(QueueUrl=stack.queues["drift"], AttributeNames=["ApproximateNumberOfMessages"])[
            "Attributes"
        ]["ApproximateNumberOfMessages"]
        == "0"
    )


def test_a_message_that_is_no_drift_measurement_is_rejected_not_retried_and_the_batch_is_measured(
    fn: Any, stack: Stack
) -> None:
    training()
    fn.lambda_handler(load_event("compute_drift/build_baseline.json"), FakeContext())
    capture("primary", "2026/11/22/09", 700, mean=40, mix=(30, 40, 30))
    for body in (
        '{"measure": "drift", "endpoint": "churn-prod"}',
        "hello",
        load_event("compute_drift/queued.json")["Records"][0]["body"],
    ):
        stack.sqs.send_message(QueueUrl=stack.queues["drift"], MessageBody=body)
    [delivery] = deliver(stack, "drift", fn.lambda_handler)
    assert delivery.failed == []  # nothing goes back: bad input is never retried into the dead-letter queue
    assert [r["endpoint"] for r in delivery.result["results"]] == ["churn-prod"]
    assert delivery.result["results"][0]["status"] == "published"
    assert len(delivery.result["rejected"]) == 2
    assert parked(stack) == []


def features_published() -> set[str]:
    cloudwatch = boto3.client("cloudwatch")
    return {
        f"{m['MetricName']}:{d['Value']}"
        for name in ("FeatureDrift", "FeatureKS")
        for m in cloudwatch.list_metrics(Namespace="Custom/SageMaker", MetricName=name)["Metrics"]
        for d in m["Dimensions"]
        if d["Name"] == "Feature"
    }


def test_per_feature_metrics_follow_the_stack_and_the_endpoints_tag_and_max_feature_drift_stays(
    fn: Any, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from model_medic.platform.settings import load_settings
    from tests.conftest import make_endpoint

    make_endpoint("churn-prod")
    sagemaker = boto3.client("sagemaker")
    arn = sagemaker.describe_endpoint(EndpointName="churn-prod")["EndpointArn"]
    training()
    fn.lambda_handler(load_event("compute_drift/build_baseline.json"), FakeContext())
    capture("primary", "2026/11/22/09", 700, mean=40, mix=(30, 40, 30))
    switch = "model-medic:per-feature-drift-metrics"
    sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": switch, "Value": "false"}])
    fn.lambda_handler(load_event("compute_drift/schedule.json"), FakeContext())
    [delivery] = deliver(stack, "drift", fn.lambda_handler)  # the endpoint measured in its own invocation
    [churn] = delivery.result["results"]
    assert churn["status"] == "published"
    assert metric("MaxFeatureDrift") == [pytest.approx(max(f["psi"] for f in churn["features"].values()))]
    assert features_published() == set()  # three custom metrics fewer (two features, one numeric)
    # The stack switches them off; this endpoint's tag switches its own back on.
    monkeypatch.setenv("PER_FEATURE_DRIFT_METRICS", "false")
    load_settings.cache_clear()
    sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": switch, "Value": "true"}])
    fn.lambda_handler(load_event("compute_drift/schedule.json"), FakeContext())
    deliver(stack, "drift", fn.lambda_handler)
    assert features_published() == {"FeatureDrift:age", "FeatureDrift:plan", "FeatureKS:age"}
