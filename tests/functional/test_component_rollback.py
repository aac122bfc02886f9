"""RollbackModelFunction on an endpoint of inference components, against moto: the sweeps keep each
component's specification history, and a ModelAccuracyDrop puts the one component whose
specification changed recently back on the one before (UpdateInferenceComponent, read back until
InService on it, verified by the alarm), or is bounded with the reason and changes nothing.

The endpoint and the component are AWS's own requests (tests/data/real/endpoints/,
tests/data/real/inference-components/), on the stack's monitored endpoint's name."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import time_machine

from localcloud.moto_extensions import set_update_seconds
from tests.conftest import (
    FakeContext,
    Stack,
    bodies,
    decisions,
    load_event,
    load_handler,
    metric_alarm,
    stored_incidents,
)
from tests.real_endpoints import MODEL_IMAGE, MODEL_ROLE, load

REAL = Path(__file__).resolve().parents[1] / "data" / "real" / "inference-components"
ENDPOINT = "churn-prod"  # the stack's monitored endpoint, as the sample alarm events name it
ALARM = f"{ENDPOINT}-ModelAccuracyDrop"
REQUEST = {**json.loads((REAL / "create-inference-component.json").read_text()), "EndpointName": ENDPOINT}
COMPONENT = REQUEST["InferenceComponentName"]
FIRST = REQUEST["Specification"]
SECOND = {**FIRST, "ModelName": "sm-model-llama3-v2"}
THIRD: Any = {
    "Container": {"Image": MODEL_IMAGE, "ArtifactUrl": "s3://models/llama3/model.tar.gz"},
    "ComputeResourceRequirements": FIRST["ComputeResourceRequirements"],
}
OPENED = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)  # StateChangeTime of the sample ALARM event
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
    monkeypatch.setenv("COMPONENT_CHANGE_HOURS", "24")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "rollback-model")
    return load_handler("rollback_model")


def invoke(fn: Any, event: Any) -> dict[str, Any]:
    return fn.lambda_handler(event, FakeContext())  # type: ignore[no-any-return]


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


def deliver(fn: Any, clock: time_machine.Traveller, at: datetime = DELIVERED) -> list[dict[str, Any]]:
    clock.move_to(at)
    return invoke(fn, load_event("rollback_model/accuracy_drop_alarm.json"))["outcomes"]  # type: ignore[no-any-return]


def accuracy_alarm(state: str) -> None:
    metric_alarm(
        ALARM, "accuracy", state, period=3600, evaluation_periods=1, threshold=0.8, comparison="LessThanThreshold"
    )


def alarm_event(state: str, at: datetime) -> dict[str, Any]:
    """The sample's delivery of the accuracy alarm, going to `state` at `at`."""
    event = load_event("rollback_model/accuracy_drop_alarm.json")
    message = json.loads(event["Records"][0]["Sns"]["Message"])
    message.update(
        NewStateValue=state,
        OldStateValue="OK" if state == "ALARM" else "ALARM",
        StateChangeTime=at.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
    )
    event["Records"][0]["Sns"]["Message"] = json.dumps(message)
    return event  # type: ignore[no-any-return]


def component_endpoint(fn: Any, clock: time_machine.Traveller, components: tuple[str, ...] = (COMPONENT,)) -> None:
    """AWS's inference-component endpoint with AWS's component (2 copies), both models made, and
    a sweep that records the component's first specification."""
    sagemaker = boto3.client("sagemaker")
    config = load("inference-components", "endpoint-config")
    sagemaker.create_endpoint_config(**config)
    sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=config["EndpointConfigName"])
    for model in (FIRST["ModelName"], SECOND["ModelName"]):
        sagemaker.create_model(ModelName=model, ExecutionRoleArn=MODEL_ROLE, PrimaryContainer={"Image": MODEL_IMAGE})
    for name in components:
        sagemaker.create_inference_component(
            **{**REQUEST, "InferenceComponentName": name, "RuntimeConfig": {"CopyCount": 2}}
        )
    assert sweep(fn, clock, OPENED - timedelta(days=2) + timedelta(minutes=5)) == []


def change_spec(clock: time_machine.Traveller, at: datetime, name: str = COMPONENT) -> None:
    """A person moves the component to the second model (the one that turns out bad)."""
    clock.move_to(at)
    boto3.client("sagemaker").update_inference_component(InferenceComponentName=name, Specification=SECOND)


def changed_and_recorded(fn: Any, clock: time_machine.Traveller) -> None:
    """The component moved to the second model three hours before the alarm, and the sweep after
    it recorded the specification it replaced."""
    change_spec(clock, OPENED - timedelta(hours=3))
    sweep(fn, clock, OPENED - timedelta(hours=3) + timedelta(minutes=5))


def described(name: str = COMPONENT) -> dict[str, Any]:
    return boto3.client("sagemaker").describe_inference_component(InferenceComponentName=name)  # type: ignore[no-any-return]


def records(stack: Stack) -> dict[str, dict[str, Any]]:
    return {item["component"]: item for item in stack.items("component-spec")}


def changed(requests: Requests) -> list[str]:
    return [op for service, op, _ in requests if service == "sagemaker" and not op.startswith(("Describe", "List"))]


def test_a_component_scaled_to_zero_goes_back_on_its_previous_specification_at_zero_copies(
    fn: Any, stack: Stack, clock: time_machine.Traveller, aws_requests: Requests
) -> None:
    """UpdateInferenceComponent's CopyCount may be 0: the rollback puts the specification back and
    starts no copy of it."""
    component_endpoint(fn, clock)
    changed_and_recorded(fn, clock)
    boto3.client("sagemaker").update_inference_component_runtime_config(
        InferenceComponentName=COMPONENT, DesiredRuntimeConfig={"CopyCount": 0}
    )
    clock.move_to(OPENED)
    accuracy_alarm("ALARM")
    aws_requests.clear()
    [outcome] = deliver(fn, clock)
    assert outcome["result"] == "acted"
    updates = [p for _, op, p in aws_requests if op == "UpdateInferenceComponent"]
    assert updates == [{"InferenceComponentName": COMPONENT, "Specification": FIRST, "RuntimeConfig": {"CopyCount": 0}}]
    now = described()
    assert (now["Specification"]["ModelName"], now["RuntimeConfig"]["DesiredCopyCount"]) == ("sm-model-llama3", 0)


def test_the_local_cloud_takes_an_update_to_zero_copies_as_asked(fn: Any, clock: time_machine.Traveller) -> None:
    """UpdateInferenceComponent's RuntimeConfig.CopyCount may be 0 (botocore's service model): the
    local cloud's update (localcloud/moto_extensions.py) leaves zero copies, not the count before."""
    component_endpoint(fn, clock)
    assert described()["RuntimeConfig"]["DesiredCopyCount"] == 2
    boto3.client("sagemaker").update_inference_component(
        InferenceComponentName=COMPONENT, Specification=SECOND, RuntimeConfig={"CopyCount": 0}
    )
    assert described()["RuntimeConfig"]["DesiredCopyCount"] == 0


def test_the_sweep_records_each_components_specification_and_its_change_with_the_one_before(
    fn: Any, stack: Stack, clock: time_machine.Traveller
) -> None:
    component_endpoint(fn, clock)
    [first] = records(stack).values()
    assert (json.loads(first["spec"]), first.get("previous")) == ({"Specification": FIRST}, None)
    changed_and_recorded(fn, clock)
    [after] = records(stack).values()
    assert json.loads(after["spec"]) == {"Specification": SECOND}
    assert json.loads(after["previous"]) == {"Specification": FIRST}
    assert after["changed_at"] == (OPENED - timedelta(hours=3) + timedelta(minutes=5)).isoformat()
    # A specification of a container and no model: DescribeInferenceComponent shows its image as
    # DeployedImage, recorded as UpdateInferenceComponent takes it.
    clock.move_to(OPENED - timedelta(hours=2, minutes=30))
    boto3.client("sagemaker").update_inference_component(InferenceComponentName=COMPONENT, Specification=THIRD)
    sweep(fn, clock, OPENED - timedelta(hours=2, minutes=25))
    [third] = records(stack).values()
    assert (json.loads(third["spec"]), json.loads(third["previous"])) == (
        {"Specification": THIRD},
        {"Specification": SECOND},
    )
    boto3.client("sagemaker").delete_inference_component(InferenceComponentName=COMPONENT)
    sweep(fn, clock, OPENED - timedelta(hours=2))
    assert records(stack) == {}  # a component gone is forgotten


def test_the_one_component_changed_recently_goes_back_on_its_previous_specification_keeping_its_copies(
    fn: Any, stack: Stack, clock: time_machine.Traveller, aws_requests: Requests
) -> None:
    component_endpoint(fn, clock)
    changed_and_recorded(fn, clock)
    # Auto scaling has grown the component since: the rollback keeps its copies.
    boto3.client("sagemaker").update_inference_component_runtime_config(
        InferenceComponentName=COMPONENT, DesiredRuntimeConfig={"CopyCount": 3}
    )
    clock.move_to(OPENED)
    accuracy_alarm("ALARM")
    set_update_seconds(600)
    aws_requests.clear()
    [outcome] = deliver(fn, clock)
    when = (OPENED - timedelta(hours=3) + timedelta(minutes=5)).isoformat()
    assert (outcome["result"], outcome["reason"]) == (
        "acted",
        f"inference component {COMPONENT} back to its specification before {when} "
        f"(sm-model-llama3-v2 -> sm-model-llama3)",
    )
    updates = [p for _, op, p in aws_requests if op == "UpdateInferenceComponent"]
    assert updates == [{"InferenceComponentName": COMPONENT, "Specification": FIRST, "RuntimeConfig": {"CopyCount": 3}}]
    assert described()["InferenceComponentStatus"] == "Updating"
    [incident] = stored_incidents(stack)
    assert [e["what"] for e in incident["timeline"]] == ["detected", "action"]
    assert [b["result"] for b in bodies(stack, "critical")] == ["acted"]
    # Read back until InService on the old specification, then verified by the alarm.
    sweep(fn, clock, OPENED + timedelta(minutes=11))
    now = described()
    assert (now["InferenceComponentStatus"], now["Specification"]["ModelName"]) == ("InService", "sm-model-llama3")
    assert now["RuntimeConfig"]["CurrentCopyCount"] == 3
    [incident] = stored_incidents(stack)
    assert (incident["state"], incident["timeline"][-1]["what"]) == ("verifying", "in-service")
    accuracy_alarm("OK")
    clock.move_to(OPENED + timedelta(hours=2, seconds=20))
    [recovered] = invoke(fn, alarm_event("OK", OPENED + timedelta(hours=2)))["outcomes"]
    assert (recovered["result"], recovered["incident"]) == ("recovered", outcome["incident"])
    # The history now holds the rollback as a change, and the bad specification as never a target again.
    [record] = records(stack).values()
    assert (json.loads(record["spec"]), json.loads(record["previous"])) == (
        {"Specification": FIRST},
        {"Specification": SECOND},
    )
    assert record["rejected"] == [record["previous_digest"]]


# A component of several instance types has one specification per type (CreateInferenceComponent's
# `Specifications`), and DescribeInferenceComponent answers `Specifications` without `Specification`.
LARGE: Any = {"NumberOfAcceleratorDevicesRequired": 4, "NumberOfCpuCoresRequired": 4, "MinMemoryRequiredInMb": 4096}
FIRST_TWO: Any = [
    {**FIRST, "InstanceType": "ml.g5.2xlarge"},
    {**FIRST, "InstanceType": "ml.g5.12xlarge", "ComputeResourceRequirements": LARGE},
]
SECOND_TWO: Any = [{**spec, "ModelName": SECOND["ModelName"]} for spec in FIRST_TWO]


def test_a_component_of_two_specifications_goes_back_on_both_as_specifications(
    fn: Any, stack: Stack, clock: time_machine.Traveller, aws_requests: Requests
) -> None:
    component_endpoint(fn, clock, components=())
    sagemaker = boto3.client("sagemaker")
    request = {k: v for k, v in REQUEST.items() if k != "Specification"}
    sagemaker.create_inference_component(**{**request, "Specifications": FIRST_TWO, "RuntimeConfig": {"CopyCount": 2}})
    sweep(fn, clock, OPENED - timedelta(days=1))
    [first] = records(stack).values()
    assert json.loads(first["spec"]) == {"Specifications": FIRST_TWO}
    clock.move_to(OPENED - timedelta(hours=3))
    sagemaker.update_inference_component(InferenceComponentName=COMPONENT, Specifications=SECOND_TWO)
    sweep(fn, clock, OPENED - timedelta(hours=3) + timedelta(minutes=5))
    clock.move_to(OPENED)
    accuracy_alarm("ALARM")
    aws_requests.clear()
    [outcome] = deliver(fn, clock)
    assert outcome["result"] == "acted"
    assert "(sm-model-llama3-v2 -> sm-model-llama3)" in outcome["reason"]
    updates = [p for _, op, p in aws_requests if op == "UpdateInferenceComponent"]
    want = {"InferenceComponentName": COMPONENT, "Specifications": FIRST_TWO, "RuntimeConfig": {"CopyCount": 2}}
    assert updates == [want]
    now = described()
    assert "Specification" not in now
    assert [(s["InstanceType"], s["ModelName"]) for s in now["Specifications"]] == [
        ("ml.g5.2xlarge", "sm-model-llama3"),
        ("ml.g5.12xlarge", "sm-model-llama3"),
    ]
    sweep(fn, clock, OPENED + timedelta(minutes=5))
    [incident] = stored_incidents(stack)
    assert (incident["state"], incident["timeline"][-1]["what"]) == ("verifying", "in-service")


def test_dry_run_records_the_would_be_rollback_and_changes_nothing(
    fn: Any, stack: Stack, clock: time_machine.Traveller, aws_requests: Requests
) -> None:
    component_endpoint(fn, clock)
    change_spec(clock, OPENED - timedelta(hours=3))
    stack.set_mode("dry-run")
    clock.move_to(OPENED)
    accuracy_alarm("ALARM")
    aws_requests.clear()
    [outcome] = deliver(fn, clock)
    assert outcome["result"] == "dry-run"
    [change] = outcome["changes"]["changes"]
    assert (change["kind"], change["component"], json.loads(change["to_spec"])) == (
        "component-rollback",
        COMPONENT,
        {"Specification": FIRST},
    )
    assert changed(aws_requests) == []
    assert described()["Specification"]["ModelName"] == SECOND["ModelName"]


def test_a_redelivered_alarm_rolls_back_nothing_more(
    fn: Any, stack: Stack, clock: time_machine.Traveller, aws_requests: Requests
) -> None:
    component_endpoint(fn, clock)
    change_spec(clock, OPENED - timedelta(hours=3))
    clock.move_to(OPENED)
    accuracy_alarm("ALARM")
    aws_requests.clear()
    for seconds in (30, 31, 300):
        deliver(fn, clock, at=OPENED + timedelta(seconds=seconds))
    assert changed(aws_requests) == ["UpdateInferenceComponent"]
    assert len(decisions(stack, "acted")) == 1
    assert described()["Specification"]["ModelName"] == FIRST["ModelName"]


def test_no_component_changed_within_the_window_is_a_bound_and_changes_nothing(
    fn: Any, stack: Stack, clock: time_machine.Traveller, aws_requests: Requests
) -> None:
    component_endpoint(fn, clock)
    change_spec(clock, OPENED - timedelta(hours=30))  # before the 24 hours the window holds
    sweep(fn, clock, OPENED - timedelta(hours=30) + timedelta(minutes=5))
    clock.move_to(OPENED)
    accuracy_alarm("ALARM")
    aws_requests.clear()
    [outcome] = deliver(fn, clock)
    assert (outcome["result"], outcome["gate"]) == ("bound-reached", "bound")
    assert outcome["reason"] == (
        f"no inference component of {ENDPOINT} changed its specification in the 24 hours before the alarm "
        "(1 component(s) recorded): nothing to roll back to; nothing was changed"
    )
    assert changed(aws_requests) == []


def test_several_components_changed_is_a_bound_naming_them(
    fn: Any, stack: Stack, clock: time_machine.Traveller, aws_requests: Requests
) -> None:
    other = f"{COMPONENT}-2"
    component_endpoint(fn, clock, (COMPONENT, other))
    change_spec(clock, OPENED - timedelta(hours=3))
    change_spec(clock, OPENED - timedelta(hours=2), other)
    clock.move_to(OPENED)
    accuracy_alarm("ALARM")
    aws_requests.clear()
    [outcome] = deliver(fn, clock)
    assert (outcome["result"], outcome["reason"]) == (
        "bound-reached",
        f"2 inference components of {ENDPOINT} changed their specifications in the 24 hours before the alarm "
        f"({COMPONENT}, {other}): which one lowered the accuracy is not known; nothing was changed",
    )
    assert changed(aws_requests) == []


def test_a_previous_specification_whose_model_is_gone_is_a_bound(
    fn: Any, stack: Stack, clock: time_machine.Traveller, aws_requests: Requests
) -> None:
    component_endpoint(fn, clock)
    change_spec(clock, OPENED - timedelta(hours=3))
    boto3.client("sagemaker").delete_model(ModelName=FIRST["ModelName"])
    clock.move_to(OPENED)
    accuracy_alarm("ALARM")
    aws_requests.clear()
    [outcome] = deliver(fn, clock)
    assert outcome["result"] == "bound-reached"
    assert f"names model {FIRST['ModelName']}, which no longer exists" in outcome["reason"]
    assert changed(aws_requests) == []
    assert described()["Specification"]["ModelName"] == SECOND["ModelName"]


def test_a_specification_rolled_back_from_is_never_put_back(
    fn: Any, stack: Stack, clock: time_machine.Traveller, aws_requests: Requests
) -> None:
    """After the rollback, the component's last change is the rollback itself, from the bad
    specification: a later accuracy alarm does not put the bad one back."""
    component_endpoint(fn, clock)
    change_spec(clock, OPENED - timedelta(hours=3))
    clock.move_to(OPENED)
    accuracy_alarm("ALARM")
    [acted] = deliver(fn, clock)
    assert acted["result"] == "acted"
    clock.move_to(OPENED + timedelta(hours=2))
    accuracy_alarm("OK")
    assert invoke(fn, alarm_event("OK", OPENED + timedelta(hours=2)))["outcomes"][0]["result"] == "recovered"
    sweep(fn, clock, OPENED + timedelta(hours=2, minutes=5))
    clock.move_to(OPENED + timedelta(hours=4))
    accuracy_alarm("ALARM")
    aws_requests.clear()
    [outcome] = invoke(fn, alarm_event("ALARM", OPENED + timedelta(hours=4)))["outcomes"]
    assert (outcome["result"], outcome["incident"] != acted["incident"]) == ("bound-reached", True)
    assert "was rolled back from once: never a rollback target again" in outcome["reason"]
    assert changed(aws_requests) == []
    assert described()["Specification"]["ModelName"] == FIRST["ModelName"]


def test_an_alarm_while_the_component_is_updating_is_acted_on_once_it_is_in_service(
    fn: Any, stack: Stack, clock: time_machine.Traveller
) -> None:
    """The bad specification is still going out when the alarm fires: its change is seen, and
    rolled back, only once the component is InService on it."""
    component_endpoint(fn, clock)
    set_update_seconds(600)
    change_spec(clock, OPENED - timedelta(minutes=5))
    clock.move_to(OPENED)
    accuracy_alarm("ALARM")
    [waiting] = deliver(fn, clock)
    assert (waiting["result"], waiting["reason"]) == (
        "skipped",
        f"inference component {COMPONENT} is being changed: looked at once InService",
    )
    assert described()["Specification"]["ModelName"] == SECOND["ModelName"]
    [acted] = sweep(fn, clock, OPENED + timedelta(minutes=10))
    assert (acted["result"], acted["incident"]) == ("acted", waiting["incident"])
    assert "(sm-model-llama3-v2 -> sm-model-llama3)" in acted["reason"]


def test_a_listing_refused_is_logged_and_the_sweep_goes_on(
    fn: Any, stack: Stack, clock: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AWS refuses ListInferenceComponents (a role without it): nothing is recorded, and the sweep
    of the open incidents still runs."""
    from botocore.client import BaseClient
    from botocore.exceptions import ClientError

    original = BaseClient._make_api_call

    def refusing(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        if operation == "ListInferenceComponents":
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, operation)
        return original(self, operation, params)

    sagemaker = boto3.client("sagemaker")
    config = load("inference-components", "endpoint-config")
    sagemaker.create_endpoint_config(**config)
    sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=config["EndpointConfigName"])
    sagemaker.create_model(
        ModelName=FIRST["ModelName"], ExecutionRoleArn=MODEL_ROLE, PrimaryContainer={"Image": MODEL_IMAGE}
    )
    sagemaker.create_inference_component(**REQUEST)
    monkeypatch.setattr(BaseClient, "_make_api_call", refusing)
    assert sweep(fn, clock, OPENED) == []
    assert records(stack) == {}
