"""Drift statistics checked against independent computations (numpy, scipy) on seeded data."""

import base64
import json
import math
import random
from typing import Any

import numpy as np
import pytest
from scipy import stats

from model_medic.measure.baseline import build_baseline, from_model_monitor
from model_medic.measure.capture_sample import Sample, first_column_is_label, read_hour, sample_for, with_label_decided
from model_medic.measure.drift_statistics import (
    EPSILON,
    categorical_psi,
    category_bins,
    ks_statistic,
    numeric_psi,
    psi,
)


def training_csv(rows: int = 5000, seed: int = 7) -> tuple[str, list[float], list[str]]:
    rng = random.Random(seed)
    ages = [rng.gauss(45, 10) for _ in range(rows)]
    plans = rng.choices(["basic", "plus", "pro"], weights=[50, 30, 20], k=rows)
    # The label first, as SageMaker's built-in algorithms expect it: two-value captured rows leave it out.
    lines = ["churned,age,plan"] + [f"{int(a > 50)},{a:.4f},{p}" for a, p in zip(ages, plans, strict=True)]
    return "\n".join(lines), [round(a, 4) for a in ages], plans


def independent_psi(expected: np.ndarray, actual: np.ndarray) -> float:
    e, a = np.maximum(expected, EPSILON), np.maximum(actual, EPSILON)
    return float(np.sum((a - e) * np.log(a / e)))


def numpy_bins(values: list[float], edges: list[float]) -> np.ndarray:
    # Bins (-inf, e0], (e0, e1], ... (e_last, inf): right-closed, as the baseline defines them.
    index = np.searchsorted(np.array(edges), np.array(values), side="left")
    return np.bincount(index, minlength=len(edges) + 1) / len(values)


type Built = tuple[dict[str, Any], list[float], list[str]]


@pytest.fixture(scope="module")
def baseline() -> Built:
    text, ages, plans = training_csv()
    return with_label_decided(build_baseline(text), label_first=True), ages, plans


def test_baseline_has_quantile_bins_and_category_shares(baseline: Built) -> None:
    built, ages, plans = baseline
    age, plan = built["features"]
    assert (age["name"], age["type"], plan["type"]) == ("age", "numeric", "categorical")
    assert len(age["edges"]) == 9
    assert np.allclose(age["edges"], np.quantile(ages, [i / 10 for i in range(1, 10)]))
    assert age["proportions"] == pytest.approx([0.1] * 10, abs=0.002)
    assert plan["proportions"] == pytest.approx({k: plans.count(k) / len(plans) for k in set(plans)})


@pytest.mark.parametrize(("shift", "low", "high"), [(0.0, 0.0, 0.02), (-5.0, 0.2, 0.4)])
def test_numeric_psi_and_ks_match_numpy_and_scipy(baseline: Built, shift: float, low: float, high: float) -> None:
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


def test_category_mix_shift_matches_the_formula_and_unseen_categories_get_their_own_bin(baseline: Built) -> None:
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


def test_empty_bins_are_smoothed_so_psi_stays_finite() -> None:
    assert math.isfinite(psi([0.5, 0.5, 0.0], [0.0, 0.5, 0.5]))
    assert psi([0.2, 0.8], [0.2, 0.8]) == 0.0


def test_capture_records_in_every_encoding_and_malformed_lines_are_counted(baseline: Built) -> None:
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
    assert sample.counts() == (5, 4, 0)  # a record cut short among good ones is a malformed record
    # Rows keep their pairing across columns; their order within the hour does not matter.
    pairs = sorted(zip(sample.values["age"], sample.values["plan"], strict=True))
    assert pairs == [(38.0, "basic"), (41.5, "plus"), (47.0, "basic"), (52.0, "pro"), (60.0, "pro")]


def test_a_model_monitor_statistics_file_is_accepted() -> None:
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


def test_rows_of_another_width_say_which_way_the_label_column_went_wrong() -> None:
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
def test_ks_on_tied_data_matches_scipy(training: list[float], now: list[float]) -> None:
    built = build_baseline("\n".join(["label,x"] + [f"1,{v}" for v in training]), label_column="label")
    assert ks_statistic(built["features"][0], now) == pytest.approx(stats.ks_2samp(training, now).statistic, abs=0.002)


# --- the label column decided by the widths; records of another width -------------------------


def capture_file(requests: list[str], content_type: str = "text/csv") -> bytes:
    encoding = "JSON" if "json" in content_type else "CSV"
    lines = [
        json.dumps(
            {
                "captureData": {
                    "endpointInput": {
                        "observedContentType": content_type,
                        "mode": "INPUT",
                        "data": data,
                        "encoding": encoding,
                    }
                },
                "eventMetadata": {"eventId": f"e{i}", "inferenceTime": "2026-11-22T09:10:00Z"},
            }
        )
        for i, data in enumerate(requests)
    ]
    return "\n".join(lines).encode()


@pytest.mark.parametrize(
    ("training", "captured", "expected"),
    [
        (70, 70, False),  # inputs only: every column is a feature
        (70, 69, True),  # the label first, as SageMaker's built-in algorithms expect it
        (70, 68, None),  # neither
        (70, 71, None),
        (1, 1, False),
        (2, 1, True),
    ],
)
def test_the_widths_alone_say_whether_the_first_column_is_the_label(
    training: int, captured: int, expected: bool | None
) -> None:
    assert first_column_is_label(training, captured) is expected


def test_the_capture_decides_the_label_column_of_a_training_set_with_one_and_of_one_without() -> None:
    text, _, _ = training_csv(rows=500)
    labelled = build_baseline(text)  # label_column "auto", the default
    assert (labelled["label_column"], labelled["label_candidate"]) == (None, "churned")
    assert [f["name"] for f in labelled["features"]] == ["churned", "age", "plan"]
    inputs_only = build_baseline("\n".join(line.split(",", 1)[1] for line in text.splitlines()))
    assert inputs_only["label_candidate"] == "age"
    requests = ["41.5,plus", "50,basic\n38,pro"]  # two values a row; a request of two rows
    used, sample = read_hour(labelled, [capture_file(requests)])
    assert (used["label_column"], [f["name"] for f in used["features"]]) == ("churned", ["age", "plan"])
    assert sample.counts() == (3, 0, 0)
    assert sorted(sample.values["age"]) == [38.0, 41.5, 50.0]
    used, sample = read_hour(inputs_only, [capture_file(requests)])
    assert (used["label_column"], [f["name"] for f in used["features"]]) == (None, ["age", "plan"])
    assert sample.counts() == (3, 0, 0)
    # Records of named values: the first column's name says it.
    named = [json.dumps({"instances": [{"age": 41.5, "plan": "plus"}, {"age": 50, "plan": "basic"}]})]
    used, sample = read_hour(labelled, [capture_file(named, "application/json")])
    assert used["label_column"] == "churned"
    assert sample.counts() == (2, 0, 0)
    used, sample = read_hour(inputs_only, [capture_file(named, "application/json")])
    assert (used["label_column"], sample.counts()) == (None, (2, 0, 0))
    # A Model Monitor statistics.json is decided the same way.
    statistics = {
        "features": [
            {"name": "churned", "numerical_statistics": {}},  # no KLL buckets: skipped, keeps its place
            {
                "name": "plan",
                "string_statistics": {"distribution": {"categorical": {"buckets": [{"value": "basic", "count": 1}]}}},
            },
        ]
    }
    monitor = from_model_monitor(statistics)
    assert (monitor["label_candidate"], monitor["columns"]) == ("churned", ["churned", "plan"])
    assert with_label_decided(monitor, label_first=True)["columns"] == ["plan"]
    assert with_label_decided(monitor, label_first=False)["columns"] == ["churned", "plan"]


def test_an_hour_of_another_width_than_either_layout_says_so_with_the_training_set_s_width() -> None:
    text, _, _ = training_csv(rows=500)
    _, sample = read_hour(build_baseline(text), [capture_file(["1,2,3,4,5"] * 4)])
    assert sample.counts() == (0, 0, 4)
    problem = sample.shape_problem()
    assert problem is not None
    assert "4 captured row(s) have 5 values but the training set has 3 columns" in problem
    assert "without a label column have 3 values, with the label first 2" in problem


def test_the_hour_is_decided_once_and_rows_of_the_other_width_are_malformed_records() -> None:
    text, _, _ = training_csv(rows=500)
    requests = ["41.5,plus"] * 300 + ["0,41.5,plus", "41.5"]  # a stray label and a line cut short
    used, sample = read_hour(build_baseline(text), [capture_file(requests)])
    assert used["label_column"] == "churned"
    assert sample.shape_problem() is None
    assert sample.counts() == (300, 2, 0)


def test_a_csv_record_cut_short_or_too_long_is_malformed_not_a_row() -> None:
    sample = Sample(["age", "plan", "region"], {"age"})
    good = [f"{40 + i % 10},basic,eu" for i in range(200)]
    sample.add_capture_file(capture_file([*good, "41,pro", "42,plus,eu,extra", "43,pro,us\n44"]))
    assert sample.counts() == (201, 3, 0)  # the batched request's full line is a row, its cut line is not
    assert sorted(set(sample.values["plan"])) == ["basic", "pro"]
    # Most of the hour of another width: not malformed records but a shape mismatch.
    sample = Sample(["age", "plan", "region"], {"age"})
    sample.add_capture_file(capture_file(["41,pro"] * 5 + ["41,pro,eu"]))
    assert sample.counts() == (1, 0, 5)
    assert sample.shape_problem() is not None


# --- NaN and infinity: malformed values, never compared ------------------------------------------


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_one_nan_or_infinity_in_an_hour_leaves_psi_and_ks_as_they_were(baseline: Built, bad: float) -> None:
    built, _, _ = baseline
    age = built["features"][0]
    rng = random.Random(1)
    now = [rng.gauss(45, 10) for _ in range(500)]
    spoiled = [*now[:250], bad, *now[250:]]
    # Before: one NaN left `sorted` out of order and the bisects counted wrong (PSI 1.1, KS 0.5 here).
    assert numeric_psi(age, spoiled) == pytest.approx(numeric_psi(age, now), abs=0.01)
    assert ks_statistic(age, spoiled) == pytest.approx(ks_statistic(age, now), abs=0.01)
    assert numeric_psi(age, now) < 0.05
    with pytest.raises(ValueError, match="no finite value"):
        numeric_psi(age, [math.nan, math.inf])


def test_nan_and_infinity_in_a_capture_are_malformed_values_in_csv_and_json_alike(baseline: Built) -> None:
    built, _, _ = baseline
    sample = sample_for(built)
    csv_file = capture_file(["41.5,plus", "nan,basic", "NaN,pro\n38,basic", "inf,plus", "-Infinity,pro", "1e999,pro"])
    sample.add_capture_file(csv_file)
    assert (sample.rows, sample.malformed, dict(sample.non_finite)) == (2, 5, {"age": 5})
    json_requests = [
        json.dumps({"instances": [[50, "pro"], ["NaN", "basic"]]}),  # a JSON string float() reads as NaN
        json.dumps([60, "plus"]),
        '{"instances": [[52, "pro"], [NaN, "basic"]]}',  # a bare NaN (Python's json.dumps): not JSON
    ]
    sample.add_capture_file(capture_file(json_requests, "application/json"))
    assert (sample.rows, sample.malformed, dict(sample.non_finite)) == (4, 7, {"age": 6})
    assert sorted(sample.values["age"]) == [38.0, 41.5, 50.0, 60.0]


# --- categorical features: at most ten bins ---------------------------------------------------


def categories_baseline(shares: dict[str, float], rows: int, rng: random.Random) -> dict[str, Any]:
    drawn = rng.choices(list(shares), weights=list(shares.values()), k=rows)
    return build_baseline("\n".join(["c", *drawn]), label_column="none")["features"][0]  # type: ignore[no-any-return]


def test_a_feature_of_many_categories_is_not_taken_for_drifted_by_sampling_noise() -> None:
    rng = random.Random(3)
    names = [f"c{i}" for i in range(100)]
    feature = categories_baseline(dict.fromkeys(names, 1.0), 20_000, rng)
    # 500 undrifted hours of 500 rows: one bin per category put 82 % of them above 0.2.
    undrifted = [categorical_psi(feature, rng.choices(names, k=500)) for _ in range(500)]
    assert sum(value > 0.2 for value in undrifted) <= 5
    assert float(np.median(undrifted)) < 0.05
    # Real drift is still seen: a new category takes 30 % of the rows (an upstream change) ...
    shares = [0.7 / 100] * 100 + [0.3]
    new = [categorical_psi(feature, rng.choices([*names, "c-new"], shares, k=500)) for _ in range(50)]
    assert min(new) > 0.2
    # ... or three categories take 60 % (a default value filling in).
    crowded = [categorical_psi(feature, rng.choices(names, [20.0] * 3 + [0.4 / 0.97] * 97, k=500)) for _ in range(50)]
    assert min(crowded) > 0.2


def test_categories_are_binned_like_deciles_from_the_most_common_down() -> None:
    index, unseen = category_bins({f"c{i:03}": 1.0 for i in range(300)})
    assert unseen == 9  # ten bins of thirty; unseen ones join the rarest
    assert [list(index.values()).count(b) for b in range(10)] == [30] * 10
    index, unseen = category_bins({"basic": 0.5, "plus": 0.3, "pro": 0.2})
    assert (index, unseen) == ({"basic": 0, "plus": 1, "pro": 2}, 3)  # a few: one each, unseen apart
    index, unseen = category_bins({"a": 0.6, **{f"r{i}": 0.01 for i in range(40)}})
    assert index["a"] == 0
    assert len(set(index.values())) <= 10
    assert unseen == max(index.values())
    assert category_bins({}) == ({}, 0)


def test_the_null_of_a_many_category_feature_follows_the_chi_square_of_its_bins() -> None:
    # n * PSI is about chi-square with (bins - 1) degrees of freedom in an undrifted hour, as
    # for a numeric feature's deciles: the reference of docs/canary-judge.md ("Drift sample
    # size"). Exact training shares: a baseline drawn from a sample adds its own noise.
    rng = random.Random(5)
    names = [f"c{i}" for i in range(100)]
    feature = {"name": "c", "type": "categorical", "proportions": dict.fromkeys(names, 0.01)}
    n = 500
    values = [n * categorical_psi(feature, rng.choices(names, k=n)) for _ in range(1000)]
    assert float(np.mean(values)) == pytest.approx(stats.chi2(9).mean(), rel=0.05)
    assert float(np.quantile(values, 0.95)) == pytest.approx(stats.chi2(9).ppf(0.95), rel=0.1)
    # One bin per category (the old way) is chi-square with 99 degrees of freedom: every hour
    # here is below its 1st percentile.
    assert max(values) < stats.chi2(99).ppf(0.01)
