"""DailyReportFunction for 100 endpoints x 2 variants, in moto: AWS calls by operation and
the wall time of one run (`make bench`). Each endpoint has three incidents in the ledger
(one recovered in the day, one closed the day before, and on every tenth endpoint one
escalated three days ago and still open), so the incidents' Query is counted too."""

import os
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import boto3
from moto import mock_aws

from benchmarks.calls import counting_calls
from model_medic.store.table import Table

END = datetime(2026, 11, 23, 6, tzinfo=UTC)
ENDPOINTS = 100


def seed(names: list[str], hours: Sequence[int] = range(0, 24, 3), tags: dict[str, str] | None = None) -> None:
    """The endpoints (2 variants, with these tags) with traffic in these hours of the day
    before END; the reports bucket and the ledger table."""
    sagemaker, cloudwatch = boto3.client("sagemaker"), boto3.client("cloudwatch")
    sagemaker.create_model(
        ModelName="m", ExecutionRoleArn="arn:aws:iam::123456789012:role/r", PrimaryContainer={"Image": "i"}
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName="c",
        ProductionVariants=[
            {
                "VariantName": v,
                "ModelName": "m",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "InitialVariantWeight": w,
            }
            for v, w in (("primary", 0.9), ("canary", 0.1))
        ],
    )
    data = []
    for name in names:
        sagemaker.create_endpoint(
            EndpointName=name, EndpointConfigName="c", Tags=[{"Key": k, "Value": v} for k, v in (tags or {}).items()]
        )
        for variant in ("primary", "canary"):
            for hour in hours:
                for metric, value in (
                    ("Invocations", 100.0),
                    ("Invocation5XXErrors", 1.0),
                    ("ModelLatency", 90_000.0),
                    ("OverheadLatency", 10_000.0),
                ):
                    data.append(
                        {
                            "MetricName": metric,
                            "Timestamp": END - timedelta(hours=24 - hour, minutes=-5),
                            "Dimensions": [
                                {"Name": "EndpointName", "Value": name},
                                {"Name": "VariantName", "Value": variant},
                            ],
                            "Value": value,
                        }
                    )
    for first in range(0, len(data), 1000):
        cloudwatch.put_metric_data(Namespace="AWS/SageMaker", MetricData=data[first : first + 1000])
    boto3.client("s3").create_bucket(Bucket="reports")
    boto3.client("dynamodb").create_table(
        TableName="ledger",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    )


def seed_incidents(names: list[str]) -> None:
    from model_medic.platform import aws
    from model_medic.store.incidents import Incidents, opened

    store = Incidents(Table(aws.dynamodb(), "ledger"), timedelta(days=90))
    for index, name in enumerate(names):
        episodes = [(END - timedelta(hours=10), "recovered"), (END - timedelta(hours=40), "recovered")]
        if index % 10 == 0:
            episodes.append((END - timedelta(days=3), "escalated"))
        for at, ending in episodes:
            alarm = f"{name}-HighLatency"
            arn = f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{alarm}"
            incident = store.open(opened(name, "scale-up", alarm, arn, at, "latency above 400 ms", "TotalLatency"))
            acted = replace(incident, steps=1, state="waiting").at(
                "action", at + timedelta(minutes=1), "primary 1 -> 2"
            )
            acted = replace(acted, state="verifying").at(
                "in-service", at + timedelta(minutes=9), "primary: 2 instances"
            )
            if ending == "recovered":
                done = at + timedelta(minutes=20)
                store.save(
                    replace(acted, state="recovered", closed_at=done.isoformat(), recovered_seconds=1200.0).at(
                        "recovered", done, "the alarm returned to OK"
                    )
                )
            else:
                store.save(replace(acted, state="escalated").at("escalated", at + timedelta(minutes=30), "still ALARM"))


def main() -> None:
    for key, value in (
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
    ):
        os.environ.setdefault(key, value)
    from model_medic.platform import aws
    from model_medic.report.daily import DailyReport
    from model_medic.store.incidents import Incidents
    from model_medic.store.journal import Journal

    names = [f"endpoint-{i:03d}" for i in range(ENDPOINTS)]
    with mock_aws():
        aws.reset()
        seed(names)
        seed_incidents(names)
        with counting_calls() as calls:
            started = time.perf_counter()
            job = DailyReport(
                aws.cloudwatch(),
                aws.sagemaker(),
                aws.s3(),
                Journal(Table(aws.dynamodb(), "ledger"), timedelta(days=90)),
                "reports",
                incidents=Incidents(Table(aws.dynamodb(), "ledger"), timedelta(days=90)),
            )
            reports = job.build(names, END)
            links = job.publish(reports, reports[0].day)
            job.summary(reports, links, reports[0].day)
            elapsed = time.perf_counter() - started
        aws.reset()
    shown = sum(len(r.incidents) for r in reports)
    print(f"DailyReportFunction: {ENDPOINTS} endpoints x 2 variants, 24 hours, one run in moto")
    print(f"({shown} incidents open in the day shown, of {ENDPOINTS * 2 + ENDPOINTS // 10} in the ledger)\n")
    print("| operation | calls |\n|---|---:|")
    for operation, count in sorted(calls.items()):
        print(f"| {operation} | {count} |")
    print(f"| **total** | **{sum(calls.values())}** |\n\nWall time: {elapsed:.2f} s")


if __name__ == "__main__":
    main()
