"""The endpoint metrics AWS does not publish: total latency (ms) and error rate (%).

Per variant and per endpoint, over one period aligned to the scheduled time:

* TotalLatency = (mean ModelLatency + mean OverheadLatency) / 1000; both are in
  microseconds (FACTS.md). The endpoint's means weight each variant by its sample count.
* ErrorRate = (Invocation4XXErrors + Invocation5XXErrors) / Invocations x 100; a period
  without invocations has no error rate.

Calls: one ListMetrics (paged) finds the variants that reported in the window, GetMetricData
fetches sums and sample counts 500 queries at a time, PutMetricData publishes 1,000 data
at a time. Math happens here: metric math returns nothing in moto (FACTS.md) and would
cost a query per result in AWS.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from model_medic.observability import logger

SOURCE_NAMESPACE = "AWS/SageMaker"
NAMESPACE = "Custom/SageMaker"
GET_LIMIT = 500  # metric queries per GetMetricData call
PUT_LIMIT = 1000  # metric data per PutMetricData call

# (metric, statistic) fetched per variant.
QUERIES: tuple[tuple[str, str], ...] = (
    ("ModelLatency", "Sum"),
    ("ModelLatency", "SampleCount"),
    ("OverheadLatency", "Sum"),
    ("OverheadLatency", "SampleCount"),
    ("Invocation4XXErrors", "Sum"),
    ("Invocation5XXErrors", "Sum"),
    ("Invocations", "Sum"),
)


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    @property
    def period(self) -> int:
        return int((self.end - self.start).total_seconds())


def window_for(scheduled: datetime, period: timedelta) -> Window:
    """The last whole period before the scheduled time: the same for every retry of a run."""
    seconds = int(period.total_seconds())
    end = datetime.fromtimestamp(int(scheduled.timestamp()) // seconds * seconds, tz=scheduled.tzinfo)
    return Window(end - period, end)


@dataclass
class Sums:
    """What one variant (or a whole endpoint) reported in the window."""

    model_latency_sum: float = 0.0
    model_latency_count: float = 0.0
    overhead_latency_sum: float = 0.0
    overhead_latency_count: float = 0.0
    errors_4xx: float = 0.0
    errors_5xx: float = 0.0
    invocations: float = 0.0
    seen: set[str] = field(default_factory=set)

    def add(self, metric: str, statistic: str, value: float) -> None:
        self.seen.add(metric)
        match metric, statistic:
            case "ModelLatency", "Sum":
                self.model_latency_sum += value
            case "ModelLatency", "SampleCount":
                self.model_latency_count += value
            case "OverheadLatency", "Sum":
                self.overhead_latency_sum += value
            case "OverheadLatency", "SampleCount":
                self.overhead_latency_count += value
            case "Invocation4XXErrors", _:
                self.errors_4xx += value
            case "Invocation5XXErrors", _:
                self.errors_5xx += value
            case "Invocations", _:
                self.invocations += value

    def merge(self, other: Sums) -> None:
        for name in (
            "model_latency_sum",
            "model_latency_count",
            "overhead_latency_sum",
            "overhead_latency_count",
            "errors_4xx",
            "errors_5xx",
            "invocations",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.seen |= other.seen

    def total_latency_ms(self) -> float | None:
        if self.model_latency_count <= 0 or self.overhead_latency_count <= 0:
            return None
        model = self.model_latency_sum / self.model_latency_count
        overhead = self.overhead_latency_sum / self.overhead_latency_count
        return (model + overhead) / 1000.0

    def error_rate_percent(self) -> float | None:
        if self.invocations <= 0:
            return None
        return (self.errors_4xx + self.errors_5xx) / self.invocations * 100.0


@dataclass(frozen=True)
class Datum:
    metric: str
    endpoint: str
    variant: str | None
    value: float
    unit: str

    def as_metric_datum(self, timestamp: datetime) -> dict[str, Any]:
        dimensions = [{"Name": "EndpointName", "Value": self.endpoint}]
        if self.variant is not None:
            dimensions.append({"Name": "VariantName", "Value": self.variant})
        return {
            "MetricName": self.metric,
            "Dimensions": dimensions,
            "Timestamp": timestamp,
            "Value": self.value,
            "Unit": self.unit,
        }


def derive(per_variant: dict[tuple[str, str], Sums]) -> list[Datum]:
    """Pure: TotalLatency and ErrorRate per variant and per endpoint, where there is data."""
    data: list[Datum] = []
    endpoints: dict[str, Sums] = defaultdict(Sums)
    for (endpoint, variant), sums in sorted(per_variant.items()):
        endpoints[endpoint].merge(sums)
        data += _data(endpoint, variant, sums)
    for endpoint, sums in sorted(endpoints.items()):
        data += _data(endpoint, None, sums)
    return data


def _data(endpoint: str, variant: str | None, sums: Sums) -> list[Datum]:
    found = []
    latency = sums.total_latency_ms()
    if latency is not None:
        found.append(Datum("TotalLatency", endpoint, variant, round(latency, 6), "Milliseconds"))
    rate = sums.error_rate_percent()
    if rate is not None:
        found.append(Datum("ErrorRate", endpoint, variant, round(rate, 6), "Percent"))
    return found


QueryKeys = dict[str, tuple[tuple[str, str], str, str]]  # query id -> ((endpoint, variant), metric, statistic)


def variant_queries(variants: list[tuple[str, str]], period: int) -> tuple[list[dict[str, Any]], QueryKeys]:
    """The GetMetricData queries of `QUERIES` for each (endpoint, variant), one period each."""
    queries: list[dict[str, Any]] = []
    keys: QueryKeys = {}
    for index, (endpoint, variant) in enumerate(variants):
        for position, (metric, statistic) in enumerate(QUERIES):
            query_id = f"v{index}q{position}"
            keys[query_id] = ((endpoint, variant), metric, statistic)
            queries.append(
                {
                    "Id": query_id,
                    "MetricStat": {
                        "Metric": {
                            "Namespace": SOURCE_NAMESPACE,
                            "MetricName": metric,
                            "Dimensions": [
                                {"Name": "EndpointName", "Value": endpoint},
                                {"Name": "VariantName", "Value": variant},
                            ],
                        },
                        "Period": period,
                        "Stat": statistic,
                    },
                    "ReturnData": True,
                }
            )
    return queries, keys


def add_results(sums: dict[tuple[str, str], Sums], keys: QueryKeys, results: list[dict[str, Any]]) -> None:
    """Fold GetMetricData results into the sums of their (endpoint, variant)."""
    for result in results:
        pair, metric, statistic = keys[result["Id"]]
        for value in result.get("Values", []):
            sums[pair].add(metric, statistic, float(value))


@dataclass(frozen=True)
class Run:
    """What one run did, for the log and the response."""

    window: Window
    endpoints: list[str]
    variants: int
    published: int
    without_data: list[str]


class ComputeMetrics:
    def __init__(self, cloudwatch: Any, period: timedelta) -> None:
        self._cloudwatch = cloudwatch
        self._period = period

    def run(self, endpoints: list[str], scheduled: datetime) -> Run:
        window = window_for(scheduled, self._period)
        variants = self.variants(endpoints)
        silent = sorted(set(endpoints) - {endpoint for endpoint, _ in variants})
        for endpoint in silent:
            logger.info("no SageMaker metrics for endpoint; skipped", endpoint=endpoint)
        sums = self.fetch(variants, window)
        data = derive(sums)
        self.publish(data, window.start)
        return Run(window, sorted(set(endpoints)), len(variants), len(data), silent)

    def variants(self, endpoints: list[str]) -> list[tuple[str, str]]:
        """(endpoint, variant) pairs of the wanted endpoints that report Invocations."""
        wanted = set(endpoints)
        found: set[tuple[str, str]] = set()
        kwargs: dict[str, Any] = {"Namespace": SOURCE_NAMESPACE, "MetricName": "Invocations", "RecentlyActive": "PT3H"}
        while True:
            page = self._cloudwatch.list_metrics(**kwargs)
            for metric in page.get("Metrics", []):
                dimensions = {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}
                endpoint, variant = dimensions.get("EndpointName"), dimensions.get("VariantName")
                if endpoint in wanted and variant is not None and len(dimensions) == 2:
                    found.add((endpoint, variant))  # de-duplicated: moto may list a metric more than once
            if not page.get("NextToken"):
                return sorted(found)
            kwargs["NextToken"] = page["NextToken"]

    def fetch(self, variants: list[tuple[str, str]], window: Window) -> dict[tuple[str, str], Sums]:
        queries, keys = variant_queries(variants, window.period)
        sums: dict[tuple[str, str], Sums] = {pair: Sums() for pair in variants}
        for start in range(0, len(queries), GET_LIMIT):
            batch = {
                "MetricDataQueries": queries[start : start + GET_LIMIT],
                "StartTime": window.start,
                "EndTime": window.end,
                "ScanBy": "TimestampAscending",
            }
            while True:
                page = self._cloudwatch.get_metric_data(**batch)
                add_results(sums, keys, page.get("MetricDataResults", []))
                if not page.get("NextToken"):
                    break
                batch["NextToken"] = page["NextToken"]
        return sums

    def publish(self, data: list[Datum], timestamp: datetime) -> None:
        items = [datum.as_metric_datum(timestamp) for datum in data]
        for start in range(0, len(items), PUT_LIMIT):
            self._cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=items[start : start + PUT_LIMIT])
