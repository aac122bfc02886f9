"""The endpoint of each SageMaker kind (tests/data/real/endpoints/README.md) is what AWS's own
model says a DescribeEndpoint response and a CreateEndpointConfig request may hold, and the
scale-up reads each kind's variants as they are."""

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

import botocore.session
import pytest

from model_medic.remediate.capacity import Capacity, Variant, decide_scale_up
from tests.real_endpoints import ENDPOINTS, KINDS, load

if TYPE_CHECKING:
    from mypy_boto3_application_autoscaling import ApplicationAutoScalingClient
    from mypy_boto3_sagemaker import SageMakerClient

MODEL = botocore.session.get_session().get_service_model("sagemaker")


def problems(value: Any, shape: Any, where: str = "") -> list[str]:
    """Every way `value` is not an instance of the botocore `shape` (timestamps as ISO text)."""
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{where}: not an object"]
        found = [f"{where}.{k}: not a member of {shape.name}" for k in value if k not in shape.members]
        found += [f"{where}.{k}: required by {shape.name}" for k in shape.required_members if k not in value]
        for key, member in shape.members.items():
            if key in value:
                found += problems(value[key], member, f"{where}.{key}")
        return found
    if kind == "list":
        if not isinstance(value, list):
            return [f"{where}: not a list"]
        return [p for i, item in enumerate(value) for p in problems(item, shape.member, f"{where}[{i}]")]
    if kind == "string":
        if not isinstance(value, str):
            return [f"{where}: not a string"]
        found = []
        if shape.enum and value not in shape.enum:
            found.append(f"{where}: {value!r} is not one of {shape.name}")
        if "pattern" in shape.metadata and not re.fullmatch(shape.metadata["pattern"], value):
            found.append(f"{where}: {value!r} does not match {shape.metadata['pattern']}")
        if len(value) > shape.metadata.get("max", len(value)):
            found.append(f"{where}: longer than {shape.metadata['max']}")
        return found
    if kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            return [f"{where}: not an integer"]
        low, high = shape.metadata.get("min", value), shape.metadata.get("max", value)
        return [] if low <= value <= high else [f"{where}: {value} outside {low}..{high}"]
    if kind in ("float", "double"):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return [] if ok and value >= shape.metadata.get("min", value) else [f"{where}: not a valid number"]
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{where}: not a boolean"]
    if kind == "timestamp":
        try:
            datetime.fromisoformat(value)
        except (TypeError, ValueError):
            return [f"{where}: not an ISO-8601 time"]
        return []
    return [f"{where}: unexpected shape type {kind}"]


def test_there_is_one_endpoint_and_one_config_for_every_kind_and_nothing_else() -> None:
    names = sorted(p.name for p in ENDPOINTS.glob("*.json"))
    assert names == sorted(f"{kind}.{part}.json" for kind in KINDS for part in ("describe-endpoint", "endpoint-config"))


@pytest.mark.parametrize("kind", KINDS)
def test_each_describe_endpoint_file_is_a_describe_endpoint_response(kind: str) -> None:
    shape = MODEL.operation_model("DescribeEndpoint").output_shape
    assert problems(load(kind, "describe-endpoint"), shape) == []


@pytest.mark.parametrize("kind", KINDS)
def test_each_endpoint_config_file_is_a_create_endpoint_config_request(kind: str) -> None:
    shape = MODEL.operation_model("CreateEndpointConfig").input_shape
    assert problems(load(kind, "endpoint-config"), shape) == []


@pytest.mark.parametrize("kind", KINDS)
def test_each_response_has_the_variants_of_its_config(kind: str) -> None:
    described, config = load(kind, "describe-endpoint"), load(kind, "endpoint-config")
    if kind == "async":  # two endpoints: the response's config is not public (README)
        assert [v["VariantName"] for v in described["ProductionVariants"]] == ["default-variant-name"]
        return
    for key in ("ProductionVariants", "ShadowProductionVariants"):
        assert [v["VariantName"] for v in described.get(key, [])] == [v["VariantName"] for v in config.get(key, [])]
    assert described["EndpointConfigName"] == config["EndpointConfigName"]


def test_the_checker_finds_what_is_wrong() -> None:
    shape = MODEL.operation_model("DescribeEndpoint").output_shape
    described = load("serverless", "describe-endpoint")
    described["ProductionVariants"][0]["ModelName"] = "not in a summary"
    described["EndpointStatus"] = "Running"
    del described["CreationTime"]
    assert sorted(problems(described, shape)) == [
        ".CreationTime: required by DescribeEndpointOutput",
        ".EndpointStatus: 'Running' is not one of EndpointStatus",
        ".ProductionVariants[0].ModelName: not a member of ProductionVariantSummary",
    ]


class _NoTargets:
    """Application Auto Scaling with no scalable target (the responses are read, nothing is called)."""

    def describe_scalable_targets(self, **_: Any) -> dict[str, Any]:
        return {"ScalableTargets": []}


def _capacity() -> Capacity:
    """Capacity reading a described endpoint (SageMaker is not called) with no scalable target."""
    return Capacity(cast("SageMakerClient", None), cast("ApplicationAutoScalingClient", _NoTargets()))


@pytest.mark.parametrize(
    ("kind", "read"),
    [
        ("instance-variants", {"AMeaningfulProdVarName": (1, None, None)}),
        ("serverless", {"byoVariant": (None, None, 1)}),  # CurrentInstanceCount 0 beside CurrentServerlessConfig
        ("async", {"default-variant-name": (1, None, None)}),
        ("shadow", {"production": (2, None, None)}),  # the shadow variant is no production variant
        ("inference-components", {"AllTraffic": (1, 2, None)}),
        ("managed-instance-scaling", {"AllTraffic": (1, 2, None)}),
    ],
)
def test_the_scale_up_reads_each_kinds_variants_as_they_are(
    kind: str, read: dict[str, tuple[int | None, int | None, int | None]]
) -> None:
    described = load(kind, "describe-endpoint")
    status, variants = _capacity().endpoint(described["EndpointName"], described)
    assert status == "InService"
    assert {v.name: (v.instances, v.managed_max, v.concurrency) for v in variants} == read


def test_managed_instance_scaling_that_is_disabled_sets_no_maximum() -> None:
    described = load("managed-instance-scaling", "describe-endpoint")
    described["ProductionVariants"][0]["ManagedInstanceScaling"]["Status"] = "DISABLED"
    [variant] = _capacity().endpoint(described["EndpointName"], described)[1]
    assert variant.managed_max is None


@pytest.mark.parametrize(
    ("variant", "step", "after", "limit"),
    [
        (Variant("v", 1, 1.0), 1, 2, None),
        (Variant("v", 1, 1.0, managed_max=2), 3, 2, "ManagedInstanceScaling.MaxInstanceCount 2"),
        (Variant("v", 1, 1.0, managed_max=9), 5, 4, "MaxInstanceCount, the maximum 4 instances"),
        (Variant("v", 1, 1.0, 1, 3, managed_max=2), 5, 2, "ManagedInstanceScaling.MaxInstanceCount 2"),
        (Variant("v", 1, 1.0, 1, 2, managed_max=3), 5, 2, "the scalable target's MaxCapacity 2"),
        (Variant("v", 2, 1.0, managed_max=2), 1, None, "ManagedInstanceScaling.MaxInstanceCount 2"),
    ],
)
def test_a_step_never_passes_the_lowest_of_the_three_maximums_and_names_it(
    variant: Variant, step: int, after: int | None, limit: str | None
) -> None:
    decision = decide_scale_up([variant], step, max_instances=4)
    assert [s.after for s in decision.steps] == ([] if after is None else [after])
    assert decision.at_ceiling == (() if after is not None else ("v",))
    assert decision.limits.get("v") == limit
