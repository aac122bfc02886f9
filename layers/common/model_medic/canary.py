"""The canary judge: promote along the configured steps, hold, finish, roll back, or call a
step inconclusive - pure, on the evidence of both variants since the step began.

`rollout.py` reads the evidence (one GetMetricData call: sums and p99 ModelLatency of both
variants) and turns the verdict into changes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

from model_medic.endpoint_metrics import Sums

Decision = Literal["promote", "hold", "rollback", "inconclusive", "finish"]


@dataclass(frozen=True)
class Rules:
    """The evidence a canary must show; defaults are the stack parameters' defaults."""

    steps: tuple[int, ...] = (5, 10, 25, 50, 100)
    bake: timedelta = timedelta(minutes=30)
    min_invocations: int = 100
    max_error_rate: float = 5.0  # percent
    max_latency_ms: float = 1000.0
    error_ratio: float = 1.5
    latency_ratio: float = 1.2
    significance: float = 0.05
    max_p99_ratio: float = 1.5
    inconclusive_bakes: int = 3


@dataclass(frozen=True)
class Evidence:
    """What a variant did since the step began."""

    invocations: float
    errors: float
    latency_ms: float | None
    p99_ms: float | None = None  # p99 ModelLatency over the step, when CloudWatch has it

    @property
    def error_rate(self) -> float | None:
        return None if self.invocations <= 0 else self.errors / self.invocations * 100.0

    @classmethod
    def of(cls, sums: Sums, p99_ms: float | None = None) -> Evidence:
        return cls(sums.invocations, sums.errors_4xx + sums.errors_5xx, sums.total_latency_ms(), p99_ms)


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    reasons: tuple[str, ...]
    p_value: float | None
    next_step: int | None = None
    evidence: dict[str, Any] = field(default_factory=dict)


def one_sided_p_value(errors_a: float, n_a: float, errors_b: float, n_b: float) -> float | None:
    """P(rate A is not above rate B), two-proportion z-test with pooled variance; None without data."""
    if n_a <= 0 or n_b <= 0:
        return None
    pooled = (errors_a + errors_b) / (n_a + n_b)
    variance = pooled * (1 - pooled) * (1 / n_a + 1 / n_b)
    if variance <= 0:
        return 1.0  # no errors anywhere (or only errors): no evidence that A is worse
    z = (errors_a / n_a - errors_b / n_b) / math.sqrt(variance)
    return 0.5 * math.erfc(z / math.sqrt(2))


def current_step(share: float, steps: tuple[int, ...]) -> int | None:
    """The step the canary's share (percent) stands on: the largest step not above it."""
    on = [step for step in steps if step <= share + 0.5]
    return max(on) if on else None


def next_step(step: int | None, steps: tuple[int, ...]) -> int | None:
    later = [s for s in steps if step is None or s > step]
    return min(later) if later else None


def judge(
    canary: Evidence,
    primary: Evidence,
    rules: Rules,
    step: int | None,
    baked: timedelta,
    alarms_in_alarm: tuple[str, ...] = (),
) -> Verdict:
    """Pure: rollback beats hold beats promote. At 100 % the primary takes no traffic: the canary
    is judged on its own gates and bake, and a healthy one finishes the rollout. A step still
    short of its minimum invocations after `inconclusive_bakes` bakes is inconclusive."""
    alone = step is not None and step >= 100
    p_value = one_sided_p_value(canary.errors, canary.invocations, primary.errors, primary.invocations)
    evidence = {
        "canary": {
            "invocations": canary.invocations,
            "errors": canary.errors,
            "error_rate": canary.error_rate,
            "latency_ms": canary.latency_ms,
            "p99_ms": canary.p99_ms,
        },
        "primary": {
            "invocations": primary.invocations,
            "errors": primary.errors,
            "error_rate": primary.error_rate,
            "latency_ms": primary.latency_ms,
            "p99_ms": primary.p99_ms,
        },
        "p_value": p_value,
        "step": step,
        "baked_minutes": round(baked.total_seconds() / 60, 1),
    }
    rollback = []
    if alarms_in_alarm:
        rollback.append(f"canary alarm in ALARM: {', '.join(alarms_in_alarm)}")
    if canary.error_rate is not None and canary.error_rate > rules.max_error_rate:
        rollback.append(f"canary error rate {canary.error_rate:.2f}% above the {rules.max_error_rate:g}% gate")
    if canary.latency_ms is not None and canary.latency_ms > rules.max_latency_ms:
        rollback.append(f"canary latency {canary.latency_ms:.0f} ms above the {rules.max_latency_ms:g} ms gate")
    enough = canary.invocations >= rules.min_invocations and primary.invocations >= rules.min_invocations
    if (
        not alone
        and enough
        and canary.p99_ms is not None
        and primary.p99_ms is not None
        and canary.p99_ms > rules.max_p99_ratio * primary.p99_ms
    ):
        rollback.append(
            f"canary p99 latency {canary.p99_ms:.0f} ms over {rules.max_p99_ratio:g}x primary {primary.p99_ms:.0f} ms"
        )
    if (
        not alone
        and canary.error_rate is not None
        and primary.error_rate is not None
        and canary.error_rate > rules.error_ratio * primary.error_rate
        and p_value is not None
        and p_value < rules.significance
    ):
        rollback.append(
            f"canary error rate {canary.error_rate:.2f}% vs primary {primary.error_rate:.2f}% "
            f"(over {rules.error_ratio:g}x, p = {p_value:.4f} < {rules.significance:g})"
        )
    if rollback:
        return Verdict("rollback", tuple(rollback), p_value, None, evidence)
    hold = []
    if baked < rules.bake:
        hold.append(f"baking for {rules.bake.total_seconds() / 60:.0f} minutes")
    short = []
    for name, variant in (("canary", canary), ("primary", primary)):
        if name == "primary" and alone:
            continue
        if variant.invocations < rules.min_invocations:
            short.append(f"{name} has {variant.invocations:.0f} invocations, fewer than {rules.min_invocations}")
    if short and baked >= rules.bake * rules.inconclusive_bakes:
        why = f"inconclusive after {baked.total_seconds() / 60:.0f} minutes ({rules.inconclusive_bakes} bakes): "
        return Verdict("inconclusive", (why + "; ".join(short),), p_value, None, evidence)
    hold += short
    if (
        not alone
        and canary.latency_ms is not None
        and primary.latency_ms is not None
        and canary.latency_ms > rules.latency_ratio * primary.latency_ms
    ):
        hold.append(
            f"canary latency {canary.latency_ms:.0f} ms over {rules.latency_ratio:g}x "
            f"primary {primary.latency_ms:.0f} ms"
        )
    if hold:
        return Verdict("hold", tuple(hold), p_value, None, evidence)
    if alone:
        return Verdict("finish", ("healthy at 100%: finish the rollout",), p_value, None, evidence)
    target = next_step(step, rules.steps) or 100
    return Verdict("promote", (f"healthy: promote {step}% -> {target}%",), p_value, target, evidence)
