"""A dry run played as enforce would play the incident: each would-be step when enforce would take
it, the escalation at the bound, the give-back after the alarm cleared - recorded as dry-run
decisions on a shadow of the endpoint, nothing changed in SageMaker or Application Auto Scaling;
enforce, switched on mid-incident, starting from the endpoint as it is."""

from datetime import datetime, timedelta
from typing import Any

import pytest
import time_machine

from model_medic.report.incident_view import incident_row
from model_medic.store.incidents import Incident, Shadow
from tests.conftest import AwsCalls, Stack, bodies, decisions, load_event, make_endpoint, stored_incidents
from tests.functional.test_scale_up import (  # noqa: F401 - fixtures shared with the ScaleUp tests
    DELIVERED,
    LATENCY,
    OPENED,
    clock,
    counts,
    deliver,
    fn,
    ok_at,
    scale_up_alarms,
    set_alarm,
    sweep,
)

MUTATING = ("UpdateEndpointWeightsAndCapacities", "UpdateEndpoint", "RegisterScalableTarget", "CreateEndpointConfig")


def at(minutes: float) -> datetime:
    return OPENED + timedelta(minutes=minutes)


def played(fn: Any, clock: time_machine.Traveller, minutes: list[int]) -> list[tuple[int, str, str, str]]:  # noqa: F811
    """The sweeps at these minutes after the alarm: (minute, result, gate, reason) of what each recorded."""
    seen = []
    for minute in minutes:
        seen += [(minute, o["result"], o["gate"], o["reason"]) for o in sweep(fn, clock, at(minute))]
    return seen


@pytest.fixture
def dry(fn: Any, stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """An endpoint of one instance in dry-run, whose scale-up is bounded at 3 instances: 2 steps."""
    monkeypatch.setenv("MAX_INSTANCE_COUNT", "3")
    stack.set_mode("dry-run")
    make_endpoint("churn-prod", {"primary": {"count": 1, "weight": 1.0}})
    scale_up_alarms({"HighLatency": "ALARM", "HighErrorRate": "OK"})


@pytest.mark.usefixtures("dry")
def test_44_minutes_of_alarm_in_dry_run_are_played_to_escalation_and_give_back_and_change_nothing(
    fn: Any,  # noqa: F811
    stack: Stack,
    clock: time_machine.Traveller,  # noqa: F811
    aws_calls: AwsCalls,
) -> None:
    [first] = deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))
    assert (first["result"], first["reason"], first["changes"]["step"]) == (
        "dry-run",
        "primary instance-count 1 -> 2",
        1,
    )
    assert first["changes"]["verify_until"] == (DELIVERED + timedelta(minutes=15)).isoformat()
    # As enforce: the next step after the cool-down (10 min), from where the first would have left
    # the endpoint; at the bound, the last step's verification window (15 min) waited out first.
    cooled = (DELIVERED + timedelta(minutes=10)).isoformat()
    assert played(fn, clock, [5, 8, 11, 16, 21, 27, 32, 40]) == [
        (5, "skipped", "cooldown", f"scale-up would be cooling down until {cooled}; looked at again from {cooled}"),
        (11, "dry-run", "", "primary instance-count 2 -> 3"),
        (16, "skipped", "verifying", "endpoint churn-prod is at its ceiling: primary (at MaxInstanceCount, the maximum"
         f" 3 instances) cannot grow; verifying the dry run's step until {at(26).isoformat()}"),
        (27, "dry-run", "bound", f"would have escalated: {LATENCY} is still in ALARM after primary instance-count"
         " 1 -> 2; primary instance-count 2 -> 3: endpoint churn-prod is at its ceiling: primary (at"
         " MaxInstanceCount, the maximum 3 instances) cannot grow"),
    ]  # fmt: skip
    [incident] = stored_incidents(stack)
    assert (incident["state"], incident["steps"], incident["shadow"]["steps"]) == ("acting", 0, 2)
    assert [e["detail"] for e in incident["timeline"] if e["what"] == "dry-run"][:2] == [
        "step 1: primary instance-count 1 -> 2",
        "step 2: primary instance-count 2 -> 3",
    ]
    # The alarm clears after 44 minutes: the incident closes (nothing was changed) and, once every
    # scale-up alarm has been OK for 15 minutes, the capacity enforce would have added goes back,
    # a step at a time at the scale-up's pace.
    clock.move_to(at(44))
    set_alarm(LATENCY, "OK")
    [closed] = deliver(fn, clock, ok_at(at(44)), at=at(44))
    assert (closed["result"], closed["gate"]) == ("skipped", "closed")
    assert played(fn, clock, [50, 55, 60, 65, 70, 75, 80]) == [
        (60, "dry-run", "", "primary instance-count 3 -> 2"),
        (70, "dry-run", "", "primary instance-count 2 -> 1"),
    ]
    assert [d["action"] for d in decisions(stack, "dry-run")] == ["scale-up"] * 3 + ["scale-back"] * 2
    assert stack.items("shadow-boost") == []  # walked back to where it began, then forgotten
    # Told to the info topic, each marked dry-run; nobody paged.
    assert [(b["result"], b["mode"], b["action"]) for b in bodies(stack, "info")] == [
        ("dry-run", "dry-run", "scale-up")
    ] * 3 + [("dry-run", "dry-run", "scale-back")] * 2
    assert bodies(stack, "critical") == []
    # Nothing changed in AWS, and no real boost, cool-down or budget was taken.
    assert [c for c in aws_calls.mutating() if c in MUTATING] == []
    assert counts() == {"primary": 1}
    assert stack.items("boost") == stack.items("cooldown") == stack.items("budget") == []


@pytest.mark.usefixtures("dry")
def test_enforce_switched_on_mid_incident_starts_from_the_endpoint_as_it_is(
    fn: Any,  # noqa: F811
    stack: Stack,
    clock: time_machine.Traveller,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MAX_INSTANCE_COUNT", "4")
    deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))
    sweep(fn, clock, at(11))  # the dry run's shadow: 1 -> 2 -> 3
    assert stack.items("shadow-boost") != []
    stack.set_mode("inherit")  # the stack's mode: enforce
    [acted] = sweep(fn, clock, at(16))
    # No cool-down held (the dry run claimed none): step 1, from the one instance that runs.
    assert (acted["result"], acted["mode"], acted["reason"]) == ("acted", "enforce", "primary instance-count 1 -> 2")
    assert acted["changes"]["step"] == 1
    assert counts() == {"primary": 2}
    [incident] = stored_incidents(stack)
    assert (incident["steps"], incident["shadow"]) == (1, None)
    [taken_over] = [e for e in incident["timeline"] if e["what"] == "enforce"]
    assert "the dry run's 2 would-be step(s) were never made" in taken_over["detail"]
    assert stack.items("shadow-boost") == []  # enforce gives back only what it added


@pytest.mark.usefixtures("dry")
def test_a_dry_run_step_enforce_could_not_take_for_the_budget_says_so_and_waits_for_the_next_hour(
    fn: Any,  # noqa: F811
    stack: Stack,
    clock: time_machine.Traveller,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MAX_INSTANCE_COUNT", "6")
    monkeypatch.setenv("ACTIONS_PER_HOUR", "2")
    deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))
    assert played(fn, clock, [11, 22, 60])[0][1:] == ("dry-run", "", "primary instance-count 2 -> 3")
    skipped = [d for d in decisions(stack, "skipped") if d["gate"] == "budget"]
    assert [d["reason"] for d in skipped] == [
        "enforce would have been stopped here by the hourly budget of 2 actions for churn-prod (2 of them taken"
        f" by this dry run); looked at again from {at(60).isoformat()}"
    ]
    assert [d["reason"] for d in decisions(stack, "dry-run")][-1] == "primary instance-count 3 -> 4"
    assert stack.items("budget") == []
    assert bodies(stack, "critical") == []  # a dry run's budget pages nobody


def test_the_report_counts_a_dry_runs_would_be_steps() -> None:
    incident = Incident("e", "scale-up", "e-HighLatency", "arn", OPENED.isoformat(), shadow=Shadow(steps=2))
    row = incident_row(incident, OPENED, OPENED + timedelta(days=1))
    assert (row.steps, row.would_have_taken) == (0, 2)
