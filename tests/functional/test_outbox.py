"""The outbox against moto (issue 27, 1): what must be told is written with the decision, sent, then
marked sent; a crash or a throttle between them loses no message, and a repeat carries the same
deduplication id."""

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
import time_machine
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from model_medic.platform.observability import metrics
from model_medic.store.journal import Outbox
from model_medic.store.table import Table
from model_medic.tell.outcome import Notifier, Outcome
from model_medic.tell.telling import DRAIN_LIMIT, LEASE, Courier
from tests.conftest import FakeContext, Stack, bodies, decisions, load_event, make_endpoint
from tests.functional.test_scale_up import OPENED, counts, scale_up_alarms, set_alarm
from tests.functional.test_scale_up import clock as clock  # the fixture
from tests.functional.test_scale_up import fn as fn  # the fixture

ENDPOINT = "churn-prod"
T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


class Died(BaseException):
    """The process died (a timeout, out of memory): nothing after it runs."""


@pytest.fixture
def dies_at(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """`{"operation": name, "times": n}`: the process dies at the next n calls of that operation,
    before they reach AWS."""
    plan: dict[str, Any] = {"operation": "", "times": 0}
    original = BaseClient._make_api_call

    def call(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        if operation == plan["operation"] and plan["times"] > 0:
            plan["times"] -= 1
            raise Died(operation)
        return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", call)
    return plan


def invoke(fn: Any, event: dict[str, Any], context: FakeContext, at: datetime, clock: time_machine.Traveller) -> Any:
    clock.move_to(at)
    return fn.lambda_handler(event, context)


def sweep_event(at: datetime) -> dict[str, Any]:
    event = load_event("scale_up/scale_back_sweep.json")
    event["time"] = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return dict(event)


def test_a_process_dying_before_the_publish_loses_no_message_its_retry_sends_it_once(
    fn: Any, stack: Stack, clock: time_machine.Traveller, dies_at: dict[str, Any]
) -> None:
    make_endpoint(ENDPOINT, {"primary": {"count": 1, "weight": 1.0}})
    scale_up_alarms({"HighLatency": "ALARM", "HighErrorRate": "OK"})
    dies_at.update(operation="Publish", times=1)
    context = FakeContext()
    with pytest.raises(Died):
        invoke(fn, load_event("scale_up/high_latency_alarm.json"), context, OPENED, clock)
    assert counts() == {"primary": 2}
    assert bodies(stack, "info") == []  # recorded, not sent yet
    [letter] = stack.items("letter")
    assert letter["letter"] == "outcome"
    # Another invocation meanwhile leaves it to its writer while the lease lasts ...
    invoke(fn, sweep_event(OPENED), FakeContext(), OPENED + LEASE - timedelta(seconds=1), clock)
    assert bodies(stack, "info") == []
    # ... and Lambda's retry of the invocation that died (the same request id) sends it at once.
    invoke(fn, load_event("scale_up/high_latency_alarm.json"), context, OPENED + timedelta(seconds=40), clock)
    [sent] = bodies(stack, "info")
    assert (sent["result"], sent["reason"]) == ("acted", "primary instance-count 1 -> 2")
    assert len(sent["dedup_id"]) == 32
    assert [e["detail"]["dedup_id"] for e in stack.drain("events") if e["detail"]["result"] == "acted"] == [
        sent["dedup_id"]
    ]
    assert stack.items("letter") == []
    assert len(decisions(stack, "acted")) == 1


def test_a_lost_retry_leaves_the_message_to_the_next_invocation_once_the_lease_is_over(
    fn: Any, stack: Stack, clock: time_machine.Traveller, dies_at: dict[str, Any]
) -> None:
    make_endpoint(ENDPOINT, {"primary": {"count": 1, "weight": 1.0}})
    scale_up_alarms({"HighLatency": "ALARM", "HighErrorRate": "OK"})
    dies_at.update(operation="Publish", times=3)  # the first try and both of Lambda's retries
    context = FakeContext()
    for retry in range(3):
        with pytest.raises(Died):
            invoke(
                fn, load_event("scale_up/high_latency_alarm.json"), context, OPENED + timedelta(minutes=retry), clock
            )
    assert bodies(stack, "info") == []  # the event is in the dead-letter queue; the letter is not lost
    invoke(fn, sweep_event(OPENED + timedelta(minutes=5)), FakeContext(), OPENED + timedelta(minutes=5), clock)
    [sent] = bodies(stack, "info")
    assert sent["result"] == "acted"
    assert stack.items("letter") == []


def test_a_throttled_escalation_page_is_sent_though_the_incident_is_escalated_already(
    fn: Any, stack: Stack, clock: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_endpoint(ENDPOINT, {"primary": {"count": 4, "weight": 1.0}})  # at its ceiling
    scale_up_alarms({"HighLatency": "OK", "HighErrorRate": "OK"})
    clock.move_to(OPENED)
    set_alarm("churn-prod-HighLatency", "ALARM")  # its delivery lost: the sweep finds it
    original = BaseClient._make_api_call
    throttled: list[str] = []

    def throttle_publish_once(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        if operation == "Publish" and not throttled:
            throttled.append(operation)
            raise ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}, operation)
        return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", throttle_publish_once)
    context = FakeContext()
    with pytest.raises(ClientError):
        invoke(fn, sweep_event(OPENED + timedelta(minutes=5)), context, OPENED + timedelta(minutes=5), clock)
    [incident] = stack.items("incident")
    assert incident["state"] == "escalated"
    assert bodies(stack, "critical") == []
    invoke(fn, sweep_event(OPENED + timedelta(minutes=5)), context, OPENED + timedelta(minutes=6), clock)
    [page] = bodies(stack, "critical")
    assert (page["result"], page["gate"]) == ("bound-reached", "bound")
    assert len(decisions(stack, "bound-reached")) == 1


# --- the courier, on its own --------------------------------------------------------------------


def outcome(result: Any = "acted", endpoint: str = ENDPOINT) -> Outcome:
    return Outcome("scale-up", endpoint, result, "why", "enforce", "a", "", "t", "ALARM", T0.isoformat())


def courier(stack: Stack, owner: str, at: datetime, info_topic: str | None = None) -> Courier:
    notifier = Notifier(
        boto3.client("sns"),
        boto3.client("events"),
        info_topic or stack.topics["info"],
        stack.topics["critical"],
        "default",
    )
    outbox = Outbox(Table(boto3.client("dynamodb"), stack.table), timedelta(days=90))
    return Courier(outbox, notifier, owner, lambda: at)


def write(sender: Courier, *outcomes: Outcome) -> None:
    for index, written in enumerate(outcomes):
        sender.commit([sender.put_request(sender.outcome_letter(written, f"dedup-{index}"))])


def test_the_drain_sends_critical_letters_first_and_another_writers_only_after_its_lease(stack: Stack) -> None:
    writer = courier(stack, "request-1", T0)
    write(writer, outcome("acted"), outcome("failed"), outcome("skipped"))
    assert courier(stack, "request-2", T0 + LEASE - timedelta(seconds=1)).drain() == 0
    assert courier(stack, "request-2", T0 + LEASE).drain() == 3
    sent = [e["detail"]["result"] for e in stack.drain("events")]
    assert sent == ["failed", "acted", "skipped"]  # critical first, then oldest first
    assert [b["result"] for b in bodies(stack, "critical")] == ["failed"]
    assert [b["result"] for b in bodies(stack, "info")] == ["acted"]  # a skip is an event only
    assert stack.items("letter") == []


def letters_not_sent() -> float:
    """The LettersNotSent counted since the metrics were last cleared (flushed)."""
    return float(sum(metrics.metric_set.get("LettersNotSent", {}).get("Value", [])))


def test_a_letter_aws_refuses_is_left_for_later_and_the_others_are_sent(stack: Stack) -> None:
    gone = "arn:aws:sns:us-east-1:123456789012:deleted-topic"
    write(
        courier(stack, "request-1", T0, info_topic=gone), outcome("acted", "a-endpoint"), outcome("acted", "b-endpoint")
    )
    later = T0 + LEASE
    metrics.clear_metrics()
    assert courier(stack, "request-2", later, info_topic=gone).drain() == 0  # NotFound for both
    assert letters_not_sent() == 2  # what the stack's LettersNotSentAlarm counts
    letters = stack.items("letter")
    assert len(letters) == 2
    assert all(int(item["lease_until"]) > int(later.timestamp()) + 600 for item in letters)  # not before 15 min
    assert all("NotFound" in item["last_error"] for item in letters)
    assert courier(stack, "request-3", later + timedelta(minutes=16)).drain() == 2  # the topic is back
    assert len(bodies(stack, "info")) == 2


def test_a_throttle_stops_the_drain_until_the_next_invocation(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    write(courier(stack, "request-1", T0), *[outcome("acted", f"e{i}") for i in range(DRAIN_LIMIT + 5)])
    original = BaseClient._make_api_call
    published: list[str] = []

    def throttle_the_third(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        if operation == "Publish":
            published.append(operation)
            if len(published) == 3:
                raise ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}, operation)
        return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", throttle_the_third)
    metrics.clear_metrics()
    assert courier(stack, "request-2", T0 + LEASE).drain() == 2
    assert letters_not_sent() == 0  # a throttle is no refusal: nobody is paged over it
    assert len(stack.items("letter")) == DRAIN_LIMIT + 3
    assert courier(stack, "request-3", T0 + 2 * LEASE).drain() == DRAIN_LIMIT  # at most this many per invocation
    assert len(stack.items("letter")) == 3
