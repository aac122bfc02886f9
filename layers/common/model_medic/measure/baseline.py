"""Drift baselines: built from a training CSV or read from Model Monitor's statistics.json, stored beside it."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from model_medic.measure.endpoint_problems import EndpointProblem
from model_medic.measure.s3_objects import split_s3_uri
from model_medic.platform.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import GetObjectOutputTypeDef

KS_QUANTILES = 1001
DEFAULT_BINS = 10
AUTO = "auto"  # label_column: decided each hour from the widths of training set and capture


class BaselineError(ValueError):
    """A baseline (or the training data behind it) that cannot be used; nothing is built."""


def is_auto(label_column: str) -> bool:
    return label_column.strip().lower() == AUTO


def label_index(header: list[str], label_column: str) -> int | None:
    """Where the label is: a header name, a zero-based column number, or "none"/"" (no label)."""
    wanted = label_column.strip()
    if wanted.lower() in ("", "none"):
        return None
    names = [name.strip() for name in header]
    if wanted in names:
        return names.index(wanted)
    if wanted.isdigit() and int(wanted) < len(names):
        return int(wanted)
    raise BaselineError(f"label column {wanted!r} is neither a header name nor a column number of {names}")


def build_baseline(csv_text: str, bins: int = DEFAULT_BINS, label_column: str = AUTO) -> dict[str, Any]:
    """The baseline of a training dataset (CSV with a header row), without its label column;
    with "auto", of every column, the first one marked as the `label_candidate` that the
    captured rows' width keeps or leaves out (`with_label_decided`).

    A numeric column's missing values (empty cells: pandas writes a missing value as one), NaN
    and +/-infinity ("nan", "inf", as numpy and pandas write them) are left out of its
    distribution and counted in `non_finite` (per feature): they measure nothing, a NaN has no
    place in the order the bins and quantiles need, and an infinity makes the quantiles beside
    it NaN. A column is numeric when each of its other cells is a number: an empty cell does not
    make it categorical. The hour's sample leaves them out alike (`Sample`)."""
    reader = csv.reader(io.StringIO(csv_text))
    header = next(reader, None)
    if not header:
        raise BaselineError("the training dataset has no header row")
    auto = is_auto(label_column)
    label = None if auto else label_index(header, label_column)
    unnamed = [index for index, name in enumerate(header) if not name.strip() and index != label]
    if unnamed:
        # A feature is published by its name (its Feature dimension), and CloudWatch takes no empty one.
        raise BaselineError(
            f"the training dataset's header names no column {', '.join(map(str, unnamed))} (counted from 0): "
            "every feature column needs a name (pandas writes its index as an unnamed first column "
            "unless told index=False)"
        )
    columns, rows = _columns(reader, len(header))
    if rows == 0:
        raise BaselineError("the training dataset has no rows")
    features: list[dict[str, Any]] = []
    non_finite: dict[str, int] = {}
    for index, (name, values) in enumerate(zip(header, columns, strict=True)):
        if index != label:
            feature, left_out = _feature(name.strip(), values, bins)
            features.append(feature)
            if left_out:
                non_finite[feature["name"]] = left_out
    if not features:
        raise BaselineError("the training dataset has no feature besides the label")
    baseline: dict[str, Any] = {
        "format": "model-medic-baseline/1",
        "rows": rows,
        "label_column": None if label is None else header[label].strip(),
        "features": features,
    }
    if non_finite:
        baseline["non_finite"] = non_finite
    if auto:
        baseline["label_candidate"] = header[0].strip()
    return baseline


def _columns(reader: Iterator[list[str]], width: int) -> tuple[list[list[str]], int]:
    """The values of each column, stripped, and the number of rows; a row of another width is left out."""
    columns: list[list[str]] = [[] for _ in range(width)]
    rows = 0
    for row in reader:
        if len(row) != width:
            continue
        rows += 1
        for index, value in enumerate(row):
            columns[index].append(value.strip())
    return columns, rows


def _feature(name: str, values: list[str], bins: int) -> tuple[dict[str, Any], int]:
    """A column's baseline: numeric when every value is a number or empty, else categorical; and
    how many of its values were left out as missing, NaN or infinite."""
    numbers = _numbers(values)
    if numbers is None:
        counts = Counter(values)
        shares = {k: v / len(values) for k, v in sorted(counts.items())}
        return {"name": name, "type": "categorical", "proportions": shares}, 0
    finite = [number for number in numbers if math.isfinite(number)]
    if not finite:
        raise BaselineError(
            f"the training dataset's column {name!r} holds no finite number, only empty cells, NaN or infinity"
        )
    return _numeric_baseline(name, finite, bins), len(numbers) - len(finite)


def _numbers(values: list[str]) -> list[float] | None:
    """The column's numbers, an empty cell (a missing value) as NaN; None when a cell is text."""
    try:
        return [float(v) if v else math.nan for v in values]
    except ValueError:
        return None


def _numeric_baseline(name: str, values: list[float], bins: int) -> dict[str, Any]:
    ordered = sorted(values)
    edges = sorted({_quantile(ordered, i / bins) for i in range(1, bins)})
    counts = bin_counts(ordered, edges)
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


def bin_counts(ordered: Sequence[float], edges: list[float]) -> list[int]:
    """Bins (-inf, e0], (e0, e1], ..., (e_last, inf) over sorted values."""
    counts, previous = [], 0
    for edge in edges:
        upto = bisect_right(ordered, edge)
        counts.append(upto - previous)
        previous = upto
    counts.append(len(ordered) - previous)
    return counts


def from_model_monitor(statistics: dict[str, Any], label_column: str = AUTO) -> dict[str, Any]:
    """A baseline from Model Monitor's statistics.json (KLL buckets, categorical buckets).

    Features without a distribution (high-cardinality strings have none) or without KLL
    buckets are skipped, with a note in `skipped`; the label column is left out, or decided
    each hour, as in `build_baseline`. Raises BaselineError when no usable feature is left.
    """
    listed = statistics.get("features") if isinstance(statistics, dict) else None
    if not isinstance(listed, list):
        raise BaselineError("statistics.json has no 'features' list")
    names = [str(f.get("name", "")) if isinstance(f, dict) else "" for f in listed]
    auto = is_auto(label_column)
    label = label_index(names, label_column) if names and not auto else None
    features: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    for index, feature in enumerate(listed):
        if index == label or not isinstance(feature, dict):
            continue
        name = str(feature.get("name", f"_c{index}"))
        found, why = _monitor_feature(name, feature)
        if found is None:
            skipped.append({"name": name, "reason": why})
        else:
            features.append(found)
    if not features:
        raise BaselineError(f"statistics.json has no feature with a distribution (skipped: {skipped})")
    baseline = {
        "format": "model-monitor-statistics",
        "rows": _get(statistics, "dataset", "item_count"),
        "label_column": None if label is None else names[label],
        # Every column of a captured row, in order: a skipped feature still holds its place.
        "columns": [name for index, name in enumerate(names) if index != label],
        "features": features,
        "skipped": skipped,
    }
    if auto:
        baseline["label_candidate"] = names[0]
    return baseline


def _monitor_feature(name: str, feature: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """One feature of statistics.json as a baseline feature, or None and why it is skipped."""
    numeric = feature.get("numerical_statistics")
    text = feature.get("string_statistics")
    if isinstance(numeric, dict):
        buckets = _get(numeric, "distribution", "kll", "buckets")
        if not buckets:
            return None, "numeric feature without KLL buckets"
        total = sum(b["count"] for b in buckets) or 1
        return {
            "name": name,
            "type": "numeric",
            "edges": [b["upper_bound"] for b in buckets[:-1]],
            "proportions": [b["count"] / total for b in buckets],
            # Coarser than our own baseline: the KLL bucket bounds are the CDF's points.
            "quantiles": None,
            "cdf": _bucket_cdf(buckets, total),
        }, ""
    if isinstance(text, dict):
        buckets = _get(text, "distribution", "categorical", "buckets")
        if not buckets:
            return None, "string feature without a distribution (high cardinality)"
        total = sum(b["count"] for b in buckets) or 1
        return {
            "name": name,
            "type": "categorical",
            "proportions": {str(b["value"]): b["count"] / total for b in buckets},
        }, ""
    return None, "neither numerical nor string statistics"


def _get(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _bucket_cdf(buckets: list[dict[str, Any]], total: float) -> list[list[float]]:
    points, cumulative = [[buckets[0]["lower_bound"], 0.0]], 0.0
    for bucket in buckets:
        cumulative += bucket["count"]
        points.append([bucket["upper_bound"], cumulative / total])
    return points


def check_baseline(baseline: Any) -> None:
    """Raises BaselineError for a baseline that cannot be used."""
    features = baseline.get("features") if isinstance(baseline, dict) else None
    if not isinstance(features, list) or not features:
        raise BaselineError("no features")
    for feature in features:
        if feature.get("type") == "numeric":
            if len(feature["edges"]) + 1 != len(feature["proportions"]) or not (
                feature.get("quantiles") or feature.get("cdf")
            ):
                raise BaselineError(f"numeric feature {feature.get('name')!r} is incomplete")
            if not _finite_numbers(feature):
                raise BaselineError(
                    f"numeric feature {feature.get('name')!r} has NaN or infinite bin edges or quantiles (a baseline "
                    "built from NaN or infinite training values before the builder left them out): build it again "
                    "from the training set (`make baseline`)"
                )
        elif feature.get("type") == "categorical":
            if not isinstance(feature["proportions"], dict):
                raise BaselineError(f"categorical feature {feature.get('name')!r} is incomplete")
        else:
            raise BaselineError(f"feature {feature.get('name')!r} has an unknown type")


def _finite_numbers(feature: dict[str, Any]) -> bool:
    cdf = [value for point in feature.get("cdf") or [] for value in point]
    numbers = [*feature["edges"], *feature["proportions"], *(feature.get("quantiles") or []), *cdf]
    return all(math.isfinite(float(number)) for number in numbers)


class BaselineStore:
    """The baselines of the endpoints: `<baselines>/<endpoint>/baseline.json`, built from
    training.csv beside it, else Model Monitor's statistics.json there."""

    def __init__(self, s3: S3Client, baseline_uri: str, label_column: str) -> None:
        self._s3 = s3
        self.bucket, self._prefix = split_s3_uri(baseline_uri)
        self._label_column = label_column

    def key(self, endpoint: str, name: str = "baseline.json") -> str:
        return "/".join(p for p in (self._prefix, endpoint, name) if p)

    def build(
        self, endpoint: str, bins: int = DEFAULT_BINS, label_column: str | None = None
    ) -> tuple[str, dict[str, Any]]:
        """Baseline from <baselines>/<endpoint>/training.csv, stored as baseline.json beside it:
        where it is, and the baseline."""
        bucket = self.bucket
        source = self.key(endpoint, "training.csv")
        try:
            body = self._s3.get_object(Bucket=bucket, Key=source)["Body"].read()
        except self._s3.exceptions.NoSuchKey:
            raise BaselineError(f"no training set at s3://{bucket}/{source}") from None
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise BaselineError(f"s3://{bucket}/{source} is not UTF-8 text") from None
        baseline = build_baseline(text, bins, self._label_column if label_column is None else label_column)
        key = self.key(endpoint)
        self._s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(baseline).encode(), ContentType="application/json")
        return f"s3://{bucket}/{key}", baseline

    def read(self, endpoint: str) -> dict[str, Any] | None:
        """The endpoint's baseline (ours, else Model Monitor's statistics.json), with an `id`
        that changes when the file does; None when there is none. Raises EndpointProblem
        for a baseline that cannot be used."""
        for name in ("baseline.json", "statistics.json"):
            key = self.key(endpoint, name)
            try:
                got = self._s3.get_object(Bucket=self.bucket, Key=key)
            except self._s3.exceptions.NoSuchKey:
                continue
            baseline = self._parsed(name, key, got)
            for skipped in baseline.get("skipped", []):
                logger.info(
                    "baseline feature skipped: no distribution to compare with",
                    endpoint=endpoint,
                    feature=skipped.get("name"),
                    why=skipped.get("reason"),
                )
            return baseline
        return None

    def _parsed(self, name: str, key: str, got: GetObjectOutputTypeDef) -> dict[str, Any]:
        """A stored baseline or statistics.json read and checked, with its `id` and `uri`."""
        body = got["Body"].read()
        identity = str(got.get("ETag", "")).strip('"') or hashlib.sha256(body).hexdigest()[:16]
        try:
            parsed = json.loads(body)
            baseline: dict[str, Any] = (
                parsed if name == "baseline.json" else from_model_monitor(parsed, self._label_column)
            )
            check_baseline(baseline)
        except (ValueError, KeyError, TypeError, AttributeError) as error:  # BaselineError is a ValueError
            raise EndpointProblem(
                "bad-baseline",
                f"bad-baseline#{identity}",
                f"the drift baseline s3://{self.bucket}/{key} cannot be used: {error}",
            ) from None
        baseline["id"] = identity
        baseline["uri"] = f"s3://{self.bucket}/{key}"
        return baseline
