"""A change read back where AWS may not show it yet (`units.just_called`, `units.unsettled`): right
after its call only a change taken or under way is concluded, and once called, an endpoint or
component still changing with the old value is the change under way, never "not applied"."""

from dataclasses import replace
from typing import Any

import pytest

from model_medic.remediate import serverless
from model_medic.remediate.capacity import ScaleChange, scale_observation
from model_medic.remediate.components import Component, CopyChange, copies_observation
from model_medic.remediate.units import Observation, Seen, just_called

COUNT = ScaleChange("primary", "instance-count", 1, 2)


def endpoint(status: str, current: int, desired: int | None = None) -> dict[str, Any]:
    variant: dict[str, Any] = {"VariantName": "primary", "CurrentInstanceCount": current}
    if desired is not None:
        variant["DesiredInstanceCount"] = desired
    return {"EndpointStatus": status, "ProductionVariants": [variant]}


@pytest.mark.parametrize(
    ("seen", "concluded"),
    [("took", "took"), ("in-flight", "in-flight"), ("not-applied", "in-flight"), ("failed", "in-flight")],
)
def test_right_after_its_call_a_change_is_concluded_only_taken_or_under_way(seen: Seen, concluded: str) -> None:
    read = just_called(Observation(seen, "primary runs 1 instance(s)", person="a person's"))
    assert read.seen == concluded
    if seen in ("not-applied", "failed"):
        assert read.detail == (
            "just called, AWS may not show it yet (primary runs 1 instance(s)): read back at the next look"
        )
        assert (read.person, read.stops) == ("", False)
    else:
        assert read.person == "a person's"


@pytest.mark.parametrize(
    ("described", "called", "seen"),
    [
        (endpoint("Updating", 1, 1), True, "in-flight"),  # started, the count asked not shown yet
        (endpoint("Updating", 1), True, "in-flight"),
        (endpoint("SystemUpdating", 1, 1), True, "in-flight"),
        (endpoint("InService", 1, 1), True, "not-applied"),  # settled on the old count
        (endpoint("Updating", 1, 1), False, "not-applied"),  # not called: not made yet (nothing to adopt)
        (endpoint("Updating", 1, 2), True, "in-flight"),
        (endpoint("InService", 2, 2), True, "took"),
    ],
)
def test_an_instance_count_is_not_read_as_not_taken_while_the_endpoint_still_changes(
    described: dict[str, Any], called: bool, seen: str
) -> None:
    assert scale_observation("churn-prod", COUNT, described, called=called).seen == seen


def test_a_serverless_concurrency_is_not_read_as_not_taken_while_the_endpoint_still_changes() -> None:
    step = serverless.Step("v", "provisioned-concurrency", 1, 2)
    config = {"MaxConcurrency": 4, "ProvisionedConcurrency": 1}
    summary = {"VariantName": "v", "CurrentInstanceCount": 0, "CurrentServerlessConfig": config}
    updating = {"EndpointStatus": "Updating", "ProductionVariants": [summary]}
    assert serverless.observation("e", step, updating, called=True).seen == "in-flight"
    assert serverless.observation("e", step, updating).seen == "not-applied"
    settled = {**updating, "EndpointStatus": "InService"}
    assert serverless.observation("e", step, settled, called=True).seen == "not-applied"


def test_a_copy_count_is_not_read_as_not_taken_while_the_component_still_changes() -> None:
    component = Component(name="ic", endpoint="ep", variant="AllTraffic", status="Updating", copies=1, desired=1)
    change = CopyChange("ic", "copy-count", 1, 2)
    assert copies_observation(component, change, called=True).seen == "in-flight"
    assert copies_observation(component, change).seen == "not-applied"
    assert copies_observation(replace(component, status="InService"), change, called=True).seen == "not-applied"
