"""People win (issue 27), the pure part: a change read back against a person's own, and a
boost a person took over."""

from typing import Any

import pytest

from model_medic.remediate.capacity import ScaleChange, Variant, scale_observation, taken_over
from model_medic.remediate.units import read_back
from model_medic.store.boosts import Boost


@pytest.mark.parametrize(
    ("before", "asked", "observed", "ordered", "reading"),
    [
        (2, 3, 3, "ordered", "took"),
        (2, 3, 6, "ordered", "person-gave-more"),
        (2, 3, 2, "ordered", "did-not-take"),
        (2, 3, 1, "ordered", "did-not-take"),  # lowered below what was asked: not taken
        (2, 3, None, "ordered", "did-not-take"),
        (0.1, 0.25, 0.25, "", "took"),
        (0.1, 0.25, 0.5, "", "person-changed-other"),  # another weight
        ("cfg-a", "cfg-b", "cfg-person", "", "person-changed-other"),  # a config not ours
        ("cfg-a", "cfg-b", "cfg-a", "", "did-not-take"),
    ],
)
def test_a_value_read_back_is_taken_a_persons_or_not_taken(
    before: Any, asked: Any, observed: Any, ordered: str, reading: str
) -> None:
    assert read_back(before, asked, observed, ordered=bool(ordered)) == reading


def endpoint(current: int, desired: int, status: str = "InService") -> dict[str, Any]:
    return {
        "EndpointStatus": status,
        "ProductionVariants": [
            {"VariantName": "primary", "CurrentInstanceCount": current, "DesiredInstanceCount": desired}
        ],
    }


FLOOR = ScaleChange("primary", "min-capacity", 2, 3)
COUNT = ScaleChange("primary", "instance-count", 2, 3)
KEPT = "above the 3 asked: theirs, kept"


def test_a_higher_min_capacity_than_asked_is_taken_and_named_as_a_persons() -> None:
    seen = scale_observation("e", FLOOR, endpoint(6, 6), min_capacity=6)
    assert (seen.seen, seen.person) == ("took", f"a person set primary MinCapacity 6, {KEPT}")
    on_its_way = scale_observation("e", FLOOR, endpoint(2, 6, "Updating"), min_capacity=6)
    assert (on_its_way.seen, bool(on_its_way.person)) == ("in-flight", True)


def test_the_min_capacity_asked_is_taken_with_nobody_named() -> None:
    seen = scale_observation("e", FLOOR, endpoint(3, 3), min_capacity=3)
    assert (seen.seen, seen.person) == ("took", "")


@pytest.mark.parametrize("minimum", [2, 1, None])
def test_a_min_capacity_below_what_was_asked_or_no_target_is_not_taken(minimum: int | None) -> None:
    assert scale_observation("e", FLOOR, endpoint(3, 3), min_capacity=minimum).seen == "not-applied"


def test_a_higher_instance_count_than_asked_is_taken_and_named_as_a_persons() -> None:
    seen = scale_observation("e", COUNT, endpoint(6, 6))
    assert (seen.seen, seen.person) == ("took", f"a person set primary DesiredInstanceCount 6, {KEPT}")


def test_an_instance_count_below_what_was_asked_is_not_taken() -> None:
    assert scale_observation("e", COUNT, endpoint(1, 1)).seen == "not-applied"
    # On its way down from the count asked: in flight until it lands, then not taken.
    assert scale_observation("e", COUNT, endpoint(3, 1, "Updating")).seen == "in-flight"


DOWN = ScaleChange("primary", "instance-count", 4, 3)  # a rollout's primary once its share has fallen


def test_an_instance_count_taken_down_is_not_made_until_called_and_taken_once_it_runs_the_count_asked() -> None:
    # Still at the count before: the change is not made yet (it is called), not a person's giving more.
    before = scale_observation("e", DOWN, endpoint(4, 4))
    assert (before.seen, before.person) == ("not-applied", "")
    assert scale_observation("e", DOWN, endpoint(4, 3, "Updating")).seen == "in-flight"
    after = scale_observation("e", DOWN, endpoint(3, 3))
    assert (after.seen, after.person) == ("took", "")


@pytest.mark.parametrize("count", [6, 2])
def test_a_third_instance_count_on_a_count_taken_down_is_a_persons(count: int) -> None:
    seen = scale_observation("e", DOWN, endpoint(count, count))
    assert (seen.seen, seen.person) == (
        "took",
        f"a person set primary DesiredInstanceCount {count}, not the 3 asked: theirs, kept",
    )


def boost(lever: str = "min-capacity") -> Boost:
    return Boost("e", "primary", lever, original=2, boosted_to=3, boosted_at="2026-11-22T10:00:00+00:00", alarms=())


def test_a_boost_at_the_floor_model_medic_set_is_not_taken_over() -> None:
    assert taken_over(boost(), Variant("primary", 3, 1.0, min_capacity=3), last=3) is None


def test_a_persons_floor_since_is_theirs_and_says_so() -> None:
    assert taken_over(boost(), Variant("primary", 6, 1.0, min_capacity=6), last=3) == (
        "a person set primary MinCapacity 6 since (Model Medic set 3); left as it is"
    )
    assert taken_over(boost(), Variant("primary", 1, 1.0, min_capacity=1), last=3) is not None


def test_a_scalable_target_registered_or_deregistered_since_is_a_persons() -> None:
    registered = taken_over(boost("instance-count"), Variant("primary", 3, 1.0, min_capacity=3), last=3)
    assert registered == "a person registered a scalable target on primary since; left as it is"
    deregistered = taken_over(boost(), Variant("primary", 3, 1.0), last=3)
    assert deregistered == "a person deregistered its scalable target on primary since; left as it is"
