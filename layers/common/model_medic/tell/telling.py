"""Telling people: a decision and its letters in one write, then sent; one page per standing condition."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from functools import cached_property, partial
from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from model_medic.platform import aws
from model_medic.platform.clock import Clock, utc_now
from model_medic.platform.observability import logger, metrics
from model_medic.store.claims import Refused
from model_medic.store.episodes import Episode, Episodes
from model_medic.store.incidents import Conflict, Incident, Incidents
from model_medic.store.journal import CHANNELS, Letter, LetterKind, Outbox
from model_medic.store.table import cancelled_on, epoch
from model_medic.tell.outcome import Notifier, Outcome

# A transaction whose optional parts (a mark, an episode) met a concurrent writer is built again
# from what stands now, this many times at most.
_ATTEMPTS = 3

if TYPE_CHECKING:
    from model_medic.control.loop import Parts


@dataclass(frozen=True)
class Alert:
    """A message told once per incident and cause (a ledger mark `<incident>#<cause>`): critical,
    or (`kind` inform) to the information topic."""

    cause: str
    subject: str
    text: str
    kind: LetterKind = "alert"


class Telling:
    """One unit's decision records, messages and events."""

    def __init__(self, parts: Parts) -> None:
        self._action = parts.unit.name
        self._journal = parts.journal
        self._incidents = parts.incidents
        self._courier = parts.courier
        self._parts = parts
        self._clock = parts.clock
        self._request_id = parts.request_id

    @cached_property
    def _pager(self) -> Pager:
        """The unit's pager, built the first time a standing condition is met, left or followed."""
        p = self._parts
        return Pager(p.unit.name, p.episodes(), p.incidents, p.courier, p.paging, p.clock)

    def base(self, endpoint: str, alarm_name: str, alarm_arn: str, transition: str, state: str) -> Outcome:
        """A decision not made yet: skipped, for no reason so far."""
        return Outcome(
            action=self._action,
            endpoint=endpoint,
            result="skipped",
            reason="",
            mode="",
            alarm_name=alarm_name,
            alarm_arn=alarm_arn,
            transition=transition,
            state=state,
            at=self._clock().isoformat(),
        )

    def base_of(self, incident: Incident) -> Outcome:
        return replace(
            self.base(incident.endpoint, incident.alarm_name, incident.alarm_arn, incident.id, "ALARM"),
            incident=incident.id,
        )

    # --- decisions that did not act -------------------------------------------------------

    def note(
        self,
        incident: Incident,
        outcome: Outcome,
        critical: bool = False,
        facts: dict[str, Any] | None = None,
        standing: Standing | None = None,
    ) -> Outcome:
        """Record a decision that did not act - once while it stays the same, not every sweep.
        `facts`: what the incident remembers of it (a rollout's last verdict); `critical`: a
        person hears of it too, once per incident and gate; `standing`: the condition it is a
        case of, paged once per episode."""
        note = noted(outcome)
        if note == incident.last_note:
            return replace(outcome, replayed=True)
        remembered = {**(incident.facts or {}), **facts} if facts else incident.facts
        alert = None
        if critical:
            alert = Alert(outcome.gate, f"Model Medic: {self._action} on {incident.endpoint}", outcome.reason)
        try:
            self.told(replace(incident, last_note=note, facts=remembered), outcome, alert=alert, standing=standing)
        except Conflict:
            return replace(outcome, replayed=True)
        return outcome

    def rest(self, incident: Incident, outcome: Outcome) -> Outcome:
        """The incident saved as it now rests (a step waiting, verifying, stopped), with the decision
        that says so - one write, so that a retry never finds the state without its decision. The
        decision noted last is not recorded again (the incident alone is saved). Conflict when
        another evaluation saved the incident first."""
        note = noted(outcome)
        if note == incident.last_note:
            self._incidents.persist(incident)
            return replace(outcome, replayed=True)
        self.told(replace(incident, last_note=note), outcome)
        return outcome

    def refused(self, incident: Incident, base: Outcome, refused: Refused) -> Outcome:
        """A cool-down or budget refusal is looked at again when it can clear, never final."""
        when = f"; looked at again from {refused.until.isoformat()}" if refused.until else ""
        outcome = replace(base, gate=refused.gate, reason=refused.reason + when)
        if refused.gate == "budget":
            # Automation is churning: a person hears of it, once per episode of spent budget.
            page = (f"Model Medic budget spent on {incident.endpoint}", outcome.reason)
            return self.note(incident, outcome, standing=Standing("budget", "-", alert=page))
        return self.note(incident, outcome)

    def decided(self, outcome: Outcome, record: bool = True) -> Outcome:
        """A decision outside an incident's write, recorded and told as it is, every time (the
        caller keeps it from repeating): the decision and its letter in one transaction, then sent."""
        if record:
            letter = self._courier.outcome_letter(outcome, fresh_dedup())
            decision = self._journal.decision_request(outcome, self._request_id, letter.dedup_id)
            self._courier.commit([decision, self._courier.put_request(letter)])
            self._logged(outcome)
            self._courier.deliver(letter)
        return outcome

    # --- decisions written with the incident ----------------------------------------------

    def told(
        self,
        incident: Incident,
        outcome: Outcome,
        key: str | None = None,
        *,
        alert: Alert | None = None,
        standing: Standing | None = None,
        closing: bool = False,
        noting: Outcome | None = None,
    ) -> Incident:
        """The incident saved, the decision recorded and its letters written, in one transaction;
        then the letters sent. `key`: the decision's (a step's id, `<incident>#recovered`), which
        its messages' deduplication id derives from. `closing`: the incident leaves the paging
        episodes it held. `noting`: a decision recorded with this one in the same write, an
        event but no message (what led to it). Conflict when another evaluation saved the
        incident first."""
        for attempt in range(_ATTEMPTS):
            post, told = self._post(incident, outcome, key, alert, standing, closing, noting)
            try:
                saved = aws.persist(partial(self._incidents.save, incident, post.items))
            except ClientError as error:
                if attempt + 1 < _ATTEMPTS and cancelled_on(error, {i + 1 for i in post.optional}):
                    continue  # a mark or an episode was written meanwhile: build it again
                raise
            self._logged(told)
            self._courier.deliver(*post.letters)
            return saved
        raise AssertionError("unreachable")

    def step_acted(self, incident: Incident, base: Outcome) -> tuple[Incident, Outcome]:
        """The step in flight's 'acted' decision recorded and told with the incident that
        remembers it was told (its key: the step's id)."""
        step = incident.in_flight
        outcome = replace(
            base,
            result="acted",
            reason=step.summary,
            at=step.at,
            changes={
                "changes": [change.as_dict() for change in step.changes],
                "results": list(step.results),
                "step": step.number,
            },
        )
        return self.told(replace(incident, pending=step.told_()), outcome, step.id), outcome

    def _post(
        self,
        incident: Incident,
        outcome: Outcome,
        key: str | None,
        alert: Alert | None,
        standing: Standing | None,
        closing: bool,
        noting: Outcome | None = None,
    ) -> tuple[Post, Outcome]:
        """The transaction's items besides the incident, read from what stands now."""
        post = Post()
        if noting is not None:
            self._noted(post, noting, f"{key or incident.id}#{noting.gate}")
        page = True
        if standing is not None:
            page = self._pager.met(post, incident.endpoint, incident.id, standing)
        if closing:
            closed = incident.closed_at
            self._pager.left(post, incident.endpoint, incident.id, self._clock() if closed is None else _time(closed))
        dedup = dedup_of(outcome.endpoint, key) if key else fresh_dedup()
        letter = self._courier.outcome_letter(outcome, dedup, page=page, key=key or "")
        post.add(self._journal.decision_request(outcome, self._request_id, key or dedup))
        post.add(self._courier.put_request(letter))
        post.letters.insert(0, letter)
        if alert is not None:
            self._alert(post, incident, alert)
        return post, outcome

    def _noted(self, post: Post, outcome: Outcome, key: str) -> None:
        letter = self._courier.outcome_letter(outcome, dedup_of(outcome.endpoint, key), page=False, key=key)
        post.add(self._journal.decision_request(outcome, self._request_id, key))
        post.add(self._courier.put_request(letter))
        post.letters.append(letter)

    def _alert(self, post: Post, incident: Incident, alert: Alert) -> None:
        mark = f"{incident.id}#{alert.cause}"
        if self._journal.marked(incident.endpoint, mark):
            return  # told already in this incident
        letter = self._courier.plain_letter(
            alert.kind, incident.endpoint, alert.subject, alert.text, dedup_of(incident.endpoint, mark)
        )
        post.add(self._journal.mark_request(incident.endpoint, mark, self._clock()), optional=True)
        post.add(self._courier.put_request(letter))
        post.letters.append(letter)

    # --- outside incidents ------------------------------------------------------------------

    def acted_once(self, outcome: Outcome, key: str, also: list[dict[str, Any]] | None = None) -> Outcome:
        """An 'acted' decision made outside an incident (a scale-back), recorded and told once per
        key: its mark, the decision, its letter and `also` (what the change leaves in the ledger)
        in one transaction. Met again (a retry), only `also` is written, on its own."""
        also = list(also or [])
        letter = self._courier.outcome_letter(outcome, dedup_of(outcome.endpoint, key), key=key)
        items = [
            self._journal.mark_request(outcome.endpoint, key, self._clock()),
            self._journal.decision_request(outcome, self._request_id, key),
            self._courier.put_request(letter),
        ]
        try:
            aws.persist(partial(self._courier.commit, items + also))
        except ClientError as error:
            rest = set(range(len(items), len(items) + len(also)))
            if also and cancelled_on(error, rest):
                return self.acted_once(outcome, key)  # what `also` updates is gone: the decision alone
            if not cancelled_on(error, {0}):
                raise
            if also:
                aws.persist(partial(self._courier.commit, also))  # told before; what it leaves, now
            return replace(outcome, replayed=True)
        self._logged(outcome)
        self._courier.deliver(letter)
        return outcome

    def follow_episodes(self, endpoints: list[str]) -> None:
        """The sweep's reminders and end lines of the unit's paging episodes (`Pager.follow`)."""
        self._pager.follow(endpoints)

    def _logged(self, outcome: Outcome) -> None:
        """A decision recorded: a metric and a structured log line."""
        metrics.add_metric(name=f"Outcome_{outcome.result}", unit="Count", value=1)
        logger.info(
            "decision",
            action=outcome.action,
            endpoint=outcome.endpoint,
            result=outcome.result,
            gate=outcome.gate,
            reason=outcome.reason,
            mode=outcome.mode,
            incident=outcome.incident,
        )


def noted(outcome: Outcome) -> str:
    """What an incident's `last_note` holds of a decision that did not act."""
    return f"{outcome.result}|{outcome.gate}|{outcome.reason}"


def _time(iso: str) -> datetime:
    return datetime.fromisoformat(iso)


# How long the invocation that wrote a letter sends it alone: past it (the writer died and
# Lambda did not retry it) another invocation takes it over. Lambda's own retries keep the
# request id (docs/rooms/tell.md), so they take their letters at once.
LEASE = timedelta(seconds=30)
# A letter AWS refused for good (not a throttle) is tried again this much later.
REFUSED_AGAIN = timedelta(minutes=15)
# At most this many letters are taken over per invocation, and only with this many seconds left.
DRAIN_LIMIT = 25
DRAIN_RESERVE = 20.0


def dedup_of(endpoint: str, key: str) -> str:
    """The deduplication id of the message told once under `key`: the same in every invocation."""
    return hashlib.sha256(f"{endpoint}|{key}".encode()).hexdigest()[:32]


def fresh_dedup() -> str:
    """The deduplication id of a message told once by its decision's own write."""
    return uuid.uuid4().hex


@dataclass
class Post:
    """A transaction being composed: its items, the letters to send once it is written, and which
    items' conditions may fail (a mark, an episode written meanwhile: the caller builds it again)."""

    items: list[dict[str, Any]] = field(default_factory=list)
    letters: list[Letter] = field(default_factory=list)
    optional: set[int] = field(default_factory=set)  # indexes of items whose condition may fail

    def add(self, item: dict[str, Any], optional: bool = False) -> None:
        if optional:
            self.optional.add(len(self.items))
        self.items.append(item)


class Courier:
    """Writes letters into the outbox (in the caller's transaction), sends them, and sends what
    earlier invocations left unsent."""

    def __init__(self, outbox: Outbox, notifier: Notifier, owner: str, clock: Clock = utc_now) -> None:
        self._outbox = outbox
        self._notifier = notifier
        # Without a request id (no Lambda context) the invocation is its own owner all the same.
        self._owner = owner or f"local-{uuid.uuid4().hex}"
        self._clock = clock  # the wall clock: leases are real time, whatever the invocation's clock says

    # --- writing -----------------------------------------------------------------------------

    def outcome_letter(self, outcome: Outcome, dedup_id: str, page: bool = True, key: str = "") -> Letter:
        """An outcome's letter: a message to people when it is announced (and `page` allows it),
        an event for machines always; `key`: the one it is told once under (its channels' marks)."""
        channels = {"event"} | ({"sns"} if outcome.announced and page else set())
        return self._letter(outcome.endpoint, "outcome", outcome.severity, asdict(outcome), channels, dedup_id, key)

    def plain_letter(self, kind: LetterKind, endpoint: str, subject: str, text: str, dedup_id: str) -> Letter:
        """A plain message: an alert (critical topic) or an information (info topic)."""
        severity = "critical" if kind == "alert" else "info"
        body = {"subject": subject, "text": text}
        return self._letter(endpoint, kind, severity, body, {"sns"}, dedup_id)

    def _letter(
        self,
        endpoint: str,
        kind: LetterKind,
        severity: Any,
        body: dict[str, Any],
        channels: set[str],
        dedup_id: str,
        key: str = "",
    ) -> Letter:
        now = self._clock()
        return Letter(
            dedup_id=dedup_id,
            severity=severity,
            created_at=now.isoformat(),
            endpoint=endpoint,
            kind=kind,
            body=body,
            channels=frozenset(channels),
            owner=self._owner,
            lease_until=epoch(now + LEASE),
            expiration=epoch(now + self._outbox.retention),
            key=key,
        )

    def put_request(self, letter: Letter) -> dict[str, Any]:
        return self._outbox.put_request(letter)

    def commit(self, items: list[dict[str, Any]]) -> None:
        """A transaction of a decision (or a mark) and its letters, without an incident."""
        self._outbox.commit(items)

    # --- sending -----------------------------------------------------------------------------

    def deliver(self, *letters: Letter) -> None:
        """Each letter's channels sent, one by one, each marked sent once AWS took it (the letter
        deleted after its last). A failure raises: the letter stays, and the retry sends what is
        not marked (a crash between a send and its mark sends that one again, same dedup id)."""
        for letter in letters:
            outcome = Outcome(**letter.body) if letter.kind == "outcome" else None
            for channel in [c for c in CHANNELS if c in letter.channels]:
                self._send(letter, channel, outcome)
                letter = aws.persist(partial(self._outbox.sent, letter, channel, self._clock()))

    def _send(self, letter: Letter, channel: str, outcome: Outcome | None) -> None:
        """One channel of a letter; `outcome`: an outcome letter's, read once for all its channels."""
        body = letter.body
        if outcome is not None:
            if channel == "sns":
                self._notifier.publish(outcome, letter.dedup_id)
            else:
                self._notifier.put_event(outcome, letter.dedup_id)
        elif letter.kind == "alert":
            self._notifier.alert(body["subject"], body["text"], letter.dedup_id, letter.endpoint)
        else:
            self._notifier.inform(body["subject"], body["text"], letter.dedup_id, letter.endpoint)

    def drain(self, time_left: Callable[[], float] | None = None) -> int:
        """What earlier invocations wrote and did not send, sent now: critical first, then oldest
        first; their own retries' letters at once, others' once their lease is over. A letter AWS
        refuses is left for later and logged; this never fails the invocation over another's
        letter: a throttle, or an outbox it cannot read or lease from (another function's drain
        writing the same partition), stops the drain until the next invocation. Returns how many
        were sent."""
        sent = 0
        now = self._clock()
        try:
            pending = self._outbox.pending()[:DRAIN_LIMIT]
        except (ClientError, BotoCoreError) as error:
            logger.warning("outbox not read; left for the next invocation", error=str(error))
            pending = []
        for letter in pending:
            if time_left is not None and time_left() < DRAIN_RESERVE:
                break
            if letter.owner != self._owner and letter.lease_until > epoch(now):
                continue  # its writer is sending it
            taken = self._taken(letter, now)
            if taken == "stopped":
                break
            if taken is None:
                continue  # sent meanwhile, or taken by another invocation
            done = self._drained(taken, now)
            if done == "stopped":
                break
            sent += done == "sent"
        if sent:
            metrics.add_metric(name="LettersDrained", unit="Count", value=sent)
        return sent

    def _taken(self, letter: Letter, now: datetime) -> Letter | Literal["stopped"] | None:
        """The letter leased to this invocation (its own at once); None when another holds it or
        it was sent; "stopped" when the lease could not be written (a throttle, a transaction of
        another drain on the letter): the drain stops there, for the next invocation."""
        if letter.owner == self._owner:
            return letter
        try:
            return self._outbox.take(letter, self._owner, now, LEASE)
        except (ClientError, BotoCoreError) as error:
            logger.warning(
                "pending letter not taken; left for the next invocation", dedup_id=letter.dedup_id, error=str(error)
            )
            return "stopped"

    def _drained(self, letter: Letter, now: datetime) -> Literal["sent", "refused", "stopped"]:
        """One pending letter sent, or refused by AWS for good (left for later), or stopped by a
        throttle or a fault (the drain stops there, for the next invocation)."""
        try:
            self.deliver(letter)
        except (ClientError, BotoCoreError) as error:
            if aws.is_transient(error):
                logger.warning("pending letter not sent yet", dedup_id=letter.dedup_id, error=str(error))
                return "stopped"
            # Refused for good (not a throttle): what the stack's LettersNotSentAlarm counts.
            metrics.add_metric(name="LettersNotSent", unit="Count", value=1)
            logger.error("pending letter refused; tried again later", dedup_id=letter.dedup_id, error=str(error))
            try:
                aws.persist(partial(self._outbox.later, letter, now + REFUSED_AGAIN, str(error)))
            except (ClientError, BotoCoreError) as failed:
                # Not held back: the next drain tries it again once this lease is over.
                logger.warning("refused letter not held back", dedup_id=letter.dedup_id, error=str(failed))
                return "stopped"
            return "refused"
        return "sent"


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
                # A concurrent transaction on the episode (TransactionConflict) is tried again in
                # place; the retry then finds the episode written (its condition fails) or writes it.
                aws.persist(partial(self._courier.commit, post.items))
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
