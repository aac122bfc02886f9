"""What a decision came to, and how people (SNS) and machines (EventBridge) are told of it (docs/rooms/tell.md)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from model_medic.platform.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_sns import SNSClient

Result = Literal["acted", "dry-run", "skipped", "bound-reached", "failed", "recovered", "escalated", "stopped"]

EVENT_SOURCE = "model-medic"
EVENT_DETAIL_TYPE = "Remediation Outcome"

# Results a person should hear about; skips (mode off, cool-down, state, preconditions)
# stay in the ledger and on EventBridge so that a flapping alarm does not flood inboxes.
_ANNOUNCED: frozenset[str] = frozenset({"acted", "dry-run", "bound-reached", "failed", "recovered", "escalated"})
_CRITICAL: frozenset[str] = frozenset({"bound-reached", "failed", "escalated"})
_SUBJECT_LIMIT = 100  # SNS rejects longer subjects


@dataclass(frozen=True)
class Outcome:
    """One decision of one action function about one alarm transition."""

    action: str
    endpoint: str
    result: Result
    reason: str
    mode: str
    alarm_name: str
    alarm_arn: str
    transition: str
    state: str
    at: str
    gate: str = ""  # which gate decided a skip: state, mode, cooldown, budget, precondition, bound
    changes: dict[str, Any] = field(default_factory=dict)
    replayed: bool = False
    critical: bool = False  # the action itself calls for a person (a rollback)
    incident: str = ""  # the incident this decision belongs to (incidents.py)

    @property
    def severity(self) -> Literal["critical", "info"]:
        return "critical" if self.critical or self.result in _CRITICAL else "info"

    @property
    def announced(self) -> bool:
        return self.result in _ANNOUNCED

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def sentence(self) -> str:
        """The outcome as a person reads it in an e-mail."""
        verb = {
            "acted": "did",
            "dry-run": "would have done (dry run, nothing changed)",
            "skipped": "skipped",
            "bound-reached": "stopped at a bound",
            "failed": "FAILED",
            "recovered": "saw a recovery after",
            "escalated": "ESCALATES (the remediation did not help)",
        }[self.result]
        lines = [
            f"Model Medic {verb}: {self.action} on endpoint {self.endpoint}.",
            "",
            f"Why: {self.reason}",
            f"Alarm: {self.alarm_name} went to {self.state} at {self.transition.rsplit('|', 1)[-1]}",
            f"Mode: {self.mode}",
        ]
        if self.incident:
            lines.append(f"Incident: {self.incident}")
        if self.changes:
            lines += ["", "Changes:"] + [f"  {key}: {value}" for key, value in self.changes.items()]
        return "\n".join(lines)


class Notifier:
    """Tells people (SNS) and machines (EventBridge) what an action function decided."""

    def __init__(
        self,
        sns: SNSClient,
        events: EventBridgeClient,
        info_topic_arn: str,
        critical_topic_arn: str,
        event_bus_name: str,
    ) -> None:
        self._sns = sns
        self._events = events
        self._topics = {"info": info_topic_arn, "critical": critical_topic_arn}
        self._bus = event_bus_name

    def alert(self, subject: str, text: str, dedup_id: str = "") -> None:
        """A plain message to the critical topic: a standing problem, not a decision."""
        self._plain("critical", subject, text, dedup_id)

    def inform(self, subject: str, text: str, dedup_id: str = "") -> None:
        """A plain message to the info topic (the daily summary, the end of a paging episode)."""
        self._plain("info", subject, text, dedup_id)

    def _plain(self, topic: str, subject: str, text: str, dedup_id: str) -> None:
        if dedup_id:
            self._sns.publish(
                TopicArn=self._topics[topic],
                Subject=_subject(subject),
                Message=text,
                MessageAttributes=_attributes(("dedup_id", dedup_id)),
            )
        else:
            self._sns.publish(TopicArn=self._topics[topic], Subject=_subject(subject), Message=text)

    def publish(self, outcome: Outcome, dedup_id: str = "") -> None:
        """The SNS message a person reads (info, or critical by severity); `dedup_id`: the same
        in every copy of this message, so a consumer can drop a repeat - a field of the machine
        bodies (SNS sends message attributes only with a String message structure, not this JSON
        one: docs/aws-behaviours.md, "SNS"), and a `dedup_id` attribute all the same."""
        text = outcome.sentence()
        machine = json.dumps(outcome.as_dict() | ({"dedup_id": dedup_id} if dedup_id else {}), default=str)
        subject = f"[{outcome.severity.upper()}] Model Medic {outcome.result}: {outcome.action} {outcome.endpoint}"
        self._sns.publish(
            TopicArn=self._topics[outcome.severity],
            Subject=_subject(subject),
            MessageStructure="json",
            Message=json.dumps(
                {
                    "default": text,
                    "email": text,
                    "email-json": machine,
                    "sqs": machine,
                    "lambda": machine,
                    "http": machine,
                    "https": machine,
                    "sms": text[:140],
                }
            ),
            MessageAttributes=_attributes(
                ("result", outcome.result),
                ("action", outcome.action),
                ("endpoint", outcome.endpoint),
                ("incident", outcome.incident),
                ("dedup_id", dedup_id),
            ),
        )

    def put_event(self, outcome: Outcome, dedup_id: str = "") -> None:
        """The `Remediation Outcome` event on EventBridge; `dedup_id`: a field of its detail, the
        same in every copy of this event."""
        detail = outcome.as_dict() | ({"dedup_id": dedup_id} if dedup_id else {})
        response = self._events.put_events(
            Entries=[
                {
                    "Source": EVENT_SOURCE,
                    "DetailType": EVENT_DETAIL_TYPE,
                    "Detail": json.dumps(detail, default=str),
                    # The alarm, when an alarm is behind it (a scale-back by the sweep has none).
                    "Resources": [outcome.alarm_arn] if outcome.alarm_arn else [],
                    "EventBusName": self._bus,
                }
            ]
        )
        if response.get("FailedEntryCount"):
            entry = response["Entries"][0]
            logger.error("outcome event rejected", code=entry.get("ErrorCode"), message=entry.get("ErrorMessage"))
            raise RuntimeError(f"EventBridge rejected the outcome event: {entry.get('ErrorCode')}")


def _attributes(*pairs: tuple[str, str]) -> dict[str, Any]:
    """SNS message attributes; SNS refuses an attribute whose value is empty ("Name, type, and
    value must not be empty or null", API_MessageAttributeValue): one without a value is left out."""
    return {name: {"DataType": "String", "StringValue": value} for name, value in pairs if value}


def _subject(text: str) -> str:
    # SNS subjects: ASCII, no line breaks, at most 100 characters.
    clean = "".join(c if 32 <= ord(c) < 127 else "?" for c in text)
    return clean if len(clean) <= _SUBJECT_LIMIT else clean[: _SUBJECT_LIMIT - 1] + "~"


def answer(outcomes: list[Outcome]) -> dict[str, Any]:
    """What a sweep or a rollout did, as Lambda returns it (a step replayed from an earlier
    attempt is not news)."""
    return {"outcomes": [o.as_dict() for o in outcomes if not o.replayed], "rejected": []}
