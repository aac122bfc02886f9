"""Model quality from delayed ground truth: labels joined to captured predictions by id.

Ground truth (docs/aws-behaviours.md, "Data capture and ground truth formats": the format Model
Monitor merges): JSON Lines of
`{"groundTruthData": {"data": "1", "encoding": "CSV"}, "eventMetadata": {"eventId": "<id>"}}`
under `<ground truth>/<endpoint>/YYYY/MM/DD/HH/` by the hour the labels were collected.
Each label meets its prediction by the capture's `inferenceId` (else `eventId`), searched
in the data capture of every variant over a look-back, since labels come hours or days late.
A request of several records has several predictions and its ground truth several labels
(CSV lines, a JSON list, JSON `{"instances": [{"label": ...}]}`): they are paired element by
element.

A record may carry its capture beside its ground truth (`captureData` and `groundTruthData`
in one line: what Model Monitor's merge step writes, under `<endpoint>/<variant>/YYYY/MM/DD/HH/`,
for its model-quality and Clarify's bias jobs to read). Its id is then its `inferenceId`
(else `eventId`), as in the capture it came from, and where that capture is not found its
prediction is its own `endpointOutput`: counted for the variant its folder names, else for
the endpoint only.

Responses are read as configured (`records.OutputFormat`: Model Monitor's inference and
probability attributes), per record: a record with a probability is judged against the
probability threshold, one with only a label by that label; a record that does not decode
is counted and dropped and never changes how the others are read.

Bounded cost: labels are read first, and only the predictions they name are kept (memory
follows the labels, not the capture). Each capture hour, once complete, is decoded once
into a prediction index (one object per endpoint and hour); later runs read one object per
hour of look-back instead of every capture file of it.

Metrics (pure Python, checked against scikit-learn in the tests): binary - accuracy,
precision, recall, F1 and (with probabilities) AUC; multiclass - accuracy and macro
precision, recall, F1; regression - RMSE and MAE. Per variant and per endpoint, with the
sample count; nothing below the minimum sample count.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from time import monotonic
from typing import TYPE_CHECKING, Any, Literal

import orjson
from botocore.exceptions import BotoCoreError, ClientError

from model_medic.intake.alarms import EARLIEST, LATEST, shown
from model_medic.intake.triggers import rejected
from model_medic.measure import records
from model_medic.measure.drift import EndpointProblem, read_objects, split_s3_uri, tell_problem
from model_medic.measure.records import OutputFormat, Prediction
from model_medic.platform import aws
from model_medic.platform.observability import logger
from model_medic.store.ledger import Ledger
from model_medic.tell.outcome import Notifier

if TYPE_CHECKING:
    from model_medic.intake.triggers import ObjectCreated
    from model_medic.policy.scope import Scope

ProblemType = Literal["BinaryClassification", "MulticlassClassification", "Regression"]


# --- the metrics (pure) ------------------------------------------------------------------------


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


# --- joining (pure) --------------------------------------------------------------------------

Found = tuple[str, list[Prediction | None]]  # variant, one prediction per record of the request
NO_VARIANT = ""  # a merged record's own prediction, its capture not found: the endpoint's figures only


@dataclass
class Joined:
    """Labels met with their predictions, and what did not meet."""

    pairs: dict[str, list[tuple[str, Prediction]]] = field(default_factory=dict)  # variant -> (label, prediction)
    carried: int = 0  # labels paired with the prediction their merged record carries (capture not found)
    unmatched_labels: int = 0
    duplicate_labels: int = 0
    malformed: int = 0  # labels or captures that did not decode
    undecodable_predictions: int = 0  # records of a response that did not decode, or cannot be scored
    count_mismatches: int = 0  # requests whose number of labels differs from their number of predictions

    @property
    def matched(self) -> int:
        return sum(len(p) for p in self.pairs.values())


def join(
    predictions: dict[str, Found],
    labels: dict[str, list[str]],
    problem: ProblemType = "BinaryClassification",
    carried: dict[str, Found] | None = None,
) -> Joined:
    """Pure: id -> (variant, predictions) with id -> labels, element by element. `carried`:
    the predictions merged records hold themselves, with their variant where their folder
    names it (else `NO_VARIANT`), used where the capture is not found."""
    joined = Joined()
    carried = carried or {}
    for event_id, labelled in labels.items():
        found = predictions.get(event_id)
        from_record = found is None and event_id in carried
        if from_record:
            found = carried[event_id]
        if found is None:
            joined.unmatched_labels += len(labelled)
            continue
        variant, predicted = found
        if len(predicted) != len(labelled):
            joined.count_mismatches += 1
            continue
        for label, prediction in zip(labelled, predicted, strict=True):
            if prediction is None or not usable(problem, label, prediction):
                joined.undecodable_predictions += 1
                continue
            joined.pairs.setdefault(variant, []).append((label, prediction))
            joined.carried += from_record
    return joined


# --- reading --------------------------------------------------------------------------------


def truth_record(record: Any, fmt: OutputFormat) -> tuple[str, list[str], list[Prediction | None] | None]:
    """One line of ground truth: (id, labels, the predictions it carries or None).

    A plain ground-truth record names its prediction by `eventMetadata.eventId` (which holds
    the capture's inferenceId or eventId). A merged record - capture and ground truth in one
    line - keeps the capture's own metadata, so its id is its `inferenceId`, else `eventId`,
    and its prediction is its `captureData.endpointOutput`, read as configured. Raises
    KeyError, TypeError or records.DecodeError for a record that cannot be read.
    """
    metadata = record["eventMetadata"]
    found = records.labels(record["groundTruthData"])
    capture = record.get("captureData")
    if capture is None:
        return str(metadata["eventId"]), found, None
    event_id = str(metadata.get("inferenceId") or metadata["eventId"])
    output = capture.get("endpointOutput")
    return event_id, found, None if output is None else records.predictions(output, fmt)


def deadline_in(seconds: float) -> float:
    """A deadline for `run`, on the clock it reads."""
    return monotonic() + seconds


class IndexingIncomplete(Exception):
    """The run's time was spent building the prediction index before every hour had one."""

    def __init__(self) -> None:
        super().__init__("prediction index incomplete")
        self.written = 0


# A capture hour is complete (its index may be written) this long after it ends: SageMaker
# writes capture files in batches, a few minutes late.
SEALED_AFTER = timedelta(minutes=30)
INDEX_FORMAT = "model-medic-prediction-index/1"


def hours(start: datetime, end: datetime) -> list[datetime]:
    found, at = [], start
    while at < end:
        found.append(at)
        at += timedelta(hours=1)
    return found


def _decode_capture(
    body: bytes, variant: str, fmt: OutputFormat, wanted: set[str] | None, into: dict[str, Found]
) -> int:
    """The predictions of one capture file (only the ids in `wanted`, when given); the
    number of records that did not decode."""
    malformed = 0
    for line in body.splitlines():
        if not line.strip():
            continue
        try:
            record = records.loads(line)
            metadata = record["eventMetadata"]
            event_id = str(metadata.get("inferenceId") or metadata["eventId"])
            if wanted is not None and event_id not in wanted:
                continue
            found = records.predictions(record["captureData"]["endpointOutput"], fmt)
        except (ValueError, KeyError, TypeError, AttributeError):
            malformed += 1
            continue
        into.setdefault(event_id, (variant, found))
    return malformed


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
        fmt: OutputFormat | None = None,
        index_uri: str = "",
    ) -> None:
        self._s3 = s3
        self._cloudwatch = cloudwatch
        self._capture = split_s3_uri(capture_uri)
        self._truth = split_s3_uri(ground_truth_uri)
        self._index = split_s3_uri(index_uri) if index_uri else None
        self._problem = problem
        self._window = window
        self._lookback = lookback
        self._min = min_samples
        self._positive = positive
        self._threshold = threshold
        self._fmt = fmt or OutputFormat.for_problem(problem, "predicted_label", "score")

    def evaluation_time_for_key(self, key: str) -> datetime | None:
        """For a ground-truth object <prefix>/<endpoint>/YYYY/MM/DD/HH/name: the end of its hour."""
        parts = key.split("/")
        try:
            year, month, day, hour = (int(p) for p in parts[-5:-1])
            end = datetime(year, month, day, hour, tzinfo=UTC) + timedelta(hours=1)
        except (ValueError, OverflowError):  # not a date, or year 9999's last hour
            return None
        return end if EARLIEST <= end < LATEST else None

    def endpoint_for_key(self, key: str) -> str | None:
        """<prefix>/<endpoint>/[<variant>/]YYYY/MM/DD/HH/<file>: the endpoint (the variant
        folder is the layout of Model Monitor's merge output)."""
        prefix = self._truth[1]
        if prefix and not key.startswith(prefix + "/"):
            return None
        rest = key[len(prefix) + 1 :] if prefix else key
        parts = rest.split("/")
        return parts[0] if len(parts) in (6, 7) else None

    def run_all(
        self,
        endpoints: list[str],
        end: datetime,
        now: datetime,
        ledger: Ledger,
        notifier: Notifier,
        deadline: float | None = None,
    ) -> list[dict[str, Any]]:
        """`run` for every endpoint; one endpoint never blinds another. An S3 refusal (access
        denied, a missing bucket) is told once per endpoint and the others are measured;
        transient AWS errors are raised after every endpoint had its turn, for a retry."""
        results: list[dict[str, Any]] = []
        transient: list[Exception] = []
        for endpoint in endpoints:
            try:
                results.append(self.run(endpoint, end, now, deadline))
            except (ClientError, BotoCoreError) as error:
                if aws.is_transient(error):
                    logger.warning("transient AWS error; the run will be retried", endpoint=endpoint, error=str(error))
                    transient.append(error)
                    continue
                problem = EndpointProblem(
                    "unreadable", "quality-aws-error", f"S3 refused ComputeModelQualityFunction: {error}"
                )
                hour = end.astimezone(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
                tell_problem(
                    ledger, notifier, "ComputeModelQualityFunction", "model quality", endpoint, problem, hour, now
                )
                results.append({"endpoint": endpoint, "status": "unreadable", "problem": problem.message})
                continue
            ledger.clear_notice(endpoint, "quality-aws-error")
        if transient:
            raise transient[0]
        return results

    def run(
        self, endpoint: str, end: datetime, now: datetime | None = None, deadline: float | None = None
    ) -> dict[str, Any]:
        """Quality over the labels collected in [end - window, end), published at end - 1 h.

        `now` (the event's time; default `end`) decides which capture hours are complete
        and may be read from, or written to, the prediction index. `deadline`
        (`deadline_in`) bounds the run: past it no further index is built, nothing is
        published (status "indexing"), and the next run goes on from the indexes written.
        """
        end = end.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        now = (now or end).astimezone(UTC)
        start = end - self._window
        labels, carried, label_stats = self._labels(endpoint, start, end)
        try:
            predictions, capture_stats = self._predictions(
                endpoint, start - self._lookback, end, set(labels), now, deadline
            )
        except IndexingIncomplete as incomplete:
            logger.warning(
                "prediction index still being built; nothing published this run, the next run goes on",
                endpoint=endpoint,
                indexes_written=incomplete.written,
            )
            return {
                "endpoint": endpoint,
                "status": "indexing",
                "window": {"start": start.isoformat(), "end": end.isoformat()},
                "labels": sum(len(v) for v in labels.values()),
                "indexes_written": incomplete.written,
                "published": {},
            }
        joined = join(predictions, labels, self._problem, carried)
        joined.duplicate_labels = label_stats["duplicates"]
        joined.malformed = label_stats["malformed"] + capture_stats["malformed"]
        published: dict[str, dict[str, float]] = {}
        groups: dict[str | None, list[tuple[str, Prediction]]] = {
            k: v for k, v in joined.pairs.items() if k != NO_VARIANT
        }
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
        if joined.undecodable_predictions or joined.count_mismatches:
            logger.warning(
                "labelled predictions dropped",
                endpoint=endpoint,
                undecodable=joined.undecodable_predictions,
                count_mismatches=joined.count_mismatches,
            )
        return {
            "endpoint": endpoint,
            "status": "published" if published else "too-few-samples",
            "window": {"start": start.isoformat(), "end": end.isoformat()},
            "labels": sum(len(v) for v in labels.values()),
            "matched": joined.matched,
            "merged": joined.carried,
            "unmatched_labels": joined.unmatched_labels,
            "duplicate_labels": joined.duplicate_labels,
            "malformed": joined.malformed,
            "undecodable_predictions": joined.undecodable_predictions,
            "count_mismatches": joined.count_mismatches,
            "capture_hours": capture_stats["hours"],
            "indexed_hours": capture_stats["indexed"],
            "indexes_written": capture_stats["written"],
            "published": published,
        }

    # --- S3 -------------------------------------------------------------------------------------

    def _keys(self, bucket: str, prefix: str) -> list[str]:
        keys = []
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys += [item["Key"] for item in page.get("Contents", [])]
        return keys

    def _bodies(self, bucket: str, keys: list[str]) -> Iterator[bytes]:
        return read_objects(self._s3, bucket, keys)

    def _labels(
        self, endpoint: str, start: datetime, end: datetime
    ) -> tuple[dict[str, list[str]], dict[str, Found], dict[str, int]]:
        """(id -> labels, id -> the predictions merged records carry with their variant, counts).

        Files under <endpoint>/YYYY/MM/DD/HH/ and, as Model Monitor's merge step lays them
        out, under <endpoint>/<variant>/YYYY/MM/DD/HH/ (a merged record there is that variant's).
        """
        bucket, prefix = self._truth
        root = "/".join(p for p in (prefix, endpoint) if p) + "/"
        labels: dict[str, list[str]] = {}
        carried: dict[str, Found] = {}
        stats = Counter({"duplicates": 0, "malformed": 0})
        folders = [(NO_VARIANT, root)] + [(name, f"{root}{name}/") for name in self._truth_variants(bucket, root)]
        for hour in hours(start, end):
            for variant, folder in folders:
                for body in self._bodies(bucket, self._keys(bucket, f"{folder}{hour:%Y/%m/%d/%H}/")):
                    for line in body.splitlines():
                        if not line.strip():
                            continue
                        try:
                            event_id, found, predicted = truth_record(records.loads(line), self._fmt)
                        except (ValueError, KeyError, TypeError, AttributeError):
                            stats["malformed"] += 1
                            continue
                        if event_id in labels:
                            stats["duplicates"] += 1  # the first label of an id stands
                            continue
                        labels[event_id] = found
                        if predicted is not None:
                            carried[event_id] = (variant, predicted)
        return labels, carried, dict(stats)

    def _truth_variants(self, bucket: str, root: str) -> list[str]:
        """The variant folders beside the year folders of an endpoint's ground truth."""
        found = []
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=root, Delimiter="/"):
            found += [p["Prefix"][len(root) :].rstrip("/") for p in page.get("CommonPrefixes", [])]
        return [name for name in found if not (len(name) == 4 and name.isdigit())]

    def _variants(self, endpoint: str) -> list[str]:
        bucket, prefix = self._capture
        root = "/".join(p for p in (prefix, endpoint) if p) + "/"
        found = []
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=root, Delimiter="/"):
            found += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        return found

    def _predictions(
        self,
        endpoint: str,
        start: datetime,
        end: datetime,
        wanted: set[str],
        now: datetime,
        deadline: float | None = None,
    ) -> tuple[dict[str, Found], dict[str, int]]:
        """The predictions named by the labels, hour by hour: from the index where the hour is
        complete (building the index the first time), else from the capture files."""
        predictions: dict[str, Found] = {}
        stats = Counter({"malformed": 0, "hours": 0, "indexed": 0, "written": 0})
        if not wanted:
            return predictions, dict(stats)
        variants = self._variants(endpoint)
        for hour in hours(start, end):
            stats["hours"] += 1
            if self._index is not None and hour + timedelta(hours=1) + SEALED_AFTER <= now:
                try:
                    indexed, written, malformed = self._indexed_hour(endpoint, variants, hour, deadline)
                except IndexingIncomplete as incomplete:
                    incomplete.written = stats["written"]
                    raise
                stats["indexed"] += 1
                stats["written"] += written
                stats["malformed"] += malformed
                for event_id in wanted.intersection(indexed):
                    predictions.setdefault(event_id, indexed[event_id])
                continue
            stats["malformed"] += self._read_hour(variants, hour, wanted, predictions)
        return predictions, dict(stats)

    def _read_hour(self, variants: list[str], hour: datetime, wanted: set[str] | None, into: dict[str, Found]) -> int:
        bucket = self._capture[0]
        malformed = 0
        for variant_prefix in variants:
            variant = variant_prefix.rstrip("/").rsplit("/", 1)[-1]
            keys = self._keys(bucket, f"{variant_prefix}{hour:%Y/%m/%d/%H}/")
            for body in self._bodies(bucket, keys):
                malformed += _decode_capture(body, variant, self._fmt, wanted, into)
        return malformed

    def index_key(self, endpoint: str, hour: datetime) -> str:
        assert self._index is not None
        return "/".join(p for p in (self._index[1], endpoint, f"{hour:%Y/%m/%d/%H}.json") if p)

    def _indexed_hour(
        self, endpoint: str, variants: list[str], hour: datetime, deadline: float | None = None
    ) -> tuple[dict[str, Found], int, int]:
        """(predictions of a complete capture hour, 1 if the index was written now, malformed)."""
        assert self._index is not None
        bucket, key = self._index[0], self.index_key(endpoint, hour)
        try:
            document = records.loads(self._s3.get_object(Bucket=bucket, Key=key)["Body"].read())
            if document.get("format") == INDEX_FORMAT and document.get("reading") == self._fmt.fingerprint:
                return _from_index(document["predictions"]), 0, 0
        except self._s3.exceptions.NoSuchKey:
            pass
        except (ValueError, KeyError, TypeError, AttributeError):
            logger.warning("prediction index unreadable; rebuilt", index=f"s3://{bucket}/{key}")
        if deadline is not None and monotonic() > deadline:
            raise IndexingIncomplete()
        found: dict[str, Found] = {}
        malformed = self._read_hour(variants, hour, None, found)
        document = {
            "format": INDEX_FORMAT,
            "endpoint": endpoint,
            "hour": hour.isoformat(),
            "reading": self._fmt.fingerprint,
            "predictions": {
                event_id: [variant, [None if p is None else [p.label, p.probability] for p in predicted]]
                for event_id, (variant, predicted) in found.items()
            },
        }
        self._s3.put_object(Bucket=bucket, Key=key, Body=orjson.dumps(document), ContentType="application/json")
        return found, 1, malformed


def _from_index(stored: dict[str, Any]) -> dict[str, Found]:
    return {
        event_id: (variant, [None if p is None else Prediction(p[0], p[1]) for p in predicted])
        for event_id, (variant, predicted) in stored.items()
    }


class RunDebounce:
    """At most one label-triggered run per endpoint and hour of labels: a ledger mark
    (`MARK#quality-run#<hour>`, expiring after two days). Later label files of the same hour
    are covered by the hourly catch-up."""

    def __init__(self, ledger: Ledger, keep: timedelta = timedelta(days=2)) -> None:
        self._ledger = ledger
        self._keep = keep

    def first(self, endpoint: str, label_hour: datetime, at: datetime) -> bool:
        return self._ledger.mark(endpoint, f"quality-run#{label_hour:%Y-%m-%dT%H}", at, keep=self._keep)


def on_ground_truth(
    created: ObjectCreated,
    job: ComputeModelQuality,
    scope: Scope,
    ledger: Ledger,
    measure: Callable[[list[str], datetime, datetime], list[dict[str, Any]]],
) -> dict[str, Any]:
    """Labels landed: their endpoint measured for their hour, at most once per endpoint and hour
    of labels (`RunDebounce`); `measure(endpoints, end, now)` runs each endpoint's own job."""
    key = created.key
    endpoint, end = job.endpoint_for_key(key), job.evaluation_time_for_key(key)
    if not endpoint or end is None:
        return rejected(
            f"ground-truth key {shown(key)} is not <prefix>/<endpoint in scope>/[<variant>/]YYYY/MM/DD/HH/<file>"
        )
    # A named endpoint costs no call; any other, its tags (DescribeEndpoint and ListTags).
    in_scope, why = scope.contains(endpoint)
    if not in_scope:
        return rejected(f"ground-truth key {shown(key)}: {shown(why)}")
    now = created.at or end
    if not RunDebounce(ledger).first(endpoint, end - timedelta(hours=1), now):
        logger.info("labels of this hour already triggered a run; the hourly catch-up covers this file", key=key)
        return {"debounced": [key]}
    return {"results": measure([endpoint], end, now)}
