"""The fleet's alarms (AlarmManagerFunction): what each trigger asks of the manager, and the answer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from model_medic.fleet import custom_resource
from model_medic.fleet.alarm_catalog import STACK_TAG
from model_medic.fleet.alarm_manager import AlarmManager, Reconciliation
from model_medic.fleet.patience import OutOfTime, Patience
from model_medic.fleet.variants import NONE, reread_now
from model_medic.intake.triggers import CustomResource
from model_medic.platform import aws
from model_medic.platform.observability import logger, metrics
from model_medic.platform.settings import AlarmManagerSettings
from model_medic.policy.policies import fleet, is_named, live_status

if TYPE_CHECKING:
    from mypy_boto3_resourcegroupstaggingapi import ResourceGroupsTaggingAPIClient
    from mypy_boto3_sagemaker import SageMakerClient

_NAMED = 10  # alarms and dashboards named in a failed delete's reason (CloudFormation shows it)


class BlockedByComposites(Exception):
    """A stack's delete that left alarms composite alarms depend on (CloudWatch refuses to delete
    them): a permanent error, answered FAILED with what is left and the way out (`_failure`)."""


@dataclass(frozen=True)
class Fleet:
    """What the fleet's alarms need: the settings, SageMaker and tagging clients, the manager
    (built when it is first needed, so that a custom resource request hears of a failure), and
    how long to keep asking AWS after a transient error (`Patience`)."""

    settings: AlarmManagerSettings
    sagemaker: SageMakerClient
    tagging: ResourceGroupsTaggingAPIClient
    manager: Callable[[], AlarmManager]
    patience: Patience = field(default_factory=Patience)

    def reconcile_all(self, at: datetime) -> dict[str, Any]:
        """A tick at `at` (its scheduled time): the whole fleet, the variants of the endpoints
        whose turn it is read again (`variants.reread_now`)."""
        return _done(self.reconcile_fleet(partial(reread_now, at=at)), "schedule")

    def reconcile_fleet(self, reread: Callable[[str], bool] | None = None) -> Reconciliation:
        """The whole fleet; every endpoint's variants read again unless `reread` says which (a
        stack create or update reads them all)."""
        s = self.settings
        find = partial(fleet, self.sagemaker, self.tagging, list(s.monitored_endpoints), s.discovery_tag)
        found = self.patience.call("the fleet's endpoints", find)
        return self.manager().reconcile(found, [e for e in found if reread is None or reread(e)])

    def state_change(self, endpoint: str, status: str) -> dict[str, Any]:
        tags, variants = self._scope_tags(endpoint, live_status(status))
        reconciled = self.manager().reconcile_endpoint(endpoint, tags, variants)
        return _done(reconciled, f"state change {endpoint} {status}")

    def custom_resource(self, request: dict[str, Any]) -> dict[str, Any]:
        return _custom_resource(request, self)

    def _scope_tags(self, endpoint: str, status: str) -> tuple[dict[str, str] | None, frozenset[str]]:
        """The endpoint's tags when it is in scope, None when it is not (ListTags, every page), and
        its variants as DescribeEndpoint shows them. `endpoint` is the event's, as SageMaker
        spells it: named whatever the case EndpointNames gives it (`is_named`)."""
        settings = self.settings
        named = is_named(endpoint, settings.monitored_endpoints)
        if not named and (not settings.discovery_tag or status in ("Creating", "Failed", "Deleting")):
            return None, NONE
        try:
            described = self.patience.call(
                "DescribeEndpoint", partial(self.sagemaker.describe_endpoint, EndpointName=endpoint)
            )
            tags = self.patience.call("ListTags", partial(aws.sagemaker_tags, self.sagemaker, described["EndpointArn"]))
        except ClientError as error:
            if aws.is_transient(error):
                raise
            return ({} if named else None), NONE  # gone already: a named endpoint keeps its own alarms
        variants = frozenset(v["VariantName"] for v in described.get("ProductionVariants", []))
        key, _, value = settings.discovery_tag.partition("=")
        return (tags if named or tags.get(key) == value else None), variants


def unconfigured(trigger: object, error: Exception) -> dict[str, Any]:
    """The function's settings do not validate: a custom resource request is answered FAILED
    with the reason (CloudFormation shows it and rolls back, instead of waiting for an answer
    that never comes); any other trigger raises, as every function does on bad configuration."""
    if not isinstance(trigger, CustomResource):
        raise error
    request = trigger.request
    physical = custom_resource.physical_id(request, "fleet-alarms-unconfigured")
    reason = f"{request['RequestType']} not carried out: {error}"
    logger.error("custom resource request on a bad configuration", error=str(error))
    custom_resource.send(request["ResponseURL"], custom_resource.response_body(request, "FAILED", physical, reason))
    return {"status": "FAILED", "reason": reason}


def _custom_resource(event: dict[str, Any], house: Fleet) -> dict[str, Any]:
    """Carry out the request and answer it: SUCCESS, or FAILED for a permanent error. While AWS
    answers with transient errors past the invocation's time, no answer: the error is raised,
    and Lambda's asynchronous retry runs the same request again (it is idempotent)."""
    kind = event["RequestType"]
    physical = custom_resource.physical_id(event, f"{house.settings.stack_name}-fleet-alarms")
    try:
        result = _carry_out(kind, house)
    except Exception as error:
        if isinstance(error, OutOfTime) or aws.is_transient(error):
            logger.warning(
                "custom resource request not finished; Lambda runs it again", request_type=kind, error=str(error)
            )
            raise
        logger.exception("custom resource request failed", request_type=kind)
        status, reason = _failure(kind, error, house)
        custom_resource.send(event["ResponseURL"], custom_resource.response_body(event, status, physical, reason))
        return {"status": status, "reason": reason}
    # A large fleet's first alarms take more than one run (CloudWatch's write quota): the
    # stack is not held for them; the schedule creates the rest within minutes. Data says
    # where the alarms stand, not what this attempt did, so that a retry answers the same.
    data = {"Alarms": len(result.created) + len(result.updated) + result.unchanged, "Pending": result.pending}
    body = custom_resource.response_body(event, "SUCCESS", physical, f"{kind}: {_summary(result)}", data)
    custom_resource.send(event["ResponseURL"], body)
    return {"status": "SUCCESS", **_done(result, f"custom resource {kind}")}


def _carry_out(kind: str, house: Fleet) -> Reconciliation:
    if kind in ("Create", "Update"):
        return house.reconcile_fleet()
    if kind != "Delete":
        raise ValueError(f"unknown RequestType {kind!r}")
    result = house.manager().remove_all()
    if result.remaining:  # the run's writes or time spent: not an error, and not done either
        raise OutOfTime(f"{len(result.remaining)} alarms or dashboards of the stack are left to delete")
    if result.blocked:  # everything else is deleted; these wait for someone to change the composite alarms
        raise BlockedByComposites(
            f"CloudWatch refuses to delete {len(result.blocked)} alarms of the stack because composite alarms "
            "depend on them (every other alarm and dashboard of the stack is deleted); take them out of those "
            "composite alarms' rules, or delete those composite alarms"
        )
    return result


def _failure(kind: str, error: Exception, house: Fleet) -> tuple[custom_resource.Status, str]:
    """The answer to a permanent error: FAILED with the error; for a Delete, with what is left
    and the way out, unless a read-back finds that nothing is left after all."""
    reason = f"{type(error).__name__}: {error}"
    if kind != "Delete":
        return "FAILED", reason
    stack = house.settings.stack_name
    way_out = (
        f"Fix the cause and delete the stack again, or delete it with --retain-resources FleetAlarms and "
        f"then the alarms tagged {STACK_TAG}={stack} and dashboards named model-medic_{stack}_* yourself."
    )
    try:
        alarms, dashboards = house.manager().leftovers()
    except Exception as again:  # noqa: BLE001 - CloudFormation must hear of it all the same
        return "FAILED", f"{reason}. What is left could not be read ({type(again).__name__}: {again}). {way_out}"
    left = alarms + dashboards
    if not left:
        return "SUCCESS", f"Delete: nothing of the stack is left (an error along the way: {reason})"
    named = ", ".join(left[:_NAMED]) + (", ..." if len(left) > _NAMED else "")
    return "FAILED", f"{len(alarms)} alarms and {len(dashboards)} dashboards left ({named}): {reason}. {way_out}"


def _summary(result: Reconciliation) -> str:
    return (
        f"{result.endpoints} endpoints; created {len(result.created)}, updated {len(result.updated)}, "
        f"deleted {len(result.deleted)}, unchanged {result.unchanged}, conflicts {len(result.conflicts)}, "
        f"blocked by composite alarms {len(result.blocked)}, pending {result.pending}"
    )


def _done(result: Reconciliation, why: str) -> dict[str, Any]:
    logger.info("alarms reconciled", trigger=why, summary=_summary(result))
    metrics.add_metric(name="AlarmWrites", unit="Count", value=result.writes)
    return {"reconciled": result.as_dict(), "rejected": []}
