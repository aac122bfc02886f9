"""The daily report: 24 hours of an endpoint, the page an on-call engineer opens each morning.

Per endpoint: hourly invocations, errors (4XX, 5XX), error rate, average and maximum total
latency, instance counts per variant (reconstructed from the ledger's scale decisions, back
from the counts now), every decision in the ledger, the variants' shares and the newest canary
rollout (`rollout_view`: its package, share and how it ended), a grade and recommendations,
and the incidents of the control loop (docs/architecture.md, "The control loop") that were
open at any time in the 24 hours: each as a timeline (detected, each action, InService,
recovered or escalated) with its time to recover, and a per-action table of how often each
kind of action fixed its alarm (`incident_row`, `action_table`: pure, unit-tested). Output: a
self-contained HTML page (inline CSS and SVG, autoescaped) and a JSON twin with the same
numbers; an index of the day (with the fleet's per-action table); a summary to the info topic.

A fleet: every endpoint in scope (the handler finds them with `Scope.endpoints`, batched).
The index lists them worst first (`worst_first`) and filters by grade and name in the page
(one inline script, the only one the page's Content-Security-Policy lets run); the summary
names the worst `SUMMARY_WORST` with their links and counts the rest by grade, so that it
stays far below SNS's message limit however large the fleet.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from statistics import median
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from jinja2 import Environment, select_autoescape

from model_medic.measure.endpoint_metrics import GET_LIMIT, Sums, variant_queries
from model_medic.platform.observability import logger
from model_medic.remediate.units import package_label
from model_medic.report.charts import Lane, Strip, incident_strip, line_chart
from model_medic.store.incidents import Incident, Incidents
from model_medic.store.ledger import Ledger

if TYPE_CHECKING:
    from model_medic.tell.outcome import Notifier

# The rollout unit's vocabulary as the ledger records it (rollout.py: `Rollout.unit.name`,
# `RollBackCanary.kind`; a unit test checks they agree). The report reads records and does
# not import the rollout's machinery, which its cold start would pay for (`make bench`).
ROLLOUT = "rollout"
ROLLED_BACK_CANARY = "roll-back-canary"

# A presigned link lives no longer than the credentials that signed it: the function's are
# temporary (docs/aws-behaviours.md, "S3, SNS, KMS and IAM details"), whatever ExpiresIn says.
# So the link asks for one hour, the message says "at most an hour", and every report is also
# given by its S3 location, which does not expire (opened with the reader's own AWS access).
PRESIGNED_SECONDS = 3600

# The summary names this many endpoints, worst first, each with its links (~1.5 KB with a
# presigned URL signed by temporary credentials); the others are counted by grade and listed
# in the index. Whatever the names and URLs, it stops adding endpoints at SUMMARY_MAX_BYTES:
# SNS refuses a message over 262,144 bytes of UTF-8 (message and attributes together; the
# Publish API's Message constraints; topics keep the default MaximumMessageSize, "Publishing
# large messages", Amazon SNS Developer Guide).
SUMMARY_WORST = 20
SNS_MESSAGE_MAX_BYTES = 262_144
SUMMARY_MAX_BYTES = 64 * 1024

# Grades from worst to best: the index's and the summary's order.
GRADES = ("C", "B", "A")


@dataclass
class Hour:
    start: str
    invocations: float = 0.0
    errors_4xx: float = 0.0
    errors_5xx: float = 0.0
    error_rate: float | None = None
    avg_latency_ms: float | None = None
    max_latency_ms: float | None = None
    instances: dict[str, int | None] = field(default_factory=dict)


@dataclass(frozen=True)
class TimelineRow:
    """One timeline entry as the report shows it: `at` is HH:MM UTC, `time` the full ISO time;
    `outside` when it happened outside the report's 24 hours (the page then shows its date)."""

    at: str
    time: str
    what: str
    detail: str
    outside: bool


@dataclass(frozen=True)
class IncidentRow:
    """An incident as the report shows it. `outcome`: recovered, escalated (a person was told
    it did not help, or a change did not take), closed (the alarm cleared with nothing done)
    or open; `acted`: the action took at least one step for it (as the loop counts them)."""

    id: str
    action: str
    alarm_name: str
    state: str
    outcome: str
    acted: bool
    steps: int
    opened_at: str
    closed_at: str | None
    time_to_recover_seconds: float | None
    time_to_recover: str
    timeline: list[TimelineRow]


@dataclass(frozen=True)
class ActionRow:
    """How often one kind of action fixed its alarm: fix rate = recovered / incidents that acted."""

    action: str
    incidents: int
    acted: int
    recovered: int
    escalated: int
    fix_rate: float | None
    median_time_to_recover_seconds: float | None
    median_time_to_recover: str


@dataclass(frozen=True)
class RolloutView:
    """The endpoint's newest canary rollout (an incident of the rollout unit) as the report
    shows it. `package`: the model package's short label (None for an operator's canary,
    which names no package); `share`: the canary's share of the traffic as the rollout last
    set it, since `share_since` (None before anything was deployed); `ended`: under way,
    complete, rolled back, not deployed, escalated (a person was told it stopped) or closed;
    `ended_at`: when (None while under way); `verdict`: the judge's last verdict (decision,
    when, and per metric the figures, estimate and evidence: canary.MetricVerdict), if any."""

    id: str
    package: str | None
    canary_config: str | None
    started_at: str
    share: float | None
    share_since: str | None
    ended: str
    ended_at: str | None
    verdict: dict[str, Any] | None = None


def rollout_view(incident: Incident) -> RolloutView:
    """Pure: a rollout incident as the report shows it, from the facts the rollout's changes
    settle (`rollout.py`: `DeployCanary` and `ShiftTraffic` set share and share_since, a
    rollback sets the share to 0) and the incident's state and timeline."""
    facts = incident.facts or {}
    package = facts.get("package")
    share = facts.get("share")
    since = facts.get("share_since")
    deployed = "canary_config" in facts
    if incident.closed_at is None:
        stopped = [e for e in incident.timeline if e["what"] in ("failed", "escalated")]
        if incident.state == "escalated" and stopped:
            ended, ended_at = "escalated", stopped[-1]["at"]
        else:
            ended, ended_at = "under way", None
    else:
        ended_at = incident.closed_at
        if incident.state == "recovered":
            ended = "complete"
        elif not deployed:
            ended = "not deployed"
        elif share is not None and float(share) == 0:
            ended = "rolled back"
        elif incident.state == "escalated":
            ended = "escalated"
        else:
            ended = "closed"
    return RolloutView(
        id=incident.id,
        package=package_label(str(package)) if package else None,
        canary_config=str(facts["canary_config"]) if deployed else None,
        started_at=_utc(incident.opened_at).isoformat(),
        share=float(share) if share is not None else None,
        share_since=_utc(str(since)).isoformat() if since else None,
        ended=ended,
        ended_at=_utc(ended_at).isoformat() if ended_at else None,
        verdict=facts.get("verdict") if isinstance(facts.get("verdict"), dict) else None,
    )


def newest_rollout(incidents: list[Incident]) -> RolloutView | None:
    """Pure: the newest (last opened) rollout among an endpoint's incidents, or None."""
    rollouts = [i for i in incidents if i.action == ROLLOUT]
    return rollout_view(max(rollouts, key=lambda i: _utc(i.opened_at))) if rollouts else None


def _utc(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).astimezone(UTC)


def open_during(incident: Incident, start: datetime, end: datetime) -> bool:
    """Whether the incident was open at any time in [start, end): opened before the end and
    not closed before the start."""
    if _utc(incident.opened_at) >= end:
        return False
    return incident.closed_at is None or _utc(incident.closed_at) >= start


def incidents_during(incidents: list[Incident], start: datetime, end: datetime) -> list[Incident]:
    """The incidents open at any time in [start, end).

    From all of the endpoint's incidents (one paginated Query), not `of(since=start -
    lookback)`: that filters on the opened time, and an incident stays open as long as its
    alarm stays in ALARM (escalated, for weeks if nobody acts), so no lookback is long
    enough. Reading all of them costs little: closed ones expire after the ledger's
    retention, so the Query reads at most that many days of incidents plus the ones still
    open. The same read gives the report the newest rollout (`newest_rollout`).
    """
    return [i for i in incidents if open_during(i, start, end)]


def outcome_of(incident: Incident) -> str:
    """recovered, escalated, closed or open - from the timeline as well as the state, because
    an escalated incident is `closed` once its alarm returns to OK."""
    seen = {entry["what"] for entry in incident.timeline}
    if incident.state == "recovered" or "recovered" in seen or incident.recovered_seconds is not None:
        return "recovered"
    if incident.state == "escalated" or seen & {"escalated", "failed"}:
        return "escalated"
    if incident.closed_at is not None or incident.state == "closed":
        return "closed"
    return "open"


def duration(seconds: float | None) -> str:
    """As "42 s", "12 min" or "2 h 05 min"; an em dash when there is none."""
    if seconds is None:
        return "\u2014"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def timeline_rows(incident: Incident, start: datetime, end: datetime) -> list[TimelineRow]:
    """The incident's timeline, oldest first, with times as HH:MM UTC."""
    rows = []
    for entry in sorted(incident.timeline, key=lambda e: _utc(e["at"])):
        moment = _utc(entry["at"])
        rows.append(
            TimelineRow(
                at=moment.strftime("%H:%M"),
                time=moment.isoformat(),
                what=str(entry["what"]),
                detail=str(entry.get("detail", "")),
                outside=not start <= moment < end,
            )
        )
    return rows


def incident_row(incident: Incident, start: datetime, end: datetime) -> IncidentRow:
    acted = incident.steps > 0 or any(entry["what"] == "action" for entry in incident.timeline)
    outcome = outcome_of(incident)
    seconds = incident.recovered_seconds if outcome == "recovered" else None
    return IncidentRow(
        id=incident.id,
        action=incident.action,
        alarm_name=incident.alarm_name,
        state=incident.state,
        outcome=outcome,
        acted=acted,
        steps=incident.steps,
        opened_at=_utc(incident.opened_at).isoformat(),
        closed_at=None if incident.closed_at is None else _utc(incident.closed_at).isoformat(),
        time_to_recover_seconds=seconds,
        time_to_recover=duration(seconds),
        timeline=timeline_rows(incident, start, end),
    )


def action_table(rows: list[IncidentRow]) -> list[ActionRow]:
    """Per kind of action: incidents, how many acted, recovered, escalated, the fix rate
    (recovered among those that acted, in %; None when none acted) and the median time to
    recover of the recovered ones."""
    table = []
    for action in sorted({row.action for row in rows}):
        mine = [row for row in rows if row.action == action]
        acted = [row for row in mine if row.acted]
        times = [row.time_to_recover_seconds for row in mine if row.time_to_recover_seconds is not None]
        middle = median(times) if times else None
        table.append(
            ActionRow(
                action=action,
                incidents=len(mine),
                acted=len(acted),
                recovered=sum(row.outcome == "recovered" for row in mine),
                escalated=sum(row.outcome == "escalated" for row in mine),
                fix_rate=round(100 * sum(row.outcome == "recovered" for row in acted) / len(acted), 1)
                if acted
                else None,
                median_time_to_recover_seconds=middle,
                median_time_to_recover=duration(middle),
            )
        )
    return table


def incident_lanes(rows: list[IncidentRow], start: datetime, end: datetime) -> list[Lane]:
    """The incidents as lanes of the incident strip (fractions of the window)."""
    span = (end - start).total_seconds()

    def fraction(moment: str) -> float:
        return (_utc(moment) - start).total_seconds() / span

    lanes = []
    for row in rows:
        lanes.append(
            Lane(
                label=f"{row.action} \u00b7 {row.alarm_name}",
                begin=fraction(row.opened_at),
                end=1.0 if row.closed_at is None else fraction(row.closed_at),
                outcome=row.outcome,
                marks=tuple(
                    (fraction(t.time), t.what, f"{t.at} {t.what}: {t.detail}") for t in row.timeline if not t.outside
                ),
            )
        )
    return lanes


@dataclass
class EndpointReport:
    endpoint: str
    day: str
    start: str
    end: str
    hours: list[Hour]
    invocations: float
    errors_4xx: float
    errors_5xx: float
    error_rate: float | None
    avg_latency_ms: float | None
    max_latency_ms: float | None
    grade: str
    recommendations: list[str]
    decisions: list[dict[str, Any]]
    canary: dict[str, Any]
    incidents: list[IncidentRow] = field(default_factory=list)
    actions: list[ActionRow] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def grade(error_rate: float | None, avg_latency_ms: float | None) -> str:
    """A; B when the error rate is above 1%; C above 5% or above 1000 ms on average."""
    if (error_rate or 0) > 5 or (avg_latency_ms or 0) > 1000:
        return "C"
    if (error_rate or 0) > 1:
        return "B"
    return "A"


def recommendations(report: EndpointReport) -> list[str]:
    found = []
    if (report.error_rate or 0) > 5:
        found.append("Error rate above 5%: look at the 5XX errors and the model container's logs first.")
    elif (report.error_rate or 0) > 1:
        found.append("Error rate above 1%: check client requests (4XX) and recent deployments.")
    if (report.avg_latency_ms or 0) > 1000:
        found.append("Average latency above 1 s: add capacity or a faster instance type.")
    acted = [d for d in report.decisions if d["result"] == "acted"]
    scale_ups = [d for d in acted if d["action"] == "scale-up"]
    if len(scale_ups) >= 3:
        found.append(
            f"{len(scale_ups)} scale-ups in a day: raise the floor (the scalable target's MinCapacity or the "
            "instance count) so that the endpoint stops running at its limit."
        )
    if any(d["action"] == "rollback" or _rolled_back_canary(d) for d in acted):
        found.append("A model was rolled back: review it before the pipeline deploys it again.")
    dry = [d for d in report.decisions if d["result"] == "dry-run"]
    if dry:
        found.append(f"{len(dry)} action(s) were only recorded (dry-run): switch to enforce when you trust them.")
    if any(d["result"] in ("bound-reached", "failed") for d in report.decisions):
        found.append("An action stopped at a bound or failed: see the timeline.")
    # A rollout that ends rolled back or not deployed closes escalated (a person is told), but
    # nothing failed to fix an alarm: those are the rolled-back line above, or the candidate's own.
    escalated = [i for i in report.incidents if i.outcome == "escalated" and i.action != ROLLOUT]
    rollout = report.canary.get("rollout")
    if isinstance(rollout, RolloutView) and rollout.ended == "escalated":
        found.append("A canary rollout stopped and needs a person: see its timeline for why.")
    if escalated:
        kinds = ", ".join(sorted({i.action for i in escalated}))
        found.append(
            f"{len(escalated)} incident(s) escalated ({kinds}): the action did not fix the alarm; "
            "see the incidents' timelines for what was tried."
        )
    if report.invocations == 0:
        found.append("No traffic in 24 hours: is the endpoint still needed?")
    return found or ["Nothing to do."]


def _rolled_back_canary(decision: dict[str, Any]) -> bool:
    """A rollout's step that set a canary's weight to 0 (as the control loop records a step:
    `changes.changes` is the list of the step's changes, each with its `kind`)."""
    if decision["action"] != ROLLOUT:
        return False
    changes = decision.get("changes", {})
    steps = changes.get("changes", []) if isinstance(changes, dict) else []
    return any(isinstance(c, dict) and c.get("kind") == ROLLED_BACK_CANARY for c in steps)


class DailyReport:
    def __init__(
        self, cloudwatch: Any, sagemaker: Any, s3: Any, ledger: Ledger, bucket: str, *, incidents: Incidents
    ) -> None:
        self._cloudwatch = cloudwatch
        self._sagemaker = sagemaker
        self._s3 = s3
        self._ledger = ledger
        self._incidents = incidents
        self._bucket = bucket
        environment = Environment(autoescape=select_autoescape(default=True), trim_blocks=True, lstrip_blocks=True)
        # The index's fleet-wide table: every endpoint's incidents through `action_table`.
        environment.filters["fleet_actions"] = lambda reports: action_table([i for r in reports for i in r.incidents])
        folder = resources.files("model_medic.report") / "templates"
        self._page = environment.from_string((folder / "report.html.j2").read_text())
        self._index = environment.from_string((folder / "index.html.j2").read_text())
        # The index's filter: our own static script, inlined and allowed by its hash alone
        # (the page's Content-Security-Policy: no other script, inline or fetched, runs).
        self._filter = (folder / "index_filter.js").read_text()
        self._filter_hash = "sha256-" + base64.b64encode(hashlib.sha256(self._filter.encode()).digest()).decode()

    # --- gathering ----------------------------------------------------------------------------

    def build(self, endpoints: list[str], end: datetime) -> list[EndpointReport]:
        end = end.replace(minute=0, second=0, microsecond=0)
        start = end - timedelta(hours=24)
        states = {endpoint: self._endpoint_state(endpoint) for endpoint in endpoints}
        pairs = [(e, v) for e in endpoints for v in states[e]["variants"]]
        hourly, max_latency = self._metrics(pairs, endpoints, start, end)
        return [
            self._report(endpoint, start, end, hourly, max_latency.get(endpoint, {}), states[endpoint])
            for endpoint in endpoints
        ]

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
    ) -> tuple[dict[tuple[str, str], dict[str, Sums]], dict[str, dict[str, float]]]:
        """Hourly sums per variant and the hourly maximum TotalLatency per endpoint, in as few
        GetMetricData calls as 500 queries each allow."""
        queries, keys = variant_queries(pairs, 3600)
        for index, endpoint in enumerate(endpoints):
            queries.append(
                {
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
            )
        hourly: dict[tuple[str, str], dict[str, Sums]] = defaultdict(lambda: defaultdict(Sums))
        maxima: dict[str, dict[str, float]] = defaultdict(dict)
        for first in range(0, len(queries), GET_LIMIT):
            request: dict[str, Any] = {
                "MetricDataQueries": queries[first : first + GET_LIMIT],
                "StartTime": start,
                "EndTime": end,
            }
            while True:
                page = self._cloudwatch.get_metric_data(**request)
                for result in page.get("MetricDataResults", []):
                    stamps = [_hour_key(t) for t in result.get("Timestamps", [])]
                    if result["Id"].startswith("max"):
                        endpoint = endpoints[int(result["Id"][3:])]
                        for stamp, value in zip(stamps, result.get("Values", []), strict=True):
                            maxima[endpoint][stamp] = float(value)
                        continue
                    pair, metric, statistic = keys[result["Id"]]
                    for stamp, value in zip(stamps, result.get("Values", []), strict=True):
                        hourly[pair][stamp].add(metric, statistic, float(value))
                if not page.get("NextToken"):
                    break
                request["NextToken"] = page["NextToken"]
        return hourly, maxima

    def _report(
        self,
        endpoint: str,
        start: datetime,
        end: datetime,
        hourly: dict[tuple[str, str], dict[str, Sums]],
        maxima: dict[str, float],
        state: dict[str, Any],
    ) -> EndpointReport:
        decisions = self._ledger.decisions(endpoint, start, end)
        incidents = self._incidents.of(endpoint)
        counts_by_hour = _instance_history(state["variants"], decisions, start)
        hours, day_total = [], Sums()
        for offset in range(24):
            stamp = _hour_key(start + timedelta(hours=offset))
            sums = Sums()
            for variant in state["variants"]:
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
                    max_latency_ms=_round(maxima.get(stamp, latency) if latency is not None else maxima.get(stamp)),
                    instances=counts_by_hour[offset],
                )
            )
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
            canary={"shares": self._shares(state), "rollout": newest_rollout(incidents)},
        )
        report.incidents = [incident_row(i, start, end) for i in incidents_during(incidents, start, end)]
        report.actions = action_table(report.incidents)
        report.grade = grade(report.error_rate, report.avg_latency_ms)
        report.recommendations = recommendations(report)
        return report

    @staticmethod
    def _shares(state: dict[str, Any]) -> dict[str, float]:
        """Each variant's share of the traffic now, from its current weight (in %)."""
        weights = {name: float(v["weight"] or 0) for name, v in state["variants"].items()}
        total = sum(weights.values())
        return {name: round(w / total * 100, 1) if total else 0.0 for name, w in weights.items()}

    # --- writing ---------------------------------------------------------------------------

    def render(self, report: EndpointReport) -> str:
        labels = [h.start[11:16] for h in report.hours]
        variants = sorted({name for h in report.hours for name in h.instances})
        charts = [
            line_chart("Invocations", labels, {"invocations": [h.invocations for h in report.hours]}, "per hour"),
            line_chart(
                "Errors",
                labels,
                {"4XX": [h.errors_4xx for h in report.hours], "5XX": [h.errors_5xx for h in report.hours]},
                "per hour",
            ),
            line_chart("Error rate", labels, {"error rate": [h.error_rate for h in report.hours]}, "%"),
            line_chart(
                "Total latency",
                labels,
                {
                    "average": [h.avg_latency_ms for h in report.hours],
                    "maximum": [h.max_latency_ms for h in report.hours],
                },
                "ms",
            ),
            line_chart(
                "Instances",
                labels,
                {v: [_float(h.instances.get(v)) for h in report.hours] for v in variants},
                "per variant",
            ),
        ]
        start, end = _utc(report.start), _utc(report.end)
        strip: Strip | None = (
            incident_strip(labels, incident_lanes(report.incidents, start, end)) if report.incidents else None
        )
        return self._page.render(report=report, charts=charts, strip=strip)

    def publish(self, reports: list[EndpointReport], day: str) -> list[dict[str, str]]:
        written = []
        for report in reports:
            base = f"reports/{report.endpoint}/{report.day}"
            self._put(f"{base}.html", self.render(report), "text/html; charset=utf-8")
            self._put(f"{base}.json", json.dumps(report.as_dict(), indent=2, default=str), "application/json")
            written.append(
                {
                    "endpoint": report.endpoint,
                    "html": f"{base}.html",
                    "json": f"{base}.json",
                    **self._links(f"{base}.html"),
                }
            )
        index_key = f"reports/index/{day}.html"
        self._put(index_key, self.render_index(reports, day), "text/html; charset=utf-8")
        written.append({"endpoint": "(index)", "html": index_key, "json": "", **self._links(index_key)})
        return written

    def render_index(self, reports: list[EndpointReport], day: str) -> str:
        """The day's index: every endpoint, worst first, with a filter by grade and name."""
        return self._index.render(
            day=day,
            reports=worst_first(reports),
            counts=grade_counts(reports),
            grades=GRADES,
            script=self._filter,
            script_hash=self._filter_hash,
        )

    def summary(self, reports: list[EndpointReport], links: list[dict[str, str]], day: str) -> str:
        """The message to the info topic: counts by grade, the worst endpoints with their
        links (at most `SUMMARY_WORST`, and within `SUMMARY_MAX_BYTES`), the index's links."""
        urls = {link["endpoint"]: link["url"] for link in links}
        located = {link["endpoint"]: link["s3_uri"] for link in links}
        counts = grade_counts(reports)
        escalated = sum(i.outcome == "escalated" for r in reports for i in r.incidents)
        head = [
            f"Model Medic daily report, {day}",
            "",
            f"{len(reports)} endpoint(s): "
            + ", ".join(f"{counts[g]} graded {g}" for g in GRADES)
            + (f"; {escalated} incident(s) escalated" if escalated else ""),
            "",
        ]
        foot = [
            "",
            f"All endpoints, worst first: {located['(index)']}",
            f"  {urls['(index)']}",
            "",
            f"The https links work for at most {PRESIGNED_SECONDS // 3600} hour after this message: they are signed "
            "with the report function's temporary credentials, which can expire sooner. The s3:// locations do not "
            f"expire (open them with your own AWS access; reports are kept for the bucket's retention).",
        ]
        room = SUMMARY_MAX_BYTES - len("\n".join(head + foot).encode("utf-8")) - 200  # 200: the "more" line
        body: list[str] = []
        for r in worst_first(reports)[:SUMMARY_WORST]:
            rate = "n/a" if r.error_rate is None else f"{r.error_rate:.2f}%"
            latency = "n/a" if r.avg_latency_ms is None else f"{r.avg_latency_ms:.0f} ms"
            acted = sum(d["result"] == "acted" for d in r.decisions)
            entry = [
                f"{r.endpoint}: grade {r.grade} - {r.invocations:,.0f} invocations, error rate {rate}, "
                f"latency {latency}, {acted} action(s)",
                f"  {located[r.endpoint]}",
                f"  {urls[r.endpoint]}",
            ]
            size = len("\n".join(entry).encode("utf-8")) + 1
            if size > room:
                break
            room -= size
            body += entry
        listed = len(body) // 3
        if listed < len(reports):
            shown = f"the {listed} worst" if listed else "none"
            body.append(f"({shown} of {len(reports)} listed here; every endpoint is in the index below.)")
        return "\n".join(head + body + foot)

    def _put(self, key: str, body: str, content_type: str) -> None:
        self._s3.put_object(Bucket=self._bucket, Key=key, Body=body.encode("utf-8"), ContentType=content_type)

    def _links(self, key: str) -> dict[str, str]:
        """The report's S3 location (lasting) and a presigned https link (at most an hour)."""
        url = self._s3.generate_presigned_url(
            "get_object", Params={"Bucket": self._bucket, "Key": key}, ExpiresIn=PRESIGNED_SECONDS
        )
        return {"s3_uri": f"s3://{self._bucket}/{key}", "url": str(url), "expires_in_seconds": str(PRESIGNED_SECONDS)}


def severity(report: EndpointReport) -> tuple[int, int, float, float, str]:
    """How bad an endpoint's day was, as a sort key (smaller is worse): the grade (C, B, A),
    then escalated incidents, error rate and average latency (higher is worse), then its name."""
    escalated = sum(i.outcome == "escalated" for i in report.incidents)
    rank = GRADES.index(report.grade) if report.grade in GRADES else len(GRADES)
    return (rank, -escalated, -(report.error_rate or 0.0), -(report.avg_latency_ms or 0.0), report.endpoint)


def worst_first(reports: list[EndpointReport]) -> list[EndpointReport]:
    """The reports, worst day first (`severity`)."""
    return sorted(reports, key=severity)


def grade_counts(reports: list[EndpointReport]) -> Counter[str]:
    """How many endpoints got each grade."""
    return Counter(r.grade for r in reports)


def _hour_key(moment: datetime) -> str:
    return moment.astimezone(moment.tzinfo).strftime("%Y-%m-%dT%H:00")


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _float(value: int | None) -> float | None:
    return None if value is None else float(value)


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


def daily(job: DailyReport, endpoints: list[str], end: datetime, notifier: Notifier) -> dict[str, Any]:
    """DailyReportFunction: the reports of the day before `end` written, indexed and told."""
    reports = job.build(endpoints, end)
    day = reports[0].day if reports else end.strftime("%Y-%m-%d")
    links = job.publish(reports, day)
    notifier.inform(f"Model Medic daily report {day}", job.summary(reports, links, day))
    logger.info("daily report written", day=day, endpoints=len(reports))
    return {"day": day, "grades": {r.endpoint: r.grade for r in reports}, "written": links}
