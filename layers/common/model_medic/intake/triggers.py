"""Intake: each Lambda event read into one typed trigger, or a `Rejected` saying why not.

A handler reads its event here (`remediation`, `rollback`, `retraining`, `rollout`, `fleet`,
`drift`, `quality`, `scheduled`), then `match`es on what it got: `Tick` (an EventBridge Scheduled Event),
`Alarms` (alarm state changes, `alarms.parse_alarms`), `PackageApproved`, `DeployRequest`,
`Deployment` (a SageMaker endpoint state change, for the deployment history),
`EndpointStatus` (the same event, for the alarms), `PipelineChanged`, `ObjectCreated`,
`BuildBaseline`, `CustomResource`, `Queued` (a batch of a data job's queue, `measure/fanout.py`).
No code past this module sees the Lambda event, except a CloudFormation request, which is
answered at its own ResponseURL.

Bad input is a `BadEvent` (`alarms.py`, with the limits of what AWS accepts), turned into
`Rejected` here; `rejected` is the answer that turns it away (logged, counted, never retried).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from model_medic.fleet import custom_resource
from model_medic.intake.alarms import (
    RESOURCE_ARN_MAX,
    S3_KEY_MAX_BYTES,
    AlarmEvent,
    BadEvent,
    bounded_name,
    bounded_time,
    parse_alarms,
    sagemaker_name,
    shown,
)
from model_medic.measure.fanout import Assignment, Job, read_body
from model_medic.platform.observability import logger, metrics

ENDPOINT_STATE_CHANGE = "SageMaker Endpoint State Change"
PACKAGE_STATE_CHANGE = "SageMaker Model Package State Change"
PIPELINE_STATUS_CHANGE = "SageMaker Model Building Pipeline Execution Status Change"
# The event spells the status IN_SERVICE; the API spells it InService. Accept both.
_IN_SERVICE = frozenset({"IN_SERVICE", "InService"})
_ENDPOINT_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


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
    with the limits of `alarms.py`: a bad one is a `BadEvent`.
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
    # Both go into the ledger's sort key and into UpdateEndpoint: SageMaker's own pattern (alarms.py).
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
