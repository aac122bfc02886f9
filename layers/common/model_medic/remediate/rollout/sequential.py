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
    """The canary's error rate over the primary's, pooled over the stretches (None without errors to compare)."""
    canary_requests = sum(b.canary_requests for b in blocks if b.share is not None)
    primary_requests = sum(b.primary_requests for b in blocks if b.share is not None)
    canary_errors = sum(b.canary_errors for b in blocks if b.share is not None)
    primary_errors = sum(b.primary_errors for b in blocks if b.share is not None)
    if canary_requests <= 0 or primary_requests <= 0 or primary_errors <= 0:
        return None
    return (canary_errors / canary_requests) / (primary_errors / primary_requests)


# Two-sided grid for the confidence sequence of rho: 2^(k/4), 1/64 .. 64 (about 19 % apart).
_GRID = tuple(2.0 ** (k / 4) for k in range(-24, 25))


def ratio_interval(blocks: Sequence[Block], alpha: float) -> tuple[float, float] | None:
    """An anytime-valid confidence interval for rho at level 1 - alpha: the grid values that the
    uniform mixture over the grid does not reject (None when no errors were seen at all)."""
    if not any(b.share is not None and b.canary_errors + b.primary_errors > 0 for b in blocks):
        return None
    logs = [ratio_log_likelihood(blocks, rho) for rho in _GRID]
    mixture = _log_mean_exp(logs)
    kept = [rho for rho, log in zip(_GRID, logs, strict=True) if mixture - log < math.log(1 / alpha)]
    return (min(kept), max(kept)) if kept else None


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
