"""Intake: each Lambda event read into one typed trigger or a `Rejected`; every alarm shape as one `AlarmEvent`."""

from __future__ import annotations

import json
import re
import reprlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, cast

from model_medic.fleet import custom_resource
from model_medic.platform.observability import logger, metrics

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient


ENDPOINT_STATE_CHANGE = "SageMaker Endpoint State Change"
PACKAGE_STATE_CHANGE = "SageMaker Model Package State Change"
PIPELINE_STATUS_CHANGE = "SageMaker Model Building Pipeline Execution Status Change"
# The event spells the status IN_SERVICE; the API spells it InService. Accept both.
_IN_SERVICE = frozenset({"IN_SERVICE", "InService"})
_ENDPOINT_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


# The data jobs fanned out one queue message per endpoint (`measure/fanout.py` writes them).
Job = Literal["drift", "quality"]
JOBS: tuple[Job, ...] = ("drift", "quality")


@dataclass(frozen=True)
class Assignment:
    """One endpoint to measure for the run scheduled at `at`, as one queue message carried it."""

    message_id: str
    endpoint: str
    at: datetime
    receive_count: int = 1  # SQS's ApproximateReceiveCount: 2 and more are retries


def read_body(job: Job, body: Any) -> tuple[str, datetime]:
    """(endpoint, scheduled time) of a message `message_body` wrote for `job`; BadEvent
    (bad input: rejected, never retried) for anything else, a message of the other job included."""
    try:
        found = json.loads(body) if isinstance(body, str) else None
    except ValueError:
        found = None
    if not isinstance(found, dict):
        raise BadEvent(f"queue message is not a JSON object: {shown(body)}")
    if found.get("measure") != job:
        raise BadEvent(f"queue message is not a {job} measurement: measure is {shown(found.get('measure'))}")
    endpoint = sagemaker_name(found.get("endpoint"), "queue message 'endpoint'")
    return endpoint, bounded_time(found.get("at"), "queue message 'at'")


@dataclass(frozen=True)
class Rejected:
    reason: str


@dataclass(frozen=True)
class Tick:
    """An EventBridge Scheduled Event: its scheduled time is the invocation's clock."""

    at: datetime


@dataclass(frozen=True)
class Alarms:
    alarms: list[AlarmEvent]


@dataclass(frozen=True)
class PipelineChanged:
    """A retraining pipeline's status changed: a nudge to sweep now (the sweep reads SageMaker)."""


@dataclass(frozen=True)
class Deployment:
    """A SageMaker endpoint state change for the deployment history: (endpoint, config) when it
    says InService, None when it says anything else; `problem` when it is malformed."""

    seen: tuple[str, str] | None
    problem: str | None = None


@dataclass(frozen=True)
class EndpointStatus:
    """A SageMaker endpoint state change for the alarms: the endpoint and its new status."""

    endpoint: str
    status: str


@dataclass(frozen=True)
class PackageApproved:
    arn: str
    group: str
    at: datetime  # keys the approval's incident: the package's LastModifiedTime
    status_changed: bool  # `names_the_transition`


@dataclass(frozen=True)
class DeployRequest:
    """`{"deploy-package": {"arn": ..., "endpoints": [...]}}`: a package an operator names. `tick`:
    the scheduled time when the request came inside a Scheduled Event (the tick's clean-up runs too)."""

    arn: str
    endpoints: list[str] | None
    status_changed: bool
    tick: datetime | None = None


@dataclass(frozen=True)
class ObjectCreated:
    """An S3 "Object Created" event on EventBridge: the key, and the event's time if it is valid."""

    key: str
    at: datetime | None


@dataclass(frozen=True)
class BuildBaseline:
    endpoint: str
    label_column: str | None


@dataclass(frozen=True)
class Queued:
    """A batch from a data job's queue (Lambda's SQS event source mapping): one `Assignment` per
    message, and why each message that is not one was rejected."""

    assignments: list[Assignment]
    rejected: list[str]


@dataclass(frozen=True)
class CustomResource:
    """A CloudFormation custom resource request, kept whole: it is answered at its ResponseURL."""

    request: dict[str, Any]


# --- what each function reads ----------------------------------------------------------------


def remediation(event: Any) -> Tick | Alarms | Rejected:
    """ScaleUpFunction's event: a tick (the sweep) or alarms."""
    try:
        scheduled = scheduled_time(event)
        return Alarms(parse_alarms(event)) if scheduled is None else Tick(scheduled)
    except BadEvent as error:
        return Rejected(str(error))


def rollback(event: Any) -> Deployment | Tick | Alarms | Rejected:
    """RollbackModelFunction's event: an endpoint state change (the deployment history), a tick or alarms."""
    return _deployment(event) if is_endpoint_state_change(event) else remediation(event)


def retraining(event: Any) -> Tick | PipelineChanged | Alarms | Rejected:
    """StartRetrainingFunction's event: a tick, a pipeline status change (both sweep) or alarms."""
    try:
        scheduled = scheduled_time(event)
        if scheduled is not None:
            return Tick(scheduled)
        return PipelineChanged() if is_pipeline_status_change(event) else Alarms(parse_alarms(event))
    except BadEvent as error:
        return Rejected(str(error))


def rollout(event: Any) -> Tick | Alarms | PackageApproved | DeployRequest | Rejected:
    """PromoteCanaryFunction's event: an approval, an operator's request, a tick or a canary alarm."""
    try:
        scheduled = scheduled_time(event)
        approved, requested = approved_package(event), operator_package(event)
        if approved is not None:
            return PackageApproved(*approved, names_the_transition(event))
        if requested is not None:
            return DeployRequest(*requested, names_the_transition(event), scheduled)
        if scheduled is not None:
            return Tick(scheduled)
        return Alarms(parse_alarms(event))
    except BadEvent as error:
        return Rejected(str(error))


def fleet(event: Any) -> CustomResource | EndpointStatus | Tick | Rejected:
    """AlarmManagerFunction's event: the stack's custom resource, an endpoint state change, a tick."""
    if custom_resource.is_request(event):
        return CustomResource(event)
    if isinstance(event, dict) and event.get("detail-type") == ENDPOINT_STATE_CHANGE:
        detail = event.get("detail")
        endpoint = detail.get("EndpointName") if isinstance(detail, dict) else None
        status = detail.get("EndpointStatus") if isinstance(detail, dict) else None
        if not isinstance(endpoint, str) or not _ENDPOINT_NAME.match(endpoint) or not isinstance(status, str):
            return Rejected("endpoint state change without a valid detail.EndpointName and EndpointStatus")
        return EndpointStatus(endpoint, status)
    return scheduled(
        event, "expected a Scheduled Event, a SageMaker Endpoint State Change or a custom resource request"
    )


def drift(event: Any) -> BuildBaseline | Tick | Queued | Rejected:
    """ComputeDriftFunction's event: a tick (hands the endpoints out), a batch of its queue (one
    endpoint each), or `{"build-baseline": {"endpoint": ..., "label-column": ...}}`."""
    if isinstance(event, dict) and "build-baseline" in event:
        request = event["build-baseline"] if isinstance(event["build-baseline"], dict) else {}
        endpoint = str(request.get("endpoint", ""))  # '' is refused by `drift.baseline_requested`
        label = request.get("label-column")
        return BuildBaseline(endpoint, None if label is None else str(label))
    batch = queued(event, "drift")
    if batch is not None:
        return batch
    return scheduled(event, "expected a Scheduled Event, a batch of the drift queue or a build-baseline event")


def quality(event: Any) -> ObjectCreated | Tick | Queued | Rejected:
    """ComputeModelQualityFunction's event: ground truth landed, the hourly catch-up (hands the
    endpoints out), or a batch of its queue (one endpoint each)."""
    try:
        created = object_created(event)
    except BadEvent as error:
        return Rejected(str(error))
    if created is not None:
        return created
    batch = queued(event, "quality")
    if batch is not None:
        return batch
    return scheduled(
        event, "expected a ground-truth Object Created event, a Scheduled Event or a batch of the quality queue"
    )


def queued(event: Any, job: Job) -> Queued | None:
    """A batch of SQS messages as Lambda's event source mapping delivers it (`Records` whose
    `eventSource` is `aws:sqs`), each read into an `Assignment` of `job`; None for any other
    event. A message that is not one is rejected alone (bad input: not retried)."""
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list) or not records:
        return None
    if not all(isinstance(r, dict) and r.get("eventSource") == "aws:sqs" for r in records):
        return None
    assignments: list[Assignment] = []
    rejected: list[str] = []
    for record in records:
        message_id = record.get("messageId")
        try:
            if not isinstance(message_id, str) or not message_id:
                raise BadEvent(f"SQS record without a messageId: {shown(message_id)}")
            endpoint, at = read_body(job, record.get("body"))
        except BadEvent as error:
            rejected.append(f"message {shown(message_id)}: {error}")
            continue
        attributes = record.get("attributes")
        count = attributes.get("ApproximateReceiveCount") if isinstance(attributes, dict) else None
        receives = int(count) if isinstance(count, str) and count.isdigit() else 1
        assignments.append(Assignment(message_id, endpoint, at, receives))
    return Queued(assignments, rejected)


def scheduled(event: Any, expected: str = "expected an EventBridge Scheduled Event") -> Tick | Rejected:
    """A scheduled job's tick (a bad or missing `time` is bad input, never retried into the DLQ)."""
    try:
        at = scheduled_time(event)
    except BadEvent as error:
        return Rejected(str(error))
    return Rejected(expected) if at is None else Tick(at)


def rejected(reason: str) -> dict[str, Any]:
    """The answer that turns an event away: logged, counted (RejectedEvents), never retried."""
    logger.warning("event rejected", error=reason)
    metrics.add_metric(name="RejectedEvents", unit="Count", value=1)
    return {"outcomes": [], "rejected": [reason]}


# --- the readers -----------------------------------------------------------------------------


def scheduled_time(event: Any) -> datetime | None:
    """The scheduled time of an EventBridge "Scheduled Event", or None for any other event.

    The event's `time` and `resources` (the rule that fired) are checked here, at intake,
    with the limits of what AWS accepts (docs/rooms/intake.md): a bad one is a `BadEvent`.
    """
    if not isinstance(event, dict) or event.get("detail-type") != "Scheduled Event":
        return None
    _schedule_rule(event)
    return bounded_time(event.get("time"), "scheduled event 'time'")


def _schedule_rule(event: dict[str, Any]) -> str:
    """The ARN of the rule that scheduled the event (EventBridge puts it first in `resources`)."""
    resources = event.get("resources", [])
    if not isinstance(resources, list) or not all(isinstance(r, str) for r in resources):
        raise BadEvent(f"scheduled event 'resources' must be a list of ARNs, got {shown(resources)}")
    if not resources:
        return "arn:aws:events:::rule/schedule"
    rule = resources[0]
    # Nothing downstream reads the rule; an event no EventBridge rule could have sent is still
    # bad input, turned away here rather than acted on.
    if not rule.startswith("arn:") or len(rule) > RESOURCE_ARN_MAX:
        raise BadEvent(f"scheduled event 'resources[0]' is not an ARN of at most {RESOURCE_ARN_MAX} characters")
    return bounded_name(rule, "scheduled event 'resources[0]'", RESOURCE_ARN_MAX)


def object_created(event: Any) -> ObjectCreated | None:
    """The key and event time of an S3 "Object Created" event on EventBridge; None for any other
    event. A key that is not a string S3 could hold is a `BadEvent`; a missing or bad `time` is
    None (the caller falls back to the key's hour)."""
    if not isinstance(event, dict) or event.get("detail-type") != "Object Created":
        return None
    detail = event.get("detail")
    found = detail.get("object") if isinstance(detail, dict) else None
    key = found.get("key") if isinstance(found, dict) else None
    if not isinstance(key, str) or not key:
        raise BadEvent("Object Created event without a string detail.object.key")
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError:
        raise BadEvent(f"detail.object.key {shown(key)} is not UTF-8") from None
    if size > S3_KEY_MAX_BYTES:
        raise BadEvent(f"detail.object.key is {size} bytes: S3 keys are at most {S3_KEY_MAX_BYTES}")
    try:
        at: datetime | None = bounded_time(event.get("time"), "Object Created event 'time'")
    except BadEvent:
        at = None
    return ObjectCreated(key, at)


def approved_package(event: Any) -> tuple[str, str, datetime] | None:
    """(package ARN, group, approval time) of a "SageMaker Model Package State Change" to
    Approved; None for any other event. A malformed one raises BadEvent (rejected)."""
    if not isinstance(event, dict) or event.get("detail-type") != PACKAGE_STATE_CHANGE:
        return None
    detail = event.get("detail")
    if event.get("source") != "aws.sagemaker" or not isinstance(detail, dict):
        raise BadEvent("not a SageMaker model package state change: expected source aws.sagemaker and a detail")
    if detail.get("ModelApprovalStatus") != "Approved":
        return None
    # SageMaker sends this event on every update of a package and lists what changed in
    # UpdatedModelPackageFields: an edit of an approved package (its description, metadata,
    # lifecycle) is not an approval, and acting on it would redeploy a model that was rolled
    # back. A package created Approved has no such list: that event is its approval.
    updated = detail.get("UpdatedModelPackageFields")
    if isinstance(updated, list) and "ModelApprovalStatus" not in updated:
        return None
    arn, group = detail.get("ModelPackageArn"), detail.get("ModelPackageGroupName")
    if not isinstance(arn, str) or ":model-package/" not in arn or not isinstance(group, str) or not group:
        raise BadEvent("model package state change without ModelPackageArn and ModelPackageGroupName")
    # SageMaker may send several events for one change: they carry the same LastModifiedTime,
    # which keys the approval's incident (the event's own time when the package has none).
    modified = detail.get("LastModifiedTime")
    when = _event_time({"time": modified}) if isinstance(modified, str) and modified else _event_time(event)
    return arn, group, when


def operator_package(event: Any) -> tuple[str, list[str] | None] | None:
    """`{"deploy-package": {"arn": ..., "endpoints": [...]}}`: a package an operator names."""
    if not isinstance(event, dict) or "deploy-package" not in event:
        return None
    request = event["deploy-package"]
    arn = request.get("arn") if isinstance(request, dict) else None
    if not isinstance(arn, str) or ":model-package/" not in arn:
        raise BadEvent('deploy-package needs {"arn": "<model package ARN>"}')
    endpoints = request.get("endpoints")
    if endpoints is not None and (not isinstance(endpoints, list) or not all(isinstance(e, str) for e in endpoints)):
        raise BadEvent("deploy-package endpoints must be a list of endpoint names")
    return arn, endpoints


def _event_time(event: dict[str, Any]) -> datetime:
    value = event.get("time")
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise BadEvent(f"event without a valid 'time': {value!r}") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def names_the_transition(event: Any) -> bool:
    """Pure: whether an approval event says the approval status itself changed (its
    UpdatedModelPackageFields lists ModelApprovalStatus). The documented example event has no
    such list: only an event that has one proves the package was not Approved just before.
    An operator's deploy-package request is a decision in itself."""
    detail = event.get("detail") if isinstance(event, dict) else None
    updated = detail.get("UpdatedModelPackageFields") if isinstance(detail, dict) else None
    return not isinstance(detail, dict) or (isinstance(updated, list) and "ModelApprovalStatus" in updated)


def is_endpoint_state_change(event: Any) -> bool:
    return isinstance(event, dict) and event.get("detail-type") == ENDPOINT_STATE_CHANGE


def _deployment(event: dict[str, Any]) -> Deployment:
    try:
        return Deployment(in_service_deployment(event))
    except ValueError as error:
        return Deployment(None, str(error))


def in_service_deployment(event: dict[str, Any]) -> tuple[str, str] | None:
    """(endpoint, config) when a "SageMaker Endpoint State Change" says the endpoint is InService."""
    detail = event.get("detail")
    if event.get("source") != "aws.sagemaker" or not isinstance(detail, dict):
        raise BadEvent("not a SageMaker endpoint state change: expected source aws.sagemaker and a detail")
    endpoint, config = detail.get("EndpointName"), detail.get("EndpointConfigName")
    if not isinstance(endpoint, str) or not isinstance(config, str) or not endpoint or not config:
        raise BadEvent("endpoint state change without EndpointName and EndpointConfigName")
    # Both go into the ledger's sort key and into UpdateEndpoint: SageMaker's own pattern (`_ENDPOINT_NAME`).
    sagemaker_name(endpoint, "detail.EndpointName")
    sagemaker_name(config, "detail.EndpointConfigName")
    status = detail.get("EndpointStatus")
    return (endpoint, config) if isinstance(status, str) and status in _IN_SERVICE else None


def is_pipeline_status_change(event: Any) -> bool:
    """EventBridge's pipeline status change: a nudge to look at the retraining incidents now.

    Only its kind is read (the sweep reads the executions from SageMaker); one that SageMaker
    could not have sent goes on to the alarm intake, which rejects it."""
    return (
        isinstance(event, dict)
        and event.get("detail-type") == PIPELINE_STATUS_CHANGE
        and event.get("source") == "aws.sagemaker"
        and isinstance(event.get("detail"), dict)
    )


AlarmState = Literal["ALARM", "OK", "INSUFFICIENT_DATA"]
STATES: frozenset[str] = frozenset({"ALARM", "OK", "INSUFFICIENT_DATA"})

ALARM_STATE_CHANGE = "CloudWatch Alarm State Change"

# SageMaker publishes EndpointName; Model Monitor publishes Endpoint (docs/aws-behaviours.md,
# "SageMaker metrics and units").
ENDPOINT_DIMENSIONS = ("EndpointName", "Endpoint")
VARIANT_DIMENSION = "VariantName"

# --- what AWS accepts (sources in the module docstring) ------------------------------------

ALARM_NAME_MAX = 255
ALARM_ARN_MAX = 1600
METRIC_NAME_MAX = 255
NAMESPACE_MAX = 255
DIMENSION_NAME_MAX = 255
DIMENSION_VALUE_MAX = 1024
DIMENSIONS_MAX = 30
STATE_REASON_MAX = 1023
EXPRESSION_MAX = 2048
RESOURCE_ARN_MAX = 2048
S3_KEY_MAX_BYTES = 1024
# SageMaker's EndpointName / VariantName / EndpointConfigName (whole string, so at most 63).
SAGEMAKER_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
ACCOUNT_ID = re.compile(r"[0-9]{12}")
REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}")
# A transition or schedule time outside these is not CloudWatch's or EventBridge's (and
# would overflow the loop's date arithmetic: verification windows, TTLs, cool-downs).
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
# No control characters (C0, DEL), no lone surrogates (not UTF-8), no U+FFFE/U+FFFF (not XML).
_NOT_IN_NAMES = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
# Free text (a state reason, an expression) may break lines.
_NOT_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_NOT_ASCII = re.compile(r"[^\x20-\x7e]")


class BadEvent(ValueError):
    """The event is not one this function understands (an alarm, a schedule, an S3 key, a
    package or deploy request ...); nothing was done, and it is rejected, never retried."""


class AlarmParseError(BadEvent):
    """The event is not an alarm state change this service understands; nothing was done."""


@dataclass(frozen=True)
class AlarmEvent:
    """One alarm state transition, whatever shape it arrived in."""

    alarm_name: str
    alarm_arn: str
    state: AlarmState
    previous_state: AlarmState | None
    state_change_time: datetime
    reason: str
    account: str
    region: str
    # "sweep" and "schedule": a scheduled run acting on a transition, or evaluating an endpoint
    # as if an alarm were in ALARM (so that it passes the same gates, once per tick).
    source: Literal["sns", "eventbridge", "alarm-action", "sweep", "schedule"]
    namespace: str | None = None
    metric_name: str | None = None
    dimensions: Mapping[str, str] = field(default_factory=dict)
    expression: str | None = None
    composite: bool = False

    @property
    def endpoint(self) -> str | None:
        for key in ENDPOINT_DIMENSIONS:
            if key in self.dimensions:
                return self.dimensions[key]
        return None

    @property
    def variant(self) -> str | None:
        return self.dimensions.get(VARIANT_DIMENSION)

    @property
    def transition_id(self) -> str:
        """What makes a delivery the same transition: alarm ARN, new state and its time."""
        return f"{self.alarm_arn}|{self.state}|{self.state_change_time.isoformat()}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "alarm_name": self.alarm_name,
            "alarm_arn": self.alarm_arn,
            "state": self.state,
            "previous_state": self.previous_state,
            "state_change_time": self.state_change_time.isoformat(),
            "reason": self.reason,
            "account": self.account,
            "region": self.region,
            "source": self.source,
            "namespace": self.namespace,
            "metric_name": self.metric_name,
            "dimensions": dict(self.dimensions),
            "expression": self.expression,
            "composite": self.composite,
            "endpoint": self.endpoint,
            "variant": self.variant,
        }


def parse_alarms(event: Any) -> list[AlarmEvent]:
    """Every alarm transition in a Lambda event (an SNS batch may carry several)."""
    if not isinstance(event, Mapping):
        raise AlarmParseError(f"event must be a JSON object, got {type(event).__name__}")
    if "Records" in event:
        return _parse_sns_batch(event["Records"])
    if "alarmData" in event:
        return [_parse_alarm_action(event)]
    if "detail-type" in event:
        return [_parse_eventbridge(event)]
    raise AlarmParseError("unrecognised event: expected SNS 'Records', EventBridge 'detail-type' or 'alarmData'")


# --- SNS -------------------------------------------------------------------------------


def _parse_sns_batch(records: Any) -> list[AlarmEvent]:
    if not isinstance(records, list) or not records:
        raise AlarmParseError("'Records' must be a non-empty list")
    alarms = []
    for index, record in enumerate(records):
        where = f"Records[{index}]"
        sns = _get(record, "Sns", dict, where)
        body = _get(sns, "Message", str, f"{where}.Sns")
        try:
            message = json.loads(body)
        except json.JSONDecodeError as error:
            raise AlarmParseError(f"{where}.Sns.Message is not JSON: {error.msg}") from None
        except RecursionError:
            raise AlarmParseError(f"{where}.Sns.Message is nested too deeply") from None
        alarms.append(_parse_sns_message(message, f"{where}.Sns.Message"))
    return alarms


def _parse_sns_message(message: Any, where: str) -> AlarmEvent:
    if not isinstance(message, Mapping):
        raise AlarmParseError(f"{where} must be a JSON object")
    arn = _alarm_arn(_get(message, "AlarmArn", str, where), f"{where}.AlarmArn")
    account, region = _arn_account_region(arn, where)
    if message.get("AWSAccountId") is not None:
        account = _account(message["AWSAccountId"], f"{where}.AWSAccountId")
    trigger = message.get("Trigger")
    if trigger is None:
        # Composite alarms publish an AlarmRule and no Trigger.
        if "AlarmRule" not in message:
            raise AlarmParseError(f"{where}: missing 'Trigger' (metric alarm) or 'AlarmRule' (composite alarm)")
        metric = _Metric(composite=True)
    else:
        metric = _sns_trigger_metric(trigger, f"{where}.Trigger")
    return AlarmEvent(
        alarm_name=bounded_name(_get(message, "AlarmName", str, where), f"{where}.AlarmName", ALARM_NAME_MAX),
        alarm_arn=arn,
        state=_state(_get(message, "NewStateValue", str, where), f"{where}.NewStateValue"),
        previous_state=_optional_state(message.get("OldStateValue"), f"{where}.OldStateValue"),
        state_change_time=bounded_time(_get(message, "StateChangeTime", str, where), f"{where}.StateChangeTime"),
        reason=_text(message.get("NewStateReason"), f"{where}.NewStateReason", STATE_REASON_MAX),
        account=account,
        region=region,
        source="sns",
        namespace=metric.namespace,
        metric_name=metric.name,
        dimensions=metric.dimensions,
        expression=metric.expression,
        composite=metric.composite,
    )


def _sns_trigger_metric(trigger: Any, where: str) -> _Metric:
    if not isinstance(trigger, Mapping):
        raise AlarmParseError(f"{where} must be an object")
    if "Metrics" in trigger:
        queries = _get(trigger, "Metrics", list, where)
        return _merge_queries((_sns_query(query, f"{where}.Metrics[{i}]") for i, query in enumerate(queries)), where)
    dimensions = _dimension_list(_get(trigger, "Dimensions", list, where), f"{where}.Dimensions")
    return _Metric(
        namespace=_namespace(_get(trigger, "Namespace", str, where), f"{where}.Namespace"),
        name=bounded_name(_get(trigger, "MetricName", str, where), f"{where}.MetricName", METRIC_NAME_MAX),
        dimensions=dimensions,
    )


def _sns_query(query: Any, where: str) -> _Metric:
    if not isinstance(query, Mapping):
        raise AlarmParseError(f"{where} must be an object")
    if "Expression" in query:
        expression = _text(query["Expression"], f"{where}.Expression", EXPRESSION_MAX, required=True)
        return _Metric(expression=expression, returns=bool(query.get("ReturnData", False)))
    stat = _get(query, "MetricStat", dict, where)
    metric = _get(stat, "Metric", dict, f"{where}.MetricStat")
    at = f"{where}.MetricStat.Metric"
    return _Metric(
        namespace=_namespace(_get(metric, "Namespace", str, at), f"{at}.Namespace"),
        name=bounded_name(
            _get(metric, "MetricName", str, f"{where}.MetricStat.Metric"), f"{where}.MetricName", METRIC_NAME_MAX
        ),
        dimensions=_dimension_list(metric.get("Dimensions", []), f"{where}.MetricStat.Metric.Dimensions"),
        returns=bool(query.get("ReturnData", False)),
    )


def _dimension_list(items: Any, where: str) -> dict[str, str]:
    if not isinstance(items, list):
        raise AlarmParseError(f"{where} must be a list")
    pairs = []
    for i, item in enumerate(items):
        # CloudWatch's SNS message uses lower-case keys; accept the API's capitalised ones too.
        if not isinstance(item, Mapping):
            raise AlarmParseError(f"{where}[{i}] must be an object")
        pairs.append((item.get("name", item.get("Name")), item.get("value", item.get("Value")), f"{where}[{i}]"))
    return _dimensions(pairs, where)


# --- EventBridge and direct alarm actions ----------------------------------------------


def _parse_eventbridge(event: Mapping[str, Any]) -> AlarmEvent:
    detail_type = event.get("detail-type")
    if detail_type != ALARM_STATE_CHANGE:
        raise AlarmParseError(f"unsupported detail-type {shown(detail_type)}: expected {ALARM_STATE_CHANGE!r}")
    if event.get("source") != "aws.cloudwatch":
        raise AlarmParseError(f"unsupported source {shown(event.get('source'))}: expected 'aws.cloudwatch'")
    resources = _get(event, "resources", list, "event")
    if not resources or not isinstance(resources[0], str):
        raise AlarmParseError("event.resources must hold the alarm ARN")
    arn = _alarm_arn(resources[0], "event.resources[0]")
    return _parse_alarm_detail(_get(event, "detail", dict, "event"), arn, "detail", "eventbridge")


def _parse_alarm_action(event: Mapping[str, Any]) -> AlarmEvent:
    if event.get("source") != "aws.cloudwatch":
        raise AlarmParseError(f"unsupported source {shown(event.get('source'))}: expected 'aws.cloudwatch'")
    arn = _alarm_arn(_get(event, "alarmArn", str, "event"), "event.alarmArn")
    return _parse_alarm_detail(_get(event, "alarmData", dict, "event"), arn, "alarmData", "alarm-action")


def _parse_alarm_detail(detail: Mapping[str, Any], arn: str, where: str, source: Any) -> AlarmEvent:
    account, region = _arn_account_region(arn, where)
    state = _get(detail, "state", dict, where)
    previous = detail.get("previousState")
    configuration = _get(detail, "configuration", dict, where)
    if "metrics" in configuration:
        queries = _get(configuration, "metrics", list, f"{where}.configuration")
        metric = _merge_queries(
            (_eventbridge_query(q, f"{where}.configuration.metrics[{i}]") for i, q in enumerate(queries)),
            f"{where}.configuration",
        )
    elif "alarmRule" in configuration:
        metric = _Metric(composite=True)
    else:
        raise AlarmParseError(f"{where}.configuration has neither 'metrics' nor 'alarmRule'")
    return AlarmEvent(
        alarm_name=bounded_name(_get(detail, "alarmName", str, where), f"{where}.alarmName", ALARM_NAME_MAX),
        alarm_arn=arn,
        state=_state(_get(state, "value", str, f"{where}.state"), f"{where}.state.value"),
        previous_state=_optional_state(
            previous.get("value") if isinstance(previous, Mapping) else None, f"{where}.previousState.value"
        ),
        state_change_time=bounded_time(_get(state, "timestamp", str, f"{where}.state"), f"{where}.state.timestamp"),
        reason=_text(state.get("reason"), f"{where}.state.reason", STATE_REASON_MAX),
        account=account,
        region=region,
        source=source,
        namespace=metric.namespace,
        metric_name=metric.name,
        dimensions=metric.dimensions,
        expression=metric.expression,
        composite=metric.composite,
    )


def _eventbridge_query(query: Any, where: str) -> _Metric:
    if not isinstance(query, Mapping):
        raise AlarmParseError(f"{where} must be an object")
    # An expression query has no metricStat (Powertools' data class raises KeyError here).
    if "expression" in query:
        expression = _text(query["expression"], f"{where}.expression", EXPRESSION_MAX, required=True)
        return _Metric(expression=expression, returns=bool(query.get("returnData", False)))
    stat = _get(query, "metricStat", dict, where)
    metric = _get(stat, "metric", dict, f"{where}.metricStat")
    dimensions = metric.get("dimensions", {})
    if not isinstance(dimensions, Mapping):
        raise AlarmParseError(f"{where}.metricStat.metric.dimensions must be an object of strings")
    return _Metric(
        namespace=_namespace(_get(metric, "namespace", str, f"{where}.metricStat.metric"), f"{where}.namespace"),
        name=bounded_name(_get(metric, "name", str, f"{where}.metricStat.metric"), f"{where}.name", METRIC_NAME_MAX),
        dimensions=_dimensions(
            [(key, value, f"{where}.metricStat.metric.dimensions") for key, value in dimensions.items()],
            f"{where}.metricStat.metric.dimensions",
        ),
        returns=bool(query.get("returnData", True)),
    )


# --- shared pieces ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Metric:
    namespace: str | None = None
    name: str | None = None
    dimensions: dict[str, str] = field(default_factory=dict)
    expression: str | None = None
    composite: bool = False
    returns: bool = True


def _merge_queries(queries: Iterable[_Metric], where: str) -> _Metric:
    """One metric for a list of metric queries.

    A single metric query is the metric itself. For metric math the alarm watches an
    expression: there is no single metric name, and a dimension is kept only where every
    metric query that names it agrees (an alarm over two endpoints names neither).
    """
    items = list(queries)
    if not items:
        raise AlarmParseError(f"{where}: the alarm has no metric queries")
    expressions = [q for q in items if q.expression is not None]
    stats = [q for q in items if q.expression is None]
    if not expressions and len(stats) == 1:
        return stats[0]
    values: dict[str, set[str]] = {}
    for query in stats:
        for name, value in query.dimensions.items():
            values.setdefault(name, set()).add(value)
    agreed = {name: next(iter(found)) for name, found in values.items() if len(found) == 1}
    namespaces = {q.namespace for q in stats}
    watched = next((q.expression for q in expressions if q.returns), None) or (
        expressions[0].expression if expressions else None
    )
    return _Metric(
        namespace=namespaces.pop() if len(namespaces) == 1 else None,
        name=None,
        dimensions=agreed,
        expression=watched,
    )


_KIND_NAMES: dict[type, str] = {str: "string", list: "list", dict: "object"}


def _get(container: Any, key: str, kind: type, where: str) -> Any:
    if not isinstance(container, Mapping):
        raise AlarmParseError(f"{where} must be an object")
    if key not in container:
        raise AlarmParseError(f"{where}: missing '{key}'")
    value = container[key]
    if not isinstance(value, kind) or (kind is str and not value):
        article = "a non-empty" if kind is str else "a" if kind is list else "an"
        raise AlarmParseError(f"{where}.{key} must be {article} {_KIND_NAMES.get(kind, kind.__name__)}")
    return value


def _state(value: str, where: str) -> AlarmState:
    if value not in STATES:
        raise AlarmParseError(f"{where} is {shown(value)}: expected one of {sorted(STATES)}")
    return value  # type: ignore[return-value]


def _optional_state(value: Any, where: str) -> AlarmState | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise AlarmParseError(f"{where} must be a string, got {type(value).__name__}")
    return _state(value, where)


# --- the checks of what AWS accepts --------------------------------------------------------

# Messages quote at most this much of a bad value (a 300 KB value is not echoed to the logs).
_shown = reprlib.Repr(maxstring=80, maxother=80, maxlevel=2, maxlist=3, maxdict=3)


def shown(value: Any) -> str:
    """A bad value as a rejection quotes it: short, flat, ASCII (escapes, not surrogates)."""
    return _shown.repr(value).encode("ascii", "backslashreplace").decode("ascii")


def bounded_name(value: Any, where: str, longest: int) -> str:
    """A name AWS keeps (an alarm or metric name): 1-`longest` characters, no control characters."""
    return _bounded(value, where, longest, _NOT_IN_NAMES, required=True)


def sagemaker_name(value: Any, where: str) -> str:
    """A SageMaker endpoint, variant or endpoint config name (SageMaker's own pattern)."""
    if not isinstance(value, str) or not SAGEMAKER_NAME.fullmatch(value):
        raise AlarmParseError(
            f"{where} is {shown(value)}: not a SageMaker name (1-63 letters, digits and single hyphens between them)"
        )
    return value


def bounded_time(value: Any, where: str) -> datetime:
    """An ISO 8601 time with a zone, between `EARLIEST` and `LATEST`, in UTC."""
    if not isinstance(value, str) or len(value) > 64:
        raise AlarmParseError(f"{where} is not an ISO 8601 time: {shown(value)}")
    try:
        parsed = datetime.fromisoformat(value)
        utc = parsed.astimezone(UTC) if parsed.tzinfo is not None else None
    except (ValueError, OverflowError):
        raise AlarmParseError(f"{where} is not an ISO 8601 time: {shown(value)}") from None
    if utc is None:
        raise AlarmParseError(f"{where} has no time zone: {shown(value)}")
    if not EARLIEST <= utc < LATEST:
        raise AlarmParseError(f"{where} is {shown(value)}: outside {EARLIEST.year}-{LATEST.year - 1}")
    return utc


def _text(value: Any, where: str, longest: int, required: bool = False) -> str:
    """Free text AWS receives (a state reason, an expression): line breaks allowed; absent is ''."""
    if value is None and not required:
        return ""
    return _bounded(value, where, longest, _NOT_IN_TEXT, required)


def _bounded(value: Any, where: str, longest: int, forbidden: re.Pattern[str], required: bool) -> str:
    if not isinstance(value, str) or (required and not value):
        raise AlarmParseError(f"{where} must be {'a non-empty' if required else 'a'} string")
    if len(value) > longest:
        raise AlarmParseError(f"{where} is {len(value)} characters long: AWS allows at most {longest}")
    bad = forbidden.search(value)
    if bad:
        raise AlarmParseError(f"{where} holds {shown(bad.group())}, which AWS does not accept there")
    return value


def _namespace(value: str, where: str) -> str:
    if value.startswith(":"):
        raise AlarmParseError(f"{where} must not start with ':'")
    return bounded_name(value, where, NAMESPACE_MAX)


def _dimensions(pairs: list[tuple[Any, Any, str]], where: str) -> dict[str, str]:
    """Dimension name/value pairs as CloudWatch allows them; SageMaker's names as SageMaker does."""
    if len(pairs) > DIMENSIONS_MAX:
        raise AlarmParseError(f"{where} has {len(pairs)} dimensions: CloudWatch allows at most {DIMENSIONS_MAX}")
    dimensions: dict[str, str] = {}
    for key, value, at in pairs:
        if not isinstance(key, str) or not isinstance(value, str):
            raise AlarmParseError(f"{at} needs string 'name' and 'value'")
        for part, text, longest in (("name", key, DIMENSION_NAME_MAX), ("value", value, DIMENSION_VALUE_MAX)):
            if not text.strip() or len(text) > longest or _NOT_ASCII.search(text):
                raise AlarmParseError(
                    f"{at}: dimension {part} {shown(text)} is not 1-{longest} printable ASCII characters "
                    "with one that is not a space"
                )
        if key.startswith(":"):
            raise AlarmParseError(f"{at}: dimension name {shown(key)} starts with ':'")
        if key in (*ENDPOINT_DIMENSIONS, VARIANT_DIMENSION):
            sagemaker_name(value, f"{at}.{key}")
        dimensions[key] = value
    return dimensions


def _alarm_arn(arn: str, where: str) -> str:
    if len(arn) > ALARM_ARN_MAX:
        raise AlarmParseError(f"{where} is {len(arn)} characters long: CloudWatch allows at most {ALARM_ARN_MAX}")
    _arn_account_region(arn, where)
    return arn


def _account(value: Any, where: str) -> str:
    if not isinstance(value, str) or not ACCOUNT_ID.fullmatch(value):
        raise AlarmParseError(f"{where} is {shown(value)}: not a 12-digit AWS account ID")
    return value


def _arn_account_region(arn: str, where: str) -> tuple[str, str]:
    parts = arn.split(":", 6)
    if (
        len(parts) != 7
        or parts[0] != "arn"
        or not parts[1].startswith("aws")
        or parts[2:6:3] != ["cloudwatch", "alarm"]
    ):
        raise AlarmParseError(f"{where}: {shown(arn)} is not a CloudWatch alarm ARN")
    if not parts[1].startswith("aws") or not ACCOUNT_ID.fullmatch(parts[4]) or not REGION.fullmatch(parts[3]):
        raise AlarmParseError(f"{where}: {shown(arn)} has no valid Region and account")
    bounded_name(parts[6], f"{where} (alarm name)", ALARM_NAME_MAX)
    return parts[4], parts[3]


def describe_alarms(cloudwatch: CloudWatchClient, names: list[str]) -> dict[str, dict[str, Any]]:
    """The metric alarms of these names, by name: 100 names a call (DescribeAlarms takes no more), every page."""
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(names), 100):
        kwargs: dict[str, Any] = {"AlarmNames": names[start : start + 100], "AlarmTypes": ["MetricAlarm"]}
        while True:
            page = cloudwatch.describe_alarms(**kwargs)
            # The callers read an alarm as a plain mapping (control/loop.py, fleet/alarm_manager.py).
            found.update({a["AlarmName"]: cast("dict[str, Any]", a) for a in page.get("MetricAlarms", [])})
            if not page.get("NextToken"):
                break
            kwargs["NextToken"] = page["NextToken"]
    return found


def alarm_endpoint(alarm: dict[str, Any]) -> str | None:
    """The endpoint a described alarm watches: its EndpointName or Endpoint dimension."""
    for dimension in alarm.get("Dimensions", []):
        if dimension["Name"] in ("EndpointName", "Endpoint"):
            return str(dimension["Value"])
    for query in alarm.get("Metrics", []):
        for dimension in query.get("MetricStat", {}).get("Metric", {}).get("Dimensions", []):
            if dimension["Name"] in ("EndpointName", "Endpoint"):
                return str(dimension["Value"])
    return None
