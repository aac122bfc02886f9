"""What SageMaker sends to EventBridge when a model package or an endpoint changes, built
from what SageMaker describes.

The shape is AWS's documented "SageMaker Model Package State Change" event (SageMaker
Developer Guide, "Events that Amazon SageMaker AI sends to Amazon EventBridge", section
"Model package state change"; a copy of its example is tests/data/real/
sagemaker-docs-model-package-state-change.json, see tests/data/real/README.md):

* `source` "aws.sagemaker", `detail-type` "SageMaker Model Package State Change",
  `resources` [the package ARN], `time` in `YYYY-MM-DDTHH:MM:SSZ`.
* `detail` is the package as DescribeModelPackage describes it, with the example's keys in
  the example's order: ModelPackageGroupName, ModelPackageVersion, ModelPackageArn,
  CreationTime, InferenceSpecification, ModelPackageStatus, ModelPackageStatusDetails,
  CertifyForMarketplace, ModelApprovalStatus, MetadataProperties, ModelMetrics,
  LastModifiedTime - times as `YYYY-MM-DDTHH:MM:SSZ` strings. Keys the package does not
  have are left out. The example is a package that was just registered: its
  LastModifiedTime equals its CreationTime, so a package never modified gets its
  CreationTime there too.
* ApprovalDescription and ModelPackageDescription are not in AWS's example (its package
  has neither); they are DescribeModelPackage fields and are added when the package has
  them. That is our inference, not documented.

SageMaker sends the event for a new package as well as for a changed approval: "Every
time a new model makes it into the Model Registry it will trigger the EventBridge event"
(aws-samples/sagemaker-custom-project-templates issue #15, a deploy pipeline keyed on this
event ran for every registered package). So a package registered already `Approved`
produces an event with ModelApprovalStatus `Approved`, like an approval does.

The "SageMaker Endpoint State Change" event (same guide, section "Endpoint state change";
awsdocs/amazon-sagemaker-developer-guide, doc_source/automating-sagemaker-with-eventbridge.md)
"Indicates a change in the status of a SageMaker hosted real-time inference endpoint":

* `resources` [the endpoint ARN]; `detail` EndpointName, EndpointArn, EndpointConfigName,
  ProductionVariants, EndpointStatus, CreationTime, LastModifiedTime, Tags - in that order.
* EndpointStatus is DescribeEndpoint's status in upper snake case (`InService` ->
  `IN_SERVICE`); the times are epoch milliseconds; Tags is an object {key: value}.
* A variant: the guide's endpoint example shows only DesiredWeight and DesiredInstanceCount;
  its "Endpoint deployment state change" examples (same page) show VariantName,
  CurrentWeight, DesiredWeight, CurrentInstanceCount, DesiredInstanceCount. We send the
  latter, from DescribeEndpoint's ProductionVariantSummary (Desired* = Current* when no
  change is in progress).
* The envelope's `time` is ISO 8601 like every other example on the page (the endpoint
  example alone shows epoch milliseconds as a string).
* Deleting: DeleteEndpoint puts the endpoint in `Deleting`, a change of status, and an
  event with EndpointStatus `DELETING` follows. The guide shows only an `IN_SERVICE`
  example; AWS's own sample aws-samples/amazon-sagemaker-ab-testing-pipeline
  (lambda/api/lambda_register.py) deregisters an endpoint on exactly that event
  (`EndpointStatus == "DELETING"`, tags read from `detail.Tags`). The event is built from
  the endpoint as it was described just before the deletion: once deleted, SageMaker
  describes nothing.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

DETAIL_TYPE = "SageMaker Model Package State Change"
ENDPOINT_DETAIL_TYPE = "SageMaker Endpoint State Change"
SOURCE = "aws.sagemaker"
# The example's detail keys, in its order.
DOCUMENTED_DETAIL = (
    "ModelPackageGroupName",
    "ModelPackageVersion",
    "ModelPackageArn",
    "CreationTime",
    "InferenceSpecification",
    "ModelPackageStatus",
    "ModelPackageStatusDetails",
    "CertifyForMarketplace",
    "ModelApprovalStatus",
    "MetadataProperties",
    "ModelMetrics",
    "LastModifiedTime",
)
INFERRED_DETAIL = ("ModelPackageDescription", "ApprovalDescription")


def _time(value: Any) -> str:
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def model_package_state_change(described: Mapping[str, Any], at: datetime, account: str, region: str) -> dict[str, Any]:
    """The event for a package, from its DescribeModelPackage answer, sent at `at`."""
    package = {k: v for k, v in described.items() if k != "ResponseMetadata"}
    if "ModelPackageArn" not in package:
        raise ValueError("a DescribeModelPackage answer names its ModelPackageArn")
    package.setdefault("LastModifiedTime", package.get("CreationTime"))
    detail: dict[str, Any] = {}
    for key in (*DOCUMENTED_DETAIL, *INFERRED_DETAIL):
        if package.get(key) is not None:
            value = package[key]
            detail[key] = _time(value) if key in ("CreationTime", "LastModifiedTime") else value
    return _envelope(DETAIL_TYPE, package["ModelPackageArn"], detail, at, account, region)


def _envelope(
    detail_type: str, resource: str, detail: dict[str, Any], at: datetime, account: str, region: str
) -> dict[str, Any]:
    """An EventBridge event from SageMaker about one resource."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": SOURCE,
        "account": account,
        "time": _time(at),
        "region": region,
        "resources": [resource],
        "detail": detail,
    }


# The endpoint example's detail keys, in its order; a variant's keys from the deployment examples.
ENDPOINT_DETAIL = (
    "EndpointName",
    "EndpointArn",
    "EndpointConfigName",
    "ProductionVariants",
    "EndpointStatus",
    "CreationTime",
    "LastModifiedTime",
    "Tags",
)
VARIANT_DETAIL = ("VariantName", "CurrentWeight", "DesiredWeight", "CurrentInstanceCount", "DesiredInstanceCount")


def event_status(status: str) -> str:
    """DescribeEndpoint's status as the event spells it: `InService` -> `IN_SERVICE`."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])", "_", status).upper()


def _epoch_ms(value: Any) -> float | None:
    if not isinstance(value, datetime):
        return None
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return float(int(aware.timestamp() * 1000))


def endpoint_state_change(
    described: dict[str, Any],
    tags: dict[str, str],
    at: datetime,
    account: str,
    region: str,
    status: str | None = None,
) -> dict[str, Any]:
    """The event for an endpoint, from its DescribeEndpoint answer and its tags, sent at `at`;
    `status` (DescribeEndpoint's spelling, e.g. `Deleting`) overrides the described one."""
    if "EndpointArn" not in described or "EndpointName" not in described:
        raise ValueError("a DescribeEndpoint answer names its EndpointName and EndpointArn")
    variants = []
    for summary in described.get("ProductionVariants", []):
        variant = {
            "VariantName": summary.get("VariantName"),
            "CurrentWeight": summary.get("CurrentWeight"),
            "DesiredWeight": summary.get("DesiredWeight", summary.get("CurrentWeight")),
            "CurrentInstanceCount": summary.get("CurrentInstanceCount"),
            "DesiredInstanceCount": summary.get("DesiredInstanceCount", summary.get("CurrentInstanceCount")),
        }
        variants.append({k: v for k, v in variant.items() if v is not None})
    values = {
        "EndpointName": described["EndpointName"],
        "EndpointArn": described["EndpointArn"],
        "EndpointConfigName": described.get("EndpointConfigName"),
        "ProductionVariants": variants,
        "EndpointStatus": event_status(status or str(described["EndpointStatus"])),
        "CreationTime": _epoch_ms(described.get("CreationTime")),
        "LastModifiedTime": _epoch_ms(described.get("LastModifiedTime")),
        "Tags": dict(tags),
    }
    detail = {k: values[k] for k in ENDPOINT_DETAIL if values[k] is not None}
    return _envelope(ENDPOINT_DETAIL_TYPE, described["EndpointArn"], detail, at, account, region)
