"""`localcloud invoke`'s view of a sample event: its times moved to the delivery's, the changes it reports."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from localcloud import delivery
from tests.conftest import EVENTS, load_event

AT = datetime(2027, 3, 1, 9, 30, tzinfo=UTC)
SAMPLES = sorted(str(p.relative_to(EVENTS)) for p in EVENTS.rglob("*.json"))


def message(event: dict[str, Any], record: int = 0) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(event["Records"][record]["Sns"]["Message"])
    return parsed


def test_the_newest_time_becomes_the_delivery_and_the_others_keep_their_distance() -> None:
    event = load_event("alarms/sns_high_error_rate_ok.json")
    moved = delivery.redated(event, AT)
    # StateChangeTime (10:30) is the newest; SNS's Timestamp (10:00:01.123) stays 29:58.877 before it.
    assert message(moved)["StateChangeTime"] == "2027-03-01T09:30:00.000+0000"
    assert moved["Records"][0]["Sns"]["Timestamp"] == "2027-03-01T09:00:01.123Z"
    assert message(moved)["AlarmConfigurationUpdatedTimestamp"] == "2027-02-27T07:00:00.000+0000"
    assert max(delivery.times(moved)) == AT


def test_prose_keeps_its_times_and_the_file_is_not_changed() -> None:
    event = load_event("scale_up/high_latency_alarm.json")
    before = json.dumps(event)
    moved = delivery.redated(event, AT)
    assert json.dumps(event) == before
    assert "(22/11/26 09:55:00)" in message(moved)["NewStateReason"]


def test_each_time_keeps_its_written_form() -> None:
    event = {
        "time": "2026-11-22T10:00:00Z",
        "a": "2026-11-22T09:00:00.000+0000",
        "b": "2026-11-22T09:00:00+00:00",
        "c": "2026-11-22T10:59:00.5+01:00",
        "d": "not 2026-11-22T09:00:00Z",
    }
    assert delivery.redated(event, AT) == {
        "time": "2027-03-01T09:30:00Z",
        "a": "2027-03-01T08:30:00.000+0000",
        "b": "2027-03-01T08:30:00+00:00",
        "c": "2027-03-01T10:29:00.5+01:00",
        "d": "not 2026-11-22T09:00:00Z",
    }


def test_epoch_milliseconds_of_a_time_key_and_an_s3_keys_hour_move_too() -> None:
    endpoint = delivery.redated(load_event("rollback_model/endpoint_in_service.json"), AT)
    assert endpoint["time"] == "2027-03-01T09:30:00Z"
    assert datetime.fromtimestamp(endpoint["detail"]["CreationTime"] / 1000, UTC) == AT  # both 2026-11-20T08:00Z
    labels = delivery.redated(load_event("compute_model_quality/ground_truth_created.json"), AT)
    # The labels' hour (10:00) was 1:02:41 before the event (11:02:41).
    assert labels["detail"]["object"]["key"] == "groundtruth/churn-prod/2027/03/01/08/labels-1.jsonl"
    assert labels["detail"]["object"]["size"] == 5576


def test_a_queue_messages_scheduled_time_in_its_body_moves_too() -> None:
    queued = delivery.redated(load_event("compute_drift/queued.json"), AT)
    # The body's time (10:05) is the only whole-value time: it becomes the delivery's.
    assert json.loads(queued["Records"][0]["body"]) == {
        "at": "2027-03-01T09:30:00+00:00",
        "endpoint": "churn-prod",
        "measure": "drift",
    }
    assert delivery.times(queued) == [AT]


def test_an_event_without_times_is_sent_as_it_is() -> None:
    event = load_event("manage_alarms/stack_delete.json")
    assert delivery.times(event) == []
    assert delivery.redated(event, AT) == event


@pytest.mark.parametrize(
    ("sample", "alarms"),
    [
        (
            "alarms/sns_batch_two_records.json",
            [("churn-prod-HighLatency", "ALARM"), ("fraud-prod-HighLatency", "ALARM")],
        ),
        ("alarms/sns_insufficient_data.json", [("churn-prod-HighErrorRate", "INSUFFICIENT_DATA")]),
        ("alarms/eventbridge_alarm_state_change.json", [("churn-prod-canary-ErrorRate", "ALARM")]),
        ("alarms/alarm_action_direct.json", [("churn-prod-ModelAccuracyDrop", "ALARM")]),
        ("compute_metrics/schedule.json", []),
        ("promote_canary/model_package_approved.json", []),
    ],
)
def test_the_alarm_changes_an_event_reports(sample: str, alarms: list[tuple[str, str]]) -> None:
    changes = delivery.alarm_changes(delivery.redated(load_event(sample), AT))
    assert [(c.alarm, c.state) for c in changes] == alarms
    assert all(AT - timedelta(minutes=2) <= c.at <= AT for c in changes)
    assert all(c.reason for c in changes)


def test_an_alarm_change_without_a_time_is_not_one() -> None:
    event = load_event("alarms/eventbridge_alarm_state_change.json")
    del event["detail"]["state"]["timestamp"]
    assert delivery.alarm_changes(event) == []
    assert delivery.alarm_changes({"Records": [{"Sns": {"Message": "not json"}}]}) == []


def test_a_model_package_event_reports_its_packages_approval() -> None:
    change = delivery.package_change(delivery.redated(load_event("promote_canary/model_package_approved.json"), AT))
    assert change == delivery.PackageChange(
        "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/3", "Approved", AT
    )
    assert delivery.package_change(load_event("rollback_model/endpoint_in_service.json")) is None


def test_only_a_custom_resource_request_is_answered_at_its_response_url() -> None:
    assert delivery.is_custom_resource_request(load_event("manage_alarms/stack_delete.json"))
    assert not delivery.is_custom_resource_request(load_event("manage_alarms/schedule.json"))


@pytest.mark.parametrize("sample", SAMPLES)
def test_every_sample_redated_still_reads_as_the_file_does(sample: str) -> None:
    event = load_event(sample)
    moved = delivery.redated(event, AT)
    # Only times changed: the same keys, and every string that is not a time as it was.
    assert _shape(moved) == _shape(event)
    held, now = sorted(delivery.times(event)), sorted(delivery.times(moved))
    if held:
        assert now[-1] == AT
        # As far apart as they were; an S3 key's hour is floored to its hour.
        for before, after in zip(held, now, strict=True):
            assert timedelta(0) <= (before - held[-1]) - (after - AT) < timedelta(hours=1)


def _shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _shape(json.loads(v) if k in ("Message", "body") else v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value]
    if isinstance(value, str) and not delivery.times({"": value}):
        return value
    return type(value).__name__
