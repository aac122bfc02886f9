"""An endpoint's day as the report records it, its grade and recommendations, and the fleet's order, pure."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from model_medic.report.incident_view import ROLLED_BACK_CANARY, ROLLOUT, ActionRow, IncidentRow, RolloutView

# Grades from worst to best: the index's and the summary's order.
GRADES = ("C", "B", "A")


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
