"""RollbackModelFunction against moto (with the documented UpdateEndpoint extension)."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from tests.conftest import AwsCalls, FakeContext, Stack, load_event, load_handler, make_endpoint

ENDPOINT = "churn-prod"


@pytest.fixture
def fn(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("CANARY_VARIANT", "canary")
    monkeypatch.setenv("REJECT_MODEL_PACKAGES", "false")
    monkeypatch.setenv("ROLLBACK_COOLDOWN_MINUTES", "60")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "rollback-model")
    return load_handler("rollback_model")


def invoke(fn: Any, event: Any) -> dict[str, Any]:
    return fn.lambda_handler(event, FakeContext())  # type: ignore[no-any-return]


def endpoint() -> dict[str, Any]:
    return boto3.client("sagemaker").describe_endpoint(EndpointName=ENDPOINT)  # type: ignore[no-any-return]


def deploy_second_config(package: str | None = None) -> None:
    """A new model goes out as churn-prod-config-2 (the one that will turn out bad)."""
    sagemaker = boto3.client("sagemaker")
    container = (
        {"ModelPackageName": package} if package else {"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/churn:v2"}
    )
    sagemaker.create_model(
        ModelName="churn-v2", ExecutionRoleArn="arn:aws:iam::123456789012:role/r", PrimaryContainer=container
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=f"{ENDPOINT}-config-2",
        ProductionVariants=[
            {
                "VariantName": "primary",
                "ModelName": "churn-v2",
                "InitialInstanceCount": 2,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    sagemaker.update_endpoint(EndpointName=ENDPOINT, EndpointConfigName=f"{ENDPOINT}-config-2")


def test_a_canary_taking_traffic_is_rolled_back_to_weight_zero(fn: Any, stack: Stack, aws_calls: AwsCalls):
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 0.9}, "canary": {"count": 1, "weight": 0.1}})
    aws_calls.made.clear()
    [outcome] = invoke(fn, load_event("rollback_model/accuracy_drop_alarm.json"))["outcomes"]
    assert (outcome["result"], outcome["reason"]) == ("acted", "canary canary weight 0.1 -> 0")
    assert aws_calls.of("sagemaker") == ["DescribeEndpoint", "UpdateEndpointWeightsAndCapacities"]
    weights = {v["VariantName"]: v["CurrentWeight"] for v in endpoint()["ProductionVariants"]}
    assert weights["canary"] == 0.0
    assert json.loads(stack.drain("info")[0]["Message"])["changes"]["kind"] == "canary"


def test_without_a_canary_the_previous_in_service_config_is_redeployed(fn: Any, stack: Stack, aws_calls: AwsCalls):
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 1.0}})
    # The deployment history learns config-1 from SageMaker's state-change event.
    recorded = invoke(fn, load_event("rollback_model/endpoint_in_service.json"))
    assert recorded["recorded"] == {"endpoint": ENDPOINT, "config": f"{ENDPOINT}-config-1"}
    deploy_second_config()
    aws_calls.made.clear()
    [outcome] = invoke(fn, load_event("rollback_model/accuracy_drop_alarm.json"))["outcomes"]
    assert (outcome["result"], outcome["reason"]) == (
        "acted",
        "endpoint config churn-prod-config-2 -> churn-prod-config-1",
    )
    assert aws_calls.of("sagemaker") == ["DescribeEndpoint", "UpdateEndpoint"]
    assert endpoint()["EndpointConfigName"] == f"{ENDPOINT}-config-1"


def test_a_config_rolled_back_from_is_never_a_target_again(fn: Any, stack: Stack, monkeypatch: pytest.MonkeyPatch):
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 1.0}})
    invoke(fn, load_event("rollback_model/endpoint_in_service.json"))
    deploy_second_config()
    invoke(fn, load_event("rollback_model/accuracy_drop_alarm.json"))
    # Hours later the good model's accuracy drops too: there is nothing safe to go back to.
    later = datetime.now(UTC) + timedelta(hours=3)
    monkeypatch.setattr(fn, "utc_now", lambda: later)
    event = load_event("rollback_model/accuracy_drop_alarm_action.json")
    event["alarmData"]["state"]["timestamp"] = "2026-11-22T13:00:00.000+0000"
    [outcome] = invoke(fn, event)["outcomes"]
    assert (outcome["result"], outcome["gate"]) == ("bound-reached", "bound")
    assert endpoint()["EndpointConfigName"] == f"{ENDPOINT}-config-1"


def test_no_known_target_changes_nothing_and_calls_a_person(fn: Any, stack: Stack):
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 1.0}, "canary": {"count": 1, "weight": 0.0}})
    [outcome] = invoke(fn, load_event("rollback_model/accuracy_drop_alarm.json"))["outcomes"]
    assert outcome["result"] == "bound-reached"
    assert "no known rollback target" in outcome["reason"]
    assert endpoint()["EndpointConfigName"] == f"{ENDPOINT}-config-1"
    assert json.loads(stack.drain("critical")[0]["Message"])["result"] == "bound-reached"


def test_the_rolled_back_model_package_is_marked_rejected(fn: Any, stack: Stack, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("REJECT_MODEL_PACKAGES", "true")
    sagemaker = boto3.client("sagemaker")
    sagemaker.create_model_package_group(ModelPackageGroupName="churn")
    package = sagemaker.create_model_package(
        ModelPackageGroupName="churn",
        ModelApprovalStatus="Approved",
        InferenceSpecification={
            "Containers": [{"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/churn:v2"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 1.0}})
    invoke(fn, load_event("rollback_model/endpoint_in_service.json"))
    deploy_second_config(package)
    [outcome] = invoke(fn, load_event("rollback_model/accuracy_drop_alarm.json"))["outcomes"]
    assert outcome["changes"]["calls"] == ["UpdateEndpoint", "UpdateModelPackage"]
    assert sagemaker.describe_model_package(ModelPackageName=package)["ModelApprovalStatus"] == "Rejected"


def test_dry_run_says_what_it_would_roll_back_and_changes_nothing(fn: Any, stack: Stack):
    stack.set_mode("dry-run")
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 0.5}, "canary": {"count": 1, "weight": 0.5}})
    [outcome] = invoke(fn, load_event("rollback_model/accuracy_drop_alarm_action.json"))["outcomes"]
    assert (outcome["result"], outcome["reason"]) == ("dry-run", "canary canary weight 0.5 -> 0")
    weights = {v["VariantName"]: v["CurrentWeight"] for v in endpoint()["ProductionVariants"]}
    assert weights == {"primary": 0.5, "canary": 0.5}


def test_a_malformed_state_change_is_rejected_and_records_nothing(fn: Any, stack: Stack):
    event = load_event("rollback_model/endpoint_in_service.json")
    del event["detail"]["EndpointConfigName"]
    assert invoke(fn, event)["rejected"] == ["endpoint state change without EndpointName and EndpointConfigName"]
    assert stack.items("deployment") == []
