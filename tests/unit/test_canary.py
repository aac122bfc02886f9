"""The canary judge, table-driven; the sequential tests' error rates under continuous
monitoring (simulated, fixed seeds) and their small-sample behaviour against scipy's exact
tests; the rollout's pure decisions: capacity for a share, champion / challenger, the
registered report."""

import math
import random
import re
from datetime import timedelta

import pytest
from scipy.stats import binomtest, fisher_exact

from model_medic.remediate.rollout.judge import (
    BUDGET,
    RATIO_HARM,
    RATIO_OK,
    Decision,
    Minute,
    Rules,
    Tally,
    Verdict,
    current_step,
    judge,
    next_step,
    tally,
)
from model_medic.remediate.rollout.sequential import Block, rate_log_e, ratio_bound, ratio_log_e, sign_log_e

RULES = Rules()
BAKED = timedelta(minutes=31)
HARM = (1.5, 2.0, 3.0, 5.0, 10.0)


def minutes(
    count: int,
    canary: float = 60,
    primary: float = 600,
    canary_errors: float = 0.0,
    primary_errors: float = 0.0,
    canary_ms: float = 200.0,
    primary_ms: float = 200.0,
    canary_p99: float | None = None,
    primary_p99: float | None = None,
) -> list[Minute]:
    return [
        Minute(canary, canary_errors, primary, primary_errors, canary_ms, primary_ms, canary_p99, primary_p99)
        for _ in range(count)
    ]


def verdict_of(
    step_minutes: list[Minute], step: int = 10, baked: timedelta = BAKED, alarms: tuple[str, ...] = ()
) -> Verdict:
    this = tally(step_minutes, RULES)
    return judge(this, this, RULES, step, baked, alarms)


@pytest.mark.parametrize(
    ("data", "step", "baked", "alarms", "decision", "says"),
    [
        # A canary alarm in ALARM holds a healthy canary's promotion; it rolls nothing back.
        (minutes(31), 10, BAKED, ("churn-canary-ErrorRate",), "continue", "canary alarm in ALARM"),
        # ... and never makes a step inconclusive: past 6 bakes it still waits for the alarm to clear.
        (minutes(181), 10, timedelta(minutes=181), ("churn-canary-Latency",), "continue", "no promotion while"),
        # 5x the primary's errors, 30 minutes: harm on the error rate, mid-bake too.
        (minutes(30, canary_errors=3, primary_errors=6), 10, BAKED, (), "rollback", "error rate: harm"),
        (minutes(10, canary_errors=3, primary_errors=6), 10, timedelta(minutes=10), (), "rollback", "error rate: harm"),
        # A true error rate above the 5 % ceiling, shown: 12 % of 60 a minute.
        (minutes(20, canary_errors=7.2, primary_errors=72), 10, BAKED, (), "rollback", "error-rate ceiling: harm"),
        # 1 error in 15 is 6.7 %, but no evidence that the true rate is above 5 %.
        (minutes(1, canary=15, canary_errors=1, primary_errors=6), 10, BAKED, (), "continue", "error rate"),
        (minutes(31, canary_ms=300.0), 10, BAKED, (), "rollback", "latency: harm"),
        (minutes(31, canary_ms=1500.0, primary_ms=1400.0), 10, BAKED, (), "rollback", "latency ceiling: harm"),
        (minutes(31, canary_p99=900.0, primary_p99=400.0), 10, BAKED, (), "rollback", "p99 latency: harm"),
        # Healthy: no errors on 1,860 requests, latency the same: promote once baked.
        (minutes(31), 10, BAKED, (), "promote", "promote 10% -> 25%"),
        (minutes(31, canary_p99=420.0, primary_p99=400.0), 50, BAKED, (), "promote", "promote 50% -> 100%"),
        (minutes(10), 10, timedelta(minutes=10), (), "continue", "baking for 30 minutes"),
        (minutes(31, primary=1), 10, BAKED, (), "continue", "primary has 31 invocations"),
        # 15 % slower: within the 20 % effect, neither harm nor in the way of a promotion.
        (minutes(31, canary_ms=230.0), 10, BAKED, (), "promote", "promote 10% -> 25%"),
        # At 100 % the primary has no traffic: the canary alone, then the rollout finishes.
        (minutes(31, primary=0), 100, BAKED, (), "finish", "finish the rollout"),
        (minutes(5, primary=0), 100, timedelta(minutes=5), (), "continue", "baking"),
        (minutes(31, canary=600, canary_errors=80, primary=0), 100, BAKED, (), "rollback", "error-rate ceiling: harm"),
        # Too little traffic for 6 bakes: inconclusive, never promoted, never a hold for ever.
        (minutes(181, canary=0.3), 5, timedelta(minutes=181), (), "inconclusive", "inconclusive after 181 minutes"),
        (minutes(179, canary=0.3), 5, timedelta(minutes=179), (), "continue", "canary has 54 invocations"),
    ],
)
def test_judge(
    data: list[Minute], step: int, baked: timedelta, alarms: tuple[str, ...], decision: Decision, says: str
) -> None:
    verdict = verdict_of(data, step, baked, alarms)
    assert verdict.decision == decision, verdict.reasons
    assert says in "; ".join(verdict.reasons)


def test_a_verdict_reads_per_metric_with_estimates_intervals_and_the_budget() -> None:
    verdict = verdict_of(minutes(30, canary_errors=0.6, primary_errors=6))
    by_metric = {m["metric"]: m for m in verdict.evidence["metrics"]}
    assert set(by_metric) == set(BUDGET)
    errors = by_metric["error rate"]
    assert errors["canary"] == "18/1800 (1.00%)"
    assert errors["primary"] == "180/18000 (1.00%)"
    assert "ratio 1.00; the true ratio is above" in errors["estimate"]
    assert errors["budget"] == pytest.approx(RULES.false_rollback_rate * BUDGET["error rate"])
    assert sum(m["budget"] for m in by_metric.values()) == pytest.approx(RULES.false_rollback_rate)


def test_earlier_steps_count_toward_the_evidence_and_survive_the_ledger() -> None:
    earlier = tally(minutes(30, canary_errors=0.6, primary_errors=6), RULES)
    again = Tally.from_dict(earlier.as_dict())
    assert again == earlier
    now = tally(minutes(30, canary=150, primary=450, canary_errors=1.5, primary_errors=4.5), RULES)
    both = again.plus(now)
    assert len(both.blocks) == 2
    assert both.canary_requests == 1800 + 4500


def test_a_2x_error_rate_judged_at_every_look_is_caught_and_a_healthy_one_is_not() -> None:
    rng = random.Random(7)

    def errors(n: int, p: float) -> int:
        return sum(rng.random() < p for _ in range(n))

    def first_rollback(canary_rate: float) -> int | None:
        data: list[Minute] = []
        for minute in range(1, 241):
            data.append(Minute(100, errors(100, canary_rate), 900, errors(900, 0.01)))
            if minute % 10 == 0 and verdict_of(data, 10, timedelta(minutes=minute)).decision == "rollback":
                return minute
        return None

    assert first_rollback(0.02) is not None
    assert first_rollback(0.01) is None


# --- the sequential tests themselves ------------------------------------------------------------


def test_the_error_rate_test_keeps_its_type_i_error_under_continuous_monitoring() -> None:
    """A/A streams looked at every minute for 300 minutes: the share of streams whose e-value
    ever reaches 1/alpha stays under alpha; a z-test looked at as often does not."""
    rng = random.Random(20261206)
    alpha, streams, looks = 0.05, 400, 300
    ours = naive = 0
    for _ in range(streams):
        canary_errors = primary_errors = 0
        crossed = z_crossed = False
        for look in range(1, looks + 1):
            # 30 canary and 570 primary requests a minute at 1 %: errors as Poisson counts.
            canary_errors += _poisson(rng, 0.3)
            primary_errors += _poisson(rng, 5.7)
            block = Block(30 * look, canary_errors, 570 * look, primary_errors)
            crossed = crossed or ratio_log_e([block], 1.0, HARM) >= math.log(1 / alpha)
            z_crossed = z_crossed or _z(canary_errors, 30 * look, primary_errors, 570 * look) > 1.645
        ours += crossed
        naive += z_crossed
    assert not_above(ours, streams, alpha)
    assert naive / streams > 2 * alpha  # the repeated fixed-sample test is far off its 5 %


def not_above(count: int, trials: int, rate: float) -> bool:
    """Whether `count` in `trials` is consistent with a true rate of at most `rate` (one-sided
    exact binomial test at 1 %): a simulated bound is checked, not a lucky sample."""
    return bool(binomtest(count, trials, rate, alternative="greater").pvalue > 0.01)


def _poisson(rng: random.Random, mean: float) -> int:
    count, total = 0, rng.expovariate(1.0)
    while total < mean:
        count += 1
        total += rng.expovariate(1.0)
    return count


def _z(x1: float, n1: float, x2: float, n2: float) -> float:
    pooled = (x1 + x2) / (n1 + n2)
    variance = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    return 0.0 if variance <= 0 else (x1 / n1 - x2 / n2) / math.sqrt(variance)


@pytest.mark.parametrize("canary_requests", [30, 60, 300])
def test_at_small_samples_the_error_test_is_never_looser_than_fishers_exact_test(canary_requests: int) -> None:
    """Whenever our one look would roll back, Fisher's exact test rejects at the same level
    too (2 errors in 60 against 11 in 1,140: p = 0.135, no rollback)."""
    alpha = RULES.false_rollback_rate * BUDGET["error rate"]
    primary_requests, primary_errors = canary_requests * 19, round(canary_requests * 19 * 0.01)
    for canary_errors in range(canary_requests + 1):
        block = Block(canary_requests, canary_errors, primary_requests, primary_errors)
        if ratio_log_e([block], 1.0, HARM) >= math.log(1 / alpha):
            table = [
                [canary_errors, canary_requests - canary_errors],
                [primary_errors, primary_requests - primary_errors],
            ]
            assert fisher_exact(table, alternative="greater").pvalue < alpha
    two_in_sixty = Block(60, 2, 1140, 11)
    assert ratio_log_e([two_in_sixty], 1.0, HARM) < math.log(1 / alpha)


def test_the_ceiling_test_is_never_looser_than_an_exact_binomial_test() -> None:
    alpha, level = 0.001, 0.05
    for requests in (15, 60, 300):
        for errors in range(requests + 1):
            if rate_log_e(errors, requests, level, (0.075, 0.1, 0.15, 0.25)) >= math.log(1 / alpha):
                assert binomtest(errors, requests, level, alternative="greater").pvalue < alpha
    assert rate_log_e(1, 15, level, (0.075, 0.1, 0.15, 0.25)) < math.log(1 / alpha)  # 1 in 15 is not evidence


def test_the_sign_test_keeps_its_type_i_error_under_continuous_monitoring() -> None:
    rng = random.Random(11)
    alpha, streams = 0.05, 1000
    crossed = 0
    for _ in range(streams):
        hits = 0
        for trial in range(1, 301):
            hits += rng.random() < 0.5
            if sign_log_e(hits, trial, (0.65, 0.8, 0.95)) >= math.log(1 / alpha):
                crossed += 1
                break
    assert not_above(crossed, streams, alpha)


def test_the_ratio_bounds_cover_the_true_ratio() -> None:
    """The bounds shown beside the error-rate finding, each at its own test's level: the harm
    test's lower bound misses a true 2x from above in at most alpha of the runs, the no-harm
    test's upper bound from below in at most the promotion risk."""
    rng = random.Random(3)
    alpha, beta, runs = 0.05, 0.05, 400
    above = below = 0
    for _ in range(runs):
        canary = sum(_poisson(rng, 0.6) for _ in range(60))  # 2x: 2 % of 30 a minute
        primary = sum(_poisson(rng, 5.7) for _ in range(60))
        blocks = [Block(1800, canary, 34200, primary)]
        above += ratio_bound(blocks, 1.0, tuple(1.5 * k for k in RATIO_HARM), alpha) >= 2.0
        below += ratio_bound(blocks, 1.5, RATIO_OK, beta) <= 2.0
    assert not_above(above, runs, alpha)
    assert not_above(below, runs, beta)


def _bounds(estimate: str) -> tuple[float, float]:
    """The lower and upper bounds an error-rate estimate shows (0 and infinity where it shows none)."""
    lower = re.search(r"above ([0-9.e+-]+) \(", estimate)
    upper = re.search(r"below ([0-9.e+-]+) \(", estimate)
    return float(lower.group(1)) if lower else 0.0, float(upper.group(1)) if upper else math.inf


def test_what_the_error_rate_verdict_shows_agrees_with_what_it_decided() -> None:
    """Harm exactly when the shown lower bound is above 1; no harm on the ratio exactly when the
    shown upper bound is below the effect - over canaries from none to ten times the primary's
    errors, at three traffic levels."""
    seen = set()
    for canary, primary, primary_errors in ((60, 600, 60 / 31), (600, 6000, 600 / 31), (6000, 60000, 6000 / 31)):
        for tenths in range(0, 101, 2):
            data = minutes(31, canary, primary, primary_errors * tenths / 10 / 10, primary_errors)
            [errors] = [m for m in verdict_of(data).metrics if m.metric == "error rate"]
            lower, upper = _bounds(errors.estimate)
            assert (errors.finding == "harm") == (lower >= 1.0), errors.estimate
            if errors.finding == "harm":
                assert lower > 1.0
                assert "harm when above 1" in errors.estimate
            if errors.finding == "ok" and "its own error rate" not in errors.estimate:
                assert upper < RULES.error_effect, errors.estimate
            seen.add(errors.finding)
    assert seen == {"harm", "ok", "undecided"}


def test_errors_on_the_canary_alone_are_shown_as_counts_not_as_no_errors() -> None:
    data = minutes(1, 1860, 18600, 8, 0)  # one minute of 1,860 and 18,600 requests, 31 minutes baked
    assert tally(data, RULES).blocks == (Block(1860, 8, 18600, 0),)
    [errors] = [m for m in verdict_of(data).metrics if m.metric == "error rate"]
    assert errors.finding == "harm"
    assert errors.estimate.startswith("no ratio: canary 8 error(s), primary none; the true ratio is above")
    assert _bounds(errors.estimate)[0] > 1.0


def test_a_canary_worse_by_less_than_the_effect_is_rolled_back_only_above_the_drift_point() -> None:
    """The null is "no worse" (rho <= 1), not "worse by less than the effect": at 6,000 canary
    requests a minute for 31 minutes a 1.3x canary is rolled back; a 1.15x one, below
    (effect - 1) / ln(effect) = 1.23 where every alternative fits worse than the null, is not
    (it is shown below the effect and promoted)."""
    for ratio, decision in ((1.3, "rollback"), (1.15, "promote")):
        data = minutes(31, 6000, 60000, 60 * ratio, 600)
        assert verdict_of(data).decision == decision, ratio
    assert (RULES.error_effect - 1) / math.log(RULES.error_effect) == pytest.approx(1.233, abs=1e-3)


def test_steps() -> None:
    steps = (5, 10, 25, 50, 100)
    assert [current_step(share, steps) for share in (0.0, 5.0, 9.0, 9.8, 24.7, 100.0)] == [None, 5, 5, 10, 25, 100]
    assert [next_step(step, steps) for step in (None, 5, 50, 100)] == [5, 10, 100, None]


def test_instances_for_a_share_never_leave_a_share_above_what_they_serve() -> None:
    from model_medic.remediate.rollout.plan import instances_for, reference_capacity

    for reference in (1, 2, 3, 4, 7, 10, 40):
        for share in (1, 5, 10, 25, 33, 50, 75, 100):
            need = instances_for(reference, share)
            assert need >= 1
            assert need * 100 >= reference * share  # enough for its share
            assert need == 1 or (need - 1) * 100 < reference * share  # and not one more than needed
    # The primary's auto scaling added instances: the traffic grew, the reference follows.
    assert reference_capacity(6, 4.0) == 6.0
    assert reference_capacity(3, 4.0) == 4.0  # scaled in for a smaller share: never less than remembered


@pytest.mark.parametrize(
    ("metric", "candidate", "champion", "live", "margin", "better", "says"),
    [
        (
            "accuracy",
            0.91,
            0.85,
            0.78,
            0.01,
            True,
            "better: candidate accuracy 0.91 vs the serving model's registered 0.85, live 0.78",
        ),
        ("accuracy", 0.80, 0.85, 0.78, 0.0, False, "not better"),
        ("accuracy", 0.86, 0.85, None, 0.02, False, "margin 0.02"),  # better, but not by the margin
        ("accuracy", 0.85, 0.85, None, 0.0, False, "not better"),  # equal is not better
        ("accuracy", 0.88, 0.80, 0.90, 0.0, False, "live 0.9"),  # must beat the live figure too
        ("rmse", 1.2, 1.5, None, 0.1, True, "better"),  # lower is better
        ("rmse", 1.45, 1.5, None, 0.1, False, "not better"),
        ("accuracy", None, 0.85, None, 0.0, False, "no registered accuracy"),
        ("accuracy", 0.7, None, None, 0.0, True, "has no accuracy to compare"),
    ],
)
def test_champion_challenger(
    metric: str,
    candidate: float | None,
    champion: float | None,
    live: float | None,
    margin: float,
    better: bool,
    says: str,
) -> None:
    from model_medic.remediate.rollout.challenge import challenge

    verdict = challenge(metric, candidate, champion, live, margin)
    assert verdict.better is better
    assert says in verdict.reason


def test_registered_metric_reads_a_real_model_quality_report() -> None:
    from model_medic.remediate.rollout.challenge import registered_metric

    report = {"binary_classification_metrics": {"accuracy": {"value": 0.84, "standard_deviation": 0.01}}}
    assert registered_metric(report, "accuracy") == 0.84
    assert registered_metric({"regression_metrics": {"mse": {"value": 2.5}}}, "mse") == 2.5
    assert registered_metric(report, "f1") is None
    assert registered_metric({"binary_classification_metrics": {"accuracy": {"value": "NaN"}}}, "accuracy") is None
    assert registered_metric([], "accuracy") is None
