"""Input drift from data capture: PSI and KS per feature against a training baseline.

Baseline (JSON, built from a training CSV with a header by `build_baseline`):
* numeric feature: quantile bin edges (deciles by default) with the training share of each
  bin, and 1,001 quantiles of the training distribution for the Kolmogorov-Smirnov
  statistic (evaluated at those quantiles: error at most 0.001);
* categorical feature: the share of each category.

The training CSV may carry the label (SageMaker's built-in algorithms expect it in the first
column) or not (inputs only); captured requests never do. `label_column` says which: "auto"
(the default) keeps every column and lets the widths decide each hour - a training set as
wide as the captured rows has no label, one column wider has it first (`first_column_is_label`);
a header name or a zero-based column number leaves that column out; "none" keeps them all.

Current hour: every record of every captured request (`records.input_rows`: several CSV
lines, JSON instances as lists or objects, JSON Lines; base64 of any). Rows whose width or
names do not match the baseline are not rows: when they are most of the hour, the endpoint's
status is "shape-mismatch" and a person is told once per baseline; when they are a few, each
is a malformed record (a CSV line cut short, a stray field), counted with the others.
PSI = sum over bins of (a - e) * ln(a / e) with empty bins smoothed to `EPSILON`, so it
stays finite; categories never seen in training get a bin of their own. Pure Python: no
numpy in the Lambda package.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import re
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import chain, repeat
from typing import TYPE_CHECKING, Any

import orjson
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from botocore.exceptions import BotoCoreError, ClientError

from model_medic.measure import records
from model_medic.platform import aws
from model_medic.platform.observability import METRICS_NAMESPACE, logger, metrics
from model_medic.store.ledger import Ledger
from model_medic.tell.outcome import Notifier, Outcome

if TYPE_CHECKING:
    from model_medic.intake.triggers import BuildBaseline
    from model_medic.policy.scope import Scope

EPSILON = 1e-4  # the share given to an empty bin, in training or now
UNSEEN = "__unseen__"
KS_QUANTILES = 1001
DEFAULT_BINS = 10
AUTO = "auto"  # label_column: decided each hour from the widths of training set and capture
PEEK_ROWS = 1000  # captured rows whose widths decide that, at most


# --- baseline ----------------------------------------------------------------------------


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
    captured rows' width keeps or leaves out (`with_label_decided`)."""
    reader = csv.reader(io.StringIO(csv_text))
    header = next(reader, None)
    if not header:
        raise BaselineError("the training dataset has no header row")
    auto = is_auto(label_column)
    label = None if auto else label_index(header, label_column)
    columns: list[list[str]] = [[] for _ in header]
    rows = 0
    for row in reader:
        if len(row) != len(header):
            continue
        rows += 1
        for index, value in enumerate(row):
            columns[index].append(value.strip())
    if rows == 0:
        raise BaselineError("the training dataset has no rows")
    features = []
    for index, (name, values) in enumerate(zip(header, columns, strict=True)):
        if index == label:
            continue
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
    if not features:
        raise BaselineError("the training dataset has no feature besides the label")
    baseline = {
        "format": "model-medic-baseline/1",
        "rows": rows,
        "label_column": None if label is None else header[label].strip(),
        "features": features,
    }
    if auto:
        baseline["label_candidate"] = header[0].strip()
    return baseline


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
        numeric = feature.get("numerical_statistics")
        text = feature.get("string_statistics")
        if isinstance(numeric, dict):
            buckets = _get(numeric, "distribution", "kll", "buckets")
            if not buckets:
                skipped.append({"name": name, "reason": "numeric feature without KLL buckets"})
                continue
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
        elif isinstance(text, dict):
            buckets = _get(text, "distribution", "categorical", "buckets")
            if not buckets:
                skipped.append({"name": name, "reason": "string feature without a distribution (high cardinality)"})
                continue
            total = sum(b["count"] for b in buckets) or 1
            features.append(
                {
                    "name": name,
                    "type": "categorical",
                    "proportions": {str(b["value"]): b["count"] / total for b in buckets},
                }
            )
        else:
            skipped.append({"name": name, "reason": "neither numerical nor string statistics"})
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


# --- which columns the captured rows carry ---------------------------------------------------


def first_column_is_label(training_width: int, captured_width: int) -> bool | None:
    """Pure: whether a training set's first column is its label, from the widths alone.

    Captured requests never carry the label, and Model Monitor expects the training and
    inference schemas to match, "the prediction/output column(s) ... assumed to be the 1st
    column(s) in the training dataset" (docs/aws-behaviours.md). So a training set as wide as
    the captured rows has no label column (False); one column wider has its label first
    (True); any other width fits neither (None: a shape mismatch, whatever the label).
    """
    if captured_width == training_width:
        return False
    if captured_width == training_width - 1:
        return True
    return None


def captured_width(row: list[Any] | dict[str, Any], columns: list[str]) -> int:
    """The width of one captured row against the training set's `columns` (label candidate
    first): a list's length; a record of named values as wide as the training set when it
    names the first column, one fewer when it does not."""
    if isinstance(row, dict):
        return len(columns) if columns[0] in row else len(columns) - 1
    return len(row)


def peek_widths(body: bytes, columns: list[str], features_attribute: str, limit: int = PEEK_ROWS) -> Counter[int]:
    """The widths of the first rows of a capture file (at most `limit`); lines and requests
    that do not decode are left to the sample, which counts them."""
    widths: Counter[int] = Counter()
    for line in body.splitlines():
        if not line.strip():
            continue
        try:
            rows = records.input_rows(orjson.loads(line)["captureData"]["endpointInput"], features_attribute)
        except (ValueError, KeyError, TypeError):
            continue
        widths.update(captured_width(row, columns) for row in rows)
        if widths.total() >= limit:
            break
    return widths


def with_label_decided(baseline: dict[str, Any], label_first: bool) -> dict[str, Any]:
    """Pure: a baseline built with label_column "auto", as this hour reads it: without its
    first column when that is the label, with every column otherwise."""
    candidate = baseline["label_candidate"]
    columns = list(baseline.get("columns") or [f["name"] for f in baseline["features"]])
    training_width = len(columns)
    if label_first:
        columns = columns[1:]
    kept = set(columns)
    return {
        **baseline,
        "columns": columns,
        "features": [f for f in baseline["features"] if f["name"] in kept],
        "label_column": candidate if label_first else None,
        "label_candidate": None,
        "training_width": training_width,
    }


def read_hour(
    baseline: dict[str, Any], bodies: Iterable[bytes], features_attribute: str = "features"
) -> tuple[dict[str, Any], Sample]:
    """The hour's capture files read against the baseline: (the baseline as read, the sample).

    A baseline whose label column is decided by the widths (`label_candidate`) is settled
    first, by the most common width of the hour's first rows (`PEEK_ROWS`): the files read
    to decide are kept and then read like the others, so each file is fetched once.
    """
    if not baseline.get("label_candidate"):
        sample = sample_for(baseline, features_attribute)
        for body in bodies:
            sample.add_capture_file(body)
        return baseline, sample
    columns = list(baseline.get("columns") or [f["name"] for f in baseline["features"]])
    waiting: list[bytes] = []
    widths: Counter[int] = Counter()
    remaining = iter(bodies)
    for body in remaining:
        waiting.append(body)
        widths.update(peek_widths(body, columns, features_attribute, PEEK_ROWS - widths.total()))
        if widths.total() >= PEEK_ROWS:
            break
    label_first = True  # SageMaker's layout, until the capture says otherwise
    if widths:
        decided = first_column_is_label(len(columns), widths.most_common(1)[0][0])
        label_first = decided is not False  # neither width: the sample reports the mismatch
    used = with_label_decided(baseline, label_first)
    sample = sample_for(used, features_attribute)
    for body in chain(waiting, remaining):
        sample.add_capture_file(body)
    return used, sample


# --- the current hour ------------------------------------------------------------------------


# The endpointInput object of a capture record when it holds no braces (a CSV request, not a
# JSON one). It starts with a literal, which the regex engine finds fast; a match inside some
# other string would make more matches than records, and the file is then read line by line.
_PLAIN_INPUT = re.compile(rb'"endpointInput"\s*:\s*(\{[^{}]*\})')


class Sample:
    """The captured inputs of one hour, per feature (columns), with what could not be read.

    `rows` counts the records (rows) read; `malformed` the capture lines and records that
    could not be decoded or held a value that is not a number where the baseline has a
    numeric feature; `mismatched` the rows whose width or names differ from the baseline,
    with the widths seen (`widths`) and the names missing (`missing`). Whether those are a
    shape mismatch or malformed records is the hour's to say (`counts`).
    """

    def __init__(
        self,
        names: list[str],
        numeric: set[str],
        features_attribute: str = "features",
        measured: set[str] | None = None,
        training_width: int | None = None,
    ) -> None:
        """`names`: every column of a captured row, in order; `measured`: the ones kept
        (default all; a baseline feature without a distribution only holds its place);
        `training_width`: the training set's columns, when the widths decided the label."""
        self.names = names
        self.numeric = numeric
        self.features_attribute = features_attribute
        self.measured = set(names) if measured is None else measured
        self.training_width = training_width
        self.rows = 0
        self.malformed = 0
        self.mismatched = 0
        self.widths: Counter[int] = Counter()
        self.missing: Counter[str] = Counter()
        self._numeric_at = [i for i, name in enumerate(names) if name in numeric]
        self._text_at = [i for i, name in enumerate(names) if name not in numeric and name in self.measured]
        self._numbers: list[list[float]] = [[] for _ in self._numeric_at]
        self._texts: list[list[str]] = [[] for _ in self._text_at]

    @property
    def values(self) -> dict[str, Sequence[Any]]:
        """Per feature, every value of the hour."""
        columns: dict[str, Sequence[Any]] = {}
        for index, column in zip(self._numeric_at, self._numbers, strict=True):
            columns[self.names[index]] = column
        for index, texts in zip(self._text_at, self._texts, strict=True):
            columns[self.names[index]] = texts
        return {name: columns[name] for name in self.names if name in columns}

    def add_capture_file(self, text: str | bytes) -> None:
        """Every capture record of a JSON Lines file; the hot loop of the drift job.

        A file whose every line is a record with a plain CSV request (the common case) is
        read in bulk: the `endpointInput` objects are found by one regular-expression scan,
        each decoded on its own (a small object: cheaper than the whole record), and their
        rows split and converted a column at a time. Any other file is read line by line,
        each request through `records.input_rows`; a line that is not JSON, or a record
        that does not decode, is counted and skipped.
        """
        body = text if isinstance(text, bytes) else text.encode("utf-8")
        lines = [line for line in body.splitlines() if line.strip()]
        if self._add_plain_csv(body, len(lines)):
            return
        split: list[list[str]] = []
        for line in lines:
            try:
                data = orjson.loads(line)["captureData"]["endpointInput"]
                raw = data["data"]
                plain = data.get("encoding") == "CSV" and "json" not in str(data.get("observedContentType", ""))
                if plain and isinstance(raw, str) and '"' not in raw:
                    split.extend(row.split(",") for row in raw.splitlines() if row and not row.isspace())
                    continue
                rows = records.input_rows(data, self.features_attribute)
            except (ValueError, KeyError, TypeError):  # orjson's and records' errors are ValueErrors
                self.malformed += 1
                continue
            for row in rows:
                self.add_row(row)
        self._add_split(split)

    def _add_plain_csv(self, body: bytes, records_in_file: int) -> bool:
        """The bulk path; False (nothing added) when the file is not all plain CSV records."""
        found = _PLAIN_INPUT.findall(body)
        if len(found) != records_in_file or not found:
            return False
        try:
            inputs = [orjson.loads(item) for item in found]
            if {item.get("encoding") for item in inputs} != {"CSV"}:
                return False
            if any("json" in str(kind) for kind in {item.get("observedContentType") for item in inputs}):
                return False
            joined = "\n".join([item["data"] for item in inputs])
        except (ValueError, KeyError, TypeError):
            return False
        if '"' in joined:
            return False  # quoted CSV: the csv module, line by line
        lines = [line for line in joined.splitlines() if line and not line.isspace()]
        width = len(self.names)
        if set(map(str.count, lines, repeat(","))) == {width - 1}:
            # Every row has the baseline's width: one split of everything, columns by slicing.
            flat = ",".join(lines).split(",")
            try:
                converted = [list(map(float, flat[index::width])) for index in self._numeric_at]
            except ValueError:
                converted = None
            if converted is not None:
                for column, numbers in zip(self._numbers, converted, strict=True):
                    column.extend(numbers)
                for texts, index in zip(self._texts, self._text_at, strict=True):
                    texts.extend(map(str.strip, flat[index::width]))
                self.rows += len(lines)
                return True
        self._add_split([line.split(",") for line in lines])
        return True

    def _add_split(self, rows: list[list[str]]) -> None:
        width = len(self.names)
        if set(map(len, rows)) <= {width}:
            good = rows
        else:
            good = [row for row in rows if len(row) == width]
            for row in rows:
                if len(row) != width:
                    self.mismatched += 1
                    self.widths[len(row)] += 1
        if not good:
            return
        columns = list(zip(*good, strict=True))
        try:
            converted = [list(map(float, columns[index])) for index in self._numeric_at]
        except ValueError:  # a value that is not a number somewhere: row by row, to drop only that row
            for row in good:
                self.add_row(row)
            return
        for column, numbers in zip(self._numbers, converted, strict=True):
            column.extend(numbers)
        for texts, index in zip(self._texts, self._text_at, strict=True):
            texts.extend(map(str.strip, columns[index]))
        self.rows += len(good)

    def add_row(self, row: list[Any] | dict[str, Any]) -> None:
        """One record: values in the baseline's column order, or named values."""
        if isinstance(row, dict):
            absent = [name for name in self.names if name in self.measured and name not in row]
            if absent:
                self.mismatched += 1
                self.missing.update(absent)
                return
            values: list[Any] = [row.get(name) for name in self.names]
        else:
            values = row
        if len(values) != len(self.names):
            self.mismatched += 1
            self.widths[len(values)] += 1
            return
        try:
            numbers = [float(values[index]) for index in self._numeric_at]
        except (ValueError, TypeError):
            self.malformed += 1
            return
        for column, number in zip(self._numbers, numbers, strict=True):
            column.append(number)
        for texts, index in zip(self._texts, self._text_at, strict=True):
            texts.append(str(values[index]).strip())
        self.rows += 1

    def counts(self) -> tuple[int, int, int]:
        """(rows, malformed, mismatched) of the hour. Rows of another width (or without the
        baseline's names) are a shape mismatch when they are most of the hour; when they are
        a few, each is a malformed record - a CSV line cut short, a stray field - and is
        counted with the other malformed records, never as a row."""
        if self.shape_problem() is not None:
            return self.rows, self.malformed, self.mismatched
        return self.rows, self.malformed + self.mismatched, 0

    def shape_problem(self) -> str | None:
        """What is wrong when most captured rows do not have the baseline's shape."""
        if self.mismatched == 0 or self.mismatched <= self.rows:
            return None
        names = self.names
        parts = []
        if self.widths and self.training_width is not None:
            width, seen = self.widths.most_common(1)[0]
            total = self.training_width
            parts.append(
                f"{seen} captured row(s) have {width} values but the training set has {total} columns: "
                f"rows of a training set without a label column have {total} values, with the label "
                f"first {total - 1}. Is it the training set of this endpoint's model?"
            )
        elif self.widths:
            width, seen = self.widths.most_common(1)[0]
            hint = ""
            if width == len(names) - 1:
                hint = (
                    f" - one fewer: was the baseline built with the label column left in (first feature "
                    f"{names[0]!r})? Set BaselineLabelColumn to its name, or to auto (the default: the "
                    "widths decide), and rebuild it"
                )
            elif width == len(names) + 1:
                hint = (
                    " - one more: was a feature left out as the label? If the training CSV has no label "
                    "column, set BaselineLabelColumn=auto (the default: the widths decide) or none and "
                    "rebuild the baseline"
                )
            parts.append(f"{seen} captured row(s) have {width} values but the baseline has {len(names)} features{hint}")
        if self.missing:
            absent = ", ".join(name for name, _ in self.missing.most_common(5))
            parts.append(f"captured JSON records lack baseline features ({absent})")
        return "; ".join(parts) + f" ({self.mismatched} of {self.mismatched + self.rows} rows)"


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
    counts = Counter(values)  # counted in C, then the unseen categories folded into one bin
    for value in [v for v in counts if v not in known]:
        counts[UNSEEN] += counts.pop(value)
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
    # Repeated quantiles (a 0/1 feature, a feature with a common value) are one point of the
    # baseline CDF with a jump: just below the value it stands at the first quantile of the run,
    # at the value at the last. Comparing every quantile of the run with both sides would read
    # a jump that both distributions share as a difference.
    runs: list[tuple[float, float, float]] = []  # (value, F_base just below it, F_base at it)
    for x, y in zip(cdf.xs, cdf.ys, strict=True):
        if runs and runs[-1][0] == x:
            runs[-1] = (x, runs[-1][1], y)
        else:
            runs.append((x, y, y))
    left = [bisect_left(ordered, x) / n for x, _, _ in runs]
    right = [bisect_right(ordered, x) / n for x, _, _ in runs]
    worst = max(left[0], 1.0 - right[-1])  # below the first point F_base is 0, above the last 1
    for k, (_, below, at) in enumerate(runs):
        worst = max(worst, abs(left[k] - below), abs(right[k] - at))
        if k + 1 < len(runs):  # between two points both CDFs are monotone: compare the ends
            worst = max(worst, abs(left[k + 1] - at), abs(right[k] - runs[k + 1][1]))
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


def sample_for(baseline: dict[str, Any], features_attribute: str = "features") -> Sample:
    """An empty sample of a baseline's columns (its label decided: `with_label_decided`)."""
    if baseline.get("label_candidate"):
        raise ValueError("the label column of this baseline is decided by the capture: read_hour")
    measured = [f["name"] for f in baseline["features"]]
    columns = baseline.get("columns") or measured
    numeric = {f["name"] for f in baseline["features"] if f["type"] == "numeric"}
    return Sample(list(columns), numeric, features_attribute, set(measured), baseline.get("training_width"))


# --- the hourly job --------------------------------------------------------------------------


READERS = 16  # concurrent GETs when an hour of capture files is read (botocore clients are thread-safe)


def read_objects(s3: Any, bucket: str, keys: list[str]) -> Iterator[bytes]:
    """The objects' bodies, fetched concurrently, yielded in the order of `keys`."""
    if len(keys) <= 1:
        for key in keys:
            yield s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        return
    with ThreadPoolExecutor(max_workers=min(READERS, len(keys))) as pool:
        yield from pool.map(lambda key: s3.get_object(Bucket=bucket, Key=key)["Body"].read(), keys)


def split_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {uri!r}")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key.strip("/")


@dataclass(frozen=True)
class EndpointDrift:
    endpoint: str
    status: str  # published, too-few-rows, no-baseline, shape-mismatch, bad-baseline, unreadable
    rows: int = 0
    malformed: int = 0
    mismatched: int = 0
    features: tuple[FeatureDrift, ...] = ()
    problem: str = ""

    @property
    def worst(self) -> FeatureDrift | None:
        return max(self.features, key=lambda f: f.psi, default=None)


class EndpointProblem(Exception):
    """Something about one endpoint that a person must fix; the other endpoints go on.

    `status`: bad-baseline, unreadable or shape-mismatch; `notice`: the tell-once key (a
    person hears of it once per endpoint and key).
    """

    def __init__(self, status: str, notice: str, message: str, measured: EndpointDrift | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.notice = notice
        self.message = message
        self.measured = measured  # what was read before the problem showed, if anything


class ComputeDrift:
    """Reads an hour of data capture per endpoint, compares it with the baseline, publishes."""

    def __init__(
        self,
        s3: Any,
        cloudwatch: Any,
        capture_uri: str,
        baseline_uri: str,
        min_rows: int,
        label_column: str = "0",
        features_attribute: str = "features",
    ) -> None:
        self._s3 = s3
        self._cloudwatch = cloudwatch
        self._capture = split_s3_uri(capture_uri)
        self._baselines = split_s3_uri(baseline_uri)
        self._min_rows = min_rows
        self._label_column = label_column
        self._features_attribute = features_attribute

    def baseline_key(self, endpoint: str, name: str = "baseline.json") -> str:
        return "/".join(p for p in (self._baselines[1], endpoint, name) if p)

    def build(self, endpoint: str, bins: int = DEFAULT_BINS, label_column: str | None = None) -> str:
        """Baseline from <baselines>/<endpoint>/training.csv, stored as baseline.json beside it."""
        bucket = self._baselines[0]
        source = self.baseline_key(endpoint, "training.csv")
        try:
            body = self._s3.get_object(Bucket=bucket, Key=source)["Body"].read()
        except self._s3.exceptions.NoSuchKey:
            raise BaselineError(f"no training set at s3://{bucket}/{source}") from None
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise BaselineError(f"s3://{bucket}/{source} is not UTF-8 text") from None
        baseline = build_baseline(text, bins, self._label_column if label_column is None else label_column)
        key = self.baseline_key(endpoint)
        self._s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(baseline).encode(), ContentType="application/json")
        return f"s3://{bucket}/{key}"

    def baseline(self, endpoint: str) -> dict[str, Any] | None:
        """The endpoint's baseline (ours, else Model Monitor's statistics.json), with an `id`
        that changes when the file does; None when there is none. Raises EndpointProblem
        for a baseline that cannot be used."""
        bucket = self._baselines[0]
        for name in ("baseline.json", "statistics.json"):
            key = self.baseline_key(endpoint, name)
            try:
                got = self._s3.get_object(Bucket=bucket, Key=key)
            except self._s3.exceptions.NoSuchKey:
                continue
            body = got["Body"].read()
            identity = str(got.get("ETag", "")).strip('"') or hashlib.sha256(body).hexdigest()[:16]
            try:
                parsed = json.loads(body)
                baseline = parsed if name == "baseline.json" else from_model_monitor(parsed, self._label_column)
                _check_baseline(baseline)
            except (ValueError, KeyError, TypeError, AttributeError) as error:  # BaselineError is a ValueError
                raise EndpointProblem(
                    "bad-baseline",
                    f"bad-baseline#{identity}",
                    f"the drift baseline s3://{bucket}/{key} cannot be used: {error}",
                ) from None
            for skipped in baseline.get("skipped", []):
                logger.info(
                    "baseline feature skipped: no distribution to compare with",
                    endpoint=endpoint,
                    feature=skipped.get("name"),
                    why=skipped.get("reason"),
                )
            baseline["id"] = identity
            baseline["uri"] = f"s3://{bucket}/{key}"
            return baseline
        return None

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
        """The hour before the scheduled time, for every endpoint.

        One endpoint never blinds another: a problem of one endpoint (no baseline, a bad
        baseline, unreadable capture, rows that do not match the baseline) is recorded and
        told once, and the others are measured. Transient AWS errors are raised after every
        endpoint has had its turn, so that Lambda retries the run.
        """
        hour = scheduled.astimezone(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
        results: list[dict[str, Any]] = []
        transient: list[Exception] = []
        for endpoint in endpoints:
            try:
                measured = self._run_one(endpoint, hour, scheduled, ledger, notifier)
            except EndpointProblem as problem:
                seen = problem.measured or EndpointDrift(endpoint, problem.status)
                measured = EndpointDrift(
                    endpoint, problem.status, seen.rows, seen.malformed, seen.mismatched, problem=problem.message
                )
                self._tell(endpoint, problem, hour, scheduled, ledger, notifier)
            except (ClientError, BotoCoreError) as error:
                if aws.is_transient(error):
                    logger.warning("transient AWS error; the run will be retried", endpoint=endpoint, error=str(error))
                    transient.append(error)
                    continue
                refused = EndpointProblem("unreadable", "drift-aws-error", f"S3 refused ComputeDriftFunction: {error}")
                measured = EndpointDrift(endpoint, refused.status, problem=refused.message)
                self._tell(endpoint, refused, hour, scheduled, ledger, notifier)
            results.append(_as_dict(measured))
        if transient:
            raise transient[0]
        return {"hour": hour.isoformat(), "endpoints": results}

    def _run_one(
        self, endpoint: str, hour: datetime, scheduled: datetime, ledger: Ledger, notifier: Notifier
    ) -> EndpointDrift:
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
            return EndpointDrift(endpoint, "no-baseline")
        ledger.clear_notice(endpoint, "baseline-missing")
        measured = self.measure(endpoint, baseline, hour)
        ledger.clear_notice(endpoint, "drift-aws-error")
        if measured.mismatched:
            _endpoint_metric("CaptureShapeMismatch", endpoint, measured.mismatched)
        if measured.status == "shape-mismatch":
            raise EndpointProblem(
                "shape-mismatch",
                f"shape-mismatch#{baseline['id']}",
                f"the captured requests of {endpoint} do not match its drift baseline {baseline['uri']}: "
                f"{measured.problem}. Drift is not measured until they do.",
                measured,
            )
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
            logger.warning("malformed capture records skipped", endpoint=endpoint, records=measured.malformed)
            metrics.add_metric(name="MalformedCaptureLines", unit="Count", value=measured.malformed)
        return measured

    def _tell(
        self,
        endpoint: str,
        problem: EndpointProblem,
        hour: datetime,
        scheduled: datetime,
        ledger: Ledger,
        notifier: Notifier,
    ) -> None:
        tell_problem(ledger, notifier, "ComputeDriftFunction", "drift", endpoint, problem, hour, scheduled)


def tell_problem(
    ledger: Ledger,
    notifier: Notifier,
    function: str,
    what: str,
    endpoint: str,
    problem: EndpointProblem,
    hour: datetime,
    at: datetime,
) -> None:
    """A problem of one endpoint: logged and counted every time (metric
    `<What>NotMeasured`, per endpoint); a ledger entry and a critical message once per
    endpoint and notice key."""
    metric = "".join(word.capitalize() for word in what.split()) + "NotMeasured"
    logger.error("not measured", measure=what, endpoint=endpoint, status=problem.status, problem=problem.message)
    _endpoint_metric(metric, endpoint, 1)
    if not ledger.notice_once(endpoint, problem.notice, at):
        return
    ledger.record(
        Outcome(
            action=f"measure-{what.replace(' ', '-')}",
            endpoint=endpoint,
            result="skipped",
            reason=problem.message,
            mode="-",
            alarm_name=function,
            alarm_arn=f"model-medic:{what.replace(' ', '-')}:{endpoint}",
            transition=f"{problem.notice}|{hour.isoformat()}",
            state=problem.status,
            at=at.astimezone(UTC).isoformat(),
            gate="precondition",
        ),
        "",
    )
    notifier.alert(
        f"Model Medic: {what} of {endpoint} is not measured ({problem.status})",
        f"{function} could not measure the {what} of {endpoint} for {hour:%Y-%m-%d %H}:00 UTC: "
        f"{problem.message}\n\nThe other endpoints are still measured. This message is sent once for "
        f"this problem; the function logs it every hour and counts it in the ModelMedic {metric} metric.",
    )


def _check_baseline(baseline: Any) -> None:
    features = baseline.get("features") if isinstance(baseline, dict) else None
    if not isinstance(features, list) or not features:
        raise BaselineError("no features")
    for feature in features:
        if feature.get("type") == "numeric":
            if len(feature["edges"]) + 1 != len(feature["proportions"]) or not (
                feature.get("quantiles") or feature.get("cdf")
            ):
                raise BaselineError(f"numeric feature {feature.get('name')!r} is incomplete")
        elif feature.get("type") == "categorical":
            if not isinstance(feature["proportions"], dict):
                raise BaselineError(f"categorical feature {feature.get('name')!r} is incomplete")
        else:
            raise BaselineError(f"feature {feature.get('name')!r} has an unknown type")


def _endpoint_metric(name: str, endpoint: str, value: float) -> None:
    """A ModelMedic metric with the endpoint as its dimension (so an alarm can watch one endpoint)."""
    with single_metric(name=name, unit=MetricUnit.Count, value=value, namespace=METRICS_NAMESPACE) as metric:
        metric.add_dimension(name="EndpointName", value=endpoint)


def _as_dict(measured: EndpointDrift) -> dict[str, Any]:
    result: dict[str, Any] = {
        "endpoint": measured.endpoint,
        "status": measured.status,
        "rows": measured.rows,
        "malformed": measured.malformed,
        "mismatched": measured.mismatched,
        "features": {f.feature: {"psi": f.psi, "ks": f.ks} for f in measured.features},
    }
    if measured.problem:
        result["problem"] = measured.problem
    return result


def baseline_requested(job: ComputeDrift, scope: Scope, request: BuildBaseline) -> dict[str, Any]:
    """ComputeDriftFunction's `build-baseline` request: the baseline of one endpoint in scope."""
    endpoint = request.endpoint
    if not endpoint:
        return {"rejected": ["build-baseline needs an endpoint in scope, got ''"]}
    # A named endpoint costs no call; any other, its tags (DescribeEndpoint and ListTags).
    in_scope, why = scope.contains(endpoint)
    if not in_scope:
        return {"rejected": [f"build-baseline needs an endpoint in scope: {why}"]}
    try:
        uri = job.build(endpoint, label_column=request.label_column)
    except BaselineError as error:
        logger.error("baseline not built", endpoint=endpoint, error=str(error))
        return {"rejected": [f"baseline of {endpoint} not built: {error}"]}
    logger.info("baseline built", endpoint=endpoint, baseline=uri)
    return {"baseline": uri}
