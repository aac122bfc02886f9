"""How a rollout changes an endpoint: derived configs and weights, and where a canary cannot go."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from model_medic.platform import aws
from model_medic.policy.policies import live_status
from model_medic.remediate.rollback import config_observation
from model_medic.remediate.rollout.changes import DeployCanary, FinishRollout, RollBackCanary, ShiftTraffic
from model_medic.remediate.units import CHANGING, Observation, read_back, variant_label

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sagemaker.type_defs import CreateModelInputTypeDef


def resource_name(base: str, marker: str, unique: str) -> str:
    """A SageMaker resource name (letters, digits, hyphens; at most 63): `<base>-<marker>-<digest>`,
    the base cut so that the marker always stays whole - the clean-up's IAM names rollouts'
    resources by it (`*-canary-*`, `*-final-*`, `*-model-*`). Names of bases short enough are
    what they always were (the readable part at most 50 characters)."""
    digest = hashlib.sha256(f"{base}|{marker}|{unique}".encode()).hexdigest()[:8]
    room = _READABLE - len(marker) - 1
    cut = re.sub(r"[^a-zA-Z0-9-]+", "-", base).strip("-")[:room].strip("-")
    return f"{cut}-{marker}-{digest}" if cut else f"{marker}-{digest}"


# The readable part of a rollout's resource name, before its 8-character digest (63 at most in all).
_READABLE = 50


def as_input(value: Any, shape: Any) -> Any:
    """Pure: what a Describe call returned, cut to what `shape` (a botocore input shape) takes.
    A derived endpoint config starts from the serving one as DescribeEndpointConfig returns it
    and changes only what must change: every field CreateEndpointConfig takes is carried over,
    including those added to the API after this was written (the client's model says which)."""
    kind = getattr(shape, "type_name", "")
    if kind == "structure" and isinstance(value, dict):
        # An empty structure or list is a setting not made (moto answers DataCaptureConfig: {}).
        return {
            k: as_input(v, shape.members[k])
            for k, v in value.items()
            if k in shape.members and v is not None and v != {} and v != []
        }
    if kind == "list" and isinstance(value, list):
        return [as_input(v, shape.member) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: as_input(v, shape.value) for k, v in value.items()}
    return value


def derived_config(source: Mapping[str, Any], shape: Any, name: str, variants: list[dict[str, Any]]) -> dict[str, Any]:
    """Pure: the CreateEndpointConfig request of a config like `source` (DescribeEndpointConfig's
    answer) but named `name` and serving `variants`: data capture, its key, asynchronous
    inference, shadow variants, explainer and every other setting stay as they were."""
    return {**as_input(source, shape), "EndpointConfigName": name, "ProductionVariants": variants}


def unsupported(described: dict[str, Any], config: dict[str, Any] | None = None) -> str | None:
    """Pure: why a canary rollout cannot run safely on this endpoint (DescribeEndpoint, and
    DescribeEndpointConfig where read), or None."""
    if described.get("AsyncInferenceConfig") or (config or {}).get("AsyncInferenceConfig"):
        return (
            "an asynchronous endpoint: the judge compares each variant's invocation errors, and an "
            "asynchronous endpoint accepts a request before it fails (its failures are InvocationFailures)"
        )
    serverless = [v["VariantName"] for v in described.get("ProductionVariants", []) if "CurrentServerlessConfig" in v]
    serverless += [v["VariantName"] for v in (config or {}).get("ProductionVariants", []) if "ServerlessConfig" in v]
    if serverless:
        return f"serverless variant {sorted(set(serverless))[0]}: no instances to size ahead of the canary's traffic"
    if described.get("ShadowProductionVariants") or (config or {}).get("ShadowProductionVariants"):
        return (
            "a shadow test runs on it: AWS takes one production variant beside a shadow variant, so no canary "
            "variant can be added; end the shadow test first"
        )
    components = [v["VariantName"] for v in (config or {}).get("ProductionVariants", []) if not v.get("ModelName")]
    if components:
        return (
            f"variant {components[0]} hosts inference components (no model of its own): AWS updates components "
            "in place, not as canary variants"
        )
    return None


def key_allowed(key: str, allowed: list[str]) -> bool:
    """Pure: whether a config's KmsKeyId (a key ID, key ARN, alias or alias ARN) is one of the
    key ARNs the stack may use (`ModelKmsKeyArns`)."""
    tail = key.rsplit(":", 1)[-1]  # "key/<id>", "alias/<name>", or a bare key ID
    tails = {a.rsplit(":", 1)[-1] for a in allowed}
    return tail in tails or f"key/{tail}" in tails


def config_shapes(sagemaker: SageMakerClient) -> tuple[Any, Any]:
    """CreateEndpointConfig's input shape and its ProductionVariant shape, from the client's own model."""
    shape = sagemaker.meta.service_model.operation_model("CreateEndpointConfig").input_shape
    return shape, shape.members["ProductionVariants"].member


def canary_variants(variants: dict[str, dict[str, Any]], change: DeployCanary) -> list[dict[str, Any]]:
    """Pure: the canary config's variants - the serving ones as they are (the primary weighted
    for what the canary does not take), the package's model as the canary on the primary's spec."""
    primary = variants[change.primary]
    kept = [
        {**v, "InitialVariantWeight": (100 - change.share) / 100.0} if name == change.primary else v
        for name, v in variants.items()
        if name != change.canary
    ]
    canary = {
        **primary,
        "VariantName": change.canary,
        "ModelName": change.model,
        "InitialInstanceCount": change.instances,
        "InitialVariantWeight": change.share / 100.0,
    }
    return [*kept, canary]


def create_canary(sagemaker: SageMakerClient, change: DeployCanary) -> None:
    """The candidate's model (the serving model's role and network settings, the package's
    container) and the canary config derived from the one the endpoint serves."""
    source = sagemaker.describe_endpoint_config(EndpointConfigName=change.from_config)
    shape, variant_shape = config_shapes(sagemaker)
    variants = {v["VariantName"]: as_input(v, variant_shape) for v in source["ProductionVariants"]}
    serving = sagemaker.describe_model(ModelName=variants[change.primary]["ModelName"])
    model: CreateModelInputTypeDef = {
        "ModelName": change.model,
        "ExecutionRoleArn": serving["ExecutionRoleArn"],
        "PrimaryContainer": {"ModelPackageName": change.package},
    }
    if serving.get("VpcConfig"):
        model["VpcConfig"] = serving["VpcConfig"]
    if serving.get("EnableNetworkIsolation"):
        model["EnableNetworkIsolation"] = serving["EnableNetworkIsolation"]
    create_once(lambda: sagemaker.create_model(**model))
    request = derived_config(source, shape, change.to_config, canary_variants(variants, change))
    create_once(lambda: sagemaker.create_endpoint_config(**request))


def create_final(sagemaker: SageMakerClient, change: FinishRollout) -> None:
    """The final config: the canary config with the new model alone, as the primary variant."""
    source = sagemaker.describe_endpoint_config(EndpointConfigName=change.from_config)
    shape, variant_shape = config_shapes(sagemaker)
    canary = next(v for v in source["ProductionVariants"] if v.get("ModelName") == change.model)
    variant = {
        **as_input(canary, variant_shape),
        "VariantName": change.primary,
        "InitialInstanceCount": change.instances,
        "InitialVariantWeight": 1.0,
    }
    request = derived_config(source, shape, change.to_config, [variant])
    create_once(lambda: sagemaker.create_endpoint_config(**request))


def create_once(call: Callable[[], Any]) -> None:
    """A Create call that a retry may repeat: 'already exists' means the first one went through
    (the names are derived from the incident, so the existing resource is this one)."""
    try:
        call()
    except ClientError as error:
        message = str(error.response.get("Error", {}).get("Message", ""))
        if aws.error_code(error) == "ValidationException" and "already exist" in message:
            return
        raise


def shift_traffic(sagemaker: SageMakerClient, endpoint: str, change: ShiftTraffic) -> dict[str, Any]:
    """Both variants' weights, so that the canary takes exactly the change's share (0 for a rollback)."""
    after = 0 if isinstance(change, RollBackCanary) else change.after
    sagemaker.update_endpoint_weights_and_capacities(
        EndpointName=endpoint,
        DesiredWeightsAndCapacities=[
            {"VariantName": change.canary, "DesiredWeight": after / 100.0},
            {"VariantName": change.primary, "DesiredWeight": (100 - after) / 100.0},
        ],
    )
    return {"call": "UpdateEndpointWeightsAndCapacities"}


def traffic_observation(change: ShiftTraffic, described: dict[str, Any]) -> Observation:
    """Pure: a weight change read back (DescribeEndpoint): took once InService at the share. A
    share neither asked nor the one before, or a config deployed meanwhile (a shift deploys
    none), is a person's change: theirs, and the rollout stops there (`Observation.stops`). The
    status is read as DescribeEndpoint spells it, also from an event's detail (`UPDATING`)."""
    after = 0 if isinstance(change, RollBackCanary) else change.after
    label = variant_label("canary", change.canary)
    # An event's detail may name no variant (the guide's endpoint state change): none is the canary.
    variants = {v.get("VariantName"): v for v in described.get("ProductionVariants", [])}
    pending = (described.get("PendingDeploymentSummary") or {}).get("EndpointConfigName")
    if pending or change.canary not in variants or change.primary not in variants:
        config = pending or described.get("EndpointConfigName")
        return person_changed(f"config {config} deployed while {label} went {change.before:g}% -> {after}%")

    def share(key: str) -> float | None:
        canary, primary = variants[change.canary].get(key), variants[change.primary].get(key)
        if canary is None or primary is None or float(canary) + float(primary) <= 0:
            return None
        return float(canary) / (float(canary) + float(primary)) * 100.0

    status = live_status(str(described.get("EndpointStatus")))
    current, desired = share("CurrentWeight"), share("DesiredWeight")
    asked = desired if desired is not None else current
    reading = read_back(change.before, after, _snapped(asked, change.before, after))
    if reading == "person-changed-other":
        return person_changed(f"{label} set to {asked:g}% of the traffic, not the {after}% asked")
    if status == "InService" and current is not None and abs(current - after) < 0.5:
        return Observation("took", f"{label} takes {current:.0f}% of the traffic")
    if reading == "took" or status in CHANGING:
        return Observation("in-flight", f"endpoint {status}: {label} -> {after}%")
    return Observation("not-applied", f"{label} takes {current}% of the traffic")


def config_read_back(change: DeployCanary | FinishRollout, described: dict[str, Any], called: bool) -> Observation:
    """Pure: a rollout's UpdateEndpoint read back (`rollback.config_observation`), where a config
    neither the one asked nor the one before, deployed or deploying, is a person's: theirs, and
    the rollout stops there."""
    pending = (described.get("PendingDeploymentSummary") or {}).get("EndpointConfigName")
    serving = pending or described.get("EndpointConfigName")
    if read_back(change.from_config, change.to_config, serving) == "person-changed-other":
        return person_changed(f"config {serving} deployed, not the {change.to_config} asked")
    return config_observation(described, change.to_config, called)


def person_changed(what: str) -> Observation:
    """A person's value in place of the one a rollout's change asked for (docs/rooms/control.md,
    "People win")."""
    return Observation("took", what, person=f"a person changed the endpoint: {what}", stops=True)


def _snapped(share: float | None, *known: float) -> float | None:
    """A share read back, as the known one it is within half a percent of (weights are floats)."""
    if share is None:
        return None
    return next((k for k in known if abs(share - k) < 0.5), round(share, 2))
