"""The rollout's pure parts: derived endpoint configs keep every field AWS takes, the endpoint
kinds a canary cannot walk on, the keys the stack may use, and what counts as an approval."""

from datetime import UTC, datetime
from typing import Any

import botocore.session
import pytest

from model_medic.intake.triggers import names_the_transition
from model_medic.remediate.rollout import as_input, derived_config, key_allowed, unsupported
from tests.real_endpoints import KINDS, load

SAGEMAKER = botocore.session.get_session().get_service_model("sagemaker")
CREATE = SAGEMAKER.operation_model("CreateEndpointConfig").input_shape
VARIANT = CREATE.members["ProductionVariants"].member


def example(shape: Any, depth: int = 0) -> Any:
    """A value for every member of a botocore shape, all the way down (recursive shapes stop at depth 8)."""
    kind = shape.type_name
    if kind == "structure":
        return {name: example(member, depth + 1) for name, member in shape.members.items() if depth < 8}
    if kind == "list":
        return [example(shape.member, depth + 1)]
    if kind == "map":
        return {"key": example(shape.value, depth + 1)}
    if kind == "string":
        return shape.enum[0] if shape.enum else f"{shape.name}-value"
    if kind in ("integer", "long"):
        return 3
    if kind in ("float", "double"):
        return 0.5
    if kind == "boolean":
        return True
    if kind == "timestamp":
        return datetime(2026, 1, 2, tzinfo=UTC)
    return b"blob"


def test_a_derived_config_carries_every_field_create_endpoint_config_takes() -> None:
    """Walks botocore's CreateEndpointConfig input: a field AWS adds later is carried, not dropped in silence."""
    described = {
        **example(CREATE),
        # DescribeEndpointConfig's own fields, which CreateEndpointConfig does not take back.
        "EndpointConfigArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/old",
        "CreationTime": datetime(2026, 1, 1, tzinfo=UTC),
    }
    variants = [{"VariantName": "canary", "ModelName": "m", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}]
    request = derived_config(described, CREATE, "new-config", variants)
    assert request["EndpointConfigName"] == "new-config"
    assert request["ProductionVariants"] == variants
    carried = set(CREATE.members) - {"EndpointConfigName", "ProductionVariants"}
    for name in sorted(carried):
        assert request.get(name) == described[name], name
    assert "EndpointConfigArn" not in request
    assert "CreationTime" not in request
    assert set(request) <= set(CREATE.members)


def test_a_variant_keeps_every_field_and_loses_what_only_describe_returns() -> None:
    described = {**example(VARIANT), "CurrentInstanceCount": 2, "DeployedImages": [{"SpecifiedImage": "x"}]}
    kept = as_input(described, VARIANT)
    assert kept == {k: described[k] for k in VARIANT.members}


def test_a_setting_not_made_is_not_sent() -> None:
    # moto answers DataCaptureConfig: {} for a config without capture; AWS leaves it out.
    described: dict[str, Any] = {
        "EndpointConfigName": "c",
        "ProductionVariants": [],
        "DataCaptureConfig": {},
        "KmsKeyId": None,
    }
    assert derived_config(described, CREATE, "d", []) == {"EndpointConfigName": "d", "ProductionVariants": []}


@pytest.mark.parametrize(
    ("described", "config", "why"),
    [
        ({"AsyncInferenceConfig": {"OutputConfig": {"S3OutputPath": "s3://b/o"}}}, None, "asynchronous"),
        (
            {
                "ProductionVariants": [
                    {"VariantName": "AllTraffic", "CurrentInstanceCount": 0, "CurrentServerlessConfig": {}}
                ]
            },
            None,
            "serverless variant AllTraffic",
        ),
        (
            {},
            {"ProductionVariants": [{"VariantName": "v", "ServerlessConfig": {"MemorySizeInMB": 2048}}]},
            "serverless",
        ),
        (
            {},
            {"ProductionVariants": [{"VariantName": "AllTraffic", "InstanceType": "ml.g5.2xlarge"}]},
            "inference components",
        ),
        (
            {},
            {"ProductionVariants": [{"VariantName": "primary", "ModelName": "m", "InstanceType": "ml.m5.large"}]},
            None,
        ),
    ],
)
def test_the_endpoints_a_canary_cannot_walk_on_say_why(described: Any, config: Any, why: str | None) -> None:
    problem = unsupported({"ProductionVariants": [], **described}, config)
    if why is None:
        assert problem is None
    else:
        assert problem is not None
        assert why in problem


@pytest.mark.parametrize(
    ("key", "allowed"),
    [
        ("arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab", True),
        ("1234abcd-12ab", True),
        ("arn:aws:kms:us-east-1:123456789012:key/other", False),
        ("alias/endpoints", False),  # an alias: the stack lists keys, and IAM evaluates the key's ARN
    ],
)
def test_a_config_key_is_usable_only_when_listed(key: str, allowed: bool) -> None:
    assert key_allowed(key, ["arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab"]) is allowed
    assert key_allowed(key, []) is False


def test_only_an_event_that_names_the_status_change_proves_a_new_approval() -> None:
    def event(detail: dict[str, Any]) -> dict[str, Any]:
        return {"detail-type": "SageMaker Model Package State Change", "detail": detail}

    assert names_the_transition(event({"UpdatedModelPackageFields": ["ModelApprovalStatus"]}))
    assert not names_the_transition(event({"UpdatedModelPackageFields": ["ApprovalDescription"]}))
    assert not names_the_transition(event({"ModelApprovalStatus": "Approved"}))  # AWS's documented example
    assert names_the_transition({"deploy-package": {"arn": "x"}})  # an operator's request decides by itself


WHY_NOT = {
    "instance-variants": None,
    "serverless": "serverless variant",
    "async": "asynchronous endpoint",
    "shadow": "a shadow test runs on it",
    "inference-components": "hosts inference components",
    "managed-instance-scaling": "hosts inference components",  # AWS takes it on component endpoints only
}


@pytest.mark.parametrize("kind", KINDS)
def test_each_real_endpoint_kind_is_walked_or_says_why_not(kind: str) -> None:
    problem = unsupported(load(kind, "describe-endpoint"), load(kind, "endpoint-config"))
    expected = WHY_NOT[kind]
    if expected is None:
        assert problem is None
    else:
        assert problem is not None
        assert expected in problem
    # What DescribeEndpoint shows alone (a tick's first look) already stops the kinds it can.
    if kind in ("serverless", "async", "shadow"):
        assert unsupported(load(kind, "describe-endpoint")) is not None
