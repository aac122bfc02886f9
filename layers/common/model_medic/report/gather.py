"""Reading an endpoint's day: hourly metrics from CloudWatch, variants from SageMaker, decisions and incidents."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from model_medic.measure.endpoint_metrics import GET_LIMIT, Sums, variant_queries
from model_medic.report.grading import EndpointReport, Hour, grade, grade_reasons, recommendations
from model_medic.report.incident_view import (
    action_table,
    episode_rows,
    incident_row,
    incidents_during,
    newest_rollout,
    rollout_table,
)
from model_medic.store.episodes import Episode, Episodes
from model_medic.store.incidents import Incidents
from model_medic.store.journal import Journal

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_cloudwatch.type_defs import MetricDataResultTypeDef
    from mypy_boto3_sagemaker import SageMakerClient

Hourly = dict[tuple[str, str], dict[str, Sums]]  # (endpoint, variant) -> hour -> sums


class DayReader:
    """The reports of a day before `end`, one per endpoint, from what AWS and the ledger hold."""

    def __init__(
        self,
        cloudwatch: CloudWatchClient,
        sagemaker: SageMakerClient,
        ledger: Journal,
        incidents: Incidents,
        episodes: Episodes | None = None,
    ) -> None:
        self._cloudwatch = cloudwatch
        self._sagemaker = sagemaker
        self._ledger = ledger
        self._incidents = incidents
        self._episodes = episodes

    def build(self, endpoints: list[str], end: datetime) -> list[EndpointReport]:
        end = end.replace(minute=0, second=0, microsecond=0)
        start = end - timedelta(hours=24)
        states = {endpoint: self._endpoint_state(endpoint) for endpoint in endpoints}
        pairs = [(e, v) for e in endpoints for v in states[e]["variants"]]
        hourly, max_latency = self._metrics(pairs, endpoints, start, end)
        episodes = self._episodes_since(start)
        reports = []
        for endpoint in endpoints:
            report = self._report(endpoint, start, end, hourly, max_latency.get(endpoint, {}), states[endpoint])
            report.episodes = episode_rows(episodes.get(endpoint, []), start, end)
            reports.append(report)
        return reports

    def _episodes_since(self, start: datetime) -> dict[str, list[Episode]]:
        """The paging episodes open now or ended since `start`, by endpoint: two Queries for the fleet."""
        found: dict[str, list[Episode]] = defaultdict(list)
        if self._episodes is not None:
            for episode in self._episodes.open() + self._episodes.ended(start):
                found[episode.endpoint].append(episode)
        return found

    def _endpoint_state(self, endpoint: str) -> dict[str, Any]:
        """Status and each variant's weight and instance count: one DescribeEndpoint, as
        nothing batched gives them (ListEndpoints' EndpointSummary has name, ARN, times and
        status only; GetResources has tags only; SageMaker API Reference)."""
        try:
            described = self._sagemaker.describe_endpoint(EndpointName=endpoint)
        except ClientError as error:
            if "Could not find" not in str(error):
                raise
            return {"variants": {}, "status": "missing"}
        return {
            "status": described["EndpointStatus"],
            "variants": {
                v["VariantName"]: {"weight": v.get("CurrentWeight"), "instances": v.get("CurrentInstanceCount")}
                for v in described.get("ProductionVariants", [])
            },
        }

    def _metrics(
        self, pairs: list[tuple[str, str]], endpoints: list[str], start: datetime, end: datetime
    ) -> tuple[Hourly, dict[str, dict[str, float]]]:
        """Hourly sums per variant and the hourly maximum TotalLatency per endpoint, in as few
        GetMetricData calls as 500 queries each allow."""
        queries, keys = variant_queries(pairs, 3600)
        queries += [_max_latency_query(index, endpoint) for index, endpoint in enumerate(endpoints)]
        hourly: Hourly = defaultdict(lambda: defaultdict(Sums))
        maxima: dict[str, dict[str, float]] = defaultdict(dict)
        for result in self._results(queries, start, end):
            stamps = [_hour_key(t) for t in result.get("Timestamps", [])]
            if result["Id"].startswith("max"):
                endpoint = endpoints[int(result["Id"][3:])]
                for stamp, value in zip(stamps, result.get("Values", []), strict=True):
                    maxima[endpoint][stamp] = float(value)
                continue
            pair, metric, statistic = keys[result["Id"]]
            for stamp, value in zip(stamps, result.get("Values", []), strict=True):
                hourly[pair][stamp].add(metric, statistic, float(value))
        return hourly, maxima

    def _results(
        self, queries: list[dict[str, Any]], start: datetime, end: datetime
    ) -> Iterator[MetricDataResultTypeDef]:
        """Every MetricDataResult of the queries, 500 queries a request, page by page."""
        for first in range(0, len(queries), GET_LIMIT):
            request: dict[str, Any] = {
                "MetricDataQueries": queries[first : first + GET_LIMIT],
                "StartTime": start,
                "EndTime": end,
            }
            while True:
                page = self._cloudwatch.get_metric_data(**request)
                yield from page.get("MetricDataResults", [])
                if not page.get("NextToken"):
                    break
                request["NextToken"] = page["NextToken"]

    def _report(
        self,
        endpoint: str,
        start: datetime,
        end: datetime,
        hourly: Hourly,
        maxima: dict[str, float],
        state: dict[str, Any],
    ) -> EndpointReport:
        decisions = [decision.as_dict() for decision in self._ledger.decisions(endpoint, start, end)]
        incidents = self._incidents.of(endpoint)
        counts_by_hour = _instance_history(state["variants"], decisions, start)
        hours, day_total = _hours(endpoint, start, hourly, maxima, list(state["variants"]), counts_by_hour)
        maxima_seen = [h.max_latency_ms for h in hours if h.max_latency_ms is not None]
        report = EndpointReport(
            endpoint=endpoint,
            day=(end - timedelta(seconds=1)).strftime("%Y-%m-%d"),
            start=start.isoformat(),
            end=end.isoformat(),
            hours=hours,
            invocations=day_total.invocations,
            errors_4xx=day_total.errors_4xx,
            errors_5xx=day_total.errors_5xx,
            error_rate=_round(day_total.error_rate_percent()),
            avg_latency_ms=_round(day_total.total_latency_ms()),
            max_latency_ms=max(maxima_seen) if maxima_seen else None,
            grade="",
            recommendations=[],
            decisions=decisions,
            canary={"shares": _shares(state), "rollout": newest_rollout(incidents)},
        )
        report.incidents = [incident_row(i, start, end) for i in incidents_during(incidents, start, end)]
        report.actions = action_table(report.incidents)
        report.rollouts = rollout_table(report.incidents)
        report.graded = [why for _, why in grade_reasons(report)]
        report.grade = grade(report)
        report.recommendations = recommendations(report)
        return report


def _max_latency_query(index: int, endpoint: str) -> dict[str, Any]:
    """The hourly maximum of the endpoint's TotalLatency (Id `max<index>`): ComputeMetrics publishes
    one average per 5-minute window, so this is the hour's largest 5-minute average, not its
    slowest request."""
    return {
        "Id": f"max{index}",
        "MetricStat": {
            "Metric": {
                "Namespace": "Custom/SageMaker",
                "MetricName": "TotalLatency",
                "Dimensions": [{"Name": "EndpointName", "Value": endpoint}],
            },
            "Period": 3600,
            "Stat": "Maximum",
        },
    }


def _hours(
    endpoint: str,
    start: datetime,
    hourly: Hourly,
    maxima: dict[str, float],
    variants: list[str],
    counts_by_hour: list[dict[str, int | None]],
) -> tuple[list[Hour], Sums]:
    """The 24 hours of the endpoint (its variants' sums together), and the day's sums."""
    hours, day_total = [], Sums()
    for offset in range(24):
        stamp = _hour_key(start + timedelta(hours=offset))
        sums = Sums()
        for variant in variants:
            sums.merge(hourly.get((endpoint, variant), {}).get(stamp, Sums()))
        day_total.merge(sums)
        latency = sums.total_latency_ms()
        hours.append(
            Hour(
                start=stamp,
                invocations=sums.invocations,
                errors_4xx=sums.errors_4xx,
                errors_5xx=sums.errors_5xx,
                error_rate=_round(sums.error_rate_percent()),
                avg_latency_ms=_round(latency),
                # The hour's largest 5-minute TotalLatency average (`pages.MAX_LATENCY_LABEL`), or
                # none: never the hour's average in its place.
                max_latency_ms=_round(maxima.get(stamp)),
                instances=counts_by_hour[offset],
            )
        )
    return hours, day_total


def _shares(state: dict[str, Any]) -> dict[str, float]:
    """Each variant's share of the traffic now, from its current weight (in %)."""
    weights = {name: float(v["weight"] or 0) for name, v in state["variants"].items()}
    total = sum(weights.values())
    return {name: round(w / total * 100, 1) if total else 0.0 for name, w in weights.items()}


def _hour_key(moment: datetime) -> str:
    return moment.astimezone(moment.tzinfo).strftime("%Y-%m-%dT%H:00")


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _instance_history(
    variants: dict[str, dict[str, Any]], decisions: list[dict[str, Any]], start: datetime
) -> list[dict[str, int | None]]:
    """Instance counts per variant for each hour, walking back from now through the ledger's
    acted instance-count changes (a change applies from the hour it was made)."""
    current = {name: v.get("instances") for name, v in variants.items()}
    changes = []
    for decision in decisions:
        if decision["result"] != "acted":
            continue
        for step in decision.get("changes", {}).get("steps", []):
            if step.get("lever") == "instance-count" and step.get("variant") in current:
                changes.append((decision["at"], step["variant"], int(step["before"])))
    history: list[dict[str, int | None]] = []
    counts = dict(current)
    for offset in reversed(range(24)):
        hour_start = start + timedelta(hours=offset)
        hour_end = hour_start + timedelta(hours=1)
        history.append(dict(counts))
        for at, variant, before in sorted(changes, reverse=True):
            if hour_start.isoformat() <= at < hour_end.isoformat():
                counts[variant] = before
    history.reverse()
    return history
