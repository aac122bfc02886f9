"""ComputeMetricsFunction's job: total latency (ms) and error rate (%) per endpoint and variant, put once a window."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from model_medic.platform.aws import persist
from model_medic.platform.observability import logger, metrics
from model_medic.store.measurements import Measurements, MetricWindow

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_cloudwatch.literals import StandardUnitType
    from mypy_boto3_cloudwatch.type_defs import DimensionTypeDef, MetricDataResultTypeDef, MetricDatumTypeDef

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


def window_for(scheduled: datetime, period: timedelta, lag: timedelta = timedelta(0)) -> Window:
    """The last whole period that ended at least `lag` before the scheduled time: the same
    for every retry of a run."""
    seconds = int(period.total_seconds())
    cutoff = int((scheduled - lag).timestamp())
    end = datetime.fromtimestamp(cutoff // seconds * seconds, tz=scheduled.tzinfo)
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
    unit: StandardUnitType

    def as_metric_datum(self, timestamp: datetime) -> MetricDatumTypeDef:
        dimensions: list[DimensionTypeDef] = [{"Name": "EndpointName", "Value": self.endpoint}]
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


def add_results(sums: dict[tuple[str, str], Sums], keys: QueryKeys, results: Sequence[MetricDataResultTypeDef]) -> None:
    """Fold GetMetricData results into the sums of their (endpoint, variant)."""
    for result in results:
        pair, metric, statistic = keys[result["Id"]]
        for value in result.get("Values", []):
            sums[pair].add(metric, statistic, float(value))


def add_periods(
    sums: dict[tuple[str, str], Sums],
    later: dict[tuple[str, str], set[str]],
    keys: QueryKeys,
    results: Sequence[MetricDataResultTypeDef],
    window: Window,
) -> None:
    """Fold GetMetricData results (one value per period): the window's into its sums, those
    of the periods after it into the metrics known to have moved past it."""
    for result in results:
        pair, metric, statistic = keys[result["Id"]]
        for stamp, value in zip(result.get("Timestamps", []), result.get("Values", []), strict=True):
            if stamp >= window.end:
                later[pair].add(metric)
            elif stamp >= window.start:
                sums[pair].add(metric, statistic, float(value))


def complete(sums: Sums, later: set[str]) -> bool:
    """Pure: every metric the variant reported in the window has a datapoint after it, so no
    minute of the window is still on its way. A variant idle in the window is complete."""
    return sums.seen <= later


@dataclass(frozen=True)
class Fetched:
    """One window's sums per variant, and the endpoints whose datapoints were not all in."""

    sums: dict[tuple[str, str], Sums]
    incomplete: frozenset[str]

    def of(self, endpoints: set[str]) -> dict[tuple[str, str], Sums]:
        return {pair: sums for pair, sums in self.sums.items() if pair[0] in endpoints}


@dataclass(frozen=True)
class Run:
    """What one run did, for the log and the response."""

    window: Window
    endpoints: list[str]
    variants: int
    published: int
    without_data: list[str]
    # Endpoints of this window held back: their datapoints were not all in yet.
    held_back: list[str] = field(default_factory=list)
    # Endpoints of the window before, held back then, published now by its recomputation.
    recomputed: list[str] = field(default_factory=list)


class ComputeMetrics:
    def __init__(self, cloudwatch: CloudWatchClient, ledger: Measurements, period: timedelta, lag: timedelta) -> None:
        self._cloudwatch = cloudwatch
        self._ledger = ledger
        self._period = period
        self._lag = lag

    def run(self, endpoints: list[str], scheduled: datetime) -> Run:
        window = window_for(scheduled, self._period, self._lag)
        previous = Window(window.start - self._period, window.start)
        # Datapoints are read up to the scheduled minute: those after a window show it complete.
        upto = scheduled.replace(second=0, microsecond=0)
        variants = self.variants(endpoints)
        silent = sorted(set(endpoints) - {endpoint for endpoint, _ in variants})
        for endpoint in silent:
            logger.info("no SageMaker metrics for endpoint; skipped", endpoint=endpoint)
        published, held_back = self._first(window, scheduled, upto, variants)
        recomputed, published_again = self._recompute(previous, scheduled, upto, variants)
        return Run(
            window, sorted(set(endpoints)), len(variants), published + published_again, silent, held_back, recomputed
        )

    def _first(
        self, window: Window, scheduled: datetime, upto: datetime, variants: list[tuple[str, str]]
    ) -> tuple[int, list[str]]:
        """The window's first computation: complete endpoints published, the others held back."""
        record = self._ledger.metric_window(window.start)
        if record is not None and (record.computed_at != scheduled or record.recomputed_at is not None):
            logger.info("window already computed by another run", window=window.start.isoformat())
            return 0, []
        done = record.complete if record is not None else frozenset()  # a retry: published already
        wanted = [pair for pair in variants if pair[0] not in done]
        fetched = self.fetch(wanted, window, upto)
        endpoints = {endpoint for endpoint, _ in wanted}
        ready = endpoints - fetched.incomplete
        data = derive(fetched.of(ready))
        self.publish(data, window.start)
        if fetched.incomplete:
            logger.info(
                "endpoints held back: datapoints of the window may still arrive",
                window=window.start.isoformat(),
                endpoints=sorted(fetched.incomplete),
            )
        saved = persist(
            lambda: self._ledger.save_metric_window(
                MetricWindow(
                    start=window.start,
                    end=window.end,
                    computed_at=scheduled,
                    complete=done | ready,
                    pending=frozenset(fetched.incomplete),
                    published=len(data) + (record.published if record is not None else 0),
                )
            )
        )
        if not saved:
            logger.warning("a concurrent run computed the same window", window=window.start.isoformat())
        return len(data), sorted(fetched.incomplete)

    def _recompute(
        self, window: Window, scheduled: datetime, upto: datetime, variants: list[tuple[str, str]]
    ) -> tuple[list[str], int]:
        """The held-back endpoints of the window before, once: published now, complete or not."""
        record = self._ledger.metric_window(window.start)
        if record is None or not record.pending or record.recomputed_at is not None:
            return [], 0  # nothing held back, or recomputed already (by this run too, if it is a retry)
        wanted = [pair for pair in variants if pair[0] in record.pending]
        fetched = self.fetch(wanted, window, upto)
        data = derive(fetched.sums)
        self.publish(data, window.start)
        logger.info(
            "held-back window recomputed and published",
            window=window.start.isoformat(),
            endpoints=sorted(record.pending),
            still_incomplete=sorted(fetched.incomplete),
        )
        saved = persist(
            lambda: self._ledger.save_metric_window(
                replace(
                    record,
                    recomputed_at=scheduled,
                    recomputed=record.pending,
                    still_incomplete=frozenset(fetched.incomplete),
                    published=record.published + len(data),
                )
            )
        )
        if not saved:
            logger.warning("a concurrent run recomputed the same window", window=window.start.isoformat())
        return sorted(record.pending), len(data)

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

    def fetch(self, variants: list[tuple[str, str]], window: Window, upto: datetime) -> Fetched:
        """The window's sums per variant, and which endpoints are incomplete: what arrived from
        the window's end up to `upto` (the next, partial period) shows whether all of it is in."""
        queries, keys = variant_queries(variants, window.period)
        sums: dict[tuple[str, str], Sums] = {pair: Sums() for pair in variants}
        later: dict[tuple[str, str], set[str]] = {pair: set() for pair in variants}
        for start in range(0, len(queries), GET_LIMIT):
            batch: dict[str, Any] = {
                "MetricDataQueries": queries[start : start + GET_LIMIT],
                "StartTime": window.start,
                "EndTime": max(upto, window.end),
                "ScanBy": "TimestampAscending",
            }
            while True:
                page = self._cloudwatch.get_metric_data(**batch)
                add_periods(sums, later, keys, page.get("MetricDataResults", []), window)
                if not page.get("NextToken"):
                    break
                batch["NextToken"] = page["NextToken"]
        incomplete = frozenset(pair[0] for pair in variants if not complete(sums[pair], later[pair]))
        return Fetched(sums, incomplete)

    def publish(self, data: list[Datum], timestamp: datetime) -> None:
        items = [datum.as_metric_datum(timestamp) for datum in data]
        for start in range(0, len(items), PUT_LIMIT):
            self._cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=items[start : start + PUT_LIMIT])


def publish(job: ComputeMetrics, endpoints: list[str], scheduled: datetime) -> dict[str, Any]:
    """ComputeMetricsFunction: the window's figures published for the endpoints, and what was done."""
    run = job.run(sorted(set(endpoints)), scheduled)
    logger.info(
        "metrics computed",
        published=run.published,
        variants=run.variants,
        without_data=run.without_data,
        held_back=run.held_back,
        recomputed=run.recomputed,
    )
    metrics.add_metric(name="MetricsPublished", unit="Count", value=run.published)
    result = asdict(run)
    result["window"] = {"start": run.window.start.isoformat(), "end": run.window.end.isoformat()}
    return result
