"""The daily report's HTML: an endpoint's page and the day's index, from the Jinja templates beside it."""

from __future__ import annotations

import base64
import hashlib
from importlib import resources
from typing import TYPE_CHECKING

from jinja2 import Environment, select_autoescape

from model_medic.report.charts import Strip, incident_strip, line_chart
from model_medic.report.grading import (
    GRADE_RULES,
    GRADES,
    NO_TRAFFIC,
    EndpointReport,
    grade_counts,
    grade_words,
    worst_first,
)
from model_medic.report.incident_view import ROLLOUT, action_table, incident_lanes, parse_utc, rollout_table

if TYPE_CHECKING:
    from collections.abc import Mapping

    from model_medic.tell.outcome import Where

# What an hour's (and the day's) maximum latency is: the largest of ComputeMetrics' 5-minute
# TotalLatency averages (Custom/SageMaker, the template's METRICS_PERIOD_MINUTES), not the slowest
# request; an hour without one shows none (`gather._hours`).
MAX_LATENCY_LABEL = "highest 5-min average"


class Pages:
    """The templates, autoescaped, and the index's filter script with the hash its
    Content-Security-Policy allows it by; `where`: the stack's Region and partition, for the
    console links (`Where.pipelines`)."""

    def __init__(self, where: Where) -> None:
        environment = Environment(autoescape=select_autoescape(default=True), trim_blocks=True, lstrip_blocks=True)
        # The index's fleet-wide tables: every endpoint's incidents through `action_table` and `rollout_table`.
        environment.filters["fleet_actions"] = lambda reports: action_table([i for r in reports for i in r.incidents])
        environment.filters["fleet_rollouts"] = lambda reports: rollout_table([i for r in reports for i in r.incidents])
        environment.filters["css"] = css_word
        environment.filters["grade_words"] = grade_words
        environment.filters["pipelines_link"] = where.pipelines
        environment.globals["ROLLOUT"] = ROLLOUT
        environment.globals["GRADE_RULES"] = GRADE_RULES
        folder = resources.files("model_medic.report") / "templates"
        self._page = environment.from_string((folder / "report.html.j2").read_text())
        self._index = environment.from_string((folder / "index.html.j2").read_text())
        # The index's filter: our own static script, inlined and allowed by its hash alone
        # (the page's Content-Security-Policy: no other script, inline or fetched, runs).
        self._filter = (folder / "index_filter.js").read_text()
        self._filter_hash = "sha256-" + base64.b64encode(hashlib.sha256(self._filter.encode()).digest()).decode()

    def render(self, report: EndpointReport) -> str:
        """An endpoint's page: its day in numbers, five hourly charts and the incident strip."""
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
                    MAX_LATENCY_LABEL: [h.max_latency_ms for h in report.hours],
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
        start, end = parse_utc(report.start), parse_utc(report.end)
        strip: Strip | None = (
            incident_strip(labels, incident_lanes(report.incidents, start, end)) if report.incidents else None
        )
        return self._page.render(report=report, charts=charts, strip=strip, max_latency=MAX_LATENCY_LABEL)

    def render_index(self, reports: list[EndpointReport], day: str, links: Mapping[str, str]) -> str:
        """The day's index: every endpoint, worst first, with a filter by grade and name; each
        endpoint linked to its page by `links` (its presigned URL: `DailyReport.publish`)."""
        return self._index.render(
            day=day,
            reports=worst_first(reports),
            links=links,
            counts=grade_counts(reports),
            grades=GRADES,
            script=self._filter,
            script_hash=self._filter_hash,
        )


def css_word(word: str) -> str:
    """An outcome or a grade as a CSS class suffix: "rolled back" -> "rolled-back", no traffic -> "none"."""
    return "none" if word == NO_TRAFFIC else word.replace(" ", "-")


def _float(value: int | None) -> float | None:
    return None if value is None else float(value)
