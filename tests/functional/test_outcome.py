"""Telling people and systems what was decided (`outcome.Notifier`) against moto."""

import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from model_medic.platform import aws
from model_medic.tell.outcome import Notifier, Outcome, Where
from tests.conftest import Stack

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def sweep_outcome(endpoint: str = "churn-prod") -> Outcome:
    """A give-back decided by the sweep: no alarm behind it."""
    return Outcome(
        action="scale-back",
        endpoint=endpoint,
        result="acted",
        reason="capacity given back",
        mode="enforce",
        alarm_name="",
        alarm_arn="",
        transition="t",
        state="OK",
        at=T0.isoformat(),
    )


def test_a_message_attribute_without_a_value_is_left_out_not_refused_by_sns(stack: Stack) -> None:
    # SNS refuses an empty attribute value (InvalidParameter, after the decision was made).
    # The intake keeps endpoints non-empty; an outcome outside any incident has no incident id.
    outcome = sweep_outcome(endpoint="")
    sns = boto3.client("sns")
    published: list[dict[str, Any]] = []
    real = sns.publish

    def publish(**kwargs: Any) -> Any:
        published.append(kwargs)
        return real(**kwargs)

    sns.publish = publish
    Notifier(sns, boto3.client("events"), stack.topics["info"], stack.topics["critical"], "default").publish(outcome)
    assert sorted(published[0]["MessageAttributes"]) == ["action", "result"]
    assert len(stack.drain("info")) == 1


def test_an_outcome_without_an_alarm_names_no_empty_resource_in_its_event(stack: Stack) -> None:
    outcome = sweep_outcome()
    events = boto3.client("events")
    sent: list[dict[str, Any]] = []
    real = events.put_events

    def put_events(**kwargs: Any) -> Any:
        sent.append(kwargs)
        return real(**kwargs)

    events.put_events = put_events
    Notifier(boto3.client("sns"), events, stack.topics["info"], stack.topics["critical"], "default").put_event(outcome)
    assert sent[0]["Entries"][0]["Resources"] == []
    [event] = stack.drain("events")
    assert event["resources"] == []


def test_every_copy_of_a_message_carries_its_dedup_id_where_a_consumer_can_read_it(stack: Stack) -> None:
    notifier = Notifier(
        boto3.client("sns"), boto3.client("events"), stack.topics["info"], stack.topics["critical"], "default"
    )
    notifier.publish(sweep_outcome(), "d" * 32)
    notifier.put_event(sweep_outcome(), "d" * 32)
    notifier.alert("Model Medic reminder", "still at its bound", "e" * 32)
    [message] = stack.drain("info")
    # SNS sends message attributes only with a String message structure: an outcome's JSON
    # structure carries the id in its machine bodies (and in an attribute all the same).
    assert json.loads(message["Message"])["dedup_id"] == "d" * 32
    assert message["MessageAttributes"]["dedup_id"]["Value"] == "d" * 32
    [event] = stack.drain("events")
    assert event["detail"]["dedup_id"] == "d" * 32
    [alert] = stack.drain("critical")
    assert alert["Message"].startswith("still at its bound\n")  # then where it comes from
    assert alert["MessageAttributes"]["dedup_id"]["Value"] == "e" * 32


def escalation(endpoint: str = "fraud-prod") -> Outcome:
    alarm = f"{endpoint}-HighLatency"
    return Outcome(
        action="scale-up",
        endpoint=endpoint,
        result="escalated",
        reason=f"{alarm} is still in ALARM after primary instance-count 2 -> 4: at the maximum of 4",
        mode="enforce",
        alarm_name=alarm,
        alarm_arn=f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{alarm}",
        transition="t|2026-11-22T10:00:00+00:00",
        state="ALARM",
        at=T0.isoformat(),
        gate="bound",
        changes={"tried": ["primary instance-count 2 -> 4"], "metric_now": "p99 900 ms"},
        incident="2026-11-22T10:00:00+00:00#0123456789abcdef",
    )


def test_a_page_names_the_stack_account_and_region_links_the_console_and_says_what_next(stack: Stack) -> None:
    where = Where.of("model-medic-prod", stack.topics["critical"], "model-medic-prod-reports")
    sns = boto3.client("sns")
    published: list[dict[str, Any]] = []
    real = sns.publish

    def publish(**kwargs: Any) -> Any:
        published.append(kwargs)
        return real(**kwargs)

    sns.publish = publish
    notifier = Notifier(sns, boto3.client("events"), stack.topics["info"], stack.topics["critical"], "default", where)
    notifier.publish(escalation())
    notifier.put_event(escalation())
    [sent] = published
    assert sent["Subject"] == "[CRITICAL] prod escalated scale-up fraud-prod"
    text = json.loads(sent["Message"])["email"]
    assert "Stack model-medic-prod, account 123456789012, Region us-east-1" in text
    assert "Tried:\n  - primary instance-count 2 -> 4" in text
    assert "Next: the alarm is still in ALARM after what was tried" in text
    assert "model-medic --stack model-medic-prod --region us-east-1 explain 0123456789abcdef" in text
    console = "https://us-east-1.console.aws.amazon.com"
    assert f"Endpoint:  {console}/sagemaker/home?region=us-east-1#/endpoints/fraud-prod" in text
    assert f"Alarm:     {console}/cloudwatch/home?region=us-east-1#alarmsV2:alarm/fraud-prod-HighLatency" in text
    board = "model-medic_model-medic-prod_us-east-1_fraud-prod"
    assert f"Dashboard: {console}/cloudwatch/home?region=us-east-1#dashboards/dashboard/{board}" in text
    assert (
        f"Reports:   {console}/s3/buckets/model-medic-prod-reports?region=us-east-1&prefix=reports%2Ffraud-prod%2F"
        in text
    )
    # Machines get the same, as fields: the SNS machine bodies and the event's detail.
    [machine] = [json.loads(m["Message"]) for m in stack.drain("critical")]
    [event] = stack.drain("events")
    for detail in (machine, event["detail"]):
        assert (detail["stack"], detail["account"], detail["region"]) == (
            "model-medic-prod",
            "123456789012",
            "us-east-1",
        )
        assert sorted(detail["links"]) == ["alarm", "dashboard", "endpoint", "reports"]


def test_a_stopped_rollout_is_told_at_info_level(stack: Stack) -> None:
    stopped = Outcome(
        action="rollout",
        endpoint="churn-prod",
        result="stopped",
        reason="churn/3 not deployed: not better; nothing was changed",
        mode="enforce",
        alarm_name="churn approved",
        alarm_arn="arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/3",
        transition="t",
        state="ALARM",
        at=T0.isoformat(),
        gate="bound",
    )
    notifier = Notifier(
        boto3.client("sns"), boto3.client("events"), stack.topics["info"], stack.topics["critical"], "default"
    )
    assert (stopped.announced, stopped.severity) == (True, "info")
    notifier.publish(stopped)
    assert stack.drain("critical") == []
    [told] = stack.drain("info")
    assert told["MessageAttributes"]["result"]["Value"] == "stopped"
    assert "alarm" not in json.loads(told["Message"])["links"]  # a model package is no alarm


def test_an_outcome_event_eventbridge_rejects_is_logged_and_raised_for_a_retry(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    # PutEvents answers 200 with the entry failed (FailedEntryCount, the entry's ErrorCode): raised
    # as the ClientError of that code, so the caller retries it (InternalFailure is retryable) or
    # holds the letter back (`aws.is_transient`), and the log says why. moto never fails an entry:
    # a Stubber gives AWS's answer. (The log line once passed `message=`, which logging refuses
    # with a KeyError that hid the reason.)
    events = boto3.client("events")
    with Stubber(events) as stubbed:
        stubbed.add_response(
            "put_events",
            {
                "FailedEntryCount": 1,
                "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "try again"}],
            },
        )
        notifier = Notifier(boto3.client("sns"), events, stack.topics["info"], stack.topics["critical"], "default")
        with pytest.raises(ClientError, match="EventBridge rejected the outcome event: try again") as rejected:
            notifier.put_event(sweep_outcome())
    assert rejected.value.response["Error"]["Code"] == "InternalFailure"
    assert aws.is_transient(rejected.value)
    [record] = [r for r in caplog.records if r.getMessage() == "outcome event rejected"]
    assert (record.levelname, vars(record)["code"], vars(record)["detail"]) == ("ERROR", "InternalFailure", "try again")


def test_a_plain_message_with_a_long_subject_is_taken_by_sns(stack: Stack) -> None:
    # SNS refuses a subject of 100 characters or more (moto_extensions.sns_subjects_as_documented):
    # a subject cut to exactly 100 left its letter refused, and in the outbox, for good.
    where = Where.of("model-medic-staging", stack.topics["info"])
    notifier = Notifier(
        boto3.client("sns"), boto3.client("events"), stack.topics["info"], stack.topics["critical"], "default", where
    )
    notifier.inform("Model Medic: model quality of " + "e" * 63 + " is not measured (no data)", "no data")
    [told] = stack.drain("info")
    assert len(told["Subject"]) == 99
    assert told["Subject"].startswith("[INFO] staging model quality of eee")
