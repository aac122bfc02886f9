"""One page per standing condition (issue 27, 4): a bound or a spent budget met again and again is one
paging episode - one page, a reminder at most every REMINDER_HOURS while it lasts, a line when it
ends after EPISODE_QUIET_MINUTES of quiet - however often its alarm flaps."""

from datetime import datetime, timedelta
from typing import Any

import pytest
import time_machine

from tests.conftest import Stack, bodies, decisions, make_endpoint, stored_incidents
from tests.functional.test_promote_canary import daily_report
from tests.functional.test_scale_up import (
    LATENCY,
    OPENED,
    counts,
    deliver,
    ok_at,
    scale_up_alarms,
    set_alarm,
    sns_alarm,
    sweep,
)
from tests.functional.test_scale_up import clock as clock
from tests.functional.test_scale_up import fn as fn

ENDPOINT = "churn-prod"


def alarm_at(at: datetime) -> dict[str, Any]:
    return sns_alarm("scale_up/high_latency_alarm.json", StateChangeTime=at.strftime("%Y-%m-%dT%H:%M:%S.000+0000"))


def flap(fn: Any, clock: time_machine.Traveller, minutes: int, every: int, sweeps_until: int) -> None:
    """The latency alarm goes to ALARM every `every` minutes for `minutes` and back to OK half-way
    in between (each transition delivered, as CloudWatch sends them); the 5-minute sweep runs
    throughout and `sweeps_until` after."""
    moments: list[tuple[int, str]] = [(m, "ALARM") for m in range(0, minutes, every)]
    moments += [(m + every // 2, "OK") for m in range(0, minutes, every)]
    moments += [(m, "sweep") for m in range(5, sweeps_until + 1, 5)]
    for minute, what in sorted(moments, key=lambda m: (m[0], m[1] != "ALARM", m[1] == "sweep")):
        at = OPENED + timedelta(minutes=minute)
        if what == "sweep":
            sweep(fn, clock, at)
            continue
        clock.move_to(at)
        set_alarm(LATENCY, what)
        deliver(fn, clock, alarm_at(at) if what == "ALARM" else ok_at(at), at=at)


@pytest.fixture
def paging(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EPISODE_QUIET_MINUTES", "30")
    monkeypatch.setenv("REMINDER_HOURS", "1")


def test_an_alarm_flapping_at_the_ceiling_pages_once_reminds_hourly_and_says_when_it_ended(
    fn: Any, stack: Stack, clock: time_machine.Traveller, paging: None
) -> None:
    make_endpoint(ENDPOINT, {"primary": {"count": 4, "weight": 1.0}})  # at MaxInstanceCount already
    scale_up_alarms({"HighLatency": "OK", "HighErrorRate": "OK"})
    flap(fn, clock, minutes=120, every=6, sweeps_until=160)  # ALARM at :00, :06, ... :114; OK 3 minutes later
    assert counts() == {"primary": 4}
    # Every ALARM is its own incident and decision (people can read each in the ledger and on
    # EventBridge) ...
    assert len(stored_incidents(stack)) == 20
    assert len(decisions(stack, "bound-reached")) == 20
    assert all(i["closed_at"] is not None for i in stored_incidents(stack))
    # ... but people are paged once for the standing condition, reminded once an hour while it
    # lasts (the sweep at 10:60, inside an ALARM; at 11:20 it had been quiet since 11:57 - no),
    # and told once when it has been quiet for 30 minutes (since the last OK at 11:57).
    critical = bodies(stack, "critical")
    assert [c.get("result") or c["subject"] for c in critical] == [
        "bound-reached",
        f"[CRITICAL] test reminder: {ENDPOINT} still at its bound for {LATENCY} (scale-up)",
    ]
    assert critical[0]["incident"] == stored_incidents(stack)[0]["id"]
    assert "met 11 time(s)" in critical[1]["text"]  # ALARMs at :00 ... :60
    [ended] = [b for b in bodies(stack, "info") if "subject" in b]
    assert ended["subject"] == f"[INFO] test {ENDPOINT} no longer at its bound for {LATENCY} (scale-up)"
    assert "met 20 time(s), paged 2 time(s)" in ended["text"]
    assert f"to {(OPENED + timedelta(minutes=117)).isoformat()}" in ended["text"]
    assert stack.items("episode") == []
    assert stack.items("letter") == []


def test_a_standing_bound_pages_once_and_reminds_while_it_lasts_then_a_new_episode_pages_again(
    fn: Any, stack: Stack, clock: time_machine.Traveller, paging: None
) -> None:
    make_endpoint(ENDPOINT, {"primary": {"count": 4, "weight": 1.0}})
    scale_up_alarms({"HighLatency": "OK", "HighErrorRate": "OK"})
    clock.move_to(OPENED)
    set_alarm(LATENCY, "ALARM")
    deliver(fn, clock, alarm_at(OPENED), at=OPENED)
    for minutes in range(5, 185, 5):  # three hours in ALARM
        sweep(fn, clock, OPENED + timedelta(minutes=minutes))
    reminders = [c["subject"] for c in bodies(stack, "critical") if "subject" in c]
    assert len(reminders) == 3  # at 1 h, 2 h and 3 h
    clock.move_to(OPENED + timedelta(minutes=181))
    set_alarm(LATENCY, "OK")
    deliver(fn, clock, ok_at(OPENED + timedelta(minutes=181)), at=OPENED + timedelta(minutes=181))
    for minutes in (190, 205, 215):
        sweep(fn, clock, OPENED + timedelta(minutes=minutes))
    assert [b["subject"] for b in bodies(stack, "info") if "subject" in b] == [
        f"[INFO] test {ENDPOINT} no longer at its bound for {LATENCY} (scale-up)"
    ]
    # Over: the next time is a new episode, paged again.
    again = OPENED + timedelta(minutes=240)
    clock.move_to(again)
    set_alarm(LATENCY, "ALARM")
    [outcome] = deliver(fn, clock, alarm_at(again), at=again)
    assert outcome["result"] == "bound-reached"
    assert [c.get("result") for c in bodies(stack, "critical")] == ["bound-reached"]


def test_an_episode_that_ended_unnoticed_is_ended_by_the_next_occurrence_which_pages(
    fn: Any, stack: Stack, clock: time_machine.Traveller, paging: None
) -> None:
    make_endpoint(ENDPOINT, {"primary": {"count": 4, "weight": 1.0}})
    scale_up_alarms({"HighLatency": "OK", "HighErrorRate": "OK"})
    for minute, state in ((0, "ALARM"), (3, "OK"), (60, "ALARM")):  # no sweep ran in between
        at = OPENED + timedelta(minutes=minute)
        clock.move_to(at)
        set_alarm(LATENCY, state)
        deliver(fn, clock, alarm_at(at) if state == "ALARM" else ok_at(at), at=at)
    assert [c.get("result") for c in bodies(stack, "critical")] == ["bound-reached", "bound-reached"]
    [ended] = [b for b in bodies(stack, "info") if "subject" in b]
    assert "met 1 time(s), paged 1 time(s)" in ended["text"]


def test_a_budget_spent_by_one_flapping_alarm_pages_once_per_episode(
    fn: Any, stack: Stack, clock: time_machine.Traveller, paging: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACTIONS_PER_HOUR", "1")
    monkeypatch.setenv("SCALE_UP_COOLDOWN_MINUTES", "0")
    make_endpoint(ENDPOINT, {"primary": {"count": 1, "weight": 1.0}})
    scale_up_alarms({"HighLatency": "OK", "HighErrorRate": "OK"})
    flap(fn, clock, minutes=48, every=6, sweeps_until=50)  # eight ALARMs within the hour
    assert counts() == {"primary": 2}  # the hour's one action
    refused = [d for d in decisions(stack) if d["gate"] == "budget"]
    assert len(refused) == 7  # each later incident refused, and recorded
    [page] = [c for c in bodies(stack, "critical") if "subject" in c]
    assert page["subject"] == f"[CRITICAL] test budget spent on {ENDPOINT}"
    [episode] = stack.items("episode")
    assert (episode["cause"], int(episode["seen"]), int(episode["pages"])) == ("budget", 7, 1)


def test_the_daily_report_shows_the_days_flapping_an_ended_episode_kept_and_one_still_open(
    fn: Any, stack: Stack, clock: time_machine.Traveller, paging: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_endpoint(ENDPOINT, {"primary": {"count": 4, "weight": 1.0}})
    scale_up_alarms({"HighLatency": "OK", "HighErrorRate": "OK"})
    flap(fn, clock, minutes=30, every=6, sweeps_until=75)  # ALARM at :00 ... :24, the last OK at :27
    # Ended 30 minutes after the last OK: gone from the open episodes, kept (with the ledger's TTL)
    # in the write that ended it.
    assert stack.items("episode") == []
    [kept] = stack.items("ended-episode")
    ended_at = OPENED + timedelta(minutes=57)
    assert (kept["sk"], int(kept["seen"]), int(kept["pages"])) == (
        f"{ended_at.isoformat()}#scale-up#{ENDPOINT}#{LATENCY}#bound",
        5,
        1,
    )
    assert int(kept["expiration"]) == int((ended_at + timedelta(days=90)).timestamp())
    # A new episode at 12:00 that still stands when the report is made.
    again = OPENED + timedelta(minutes=120)
    clock.move_to(again)
    set_alarm(LATENCY, "ALARM")
    deliver(fn, clock, alarm_at(again), at=again)
    report, html = daily_report(monkeypatch)
    assert [(e["started"], e["ended"], e["met"], e["pages"]) for e in report["episodes"]] == [
        (OPENED.isoformat(), ended_at.isoformat(), 5, 1),
        (again.isoformat(), None, 1, 1),
    ]
    assert report["episodes"][0]["line"] == (
        f"flapping: {ENDPOINT} at its bound for {LATENCY} (scale-up): 5 ALARM transition(s) since "
        "2026-11-22 10:00, 1 page(s), last met 2026-11-22 10:24; quiet from 2026-11-22 10:27, ended 2026-11-22 10:57"
    )
    assert "<h2>Paging episodes</h2>" in html
    assert "still open" in html
