"""DailyReportFunction over a fleet of 100 and 500 endpoints discovered by tag, in moto
(`make bench`): one run of the handler (scope, metrics, ledger, pages, index, summary), its
AWS calls by operation, wall time, the process's peak memory, and the size of the SNS
summary against SNS's limit. Endpoints have 2 variants and the incidents of
`benchmarks.daily_report`; a fifth of them have errors, so that the summary has a worst few
to name."""

import importlib.util
import os
import resource
import time
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
from botocore.client import BaseClient
from moto import mock_aws

from benchmarks.calls import moto_environment
from benchmarks.daily_report import END, seed, seed_incidents

SIZES = tuple(int(n) for n in os.environ.get("BENCH_SIZES", "100,500").split(","))
ROOT = Path(__file__).resolve().parent.parent
EVENT = {
    "version": "0",
    "id": "bench",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": END.isoformat().replace("+00:00", "Z"),
    "region": "us-east-1",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/bench-daily-report"],
    "detail": {},
}


@dataclass
class Context:
    """The parts of a Lambda context Powertools reads."""

    function_name: str = "bench-daily-report"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:bench-daily-report"
    aws_request_id: str = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def handler() -> Any:
    path = ROOT / "functions" / "daily_report" / "app.py"
    spec = importlib.util.spec_from_file_location("bench_daily_report_app", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def prepare(size: int) -> None:
    """`size` endpoints tagged model-medic=on with two variants, one hour of traffic each (moto's
    GetMetricData scans every stored datapoint for each query: a day of datapoints for 500
    endpoints would take moto most of an hour), a fifth of them with 5XX errors (grades B and
    C), the incidents of `benchmarks.daily_report`; the bucket, the ledger and the info topic."""
    names = [f"endpoint-{i:03d}" for i in range(size)]
    seed(names, hours=(19,), tags={"model-medic": "on"})
    errors = [
        {
            "MetricName": "Invocation5XXErrors",
            "Timestamp": END - timedelta(hours=5, minutes=-10),
            "Dimensions": [{"Name": "EndpointName", "Value": name}, {"Name": "VariantName", "Value": variant}],
            "Value": float(2 + index % 10),  # 2% to 11% of the day's 200 requests: grades B and C
        }
        for index, name in enumerate(names)
        if index % 5 == 2
        for variant in ("primary", "canary")
    ]
    cloudwatch = boto3.client("cloudwatch")
    for first in range(0, len(errors), 1000):
        cloudwatch.put_metric_data(Namespace="AWS/SageMaker", MetricData=errors[first : first + 1000])
    seed_incidents(names)
    info = boto3.client("sns").create_topic(Name="info")["TopicArn"]
    os.environ.update(
        {
            "LEDGER_TABLE": "ledger",
            "LEDGER_RETENTION_DAYS": "90",
            "REPORTS_BUCKET": "reports",
            "INFO_TOPIC_ARN": info,
            "CRITICAL_TOPIC_ARN": info,
            "EVENT_BUS_NAME": "default",
            "MONITORED_ENDPOINTS": "endpoint-000",
            "DISCOVERY_TAG": "model-medic=on",
        }
    )


def measure(size: int) -> tuple[Counter[str], float, float, int, dict[str, Any]]:
    """(calls by operation, wall time, time inside AWS calls (moto's), bytes of the SNS summary,
    the handler's result)."""
    from model_medic.platform import aws
    from model_medic.platform.settings import load_settings

    calls: Counter[str] = Counter()
    published: list[str] = []
    in_calls = [0.0]
    original = BaseClient._make_api_call

    def counting(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        calls[operation] += 1
        if operation == "Publish":
            published.append(params["Message"])
        started = time.perf_counter()
        try:
            return original(self, operation, params)
        finally:
            in_calls[0] += time.perf_counter() - started

    with mock_aws():
        aws.reset()
        load_settings.cache_clear()
        prepare(size)
        app = handler()
        BaseClient._make_api_call = counting
        try:
            started = time.perf_counter()
            result = app.lambda_handler(EVENT, Context())
            elapsed = time.perf_counter() - started
        finally:
            BaseClient._make_api_call = original
        aws.reset()
        load_settings.cache_clear()
    [message] = published
    return calls, elapsed, in_calls[0], len(message.encode("utf-8")), result


def main() -> None:
    moto_environment(POWERTOOLS_LOG_LEVEL="WARNING")
    from model_medic.report.summary import SNS_MESSAGE_MAX_BYTES

    print("DailyReportFunction over a fleet discovered by tag (2 variants each), one run in moto\n")
    rows = [(size, *measure(size)) for size in SIZES]
    operations = sorted({op for _, calls, *_ in rows for op in calls})
    print(
        "| endpoints | " + " | ".join(operations) + " | total | wall time | of which our code | SNS summary | grades |"
    )
    print("|---:|" + "---:|" * (len(operations) + 4) + "---|")
    for size, calls, elapsed, in_calls, message, result in rows:
        counts = " | ".join(str(calls.get(op, 0)) for op in operations)
        grades = Counter(result["grades"].values())
        shown = ", ".join(f"{grades[g]} {g}" for g in "CBA")
        share = f"{100 * message / SNS_MESSAGE_MAX_BYTES:.0f}% of SNS's {SNS_MESSAGE_MAX_BYTES:,}"
        own = elapsed - in_calls
        print(
            f"| {size} | {counts} | {sum(calls.values())} | {elapsed:.1f} s | {own:.1f} s | "
            f"{message:,} B ({share}) | {shown} |"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        "\nOur code: the wall time outside AWS calls (gathering, grading, rendering, JSON), on this machine;"
        " the rest is moto's.\nIn AWS the run is our code plus the calls, one after another."
        f"\nPeak memory of this process (moto's fleet included): {peak:.0f} MB"
    )


if __name__ == "__main__":
    main()
