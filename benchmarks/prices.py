"""AWS's us-east-1 prices and how `benchmarks.cost` turns an hour's usage into a month's bill."""

import json
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from benchmarks.cost import Usage

# us-east-1 list prices, without free tiers (README "Cost" cites the pages; read December 2026).
# https://aws.amazon.com/cloudwatch/pricing/
ALARM_METRIC = 0.10  # a standard-resolution metric alarm, a month (a metric-math alarm: per metric)
DASHBOARD = 3.00  # a month (the account's first 3 are free)
CUSTOM_METRIC_TIERS = ((10_000, 0.30), (240_000, 0.10), (750_000, 0.05), (math.inf, 0.02))  # a metric-month
GET_METRIC_DATA = 0.01 / 1000  # a metric requested
CLOUDWATCH_REQUEST = 0.01 / 1000  # PutMetricData, ListMetrics, DescribeAlarms, PutMetricAlarm, ...
LOGS_INGESTED = 0.50  # a GB (standard log class)
LOGS_STORED = 0.03  # a GB-month
# https://aws.amazon.com/lambda/pricing/ (Arm, the template's Architectures)
LAMBDA_REQUEST = 0.20 / 1_000_000
LAMBDA_GB_SECOND = 0.0000133334
# https://aws.amazon.com/dynamodb/pricing/on-demand/ (since the 1 November 2024 reduction)
READ_UNIT = 0.125 / 1_000_000
WRITE_UNIT = 0.625 / 1_000_000
# https://aws.amazon.com/s3/pricing/ (S3 Standard)
S3_GET = 0.0004 / 1000  # GET, HEAD
S3_PUT = 0.005 / 1000  # PUT, COPY, POST, LIST
# https://aws.amazon.com/sns/pricing/ and https://aws.amazon.com/eventbridge/pricing/
SNS_PUBLISH = 0.50 / 1_000_000
SQS_REQUEST = 0.40 / 1_000_000  # a standard queue's request (https://aws.amazon.com/sqs/pricing/)
CUSTOM_EVENT = 1.00 / 1_000_000  # scheduled rules' and AWS services' events are free
KMS_KEY = 1.00  # the stack's customer-managed key, a month (https://aws.amazon.com/kms/pricing/)

SQS_OPERATIONS = ("SendMessage", "SendMessageBatch", "ReceiveMessage", "DeleteMessage", "DeleteMessageBatch")

HOURS_A_MONTH = 730
DAYS_A_MONTH = 30.4
LAMBDA_FULL_CPU_MB = 1769  # Lambda gives a function one vCPU at 1,769 MB, a share of one below
AWS_CALL_SECONDS = 0.025  # an assumed AWS API round trip from Lambda in the same Region
CONCURRENT_GETS = 16  # model_medic.measure.s3_objects.READERS
PLATFORM_LOG_BYTES = 300  # Lambda's own START, END and REPORT lines of an invocation (text format)
LOG_RETENTION_MONTHS = 90 / DAYS_A_MONTH  # LogRetentionDays' default

ASSUMPTIONS = (
    "Assumptions: endpoints found by DiscoveryTag, each serving one variant (no canary: 4 alarms) on one "
    "instance, with a dashboard; nothing in ALARM (the steady cost, without incidents); 10 features; data "
    "capture 60 files an hour of 10 requests each; ground truth one file an hour; drift and model quality "
    "on; the template's schedules and memory sizes; an hour between 10:00 and 11:00 UTC (the daily report "
    f"once a day). Lambda's duration: the function's own time measured here, scaled to its CPU share "
    f"({LAMBDA_FULL_CPU_MB} MB = 1 vCPU), plus {AWS_CALL_SECONDS * 1000:.0f} ms an AWS call (S3 GETs 16 at a "
    f"time). Logs: what the functions wrote here, plus {PLATFORM_LOG_BYTES} bytes of Lambda's own lines a run. "
    "DynamoDB: "
    "request units from each request's items (1 KB a write unit, 4 KB a read unit). Prices: us-east-1, "
    "no free tier."
)


@dataclass(frozen=True)
class Line:
    name: str
    quantity: float
    unit: str
    usd: float


def custom_metrics_usd(metrics: int) -> float:
    """The month's price of `metrics` custom metrics, tier by tier."""
    usd, left = 0.0, float(metrics)
    for size, price in CUSTOM_METRIC_TIERS:
        taken = min(left, size)
        usd, left = usd + taken * price, left - taken
        if left <= 0:
            break
    return usd


def _size(item: Any) -> int:
    """An item's size as DynamoDB counts it, roughly: attribute names and values as JSON."""
    return len(json.dumps(item, separators=(",", ":"), default=str).encode())


def _units(size: int, unit: int) -> int:
    return max(1, math.ceil(size / unit))


def request_units(operation: str, params: dict[str, Any], response: dict[str, Any]) -> tuple[float, float]:
    """The read and write request units of one DynamoDB request."""
    return _read_units(operation, params, response), _write_units(operation, params, response)


def _write_units(operation: str, params: dict[str, Any], response: dict[str, Any]) -> float:
    if operation == "PutItem":
        return _units(_size(params.get("Item")), 1024)
    if operation in ("UpdateItem", "DeleteItem"):  # the item's size after (UpdateItem) or before (DeleteItem)
        return _units(_size(response.get("Attributes", {})), 1024)
    if operation == "BatchWriteItem":
        requests = [r for table in params.get("RequestItems", {}).values() for r in table]
        return sum(_units(_size(r.get("PutRequest", {}).get("Item")), 1024) for r in requests)
    if operation == "TransactWriteItems":
        return 2 * sum(_units(_size(i.get("Put", {}).get("Item")), 1024) for i in params["TransactItems"])
    return 0.0


def _read_units(operation: str, params: dict[str, Any], response: dict[str, Any]) -> float:
    half = 1.0 if params.get("ConsistentRead") else 0.5
    if operation == "GetItem":
        return _units(_size(response.get("Item", {})), 4096) * half
    if operation in ("Query", "Scan"):
        return _units(sum(_size(i) for i in response.get("Items", [])), 4096) * half
    if operation == "BatchGetItem":
        items = [i for table in response.get("Responses", {}).values() for i in table]
        return sum(_units(_size(i), 4096) * half for i in items)
    if operation == "TransactGetItems":
        return 2.0 * len(params.get("TransactItems", []))
    return 0.0


def emf_metrics(line: str) -> set[tuple[str, str, str]]:
    """The custom metrics (namespace, name, dimensions) of one log line in CloudWatch's
    embedded metric format (Powertools' metrics); none for any other line."""
    try:
        record = json.loads(line)
        directives = record["_aws"]["CloudWatchMetrics"]
    except (ValueError, KeyError, TypeError):
        return set()
    found: set[tuple[str, str, str]] = set()
    for directive in directives:
        for dimension_set in directive.get("Dimensions", []) or [[]]:
            dimensions = json.dumps(sorted((name, str(record.get(name))) for name in dimension_set))
            found.update((directive["Namespace"], m["Name"], dimensions) for m in directive.get("Metrics", []))
    return found


def lambda_seconds(usage: "Usage", memory_mb: int) -> float:
    """The function's billed duration over its runs: its own time at its CPU share, and the
    round trips of its calls (S3 GETs 16 at a time, `s3_objects.READERS`; the rest one by one)."""
    own = max(0.0, usage.seconds - usage.in_aws)
    share = max(1.0, LAMBDA_FULL_CPU_MB / memory_mb)
    gets = usage.calls[("s3", "GetObject")]
    trips = sum(usage.calls.values()) - gets + math.ceil(gets / CONCURRENT_GETS)
    return own * share + trips * AWS_CALL_SECONDS


def monthly_bill(
    usage: dict[str, "Usage"], held: dict[str, int], daily: set[str], memory: dict[str, int]
) -> list[Line]:
    """The month's bill by line: the fleet's holdings, and each function's usage times the runs
    in a month (an hour's usage x 730, a daily run's x 30.4)."""

    def monthly(name: str) -> float:
        return DAYS_A_MONTH if name in daily else HOURS_A_MONTH

    def total(values: Iterable[tuple[str, float]]) -> float:
        return sum(value * monthly(name) for name, value in values)

    calls = {name: u.calls for name, u in usage.items()}
    metrics = len({m for u in usage.values() for m in u.custom_metrics})
    requested = total((n, u.metrics_requested) for n, u in usage.items())
    cloudwatch = total(
        (n, sum(c for (s, op), c in u.calls.items() if s == "cloudwatch" and op != "GetMetricData"))
        for n, u in usage.items()
    )
    invocations = total((n, u.invocations) for n, u in usage.items())
    gb_seconds = total((n, lambda_seconds(u, memory[n]) * memory[n] / 1024) for n, u in usage.items())
    reads = total((n, u.read_units) for n, u in usage.items())
    writes = total((n, u.write_units) for n, u in usage.items())
    gets = total((n, _count(calls[n], "s3", ("GetObject", "HeadObject"))) for n in usage)
    puts = total(
        (n, _count(calls[n], "s3", ("PutObject", "CopyObject", "ListObjectsV2", "ListObjects"))) for n in usage
    )
    sqs = total((n, _count(calls[n], "sqs", SQS_OPERATIONS)) for n in usage)
    logs = total((n, u.log_bytes + u.invocations * PLATFORM_LOG_BYTES) for n, u in usage.items()) / 1e9
    return [
        Line("CloudWatch alarms", held["alarms"], "alarms", held["alarms"] * ALARM_METRIC),
        Line("CloudWatch dashboards", held["dashboards"], "dashboards", held["dashboards"] * DASHBOARD),
        Line("CloudWatch custom metrics", metrics, "metrics", custom_metrics_usd(metrics)),
        Line("CloudWatch GetMetricData", requested, "metrics requested", requested * GET_METRIC_DATA),
        Line("CloudWatch other API requests", cloudwatch, "requests", cloudwatch * CLOUDWATCH_REQUEST),
        Line(
            "CloudWatch Logs (ingested; stored 90 days)",
            logs,
            "GB",
            logs * (LOGS_INGESTED + LOGS_STORED * LOG_RETENTION_MONTHS),
        ),
        Line("Lambda requests", invocations, "invocations", invocations * LAMBDA_REQUEST),
        Line("Lambda duration (Arm)", gb_seconds, "GB-s", gb_seconds * LAMBDA_GB_SECOND),
        Line("DynamoDB reads (on demand)", reads, "read units", reads * READ_UNIT),
        Line("DynamoDB writes (on demand)", writes, "write units", writes * WRITE_UNIT),
        Line("S3 GET requests", gets, "requests", gets * S3_GET),
        Line("S3 PUT and LIST requests", puts, "requests", puts * S3_PUT),
        Line("SQS requests", sqs, "requests", sqs * SQS_REQUEST),
        Line(
            "SNS publishes",
            total((n, u.publishes) for n, u in usage.items()),
            "messages",
            total((n, u.publishes) for n, u in usage.items()) * SNS_PUBLISH,
        ),
        Line(
            "EventBridge custom events",
            total((n, u.events) for n, u in usage.items()),
            "events",
            total((n, u.events) for n, u in usage.items()) * CUSTOM_EVENT,
        ),
        Line("KMS key (the stack's)", 1, "key", KMS_KEY),
    ]


def _count(calls: Counter[tuple[str, str]], service: str, operations: tuple[str, ...]) -> int:
    return sum(count for (s, op), count in calls.items() if s == service and op in operations)
