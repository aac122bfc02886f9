"""The canary judge: roll back on evidence of harm, promote on evidence of no harm, else continue."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

from model_medic.remediate.rollout.sequential import (
    BOUND_RANGE,
    Block,
    rate_log_e,
    ratio_bound,
    ratio_estimate,
    ratio_log_e,
    sign_log_e,
)
from model_medic.remediate.units import variant_label

Decision = Literal["promote", "continue", "rollback", "inconclusive", "finish"]
Finding = Literal["harm", "ok", "undecided", "unavailable"]

# Shares of the false-rollback budget per harm test (they sum to 1: Bonferroni over the tests).
BUDGET: dict[str, float] = {
    "error rate": 0.5,
    "latency": 0.2,
    "p99 latency": 0.1,
    "error-rate ceiling": 0.1,
    "latency ceiling": 0.1,
}
# Alternatives of the mixtures: where harm (above one half) or no harm (below it) would put
# the chance that a latency minute of the canary is over the primary's by the effect.
SIGN_HARM = (0.65, 0.8, 0.95)
# Error-rate ratios: harm at multiples of the effect; no harm at a canary as good as the primary
# or somewhat better (most healthy canaries are one or the other).
RATIO_HARM = (1.0, 4 / 3, 2.0, 10 / 3, 20 / 3)
RATIO_OK = (0.8, 1.0)
SIGN_OK = (0.05, 0.2, 0.35)


@dataclass(frozen=True)
class Rules:
    """The evidence a canary must show; defaults are the stack parameters' defaults."""

    steps: tuple[int, ...] = (5, 10, 25, 50, 100)
    bake: timedelta = timedelta(minutes=30)
    min_invocations: int = 100
    max_error_rate: float = 5.0  # percent: a statement about the canary's true error rate
    max_latency_ms: float = 1000.0
    false_rollback_rate: float = 0.01  # over the whole rollout, all steps and looks
    promote_risk: float = 0.05  # per promotion: the chance of passing a canary worse than the effects
    error_effect: float = 1.5  # the smallest error-rate ratio worth acting on
    latency_effect: float = 0.2  # the smallest latency increase worth acting on (0.2: +20 %)
    inconclusive_bakes: int = 6  # a step undecided after this many bakes is inconclusive

    @property
    def max_step(self) -> timedelta:
        return self.bake * self.inconclusive_bakes


@dataclass(frozen=True)
class Minute:
    """One minute of both variants as CloudWatch has it (latencies in ms; None: no datapoint)."""

    canary_requests: float = 0.0
    canary_errors: float = 0.0
    primary_requests: float = 0.0
    primary_errors: float = 0.0
    canary_latency_ms: float | None = None
    primary_latency_ms: float | None = None
    canary_p99_ms: float | None = None
    primary_p99_ms: float | None = None


@dataclass(frozen=True)
class Tally:
    """What the tests need, summed over a stretch of a rollout: error counts per step (a block
    each) and, per latency comparison, (minutes over, minutes compared). Kept in the rollout's
    facts between looks, so that earlier steps' evidence counts in later ones."""

    blocks: tuple[Block, ...] = ()
    latency: tuple[int, int] = (0, 0)
    p99: tuple[int, int] = (0, 0)
    latency_ceiling: tuple[int, int] = (0, 0)
    canary_latency_sum: float = 0.0  # request-weighted, for the figures shown to people
    primary_latency_sum: float = 0.0

    def plus(self, other: Tally) -> Tally:
        return Tally(
            self.blocks + other.blocks,
            _add(self.latency, other.latency),
            _add(self.p99, other.p99),
            _add(self.latency_ceiling, other.latency_ceiling),
            self.canary_latency_sum + other.canary_latency_sum,
            self.primary_latency_sum + other.primary_latency_sum,
        )

    @property
    def canary_requests(self) -> float:
        return sum(b.canary_requests for b in self.blocks)

    @property
    def primary_requests(self) -> float:
        return sum(b.primary_requests for b in self.blocks)

    @property
    def canary_errors(self) -> float:
        return sum(b.canary_errors for b in self.blocks)

    @property
    def primary_errors(self) -> float:
        return sum(b.primary_errors for b in self.blocks)

    def as_dict(self) -> dict[str, Any]:
        return {
            "blocks": [[b.canary_requests, b.canary_errors, b.primary_requests, b.primary_errors] for b in self.blocks],
            "latency": list(self.latency),
            "p99": list(self.p99),
            "latency_ceiling": list(self.latency_ceiling),
            "latency_sums": [self.canary_latency_sum, self.primary_latency_sum],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Tally:
        if not data:
            return cls()
        sums = data.get("latency_sums") or [0.0, 0.0]
        return cls(
            tuple(Block(*(float(x) for x in block)) for block in data.get("blocks", [])),
            _pair(data.get("latency")),
            _pair(data.get("p99")),
            _pair(data.get("latency_ceiling")),
            float(sums[0]),
            float(sums[1]),
        )


def _add(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
    return (a[0] + b[0], a[1] + b[1])


def _pair(value: Any) -> tuple[int, int]:
    return (int(value[0]), int(value[1])) if value else (0, 0)


def tally(minutes: Iterable[Minute], rules: Rules) -> Tally:
    """One step's minutes as one block of error counts and the latency comparisons."""
    canary_requests = canary_errors = primary_requests = primary_errors = 0.0
    latency, p99, ceiling = [0, 0], [0, 0], [0, 0]
    sums = [0.0, 0.0]
    over = 1.0 + rules.latency_effect
    for m in minutes:
        canary_requests += m.canary_requests
        canary_errors += m.canary_errors
        primary_requests += m.primary_requests
        primary_errors += m.primary_errors
        canary_ms = m.canary_latency_ms if m.canary_requests > 0 else None
        primary_ms = m.primary_latency_ms if m.primary_requests > 0 else None
        if canary_ms is not None:
            sums[0] += canary_ms * m.canary_requests
            ceiling = [ceiling[0] + (canary_ms > rules.max_latency_ms), ceiling[1] + 1]
        if primary_ms is not None:
            sums[1] += primary_ms * m.primary_requests
        if canary_ms is not None and primary_ms is not None:
            latency = [latency[0] + (canary_ms > over * primary_ms), latency[1] + 1]
        if m.canary_p99_ms is not None and m.primary_p99_ms is not None:
            p99 = [p99[0] + (m.canary_p99_ms > over * m.primary_p99_ms), p99[1] + 1]
    block = Block(canary_requests, canary_errors, primary_requests, primary_errors)
    return Tally((block,), (latency[0], latency[1]), (p99[0], p99[1]), (ceiling[0], ceiling[1]), sums[0], sums[1])


@dataclass(frozen=True)
class MetricVerdict:
    """One metric's finding, as Kayenta shows it: the figures of both variants, the estimate with
    its interval, what the evidence supports, and the e-value of harm against what a rollback needs."""

    metric: str
    finding: Finding
    canary: str
    primary: str
    estimate: str
    harm_e: float
    needed: float
    budget: float  # this test's share of the false-rollback rate

    def describe(self) -> str:
        return (
            f"{self.metric}: {self.finding} - {variant_label('canary', self.canary)}, "
            f"{variant_label('primary', self.primary)}; {self.estimate}; "
            f"evidence of harm {_e(self.harm_e)} of {_e(self.needed)} needed"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "finding": self.finding,
            "canary": self.canary,
            "primary": self.primary,
            "estimate": self.estimate,
            "harm_e": round(self.harm_e, 4),
            "needed": round(self.needed, 1),
            "budget": self.budget,
        }


def _e(value: float) -> str:
    return f"{value:.3g}" if value < 1e6 else "over 10^6"


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    reasons: tuple[str, ...]
    metrics: tuple[MetricVerdict, ...] = ()
    next_step: int | None = None
    evidence: dict[str, Any] = field(default_factory=dict)


def current_step(share: float, steps: tuple[int, ...]) -> int | None:
    """The step the canary's share (percent) stands on: the largest step not above it."""
    on = [step for step in steps if step <= share + 0.5]
    return max(on) if on else None


def next_step(step: int | None, steps: tuple[int, ...]) -> int | None:
    later = [s for s in steps if step is None or s > step]
    return min(later) if later else None


def _exp(log_value: float) -> float:
    return math.exp(min(log_value, 700.0))


def _error_verdict(rollout: Tally, rules: Rules) -> MetricVerdict:
    alpha = rules.false_rollback_rate * BUDGET["error rate"]
    effect = rules.error_effect
    blocks: Sequence[Block] = [b for b in rollout.blocks if b.share is not None]
    harm = _exp(ratio_log_e(blocks, 1.0, tuple(effect * k for k in RATIO_HARM)))
    no_harm = _exp(ratio_log_e(blocks, effect, RATIO_OK))
    negligible = rules.max_error_rate / 1000.0  # a tenth of the ceiling, as a probability
    requests, errors = rollout.canary_requests, rollout.canary_errors
    rare = _exp(rate_log_e(errors, requests, negligible, (0.0, negligible / 4, negligible / 2)))
    finding: Finding = "undecided"
    if harm >= 1 / alpha:
        finding = "harm"
    elif no_harm >= 1 / rules.promote_risk or rare >= 1 / rules.promote_risk:
        finding = "ok"
    estimate = _ratio_estimate(blocks, rules, alpha)
    if finding == "ok" and no_harm < 1 / rules.promote_risk:
        estimate += f"; no harm: its own error rate shown below {negligible * 100:g}%"
    primary_requests = sum(b.primary_requests for b in blocks)
    primary_errors = sum(b.primary_errors for b in blocks)
    return MetricVerdict(
        "error rate",
        finding,
        _rate(errors, requests),
        _rate(primary_errors, primary_requests),
        estimate,
        harm,
        1 / alpha,
        alpha,
    )


def _ratio_estimate(blocks: Sequence[Block], rules: Rules, alpha: float) -> str:
    """The ratio (or both variants' errors, when the primary has none) and the bounds of the two
    tests that decide: the harm test's lower bound at 1 - alpha (harm exactly when it is above 1)
    and the no-harm test's upper bound at 1 - promote_risk (no harm on the ratio exactly when it
    is below the effect); `sequential.ratio_bound`."""
    canary_errors = sum(b.canary_errors for b in blocks)
    primary_errors = sum(b.primary_errors for b in blocks)
    if canary_errors + primary_errors <= 0:
        return "no errors to compare"
    ratio = ratio_estimate(blocks)
    shown = (
        f"ratio {ratio:.2f}" if ratio is not None else f"no ratio: canary {canary_errors:.0f} error(s), primary none"
    )
    effect = rules.error_effect
    lower = ratio_bound(blocks, 1.0, tuple(effect * k for k in RATIO_HARM), alpha)
    upper = ratio_bound(blocks, effect, RATIO_OK, rules.promote_risk)
    bounds = []
    if lower > 2.0**-BOUND_RANGE:
        bounds.append(f"above {_sig(lower, math.floor)} ({_pct(1 - alpha)}; harm when above 1)")
    if upper < effect * 2.0**BOUND_RANGE:
        bounds.append(f"below {_sig(upper, math.ceil)} ({_pct(1 - rules.promote_risk)}; no harm when below {effect:g})")
    return shown + ("; the true ratio is " + ", ".join(bounds) if bounds else "")


def _sig(value: float, rounding: Callable[[float], int]) -> str:
    """Three significant digits, rounded away from what the bound excludes (down for a lower bound)."""
    scale = 10.0 ** (2 - math.floor(math.log10(value)))
    return f"{rounding(value * scale) / scale:g}"


def _pct(level: float) -> str:
    return f"{level * 100:.4g}%"


def _rate(errors: float, requests: float) -> str:
    return f"{errors:.0f}/{requests:.0f} ({errors / requests * 100:.2f}%)" if requests > 0 else "no requests"


def _sign_verdict(metric: str, counts: tuple[int, int], rules: Rules, canary: str, primary: str) -> MetricVerdict:
    alpha = rules.false_rollback_rate * BUDGET[metric]
    over, compared = counts
    harm = _exp(sign_log_e(over, compared, SIGN_HARM))
    no_harm = _exp(sign_log_e(over, compared, SIGN_OK))
    finding: Finding = "unavailable" if compared == 0 and metric == "p99 latency" else "undecided"
    if harm >= 1 / alpha:
        finding = "harm"
    elif no_harm >= 1 / rules.promote_risk:
        finding = "ok"
    limit = (
        f"{rules.max_latency_ms:g} ms"
        if metric == "latency ceiling"
        else f"+{rules.latency_effect * 100:g}% of the primary's"
    )
    estimate = (
        "no per-minute data from CloudWatch"
        if compared == 0
        else f"canary over {limit} in {over} of {compared} minute(s)"
    )
    return MetricVerdict(metric, finding, canary, primary, estimate, harm, 1 / alpha, alpha)


def _ceiling_verdict(rollout: Tally, rules: Rules) -> MetricVerdict:
    alpha = rules.false_rollback_rate * BUDGET["error-rate ceiling"]
    level = rules.max_error_rate / 100.0
    requests, errors = rollout.canary_requests, rollout.canary_errors
    alternatives = tuple(p for p in (level * 1.5, level * 2, level * 3, level * 5) if p < 1) or (0.999,)
    harm = _exp(rate_log_e(errors, requests, level, alternatives)) if 0 < level < 1 else 0.0
    finding: Finding = "harm" if harm >= 1 / alpha else "undecided"
    return MetricVerdict(
        "error-rate ceiling",
        finding,
        _rate(errors, requests),
        f"ceiling {rules.max_error_rate:g}%",
        "the canary's true error rate above the ceiling?",
        harm,
        1 / alpha,
        alpha,
    )


def _ms(total: float, requests: float) -> str:
    return f"{total / requests:.0f} ms" if requests > 0 else "no data"


def judge(
    rollout: Tally,
    step_tally: Tally,
    rules: Rules,
    step: int | None,
    baked: timedelta,
    alarms_in_alarm: tuple[str, ...] = (),
) -> Verdict:
    """Pure. `rollout` is the evidence of every step so far (this one included), `step_tally`
    this step's alone, `baked` how long this step's weights have been in service. Rollback (on
    the tests' evidence of harm alone) beats everything; promote (finish at 100 %) needs the
    bake, the minimum invocations of this step, every metric shown not worse, and none of
    `alarms_in_alarm` (the canary's alarms now in ALARM) - an alarm wakes the judge and holds a
    promotion, it never rolls back: its fixed threshold on five-minute averages is no test
    within the false-rollback budget (docs/canary-judge.md). A step still undecided after its
    maximum duration (an alarm apart) is inconclusive; otherwise the rollout continues. At 100 % the primary
    takes no traffic: only the ceilings judge the canary."""
    alone = step is not None and step >= 100
    metrics = tuple(_metric_verdicts(rollout, rules, alone))
    evidence = {
        "step": step,
        "baked_minutes": round(baked.total_seconds() / 60, 1),
        "canary": {"invocations": step_tally.canary_requests, "errors": step_tally.canary_errors},
        "primary": {"invocations": step_tally.primary_requests, "errors": step_tally.primary_errors},
        "metrics": [m.as_dict() for m in metrics],
    }
    rollback = [m.describe() for m in metrics if m.finding == "harm"]
    if rollback:
        return Verdict("rollback", tuple(rollback), metrics, None, evidence)
    wait = _waiting(step_tally, rules, baked, alone, metrics)
    # An alarm holds the promotion, never makes a step inconclusive: a healthy canary's clears.
    alarmed = [f"canary alarm in ALARM: {', '.join(alarms_in_alarm)} (no promotion while it is; the tests decide)"]
    held = (alarmed if alarms_in_alarm else []) + wait
    if not held:
        if alone:
            return Verdict("finish", ("healthy at 100%: finish the rollout",), metrics, None, evidence)
        target = next_step(step, rules.steps) or 100
        why = f"not worse on the evidence: promote {step}% -> {target}%"
        return Verdict("promote", (why,), metrics, target, evidence)
    if wait and baked >= rules.max_step:
        why = f"inconclusive after {baked.total_seconds() / 60:.0f} minutes ({rules.inconclusive_bakes} bakes): "
        return Verdict("inconclusive", (why + "; ".join(held),), metrics, None, evidence)
    return Verdict("continue", tuple(held), metrics, None, evidence)


def _metric_verdicts(rollout: Tally, rules: Rules, alone: bool) -> list[MetricVerdict]:
    """Each metric's finding: canary against primary (not at 100 %, where the primary serves
    nothing), then the absolute ceilings."""
    canary_ms = _ms(rollout.canary_latency_sum, rollout.canary_requests)
    primary_ms = _ms(rollout.primary_latency_sum, rollout.primary_requests)
    compared = (
        []
        if alone
        else [
            _error_verdict(rollout, rules),
            _sign_verdict("latency", rollout.latency, rules, canary_ms, primary_ms),
            _sign_verdict("p99 latency", rollout.p99, rules, "per-minute p99", "per-minute p99"),
        ]
    )
    ceiling_ms = f"{rules.max_latency_ms:g} ms"
    return [
        *compared,
        _ceiling_verdict(rollout, rules),
        _sign_verdict("latency ceiling", rollout.latency_ceiling, rules, canary_ms, ceiling_ms),
    ]


def _waiting(
    step_tally: Tally, rules: Rules, baked: timedelta, alone: bool, metrics: tuple[MetricVerdict, ...]
) -> list[str]:
    """What a promotion still waits for: the bake, the minimum invocations, undecided metrics."""
    wait = []
    if baked < rules.bake:
        wait.append(f"baking for {rules.bake.total_seconds() / 60:.0f} minutes")
    for name, requests in (("canary", step_tally.canary_requests), ("primary", step_tally.primary_requests)):
        if not (name == "primary" and alone) and requests < rules.min_invocations:
            wait.append(f"{name} has {requests:.0f} invocations this step, fewer than {rules.min_invocations}")
    if not alone:
        wait += [m.describe() for m in metrics if m.finding == "undecided" and "ceiling" not in m.metric]
    return wait
