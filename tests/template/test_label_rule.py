"""The ground-truth rule starts ComputeModelQualityFunction for label files only: capture
files (often in the same bucket) and other objects must not start runs."""

import re
from typing import Any

import pytest

from localcloud.template import Resolver, parameter_values
from tests.template.conftest import PARAMETERS


def key_prefix(source: dict[str, Any], ground_truth_uri: str) -> str:
    given = {**PARAMETERS, "GroundTruthS3Uri": ground_truth_uri}
    resolver = Resolver(source, parameter_values(source, given))
    rule = source["Resources"]["ComputeModelQualityFunction"]["Properties"]["Events"]["LabelsArrive"]
    pattern = resolver.resolve(rule["Properties"]["Pattern"])
    assert pattern["detail"]["bucket"]["name"] == [ground_truth_uri[5:].split("/")[0]]
    [match] = pattern["detail"]["object"]["key"]
    return str(match["prefix"])


@pytest.mark.parametrize(
    ("uri", "prefix"),
    [
        ("s3://churn-ml/groundtruth", "groundtruth/"),
        ("s3://churn-ml/monitoring/groundtruth", "monitoring/groundtruth/"),
        ("s3://churn-ml/a/b/c/labels", "a/b/c/labels/"),
    ],
)
def test_the_label_rule_matches_the_ground_truth_prefix_only(source: dict[str, Any], uri: str, prefix: str) -> None:
    assert key_prefix(source, uri) == prefix
    assert f"{prefix}churn-prod/2026/11/22/10/labels.jsonl".startswith(prefix)
    assert not "datacapture/churn-prod/primary/2026/11/22/10/capture.jsonl".startswith(prefix)


def test_the_ground_truth_uri_is_refused_with_a_trailing_slash_or_too_deep(source: dict[str, Any]) -> None:
    allowed = re.compile(source["Parameters"]["GroundTruthS3Uri"]["AllowedPattern"])
    assert allowed.match("s3://churn-ml/groundtruth")
    assert not allowed.match("s3://churn-ml/groundtruth/")
    assert not allowed.match("s3://churn-ml/a/b/c/d/e")
