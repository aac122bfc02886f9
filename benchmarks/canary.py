"""Whole canary rollouts, simulated, judged by Model Medic's judge and by a Kayenta-style judge.

The judge is `model_medic.remediate.rollout.judge` itself (`tally` + `judge`), not a copy, driven the way
PromoteCanaryFunction drives it (rollout/action.py): the stack's defaults (steps 5/10/25/50/100 %,
30-minute bake, 100 invocations per step, 6 bakes before a step is inconclusive, which here
ends the rollout as "hold and tell"), a look every 10 minutes, the evidence of a step starting
at the first whole minute after its weights are in service (a traffic shift keeps the
endpoint Updating for 4 minutes), the tallies of earlier steps carried forward. The canary's
alarms are not modelled: they wake the judge and hold a promotion, and roll nothing back
(tests/unit/test_canary_alarm_budget.py simulates them on quiet endpoints).

Traffic per minute: Poisson requests (10 a second unless said otherwise) routed to the canary
with its share's probability; errors Bernoulli per request; latency lognormal per request
(median 100 ms, sigma 0.5). CloudWatch's per-minute figures are computed from the requests:
error and request counts, average latency, p99 latency (as CloudWatch serves percentiles of
raw values).

The Kayenta-style judge (NetflixACAJudge with its Mann-Whitney classifier, spinnaker/kayenta):
once per step, when the bake has passed, the step's per-minute error rates and average
latencies of canary (experiment) against primary (control), Mann-Whitney U two-sided at 98 %
confidence: a metric is "High" when the lower end of the confidence interval of the shift
(Hodges-Lehmann) is above 0 and the experiment's mean is above the control's; a "High" on any
metric fails the step and rolls back, else the step passes and is promoted.

Run: `python -m benchmarks.canary` (`make bench` runs it); ROLLOUTS scales the counts.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np

from model_medic.remediate.rollout.judge import Minute, Rules, Tally, current_step, judge, next_step, tally

RULES = Rules()
LOOK = 10  # minutes between looks (the schedule)
UPDATING = 4  # minutes a traffic shift keeps the endpoint Updating
HORIZON = 24 * 60  # a rollout still going after a day is cut (counted as inconclusive)
MEDIAN_MS, SIGMA = 100.0, 0.5


@dataclass(frozen=True)
class Variant:
    error_rate: float = 0.01
    median_ms: float = MEDIAN_MS
    sigma: float = SIGMA


@dataclass(frozen=True)
class Scenario:
    name: str
    canary: Variant
    rollouts: int
    per_second: float = 10.0
    canary_per_minute: float | None = None  # fixed canary traffic (low-traffic scenario)
    primary: Variant = field(default_factory=Variant)


# p99 of a lognormal is median * exp(2.326 sigma): p99 +30 % with the same median.
TAIL_SIGMA = SIGMA + math.log(1.3) / 2.3263
SCENARIOS = (
    Scenario("A/A (canary = primary)", Variant(), 2000),
    Scenario("2x error rate", Variant(error_rate=0.02), 500),
    Scenario("5x error rate", Variant(error_rate=0.05), 500),
    Scenario("latency +30% everywhere", Variant(median_ms=MEDIAN_MS * 1.3), 500),
    Scenario("p99 +30%, same median", Variant(sigma=TAIL_SIGMA), 500),
    Scenario("low traffic (1 request/min to the canary)", Variant(), 200, canary_per_minute=1.0),
    Scenario("2x error rate at 100 requests/s", Variant(error_rate=0.02), 200, per_second=100.0),
)


@dataclass
class Result:
    outcome: str  # rolled back | reached 100% | inconclusive
    minutes: int


def minute(rng: np.random.Generator, scenario: Scenario, share: float) -> Minute:
    """One minute of both variants as CloudWatch would show it."""
    if scenario.canary_per_minute is not None:
        n_canary = int(rng.poisson(scenario.canary_per_minute * share / RULES.steps[0]))
        n_primary = int(rng.poisson(scenario.canary_per_minute * (100 - share) / RULES.steps[0]))
    else:
        total = int(rng.poisson(scenario.per_second * 60))
        n_canary = int(rng.binomial(total, share / 100.0))
        n_primary = total - n_canary

    def variant(n: int, v: Variant) -> tuple[float, float, float | None, float | None]:
        if n == 0:
            return 0.0, 0.0, None, None
        errors = float(rng.binomial(n, v.error_rate))
        latency = rng.lognormal(math.log(v.median_ms), v.sigma, n)
        return float(n), errors, float(latency.mean()), float(np.percentile(latency, 99, method="inverted_cdf"))

    c = variant(n_canary, scenario.canary)
    p = variant(n_primary, scenario.primary)
    return Minute(c[0], c[1], p[0], p[1], c[2], p[2], c[3], p[3])


Policy = Callable[[list[Minute], Tally, int, int], str]  # -> rollback | promote | finish | continue | inconclusive


def model_medic(step_minutes: list[Minute], history: Tally, step: int, baked: int) -> str:
    current = tally(step_minutes, RULES)
    return judge(history.plus(current), current, RULES, step, timedelta(minutes=baked)).decision


def kayenta(step_minutes: list[Minute], history: Tally, step: int, baked: int) -> str:
    if baked < RULES.bake.total_seconds() / 60:
        return "continue"
    if step >= 100:
        return "finish"
    pairs = [m for m in step_minutes if m.canary_requests > 0 and m.primary_requests > 0]
    if len(pairs) < 3:
        return "inconclusive"

    def error_rate(m: Minute, canary: bool) -> float:
        return m.canary_errors / m.canary_requests if canary else m.primary_errors / m.primary_requests

    def latency(m: Minute, canary: bool) -> float:
        return float((m.canary_latency_ms if canary else m.primary_latency_ms) or 0.0)

    for metric in (error_rate, latency):
        experiment = [metric(m, True) for m in pairs]
        control = [metric(m, False) for m in pairs]
        if len(set(experiment + control)) <= 1:
            continue
        low = hodges_lehmann_lower(experiment, control, confidence=0.98)
        if low > 0 and statistics.fmean(experiment) > statistics.fmean(control):
            return "rollback"
    return "promote"


def hodges_lehmann_lower(experiment: list[float], control: list[float], confidence: float) -> float:
    """Lower end of the Mann-Whitney confidence interval of the shift (experiment - control), by the
    normal approximation R's wilcox.test uses for larger samples (Kayenta calls R's algorithm)."""
    diffs = np.sort(np.subtract.outer(np.asarray(experiment), np.asarray(control)).ravel())
    n, m = len(experiment), len(control)
    z = statistics.NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    k = math.floor(n * m / 2 - z * math.sqrt(n * m * (n + m + 1) / 12))
    return float(diffs[max(0, k)])


def rollout(rng: np.random.Generator, scenario: Scenario, policy: Policy) -> Result:
    share = RULES.steps[0]
    history = Tally()
    step_minutes: list[Minute] = []
    since = generated = 0  # this step's evidence starts at minute `since`; minutes simulated so far
    t = 0
    while t < HORIZON:
        t += LOOK
        while generated < t:
            step_minutes.append(minute(rng, scenario, share))
            generated += 1
        decision = policy(step_minutes, history, current_step(share, RULES.steps) or share, t - since)
        if decision in OUTCOMES:
            return Result(OUTCOMES[decision], t)
        if decision == "promote":
            history = history.plus(tally(step_minutes, RULES))
            for _ in range(UPDATING):  # Updating: traffic still flows, nobody's evidence
                minute(rng, scenario, share)
            generated = since = t + UPDATING
            share = next_step(share, RULES.steps) or 100
            step_minutes = []
    return Result("inconclusive", HORIZON)


OUTCOMES = {"rollback": "rolled back", "finish": "reached 100%", "inconclusive": "inconclusive"}


def run(scenario: Scenario, policy: Policy, seed: int, scale: float) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    count = max(1, round(scenario.rollouts * scale))
    results = [rollout(rng, scenario, policy) for _ in range(count)]
    back = [r.minutes for r in results if r.outcome == "rolled back"]
    done = [r.minutes for r in results if r.outcome == "reached 100%"]
    return {
        "rollouts": count,
        "rolled back %": 100.0 * len(back) / count,
        "reached 100% %": 100.0 * len(done) / count,
        "inconclusive %": 100.0 * sum(r.outcome == "inconclusive" for r in results) / count,
        "median min to rollback": statistics.median(back) if back else float("nan"),
        "median min to 100%": statistics.median(done) if done else float("nan"),
    }


def wilson(p: float, n: float) -> tuple[float, float]:
    """95 % Wilson interval of a proportion (for the A/A line)."""
    z = 1.96
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def main() -> None:
    scale = float(os.environ.get("ROLLOUTS", "1"))
    print("## Canary judge: simulated rollouts (stack defaults, a look every 10 minutes)\n")
    print(
        "| scenario | judge | rollouts | rolled back | reached 100% | inconclusive | "
        "median min to rollback | median min to 100% |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    started = time.perf_counter()
    for index, scenario in enumerate(SCENARIOS):
        for label, policy in (("Model Medic", model_medic), ("Kayenta MW", kayenta)):
            row = run(scenario, policy, seed=1000 + index, scale=scale)
            back = f"{row['rolled back %']:.2f}%"
            if scenario.canary == scenario.primary:
                low, high = wilson(row["rolled back %"] / 100, row["rollouts"])
                back += f" (95% CI {low * 100:.2f}-{high * 100:.2f}%)"
            cells = [
                scenario.name,
                label,
                f"{row['rollouts']:.0f}",
                back,
                f"{row['reached 100% %']:.1f}%",
                f"{row['inconclusive %']:.1f}%",
                f"{row['median min to rollback']:.0f}",
                f"{row['median min to 100%']:.0f}",
            ]
            print("| " + " | ".join(cells) + " |")
    print(f"\n{time.perf_counter() - started:.0f} s\n")


if __name__ == "__main__":
    main()
