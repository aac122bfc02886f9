"""What a decision came to, and how people (SNS) and machines (EventBridge) are told of it (docs/rooms/tell.md)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from model_medic.platform.observability import logger
from model_medic.tell import messages
from model_medic.tell.where import Where

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_sns import SNSClient

Result = Literal["acted", "dry-run", "skipped", "bound-reached", "failed", "recovered", "escalated", "stopped"]

EVENT_SOURCE = "model-medic"
EVENT_DETAIL_TYPE = "Remediation Outcome"

# Results a person should hear about; skips (mode off, cool-down, state, preconditions)
# stay in the ledger and on EventBridge so that a flapping alarm does not flood inboxes.
# A rollout that stopped (changed outside Model Medic, or never deployed) is told at info level.
ANNOUNCED: frozenset[str] = frozenset(
    {"acted", "dry-run", "bound-reached", "failed", "recovered", "escalated", "stopped"}
)
_CRITICAL: frozenset[str] = frozenset({"bound-reached", "failed", "escalated"})


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
        return self.result in ANNOUNCED

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def sentence(self, where: Where | None = None) -> str:
        """The outcome as a person reads it in an e-mail (`messages.body`)."""
        return messages.body(self, where or Where())


class Notifier:
    """Tells people (SNS) and machines (EventBridge) what an action function decided."""

    def __init__(
        self,
        sns: SNSClient,
        events: EventBridgeClient,
        info_topic_arn: str,
        critical_topic_arn: str,
        event_bus_name: str,
        where: Where | None = None,
    ) -> None:
        self._sns = sns
        self._events = events
        self._topics = {"info": info_topic_arn, "critical": critical_topic_arn}
        self._bus = event_bus_name
        self._where = where or Where()

    def alert(self, subject: str, text: str, dedup_id: str = "", endpoint: str = "") -> None:
        """A plain message to the critical topic: a standing problem, not a decision; `endpoint`:
        the one it is about, whose links it carries."""
        self._plain("critical", subject, text, dedup_id, endpoint)

    def inform(self, subject: str, text: str, dedup_id: str = "", endpoint: str = "") -> None:
        """A plain message to the info topic (the daily summary, the end of a paging episode)."""
        self._plain("info", subject, text, dedup_id, endpoint)

    def _plain(self, topic: str, subject: str, text: str, dedup_id: str, endpoint: str) -> None:
        title = messages.plain_subject(topic, subject, self._where)
        said = messages.plain_body(text, self._where, endpoint)
        if dedup_id:
            self._sns.publish(
                TopicArn=self._topics[topic],
                Subject=title,
                Message=said,
                MessageAttributes=_attributes(("dedup_id", dedup_id)),
            )
        else:
            self._sns.publish(TopicArn=self._topics[topic], Subject=title, Message=said)

    def publish(self, outcome: Outcome, dedup_id: str = "") -> None:
        """The SNS message a person reads (info, or critical by severity); `dedup_id`: the same
        in every copy of this message, so a consumer can drop a repeat - a field of the machine
        bodies (SNS sends message attributes only with a String message structure, not this JSON
        one: docs/aws-behaviours.md, "SNS"), and a `dedup_id` attribute all the same."""
        text = messages.body(outcome, self._where)
        machine = json.dumps(self._detail(outcome, dedup_id), default=str)
        self._sns.publish(
            TopicArn=self._topics[outcome.severity],
            Subject=messages.subject(outcome, self._where),
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
                    "sms": messages.sms(outcome, self._where),
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
        detail = self._detail(outcome, dedup_id)
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

    def _detail(self, outcome: Outcome, dedup_id: str) -> dict[str, Any]:
        """The outcome as machines read it, with where it comes from and its console links."""
        where = self._where.fields() | {"links": self._where.links(outcome.endpoint, outcome.alarm_arn)}
        return outcome.as_dict() | where | ({"dedup_id": dedup_id} if dedup_id else {})


def _attributes(*pairs: tuple[str, str]) -> dict[str, Any]:
    """SNS message attributes; SNS refuses an attribute whose value is empty ("Name, type, and
    value must not be empty or null", API_MessageAttributeValue): one without a value is left out."""
    return {name: {"DataType": "String", "StringValue": value} for name, value in pairs if value}


def answer(outcomes: list[Outcome]) -> dict[str, Any]:
    """What a sweep or a rollout did, as Lambda returns it (a step replayed from an earlier
    attempt is not news)."""
    return {"outcomes": [o.as_dict() for o in outcomes if not o.replayed], "rejected": []}
