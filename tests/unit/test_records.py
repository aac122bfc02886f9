"""Captured payloads split into records the way Model Monitor reads them, on real files
(tests/data/real/README.md) and on every shape docs/aws-behaviours.md names ("Real data shapes")."""

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from model_medic.measure import records
from model_medic.measure.capture_sample import Sample
from model_medic.measure.records import OutputFormat, Prediction

REAL = Path(__file__).resolve().parents[1] / "data" / "real"
PROBABILITY = OutputFormat()  # the defaults: predicted_label, score, a bare value is a probability
LABELS = OutputFormat(inference_attribute="0", probability_attribute="", bare_is_probability=False)


def payload(data: str, content_type: str, encoding: str = "") -> dict[str, str]:
    encoding = encoding or ("JSON" if "json" in content_type else "CSV")
    return {"observedContentType": content_type, "mode": "INPUT", "data": data, "encoding": encoding}


def test_the_real_sdk_capture_file_gives_one_probability_per_response() -> None:
    lines = (REAL / "sdk-monitor-capture.jsonl").read_text().splitlines()
    found = [records.predictions(json.loads(line)["captureData"]["endpointOutput"], PROBABILITY) for line in lines]
    assert found[0] == [Prediction(None, 0.302709460258)]
    assert found[3] == [Prediction(None, 0.70524597168)]
    assert all(len(f) == 1 for f in found)


def test_the_real_sdk_capture_file_is_read_into_columns_by_the_drift_sample() -> None:
    sample = Sample([f"_c{i}" for i in range(7)], {f"_c{i}" for i in range(7)})
    sample.add_capture_file((REAL / "sdk-monitor-capture.jsonl").read_bytes())
    assert (sample.rows, sample.malformed, sample.mismatched) == (12, 0, 0)
    assert sorted(sample.values["_c0"]) == sorted([9.0, 27, 9, 35, 1, 30, 9, 23, 0, 1, 0, 21])


def test_real_ground_truth_files_give_their_labels() -> None:
    [record] = [json.loads(line) for line in (REAL / "examples-test-gt-01d3c1a8.jsonl").read_text().splitlines()]
    assert records.labels(record["groundTruthData"]) == ["0"]
    assert record["eventMetadata"]["eventId"] == "01d3c1a8-aa99-4149-9d5e-78bea047a788"
    actuals = [json.loads(line) for line in (REAL / "sdk-monitor-actuals.jsonl").read_text().splitlines()]
    assert [records.labels(a["groundTruthData"]) for a in actuals][-3:] == [["1"], ["0"], ["0"]]


def test_the_real_clarify_json_request_is_eight_instances_of_fourteen_features() -> None:
    body = (REAL / "clarify-adult-instances.json").read_text().strip()
    rows = records.input_rows(payload(body, "application/json"))
    assert len(rows) == 8
    assert rows[0] == [28, 2, 133937, 9, 13, 2, 0, 0, 4, 1, 15024, 0, 55, 37]
    assert all(len(row) == 14 for row in rows)
    # The same request base64-encoded, as data capture stores binary-safe payloads.
    encoded = payload(base64.b64encode(body.encode()).decode(), "application/json", "BASE64")
    assert records.input_rows(encoded) == rows


@pytest.mark.parametrize(
    ("data", "content_type", "expected"),
    [
        ("1,2\n3,4\n", "text/csv", [["1", "2"], ["3", "4"]]),  # several CSV lines
        ('1,"a,b"', "text/csv", [["1", "a,b"]]),  # a quoted field
        ('{"instances": [[1, 2], [3, 4]]}', "application/json", [[1, 2], [3, 4]]),  # instances as lists
        ('{"instances": [{"features": [1, 2]}, {"features": [3, 4]}]}', "application/json", [[1, 2], [3, 4]]),
        ('{"instances": [{"age": 1, "plan": "a"}]}', "application/json", [{"age": 1, "plan": "a"}]),  # by name
        ('{"features": [1, 2]}', "application/json", [[1, 2]]),  # a single instance
        ("[1, 2]", "application/json", [[1, 2]]),  # one instance as a list
        ("[[1, 2], [3, 4]]", "application/json", [[1, 2], [3, 4]]),
        ('{"features": [1, 2]}\n{"features": [3, 4]}\n', "application/jsonlines", [[1, 2], [3, 4]]),
    ],
)
def test_every_request_shape_is_split_into_records(data: str, content_type: str, expected: list[Any]) -> None:
    assert records.input_rows(payload(data, content_type)) == expected


@pytest.mark.parametrize(
    ("data", "content_type", "fmt", "expected"),
    [
        # The batched output: two probabilities, not one label "0.2\n0.7".
        ("0.2\n0.7\n", "text/csv", PROBABILITY, [Prediction(None, 0.2), Prediction(None, 0.7)]),
        (
            '{"predictions": [{"score": 0.8, "predicted_label": 1}, {"score": 0.1, "predicted_label": 0}]}',
            "application/json",
            PROBABILITY,
            [Prediction("1", 0.8), Prediction("0", 0.1)],
        ),
        ("[0.008645681664347649]", "application/json", PROBABILITY, [Prediction(None, 0.008645681664347649)]),
        (
            '{"score": 0.3}\n{"score": 0.9}',
            "application/jsonlines",
            PROBABILITY,
            [Prediction(None, 0.3), Prediction(None, 0.9)],
        ),
        ("1\n0\n", "text/csv", LABELS, [Prediction("1", None), Prediction("0", None)]),
        ("cat,0.9\ndog,0.6\n", "text/csv", OutputFormat("0", "1"), [Prediction("cat", 0.9), Prediction("dog", 0.6)]),
    ],
)
def test_every_response_shape_is_read_as_configured_record_by_record(
    data: str, content_type: str, fmt: OutputFormat, expected: list[Prediction]
) -> None:
    assert records.predictions(payload(data, content_type), fmt) == expected


def test_a_record_that_does_not_decode_is_dropped_alone() -> None:
    found = records.predictions(payload("0.2\nyes\n1.7\n0.9", "text/csv"), PROBABILITY)
    assert found == [Prediction(None, 0.2), None, None, Prediction(None, 0.9)]  # "yes" and 1.7 are not probabilities
    found = records.predictions(
        payload('{"predictions": [{"score": 0.4}, {"other": 1}]}', "application/json"), PROBABILITY
    )
    assert found == [Prediction(None, 0.4), None]


def test_multi_record_ground_truth_gives_one_label_per_record() -> None:
    assert records.labels({"data": "1\n0\n1", "encoding": "CSV"}) == ["1", "0", "1"]
    assert records.labels({"data": "[1, 0]", "encoding": "JSON"}) == ["1", "0"]
    # Clarify's examples: the request's own layout, the label under "label".
    assert records.labels({"data": '{"label": 1}', "encoding": "JSON"}) == ["1"]
    instances = {"data": '{"instances": [{"label": 0}, {"label": 1}]}', "encoding": "JSON"}
    assert records.labels(instances) == ["0", "1"]
    with pytest.raises(records.DecodeError, match="without 'label'"):
        records.labels({"data": '{"instances": [{"target": 0}]}', "encoding": "JSON"})


def test_the_ground_truth_of_a_real_merged_record_is_one_label_per_instance() -> None:
    record = json.loads((REAL / "clarify-merged-record.json").read_text())
    found = records.labels(record["groundTruthData"])
    assert len(found) == 334
    assert found[:6] == ["0", "1", "0", "1", "1", "1"]


def test_bad_payloads_say_what_is_wrong() -> None:
    with pytest.raises(records.DecodeError, match="not JSON"):
        records.input_rows(payload("{nope", "application/json"))
    with pytest.raises(records.DecodeError, match="'instances' is not a list"):
        records.input_rows(payload('{"instances": 3}', "application/json"))
    with pytest.raises(records.DecodeError, match="bad base64"):
        records.payload({"data": "***", "encoding": "BASE64"})


def test_attributes_reach_into_lists_and_only_a_binary_model_reads_probabilities() -> None:
    element = {"predicted_label": "cat", "probabilities": [0.1, 0.9]}
    assert records.prediction(element, OutputFormat("predicted_label", "probabilities.1")) == Prediction("cat", 0.9)
    multiclass = OutputFormat.for_problem("MulticlassClassification", "predicted_label", "score")
    assert records.prediction({"predicted_label": "cat", "score": [0.1, 0.9]}, multiclass) == Prediction("cat", None)
    regression = OutputFormat.for_problem("Regression", "predicted_label", "score")
    assert records.prediction("42.5", regression) == Prediction("42.5", None)
    binary = OutputFormat.for_problem("BinaryClassification", "predicted_label", "score")
    assert records.prediction("0.75", binary) == Prediction(None, 0.75)
