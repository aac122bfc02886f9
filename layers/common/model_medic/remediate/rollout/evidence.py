"""The judge's evidence from CloudWatch: both variants minute by minute, and the canary's alarms."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, cast

from model_medic.intake.triggers import describe_alarms
from model_medic.measure.endpoint_metrics import SOURCE_NAMESPACE, QueryKeys, Sums, add_results, variant_queries
from model_medic.remediate.rollout.judge import Minute

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_cloudwatch.type_defs import GetMetricDataInputTypeDef, MetricDataQueryTypeDef

MINUTE_DATA = timedelta(days=15) - timedelta(minutes=5)  # how far back 1-minute CloudWatch data reaches

Series = dict[str, dict[datetime, float]]  # query Id -> timestamp -> value


def minute_window(since: datetime, now: datetime) -> tuple[datetime, datetime] | None:
    """Pure: the whole minutes from the first after `since` (when the step's weights were in
    service) to the last before `now`, or None when there is none. CloudWatch keeps 1-minute
    data for 15 days and takes a 60 s period only for a start time within them (older starts
    need multiples of 300 s): a longer step reads its last 15 days."""
    start = datetime.fromtimestamp(math.ceil(max(since, now - MINUTE_DATA).timestamp() / 60) * 60, tz=UTC)
    end = datetime.fromtimestamp(math.floor(now.timestamp() / 60) * 60, tz=UTC)
    return None if end <= start else (start, end)


def minute_queries(endpoint: str, variants: tuple[str, str]) -> tuple[list[MetricDataQueryTypeDef], QueryKeys]:
    """Pure: the GetMetricData queries of both variants' per-minute counts, latencies and p99
    ModelLatency (ids `p99v0`, `p99v1`, in the order of `variants`), and the keys that fold the
    counts back into `Sums` (`endpoint_metrics.add_results`)."""
    built, keys = variant_queries([(endpoint, v) for v in variants], 60)
    queries = cast("list[MetricDataQueryTypeDef]", built)  # `variant_queries` builds them as plain dicts
    for index, variant in enumerate(variants):
        queries.append(
            {
                "Id": f"p99v{index}",
                "MetricStat": {
                    "Metric": {
                        "Namespace": SOURCE_NAMESPACE,
                        "MetricName": "ModelLatency",
                        "Dimensions": [
                            {"Name": "EndpointName", "Value": endpoint},
                            {"Name": "VariantName", "Value": variant},
                        ],
                    },
                    "Period": 60,
                    "Stat": "p99",
                },
            }
        )
    return queries, keys


def read_series(
    cloudwatch: CloudWatchClient, queries: list[MetricDataQueryTypeDef], start: datetime, end: datetime
) -> Series:
    """Every datapoint of the queries between start and end, all pages of GetMetricData."""
    series: Series = {}
    request: GetMetricDataInputTypeDef = {"MetricDataQueries": queries, "StartTime": start, "EndTime": end}
    while True:
        page = cloudwatch.get_metric_data(**request)
        for found in page.get("MetricDataResults", []):
            values = series.setdefault(str(found["Id"]), {})
            for stamp, value in zip(found.get("Timestamps", []), found.get("Values", []), strict=False):
                values[stamp.astimezone(UTC)] = float(value)
        token = page.get("NextToken")
        if not token:
            return series
        request["NextToken"] = token


def as_minutes(series: Series, keys: QueryKeys, endpoint: str, variants: tuple[str, str]) -> list[Minute]:
    """Pure: the series as one `Minute` per timestamp, canary (`variants[0]`) against primary."""
    pairs = [(endpoint, v) for v in variants]
    minutes = []
    for stamp in sorted({t for values in series.values() for t in values}):
        sums = {pair: Sums() for pair in pairs}
        add_results(
            sums, keys, [{"Id": i, "Values": [v[stamp]]} for i, v in series.items() if i in keys and stamp in v]
        )
        canary, primary = sums[pairs[0]], sums[pairs[1]]
        p99 = [series.get(f"p99v{i}", {}).get(stamp) for i in range(2)]
        minutes.append(
            Minute(
                canary.invocations,
                canary.errors_4xx + canary.errors_5xx,
                primary.invocations,
                primary.errors_4xx + primary.errors_5xx,
                canary.total_latency_ms(),
                primary.total_latency_ms(),
                None if p99[0] is None else p99[0] / 1000.0,  # ModelLatency is in microseconds
                None if p99[1] is None else p99[1] / 1000.0,
            )
        )
    return minutes


def minutes(
    cloudwatch: CloudWatchClient, endpoint: str, variants: tuple[str, str], since: datetime, now: datetime
) -> list[Minute]:
    """Both variants (canary, primary) minute by minute since the step began: request and error
    counts, average latency and p99 ModelLatency (absent when CloudWatch serves no percentile
    for it), in GetMetricData calls of up to 500 queries, paged."""
    window = minute_window(since, now)
    if window is None:
        return []
    queries, keys = minute_queries(endpoint, variants)
    return as_minutes(read_series(cloudwatch, queries, *window), keys, endpoint, variants)


def alarms_in_alarm(cloudwatch: CloudWatchClient, endpoint: str, canary: str) -> tuple[str, ...]:
    """The canary's alarms (the stack's `<endpoint>-<canary>-ErrorRate` and `-Latency`) now in
    ALARM: the judge holds a promotion while one is, and rolls back only on its own tests
    (`judge.judge`)."""
    names = [f"{endpoint}-{canary}-ErrorRate", f"{endpoint}-{canary}-Latency"]
    found = describe_alarms(cloudwatch, names)
    return tuple(sorted(name for name, a in found.items() if a["StateValue"] == "ALARM"))
