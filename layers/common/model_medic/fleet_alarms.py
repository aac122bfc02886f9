"""Composition for AlarmManagerFunction: which event asks for what, and the answer.

* a CloudFormation custom resource request (the stack's `FleetAlarms`): Create and Update
  reconcile the whole fleet, Delete removes every alarm and dashboard of the stack; every
  request is answered at its ResponseURL, SUCCESS or FAILED with the reason;
* a "SageMaker Endpoint State Change": that endpoint is reconciled (created or updated:
  given its alarms if in scope; deleting: its alarms removed unless it is named);
* a Scheduled Event: the whole fleet, the safety net for a lost or missed event.

Anything else is rejected with a clear message and changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from model_medic import aws, custom_resource, policy, runtime
from model_medic.alarm_catalog import AlarmThresholds, Topics, endpoint_alarms
from model_medic.alarm_manager import AlarmManager, AlarmsFor, Reconciliation
from model_medic.observability import logger, metrics
from model_medic.scope import fleet, live_status
from model_medic.settings import AlarmManagerSettings, load_settings

_ENDPOINT_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


def stack_thresholds(settings: AlarmManagerSettings) -> AlarmThresholds:
    return AlarmThresholds(
        error_rate=settings.error_rate_threshold,
        latency_ms=settings.latency_threshold_ms,
        drift=settings.drift_threshold,
        accuracy=settings.accuracy_threshold,
        quality_source=settings.quality_metrics_source,
        model_monitor_drift_feature=settings.model_monitor_drift_feature,
        model_monitor_drift_threshold=settings.model_monitor_drift_threshold,
        canary_variant=settings.canary_variant,
        canary_max_error_rate=settings.canary_max_error_rate,
        canary_max_latency_ms=settings.canary_max_latency_ms,
    )


def alarms_for(settings: AlarmManagerSettings) -> AlarmsFor:
    """An endpoint's alarms from its tags: the stack's thresholds and canary variant unless the
    endpoint's `model-medic:` tags say otherwise (`policy.py`). A tag that is not used is
    logged here on every run and the stack's value kept; the action functions' sweeps tell it
    once (`endpoint_policy.Policies`)."""
    topics = Topics(critical=settings.critical_topic_arn, warning=settings.warning_topic_arn)
    ignore = policy.discovery_key(settings.discovery_tag)

    def alarms(endpoint: str, tags: Mapping[str, str]) -> list[dict[str, Any]]:
        found = policy.within_stack(settings, policy.read(tags, ignore))
        for problem in found.problems:
            logger.warning("tag not used", endpoint=endpoint, tag=problem.endpoint_tag, reason=problem.reason)
        return endpoint_alarms(endpoint, stack_thresholds(policy.apply(settings, found)), topics)

    return alarms


def manager(settings: AlarmManagerSettings) -> AlarmManager:
    # The topics' ARNs say the partition, Region and account the alarms live in.
    _, partition, _, region, account, _ = settings.critical_topic_arn.split(":", 5)
    return AlarmManager(
        aws.cloudwatch(),
        aws.tagging(),
        stack=settings.stack_name,
        region=region,
        alarm_arn_prefix=f"arn:{partition}:cloudwatch:{region}:{account}:alarm:",
        alarms_for=alarms_for(settings),
        max_writes=settings.alarm_writes_per_run,
        per_second=settings.alarm_writes_per_second,
    )


def handle(event: Any) -> dict[str, Any]:
    settings = load_settings(AlarmManagerSettings)
    if custom_resource.is_request(event):
        return _custom_resource(event, settings)
    if isinstance(event, dict) and event.get("detail-type") == "SageMaker Endpoint State Change":
        return _state_change(event, settings)
    scheduled = runtime.scheduled_or_rejected(
        event, "expected a Scheduled Event, a SageMaker Endpoint State Change or a custom resource request"
    )
    if isinstance(scheduled, dict):
        return scheduled
    return _done(reconcile_fleet(settings), "schedule")


def reconcile_fleet(settings: AlarmManagerSettings) -> Reconciliation:
    endpoints = fleet(aws.sagemaker(), aws.tagging(), list(settings.monitored_endpoints), settings.discovery_tag)
    return manager(settings).reconcile(endpoints)


def _state_change(event: dict[str, Any], settings: AlarmManagerSettings) -> dict[str, Any]:
    detail = event.get("detail")
    endpoint = detail.get("EndpointName") if isinstance(detail, dict) else None
    status = detail.get("EndpointStatus") if isinstance(detail, dict) else None
    if not isinstance(endpoint, str) or not _ENDPOINT_NAME.match(endpoint) or not isinstance(status, str):
        return runtime.rejected("endpoint state change without a valid detail.EndpointName and EndpointStatus")
    tags = _scope_tags(endpoint, live_status(status), settings)
    return _done(manager(settings).reconcile_endpoint(endpoint, tags), f"state change {endpoint} {status}")


def _scope_tags(endpoint: str, status: str, settings: AlarmManagerSettings) -> dict[str, str] | None:
    """The endpoint's tags when it is in scope, None when it is not (one ListTags call)."""
    named = endpoint in settings.monitored_endpoints
    if not named and (not settings.discovery_tag or status in ("Creating", "Failed", "Deleting")):
        return None
    sagemaker = aws.sagemaker()
    try:
        arn = sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointArn"]
        tags = {t["Key"]: t["Value"] for t in sagemaker.list_tags(ResourceArn=arn).get("Tags", [])}
    except ClientError as error:
        if aws.is_transient(error):
            raise
        return {} if named else None  # gone already: a named endpoint keeps its alarms
    key, _, value = settings.discovery_tag.partition("=")
    return tags if named or tags.get(key) == value else None


def _custom_resource(event: dict[str, Any], settings: AlarmManagerSettings) -> dict[str, Any]:
    kind = event["RequestType"]
    physical = custom_resource.physical_id(event, f"{settings.stack_name}-fleet-alarms")
    try:
        if kind == "Delete":
            result = manager(settings).remove_all()
            if result.pending:
                raise RuntimeError(f"{result.pending} alarms or dashboards are left to delete; retry the delete")
        elif kind in ("Create", "Update"):
            result = reconcile_fleet(settings)
        else:
            raise ValueError(f"unknown RequestType {kind!r}")
    except Exception as error:  # noqa: BLE001 - CloudFormation must hear of every failure, or it waits an hour
        logger.exception("custom resource request failed", request_type=kind)
        body = custom_resource.response_body(event, "FAILED", physical, f"{type(error).__name__}: {error}")
        custom_resource.send(event["ResponseURL"], body)
        return {"status": "FAILED", "reason": str(error)}
    # A large fleet's first alarms take more than one run (CloudWatch's write quota): the
    # stack is not held for them; the schedule creates the rest within minutes.
    data = {
        "Alarms": len(result.created) + len(result.updated) + result.unchanged,
        "Deleted": len(result.deleted),
        "Pending": result.pending,
    }
    body = custom_resource.response_body(event, "SUCCESS", physical, f"{kind}: {_summary(result)}", data)
    custom_resource.send(event["ResponseURL"], body)
    return {"status": "SUCCESS", **_done(result, f"custom resource {kind}")}


def _summary(result: Reconciliation) -> str:
    return (
        f"{result.endpoints} endpoints; created {len(result.created)}, updated {len(result.updated)}, "
        f"deleted {len(result.deleted)}, unchanged {result.unchanged}, conflicts {len(result.conflicts)}, "
        f"pending {result.pending}"
    )


def _done(result: Reconciliation, why: str) -> dict[str, Any]:
    logger.info("alarms reconciled", trigger=why, summary=_summary(result))
    metrics.add_metric(name="AlarmWrites", unit="Count", value=result.writes)
    return {"reconciled": result.as_dict(), "rejected": []}
