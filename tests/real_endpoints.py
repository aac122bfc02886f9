"""The endpoint of each SageMaker kind under tests/data/real/endpoints/ (README there: where each
file comes from), read as it is or made in moto from its CreateEndpointConfig request."""

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import boto3

ENDPOINTS = Path(__file__).resolve().parent / "data" / "real" / "endpoints"
KINDS = (
    "instance-variants",
    "serverless",
    "async",
    "shadow",
    "inference-components",
    "managed-instance-scaling",
)
# The artifacts hold no CreateModel request: the models their configs name are made with this.
MODEL_ROLE = "arn:aws:iam::123456789012:role/sagemaker-custom-role"
MODEL_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.3-1"


@cache
def _read(name: str) -> Any:
    return json.loads((ENDPOINTS / name).read_text())


def load(kind: str, part: str) -> dict[str, Any]:
    """A fresh copy of `<kind>.<part>.json` (part: describe-endpoint or endpoint-config)."""
    if kind not in KINDS:
        raise ValueError(f"no endpoint of kind {kind!r}: {', '.join(KINDS)}")
    return copy.deepcopy(_read(f"{kind}.{part}.json"))


def create_in_moto(kind: str, endpoint_name: str, region: str = "us-east-1") -> dict[str, Any]:
    """Make the kind's endpoint in moto from its CreateEndpointConfig request, unchanged: the
    models it names (with our role and image), the config, then the endpoint. Returns the request."""
    sagemaker = boto3.client("sagemaker", region_name=region)
    request = load(kind, "endpoint-config")
    variants = [*request["ProductionVariants"], *request.get("ShadowProductionVariants", [])]
    for model in sorted({v["ModelName"] for v in variants if "ModelName" in v}):
        sagemaker.create_model(ModelName=model, ExecutionRoleArn=MODEL_ROLE, PrimaryContainer={"Image": MODEL_IMAGE})
    sagemaker.create_endpoint_config(**request)
    sagemaker.create_endpoint(EndpointName=endpoint_name, EndpointConfigName=request["EndpointConfigName"])
    return request
