"""Paging episodes, decided without AWS (`tell/telling.py`)."""

from datetime import UTC, datetime, timedelta

from model_medic.report.incident_view import episode_rows
from model_medic.store.episodes import Episode
from model_medic.tell.telling import PagingRules, Standing, due, ending, leave, recur, reminded, reminder

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
RULES = PagingRules(quiet=timedelta(minutes=30), remind=timedelta(hours=2))
BOUND = Standing("bound", "churn-prod-HighLatency")


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def met(
    episode: Episode | None, incident: str, minutes: float, standing: Standing = BOUND
) -> tuple[Episode, Episode | None, bool]:
    return recur(episode, "scale-up", "churn-prod", standing, incident, at(minutes), RULES)


def test_the_first_time_a_condition_is_met_opens_an_episode_and_pages() -> None:
    episode, ended, page = met(None, "i1", 0)
    assert (page, ended) == (True, None)
    assert (episode.holding, episode.opened_at, episode.paged_at, episode.seen, episode.pages) == (
        frozenset({"i1"}),
        T0.isoformat(),
        T0.isoformat(),
        1,
        1,
    )
    assert episode.sk == "scale-up#churn-prod#churn-prod-HighLatency#bound"


def test_met_again_inside_the_episode_pages_no_one_and_counts_it_once_per_incident() -> None:
    first, _, _ = met(None, "i1", 0)
    quiet = leave(first, "i1", at(3))
    assert quiet.quiet_since == at(3).isoformat()
    again, ended, page = met(quiet, "i2", 6)
    assert (page, ended) == (False, None)
    assert (again.seen, again.holding, again.quiet_since, again.pages) == (2, frozenset({"i2"}), None, 1)
    same, _, page = met(again, "i2", 7)  # the same incident met again (another refusal)
    assert (page, same.seen) == (False, 2)


def test_an_escalation_always_pages_and_starts_the_reminder_clock_again() -> None:
    first, _, _ = met(None, "i1", 0)
    escalated, _, page = met(first, "i2", 50, Standing("bound", "churn-prod-HighLatency", always=True))
    assert page
    assert (escalated.pages, escalated.paged_at) == (2, at(50).isoformat())


def test_an_episode_quiet_long_enough_ends_and_the_next_time_opens_a_new_one_that_pages() -> None:
    first, _, _ = met(None, "i1", 0)
    quiet = leave(first, "i1", at(3))
    assert due(quiet, at(32), RULES) is None
    assert due(quiet, at(33), RULES) == "end"
    stored = Episode(**{**quiet.__dict__, "version": 4})
    fresh, ended, page = met(stored, "i2", 40)
    assert page
    assert ended == stored
    assert (fresh.opened_at, fresh.seen, fresh.holding, fresh.version) == (at(40).isoformat(), 1, frozenset({"i2"}), 4)


def test_a_lasting_episode_is_reminded_every_two_hours_and_never_while_quiet() -> None:
    first, _, _ = met(None, "i1", 0)
    assert due(first, at(119), RULES) is None
    assert due(first, at(120), RULES) == "remind"
    later = reminded(first, at(125))
    assert (later.pages, due(later, at(240), RULES), due(later, at(245), RULES)) == (2, None, "remind")
    quiet = leave(first, "i1", at(100))
    assert (due(quiet, at(125), RULES), due(quiet, at(130), RULES)) == (None, "end")  # quiet: no reminder


def test_the_quiet_begins_when_the_last_incident_holding_the_episode_closes() -> None:
    first, _, _ = met(None, "i1", 0)
    both, _, _ = met(first, "i2", 1)
    one_left = leave(both, "i1", at(5))
    assert one_left.quiet_since is None
    assert leave(one_left, "i2", at(9)).quiet_since == at(9).isoformat()


def test_the_reminder_and_the_end_line_say_what_stands_since_when_and_how_often() -> None:
    first, _, _ = met(None, "i1", 0)
    subject, text = reminder(reminded(first, at(120)), at(120))
    assert subject == "Model Medic reminder: churn-prod still at its bound for churn-prod-HighLatency (scale-up)"
    assert "since 2026-11-22T10:00:00+00:00 (2.0 h)" in text
    budget, _, _ = met(None, "i1", 0, Standing("budget", "-"))
    subject, text = ending(leave(budget, "i1", at(10)), RULES)
    assert subject == "Model Medic: churn-prod no longer without budget for scale-up"
    assert "from 2026-11-22T10:00:00+00:00 to 2026-11-22T10:10:00+00:00" in text
    assert "Quiet for 30 min since" in text


def test_the_report_shows_the_episodes_open_in_its_day_ended_or_still_standing() -> None:
    start, end = T0, T0 + timedelta(hours=24)

    def episode(opened: datetime, ended: datetime | None, subject: str) -> Episode:
        at = opened.isoformat()
        quiet = None if ended is None else (ended - RULES.quiet).isoformat()
        return Episode(
            "scale-up",
            "churn-prod",
            subject,
            "bound",
            at,
            at,
            at,
            seen=3,
            pages=2,
            quiet_since=quiet,
            ended_at=None if ended is None else ended.isoformat(),
        )

    before = episode(T0 - timedelta(hours=3), T0 - timedelta(minutes=1), "a")  # ended before the day
    ended = episode(T0 - timedelta(hours=1), T0 + timedelta(hours=2), "b")  # began the day before
    standing = episode(T0 + timedelta(hours=5), None, "c")
    after = episode(end, None, "d")  # opened once the day was over
    rows = episode_rows([standing, after, ended, before], start, end)
    assert [(r.subject, r.ended, r.met, r.pages) for r in rows] == [
        ("b", (T0 + timedelta(hours=2)).isoformat(), 3, 2),
        ("c", None, 3, 2),
    ]
    # Shown on the report's last day (its end), so the first day's times carry their date.
    assert rows[0].line.endswith("; quiet from 2026-11-22 11:30, ended 2026-11-22 12:00")
    assert rows[1].line == (
        "flapping: churn-prod at its bound for c (scale-up): 3 ALARM transition(s) since 2026-11-22 15:00, "
        "2 page(s), last met 2026-11-22 15:00"
    )
