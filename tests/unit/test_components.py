"""The pure decisions of an inference component's scale-up: its ceiling, where copies can go,
the step, the read-back, a person's change, and its alarm's request."""

from dataclasses import replace
from typing import Any

import pytest

from model_medic.fleet.alarm_catalog import AlarmThresholds, Topics, component_alarms
from model_medic.remediate.components import (
    Component,
    CopyChange,
    Placement,
    copies_observation,
    copies_plan,
    copies_taken_over,
    decide_copies,
    placement_bound,
    placement_of,
)
from model_medic.store.boosts import Boost

IC = Component(name="ic", endpoint="ep", variant="AllTraffic", status="InService", copies=1, desired=1)
ROOM = Placement("AllTraffic", instances=1, managed_max=2)


def test_one_step_more_copies_from_what_runs_now() -> None:
    change, bound, limit = decide_copies(replace(IC, copies=2, desired=2), ROOM, step=1, max_copies=4)
    assert (change, bound, limit) == (CopyChange("ic", "copy-count", 2, 3), "", "")


def test_the_step_is_cut_at_the_lowest_ceiling_and_named() -> None:
    tagged = replace(IC, max_copies=3, min_capacity=1, max_capacity=5)
    change, _, limit = decide_copies(tagged, ROOM, step=5, max_copies=4)
    assert change == CopyChange("ic", "min-copies", 1, 3)
    assert limit == "the component's model-medic:max-copy-count tag 3"


@pytest.mark.parametrize(
    ("component", "limit"),
    [
        (replace(IC, copies=4, desired=4), "MaxCopyCount, the maximum 4 copies"),
        (replace(IC, min_capacity=2, max_capacity=2, copies=2, desired=2), "the scalable target's MaxCapacity 2"),
    ],
)
def test_at_its_ceiling_nothing_is_changed(component: Component, limit: str) -> None:
    change, bound, _ = decide_copies(component, ROOM, step=1, max_copies=4)
    assert change is None
    assert bound == f"inference component ic is at its ceiling ({limit})"


@pytest.mark.parametrize(
    ("placement", "why"),
    [
        (Placement("AllTraffic", 1, None), "AllTraffic has no managed instance scaling"),
        (Placement("AllTraffic", 2, 2), "AllTraffic runs 2 instance(s), its ManagedInstanceScaling.MaxInstanceCount 2"),
        (None, "variant AllTraffic of ep is gone"),
    ],
)
def test_a_copy_with_nowhere_to_go_is_not_asked_for(placement: Placement | None, why: str) -> None:
    assert why in (placement_bound(IC, placement) or "")
    change, bound, _ = decide_copies(IC, placement, step=1, max_copies=4)
    assert change is None
    assert bound.startswith("inference component ic cannot grow: ")


def test_a_component_that_is_updating_is_waited_for() -> None:
    plan = copies_plan(replace(IC, status="Updating"), ROOM, step=1, max_copies=4)
    assert plan.changes == ()
    assert plan.skip == "inference component ic is Updating: copies change once InService"


def test_the_hosting_variant_is_read_from_describe_endpoint() -> None:
    described: dict[str, Any] = {
        "ProductionVariants": [
            {
                "VariantName": "AllTraffic",
                "CurrentInstanceCount": 1,
                "ManagedInstanceScaling": {"Status": "ENABLED", "MinInstanceCount": 1, "MaxInstanceCount": 2},
            }
        ]
    }
    assert placement_of(described, "AllTraffic") == ROOM
    described["ProductionVariants"][0]["ManagedInstanceScaling"]["Status"] = "DISABLED"
    assert placement_of(described, "AllTraffic") == Placement("AllTraffic", 1, None)
    assert placement_of(described, "other") is None


@pytest.mark.parametrize(
    ("now", "seen"),
    [
        (replace(IC, status="Updating", copies=1, desired=2), "in-flight"),
        (replace(IC, copies=2, desired=2), "took"),
        (replace(IC, copies=1, desired=1), "not-applied"),
        (replace(IC, status="Failed", copies=1, desired=2), "failed"),
        (None, "failed"),
    ],
)
def test_a_copy_count_is_read_back(now: Component | None, seen: str) -> None:
    assert copies_observation(now, CopyChange("ic", "copy-count", 1, 2)).seen == seen


def test_more_copies_than_asked_are_a_persons_and_kept() -> None:
    seen = copies_observation(replace(IC, copies=3, desired=3), CopyChange("ic", "copy-count", 1, 2))
    assert seen.seen == "took"
    assert seen.person == "a person set ic DesiredCopyCount 3, above the 2 asked: theirs, kept"


def test_a_floor_a_person_changed_since_is_left_as_it_is() -> None:
    boost = Boost("ep", "inference-component/ic", "copy-count", 1, 2, "2026-01-01T00:00:00+00:00", ("a",))
    assert copies_taken_over(boost, replace(IC, copies=2, desired=2), last=2) is None
    assert copies_taken_over(boost, replace(IC, copies=3, desired=3), last=2) == (
        "a person set ic the copy count 3 since (Model Medic set 2); left as it is"
    )
    assert "registered a scalable target" in (copies_taken_over(boost, replace(IC, min_capacity=2), last=2) or "")


def test_a_components_alarm_watches_sagemakers_own_metric_of_the_component() -> None:
    thresholds = AlarmThresholds(5.0, 800.0, 0.2, 0.8, "model-medic", "f", 0.1, "canary", 5.0, 900.0)
    alarm, _ = component_alarms("ep", "ic", thresholds, Topics("critical", "warning"))
    assert alarm["AlarmName"] == "ep-ic-HighLatency"
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/SageMaker", "ModelLatency")
    assert alarm["Dimensions"] == [{"Name": "InferenceComponentName", "Value": "ic"}]
    assert alarm["Threshold"] == 800_000.0  # SageMaker's ModelLatency is in microseconds
    assert "Unit" not in alarm
    assert (alarm["AlarmActions"], alarm["OKActions"]) == (["warning"], ["warning"])


def test_a_components_error_alarm_watches_the_share_of_its_requests_answered_5xx() -> None:
    thresholds = AlarmThresholds(2.5, 800.0, 0.2, 0.8, "model-medic", "f", 0.1, "canary", 5.0, 900.0)
    _, alarm = component_alarms("ep", "ic", thresholds, Topics("critical", "warning"))
    assert alarm["AlarmName"] == "ep-ic-HighErrorRate"
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == (
        "AWS/SageMaker",
        "Invocation5XXErrors",
        "Average",
    )
    assert alarm["Dimensions"] == [{"Name": "InferenceComponentName", "Value": "ic"}]
    # SageMaker sends 1 for a 5XX and 0 otherwise: the Average is a fraction, ErrorRateThreshold a percent.
    assert alarm["Threshold"] == 0.025
    assert (alarm["ComparisonOperator"], alarm["Period"], alarm["EvaluationPeriods"]) == (
        "GreaterThanThreshold",
        300,
        2,
    )
    assert alarm["TreatMissingData"] == "notBreaching"
    assert "Unit" not in alarm
    assert "Metrics" not in alarm
    assert (alarm["AlarmActions"], alarm["OKActions"]) == (["critical"], ["critical"])
    assert "above 2.5 - more copies" in alarm["AlarmDescription"]
