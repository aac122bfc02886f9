"""The component judge's pure parts: the baseline's error bound, the e-value since the start, the batch sizes."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from model_medic.remediate.rollout.sequential import rate_log_e

# AWS: a batch is "between 5% to 50% of the copy count of the inference component"
# (API reference, InferenceComponentRollingUpdatePolicy.MaximumBatchSize).
MIN_BATCH_SHARE, MAX_BATCH_SHARE = 0.05, 0.50
# WaitIntervalInSeconds 0..3600, MaximumExecutionTimeoutInSeconds 600..28800 (botocore's sagemaker model).
MAX_WAIT_SECONDS = 3600
MIN_TIMEOUT_SECONDS, MAX_TIMEOUT_SECONDS = 600, 28800
# What a batch may take besides its bake (new copies placed and loaded): the update's timeout allows this.
BATCH_ALLOWANCE_SECONDS = 900
# H0's level: the baseline's upper bound, plus this much of it (the hours before are not today).
MARGIN = 0.10
# The alternatives the e-value mixes over: the level times 2^(k/4), k = 1..24 (up to 64 times it).
ALTERNATIVE_STEPS = tuple(2.0 ** (k / 4) for k in range(1, 25))

Decision = Literal["reject", "continue", "no-baseline"]


@dataclass(frozen=True)
class Counts:
    """Requests (Invocations) and 5XX answers (Invocation5XXErrors) of a component over a window."""

    requests: float
    errors: float

    def as_dict(self) -> dict[str, float]:
        return {"requests": self.requests, "errors": self.errors}


@dataclass(frozen=True)
class ComponentVerdict:
    """The judge's look at a component's rolling update."""

    decision: Decision
    log_e: float
    threshold: float  # log(2 / alpha)
    level: float  # H0: the error probability is at most this
    baseline: Counts
    since: Counts
    reason: str

    @property
    def e_value(self) -> float:
        return math.exp(min(self.log_e, 700.0))

    def as_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "e_value": round(self.e_value, 4),
            "threshold": round(math.exp(self.threshold), 4),
            "level": self.level,
            "baseline": self.baseline.as_dict(),
            "since": self.since.as_dict(),
        }


def _log_beta_front(a: float, b: float, x: float) -> float:
    return math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)


def _continued_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz)."""
    tiny, h = 1e-300, 1.0
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 100_000):
        m2 = 2 * m
        for numerator in (
            m * (b - m) * x / ((a + m2 - 1.0) * (a + m2)),
            -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


def regularized_beta(a: float, b: float, x: float) -> float:
    """Pure: I_x(a, b), the regularized incomplete beta function (a, b > 0, 0 <= x <= 1)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(_log_beta_front(a, b, x)) * _continued_fraction(a, b, x) / a
    return 1.0 - math.exp(_log_beta_front(a, b, x)) * _continued_fraction(b, a, 1.0 - x) / b


@functools.lru_cache(maxsize=1024)  # a rollout's baseline is the same at every look
def clopper_pearson_upper(errors: float, requests: float, alpha: float) -> float:
    """Pure: the one-sided (1 - alpha) upper confidence bound of an error probability from
    `errors` in `requests` (Clopper-Pearson): the p at which P(X <= errors) = alpha for X ~
    Bin(requests, p), i.e. the Beta(errors + 1, requests - errors) quantile at 1 - alpha, found
    by bisection on P(X <= k) = 1 - I_p(k + 1, n - k)."""
    if requests <= 0:
        return 1.0
    k = min(max(errors, 0.0), requests)
    if k >= requests:
        return 1.0
    low, high = 0.0, 1.0
    for _ in range(200):
        middle = (low + high) / 2.0
        if 1.0 - regularized_beta(k + 1.0, requests - k, middle) > alpha:
            low = middle  # X <= k still likely: the bound is higher
        else:
            high = middle
        if high - low < 1e-15 * max(high, 1e-300):
            break
    return high


def judge(baseline: Counts, since: Counts, alpha: float, margin: float = MARGIN) -> ComponentVerdict:
    """Pure: whether the component errs more since the update began than it did before.

    H0: its error probability is at most `level` = (1 + margin) x the (1 - alpha/2) upper bound of
    the baseline's (`clopper_pearson_upper`); the e-value of the errors since the start against
    `level`, mixed over alternatives above it (`sequential.rate_log_e`), rejects H0 at 2/alpha. By
    the union bound a component no worse than before is rolled back with probability at most
    alpha/2 (the bound wrong) + alpha/2 (Ville's inequality), however often it is looked at."""
    threshold = math.log(2.0 / alpha)
    if baseline.requests <= 0:
        reason = "no requests in the baseline window: nothing to compare with (its alarms still guard it)"
        return ComponentVerdict("no-baseline", 0.0, threshold, 1.0, baseline, since, reason)
    bound = clopper_pearson_upper(baseline.errors, baseline.requests, alpha / 2.0)
    level = min(bound * (1.0 + margin), 0.999)
    alternatives = sorted({min(level * step, 0.9999) for step in ALTERNATIVE_STEPS if level * step > level})
    log_e = rate_log_e(since.errors, since.requests, level, alternatives) if alternatives else 0.0
    shown = (
        f"{since.errors:g} 5XX in {since.requests:g} requests since the start against at most {level:.4%} "
        f"({baseline.errors:g} in {baseline.requests:g} before): e={math.exp(min(log_e, 700.0)):.3g}"
    )
    if log_e >= threshold:
        return ComponentVerdict("reject", log_e, threshold, level, baseline, since, f"{shown} >= {2 / alpha:g}")
    return ComponentVerdict("continue", log_e, threshold, level, baseline, since, f"{shown} < {2 / alpha:g}")


@dataclass(frozen=True)
class Batches:
    """A rolling update's sizes: copies a batch, how many batches, the bake and the timeout."""

    copies: int
    batch: int
    count: int
    wait_seconds: int
    timeout_seconds: int


def batches(copies: int, bake_minutes: int) -> Batches | str:
    """Pure: the smallest batch AWS allows (one copy, or 5 % of the copies rounded up), the bake
    per batch (the rollout's bake, at most 3600 s) and a timeout that lets every batch provision
    and bake; or why no rolling update can be asked for (a batch is at most 50 % of the copies, so
    a component of one copy has none)."""
    if copies < 2:
        return (
            f"it runs {copies} copy: a rolling update's batch is 5% to 50% of the copies (AWS), so a component "
            "of one copy cannot be updated in batches; add a copy first"
        )
    batch = max(1, math.ceil(copies * MIN_BATCH_SHARE - 1e-9))
    if batch > copies * MAX_BATCH_SHARE:
        return f"the smallest batch AWS allows, {batch} of {copies} copies, is above 50% of them"
    wait = min(max(bake_minutes, 0) * 60, MAX_WAIT_SECONDS)
    count = math.ceil(copies / batch)
    timeout = min(max(count * (wait + BATCH_ALLOWANCE_SECONDS), MIN_TIMEOUT_SECONDS), MAX_TIMEOUT_SECONDS)
    return Batches(copies, batch, count, wait, timeout)


def deployment_config(sizes: Batches, alarms: list[str]) -> dict[str, Any]:
    """Pure: UpdateInferenceComponent's DeploymentConfig (API reference,
    InferenceComponentDeploymentConfig): batches of `sizes.batch` copies, each baked
    `sizes.wait_seconds` while SageMaker watches `alarms` (1 to 10); the rollback puts the old
    copies back all at once (RollbackMaximumBatchSize absent: 100 %)."""
    return {
        "RollingUpdatePolicy": {
            "MaximumBatchSize": {"Type": "COPY_COUNT", "Value": sizes.batch},
            "WaitIntervalInSeconds": sizes.wait_seconds,
            "MaximumExecutionTimeoutInSeconds": sizes.timeout_seconds,
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": name} for name in alarms[:10]]},
    }


def verdict_minutes(now: datetime, hold: timedelta) -> list[datetime]:
    """Pure: the whole minutes from `now`'s to `hold` after it, each a RolloutVerdict datapoint: the
    alarm (1-minute periods, missing data not breaching) stays in ALARM until the next look puts
    more. CloudWatch takes timestamps up to 2 hours ahead (PutMetricData API reference)."""
    start = now.replace(second=0, microsecond=0)
    return [start + timedelta(minutes=m) for m in range(int(hold.total_seconds() // 60) + 1)]


Ending = Literal["rolled-out", "rolled-back", "changed", "failed", "updating"]


def ending(status: str, digest: str, to_digest: str, from_digest: str) -> Ending:
    """Pure: what a component's state says of its rolling update: still updating, failed, finished on
    the new specification, back on the old one (AWS rolled it back), or on a third (a person's)."""
    if status in ("Updating", "Creating"):
        return "updating"
    if status != "InService":
        return "failed"
    if digest == to_digest:
        return "rolled-out"
    return "rolled-back" if digest == from_digest else "changed"
