"""What a decision came to, and how people (SNS) and machines (EventBridge) are told of it (docs/rooms/tell.md)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from botocore.exceptions import ClientError

from model_medic.fleet.alarm_catalog import dashboard_name
from model_medic.platform.observability import logger
from model_medic.report import keys

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_sns import SNSClient


# Every kind of decision (`Outcome.result`); `retrained`: a retraining pipeline Model Medic started
# succeeded - not a recovery, which is the alarm's own return to OK.
Result = Literal[
    "acted", "dry-run", "skipped", "bound-reached", "failed", "retrained", "recovered", "escalated", "stopped"
]

EVENT_SOURCE = "model-medic"
EVENT_DETAIL_TYPE = "Remediation Outcome"

# Results a person should hear about; skips (mode off, cool-down, state, preconditions)
# stay in the ledger and on EventBridge so that a flapping alarm does not flood inboxes.
# A rollout that stopped (changed outside Model Medic, or never deployed) is told at info level.
ANNOUNCED: frozenset[str] = frozenset(
    {"acted", "dry-run", "bound-reached", "failed", "retrained", "recovered", "escalated", "stopped"}
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
        """The outcome as a person reads it in an e-mail (`body`)."""
        return body(self, where or Where())


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
        title = plain_subject(topic, subject, self._where)
        said = plain_body(text, self._where, endpoint)
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
        text = body(outcome, self._where)
        machine = json.dumps(self._detail(outcome, dedup_id), default=str)
        self._sns.publish(
            TopicArn=self._topics[outcome.severity],
            Subject=subject(outcome, self._where),
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
                    "sms": sms(outcome, self._where),
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
            # PutEvents answers HTTP 200 with the entry failed: raised as the error AWS would have
            # answered for the call, so callers tell a throttle or a fault (InternalFailure,
            # ThrottlingException: retryable, per the API reference) from a refusal (`aws.is_transient`).
            entry = response["Entries"][0]
            code, message = str(entry.get("ErrorCode") or "InternalFailure"), str(entry.get("ErrorMessage") or "")
            logger.error("outcome event rejected", code=code, detail=message)
            rejected = {"Code": code, "Message": f"EventBridge rejected the outcome event: {message}"}
            raise ClientError(
                {"Error": rejected, "ResponseMetadata": response.get("ResponseMetadata", {})}, "PutEvents"
            )

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


# SNS takes a subject of "less than 100 characters" (Publish's Subject constraint; docs/aws-behaviours.md,
# "S3, SNS, KMS and IAM details"): at most 99. A phone's lock screen shows about 60.
SUBJECT_LIMIT = 99
PHONE = 60

_VERBS = {
    "acted": "did",
    "dry-run": "would have done (dry run, nothing changed)",
    "skipped": "skipped",
    "bound-reached": "stopped at a bound",
    "failed": "FAILED",
    "retrained": "saw the retraining pipeline succeed (no recovery yet)",
    "recovered": "saw a recovery after",
    "escalated": "ESCALATES (the remediation did not help)",
    "stopped": "stopped",
}
_LINKS = (("endpoint", "Endpoint"), ("alarm", "Alarm"), ("dashboard", "Dashboard"), ("reports", "Reports"))


def subject(outcome: Outcome, where: Where) -> str:
    """`[CRITICAL] prod escalated scale-up fraud-prod`: severity, stack, result, action, endpoint;
    the action is left out first, then the end cut, to fit on a phone."""
    head = [f"[{outcome.severity.upper()}]", where.short, outcome.result]
    return fit([*head, outcome.action, outcome.endpoint], [*head, outcome.endpoint])


def sms(outcome: Outcome, where: Where) -> str:
    """A text message: the subject and why, in one SMS (140 ASCII characters)."""
    return fit([subject(outcome, where), "-", outcome.reason], limit=140)


def plain_subject(severity: str, text: str, where: Where) -> str:
    """A plain message's subject (an alert, a reminder, the daily report): severity and stack first.
    Its words are its sender's (a measuring job's cause in parentheses): kept whole up to SNS's
    limit rather than cut on a phone."""
    said = text.removeprefix("Model Medic").lstrip(":").strip() or text
    return fit([f"[{severity.upper()}]", where.short, said], limit=SUBJECT_LIMIT)


def fit(*choices: list[str], limit: int = PHONE) -> str:
    """The first choice of words that fits in `limit`, else the last cut to `limit` characters with
    its end marked `~`; ASCII printable only (SNS refuses line breaks and control characters in a
    subject, and its documentation once allowed ASCII alone)."""
    line = ""
    for words in choices:
        line = ascii_line(" ".join(w for w in words if w))
        if len(line) <= limit:
            return line
    return line[: limit - 1] + "~"


def ascii_line(text: str) -> str:
    return "".join(c if 32 <= ord(c) < 127 else "?" for c in text)


def body(outcome: Outcome, where: Where) -> str:
    """The e-mail: what happened and where (stack, account, Region), what was tried, the mode and
    incident, what to do next, then the console links."""
    headline = f"Model Medic {_VERBS[outcome.result]}: {outcome.action} on endpoint {outcome.endpoint}."
    lines = [headline, where.line(), ""]
    lines.append(f"What happened: {outcome.reason}")
    if outcome.alarm_name:
        lines.append(f"Alarm: {outcome.alarm_name} went to {outcome.state} at {outcome.transition.rsplit('|', 1)[-1]}")
    tried = tried_lines(outcome)
    if tried:
        lines += ["Tried:"] + [f"  - {step}" for step in tried]
    lines.append(f"Mode: {outcome.mode or '-'}")
    if outcome.incident:
        lines.append(f"Incident: {outcome.incident}")
    details = {k: v for k, v in outcome.changes.items() if k != "tried"}
    if details:
        lines += ["", "Details:"] + [f"  {key}: {value}" for key, value in details.items()]
    lines += ["", f"Next: {next_step(outcome)}"]
    if outcome.incident:
        digest = outcome.incident.rsplit("#", 1)[-1]
        lines.append(f"  model-medic --stack {where.stack} --region {where.region} explain {digest}")
    return "\n".join([*lines, "", *footer(where, outcome.endpoint, outcome.alarm_arn)[1:]])


def plain_body(text: str, where: Where, endpoint: str = "") -> str:
    """A plain message's text with where it comes from and the endpoint's links."""
    return "\n".join([text, "", *footer(where, endpoint)])


def footer(where: Where, endpoint: str, alarm_arn: str = "") -> list[str]:
    """Where the message comes from, then a line per console link."""
    links = where.links(endpoint, alarm_arn)
    lines = [where.line()]
    lines += [f"{label + ':':<11}{links[key]}" for key, label in _LINKS if key in links]
    if not links and where.partition not in ("aws", "aws-us-gov", "aws-cn"):
        lines.append(f"(no console links: partition {where.partition})")
    return lines


def tried_lines(outcome: Outcome) -> list[str]:
    """What was tried: the steps an escalation lists; nothing, where a bound stopped the first."""
    tried = outcome.changes.get("tried")
    if isinstance(tried, list) and tried:
        return [str(step) for step in tried]
    if outcome.result == "bound-reached" or (outcome.result == "stopped" and outcome.gate == "bound"):
        return ["nothing was changed"]
    return []


def next_step(outcome: Outcome) -> str:
    """What a person should look at next, by result (and action, where it matters)."""
    result, action = outcome.result, outcome.action
    if result == "escalated":
        if action == "rollout":
            return (
                "the rollout stopped after changing the endpoint; the canary keeps the share it has. Look at "
                "the canary's figures on the dashboard, then walk it on or roll it back yourself."
            )
        return (
            "the alarm is still in ALARM after what was tried, and Model Medic will not act again in this "
            "incident. Look at the model and the traffic on the dashboard; if more of the same would help, "
            "raise the bound (the endpoint's model-medic: tag or the stack's parameter)."
        )
    if result == "bound-reached":
        return (
            "nothing was changed: a bound stopped the first step. Raise the bound named above (the endpoint's "
            "model-medic: tag or the stack's parameter) or look at the model and its traffic."
        )
    if result == "failed":
        return (
            "a change did not take or AWS refused it (the error is above). Check the endpoint's status and "
            "events in the SageMaker console and the function's logs; this incident is not tried again."
        )
    if result == "stopped":
        if outcome.gate == "bound":
            return (
                "nothing on the endpoint changed; the serving model keeps serving. If the candidate should "
                "be deployed, fix what the reason names, then approve it again."
            )
        return "someone changed the endpoint outside Model Medic; it no longer walks this rollout. Check who did."
    return _routine(outcome)


def _routine(outcome: Outcome) -> str:
    if outcome.result == "dry-run":
        return "nothing was changed (dry run). Switch the mode to enforce once you trust these decisions."
    if outcome.result == "recovered":
        return "nothing to do."
    if outcome.result == "retrained":
        return (
            "the alarm has not returned to OK: a model the pipeline trained helps only once it serves (here, "
            "once its model package is approved and rolled out). Look at what the pipeline produced; Model "
            "Medic starts no other run in this incident and closes it as recovered when the alarm returns to OK."
        )
    if outcome.action == "rollback":
        return "the model was rolled back: find out why before the pipeline deploys it again."
    if outcome.action == "start-retraining":
        return "follow the pipeline's execution in SageMaker; Model Medic reads its verdict."
    if outcome.action == "rollout":
        if outcome.critical:
            return "a canary was rolled back or a candidate Rejected: find out why before it is approved again."
        return "nothing yet: the rollout goes on by itself; the dashboard shows the canary against the primary."
    return "nothing yet; Model Medic checks the change took and tells you if the alarm stays in ALARM."


# The console's domain per partition (docs/aws-behaviours.md, "Console links"); the standard
# partition has a Regional console. A partition not listed gets no links.
_CONSOLES = {
    "aws": "https://{region}.console.aws.amazon.com",
    "aws-us-gov": "https://console.amazonaws-us-gov.com",
    "aws-cn": "https://console.amazonaws.cn",
}
# samconfig.toml's stacks are model-medic, model-medic-staging, model-medic-prod: a subject says
# "prod" where it has room for little.
_STACK_PREFIX = "model-medic-"


@dataclass(frozen=True)
class Where:
    """The stack that sends a message: its name, account, Region and partition, and its reports bucket."""

    stack: str = ""
    account: str = ""
    region: str = ""
    partition: str = "aws"
    reports_bucket: str = ""

    @classmethod
    def of(cls, stack: str, arn: str, reports_bucket: str = "") -> Where:
        """From one of the stack's own ARNs (its topic's): `arn:<partition>:<service>:<region>:<account>:...`.
        No STS call, no permission: a topic of the stack lives in the stack's account and Region."""
        parts = arn.split(":", 5)
        if len(parts) < 6 or parts[0] != "arn":
            return cls(stack=stack, reports_bucket=reports_bucket)
        return cls(stack, parts[4], parts[3], parts[1], reports_bucket)

    @property
    def short(self) -> str:
        """The stack's name as a subject shows it: `prod` for model-medic-prod."""
        rest = self.stack.removeprefix(_STACK_PREFIX)
        return rest or self.stack

    def line(self) -> str:
        return (
            f"Stack {self.stack or '(unnamed)'}, account {self.account or '(unknown)'}, "
            f"Region {self.region or '(unknown)'}"
        )

    def fields(self) -> dict[str, str]:
        """What an event's detail carries of the stack."""
        return {"stack": self.stack, "account": self.account, "region": self.region}

    def console(self, region: str = "") -> str:
        """The console's address for the partition and Region, or "" (a partition without a known console)."""
        template = _CONSOLES.get(self.partition)
        region = region or self.region
        return template.format(region=region) if template and region else ""

    def links(self, endpoint: str, alarm_arn: str = "") -> dict[str, str]:
        """Console links for the endpoint, its alarm (when a CloudWatch alarm is behind the message),
        its dashboard (the alarm manager's) and its reports (the daily report's folder); none
        outside a known partition. Names are URL-encoded."""
        home = self.console()
        if not home:
            return {}
        r = self.region
        found: dict[str, str] = {}
        if endpoint:
            found["endpoint"] = f"{home}/sagemaker/home?region={r}#/endpoints/{_q(endpoint)}"
        alarm = _alarm(alarm_arn)
        if alarm is not None:
            region, name = alarm
            found["alarm"] = f"{self.console(region)}/cloudwatch/home?region={region}#alarmsV2:alarm/{_q(name)}"
        if endpoint and self.stack:
            board = dashboard_name(self.stack, r, endpoint)
            found["dashboard"] = f"{home}/cloudwatch/home?region={r}#dashboards/dashboard/{_q(board)}"
        if self.reports_bucket:
            prefix = keys.endpoint_folder(endpoint) if endpoint else keys.INDEX_FOLDER
            found["reports"] = f"{home}/s3/buckets/{_q(self.reports_bucket)}?region={r}&prefix={_q(prefix)}"
        return found

    def pipelines(self, execution_arn: str) -> str:
        """The SageMaker console's pipelines, in the Region of a pipeline execution
        (`arn:<partition>:sagemaker:<region>:<account>:pipeline/...`; else the stack's), or ""
        (a partition without a known console)."""
        parts = execution_arn.split(":", 5)
        region = parts[3] if len(parts) == 6 and parts[2] == "sagemaker" and parts[3] else self.region
        home = self.console(region)
        return f"{home}/sagemaker/home?region={region}#/pipelines" if home else ""


def _q(name: str) -> str:
    return quote(name, safe="")


def _alarm(arn: str) -> tuple[str, str] | None:
    """(Region, name) of a CloudWatch alarm ARN (`arn:aws:cloudwatch:<region>:<account>:alarm:<name>`), else None
    (a rollout's trigger, a sweep's decision)."""
    parts = arn.split(":", 6)
    if len(parts) == 7 and parts[2] == "cloudwatch" and parts[5] == "alarm" and parts[6]:
        return parts[3], parts[6]
    return None
