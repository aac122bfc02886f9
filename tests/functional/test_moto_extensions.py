"""The moto extensions that make SageMaker and CloudWatch behave as AWS does (the checks a
forgiving moto would pass without them are asserted here: states over simulated time,
exact error codes and messages)."""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import boto3
import pytest
import time_machine
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.server import ThreadedMotoServer

from localcloud import cloudwatch as alarm_judgement
from localcloud import model_quality as quality
from localcloud import moto_extensions, sagemaker_events, template, world
from localcloud.cloud import Invocation, LocalCloud
from localcloud.moto_extensions import (
    SHADOW_VARIANTS_MESSAGE,
    SUBJECT_REFUSED_MESSAGE,
    SUBSCRIPTION_EXISTS_MESSAGE,
    UNSUPPORTED_STAT_MESSAGE,
    fail_next_update,
    lag_next_update,
    moto_now,
    range_moves_capacity,
    rounded_start,
    set_clock,
    set_metric_data_page_size,
    set_range_moves_capacity,
    set_update_seconds,
    update_seconds,
)
from tests.conftest import REGION, Stack, make_endpoint, matches
from tests.real_endpoints import create_in_moto, load

if TYPE_CHECKING:
    from mypy_boto3_application_autoscaling.literals import ScalableDimensionType
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_cloudwatch.type_defs import (
        DimensionTypeDef,
        MetricDataQueryTypeDef,
        MetricDataResultTypeDef,
        MetricDatumTypeDef,
    )
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sagemaker.literals import ModelApprovalStatusType
    from mypy_boto3_sagemaker.type_defs import (
        EndpointTypeDef,
        VariantPropertyTypeDef,
    )

ENDPOINT = "churn-prod"
ARN = f"arn:aws:sagemaker:{REGION}:123456789012:endpoint/{ENDPOINT}"
IN_PROGRESS = f'Cannot update in-progress endpoint "{ARN}".'
T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
DIMENSION: ScalableDimensionType = "sagemaker:variant:DesiredInstanceCount"


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def sagemaker(clock: time_machine.Traveller) -> Iterator[SageMakerClient]:
    with mock_aws():
        make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 0.9}, "canary": {"count": 1, "weight": 0.1}})
        yield boto3.client("sagemaker", region_name=REGION)


def described(sagemaker: SageMakerClient) -> dict[str, Any]:
    return cast("dict[str, Any]", sagemaker.describe_endpoint(EndpointName=ENDPOINT))


def variant(sagemaker: SageMakerClient, name: str) -> dict[str, Any]:
    return next(v for v in described(sagemaker)["ProductionVariants"] if v["VariantName"] == name)


def rejected(call: Any, **kwargs: Any) -> dict[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    error: dict[str, str] = caught.value.response["Error"]
    return error


def second_config(sagemaker: SageMakerClient, count: int = 3, weight: float = 0.5) -> str:
    name = f"{ENDPOINT}-config-2"
    sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": v,
                "ModelName": f"{ENDPOINT}-{v}-model",
                "InitialInstanceCount": count,
                "InstanceType": "ml.m5.xlarge",
                "InitialVariantWeight": weight,
            }
            for v in ("primary", "canary")
        ],
    )
    return name


def scalable_target(minimum: int | None = None, maximum: int | None = None, variant_name: str = "primary") -> None:
    kwargs = {"MinCapacity": minimum, "MaxCapacity": maximum}
    boto3.client("application-autoscaling", region_name=REGION).register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId=f"endpoint/{ENDPOINT}/variant/{variant_name}",
        ScalableDimension=DIMENSION,
        **{k: v for k, v in kwargs.items() if v is not None},
    )


# --- the clock ---------------------------------------------------------------------------


def test_moto_now_follows_the_process_clock_so_time_machine_moves_it(clock: time_machine.Traveller) -> None:
    assert moto_now() == T0
    assert moto_now().tzinfo is not None
    clock.shift(timedelta(minutes=5))
    assert moto_now() == T0 + timedelta(minutes=5)


def test_set_clock_shifts_moto_now_and_it_keeps_ticking(clock: time_machine.Traveller) -> None:
    set_clock(datetime(2030, 1, 1, tzinfo=UTC))
    assert moto_now() == datetime(2030, 1, 1, tzinfo=UTC)
    clock.shift(timedelta(seconds=30))
    assert moto_now() == datetime(2030, 1, 1, 0, 0, 30, tzinfo=UTC)
    set_clock(None)
    assert moto_now() == T0 + timedelta(seconds=30)


# --- endpoint updates take time ------------------------------------------------------------


def test_by_default_an_update_is_done_inside_the_call(sagemaker: SageMakerClient) -> None:
    assert update_seconds() == 0
    sagemaker.update_endpoint_weights_and_capacities(
        EndpointName=ENDPOINT, DesiredWeightsAndCapacities=[{"VariantName": "primary", "DesiredInstanceCount": 3}]
    )
    assert described(sagemaker)["EndpointStatus"] == "InService"
    assert variant(sagemaker, "primary")["CurrentInstanceCount"] == 3


def test_a_capacity_change_is_updating_for_the_set_time_with_desired_shown_then_current(
    sagemaker: SageMakerClient, clock: time_machine.Traveller
) -> None:
    set_update_seconds(300)
    sagemaker.update_endpoint_weights_and_capacities(
        EndpointName=ENDPOINT, DesiredWeightsAndCapacities=[{"VariantName": "primary", "DesiredInstanceCount": 3}]
    )
    assert described(sagemaker)["EndpointStatus"] == "Updating"
    primary = variant(sagemaker, "primary")
    assert (primary["CurrentInstanceCount"], primary["DesiredInstanceCount"]) == (2, 3)
    assert primary["CurrentWeight"] == pytest.approx(0.9)  # what was not asked stays
    listed = sagemaker.list_endpoints()["Endpoints"]
    assert [e["EndpointStatus"] for e in listed] == ["Updating"]

    clock.shift(timedelta(seconds=299))
    assert described(sagemaker)["EndpointStatus"] == "Updating"
    clock.shift(timedelta(seconds=1))
    assert sagemaker.list_endpoints()["Endpoints"][0]["EndpointStatus"] == "InService"
    primary = variant(sagemaker, "primary")
    assert (primary["CurrentInstanceCount"], primary["DesiredInstanceCount"]) == (3, 3)
    assert variant(sagemaker, "canary")["CurrentInstanceCount"] == 1


@pytest.mark.parametrize("status", ["InService", "Updating"])
def test_a_change_shown_late_reads_as_before_the_call_for_the_reads_asked_then_as_it_is(
    sagemaker: SageMakerClient, status: str
) -> None:
    lag_next_update(ENDPOINT, reads=2, status=status)
    before = described(sagemaker)
    sagemaker.update_endpoint_weights_and_capacities(
        EndpointName=ENDPOINT, DesiredWeightsAndCapacities=[{"VariantName": "primary", "DesiredInstanceCount": 3}]
    )
    for _ in range(2):
        late = described(sagemaker)
        assert late["EndpointStatus"] == status
        assert (late["ProductionVariants"], late["EndpointConfigName"]) == (
            before["ProductionVariants"],
            before["EndpointConfigName"],
        )
    assert described(sagemaker)["EndpointStatus"] == "InService"
    assert variant(sagemaker, "primary")["CurrentInstanceCount"] == 3  # the change itself was made at once
    sagemaker.update_endpoint_weights_and_capacities(  # only the next change is shown late
        EndpointName=ENDPOINT, DesiredWeightsAndCapacities=[{"VariantName": "primary", "DesiredInstanceCount": 4}]
    )
    assert variant(sagemaker, "primary")["CurrentInstanceCount"] == 4


def test_a_weight_change_shows_the_desired_weight_until_it_is_done(
    sagemaker: SageMakerClient, clock: time_machine.Traveller
) -> None:
    set_update_seconds(60)
    sagemaker.update_endpoint_weights_and_capacities(
        EndpointName=ENDPOINT,
        DesiredWeightsAndCapacities=[
            {"VariantName": "primary", "DesiredWeight": 0.5},
            {"VariantName": "canary", "DesiredWeight": 0.5},  # weights of several variants: allowed
        ],
    )
    canary = variant(sagemaker, "canary")
    assert (canary["CurrentWeight"], canary["DesiredWeight"]) == (pytest.approx(0.1), pytest.approx(0.5))
    clock.shift(timedelta(seconds=60))
    canary = variant(sagemaker, "canary")
    assert (canary["CurrentWeight"], canary["DesiredWeight"]) == (pytest.approx(0.5), pytest.approx(0.5))


def test_while_updating_every_further_update_and_the_delete_are_rejected_as_in_aws(
    sagemaker: SageMakerClient, clock: time_machine.Traveller
) -> None:
    set_update_seconds(120)
    sagemaker.update_endpoint_weights_and_capacities(
        EndpointName=ENDPOINT, DesiredWeightsAndCapacities=[{"VariantName": "canary", "DesiredInstanceCount": 2}]
    )
    config = second_config(sagemaker)
    for call, kwargs in (
        (
            sagemaker.update_endpoint_weights_and_capacities,
            {
                "EndpointName": ENDPOINT,
                "DesiredWeightsAndCapacities": [{"VariantName": "primary", "DesiredInstanceCount": 4}],
            },
        ),
        (sagemaker.update_endpoint, {"EndpointName": ENDPOINT, "EndpointConfigName": config}),
        (sagemaker.delete_endpoint, {"EndpointName": ENDPOINT}),
    ):
        assert rejected(call, **kwargs) == {"Code": "ValidationException", "Message": IN_PROGRESS}
    assert variant(sagemaker, "primary")["DesiredInstanceCount"] == 2  # the rejected call changed nothing

    clock.shift(timedelta(seconds=120))
    sagemaker.update_endpoint_weights_and_capacities(
        EndpointName=ENDPOINT, DesiredWeightsAndCapacities=[{"VariantName": "primary", "DesiredInstanceCount": 4}]
    )
    assert described(sagemaker)["EndpointStatus"] == "Updating"


def test_capacity_of_more_than_one_variant_in_one_call_is_rejected(sagemaker: SageMakerClient) -> None:
    error = rejected(
        sagemaker.update_endpoint_weights_and_capacities,
        EndpointName=ENDPOINT,
        DesiredWeightsAndCapacities=[
            {"VariantName": "primary", "DesiredInstanceCount": 3},
            {"VariantName": "canary", "DesiredInstanceCount": 2},
        ],
    )
    assert error["Code"] == "ValidationException"
    assert error["Message"] == moto_extensions.ONE_CAPACITY_MESSAGE.format(variants="primary, canary")
    assert [v["CurrentInstanceCount"] for v in described(sagemaker)["ProductionVariants"]] == [2, 1]
    assert described(sagemaker)["EndpointStatus"] == "InService"


# --- UpdateEndpoint ---------------------------------------------------------------------------


def test_update_endpoint_keeps_the_old_config_and_names_the_new_one_as_pending_until_done(
    sagemaker: SageMakerClient, clock: time_machine.Traveller
) -> None:
    set_update_seconds(600)
    config = second_config(sagemaker, count=3, weight=0.5)
    sagemaker.update_endpoint(EndpointName=ENDPOINT, EndpointConfigName=config)
    during = described(sagemaker)
    assert during["EndpointStatus"] == "Updating"
    assert during["EndpointConfigName"] == f"{ENDPOINT}-config-1"
    assert during["PendingDeploymentSummary"]["EndpointConfigName"] == config
    assert during["PendingDeploymentSummary"]["StartTime"] == T0
    pending = {v["VariantName"]: v for v in during["PendingDeploymentSummary"]["ProductionVariants"]}
    assert (pending["primary"]["DesiredInstanceCount"], pending["primary"]["InstanceType"]) == (3, "ml.m5.xlarge")
    assert [v["CurrentInstanceCount"] for v in during["ProductionVariants"]] == [2, 1]

    clock.shift(timedelta(seconds=600))
    after = described(sagemaker)
    assert after["EndpointStatus"] == "InService"
    assert after["EndpointConfigName"] == config
    assert "PendingDeploymentSummary" not in after
    assert "FailureReason" not in after
    # RetainAllVariantProperties defaults to false: counts and weights are the new config's
    assert [(v["CurrentInstanceCount"], v["CurrentWeight"]) for v in after["ProductionVariants"]] == [
        (3, pytest.approx(0.5)),
        (3, pytest.approx(0.5)),
    ]


def capture_config(sagemaker: SageMakerClient, name: str, capture: dict[str, Any] | None, shadow: bool = False) -> str:
    """An endpoint config of one variant of the model `m` capturing as `capture` (None: no capture)."""
    variant: Any = {"ModelName": "m", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}
    extra: Any = {"DataCaptureConfig": capture} if capture is not None else {}
    if shadow:
        extra["ShadowProductionVariants"] = [{**variant, "VariantName": "shadow"}]
    live: Any = [{**variant, "VariantName": "live"}]
    sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=live, **extra)
    return name


def test_update_endpoint_takes_the_new_configs_capture_and_shadows_once_done_as_a_summary(
    empty_sagemaker: SageMakerClient, clock: time_machine.Traveller
) -> None:
    """DescribeEndpoint's DataCaptureConfig is "the currently active data capture configuration"
    (a DataCaptureConfigSummary); the old config's stays until the update is done."""
    sm = empty_sagemaker
    sm.create_model(ModelName="m", ExecutionRoleArn="arn:aws:iam::123456789012:role/r", PrimaryContainer={"Image": "i"})
    key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    options: Any = [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}]
    first = {"InitialSamplingPercentage": 100, "DestinationS3Uri": "s3://a/capture", "KmsKeyId": key}
    capture_config(sm, "a", {**first, "CaptureOptions": options})
    second = {"EnableCapture": True, "InitialSamplingPercentage": 20, "DestinationS3Uri": "s3://b/capture"}
    capture_config(sm, "b", {**second, "CaptureOptions": options}, shadow=True)
    sm.create_endpoint(EndpointName="e", EndpointConfigName="a")
    shown_a = {
        "EnableCapture": True,
        "CaptureStatus": "Started",
        "CurrentSamplingPercentage": 100,
        "DestinationS3Uri": "s3://a/capture",
        "KmsKeyId": key,
    }
    assert sm.describe_endpoint(EndpointName="e")["DataCaptureConfig"] == shown_a
    set_update_seconds(600)
    sm.update_endpoint(EndpointName="e", EndpointConfigName="b")
    during = sm.describe_endpoint(EndpointName="e")
    assert (during["EndpointStatus"], during["DataCaptureConfig"]) == ("Updating", shown_a)
    assert "ShadowProductionVariants" not in during
    clock.shift(timedelta(seconds=600))
    after = sm.describe_endpoint(EndpointName="e")
    # No KmsKeyId in the config: none in the summary (real DescribeEndpoint leaves it out).
    shown_b = {"EnableCapture": True, "CaptureStatus": "Started", "CurrentSamplingPercentage": 20}
    assert after["DataCaptureConfig"] == {**shown_b, "DestinationS3Uri": "s3://b/capture"}
    assert [v["VariantName"] for v in after["ShadowProductionVariants"]] == ["shadow"]
    # Capture turned off is Stopped; a config without capture leaves DataCaptureConfig out.
    capture_config(sm, "off", {**second, "EnableCapture": False, "CaptureOptions": options})
    sm.update_endpoint(EndpointName="e", EndpointConfigName="off")
    clock.shift(timedelta(seconds=600))
    off = sm.describe_endpoint(EndpointName="e")
    assert (off["DataCaptureConfig"]["EnableCapture"], off["DataCaptureConfig"]["CaptureStatus"]) == (False, "Stopped")
    assert "ShadowProductionVariants" not in off
    capture_config(sm, "none", None)
    sm.update_endpoint(EndpointName="e", EndpointConfigName="none")
    clock.shift(timedelta(seconds=600))
    assert "DataCaptureConfig" not in sm.describe_endpoint(EndpointName="e")


def test_a_failed_update_keeps_the_old_configs_capture(
    empty_sagemaker: SageMakerClient, clock: time_machine.Traveller
) -> None:
    sm = empty_sagemaker
    sm.create_model(ModelName="m", ExecutionRoleArn="arn:aws:iam::123456789012:role/r", PrimaryContainer={"Image": "i"})
    options: Any = [{"CaptureMode": "Input"}]
    capture_config(
        sm, "a", {"InitialSamplingPercentage": 100, "DestinationS3Uri": "s3://a/c", "CaptureOptions": options}
    )
    capture_config(
        sm, "b", {"InitialSamplingPercentage": 100, "DestinationS3Uri": "s3://b/c", "CaptureOptions": options}
    )
    sm.create_endpoint(EndpointName="e", EndpointConfigName="a")
    fail_next_update("e")
    sm.update_endpoint(EndpointName="e", EndpointConfigName="b")
    assert sm.describe_endpoint(EndpointName="e")["DataCaptureConfig"]["DestinationS3Uri"] == "s3://a/c"


def test_update_endpoint_retaining_variant_properties_keeps_counts_and_weights(sagemaker: SageMakerClient) -> None:
    config = second_config(sagemaker, count=3, weight=0.5)
    sagemaker.update_endpoint(EndpointName=ENDPOINT, EndpointConfigName=config, RetainAllVariantProperties=True)
    after = described(sagemaker)
    assert after["EndpointConfigName"] == config
    assert [(v["CurrentInstanceCount"], v["CurrentWeight"]) for v in after["ProductionVariants"]] == [
        (2, pytest.approx(0.9)),
        (1, pytest.approx(0.1)),
    ]


def test_a_failing_update_rolls_back_to_the_old_config_with_a_failure_reason(
    sagemaker: SageMakerClient, clock: time_machine.Traveller
) -> None:
    set_update_seconds(300)
    config = second_config(sagemaker, count=3)
    fail_next_update(ENDPOINT, reason="Alarm churn-prod-HighErrorRate in ALARM; rolled back.")
    sagemaker.update_endpoint(EndpointName=ENDPOINT, EndpointConfigName=config)
    during = described(sagemaker)
    assert (during["EndpointStatus"], during["PendingDeploymentSummary"]["EndpointConfigName"]) == ("Updating", config)

    clock.shift(timedelta(seconds=300))
    after = described(sagemaker)
    assert after["EndpointStatus"] == "InService"
    assert after["EndpointConfigName"] == f"{ENDPOINT}-config-1"
    assert after["FailureReason"] == "Alarm churn-prod-HighErrorRate in ALARM; rolled back."
    assert "PendingDeploymentSummary" not in after
    assert [(v["CurrentInstanceCount"], v["DesiredInstanceCount"]) for v in after["ProductionVariants"]] == [
        (2, 2),
        (1, 1),
    ]

    sagemaker.update_endpoint(EndpointName=ENDPOINT, EndpointConfigName=config)  # the failure was used up
    clock.shift(timedelta(seconds=300))
    again = described(sagemaker)
    assert (again["EndpointConfigName"], "FailureReason" in again) == (config, False)


def test_a_failing_update_with_instant_updates_is_rolled_back_at_once(sagemaker: SageMakerClient) -> None:
    fail_next_update(ENDPOINT)
    sagemaker.update_endpoint(EndpointName=ENDPOINT, EndpointConfigName=second_config(sagemaker))
    after = described(sagemaker)
    assert (after["EndpointStatus"], after["EndpointConfigName"]) == ("InService", f"{ENDPOINT}-config-1")
    assert after["FailureReason"]


def config_of(name: str, variants: dict[str, dict[str, Any]]) -> str:
    """An endpoint config: variant -> {"count", "weight", "type" (default ml.m5.large, as make_endpoint), "model"}."""
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    for model in {spec["model"] for spec in variants.values() if "model" in spec}:
        if model not in [m["ModelName"] for m in sagemaker.list_models()["Models"]]:
            sagemaker.create_model(
                ModelName=model,
                ExecutionRoleArn="arn:aws:iam::123456789012:role/sagemaker-execution",
                PrimaryContainer={"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/churn:v7"},
            )
    sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": variant_name,
                "ModelName": spec.get("model", f"{ENDPOINT}-{variant_name}-model"),
                "InitialInstanceCount": spec["count"],
                "InstanceType": spec.get("type", "ml.m5.large"),
                "InitialVariantWeight": spec["weight"],
            }
            for variant_name, spec in variants.items()
        ],
    )
    return name


def counts_and_weights(sagemaker: SageMakerClient) -> dict[str, tuple[int, float]]:
    return {
        v["VariantName"]: (v["CurrentInstanceCount"], round(v["CurrentWeight"], 6))
        for v in described(sagemaker)["ProductionVariants"]
    }


def excluding(*properties: str) -> list[VariantPropertyTypeDef]:
    # A test may name a property type that AWS does not know: it is sent as given.
    return [cast("VariantPropertyTypeDef", {"VariantPropertyType": p}) for p in properties]


@pytest.mark.parametrize(
    ("excluded", "expected"),
    [
        ((), {"primary": (2, 0.9), "canary": (1, 0.1)}),
        (("DesiredWeight",), {"primary": (2, 0.5), "canary": (1, 0.5)}),
        (("DesiredInstanceCount",), {"primary": (4, 0.9), "canary": (3, 0.1)}),
        (("DesiredInstanceCount", "DesiredWeight"), {"primary": (4, 0.5), "canary": (3, 0.5)}),
        (("DataCaptureConfig",), {"primary": (2, 0.9), "canary": (1, 0.1)}),  # "(Not currently supported.)"
    ],
)
def test_retaining_variant_properties_except_the_excluded_ones_which_come_from_the_new_config(
    sagemaker: SageMakerClient, excluded: tuple[str, ...], expected: dict[str, tuple[int, float]]
) -> None:
    config = config_of("c2", {"primary": {"count": 4, "weight": 0.5}, "canary": {"count": 3, "weight": 0.5}})
    sagemaker.update_endpoint(
        EndpointName=ENDPOINT,
        EndpointConfigName=config,
        RetainAllVariantProperties=True,
        ExcludeRetainedVariantProperties=excluding(*excluded),
    )
    assert described(sagemaker)["EndpointConfigName"] == config
    assert counts_and_weights(sagemaker) == expected


def test_excluded_properties_without_retaining_change_nothing_the_config_decides_all(
    sagemaker: SageMakerClient,
) -> None:
    config = config_of("c2", {"primary": {"count": 4, "weight": 0.5}, "canary": {"count": 3, "weight": 0.5}})
    sagemaker.update_endpoint(
        EndpointName=ENDPOINT, EndpointConfigName=config, ExcludeRetainedVariantProperties=excluding("DesiredWeight")
    )
    assert counts_and_weights(sagemaker) == {"primary": (4, 0.5), "canary": (3, 0.5)}


def test_a_new_variant_takes_the_configs_initial_values_and_a_variant_left_out_disappears(
    sagemaker: SageMakerClient,
) -> None:
    config = config_of(
        "c2",
        {"primary": {"count": 5, "weight": 0.8}, "challenger": {"count": 2, "weight": 0.2, "model": "churn-v7"}},
    )
    sagemaker.update_endpoint(EndpointName=ENDPOINT, EndpointConfigName=config, RetainAllVariantProperties=True)
    assert counts_and_weights(sagemaker) == {"primary": (2, 0.9), "challenger": (2, 0.2)}
    [only] = [v for v in described(sagemaker)["ProductionVariants"] if v["VariantName"] == "challenger"]
    assert (only["DesiredInstanceCount"], only["DesiredWeight"]) == (2, pytest.approx(0.2))


def test_an_unknown_variant_property_type_is_rejected_and_changes_nothing(sagemaker: SageMakerClient) -> None:
    config = config_of("c2", {"primary": {"count": 4, "weight": 0.5}})
    error = rejected(
        sagemaker.update_endpoint,
        EndpointName=ENDPOINT,
        EndpointConfigName=config,
        RetainAllVariantProperties=True,
        ExcludeRetainedVariantProperties=excluding("DesiredWeight", "InstanceType"),
    )
    assert error["Code"] == "ValidationException"
    assert "InstanceType" in error["Message"]
    assert described(sagemaker)["EndpointConfigName"] == f"{ENDPOINT}-config-1"


def test_excluded_properties_are_pending_while_updating_and_current_at_the_end(
    sagemaker: SageMakerClient, clock: time_machine.Traveller
) -> None:
    set_update_seconds(300)
    config = config_of("c2", {"primary": {"count": 2, "weight": 0.0}, "canary": {"count": 3, "weight": 1.0}})
    sagemaker.update_endpoint(
        EndpointName=ENDPOINT,
        EndpointConfigName=config,
        RetainAllVariantProperties=True,
        ExcludeRetainedVariantProperties=excluding("DesiredWeight"),
    )
    during = described(sagemaker)
    assert during["EndpointStatus"] == "Updating"
    pending = {v["VariantName"]: v for v in during["PendingDeploymentSummary"]["ProductionVariants"]}
    assert (pending["canary"]["DesiredInstanceCount"], pending["canary"]["DesiredWeight"]) == (1, 1.0)
    assert (pending["primary"]["DesiredInstanceCount"], pending["primary"]["DesiredWeight"]) == (2, 0.0)
    assert counts_and_weights(sagemaker) == {"primary": (2, 0.9), "canary": (1, 0.1)}
    clock.shift(timedelta(seconds=300))
    assert counts_and_weights(sagemaker) == {"primary": (2, 0.0), "canary": (1, 1.0)}


@pytest.mark.parametrize(
    "change",
    [
        {"primary": {"count": 2, "weight": 1.0}},  # the auto-scaled canary is removed
        {"primary": {"count": 2, "weight": 0.9}, "canary": {"count": 1, "weight": 0.1, "type": "ml.c5.xlarge"}},
    ],
    ids=["removed", "instance-type-changed"],
)
def test_an_update_that_removes_or_retypes_an_auto_scaled_variant_fails_and_changes_nothing(
    sagemaker: SageMakerClient, change: dict[str, dict[str, Any]]
) -> None:
    scalable_target(minimum=1, maximum=4, variant_name="canary")
    config = config_of("c2", change)
    error = rejected(sagemaker.update_endpoint, EndpointName=ENDPOINT, EndpointConfigName=config)
    assert error == {
        "Code": "ValidationException",
        "Message": moto_extensions.SCALED_VARIANT_MESSAGE.format(variants="canary", endpoint=ENDPOINT),
    }
    after = described(sagemaker)
    assert (after["EndpointStatus"], after["EndpointConfigName"]) == ("InService", f"{ENDPOINT}-config-1")
    assert "PendingDeploymentSummary" not in after
    assert counts_and_weights(sagemaker) == {"primary": (2, 0.9), "canary": (1, 0.1)}

    boto3.client("application-autoscaling", region_name=REGION).deregister_scalable_target(
        ServiceNamespace="sagemaker", ResourceId=f"endpoint/{ENDPOINT}/variant/canary", ScalableDimension=DIMENSION
    )
    sagemaker.update_endpoint(EndpointName=ENDPOINT, EndpointConfigName=config)
    assert described(sagemaker)["EndpointConfigName"] == config


def test_an_auto_scaled_variant_may_change_its_model_and_an_unscaled_one_may_go(sagemaker: SageMakerClient) -> None:
    scalable_target(minimum=1, maximum=4, variant_name="primary")
    config = config_of("c2", {"primary": {"count": 2, "weight": 1.0, "model": "churn-v7"}})
    sagemaker.update_endpoint(EndpointName=ENDPOINT, EndpointConfigName=config, RetainAllVariantProperties=True)
    assert counts_and_weights(sagemaker) == {"primary": (2, 0.9)}


# --- RegisterScalableTarget moves the capacity into the range ----------------------------------


def test_raising_min_capacity_above_the_count_scales_the_variant_and_updates_the_endpoint(
    sagemaker: SageMakerClient, clock: time_machine.Traveller
) -> None:
    set_update_seconds(240)
    scalable_target(minimum=1, maximum=6)
    assert described(sagemaker)["EndpointStatus"] == "InService"  # 2 is inside 1..6: nothing moves
    scalable_target(minimum=3)
    assert described(sagemaker)["EndpointStatus"] == "Updating"
    primary = variant(sagemaker, "primary")
    assert (primary["CurrentInstanceCount"], primary["DesiredInstanceCount"]) == (2, 3)
    clock.shift(timedelta(seconds=240))
    assert described(sagemaker)["EndpointStatus"] == "InService"
    assert variant(sagemaker, "primary")["CurrentInstanceCount"] == 3


def test_lowering_max_capacity_below_the_count_scales_the_variant_in(sagemaker: SageMakerClient) -> None:
    scalable_target(minimum=1, maximum=1)
    assert variant(sagemaker, "primary")["CurrentInstanceCount"] == 1
    assert variant(sagemaker, "canary")["CurrentInstanceCount"] == 1


def test_with_the_range_switch_off_a_new_range_moves_nothing(sagemaker: SageMakerClient) -> None:
    set_range_moves_capacity(False)
    scalable_target(minimum=3, maximum=6)
    assert (described(sagemaker)["EndpointStatus"], variant(sagemaker, "primary")["CurrentInstanceCount"]) == (
        "InService",
        2,
    )


def test_a_new_range_while_the_endpoint_is_updating_is_recorded_but_moves_nothing(
    sagemaker: SageMakerClient, clock: time_machine.Traveller
) -> None:
    set_update_seconds(60)
    sagemaker.update_endpoint_weights_and_capacities(
        EndpointName=ENDPOINT, DesiredWeightsAndCapacities=[{"VariantName": "canary", "DesiredWeight": 0.2}]
    )
    scalable_target(minimum=4, maximum=6)
    targets = boto3.client("application-autoscaling", region_name=REGION).describe_scalable_targets(
        ServiceNamespace="sagemaker"
    )["ScalableTargets"]
    assert [(t["MinCapacity"], t["MaxCapacity"]) for t in targets] == [(4, 6)]
    assert variant(sagemaker, "primary")["DesiredInstanceCount"] == 2
    clock.shift(timedelta(seconds=60))
    assert described(sagemaker)["EndpointStatus"] == "InService"
    assert variant(sagemaker, "primary")["CurrentInstanceCount"] == 2  # nobody re-applies the range


# --- endpoint ARNs -------------------------------------------------------------------------------


def test_an_endpoints_arn_carries_its_name_in_lower_case_everywhere_and_finds_its_tags(
    sagemaker: SageMakerClient,
) -> None:
    """As AWS writes it: `Churn-Prod` keeps its name, and its ARN is `endpoint/churn-prod` in
    CreateEndpoint, DescribeEndpoint, ListEndpoints and the tagging API; the tags are found by
    that ARN, and not by one spelled with the name's capitals."""
    sagemaker.create_endpoint_config(
        EndpointConfigName="capitals",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": f"{ENDPOINT}-primary-model",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    lower = f"arn:aws:sagemaker:{REGION}:123456789012:endpoint/churn-prod-2"
    created = sagemaker.create_endpoint(EndpointName="Churn-Prod-2", EndpointConfigName="capitals")
    assert created["EndpointArn"] == lower
    assert sagemaker.describe_endpoint(EndpointName="Churn-Prod-2")["EndpointArn"] == lower
    listed = {e["EndpointName"]: e["EndpointArn"] for e in sagemaker.list_endpoints()["Endpoints"]}
    assert listed == {ENDPOINT: ARN, "Churn-Prod-2": lower}
    sagemaker.add_tags(ResourceArn=lower, Tags=[{"Key": "model-medic", "Value": "on"}])
    assert sagemaker.list_tags(ResourceArn=lower)["Tags"] == [{"Key": "model-medic", "Value": "on"}]
    tagged = boto3.client("resourcegroupstaggingapi", region_name=REGION).get_resources(
        ResourceTypeFilters=["sagemaker:endpoint"]
    )["ResourceTagMappingList"]
    assert [r["ResourceARN"] for r in tagged] == [lower]
    with pytest.raises(ClientError, match="ValidationException"):
        sagemaker.list_tags(ResourceArn=lower.replace("churn-prod-2", "Churn-Prod-2"))


# --- model packages ---------------------------------------------------------------------------

GROUP = "churn-models"
METRICS = {"ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": "s3://churn-ml/eval/v7.json"}}}


def register(
    sagemaker: SageMakerClient, status: ModelApprovalStatusType = "PendingManualApproval", **extra: Any
) -> str:
    return str(
        sagemaker.create_model_package(
            ModelPackageGroupName=GROUP,
            ModelApprovalStatus=status,
            InferenceSpecification={
                "Containers": [{"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/churn:v7"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
            **extra,
        )["ModelPackageArn"]
    )


@pytest.fixture
def registry(clock: time_machine.Traveller) -> Iterator[SageMakerClient]:
    with mock_aws():
        sagemaker = boto3.client("sagemaker", region_name=REGION)
        sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
        yield sagemaker


def test_a_package_keeps_its_model_metrics_and_is_listed_by_group_and_approval_status(
    registry: SageMakerClient,
) -> None:
    first = register(registry, ModelMetrics=METRICS)
    second = register(registry, status="Approved")
    registry.create_model_package(ModelPackageName="unversioned", ModelPackageDescription="marketplace style")
    assert registry.describe_model_package(ModelPackageName=first)["ModelMetrics"] == METRICS
    listed = registry.list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"]
    assert [p["ModelPackageArn"] for p in listed] == [first, second]
    assert all("ModelMetrics" not in p for p in listed)  # a summary is not a description
    approved = registry.list_model_packages(ModelPackageGroupName=GROUP, ModelApprovalStatus="Approved")
    assert [p["ModelPackageArn"] for p in approved["ModelPackageSummaryList"]] == [second]
    newest = registry.list_model_packages(ModelPackageGroupName=GROUP, SortBy="CreationTime", SortOrder="Descending")
    assert [p["ModelPackageVersion"] for p in newest["ModelPackageSummaryList"]] == [2, 1]
    # Without a group, AWS lists unversioned packages only unless ModelPackageType says otherwise.
    assert registry.list_model_packages(ModelApprovalStatus="Approved")["ModelPackageSummaryList"] == []
    both = registry.list_model_packages(ModelApprovalStatus="Approved", ModelPackageType="Both")
    assert [p["ModelPackageArn"] for p in both["ModelPackageSummaryList"]] == [second]


def test_approving_a_package_sets_status_description_and_last_modified_on_the_simulated_clock(
    registry: SageMakerClient, clock: time_machine.Traveller
) -> None:
    arn = register(registry)
    created = registry.describe_model_package(ModelPackageName=arn)
    assert (created["CreationTime"], created["ModelApprovalStatus"], "LastModifiedTime" in created) == (
        T0,
        "PendingManualApproval",
        False,
    )
    clock.shift(timedelta(minutes=10))
    registry.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved", ApprovalDescription="beats v6")
    approved = registry.describe_model_package(ModelPackageName=arn)
    assert (approved["ModelApprovalStatus"], approved["ApprovalDescription"]) == ("Approved", "beats v6")
    assert (approved["CreationTime"], approved["LastModifiedTime"]) == (T0, T0 + timedelta(minutes=10))

    set_clock(datetime(2030, 1, 1, tzinfo=UTC))  # the local cloud's server clock
    registry.update_model_package(ModelPackageArn=arn, CustomerMetadataProperties={"superseded-by": "v8"})
    later = registry.describe_model_package(ModelPackageName=arn)
    assert later["LastModifiedTime"] == datetime(2030, 1, 1, tzinfo=UTC)
    assert (later["ModelApprovalStatus"], later["ApprovalDescription"]) == ("Approved", "beats v6")  # untouched


def test_customer_metadata_properties_are_merged_and_removed_not_replaced(registry: SageMakerClient) -> None:
    arn = register(registry, CustomerMetadataProperties={"trained-on": "2026-11", "owner": "ml"})
    registry.update_model_package(
        ModelPackageArn=arn,
        CustomerMetadataProperties={"superseded-by": "v8"},
        CustomerMetadataPropertiesToRemove=["owner"],
    )
    assert registry.describe_model_package(ModelPackageName=arn)["CustomerMetadataProperties"] == {
        "trained-on": "2026-11",
        "superseded-by": "v8",
    }


@pytest.mark.parametrize("name", [GROUP, f"{GROUP}/1"])
def test_update_model_package_takes_only_an_arn_as_in_aws(registry: SageMakerClient, name: str) -> None:
    arn = register(registry)
    error = rejected(registry.update_model_package, ModelPackageArn=name, ModelApprovalStatus="Rejected")
    assert error["Code"] == "ValidationException"
    assert error["Message"].startswith(f"1 validation error detected: Value '{name}' at 'modelPackageArn'")
    assert registry.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"] == "PendingManualApproval"


# --- CloudWatch percentiles in GetMetricData ------------------------------------------------

NAMESPACE = "AWS/SageMaker"
LATENCY_DIMENSIONS: list[DimensionTypeDef] = [
    {"Name": "EndpointName", "Value": ENDPOINT},
    {"Name": "VariantName", "Value": "canary"},
]
# Three 1-minute periods of ModelLatency (microseconds): skewed, with a tail, and with ties.
PERIODS = [
    [120.0, 95.0, 101.0, 99.0, 5000.0, 130.0, 87.0, 110.0, 104.0, 98.0, 2500.0, 93.0, 97.0],
    [float(v) for v in range(1, 201)],
    [300.0, 300.0, 300.0, 10.0, 900.0, 300.0, 42.0],
]
PERCENTILES = ["p99", "p90", "p50", "p95.45", "p0", "p100", "p12.5"]


def percentile_query(
    query_id: str, stat: str, dimensions: list[DimensionTypeDef] | None = None
) -> MetricDataQueryTypeDef:
    return {
        "Id": query_id,
        "MetricStat": {
            "Metric": {
                "Namespace": NAMESPACE,
                "MetricName": "ModelLatency",
                "Dimensions": LATENCY_DIMENSIONS if dimensions is None else dimensions,
            },
            "Period": 60,
            "Stat": stat,
        },
    }


def metric_data(
    cloudwatch: CloudWatchClient, queries: list[MetricDataQueryTypeDef], **kwargs: Any
) -> dict[str, MetricDataResultTypeDef]:
    answer = cloudwatch.get_metric_data(
        MetricDataQueries=queries,
        StartTime=T0 - timedelta(minutes=5),
        EndTime=T0 + timedelta(minutes=5),
        ScanBy="TimestampAscending",
        **kwargs,
    )
    return {r["Id"]: r for r in answer["MetricDataResults"]}


def expected_percentile(values: list[float], stat: str) -> float:
    """numpy's nearest rank ("inverted_cdf"): an independent computation of the same definition."""
    import numpy

    return float(numpy.percentile(numpy.array(values), float(stat[1:]), method="inverted_cdf"))


def put_latencies(
    cloudwatch: CloudWatchClient, periods: list[list[float]], dimensions: list[DimensionTypeDef] | None = None
) -> None:
    for minute, values in enumerate(periods):
        cloudwatch.put_metric_data(
            Namespace=NAMESPACE,
            MetricData=[
                {
                    "MetricName": "ModelLatency",
                    "Dimensions": LATENCY_DIMENSIONS if dimensions is None else dimensions,
                    "Timestamp": T0 + timedelta(minutes=minute, seconds=second % 60),
                    "Value": value,
                    "Unit": "Microseconds",
                }
                for second, value in enumerate(values)
            ],
        )


@pytest.fixture
def cloudwatch(clock: time_machine.Traveller) -> Iterator[CloudWatchClient]:
    with mock_aws():
        yield boto3.client("cloudwatch", region_name=REGION)


def test_percentiles_of_values_put_one_by_one_are_numpys_nearest_rank_per_period(cloudwatch: CloudWatchClient) -> None:
    put_latencies(cloudwatch, PERIODS)
    queries = [percentile_query(f"q{i}", stat) for i, stat in enumerate(PERCENTILES)]
    queries.append(percentile_query("avg", "Average"))
    results = metric_data(cloudwatch, queries)
    minutes = [T0 + timedelta(minutes=m) for m in range(3)]
    for i, stat in enumerate(PERCENTILES):
        result = results[f"q{i}"]
        assert result["Timestamps"] == minutes, stat
        assert result["Values"] == [expected_percentile(values, stat) for values in PERIODS], stat
        assert result["Label"] == f"ModelLatency {stat}"
        assert all(value in values for value, values in zip(result["Values"], PERIODS, strict=True))
    assert results["q0"]["Values"] == [5000.0, 198.0, 900.0]  # p99 sees the tail the average hides
    assert results["avg"]["Values"] == pytest.approx([statistics.mean(values) for values in PERIODS])


def test_percentiles_of_values_with_counts_weigh_each_value_by_its_count(cloudwatch: CloudWatchClient) -> None:
    values, counts = [80.0, 100.0, 150.0, 900.0, 4000.0], [500, 300, 150, 40, 10]
    cloudwatch.put_metric_data(
        Namespace=NAMESPACE,
        MetricData=[
            {
                "MetricName": "ModelLatency",
                "Dimensions": LATENCY_DIMENSIONS,
                "Timestamp": T0,
                "Values": values,
                "Counts": counts,
            }
        ],
    )
    expanded = [v for v, c in zip(values, counts, strict=True) for _ in range(c)]
    results = metric_data(cloudwatch, [percentile_query(f"q{i}", s) for i, s in enumerate(PERCENTILES)])
    for i, stat in enumerate(PERCENTILES):
        assert results[f"q{i}"]["Values"] == [expected_percentile(expanded, stat)], stat
    assert [results["q0"]["Values"], results["q1"]["Values"], results["q2"]["Values"]] == [[900.0], [150.0], [80.0]]


def test_statistic_sets_give_percentiles_only_where_aws_says_they_can(cloudwatch: CloudWatchClient) -> None:
    def statistic_set(minute: int, count: float, low: float, high: float, total: float) -> MetricDatumTypeDef:
        return {
            "MetricName": "ModelLatency",
            "Dimensions": LATENCY_DIMENSIONS,
            "Timestamp": T0 + timedelta(minutes=minute),
            "StatisticValues": {"SampleCount": count, "Minimum": low, "Maximum": high, "Sum": total},
        }

    cloudwatch.put_metric_data(
        Namespace=NAMESPACE,
        MetricData=[
            statistic_set(0, 4, 200.0, 200.0, 800.0),  # Min == Max: four datapoints of 200
            statistic_set(1, 1, 70.0, 70.0, 70.0),  # SampleCount 1
            statistic_set(2, 10, 50.0, 900.0, 2000.0),  # a summary: no percentile for minute 2
        ],
    )
    put_latencies(cloudwatch, [[100.0] * 6, [60.0, 80.0, 90.0], [10.0, 20.0]])
    results = metric_data(cloudwatch, [percentile_query("p", "p90"), percentile_query("n", "SampleCount")])
    assert results["p"]["Timestamps"] == [T0, T0 + timedelta(minutes=1)]
    assert results["p"]["Values"] == [
        expected_percentile([200.0] * 4 + [100.0] * 6, "p90"),
        expected_percentile([70.0, 60.0, 80.0, 90.0], "p90"),
    ]
    assert results["n"]["Values"] == [10.0, 4.0, 12.0]  # the other statistics still count every set


def test_a_period_with_a_negative_value_has_no_percentile(cloudwatch: CloudWatchClient) -> None:
    put_latencies(cloudwatch, [[5.0, 7.0, 9.0], [4.0, -1.0, 6.0]])
    results = metric_data(cloudwatch, [percentile_query("p", "p50"), percentile_query("max", "Maximum")])
    assert (results["p"]["Timestamps"], results["p"]["Values"]) == ([T0], [7.0])
    assert results["max"]["Values"] == [9.0, 6.0]


def test_a_percentile_takes_only_its_metric_namespace_dimensions_and_unit(cloudwatch: CloudWatchClient) -> None:
    put_latencies(cloudwatch, [[10.0, 20.0, 30.0]])
    primary: list[DimensionTypeDef] = [LATENCY_DIMENSIONS[0], {"Name": "VariantName", "Value": "primary"}]
    put_latencies(cloudwatch, [[1000.0, 2000.0]], dimensions=primary)
    put_latencies(cloudwatch, [[7777.0]], dimensions=[LATENCY_DIMENSIONS[0]])  # endpoint-level: another metric
    cloudwatch.put_metric_data(
        Namespace="Custom/SageMaker",
        MetricData=[{"MetricName": "ModelLatency", "Dimensions": LATENCY_DIMENSIONS, "Timestamp": T0, "Value": 9999.0}],
    )
    reordered = list(reversed(LATENCY_DIMENSIONS))  # the order of the dimensions does not matter
    with_unit = percentile_query("u", "p100")
    with_unit["MetricStat"]["Unit"] = "Milliseconds"
    results = metric_data(
        cloudwatch,
        [percentile_query("c", "p100", reordered), percentile_query("p", "p0", primary), with_unit],
    )
    assert results["c"]["Values"] == [30.0]
    assert results["p"]["Values"] == [1000.0]
    assert results["u"]["Values"] == []


@pytest.mark.parametrize("stat", ["SampleCount", "Average", "Sum", "Minimum", "Maximum", "p50"])
def test_every_statistic_takes_exactly_its_namespace_name_and_dimension_set_in_any_order(
    cloudwatch: CloudWatchClient, stat: str
) -> None:
    put_latencies(cloudwatch, [[10.0, 20.0, 30.0]])
    cloudwatch.put_metric_data(  # the same name and dimensions in another namespace: another metric
        Namespace="Custom/SageMaker",
        MetricData=[{"MetricName": "ModelLatency", "Dimensions": LATENCY_DIMENSIONS, "Timestamp": T0, "Value": 9000.0}],
    )
    put_latencies(cloudwatch, [[5000.0]], dimensions=[])  # no dimensions: another metric again
    expected = {"SampleCount": 3.0, "Average": 20.0, "Sum": 60.0, "Minimum": 10.0, "Maximum": 30.0, "p50": 20.0}
    results = metric_data(
        cloudwatch,
        [
            percentile_query("as_put", stat),
            percentile_query("reordered", stat, list(reversed(LATENCY_DIMENSIONS))),
            percentile_query("bare", stat, []),
        ],
    )
    assert results["as_put"]["Values"] == [expected[stat]]
    assert results["reordered"]["Values"] == [expected[stat]]
    assert results["bare"]["Values"] == [5000.0 if stat != "SampleCount" else 1.0]


def test_metric_math_still_reads_the_metric_stat_queries(cloudwatch: CloudWatchClient) -> None:
    put_latencies(cloudwatch, PERIODS)
    hidden = percentile_query("m1", "Maximum")
    hidden["ReturnData"] = False
    answer = cloudwatch.get_metric_data(
        MetricDataQueries=[hidden, {"Id": "e1", "Expression": "m1"}, percentile_query("tail", "p99")],
        StartTime=T0 - timedelta(minutes=5),
        EndTime=T0 + timedelta(minutes=5),
        ScanBy="TimestampAscending",
    )["MetricDataResults"]
    assert [r["Id"] for r in answer] == ["e1", "tail"]
    assert answer[0]["Values"] == [max(values) for values in PERIODS]


def test_list_metrics_lists_each_metric_once_500_a_page(cloudwatch: CloudWatchClient) -> None:
    # 600 metrics (300 endpoints x two variants, listed in either dimension order), each put
    # every minute for 5 minutes: AWS lists 600 metrics in two pages, not 3,000 entries in six.
    for minute in range(5):
        data: list[Any] = []
        for i in range(300):
            for dimensions in (
                [{"Name": "EndpointName", "Value": f"e{i}"}, {"Name": "VariantName", "Value": "primary"}],
                [{"Name": "VariantName", "Value": "canary"}, {"Name": "EndpointName", "Value": f"e{i}"}],
            ):
                data.append(
                    {
                        "MetricName": "Invocations",
                        "Dimensions": dimensions,
                        "Value": 1.0,
                        "Timestamp": T0 + timedelta(minutes=minute),
                    }
                )
        for first in range(0, len(data), 1000):
            cloudwatch.put_metric_data(Namespace="AWS/SageMaker", MetricData=data[first : first + 1000])
    pages = list(cloudwatch.get_paginator("list_metrics").paginate(Namespace="AWS/SageMaker"))
    assert [len(page["Metrics"]) for page in pages] == [500, 100]
    listed = [tuple(sorted((d["Name"], d["Value"]) for d in m["Dimensions"])) for p in pages for m in p["Metrics"]]
    assert len(set(listed)) == 600


@pytest.mark.parametrize(
    ("part", "text", "problem"),
    [
        ("Value", "température", "contains non-ASCII characters."),
        ("Value", "a\nb", "contains non-ASCII characters."),  # a control character: AWS says the same
        ("Value", "   ", "must include at least one non-whitespace character."),
        ("Value", "x" * 1025, "must be at most 1024 characters long."),
        ("Name", "Fe\u00e4ture", "contains non-ASCII characters."),
        ("Name", ":Feature", "must not start with a colon."),
        ("Name", "x" * 256, "must be at most 255 characters long."),
    ],
)
def test_put_metric_data_refuses_the_whole_call_for_one_dimension_aws_refuses(
    cloudwatch: CloudWatchClient, part: str, text: str, problem: str
) -> None:
    good: MetricDatumTypeDef = {"MetricName": "MaxFeatureDrift", "Value": 0.3, "Timestamp": T0}
    bad: MetricDatumTypeDef = {
        "MetricName": "FeatureDrift",
        "Value": 0.3,
        "Timestamp": T0,
        "Dimensions": [
            {"Name": "EndpointName", "Value": ENDPOINT},
            cast("DimensionTypeDef", {"Name": "Feature", "Value": "age", part: text}),
        ],
    }
    with pytest.raises(ClientError) as refused:
        cloudwatch.put_metric_data(Namespace="Custom/SageMaker", MetricData=[good, bad])
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert refused.value.response["Error"]["Message"] == (
        f"The value for parameter MetricData.member.2.Dimensions.member.2.{part} {problem}"
    )
    assert cloudwatch.list_metrics(Namespace="Custom/SageMaker")["Metrics"] == []  # nothing of the call is kept
    # What CloudWatch takes is still taken: printable ASCII, spaces inside, 1,024 characters.
    for value in ("temp\\u00e9rature", "a b", "x" * 1024):
        taken: MetricDatumTypeDef = {**bad, "Dimensions": [{"Name": "Feature", "Value": value}]}
        cloudwatch.put_metric_data(Namespace="Custom/SageMaker", MetricData=[taken])
    assert len(cloudwatch.list_metrics(Namespace="Custom/SageMaker")["Metrics"]) == 3


def test_a_query_whose_between_bounds_are_out_of_order_is_refused_as_in_aws(clock: time_machine.Traveller) -> None:
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(
            TableName="ledger",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb.put_item(TableName="ledger", Item={"pk": {"S": "E"}, "sk": {"S": "DECISION#2026-11-22T10"}})

        def between(low: str, high: str) -> int:
            count: int = dynamodb.query(
                TableName="ledger",
                KeyConditionExpression="pk = :pk AND sk BETWEEN :lo AND :hi",
                ExpressionAttributeValues={":pk": {"S": "E"}, ":lo": {"S": low}, ":hi": {"S": high}},
            )["Count"]
            return count

        assert between("DECISION#2026-11-22T09", "DECISION#2026-11-22T11") == 1
        assert between("DECISION#2026-11-22T10", "DECISION#2026-11-22T10") == 1  # equal bounds are taken
        with pytest.raises(ClientError) as refused:
            between("DECISION#2026-11-22T11", "DECISION#2026-11-22T09")
        assert refused.value.response["Error"]["Code"] == "ValidationException"
        assert refused.value.response["Error"]["Message"] == (
            "Invalid KeyConditionExpression: The BETWEEN operator requires upper bound to be greater than or "
            "equal to lower bound; lower bound operand: AttributeValue: {S:DECISION#2026-11-22T11}, "
            "upper bound operand: AttributeValue: {S:DECISION#2026-11-22T09}"
        )


def test_percentiles_follow_scan_by_and_return_data_and_keep_query_order(cloudwatch: CloudWatchClient) -> None:
    put_latencies(cloudwatch, PERIODS)
    hidden = percentile_query("hidden", "p50")
    hidden["ReturnData"] = False
    answer = cloudwatch.get_metric_data(
        MetricDataQueries=[percentile_query("tail", "p99"), percentile_query("avg", "Average"), hidden],
        StartTime=T0 - timedelta(minutes=5),
        EndTime=T0 + timedelta(minutes=5),
        ScanBy="TimestampDescending",
    )["MetricDataResults"]
    assert [r["Id"] for r in answer] == ["tail", "avg"]
    assert answer[0]["Values"] == [900.0, 198.0, 5000.0]
    assert answer[0]["Timestamps"][0] == T0 + timedelta(minutes=2)


def sums_from(cloudwatch: CloudWatchClient, start: datetime, period: int = 60) -> list[tuple[datetime, float]]:
    [result] = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                **percentile_query("sum", "Sum"),
                "MetricStat": {**percentile_query("sum", "Sum")["MetricStat"], "Period": period},
            }
        ],
        StartTime=start,
        EndTime=T0,
        ScanBy="TimestampAscending",
    )["MetricDataResults"]
    return list(zip(result["Timestamps"], result["Values"], strict=True))


def test_get_metric_data_rounds_a_recent_start_down_to_the_minute_as_cloudwatch_does(
    cloudwatch: CloudWatchClient,
) -> None:
    """GetMetricDataInput.StartTime: "Start time less than 15 days ago - Round down to the nearest
    whole minute"; the periods then start at 09:50:00, not at the second asked."""
    for second, value in ((10, 1.0), (50, 2.0)):
        cloudwatch.put_metric_data(
            Namespace=NAMESPACE,
            MetricData=[
                {
                    "MetricName": "ModelLatency",
                    "Dimensions": LATENCY_DIMENSIONS,
                    "Timestamp": T0 - timedelta(minutes=10) + timedelta(seconds=second),
                    "Value": value,
                    "Unit": "Microseconds",
                }
            ],
        )
    assert sums_from(cloudwatch, T0 - timedelta(minutes=10) + timedelta(seconds=30)) == [
        (T0 - timedelta(minutes=10), 3.0)
    ]
    # A high-resolution Period of 10 seconds rounds to 10 seconds: 09:50:30 stays, and only the 09:50:50 datum is in.
    assert sums_from(cloudwatch, T0 - timedelta(minutes=10) + timedelta(seconds=35), period=10) == [
        (T0 - timedelta(minutes=10) + timedelta(seconds=50), 2.0)
    ]


@pytest.mark.parametrize(
    ("age", "rounded"),
    [
        (timedelta(days=14, hours=23), datetime(2026, 11, 2, 12, 32, tzinfo=UTC)),  # under 15 days: to the minute
        (timedelta(days=20), datetime(2026, 11, 2, 12, 30, tzinfo=UTC)),  # 15 to 63 days: to 5 minutes
        (timedelta(days=70), datetime(2026, 11, 2, 12, 0, tzinfo=UTC)),  # over 63 days: to the hour
    ],
)
def test_an_older_start_is_rounded_to_five_minutes_or_an_hour(age: timedelta, rounded: datetime) -> None:
    start = datetime(2026, 11, 2, 12, 32, 34, tzinfo=UTC)  # the documentation's 12:32:34
    assert rounded_start(start, start + age, [60]) == rounded


def test_get_metric_data_pages_by_max_datapoints_across_queries_with_a_next_token(
    cloudwatch: CloudWatchClient,
) -> None:
    put_latencies(cloudwatch, [[1.0], [2.0], [3.0]])
    queries = [percentile_query("sum", "Sum"), percentile_query("max", "Maximum")]
    whole = metric_data(cloudwatch, queries)
    pages: list[Any] = []
    token: Any = {}
    while True:
        page = cloudwatch.get_metric_data(
            MetricDataQueries=queries,
            StartTime=T0 - timedelta(minutes=5),
            EndTime=T0 + timedelta(minutes=5),
            ScanBy="TimestampAscending",
            MaxDatapoints=4,
            **token,
        )
        pages.append(page)
        if "NextToken" not in page:
            break
        token = {"NextToken": page["NextToken"]}
    assert [sum(len(r["Values"]) for r in p["MetricDataResults"]) for p in pages] == [4, 2]
    assert [r["StatusCode"] for r in pages[0]["MetricDataResults"]] == ["Complete", "PartialData"]
    for query_id in ("sum", "max"):
        paged = [v for p in pages for r in p["MetricDataResults"] if r["Id"] == query_id for v in r["Values"]]
        assert paged == whole[query_id]["Values"]
    with pytest.raises(ClientError) as caught:
        cloudwatch.get_metric_data(
            MetricDataQueries=queries, StartTime=T0 - timedelta(minutes=5), EndTime=T0, NextToken="not-a-token"
        )
    assert caught.value.response["Error"]["Code"] == "InvalidNextToken"


def test_the_products_get_metric_data_loops_read_every_page(cloudwatch: CloudWatchClient) -> None:
    """A page of one datapoint (the local cloud's default MaxDatapoints set small): the canary
    evidence's read (rollout/evidence.py `read_series`) still sees every datapoint."""
    from model_medic.remediate.rollout.evidence import read_series

    put_latencies(cloudwatch, [[1.0], [2.0], [3.0]])
    queries: Any = [percentile_query("sum", "Sum"), percentile_query("max", "Maximum")]
    start, end = T0 - timedelta(minutes=5), T0 + timedelta(minutes=5)
    whole = read_series(cloudwatch, queries, start, end)
    set_metric_data_page_size(1)
    assert read_series(cloudwatch, queries, start, end) == whole
    assert sum(len(values) for values in whole.values()) == 6


@pytest.mark.parametrize("stat", ["P99", "p100.5", "p99.999", "p", "tm90", "TM(10%:90%)", "IQM", "pr(:300)", "wm98"])
def test_a_statistic_the_local_cloud_cannot_compute_is_rejected_with_a_clear_error(
    cloudwatch: CloudWatchClient, stat: str
) -> None:
    put_latencies(cloudwatch, PERIODS)
    error = rejected(
        cloudwatch.get_metric_data,
        MetricDataQueries=[percentile_query("q", stat)],
        StartTime=T0 - timedelta(minutes=5),
        EndTime=T0 + timedelta(minutes=5),
    )
    assert error["Code"] == "ValidationError"
    assert error["Message"] == UNSUPPORTED_STAT_MESSAGE.format(stat=stat)


# --- composite alarms --------------------------------------------------------------------------


def metric_alarms(cloudwatch: CloudWatchClient, *names: str) -> None:
    for name in names:
        cloudwatch.put_metric_alarm(
            AlarmName=name,
            Namespace="Custom",
            MetricName="m",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanThreshold",
        )


def metric_alarm_names(cloudwatch: CloudWatchClient) -> set[str]:
    return {a["AlarmName"] for a in cloudwatch.describe_alarms(AlarmTypes=["MetricAlarm"])["MetricAlarms"]}


def test_a_composite_alarm_is_put_and_listed_as_one(cloudwatch: CloudWatchClient) -> None:
    metric_alarms(cloudwatch, "a")
    cloudwatch.put_composite_alarm(AlarmName="rollup", AlarmRule="ALARM(a)")
    listed = cloudwatch.describe_alarms(AlarmTypes=["CompositeAlarm", "MetricAlarm"])
    assert [(a["AlarmName"], a["AlarmRule"]) for a in listed["CompositeAlarms"]] == [("rollup", "ALARM(a)")]
    assert [a["AlarmName"] for a in listed["MetricAlarms"]] == ["a"]


def test_delete_alarms_refuses_the_whole_call_naming_the_alarms_composite_alarms_depend_on(
    cloudwatch: CloudWatchClient,
) -> None:
    metric_alarms(cloudwatch, "a", "b", "c", "d")
    arn = cloudwatch.describe_alarms(AlarmNames=["b"])["MetricAlarms"][0]["AlarmArn"]
    cloudwatch.put_composite_alarm(AlarmName="rollup", AlarmRule=f'ALARM(a) OR (OK("{arn}") AND NOT ALARM(x))')
    error = rejected(cloudwatch.delete_alarms, AlarmNames=["d", "b", "c", "a"])
    assert error["Code"] == "ValidationError"
    assert error["Message"] == "Cannot delete b,a as there are composite alarm(s) depending on them."
    assert metric_alarm_names(cloudwatch) == {"a", "b", "c", "d"}  # nothing of the call deleted
    error = rejected(cloudwatch.delete_alarms, AlarmNames=["a"])
    assert error["Message"] == "Cannot delete a as there are composite alarm(s) depending on it."
    cloudwatch.delete_alarms(AlarmNames=["c", "d", "gone"])  # the others go; a missing name is no error
    cloudwatch.delete_alarms(AlarmNames=["rollup", "a"])  # the composite alarm with its child
    assert metric_alarm_names(cloudwatch) == {"b"}


# --- the local cloud: server routes and alarms ----------------------------------------------------


@pytest.fixture
def local_cloud() -> Iterator[LocalCloud]:
    # Port 0: the kernel picks a free port as the server binds it (a probed one could be taken
    # by a parallel worker's server meanwhile).
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    _, port = server.get_host_and_port()
    try:
        yield LocalCloud(f"http://127.0.0.1:{port}")
    finally:
        server.stop()


def test_the_local_cloud_sets_the_servers_clock_duration_and_failures(local_cloud: LocalCloud) -> None:
    local_cloud.set_update_seconds(90)
    assert update_seconds() == 90
    at = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
    local_cloud.set_clock(at)
    assert at <= moto_now() < at + timedelta(seconds=5)
    local_cloud.set_clock(None)
    assert abs(moto_now() - datetime.now(UTC)) < timedelta(seconds=5)
    local_cloud.set_range_moves_capacity(False)
    assert range_moves_capacity() is False
    local_cloud.set_range_moves_capacity(True)
    assert range_moves_capacity() is True
    local_cloud.fail_next_update("churn-prod", "bad model")
    local_cloud.fail_next_update("other")
    assert moto_extensions._failures["churn-prod"] == "bad model"
    assert moto_extensions._failures["other"]


def test_an_alarm_already_in_the_state_sets_nothing_and_delivers_nothing(local_cloud: LocalCloud) -> None:
    cloudwatch = local_cloud.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName="churn-prod-HighLatency",
        Namespace="Custom/SageMaker",
        MetricName="TotalLatency",
        Statistic="Average",
        Period=60,
        EvaluationPeriods=1,
        Threshold=500.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    cloudwatch.set_alarm_state(AlarmName="churn-prod-HighLatency", StateValue="ALARM", StateReason="first")
    assert local_cloud.alarm("churn-prod-HighLatency", "ALARM", T0, reason="second") == []
    [alarm] = cloudwatch.describe_alarms(AlarmNames=["churn-prod-HighLatency"])["MetricAlarms"]
    assert (alarm["StateValue"], alarm["StateReason"]) == ("ALARM", "first")
    local_cloud.alarm("churn-prod-HighLatency", "OK", T0, reason="recovered")
    [alarm] = cloudwatch.describe_alarms(AlarmNames=["churn-prod-HighLatency"])["MetricAlarms"]
    assert (alarm["StateValue"], alarm["StateReason"]) == ("OK", "recovered")


def test_the_local_clouds_server_answers_percentiles_too(local_cloud: LocalCloud) -> None:
    cloudwatch = local_cloud.client("cloudwatch")
    put_latencies(cloudwatch, PERIODS)
    results = metric_data(cloudwatch, [percentile_query("tail", "p99"), percentile_query("mid", "p50")])
    assert results["tail"]["Values"] == [expected_percentile(values, "p99") for values in PERIODS]
    assert results["mid"]["Values"] == [expected_percentile(values, "p50") for values in PERIODS]
    error = rejected(
        cloudwatch.get_metric_data,
        MetricDataQueries=[percentile_query("q", "tm90")],
        StartTime=T0,
        EndTime=T0 + timedelta(minutes=5),
    )
    assert (error["Code"], error["Message"]) == ("ValidationError", UNSUPPORTED_STAT_MESSAGE.format(stat="tm90"))


def test_the_local_clouds_server_honours_excluded_variant_properties_and_scalable_targets(
    local_cloud: LocalCloud,
) -> None:
    sagemaker = local_cloud.client("sagemaker")
    for variant_name in ("primary", "canary"):
        sagemaker.create_model(
            ModelName=f"{ENDPOINT}-{variant_name}-model",
            ExecutionRoleArn="arn:aws:iam::123456789012:role/sagemaker-execution",
            PrimaryContainer={"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/churn:latest"},
        )

    def config(name: str, variants: dict[str, tuple[int, float]]) -> str:
        sagemaker.create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=[
                {
                    "VariantName": v,
                    "ModelName": f"{ENDPOINT}-{v}-model",
                    "InitialInstanceCount": count,
                    "InstanceType": "ml.m5.large",
                    "InitialVariantWeight": weight,
                }
                for v, (count, weight) in variants.items()
            ],
        )
        return name

    sagemaker.create_endpoint(
        EndpointName=ENDPOINT, EndpointConfigName=config("c1", {"primary": (2, 0.9), "canary": (1, 0.1)})
    )
    sagemaker.update_endpoint(
        EndpointName=ENDPOINT,
        EndpointConfigName=config("c2", {"primary": (4, 0.0), "canary": (3, 1.0)}),
        RetainAllVariantProperties=True,
        ExcludeRetainedVariantProperties=excluding("DesiredWeight"),
    )
    variants = sagemaker.describe_endpoint(EndpointName=ENDPOINT)["ProductionVariants"]
    assert {v["VariantName"]: (v["CurrentInstanceCount"], v["CurrentWeight"]) for v in variants} == {
        "primary": (2, 0.0),
        "canary": (1, 1.0),
    }
    local_cloud.client("application-autoscaling").register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId=f"endpoint/{ENDPOINT}/variant/primary",
        ScalableDimension=DIMENSION,
        MinCapacity=1,
        MaxCapacity=4,
    )
    error = rejected(
        sagemaker.update_endpoint, EndpointName=ENDPOINT, EndpointConfigName=config("c3", {"canary": (3, 1.0)})
    )
    assert error["Code"] == "ValidationException"
    assert sagemaker.describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"] == "c2"


# --- the model registry's events and reports ---------------------------------------------------

REAL = Path(__file__).resolve().parents[1] / "data" / "real"
APPROVED_SAMPLE = Path(__file__).resolve().parents[2] / "events" / "promote_canary" / "model_package_approved.json"
APPROVED_PATTERN = {
    "source": ["aws.sagemaker"],
    "detail-type": ["SageMaker Model Package State Change"],
    "detail": {"ModelApprovalStatus": ["Approved"], "ModelPackageGroupName": ["churn"]},
}


def aws_example() -> tuple[list[str], dict[str, Any]]:
    """AWS's documented event: its top-level keys in order (the repeated `source` once) and the event."""
    pairs: list[tuple[str, Any]] = []

    def keep(items: list[tuple[str, Any]]) -> dict[str, Any]:
        pairs[:] = items  # objects are built innermost first: the last one kept is the event itself
        return dict(items)

    text = (REAL / "sagemaker-docs-model-package-state-change.json").read_text()
    event = json.loads(text, object_pairs_hook=keep)
    return list(dict.fromkeys(k for k, _ in pairs)), event


def test_the_sample_approval_event_has_exactly_the_fields_of_aws_documented_example() -> None:
    keys, example = aws_example()
    sample = json.loads(APPROVED_SAMPLE.read_text())
    assert list(sample) == keys
    assert list(sample["detail"]) == list(example["detail"])
    assert (sample["source"], sample["detail-type"]) == ("aws.sagemaker", example["detail-type"])
    assert example["source"] == ["aws.sagemaker"]  # AWS's example repeats `source` as a list (README)
    [container] = sample["detail"]["InferenceSpecification"]["Containers"]
    assert set(container) < set(example["detail"]["InferenceSpecification"]["Containers"][0])
    assert sample["resources"] == [sample["detail"]["ModelPackageArn"]]
    assert matches(json.dumps(APPROVED_PATTERN), sample)


def test_the_event_built_from_a_package_in_moto_has_aws_fields_and_the_packages_values(
    registry: SageMakerClient, clock: time_machine.Traveller
) -> None:
    keys, example = aws_example()
    arn = register(
        registry,
        ModelMetrics=METRICS,
        MetadataProperties={"GeneratedBy": "arn:aws:sagemaker:us-east-1:123456789012:pipeline/p/execution/x"},
    )
    created = sagemaker_events.model_package_state_change(
        registry.describe_model_package(ModelPackageName=arn), T0, "123456789012", REGION
    )
    assert list(created) == keys
    assert list(created["detail"]) == list(example["detail"])
    assert created["detail"]["LastModifiedTime"] == created["detail"]["CreationTime"] == "2026-11-22T10:00:00Z"

    clock.shift(timedelta(minutes=30))
    registry.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved", ApprovalDescription="beats v2")
    approved = sagemaker_events.model_package_state_change(
        registry.describe_model_package(ModelPackageName=arn), T0 + timedelta(minutes=30), "123456789012", REGION
    )
    assert list(approved["detail"]) == [*example["detail"], "ApprovalDescription"]  # ours: README
    assert approved["time"] == approved["detail"]["LastModifiedTime"] == "2026-11-22T10:30:00Z"
    assert approved["detail"]["CreationTime"] == "2026-11-22T10:00:00Z"
    assert (approved["detail"]["ModelApprovalStatus"], approved["detail"]["ModelMetrics"]) == ("Approved", METRICS)
    assert approved["resources"] == [arn]
    assert approved["id"] != created["id"]


class RecordingCloud(LocalCloud):
    """The local cloud with invocations recorded instead of run (no deployed functions here)."""

    delivered: list[tuple[str, dict[str, Any]]]

    def invoke_async(self, logical_id: str, event: Any, at: datetime) -> Invocation:
        self.delivered.append((logical_id, event))
        return Invocation(function=logical_id, event=event)


def test_registering_and_approving_deliver_sagemakers_event_to_the_matching_rules(local_cloud: LocalCloud) -> None:
    cloud = RecordingCloud(local_cloud.endpoint_url)
    cloud.delivered = []
    cloud.stack.resources = {"PromoteCanaryFunction": "model-medic-promote-canary"}
    events = cloud.client("events")
    events.put_rule(Name="model-approved", EventPattern=json.dumps(APPROVED_PATTERN))
    events.put_targets(
        Rule="model-approved",
        Targets=[{"Id": "promote", "Arn": f"arn:aws:lambda:{REGION}:123456789012:function:model-medic-promote-canary"}],
    )
    sagemaker = cloud.client("sagemaker")
    for group in ("churn", "fraud"):
        sagemaker.create_model_package_group(ModelPackageGroupName=group)

    pending, delivered = cloud.register_package("churn", "churn:v3", T0, quality_report_uri="s3://b/eval.json")
    assert (delivered, cloud.delivered) == ([], [])  # SageMaker sent the event; no rule wants PendingManualApproval
    cloud.register_package("fraud", "fraud:v1", T0, approval="Approved")
    assert cloud.delivered == []  # another group

    at = T0 + timedelta(minutes=30)
    [invocation] = cloud.approve_package(pending, at, description="better than v2")
    assert invocation.function == "PromoteCanaryFunction"
    event = invocation.event
    assert (event["detail"]["ModelPackageArn"], event["detail"]["ModelApprovalStatus"]) == (pending, "Approved")
    assert event["detail"]["LastModifiedTime"] == event["time"] == "2026-11-22T10:30:00Z"
    # Registered at T0 on the server's clock, which ticks on from the time it was set to (a loaded
    # machine may take a second or two to get there).
    created = datetime.fromisoformat(event["detail"]["CreationTime"])
    assert T0 <= created < T0 + timedelta(seconds=5)
    assert event["detail"]["CreationTime"].endswith("Z")
    assert event["detail"]["ApprovalDescription"] == "better than v2"
    assert event["detail"]["ModelMetrics"] == quality.model_metrics("s3://b/eval.json")
    described = sagemaker.describe_model_package(ModelPackageName=pending)
    assert described["ModelApprovalStatus"] == "Approved"
    assert at <= described["LastModifiedTime"] < at + timedelta(seconds=5)  # the server's clock ticks on

    direct, [registered] = cloud.register_package("churn", "churn:v4", at, approval="Approved")
    assert registered.event["detail"]["ModelPackageArn"] == direct  # registered Approved: the same event
    assert len(cloud.delivered) == 2


def test_a_binary_report_from_the_guides_confusion_counts_is_the_guides_report() -> None:
    real = json.loads((REAL / "sagemaker-docs-model-quality-binary.json").read_text())
    scored = {
        k: real["binary_classification_metrics"][k]
        for k in ("auc", "receiver_operating_characteristic_curve", "precision_recall_curve")
    }
    built = quality.binary_classification_report(tp=1, fp=2, tn=1, fn=0, extra=scored)
    assert built == real  # every figure, to the last digit


def test_a_report_is_written_to_s3_and_registered_as_the_packages_model_quality(registry: SageMakerClient) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="churn-ml")
    content = quality.binary_classification_report(tp=412, fp=38, tn=1490, fn=60)
    metrics = quality.write_report(s3, "s3://churn-ml/evaluation/v3/evaluation.json", content)
    arn = register(registry, ModelMetrics=metrics)
    statistics = registry.describe_model_package(ModelPackageName=arn)["ModelMetrics"]["ModelQuality"]["Statistics"]
    assert statistics == {"ContentType": "application/json", "S3Uri": "s3://churn-ml/evaluation/v3/evaluation.json"}
    body = s3.get_object(Bucket="churn-ml", Key="evaluation/v3/evaluation.json")
    assert body["ContentType"] == "application/json"
    written = json.loads(body["Body"].read())
    assert written["binary_classification_metrics"]["accuracy"] == {"value": 0.951, "standard_deviation": "NaN"}
    assert written["binary_classification_metrics"]["confusion_matrix"] == {
        "0": {"0": 1490, "1": 38},
        "1": {"0": 60, "1": 412},
    }
    assert quality.report("regression", {"mse": quality.metric(0.12, 0.004)}) == {
        "regression_metrics": {"mse": {"value": 0.12, "standard_deviation": 0.004}}
    }


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: quality.binary_classification_report(tp=0, fp=0, tn=0, fn=0), "not all zero"),
        (lambda: quality.binary_classification_report(tp=-1, fp=0, tn=3, fn=0), "non-negative"),
        (lambda: quality.report("ranking", {}), "not one of"),
        (lambda: quality.write_report(cast("S3Client", None), "churn-ml/eval.json", {}), "s3://bucket/key"),
    ],
)
def test_bad_report_input_is_refused_with_a_clear_error(call: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


# --- SageMaker's endpoint state change, and alarms judged from their datapoints ---------------


def _template_patterns() -> dict[str, dict[str, Any]]:
    """The EventBridge patterns of template.yaml that take SageMaker's endpoint state changes."""
    resources = template.load()["Resources"]
    rollback = resources["RollbackModelFunction"]["Properties"]["Events"]["EndpointInService"]["Properties"]
    return {
        "AlarmManagerFunction": resources["EndpointStateChangeRule"]["Properties"]["EventPattern"],
        "RollbackModelFunction": rollback["Pattern"],
    }


@pytest.mark.parametrize(
    ("described", "spelt"),
    [
        ("InService", "IN_SERVICE"),
        ("Deleting", "DELETING"),
        ("SystemUpdating", "SYSTEM_UPDATING"),
        ("UpdateRollbackFailed", "UPDATE_ROLLBACK_FAILED"),
        ("OutOfService", "OUT_OF_SERVICE"),
    ],
)
def test_an_endpoint_status_is_spelt_as_the_event_spells_it(described: str, spelt: str) -> None:
    assert sagemaker_events.event_status(described) == spelt


def test_the_endpoint_state_change_has_the_documented_fields_and_the_endpoints_values(
    sagemaker: SageMakerClient,
) -> None:
    sagemaker.add_tags(ResourceArn=ARN, Tags=[{"Key": "model-medic:fleet", "Value": "demo"}])
    event = sagemaker_events.endpoint_state_change(
        described(sagemaker), {"model-medic:fleet": "demo"}, T0, "123456789012", REGION
    )
    assert (event["source"], event["detail-type"]) == ("aws.sagemaker", "SageMaker Endpoint State Change")
    assert list(event["detail"]) == list(sagemaker_events.ENDPOINT_DETAIL)  # the guide's example, its order
    assert event["resources"] == [ARN]
    assert event["detail"]["EndpointArn"] == ARN
    assert event["time"] == "2026-11-22T10:00:00Z"
    assert event["detail"]["EndpointStatus"] == "IN_SERVICE"
    assert event["detail"]["EndpointConfigName"] == f"{ENDPOINT}-config-1"
    assert event["detail"]["CreationTime"] == T0.timestamp() * 1000  # epoch milliseconds
    assert event["detail"]["Tags"] == {"model-medic:fleet": "demo"}
    assert event["detail"]["ProductionVariants"] == [
        {"VariantName": "primary", "CurrentWeight": 0.9, "DesiredWeight": 0.9, "CurrentInstanceCount": 2,
         "DesiredInstanceCount": 2},
        {"VariantName": "canary", "CurrentWeight": 0.1, "DesiredWeight": 0.1, "CurrentInstanceCount": 1,
         "DesiredInstanceCount": 1},
    ]  # fmt: skip
    patterns = _template_patterns()
    assert all(matches(json.dumps(p), event) for p in patterns.values())

    deleting = sagemaker_events.endpoint_state_change(described(sagemaker), {}, T0, "123456789012", REGION, "Deleting")
    assert deleting["detail"]["EndpointStatus"] == "DELETING"
    assert matches(json.dumps(patterns["AlarmManagerFunction"]), deleting)
    assert not matches(json.dumps(patterns["RollbackModelFunction"]), deleting)
    with pytest.raises(ValueError, match="EndpointArn"):
        sagemaker_events.endpoint_state_change({"EndpointName": ENDPOINT}, {}, T0, "123456789012", REGION)


def test_an_endpoint_in_service_and_deleted_sends_its_state_changes_to_the_templates_rules(
    local_cloud: LocalCloud,
) -> None:
    cloud = RecordingCloud(local_cloud.endpoint_url)
    cloud.delivered = []
    cloud.stack.resources = {"AlarmManagerFunction": "model-medic-alarms", "RollbackModelFunction": "model-medic-rb"}
    events = cloud.client("events")
    for (function, pattern), physical in zip(
        _template_patterns().items(), ("model-medic-alarms", "model-medic-rb"), strict=True
    ):
        events.put_rule(Name=function, EventPattern=json.dumps(pattern))
        target = f"arn:aws:lambda:{REGION}:123456789012:function:{physical}"
        events.put_targets(Rule=function, Targets=[{"Id": "f", "Arn": target}])
    world.fleet_endpoint(cloud, "pricing-prod", {"model-medic:fleet": "demo"}, instances=2)

    delivered = cloud.endpoint_state_changed("pricing-prod", T0)
    assert sorted(i.function for i in delivered) == ["AlarmManagerFunction", "RollbackModelFunction"]
    detail = delivered[0].event["detail"]
    assert (detail["EndpointName"], detail["EndpointStatus"]) == ("pricing-prod", "IN_SERVICE")
    assert detail["Tags"] == {"model-medic:fleet": "demo"}
    assert detail["ProductionVariants"][0]["CurrentInstanceCount"] == 2

    [deleting] = cloud.delete_endpoint("pricing-prod", T0 + timedelta(hours=1))
    assert deleting.function == "AlarmManagerFunction"  # the rollback's rule wants IN_SERVICE only
    assert deleting.event["detail"]["EndpointStatus"] == "DELETING"
    assert deleting.event["detail"]["Tags"] == {"model-medic:fleet": "demo"}  # as it was before the deletion
    assert deleting.event["time"] == "2026-11-22T11:00:00Z"
    assert cloud.client("sagemaker").list_endpoints()["Endpoints"] == []


def _alarm(**overrides: Any) -> dict[str, Any]:
    alarm = {
        "AlarmName": "pricing-prod-HighLatency",
        "EvaluationPeriods": 2,
        "DatapointsToAlarm": 2,
        "ComparisonOperator": "GreaterThanThreshold",
        "Threshold": 1000.0,
        "TreatMissingData": "notBreaching",
        "StateValue": "OK",
    }
    return {**alarm, **overrides}


@pytest.mark.parametrize(
    ("alarm", "values", "state"),
    [
        (_alarm(), [1450.0, 1450.0], "ALARM"),
        (_alarm(), [1450.0, 900.0], "OK"),  # 2 out of 2 needed
        (_alarm(), [1000.0, 1000.0], "OK"),  # greater than, not equal
        (_alarm(ComparisonOperator="GreaterThanOrEqualToThreshold"), [1000.0, 1000.0], "ALARM"),
        (_alarm(), [1450.0, None], "OK"),  # notBreaching: a missing period is within the threshold
        (_alarm(StateValue="ALARM"), [None, None], "OK"),
        (_alarm(TreatMissingData="breaching"), [1450.0, None], "ALARM"),
        (_alarm(TreatMissingData="ignore", StateValue="ALARM"), [None, None], "ALARM"),  # the state kept
        (_alarm(TreatMissingData="ignore"), [None, 1450.0], "OK"),  # not settled: kept
        (_alarm(TreatMissingData="missing"), [None, None], "INSUFFICIENT_DATA"),
        (_alarm(TreatMissingData=None), [None, None], "INSUFFICIENT_DATA"),  # `missing` is the default
        (_alarm(DatapointsToAlarm=None, EvaluationPeriods=1), [1450.0], "ALARM"),  # M defaults to N
        (_alarm(DatapointsToAlarm=2, EvaluationPeriods=3), [1450.0, 100.0, 1450.0], "ALARM"),  # 2 out of 3
        (_alarm(ComparisonOperator="LessThanThreshold", Threshold=0.8), [0.7, 0.75], "ALARM"),
    ],
)
def test_an_alarm_is_judged_m_out_of_n_with_its_missing_data_treatment(
    alarm: dict[str, Any], values: list[float | None], state: str
) -> None:
    assert alarm_judgement.evaluate(alarm, values) == state


def test_an_alarm_the_local_cloud_cannot_judge_is_refused_with_a_clear_error() -> None:
    with pytest.raises(ValueError, match="evaluates 2 periods, got 1"):
        alarm_judgement.evaluate(_alarm(), [1450.0])
    with pytest.raises(ValueError, match="not LessThanLowerOrGreaterThanUpperThreshold"):
        alarm_judgement.evaluate(_alarm(ComparisonOperator="LessThanLowerOrGreaterThanUpperThreshold"), [1.0, 1.0])


def test_the_local_cloud_judges_an_alarm_from_its_metric_and_delivers_only_a_transition(
    local_cloud: LocalCloud,
) -> None:
    cloud = RecordingCloud(local_cloud.endpoint_url)
    cloud.delivered = []
    cloud.stack.resources = {"ScaleUpFunction": "model-medic-scale-up"}
    events = cloud.client("events")
    events.put_rule(Name="alarms", EventPattern=json.dumps({"source": ["aws.cloudwatch"]}))
    target = f"arn:aws:lambda:{REGION}:123456789012:function:model-medic-scale-up"
    events.put_targets(Rule="alarms", Targets=[{"Id": "f", "Arn": target}])
    cw = cloud.client("cloudwatch")
    dimensions: list[DimensionTypeDef] = [{"Name": "EndpointName", "Value": "pricing-prod"}]
    cw.put_metric_alarm(
        AlarmName="pricing-prod-HighLatency",
        Namespace="Custom/SageMaker",
        MetricName="TotalLatency",
        Dimensions=dimensions,
        Statistic="Average",
        Unit="Milliseconds",
        Period=300,
        EvaluationPeriods=2,
        DatapointsToAlarm=2,
        Threshold=1000.0,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",
    )
    cw.set_alarm_state(AlarmName="pricing-prod-HighLatency", StateValue="OK", StateReason="start")

    def put(minute: int, value: float, namespace: str = "Custom/SageMaker") -> None:
        datum: MetricDatumTypeDef = {
            "MetricName": "TotalLatency",
            "Dimensions": dimensions,
            "Value": value,
            "Unit": "Milliseconds",
        }
        cw.put_metric_data(Namespace=namespace, MetricData=[{**datum, "Timestamp": T0 + timedelta(minutes=minute)}])

    put(0, 1450.0)
    put(5, 1450.0)
    put(10, 1450.0)  # after 10:10: not a whole period yet at 10:13
    put(6, 10.0, namespace="Other")  # another namespace's metric is not the alarm's
    judged = cloud.evaluate_alarm("pricing-prod-HighLatency", T0 + timedelta(minutes=13))
    assert (judged.values, judged.previous, judged.state, judged.threshold) == ([1450.0, 1450.0], "OK", "ALARM", 1000)
    assert [i.event["detail"]["state"]["value"] for i in judged.invocations] == ["ALARM"]
    assert cw.describe_alarms(AlarmNames=["pricing-prod-HighLatency"])["MetricAlarms"][0]["StateValue"] == "ALARM"

    again = cloud.evaluate_alarm("pricing-prod-HighLatency", T0 + timedelta(minutes=14))
    assert (again.state, again.invocations) == ("ALARM", [])  # no transition, nothing delivered
    put(15, 300.0)
    cleared = cloud.evaluate_alarm("pricing-prod-HighLatency", T0 + timedelta(minutes=21))
    assert (cleared.values, cleared.state) == ([1450.0, 300.0], "OK")
    assert [i.event["detail"]["state"]["value"] for i in cleared.invocations] == ["OK"]
    assert len(cloud.delivered) == 2


# --- alarm transition times ------------------------------------------------------------------


def alarm_times(cloudwatch: CloudWatchClient, name: str) -> tuple[datetime, datetime]:
    [alarm] = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    return alarm["StateTransitionedTimestamp"], alarm["StateUpdatedTimestamp"]


def test_state_transitioned_timestamp_moves_only_when_the_state_value_changes(
    cloudwatch: CloudWatchClient, clock: time_machine.Traveller
) -> None:
    cloudwatch.put_metric_alarm(
        AlarmName="churn-prod-HighLatency",
        Namespace="AWS/SageMaker",
        MetricName="ModelLatency",
        Statistic="Average",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    assert alarm_times(cloudwatch, "churn-prod-HighLatency") == (T0, T0)  # created: one instant
    clock.move_to(T0 + timedelta(minutes=5))
    cloudwatch.set_alarm_state(AlarmName="churn-prod-HighLatency", StateValue="ALARM", StateReason="first")
    at_alarm = T0 + timedelta(minutes=5)
    assert alarm_times(cloudwatch, "churn-prod-HighLatency") == (at_alarm, at_alarm)
    clock.move_to(T0 + timedelta(minutes=9))
    cloudwatch.set_alarm_state(AlarmName="churn-prod-HighLatency", StateValue="ALARM", StateReason="again")
    # Set again to the same value: an update, not a transition.
    assert alarm_times(cloudwatch, "churn-prod-HighLatency") == (at_alarm, T0 + timedelta(minutes=9))
    clock.move_to(T0 + timedelta(minutes=12))
    cloudwatch.set_alarm_state(AlarmName="churn-prod-HighLatency", StateValue="OK", StateReason="recovered")
    at_ok = T0 + timedelta(minutes=12)
    assert alarm_times(cloudwatch, "churn-prod-HighLatency") == (at_ok, at_ok)


def test_the_transition_time_follows_the_simulated_clock_of_the_local_cloud(cloudwatch: CloudWatchClient) -> None:
    cloudwatch.put_metric_alarm(
        AlarmName="a",
        Namespace="AWS/SageMaker",
        MetricName="ModelLatency",
        Statistic="Average",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    set_clock(T0 + timedelta(days=30))
    cloudwatch.set_alarm_state(AlarmName="a", StateValue="ALARM", StateReason="r")
    assert alarm_times(cloudwatch, "a")[0] == T0 + timedelta(days=30)


# --- endpoint kinds (tests/data/real/endpoints/) ----------------------------------------------


@pytest.fixture
def empty_sagemaker(clock: time_machine.Traveller) -> Iterator[SageMakerClient]:
    with mock_aws():
        yield boto3.client("sagemaker", region_name=REGION)


def summaries(variants: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Variant summaries without DeployedImages (moto runs no image)."""
    return [{k: v for k, v in variant.items() if k != "DeployedImages"} for variant in variants]


@pytest.mark.parametrize("kind", ["instance-variants", "serverless", "shadow", "inference-components"])
def test_each_kind_is_described_as_aws_describes_it(empty_sagemaker: SageMakerClient, kind: str) -> None:
    create_in_moto(kind, "ep")
    got = empty_sagemaker.describe_endpoint(EndpointName="ep")
    want = load(kind, "describe-endpoint")
    assert summaries(got["ProductionVariants"]) == summaries(want["ProductionVariants"])
    assert summaries(got.get("ShadowProductionVariants", [])) == summaries(want.get("ShadowProductionVariants", []))
    assert ("AsyncInferenceConfig" in got) == ("AsyncInferenceConfig" in want)


def test_an_async_endpoint_shows_its_async_config(empty_sagemaker: SageMakerClient) -> None:
    request = create_in_moto("async", "ep")
    assert (
        empty_sagemaker.describe_endpoint(EndpointName="ep")["AsyncInferenceConfig"] == request["AsyncInferenceConfig"]
    )


@pytest.mark.parametrize("kind", ["shadow", "inference-components"])
def test_describe_endpoint_config_gives_back_shadow_variants_and_the_execution_role(
    empty_sagemaker: SageMakerClient, kind: str
) -> None:
    request = create_in_moto(kind, "ep")
    got = empty_sagemaker.describe_endpoint_config(EndpointConfigName=request["EndpointConfigName"])
    for key in ("ShadowProductionVariants", "ExecutionRoleArn"):
        assert got.get(key) == request.get(key)
    # An inference-component variant names no model.
    assert ["ModelName" in v for v in got["ProductionVariants"]] == [
        "ModelName" in v for v in request["ProductionVariants"]
    ]


def test_a_shadow_config_takes_one_production_and_one_shadow_variant(empty_sagemaker: SageMakerClient) -> None:
    create_in_moto("shadow", "ep")
    request = load("shadow", "endpoint-config")
    request["EndpointConfigName"] = "two-production-variants"
    request["ProductionVariants"].append({**request["ProductionVariants"][0], "VariantName": "second"})
    error = rejected(empty_sagemaker.create_endpoint_config, **request)
    assert (error["Code"], error["Message"]) == (
        "ValidationException",
        SHADOW_VARIANTS_MESSAGE.format(production=2, shadow=1),
    )


def test_a_variant_is_checked_against_aws_instance_types_and_its_model_if_it_names_one(
    empty_sagemaker: SageMakerClient,
) -> None:
    request = load("inference-components", "endpoint-config")  # ml.g5.2xlarge: not in moto's own list
    empty_sagemaker.create_endpoint_config(**request)
    wrong = {**request, "EndpointConfigName": "wrong-type"}
    wrong["ProductionVariants"] = [{**request["ProductionVariants"][0], "InstanceType": "ml.g5.2xlargest"}]
    error = rejected(empty_sagemaker.create_endpoint_config, **wrong)
    assert (error["Code"], "'ml.g5.2xlargest' at 'instanceType'" in error["Message"]) == ("ValidationException", True)
    missing = {**request, "EndpointConfigName": "missing-model"}
    missing["ProductionVariants"] = [{**request["ProductionVariants"][0], "ModelName": "nowhere"}]
    error = rejected(empty_sagemaker.create_endpoint_config, **missing)
    assert error["Message"] == f"Could not find model 'arn:aws:sagemaker:{REGION}:123456789012:model/nowhere'."


def test_a_serverless_variant_is_not_fitted_to_a_scalable_target_range(empty_sagemaker: SageMakerClient) -> None:
    create_in_moto("serverless", "ep")
    boto3.client("application-autoscaling", region_name=REGION).register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId="endpoint/ep/variant/byoVariant",
        ScalableDimension=DIMENSION,
        MinCapacity=2,
        MaxCapacity=4,
    )
    [variant] = empty_sagemaker.describe_endpoint(EndpointName="ep")["ProductionVariants"]
    assert variant["CurrentInstanceCount"] == 0


# --- SageMaker Search on endpoints; configs of inference components ------------------------


def test_search_on_endpoints_returns_pages_of_max_results_with_a_next_token(sagemaker: SageMakerClient) -> None:
    for i in range(4):
        make_endpoint(f"other-{i}")
    pages = list(sagemaker.get_paginator("search").paginate(Resource="Endpoint", PaginationConfig={"PageSize": 2}))
    assert [len(page["Results"]) for page in pages] == [2, 2, 1]
    names = [r["Endpoint"]["EndpointName"] for page in pages for r in page["Results"]]
    assert sorted(names) == sorted([ENDPOINT, *(f"other-{i}" for i in range(4))])
    assert "NextToken" not in pages[-1]
    # A record has DescribeEndpoint's fields: the config, and each variant's weight and count.
    record = next(r["Endpoint"] for page in pages for r in page["Results"] if r["Endpoint"]["EndpointName"] == ENDPOINT)
    assert record["EndpointArn"] == ARN
    assert record["EndpointConfigName"] == f"{ENDPOINT}-config-1"
    weights = {v["VariantName"]: v["CurrentWeight"] for v in record["ProductionVariants"]}
    assert weights == {"primary": pytest.approx(0.9), "canary": pytest.approx(0.1)}


def test_search_on_endpoints_shows_an_update_once_it_is_done(
    sagemaker: SageMakerClient, clock: time_machine.Traveller
) -> None:
    set_update_seconds(60)
    sagemaker.update_endpoint(EndpointName=ENDPOINT, EndpointConfigName=second_config(sagemaker))

    def record() -> EndpointTypeDef:
        return sagemaker.search(Resource="Endpoint", MaxResults=100)["Results"][0]["Endpoint"]

    assert (record()["EndpointStatus"], record()["EndpointConfigName"]) == ("Updating", f"{ENDPOINT}-config-1")
    clock.shift(timedelta(seconds=60))
    assert (record()["EndpointStatus"], record()["EndpointConfigName"]) == ("InService", f"{ENDPOINT}-config-2")


def test_an_endpoint_config_of_inference_components_names_no_model(sagemaker: SageMakerClient) -> None:
    sagemaker.create_endpoint_config(
        EndpointConfigName="components",
        ExecutionRoleArn="arn:aws:iam::123456789012:role/sagemaker-execution",
        ProductionVariants=[{"VariantName": "primary", "InstanceType": "ml.g4dn.xlarge", "InitialInstanceCount": 1}],
    )
    [variant_spec] = sagemaker.describe_endpoint_config(EndpointConfigName="components")["ProductionVariants"]
    assert "ModelName" not in variant_spec
    # A variant that names a model still needs the model to exist.
    error = rejected(
        sagemaker.create_endpoint_config,
        EndpointConfigName="missing",
        ProductionVariants=[{"VariantName": "primary", "ModelName": "nope", "InstanceType": "ml.m5.large"}],
    )
    assert "Could not find model" in error["Message"]


def test_a_key_made_by_cloudformation_answers_describe_key_with_its_policy_as_json() -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:*", "Resource": "*"}],
    }
    body = {"Resources": {"Key": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": policy}}}}
    with mock_aws():
        cloudformation = boto3.client("cloudformation", region_name=REGION)
        cloudformation.create_stack(StackName="keys", TemplateBody=json.dumps(body))
        [resource] = cloudformation.list_stack_resources(StackName="keys")["StackResourceSummaries"]
        kms = boto3.client("kms", region_name=REGION)
        described = kms.describe_key(KeyId=resource["PhysicalResourceId"])["KeyMetadata"]
        assert described["KeyState"] == "Enabled"
        stored = kms.get_key_policy(KeyId=resource["PhysicalResourceId"], PolicyName="default")["Policy"]
        assert json.loads(stored) == policy


def test_the_stacks_alarms_are_made_and_deleted_with_the_stack_by_cloudformation() -> None:
    """moto's CloudFormation skips AWS::CloudWatch::Alarm; the extension puts the template's own
    two alarms (a single metric, and metric math) and deletes them with the stack."""
    resources = template.load()["Resources"]
    body = {
        "Resources": {
            "DeadLetterQueue": {"Type": "AWS::SQS::Queue", "Properties": {}},
            "CriticalTopic": {"Type": "AWS::SNS::Topic", "Properties": {}},
            **{name: resources[name] for name in ("DeadLetterAlarm", "LettersNotSentAlarm")},
        }
    }
    with mock_aws():
        cloudformation = boto3.client("cloudformation", region_name=REGION)
        cloudformation.create_stack(StackName="health", TemplateBody=json.dumps(body))
        listed = cloudformation.list_stack_resources(StackName="health")["StackResourceSummaries"]
        physical = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in listed}
        assert physical["DeadLetterAlarm"] == "health-DeadLetters"
        assert physical["LettersNotSentAlarm"] == "health-LettersNotSent"
        cloudwatch = boto3.client("cloudwatch", region_name=REGION)
        alarms = {a["AlarmName"]: a for a in cloudwatch.describe_alarms(AlarmNamePrefix="health-")["MetricAlarms"]}
        queue = physical["DeadLetterQueue"].rsplit("/", 1)[1]
        dead = alarms["health-DeadLetters"]
        assert dead["Dimensions"] == [{"Name": "QueueName", "Value": queue}]
        assert (dead["MetricName"], dead["Statistic"], dead["TreatMissingData"]) == (
            "ApproximateNumberOfMessagesVisible",
            "Maximum",
            "ignore",
        )
        assert dead["AlarmActions"] == dead["OKActions"] == [physical["CriticalTopic"]]
        letters = alarms["health-LettersNotSent"]
        assert [q["Id"] for q in letters["Metrics"] if q["ReturnData"]] == ["notsent"]
        assert len(letters["Metrics"]) == 7
        assert letters["AlarmActions"] == [physical["CriticalTopic"]]
        cloudformation.delete_stack(StackName="health")
        assert cloudwatch.describe_alarms(AlarmNamePrefix="health-")["MetricAlarms"] == []


# --- inference components ------------------------------------------------------------------


def test_an_inference_component_is_created_updated_over_time_listed_and_scaled_as_in_aws(
    empty_sagemaker: SageMakerClient, clock: time_machine.Traveller
) -> None:
    """AWS's own requests (tests/data/real/inference-components/): the component takes its
    copies over the update duration, and its scalable target moves them into its range."""
    real = Path(__file__).resolve().parents[1] / "data" / "real" / "inference-components"
    request = json.loads((real / "create-inference-component.json").read_text())
    target = json.loads((real / "register-scalable-target.json").read_text())
    create_in_moto("inference-components", request["EndpointName"])
    empty_sagemaker.create_model(
        ModelName=request["Specification"]["ModelName"],
        ExecutionRoleArn="arn:aws:iam::123456789012:role/r",
        PrimaryContainer={"Image": "i"},
    )
    set_update_seconds(60)
    empty_sagemaker.create_inference_component(**request)
    name = request["InferenceComponentName"]

    def seen() -> tuple[str, int, int]:
        found = empty_sagemaker.describe_inference_component(InferenceComponentName=name)
        return (
            found["InferenceComponentStatus"],
            found["RuntimeConfig"]["CurrentCopyCount"],
            found["RuntimeConfig"]["DesiredCopyCount"],
        )

    assert seen() == ("Creating", 0, 1)
    clock.shift(61)
    assert seen() == ("InService", 1, 1)
    empty_sagemaker.update_inference_component_runtime_config(
        InferenceComponentName=name, DesiredRuntimeConfig={"CopyCount": 2}
    )
    assert seen() == ("Updating", 1, 2)
    with pytest.raises(ClientError, match="is not InService"):
        empty_sagemaker.update_inference_component_runtime_config(
            InferenceComponentName=name, DesiredRuntimeConfig={"CopyCount": 3}
        )
    clock.shift(61)
    assert seen() == ("InService", 2, 2)
    listed = empty_sagemaker.list_inference_components(EndpointNameEquals=request["EndpointName"])[
        "InferenceComponents"
    ]
    assert [c["InferenceComponentName"] for c in listed] == [name]
    assert empty_sagemaker.list_inference_components(EndpointNameEquals="other")["InferenceComponents"] == []
    autoscaling = boto3.client("application-autoscaling", region_name=REGION)
    autoscaling.register_scalable_target(**{**target, "MinCapacity": 3, "MaxCapacity": 4})
    assert seen() == ("Updating", 2, 3)  # the new range moves the copies into it
    with pytest.raises(ClientError, match="Could not find inference component gone"):
        empty_sagemaker.describe_inference_component(InferenceComponentName="gone")


def test_a_second_subscribe_of_a_function_with_another_filter_policy_is_refused_and_the_first_kept() -> None:
    with mock_aws():
        sns = boto3.client("sns", region_name=REGION)
        topic = sns.create_topic(Name="warning")["TopicArn"]
        function = f"arn:aws:lambda:{REGION}:123456789012:function:scale-up"
        latency = {"Trigger": {"MetricName": ["TotalLatency"]}}
        first = {"FilterPolicy": json.dumps(latency), "FilterPolicyScope": "MessageBody"}
        arn = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=function, Attributes=first)["SubscriptionArn"]
        # The same three and the same attributes (the policy's JSON spaced otherwise): the same subscription.
        again = {**first, "FilterPolicy": json.dumps(latency, indent=2)}
        assert (
            sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=function, Attributes=again)["SubscriptionArn"]
            == arn
        )
        other = {
            "FilterPolicy": json.dumps({"Trigger": {"MetricName": ["ModelLatency"]}}),
            "FilterPolicyScope": "MessageBody",
        }
        with pytest.raises(ClientError) as refused:
            sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=function, Attributes=other)
        assert refused.value.response["Error"]["Code"] == "InvalidParameter"
        assert refused.value.response["Error"]["Message"] == SUBSCRIPTION_EXISTS_MESSAGE
        [held] = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
        policy = sns.get_subscription_attributes(SubscriptionArn=held["SubscriptionArn"])["Attributes"]["FilterPolicy"]
        assert json.loads(policy) == latency
        # Another function on the same topic is another subscription.
        other_function = function.replace("scale-up", "rollback")
        sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=other_function, Attributes=other)
        assert len(sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]) == 2


def test_a_subject_of_100_characters_or_with_a_line_break_is_refused_as_sns_documents() -> None:
    with mock_aws():
        sns = boto3.client("sns", region_name=REGION)
        topic = sns.create_topic(Name="info")["TopicArn"]
        sns.publish(TopicArn=topic, Message="m", Subject="s" * 99)  # less than 100 characters
        for refused in ("s" * 100, "two\nlines", "a\ttab", "bell\x07"):
            with pytest.raises(ClientError) as error:
                sns.publish(TopicArn=topic, Message="m", Subject=refused)
            assert error.value.response["Error"]["Code"] == "InvalidParameter", refused
            assert error.value.response["Error"]["Message"] == SUBJECT_REFUSED_MESSAGE
        entries = [
            {"Id": "fits", "Message": "m", "Subject": "s" * 99},
            {"Id": "long", "Message": "m", "Subject": "s" * 100},
        ]
        batch = sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=entries)
        assert [e["Id"] for e in batch["Successful"]] == ["fits"]
        assert [(e["Id"], e["Code"]) for e in batch["Failed"]] == [("long", "InvalidParameter")]


def test_an_inference_components_specification_is_updated_over_time_and_shown_as_aws_shows_it(
    empty_sagemaker: SageMakerClient, clock: time_machine.Traveller
) -> None:
    """UpdateInferenceComponent on AWS's own component: Updating for the update duration, then
    InService on the new specification with its copies; DescribeInferenceComponent shows the
    container's image as DeployedImage (InferenceComponentSpecificationSummary), never as Image."""
    real = Path(__file__).resolve().parents[1] / "data" / "real" / "inference-components"
    request = json.loads((real / "create-inference-component.json").read_text())
    create_in_moto("inference-components", request["EndpointName"])
    for model in (request["Specification"]["ModelName"], "llama3-v2"):
        empty_sagemaker.create_model(
            ModelName=model, ExecutionRoleArn="arn:aws:iam::123456789012:role/r", PrimaryContainer={"Image": "i"}
        )
    empty_sagemaker.create_inference_component(**request)
    name = request["InferenceComponentName"]
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/llama:v2"
    spec: Any = {**request["Specification"], "ModelName": "llama3-v2", "Container": {"Image": image}}
    set_update_seconds(60)
    empty_sagemaker.update_inference_component(
        InferenceComponentName=name, Specification=spec, RuntimeConfig={"CopyCount": 2}
    )
    found = empty_sagemaker.describe_inference_component(InferenceComponentName=name)
    assert (found["InferenceComponentStatus"], found["RuntimeConfig"]["DesiredCopyCount"]) == ("Updating", 2)
    with pytest.raises(ClientError, match="is not InService"):
        empty_sagemaker.update_inference_component(InferenceComponentName=name, Specification=request["Specification"])
    clock.shift(61)
    found = empty_sagemaker.describe_inference_component(InferenceComponentName=name)
    assert found["InferenceComponentStatus"] == "InService"
    assert found["Specification"]["ModelName"] == "llama3-v2"
    assert found["Specification"]["Container"] == {"DeployedImage": {"SpecifiedImage": image}}
    assert found["RuntimeConfig"]["CurrentCopyCount"] == 2
    gone: Any = {**spec, "ModelName": "gone"}
    with pytest.raises(ClientError, match="Could not find model gone"):
        empty_sagemaker.update_inference_component(InferenceComponentName=name, Specification=gone)
    both: Any = [{**spec, "InstanceType": "ml.g5.2xlarge"}]
    with pytest.raises(ClientError, match="either Specification or Specifications, not both"):
        empty_sagemaker.update_inference_component(InferenceComponentName=name, Specification=spec, Specifications=both)
    # Without RuntimeConfig the copy count stays as it is.
    empty_sagemaker.update_inference_component(InferenceComponentName=name, Specification=request["Specification"])
    clock.shift(61)
    found = empty_sagemaker.describe_inference_component(InferenceComponentName=name)
    assert (found["Specification"], found["RuntimeConfig"]["CurrentCopyCount"]) == (request["Specification"], 2)
    # Only InferenceComponentName is required (UpdateInferenceComponentInput): a new copy count
    # alone keeps the specification.
    empty_sagemaker.update_inference_component(InferenceComponentName=name, RuntimeConfig={"CopyCount": 3})
    clock.shift(61)
    found = empty_sagemaker.describe_inference_component(InferenceComponentName=name)
    assert (found["Specification"], found["RuntimeConfig"]["CurrentCopyCount"]) == (request["Specification"], 3)


def test_a_component_of_several_specifications_is_described_with_specifications_only(
    empty_sagemaker: SageMakerClient, clock: time_machine.Traveller
) -> None:
    """DescribeInferenceComponent's Specifications is "populated when the inference component was
    created with multiple specifications. When this parameter is populated, the singular
    Specification parameter is not returned" (service-2.json)."""
    real = Path(__file__).resolve().parents[1] / "data" / "real" / "inference-components"
    request = json.loads((real / "create-inference-component.json").read_text())
    create_in_moto("inference-components", request["EndpointName"])
    empty_sagemaker.create_model(
        ModelName="sm-model-llama3",
        ExecutionRoleArn="arn:aws:iam::123456789012:role/r",
        PrimaryContainer={"Image": "i"},
    )
    one = request.pop("Specification")
    several: Any = [{**one, "InstanceType": t} for t in ("ml.g5.2xlarge", "ml.g5.12xlarge")]
    with pytest.raises(ClientError, match="not both"):
        empty_sagemaker.create_inference_component(**request, Specification=one, Specifications=several)
    empty_sagemaker.create_inference_component(**request, Specifications=several)
    name = request["InferenceComponentName"]
    found = empty_sagemaker.describe_inference_component(InferenceComponentName=name)
    assert "Specification" not in found
    assert found["Specifications"] == several
    # An update of the copy count alone keeps both.
    empty_sagemaker.update_inference_component(InferenceComponentName=name, RuntimeConfig={"CopyCount": 2})
    found = empty_sagemaker.describe_inference_component(InferenceComponentName=name)
    assert ("Specification" in found, found["Specifications"]) == (False, several)
    assert found["RuntimeConfig"]["CurrentCopyCount"] == 2


def _rolling_component(sagemaker: SageMakerClient, copies: int) -> tuple[str, Any, Any]:
    """AWS's own component on `copies` copies, and a second model to roll it to."""
    real = Path(__file__).resolve().parents[1] / "data" / "real" / "inference-components"
    request = json.loads((real / "create-inference-component.json").read_text())
    create_in_moto("inference-components", request["EndpointName"])
    for model in (request["Specification"]["ModelName"], "llama3-v2"):
        sagemaker.create_model(
            ModelName=model, ExecutionRoleArn="arn:aws:iam::123456789012:role/r", PrimaryContainer={"Image": "i"}
        )
    sagemaker.create_inference_component(**{**request, "RuntimeConfig": {"CopyCount": copies}})
    return (
        request["InferenceComponentName"],
        request["Specification"],
        {**request["Specification"], "ModelName": "llama3-v2"},
    )


def _rolling(batch: int = 1, wait: int = 600, timeout: int | None = 3600, alarms: int = 1) -> Any:
    policy: dict[str, Any] = {"MaximumBatchSize": {"Type": "COPY_COUNT", "Value": batch}, "WaitIntervalInSeconds": wait}
    if timeout is not None:
        policy["MaximumExecutionTimeoutInSeconds"] = timeout
    return {
        "RollingUpdatePolicy": policy,
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": f"alarm-{n}"} for n in range(alarms)]},
    }


@pytest.mark.parametrize(
    ("copies", "config", "message"),
    [
        (1, _rolling(batch=1), "between 5% and 50%"),  # one copy of one: 100 %
        (4, _rolling(batch=3), "between 5% and 50%"),
        (4, _rolling(wait=3601), "WaitIntervalInSeconds"),
        (4, _rolling(timeout=599), "MaximumExecutionTimeoutInSeconds"),
        (4, _rolling(alarms=11), "1 to 10 alarms"),
    ],
)
def test_a_rolling_update_outside_awss_ranges_is_refused_and_changes_nothing(
    empty_sagemaker: SageMakerClient, copies: int, config: Any, message: str
) -> None:
    name, first, second = _rolling_component(empty_sagemaker, copies)
    # botocore checks some minimums itself: the service's own check is what is tested here.
    unchecked = boto3.client("sagemaker", region_name=REGION, config=Config(parameter_validation=False))
    with pytest.raises(ClientError, match=message):
        unchecked.update_inference_component(InferenceComponentName=name, Specification=second, DeploymentConfig=config)
    found = empty_sagemaker.describe_inference_component(InferenceComponentName=name)
    assert (found["InferenceComponentStatus"], found["Specification"]["ModelName"]) == ("InService", first["ModelName"])


def test_a_rolling_update_bakes_batch_by_batch_and_rolls_back_when_a_named_alarm_fires(
    empty_sagemaker: SageMakerClient, clock: time_machine.Traveller
) -> None:
    """4 copies, one a batch, each up in 60 s and baked 600 s: the old specification serves while
    Updating; a named alarm judged ALARM from its datapoints in the second batch's bake puts the old
    copies back one update duration later; without it the new specification serves after 4 x 660 s."""
    name, first, second = _rolling_component(empty_sagemaker, 4)
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    cloudwatch.put_metric_alarm(
        AlarmName="alarm-0",
        Namespace="ModelMedic",
        MetricName="RolloutVerdict",
        Dimensions=[{"Name": "InferenceComponentName", "Value": name}],
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="notBreaching",
    )
    set_update_seconds(60)
    config = _rolling()
    empty_sagemaker.update_inference_component(
        InferenceComponentName=name, Specification=second, DeploymentConfig=config
    )
    found = empty_sagemaker.describe_inference_component(InferenceComponentName=name)
    assert (found["InferenceComponentStatus"], found["Specification"]["ModelName"]) == ("Updating", first["ModelName"])
    assert found["LastDeploymentConfig"] == config
    clock.shift(13 * 60)  # into the second batch's bake (it began at 660 + 60 s)
    cloudwatch.put_metric_data(
        Namespace="ModelMedic",
        MetricData=[
            {
                "MetricName": "RolloutVerdict",
                "Dimensions": [{"Name": "InferenceComponentName", "Value": name}],
                "Timestamp": T0 + timedelta(minutes=13),
                "Value": 1.0,
            }
        ],
    )
    clock.shift(60)
    assert empty_sagemaker.describe_inference_component(InferenceComponentName=name)["InferenceComponentStatus"] == (
        "Updating"  # the old copies come back within one update duration
    )
    clock.shift(60)
    found = empty_sagemaker.describe_inference_component(InferenceComponentName=name)
    assert (found["InferenceComponentStatus"], found["Specification"]["ModelName"]) == ("InService", first["ModelName"])
    # Again, with nothing in ALARM: the new specification once the fourth batch has baked.
    start = T0 + timedelta(minutes=15)
    clock.move_to(start + timedelta(minutes=2))  # past the verdict's minute
    empty_sagemaker.update_inference_component(
        InferenceComponentName=name, Specification=second, DeploymentConfig=config
    )
    clock.shift(4 * 660 - 1)
    assert empty_sagemaker.describe_inference_component(InferenceComponentName=name)["InferenceComponentStatus"] == (
        "Updating"
    )
    clock.shift(1)
    found = empty_sagemaker.describe_inference_component(InferenceComponentName=name)
    assert (found["InferenceComponentStatus"], found["Specification"]["ModelName"]) == ("InService", "llama3-v2")


def test_a_model_or_endpoint_config_name_is_taken_once_and_rollouts_take_their_own_for_done(
    sagemaker: SageMakerClient,
) -> None:
    """AWS refuses CreateModel and CreateEndpointConfig of an existing name; moto overwrote them."""
    from model_medic.remediate.rollout.deploy import create_once

    image = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.3-1"
    role = "arn:aws:iam::123456789012:role/sagemaker-custom-role"
    sagemaker.create_model(ModelName="m-1", ExecutionRoleArn=role, PrimaryContainer={"Image": image})
    with pytest.raises(ClientError) as refused:
        sagemaker.create_model(ModelName="m-1", ExecutionRoleArn=role, PrimaryContainer={"Image": "other"})
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert refused.value.response["Error"]["Message"] == (
        'Cannot create already existing model "arn:aws:sagemaker:us-east-1:123456789012:model/m-1".'
    )
    assert sagemaker.describe_model(ModelName="m-1")["PrimaryContainer"]["Image"] == image
    config = described(sagemaker)["EndpointConfigName"]
    with pytest.raises(ClientError) as again:
        sagemaker.create_endpoint_config(
            EndpointConfigName=config,
            ProductionVariants=[
                {"VariantName": "v", "ModelName": "m-1", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
            ],
        )
    assert again.value.response["Error"]["Message"].startswith("Cannot create already existing endpoint configuration")
    # A rollout's retry of its own create: done already, not an error.
    create_once(
        lambda: sagemaker.create_model(ModelName="m-1", ExecutionRoleArn=role, PrimaryContainer={"Image": image})
    )


# --- DynamoDB transaction tokens ----------------------------------------------------------------


def test_a_transaction_sent_again_with_its_token_is_the_one_transaction_for_ten_minutes(
    stack: Stack, clock: time_machine.Traveller
) -> None:
    dynamodb = boto3.client("dynamodb")
    items: list[Any] = [
        {
            "Put": {
                "TableName": stack.table,
                "Item": {"pk": {"S": "P"}, "sk": {"S": "A"}},
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        },
        {
            "Update": {
                "TableName": stack.table,
                "Key": {"pk": {"S": "P"}, "sk": {"S": "N"}},
                "UpdateExpression": "ADD n :one",
                "ExpressionAttributeValues": {":one": {"N": "1"}},
            }
        },
    ]

    def count() -> int:
        return int(dynamodb.get_item(TableName=stack.table, Key={"pk": {"S": "P"}, "sk": {"S": "N"}})["Item"]["n"]["N"])

    def refused(**kwargs: Any) -> str:
        with pytest.raises(ClientError) as error:
            dynamodb.transact_write_items(**kwargs)
        return str(error.value.response["Error"]["Code"])

    dynamodb.transact_write_items(TransactItems=items, ClientRequestToken="first")
    dynamodb.transact_write_items(TransactItems=items, ClientRequestToken="first")  # the same: done already
    assert count() == 1
    assert refused(TransactItems=items[1:], ClientRequestToken="first") == "IdempotentParameterMismatchException"
    assert refused(TransactItems=items, ClientRequestToken="second") == "TransactionCanceledException"  # a new one
    dynamodb.delete_item(TableName=stack.table, Key={"pk": {"S": "P"}, "sk": {"S": "A"}})
    dynamodb.transact_write_items(TransactItems=items, ClientRequestToken="second")  # its cancellation left no token
    assert count() == 2
    clock.shift(timedelta(minutes=10))
    assert refused(TransactItems=items, ClientRequestToken="first") == "TransactionCanceledException"  # forgotten
    assert count() == 2
