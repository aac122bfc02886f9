"""The component judge's pure parts: the Clopper-Pearson bound against scipy, the judge's false
rollback rate under H0 with repeated looks, the batch sizes AWS allows, and what a state reads as."""

import math
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from scipy.stats import beta, binom

from model_medic.remediate.rollout.component_judge import (
    ALTERNATIVE_STEPS,
    Batches,
    Counts,
    batches,
    clopper_pearson_upper,
    deployment_config,
    ending,
    judge,
    verdict_minutes,
)
from tests.unit.test_canary import not_above


@pytest.mark.parametrize(
    ("errors", "requests", "alpha"),
    [(0, 10, 0.005), (5, 1000, 0.005), (120, 100_000, 0.025), (3000, 2_000_000, 0.005), (9, 10, 0.05), (0, 1, 0.05)],
)
def test_the_upper_bound_is_scipys_beta_quantile(errors: int, requests: int, alpha: float) -> None:
    expected = beta.ppf(1 - alpha, errors + 1, requests - errors)
    assert clopper_pearson_upper(errors, requests, alpha) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_the_upper_bound_of_all_errors_or_no_requests_is_one() -> None:
    assert clopper_pearson_upper(10, 10, 0.01) == 1.0
    assert clopper_pearson_upper(0, 0, 0.01) == 1.0


def _bound_under_h0(p: float, baseline_requests: int, looks: int, batch: int, alpha: float) -> float:
    """A bound on the chance that the judge ever rolls back a version erring at `p` as the
    baseline did, proved for this scenario rather than for H0 at large. Given the baseline's
    errors (hence the level), each look's e-value is a mean over the alternatives a of a product
    of independent per-request likelihood ratios, whose expectation is m(a)^n with m(a) =
    p a / level + (1 - p)(1 - a)/(1 - level); by Markov's inequality at each look and the union
    over looks, P(ever >= 2/alpha) <= sum over looks of E[e] x alpha/2 - and, where the level is
    at least p, <= alpha/2 (Ville). Summed over the baseline's binomial errors."""
    total = float(binom.sf(300, baseline_requests, p) + binom.cdf(99, baseline_requests, p))  # tails: 1 each
    for errors in range(100, 301):
        level = judge(Counts(baseline_requests, errors), Counts(0, 0), alpha).level
        factors = [p * a / level + (1 - p) * (1 - a) / (1 - level) for a in (level * s for s in ALTERNATIVE_STEPS)]
        logs = [math.log(f) for f in factors]
        markov = sum(
            float(np.mean([math.exp(min(700.0, batch * look * g)) for g in logs])) for look in range(1, looks + 1)
        )
        chance = min(1.0, markov * alpha / 2, alpha / 2 if level >= p else 1.0)
        total += float(binom.pmf(errors, baseline_requests, p)) * chance
    return total


def test_under_h0_repeated_looks_roll_back_no_more_often_than_the_judge_allows() -> None:
    """2,000 rollouts of a version exactly as good as before, each looked at 20 times: the share
    rolled back stays within `_bound_under_h0` for this scenario (0.8 %), far below alpha (here
    0.05), so that a judge rolling back even 2 % of them would fail - alpha itself is only the
    bound over every H0, and 2,000 runs could not tell 4.9 % from 5 %."""
    rng = np.random.default_rng(20261122)
    alpha, runs, looks, batch = 0.05, 2000, 20, 500
    p = 0.01
    bound = _bound_under_h0(p, 20_000, looks, batch, alpha)
    assert bound < alpha / 5  # 0.8 %: the Clopper-Pearson bound wrong, mostly
    rejected = 0
    for _ in range(runs):
        baseline = Counts(20_000, float(rng.binomial(20_000, p)))
        requests = errors = 0.0
        for _ in range(looks):
            requests += batch
            errors += float(rng.binomial(batch, p))
            if judge(baseline, Counts(requests, errors), alpha).decision == "reject":
                rejected += 1
                break
    assert not_above(rejected, runs, bound)
    assert not not_above(round(0.02 * runs), runs, bound)  # 2 % would be caught


def test_a_version_that_errs_three_times_as_often_is_rejected_within_a_few_looks() -> None:
    rng = random.Random(7)
    baseline = Counts(100_000, 500)
    requests = errors = 0.0
    looks = 0
    while looks < 20 and judge(baseline, Counts(requests, errors), 0.01).decision != "reject":
        looks += 1
        requests += 1000
        errors += sum(rng.random() < 0.015 for _ in range(1000))
    assert 1 <= looks <= 5


def test_no_baseline_is_no_verdict() -> None:
    verdict = judge(Counts(0, 0), Counts(100, 50), 0.01)
    assert verdict.decision == "no-baseline"
    assert math.isclose(verdict.threshold, math.log(200))


def test_the_threshold_is_two_over_alpha() -> None:
    verdict = judge(Counts(100_000, 500), Counts(5000, 80), 0.01)
    assert verdict.decision == "reject"
    assert verdict.as_dict()["threshold"] == 200


@pytest.mark.parametrize(
    ("copies", "batch", "count"), [(2, 1, 2), (4, 1, 4), (20, 1, 20), (21, 2, 11), (40, 2, 20), (100, 5, 20)]
)
def test_the_batch_is_the_smallest_aws_allows(copies: int, batch: int, count: int) -> None:
    sizes = batches(copies, 10)
    assert isinstance(sizes, Batches)
    assert (sizes.batch, sizes.count, sizes.wait_seconds) == (batch, count, 600)
    assert 0.05 <= sizes.batch / copies <= 0.5
    assert 600 <= sizes.timeout_seconds <= 28800


def test_a_component_of_one_copy_has_no_batch() -> None:
    assert isinstance(batches(1, 10), str)
    assert "one copy cannot be updated in batches" in str(batches(1, 10))


def test_the_bake_and_the_timeout_stay_within_awss_ranges() -> None:
    sizes = batches(100, 24 * 60)
    assert isinstance(sizes, Batches)
    assert (sizes.wait_seconds, sizes.timeout_seconds) == (3600, 28800)
    config = deployment_config(sizes, ["a", "b"])
    assert config["RollingUpdatePolicy"]["MaximumBatchSize"] == {"Type": "COPY_COUNT", "Value": 5}
    assert config["AutoRollbackConfiguration"] == {"Alarms": [{"AlarmName": "a"}, {"AlarmName": "b"}]}


def test_the_verdict_covers_the_minutes_to_the_next_look() -> None:
    minutes = verdict_minutes(datetime(2026, 11, 22, 10, 10, 30, tzinfo=UTC), timedelta(minutes=15))
    assert minutes[0] == datetime(2026, 11, 22, 10, 10, tzinfo=UTC)
    assert len(minutes) == 16


@pytest.mark.parametrize(
    ("status", "digest", "expected"),
    [
        ("Updating", "new", "updating"),
        ("InService", "new", "rolled-out"),
        ("InService", "old", "rolled-back"),
        ("InService", "other", "changed"),
        ("Failed", "new", "failed"),
    ],
)
def test_what_the_component_says_of_its_update(status: str, digest: str, expected: str) -> None:
    assert ending(status, digest, "new", "old") == expected


def _roll(**overrides: Any) -> Any:
    from model_medic.remediate.rollout.component_changes import RollComponent

    values: dict[str, Any] = {
        "component": "c",
        "package": "arn:aws:sagemaker:us-east-1:123456789012:model-package/g/2",
        "model": "g-2-model",
        "from_model": "g-1-model",
        "from_spec": "{}",
        "to_spec": "{}",
        "from_digest": "old",
        "to_digest": "new",
        "alarm": "e-c-RolloutVerdict",
        "alarms": "e-c-RolloutVerdict",
        "copies": 4,
        "batch": 1,
        "wait_seconds": 600,
        "timeout_seconds": 6000,
        "baseline_requests": 1000.0,
        "baseline_errors": 5.0,
    }
    return RollComponent(**{**values, **overrides})


@pytest.mark.parametrize(
    ("status", "digest", "alarms", "called", "seen", "stops"),
    [
        ("Updating", "old", ["e-c-RolloutVerdict"], False, "took", False),  # made before, its answer lost
        ("Updating", "old", ["someone-elses"], False, "not-applied", False),  # a person's update: not ours
        ("Updating", "old", [], True, "took", False),
        ("InService", "new", [], False, "took", False),
        ("InService", "old", [], False, "not-applied", False),
        ("InService", "old", [], True, "took", False),  # rolled back already: read back by the next look
        ("InService", "third", [], False, "took", True),  # a person's specification: the rollout stops
        ("Failed", "new", [], True, "failed", False),
    ],
)
def test_the_rolling_update_read_back(
    status: str, digest: str, alarms: list[str], called: bool, seen: str, stops: bool
) -> None:
    from model_medic.remediate.rollout.component import roll_observation

    described = {
        "InferenceComponentStatus": status,
        "LastDeploymentConfig": {"AutoRollbackConfiguration": {"Alarms": [{"AlarmName": a} for a in alarms]}},
    }
    observed = roll_observation(_roll(), described, status, digest, called)
    assert (observed.seen, observed.stops) == (seen, stops)
