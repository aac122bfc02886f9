"""Telling people and systems what was decided (`outcome.Notifier`) against moto."""

import json
from datetime import UTC, datetime
from typing import Any

import boto3

from model_medic.tell.outcome import Notifier, Outcome
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
    assert (alert["Message"], alert["MessageAttributes"]["dedup_id"]["Value"]) == ("still at its bound", "e" * 32)
