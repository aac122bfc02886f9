"""ComputeModelQuality throughput: 100,000 labels across 24 hourly folders joined to their
captured predictions (S3 in moto, in-process) - labels joined per second (`make bench`)."""

import json
import os
import random
import time
from datetime import UTC, datetime, timedelta

import boto3
from moto import mock_aws

END = datetime(2026, 11, 22, 12, tzinfo=UTC)
LABELS = 100_000
HOURS = 24


def seed() -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="bench")
    rng = random.Random("bench")
    per_hour = LABELS // HOURS + 1
    made = 0
    for h in range(HOURS):
        hour = END - timedelta(hours=HOURS - h)
        captures, labels = [], []
        for i in range(per_hour):
            if made == LABELS:
                break
            event_id = f"{h}-{i}"
            truth = rng.random() < 0.3
            captures.append(
                json.dumps(
                    {
                        "captureData": {
                            "endpointOutput": {
                                "observedContentType": "text/csv",
                                "mode": "OUTPUT",
                                "data": f"{rng.random():.3f}",
                                "encoding": "CSV",
                            }
                        },
                        "eventMetadata": {"eventId": f"e{event_id}", "inferenceId": event_id},
                    }
                )
            )
            labels.append(
                json.dumps(
                    {
                        "groundTruthData": {"data": "1" if truth else "0", "encoding": "CSV"},
                        "eventMetadata": {"eventId": event_id},
                        "eventVersion": "0",
                    }
                )
            )
            made += 1
        variant = "primary" if h % 4 else "canary"
        s3.put_object(
            Bucket="bench", Key=f"capture/churn/{variant}/{hour:%Y/%m/%d/%H}/c.jsonl", Body="\n".join(captures).encode()
        )
        s3.put_object(Bucket="bench", Key=f"truth/churn/{hour:%Y/%m/%d/%H}/l.jsonl", Body="\n".join(labels).encode())


def main() -> None:
    for key, value in (
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
    ):
        os.environ.setdefault(key, value)
    from model_medic import aws
    from model_medic.quality import ComputeModelQuality

    with mock_aws():
        aws.reset()
        seed()
        job = ComputeModelQuality(
            aws.s3(),
            aws.cloudwatch(),
            "s3://bench/capture",
            "s3://bench/truth",
            "BinaryClassification",
            timedelta(hours=HOURS),
            timedelta(hours=0),
            100,
        )
        timings = []
        for _ in range(3):
            started = time.perf_counter()
            result = job.run("churn", END)
            timings.append(time.perf_counter() - started)
        aws.reset()
    best = min(timings)
    print("ComputeModelQuality: 100,000 labels in 24 hourly folders, binary, best of 3 (S3 in moto)\n")
    print("| labels | joined | hourly folders | wall time | labels joined per second |\n|---:|---:|---:|---:|---:|")
    print(
        f"| {result['labels']:,} | {result['matched']:,} | {HOURS} | {best:.2f} s | {result['matched'] / best:,.0f} |"
    )


if __name__ == "__main__":
    main()
