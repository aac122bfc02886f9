"""Every function that takes a Scheduled Event rejects one with a bad `time` cleanly: a clear
message, no exception (so Lambda does not retry it into the dead-letter queue), no change."""

from typing import Any

import pytest

from tests.conftest import AwsCalls, FakeContext, Stack, load_handler

# Enough configuration for every function's settings model.
ENVIRONMENT = {
    "MAX_INSTANCE_COUNT": "4",
    "SCALE_STEP": "1",
    "SCALE_UP_COOLDOWN_MINUTES": "10",
    "SCALE_BACK_AFTER_MINUTES": "15",
    "PIPELINE_NAME": "model-medic-retraining",
    "PIPELINE_PARAMETERS": "{}",
    "RETRAIN_COOLDOWN_HOURS": "24",
    "CANARY_VARIANT": "canary",
    "PRIMARY_VARIANT": "primary",
    "REJECT_MODEL_PACKAGES": "false",
    "ROLLBACK_COOLDOWN_MINUTES": "60",
    "CANARY_STEPS": "5,10,25,50,100",
    "CANARY_BAKE_MINUTES": "30",
    "CANARY_MIN_INVOCATIONS": "100",
    "CANARY_MAX_ERROR_RATE": "5",
    "CANARY_MAX_LATENCY_MS": "1000",
    "CAPTURE_S3_URI": "s3://churn-ml/datacapture",
    "BASELINE_S3_URI": "s3://churn-ml/baselines",
    "GROUND_TRUTH_S3_URI": "s3://churn-ml/groundtruth",
    "DRIFT_MIN_ROWS": "500",
    "PROBLEM_TYPE": "BinaryClassification",
    "QUALITY_WINDOW_HOURS": "24",
    "LABEL_LOOKBACK_HOURS": "72",
    "QUALITY_MIN_SAMPLES": "100",
    "REPORTS_BUCKET": "model-medic-reports",
}
FUNCTIONS = [
    "scale_up",
    "start_retraining",
    "rollback_model",
    "promote_canary",
    "compute_metrics",
    "compute_drift",
    "compute_model_quality",
    "daily_report",
]


@pytest.mark.parametrize("function", FUNCTIONS)
@pytest.mark.parametrize("time", ["not-a-time", "2026-11-22T10:00:00", 1795000000, None])
def test_a_scheduled_event_with_a_bad_time_is_rejected_cleanly(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, aws_calls: AwsCalls, function: str, time: Any
) -> None:
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    event = {"detail-type": "Scheduled Event", "source": "aws.events", "time": time, "resources": [], "detail": {}}
    aws_calls.made.clear()
    result = load_handler(function).lambda_handler(event, FakeContext())
    rejected = result["rejected"]
    assert len(rejected) == 1
    assert "time" in rejected[0]
    assert aws_calls.mutating() == []


BAD_RESOURCES = [{"0": "arn"}, "arn:aws:events:us-east-1:123456789012:rule/x", [7], ["arn:" + "x" * 2045], ["r\ud800"]]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_a_scheduled_event_with_bad_resources_is_rejected_cleanly(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, aws_calls: AwsCalls, function: str
) -> None:
    # EventBridge puts the rule that fired first in `resources`; anything else is bad input.
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    handler = load_handler(function).lambda_handler
    for resources in BAD_RESOURCES:
        event = {
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "time": "2026-11-22T10:30:00Z",
            "resources": resources,
            "detail": {},
        }
        aws_calls.made.clear()
        [rejected] = handler(event, FakeContext())["rejected"]
        assert "resources" in rejected
        assert aws_calls.mutating() == []
