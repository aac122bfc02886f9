"""An endpoint's day graded, its recommendations in the order a person reads them, and the
fleet worst first."""

from typing import Any

import pytest

from model_medic.report.grading import (
    GRADE_RULES,
    GRADES,
    NO_TRAFFIC,
    EndpointReport,
    grade,
    grade_reasons,
    recommendations,
    worst_first,
)
from model_medic.report.incident_view import ROLLED_BACK_CANARY, ROLLOUT, IncidentRow, RolloutView


def report(
    endpoint: str = "churn-prod",
    error_rate: float | None = 0.2,
    latency: float | None = 100.0,
    invocations: float = 1000.0,
    decisions: list[dict[str, Any]] | None = None,
    incidents: list[IncidentRow] | None = None,
    rollout: RolloutView | None = None,
) -> EndpointReport:
    made = EndpointReport(
        endpoint=endpoint,
        day="2026-11-23",
        start="2026-11-22T06:00:00+00:00",
        end="2026-11-23T06:00:00+00:00",
        hours=[],
        invocations=invocations,
        errors_4xx=0.0,
        errors_5xx=0.0,
        error_rate=error_rate,
        avg_latency_ms=latency,
        max_latency_ms=latency,
        grade="",
        recommendations=[],
        decisions=decisions or [],
        canary={"shares": {}, "rollout": rollout},
        incidents=incidents or [],
    )
    made.grade = grade(made)
    return made


def incident(action: str, outcome: str, closed_at: str | None = None, state: str = "escalated") -> IncidentRow:
    opened = "2026-11-22T08:00:00+00:00"
    return IncidentRow(action, action, f"churn-prod-{action}", state, outcome, True, 1, opened, closed_at, None, "", [])


def escalated(action: str) -> IncidentRow:
    return incident(action, "escalated")


DURING, AFTER = "2026-11-22T09:00:00+00:00", "2026-11-23T06:00:00+00:00"  # the day ends at 06:00


@pytest.mark.parametrize(
    ("error_rate", "latency", "expected"),
    [(None, None, "A"), (1.0, 1000.0, "A"), (1.01, 100.0, "B"), (5.01, 100.0, "C"), (0.0, 1000.1, "C")],
)
def test_the_grade_is_the_error_rate_and_latency_against_their_lines(
    error_rate: float | None, latency: float | None, expected: str
) -> None:
    assert report(error_rate=error_rate, latency=latency).grade == expected


@pytest.mark.parametrize(
    ("incidents", "expected"),
    [
        # An escalation - the action did not help, or none was possible - is a C, open or not.
        ([incident("scale-up", "escalated", DURING, "closed")], "C"),
        ([incident("rollback", "escalated")], "C"),
        # Still open at the end of the day, remediation under way: B (also closed only after the end).
        ([incident("scale-up", "open", state="verifying")], "B"),
        ([incident("scale-up", "recovered", AFTER, "recovered")], "B"),
        # Over within the day: nothing against the endpoint.
        ([incident("scale-up", "recovered", DURING, "recovered"), incident("scale-up", "closed", DURING)], "A"),
        # A rollout is graded by what it did to the endpoint: only an escalated one counts.
        ([incident(ROLLOUT, "under way", state="acting")], "A"),
        ([incident(ROLLOUT, o, DURING) for o in ("complete", "rolled back", "not deployed", "stopped")], "A"),
        ([incident(ROLLOUT, "escalated", DURING)], "C"),
    ],
)
def test_the_grade_counts_what_happened_in_the_day(incidents: list[IncidentRow], expected: str) -> None:
    assert report(incidents=incidents).grade == expected


def test_the_issues_day_two_escalations_and_an_open_alarm_with_no_rollback_target_is_a_c_and_says_why() -> None:
    day = report(
        incidents=[
            incident("scale-up", "escalated", DURING, "closed"),
            incident("scale-up", "escalated", DURING, "closed"),
            incident("rollback", "escalated"),  # no rollback target: bound-reached, open
        ]
    )
    assert day.grade == "C"
    assert [why for _, why in grade_reasons(day)] == [
        "1 incident(s) (rollback) escalated, still open at the end of the day: nothing more Model Medic can do",
        "2 incident(s) (scale-up) escalated, closed by the end of the day",
    ]


def test_a_day_without_traffic_is_no_grade_unless_something_worse_happened() -> None:
    assert report(invocations=0.0, error_rate=None, latency=None).grade == NO_TRAFFIC
    assert report(invocations=0.0, error_rate=None, latency=None, incidents=[escalated("rollback")]).grade == "C"
    assert grade_reasons(report(invocations=0.0, error_rate=None, latency=None)) == []


def test_the_reasons_are_worst_first_and_the_legend_names_every_grade() -> None:
    day = report(error_rate=2.0, latency=1500.0, incidents=[incident("scale-up", "open", state="waiting")])
    assert grade_reasons(day) == [
        ("C", "average latency 1500 ms is above 1 s"),
        ("B", "error rate 2.00% is above 1%"),
        ("B", "1 incident(s) (scale-up) still open at the end of the day, remediation under way"),
    ]
    assert [g for g, _ in GRADE_RULES] == list(GRADES)


def test_an_alarm_still_open_after_its_retraining_pipeline_succeeded_is_a_b_that_says_so() -> None:
    day = report(incidents=[incident("start-retraining", "retrained", state="retrained")])
    assert grade_reasons(day) == [
        ("B", "1 incident(s) (start-retraining) still open at the end of the day, retraining pipeline succeeded")
    ]


def test_a_quiet_healthy_day_has_nothing_to_do() -> None:
    assert recommendations(report()) == ["Nothing to do."]


def test_every_recommendation_in_the_order_a_person_reads_them() -> None:
    rolled_back = {"action": ROLLOUT, "result": "acted", "changes": {"changes": [{"kind": ROLLED_BACK_CANARY}]}}
    stopped = RolloutView(
        "r", None, None, "2026-11-22T07:00:00+00:00", 0.0, None, "escalated", "2026-11-22T08:00:00+00:00"
    )
    day = report(
        error_rate=6.0,
        latency=1500.0,
        invocations=0.0,
        decisions=[
            *[{"action": "scale-up", "result": "acted"}] * 3,
            rolled_back,
            {"action": "scale-up", "result": "dry-run"},
            {"action": "scale-up", "result": "bound-reached"},
        ],
        incidents=[escalated("scale-up"), escalated("rollback"), escalated(ROLLOUT)],
        rollout=stopped,
    )
    found = recommendations(day)
    assert [line.split(":")[0] for line in found] == [
        "Error rate above 5%",
        "Average latency above 1 s",
        "3 scale-ups in a day",
        "A model was rolled back",
        "1 action(s) were only recorded (dry-run)",
        "An action stopped at a bound or failed",
        "A canary rollout stopped and needs a person",
        "2 incident(s) escalated (rollback, scale-up)",  # the rollout's own escalation is told above
        "No traffic in 24 hours",
    ]


def test_an_error_rate_above_one_percent_gets_the_milder_advice() -> None:
    assert recommendations(report(error_rate=2.0)) == [
        "Error rate above 1%: check client requests (4XX) and recent deployments."
    ]


def test_the_fleet_is_worst_first_by_grade_escalations_error_rate_latency_then_name() -> None:
    fleet = [
        report("a-healthy"),
        report("b-slow", latency=1200.0),
        report("c-erring", error_rate=6.0),
        report("d-escalated", incidents=[escalated("scale-up")]),
        report("e-warned", error_rate=2.0),
        report("f-warned", error_rate=3.0),
        report("g-healthy"),
        report("h-quiet", invocations=0.0, error_rate=None, latency=None),
    ]
    assert [(r.endpoint, r.grade) for r in worst_first(fleet)] == [
        ("d-escalated", "C"),
        ("c-erring", "C"),
        ("b-slow", "C"),
        ("f-warned", "B"),
        ("e-warned", "B"),
        ("h-quiet", NO_TRAFFIC),  # is it still needed?
        ("a-healthy", "A"),
        ("g-healthy", "A"),
    ]
