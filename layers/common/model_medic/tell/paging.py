"""Paging episodes, decided: one page per standing condition, reminders while it lasts, a line when it ends."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from model_medic.store.episodes import Episode


@dataclass(frozen=True)
class PagingRules:
    """How long a condition must be quiet before its episode ends, and how often a lasting one is recalled."""

    quiet: timedelta
    remind: timedelta


@dataclass(frozen=True)
class Standing:
    """The standing condition a decision is a case of: a bound (per alarm) or a spent budget (per unit).

    `always`: people are paged even inside the episode (an escalation is news: something was
    tried and did not help). `alert`: the page's subject and text, when the decision itself is
    not what people read (a budget refusal is a skip)."""

    cause: Literal["bound", "budget"]
    subject: str  # the alarm name, or "-"
    always: bool = False
    alert: tuple[str, str] | None = None


def recur(
    open_now: Episode | None,
    action: str,
    endpoint: str,
    standing: Standing,
    incident: str,
    now: datetime,
    rules: PagingRules,
) -> tuple[Episode, Episode | None, bool]:
    """The condition met in `incident` at `now`: (the episode it belongs to, the episode that had
    ended unnoticed - quiet long enough - or None, whether people are paged now). A new episode
    pages; a recurrence inside one does not, unless the standing says always."""
    at = now.isoformat()
    ended = None
    if open_now is not None and open_now.quiet_since is not None and now >= quiet_end(open_now, rules):
        ended, open_now = open_now, None
    if open_now is None:
        fresh = Episode(action, endpoint, standing.subject, standing.cause, at, at, at, holding=frozenset({incident}))
        version = ended.version if ended is not None else 0
        return replace(fresh, version=version), ended, True
    seen = open_now.seen + (incident not in open_now.holding)
    episode = replace(open_now, last_seen=at, seen=seen, holding=open_now.holding | {incident}, quiet_since=None)
    if standing.always:
        episode = replace(episode, paged_at=at, pages=episode.pages + 1)
    return episode, None, standing.always


def leave(episode: Episode, incident: str, at: datetime) -> Episode:
    """The incident closed: it no longer holds the episode; once none does, the quiet begins."""
    holding = episode.holding - {incident}
    quiet = episode.quiet_since if episode.quiet_since is not None or holding else at.isoformat()
    return replace(episode, holding=holding, quiet_since=quiet)


def quiet_end(episode: Episode, rules: PagingRules) -> datetime:
    """When a quiet episode ends (it never does while an incident holds it)."""
    assert episode.quiet_since is not None
    return datetime.fromisoformat(episode.quiet_since) + rules.quiet


def due(episode: Episode, now: datetime, rules: PagingRules) -> Literal["end", "remind"] | None:
    """What a sweep owes an episode now: its end line (quiet long enough), a reminder (it lasts,
    and the last page is `remind` old), or nothing."""
    if episode.quiet_since is not None:
        return "end" if now >= quiet_end(episode, rules) else None
    if now >= datetime.fromisoformat(episode.paged_at) + rules.remind:
        return "remind"
    return None


def reminded(episode: Episode, now: datetime) -> Episode:
    return replace(episode, paged_at=now.isoformat(), pages=episode.pages + 1)


def _what(episode: Episode) -> str:
    if episode.cause == "budget":
        return f"without budget for {episode.action}"
    return f"at its bound for {episode.subject} ({episode.action})"


def reminder(episode: Episode, now: datetime) -> tuple[str, str]:
    """A reminder's subject and text."""
    since = datetime.fromisoformat(episode.opened_at)
    hours = (now - since).total_seconds() / 3600
    return (
        f"Model Medic reminder: {episode.endpoint} still {_what(episode)}",
        f"{episode.endpoint} has been {_what(episode)} since {episode.opened_at} ({hours:.1f} h), met "
        f"{episode.seen} time(s), last at {episode.last_seen}. People were paged {episode.pages} time(s) "
        "about it, this reminder included; nothing more is repeated until the next reminder or its end.",
    )


def ending(episode: Episode, rules: PagingRules) -> tuple[str, str]:
    """The end line's subject and text."""
    quiet = rules.quiet.total_seconds() / 60
    return (
        f"Model Medic: {episode.endpoint} no longer {_what(episode)}",
        f"{episode.endpoint} was {_what(episode)} from {episode.opened_at} to {episode.quiet_since}: met "
        f"{episode.seen} time(s), paged {episode.pages} time(s). Quiet for {quiet:.0f} min since, so the "
        "episode is over; the next time it happens pages again.",
    )


def flapping(episode: Episode, rules: PagingRules | None, at: datetime) -> str:
    """Pure: an episode as `status` and the daily report show it at `at`: what stands (stood, once
    ended), how often it recurred, how often people were paged, and what comes next or when it
    ended (`rules` None: not known)."""
    times = "ALARM transition(s)" if episode.cause == "bound" else "incident(s) refused"
    line = (
        f"flapping: {episode.endpoint} {_what(episode)}: {episode.seen} {times} since {_hm(episode.opened_at, at)}, "
        f"{episode.pages} page(s), last met {_hm(episode.last_seen, at)}"
    )
    if episode.ended_at is not None:
        quiet = f"quiet from {_hm(episode.quiet_since, at)}, " if episode.quiet_since else ""
        return f"{line}; {quiet}ended {_hm(episode.ended_at, at)}"
    if episode.quiet_since is not None:
        ends = f", ends {_hm(quiet_end(episode, rules).isoformat(), at)} unless it recurs" if rules else ""
        return f"{line}; quiet since {_hm(episode.quiet_since, at)}{ends}"
    if rules is not None:
        return f"{line}; next reminder {_hm((datetime.fromisoformat(episode.paged_at) + rules.remind).isoformat(), at)}"
    return line


def _hm(moment: str, at: datetime) -> str:
    """HH:MM UTC on the day of `at`, else with the date."""
    when = datetime.fromisoformat(moment).astimezone(at.tzinfo)
    return f"{when:%H:%M}" if when.date() == at.date() else f"{when:%Y-%m-%d %H:%M}"
