"""The data jobs fanned out over 100 and 500 endpoints (`make bench`): invocations, S3 calls per invocation, wall time.

Each endpoint serves two variants of two instances, one capture file a minute per instance
(240 files an hour, RECORDS_PER_FILE requests each), has a drift baseline (built by the
function from a training set, then copied to every endpoint) and labels for its hour's
predictions. The hourly runs are run as the functions run them - each handler (decorators
aside) in this process, S3 and SQS in moto: the tick hands the endpoints out, and the queue is
delivered as the template's event source mappings deliver it (localcloud/queues.py; drift ten
messages a batch, quality one). Quality is measured at its steady state: the look-back's
earlier hours have their prediction index, as the earlier hourly runs leave it for hours
without capture (`predictions.index_document`, empty); the first run after deployment, which
builds it, is benchmarks/compute_model_quality.py's.

Per job: invocations (the tick and the queue's), S3 calls per worker invocation, the slowest
invocation's wall time against the function's 300 s, and the time the fleet takes with the
mapping's MaximumConcurrency of 4 (the worker invocations' wall times summed and divided by 4:
Lambda's polling aside). Also one invocation's read rate, in capture files and bytes a second.
moto in-process is slower than S3 per call and faster than a network round trip: the figures
are this machine's, for comparing, not AWS's latencies. `BENCH_SIZES=100` runs one size.
"""

import json
import os
import random
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from moto import mock_aws

from benchmarks.calls import counting_calls, handler, moto_environment
from localcloud.queues import QueuePoller

SIZES = tuple(int(n) for n in os.environ.get("BENCH_SIZES", "100,500").split(","))
HOUR = datetime(2026, 11, 22, 11, tzinfo=UTC)  # the hour of capture; the runs tick after it
VARIANTS = ("primary", "canary")
INSTANCES = 2
RECORDS_PER_FILE = 5
LIMIT_SECONDS = 300  # both functions' Timeout (template.yaml)
MAXIMUM_CONCURRENCY = 4  # both event source mappings' ScalingConfig
BATCH = {"drift": 10, "quality": 1}  # the mappings' BatchSize
WINDOW_HOURS, LOOKBACK_HOURS = 24, 72
# A bucket each, as a deployment usually has them (the index lives in the reports bucket): moto's
# ListObjectsV2 scans every key of the bucket, where S3's does not, so one bucket of everything
# would bill each listing of labels for the 120,000 capture files beside them.
CAPTURE, TRUTH, BASELINES, REPORTS = "bench-capture", "bench-truth", "bench-baselines", "bench-reports"


def tick(job: str, at: datetime) -> dict[str, Any]:
    rule = f"arn:aws:events:us-east-1:123456789012:rule/bench-{job}"
    time_ = at.isoformat().replace("+00:00", "Z")
    return {"detail-type": "Scheduled Event", "source": "aws.events", "time": time_, "resources": [rule], "detail": {}}


@dataclass
class Context:
    """A Lambda context whose remaining time runs down from the function's timeout."""

    function_name: str = "bench"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    aws_request_id: str = "bench"
    started: float = field(default_factory=time.perf_counter)

    def get_remaining_time_in_millis(self) -> int:
        return int((LIMIT_SECONDS - (time.perf_counter() - self.started)) * 1000)


def endpoint_name(number: int) -> str:
    return f"model-{number:03d}"


def capture_files(endpoint: str, rng: random.Random) -> list[tuple[str, bytes, list[tuple[str, int]]]]:
    """An hour of one endpoint's capture: (key, body, [(inference id, label)])."""
    files = []
    for variant in VARIANTS:
        for minute in range(60):
            for instance in range(INSTANCES):
                lines, truth = [], []
                for record in range(RECORDS_PER_FILE):
                    inference_id = f"{endpoint}-{variant[0]}{instance}-{minute:02d}-{record}"
                    label = int(rng.random() < 0.3)
                    score = min(1.0, max(0.0, (0.7 if label else 0.3) + rng.gauss(0, 0.2)))
                    age = rng.gauss(45, 10)
                    plan = rng.choices(("basic", "plus", "pro"), (50, 30, 20))[0]
                    lines.append(
                        json.dumps(
                            {
                                "captureData": {
                                    "endpointInput": {
                                        "observedContentType": "text/csv",
                                        "mode": "INPUT",
                                        "data": f"{age:.2f},{plan}",
                                        "encoding": "CSV",
                                    },
                                    "endpointOutput": {
                                        "observedContentType": "text/csv",
                                        "mode": "OUTPUT",
                                        "data": f"{score:.3f}",
                                        "encoding": "CSV",
                                    },
                                },
                                "eventMetadata": {
                                    "eventId": f"e-{inference_id}",
                                    "inferenceId": inference_id,
                                    "inferenceTime": (HOUR + timedelta(minutes=minute)).isoformat(),
                                },
                                "eventVersion": "0",
                            }
                        )
                    )
                    truth.append((inference_id, label))
                key = f"capture/{endpoint}/{variant}/{HOUR:%Y/%m/%d/%H}/{minute:02d}-{instance}.jsonl"
                files.append((key, "\n".join(lines).encode(), truth))
    return files


def seed(first: int, last: int, baseline: bytes, empty_index: Callable[[str, datetime], bytes]) -> int:
    """Endpoints first..last-1: their hour of capture, labels, baseline and prediction index; bytes of capture."""
    s3 = boto3.client("s3")
    size = 0
    for number in range(first, last):
        endpoint = endpoint_name(number)
        rng = random.Random(endpoint)
        truth: list[tuple[str, int]] = []
        for key, body, labels in capture_files(endpoint, rng):
            s3.put_object(Bucket=CAPTURE, Key=key, Body=body)
            size += len(body)
            truth += labels
        labels_body = "\n".join(
            json.dumps({"groundTruthData": {"data": str(y), "encoding": "CSV"}, "eventMetadata": {"eventId": i}})
            for i, y in truth
        )
        s3.put_object(Bucket=TRUTH, Key=f"truth/{endpoint}/{HOUR:%Y/%m/%d/%H}/labels.jsonl", Body=labels_body.encode())
        s3.put_object(Bucket=BASELINES, Key=f"baselines/{endpoint}/baseline.json", Body=baseline)
        # The hours before it, complete and without capture: their (empty) index, as earlier runs wrote it.
        at = HOUR - timedelta(hours=WINDOW_HOURS + LOOKBACK_HOURS - 1)
        while at < HOUR:
            key = f"prediction-index/{endpoint}/{at:%Y/%m/%d/%H}.json"
            s3.put_object(Bucket=REPORTS, Key=key, Body=empty_index(endpoint, at))
            at += timedelta(hours=1)
    return size


@dataclass
class Run:
    job: str
    endpoints: int
    tick_calls: Counter[str]
    tick_seconds: float
    workers: list[tuple[Counter[str], float, int]]  # (calls, wall time, messages) per worker invocation
    statuses: Counter[str]


def run(job: str, function: Any, endpoints: int, at: datetime) -> Run:
    """One hourly run of `job` over the fleet: the tick, then its queue as the mapping delivers it."""
    os.environ["MONITORED_ENDPOINTS"] = ",".join(endpoint_name(n) for n in range(endpoints))
    from model_medic.platform.settings import load_settings

    load_settings.cache_clear()
    with counting_calls() as calls:
        started = time.perf_counter()
        answer = function(tick(job, at), Context())
        tick_seconds = time.perf_counter() - started
    assert len(answer["queued"]) == endpoints, answer
    workers: list[tuple[Counter[str], float, int]] = []
    statuses: Counter[str] = Counter()

    def invoke(event: dict[str, Any]) -> tuple[Any, str | None]:
        with counting_calls() as made:
            began = time.perf_counter()
            result = function(event, Context())
            workers.append((made, time.perf_counter() - began, len(event["Records"])))
        statuses.update(str(r["status"]) for r in result["results"])
        return result, None

    sqs = boto3.client("sqs")
    url = os.environ["DRIFT_QUEUE_URL" if job == "drift" else "QUALITY_QUEUE_URL"]
    deliveries = QueuePoller(sqs, url, BATCH[job]).drain(invoke)
    assert all(not d.failed for d in deliveries), [d.failed for d in deliveries if d.failed][:3]
    return Run(job, endpoints, calls, tick_seconds, workers, statuses)


def report(measured: Run, capture_bytes_per_endpoint: float) -> None:
    s3_calls = [sum(n for op, n in calls.items() if op in S3_OPERATIONS) for calls, _, _ in measured.workers]
    walls = [wall for _, wall, _ in measured.workers]
    slowest = max(measured.workers, key=lambda w: w[1])
    gets = slowest[0]["GetObject"]
    rate = gets / slowest[1] if slowest[1] else 0.0
    print(
        f"| {measured.job} | {measured.endpoints} | 1 + {len(measured.workers)} | "
        f"{sum(measured.tick_calls.values())} ({measured.tick_calls['SendMessageBatch']} SendMessageBatch) | "
        f"{min(s3_calls):,} / {statistics.median(s3_calls):,.0f} / {max(s3_calls):,} | "
        f"{slowest[1]:.1f} s of {LIMIT_SECONDS} s ({slowest[2]} endpoint{'s' if slowest[2] > 1 else ''}) | "
        f"{sum(walls) / MAXIMUM_CONCURRENCY:.0f} s | {rate:,.0f} objects/s, "
        f"{rate * capture_bytes_per_endpoint / 240 / 2**20:.1f} MiB/s | "
        + ", ".join(f"{status} {count}" for status, count in sorted(measured.statuses.items()))
        + " |",
        flush=True,
    )


S3_OPERATIONS = {"GetObject", "ListObjectsV2", "PutObject", "HeadObject"}


def main() -> None:
    moto_environment(
        CAPTURE_S3_URI=f"s3://{CAPTURE}/capture",
        BASELINE_S3_URI=f"s3://{BASELINES}/baselines",
        GROUND_TRUTH_S3_URI=f"s3://{TRUTH}/truth",
        PREDICTION_INDEX_S3_URI=f"s3://{REPORTS}/prediction-index",
        DRIFT_MIN_ROWS="500",
        PROBLEM_TYPE="BinaryClassification",
        QUALITY_WINDOW_HOURS=str(WINDOW_HOURS),
        LABEL_LOOKBACK_HOURS=str(LOOKBACK_HOURS),
        QUALITY_MIN_SAMPLES="100",
        LEDGER_TABLE="bench-ledger",
        INFO_TOPIC_ARN="arn:aws:sns:us-east-1:123456789012:bench-info",
        CRITICAL_TOPIC_ARN="arn:aws:sns:us-east-1:123456789012:bench-critical",
        EVENT_BUS_NAME="default",
        LEDGER_RETENTION_DAYS="90",
        LOG_LEVEL="WARNING",  # the table, not a log line per endpoint
    )
    from model_medic.measure.predictions import index_document
    from model_medic.measure.records import OutputFormat
    from model_medic.platform import aws

    reading = OutputFormat.for_problem("BinaryClassification", "predicted_label", "score")  # the template's defaults

    def empty_index(endpoint: str, at: datetime) -> bytes:
        return json.dumps(index_document(endpoint, at, reading, {})).encode()

    rows: list[Run] = []
    with mock_aws():
        aws.reset()
        world()
        drift, quality = handler("compute_drift"), handler("compute_model_quality")
        os.environ["MONITORED_ENDPOINTS"] = endpoint_name(0)
        baseline = training_baseline(drift)
        seeded, capture_bytes, seeding = 0, 0, []
        for size in sorted(SIZES):
            started = time.perf_counter()
            capture_bytes += seed(seeded, size, baseline, empty_index)
            seeding.append(f"{size - seeded} endpoints {time.perf_counter() - started:.0f} s")
            if not seeded:
                header(capture_bytes / size)
            seeded = size
            # Drift at :05 measures the hour before; the quality catch-up at :10 takes that hour's labels.
            for job, function, minutes in (("drift", drift, 5), ("quality", quality, 10)):
                rows.append(run(job, function, size, HOUR + timedelta(hours=1, minutes=minutes)))
                report(rows[-1], capture_bytes / seeded)
        aws.reset()
    slowest = max(wall for measured in rows for _, wall, _ in measured.workers)
    print(
        f"\nSeeding (moto): {', '.join(seeding)}; load average {os.getloadavg()[0]:.1f} (other work on this "
        f"machine slows the wall times). One hour of {max(SIZES)} endpoints is {max(SIZES) * 240:,} capture "
        f"files, which no one invocation reads; fanned out, the slowest invocation took {slowest:.1f} s of "
        f"its {LIMIT_SECONDS} s.",
        flush=True,
    )


def header(capture_bytes_per_endpoint: float) -> None:
    print(
        f"Drift and model quality fanned out (moto in-process): per endpoint an hour of capture - "
        f"{len(VARIANTS)} variants x {INSTANCES} instances, a file a minute each (240 files, "
        f"{RECORDS_PER_FILE} requests a file, {capture_bytes_per_endpoint / 2**10:.0f} KiB) - its baseline and its "
        f"labels; quality over {WINDOW_HOURS} h of labels and a {LOOKBACK_HOURS} h look-back\n"
    )
    print(
        "| job | endpoints | invocations (tick + queue) | tick's AWS calls | S3 calls per worker "
        "invocation (min / median / max) | slowest invocation | fleet at MaximumConcurrency 4 | "
        "read rate (slowest) | results |"
    )
    print("|---|---:|---:|---|---:|---:|---:|---:|---|", flush=True)


def world() -> None:
    """What the stack provides: the buckets, the ledger, the topics, the queues and their dead-letter queue."""
    for bucket in (CAPTURE, TRUTH, BASELINES, REPORTS):
        boto3.client("s3").create_bucket(Bucket=bucket)
    boto3.client("dynamodb").create_table(
        TableName="bench-ledger",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    )
    sns = boto3.client("sns")
    for name in ("bench-info", "bench-critical"):
        sns.create_topic(Name=name)
    sqs = boto3.client("sqs")
    dead = sqs.create_queue(QueueName="bench-dead-letters")["QueueUrl"]
    dead_arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dead_arn, "maxReceiveCount": "5"})
    for job, variable in (("drift", "DRIFT_QUEUE_URL"), ("quality", "QUALITY_QUEUE_URL")):
        attributes = {"VisibilityTimeout": "1800", "RedrivePolicy": redrive}
        os.environ[variable] = sqs.create_queue(QueueName=f"bench-{job}", Attributes=attributes)["QueueUrl"]


def training_baseline(drift: Any) -> bytes:
    """A baseline built by ComputeDriftFunction itself (build-baseline) from a training set."""
    rng = random.Random("training")
    lines = ["age,plan"] + [
        f"{rng.gauss(45, 10):.2f},{rng.choices(('basic', 'plus', 'pro'), (50, 30, 20))[0]}" for _ in range(5000)
    ]
    s3 = boto3.client("s3")
    s3.put_object(Bucket=BASELINES, Key=f"baselines/{endpoint_name(0)}/training.csv", Body="\n".join(lines).encode())
    built = drift({"build-baseline": {"endpoint": endpoint_name(0)}}, Context())
    assert "baseline" in built, built
    body: bytes = s3.get_object(Bucket=BASELINES, Key=f"baselines/{endpoint_name(0)}/baseline.json")["Body"].read()
    return body


if __name__ == "__main__":
    main()
