"""Drift baselines as built and checked, and the captured sample's bulk CSV path against its
row-by-row path."""

import csv
import json
from typing import Any

import pytest

from model_medic.measure.baseline import BaselineError, bin_counts, build_baseline, check_baseline, from_model_monitor
from model_medic.measure.capture_sample import Sample


def test_rows_of_another_width_are_left_out_and_the_named_label_too() -> None:
    built = build_baseline("plan, churned ,age\nbasic,0,30\npro,1\nplus,1,50,extra\npro,0,40\n", 2, "churned")
    assert (built["rows"], built["label_column"]) == (2, "churned")
    plan, age = built["features"]
    assert plan == {"name": "plan", "type": "categorical", "proportions": {"basic": 0.5, "pro": 0.5}}
    assert (age["name"], age["type"], age["edges"], age["proportions"]) == ("age", "numeric", [35.0], [0.5, 0.5])
    assert "label_candidate" not in built


def test_with_auto_every_column_is_kept_and_the_first_is_the_label_candidate() -> None:
    built = build_baseline("churned,age\n0,30\n1,40\n")
    assert [f["name"] for f in built["features"]] == ["churned", "age"]
    assert (built["label_column"], built["label_candidate"]) == (None, "churned")


@pytest.mark.parametrize(
    ("csv_text", "label", "problem"),
    [
        ("", "none", "no header row"),
        ("age,plan\n", "none", "no rows"),
        ("age,plan\n30\n", "none", "no rows"),
        ("label\n1\n0\n", "label", "no feature besides the label"),
        ("age,plan\n30,pro\n", "churned", "neither a header name nor a column number"),
    ],
)
def test_a_training_set_that_gives_no_baseline_says_why(csv_text: str, label: str, problem: str) -> None:
    with pytest.raises(BaselineError, match=problem):
        build_baseline(csv_text, label_column=label)


def test_model_monitor_features_without_a_distribution_are_skipped_but_hold_their_place() -> None:
    kll = {
        "buckets": [{"lower_bound": 0, "upper_bound": 5, "count": 1}, {"lower_bound": 5, "upper_bound": 9, "count": 3}]
    }
    statistics: dict[str, Any] = {
        "dataset": {"item_count": 4},
        "features": [
            {"name": "churned", "numerical_statistics": {"distribution": {"kll": kll}}},
            {"name": "id", "string_statistics": {"distinct_count": 4}},
            {"name": "score", "numerical_statistics": {}},
            {"name": "note"},
            {"name": "age", "numerical_statistics": {"distribution": {"kll": kll}}},
        ],
    }
    built = from_model_monitor(statistics)
    assert [f["name"] for f in built["features"]] == ["churned", "age"]
    assert built["skipped"] == [
        {"name": "id", "reason": "string feature without a distribution (high cardinality)"},
        {"name": "score", "reason": "numeric feature without KLL buckets"},
        {"name": "note", "reason": "neither numerical nor string statistics"},
    ]
    assert (built["columns"], built["label_candidate"], built["rows"]) == (
        ["churned", "id", "score", "note", "age"],
        "churned",
        4,
    )
    age = built["features"][1]
    assert (age["edges"], age["proportions"], age["cdf"]) == ([5], [0.25, 0.75], [[0, 0.0], [5, 0.25], [9, 1.0]])
    check_baseline(built)
    with pytest.raises(BaselineError, match="no feature with a distribution"):
        from_model_monitor({"features": statistics["features"][1:4]}, label_column="none")
    with pytest.raises(BaselineError, match="no 'features' list"):
        from_model_monitor({"dataset": {}})


@pytest.mark.parametrize(
    ("baseline", "problem"),
    [
        ({}, "no features"),
        ({"features": []}, "no features"),
        ({"features": [{"name": "age", "type": "numeric", "edges": [1.0], "proportions": [1.0]}]}, "incomplete"),
        ({"features": [{"name": "age", "type": "numeric", "edges": [], "proportions": [1.0]}]}, "incomplete"),
        ({"features": [{"name": "plan", "type": "categorical", "proportions": [0.5]}]}, "incomplete"),
        ({"features": [{"name": "plan", "type": "text"}]}, "unknown type"),
    ],
)
def test_a_baseline_that_cannot_be_used_is_refused(baseline: dict[str, Any], problem: str) -> None:
    with pytest.raises(BaselineError, match=problem):
        check_baseline(baseline)


def test_nan_and_infinite_training_values_are_left_out_and_counted() -> None:
    values = [str(v) for v in range(1, 101)]
    clean = build_baseline("\n".join(["age,plan", *(f"{v},basic" for v in values)]), label_column="none")
    spoiled = [*values[:50], "nan", "inf", "-Infinity", "NaN", *values[50:]]
    built = build_baseline("\n".join(["age,plan", *(f"{v},basic" for v in spoiled)]), label_column="none")
    # Before: edges like [..., nan, inf, nan, ...] from a NaN among the sorted values.
    assert built["features"] == clean["features"]
    assert (built["rows"], built["non_finite"]) == (104, {"age": 4})
    assert "non_finite" not in clean
    check_baseline(built)
    with pytest.raises(BaselineError, match="column 'age' holds no finite number"):
        build_baseline("age,plan\nnan,basic\ninf,pro\n,basic\n", label_column="none")


def test_an_empty_cell_is_a_missing_value_not_a_category() -> None:
    # pandas' to_csv writes a missing value as an empty cell: the column stays numeric.
    values = [str(v) for v in range(1, 101)]
    clean = build_baseline("\n".join(["age,plan", *(f"{v},basic" for v in values)]), label_column="none")
    gaps = [*values[:30], "", *values[30:70], " ", *values[70:]]
    built = build_baseline("\n".join(["age,plan", *(f"{v},basic" for v in gaps)]), label_column="none")
    assert built["features"] == clean["features"]
    assert built["non_finite"] == {"age": 2}
    # A text column keeps an empty cell as one of its categories.
    text = build_baseline("age,plan\n1,basic\n2,\n3,pro\n", label_column="none")
    assert text["features"][1]["proportions"] == {"": 1 / 3, "basic": 1 / 3, "pro": 1 / 3}


def test_a_stored_baseline_with_nan_edges_is_refused_and_told_to_be_built_again() -> None:
    # What the builder wrote from a training set with NaN before it left them out: json writes NaN.
    stored = json.loads(
        '{"features": [{"name": "age", "type": "numeric", "edges": [1.4, 1.8, NaN, Infinity],'
        ' "proportions": [0.2, 0.2, 0.2, 0.2, 0.2], "quantiles": [1.0, NaN, 2.0]}]}'
    )
    with pytest.raises(BaselineError, match=r"NaN or infinite bin edges .* build it again .*make baseline"):
        check_baseline(stored)


def test_bins_are_closed_on_the_right() -> None:
    assert bin_counts([1.0, 2.0, 2.0, 3.0, 9.0], [2.0, 3.0]) == [3, 1, 1]
    assert bin_counts([], [2.0]) == [0, 0]


def capture(*requests: str, content_type: str = "text/csv") -> bytes:
    lines = [
        json.dumps(
            {
                "captureData": {
                    "endpointInput": {
                        "observedContentType": content_type,
                        "mode": "INPUT",
                        "data": data,
                        "encoding": "CSV",
                    }
                },
                "eventMetadata": {"eventId": str(i)},
            }
        )
        for i, data in enumerate(requests)
    ]
    return "\n".join(lines).encode()


def read(body: bytes) -> Sample:
    sample = Sample(["age", "plan"], {"age"})
    sample.add_capture_file(body)
    return sample


def row_by_row(*rows: list[str]) -> Sample:
    sample = Sample(["age", "plan"], {"age"})
    for row in rows:
        sample.add_row(row)
    return sample


@pytest.mark.parametrize(
    "requests",
    [
        ("41.5,plus", "38,basic\n52, pro"),  # every row as wide as the baseline: one split of everything
        ("41.5,plus", "38,basic,extra", "old,pro"),  # another width, a value that is not a number: row by row
        ('41.5,"plus"', "38,basic"),  # quoted CSV: line by line, through the csv module
        ("41.5,plus", "nan,basic\n38,pro", "inf,plus", "-inf,basic"),  # NaN, infinities: malformed, row by row
    ],
)
def test_a_plain_csv_file_read_in_bulk_counts_as_its_rows_read_one_by_one(requests: tuple[str, ...]) -> None:
    bulk = read(capture(*requests))
    rows = [next(csv.reader([line])) for data in requests for line in data.splitlines()]
    one_by_one = row_by_row(*rows)
    assert (bulk.rows, bulk.malformed, bulk.mismatched, dict(bulk.widths), bulk.non_finite) == (
        one_by_one.rows,
        one_by_one.malformed,
        one_by_one.mismatched,
        dict(one_by_one.widths),
        one_by_one.non_finite,
    )
    assert sorted(zip(*bulk.values.values(), strict=True)) == sorted(zip(*one_by_one.values.values(), strict=True))


def test_a_json_request_in_a_file_sends_the_whole_file_line_by_line() -> None:
    body = capture("41.5,plus") + b"\n" + capture(json.dumps([38, "basic"]), content_type="application/json")
    sample = read(body)
    assert (sample.rows, sample.malformed, sample.mismatched) == (2, 0, 0)
    assert sorted(sample.values["age"]) == [38.0, 41.5]
