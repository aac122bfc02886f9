"""Drift statistics checked against independent computations (numpy, scipy) on seeded data."""

import base64
import json
import math
import random

import numpy as np
import pytest
from scipy import stats

from model_medic.drift import (
    EPSILON,
    Sample,
    build_baseline,
    categorical_psi,
    from_model_monitor,
    ks_statistic,
    numeric_psi,
    psi,
    sample_for,
)


def training_csv(rows: int = 5000, seed: int = 7) -> tuple[str, list[float], list[str]]:
    rng = random.Random(seed)
    ages = [rng.gauss(45, 10) for _ in range(rows)]
    plans = rng.choices(["basic", "plus", "pro"], weights=[50, 30, 20], k=rows)
    # The label first, as SageMaker's built-in algorithms expect it: the baseline leaves it out.
    lines = ["churned,age,plan"] + [f"{int(a > 50)},{a:.4f},{p}" for a, p in zip(ages, plans, strict=True)]
    return "\n".join(lines), [round(a, 4) for a in ages], plans


def independent_psi(expected: np.ndarray, actual: np.ndarray) -> float:
    e, a = np.maximum(expected, EPSILON), np.maximum(actual, EPSILON)
    return float(np.sum((a - e) * np.log(a / e)))


def numpy_bins(values: list[float], edges: list[float]) -> np.ndarray:
    # Bins (-inf, e0], (e0, e1], ... (e_last, inf): right-closed, as the baseline defines them.
    index = np.searchsorted(np.array(edges), np.array(values), side="left")
    return np.bincount(index, minlength=len(edges) + 1) / len(values)


@pytest.fixture(scope="module")
def baseline():
    text, ages, plans = training_csv()
    return build_baseline(text), ages, plans


def test_baseline_has_quantile_bins_and_category_shares(baseline):
    built, ages, plans = baseline
    age, plan = built["features"]
    assert (age["name"], age["type"], plan["type"]) == ("age", "numeric", "categorical")
    assert len(age["edges"]) == 9
    assert np.allclose(age["edges"], np.quantile(ages, [i / 10 for i in range(1, 10)]))
    assert age["proportions"] == pytest.approx([0.1] * 10, abs=0.002)
    assert plan["proportions"] == pytest.approx({k: plans.count(k) / len(plans) for k in set(plans)})


@pytest.mark.parametrize(("shift", "low", "high"), [(0.0, 0.0, 0.02), (-5.0, 0.2, 0.4)])
def test_numeric_psi_and_ks_match_numpy_and_scipy(baseline, shift, low, high):
    built, ages, _ = baseline
    age = built["features"][0]
    rng = random.Random(11)
    now = [rng.gauss(45 + shift, 10) for _ in range(4000)]
    ours = numeric_psi(age, now)
    expected = independent_psi(np.array(age["proportions"]), numpy_bins(now, age["edges"]))
    assert ours == pytest.approx(expected, rel=1e-9)
    assert low <= ours <= high  # no shift: small; mean 45 -> 40: above the 0.2 "significant" line
    scipy_ks = stats.ks_2samp(ages, now).statistic
    assert ks_statistic(age, now) == pytest.approx(scipy_ks, abs=0.01)


def test_category_mix_shift_matches_the_formula_and_unseen_categories_get_their_own_bin(baseline):
    built, _, _ = baseline
    plan = built["features"][1]
    now = ["basic"] * 300 + ["plus"] * 400 + ["pro"] * 300  # 50/30/20 -> 30/40/30
    expected = independent_psi(
        np.array([plan["proportions"][k] for k in ("basic", "plus", "pro")] + [0.0]), np.array([0.3, 0.4, 0.3, 0.0])
    )
    assert categorical_psi(plan, now) == pytest.approx(expected)
    assert categorical_psi(plan, now) > 0.1  # a moderate shift (0.17): visible, below the 0.2 default alarm
    with_new = now[:-100] + ["enterprise"] * 100
    value = categorical_psi(plan, with_new)
    assert math.isfinite(value)
    assert value > categorical_psi(plan, now)


def test_empty_bins_are_smoothed_so_psi_stays_finite():
    assert math.isfinite(psi([0.5, 0.5, 0.0], [0.0, 0.5, 0.5]))
    assert psi([0.2, 0.8], [0.2, 0.8]) == 0.0


def test_capture_records_in_every_encoding_and_malformed_lines_are_counted(baseline):
    built, _, _ = baseline
    sample = sample_for(built)

    def line(data: str, encoding: str, content_type: str) -> str:
        return json.dumps(
            {
                "captureData": {
                    "endpointInput": {
                        "observedContentType": content_type,
                        "mode": "INPUT",
                        "data": data,
                        "encoding": encoding,
                    }
                },
                "eventMetadata": {"eventId": "e", "inferenceTime": "2026-11-22T09:10:00Z"},
            }
        )

    text = "\n".join(
        [
            line("41.5,plus", "CSV", "text/csv"),
            line(json.dumps({"age": 38, "plan": "basic"}), "JSON", "application/json"),
            line(json.dumps([52.0, "pro"]), "JSON", "application/json"),
            line(base64.b64encode(b"47,basic").decode(), "BASE64", "text/csv"),
            line(
                base64.b64encode(json.dumps({"instances": [{"age": 60, "plan": "pro"}]}).encode()).decode(),
                "BASE64",
                "application/json",
            ),
            "not json",
            line("41.5", "CSV", "text/csv"),  # a feature missing
            line("old,plus", "CSV", "text/csv"),  # not a number
            json.dumps({"captureData": {}}),
        ]
    )
    sample.add_capture_file(text)
    assert (sample.rows, sample.malformed, sample.mismatched) == (5, 3, 1)
    # Rows keep their pairing across columns; their order within the hour does not matter.
    pairs = sorted(zip(sample.values["age"], sample.values["plan"], strict=True))
    assert pairs == [(38.0, "basic"), (41.5, "plus"), (47.0, "basic"), (52.0, "pro"), (60.0, "pro")]


def test_a_model_monitor_statistics_file_is_accepted():
    statistics = {
        "version": 0.0,
        "dataset": {"item_count": 100},
        "features": [
            {
                "name": "age",
                "inferred_type": "Fractional",
                "numerical_statistics": {
                    "distribution": {
                        "kll": {
                            "buckets": [
                                {"lower_bound": 20, "upper_bound": 40, "count": 50},
                                {"lower_bound": 40, "upper_bound": 60, "count": 50},
                            ]
                        }
                    }
                },
            },
            {
                "name": "plan",
                "inferred_type": "String",
                "string_statistics": {
                    "distribution": {
                        "categorical": {"buckets": [{"value": "basic", "count": 70}, {"value": "pro", "count": 30}]}
                    }
                },
            },
        ],
    }
    built = from_model_monitor(statistics, label_column="none")  # a statistics.json without the label
    age, plan = built["features"]
    assert (age["edges"], age["proportions"]) == ([40], [0.5, 0.5])
    assert plan["proportions"] == {"basic": 0.7, "pro": 0.3}
    assert numeric_psi(age, [30.0] * 50 + [50.0] * 50) == pytest.approx(0.0)
    assert ks_statistic(age, [30.0] * 50 + [50.0] * 50) <= 0.25


def test_rows_of_another_width_say_which_way_the_label_column_went_wrong():
    sample = Sample(["age", "plan"], {"age"})
    sample.add_row(["41", "pro", "extra"])
    assert sample.shape_problem() is not None
    assert "one more: was a feature left out as the label" in str(sample.shape_problem())
    sample = Sample(["churned", "age", "plan"], {"churned", "age"})
    sample.add_row(["41", "pro"])
    assert "one fewer: was the baseline built with the label column left in (first feature 'churned')" in str(
        sample.shape_problem()
    )
    assert Sample(["age"], {"age"}).shape_problem() is None


@pytest.mark.parametrize(
    ("training", "now"),
    [
        ([0.0, 1.0] * 500, [0.0, 1.0] * 100),  # a 0/1 feature with no drift
        ([0.0, 1.0] * 500, [0.0] * 150 + [1.0] * 50),  # the same feature, drifted
        ([1.0, 2.0, 2.0, 3.0, 3.0, 3.0, 5.5] * 300, [1.0, 2.0, 3.0, 3.0, 5.5, 5.5] * 50),  # a few repeated values
    ],
)
def test_ks_on_tied_data_matches_scipy(training: list[float], now: list[float]):
    built = build_baseline("\n".join(["label,x"] + [f"1,{v}" for v in training]), label_column="label")
    assert ks_statistic(built["features"][0], now) == pytest.approx(stats.ks_2samp(training, now).statistic, abs=0.002)
