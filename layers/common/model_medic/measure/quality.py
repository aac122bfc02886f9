"""ComputeModelQualityFunction's job: labels joined to captured predictions, quality published per variant."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from model_medic.intake.triggers import rejected, shown
from model_medic.measure.endpoint_problems import EndpointProblem, aws_refused, tell_problem
from model_medic.measure.ground_truth import GroundTruth, Labels, evaluation_time_for_key
from model_medic.measure.predictions import CapturedPredictions, IndexingIncomplete
from model_medic.measure.quality_join import NO_VARIANT, Joined, join
from model_medic.measure.quality_metrics import ProblemType, metrics_for
from model_medic.measure.records import OutputFormat, Prediction
from model_medic.platform import aws
from model_medic.platform.observability import logger
from model_medic.store.journal import Journal

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_cloudwatch.type_defs import DimensionTypeDef, MetricDatumTypeDef
    from mypy_boto3_s3 import S3Client

    from model_medic.intake.triggers import ObjectCreated
    from model_medic.platform.settings import QualitySettings
    from model_medic.policy.policies import Scope
    from model_medic.tell.notices import Notices

Scored = list[tuple[str | None, dict[str, float]]]  # (variant, or None for the endpoint; its metrics)


@dataclass(frozen=True)
class QualityConfig:
    """What one policy's quality job measures, and where its data is: labels collected in a
    `window`, predictions searched over a `lookback` before it, nothing published below
    `min_samples`; a binary record is positive at `threshold` or by `positive`."""

    capture_uri: str
    ground_truth_uri: str
    problem: ProblemType
    window: timedelta
    lookback: timedelta
    min_samples: int
    positive: str = "1"
    threshold: float = 0.5
    fmt: OutputFormat | None = None  # how responses are read; default: predicted_label and score
    index_uri: str = ""  # where the prediction index is kept; empty: none

    @classmethod
    def of(cls, settings: QualitySettings, capture_uri: str | None = None) -> QualityConfig:
        """A policy's settings (an endpoint's data and problem type are its own, `policy/tags.py`),
        with the endpoint's capture (`endpoint_data.py`; default: the stack's)."""
        return cls(
            capture_uri=settings.capture_s3_uri if capture_uri is None else capture_uri,
            ground_truth_uri=settings.ground_truth_s3_uri,
            problem=settings.problem_type,
            window=timedelta(hours=settings.quality_window_hours),
            lookback=timedelta(hours=settings.label_lookback_hours),
            min_samples=settings.quality_min_samples,
            positive=settings.positive_label,
            threshold=settings.probability_threshold,
            fmt=OutputFormat.for_problem(
                settings.problem_type, settings.inference_attribute, settings.probability_attribute
            ),
            index_uri=settings.prediction_index_s3_uri,
        )

    def reading(self) -> OutputFormat:
        return self.fmt or OutputFormat.for_problem(self.problem, "predicted_label", "score")


def scored(joined: Joined, config: QualityConfig) -> Scored:
    """Pure: the metrics of each variant, then of the endpoint (every pair), with the sample
    count; a group of fewer than `min_samples` pairs has none."""
    groups: dict[str | None, list[tuple[str, Prediction]]] = {k: v for k, v in joined.pairs.items() if k != NO_VARIANT}
    groups[None] = [pair for pairs in joined.pairs.values() for pair in pairs]
    found: Scored = []
    for variant, pairs in sorted(groups.items(), key=lambda kv: (kv[0] is None, kv[0] or "")):
        if len(pairs) < config.min_samples:
            continue
        values = metrics_for(
            config.problem, [a for a, _ in pairs], [p for _, p in pairs], config.positive, config.threshold
        )
        values["quality_sample_count"] = float(len(pairs))
        found.append((variant, values))
    return found


def metric_data(endpoint: str, figures: Scored, at: datetime) -> list[MetricDatumTypeDef]:
    """Pure: PutMetricData's data of the scored groups, per endpoint and variant."""
    data: list[MetricDatumTypeDef] = []
    for variant, values in figures:
        dims: list[DimensionTypeDef] = [{"Name": "EndpointName", "Value": endpoint}]
        if variant is not None:
            dims.append({"Name": "VariantName", "Value": variant})
        data += [
            {
                "MetricName": name,
                "Dimensions": dims,
                "Timestamp": at,
                "Value": value,
                "Unit": "Count" if name == "quality_sample_count" else "None",
            }
            for name, value in values.items()
        ]
    return data


def _window(start: datetime, end: datetime) -> dict[str, str]:
    return {"start": start.isoformat(), "end": end.isoformat()}


def _count(labels: Labels) -> int:
    return sum(len(v) for v in labels.values())


class ComputeModelQuality:
    """One policy's quality job: each endpoint's labels of a window, joined to the predictions
    they name, scored and published per variant and endpoint."""

    def __init__(self, s3: S3Client, cloudwatch: CloudWatchClient, config: QualityConfig) -> None:
        self._cloudwatch = cloudwatch
        self._config = config
        self.ground_truth = GroundTruth(s3, config.ground_truth_uri, config.reading())
        self.captures = CapturedPredictions(s3, config.capture_uri, config.index_uri, config.reading())

    def run_all(
        self,
        endpoints: list[str],
        end: datetime,
        now: datetime,
        notices: Notices,
        deadline: float | None = None,
    ) -> list[dict[str, Any]]:
        """`run` for every endpoint; one endpoint never blinds another. An S3 refusal (access
        denied, a missing bucket) is told once per endpoint (written in the outbox, sent once
        every endpoint had its turn) and the others are measured; transient AWS errors are
        raised after every endpoint had its turn, for a retry."""
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
                    "unreadable", "quality-aws-error", aws_refused("ComputeModelQualityFunction", error)
                )
                hour = end.astimezone(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
                tell_problem(notices, "ComputeModelQualityFunction", "model quality", endpoint, problem, hour, now)
                results.append({"endpoint": endpoint, "status": "unreadable", "problem": problem.message})
                continue
            notices.clear(endpoint, "quality-aws-error")
        notices.send()
        if transient:
            raise transient[0]
        return results

    def run(
        self, endpoint: str, end: datetime, now: datetime | None = None, deadline: float | None = None
    ) -> dict[str, Any]:
        """Quality over the labels collected in [end - window, end), published at end - 1 h.

        `now` (the event's time; default `end`) decides which capture hours are complete
        and may be read from, or written to, the prediction index. `deadline`
        (`predictions.deadline_in`) bounds the run: past it no further index is built,
        nothing is published (status "indexing"), and the next run goes on from the
        indexes written.
        """
        end = end.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        now = (now or end).astimezone(UTC)
        start = end - self._config.window
        labels, carried, label_stats = self.ground_truth.labels(endpoint, start, end)
        try:
            predictions, capture_stats = self.captures.named(
                endpoint, start - self._config.lookback, end, set(labels), now, deadline
            )
        except IndexingIncomplete as incomplete:
            return self._indexing(endpoint, start, end, labels, incomplete)
        joined = join(predictions, labels, self._config.problem, carried)
        joined.duplicate_labels = label_stats["duplicates"]
        joined.malformed = label_stats["malformed"] + capture_stats["malformed"]
        published = self._publish(endpoint, joined, end)
        return {
            "endpoint": endpoint,
            "status": "published" if published else "too-few-samples",
            "window": _window(start, end),
            "labels": _count(labels),
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

    def _indexing(
        self, endpoint: str, start: datetime, end: datetime, labels: Labels, incomplete: IndexingIncomplete
    ) -> dict[str, Any]:
        logger.warning(
            "prediction index still being built; nothing published this run, the next run goes on",
            endpoint=endpoint,
            indexes_written=incomplete.written,
        )
        return {
            "endpoint": endpoint,
            "status": "indexing",
            "window": _window(start, end),
            "labels": _count(labels),
            "indexes_written": incomplete.written,
            "published": {},
        }

    def _publish(self, endpoint: str, joined: Joined, end: datetime) -> dict[str, dict[str, float]]:
        """The metrics of the groups with enough samples, put at end - 1 h; what was published."""
        figures = scored(joined, self._config)
        data = metric_data(endpoint, figures, end - timedelta(hours=1))
        for first in range(0, len(data), 1000):
            self._cloudwatch.put_metric_data(Namespace="Custom/SageMaker", MetricData=data[first : first + 1000])
        published = {variant or "(endpoint)": values for variant, values in figures}
        if not published:
            logger.info(
                "too few labelled predictions to publish model quality",
                endpoint=endpoint,
                matched=joined.matched,
                minimum=self._config.min_samples,
            )
        if joined.undecodable_predictions or joined.count_mismatches:
            logger.warning(
                "labelled predictions dropped",
                endpoint=endpoint,
                undecodable=joined.undecodable_predictions,
                count_mismatches=joined.count_mismatches,
            )
        return published


class RunDebounce:
    """At most one label-triggered run per endpoint and hour of labels: a ledger mark
    (`MARK#quality-run#<hour>`, expiring after two days). Later label files of the same hour
    are covered by the hourly catch-up."""

    def __init__(self, ledger: Journal, keep: timedelta = timedelta(days=2)) -> None:
        self._ledger = ledger
        self._keep = keep

    def first(self, endpoint: str, label_hour: datetime, at: datetime) -> bool:
        return self._ledger.mark(endpoint, f"quality-run#{label_hour:%Y-%m-%dT%H}", at, keep=self._keep)


def on_ground_truth(
    created: ObjectCreated,
    labels: GroundTruth | None,
    scope: Scope,
    ledger: Journal,
    measure: Callable[[list[str], datetime, datetime], list[dict[str, Any]]],
) -> dict[str, Any]:
    """Labels landed: their endpoint measured for their hour, at most once per endpoint and hour
    of labels (`RunDebounce`); `measure(endpoints, end, now)` runs each endpoint's own job.
    `labels`: the stack's ground truth, whose keys name the endpoint (None: the stack has none)."""
    key = created.key
    if labels is None:
        return rejected(f"ground-truth key {shown(key)}: the stack has no GroundTruthS3Uri")
    endpoint, end = labels.endpoint_for_key(key), evaluation_time_for_key(key)
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
