"""Serverless variants' capacity: concurrency raised within bounds, set in one call, read back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args

from model_medic.remediate.units import CHANGING, Observation, read_back, unsettled

if TYPE_CHECKING:
    from mypy_boto3_application_autoscaling import ApplicationAutoScalingClient
    from mypy_boto3_application_autoscaling.literals import ScalableDimensionType
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sagemaker.type_defs import ProductionVariantServerlessUpdateConfigTypeDef

# Application Auto Scaling's dimension for a serverless variant's provisioned concurrency.
PROVISIONED_DIMENSION: ScalableDimensionType = "sagemaker:variant:DesiredProvisionedConcurrency"
# ServerlessMaxConcurrency / ServerlessProvisionedConcurrency: 1-200 (botocore's SageMaker model).
AWS_MAX_CONCURRENCY = 200

# provisioned-min-capacity: the MinCapacity of the variant's scalable target on PROVISIONED_DIMENSION;
# provisioned-concurrency: ServerlessUpdateConfig.ProvisionedConcurrency; max-concurrency: its MaxConcurrency.
ServerlessLever = Literal["provisioned-min-capacity", "provisioned-concurrency", "max-concurrency"]
LEVERS: tuple[str, ...] = get_args(ServerlessLever)
# What each lever sets, as AWS names it.
NAMES = {
    "provisioned-min-capacity": "MinCapacity",
    "provisioned-concurrency": "ProvisionedConcurrency",
    "max-concurrency": "MaxConcurrency",
}


@dataclass(frozen=True)
class ConcurrencyBounds:
    """How far the scale-up may take a serverless variant: the stack's (or the endpoint's tags')."""

    max_concurrency: int  # MaxConcurrency
    max_provisioned: int  # MaxProvisionedConcurrency


@dataclass(frozen=True)
class Serverless:
    """A serverless variant's concurrency as DescribeEndpoint shows it (CurrentServerlessConfig),
    and the range of its scalable target on provisioned concurrency, when there is one."""

    max_concurrency: int
    provisioned: int | None  # None: on demand
    min_capacity: int | None = None
    max_capacity: int | None = None

    @property
    def lever(self) -> ServerlessLever:
        if self.min_capacity is not None:
            return "provisioned-min-capacity"
        return "max-concurrency" if self.provisioned is None else "provisioned-concurrency"

    @property
    def floor(self) -> int:
        """The concurrency the variant is guaranteed now, by its lever."""
        if self.min_capacity is not None:
            return self.min_capacity
        return self.max_concurrency if self.provisioned is None else self.provisioned

    @property
    def current(self) -> int:
        """What runs now, by its lever: auto scaling may hold more than its MinCapacity."""
        return self.max_concurrency if self.provisioned is None else self.provisioned


def read(variant: dict[str, Any], target: dict[str, Any] | None = None) -> Serverless | None:
    """Pure: a DescribeEndpoint variant's serverless concurrency, or None for an instance variant."""
    config = variant.get("CurrentServerlessConfig")
    if not config:
        return None
    provisioned = config.get("ProvisionedConcurrency")
    return Serverless(
        max_concurrency=int(config["MaxConcurrency"]),
        provisioned=None if provisioned is None else int(provisioned),
        min_capacity=None if target is None else int(target["MinCapacity"]),
        max_capacity=None if target is None else int(target["MaxCapacity"]),
    )


def ceiling(serverless: Serverless, bounds: ConcurrencyBounds) -> tuple[int, str]:
    """Pure: the most concurrency the scale-up may give the variant by its lever, and the limit
    that sets it: AWS's 200, the stack's (or tag's) maximum, and for provisioned concurrency the
    variant's MaxConcurrency (AWS: provisioned "should be less than or equal to MaxConcurrency")
    and the scalable target's MaxCapacity."""
    limits = [(AWS_MAX_CONCURRENCY, f"the {AWS_MAX_CONCURRENCY} AWS allows")]
    if serverless.lever == "max-concurrency":
        limits.append((bounds.max_concurrency, f"MaxConcurrency, the maximum {bounds.max_concurrency}"))
        return min(limits, key=lambda limit: limit[0])
    limits.append(
        (bounds.max_provisioned, f"MaxProvisionedConcurrency, the maximum {bounds.max_provisioned}"),
    )
    limits.append((serverless.max_concurrency, f"the variant's MaxConcurrency {serverless.max_concurrency}"))
    if serverless.max_capacity is not None:
        limits.append((serverless.max_capacity, f"the scalable target's MaxCapacity {serverless.max_capacity}"))
    return min(limits, key=lambda limit: limit[0])


def update_config(lever: str, value: int) -> ProductionVariantServerlessUpdateConfigTypeDef:
    """The ServerlessUpdateConfig that sets a lever's value (UpdateEndpointWeightsAndCapacities)."""
    if lever == "max-concurrency":
        return {"MaxConcurrency": value}
    return {"ProvisionedConcurrency": value}


def apply(
    sagemaker: SageMakerClient,
    autoscaling: ApplicationAutoScalingClient,
    endpoint: str,
    variant: str,
    lever: str,
    to: int,
) -> str:
    """Set one serverless variant's concurrency by its lever; returns the AWS operation it called."""
    if lever == "provisioned-min-capacity":
        # Only MinCapacity changes; MaxCapacity and the policies stay as they are.
        autoscaling.register_scalable_target(
            ServiceNamespace="sagemaker",
            ResourceId=f"endpoint/{endpoint}/variant/{variant}",
            ScalableDimension=PROVISIONED_DIMENSION,
            MinCapacity=to,
        )
        return "RegisterScalableTarget"
    sagemaker.update_endpoint_weights_and_capacities(
        EndpointName=endpoint,
        DesiredWeightsAndCapacities=[{"VariantName": variant, "ServerlessUpdateConfig": update_config(lever, to)}],
    )
    return "UpdateEndpointWeightsAndCapacities"


@dataclass(frozen=True)
class Step:
    """One serverless change as the read-back sees it."""

    variant: str
    lever: str
    before: int
    after: int


def observation(
    endpoint: str, step: Step, described: dict[str, Any], min_capacity: int | None = None, called: bool = False
) -> Observation:
    """Pure: a serverless change read back - the variant's CurrentServerlessConfig (and, while
    the endpoint is Updating, its DesiredServerlessConfig) and, for the scalable target's lever,
    its MinCapacity now. More than asked, set by a person, is the change taken, and theirs. Once
    `called`, an endpoint still changing is never read as the change not taken (`units.unsettled`)."""
    variant = next((v for v in described.get("ProductionVariants", []) if v["VariantName"] == step.variant), None)
    if variant is None:
        return Observation("failed", f"variant {step.variant} is gone from {endpoint}")
    current_config = variant.get("CurrentServerlessConfig") or {}
    desired_config = variant.get("DesiredServerlessConfig") or current_config
    key = "MaxConcurrency" if step.lever == "max-concurrency" else "ProvisionedConcurrency"
    current = int(current_config.get(key) or 0)
    if step.lever == "provisioned-min-capacity":
        observed = min_capacity
    else:
        desired = desired_config.get(key)
        observed = step.after if current == step.after else (None if desired is None else int(desired))
    reading = read_back(step.before, step.after, observed, ordered=True)
    runs = f"{step.variant} runs {key} {current}"
    status = described.get("EndpointStatus")
    if reading == "did-not-take":
        return unsettled(called, str(status), runs)
    what = NAMES[step.lever]
    person = ""
    if reading == "person-gave-more":
        person = f"a person set {step.variant} {what} {observed}, above the {step.after} asked: theirs, kept"
    if status == "InService" and current >= step.after:
        return Observation("took", runs, person)
    if status == "InService" or status in CHANGING:
        return Observation("in-flight", f"endpoint {status}: {step.variant} {key} {current} -> {step.after}", person)
    return Observation("failed", f"endpoint is {status}")
