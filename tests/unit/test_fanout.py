"""The data jobs' fan-out without AWS: the queue message, the intake of an SQS batch, the
worker's partial batch response, the hand-out's retries, and the local cloud's reading of a
partial batch response as AWS documents it."""

import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from localcloud.queues import failed_messages
from model_medic.intake import triggers
from model_medic.intake.triggers import Assignment, BadEvent, Queued, Rejected, Tick, read_body
from model_medic.measure.fanout import HandOut, HandOutIncomplete, message_body, work
from tests.conftest import load_event

AT = datetime(2026, 11, 22, 10, 5, tzinfo=UTC)
URL = "https://sqs.us-east-1.amazonaws.com/123456789012/model-medic-drift"


def sqs_record(message_id: str, body: Any, receives: str = "1") -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": f"handle-{message_id}",
        "body": body,
        "attributes": {"ApproximateReceiveCount": receives},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:model-medic-drift",
        "awsRegion": "us-east-1",
    }


def test_a_message_names_its_job_endpoint_and_scheduled_time_and_reads_back() -> None:
    body = message_body("drift", "churn-prod", AT)
    assert json.loads(body) == {"measure": "drift", "endpoint": "churn-prod", "at": "2026-11-22T10:05:00+00:00"}
    assert read_body("drift", body) == ("churn-prod", AT)


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("not json", "not a JSON object"),
        ('["drift"]', "not a JSON object"),
        (None, "not a JSON object"),
        (message_body("quality", "churn-prod", AT), "not a drift measurement"),
        ('{"measure": "drift", "endpoint": "churn_prod", "at": "2026-11-22T10:05:00Z"}', "not a SageMaker name"),
        ('{"measure": "drift", "endpoint": "churn-prod", "at": "2026-11-22T10:05:00"}', "no time zone"),
        ('{"measure": "drift", "endpoint": "churn-prod"}', "not an ISO 8601 time"),
    ],
)
def test_a_message_that_is_not_a_measurement_of_the_job_is_bad_input(body: Any, why: str) -> None:
    with pytest.raises(BadEvent, match=why):
        read_body("drift", body)


def test_the_sample_batch_is_read_into_one_assignment_per_message() -> None:
    trigger = triggers.drift(load_event("compute_drift/queued.json"))
    assert isinstance(trigger, Queued)
    [assignment] = trigger.assignments
    assert (assignment.endpoint, assignment.at, assignment.receive_count) == ("churn-prod", AT, 1)
    assert trigger.rejected == []
    quality = triggers.quality(load_event("compute_model_quality/queued.json"))
    assert isinstance(quality, Queued)
    assert [a.endpoint for a in quality.assignments] == ["churn-prod"]


def test_a_bad_message_in_a_batch_is_rejected_alone() -> None:
    event = {
        "Records": [
            sqs_record("m1", message_body("drift", "churn-prod", AT)),
            sqs_record("m2", message_body("quality", "fraud-prod", AT)),  # the other job's queue
            sqs_record("m3", message_body("drift", "fraud-prod", AT), receives="3"),
            {**sqs_record("", message_body("drift", "recs-prod", AT))},
        ]
    }
    trigger = triggers.drift(event)
    assert isinstance(trigger, Queued)
    assert [(a.message_id, a.endpoint, a.receive_count) for a in trigger.assignments] == [
        ("m1", "churn-prod", 1),
        ("m3", "fraud-prod", 3),
    ]
    assert len(trigger.rejected) == 2
    assert "not a drift measurement" in trigger.rejected[0]
    assert "without a messageId" in trigger.rejected[1]


def test_records_that_are_not_all_from_sqs_are_no_batch_and_a_tick_stays_a_tick() -> None:
    mixed = {"Records": [sqs_record("m1", message_body("drift", "churn-prod", AT)), {"eventSource": "aws:sns"}]}
    assert isinstance(triggers.drift(mixed), Rejected)
    assert isinstance(triggers.drift({"Records": []}), Rejected)
    assert triggers.drift(load_event("compute_drift/schedule.json")) == Tick(AT)


def assignment(message_id: str, endpoint: str) -> Assignment:
    return Assignment(message_id, endpoint, AT)


def test_a_failing_endpoint_is_reported_alone_and_the_others_are_measured() -> None:
    def measure(item: Assignment) -> dict[str, Any]:
        if item.endpoint == "fraud-prod":
            raise RuntimeError("throttled")
        return {"endpoint": item.endpoint}

    answer = work(
        [assignment("m1", "churn-prod"), assignment("m2", "fraud-prod"), assignment("m3", "recs-prod")], [], measure
    )
    assert answer["batchItemFailures"] == [{"itemIdentifier": "m2"}]
    assert [r["endpoint"] for r in answer["results"]] == ["churn-prod", "recs-prod"]


def test_messages_not_started_in_time_go_back_unstarted_and_rejected_ones_never_do() -> None:
    started: list[str] = []
    left = iter([300.0, 59.0])  # seconds left before the second and the third message

    def measure(item: Assignment) -> dict[str, Any]:
        started.append(item.endpoint)
        return {"endpoint": item.endpoint}

    answer = work(
        [assignment("m1", "churn-prod"), assignment("m2", "fraud-prod"), assignment("m3", "recs-prod")],
        ["message 'm4': not a drift measurement"],
        measure,
        lambda: next(left),
    )
    assert started == ["churn-prod", "fraud-prod"]  # the first is always started: Lambda gave it this invocation
    assert answer["batchItemFailures"] == [{"itemIdentifier": "m3"}]
    assert answer["rejected"] == ["message 'm4': not a drift measurement"]


def stubbed(responses: list[dict[str, Any]]) -> tuple[HandOut, Stubber, list[list[str]]]:
    """A hand-out on a stubbed SQS client (moto's SendMessageBatch never fails an entry)."""
    client = boto3.client("sqs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    sent: list[list[str]] = []
    for response in responses:
        stubber.add_response("send_message_batch", response)

    def recording(params: dict[str, Any], **_: Any) -> None:
        sent.append([entry["Id"] for entry in params["Entries"]])

    client.meta.events.register("provide-client-params.sqs.SendMessageBatch", recording)
    return HandOut(client, URL, "drift"), stubber, sent


def ok(ids: list[str]) -> dict[str, Any]:
    return {"Successful": [{"Id": i, "MessageId": f"id-{i}", "MD5OfMessageBody": "0" * 32} for i in ids], "Failed": []}


def test_endpoints_are_handed_out_ten_a_call_and_an_entry_sqs_failed_is_sent_again() -> None:
    endpoints = [f"endpoint-{n}" for n in range(12)]
    failed_once = {
        "Successful": [{"Id": str(n), "MessageId": f"id-{n}", "MD5OfMessageBody": "0" * 32} for n in range(9)],
        "Failed": [{"Id": "9", "SenderFault": False, "Code": "InternalError", "Message": "try again"}],
    }
    hand_out, stubber, sent = stubbed([failed_once, ok(["9"]), ok(["10", "11"])])
    with stubber:
        answer = hand_out.hand_out(endpoints, AT)
    assert sent == [[str(n) for n in range(10)], ["9"], ["10", "11"]]
    assert answer == {"job": "drift", "at": AT.isoformat(), "queued": endpoints}


def test_a_message_sqs_refuses_or_keeps_failing_fails_the_hourly_run_for_a_retry() -> None:
    refused = {
        "Successful": [],
        "Failed": [{"Id": "0", "SenderFault": True, "Code": "InvalidMessageContents", "Message": "bad"}],
    }
    hand_out, stubber, _ = stubbed([refused])
    with stubber, pytest.raises(HandOutIncomplete, match="refused 1 message"):
        hand_out.hand_out(["churn-prod"], AT)
    busy = {"Successful": [], "Failed": [{"Id": "0", "SenderFault": False, "Code": "InternalError", "Message": "busy"}]}
    hand_out, stubber, sent = stubbed([busy, busy, busy])
    with stubber, pytest.raises(HandOutIncomplete, match="after 3 attempts"):
        hand_out.hand_out(["churn-prod"], AT)
    assert sent == [["0"], ["0"], ["0"]]


BATCH = ["m1", "m2", "m3"]


@pytest.mark.parametrize(
    ("result", "error", "reports", "back"),
    [
        ({"batchItemFailures": [{"itemIdentifier": "m2"}]}, None, True, ["m2"]),
        ({"batchItemFailures": []}, None, True, []),  # an empty list: complete success
        ({"batchItemFailures": None}, None, True, []),  # a null list: complete success
        (None, None, True, []),  # a null response: complete success
        ({}, None, True, []),  # an empty response: complete success
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, None, True, BATCH),  # empty identifier: all fail
        ({"batchItemFailures": [{"itemIdentifier": None}]}, None, True, BATCH),  # null identifier
        ({"batchItemFailures": [{"itemId": "m2"}]}, None, True, BATCH),  # a bad key name
        ({"batchItemFailures": [{"itemIdentifier": "m9"}]}, None, True, BATCH),  # not in the batch
        ({"batchItemFailures": [{"itemIdentifier": "m2"}]}, None, False, []),  # not turned on: ignored
        (None, "RuntimeError: boom", True, BATCH),  # a function error: the whole batch
        (None, "RuntimeError: boom", False, BATCH),
    ],
)
def test_a_partial_batch_response_is_read_as_aws_documents_it(
    result: Any, error: str | None, reports: bool, back: list[str]
) -> None:
    assert failed_messages(result, error, BATCH, reports) == back
