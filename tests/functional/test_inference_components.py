"""ScaleUpFunction on an endpoint of inference components, against moto: a component's latency
alarm adds copies (one change, read back), bounded by its ceilings and by where copies can go,
and the sweep gives the copies back once the alarm has been OK long enough.

The endpoint, the component and its scalable target are AWS's own requests
(tests/data/real/inference-components/, tests/data/real/endpoints/)."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import time_machine

from localcloud.moto_extensions import reset_simulation, set_update_seconds
from tests.conftest import FakeContext, Stack, decisions, load_event, load_handler, stored_incidents
from tests.real_endpoints import MODEL_IMAGE, MODEL_ROLE, load

REAL = Path(__file__).resolve().parents[1] / "data" / "real" / "inference-components"
COMPONENT_REQUEST = json.loads((REAL / "create-inference-component.json").read_text())
TARGET_REQUEST = json.loads((REAL / "register-scalable-target.json").read_text())
ENDPOINT = COMPONENT_REQUEST["EndpointName"]
COMPONENT = COMPONENT_REQUEST["InferenceComponentName"]
ALARM = f"{ENDPOINT}-{COMPONENT}-HighLatency"
OPENED = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
DELIVERED = OPENED + timedelta(seconds=30)


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(OPENED, tick=False) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def _instant_updates() -> Iterator[None]:
    reset_simulation()
    yield
    reset_simulation()


@pytest.fixture
def fn(stack: Stack, clock: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, value in {
        "MAX_INSTANCE_COUNT": "4",
        "MAX_COPY_COUNT": "4",
        "MONITORED_ENDPOINTS": ENDPOINT,
        "SCALE_STEP": "1",
        "SCALE_UP_COOLDOWN_MINUTES": "10",
        "SCALE_UP_VERIFY_MINUTES": "15",
        "SCALE_BACK_AFTER_MINUTES": "15",
        "POWERTOOLS_SERVICE_NAME": "scale-up",
    }.items():
        monkeypatch.setenv(name, value)
    return load_handler("scale_up")


def component_endpoint(managed: bool = True, tags: dict[str, str] | None = None) -> None:
    """AWS's inference-component endpoint (ManagedInstanceScaling 1..2, one instance) and its
    component with one copy, as the notebook makes them (`managed` False: no managed scaling)."""
    sagemaker = boto3.client("sagemaker")
    config = load("inference-components", "endpoint-config")
    if not managed:
        config["ProductionVariants"] = [
            {k: v for k, v in variant.items() if k != "ManagedInstanceScaling"}
            for variant in config["ProductionVariants"]
        ]
    sagemaker.create_endpoint_config(**config)
    sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=config["EndpointConfigName"])
    model = COMPONENT_REQUEST["Specification"]["ModelName"]
    sagemaker.create_model(ModelName=model, ExecutionRoleArn=MODEL_ROLE, PrimaryContainer={"Image": MODEL_IMAGE})
    extra = {"Tags": [{"Key": k, "Value": v} for k, v in (tags or {}).items()]} if tags else {}
    sagemaker.create_inference_component(**COMPONENT_REQUEST, **extra)


def component_alarm(state: str = "ALARM") -> None:
    """The component's latency alarm (alarm_catalog.component_alarms' shape) in CloudWatch."""
    cloudwatch = boto3.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName=ALARM,
        Namespace="AWS/SageMaker",
        MetricName="ModelLatency",
        Dimensions=[{"Name": "InferenceComponentName", "Value": COMPONENT}],
        Statistic="Average",
        Period=300,
        EvaluationPeriods=2,
        Threshold=1_000_000.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    cloudwatch.set_alarm_state(AlarmName=ALARM, StateValue=state, StateReason="test")


def delivery(state: str = "ALARM", at: datetime = OPENED) -> dict[str, Any]:
    """The SNS delivery of the component's alarm: the sample's envelope, the component's trigger
    (its metric names the component only: no EndpointName)."""
    event = load_event("scale_up/high_latency_alarm.json")
    body = json.loads(event["Records"][0]["Sns"]["Message"])
    body.update(
        AlarmName=ALARM,
        AlarmArn=f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{ALARM}",
        NewStateValue=state,
        OldStateValue="OK" if state == "ALARM" else "ALARM",
        StateChangeTime=at.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
    )
    body["Trigger"].update(
        MetricName="ModelLatency",
        Namespace="AWS/SageMaker",
        Dimensions=[{"value": COMPONENT, "name": "InferenceComponentName"}],
        Threshold=1_000_000.0,
    )
    event["Records"][0]["Sns"]["Message"] = json.dumps(body)
    return event  # type: ignore[no-any-return]


def invoke(fn: Any, clock: time_machine.Traveller, event: dict[str, Any], at: datetime) -> list[dict[str, Any]]:
    clock.move_to(at)
    return fn.lambda_handler(event, FakeContext())["outcomes"]  # type: ignore[no-any-return]


def sweep(fn: Any, clock: time_machine.Traveller, at: datetime) -> list[dict[str, Any]]:
    event = load_event("scale_up/scale_back_sweep.json")
    event["time"] = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return invoke(fn, clock, event, at)


def runtime() -> tuple[str, int, int]:
    found = boto3.client("sagemaker").describe_inference_component(InferenceComponentName=COMPONENT)
    config = found["RuntimeConfig"]
    return found["InferenceComponentStatus"], config["CurrentCopyCount"], config["DesiredCopyCount"]


def min_copies() -> int:
    targets = boto3.client("application-autoscaling").describe_scalable_targets(
        ServiceNamespace="sagemaker",
        ResourceIds=[TARGET_REQUEST["ResourceId"]],
        ScalableDimension=TARGET_REQUEST["ScalableDimension"],
    )["ScalableTargets"]
    return int(targets[0]["MinCapacity"])


def test_a_components_latency_alarm_adds_a_copy_read_back_and_given_back_after_the_cool_down(
    fn: Any, stack: Stack, clock: time_machine.Traveller
) -> None:
    component_endpoint()
    component_alarm("ALARM")
    [acted] = invoke(fn, clock, delivery(), DELIVERED)
    assert (acted["result"], acted["reason"]) == ("acted", f"inference component {COMPONENT} copy-count 1 -> 2")
    assert runtime() == ("InService", 2, 2)
    [incident] = stored_incidents(stack)
    assert (incident["endpoint"], incident["state"]) == (ENDPOINT, "verifying")
    [boost] = stack.items("boost")
    assert (boost["variant"], boost["lever"], int(boost["original"]), int(boost["boosted_to"])) == (
        f"inference-component/{COMPONENT}",
        "copy-count",
        1,
        2,
    )
    # OK at 10:05: the incident is over; the copies stay until the alarm has been OK 15 minutes.
    clock.move_to(OPENED + timedelta(minutes=5))
    component_alarm("OK")
    invoke(fn, clock, delivery("OK", OPENED + timedelta(minutes=5)), OPENED + timedelta(minutes=5))
    assert stored_incidents(stack)[0]["state"] == "recovered"
    assert [o for o in sweep(fn, clock, OPENED + timedelta(minutes=15)) if o["action"] == "scale-back"] == []
    assert runtime() == ("InService", 2, 2)
    [back] = [o for o in sweep(fn, clock, OPENED + timedelta(minutes=21)) if o["action"] == "scale-back"]
    assert (back["result"], back["reason"]) == ("acted", f"inference component {COMPONENT} copy-count 2 -> 1")
    assert runtime() == ("InService", 1, 1)
    # The last step read back at the original count: the boost is done, nothing more is given.
    assert [o for o in sweep(fn, clock, OPENED + timedelta(minutes=26)) if o["action"] == "scale-back"] == []
    assert stack.items("boost") == []
    assert len([d for d in decisions(stack, "acted") if d["action"] == "scale-back"]) == 1


def test_the_copy_waits_while_the_component_is_updating_and_is_read_back_once_in_service(
    fn: Any, stack: Stack, clock: time_machine.Traveller
) -> None:
    component_endpoint()
    component_alarm("ALARM")
    set_update_seconds(300)
    [acted] = invoke(fn, clock, delivery(), DELIVERED)
    assert acted["result"] == "acted"
    assert runtime() == ("Updating", 1, 2)
    assert stored_incidents(stack)[0]["state"] == "waiting"
    sweep(fn, clock, OPENED + timedelta(minutes=3))
    assert (stored_incidents(stack)[0]["state"], runtime()) == ("waiting", ("Updating", 1, 2))
    sweep(fn, clock, OPENED + timedelta(minutes=6))
    assert (stored_incidents(stack)[0]["state"], runtime()) == ("verifying", ("InService", 2, 2))
    assert len(decisions(stack, "acted")) == 1  # one change, waited for, not made again


def test_with_a_scalable_target_its_min_capacity_is_raised_up_to_its_max_capacity(
    fn: Any, stack: Stack, clock: time_machine.Traveller
) -> None:
    component_endpoint()
    boto3.client("application-autoscaling").register_scalable_target(**TARGET_REQUEST)  # 1..2
    component_alarm("ALARM")
    [acted] = invoke(fn, clock, delivery(), DELIVERED)
    assert (acted["result"], acted["reason"]) == ("acted", f"inference component {COMPONENT} min-copies 1 -> 2")
    assert min_copies() == 2
    assert runtime() == ("InService", 2, 2)  # the raised floor moved the copies
    # Still in ALARM after the cool-down: the next step would pass the target's MaxCapacity 2,
    # said while the copy made is verified.
    [held] = [o for o in sweep(fn, clock, OPENED + timedelta(minutes=11)) if o["action"] == "scale-up"]
    assert (held["result"], held["gate"]) == ("skipped", "verifying")
    assert held["reason"].startswith(
        f"inference component {COMPONENT} is at its ceiling (the scalable target's MaxCapacity 2); verifying until"
    )
    assert min_copies() == 2


def test_the_components_own_max_copy_count_tag_bounds_it(fn: Any, stack: Stack, clock: time_machine.Traveller) -> None:
    component_endpoint(tags={"model-medic:max-copy-count": "1"})
    component_alarm("ALARM")
    [bound] = invoke(fn, clock, delivery(), DELIVERED)
    assert bound["result"] == "bound-reached"
    assert (
        f"inference component {COMPONENT} is at its ceiling (the component's model-medic:max-copy-count tag 1)"
        in bound["reason"]
    )
    assert runtime() == ("InService", 1, 1)


def test_without_managed_instance_scaling_no_copy_is_added_and_the_reason_is_said(
    fn: Any, stack: Stack, clock: time_machine.Traveller
) -> None:
    component_endpoint(managed=False)
    component_alarm("ALARM")
    [bound] = invoke(fn, clock, delivery(), DELIVERED)
    assert bound["result"] == "bound-reached"
    assert "AllTraffic has no managed instance scaling: SageMaker cannot add an instance" in bound["reason"]
    assert runtime() == ("InService", 1, 1)


def test_an_alarm_of_a_component_that_is_gone_names_no_endpoint_and_is_rejected(
    fn: Any, stack: Stack, clock: time_machine.Traveller
) -> None:
    clock.move_to(DELIVERED)
    answer = fn.lambda_handler(delivery(), FakeContext())
    assert answer["outcomes"] == []
    [rejected] = answer["rejected"]
    assert ALARM in rejected
