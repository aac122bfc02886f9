"""`model-medic status`'s pure parts: the view of incidents, rollouts, tags and messages built from
the ledger's records, schedule rates, and the text renderer's columns, times and colour."""

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from model_medic.policy.tags import read, within_stack
from model_medic.remediate.capacity import ScaleChange
from model_medic.remediate.rollout.judge import MetricVerdict
from model_medic.report.incident_view import RolloutView
from model_medic.status.deployed import rate_period
from model_medic.status.render import _Paint, table, when
from model_medic.status.view import (
    acted_step,
    incident_view,
    message_row,
    policy_view,
    rollout_status,
    short_id,
    step_view,
)
from model_medic.store.claims import Refused
from model_medic.store.incidents import Incident, Step, opened
from model_medic.store.journal import Decision, Mark
from model_medic.tell.outcome import Outcome
from tests.unit.test_settings import ACTION

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
ANSI = re.compile(r"\033\[[0-9;]*m")


def an_incident() -> Incident:
    return opened("churn-prod", "scale-up", "churn-prod-HighLatency", "arn:alarm", T0, "2 out of 2", "TotalLatency")


@pytest.mark.parametrize(
    ("expression", "period"),
    [
        ("rate(5 minutes)", timedelta(minutes=5)),
        ("rate(1 minute)", timedelta(minutes=1)),
        ("rate(1 hour)", timedelta(hours=1)),
        ("rate(2 days)", timedelta(days=2)),
        ("cron(5 * * * ? *)", None),
        ("", None),
    ],
)
def test_a_rate_expression_gives_its_period_and_anything_else_none(expression: str, period: timedelta | None) -> None:
    assert rate_period(expression) == period


def test_an_open_incident_is_looked_at_again_within_its_schedules_rate_and_held_by_its_claim() -> None:
    incident = an_incident()
    held = Refused("cooldown", "scale-up is cooling down until 10:10", T0 + timedelta(minutes=10))
    shown = incident_view(incident, timedelta(minutes=5), T0 + timedelta(minutes=1), held)
    assert shown.short_id == incident.id.rsplit("#", 1)[1] == short_id(incident.id)
    assert shown.next_evaluation == (T0 + timedelta(minutes=6)).isoformat()
    assert (shown.held, shown.held_until) == (held.reason, (T0 + timedelta(minutes=10)).isoformat())
    assert shown.verify_until is None  # only while it verifies
    verifying = replace(incident, state="verifying", verify_until=(T0 + timedelta(minutes=15)).isoformat())
    assert incident_view(verifying, None, T0).verify_until == (T0 + timedelta(minutes=15)).isoformat()
    assert incident_view(verifying, None, T0).next_evaluation is None  # no schedule known: no time made up


def test_a_closed_incident_has_nothing_ahead_of_it() -> None:
    closed = replace(an_incident(), state="recovered", closed_at=(T0 + timedelta(minutes=8)).isoformat())
    held = Refused("cooldown", "cooling", T0 + timedelta(minutes=10))
    shown = incident_view(closed, timedelta(minutes=5), T0, held)
    assert (shown.next_evaluation, shown.held, shown.held_until, shown.outcome) == (None, None, None, "recovered")


def test_a_steps_progress_says_how_far_it_got() -> None:
    changes = (ScaleChange("primary", "instance-count", 2, 3), ScaleChange("canary", "instance-count", 1, 2))
    step = Step(1, "x#step-1", T0.isoformat(), "two changes", changes, "2026-11-22T10")
    assert step_view(step).progress == "0/2 took; next not yet called: primary instance-count 2 -> 3"
    assert (
        step_view(step.called_({})).progress
        == "0/2 took; next called, not yet read back: primary instance-count 2 -> 3"
    )
    assert step_view(step.called_({}).took()).progress == "1/2 took; next not yet called: canary instance-count 1 -> 2"
    assert step_view(step.called_({}).took().called_({}).took()).progress == "2/2 took"


def test_a_step_is_read_back_from_its_acted_decision() -> None:
    changes = (ScaleChange("primary", "min-capacity", 2, 3),)
    outcome = Outcome(
        "scale-up",
        "churn-prod",
        "acted",
        "primary min-capacity 2 -> 3",
        "enforce",
        "churn-prod-HighLatency",
        "arn:alarm",
        "t",
        "ALARM",
        T0.isoformat(),
        changes={"changes": [c.as_dict() for c in changes], "results": [{}], "step": 2},
        incident="i",
    )
    decision = Decision.of(outcome, "request", "i#step-2", timedelta(days=90))
    step = acted_step(decision)
    assert step is not None
    assert (step.number, step.changes, step.done) == (2, ("primary min-capacity 2 -> 3",), 1)
    assert acted_step(replace(decision, result="skipped")) is None


def test_messages_are_read_from_the_tell_once_marks() -> None:
    incident_id = "2026-11-22T10:00:00+00:00#f434ce88a9a7f567"
    rows = [
        message_row(Mark("churn-prod", f"{incident_id}#{key}", T0, 0), incident_id)
        for key in ("step-1#sns", "recovered#event", "bound")
    ]
    assert [(r.about, r.channel) for r in rows] == [
        ("step-1", "SNS"),
        ("recovered", "EventBridge"),
        ("bound", "critical alert"),
    ]


def test_tags_applied_and_refused_are_the_union_over_the_functions_policies() -> None:
    from model_medic.platform.settings import ScaleUpSettings

    env = {**ACTION, "MAX_INSTANCE_COUNT": "4", "SCALE_STEP": "1", "SCALE_UP_COOLDOWN_MINUTES": "10"}
    settings = ScaleUpSettings.model_validate({**env, "SCALE_BACK_AFTER_MINUTES": "15"})
    tags = {
        "model-medic:max-instance-count": "2",
        "model-medic:scale-step": "50",
        "model-medic:nonsense": "x",
        "model-medic:retraining-pipeline-parameter:Region": "eu",
        "team": "fraud",
    }
    policy = within_stack(settings, read(tags))
    shown = policy_view(tags, [policy, read(tags)])
    assert [(t.key, t.value) for t in shown.applied] == [
        ("model-medic:max-instance-count", "2"),
        ("model-medic:retraining-pipeline-parameter:Region", "eu"),
    ]
    assert [(t.key, t.value) for t in shown.refused] == [
        ("model-medic:nonsense", "x"),
        ("model-medic:scale-step", "50"),
    ]


def test_a_rollout_stands_on_the_step_its_share_reached_and_shows_each_metrics_finding() -> None:
    metric = MetricVerdict("latency", "ok", "200 ms", "190 ms", "ratio 1.05", 0.5, 40.0, 0.002)
    view = RolloutView(
        id="2026-11-22T10:00:00+00:00#0123456789abcdef",
        package="churn/3",
        canary_config="churn-prod-canary-1",
        started_at=T0.isoformat(),
        share=27.0,
        share_since=T0.isoformat(),
        ended="under way",
        ended_at=None,
        verdict={"at": T0.isoformat(), "decision": "continue", "metrics": [metric.as_dict()]},
    )
    shown = rollout_status(view, "churn-prod", [5, 25, 50, 100], timedelta(minutes=10), T0, "continue: baking")
    assert (shown.step, shown.short_id, shown.verdict, shown.next_evaluation, shown.note) == (
        25,
        "0123456789abcdef",
        "continue",
        (T0 + timedelta(minutes=10)).isoformat(),
        "continue: baking",
    )
    [finding] = shown.metrics
    assert (finding.metric, finding.finding, finding.canary, finding.primary, finding.estimate) == (
        "latency",
        "ok",
        "200 ms",
        "190 ms",
        "ratio 1.05",
    )
    assert rollout_status(replace(view, share=99.7), "e", [5, 100], None, T0).step == 100
    ended = rollout_status(replace(view, share=0.0, ended="rolled back", verdict=None), "e", [5], None, T0)
    assert (ended.step, ended.verdict, ended.metrics, ended.next_evaluation) == (None, None, (), None)


def test_columns_align_on_the_plain_text_and_colour_never_moves_them() -> None:
    rows = [("churn-prod", "waiting", "10:05"), ("fraud", "escalated", "-")]
    plain = table(("ENDPOINT", "STATE", "NEXT"), rows, _Paint(False), (1,))
    painted = table(("ENDPOINT", "STATE", "NEXT"), rows, _Paint(True), (1,))
    assert plain == [
        "ENDPOINT    STATE      NEXT",
        "churn-prod  waiting    10:05",
        "fraud       escalated  -",
    ]
    assert [ANSI.sub("", line) for line in painted] == plain
    assert painted[1] == "churn-prod  \033[33mwaiting\033[0m    10:05"
    assert painted[2].startswith("fraud       \033[31mescalated\033[0m")
    assert painted[0] == plain[0]  # headers are never painted


def test_times_are_shown_in_utc_with_the_date_only_when_it_is_not_today() -> None:
    now = T0.isoformat()
    assert when("2026-11-22T12:05:00+02:00", now) == "10:05"
    assert when("2026-11-21T23:59:00+00:00", now) == "2026-11-21 23:59"
    assert when(None, now) == "-"
