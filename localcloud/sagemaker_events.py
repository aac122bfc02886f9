"""What SageMaker sends to EventBridge when a model package changes, built from the package.

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
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

DETAIL_TYPE = "SageMaker Model Package State Change"
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


def model_package_state_change(described: dict[str, Any], at: datetime, account: str, region: str) -> dict[str, Any]:
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
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": DETAIL_TYPE,
        "source": SOURCE,
        "account": account,
        "time": _time(at),
        "region": region,
        "resources": [package["ModelPackageArn"]],
        "detail": detail,
    }
