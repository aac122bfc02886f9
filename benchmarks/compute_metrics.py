"""ComputeMetricsFunction at 1, 10, 100 and 500 endpoints x 2 variants, in moto: the AWS
calls of one run by operation, and its wall time (`make bench`). The run at 10:07 computes
10:00-10:05 (lag 2 minutes); each variant's datapoints of 10:05 show the window complete."""

import os
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import boto3
from moto import mock_aws

from benchmarks.calls import counting_calls
from model_medic.store.table import Table

SCHEDULED = datetime(2026, 11, 22, 10, 7, tzinfo=UTC)
TABLE = "model-medic-ledger"
SIZES = (1, 10, 100, 500)


def seed(endpoints: list[str]) -> None:
    data = []
    for endpoint in endpoints:
        for variant in ("primary", "canary"):
            for metric, value in (
                ("ModelLatency", 120_000.0),
                ("OverheadLatency", 15_000.0),
                ("Invocations", 50.0),
                ("Invocation4XXErrors", 1.0),
                ("Invocation5XXErrors", 0.0),
            ):
                for minutes in (5, 2):  # in the window (10:02), and after it (10:05)
                    data.append(
                        {
                            "MetricName": metric,
                            "Dimensions": [
                                {"Name": "EndpointName", "Value": endpoint},
                                {"Name": "VariantName", "Value": variant},
                            ],
                            "Timestamp": SCHEDULED - timedelta(minutes=minutes),
                            "Value": value,
                        }
                    )
    cloudwatch = boto3.client("cloudwatch")
    for start in range(0, len(data), 1000):
        cloudwatch.put_metric_data(Namespace="AWS/SageMaker", MetricData=data[start : start + 1000])


def measure(size: int) -> tuple[Counter[str], float, int]:
    from model_medic.measure.endpoint_metrics import ComputeMetrics
    from model_medic.platform import aws
    from model_medic.store.measurements import Measurements

    endpoints = [f"endpoint-{i:03d}" for i in range(size)]
    with mock_aws():
        aws.reset()
        seed(endpoints)
        aws.dynamodb().create_table(
            TableName=TABLE,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in ("pk", "sk")],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        )
        ledger = Measurements(Table(aws.dynamodb(), TABLE))
        with counting_calls() as calls:
            started = time.perf_counter()
            run = ComputeMetrics(aws.cloudwatch(), ledger, timedelta(minutes=5), timedelta(minutes=2)).run(
                endpoints, SCHEDULED
            )
            elapsed = time.perf_counter() - started
        aws.reset()
    return calls, elapsed, run.published


def main() -> None:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(key, "testing")
    print("ComputeMetricsFunction, one run, in moto (2 variants per endpoint)\n")
    columns = ["endpoints", "variants", "ListMetrics", "GetMetricData", "PutMetricData", "ledger", "calls in total"]
    print("| " + " | ".join([*columns, "data published", "wall time"]) + " |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for size in SIZES:
        calls, elapsed, published = measure(size)
        ledger = calls["GetItem"] + calls["PutItem"]
        print(
            f"| {size} | {2 * size} | {calls['ListMetrics']} | {calls['GetMetricData']} | {calls['PutMetricData']} "
            f"| {ledger} | {sum(calls.values())} | {published} | {elapsed:.2f} s |"
        )


if __name__ == "__main__":
    main()
