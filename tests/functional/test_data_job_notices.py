"""The data jobs tell through the outbox (issue 27, 1), against moto: each standing problem of
ComputeDriftFunction and ComputeModelQualityFunction - no baseline, data S3 refuses, data not
found - is told once though SNS refuses the Publish once or the process dies right before or
right after it: the redelivery of the endpoint's assignment sends what is not marked sent, and
a repeat carries the same deduplication id."""

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import boto3
import pytest
import time_machine

from localcloud.queues import Delivery
from localcloud.world import capture_record
from tests.conftest import FakeContext, Stack, deliver, load_event, load_handler

BUCKET = "churn-ml"
ENDPOINT = "churn-prod"
# Just after the events' ticks (2026-11-22T10:05:00Z): the wall clock the outbox's leases read.
START = datetime(2026, 11, 22, 10, 5, 30, tzinfo=UTC)

Fault = Literal["throttled", "dies-before", "dies-after"]


class Died(BaseException):
    """The process died (a timeout, out of memory): nothing after it runs, and Lambda reports a
    function error, so the queue hands the batch out again after its visibility timeout."""


@dataclass(frozen=True)
class Place:
    """One place a data job tells a standing problem, and how to make the problem."""

    job: Literal["drift", "quality"]
    notice: str  # its NOTICE# key in the ledger
    tap: Literal["critical", "info"]
    subject: str
    decided: bool  # whether telling it records a decision in the ledger
    env: dict[str, str] = field(default_factory=dict)
    deny: str = ""  # an S3 operation refused with AccessDenied


PLACES = {
    "baseline-missing": Place(
        "drift", "baseline-missing", "critical", "[CRITICAL] test no drift baseline for churn-prod", False
    ),
    "drift-refused": Place(
        "drift",
        "drift-aws-error",
        "critical",
        "[CRITICAL] test drift of churn-prod is not measured (unreadable)",
        True,
        deny="GetObject",
    ),
    "drift-no-data": Place(
        "drift",
        "drift-data-missing#capture",
        "info",
        "[INFO] test drift of churn-prod is not measured (no data)",
        True,
        env={"CAPTURE_S3_URI": ""},
    ),
    "quality-no-data": Place(
        "quality",
        "quality-data-missing#capture",
        "info",
        "[INFO] test model quality of churn-prod is not measured (no data)",
        True,
        env={"CAPTURE_S3_URI": ""},
    ),
    "quality-refused": Place(
        "quality",
        "quality-aws-error",
        "critical",
        "[CRITICAL] test model quality of churn-prod is not measured (unreadable)",
        True,
        deny="ListObjectsV2",
    ),
}


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    """The wall clock from START, running (moto's SQS makes a message handed back visible only
    once its clock has moved past the moment it was handed back)."""
    with time_machine.travel(START, tick=True) as traveller:
        yield traveller


def function(job: str, monkeypatch: pytest.MonkeyPatch, **env: str) -> Any:
    """The job's function, its stack capturing to, and keeping baselines and labels in, one bucket."""
    settings = {
        "CAPTURE_S3_URI": f"s3://{BUCKET}/datacapture",
        "BASELINE_S3_URI": f"s3://{BUCKET}/baselines",
        "GROUND_TRUTH_S3_URI": f"s3://{BUCKET}/groundtruth",
        "DRIFT_MIN_ROWS": "500",
        "PROBLEM_TYPE": "BinaryClassification",
        "QUALITY_WINDOW_HOURS": "24",
        "LABEL_LOOKBACK_HOURS": "24",
        "QUALITY_MIN_SAMPLES": "50",
        "POWERTOOLS_SERVICE_NAME": f"compute-{job}",
    }
    for name, value in (settings | env).items():
        monkeypatch.setenv(name, value)
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    return load_handler("compute_drift" if job == "drift" else "compute_model_quality")


@dataclass
class Answer:
    """The part of an HTTP answer botocore reads from a `before-call` hook's reply."""

    status_code: int


def deny(operation: str) -> None:
    """S3 answers AccessDenied to the function's `operation`, as AWS answers, through botocore's own hook."""
    from model_medic.platform import aws

    def refused(**_: Any) -> tuple[Any, dict[str, Any]]:
        return Answer(403), {"Error": {"Code": "AccessDenied", "Message": "Access Denied"}, "ResponseMetadata": {}}

    aws.s3().meta.events.register(f"before-call.s3.{operation}", refused)


def fail_publish(fault: Fault) -> None:
    """SNS's next Publish fails: SNS answers Throttling ('throttled'), or the process dies right
    before the call reaches SNS ('dies-before') or right after SNS took the message, before it
    is marked sent ('dies-after')."""
    from model_medic.platform import aws

    left = [1]

    def before(**_: Any) -> tuple[Any, dict[str, Any]] | None:
        if not left[0]:
            return None
        left[0] -= 1
        if fault == "dies-before":
            raise Died("before Publish")
        return Answer(400), {"Error": {"Code": "Throttling", "Message": "Rate exceeded"}, "ResponseMetadata": {}}

    def after(**_: Any) -> None:
        if left[0]:
            left[0] -= 1
            raise Died("after Publish")

    events = aws.sns().meta.events
    if fault == "dies-after":
        events.register("after-call.sns.Publish", after)
    else:
        events.register("before-call.sns.Publish", before)


def hourly(
    fn: Any, stack: Stack, clock: time_machine.Traveller, job: str, pending: list[list[str]] | None = None
) -> list[Delivery]:
    """The hourly run as AWS runs it: the tick hands the endpoint to the job's queue, and the
    event source mapping gives its message to an invocation of its own, again after the queue's
    visibility timeout when the invocation failed or died (a new request id each time).
    `pending`: the dedup ids of the letters left in the outbox after each invocation."""
    queue = stack.queues[job]
    attributes = stack.sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["VisibilityTimeout"])["Attributes"]
    visibility = timedelta(seconds=int(attributes["VisibilityTimeout"]))
    fn.lambda_handler(
        load_event(f"compute_{'drift' if job == 'drift' else 'model_quality'}/schedule.json"), FakeContext()
    )

    def invoke(event: dict[str, Any], context: Any) -> Any:
        try:
            return fn.lambda_handler(event, context)
        except Died as died:
            raise RuntimeError(f"the process died ({died})") from died
        finally:
            if pending is not None:
                pending.append([letter["dedup_id"] for letter in stack.items("letter")])
            clock.shift(visibility)  # the next receive of a message handed back

    return deliver(stack, job, invoke, batch_size=1)


def told(stack: Stack, place: Place) -> list[str]:
    """The dedup ids of the messages on the place's topic (each one about the place's problem)."""
    messages = stack.drain(place.tap)
    assert [m["Subject"] for m in messages] == [place.subject] * len(messages), messages
    return [m["MessageAttributes"]["dedup_id"]["Value"] for m in messages]


def assert_recorded_once(stack: Stack, place: Place) -> None:
    assert stack.items("letter") == []  # nothing left unsent
    assert [n["sk"] for n in stack.items("notice")] == [f"NOTICE#{place.notice}"]
    recorded = [d for d in stack.items("decision") if d["transition"].startswith(f"{place.notice}|")]
    assert len(recorded) == (1 if place.decided else 0)


@pytest.fixture(params=sorted(PLACES))
def place(request: pytest.FixtureRequest) -> Place:
    found: Place = PLACES[request.param]
    return found


@pytest.fixture
def fn(place: Place, stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Any:
    handler = function(place.job, monkeypatch, **place.env)
    if place.deny:
        deny(place.deny)
    return handler


def outcome(delivery: Delivery) -> str:
    """What became of one delivery: its message done, handed back by the function, or the process died."""
    if delivery.error is not None:
        return "died" if "the process died" in delivery.error else delivery.error
    return "handed back" if delivery.failed else "done"


def test_a_problem_is_told_once_when_nothing_fails(
    place: Place, fn: Any, stack: Stack, clock: time_machine.Traveller
) -> None:
    pending: list[list[str]] = []
    for _ in range(3):
        assert [outcome(d) for d in hourly(fn, stack, clock, place.job, pending)] == ["done"]
    assert pending == [[], [], []]  # sent by the invocation that wrote it
    [dedup] = told(stack, place)
    assert len(dedup) == 32
    assert_recorded_once(stack, place)


@pytest.mark.parametrize(("fault", "first"), [("throttled", "handed back"), ("dies-before", "died")])
def test_a_publish_that_fails_loses_no_message_the_redelivery_sends_it_once(
    place: Place, fn: Any, stack: Stack, clock: time_machine.Traveller, fault: Fault, first: str
) -> None:
    fail_publish(fault)
    pending: list[list[str]] = []
    assert [outcome(d) for d in hourly(fn, stack, clock, place.job, pending)] == [first, "done"]
    # The notice and its letter were written together; the redelivery sent the letter (and told nothing new).
    [[written], []] = pending
    [dedup] = told(stack, place)
    assert dedup == written
    for _ in range(2):  # the next hours tell nothing more
        hourly(fn, stack, clock, place.job)
    assert told(stack, place) == []
    assert len(dedup) == 32
    assert_recorded_once(stack, place)


def test_a_process_dying_right_after_the_publish_repeats_the_message_with_its_dedup_id(
    place: Place, fn: Any, stack: Stack, clock: time_machine.Traveller
) -> None:
    fail_publish("dies-after")
    pending: list[list[str]] = []
    assert [outcome(d) for d in hourly(fn, stack, clock, place.job, pending)] == ["died", "done"]
    [[written], []] = pending
    copies = told(stack, place)
    assert copies == [written, written]  # SNS took it, the letter was not marked sent: sent again, same id
    hourly(fn, stack, clock, place.job)
    assert told(stack, place) == []
    assert_recorded_once(stack, place)


# --- a problem that ends, one that grows ----------------------------------------------------------


def training_and_capture() -> None:
    """A training set beside the baseline's key, and an hour of captured rows like it (2026-11-22 09:00)."""
    rng = random.Random(7)
    rows = [f"{rng.choice('01')},{rng.gauss(45, 10):.3f}" for _ in range(2000)]
    s3 = boto3.client("s3")
    s3.put_object(
        Bucket=BUCKET, Key=f"baselines/{ENDPOINT}/training.csv", Body="\n".join(["label,age", *rows]).encode()
    )
    captured = [capture_record(f"{rng.gauss(45, 10):.3f}", f"r{i}", "2026-11-22T09:10:00Z") for i in range(600)]
    s3.put_object(
        Bucket=BUCKET,
        Key=f"datacapture/{ENDPOINT}/primary/2026/11/22/09/capture-1.jsonl",
        Body="\n".join(captured).encode(),
    )


def test_a_problem_that_ends_and_comes_back_is_told_again_as_news(
    stack: Stack, clock: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch
) -> None:
    place = PLACES["baseline-missing"]
    fn = function("drift", monkeypatch)
    training_and_capture()
    hourly(fn, stack, clock, "drift")
    [first] = told(stack, place)
    assert fn.lambda_handler({"build-baseline": {"endpoint": ENDPOINT}}, FakeContext())["baseline"]
    [measured] = hourly(fn, stack, clock, "drift")
    assert measured.result["results"][0]["status"] == "published"
    assert stack.items("notice") == []  # the problem ended: its notice is cleared
    boto3.client("s3").delete_object(Bucket=BUCKET, Key=f"baselines/{ENDPOINT}/baseline.json")
    hourly(fn, stack, clock, "drift")
    [again] = told(stack, place)
    assert again != first  # a new message, not a repeat a consumer would drop
    assert_recorded_once(stack, place)


def test_a_part_found_missing_later_is_told_with_all_while_the_part_told_already_is_not_written_again(
    stack: Stack, clock: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch
) -> None:
    fn = function("drift", monkeypatch, CAPTURE_S3_URI="")
    hourly(fn, stack, clock, "drift")
    [capture] = stack.drain("info")
    assert "- capture:" in capture["Message"]
    assert "- baseline:" not in capture["Message"]
    monkeypatch.setenv("BASELINE_S3_URI", "")  # the stack's baseline location removed as well
    from model_medic.platform.settings import load_settings

    load_settings.cache_clear()
    hourly(fn, stack, clock, "drift")
    [both] = stack.drain("info")
    assert "- capture:" in both["Message"]
    assert "- baseline:" in both["Message"]
    assert both["MessageAttributes"]["dedup_id"] != capture["MessageAttributes"]["dedup_id"]
    hourly(fn, stack, clock, "drift")
    assert stack.drain("info") == []
    notices = sorted(n["sk"] for n in stack.items("notice"))
    assert notices == ["NOTICE#drift-data-missing#baseline", "NOTICE#drift-data-missing#capture"]
    told_parts = sorted(d["transition"].split("|")[0] for d in stack.items("decision"))
    assert told_parts == ["drift-data-missing#baseline", "drift-data-missing#capture"]  # each part's decision once
    assert stack.items("letter") == []
