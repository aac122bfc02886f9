"""The Feature dimension values of the drift metrics: what CloudWatch takes for each feature name."""

import codecs

import pytest

from model_medic.measure.baseline import BaselineError, build_baseline
from model_medic.measure.feature_dimensions import acceptable, escaped, feature_dimensions


@pytest.mark.parametrize(
    ("value", "taken"),
    [
        ("age", True),
        ("monthly charges", True),  # spaces inside are printable ASCII
        ("a\\b:c~", True),
        ("x" * 1024, True),
        ("x" * 1025, False),
        ("", False),
        ("   ", False),
        ("température", False),
        ("tab\there", False),  # a control character
        ("del\x7f", False),
    ],
)
def test_acceptable_is_cloudwatchs_rule_for_a_dimension_value(value: str, taken: bool) -> None:
    assert acceptable(value) is taken


def test_a_name_cloudwatch_takes_is_published_as_it_is() -> None:
    names = feature_dimensions(["age", "plan", "a\\b"])
    assert names.values == {"age": "age", "plan": "plan", "a\\b": "a\\b"}
    assert (names.renamed, names.unpublished) == ({}, {})


def test_another_name_is_escaped_as_in_a_python_string_and_reads_back() -> None:
    names = ["température", "Größe\\cm", "tab\there", "emoji😀", "年齢"]
    found = feature_dimensions(names)
    assert found.renamed == {
        "température": "temp\\u00e9rature",
        "Größe\\cm": "Gr\\u00f6\\u00dfe\\\\cm",  # the backslash too, so that the escape reads back
        "tab\there": "tab\\u0009here",
        "emoji😀": "emoji\\U0001f600",
        "年齢": "\\u5e74\\u9f62",
    }
    assert all(acceptable(value) for value in found.values.values())
    assert [codecs.decode(value, "unicode_escape") for value in found.renamed.values()] == names
    assert escaped("plain") == "plain"


def test_a_name_no_escape_saves_is_not_published_and_says_why() -> None:
    long = "é" * 200  # 200 characters, 1,200 once escaped
    found = feature_dimensions(["", "  ", long, "age"])
    assert found.values == {"age": "age"}
    assert found.unpublished == {
        "": "it is empty or only spaces",
        "  ": "it is empty or only spaces",
        long: "it is longer than CloudWatch's 1024 characters (1200 as published)",
    }


def test_an_escape_never_takes_another_features_value() -> None:
    # A name published as it is keeps its value, wherever it stands; the escape that would be
    # the same is not published per feature.
    found = feature_dimensions(["température", "temp\\u00e9rature"])
    assert found.values == {"temp\\u00e9rature": "temp\\u00e9rature"}
    assert found.unpublished == {"température": "its escape 'temp\\\\u00e9rature' is another feature's name"}


def test_the_baseline_builder_refuses_an_unnamed_feature_column() -> None:
    # pandas' to_csv writes its index as a first column without a name.
    text = ",age,label\n0,41,1\n1,37,0\n"
    with pytest.raises(BaselineError, match=r"header names no column 0 \(counted from 0\).*index=False"):
        build_baseline(text)
    with pytest.raises(BaselineError, match="names no column 1"):
        build_baseline("label, ,x\n1,2,3\n", label_column="label")
    # An unnamed column that is the label is left out, as before: no feature needs its name.
    built = build_baseline(text, label_column="0")
    assert [f["name"] for f in built["features"]] == ["age", "label"]
