"""ScaleUpFunction on an endpoint of inference components, against moto: a component's latency
alarm adds copies (one change, read back), bounded by its ceilings and by where copies can go,
and the sweep gives the copies back once the alarm has been OK long enough. AlarmManagerFunction
gives each component its alarms and takes them away with it; the error-rate alarm, judged from
SageMaker's own datapoints, reaches ScaleUpFunction alone and adds copies too.

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
from moto.sns.utils import FilterPolicyMatcher

from localcloud import template
from localcloud.cloudwatch import evaluate, sns_message
from localcloud.moto_extensions import set_update_seconds
from tests.conftest import ALARM_MANAGER_ENV, FakeContext, Stack, decisions, load_event, load_handler, stored_incidents
from tests.real_endpoints import MODEL_IMAGE, MODEL_ROLE, load

REAL = Path(__file__).resolve().parents[1] / "data" / "real" / "inference-components"
COMPONENT_REQUEST = json.loads((REAL / "create-inference-component.json").read_text())
TARGET_REQUEST = json.loads((REAL / "register-scalable-target.json").read_text())
ENDPOINT = COMPONENT_REQUEST["EndpointName"]
COMPONENT = COMPONENT_REQUEST["InferenceComponentName"]
ALARM = f"{ENDPOINT}-{COMPONENT}-HighLatency"
ERROR_ALARM = f"{ENDPOINT}-{COMPONENT}-HighErrorRate"
OPENED = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
DELIVERED = OPENED + timedelta(seconds=30)


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(OPENED, tick=False) as traveller:
        yield traveller


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


def test_a_components_alarm_in_alarm_whose_delivery_was_lost_is_found_by_the_sweep_and_adds_a_copy(
    fn: Any, stack: Stack, clock: time_machine.Traveller
) -> None:
    component_endpoint()
    component_alarm("ALARM")  # went to ALARM; its SNS delivery never came
    [acted] = [o for o in sweep(fn, clock, DELIVERED) if o["action"] == "scale-up"]
    assert (acted["result"], acted["reason"]) == ("acted", f"inference component {COMPONENT} copy-count 1 -> 2")
    assert runtime() == ("InService", 2, 2)
    [incident] = stored_incidents(stack)
    assert (incident["endpoint"], incident["alarm_name"], incident["state"]) == (ENDPOINT, ALARM, "verifying")
    # Found again by the next sweep, it is the same incident: no second copy within the cool-down.
    again = [o for o in sweep(fn, clock, DELIVERED + timedelta(minutes=5)) if o["action"] == "scale-up"]
    assert [o["result"] for o in again] == ["skipped"]
    assert len(stored_incidents(stack)) == 1
    assert runtime() == ("InService", 2, 2)


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


def test_a_max_copy_count_tag_on_the_second_page_of_list_tags_bounds_it_all_the_same(
    fn: Any, stack: Stack, clock: time_machine.Traveller
) -> None:
    """ListTags pages at 50 tags; CloudFormation's `aws:` tags are beyond the owner's 50, so the
    component's own ceiling can be the 52nd tag, on the second page."""
    owners = {f"cost-centre-{i:02d}": "ml" for i in range(48)}
    stack_tags = {f"aws:cloudformation:{k}": "ic" for k in ("stack-name", "stack-id", "logical-id")}
    component_endpoint(tags={**stack_tags, **owners, "model-medic:max-copy-count": "1"})
    component_alarm("ALARM")
    [bound] = invoke(fn, clock, delivery(), DELIVERED)
    assert bound["result"] == "bound-reached"
    assert "(the component's model-medic:max-copy-count tag 1)" in bound["reason"]
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


def manage_alarms(monkeypatch: pytest.MonkeyPatch, stack: Stack, at: datetime) -> dict[str, Any]:
    """AlarmManagerFunction's scheduled run at `at`, with the stack's thresholds (ErrorRateThreshold 5)."""
    warning = stack.sns.create_topic(Name="model-medic-warning")["TopicArn"]  # idempotent in SNS
    for name, value in {
        "WARNING_TOPIC_ARN": warning,
        **ALARM_MANAGER_ENV,
        "POWERTOOLS_SERVICE_NAME": "manage-alarms",
    }.items():
        monkeypatch.setenv(name, value)
    event = load_event("manage_alarms/schedule.json")
    event["time"] = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    answer: dict[str, Any] = load_handler("manage_alarms").lambda_handler(event, FakeContext())
    return answer


def held_alarms() -> dict[str, dict[str, Any]]:
    found = boto3.client("cloudwatch").describe_alarms(AlarmNamePrefix=f"{ENDPOINT}-")["MetricAlarms"]
    return {a["AlarmName"]: dict(a) for a in found}


def served(errors: int, requests: int, at: datetime) -> None:
    """What SageMaker sends for the component's requests in the minute at `at`: Invocation5XXErrors
    1 for each request answered 5XX, 0 for each other (docs/aws-behaviours.md, "Inference components")."""
    values = [1.0] * errors + [0.0] * (requests - errors)
    boto3.client("cloudwatch").put_metric_data(
        Namespace="AWS/SageMaker",
        MetricData=[
            {
                "MetricName": "Invocation5XXErrors",
                "Dimensions": [{"Name": "InferenceComponentName", "Value": COMPONENT}],
                "Timestamp": at,
                "Values": values,
                "Unit": "None",
            }
        ],
    )


def judged(alarm: dict[str, Any], end: datetime) -> str:
    """The state CloudWatch gives the alarm from its metric's last periods before `end`."""
    period, periods = int(alarm["Period"]), int(alarm["EvaluationPeriods"])
    start = end - timedelta(seconds=period * periods)
    [result] = boto3.client("cloudwatch").get_metric_data(
        MetricDataQueries=[
            {
                "Id": "m",
                "MetricStat": {
                    "Metric": {k: alarm[k] for k in ("Namespace", "MetricName", "Dimensions")},
                    "Period": period,
                    "Stat": alarm["Statistic"],
                },
            }
        ],
        StartTime=start,
        EndTime=end,
    )["MetricDataResults"]
    found = {t.timestamp(): v for t, v in zip(result["Timestamps"], result["Values"], strict=True)}
    return evaluate(alarm, [found.get(start.timestamp() + i * period) for i in range(periods)])


def subscribed(body: str, topic_arns: list[str], topics: dict[str, str]) -> set[str]:
    """The functions of template.yaml whose SNS subscription to one of these topics takes the message."""
    raw = template.load()
    reached = set()
    for name, resource in raw["Resources"].items():
        for event in (resource.get("Properties", {}).get("Events") or {}).values():
            if event["Type"] != "SNS" or topics.get(event["Properties"]["Topic"]["Ref"]) not in topic_arns:
                continue
            policy = event["Properties"].get("FilterPolicy") or {}
            if FilterPolicyMatcher(policy, event["Properties"].get("FilterPolicyScope")).matches(None, body):
                reached.add(name)
    return reached


def test_a_components_error_rate_alarm_is_kept_judged_routed_adds_copies_and_goes_with_the_component(
    fn: Any, stack: Stack, clock: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch
) -> None:
    component_endpoint()
    made = manage_alarms(monkeypatch, stack, OPENED - timedelta(minutes=30))
    held = held_alarms()
    assert {ALARM, ERROR_ALARM} <= set(held), made
    alarm = held[ERROR_ALARM]
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"], alarm["Threshold"]) == (
        "AWS/SageMaker",
        "Invocation5XXErrors",
        "Average",
        0.05,
    )
    assert alarm["Dimensions"] == [{"Name": "InferenceComponentName", "Value": COMPONENT}]
    assert alarm["AlarmActions"] == alarm["OKActions"] == [stack.topics["critical"]]

    # 3 of 50 requests a minute answered 5XX (6%, above ErrorRateThreshold 5) for 10 minutes: ALARM
    # (a threshold of 7% would not be crossed).
    for minute in range(10):
        served(3, 50, OPENED - timedelta(minutes=10 - minute))
    assert judged(alarm, OPENED) == "ALARM"
    assert judged({**alarm, "Threshold": 0.07}, OPENED) == "OK"

    # CloudWatch's message to the critical topic reaches ScaleUpFunction, and no other function.
    boto3.client("cloudwatch").set_alarm_state(AlarmName=ERROR_ALARM, StateValue="ALARM", StateReason="6% 5XX")
    body = json.dumps(sns_message(alarm, "ALARM", "OK", "6% 5XX", OPENED, "123456789012", "us-east-1"))
    topics = {"CriticalTopic": stack.topics["critical"], "WarningTopic": held[ALARM]["AlarmActions"][0]}
    assert subscribed(body, alarm["AlarmActions"], topics) == {"ScaleUpFunction"}

    # The scale-up reads the endpoint back from the component and adds a copy.
    event = {"Records": [{"EventSource": "aws:sns", "Sns": {"Message": body}}]}
    [acted] = invoke(fn, clock, event, DELIVERED)
    assert (acted["result"], acted["reason"]) == ("acted", f"inference component {COMPONENT} copy-count 1 -> 2")
    assert runtime() == ("InService", 2, 2)
    [incident] = stored_incidents(stack)
    assert (incident["endpoint"], incident["alarm_name"]) == (ENDPOINT, ERROR_ALARM)

    # The component deleted: the next reconciliation deletes its alarms, and only them.
    boto3.client("sagemaker").delete_inference_component(InferenceComponentName=COMPONENT)
    gone = manage_alarms(monkeypatch, stack, OPENED + timedelta(minutes=15))
    left = held_alarms()
    assert not {ALARM, ERROR_ALARM} & set(left), gone
    assert f"{ENDPOINT}-HighErrorRate" in left
