"""The pure planning and read-back of a serverless variant's concurrency (remediate/serverless.py)."""

from typing import Any

import pytest

from model_medic.remediate.capacity import ScaleChange, Variant, decide_scale_up, taken_over
from model_medic.remediate.serverless import ConcurrencyBounds, Serverless, Step, ceiling, observation, read
from model_medic.store.boosts import Boost
from tests.real_endpoints import load

BOUNDS = ConcurrencyBounds(max_concurrency=20, max_provisioned=10)


def variant(serverless: Serverless, name: str = "v") -> Variant:
    return Variant(name, None, 1.0, concurrency=serverless.max_concurrency, serverless=serverless)


def test_the_real_serverless_endpoint_is_on_demand_and_its_lever_is_max_concurrency() -> None:
    [summary] = load("serverless", "describe-endpoint")["ProductionVariants"]
    found = read(summary)
    assert found == Serverless(max_concurrency=1, provisioned=None)
    assert (found.lever, found.floor) == ("max-concurrency", 1)
    assert read({"VariantName": "v", "CurrentInstanceCount": 2}) is None  # an instance variant


@pytest.mark.parametrize(
    ("serverless", "lever", "bound"),
    [
        (Serverless(50, None), "max-concurrency", (20, "MaxConcurrency, the maximum 20")),
        (Serverless(4, 1), "provisioned-concurrency", (4, "the variant's MaxConcurrency 4")),
        (Serverless(200, 1), "provisioned-concurrency", (10, "MaxProvisionedConcurrency, the maximum 10")),
        (Serverless(8, 1, 1, 3), "provisioned-min-capacity", (3, "the scalable target's MaxCapacity 3")),
    ],
)
def test_each_lever_has_its_ceiling_and_names_the_limit(
    serverless: Serverless, lever: str, bound: tuple[int, str]
) -> None:
    assert serverless.lever == lever
    assert ceiling(serverless, BOUNDS) == bound


def test_aws_200_bounds_a_stack_that_allows_more() -> None:
    assert ceiling(Serverless(200, None), ConcurrencyBounds(200, 200)) == (200, "the 200 AWS allows")


def test_a_step_is_cut_at_the_bound_and_a_variant_at_it_is_at_its_ceiling() -> None:
    decision = decide_scale_up([variant(Serverless(4, 3), "a"), variant(Serverless(4, 4), "b")], 2, 4, BOUNDS)
    assert decision.steps == (ScaleChange("a", "provisioned-concurrency", 3, 4),)
    assert decision.at_ceiling == ("b",)
    assert decision.limits == {"a": "the variant's MaxConcurrency 4", "b": "the variant's MaxConcurrency 4"}


def test_without_bounds_a_serverless_variant_is_not_scalable_as_before() -> None:
    decision = decide_scale_up([variant(Serverless(4, 1))], 1, 4)
    assert (decision.steps, decision.not_scalable) == ((), ("v",))


def test_auto_scaling_above_the_targets_min_capacity_is_where_the_step_starts() -> None:
    [step] = decide_scale_up([variant(Serverless(10, 5, 2, 8))], 1, 4, BOUNDS).steps
    assert (step.lever, step.before, step.after) == ("provisioned-min-capacity", 2, 6)


def described(status: str, current: dict[str, Any], desired: dict[str, Any] | None = None) -> dict[str, Any]:
    summary: dict[str, Any] = {"VariantName": "v", "CurrentInstanceCount": 0, "CurrentServerlessConfig": current}
    if desired is not None:
        summary["DesiredServerlessConfig"] = desired
    return {"EndpointStatus": status, "ProductionVariants": [summary]}


STEP = Step("v", "provisioned-concurrency", 1, 2)


def test_read_back_in_flight_from_desired_then_taken_from_current() -> None:
    updating = described("Updating", {"MaxConcurrency": 4, "ProvisionedConcurrency": 1}, {"ProvisionedConcurrency": 2})
    assert observation("e", STEP, updating).seen == "in-flight"
    done = observation("e", STEP, described("InService", {"MaxConcurrency": 4, "ProvisionedConcurrency": 2}))
    assert (done.seen, done.detail, done.person) == ("took", "v runs ProvisionedConcurrency 2", "")


def test_read_back_of_a_change_that_did_not_take_and_of_a_persons_more() -> None:
    kept = described("InService", {"MaxConcurrency": 4, "ProvisionedConcurrency": 1})
    assert observation("e", STEP, kept).seen == "not-applied"
    more = observation("e", STEP, described("InService", {"MaxConcurrency": 8, "ProvisionedConcurrency": 5}))
    assert more.seen == "took"
    assert more.person == "a person set v ProvisionedConcurrency 5, above the 2 asked: theirs, kept"
    assert observation("e", STEP, {"EndpointStatus": "InService", "ProductionVariants": []}).seen == "failed"


def test_a_person_who_changed_the_lever_or_the_value_keeps_it() -> None:
    boost = Boost("e", "v", "provisioned-concurrency", 1, 2, "2026-11-22T10:00:00+00:00", ("e-HighLatency",))
    assert taken_over(boost, variant(Serverless(4, 2)), 2) is None
    assert taken_over(boost, variant(Serverless(4, 3)), 2) == (
        "a person set v ProvisionedConcurrency 3 since (Model Medic set 2); left as it is"
    )
    assert taken_over(boost, variant(Serverless(4, 2, 2, 4)), 2) == (
        "a person registered a scalable target on v since; left as it is"
    )
    assert taken_over(boost, variant(Serverless(4, None)), 2) == (
        "a person changed its lever from provisioned-concurrency to max-concurrency on v since; left as it is"
    )
