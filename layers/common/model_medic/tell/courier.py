"""The courier: letters sent channel by channel, each marked sent once AWS took it; what others left, sent first."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from model_medic.platform import aws
from model_medic.platform.clock import Clock, utc_now
from model_medic.platform.observability import logger, metrics
from model_medic.store.journal import CHANNELS, Letter, LetterKind, Outbox
from model_medic.store.table import epoch
from model_medic.tell.outcome import Notifier, Outcome

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
        letter (a throttle stops the drain until the next invocation). Returns how many were sent."""
        sent = 0
        now = self._clock()
        for letter in self._outbox.pending()[:DRAIN_LIMIT]:
            if time_left is not None and time_left() < DRAIN_RESERVE:
                break
            if letter.owner != self._owner and letter.lease_until > epoch(now):
                continue  # its writer is sending it
            taken = letter if letter.owner == self._owner else self._outbox.take(letter, self._owner, now, LEASE)
            if taken is None:
                continue  # sent meanwhile, or taken by another invocation
            done = self._drained(taken, now)
            if done == "stopped":
                break
            sent += done == "sent"
        if sent:
            metrics.add_metric(name="LettersDrained", unit="Count", value=sent)
        return sent

    def _drained(self, letter: Letter, now: datetime) -> Literal["sent", "refused", "stopped"]:
        """One pending letter sent, or refused by AWS for good (left for later), or stopped by a
        throttle or a fault (the drain stops there, for the next invocation)."""
        try:
            self.deliver(letter)
        except (ClientError, BotoCoreError) as error:
            metrics.add_metric(name="LettersNotSent", unit="Count", value=1)
            if aws.is_transient(error):
                logger.warning("pending letter not sent yet", dedup_id=letter.dedup_id, error=str(error))
                return "stopped"
            logger.error("pending letter refused; tried again later", dedup_id=letter.dedup_id, error=str(error))
            aws.persist(partial(self._outbox.later, letter, now + REFUSED_AGAIN, str(error)))
            return "refused"
        return "sent"
