"""Model-quality reports as SageMaker writes them, for a model package's `ModelMetrics`.

A package registered with `ModelMetrics={"ModelQuality": {"Statistics": {"ContentType":
"application/json", "S3Uri": ...}}}` points at a JSON report. Its format is the one Model
Monitor's model-quality jobs write and AWS's pipeline examples register: one block per
problem type (`binary_classification_metrics`, `multiclass_classification_metrics`,
`regression_metrics`), each metric `{"value": v, "standard_deviation": s}`, and
`"standard_deviation": "NaN"` (a string) where none was computed ("Standard deviation for
metrics are provided only when at least 200 samples are available": SageMaker Developer
Guide, "Model quality metrics"). tests/data/real/sagemaker-docs-model-quality-binary.json
is that guide's binary example; `binary_classification_report` reproduces its figures from
its confusion matrix (tested).

`binary_classification_report` computes from counts what Model Monitor computes from
counts: the confusion matrix (`{actual: {predicted: n}}`), accuracy, precision, recall,
the true/false positive/negative rates, F0.5/F1/F2 and the same for the best constant
classifier (which always predicts the positive class, as the guide's figures show). AUC
and the ROC / precision-recall curves need scores, not counts: pass them in `extra`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

CONTENT_TYPE = "application/json"
PROBLEM_TYPES = ("binary_classification", "multiclass_classification", "regression")
NO_DEVIATION = "NaN"  # what Model Monitor writes when it computed no standard deviation


def metric(value: float, standard_deviation: float | None = None) -> dict[str, Any]:
    """One metric entry: `{"value": v, "standard_deviation": s or "NaN"}`."""
    return {
        "value": float(value),
        "standard_deviation": NO_DEVIATION if standard_deviation is None else standard_deviation,
    }


def report(problem_type: str, metrics: Mapping[str, Any]) -> dict[str, Any]:
    """`{"<problem_type>_metrics": metrics}`; a plain number becomes `metric(number)`."""
    if problem_type not in PROBLEM_TYPES:
        raise ValueError(f"problem type {problem_type!r} is not one of {', '.join(PROBLEM_TYPES)}")
    block = {name: metric(value) if isinstance(value, int | float) else value for name, value in metrics.items()}
    return {f"{problem_type}_metrics": block}


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0


def _f_beta(precision: float, recall: float, beta: float) -> float:
    b2 = beta * beta
    return _ratio((1 + b2) * precision * recall, b2 * precision + recall)


def binary_classification_report(
    *, tp: int, fp: int, tn: int, fn: int, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A binary-classification report from the confusion counts (label 1 is positive)."""
    if min(tp, fp, tn, fn) < 0 or tp + fp + tn + fn == 0:
        raise ValueError("confusion counts must be non-negative and not all zero")
    total = tp + fp + tn + fn
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    false_positive_rate = _ratio(fp, fp + tn)
    constant_precision = _ratio(tp + fn, total)  # always "1": precision is the share of positives
    constant_recall = 1.0 if tp + fn else 0.0
    values: dict[str, Any] = {
        "confusion_matrix": {"0": {"0": tn, "1": fp}, "1": {"0": fn, "1": tp}},
        "recall": recall,
        "precision": precision,
        "accuracy": _ratio(tp + tn, total),
        "recall_best_constant_classifier": constant_recall,
        "precision_best_constant_classifier": constant_precision,
        "accuracy_best_constant_classifier": constant_precision,
        "true_positive_rate": recall,
        "true_negative_rate": 1.0 - false_positive_rate,
        "false_positive_rate": false_positive_rate,
        "false_negative_rate": _ratio(fn, tp + fn),
        "f0_5": _f_beta(precision, recall, 0.5),
        "f1": _f_beta(precision, recall, 1.0),
        "f2": _f_beta(precision, recall, 2.0),
        "f0_5_best_constant_classifier": _f_beta(constant_precision, constant_recall, 0.5),
        "f1_best_constant_classifier": _f_beta(constant_precision, constant_recall, 1.0),
        "f2_best_constant_classifier": _f_beta(constant_precision, constant_recall, 2.0),
    }
    values.update(extra or {})
    return report("binary_classification", values)


def model_metrics(s3_uri: str) -> dict[str, Any]:
    """CreateModelPackage's `ModelMetrics` pointing at a model-quality report."""
    return {"ModelQuality": {"Statistics": {"ContentType": CONTENT_TYPE, "S3Uri": s3_uri}}}


def write_report(s3: S3Client, s3_uri: str, content: Mapping[str, Any]) -> dict[str, Any]:
    """Put the report at `s3_uri` (`s3://bucket/key`); returns the package's `ModelMetrics`."""
    if not s3_uri.startswith("s3://") or "/" not in s3_uri[5:]:
        raise ValueError(f"not an s3://bucket/key URI: {s3_uri!r}")
    bucket, key = s3_uri[5:].split("/", 1)
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(content).encode(), ContentType=CONTENT_TYPE)
    return model_metrics(s3_uri)
