"""ComputeDriftFunction's job: each endpoint's last hour of captured inputs against its baseline, published."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from model_medic.measure.baseline import BaselineError, BaselineStore
from model_medic.measure.capture_sample import read_hour
from model_medic.measure.drift_statistics import FeatureDrift, drift
from model_medic.measure.endpoint_problems import EndpointProblem, aws_refused, endpoint_metric, tell_problem
from model_medic.measure.feature_dimensions import FeatureDimensions, feature_dimensions
from model_medic.measure.s3_objects import read_objects, split_s3_uri
from model_medic.platform import aws
from model_medic.platform.observability import logger, metrics
from model_medic.store.measurements import Measurements
from model_medic.tell.notices import Notices, Said

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_cloudwatch.type_defs import DimensionTypeDef, MetricDatumTypeDef
    from mypy_boto3_s3 import S3Client

    from model_medic.intake.triggers import BuildBaseline
    from model_medic.policy.policies import Scope


@dataclass(frozen=True)
class EndpointDrift:
    endpoint: str
    status: str  # published, too-few-rows, no-baseline, shape-mismatch, bad-baseline, unreadable
    rows: int = 0
    malformed: int = 0
    mismatched: int = 0
    features: tuple[FeatureDrift, ...] = ()
    problem: str = ""
    # Feature names published under another `Feature` value, and those not published per feature (why).
    renamed: dict[str, str] = field(default_factory=dict)
    unpublished: dict[str, str] = field(default_factory=dict)

    @property
    def worst(self) -> FeatureDrift | None:
        return max(self.features, key=lambda f: f.psi, default=None)


class ComputeDrift:
    """Reads an hour of data capture per endpoint, compares it with the baseline, publishes."""

    def __init__(
        self,
        s3: S3Client,
        cloudwatch: CloudWatchClient,
        capture_uri: str,
        baseline_uri: str,
        min_rows: int,
        label_column: str = "0",
        features_attribute: str = "features",
        per_feature: Callable[[str], bool] | None = None,
    ) -> None:
        self._s3 = s3
        self._cloudwatch = cloudwatch
        self._capture = split_s3_uri(capture_uri)
        self.baselines = BaselineStore(s3, baseline_uri, label_column)
        self._min_rows = min_rows
        self._features_attribute = features_attribute
        # Whether an endpoint's policy wants each feature's metrics (PerFeatureDriftMetrics).
        self._per_feature = per_feature or (lambda endpoint: True)

    def measure(self, endpoint: str, baseline: dict[str, Any], hour: datetime) -> EndpointDrift:
        bucket, prefix = self._capture
        root = "/".join(p for p in (prefix, endpoint) if p) + "/"
        variants = self._s3.list_objects_v2(Bucket=bucket, Prefix=root, Delimiter="/").get("CommonPrefixes", [])
        keys = [
            item["Key"]
            for variant in variants
            for page in self._s3.get_paginator("list_objects_v2").paginate(
                Bucket=bucket, Prefix=f"{variant['Prefix']}{hour:%Y/%m/%d/%H}/"
            )
            for item in page.get("Contents", [])
        ]
        used, sample = read_hour(baseline, read_objects(self._s3, bucket, keys), self._features_attribute)
        if used is not baseline:
            logger.info(
                "label column decided by the captured rows' width",
                endpoint=endpoint,
                label_column=used["label_column"],
                training_columns=used["training_width"],
            )
        counts = sample.counts()
        problem = sample.shape_problem()
        if problem is not None:
            return EndpointDrift(endpoint, "shape-mismatch", *counts, problem=problem)
        if sample.mismatched:
            logger.warning(
                "captured records of another shape than the baseline's counted as malformed",
                endpoint=endpoint,
                records=sample.mismatched,
                widths={str(width): seen for width, seen in sample.widths.items()},
                baseline_width=len(sample.names),
                missing_names=sorted(sample.missing),
            )
        if sample.non_finite:
            logger.warning(
                "captured rows with a NaN or infinite value of a numeric feature counted as malformed",
                endpoint=endpoint,
                features=dict(sample.non_finite),
            )
        if not used["features"]:
            raise EndpointProblem(
                "bad-baseline",
                f"bad-baseline#{baseline['id']}",
                f"the drift baseline {baseline['uri']} has no feature besides its label column "
                f"{used['label_column']!r}, which the captured rows do not carry",
            )
        if sample.rows < self._min_rows:
            return EndpointDrift(endpoint, "too-few-rows", *counts)
        return EndpointDrift(endpoint, "published", *counts, features=tuple(drift(used, sample)))

    def publish(self, result: EndpointDrift, hour: datetime) -> FeatureDimensions:
        """MaxFeatureDrift (what DataDrift watches) in a request of its own, first, so that no
        feature's name can lose it; then each feature's FeatureDrift and FeatureKS unless the
        endpoint's policy switches them off, under the `Feature` value CloudWatch accepts for
        its name (`feature_dimensions`), which is returned (empty when they are off)."""
        dims: list[DimensionTypeDef] = [{"Name": "EndpointName", "Value": result.endpoint}]
        worst = result.worst
        if worst is not None:
            self._put([_datum("MaxFeatureDrift", dims, hour, worst.psi)])
        if not self._per_feature(result.endpoint):
            return FeatureDimensions()
        names = feature_dimensions(feature.feature for feature in result.features)
        data: list[MetricDatumTypeDef] = []
        for feature in result.features:
            value = names.values.get(feature.feature)
            if value is None:
                continue
            per_feature: list[DimensionTypeDef] = [*dims, {"Name": "Feature", "Value": value}]
            data.append(_datum("FeatureDrift", per_feature, hour, feature.psi))
            if feature.ks is not None:
                data.append(_datum("FeatureKS", per_feature, hour, feature.ks))
        for start in range(0, len(data), 1000):
            self._put(data[start : start + 1000])
        return names

    def _put(self, data: list[MetricDatumTypeDef]) -> None:
        self._cloudwatch.put_metric_data(Namespace="Custom/SageMaker", MetricData=data)

    def run(self, endpoints: list[str], scheduled: datetime, notices: Notices, db: Measurements) -> dict[str, Any]:
        """The hour before the scheduled time, for every endpoint.

        One endpoint never blinds another: a problem of one endpoint (no baseline, a bad
        baseline, unreadable capture, rows that do not match the baseline) is recorded and
        told once, and the others are measured. Transient AWS errors are raised after every
        endpoint has had its turn, so that Lambda retries the run. What is told is written in the
        outbox as it is found and sent once every endpoint has had its turn (a failure to send
        raises for a retry, and is never taken for the measure's own error).
        """
        hour = hour_before(scheduled)
        results: list[dict[str, Any]] = []
        transient: list[Exception] = []
        for endpoint in endpoints:
            try:
                measured = self._run_one(endpoint, hour, scheduled, notices, db)
            except EndpointProblem as problem:
                seen = problem.measured or EndpointDrift(endpoint, problem.status)
                measured = EndpointDrift(
                    endpoint, problem.status, seen.rows, seen.malformed, seen.mismatched, problem=problem.message
                )
                tell_problem(notices, "ComputeDriftFunction", "drift", endpoint, problem, hour, scheduled)
            except (ClientError, BotoCoreError) as error:
                if aws.is_transient(error):
                    logger.warning("transient AWS error; the run will be retried", endpoint=endpoint, error=str(error))
                    transient.append(error)
                    continue
                refused = EndpointProblem("unreadable", "drift-aws-error", aws_refused("ComputeDriftFunction", error))
                measured = EndpointDrift(endpoint, refused.status, problem=refused.message)
                tell_problem(notices, "ComputeDriftFunction", "drift", endpoint, refused, hour, scheduled)
            results.append(_as_dict(measured))
        notices.send()
        if transient:
            raise transient[0]
        return {"hour": hour.isoformat(), "endpoints": results}

    def _run_one(
        self, endpoint: str, hour: datetime, scheduled: datetime, notices: Notices, db: Measurements
    ) -> EndpointDrift:
        baseline = self.baselines.read(endpoint)
        if baseline is None:
            key = self.baselines.key(endpoint)
            logger.error("no drift baseline; build it first", endpoint=endpoint, expected=key)
            said = Said(
                "alert",
                f"Model Medic: no drift baseline for {endpoint}",
                f"ComputeDriftFunction found no baseline at s3://{self.baselines.bucket}/{key} (nor "
                f"statistics.json beside it), so drift on {endpoint} is not measured. Build it from "
                f'training.csv beside it with the event {{"build-baseline": {{"endpoint": "{endpoint}"}}}}. '
                "This message is sent once.",
            )
            notices.tell_once(endpoint, "baseline-missing", scheduled, said)
            return EndpointDrift(endpoint, "no-baseline")
        notices.clear(endpoint, "baseline-missing")
        measured = self.measure(endpoint, baseline, hour)
        notices.clear(endpoint, "drift-aws-error")
        if measured.mismatched:
            endpoint_metric("CaptureShapeMismatch", endpoint, measured.mismatched)
        if measured.status == "shape-mismatch":
            raise EndpointProblem(
                "shape-mismatch",
                f"shape-mismatch#{baseline['id']}",
                f"the captured requests of {endpoint} do not match its drift baseline {baseline['uri']}: "
                f"{measured.problem}. Drift is not measured until they do.",
                measured,
            )
        if measured.status == "published":
            measured = self._published(measured, baseline, hour, scheduled, notices, db)
        else:
            logger.info(
                "too few captured rows to judge drift; nothing published",
                endpoint=endpoint,
                rows=measured.rows,
                minimum=self._min_rows,
            )
        if measured.malformed:
            logger.warning("malformed capture records skipped", endpoint=endpoint, records=measured.malformed)
            metrics.add_metric(name="MalformedCaptureLines", unit="Count", value=measured.malformed)
        return measured

    def _published(
        self,
        measured: EndpointDrift,
        baseline: dict[str, Any],
        hour: datetime,
        scheduled: datetime,
        notices: Notices,
        db: Measurements,
    ) -> EndpointDrift:
        """A measured hour published, its most drifted feature kept for StartRetraining; feature
        names CloudWatch refuses are logged every hour, told once per baseline and returned."""
        names = self.publish(measured, hour)
        worst = measured.worst
        if worst is not None:
            db.save_drift(measured.endpoint, hour, worst.feature, worst.psi)
        if not (names.renamed or names.unpublished):
            return measured
        logger.warning(
            "feature names CloudWatch refuses: escaped, or not published per feature",
            endpoint=measured.endpoint,
            renamed=names.renamed,
            unpublished=names.unpublished,
        )
        said = names_said(measured, baseline, names)
        notices.tell_once(measured.endpoint, f"feature-names#{baseline['id']}", scheduled, said)
        return replace(measured, renamed=names.renamed, unpublished=names.unpublished)


def hour_before(scheduled: datetime) -> datetime:
    """The hour a run scheduled at `scheduled` measures: the last full hour before it."""
    return scheduled.astimezone(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)


def _as_dict(measured: EndpointDrift) -> dict[str, Any]:
    result: dict[str, Any] = {
        "endpoint": measured.endpoint,
        "status": measured.status,
        "rows": measured.rows,
        "malformed": measured.malformed,
        "mismatched": measured.mismatched,
        "features": {f.feature: {"psi": f.psi, "ks": f.ks} for f in measured.features},
    }
    if measured.renamed:
        result["renamed"] = measured.renamed
    if measured.unpublished:
        result["unpublished"] = measured.unpublished
    if measured.problem:
        result["problem"] = measured.problem
    return result


def _datum(name: str, dimensions: list[DimensionTypeDef], hour: datetime, value: float) -> MetricDatumTypeDef:
    return {"MetricName": name, "Dimensions": dimensions, "Timestamp": hour, "Value": value, "Unit": "None"}


def names_said(measured: EndpointDrift, baseline: dict[str, Any], names: FeatureDimensions) -> Said:
    """The information, told once per baseline, that some feature names are published escaped
    or not per feature (`feature_dimensions`), and that MaxFeatureDrift still counts them."""
    lines = [f'- "{name}" is published as "{value}"' for name, value in names.renamed.items()]
    lines += [f'- "{name}" is not published per feature: {why}' for name, why in names.unpublished.items()]
    return Said(
        "inform",
        f"Model Medic: drift feature names of {measured.endpoint} changed for CloudWatch",
        f"ComputeDriftFunction publishes the FeatureDrift and FeatureKS of each feature of {measured.endpoint} "
        "with the feature's name as its Feature dimension, and CloudWatch takes there only printable ASCII, "
        f"1 to 1,024 characters, not only spaces. Of the features of the baseline {baseline['uri']}:\n"
        + "\n".join(lines)
        + "\n\nAn escape is written as in a Python string (\\u00e9 is \u00e9). MaxFeatureDrift, which the "
        "DataDrift alarm watches, counts every feature, and the ledger keeps the most drifted feature by its own "
        "name. To publish every feature under its own name, rename the columns of the training set and build "
        "the baseline again. This message is sent once for this baseline.",
    )


def baseline_requested(
    baselines: Callable[[str], BaselineStore | None], scope: Scope, request: BuildBaseline
) -> dict[str, Any]:
    """ComputeDriftFunction's `build-baseline` request: the baseline of one endpoint in scope,
    where its baselines are (`baselines(endpoint)`: its tag's location, else the stack's; None: neither)."""
    endpoint = request.endpoint
    if not endpoint:
        return {"rejected": ["build-baseline needs an endpoint in scope, got ''"]}
    # A named endpoint costs no call; any other, its tags (DescribeEndpoint and ListTags).
    in_scope, why = scope.contains(endpoint)
    if not in_scope:
        return {"rejected": [f"build-baseline needs an endpoint in scope: {why}"]}
    store = baselines(endpoint)
    if store is None:
        return {
            "rejected": [
                f"baseline of {endpoint} not built: neither a model-medic:baseline-s3-uri tag on it "
                "nor the stack's BaselineS3Uri says where its baseline is"
            ]
        }
    try:
        uri, built = store.build(endpoint, label_column=request.label_column)
    except BaselineError as error:
        logger.error("baseline not built", endpoint=endpoint, error=str(error))
        return {"rejected": [f"baseline of {endpoint} not built: {error}"]}
    logger.info("baseline built", endpoint=endpoint, baseline=uri)
    non_finite: dict[str, int] = built.get("non_finite", {})
    if not non_finite:
        return {"baseline": uri}
    left_out = ", ".join(f"{name} {count}" for name, count in non_finite.items())
    note = (
        f"missing, NaN or infinite values of numeric features left out of the baseline (of {built['rows']} rows): "
        f"{left_out}; "
        "captured ones are counted as malformed and left out alike"
    )
    logger.warning("training values left out of the baseline", endpoint=endpoint, non_finite=non_finite)
    return {"baseline": uri, "note": note}
