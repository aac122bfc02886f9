"""Champion / challenger: whether a candidate package beats the model it would replace."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from model_medic.platform import aws
from model_medic.platform.observability import logger
from model_medic.remediate.units import package_label

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sagemaker import SageMakerClient

# Registered metrics where lower is better; every other one (accuracy, f1, auc ...) is higher-better.
LOWER_IS_BETTER = frozenset({"mse", "rmse", "mae", "r2_loss"})
# Where ComputeModelQuality publishes the live figures it measures.
QUALITY_NAMESPACE = "Custom/SageMaker"
LIVE_LOOKBACK = timedelta(hours=24)


@dataclass(frozen=True)
class Challenge:
    better: bool
    reason: str
    candidate: float | None
    champion: float | None
    live: float | None


def challenge(
    metric: str, candidate: float | None, champion: float | None, live: float | None, margin: float
) -> Challenge:
    """Pure: whether the candidate beats the serving model on every figure known of it - its
    registered metric and the live one - by more than the margin."""
    if candidate is None:
        return Challenge(
            False, f"the candidate has no registered {metric}: nothing shows it is better", None, champion, live
        )
    known = [(name, value) for name, value in (("registered", champion), ("live", live)) if value is not None]
    if not known:
        return Challenge(
            True,
            f"candidate {metric} {candidate:.4g}; the serving model has no {metric} to compare",
            candidate,
            None,
            None,
        )
    lower = metric in LOWER_IS_BETTER
    worse = [name for name, value in known if not (candidate < value - margin if lower else candidate > value + margin)]
    figures = ", ".join(f"{name} {value:.4g}" for name, value in known)
    text = f"candidate {metric} {candidate:.4g} vs the serving model's {figures} (margin {margin:g})"
    return Challenge(not worse, ("better: " if not worse else "not better: ") + text, candidate, champion, live)


def registered_metric(report: Any, metric: str) -> float | None:
    """Pure: `metric` from a SageMaker model quality report (`{"binary_classification_metrics":
    {"accuracy": {"value": 0.91, "standard_deviation": ...}}}`, or multiclass / regression)."""
    if not isinstance(report, dict):
        return None
    for section, values in report.items():
        if not section.endswith("_metrics") or not isinstance(values, dict):
            continue
        found = values.get(metric)
        value = found.get("value") if isinstance(found, dict) else None
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
    return None


def package_of(sagemaker: SageMakerClient, model: str) -> dict[str, Any] | None:
    """The model package behind a model's container, or None (a model made from an image)."""
    described = sagemaker.describe_model(ModelName=model)
    containers = [described.get("PrimaryContainer", {}), *described.get("Containers", [])]
    names = [c["ModelPackageName"] for c in containers if c.get("ModelPackageName")]
    if not names:
        return None
    return cast("dict[str, Any]", sagemaker.describe_model_package(ModelPackageName=names[0]))


def registered(s3: S3Client, package: dict[str, Any], metric: str) -> tuple[float | None, str | None]:
    """The package's registered ModelQuality metric, read from its report in S3: (the figure or
    None when the package registers none; why the report cannot be read, or None). Cannot read
    is not "no metric": the caller holds instead of judging."""
    uri = (((package.get("ModelMetrics") or {}).get("ModelQuality") or {}).get("Statistics") or {}).get("S3Uri")
    if not uri or not str(uri).startswith("s3://"):
        return None, None
    bucket, _, key = str(uri)[5:].partition("/")
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as error:
        if aws.is_transient(error):
            raise
        code = aws.error_code(error)
        logger.warning("model quality report unreadable", uri=uri, error=code)
        if code in ("NoSuchKey", "NoSuchBucket"):
            return None, None  # registered, but never written: no figure to compare
        return None, (
            f"cannot read {package_label(str(package['ModelPackageArn']))}'s report {uri} ({code}): the stack "
            f"reads reports in ModelMetricsBucket only, and an SSE-KMS report needs its key in ModelKmsKeyArns"
        )
    try:
        return registered_metric(json.loads(body), metric), None
    except ValueError:
        logger.warning("model quality report is not JSON", uri=uri)
        return None, None


def live_figure(cloudwatch: CloudWatchClient, endpoint: str, variant: str, metric: str, now: datetime) -> float | None:
    """The serving variant's latest live figure of the metric, as ComputeModelQuality published it."""
    result = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "live",
                "MetricStat": {
                    "Metric": {
                        "Namespace": QUALITY_NAMESPACE,
                        "MetricName": metric,
                        "Dimensions": [
                            {"Name": "EndpointName", "Value": endpoint},
                            {"Name": "VariantName", "Value": variant},
                        ],
                    },
                    "Period": 3600,
                    "Stat": "Average",
                },
            }
        ],
        StartTime=now - LIVE_LOOKBACK,
        EndTime=now,
        ScanBy="TimestampDescending",
    )
    for found in result.get("MetricDataResults", []):
        values = found.get("Values") or []
        if values:
            return float(values[0])
    return None
