"""Drift statistics, pure: PSI and Kolmogorov-Smirnov of each feature of an hour's sample against its baseline."""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from model_medic.measure.baseline import DEFAULT_BINS, KS_QUANTILES, bin_counts

if TYPE_CHECKING:
    from model_medic.measure.capture_sample import Sample

EPSILON = 1e-4  # the share given to an empty bin, in training or now


def psi(expected: list[float], actual: list[float]) -> float:
    """Population Stability Index over matching bins, empty bins smoothed to EPSILON."""
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        e, a = max(e, EPSILON), max(a, EPSILON)
        total += (a - e) * math.log(a / e)
    return total


def finite(values: Sequence[float]) -> Sequence[float]:
    """The values without NaN and +/-infinity, which are no measurement of a feature.

    A NaN compares false with everything, so `sorted` leaves a list holding one out of order
    and every `bisect` over it (the bins, the KS statistic) counts wrong. One sum tells
    whether there is any (NaN and infinities make it non-finite; an overflow only costs the
    filtering pass): the hour's sample already leaves them out (`Sample`), so this is cheap.
    """
    if math.isfinite(sum(values)):
        return values
    return [value for value in values if math.isfinite(value)]


def _ordered(values: Sequence[float], presorted: bool) -> Sequence[float]:
    ordered = values if presorted else sorted(finite(values))
    if not ordered:
        raise ValueError("no finite value to compare with the baseline")
    return ordered


def numeric_psi(feature: dict[str, Any], values: Sequence[float], presorted: bool = False) -> float:
    """PSI over the baseline's bins; `presorted`: `values` are sorted and finite (`finite`)."""
    ordered = _ordered(values, presorted)
    counts = bin_counts(ordered, feature["edges"])
    return psi(feature["proportions"], [c / len(ordered) for c in counts])


def category_bins(proportions: dict[str, float], bins: int = DEFAULT_BINS) -> tuple[dict[str, int], int]:
    """Pure: the bin of each training category, and the bin of the categories never seen in
    training; at most `bins` bins for the training categories, as a numeric feature has.

    One bin per category makes PSI's sampling noise grow with the number of categories (about
    (bins - 1) / n): 100 equally likely ones put an undrifted hour of 500 rows above 0.2 in
    most hours. So the categories are ranked from the most common in training down (ties by
    name) and binned as a numeric feature's deciles bin its values: a category falls in the
    decile where the middle of its share lies on that ranking. A common category is a bin of
    its own, rare ones share one (bins of about a tenth of the training share each). Unseen
    categories join the last bin when it pools several rare ones (a category the training set
    happened to miss looks like them); when it holds a single category (a feature of a few
    categories) they have a bin of their own, of training share 0, so a new category stands out.
    """
    total = sum(proportions.values()) or 1.0
    ranked = sorted(proportions.items(), key=lambda item: (-item[1], item[0]))
    deciles: list[int] = []
    below = 0.0
    for _, share in ranked:
        deciles.append(min(bins - 1, int(bins * (below + share / 2) / total)))
        below += share
    used = sorted(set(deciles))
    position = {decile: n for n, decile in enumerate(used)}
    index = {name: position[decile] for (name, _), decile in zip(ranked, deciles, strict=True)}
    pooled = deciles.count(used[-1]) > 1 if used else False
    return index, len(used) - 1 if pooled else len(used)


def categorical_psi(feature: dict[str, Any], values: Sequence[str]) -> float:
    """PSI over the category bins of `category_bins`."""
    known: dict[str, float] = feature["proportions"]
    index, unseen = category_bins(known)
    total = sum(known.values()) or 1.0
    expected = [0.0] * (unseen + 1)
    for name, share in known.items():
        expected[index[name]] += share / total
    actual = [0.0] * (unseen + 1)
    for value, count in Counter(values).items():  # counted in C, then folded into the bins
        actual[index.get(value, unseen)] += count / len(values)
    return psi(expected, actual)


def ks_statistic(feature: dict[str, Any], values: Sequence[float], presorted: bool = False) -> float:
    """sup |F_baseline - F_now|.

    With our baselines' 1,001 quantiles, F_now is evaluated on both sides of each baseline
    point: between two points F_base rises by one step (0.001) while F_now stays within its
    values at them, so the result is within 0.001 of the exact statistic, in O(m log n).
    A coarse baseline (Model Monitor's buckets) gets the exact statistic, at every value.
    `presorted`: `values` are sorted and finite (`finite`).
    """
    ordered = _ordered(values, presorted)
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


def _exact_ks(ordered: Sequence[float], cdf: _Cdf) -> float:
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
            ordered = sorted(finite(values))  # once, for both statistics
            results.append(
                FeatureDrift(feature["name"], numeric_psi(feature, ordered, True), ks_statistic(feature, ordered, True))
            )
        else:
            results.append(FeatureDrift(feature["name"], categorical_psi(feature, values), None))
    return results
