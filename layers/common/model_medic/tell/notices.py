"""Standing problems of the data jobs told once: the notice, its decision and its letter in one write, then sent."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Literal

from botocore.exceptions import ClientError

from model_medic.platform import aws
from model_medic.store.table import conditions_failed
from model_medic.tell.telling import fresh_dedup

if TYPE_CHECKING:
    from model_medic.store.journal import Journal, Letter
    from model_medic.tell.outcome import Outcome
    from model_medic.tell.telling import Courier


@dataclass(frozen=True)
class Said:
    """What telling a problem says: a plain message (an alert to the critical topic, or an
    information) and the decision it records in the ledger, if any."""

    kind: Literal["alert", "inform"]
    subject: str
    text: str
    decision: Outcome | None = None


class Notices:
    """Problems told once per endpoint and notice key, until the problem ends (`clear`): the
    `NOTICE#` items, each written in the transaction of the decision and the letter that tell
    it (docs/rooms/tell.md, "The outbox: never lose a word")."""

    def __init__(self, journal: Journal, courier: Courier) -> None:
        self._journal = journal
        self._courier = courier
        self._unsent: list[Letter] = []

    def tell(self, endpoint: str, notices: Sequence[str], at: datetime, say: Callable[[list[str]], Said]) -> list[str]:
        """The notices not told yet, written with what `say(them)` says of them - its decision and
        its letter - in one transaction, on the condition that none of them is there; those a
        concurrent invocation wrote meanwhile are left out and the write built again. Returns the
        notices told now ([]: every one was told already); `send` sends the letter."""
        fresh = list(dict.fromkeys(notices))
        while fresh:
            said = say(fresh)
            # Random: a problem that ends and comes back is news, not a repeat; every copy of this
            # letter carries the one kept with it in the outbox.
            letter = self._courier.plain_letter(said.kind, endpoint, said.subject, said.text, fresh_dedup())
            items = [self._journal.notice_request(endpoint, notice, at) for notice in fresh]
            if said.decision is not None:
                items.append(self._journal.decision_request(said.decision, ""))
            items.append(self._courier.put_request(letter))
            try:
                aws.persist(partial(self._courier.commit, items))
            except ClientError as error:
                told = conditions_failed(error)
                if not told or not told <= set(range(len(fresh))):
                    raise
                fresh = [notice for index, notice in enumerate(fresh) if index not in told]
                continue
            self._unsent.append(letter)
            return fresh
        return []

    def tell_once(self, endpoint: str, notice: str, at: datetime, said: Said) -> bool:
        """One notice told once (`tell`): True when it is told now."""
        return bool(self.tell(endpoint, [notice], at, lambda _: said))

    def send(self) -> None:
        """The letters this invocation wrote, sent channel by channel and marked sent. A failure
        raises: the letter stays in the outbox, and the next invocation's drain sends it (its
        copies carry one deduplication id)."""
        unsent, self._unsent = self._unsent, []
        self._courier.deliver(*unsent)

    def clear(self, endpoint: str, notice: str) -> None:
        """The problem ended: told again the next time it is noticed."""
        self._journal.clear_notice(endpoint, notice)
