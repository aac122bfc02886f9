"""PromoteCanaryFunction's entry point: a trigger opens, adopts or judges rollouts; a tick also cleans up."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from model_medic.control.loop import ControlLoop
from model_medic.intake.triggers import Alarms, BadEvent, DeployRequest, PackageApproved, Tick
from model_medic.platform import aws
from model_medic.platform.clock import utc_now
from model_medic.platform.observability import logger
from model_medic.platform.settings import CanarySettings
from model_medic.remediate.cleanup import Cleanup, clean
from model_medic.remediate.rollout.action import Rollout
from model_medic.remediate.rollout.component import component_endpoints
from model_medic.remediate.rollout.plan import weights
from model_medic.remediate.rollout.targets import (
    READS_PER_TICK,
    REFRESH_AFTER,
    ServingGroups,
    endpoint_states,
    readable,
    serving_endpoints,
)
from model_medic.remediate.units import package_label, variant_label
from model_medic.store.deployments import Deployments
from model_medic.store.incidents import Incident, opened
from model_medic.tell.outcome import Outcome, answer

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

Trigger = PackageApproved | DeployRequest | Tick | Alarms


@dataclass(frozen=True)
class Rollouts:
    """What PromoteCanaryFunction works with, built once per invocation by `wiring.rollouts`."""

    loop: ControlLoop  # the rollout unit's control loop
    sagemaker: SageMakerClient
    deployments: Deployments  # the deployment history, and what each config serves
    settings: CanarySettings  # the stack's
    endpoints: Callable[[], list[str]]  # the endpoints in scope, read once when first asked
    own: Callable[[str], CanarySettings]  # an endpoint's settings: its variant names, its `model-medic:` tags
    cleanup: Cleanup


def run(trigger: Trigger, rollouts: Rollouts) -> dict[str, Any]:
    """What PromoteCanaryFunction does with a trigger: an approved package opens a rollout on
    every endpoint serving its group; an operator's request opens one on the endpoints named (or
    serving the group); a canary alarm judges its endpoint's rollout at once; a tick adopts
    operators' canaries and judges every rollout, then (once a day) cleans up what rollouts
    created. Reads are batched for the fleet; a call per endpoint only for those acted on.
    Lambda's answer: `{"outcomes": [...], "rejected": [...]}`."""
    match trigger:
        case PackageApproved() | DeployRequest():
            outcomes = _start(trigger, rollouts)
        case Tick(at=now):
            outcomes = _tick(now, rollouts)
        case Alarms(alarms=alarms):
            return rollouts.loop.judge_alarms(alarms)
    if isinstance(trigger, Tick) or (isinstance(trigger, DeployRequest) and trigger.tick is not None):
        outcomes += clean(rollouts.loop, rollouts.cleanup)
    return answer(outcomes)


def _start(trigger: PackageApproved | DeployRequest, r: Rollouts) -> list[Outcome]:
    """A rollout opened on each endpoint in scope that serves the package's group (or that the operator names)."""
    if isinstance(trigger, PackageApproved):
        arn, group, when, named = trigger.arn, trigger.group, trigger.at, None
        if group not in r.settings.model_package_groups:
            logger.info("package group not configured for rollouts", group=group)
            return []
    else:
        arn, named, when = trigger.arn, trigger.endpoints, trigger.tick or utc_now()
        try:
            group = str(r.sagemaker.describe_model_package(ModelPackageName=arn).get("ModelPackageGroupName") or "")
        except ClientError as error:
            if aws.is_transient(error):
                raise
            raise BadEvent(f"deploy-package: {arn}: {aws.error_code(error)}: {error}") from error
    targets = (
        named
        if named is not None
        else serving_endpoints(
            r.sagemaker, r.deployments, group, r.endpoints(), lambda e: r.own(e).primary_variant, when
        )
    )
    if named is None:  # and the endpoints where one of the inference components serves the group
        targets += [e for e in component_endpoints(r.sagemaker, group, r.endpoints()) if e not in targets]
    if not targets:
        logger.info("no endpoint in scope serves the package's group", group=group)
    why = f"model package {package_label(arn)} approved in {group}"
    return r.loop.start_all([rollout_incident(e, arn, when, why, trigger.status_changed) for e in targets])


def _tick(now: datetime, r: Rollouts) -> list[Outcome]:
    """Operators' canaries adopted, what new configs serve learnt, and every open rollout judged."""
    scope = r.endpoints()
    under_way = r.loop.open_incidents(scope)
    states = endpoint_states(r.sagemaker, scope)
    outcomes, followed = [], []
    for endpoint in scope:
        if under_way[endpoint]:
            followed.append(endpoint)
            continue
        names = r.own(endpoint)
        # Search's record picks the endpoints whose canary may take traffic; the incident
        # is opened from a fresh DescribeEndpoint of those only.
        found = weights(states.get(endpoint, {}))
        if found.get(names.canary_variant, 0.0) <= 0 or found.get(names.primary_variant, 0.0) <= 0:
            continue
        described = readable(
            endpoint, lambda name: cast("dict[str, Any]", r.sagemaker.describe_endpoint(EndpointName=name))
        )
        if described is None:
            continue
        adopted = adopted_incident(endpoint, described, names.primary_variant, names.canary_variant, now)
        if adopted is not None:
            outcomes.append(r.loop.start(adopted))
    if r.settings.model_package_groups:
        # Between approvals: learn what new configs serve, so that an approval finds it known.
        ServingGroups(r.sagemaker, r.deployments, now).groups(
            {e: (str(s["EndpointConfigName"]), r.own(e).primary_variant) for e, s in states.items()},
            budget=READS_PER_TICK,
            refresh=REFRESH_AFTER,
        )
    return outcomes + r.loop.follow(followed, under_way, shuffle=now.isoformat())


def rollout_incident(endpoint: str, arn: str, at: datetime, why: str, status_changed: bool = True) -> Incident:
    """The incident of one approval of one package on one endpoint (the same approval twice:
    the same one). `status_changed`: the approval is known to be a transition to Approved
    (`triggers.names_the_transition`), which a package rolled back before needs to be deployed again."""
    return replace(
        opened(endpoint, Rollout.unit.name, f"{package_label(arn)} approved", arn, at, why, None),
        facts={"package": arn, "status_changed": status_changed},
    )


def adopted_incident(
    endpoint: str, described: dict[str, Any], primary: str, canary: str, at: datetime
) -> Incident | None:
    """An operator's canary (both variants take traffic, no rollout open): walked from here on."""
    found = weights(described)
    if found.get(canary, 0.0) <= 0 or found.get(primary, 0.0) <= 0:
        return None
    share = round(found[canary] / (found[canary] + found[primary]) * 100.0, 2)
    counts = {v["VariantName"]: int(v.get("CurrentInstanceCount") or 1) for v in described["ProductionVariants"]}
    config = str(described["EndpointConfigName"])
    incident = opened(
        endpoint,
        Rollout.unit.name,
        f"{endpoint} {variant_label('canary', canary)}",
        f"{described['EndpointArn']}#{config}",
        at,
        f"{variant_label('canary', canary)} takes {share:g}% of the traffic on {config}",
        None,
    )
    return replace(
        incident,
        facts={
            "canary_config": config,
            "from_config": config,
            "share": share,
            "share_since": at.isoformat(),
            # The primary serves 100 - share percent on its instances: all of the traffic needs this many.
            "reference": counts.get(primary, 1) * 100.0 / (100.0 - share),
        },
    )
