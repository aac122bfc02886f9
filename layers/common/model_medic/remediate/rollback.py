"""Rollback on ModelAccuracyDrop: a canary's weight to 0, the previous good config, or a component's previous spec."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from botocore.exceptions import ClientError

from model_medic.intake.triggers import Deployment
from model_medic.platform import aws
from model_medic.platform.clock import Clock
from model_medic.platform.observability import logger
from model_medic.platform.settings import RollbackSettings
from model_medic.policy.policies import live_status
from model_medic.remediate.capacity import Capacity
from model_medic.remediate.component_rollback import ComponentRollback, SpecRollback
from model_medic.remediate.units import CHANGING, Change, Observation, Plan, RemediationUnit, variant_label
from model_medic.store.deployments import Deployments
from model_medic.store.incidents import Incident

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

# Endpoint states in which a deployment is still under way.
_IN_FLIGHT = CHANGING | {"RollingBack", "Creating"}


@dataclass(frozen=True)
class RollbackChange(Change):
    """The canary's weight to 0, or the endpoint back on its previous config."""

    kind: ClassVar[str] = "rollback"
    mode: Literal["canary", "config"]
    variant: str = ""
    from_config: str = ""
    to_config: str = ""

    def describe(self) -> str:
        if self.mode == "canary":
            return f"{variant_label('canary', self.variant)} weight -> 0"
        return f"endpoint config {self.from_config} -> {self.to_config}"


@dataclass(frozen=True)
class RejectPackage(Change):
    """Mark the rolled-back model package Rejected (after the rollback is confirmed)."""

    kind: ClassVar[str] = "reject-package"
    arn: str

    def describe(self) -> str:
        return f"model package {self.arn} -> Rejected"


class RollbackModel:
    """Remediation for ModelAccuracyDrop (and any alarm an operator routes here) in ALARM."""

    unit = RemediationUnit(
        name="rollback",
        function="RollbackModelFunction",
        states=frozenset({"ALARM"}),
        requires="InService",
        alarm_suffixes=("ModelAccuracyDrop",),
        iam_actions=frozenset(
            {
                "sagemaker:DescribeEndpoint",
                "sagemaker:DescribeEndpointConfig",
                "sagemaker:DescribeModel",
                "sagemaker:DescribeModelPackage",
                "sagemaker:UpdateEndpoint",
                "sagemaker:UpdateEndpointWeightsAndCapacities",
                "sagemaker:UpdateModelPackage",
                # A component endpoint's components: their specifications recorded, one put back.
                "sagemaker:ListInferenceComponents",
                "sagemaker:DescribeInferenceComponent",
                "sagemaker:UpdateInferenceComponent",
                "application-autoscaling:DescribeScalableTargets",
                "cloudwatch:DescribeAlarms",
                # Through SageMaker, when the config gone back to names a KmsKeyId (ModelKmsKeyArns).
                "kms:CreateGrant",
                "kms:DescribeKey",
            }
        ),
        effect="alarm-ok",
        verify_minutes_setting="rollback_verify_minutes",
        settings=RollbackSettings,
        changes=(RollbackChange, RejectPackage, SpecRollback),
        max_steps=1,
    )

    def __init__(
        self,
        sagemaker: SageMakerClient,
        capacity: Capacity,
        deployments: Deployments,
        components: Callable[[], ComponentRollback],
        canary_variant: str,
        reject_model_packages: bool,
        cooldown: timedelta,
        clock: Clock,
    ) -> None:
        self._sagemaker = sagemaker
        self._capacity = capacity
        self._deployments = deployments
        self._make_components = components
        self._canary = canary_variant
        self._reject = reject_model_packages
        self.cooldown = cooldown
        self._clock = clock

    @cached_property
    def _components(self) -> ComponentRollback:
        """The components' rollback (`component_rollback.py`), built the first time an endpoint with
        inference components is rolled back."""
        return self._make_components()

    def plan(self, incident: Incident, endpoint: dict[str, Any]) -> Plan:
        name = incident.endpoint
        current = str(endpoint["EndpointConfigName"])
        self._deployments.observe_config(name, current, self._clock())
        hosting = sorted((self._capacity.component_variants(endpoint) or frozenset()) & _names(endpoint))
        if hosting:
            # Its models are the components': one of them goes back on its previous specification.
            return self._components.plan(name, hosting)
        if canary_serves(endpoint, self._canary):
            rollback = RollbackChange("canary", variant=self._canary)
            packages, unmarked = self._packages(current, only_variant=self._canary)
        else:
            previous = self._deployments.previous_config(name, current)
            if previous is None:
                return Plan(
                    "",
                    bound=f"no known rollback target for {name}: no canary takes traffic and no endpoint "
                    f"config other than {current} is in the deployment history",
                )
            problem = self._incompatible(name, current, previous, endpoint)
            if problem is not None:
                return Plan("", bound=problem)
            rollback = RollbackChange("config", from_config=current, to_config=previous)
            packages, unmarked = self._packages(current)
        changes = (rollback, *(RejectPackage(arn) for arn in packages))
        # A package that cannot be read is not marked Rejected; the rollback goes on, and says so.
        return Plan("; ".join([*(c.describe() for c in changes), *unmarked]), changes=changes, critical=True)

    def execute(self, endpoint: str, change: Change, incident: Incident) -> dict[str, Any]:
        if isinstance(change, RejectPackage):
            return reject_package(
                self._sagemaker, change.arn, f"Model Medic rolled back {endpoint}: {incident.alarm_name}"
            )
        if isinstance(change, SpecRollback):
            result = self._components.execute(change)
            self.adopt(endpoint, change, incident)
            return result
        assert isinstance(change, RollbackChange)
        if change.mode == "canary":
            self._sagemaker.update_endpoint_weights_and_capacities(
                EndpointName=endpoint,
                DesiredWeightsAndCapacities=[{"VariantName": change.variant, "DesiredWeight": 0.0}],
            )
            return {"call": "UpdateEndpointWeightsAndCapacities"}
        # Blue/green to the known-good config; counts and weights stay as they are now.
        self._sagemaker.update_endpoint(
            EndpointName=endpoint, EndpointConfigName=change.to_config, RetainAllVariantProperties=True
        )
        self.adopt(endpoint, change, incident)
        return {"call": "UpdateEndpoint"}

    def adopt(self, endpoint: str, change: Change, incident: Incident) -> None:
        if isinstance(change, SpecRollback):
            self._components.adopt(endpoint, change)
        if isinstance(change, RollbackChange) and change.mode == "config":
            # The config rolled back from is never a rollback target again.
            aws.persist(lambda: self._deployments.reject_config(endpoint, change.from_config, self._clock()))

    def rehearse(self, endpoint: str, changes: tuple[Change, ...], incident: Incident) -> None:
        """Nothing to keep: a dry run records its would-be step on the incident alone."""

    def observe(self, endpoint: str, change: Change, described: dict[str, Any], result: dict[str, Any]) -> Observation:
        if isinstance(change, RejectPackage):
            return package_observation(self._sagemaker, change.arn)
        if isinstance(change, SpecRollback):
            return self._components.observe(change, bool(result))
        assert isinstance(change, RollbackChange)
        if change.mode == "canary":
            return canary_observation(change.variant, described)
        return config_observation(described, change.to_config, bool(result))

    def _incompatible(self, endpoint: str, current: str, target: str, described: dict[str, Any]) -> str | None:
        """Why the target config cannot be deployed as it is (UpdateEndpoint would fail), or None."""
        try:
            wanted = self._sagemaker.describe_endpoint_config(EndpointConfigName=target)["ProductionVariants"]
        except ClientError as error:
            if aws.is_transient(error):
                raise
            return f"rollback target {target} cannot be read: {aws.error_code(error)}"
        targets = self._capacity.targets(endpoint, [v["VariantName"] for v in described["ProductionVariants"]])
        if not targets:
            return None
        now = self._sagemaker.describe_endpoint_config(EndpointConfigName=current)["ProductionVariants"]
        return scaling_conflict(target, list(targets), now, wanted)

    def _packages(self, config: str, only_variant: str | None = None) -> tuple[list[str], list[str]]:
        """The ARNs of the model packages behind the config's models (all, or one variant's), and
        why any of them cannot be marked Rejected. Best effort: the rejection is optional, the
        rollback is not. A model or package AWS refuses to show (a model deleted while the endpoint
        still serves it; a package in another account's registry, which the role may not
        describe) is told and left out; a transient error is raised (tried again)."""
        if not self._reject:
            return [], []
        try:
            variants = self._sagemaker.describe_endpoint_config(EndpointConfigName=config)["ProductionVariants"]
        except ClientError as error:
            # A config in use may be deleted: the rollback still goes on, only no package is rejected.
            return [], [_unmarked(f"the model packages of endpoint config {config}", "DescribeEndpointConfig", error)]
        arns: set[str] = set()
        unmarked: list[str] = []
        for variant in variants:
            model = variant.get("ModelName")
            if (only_variant is not None and variant["VariantName"] != only_variant) or not model:
                continue  # no model: an inference component's variant (its models are the components')
            try:
                described = self._sagemaker.describe_model(ModelName=model)
            except ClientError as error:
                unmarked.append(_unmarked(f"the model packages of model {model}", "DescribeModel", error))
                continue
            containers = [described.get("PrimaryContainer", {}), *described.get("Containers", [])]
            for name in sorted({str(c["ModelPackageName"]) for c in containers if c.get("ModelPackageName")}):
                # A container may name a package by its versioned name (group/3): UpdateModelPackage needs the ARN.
                try:
                    arns.add(self._sagemaker.describe_model_package(ModelPackageName=name)["ModelPackageArn"])
                except ClientError as error:
                    unmarked.append(_unmarked(f"model package {name} of model {model}", "DescribeModelPackage", error))
        return sorted(arns), unmarked


def canary_serves(described: dict[str, Any], canary: str) -> bool:
    """Pure: the canary takes traffic beside another variant (DescribeEndpoint): it is the suspect."""
    weights = {v["VariantName"]: float(v.get("CurrentWeight", 0.0)) for v in described["ProductionVariants"]}
    others = sum(w for variant, w in weights.items() if variant != canary)
    return weights.get(canary, 0.0) > 0 and others > 0


def scaling_conflict(
    target: str, auto_scaled: list[str], current: Sequence[Mapping[str, Any]], wanted: Sequence[Mapping[str, Any]]
) -> str | None:
    """Pure: why UpdateEndpoint to config `target` (its variants `wanted`) would fail for the
    auto-scaled variants of an endpoint whose config has the variants `current`: a variant
    removed, or its instance type changed, while its scalable target is registered; or None."""
    types = {v["VariantName"]: v.get("InstanceType") for v in current}
    wanted_types = {v["VariantName"]: v.get("InstanceType") for v in wanted}
    for variant in auto_scaled:
        if variant not in wanted_types:
            return f"rollback target {target} removes auto-scaled variant {variant}: deregister its scaling first"
        if wanted_types[variant] != types.get(variant):
            return (
                f"rollback target {target} changes the instance type of auto-scaled variant {variant} "
                f"({types.get(variant)} -> {wanted_types[variant]}): deregister its scaling first"
            )
    return None


def canary_observation(canary: str, described: dict[str, Any]) -> Observation:
    """Pure: a canary's weight set to 0, read back (DescribeEndpoint)."""
    status = str(described.get("EndpointStatus"))
    variant: dict[str, Any] = next(
        (v for v in described.get("ProductionVariants", []) if v["VariantName"] == canary), {}
    )
    current, desired = variant.get("CurrentWeight"), variant.get("DesiredWeight")
    if status == "InService" and current is not None and float(current) == 0.0:
        return Observation("took", f"canary {canary} takes no traffic")
    if (desired is not None and float(desired) == 0.0) or status in _IN_FLIGHT:
        return Observation("in-flight", f"endpoint {status}")
    return Observation("not-applied", f"canary {canary} weight {current}")


def _names(described: dict[str, Any]) -> frozenset[str]:
    """The names of the endpoint's production variants (DescribeEndpoint)."""
    return frozenset(v["VariantName"] for v in described.get("ProductionVariants", []))


def _unmarked(what: str, operation: str, error: ClientError) -> str:
    """Why `what` is not marked Rejected: AWS refused the read (a transient error is raised)."""
    if aws.is_transient(error):
        raise error
    logger.warning("model package not marked Rejected", what=what, operation=operation, error=str(error))
    return f"{what} not marked Rejected ({operation}: {aws.error_code(error)})"


def reject_package(sagemaker: SageMakerClient, arn: str, description: str) -> dict[str, Any]:
    """Mark a model package Rejected, saying why (UpdateModelPackage)."""
    sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Rejected", ApprovalDescription=description)
    return {"call": "UpdateModelPackage"}


def package_observation(sagemaker: SageMakerClient, arn: str) -> Observation:
    """A rejection read back: the package's approval status now."""
    approval = sagemaker.describe_model_package(ModelPackageName=arn).get("ModelApprovalStatus")
    if approval == "Rejected":
        return Observation("took", "model package is Rejected")
    return Observation("not-applied", f"model package is {approval}")


def config_observation(described: dict[str, Any], target: str, called: bool) -> Observation:
    """An UpdateEndpoint to `target` read back: done only when InService on it; a blue/green
    deployment that failed rolls back on its own (InService on the old config): failed. The
    status is read as DescribeEndpoint spells it, also from an event's detail (`IN_SERVICE`)."""
    status = live_status(str(described.get("EndpointStatus")))
    config = described.get("EndpointConfigName")
    pending = (described.get("PendingDeploymentSummary") or {}).get("EndpointConfigName")
    if status == "InService" and config == target:
        return Observation("took", f"InService on {config}")
    if status in _IN_FLIGHT or pending == target:
        return Observation("in-flight", f"endpoint {status}, deploying {target}")
    if status == "InService" and called:
        reason = described.get("FailureReason") or "no reason given"
        return Observation("failed", f"the deployment rolled back on its own; InService on {config} ({reason})")
    if status != "InService":
        return Observation("failed", f"endpoint is {status}: {described.get('FailureReason', '')}")
    return Observation("not-applied", f"InService on {config}")


def record_deployment(deployments: Deployments, deployment: Deployment, now: datetime) -> dict[str, Any]:
    """A "SageMaker Endpoint State Change" keeps the deployment history."""
    if deployment.problem is not None:
        logger.warning("endpoint state change rejected", error=deployment.problem)
        return {"recorded": None, "rejected": [deployment.problem]}
    seen = deployment.seen
    if seen is not None:
        deployments.observe_config(*seen, now)
        logger.info("deployment recorded", endpoint=seen[0], config=seen[1])
    return {"recorded": seen and {"endpoint": seen[0], "config": seen[1]}, "rejected": []}
