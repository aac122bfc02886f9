"""RollbackModelFunction against moto (with the documented UpdateEndpoint extension): one
rollback per incident, confirmed on the endpoint, packages rejected after it, verified
against the alarm, escalated once."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
import time_machine

from localcloud.moto_extensions import fail_next_update, lag_next_update, set_update_seconds
from tests.conftest import (
    AwsCalls,
    FakeContext,
    Stack,
    bodies,
    decisions,
    load_event,
    load_handler,
    make_endpoint,
    metric_alarm,
    stored_incidents,
)
from tests.real_endpoints import MODEL_IMAGE, MODEL_ROLE, create_in_moto, load

ENDPOINT = "churn-prod"
ALARM = f"{ENDPOINT}-ModelAccuracyDrop"
OPENED = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)  # StateChangeTime of the sample ALARM events
DELIVERED = OPENED + timedelta(seconds=30)
ACCOUNT, REGION = "123456789012", "us-east-1"

Requests = list[tuple[str, str, dict[str, Any]]]


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(OPENED - timedelta(days=2), tick=False) as traveller:
        yield traveller


@pytest.fixture
def fn(stack: Stack, clock: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("CANARY_VARIANT", "canary")
    monkeypatch.setenv("REJECT_MODEL_PACKAGES", "false")
    monkeypatch.setenv("ROLLBACK_COOLDOWN_MINUTES", "60")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "rollback-model")
    return load_handler("rollback_model")


def invoke(fn: Any, event: Any) -> dict[str, Any]:
    return fn.lambda_handler(event, FakeContext())  # type: ignore[no-any-return]


def deliver(fn: Any, clock: time_machine.Traveller, event: Any, at: datetime = DELIVERED) -> list[dict[str, Any]]:
    clock.move_to(at)
    return invoke(fn, event)["outcomes"]  # type: ignore[no-any-return]


def alarm_event() -> dict[str, Any]:
    return load_event("rollback_model/accuracy_drop_alarm.json")  # type: ignore[no-any-return]


def sweep(fn: Any, clock: time_machine.Traveller, at: datetime) -> list[dict[str, Any]]:
    clock.move_to(at)
    event = {
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/model-medic-RollbackSweep"],
        "detail": {},
    }
    return invoke(fn, event)["outcomes"]  # type: ignore[no-any-return]


def accuracy_alarm(state: str, reason: str = "test") -> None:
    """The template's ModelAccuracyDrop alarm in CloudWatch, in `state` (at the clock's time)."""
    metric_alarm(
        ALARM,
        "accuracy",
        state,
        period=3600,
        evaluation_periods=1,
        threshold=0.8,
        comparison="LessThanThreshold",
        reason=reason,
    )


def endpoint() -> dict[str, Any]:
    return boto3.client("sagemaker").describe_endpoint(EndpointName=ENDPOINT)  # type: ignore[no-any-return]


def weights() -> dict[str, float]:
    return {v["VariantName"]: float(v["CurrentWeight"]) for v in endpoint()["ProductionVariants"]}


def record_history(fn: Any) -> None:
    """SageMaker's state-change event tells the deployment history that config-1 served InService."""
    recorded = invoke(fn, load_event("rollback_model/endpoint_in_service.json"))
    assert recorded["recorded"] == {"endpoint": ENDPOINT, "config": f"{ENDPOINT}-config-1"}


def deploy_second_config(
    clock: time_machine.Traveller, package: str | None = None, instance_type: str = "ml.m5.large"
) -> None:
    """A new model goes out as churn-prod-config-2 (the one that will turn out bad), a day later."""
    clock.move_to(OPENED - timedelta(days=1))
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
                "InstanceType": instance_type,
            }
        ],
    )
    sagemaker.update_endpoint(EndpointName=ENDPOINT, EndpointConfigName=f"{ENDPOINT}-config-2")


def calls(requests: Requests, operation: str) -> list[dict[str, Any]]:
    return [params for _, op, params in requests if op == operation]


def model_package(stack: Stack) -> str:
    sagemaker = boto3.client("sagemaker")
    sagemaker.create_model_package_group(ModelPackageGroupName="churn")
    return str(
        sagemaker.create_model_package(
            ModelPackageGroupName="churn",
            ModelApprovalStatus="Approved",
            InferenceSpecification={
                "Containers": [{"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/churn:v2"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
        )["ModelPackageArn"]
    )


def canary_serving(model: str, container: dict[str, Any]) -> None:
    """The canary serves `model` (made from `container`) beside the primary, on churn-prod-config-2."""
    sagemaker = boto3.client("sagemaker")
    sagemaker.create_model(
        ModelName=model, ExecutionRoleArn="arn:aws:iam::123456789012:role/r", PrimaryContainer=container
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=f"{ENDPOINT}-config-2",
        ProductionVariants=[
            {"VariantName": "primary", "ModelName": f"{ENDPOINT}-primary-model", "InitialInstanceCount": 2}
            | {"InstanceType": "ml.m5.large", "InitialVariantWeight": 0.9},
            {"VariantName": "canary", "ModelName": model, "InitialInstanceCount": 1}
            | {"InstanceType": "ml.m5.large", "InitialVariantWeight": 0.1},
        ],
    )
    sagemaker.update_endpoint(EndpointName=ENDPOINT, EndpointConfigName=f"{ENDPOINT}-config-2")


def refuse(monkeypatch: pytest.MonkeyPatch, operation: str, code: str, status: int = 400) -> list[dict[str, Any]]:
    """AWS answers every `operation` with the error `code` from now on; gives the requests refused."""
    from botocore.client import BaseClient
    from botocore.exceptions import ClientError

    refused: list[dict[str, Any]] = []
    original = BaseClient._make_api_call

    def refusing(self: BaseClient, called: str, params: dict[str, Any]) -> Any:
        if called != operation:
            return original(self, called, params)
        refused.append(dict(params))
        answer = {"Error": {"Code": code, "Message": "refused"}, "ResponseMetadata": {"HTTPStatusCode": status}}
        raise ClientError(answer, called)

    monkeypatch.setattr(BaseClient, "_make_api_call", refusing)
    return refused


def approval(arn: str) -> str:
    return str(boto3.client("sagemaker").describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"])


# --- the canary ------------------------------------------------------------------------------


@pytest.mark.parametrize("seconds", [0, 240], ids=["instant", "updating-4-min"])
def test_a_canary_taking_traffic_is_rolled_back_to_weight_zero_and_a_person_hears_at_once(
    fn: Any, stack: Stack, clock: time_machine.Traveller, aws_requests: Requests, seconds: int
) -> None:
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 0.9}, "canary": {"count": 1, "weight": 0.1}})
    clock.move_to(OPENED)
    accuracy_alarm("ALARM")  # still in ALARM when the sweeps look
    set_update_seconds(seconds)
    [outcome] = deliver(fn, clock, alarm_event())
    assert (outcome["result"], outcome["reason"], outcome["critical"]) == ("acted", "canary weight -> 0", True)
    in_service = DELIVERED
    if seconds:
        # The weight change under way: waiting, then verified from the sweep that reads it InService.
        assert stored_incidents(stack)[0]["state"] == "waiting"
        assert sweep(fn, clock, DELIVERED + timedelta(minutes=2)) == []  # still Updating: nothing new
        in_service = DELIVERED + timedelta(minutes=5)
        [verifying] = sweep(fn, clock, in_service)
        assert verifying["gate"] == "verifying"
    assert calls(aws_requests, "UpdateEndpointWeightsAndCapacities") == [
        {"EndpointName": ENDPOINT, "DesiredWeightsAndCapacities": [{"VariantName": "canary", "DesiredWeight": 0.0}]}
    ]
    assert calls(aws_requests, "UpdateEndpoint") == []
    assert weights() == {"primary": 0.9, "canary": 0.0}
    [incident] = stored_incidents(stack)
    assert (incident["id"], incident["state"], incident["steps"]) == (outcome["incident"], "verifying", 1)
    assert incident["verify_until"] == (in_service + timedelta(minutes=180)).isoformat()
    [told] = bodies(stack, "critical")
    assert (told["result"], told["incident"]) == ("acted", outcome["incident"])
    assert bodies(stack, "info") == []


def test_one_rollback_per_incident_then_escalated_once_when_the_alarm_outlasts_the_verification_window(
    fn: Any, stack: Stack, clock: time_machine.Traveller, aws_calls: AwsCalls
) -> None:
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 0.5}, "canary": {"count": 1, "weight": 0.5}})
    clock.move_to(OPENED)
    accuracy_alarm("ALARM")
    [first] = deliver(fn, clock, alarm_event())
    assert first["result"] == "acted"
    bodies(stack, "critical")
    [verifying] = sweep(fn, clock, OPENED + timedelta(hours=1))
    assert (verifying["result"], verifying["gate"]) == ("skipped", "verifying")
    assert "rollback already acted 1 time(s) in this incident" in verifying["reason"]
    assert sweep(fn, clock, OPENED + timedelta(hours=2)) == []
    assert bodies(stack, "critical") == []
    accuracy_alarm("ALARM", "Threshold Crossed: 1 out of the last 1 datapoints [0.69] was less than the threshold")
    [escalated] = sweep(fn, clock, OPENED + timedelta(hours=3, minutes=5))
    assert (escalated["result"], escalated["gate"], escalated["incident"]) == ("escalated", "bound", first["incident"])
    assert escalated["changes"]["tried"] == ["canary weight -> 0"]
    assert "[0.69]" in escalated["changes"]["metric_now"]
    assert "[0.71 " in escalated["changes"]["metric_when_opened"]
    for hours in (4, 8, 24):
        assert sweep(fn, clock, OPENED + timedelta(hours=hours)) == []
    # Escalated once; while the alarm lasts, a reminder at most every REMINDER_HOURS (4 by default):
    # the sweeps at 8 h and at 24 h, not the one at 4 h (less than 4 h after the page).
    critical = bodies(stack, "critical")
    assert [b.get("result") for b in critical] == ["escalated", None, None]
    assert [b["subject"] for b in critical[1:]] == [
        f"[CRITICAL] test reminder: {ENDPOINT} still at its bound for {ENDPOINT}-ModelAccuracyDrop (rollback)"
    ] * 2
    assert aws_calls.of("sagemaker").count("UpdateEndpointWeightsAndCapacities") == 1
    assert len(decisions(stack, "acted")) == 1
    assert stored_incidents(stack)[0]["state"] == "escalated"


def test_the_verification_window_is_the_stack_parameter(
    fn: Any, stack: Stack, clock: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROLLBACK_VERIFY_MINUTES", "60")
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 0.5}, "canary": {"count": 1, "weight": 0.5}})
    clock.move_to(OPENED)
    accuracy_alarm("ALARM")
    deliver(fn, clock, alarm_event())
    assert stored_incidents(stack)[0]["verify_until"] == (DELIVERED + timedelta(minutes=60)).isoformat()
    sweep(fn, clock, OPENED + timedelta(minutes=55))
    assert decisions(stack, "escalated") == []
    [escalated] = sweep(fn, clock, OPENED + timedelta(minutes=61))
    assert escalated["result"] == "escalated"


def test_ok_within_the_window_is_recovered_with_the_time_to_recover(
    fn: Any, stack: Stack, clock: time_machine.Traveller
) -> None:
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 0.5}, "canary": {"count": 1, "weight": 0.5}})
    [acted] = deliver(fn, clock, alarm_event())
    ok = alarm_event()
    message = json.loads(ok["Records"][0]["Sns"]["Message"])
    message.update(NewStateValue="OK", OldStateValue="ALARM", StateChangeTime="2026-11-22T12:00:00.000+0000")
    ok["Records"][0]["Sns"]["Message"] = json.dumps(message)
    [recovered] = deliver(fn, clock, ok, at=OPENED + timedelta(hours=2, seconds=20))
    assert (recovered["result"], recovered["incident"]) == ("recovered", acted["incident"])
    assert recovered["reason"] == (
        f"{ALARM} recovered 120 min after it fired, after 1 rollback step(s): the alarm returned to OK"
    )
    assert [b["result"] for b in bodies(stack, "info")] == ["recovered"]
    [incident] = stored_incidents(stack)
    assert (incident["state"], incident["closed_at"]) == ("recovered", "2026-11-22T12:00:00+00:00")


# --- the previous config -----------------------------------------------------------------------


@pytest.mark.parametrize("seconds", [0, 240], ids=["instant", "updating-4-min"])
def test_without_a_canary_the_previous_in_service_config_is_redeployed_keeping_the_counts(
    fn: Any, stack: Stack, clock: time_machine.Traveller, aws_requests: Requests, seconds: int
) -> None:
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 1.0}})
    set_update_seconds(seconds)
    record_history(fn)
    deploy_second_config(clock)
    clock.shift(timedelta(seconds=seconds))
    # Auto scaling has grown the new config's variant since: the rollback keeps that.
    boto3.client("sagemaker").update_endpoint_weights_and_capacities(
        EndpointName=ENDPOINT, DesiredWeightsAndCapacities=[{"VariantName": "primary", "DesiredInstanceCount": 3}]
    )
    clock.move_to(OPENED)
    accuracy_alarm("ALARM")  # still in ALARM when the sweep looks
    aws_requests.clear()
    [outcome] = deliver(fn, clock, alarm_event())
    assert (outcome["result"], outcome["reason"]) == (
        "acted",
        f"endpoint config {ENDPOINT}-config-2 -> {ENDPOINT}-config-1",
    )
    if seconds:
        # Blue/green under way: the rollback is confirmed by the sweep that reads it InService on config-1.
        assert stored_incidents(stack)[0]["state"] == "waiting"
        assert endpoint()["PendingDeploymentSummary"]["EndpointConfigName"] == f"{ENDPOINT}-config-1"
        [verifying] = sweep(fn, clock, DELIVERED + timedelta(minutes=5))
        assert verifying["gate"] == "verifying"
    assert calls(aws_requests, "UpdateEndpoint") == [
        {
            "EndpointName": ENDPOINT,
            "EndpointConfigName": f"{ENDPOINT}-config-1",
            "RetainAllVariantProperties": True,
        }
    ]
    described = endpoint()
    assert (described["EndpointConfigName"], described["EndpointStatus"]) == (f"{ENDPOINT}-config-1", "InService")
    assert described["ProductionVariants"][0]["CurrentInstanceCount"] == 3
    [incident] = stored_incidents(stack)
    assert incident["state"] == "verifying"
    assert [e["what"] for e in incident["timeline"]] == ["detected", "action", "in-service"]
    assert len(calls(aws_requests, "UpdateEndpoint")) == 1  # once, however long it took


def test_the_rollback_is_confirmed_only_when_the_endpoint_is_in_service_on_the_target_config(
    fn: Any, stack: Stack, clock: time_machine.Traveller
) -> None:
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 1.0}})
    record_history(fn)
    deploy_second_config(clock)
    clock.move_to(OPENED)
    accuracy_alarm("ALARM")
    set_update_seconds(300)  # a blue/green deployment takes 5 minutes
    [acted] = deliver(fn, clock, alarm_event())
    assert acted["result"] == "acted"
    sweep(fn, clock, OPENED + timedelta(minutes=5))
    assert stored_incidents(stack)[0]["state"] == "waiting"
    [waiting] = [d for d in decisions(stack) if d["gate"] == "waiting"]  # recorded once, not every sweep
    assert waiting["reason"] == (
        f"endpoint config {ENDPOINT}-config-2 -> {ENDPOINT}-config-1: endpoint Updating, deploying {ENDPOINT}-config-1"
    )
    [verifying] = sweep(fn, clock, OPENED + timedelta(minutes=10))
    assert verifying["gate"] == "verifying"
    [incident] = stored_incidents(stack)
    assert incident["state"] == "verifying"
    assert incident["verify_until"] == (OPENED + timedelta(minutes=190)).isoformat()
    assert len(decisions(stack, "acted")) == 1


def test_a_rollback_aws_does_not_show_yet_right_after_its_call_is_not_told_as_rolled_back_on_its_own(
    fn: Any, stack: Stack, clock: time_machine.Traveller
) -> None:
    """Read back in the same invocation, the endpoint is still InService on the config it had
    (AWS has not set it Updating yet): that is not a deployment rolled back on its own. The step
    waits for the next look, which finds the rollback done; no one hears of a failure."""
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 1.0}})
    record_history(fn)
    deploy_second_config(clock)
    clock.move_to(OPENED)
    accuracy_alarm("ALARM")
    set_update_seconds(300)
    lag_next_update(ENDPOINT)
    [acted] = deliver(fn, clock, alarm_event())
    assert acted["result"] == "acted"
    assert stored_incidents(stack)[0]["state"] == "waiting"
    [verifying] = sweep(fn, clock, OPENED + timedelta(minutes=10))
    assert verifying["gate"] == "verifying"
    assert [b["result"] for b in bodies(stack, "critical")] == ["acted"]
    assert endpoint()["EndpointConfigName"] == f"{ENDPOINT}-config-1"


def test_a_deployment_that_rolled_back_on_its_own_is_a_failed_rollback(
    fn: Any, stack: Stack, clock: time_machine.Traveller
) -> None:
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 1.0}})
    record_history(fn)
    deploy_second_config(clock)
    clock.move_to(OPENED)
    accuracy_alarm("ALARM")
    set_update_seconds(300)  # a blue/green deployment takes 5 minutes
    fail_next_update(ENDPOINT, "Alarm churn-prod-5XX fired during the deployment; rolled back.")
    deliver(fn, clock, alarm_event())
    [failed] = sweep(fn, clock, OPENED + timedelta(minutes=10))
    assert (failed["result"], failed["gate"]) == ("failed", "verify")
    assert failed["reason"] == (
        f"endpoint config {ENDPOINT}-config-2 -> {ENDPOINT}-config-1 did not take: the deployment rolled back on "
        f"its own; InService on {ENDPOINT}-config-2 (Alarm churn-prod-5XX fired during the deployment; rolled back.)"
    )
    assert stored_incidents(stack)[0]["state"] == "escalated"
    for minutes in (15, 60, 240):
        assert sweep(fn, clock, OPENED + timedelta(minutes=minutes)) == []
    assert [b["result"] for b in bodies(stack, "critical")] == ["acted", "failed"]
    assert bodies(stack, "info") == []
    assert endpoint()["EndpointConfigName"] == f"{ENDPOINT}-config-2"


def test_a_deployment_that_fails_after_the_alarm_cleared_is_still_reported(
    fn: Any, stack: Stack, clock: time_machine.Traveller
) -> None:
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 1.0}})
    record_history(fn)
    deploy_second_config(clock)
    clock.move_to(OPENED)
    accuracy_alarm("ALARM")
    set_update_seconds(600)
    fail_next_update(ENDPOINT, "Alarm churn-prod-5XX fired during the deployment; rolled back.")
    deliver(fn, clock, alarm_event())
    ok = alarm_event()
    message = json.loads(ok["Records"][0]["Sns"]["Message"])
    message.update(NewStateValue="OK", OldStateValue="ALARM", StateChangeTime="2026-11-22T10:03:00.000+0000")
    ok["Records"][0]["Sns"]["Message"] = json.dumps(message)
    clock.move_to(OPENED + timedelta(minutes=3))
    accuracy_alarm("OK")
    deliver(fn, clock, ok, at=OPENED + timedelta(minutes=3, seconds=20))
    for minutes in (5, 15, 20):
        sweep(fn, clock, OPENED + timedelta(minutes=minutes))
    assert endpoint()["EndpointConfigName"] == f"{ENDPOINT}-config-2"  # the rollback did not take
    assert [b["result"] for b in bodies(stack, "critical")] == ["acted", "failed"]


def test_the_model_package_is_rejected_by_its_arn_only_after_the_rollback_took(
    fn: Any,
    stack: Stack,
    clock: time_machine.Traveller,
    monkeypatch: pytest.MonkeyPatch,
    aws_requests: Requests,
) -> None:
    monkeypatch.setenv("REJECT_MODEL_PACKAGES", "true")
    package = model_package(stack)
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 1.0}})
    record_history(fn)
    deploy_second_config(clock, package="churn/1")
    clock.move_to(OPENED)
    accuracy_alarm("ALARM")
    set_update_seconds(300)  # a blue/green deployment takes 5 minutes
    aws_requests.clear()
    [acted] = deliver(fn, clock, alarm_event())
    assert acted["reason"] == (
        f"endpoint config {ENDPOINT}-config-2 -> {ENDPOINT}-config-1; model package {package} -> Rejected"
    )
    # The deployment is still under way: the package is left alone.
    assert approval(package) == "Approved"
    sweep(fn, clock, OPENED + timedelta(minutes=5))
    assert stored_incidents(stack)[0]["state"] == "waiting"
    assert approval(package) == "Approved"
    sweep(fn, clock, OPENED + timedelta(minutes=10))
    assert approval(package) == "Rejected"
    updates = [op for _, op, _ in aws_requests if op in ("UpdateEndpoint", "UpdateModelPackage")]
    assert updates == ["UpdateEndpoint", "UpdateModelPackage"]
    [rejected] = calls(aws_requests, "UpdateModelPackage")
    assert (rejected["ModelPackageArn"], rejected["ModelApprovalStatus"]) == (package, "Rejected")
    [incident] = stored_incidents(stack)
    assert incident["state"] == "verifying"
    assert [e["what"] for e in incident["timeline"]] == ["detected", "action", "in-service", "action", "in-service"]
    assert len(decisions(stack, "acted")) == 1


def test_a_failed_rollback_rejects_no_model_package(
    fn: Any,
    stack: Stack,
    clock: time_machine.Traveller,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REJECT_MODEL_PACKAGES", "true")
    package = model_package(stack)
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 1.0}})
    record_history(fn)
    deploy_second_config(clock, package=package)
    clock.move_to(OPENED)
    accuracy_alarm("ALARM")
    set_update_seconds(300)  # a blue/green deployment takes 5 minutes
    fail_next_update(ENDPOINT, "Alarm churn-prod-5XX fired during the deployment; rolled back.")
    deliver(fn, clock, alarm_event())
    [failed] = sweep(fn, clock, OPENED + timedelta(minutes=10))
    assert failed["result"] == "failed"
    assert approval(package) == "Approved"


def test_an_accuracy_alarm_while_the_endpoint_is_updating_is_acted_on_once_it_is_in_service(
    fn: Any, stack: Stack, clock: time_machine.Traveller
) -> None:
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 0.5}, "canary": {"count": 1, "weight": 0.5}})
    clock.move_to(OPENED)
    accuracy_alarm("ALARM")
    set_update_seconds(600)  # a person's scaling change at 10:00 keeps the endpoint Updating until 10:10
    boto3.client("sagemaker").update_endpoint_weights_and_capacities(
        EndpointName=ENDPOINT, DesiredWeightsAndCapacities=[{"VariantName": "primary", "DesiredInstanceCount": 3}]
    )
    [skipped] = deliver(fn, clock, alarm_event())
    assert (skipped["gate"], skipped["reason"]) == ("precondition", f"endpoint {ENDPOINT} is Updating, not InService")
    assert sweep(fn, clock, OPENED + timedelta(minutes=5)) == []
    set_update_seconds(0)
    [acted] = sweep(fn, clock, OPENED + timedelta(minutes=11))
    assert (acted["result"], acted["incident"]) == ("acted", skipped["incident"])
    assert weights() == {"primary": 0.5, "canary": 0.0}
    assert len(decisions(stack, "acted")) == 1


def test_with_a_canary_only_the_canarys_model_package_is_rejected(
    fn: Any, stack: Stack, clock: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch, aws_requests: Requests
) -> None:
    monkeypatch.setenv("REJECT_MODEL_PACKAGES", "true")
    package = model_package(stack)
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 0.9}})
    canary_serving("churn-v2", {"ModelPackageName": package})  # the packaged model next to the primary
    aws_requests.clear()
    [acted] = deliver(fn, clock, alarm_event())
    assert acted["reason"] == f"canary weight -> 0; model package {package} -> Rejected"
    assert weights() == {"primary": 0.9, "canary": 0.0}
    assert approval(package) == "Rejected"
    assert [p["ModelPackageArn"] for p in calls(aws_requests, "UpdateModelPackage")] == [package]


def test_a_package_in_another_accounts_registry_does_not_stop_the_canarys_rollback(
    fn: Any, stack: Stack, clock: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch, aws_requests: Requests
) -> None:
    """The canary's model was made from a package in another account's registry: the role may
    describe only this account's packages (template, ReadModelPackages), so IAM refuses the read
    (moto enforces no IAM: refused here as AWS would). The canary still goes to weight 0, and the
    decision says which package was not marked Rejected and why."""
    monkeypatch.setenv("REJECT_MODEL_PACKAGES", "true")
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 0.9}})
    shared = "arn:aws:sagemaker:us-east-1:210987654321:model-package/churn/4"
    canary_serving("churn-v2", {"ModelPackageName": shared})
    refused = refuse(monkeypatch, "DescribeModelPackage", "AccessDeniedException")
    aws_requests.clear()
    [acted] = deliver(fn, clock, alarm_event())
    assert acted["result"] == "acted"
    assert acted["reason"] == (
        f"canary weight -> 0; model package {shared} of model churn-v2 not marked Rejected "
        "(DescribeModelPackage: AccessDeniedException)"
    )
    assert weights() == {"primary": 0.9, "canary": 0.0}
    assert [r["ModelPackageName"] for r in refused] == [shared]
    assert calls(aws_requests, "UpdateModelPackage") == []
    assert [b["result"] for b in bodies(stack, "critical")] == ["acted"]


def test_a_model_deleted_while_it_serves_does_not_stop_the_rollback_to_the_previous_config(
    fn: Any, stack: Stack, clock: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch, aws_requests: Requests
) -> None:
    """SageMaker lets a model be deleted while an endpoint serves it (DescribeModel then answers
    ValidationException "Could not find model"): its packages cannot be known, the rollback goes on."""
    monkeypatch.setenv("REJECT_MODEL_PACKAGES", "true")
    package = model_package(stack)
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 1.0}})
    record_history(fn)
    deploy_second_config(clock, package=package)
    boto3.client("sagemaker").delete_model(ModelName="churn-v2")
    clock.move_to(OPENED)
    accuracy_alarm("ALARM")
    aws_requests.clear()
    [acted] = deliver(fn, clock, alarm_event())
    assert acted["result"] == "acted"
    assert acted["reason"] == (
        f"endpoint config {ENDPOINT}-config-2 -> {ENDPOINT}-config-1; the model packages of model churn-v2 "
        "not marked Rejected (DescribeModel: ValidationException)"
    )
    assert endpoint()["EndpointConfigName"] == f"{ENDPOINT}-config-1"
    assert approval(package) == "Approved"
    assert calls(aws_requests, "UpdateModelPackage") == []
    [incident] = stored_incidents(stack)
    assert incident["state"] == "verifying"


def test_a_throttled_package_read_is_tried_again_and_changes_nothing_meanwhile(
    fn: Any, stack: Stack, clock: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A transient error is no reason to skip the rejection: the invocation fails (Lambda retries)."""
    from botocore.exceptions import ClientError

    monkeypatch.setenv("REJECT_MODEL_PACKAGES", "true")
    package = model_package(stack)
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 0.9}})
    canary_serving("churn-v2", {"ModelPackageName": package})
    refuse(monkeypatch, "DescribeModelPackage", "ThrottlingException")
    clock.move_to(DELIVERED)
    with pytest.raises(ClientError, match="ThrottlingException"):
        invoke(fn, alarm_event())
    assert weights() == {"primary": 0.9, "canary": 0.1}
    assert decisions(stack, "acted") == []


def test_no_known_target_changes_nothing_and_calls_a_person_once(
    fn: Any, stack: Stack, clock: time_machine.Traveller, aws_calls: AwsCalls
) -> None:
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 1.0}, "canary": {"count": 1, "weight": 0.0}})
    clock.move_to(OPENED)
    accuracy_alarm("ALARM")
    aws_calls.made.clear()
    [outcome] = deliver(fn, clock, alarm_event())
    assert (outcome["result"], outcome["gate"]) == ("bound-reached", "bound")
    assert outcome["reason"] == (
        f"no known rollback target for {ENDPOINT}: no canary takes traffic and no endpoint config other than "
        f"{ENDPOINT}-config-1 is in the deployment history; nothing was changed"
    )
    assert sweep(fn, clock, OPENED + timedelta(hours=1)) == []
    assert endpoint()["EndpointConfigName"] == f"{ENDPOINT}-config-1"
    assert [c for c in aws_calls.of("sagemaker") if c.startswith("Update")] == []
    assert [b["result"] for b in bodies(stack, "critical")] == ["bound-reached"]


def test_a_config_rolled_back_from_is_never_a_target_again(
    fn: Any, stack: Stack, clock: time_machine.Traveller
) -> None:
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 1.0}})
    record_history(fn)
    deploy_second_config(clock)
    deliver(fn, clock, alarm_event())
    assert endpoint()["EndpointConfigName"] == f"{ENDPOINT}-config-1"
    # Hours later, a new episode: the good model's accuracy drops too. Nothing safe to go back to.
    event = load_event("rollback_model/accuracy_drop_alarm_action.json")
    event["alarmData"]["state"]["timestamp"] = "2026-11-22T15:00:00.000+0000"
    [outcome] = deliver(fn, clock, event, at=OPENED + timedelta(hours=5, seconds=30))
    assert (outcome["result"], outcome["gate"]) == ("bound-reached", "bound")
    assert "no known rollback target" in outcome["reason"]
    assert endpoint()["EndpointConfigName"] == f"{ENDPOINT}-config-1"


@pytest.mark.parametrize(
    ("second_type", "autoscaled", "problem"),
    [
        (
            "ml.m5.xlarge",
            "primary",
            f"rollback target {ENDPOINT}-config-1 changes the instance type of auto-scaled variant primary "
            "(ml.m5.xlarge -> ml.m5.large): deregister its scaling first",
        ),
    ],
)
def test_a_target_config_that_would_break_auto_scaling_is_a_bound(
    fn: Any,
    stack: Stack,
    clock: time_machine.Traveller,
    aws_calls: AwsCalls,
    second_type: str,
    autoscaled: str,
    problem: str,
) -> None:
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 1.0, "type": "ml.m5.large"}})
    record_history(fn)
    deploy_second_config(clock, instance_type=second_type)
    boto3.client("application-autoscaling").register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId=f"endpoint/{ENDPOINT}/variant/{autoscaled}",
        ScalableDimension="sagemaker:variant:DesiredInstanceCount",
        MinCapacity=1,
        MaxCapacity=4,
    )
    aws_calls.made.clear()
    [outcome] = deliver(fn, clock, alarm_event())
    assert (outcome["result"], outcome["reason"]) == ("bound-reached", f"{problem}; nothing was changed")
    assert "UpdateEndpoint" not in aws_calls.of("sagemaker")
    assert endpoint()["EndpointConfigName"] == f"{ENDPOINT}-config-2"


def test_a_target_config_without_an_auto_scaled_variant_is_a_bound(
    fn: Any, stack: Stack, clock: time_machine.Traveller
) -> None:
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 1.0}})
    record_history(fn)
    # config-2 adds an auto-scaled "blue" variant that config-1 does not have.
    clock.move_to(OPENED - timedelta(days=1))
    sagemaker = boto3.client("sagemaker")
    variants = [
        {"VariantName": name, "ModelName": f"{ENDPOINT}-primary-model", "InitialInstanceCount": 1}
        | {"InstanceType": "ml.m5.large", "InitialVariantWeight": 1.0}
        for name in ("primary", "blue")
    ]
    sagemaker.create_endpoint_config(EndpointConfigName=f"{ENDPOINT}-config-2", ProductionVariants=variants)
    sagemaker.update_endpoint(EndpointName=ENDPOINT, EndpointConfigName=f"{ENDPOINT}-config-2")
    boto3.client("application-autoscaling").register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId=f"endpoint/{ENDPOINT}/variant/blue",
        ScalableDimension="sagemaker:variant:DesiredInstanceCount",
        MinCapacity=1,
        MaxCapacity=4,
    )
    [outcome] = deliver(fn, clock, alarm_event())
    assert (outcome["result"], outcome["reason"]) == (
        "bound-reached",
        f"rollback target {ENDPOINT}-config-1 removes auto-scaled variant blue: deregister its scaling first; "
        "nothing was changed",
    )
    assert endpoint()["EndpointConfigName"] == f"{ENDPOINT}-config-2"


# --- duplicates, gates and bad input -------------------------------------------------------------


# --- endpoint kinds (tests/data/real/endpoints/) -----------------------------------------------


def in_service_event(config: str) -> dict[str, Any]:
    """SageMaker's state-change event saying churn-prod was InService on `config`."""
    event = load_event("rollback_model/endpoint_in_service.json")
    event["detail"]["EndpointConfigName"] = config
    return event  # type: ignore[no-any-return]


def test_an_inference_component_endpoint_looks_to_its_components_never_to_a_previous_config(
    fn: Any, stack: Stack, clock: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch, aws_requests: Requests
) -> None:
    """Its variants name no model (KeyError 'ModelName' once): with a known previous config and
    packages to reject, and no component whose specification changed, the rollback stops with
    the reason and changes nothing (test_component_rollback.py: the components' rollback)."""
    monkeypatch.setenv("REJECT_MODEL_PACKAGES", "true")
    first = create_in_moto("inference-components", ENDPOINT)
    assert (
        invoke(fn, in_service_event(first["EndpointConfigName"]))["recorded"]["config"] == first["EndpointConfigName"]
    )
    clock.move_to(OPENED - timedelta(days=1))
    second = {**load("inference-components", "endpoint-config"), "EndpointConfigName": f"{ENDPOINT}-ic-2"}
    boto3.client("sagemaker").create_endpoint_config(**second)
    boto3.client("sagemaker").update_endpoint(EndpointName=ENDPOINT, EndpointConfigName=f"{ENDPOINT}-ic-2")
    clock.move_to(OPENED)
    accuracy_alarm("ALARM")
    aws_requests.clear()
    [outcome] = deliver(fn, clock, alarm_event())
    assert (outcome["result"], outcome["gate"]) == ("bound-reached", "bound")
    assert outcome["reason"] == (
        f"no inference component of {ENDPOINT} changed its specification in the 24 hours before the alarm "
        "(0 component(s) recorded): nothing to roll back to; nothing was changed"
    )
    changed = [
        op for service, op, _ in aws_requests if service == "sagemaker" and not op.startswith(("Describe", "List"))
    ]
    assert changed == []
    assert endpoint()["EndpointConfigName"] == f"{ENDPOINT}-ic-2"
    assert [b["result"] for b in bodies(stack, "critical")] == ["bound-reached"]
    assert sweep(fn, clock, OPENED + timedelta(hours=2)) == []  # bounded: not tried again in this incident


def test_on_a_shadow_endpoint_the_previous_config_is_redeployed_and_only_production_packages_are_rejected(
    fn: Any, stack: Stack, clock: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch, aws_requests: Requests
) -> None:
    monkeypatch.setenv("REJECT_MODEL_PACKAGES", "true")
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 1.0}})
    record_history(fn)
    # The shadow notebook's config, its production model registered as a package (shadow's is not rejected).
    package = model_package(stack)
    sagemaker = boto3.client("sagemaker")
    request = load("shadow", "endpoint-config")
    for variant, container in (
        (request["ProductionVariants"][0], {"ModelPackageName": "churn/1"}),
        (request["ShadowProductionVariants"][0], {"Image": MODEL_IMAGE}),
    ):
        sagemaker.create_model(ModelName=variant["ModelName"], ExecutionRoleArn=MODEL_ROLE, PrimaryContainer=container)
    sagemaker.create_endpoint_config(**request)
    clock.move_to(OPENED - timedelta(days=1))
    sagemaker.update_endpoint(EndpointName=ENDPOINT, EndpointConfigName=request["EndpointConfigName"])
    aws_requests.clear()
    [outcome] = deliver(fn, clock, alarm_event())
    assert (outcome["result"], outcome["reason"]) == (
        "acted",
        f"endpoint config {request['EndpointConfigName']} -> {ENDPOINT}-config-1; model package {package} -> Rejected",
    )
    assert endpoint()["EndpointConfigName"] == f"{ENDPOINT}-config-1"
    assert approval(package) == "Rejected"


def test_a_duplicate_delivery_rolls_back_nothing_more(
    fn: Any, stack: Stack, clock: time_machine.Traveller, aws_calls: AwsCalls
) -> None:
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 1.0}})
    record_history(fn)
    deploy_second_config(clock)
    aws_calls.made.clear()
    for seconds in (30, 31, 300):
        deliver(fn, clock, alarm_event(), at=OPENED + timedelta(seconds=seconds))
    deliver(fn, clock, load_event("rollback_model/accuracy_drop_alarm_action.json"))  # the other shape, same transition
    assert aws_calls.of("sagemaker").count("UpdateEndpoint") == 1
    assert len(decisions(stack, "acted")) == 1
    assert [b["result"] for b in bodies(stack, "critical")] == ["acted"]
    told = [(e["detail"]["result"], e["detail"]["gate"], e["detail"]["reason"]) for e in stack.drain("events")]
    assert [t[0] for t in told].count("acted") == 1
    assert len(told) == len(set(told))  # one outcome event of each kind, however often delivered
    assert len(stored_incidents(stack)) == 1


def test_dry_run_says_what_it_would_roll_back_and_changes_nothing(
    fn: Any, stack: Stack, clock: time_machine.Traveller
) -> None:
    stack.set_mode("dry-run")
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 0.5}, "canary": {"count": 1, "weight": 0.5}})
    [outcome] = deliver(fn, clock, load_event("rollback_model/accuracy_drop_alarm_action.json"))
    assert (outcome["result"], outcome["reason"]) == ("dry-run", "canary weight -> 0")
    assert outcome["changes"] == {
        "changes": [{"kind": "rollback", "mode": "canary", "variant": "canary", "from_config": "", "to_config": ""}],
        "step": 1,
        "verify_until": outcome["changes"]["verify_until"],
    }
    assert weights() == {"primary": 0.5, "canary": 0.5}
    assert [b["result"] for b in bodies(stack, "info") + bodies(stack, "critical")] == ["dry-run"]


def test_mode_off_changes_nothing(fn: Any, stack: Stack, clock: time_machine.Traveller) -> None:
    stack.set_mode("off")
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 0.5}, "canary": {"count": 1, "weight": 0.5}})
    [outcome] = deliver(fn, clock, alarm_event())
    assert (outcome["result"], outcome["gate"]) == ("skipped", "mode")
    assert weights() == {"primary": 0.5, "canary": 0.5}


def test_an_endpoint_out_of_scope_is_not_rolled_back(
    fn: Any, stack: Stack, clock: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MONITORED_ENDPOINTS", "fraud-prod")
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 0.5}, "canary": {"count": 1, "weight": 0.5}})
    [outcome] = deliver(fn, clock, alarm_event())
    assert (outcome["result"], outcome["gate"]) == ("skipped", "scope")
    assert weights() == {"primary": 0.5, "canary": 0.5}
    assert stack.items("incident") == []


def test_a_missing_endpoint_is_a_permanent_error_noticed_once(
    fn: Any, stack: Stack, clock: time_machine.Traveller
) -> None:
    [outcome] = deliver(fn, clock, alarm_event())
    assert (outcome["result"], outcome["gate"]) == ("skipped", "permanent-error")
    [again] = deliver(fn, clock, alarm_event(), at=OPENED + timedelta(minutes=2))
    assert again["result"] == "skipped"
    [notice] = bodies(stack, "critical")
    assert notice["subject"] == f"[CRITICAL] test cannot rollback {ENDPOINT}"
    assert [d["gate"] for d in decisions(stack)] == ["permanent-error"]


def test_a_malformed_state_change_is_rejected_and_records_nothing(fn: Any, stack: Stack) -> None:
    event = load_event("rollback_model/endpoint_in_service.json")
    del event["detail"]["EndpointConfigName"]
    assert invoke(fn, event)["rejected"] == ["endpoint state change without EndpointName and EndpointConfigName"]
    assert stack.items("deployment") == []


@pytest.mark.parametrize(
    ("field", "value"),
    [("EndpointName", "churn-prod\ud800"), ("EndpointConfigName", "c" * 64), ("EndpointStatus", ["IN_SERVICE"])],
)
def test_a_state_change_sagemaker_could_not_have_sent_records_nothing(
    fn: Any, stack: Stack, field: str, value: Any
) -> None:
    # Both names go into the ledger's sort key and into UpdateEndpoint: SageMaker's own pattern.
    event = load_event("rollback_model/endpoint_in_service.json")
    event["detail"][field] = value
    result = invoke(fn, event)
    assert result["recorded"] is None
    assert stack.items("deployment") == []


@pytest.mark.parametrize("time", ["not a time", "2026-11-22T10:50:00", None])
def test_a_scheduled_event_with_a_bad_time_is_rejected_cleanly(fn: Any, stack: Stack, time: Any) -> None:
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 0.5}, "canary": {"count": 1, "weight": 0.5}})
    event = {"detail-type": "Scheduled Event", "source": "aws.events", "time": time, "resources": [], "detail": {}}
    result = invoke(fn, event)
    assert result["outcomes"] == []
    [rejected] = result["rejected"]
    assert rejected.startswith("scheduled event")
    assert repr(time) in rejected
    assert stack.items("decision") == []
