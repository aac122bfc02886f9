"""The report's pure views of incidents: which ones were open in the window, their outcome,
the timeline rows (HH:MM UTC), the per-action table, the incident strip's geometry and the
newest canary rollout."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import get_args, get_type_hints

import pytest

from model_medic.remediate.rollout.action import Rollout
from model_medic.remediate.rollout.changes import DeclineCandidate, DeployCanary, RollBackCanary, ShiftTraffic
from model_medic.remediate.rollout.component_changes import ComponentRolledBack, RollComponent
from model_medic.remediate.rollout.run import rollout_incident
from model_medic.remediate.units import Plan
from model_medic.report.charts import WIDTH, Lane, incident_strip
from model_medic.report.incident_view import (
    ROLLED_BACK_CANARY,
    ROLLOUT,
    ROLLOUT_OUTCOMES,
    RolloutRow,
    action_table,
    duration,
    incident_lanes,
    incident_row,
    newest_rollout,
    open_during,
    outcome_of,
    rollout_table,
    rollout_view,
    timeline_rows,
)
from model_medic.store.incidents import Incident, IncidentState, opened

START = datetime(2026, 11, 22, 6, tzinfo=UTC)
END = START + timedelta(hours=24)


def incident(
    minutes: float, action: str = "scale-up", alarm: str = "churn-prod-HighLatency", endpoint: str = "churn-prod"
) -> Incident:
    at = START + timedelta(minutes=minutes)
    arn = f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{alarm}"
    return opened(endpoint, action, alarm, arn, at, "latency 900 ms > 400 ms", "TotalLatency")


def acted(found: Incident, minutes: float, detail: str = "primary 1 -> 2") -> Incident:
    at = datetime.fromisoformat(found.opened_at) + timedelta(minutes=minutes)
    return replace(found, steps=found.steps + 1, state="waiting").at("action", at, detail)


def recovered(found: Incident, minutes: float) -> Incident:
    at = datetime.fromisoformat(found.opened_at) + timedelta(minutes=minutes)
    return replace(found, state="recovered", closed_at=at.isoformat(), recovered_seconds=minutes * 60).at(
        "recovered", at, "the alarm returned to OK"
    )


def escalated(found: Incident, minutes: float) -> Incident:
    at = datetime.fromisoformat(found.opened_at) + timedelta(minutes=minutes)
    return replace(found, state="escalated").at("escalated", at, "still in ALARM at the bound")


def closed(found: Incident, minutes: float, state: IncidentState = "closed") -> Incident:
    at = datetime.fromisoformat(found.opened_at) + timedelta(minutes=minutes)
    return replace(found, state=state, closed_at=at.isoformat()).at("closed", at, "the alarm returned to OK")


@pytest.mark.parametrize(
    ("opened_minutes", "closed_after", "expected"),
    [
        (60, None, True),  # opened in the window, still open
        (60, 30, True),  # opened and closed in the window
        (-3 * 24 * 60, None, True),  # opened three days before, still open
        (-120, 119, False),  # closed a minute before the start
        (-120, 120, True),  # closed at the start: it was open at the start
        (-120, 180, True),  # opened before, closed in the window
        (24 * 60, None, False),  # opened at the end: not in [start, end)
        (24 * 60 - 1, None, True),  # opened a minute before the end
    ],
)
def test_open_during_means_opened_before_the_end_and_not_closed_before_the_start(
    opened_minutes: float, closed_after: float | None, expected: bool
) -> None:
    found = incident(opened_minutes)
    if closed_after is not None:
        found = closed(found, closed_after)
    assert open_during(found, START, END) is expected


def test_the_outcome_comes_from_the_timeline_as_well_as_the_state() -> None:
    base = incident(60)
    assert outcome_of(base) == "open"
    assert outcome_of(acted(base, 1)) == "open"
    assert outcome_of(recovered(acted(base, 1), 20)) == "recovered"
    assert outcome_of(escalated(acted(base, 1), 30)) == "escalated"
    # The loop marks an escalated incident "closed" when its alarm clears: still escalated.
    assert outcome_of(closed(escalated(acted(base, 1), 30), 90)) == "escalated"
    failed = replace(acted(base, 1), state="escalated").at("failed", START, "did not take")
    assert outcome_of(failed) == "escalated"
    assert outcome_of(closed(base, 5)) == "closed"
    # Recorded recovered before its alarm closed (a retraining, as the ledger kept it before
    # `retrained`): recovered.
    assert outcome_of(replace(acted(base, 1), state="recovered", recovered_seconds=600.0)) == "recovered"


def test_a_retraining_whose_pipeline_succeeded_is_retrained_not_recovered_until_its_alarm_clears() -> None:
    drift = acted(incident(60, action="start-retraining", alarm="churn-prod-DataDrift"), 1, "start pipeline churn")
    ran = replace(drift, state="retrained").at("retrained", START + timedelta(hours=3), "the pipeline succeeded")
    assert outcome_of(ran) == "retrained"
    row = incident_row(ran, START, END)
    assert (row.outcome, row.acted, row.time_to_recover_seconds) == ("retrained", True, None)
    [table] = action_table([row])
    assert (table.acted, table.recovered, table.escalated, table.fix_rate) == (1, 0, 0, 0.0)
    assert outcome_of(recovered(ran, 300)) == "recovered"  # the alarm's own OK


def test_timeline_rows_are_oldest_first_in_hh_mm_utc_and_mark_what_is_outside_the_window() -> None:
    found = incident(-30)  # 05:30, before the window
    found = acted(found, 45)  # 06:15
    found = replace(found).at("in-service", START + timedelta(hours=1, minutes=2), "primary: 2 instances")
    # A time written in another zone is shown in UTC.
    found = found.at("recovered", datetime.fromisoformat("2026-11-22T08:20:00+01:00"), "OK")
    rows = timeline_rows(found, START, END)
    assert [(r.at, r.what, r.outside) for r in rows] == [
        ("05:30", "detected", True),
        ("06:15", "action", False),
        ("07:02", "in-service", False),
        ("07:20", "recovered", False),
    ]
    assert rows[0].detail == "latency 900 ms > 400 ms"
    assert rows[3].time == "2026-11-22T07:20:00+00:00"


def test_an_incident_row_carries_action_alarm_state_and_time_to_recover() -> None:
    row = incident_row(recovered(acted(incident(60), 1), 23), START, END)
    assert (row.action, row.alarm_name, row.state, row.outcome, row.acted, row.steps) == (
        "scale-up",
        "churn-prod-HighLatency",
        "recovered",
        "recovered",
        True,
        1,
    )
    assert (row.time_to_recover_seconds, row.time_to_recover) == (23 * 60, "23 min")
    assert [t.what for t in row.timeline] == ["detected", "action", "recovered"]
    assert row.opened_at == "2026-11-22T07:00:00+00:00"
    assert row.closed_at == "2026-11-22T07:23:00+00:00"
    still_open = incident_row(escalated(acted(incident(60), 1), 30), START, END)
    assert (still_open.outcome, still_open.time_to_recover_seconds, still_open.time_to_recover) == (
        "escalated",
        None,
        "\u2014",
    )


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "\u2014"),
        (0, "0 s"),
        (42.4, "42 s"),
        (60, "1 min"),
        (719, "12 min"),
        (3600, "1 h 00 min"),
        (7500, "2 h 05 min"),
    ],
)
def test_duration(seconds: float | None, text: str) -> None:
    assert duration(seconds) == text


def test_the_action_table_counts_fix_rate_among_incidents_that_acted_and_the_median() -> None:
    incidents = [
        recovered(acted(incident(10), 1), 10),
        recovered(acted(incident(100), 1), 30),
        recovered(acted(acted(incident(200), 1), 12), 50),
        escalated(acted(incident(300), 1), 40),
        closed(incident(400), 3),  # cleared before anything was done: not in the fix rate
        recovered(acted(incident(500, action="rollback", alarm="churn-prod-HighErrorRate"), 2), 15),
        escalated(incident(600, action="rollback", alarm="churn-prod-HighErrorRate"), 1),  # bound, nothing done
        incident(700, action="notify-4xx", alarm="churn-prod-4XXSurge"),
    ]
    table = {row.action: row for row in action_table([incident_row(i, START, END) for i in incidents])}
    assert list(table) == ["notify-4xx", "rollback", "scale-up"]
    scale_up = table["scale-up"]
    assert (scale_up.incidents, scale_up.acted, scale_up.recovered, scale_up.escalated) == (5, 4, 3, 1)
    assert scale_up.fix_rate == 75.0
    assert scale_up.median_time_to_recover_seconds == 30 * 60
    assert scale_up.median_time_to_recover == "30 min"
    rollback = table["rollback"]
    assert (rollback.incidents, rollback.acted, rollback.recovered, rollback.escalated) == (2, 1, 1, 1)
    assert rollback.fix_rate == 100.0
    assert rollback.median_time_to_recover_seconds == 15 * 60
    notify = table["notify-4xx"]
    assert (notify.incidents, notify.acted, notify.fix_rate, notify.median_time_to_recover_seconds) == (
        1,
        0,
        None,
        None,
    )


def test_the_median_of_an_even_count_is_the_mean_of_the_middle_two() -> None:
    incidents = [recovered(acted(incident(60 * n), 1), minutes) for n, minutes in enumerate((10, 20, 40, 90))]
    [row] = action_table([incident_row(i, START, END) for i in incidents])
    assert row.median_time_to_recover_seconds == 30 * 60
    assert row.fix_rate == 100.0


def test_an_empty_day_has_an_empty_action_table() -> None:
    assert action_table([]) == []


def test_incident_lanes_and_strip_clip_to_the_window() -> None:
    rows = [
        incident_row(escalated(acted(incident(-3 * 24 * 60), 1), 30), START, END),  # open since three days
        incident_row(recovered(acted(incident(12 * 60), 6), 72), START, END),  # 18:00 to 19:12
    ]
    old, noon = incident_lanes(rows, START, END)
    assert old.begin < 0
    assert old.end == 1.0
    assert old.outcome == "escalated"
    assert old.marks == ()  # all its entries happened before the window
    assert noon.begin == 0.5
    assert noon.end == pytest.approx(0.55)
    assert [what for _, what, _ in noon.marks] == ["detected", "action", "recovered"]
    assert noon.marks[1][2] == "18:06 action: primary 1 -> 2"
    strip = incident_strip([f"{h:02d}:00" for h in range(24)], [old, noon])
    first, second = strip.lanes
    assert first.x1 == strip.left
    assert first.x2 == strip.right
    assert strip.left < second.x1 < second.x2 < strip.right
    assert second.y > first.y
    assert [m.what for m in second.marks] == ["detected", "action", "recovered"]
    assert [t.label for t in strip.ticks] == ["00:00", "06:00", "12:00", "18:00", "23:00"]
    assert strip.width == WIDTH
    assert strip.height > second.y


def test_a_long_lane_label_is_shortened_and_a_short_incident_stays_visible() -> None:
    strip = incident_strip(
        ["00:00"], [Lane("x" * 60, 0.5, 0.5, "recovered", ((0.5, "action", "t"), (1.5, "closed", "t")))]
    )
    [lane] = strip.lanes
    assert len(lane.label) == 28
    assert lane.label.endswith("\u2026")
    assert lane.title == "x" * 60 + ": recovered"
    assert lane.x2 - lane.x1 >= 2
    assert [m.what for m in lane.marks] == ["action"]  # a mark outside the window is not drawn


# --- the newest rollout (incidents of the rollout unit, as the control loop writes them) ---------

PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/2"


def rollout(minutes: float = 0) -> Incident:
    return rollout_incident("churn-prod", PACKAGE, START + timedelta(minutes=minutes), "churn/2 approved in churn")


def took(
    found: Incident, minutes: float, change: DeployCanary | ShiftTraffic | DeclineCandidate | RollComponent
) -> Incident:
    """A step of one change, InService `minutes` after the rollout opened: its facts settled."""
    at = datetime.fromisoformat(found.opened_at) + timedelta(minutes=minutes)
    return replace(
        found, steps=found.steps + 1, state="acting", facts={**(found.facts or {}), **change.settled(at)}
    ).at("in-service", at, change.describe())


def ended(found: Incident, minutes: float, state: IncidentState, what: str = "closed") -> Incident:
    at = datetime.fromisoformat(found.opened_at) + timedelta(minutes=minutes)
    return replace(found, state=state, closed_at=at.isoformat()).at(what, at, "ended")


DEPLOY = DeployCanary(PACKAGE, "m", "cfg-1", "cfg-canary", "primary", "canary", 1, 5, 4.0)


def test_a_rollout_under_way_shows_its_package_and_the_canarys_share_since_its_step_began() -> None:
    view = rollout_view(took(took(rollout(), 2, DEPLOY), 41, ShiftTraffic("primary", "canary", 5, 10)))
    assert (view.package, view.canary_config, view.share, view.ended, view.ended_at) == (
        "churn/2",
        "cfg-canary",
        10.0,
        "under way",
        None,
    )
    assert view.started_at == "2026-11-22T06:00:00+00:00"
    assert view.share_since == "2026-11-22T06:41:00+00:00"


def test_how_a_rollout_ended_and_when() -> None:
    deployed = took(rollout(), 2, DEPLOY)
    rolled_back = ended(took(deployed, 12, RollBackCanary("primary", "canary", 5, 0)), 13, "escalated")
    assert (rollout_view(rolled_back).ended, rollout_view(rolled_back).share) == ("rolled back", 0.0)
    assert rollout_view(rolled_back).ended_at == "2026-11-22T06:13:00+00:00"
    assert rollout_view(rolled_back).share_since == "2026-11-22T06:12:00+00:00"
    walked = took(deployed, 40, ShiftTraffic("primary", "canary", 5, 100))
    complete = ended(walked, 80, "recovered", "recovered")
    assert (rollout_view(complete).ended, rollout_view(complete).share) == ("complete", 100.0)
    declined = ended(took(rollout(), 1, DeclineCandidate(PACKAGE, "not better")), 1, "escalated")
    assert (rollout_view(declined).ended, rollout_view(declined).share) == ("not deployed", None)
    never = ended(rollout(), 1, "escalated", "escalated")  # a bound before anything was deployed
    assert rollout_view(never).ended == "not deployed"
    bound = ended(walked, 50, "escalated", "escalated")  # a bound in the walk (the canary's maximum)
    assert (rollout_view(bound).ended, rollout_view(bound).ended_at) == ("escalated", "2026-11-22T06:50:00+00:00")
    # The endpoint changed outside Model Medic (`Endings.as_it_stands`): stopped before 100 %, complete at 100 %.
    halfway = took(deployed, 40, ShiftTraffic("primary", "canary", 5, 50))
    stopped = ended(halfway, 50, "closed", "stopped")
    assert (rollout_view(stopped).ended, rollout_view(stopped).ended_at) == ("stopped", "2026-11-22T06:50:00+00:00")
    replaced = ended(walked, 50, "recovered", "recovered")
    assert rollout_view(replaced).ended == "complete"
    failed = replace(walked, state="escalated").at("failed", START + timedelta(minutes=45), "did not take")
    assert (rollout_view(failed).ended, rollout_view(failed).ended_at) == ("escalated", "2026-11-22T06:45:00+00:00")


def test_the_newest_rollout_of_the_endpoints_incidents_is_shown_and_other_actions_are_not() -> None:
    older = ended(took(rollout(-3 * 24 * 60), 2, DEPLOY), 30, "recovered", "recovered")
    newer = rollout_incident("churn-prod", PACKAGE.replace("/2", "/3"), START + timedelta(hours=2), "approved")
    assert newest_rollout([older, newer, incident(300)]) == rollout_view(newer)
    assert newest_rollout([incident(300)]) is None
    assert rollout_view(newer).package == "churn/3"


def test_the_report_reads_the_rollouts_vocabulary_as_the_rollout_records_it() -> None:
    assert (Rollout.unit.name, RollBackCanary.kind) == (ROLLOUT, ROLLED_BACK_CANARY)
    # Every way the rollout ends a rollout (a change's `ends`, a plan's) is one of the report's outcomes.
    ends = {change.ends for change in Rollout.unit.changes if change.ends is not None}
    [plan_ends, _] = get_args(get_type_hints(Plan)["ends"])
    # "escalated": an inference component's rolling update that Failed (its component's end).
    assert ends | set(get_args(plan_ends)) == {"complete", "rolled back", "not deployed", "stopped", "escalated"}
    assert ends | set(get_args(plan_ends)) < set(ROLLOUT_OUTCOMES)


ROLL = RollComponent(
    "llama3-8b-chat",
    PACKAGE,
    "chat-2",
    "chat-1",
    "{}",
    "{}",
    "d1",
    "d2",
    "verdict",
    "verdict",
    4,
    1,
    1800,
    7200,
    1e5,
    5e2,
)


@pytest.mark.parametrize(
    ("state", "outcome"),
    [("recovered", "complete"), ("closed", "stopped"), ("escalated", "escalated")],
)
def test_an_inference_components_rolling_update_is_a_deployed_rollout_in_the_report(
    state: IncidentState, outcome: str
) -> None:
    rolling = took(rollout(), 2, ROLL)
    assert outcome_of(rolling) == "under way"
    assert outcome_of(ended(rolling, 90, state)) == outcome


def test_an_inference_components_rolling_update_rolled_back_reads_rolled_back_not_not_deployed() -> None:
    rolling = took(rollout(), 2, ROLL)
    back = ComponentRolledBack("llama3-8b-chat", "verdict", "rolled back by Model Medic's judge")
    rolled_back = replace(rolling, facts={**(rolling.facts or {}), **back.settled(START + timedelta(minutes=60))})
    assert outcome_of(ended(rolled_back, 61, "escalated")) == "rolled back"


def test_a_rollouts_outcome_is_its_own_in_the_incident_rows_and_the_rollout_view() -> None:
    deployed = took(rollout(), 2, DEPLOY)
    walked = took(deployed, 40, ShiftTraffic("primary", "canary", 5, 100))
    for found in (
        deployed,
        ended(walked, 80, "recovered", "recovered"),
        ended(took(deployed, 12, RollBackCanary("primary", "canary", 5, 0)), 13, "escalated"),
        ended(deployed, 20, "closed", "stopped"),
        ended(rollout(), 1, "escalated", "escalated"),
        ended(walked, 50, "escalated", "escalated"),
    ):
        assert outcome_of(found) == rollout_view(found).ended == incident_row(found, START, END).outcome
    assert {outcome_of(i) for i in (deployed, walked)} == {"under way"}


def test_a_rollout_that_completed_stays_complete_whatever_its_facts_say_later() -> None:
    walked = took(took(rollout(), 2, DEPLOY), 40, ShiftTraffic("primary", "canary", 5, 100))
    complete = ended(walked, 80, "recovered", "recovered")
    # Nothing of the endpoint is read: even a share of 0 recorded afterwards leaves it complete.
    later = replace(complete, facts={**(complete.facts or {}), "share": 0, "rolled_back_at": "2026-11-23T01:00:00"})
    assert outcome_of(later) == rollout_view(later).ended == "complete"


def test_rollouts_have_their_own_table_counted_by_how_they_ended_and_no_fix_rate() -> None:
    deployed = took(rollout(), 2, DEPLOY)
    walked = took(deployed, 40, ShiftTraffic("primary", "canary", 5, 100))
    complete = replace(ended(walked, 80, "recovered", "recovered"), recovered_seconds=80 * 60.0)
    rolled_back = ended(took(deployed, 12, RollBackCanary("primary", "canary", 5, 0)), 13, "escalated")
    stopped = ended(deployed, 20, "closed", "stopped")
    rows = [
        incident_row(i, START, END)
        for i in (complete, rolled_back, stopped, deployed, recovered(acted(incident(10), 1), 10))
    ]
    assert [row.action for row in action_table(rows)] == ["scale-up"]  # no fix rate for rollouts
    assert rollout_table(rows) == [
        RolloutRow(ROLLOUT, 4, 1, 1, 0, 1, 0, 1, 80 * 60.0, "1 h 20 min"),
    ]
    assert rows[0].time_to_recover == "1 h 20 min"  # a rollout's time to complete
    assert rollout_table(rows[-1:]) == []
