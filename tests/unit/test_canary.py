"""The canary judge, table-driven, and the z-test against an independent computation; the
rollout's pure decisions: capacity for a share, champion / challenger, the registered report."""

import math
from datetime import timedelta
from statistics import NormalDist

import pytest

from model_medic.canary import Evidence, Rules, current_step, judge, next_step, one_sided_p_value

RULES = Rules()
BAKED = timedelta(minutes=31)


def independent_p(x1: int, n1: int, x2: int, n2: int) -> float:
    """P(Z > z) for the pooled two-proportion z statistic, via the normal CDF."""
    p1, p2, pooled = x1 / n1, x2 / n2, (x1 + x2) / (n1 + n2)
    z = (p1 - p2) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return 1 - NormalDist().cdf(z)


@pytest.mark.parametrize(
    ("x1", "n1", "x2", "n2"),
    [(30, 1000, 20, 1000), (12, 200, 40, 2000), (5, 100, 5, 100), (0, 500, 3, 5000), (60, 400, 10, 3600)],
)
def test_z_test_matches_an_independent_computation(x1, n1, x2, n2):
    assert one_sided_p_value(x1, n1, x2, n2) == pytest.approx(independent_p(x1, n1, x2, n2), abs=1e-9)


def test_z_test_edge_cases():
    assert one_sided_p_value(3, 100, 3, 100) == pytest.approx(0.5)  # equal rates
    assert one_sided_p_value(0, 100, 0, 1000) == 1.0  # no errors anywhere: no evidence
    assert one_sided_p_value(0, 0, 1, 100) is None  # zero counts: no test
    assert one_sided_p_value(1, 2, 0, 3) > 0.05  # tiny samples: not significant
    assert one_sided_p_value(60, 400, 10, 3600) < 1e-6  # a clearly worse canary


def ev(invocations: float, errors: float, latency: float | None = 200.0, p99: float | None = None) -> Evidence:
    return Evidence(invocations, errors, latency, p99)


@pytest.mark.parametrize(
    ("canary", "primary", "step", "baked", "alarms", "decision", "says"),
    [
        (ev(1000, 5), ev(9000, 40), 10, BAKED, ("churn-canary-ErrorRate",), "rollback", "canary alarm in ALARM"),
        (ev(1000, 60), ev(9000, 400), 10, BAKED, (), "rollback", "above the 5% gate"),
        (ev(1000, 5, 1500.0), ev(9000, 40), 10, BAKED, (), "rollback", "above the 1000 ms gate"),
        (ev(1000, 30), ev(9000, 90), 10, BAKED, (), "rollback", "over 1.5x, p = "),
        (ev(1000, 30), ev(9000, 90), 10, timedelta(minutes=5), (), "rollback", "over 1.5x"),  # mid-bake too
        (ev(50, 1), ev(9000, 90), 10, BAKED, (), "hold", "fewer than 100"),  # 2% vs 1%: not significant on 50
        (ev(1000, 5), ev(9000, 45), 10, timedelta(minutes=10), (), "hold", "baking for 30 minutes"),
        (ev(1000, 5), ev(50, 0), 10, BAKED, (), "hold", "primary has 50 invocations"),
        (ev(1000, 5, 300.0), ev(9000, 45, 200.0), 10, BAKED, (), "hold", "over 1.2x primary"),
        (ev(1000, 5), ev(9000, 45), 10, BAKED, (), "promote", "promote 10% -> 25%"),
        (ev(1000, 0), ev(9000, 0), 50, BAKED, (), "promote", "promote 50% -> 100%"),
        # At 100 % the primary has no traffic: the canary alone, then the rollout finishes.
        (ev(1000, 5), ev(0, 0), 100, BAKED, (), "finish", "finish the rollout"),
        (ev(1000, 5), ev(0, 0), 100, timedelta(minutes=5), (), "hold", "baking"),
        (ev(1000, 80), ev(0, 0), 100, BAKED, (), "rollback", "above the 5% gate"),
        # Tail latency: p99 over 1.5x the primary's rolls back, once both have their invocations.
        (ev(1000, 5, 200.0, 900.0), ev(9000, 45, 200.0, 400.0), 10, BAKED, (), "rollback", "p99 latency 900 ms"),
        (ev(1000, 5, 200.0, 550.0), ev(9000, 45, 200.0, 400.0), 10, BAKED, (), "promote", "promote 10% -> 25%"),
        (ev(50, 0, 200.0, 900.0), ev(9000, 45, 200.0, 400.0), 10, BAKED, (), "hold", "fewer than 100"),
        # Too little traffic for 3 bakes: inconclusive, not a hold for ever.
        (ev(50, 0), ev(9000, 45), 10, timedelta(minutes=91), (), "inconclusive", "inconclusive after 91 minutes"),
        (ev(50, 0), ev(9000, 45), 10, timedelta(minutes=89), (), "hold", "canary has 50 invocations"),
    ],
)
def test_judge(canary, primary, step, baked, alarms, decision, says):
    verdict = judge(canary, primary, RULES, step, baked, alarms)
    assert verdict.decision == decision
    assert says in "; ".join(verdict.reasons)


def test_an_insignificant_difference_is_not_a_rollback():
    # 1.6x the primary's rate, but on few requests: p is large, so the canary may go on.
    verdict = judge(ev(200, 2), ev(9000, 56), RULES, 10, BAKED)
    assert verdict.p_value is not None
    assert verdict.p_value > 0.05
    assert verdict.decision == "promote"


def test_steps():
    steps = (5, 10, 25, 50, 100)
    assert [current_step(share, steps) for share in (0.0, 5.0, 9.0, 9.8, 24.7, 100.0)] == [None, 5, 5, 10, 25, 100]
    assert [next_step(step, steps) for step in (None, 5, 50, 100)] == [5, 10, 100, None]


def test_instances_for_a_share_never_leave_a_share_above_what_they_serve():
    from model_medic.rollout import instances_for, reference_capacity

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
def test_champion_challenger(metric, candidate, champion, live, margin, better, says):
    from model_medic.rollout import challenge

    verdict = challenge(metric, candidate, champion, live, margin)
    assert verdict.better is better
    assert says in verdict.reason


def test_registered_metric_reads_a_real_model_quality_report():
    from model_medic.rollout import registered_metric

    report = {"binary_classification_metrics": {"accuracy": {"value": 0.84, "standard_deviation": 0.01}}}
    assert registered_metric(report, "accuracy") == 0.84
    assert registered_metric({"regression_metrics": {"mse": {"value": 2.5}}}, "mse") == 2.5
    assert registered_metric(report, "f1") is None
    assert registered_metric({"binary_classification_metrics": {"accuracy": {"value": "NaN"}}}, "accuracy") is None
    assert registered_metric([], "accuracy") is None
