"""Input drift from data capture: PSI and KS per feature against a training baseline.

Baseline (JSON, built from a training CSV with a header by `build_baseline`):
* numeric feature: quantile bin edges (deciles by default) with the training share of each
  bin, and 1,001 quantiles of the training distribution for the Kolmogorov-Smirnov
  statistic (evaluated at those quantiles: error at most 0.001);
* categorical feature: the share of each category.

Current hour: every captured request input (CSV, JSON or base64 of either; FACTS.md).
PSI = sum over bins of (a - e) * ln(a / e) with empty bins smoothed to `EPSILON`, so it
stays finite; categories never seen in training get a bin of their own. Pure Python: no
numpy in the Lambda package.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import math
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import Any

from model_medic.ledger import Ledger
from model_medic.observability import logger, metrics
from model_medic.outcome import Notifier

EPSILON = 1e-4  # the share given to an empty bin, in training or now
UNSEEN = "__unseen__"
KS_QUANTILES = 1001
DEFAULT_BINS = 10


# --- baseline ----------------------------------------------------------------------------


def build_baseline(csv_text: str, bins: int = DEFAULT_BINS) -> dict[str, Any]:
    """The baseline of a training dataset (CSV with a header row)."""
    reader = csv.reader(io.StringIO(csv_text))
    header = next(reader, None)
    if not header:
        raise ValueError("the training dataset has no header row")
    columns: list[list[str]] = [[] for _ in header]
    rows = 0
    for row in reader:
        if len(row) != len(header):
            continue
        rows += 1
        for index, value in enumerate(row):
            columns[index].append(value.strip())
    if rows == 0:
        raise ValueError("the training dataset has no rows")
    features = []
    for name, values in zip(header, columns, strict=True):
        numbers = _numbers(values)
        if numbers is not None:
            features.append(_numeric_baseline(name.strip(), numbers, bins))
        else:
            counts = Counter(values)
            features.append(
                {
                    "name": name.strip(),
                    "type": "categorical",
                    "proportions": {k: v / len(values) for k, v in sorted(counts.items())},
                }
            )
    return {"format": "model-medic-baseline/1", "rows": rows, "features": features}


def _numbers(values: list[str]) -> list[float] | None:
    try:
        return [float(v) for v in values]
    except ValueError:
        return None


def _numeric_baseline(name: str, values: list[float], bins: int) -> dict[str, Any]:
    ordered = sorted(values)
    edges = sorted({_quantile(ordered, i / bins) for i in range(1, bins)})
    counts = _bin_counts(ordered, edges)
    return {
        "name": name,
        "type": "numeric",
        "edges": edges,
        "proportions": [c / len(ordered) for c in counts],
        "quantiles": [_quantile(ordered, i / (KS_QUANTILES - 1)) for i in range(KS_QUANTILES)],
    }


def _quantile(ordered: list[float], q: float) -> float:
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _bin_counts(ordered: list[float], edges: list[float]) -> list[int]:
    """Bins (-inf, e0], (e0, e1], ..., (e_last, inf) over sorted values."""
    counts, previous = [], 0
    for edge in edges:
        upto = bisect_right(ordered, edge)
        counts.append(upto - previous)
        previous = upto
    counts.append(len(ordered) - previous)
    return counts


def from_model_monitor(statistics: dict[str, Any]) -> dict[str, Any]:
    """A baseline from Model Monitor's statistics.json (KLL buckets, categorical buckets)."""
    features = []
    for feature in statistics.get("features", []):
        name = feature["name"]
        numeric = feature.get("numerical_statistics")
        if numeric is not None:
            buckets = numeric["distribution"]["kll"]["buckets"]
            total = sum(b["count"] for b in buckets) or 1
            features.append(
                {
                    "name": name,
                    "type": "numeric",
                    "edges": [b["upper_bound"] for b in buckets[:-1]],
                    "proportions": [b["count"] / total for b in buckets],
                    # Coarser than our own baseline: the KLL bucket bounds are the CDF's points.
                    "quantiles": None,
                    "cdf": _bucket_cdf(buckets, total),
                }
            )
        else:
            buckets = feature["string_statistics"]["distribution"]["categorical"]["buckets"]
            total = sum(b["count"] for b in buckets) or 1
            features.append(
                {
                    "name": name,
                    "type": "categorical",
                    "proportions": {str(b["value"]): b["count"] / total for b in buckets},
                }
            )
    return {
        "format": "model-monitor-statistics",
        "rows": statistics.get("dataset", {}).get("item_count"),
        "features": features,
    }


def _bucket_cdf(buckets: list[dict[str, Any]], total: float) -> list[list[float]]:
    points, cumulative = [[buckets[0]["lower_bound"], 0.0]], 0.0
    for bucket in buckets:
        cumulative += bucket["count"]
        points.append([bucket["upper_bound"], cumulative / total])
    return points


# --- the current hour ------------------------------------------------------------------------


@dataclass
class Sample:
    """The captured inputs of one hour, per feature, with what could not be read."""

    names: list[str]
    numeric: set[str]
    rows: int = 0
    malformed: int = 0

    def __post_init__(self) -> None:
        self._numeric_at = [i for i, name in enumerate(self.names) if name in self.numeric]
        self._text_at = [i for i, name in enumerate(self.names) if name not in self.numeric]
        self._text_set = frozenset(self._text_at)
        self._numbers: list[tuple[float, ...]] = []  # per row: the numeric features, in column order
        self._texts: list[tuple[str, ...]] = []  # per row: the categorical features
        self._values: dict[str, Sequence[Any]] | None = None

    @property
    def values(self) -> dict[str, Sequence[Any]]:
        """Per feature, every value of the hour (columns are assembled once, after reading)."""
        if self._values is None:
            columns: dict[str, Sequence[Any]] = {}
            numbers = list(zip(*self._numbers, strict=True)) if self._numbers else [() for _ in self._numeric_at]
            texts = list(zip(*self._texts, strict=True)) if self._texts else [() for _ in self._text_at]
            for position, index in enumerate(self._numeric_at):
                columns[self.names[index]] = numbers[position]  # a tuple: read, sorted, never changed
            for position, index in enumerate(self._text_at):
                columns[self.names[index]] = list(map(str.strip, texts[position]))
            self._values = {name: columns[name] for name in self.names}
        return self._values

    def add_capture_file(self, text: str) -> None:
        """Every capture record of a JSON Lines file; the hot loop of the drift job.

        The file is decoded as one JSON array when it is well formed (much faster than a
        decode per line); a file with a malformed line falls back to line by line, so
        that only that line is lost and counted.
        """
        lines = [line for line in text.splitlines() if line and not line.isspace()]
        try:
            records = json.loads("[" + ",".join(lines) + "]")
        except ValueError:
            records = None
        if records is None or len(records) != len(lines):
            records = [self._decode_line(line) for line in lines]
        width = len(self.names)
        take_numbers, take_texts = _taker(self._numeric_at), _taker(self._text_at)
        numbers_out, texts_out = self._numbers, self._texts
        for record in records:
            try:
                data = record["captureData"]["endpointInput"]
                raw = data["data"]
                if data.get("encoding", "CSV") == "CSV" and '"' not in raw:
                    row: Any = raw.split(",")  # the common case, without the csv module's cost
                else:
                    fields = self._fields(
                        _decode(raw, data.get("encoding", "CSV"), data.get("observedContentType", ""))
                    )
                    row = [str(value) if i in self._text_set else value for i, value in enumerate(fields)]
                if len(row) != width:
                    raise ValueError(f"expected {width} values, got {len(row)}")
                numbers = tuple(map(float, take_numbers(row)))
            except (ValueError, KeyError, TypeError, AttributeError):
                self.malformed += 1
                continue
            numbers_out.append(numbers)
            texts_out.append(take_texts(row))  # stripped once per column, when assembled
            self.rows += 1
        self._values = None

    @staticmethod
    def _decode_line(line: str) -> Any:
        try:
            return json.loads(line)
        except ValueError:
            return None  # counted as malformed by the caller

    def _fields(self, row: Any) -> list[Any]:
        if isinstance(row, dict):
            return [row[name] for name in self.names]
        if isinstance(row, list):
            return row
        return next(csv.reader([str(row)]))


def _taker(indices: list[int]) -> Any:
    """A function returning the values at `indices` of a row, as a tuple (itemgetter, made total)."""
    if not indices:
        return lambda row: ()
    if len(indices) == 1:
        index = indices[0]
        return lambda row: (row[index],)
    return itemgetter(*indices)


def _decode(data: Any, encoding: str, content_type: str) -> Any:
    if encoding == "BASE64":
        data = base64.b64decode(data).decode("utf-8")
        encoding = "JSON" if "json" in content_type else "CSV"
    if encoding == "JSON":
        parsed = json.loads(data) if isinstance(data, str) else data
        if isinstance(parsed, dict) and "instances" in parsed and len(parsed["instances"]) == 1:
            parsed = parsed["instances"][0]
        return parsed
    return data


# --- the statistics ---------------------------------------------------------------------------


def psi(expected: list[float], actual: list[float]) -> float:
    """Population Stability Index over matching bins, empty bins smoothed to EPSILON."""
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        e, a = max(e, EPSILON), max(a, EPSILON)
        total += (a - e) * math.log(a / e)
    return total


def numeric_psi(feature: dict[str, Any], values: list[float], presorted: bool = False) -> float:
    counts = _bin_counts(values if presorted else sorted(values), feature["edges"])
    return psi(feature["proportions"], [c / len(values) for c in counts])


def categorical_psi(feature: dict[str, Any], values: Sequence[str]) -> float:
    known: dict[str, float] = feature["proportions"]
    counts = Counter(v if v in known else UNSEEN for v in values)
    categories = [*sorted(known), UNSEEN]
    expected = [known.get(c, 0.0) for c in categories]
    actual = [counts.get(c, 0) / len(values) for c in categories]
    return psi(expected, actual)


def ks_statistic(feature: dict[str, Any], values: list[float], presorted: bool = False) -> float:
    """sup |F_baseline - F_now|.

    With our baselines' 1,001 quantiles, F_now is evaluated on both sides of each baseline
    point: between two points F_base rises by one step (0.001) while F_now stays within its
    values at them, so the result is within 0.001 of the exact statistic, in O(m log n).
    A coarse baseline (Model Monitor's buckets) gets the exact statistic, at every value.
    """
    ordered = values if presorted else sorted(values)
    n = len(ordered)
    cdf = _baseline_cdf(feature)
    if len(cdf.xs) < KS_QUANTILES:
        return _exact_ks(ordered, cdf)
    left = [bisect_left(ordered, x) / n for x in cdf.xs]
    right = [bisect_right(ordered, x) / n for x in cdf.xs]
    worst = max(left[0], 1.0 - right[-1])  # below the first point F_base is 0, above the last 1
    for k, y in enumerate(cdf.ys):
        worst = max(worst, abs(left[k] - y), abs(right[k] - y))
        if k + 1 < len(cdf.ys):
            worst = max(worst, abs(left[k + 1] - y), abs(right[k] - cdf.ys[k + 1]))
    return worst


def _exact_ks(ordered: list[float], cdf: _Cdf) -> float:
    # Between two sample values F_now is flat and F_base monotone: the extremes are at the
    # samples, on either side of each jump of F_now.
    n, worst, i = len(ordered), 0.0, 0
    while i < n:
        j = bisect_right(ordered, ordered[i], i)
        base = cdf(ordered[i])
        worst = max(worst, abs(i / n - base), abs(j / n - base))
        i = j
    return worst


@dataclass(frozen=True)
class _Cdf:
    """A piecewise linear CDF through (x, y) points."""

    xs: list[float]
    ys: list[float]

    def __call__(self, x: float) -> float:
        xs = self.xs
        if x < xs[0]:
            return 0.0
        if x >= xs[-1]:
            return 1.0
        i = bisect_right(xs, x)
        x0, x1, y0, y1 = xs[i - 1], xs[i], self.ys[i - 1], self.ys[i]
        return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)


def _baseline_cdf(feature: dict[str, Any]) -> _Cdf:
    if feature.get("quantiles"):
        q = [float(v) for v in feature["quantiles"]]
        last = len(q) - 1
        return _Cdf(q, [i / last for i in range(len(q))])
    return _Cdf([float(x) for x, _ in feature["cdf"]], [float(y) for _, y in feature["cdf"]])


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    psi: float
    ks: float | None


def drift(baseline: dict[str, Any], sample: Sample) -> list[FeatureDrift]:
    """Pure: PSI (and KS for numeric features) of every baseline feature."""
    results = []
    for feature in baseline["features"]:
        values = sample.values[feature["name"]]
        if feature["type"] == "numeric":
            ordered = sorted(values)  # once, for both statistics
            results.append(
                FeatureDrift(feature["name"], numeric_psi(feature, ordered, True), ks_statistic(feature, ordered, True))
            )
        else:
            results.append(FeatureDrift(feature["name"], categorical_psi(feature, values), None))
    return results


def sample_for(baseline: dict[str, Any]) -> Sample:
    names = [f["name"] for f in baseline["features"]]
    return Sample(names, {f["name"] for f in baseline["features"] if f["type"] == "numeric"})


# --- the hourly job --------------------------------------------------------------------------


def split_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {uri!r}")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key.strip("/")


@dataclass(frozen=True)
class EndpointDrift:
    endpoint: str
    status: str  # published, too-few-rows, no-baseline
    rows: int = 0
    malformed: int = 0
    features: tuple[FeatureDrift, ...] = ()

    @property
    def worst(self) -> FeatureDrift | None:
        return max(self.features, key=lambda f: f.psi, default=None)


class ComputeDrift:
    """Reads an hour of data capture per endpoint, compares it with the baseline, publishes."""

    def __init__(self, s3: Any, cloudwatch: Any, capture_uri: str, baseline_uri: str, min_rows: int) -> None:
        self._s3 = s3
        self._cloudwatch = cloudwatch
        self._capture = split_s3_uri(capture_uri)
        self._baselines = split_s3_uri(baseline_uri)
        self._min_rows = min_rows

    def baseline_key(self, endpoint: str, name: str = "baseline.json") -> str:
        return "/".join(p for p in (self._baselines[1], endpoint, name) if p)

    def build(self, endpoint: str, bins: int = DEFAULT_BINS) -> str:
        """Baseline from <baselines>/<endpoint>/training.csv, stored as baseline.json beside it."""
        bucket = self._baselines[0]
        body = self._s3.get_object(Bucket=bucket, Key=self.baseline_key(endpoint, "training.csv"))["Body"].read()
        baseline = build_baseline(body.decode("utf-8"), bins)
        key = self.baseline_key(endpoint)
        self._s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(baseline).encode(), ContentType="application/json")
        return f"s3://{bucket}/{key}"

    def baseline(self, endpoint: str) -> dict[str, Any] | None:
        bucket = self._baselines[0]
        for name, convert in (("baseline.json", None), ("statistics.json", from_model_monitor)):
            try:
                body = self._s3.get_object(Bucket=bucket, Key=self.baseline_key(endpoint, name))["Body"].read()
            except self._s3.exceptions.NoSuchKey:
                continue
            parsed = json.loads(body)
            return convert(parsed) if convert else parsed  # type: ignore[no-any-return]
        return None

    def measure(self, endpoint: str, baseline: dict[str, Any], hour: datetime) -> EndpointDrift:
        sample = sample_for(baseline)
        bucket, prefix = self._capture
        root = "/".join(p for p in (prefix, endpoint) if p) + "/"
        variants = self._s3.list_objects_v2(Bucket=bucket, Prefix=root, Delimiter="/").get("CommonPrefixes", [])
        for variant in variants:
            folder = f"{variant['Prefix']}{hour:%Y/%m/%d/%H}/"
            for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=folder):
                for item in page.get("Contents", []):
                    body = self._s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
                    sample.add_capture_file(body.decode("utf-8", errors="replace"))
        if sample.rows < self._min_rows:
            return EndpointDrift(endpoint, "too-few-rows", sample.rows, sample.malformed)
        return EndpointDrift(endpoint, "published", sample.rows, sample.malformed, tuple(drift(baseline, sample)))

    def publish(self, result: EndpointDrift, hour: datetime) -> None:
        data = []
        dims = [{"Name": "EndpointName", "Value": result.endpoint}]
        for feature in result.features:
            per_feature = [*dims, {"Name": "Feature", "Value": feature.feature}]
            data.append(
                {
                    "MetricName": "FeatureDrift",
                    "Dimensions": per_feature,
                    "Timestamp": hour,
                    "Value": feature.psi,
                    "Unit": "None",
                }
            )
            if feature.ks is not None:
                data.append(
                    {
                        "MetricName": "FeatureKS",
                        "Dimensions": per_feature,
                        "Timestamp": hour,
                        "Value": feature.ks,
                        "Unit": "None",
                    }
                )
        worst = result.worst
        if worst is not None:
            data.append(
                {
                    "MetricName": "MaxFeatureDrift",
                    "Dimensions": dims,
                    "Timestamp": hour,
                    "Value": worst.psi,
                    "Unit": "None",
                }
            )
        for start in range(0, len(data), 1000):
            self._cloudwatch.put_metric_data(Namespace="Custom/SageMaker", MetricData=data[start : start + 1000])

    def run(self, endpoints: list[str], scheduled: datetime, ledger: Ledger, notifier: Notifier) -> dict[str, Any]:
        """The hour before the scheduled time, for every endpoint; a missing baseline is told once."""
        hour = scheduled.astimezone(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
        results: list[dict[str, Any]] = []
        for endpoint in endpoints:
            baseline = self.baseline(endpoint)
            if baseline is None:
                key = self.baseline_key(endpoint)
                logger.error("no drift baseline; build it first", endpoint=endpoint, expected=key)
                if ledger.notice_once(endpoint, "baseline-missing", scheduled):
                    notifier.alert(
                        f"Model Medic: no drift baseline for {endpoint}",
                        f"ComputeDriftFunction found no baseline at s3://{self._baselines[0]}/{key} (nor "
                        f"statistics.json beside it), so drift on {endpoint} is not measured. Build it from "
                        f'training.csv beside it with the event {{"build-baseline": {{"endpoint": "{endpoint}"}}}}. '
                        "This message is sent once.",
                    )
                results.append({"endpoint": endpoint, "status": "no-baseline"})
                continue
            ledger.clear_notice(endpoint, "baseline-missing")
            measured = self.measure(endpoint, baseline, hour)
            if measured.status == "published":
                self.publish(measured, hour)
                worst = measured.worst
                if worst is not None:
                    ledger.save_drift(endpoint, hour, worst.feature, worst.psi)
            else:
                logger.info(
                    "too few captured rows to judge drift; nothing published",
                    endpoint=endpoint,
                    rows=measured.rows,
                    minimum=self._min_rows,
                )
            if measured.malformed:
                logger.warning("malformed capture lines skipped", endpoint=endpoint, lines=measured.malformed)
                metrics.add_metric(name="MalformedCaptureLines", unit="Count", value=measured.malformed)
            results.append(
                {
                    "endpoint": endpoint,
                    "status": measured.status,
                    "rows": measured.rows,
                    "malformed": measured.malformed,
                    "features": {f.feature: {"psi": f.psi, "ks": f.ks} for f in measured.features},
                }
            )
        return {"hour": hour.isoformat(), "endpoints": results}
