"""Pure decisions of the remediations, without AWS: how much a scale-up adds and where it
stops, how an UpdateEndpoint reads back, which deployments the ledger records, and what a
retraining pipeline is started with."""

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from model_medic.intake.alarms import AlarmEvent
from model_medic.intake.triggers import in_service_deployment
from model_medic.measure.endpoint_metrics import Sums
from model_medic.remediate.capacity import ScaleChange, Variant, ceiling, client_errors_dominate, decide_scale_up
from model_medic.remediate.retraining import TemplateError, drifted_feature, render_parameters, request_token
from model_medic.remediate.rollback import config_observation

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


def alarm(dimensions: dict[str, str], metric: str = "FeatureDrift", transition: str = "ALARM") -> AlarmEvent:
    return AlarmEvent(
        alarm_name="churn-prod-DataDrift",
        alarm_arn="arn:aws:cloudwatch:us-east-1:123456789012:alarm:churn-prod-DataDrift",
        state=transition,  # type: ignore[arg-type]
        previous_state="OK",
        state_change_time=AT,
        reason="threshold crossed",
        account="123456789012",
        region="us-east-1",
        source="sns",
        namespace="Custom/SageMaker",
        metric_name=metric,
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
