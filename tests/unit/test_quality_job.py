"""The quality job's pure parts: its configuration from a policy's settings, where a label file
belongs, the prediction index as stored, and what is scored and published per variant."""

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, cast

import orjson
import pytest

from model_medic.measure.ground_truth import GroundTruth, evaluation_time_for_key, hours
from model_medic.measure.predictions import decode_capture, from_index, index_document
from model_medic.measure.quality import QualityConfig, metric_data, scored
from model_medic.measure.quality_join import NO_VARIANT, Found, Joined
from model_medic.measure.records import OutputFormat, Prediction
from model_medic.platform.settings import QualitySettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

HOUR = datetime(2026, 11, 22, 9, tzinfo=UTC)
PROBABILITY = OutputFormat()
NO_S3 = cast("S3Client", None)  # where a label file belongs is read from its key alone


def config(min_samples: int = 2) -> QualityConfig:
    return QualityConfig(
        "s3://b/capture", "s3://b/truth", "BinaryClassification", timedelta(hours=1), timedelta(hours=2), min_samples
    )


def test_a_policys_settings_make_its_job_configuration() -> None:
    settings = QualitySettings.model_validate(
        {
            "LEDGER_TABLE": "ledger",
            "INFO_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:info",
            "CRITICAL_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:critical",
            "MONITORED_ENDPOINTS": "churn-prod",
            "CAPTURE_S3_URI": "s3://capture-bucket/datacapture",
            "GROUND_TRUTH_S3_URI": "s3://truth-bucket/groundtruth",
            "PROBLEM_TYPE": "MulticlassClassification",
            "QUALITY_WINDOW_HOURS": "3",
            "LABEL_LOOKBACK_HOURS": "48",
            "QUALITY_MIN_SAMPLES": "50",
            "INFERENCE_ATTRIBUTE": "0",
            "PREDICTION_INDEX_S3_URI": "s3://index-bucket/prediction-index",
            "QUALITY_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/model-medic-quality",
        }
    )
    made = QualityConfig.of(settings)
    assert (made.capture_uri, made.ground_truth_uri, made.index_uri) == (
        "s3://capture-bucket/datacapture",
        "s3://truth-bucket/groundtruth",
        "s3://index-bucket/prediction-index",
    )
    assert (made.problem, made.window, made.lookback, made.min_samples) == (
        "MulticlassClassification",
        timedelta(hours=3),
        timedelta(hours=48),
        50,
    )
    assert (made.positive, made.threshold) == ("1", 0.5)
    # A multiclass model's responses are read by their label alone: the probability attribute is ignored.
    assert made.reading() == OutputFormat("0", "", bare_is_probability=False)


def test_without_a_reading_a_binary_job_reads_predicted_label_and_score() -> None:
    assert config().reading() == OutputFormat.for_problem("BinaryClassification", "predicted_label", "score")


def test_a_label_files_hour_ends_its_evaluation_window() -> None:
    assert evaluation_time_for_key("groundtruth/churn-prod/2026/11/22/09/labels.jsonl") == HOUR + timedelta(hours=1)
    assert evaluation_time_for_key("groundtruth/churn-prod/primary/2026/11/22/23/x") == datetime(
        2026, 11, 23, tzinfo=UTC
    )
    assert evaluation_time_for_key("groundtruth/churn-prod/2026/11/22/labels.jsonl") is None
    assert evaluation_time_for_key("groundtruth/churn-prod/2026/13/22/09/labels.jsonl") is None
    assert evaluation_time_for_key("groundtruth/churn-prod/9999/12/31/23/labels.jsonl") is None


@pytest.mark.parametrize(
    ("key", "endpoint"),
    [
        ("groundtruth/churn-prod/2026/11/22/09/labels.jsonl", "churn-prod"),
        ("groundtruth/churn-prod/primary/2026/11/22/09/merged.jsonl", "churn-prod"),  # Model Monitor's merge layout
        ("other/churn-prod/2026/11/22/09/labels.jsonl", None),
        ("groundtruth/churn-prod/labels.jsonl", None),
        ("groundtruth/churn-prod/a/b/2026/11/22/09/labels.jsonl", None),
    ],
)
def test_a_label_files_key_names_its_endpoint(key: str, endpoint: str | None) -> None:
    assert GroundTruth(NO_S3, "s3://b/groundtruth", PROBABILITY).endpoint_for_key(key) == endpoint


def test_without_a_prefix_the_endpoint_is_the_first_folder() -> None:
    assert GroundTruth(NO_S3, "s3://b", PROBABILITY).endpoint_for_key("churn-prod/2026/11/22/09/x") == "churn-prod"


def test_hours_are_every_hour_from_the_start_before_the_end() -> None:
    assert hours(HOUR, HOUR + timedelta(hours=3)) == [HOUR + timedelta(hours=h) for h in range(3)]
    assert hours(HOUR, HOUR) == []


def test_a_capture_file_gives_the_wanted_predictions_and_counts_what_does_not_decode() -> None:
    def line(event_id: str, data: str, inference_id: str | None = None) -> bytes:
        metadata = {"eventId": event_id} | ({"inferenceId": inference_id} if inference_id else {})
        output = {"observedContentType": "text/csv", "mode": "OUTPUT", "data": data, "encoding": "CSV"}
        return orjson.dumps({"captureData": {"endpointOutput": output}, "eventMetadata": metadata})

    body = b"\n".join(
        [
            line("e1", "0.9"),
            line("e2", "0.1", inference_id="r2"),
            b"not json",
            b"",
            line("e3", "0.4"),
            line("e1", "0.2"),
        ]
    )
    found: dict[str, Found] = {}
    assert decode_capture(body, "primary", PROBABILITY, {"e1", "r2"}, found) == 1
    # The inference id names a record where there is one; the first prediction of an id stands.
    assert found == {"e1": ("primary", [Prediction(None, 0.9)]), "r2": ("primary", [Prediction(None, 0.1)])}
    everything: dict[str, Found] = {}
    assert decode_capture(body, "canary", PROBABILITY, None, everything) == 1
    assert set(everything) == {"e1", "r2", "e3"}


def test_the_prediction_index_gives_back_what_was_stored() -> None:
    found: dict[str, Found] = {
        "r1": ("primary", [Prediction("1", 0.8), None]),
        "r2": ("canary", [Prediction(None, 0.3)]),
    }
    document = orjson.loads(orjson.dumps(index_document("churn-prod", HOUR, PROBABILITY, found)))
    assert (document["format"], document["endpoint"], document["hour"], document["reading"]) == (
        "model-medic-prediction-index/1",
        "churn-prod",
        "2026-11-22T09:00:00+00:00",
        PROBABILITY.fingerprint,
    )
    assert from_index(document["predictions"]) == found


def test_each_variant_with_enough_pairs_is_scored_then_the_endpoint_with_every_pair() -> None:
    joined = Joined(
        pairs={
            "primary": [("1", Prediction(None, 0.9)), ("0", Prediction(None, 0.2)), ("1", Prediction(None, 0.4))],
            "canary": [("1", Prediction(None, 0.7))],  # one pair: below the minimum of 2
            NO_VARIANT: [("0", Prediction(None, 0.6))],  # a merged record's own prediction: the endpoint's only
        }
    )
    figures = scored(joined, config(min_samples=2))
    assert [variant for variant, _ in figures] == ["primary", None]
    primary, endpoint = (values for _, values in figures)
    assert (primary["accuracy"], primary["quality_sample_count"]) == (2 / 3, 3.0)
    assert (endpoint["accuracy"], endpoint["quality_sample_count"]) == (3 / 5, 5.0)
    assert scored(joined, config(min_samples=6)) == []


def test_the_published_data_name_the_endpoint_and_the_variant() -> None:
    at = HOUR + timedelta(hours=1)
    data = metric_data(
        "churn-prod", [("primary", {"accuracy": 0.9, "quality_sample_count": 3.0}), (None, {"f1": 0.5})], at
    )
    assert data == [
        {
            "MetricName": "accuracy",
            "Dimensions": [
                {"Name": "EndpointName", "Value": "churn-prod"},
                {"Name": "VariantName", "Value": "primary"},
            ],
            "Timestamp": at,
            "Value": 0.9,
            "Unit": "None",
        },
        {
            "MetricName": "quality_sample_count",
            "Dimensions": [
                {"Name": "EndpointName", "Value": "churn-prod"},
                {"Name": "VariantName", "Value": "primary"},
            ],
            "Timestamp": at,
            "Value": 3.0,
            "Unit": "Count",
        },
        {
            "MetricName": "f1",
            "Dimensions": [{"Name": "EndpointName", "Value": "churn-prod"}],
            "Timestamp": at,
            "Value": 0.5,
            "Unit": "None",
        },
    ]
