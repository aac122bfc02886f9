"""Model quality from delayed ground truth: labels joined to captured predictions by id.

Ground truth (FACTS.md, the format Model Monitor merges): JSON Lines of
`{"groundTruthData": {"data": "1", "encoding": "CSV"}, "eventMetadata": {"eventId": "<id>"}}`
under `<ground truth>/<endpoint>/YYYY/MM/DD/HH/` by the hour the labels were collected.
Each label meets its prediction by the capture's `inferenceId` (else `eventId`), searched
in the data capture of every variant over a look-back, since labels come hours or days late.

Metrics (pure Python, checked against scikit-learn in the tests): binary - accuracy,
precision, recall, F1 and (with probabilities) AUC; multiclass - accuracy and macro
precision, recall, F1; regression - RMSE and MAE. Per variant and per endpoint, with the
sample count; nothing below the minimum sample count.
"""

from __future__ import annotations

import base64
import json
import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from model_medic.drift import split_s3_uri
from model_medic.observability import logger

ProblemType = Literal["BinaryClassification", "MulticlassClassification", "Regression"]


# --- the metrics (pure) ------------------------------------------------------------------------


def binary_metrics(labels: list[str], scores: list[str], positive: str, threshold: float) -> dict[str, float]:
    """Predictions are probabilities of the positive class, or labels."""
    probabilities = _floats(scores)
    is_probability = (
        probabilities is not None
        and all(0.0 <= p <= 1.0 for p in probabilities)
        and not all(s in (positive, "0", "1") for s in scores)
    )
    if is_probability and probabilities is not None:
        predicted = [positive if p >= threshold else "__negative__" for p in probabilities]
    else:
        predicted = list(scores)
    actual_positive = [label == positive for label in labels]
    predicted_positive = [p == positive for p in predicted]
    tp = sum(a and p for a, p in zip(actual_positive, predicted_positive, strict=True))
    fp = sum((not a) and p for a, p in zip(actual_positive, predicted_positive, strict=True))
    fn = sum(a and (not p) for a, p in zip(actual_positive, predicted_positive, strict=True))
    correct = sum(a == p for a, p in zip(actual_positive, predicted_positive, strict=True))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    result = {
        "accuracy": correct / len(labels),
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
    }
    if is_probability and probabilities is not None:
        auc = roc_auc(actual_positive, probabilities)
        if auc is not None:
            result["auc"] = auc
    return result


def roc_auc(actual: list[bool], scores: list[float]) -> float | None:
    """Area under the ROC curve by ranks (Mann-Whitney U), ties sharing their mean rank."""
    positives = sum(actual)
    negatives = len(actual) - positives
    if positives == 0 or negatives == 0:
        return None
    order = sorted(range(len(scores)), key=scores.__getitem__)
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        mean_rank = (i + j) / 2 + 1
        for k in range(i, j + 1):
            ranks[order[k]] = mean_rank
        i = j + 1
    positive_ranks = sum(rank for rank, is_positive in zip(ranks, actual, strict=True) if is_positive)
    return (positive_ranks - positives * (positives + 1) / 2) / (positives * negatives)


def multiclass_metrics(labels: list[str], predictions: list[str]) -> dict[str, float]:
    classes = sorted(set(labels) | set(predictions))
    precisions, recalls, f1s = [], [], []
    for cls in classes:
        tp = sum(a == cls and p == cls for a, p in zip(labels, predictions, strict=True))
        fp = sum(a != cls and p == cls for a, p in zip(labels, predictions, strict=True))
        fn = sum(a == cls and p != cls for a, p in zip(labels, predictions, strict=True))
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        precisions.append(precision)
        recalls.append(recall)
        f1s.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return {
        "accuracy": sum(a == p for a, p in zip(labels, predictions, strict=True)) / len(labels),
        "precision": sum(precisions) / len(classes),
        "recall": sum(recalls) / len(classes),
        "f1": sum(f1s) / len(classes),
    }


def regression_metrics(labels: list[str], predictions: list[str]) -> dict[str, float]:
    actual, predicted = _floats(labels), _floats(predictions)
    if actual is None or predicted is None:
        raise ValueError("regression needs numeric labels and predictions")
    errors = [p - a for a, p in zip(actual, predicted, strict=True)]
    return {
        "rmse": math.sqrt(sum(e * e for e in errors) / len(errors)),
        "mae": sum(abs(e) for e in errors) / len(errors),
    }


def metrics_for(
    problem: ProblemType, labels: list[str], predictions: list[str], positive: str, threshold: float
) -> dict[str, float]:
    if problem == "BinaryClassification":
        return binary_metrics(labels, predictions, positive, threshold)
    if problem == "MulticlassClassification":
        return multiclass_metrics(labels, predictions)
    return regression_metrics(labels, predictions)


def _floats(values: list[str]) -> list[float] | None:
    try:
        return [float(v) for v in values]
    except ValueError:
        return None


# --- reading --------------------------------------------------------------------------------


def _payload(data: Any) -> str:
    """The CSV/JSON text of a captured output or a label, first value only."""
    text = data.get("data", "")
    if data.get("encoding") == "BASE64":
        text = base64.b64decode(text).decode("utf-8")
    if data.get("encoding") == "JSON" or str(data.get("observedContentType", "")).endswith("json"):
        parsed = json.loads(text) if isinstance(text, str) else text
        while isinstance(parsed, (list, dict)):  # {"predictions": [0.7]} and the like: the first value
            parsed = next(iter(parsed.values())) if isinstance(parsed, dict) else parsed[0]
        return str(parsed).strip()
    return str(text).split(",")[0].strip()


@dataclass
class Joined:
    """Labels met with their predictions, and what did not meet."""

    pairs: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # variant -> (label, prediction)
    unmatched_labels: int = 0
    unmatched_predictions: int = 0
    duplicate_labels: int = 0
    malformed: int = 0

    @property
    def matched(self) -> int:
        return sum(len(p) for p in self.pairs.values())


def join(predictions: dict[str, tuple[str, str]], labels: dict[str, str]) -> Joined:
    """Pure: id -> (variant, prediction) with id -> label."""
    joined = Joined()
    for event_id, label in labels.items():
        found = predictions.get(event_id)
        if found is None:
            joined.unmatched_labels += 1
            continue
        variant, prediction = found
        joined.pairs.setdefault(variant, []).append((label, prediction))
    joined.unmatched_predictions = len(set(predictions) - set(labels))
    return joined


class ComputeModelQuality:
    def __init__(
        self,
        s3: Any,
        cloudwatch: Any,
        capture_uri: str,
        ground_truth_uri: str,
        problem: ProblemType,
        window: timedelta,
        lookback: timedelta,
        min_samples: int,
        positive: str = "1",
        threshold: float = 0.5,
    ) -> None:
        self._s3 = s3
        self._cloudwatch = cloudwatch
        self._capture = split_s3_uri(capture_uri)
        self._truth = split_s3_uri(ground_truth_uri)
        self._problem = problem
        self._window = window
        self._lookback = lookback
        self._min = min_samples
        self._positive = positive
        self._threshold = threshold

    def evaluation_time_for_key(self, key: str) -> datetime | None:
        """For a ground-truth object <prefix>/<endpoint>/YYYY/MM/DD/HH/name: the end of its hour."""
        parts = key.split("/")
        try:
            year, month, day, hour = (int(p) for p in parts[-5:-1])
            return datetime(year, month, day, hour, tzinfo=UTC) + timedelta(hours=1)
        except ValueError:
            return None

    def endpoint_for_key(self, key: str) -> str | None:
        prefix = self._truth[1]
        rest = key[len(prefix) + 1 :] if prefix and key.startswith(prefix + "/") else key
        parts = rest.split("/")
        return parts[0] if len(parts) == 6 else None

    def run(self, endpoint: str, end: datetime) -> dict[str, Any]:
        """Quality over the labels collected in [end - window, end), published at end - 1 h."""
        end = end.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        start = end - self._window
        labels, label_stats = self._labels(endpoint, start, end)
        predictions, capture_stats = self._predictions(endpoint, start - self._lookback, end)
        joined = join(predictions, labels)
        joined.duplicate_labels = label_stats["duplicates"]
        joined.malformed = label_stats["malformed"] + capture_stats["malformed"]
        published: dict[str, dict[str, float]] = {}
        groups: dict[str | None, list[tuple[str, str]]] = {k: v for k, v in joined.pairs.items()}
        groups[None] = [pair for pairs in joined.pairs.values() for pair in pairs]
        data = []
        for variant, pairs in sorted(groups.items(), key=lambda kv: (kv[0] is None, kv[0] or "")):
            if len(pairs) < self._min:
                continue
            values = metrics_for(
                self._problem, [a for a, _ in pairs], [p for _, p in pairs], self._positive, self._threshold
            )
            values["quality_sample_count"] = float(len(pairs))
            published[variant or "(endpoint)"] = values
            dims = [{"Name": "EndpointName", "Value": endpoint}]
            if variant is not None:
                dims.append({"Name": "VariantName", "Value": variant})
            data += [
                {
                    "MetricName": name,
                    "Dimensions": dims,
                    "Timestamp": end - timedelta(hours=1),
                    "Value": value,
                    "Unit": "Count" if name == "quality_sample_count" else "None",
                }
                for name, value in values.items()
            ]
        for first in range(0, len(data), 1000):
            self._cloudwatch.put_metric_data(Namespace="Custom/SageMaker", MetricData=data[first : first + 1000])
        if not published:
            logger.info(
                "too few labelled predictions to publish model quality",
                endpoint=endpoint,
                matched=joined.matched,
                minimum=self._min,
            )
        return {
            "endpoint": endpoint,
            "window": {"start": start.isoformat(), "end": end.isoformat()},
            "labels": len(labels),
            "matched": joined.matched,
            "unmatched_labels": joined.unmatched_labels,
            "unmatched_predictions": joined.unmatched_predictions,
            "duplicate_labels": joined.duplicate_labels,
            "malformed": joined.malformed,
            "published": published,
        }

    # --- S3 -------------------------------------------------------------------------------------

    def _hours(self, start: datetime, end: datetime) -> list[datetime]:
        hours, at = [], start
        while at < end:
            hours.append(at)
            at += timedelta(hours=1)
        return hours

    def _lines(self, bucket: str, prefix: str) -> Any:
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                body = self._s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
                yield from body.decode("utf-8", errors="replace").splitlines()

    def _labels(self, endpoint: str, start: datetime, end: datetime) -> tuple[dict[str, str], dict[str, int]]:
        bucket, prefix = self._truth
        labels: dict[str, str] = {}
        stats = Counter({"duplicates": 0, "malformed": 0})
        for hour in self._hours(start, end):
            folder = "/".join(p for p in (prefix, endpoint, f"{hour:%Y/%m/%d/%H}") if p) + "/"
            for line in self._lines(bucket, folder):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    event_id = str(record["eventMetadata"]["eventId"])
                    label = _payload(record["groundTruthData"])
                except (ValueError, KeyError, TypeError):
                    stats["malformed"] += 1
                    continue
                if event_id in labels:
                    stats["duplicates"] += 1  # the first label of an id stands
                    continue
                labels[event_id] = label
        return labels, dict(stats)

    def _predictions(
        self, endpoint: str, start: datetime, end: datetime
    ) -> tuple[dict[str, tuple[str, str]], dict[str, int]]:
        bucket, prefix = self._capture
        root = "/".join(p for p in (prefix, endpoint) if p) + "/"
        variants = [
            p["Prefix"]
            for p in self._s3.list_objects_v2(Bucket=bucket, Prefix=root, Delimiter="/").get("CommonPrefixes", [])
        ]
        predictions: dict[str, tuple[str, str]] = {}
        stats = Counter({"malformed": 0})
        for variant_prefix in variants:
            variant = variant_prefix.rstrip("/").rsplit("/", 1)[-1]
            for hour in self._hours(start, end):
                for line in self._lines(bucket, f"{variant_prefix}{hour:%Y/%m/%d/%H}/"):
                    if not line.strip():
                        continue
                    try:
                        record = json.loads(line)
                        metadata = record["eventMetadata"]
                        event_id = str(metadata.get("inferenceId") or metadata["eventId"])
                        prediction = _payload(record["captureData"]["endpointOutput"])
                    except (ValueError, KeyError, TypeError, IndexError, StopIteration):
                        stats["malformed"] += 1
                        continue
                    predictions.setdefault(event_id, (variant, prediction))
        return predictions, dict(stats)
