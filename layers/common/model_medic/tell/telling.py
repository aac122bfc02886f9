"""Recording decisions and telling people, for the control loop: a decision and its letters in one write, then sent."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from model_medic.platform import aws
from model_medic.platform.observability import logger, metrics
from model_medic.store.claims import Refused
from model_medic.store.incidents import Conflict, Incident
from model_medic.store.journal import LetterKind
from model_medic.store.table import cancelled_on
from model_medic.tell.courier import Post, dedup_of, fresh_dedup
from model_medic.tell.outcome import Outcome
from model_medic.tell.paging import Pager, Standing

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
        self._pager = Pager(parts.unit.name, parts.episodes, parts.incidents, parts.courier, parts.paging, parts.clock)
        self._clock = parts.clock
        self._request_id = parts.request_id

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
