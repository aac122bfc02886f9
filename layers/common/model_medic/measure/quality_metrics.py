"""Model-quality metrics of labelled predictions, pure: binary, multiclass and regression."""

from __future__ import annotations

import math
from typing import Literal

from model_medic.measure.records import Prediction

ProblemType = Literal["BinaryClassification", "MulticlassClassification", "Regression"]

_TRUE, _FALSE = frozenset({"true", "yes"}), frozenset({"false", "no"})


def class_of(label: str) -> str:
    """A class label as it is compared: numbers by value (`1.0` is `1`), words without case or
    surrounding spaces, true/yes as 1 and false/no as 0 - ground truth is often written by
    another program than the one that set PositiveLabel."""
    text = label.strip().lower()
    if text in _TRUE:
        return "1"
    if text in _FALSE:
        return "0"
    try:
        number = float(text)
    except ValueError:
        return text
    if not math.isfinite(number):
        return text
    return str(int(number)) if number.is_integer() else repr(number)


def binary_metrics(
    labels: list[str], predictions: list[Prediction], positive: str, threshold: float
) -> dict[str, float]:
    """Each record on its own: positive when its probability reaches the threshold, or, for a
    record with only a label, when that label is the positive class (`class_of`). AUC when
    every record has a probability."""
    positive = class_of(positive)
    actual_positive = [class_of(label) == positive for label in labels]
    predicted_positive = [
        p.probability >= threshold if p.probability is not None else class_of(str(p.label)) == positive
        for p in predictions
    ]
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
    probabilities = [p.probability for p in predictions]
    if all(p is not None for p in probabilities):
        auc = roc_auc(actual_positive, [float(p) for p in probabilities if p is not None])
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
    labels, predictions = [class_of(v) for v in labels], [class_of(v) for v in predictions]
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


def regression_metrics(labels: list[float], predictions: list[float]) -> dict[str, float]:
    errors = [p - a for a, p in zip(labels, predictions, strict=True)]
    return {
        "rmse": math.sqrt(sum(e * e for e in errors) / len(errors)),
        "mae": sum(abs(e) for e in errors) / len(errors),
    }


def usable(problem: ProblemType, label: str, prediction: Prediction) -> bool:
    """Whether a labelled prediction can be scored for this kind of model."""
    if problem == "BinaryClassification":
        return prediction.probability is not None or prediction.label is not None
    if problem == "MulticlassClassification":
        return prediction.label is not None
    try:
        # A NaN or infinite label or prediction has no error to square: that record is not
        # scored (counted), and the others are.
        return math.isfinite(float(label)) and math.isfinite(
            float(prediction.label if prediction.label is not None else "x")
        )
    except ValueError:
        return False


def metrics_for(
    problem: ProblemType, labels: list[str], predictions: list[Prediction], positive: str, threshold: float
) -> dict[str, float]:
    """Pure: the quality metrics of usable labelled predictions (see `usable`)."""
    if problem == "BinaryClassification":
        return binary_metrics(labels, predictions, positive, threshold)
    if problem == "MulticlassClassification":
        return multiclass_metrics(labels, [str(p.label) for p in predictions])
    return regression_metrics([float(v) for v in labels], [float(str(p.label)) for p in predictions])
