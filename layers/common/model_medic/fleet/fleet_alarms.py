"""The fleet's alarms (AlarmManagerFunction): what each trigger asks of the manager, and the answer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from model_medic.fleet import custom_resource
from model_medic.fleet.alarm_manager import AlarmManager, Reconciliation
from model_medic.platform import aws
from model_medic.platform.observability import logger, metrics
from model_medic.platform.settings import AlarmManagerSettings
from model_medic.policy.scope import fleet, live_status

if TYPE_CHECKING:
    from mypy_boto3_resourcegroupstaggingapi import ResourceGroupsTaggingAPIClient
    from mypy_boto3_sagemaker import SageMakerClient


@dataclass(frozen=True)
class Fleet:
    """What the fleet's alarms need: the settings, SageMaker and tagging clients, and the manager
    (built when it is first needed, so that a custom resource request hears of a failure)."""

    settings: AlarmManagerSettings
    sagemaker: SageMakerClient
    tagging: ResourceGroupsTaggingAPIClient
    manager: Callable[[], AlarmManager]

    def reconcile_all(self, why: str = "schedule") -> dict[str, Any]:
        return _done(self.reconcile_fleet(), why)

    def reconcile_fleet(self) -> Reconciliation:
        s = self.settings
        endpoints = fleet(self.sagemaker, self.tagging, list(s.monitored_endpoints), s.discovery_tag)
        return self.manager().reconcile(endpoints)

    def state_change(self, endpoint: str, status: str) -> dict[str, Any]:
        tags = self._scope_tags(endpoint, live_status(status))
        return _done(self.manager().reconcile_endpoint(endpoint, tags), f"state change {endpoint} {status}")

    def custom_resource(self, request: dict[str, Any]) -> dict[str, Any]:
        return _custom_resource(request, self)

    def _scope_tags(self, endpoint: str, status: str) -> dict[str, str] | None:
        """The endpoint's tags when it is in scope, None when it is not (one ListTags call)."""
        settings = self.settings
        named = endpoint in settings.monitored_endpoints
        if not named and (not settings.discovery_tag or status in ("Creating", "Failed", "Deleting")):
            return None
        try:
            arn = self.sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointArn"]
            tags = {t["Key"]: t["Value"] for t in self.sagemaker.list_tags(ResourceArn=arn).get("Tags", [])}
        except ClientError as error:
            if aws.is_transient(error):
                raise
            return {} if named else None  # gone already: a named endpoint keeps its alarms
        key, _, value = settings.discovery_tag.partition("=")
        return tags if named or tags.get(key) == value else None


def _custom_resource(event: dict[str, Any], house: Fleet) -> dict[str, Any]:
    kind = event["RequestType"]
    physical = custom_resource.physical_id(event, f"{house.settings.stack_name}-fleet-alarms")
    try:
        if kind == "Delete":
            result = house.manager().remove_all()
            if result.pending:
                raise RuntimeError(f"{result.pending} alarms or dashboards are left to delete; retry the delete")
        elif kind in ("Create", "Update"):
            result = house.reconcile_fleet()
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
