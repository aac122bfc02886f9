"""The canary judge, table-driven, and the z-test against an independent computation."""

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


def ev(invocations: float, errors: float, latency: float | None = 200.0) -> Evidence:
    return Evidence(invocations, errors, latency)


@pytest.mark.parametrize(
    ("canary", "primary", "step", "baked", "alarms", "decision", "says"),
    [
        (ev(1000, 5), ev(9000, 40), 10, BAKED, ("churn-canary-ErrorRate",), "rollback", "canary alarm in ALARM"),
        (ev(1000, 60), ev(9000, 400), 10, BAKED, (), "rollback", "above the 5% gate"),
        (ev(1000, 5, 1500.0), ev(9000, 40), 10, BAKED, (), "rollback", "above the 1000 ms gate"),
        (ev(1000, 30), ev(9000, 90), 10, BAKED, (), "rollback", "over 1.5x, p = "),
        (ev(1000, 30), ev(9000, 90), 10, timedelta(minutes=5), (), "rollback", "over 1.5x"),  # mid-bake too
        (ev(50, 1), ev(9000, 90), 10, BAKED, (), "hold", "fewer than 100"),  # 2% vs 1%: not significant on 50
        (ev(1000, 5), ev(9000, 45), 10, timedelta(minutes=10), (), "hold", "baking: 10 of 30 minutes"),
        (ev(1000, 5), ev(50, 0), 10, BAKED, (), "hold", "primary has 50 invocations"),
        (ev(1000, 5, 300.0), ev(9000, 45, 200.0), 10, BAKED, (), "hold", "over 1.2x primary"),
        (ev(1000, 5), ev(9000, 45), 10, BAKED, (), "promote", "promote 10% -> 25%"),
        (ev(1000, 0), ev(9000, 0), 50, BAKED, (), "promote", "promote 50% -> 100%"),
        (ev(1000, 5), ev(1000, 5), 100, BAKED, (), "hold", "already serves all traffic"),
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
