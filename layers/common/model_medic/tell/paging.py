"""Paging episodes: one page per standing condition, reminders while it lasts, a line when it ends; the unit's pager."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from botocore.exceptions import ClientError

from model_medic.platform.clock import Clock
from model_medic.store.episodes import Episode, Episodes
from model_medic.store.incidents import Incidents
from model_medic.store.table import cancelled_on
from model_medic.tell.courier import Courier, Post, dedup_of


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


class Pager:
    """One unit's episodes: met and left in the transactions of its incidents, reminded and ended
    by its sweep in their own, an ended one kept in the write that ends it (docs/rooms/tell.md,
    "One page per standing condition")."""

    def __init__(
        self, action: str, episodes: Episodes, incidents: Incidents, courier: Courier, rules: PagingRules, clock: Clock
    ) -> None:
        self._action = action
        self._episodes = episodes
        self._incidents = incidents
        self._courier = courier
        self._rules = rules
        self._clock = clock

    def met(self, post: Post, endpoint: str, incident: str, standing: Standing) -> bool:
        """The standing condition met in `incident`: its episode written in the transaction (a new
        one when none is open), its page when the episode is new (or the standing says always), the
        end line of an episode that ended unnoticed. Whether the decision itself may page."""
        now = self._clock()
        current = self._episodes.get(self._action, endpoint, standing.subject, standing.cause)
        episode, ended, page = recur(current, self._action, endpoint, standing, incident, now, self._rules)
        if ended is not None:
            post.add(self._episodes.ended_request(ended, quiet_end(ended, self._rules)))
            self._plain(post, "inform", ended, *ending(ended, self._rules), "end")
        post.add(self._episodes.put_request(episode), optional=True)
        if standing.alert is not None:
            if page:
                self._plain(post, "alert", episode, *standing.alert, f"page-{episode.pages}")
            return True
        return page

    def left(self, post: Post, endpoint: str, incident: str, at: datetime) -> None:
        """A closing incident leaves the episodes it held (in the transaction that closes it) at
        `at`, when its alarm cleared."""
        for episode in self._episodes.of(self._action, endpoint):
            if incident in episode.holding:
                post.add(self._episodes.put_request(leave(episode, incident, at)), optional=True)

    def follow(self, endpoints: list[str]) -> None:
        """The sweep's look at the unit's episodes on these endpoints: a reminder for one that lasts,
        the end line for one quiet long enough, each written with the episode, then sent."""
        now = self._clock()
        wanted = set(endpoints)
        for read in self._episodes.of(self._action):
            if read.endpoint not in wanted:
                continue
            episode = self._still_held(read, now) if due(read, now, self._rules) == "remind" else read
            what = due(episode, now, self._rules)
            post = Post()
            if what == "end":
                post.add(self._episodes.delete_request(episode))
                post.add(self._episodes.ended_request(episode, quiet_end(episode, self._rules)))
                self._plain(post, "inform", episode, *ending(episode, self._rules), "end")
            elif what == "remind":
                later = reminded(episode, now)
                post.add(self._episodes.put_request(later))
                self._plain(post, "alert", later, *reminder(later, now), f"page-{later.pages}")
            elif episode != read:  # it went quiet unnoticed (its incidents closed before it was kept)
                post.add(self._episodes.put_request(episode))
            else:
                continue
            try:
                self._courier.commit(post.items)
            except ClientError as error:
                if not cancelled_on(error, {0}):
                    raise
                continue  # another sweep wrote it first
            self._courier.deliver(*post.letters)

    def _still_held(self, episode: Episode, now: datetime) -> Episode:
        """The episode without the incidents it lists that are closed or gone."""
        for incident_id in sorted(episode.holding):
            incident = self._incidents.get(episode.endpoint, incident_id)
            if incident is None or incident.closed_at is not None:
                at = datetime.fromisoformat(incident.closed_at) if incident and incident.closed_at else now
                episode = leave(episode, incident_id, at)
        return episode

    def _plain(self, post: Post, kind: str, episode: Episode, subject: str, text: str, what: str) -> None:
        """A plain message about an episode; its dedup id from the episode and what it says."""
        dedup = dedup_of(episode.endpoint, f"{episode.sk}#{episode.opened_at}#{what}")
        letter = self._courier.plain_letter(
            "alert" if kind == "alert" else "inform", episode.endpoint, subject, text, dedup
        )
        post.add(self._courier.put_request(letter))
        post.letters.append(letter)
