"""An endpoint's day as the report records it, its grade and recommendations, and the fleet's order, pure."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from model_medic.report.incident_view import (
    ROLLED_BACK_CANARY,
    ROLLOUT,
    ActionRow,
    EpisodeRow,
    IncidentRow,
    RolloutRow,
    RolloutView,
    parse_utc,
)

# The grade of a day without a single invocation (and nothing worse): not an A.
NO_TRAFFIC = "\u2014"
# Grades from worst to best: the index's and the summary's order. A day without traffic comes
# before the A's: is the endpoint still needed?
GRADES = ("C", "B", NO_TRAFFIC, "A")
# How a grade is made, as the page's legend says it: the worst that applies.
GRADE_RULES = (
    (
        "C",
        "error rate above 5%, average latency above 1 s, or an incident escalated: an action failed or did not "
        "help, or none was possible, and a person was told (a rollout rolled back by its judge is not one)",
    ),
    (
        "B",
        "error rate above 1%, or an alarm still open at the end of the day with its remediation under way "
        "or its retraining pipeline succeeded",
    ),
    (NO_TRAFFIC, "no invocations in the 24 hours, and nothing above"),
    ("A", "none of these"),
)


@dataclass
class Hour:
    """One hour of an endpoint: its variants' figures together, and each variant's instances."""

    start: str
    invocations: float = 0.0
    errors_4xx: float = 0.0
    errors_5xx: float = 0.0
    error_rate: float | None = None
    avg_latency_ms: float | None = None
    max_latency_ms: float | None = None
    instances: dict[str, int | None] = field(default_factory=dict)


@dataclass
class EndpointReport:
    """An endpoint's day: what its page and its JSON twin show."""

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
    rollouts: list[RolloutRow] = field(default_factory=list)
    graded: list[str] = field(default_factory=list)  # why the grade is not A (`grade_reasons`), worst first
    episodes: list[EpisodeRow] = field(default_factory=list)  # paging episodes of the day (flapping)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def grade(report: EndpointReport) -> str:
    """The day's grade (GRADE_RULES): the worst of `grade_reasons`; with none, no traffic
    (NO_TRAFFIC) or A."""
    found = [g for g, _ in grade_reasons(report)]
    if found:
        return min(found, key=GRADES.index)
    return NO_TRAFFIC if report.invocations == 0 else "A"


def grade_reasons(report: EndpointReport) -> list[tuple[str, str]]:
    """Pure: each thing that keeps the day from an A, with the grade it gives, worst first:
    the error rate and latency against their lines, incidents escalated (still open at the
    end of the day: nothing more Model Medic can do), and alarms still open at the end of the
    day with their remediation under way or their retraining pipeline succeeded. A rollout under
    way, rolled back, not deployed, stopped by someone else's change or complete does not count:
    none is the endpoint failing."""
    found = []
    rate, latency = report.error_rate or 0.0, report.avg_latency_ms or 0.0
    if rate > 5:
        found.append(("C", f"error rate {rate:.2f}% is above 5%"))
    elif rate > 1:
        found.append(("B", f"error rate {rate:.2f}% is above 1%"))
    if latency > 1000:
        found.append(("C", f"average latency {latency:.0f} ms is above 1 s"))
    end = parse_utc(report.end)
    escalated = [i for i in report.incidents if i.outcome == "escalated"]
    left = [i for i in escalated if _open_at(i, end)]
    if left:
        found.append(
            ("C", f"{_counted(left)} escalated, still open at the end of the day: nothing more Model Medic can do")
        )
    if len(left) < len(escalated):
        found.append(
            ("C", f"{_counted([i for i in escalated if i not in left])} escalated, closed by the end of the day")
        )
    still = [i for i in report.incidents if i.action != ROLLOUT and i.outcome != "escalated" and _open_at(i, end)]
    under_way = [i for i in still if i.outcome != "retrained"]
    if under_way:
        found.append(("B", f"{_counted(under_way)} still open at the end of the day, remediation under way"))
    retrained = [i for i in still if i.outcome == "retrained"]
    if retrained:
        found.append(("B", f"{_counted(retrained)} still open at the end of the day, retraining pipeline succeeded"))
    return sorted(found, key=lambda reason: GRADES.index(reason[0]))


def _open_at(incident: IncidentRow, end: datetime) -> bool:
    return incident.closed_at is None or parse_utc(incident.closed_at) >= end


def _counted(incidents: list[IncidentRow]) -> str:
    """ "2 incident(s) (rollback, scale-up)"."""
    return f"{len(incidents)} incident(s) ({', '.join(sorted({i.action for i in incidents}))})"


def grade_words(grade: str) -> str:
    """A grade as a count says it: "graded A", or "without traffic"."""
    return "without traffic" if grade == NO_TRAFFIC else f"graded {grade}"


def recommendations(report: EndpointReport) -> list[str]:
    """What a person should look at, from the day's figures, decisions and incidents."""
    found = [*_health_advice(report), *_decision_advice(report.decisions), *_incident_advice(report)]
    if report.invocations == 0:
        found.append("No traffic in 24 hours: is the endpoint still needed?")
    return found or ["Nothing to do."]


def _health_advice(report: EndpointReport) -> list[str]:
    found = []
    if (report.error_rate or 0) > 5:
        found.append("Error rate above 5%: look at the 5XX errors and the model container's logs first.")
    elif (report.error_rate or 0) > 1:
        found.append("Error rate above 1%: check client requests (4XX) and recent deployments.")
    if (report.avg_latency_ms or 0) > 1000:
        found.append("Average latency above 1 s: add capacity or a faster instance type.")
    return found


def _decision_advice(decisions: list[dict[str, Any]]) -> list[str]:
    found = []
    acted = [d for d in decisions if d["result"] == "acted"]
    scale_ups = [d for d in acted if d["action"] == "scale-up"]
    if len(scale_ups) >= 3:
        found.append(
            f"{len(scale_ups)} scale-ups in a day: raise the floor (the scalable target's MinCapacity or the "
            "instance count) so that the endpoint stops running at its limit."
        )
    if any(d["action"] == "rollback" or _rolled_back_canary(d) for d in acted):
        found.append("A model was rolled back: review it before the pipeline deploys it again.")
    dry = [d for d in decisions if d["result"] == "dry-run"]
    if dry:
        found.append(f"{len(dry)} action(s) were only recorded (dry-run): switch to enforce when you trust them.")
    if any(d["result"] in ("bound-reached", "failed") for d in decisions):
        found.append("An action stopped at a bound or failed: see the timeline.")
    return found


def _incident_advice(report: EndpointReport) -> list[str]:
    found = []
    # A rollout has its own outcomes (incident_view.ROLLOUT_OUTCOMES): only an escalated one
    # needs a person, and it is the line below; a rolled-back one is the line above.
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
    return found


def _rolled_back_canary(decision: dict[str, Any]) -> bool:
    """A rollout's step that set a canary's weight to 0 (as the control loop records a step:
    `changes.changes` is the list of the step's changes, each with its `kind`)."""
    if decision["action"] != ROLLOUT:
        return False
    changes = decision.get("changes", {})
    steps = changes.get("changes", []) if isinstance(changes, dict) else []
    return any(isinstance(c, dict) and c.get("kind") == ROLLED_BACK_CANARY for c in steps)


def severity(report: EndpointReport) -> tuple[int, int, float, float, str]:
    """How bad an endpoint's day was, as a sort key (smaller is worse): the grade (GRADES: C, B,
    no traffic, A), then escalated incidents, error rate and average latency (higher is worse), then its name."""
    escalated = sum(i.outcome == "escalated" for i in report.incidents)
    rank = GRADES.index(report.grade) if report.grade in GRADES else len(GRADES)
    return (rank, -escalated, -(report.error_rate or 0.0), -(report.avg_latency_ms or 0.0), report.endpoint)


def worst_first(reports: list[EndpointReport]) -> list[EndpointReport]:
    """The reports, worst day first (`severity`)."""
    return sorted(reports, key=severity)


def grade_counts(reports: list[EndpointReport]) -> Counter[str]:
    """How many endpoints got each grade."""
    return Counter(r.grade for r in reports)
