"""Pure decisions of the remediations, without AWS: which variants a scale-up adds to, how much
and where it stops, how a new floor reads back and the give-back steps down; when the canary is
the suspect, which rollback targets auto scaling refuses, how a rollback reads back, which
deployments the ledger records; what a retraining pipeline is started with and how its run is
verified."""

import hashlib
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from model_medic.intake.triggers import AlarmEvent, in_service_deployment
from model_medic.measure.endpoint_metrics import Sums
from model_medic.remediate.capacity import (
    Lever,
    ScaleChange,
    Variant,
    ceiling,
    client_errors_bound,
    client_errors_dominate,
    components_bound,
    decide_scale_up,
    scale_observation,
    scale_up_plan,
    step_down,
    variant_targets,
)
from model_medic.remediate.retraining import (
    TemplateError,
    drifted_feature,
    execution_observation,
    measured_feature,
    render_parameters,
    request_token,
)
from model_medic.remediate.rollback import canary_observation, canary_serves, config_observation, scaling_conflict
from model_medic.store.incidents import Incident
from model_medic.store.measurements import Drift

AT = datetime(2026, 11, 22, 10, 5, tzinfo=UTC)


# --- scale-up ----------------------------------------------------------------------------------


def test_a_boost_adds_the_step_to_what_runs_now_on_the_lever_the_variant_has() -> None:
    decision = decide_scale_up(
        [Variant("primary", 2, 0.9), Variant("canary", 3, 0.1, min_capacity=1, max_capacity=8)],
        step=2,
        max_instances=10,
    )
    # Auto scaling already runs 3 above the target's floor of 1: the floor goes to 5, not to 3.
    assert decision.steps == (
        ScaleChange("primary", "instance-count", 2, 4),
        ScaleChange("canary", "min-capacity", 1, 5),
    )
    assert decision.at_ceiling == ()
    assert decision.limits == {}


@pytest.mark.parametrize(
    ("variant", "bound", "named"),
    [
        (Variant("v", 3, 1.0), 4, "MaxInstanceCount, the maximum 4 instances"),
        (Variant("v", 3, 1.0, min_capacity=3, max_capacity=4), 4, "MaxInstanceCount, the maximum 4 instances"),
        (Variant("v", 2, 1.0, min_capacity=2, max_capacity=3), 3, "the scalable target's MaxCapacity 3"),
        (Variant("v", 1, 1.0, managed_max=2), 2, "ManagedInstanceScaling.MaxInstanceCount 2"),
    ],
)
def test_the_ceiling_is_the_lowest_limit_and_says_which(variant: Variant, bound: int, named: str) -> None:
    assert ceiling(variant, 4) == (bound, named)


def test_a_step_cut_short_names_its_limit_and_a_variant_at_its_ceiling_is_not_a_step() -> None:
    decision = decide_scale_up(
        [Variant("primary", 3, 0.5), Variant("canary", 4, 0.5), Variant("serverless", None, 0.0)],
        step=2,
        max_instances=4,
    )
    assert decision.steps == (ScaleChange("primary", "instance-count", 3, 4),)
    assert decision.at_ceiling == ("canary",)
    assert decision.not_scalable == ("serverless",)
    assert decision.limits == {
        "primary": "MaxInstanceCount, the maximum 4 instances",
        "canary": "MaxInstanceCount, the maximum 4 instances",
    }


@given(
    instances=st.integers(0, 20),
    floor=st.one_of(st.none(), st.integers(0, 20)),
    maximum=st.one_of(st.none(), st.integers(1, 20)),
    managed=st.one_of(st.none(), st.integers(1, 20)),
    step=st.integers(1, 5),
    max_instances=st.integers(1, 20),
)
def test_a_boost_never_passes_a_limit_and_never_lowers_a_floor(
    instances: int, floor: int | None, maximum: int | None, managed: int | None, step: int, max_instances: int
) -> None:
    variant = Variant("v", instances, 1.0, min_capacity=floor, max_capacity=maximum, managed_max=managed)
    decision = decide_scale_up([variant], step, max_instances)
    bound, _ = ceiling(variant, max_instances)
    for change in decision.steps:
        assert change.after <= bound
        assert change.after > max(variant.floor, instances)
        assert change.after <= max(variant.floor, instances) + step
    assert len(decision.steps) + len(decision.at_ceiling) == 1


def test_errors_that_are_mostly_the_callers_are_not_fixed_by_capacity() -> None:
    assert client_errors_dominate(Sums(invocations=100, errors_4xx=30, errors_5xx=10))
    assert client_errors_dominate(Sums(invocations=100, errors_4xx=10, errors_5xx=10))
    assert not client_errors_dominate(Sums(invocations=100, errors_4xx=5, errors_5xx=10))
    assert not client_errors_dominate(Sums(invocations=100, errors_4xx=0, errors_5xx=0))


def test_an_alarm_on_a_variant_scales_that_variant_and_an_endpoint_alarm_every_variant_with_traffic() -> None:
    variants = [Variant("primary", 2, 0.9), Variant("canary", 1, 0.1), Variant("idle", 1, 0.0)]
    described = {"ShadowProductionVariants": [{"VariantName": "shadow"}]}
    assert variant_targets("churn-prod", variants, described, None) == (variants[:2], None)
    assert variant_targets("churn-prod", variants, described, "idle") == ([variants[2]], None)
    _, shadow = variant_targets("churn-prod", variants, described, "shadow")
    assert shadow is not None
    assert shadow.bound is not None
    assert shadow.bound.startswith("shadow is a shadow variant of churn-prod: only the production variant's")
    _, missing = variant_targets("churn-prod", variants, described, "gone")
    assert missing is not None
    assert (missing.skip, missing.bound) == ("endpoint churn-prod has no variant gone", None)


def test_variants_of_inference_components_and_errors_of_callers_bound_a_scale_up() -> None:
    targets = [Variant("a", 1, 0.5), Variant("b", 1, 0.5)]
    hosting = components_bound("churn-prod", targets, frozenset({"b"}))
    assert hosting is not None
    assert hosting.notes == {"inference_component_variants": ["b"]}
    assert hosting.bound is not None
    assert hosting.bound.startswith("endpoint churn-prod serves inference components on b: ")
    assert components_bound("churn-prod", targets, frozenset()) is None
    assert components_bound("churn-prod", targets, None) is None  # the config could not be read
    callers = client_errors_bound("churn-prod", Sums(invocations=100, errors_4xx=30, errors_5xx=10))
    assert callers is not None
    assert callers.notes == {"invocations": 100, "errors_4xx": 30, "errors_5xx": 10}
    assert callers.bound == (
        "the errors on churn-prod are mostly 4XX (30 4XX, 10 5XX of 100 requests in 10 min): callers send bad "
        "requests, more instances do not fix that"
    )
    assert client_errors_bound("churn-prod", Sums(invocations=100, errors_4xx=1, errors_5xx=10)) is None


def test_a_scale_up_plan_names_each_step_and_why_there_is_none() -> None:
    variants = [Variant("primary", 3, 0.5), Variant("canary", 4, 0.5), Variant("serverless", None, 0.0, concurrency=20)]
    cut = scale_up_plan("churn-prod", decide_scale_up(variants[:1], 2, 4), variants[:1], {})
    assert cut.summary == "primary instance-count 3 -> 4 (cut at MaxInstanceCount, the maximum 4 instances)"
    assert cut.changes == (ScaleChange("primary", "instance-count", 3, 4),)
    full = scale_up_plan("churn-prod", decide_scale_up(variants[1:2], 2, 4), variants[1:2], {"endpoint_config": "x"})
    assert full.bound == (
        "endpoint churn-prod is at its ceiling: canary (at MaxInstanceCount, the maximum 4 instances) cannot grow"
    )
    assert full.notes["endpoint_config"] == "x"
    assert full.notes["at_ceiling"] == ["canary"]
    serverless = scale_up_plan("churn-prod", decide_scale_up(variants[2:], 2, 4), variants[2:], {})
    assert serverless.bound is not None
    assert serverless.bound.startswith(
        "endpoint churn-prod is not scalable: serverless (MaxConcurrency 20) is serverless"
    )
    idle = scale_up_plan("churn-prod", decide_scale_up([], 2, 4), [], {})
    assert idle.bound == "endpoint churn-prod is not scalable: no variant takes traffic"


def running(status: str, current: int, desired: int | None = None) -> dict[str, Any]:
    variant: dict[str, Any] = {"VariantName": "primary", "CurrentInstanceCount": current}
    if desired is not None:
        variant["DesiredInstanceCount"] = desired
    return {"EndpointStatus": status, "ProductionVariants": [variant]}


@pytest.mark.parametrize(
    ("lever", "described", "min_capacity", "seen"),
    [
        ("instance-count", running("InService", 3), None, "took"),
        ("instance-count", running("Updating", 2, 3), None, "in-flight"),
        ("instance-count", running("InService", 2, 3), None, "in-flight"),
        ("instance-count", running("InService", 2), None, "not-applied"),
        ("instance-count", running("Failed", 2, 3), None, "failed"),
        ("min-capacity", running("InService", 3), 3, "took"),
        ("min-capacity", running("InService", 2), 3, "in-flight"),  # auto scaling is adding them
        ("min-capacity", running("InService", 3), 2, "not-applied"),
        ("min-capacity", running("InService", 3), None, "not-applied"),  # the target is gone
        ("instance-count", {"EndpointStatus": "InService", "ProductionVariants": []}, None, "failed"),
    ],
)
def test_a_new_floor_is_read_back_on_its_lever(
    lever: Lever, described: dict[str, Any], min_capacity: int | None, seen: str
) -> None:
    change = ScaleChange("primary", lever, 2, 3)
    assert scale_observation("churn-prod", change, described, min_capacity).seen == seen


def test_a_give_back_step_never_goes_below_the_floor_before_the_boost() -> None:
    assert step_down(5, 2, 2) == 3
    assert step_down(3, 2, 2) == 2
    assert step_down(2, 2, 1) == 2


def test_a_variant_with_a_scaling_target_is_boosted_through_its_minimum() -> None:
    assert (Variant("v", 5, 1.0, min_capacity=2).lever, Variant("v", 5, 1.0, min_capacity=2).floor) == (
        "min-capacity",
        2,
    )
    assert (Variant("v", 5, 1.0).lever, Variant("v", 5, 1.0).floor) == ("instance-count", 5)
    assert Variant("v", None, 1.0).floor == 0  # serverless: no instances


# --- rollback: an UpdateEndpoint read back, deployments recorded -----------------------------


def described(status: str, config: str, **more: Any) -> dict[str, Any]:
    return {"EndpointStatus": status, "EndpointConfigName": config, **more}


@pytest.mark.parametrize(
    ("endpoint", "called", "seen"),
    [
        (described("InService", "good"), True, "took"),
        (described("Updating", "bad"), True, "in-flight"),
        (described("InService", "bad", PendingDeploymentSummary={"EndpointConfigName": "good"}), True, "in-flight"),
        # Blue/green rolled itself back: InService, but on the old config.
        (described("InService", "bad", FailureReason="health check failed"), True, "failed"),
        (described("Failed", "bad", FailureReason="capacity"), True, "failed"),
        (described("InService", "bad"), False, "not-applied"),
    ],
)
def test_an_update_endpoint_is_done_only_when_in_service_on_its_config(endpoint: Any, called: bool, seen: str) -> None:
    assert config_observation(endpoint, "good", called).seen == seen


def serving(weights: dict[str, float]) -> dict[str, Any]:
    return {"ProductionVariants": [{"VariantName": n, "CurrentWeight": w} for n, w in weights.items()]}


def test_the_canary_is_the_suspect_only_while_it_takes_traffic_beside_another_variant() -> None:
    assert canary_serves(serving({"primary": 0.9, "canary": 0.1}), "canary")
    assert not canary_serves(serving({"primary": 1.0, "canary": 0.0}), "canary")
    assert not canary_serves(serving({"primary": 0.0, "canary": 1.0}), "canary")  # it is all there is
    assert not canary_serves(serving({"primary": 1.0}), "canary")


def test_a_rollback_target_may_not_drop_or_retype_an_auto_scaled_variant() -> None:
    now = [{"VariantName": "primary", "InstanceType": "ml.m5.large"}, {"VariantName": "b", "InstanceType": "x"}]
    assert (
        scaling_conflict("old", ["primary"], now, [{"VariantName": "primary", "InstanceType": "ml.m5.large"}]) is None
    )
    assert scaling_conflict("old", ["b"], now, now[:1]) == (
        "rollback target old removes auto-scaled variant b: deregister its scaling first"
    )
    retyped = [{"VariantName": "primary", "InstanceType": "ml.c5.large"}]
    assert scaling_conflict("old", ["primary"], now, retyped) == (
        "rollback target old changes the instance type of auto-scaled variant primary "
        "(ml.m5.large -> ml.c5.large): deregister its scaling first"
    )


@pytest.mark.parametrize(
    ("status", "current", "desired", "seen"),
    [
        ("InService", 0.0, 0.0, "took"),
        ("Updating", 0.1, 0.0, "in-flight"),
        ("InService", 0.1, 0.0, "in-flight"),  # asked for, not yet shown
        ("RollingBack", 0.1, 0.1, "in-flight"),
        ("InService", 0.1, 0.1, "not-applied"),
    ],
)
def test_a_canary_set_to_nothing_is_read_back_on_its_weights(
    status: str, current: float, desired: float, seen: str
) -> None:
    described = {
        "EndpointStatus": status,
        "ProductionVariants": [{"VariantName": "canary", "CurrentWeight": current, "DesiredWeight": desired}],
    }
    assert canary_observation("canary", described).seen == seen


def state_change(status: str, endpoint: Any = "churn-prod", config: Any = "churn-prod-config-2") -> dict[str, Any]:
    return {
        "source": "aws.sagemaker",
        "detail-type": "SageMaker Endpoint State Change",
        "detail": {"EndpointName": endpoint, "EndpointConfigName": config, "EndpointStatus": status},
    }


def test_only_an_in_service_state_change_is_a_deployment_whatever_its_spelling() -> None:
    assert in_service_deployment(state_change("IN_SERVICE")) == ("churn-prod", "churn-prod-config-2")
    assert in_service_deployment(state_change("InService")) == ("churn-prod", "churn-prod-config-2")
    assert in_service_deployment(state_change("UPDATING")) is None


@pytest.mark.parametrize(
    "event",
    [
        {**state_change("IN_SERVICE"), "source": "aws.ec2"},
        state_change("IN_SERVICE", endpoint=None),
        state_change("IN_SERVICE", config=""),
        state_change("IN_SERVICE", endpoint="churn prod; drop"),  # not a SageMaker name
    ],
)
def test_a_malformed_state_change_is_refused(event: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"."):
        in_service_deployment(event)


# --- retraining: the pipeline's parameters and its idempotency token -------------------------


def alarm(dimensions: dict[str, str], metric: str = "FeatureDrift") -> Incident:
    """The incident a DataDrift alarm on churn-prod opened at AT."""
    return Incident(
        endpoint="churn-prod",
        action="start-retraining",
        alarm_name="churn-prod-DataDrift",
        alarm_arn="arn:aws:cloudwatch:us-east-1:123456789012:alarm:churn-prod-DataDrift",
        opened_at=AT.isoformat(),
        opened_reason="threshold crossed",
        metric=metric,
        dimensions=dimensions,
    )


def test_the_drifted_feature_comes_from_the_dimension_or_model_monitors_metric_name() -> None:
    assert drifted_feature(alarm({"EndpointName": "churn-prod", "Feature": "tenure"})) == "tenure"
    assert drifted_feature(alarm({"Endpoint": "churn-prod"}, metric="feature_baseline_drift_age")) == "age"
    assert drifted_feature(alarm({"EndpointName": "churn-prod"}, metric="MaxFeatureDrift")) == ""


def test_pipeline_parameters_are_filled_from_the_alarm_and_an_unknown_placeholder_is_refused() -> None:
    event = alarm({"EndpointName": "churn-prod", "Feature": "tenure"})
    rendered = render_parameters({"Endpoint": "{endpoint}", "Why": "{alarm} on {feature} at {time}"}, event)
    assert rendered == [
        {"Name": "Endpoint", "Value": "churn-prod"},
        {"Name": "Why", "Value": "churn-prod-DataDrift on tenure at 2026-11-22T10:05:00Z"},
    ]
    with pytest.raises(TemplateError, match="unknown \\['region'\\]"):
        render_parameters({"Where": "{region}"}, event)


def test_one_transition_gives_one_token_of_the_length_sagemaker_takes() -> None:
    first = request_token(alarm({"EndpointName": "churn-prod"}))
    assert first == request_token(alarm({"EndpointName": "churn-prod"}))
    assert 32 <= len(first) <= 128


def test_the_token_is_the_opening_transitions_whatever_delivered_it() -> None:
    # The same transition as an AlarmEvent would identify it: retries and sweeps start one run.
    event = AlarmEvent(
        alarm_name="churn-prod-DataDrift",
        alarm_arn="arn:aws:cloudwatch:us-east-1:123456789012:alarm:churn-prod-DataDrift",
        state="ALARM",
        previous_state="OK",
        state_change_time=AT,
        reason="threshold crossed",
        account="123456789012",
        region="us-east-1",
        source="sns",
    )
    assert request_token(alarm({})) == hashlib.sha256(event.transition_id.encode()).hexdigest()


def test_a_drift_measurement_names_the_feature_only_for_the_hours_that_can_have_raised_the_alarm() -> None:
    latest = Drift("churn-prod", "2026-11-22T08:00:00+00:00", "tenure", 0.31)
    assert measured_feature(latest, AT) == "tenure"
    assert measured_feature(latest, datetime(2026, 11, 22, 11, 0, tzinfo=UTC)) == "tenure"  # 3 hours after
    assert measured_feature(latest, datetime(2026, 11, 22, 11, 1, tzinfo=UTC)) == ""
    assert measured_feature(latest, datetime(2026, 11, 22, 7, 59, tzinfo=UTC)) == ""  # before it was measured
    assert measured_feature(None, AT) == ""


@pytest.mark.parametrize(
    ("status", "seen"),
    [
        ("Executing", "in-flight"),
        ("Stopping", "in-flight"),
        ("Failed", "failed"),
        ("Stopped", "failed"),
        ("Succeeded", "took"),
    ],
)
def test_the_pipelines_own_status_verifies_the_retraining(status: str, seen: str) -> None:
    assert execution_observation("arn:execution", status).seen == seen
