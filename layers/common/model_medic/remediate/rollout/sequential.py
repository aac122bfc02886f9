"""Anytime-valid tests for the canary judge: e-values that stay valid however often they are read."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Block:
    """Requests and errors of both variants over one stretch of a rollout (one step)."""

    canary_requests: float
    canary_errors: float
    primary_requests: float
    primary_errors: float

    @property
    def share(self) -> float | None:
        total = self.canary_requests + self.primary_requests
        return None if self.canary_requests <= 0 or self.primary_requests <= 0 else self.canary_requests / total


def _log_mean_exp(values: Sequence[float]) -> float:
    """log of the mean of exp(values), without overflow."""
    top = max(values)
    if top == -math.inf:
        return -math.inf
    return top + math.log(sum(math.exp(v - top) for v in values) / len(values))


def ratio_log_likelihood(blocks: Iterable[Block], rho: float) -> float:
    """log L(rho) - log L(1) for the canary's share of the errors, summed over the stretches."""
    total = 0.0
    for block in blocks:
        share = block.share
        errors = block.canary_errors + block.primary_errors
        if share is None or errors <= 0:
            continue
        total += block.canary_errors * math.log(rho) - errors * math.log1p((rho - 1.0) * share)
    return total


def ratio_log_e(blocks: Sequence[Block], null: float, alternatives: Sequence[float]) -> float:
    """log e-value against `rho = null`, mixed uniformly over `alternatives` (all on one side of it)."""
    base = ratio_log_likelihood(blocks, null)
    return _log_mean_exp([ratio_log_likelihood(blocks, rho) - base for rho in alternatives])


def ratio_estimate(blocks: Sequence[Block]) -> float | None:
    """The canary's error rate over the primary's, pooled over the stretches (None when the
    primary has no errors: there is no ratio to show)."""
    canary_requests = sum(b.canary_requests for b in blocks if b.share is not None)
    primary_requests = sum(b.primary_requests for b in blocks if b.share is not None)
    canary_errors = sum(b.canary_errors for b in blocks if b.share is not None)
    primary_errors = sum(b.primary_errors for b in blocks if b.share is not None)
    if canary_requests <= 0 or primary_requests <= 0 or primary_errors <= 0:
        return None
    return (canary_errors / canary_requests) / (primary_errors / primary_requests)


# How far from the test's own null `ratio_bound` looks for the edge: 2^-12 .. 2^12 times it.
BOUND_RANGE = 12.0


def ratio_bound(blocks: Sequence[Block], null: float, alternatives: Sequence[float], alpha: float) -> float:
    """The edge of the ratios rejected at `alpha` by the test `ratio_log_e(blocks, null,
    alternatives)` moved along the axis: the null rho0 = null x t against the alternatives x t.
    The log-likelihood is concave in log rho, so each ratio L(a t) / L(null t) only falls as t
    grows: with the alternatives above the null the rejected rho0 are all those below the edge
    (a lower confidence bound), with them below it all those above (an upper one). Each rho0's
    test is anytime-valid at `alpha`, so the true rho is beyond the edge with probability at most
    `alpha`, however often it is read; and at t = 1 the test is the decision's own, so the edge
    is past `null` exactly when that test rejects it. Returned: the last rho0 found rejected
    (bisection), `null` x 2^-12 (a lower bound) or x 2^12 (an upper one) when none is."""
    above = alternatives[0] > null
    threshold = math.log(1 / alpha)

    def rejected(log2_t: float) -> bool:
        t = math.pow(2.0, log2_t)  # exactly 1.0 at 0: the decision's test itself
        return ratio_log_e(blocks, null * t, [a * t for a in alternatives]) >= threshold

    # `kept` is on the side of the edge no test rejects, `out` on the side they do.
    kept, out = (BOUND_RANGE, -BOUND_RANGE) if above else (-BOUND_RANGE, BOUND_RANGE)
    if rejected(0.0):
        out = 0.0
        if rejected(kept):
            return null * math.pow(2.0, kept)
    else:
        kept = 0.0
        if not rejected(out):
            return null * math.pow(2.0, out)
    for _ in range(30):
        middle = (kept + out) / 2
        if rejected(middle):
            out = middle
        else:
            kept = middle
    return null * math.pow(2.0, out)


def rate_log_e(errors: float, requests: float, level: float, alternatives: Sequence[float]) -> float:
    """log e-value against an error probability of `level` for `errors` in `requests`, mixed over
    `alternatives` (all above or all below the level; 0 allowed below it)."""
    if requests <= 0 or not 0 < level < 1:
        return 0.0
    logs = []
    for p in alternatives:
        if p <= 0:
            logs.append(-math.inf if errors > 0 else -requests * math.log1p(-level))
            continue
        logs.append(
            errors * math.log(p / level) + (requests - errors) * (math.log1p(-p) - math.log1p(-level))
            if p < 1
            else (-math.inf if errors < requests else requests * math.log(1 / level))
        )
    return _log_mean_exp(logs)


def sign_log_e(hits: int, trials: int, alternatives: Sequence[float]) -> float:
    """log e-value against P(hit) = 1/2 for `hits` of `trials`, mixed over `alternatives`."""
    if trials <= 0:
        return 0.0
    logs = [hits * math.log(2 * p) + (trials - hits) * math.log(2 * (1 - p)) for p in alternatives]
    return _log_mean_exp(logs)
