"""Drift statistics, pure: PSI and Kolmogorov-Smirnov of each feature of an hour's sample against its baseline."""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from model_medic.measure.baseline import KS_QUANTILES, bin_counts

if TYPE_CHECKING:
    from model_medic.measure.capture_sample import Sample

EPSILON = 1e-4  # the share given to an empty bin, in training or now
UNSEEN = "__unseen__"


def psi(expected: list[float], actual: list[float]) -> float:
    """Population Stability Index over matching bins, empty bins smoothed to EPSILON."""
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        e, a = max(e, EPSILON), max(a, EPSILON)
        total += (a - e) * math.log(a / e)
    return total


def numeric_psi(feature: dict[str, Any], values: list[float], presorted: bool = False) -> float:
    counts = bin_counts(values if presorted else sorted(values), feature["edges"])
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
