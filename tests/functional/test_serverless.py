"""ScaleUpFunction on serverless endpoints against moto: concurrency raised one step within its
bounds, read back, verified by the alarm, and given back after the cool-down."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import time_machine
from botocore.exceptions import ClientError

from localcloud.moto_extensions import set_update_seconds
from tests.conftest import FakeContext, Stack, bodies, load_event, load_handler, metric_alarm, stored_incidents
from tests.real_endpoints import MODEL_IMAGE, MODEL_ROLE

ENDPOINT = "churn-prod"
VARIANT = "byoVariant"
OPENED = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)  # StateChangeTime of the sample ALARM events
DELIVERED = OPENED + timedelta(seconds=30)
LATENCY = f"{ENDPOINT}-HighLatency"
PROVISIONED = "sagemaker:variant:DesiredProvisionedConcurrency"
# AWS's provisioned-concurrency example's CreateEndpointConfig request (tests/data/real/README.md).
REAL = Path(__file__).resolve().parents[1] / "data" / "real"
REAL_REQUEST = REAL / "sagemaker-examples-serverless-provisioned-concurrency.endpoint-config.json"

Requests = list[tuple[str, str, dict[str, Any]]]


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(OPENED, tick=False) as traveller:
        yield traveller


@pytest.fixture
def fn(stack: Stack, clock: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, value in {
        "MAX_INSTANCE_COUNT": "4",
        "SCALE_STEP": "1",
        "MAX_CONCURRENCY": "6",
        "MAX_PROVISIONED_CONCURRENCY": "3",
        "SCALE_UP_COOLDOWN_MINUTES": "10",
        "SCALE_UP_VERIFY_MINUTES": "15",
        "SCALE_BACK_AFTER_MINUTES": "15",
        "POWERTOOLS_SERVICE_NAME": "scale-up",
    }.items():
        monkeypatch.setenv(name, value)
    return load_handler("scale_up")


def serverless_endpoint(max_concurrency: int, provisioned: int | None = None) -> dict[str, Any]:
    """The real example's request with other concurrency values, made in moto as an endpoint."""
    request = json.loads(REAL_REQUEST.read_text())
    config = request["ProductionVariants"][0]["ServerlessConfig"]
    config["MaxConcurrency"] = max_concurrency
    if provisioned is None:
        del config["ProvisionedConcurrency"]
    else:
        config["ProvisionedConcurrency"] = provisioned
    return create(request)


def create(request: dict[str, Any]) -> dict[str, Any]:
    sagemaker = boto3.client("sagemaker")
    model = request["ProductionVariants"][0]["ModelName"]
    sagemaker.create_model(ModelName=model, ExecutionRoleArn=MODEL_ROLE, PrimaryContainer={"Image": MODEL_IMAGE})
    sagemaker.create_endpoint_config(**request)
    sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=request["EndpointConfigName"])
    return request


def deliver(fn: Any, clock: time_machine.Traveller, event: Any, at: datetime = DELIVERED) -> list[dict[str, Any]]:
    clock.move_to(at)
    return fn.lambda_handler(event, FakeContext())["outcomes"]  # type: ignore[no-any-return]


def sweep(fn: Any, clock: time_machine.Traveller, at: datetime) -> list[dict[str, Any]]:
    clock.move_to(at)
    event = load_event("scale_up/scale_back_sweep.json")
    event["time"] = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return fn.lambda_handler(event, FakeContext())["outcomes"]  # type: ignore[no-any-return]


def ok_at(at: datetime) -> dict[str, Any]:
    event = load_event("scale_up/high_latency_ok.json")
    body = json.loads(event["Records"][0]["Sns"]["Message"])
    body["StateChangeTime"] = at.strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    event["Records"][0]["Sns"]["Message"] = json.dumps(body)
    return event  # type: ignore[no-any-return]


def alarms(latency: str) -> None:
    """The template's two scale-up alarms of the endpoint (the give-back reads both)."""
    metric_alarm(LATENCY, "TotalLatency", latency, threshold=1000.0)
    metric_alarm(f"{ENDPOINT}-HighErrorRate", "ErrorRate", "OK", threshold=5.0)


def recover(fn: Any, clock: time_machine.Traveller, at: datetime) -> dict[str, Any]:
    clock.move_to(at)
    boto3.client("cloudwatch").set_alarm_state(AlarmName=LATENCY, StateValue="OK", StateReason="test")
    [recovered] = deliver(fn, clock, ok_at(at), at=at)
    return recovered


def concurrency() -> dict[str, Any]:
    variant = boto3.client("sagemaker").describe_endpoint(EndpointName=ENDPOINT)["ProductionVariants"][0]
    return dict(variant["CurrentServerlessConfig"])


def serverless_calls(requests: Requests) -> list[dict[str, Any]]:
    return [
        d["ServerlessUpdateConfig"]
        for _, op, p in requests
        if op == "UpdateEndpointWeightsAndCapacities"
        for d in p["DesiredWeightsAndCapacities"]
    ]


def test_latency_on_a_provisioned_endpoint_raises_provisioned_concurrency_a_step_and_gives_it_back_after_the_cool_down(
    fn: Any, stack: Stack, clock: time_machine.Traveller, aws_requests: Requests
) -> None:
    serverless_endpoint(max_concurrency=4, provisioned=1)
    alarms("ALARM")
    [acted] = deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))
    assert (acted["result"], acted["reason"]) == ("acted", f"{VARIANT} provisioned-concurrency 1 -> 2")
    # One call, the variant's ServerlessUpdateConfig only; read back from CurrentServerlessConfig.
    assert serverless_calls(aws_requests) == [{"ProvisionedConcurrency": 2}]
    assert concurrency() == {"MemorySizeInMB": 4096, "MaxConcurrency": 4, "ProvisionedConcurrency": 2}
    [incident] = stored_incidents(stack)
    assert (incident["state"], [e["what"] for e in incident["timeline"]]) == (
        "verifying",
        ["detected", "action", "in-service"],
    )
    [boost] = stack.items("boost")
    assert (boost["lever"], int(boost["original"]), int(boost["boosted_to"])) == ("provisioned-concurrency", 1, 2)
    # Verified by the alarm clearing.
    recovered = recover(fn, clock, OPENED + timedelta(minutes=5))
    assert recovered["result"] == "recovered"
    # Given back once the alarms have been OK for ScaleBackAfterMinutes (15), not before.
    assert [o for o in sweep(fn, clock, OPENED + timedelta(minutes=15)) if o["action"] == "scale-back"] == []
    [back] = [o for o in sweep(fn, clock, OPENED + timedelta(minutes=21)) if o["action"] == "scale-back"]
    assert (back["result"], back["reason"]) == ("acted", f"{VARIANT} provisioned-concurrency 2 -> 1")
    assert serverless_calls(aws_requests)[-1] == {"ProvisionedConcurrency": 1}
    assert concurrency()["ProvisionedConcurrency"] == 1
    sweep(fn, clock, OPENED + timedelta(minutes=26))  # the last step read back at the original floor
    assert stack.items("boost") == []


def test_the_real_examples_provisioned_concurrency_is_at_its_max_concurrency_so_nothing_changes(
    fn: Any, stack: Stack, clock: time_machine.Traveller, aws_requests: Requests
) -> None:
    create(json.loads(REAL_REQUEST.read_text()))  # ProvisionedConcurrency 1 of MaxConcurrency 1
    [outcome] = deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))
    assert (outcome["result"], outcome["gate"]) == ("bound-reached", "bound")
    assert outcome["reason"].startswith(
        f"endpoint {ENDPOINT} is at its ceiling: {VARIANT} (at the variant's MaxConcurrency 1) cannot grow"
    )
    assert serverless_calls(aws_requests) == []
    assert [b["result"] for b in bodies(stack, "critical")] == ["bound-reached"]


def test_at_the_stacks_max_provisioned_concurrency_the_bound_is_reached_and_named(
    fn: Any, stack: Stack, clock: time_machine.Traveller, aws_requests: Requests
) -> None:
    serverless_endpoint(max_concurrency=10, provisioned=3)  # the stack's MaxProvisionedConcurrency is 3
    [outcome] = deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))
    assert outcome["result"] == "bound-reached"
    assert "(at MaxProvisionedConcurrency, the maximum 3)" in outcome["reason"]
    assert serverless_calls(aws_requests) == []


def test_an_on_demand_variant_at_the_stacks_max_concurrency_is_at_its_bound(
    fn: Any, stack: Stack, clock: time_machine.Traveller, aws_requests: Requests
) -> None:
    serverless_endpoint(max_concurrency=6)  # the stack's MaxConcurrency is 6
    [outcome] = deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))
    assert outcome["result"] == "bound-reached"
    assert "(at MaxConcurrency, the maximum 6)" in outcome["reason"]
    assert serverless_calls(aws_requests) == []


def test_an_on_demand_variant_gets_more_max_concurrency_and_it_is_given_back(
    fn: Any, stack: Stack, clock: time_machine.Traveller, aws_requests: Requests
) -> None:
    serverless_endpoint(max_concurrency=5)  # on demand: no provisioned concurrency to raise
    alarms("ALARM")
    [acted] = deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))
    assert acted["reason"] == f"{VARIANT} max-concurrency 5 -> 6"
    recover(fn, clock, OPENED + timedelta(minutes=30))
    [back] = [o for o in sweep(fn, clock, OPENED + timedelta(minutes=46)) if o["action"] == "scale-back"]
    assert back["reason"] == f"{VARIANT} max-concurrency 6 -> 5"
    assert serverless_calls(aws_requests) == [{"MaxConcurrency": 6}, {"MaxConcurrency": 5}]
    assert concurrency() == {"MemorySizeInMB": 4096, "MaxConcurrency": 5}


def test_a_change_in_flight_is_read_back_from_desired_serverless_config_then_current(
    fn: Any, stack: Stack, clock: time_machine.Traveller
) -> None:
    serverless_endpoint(max_concurrency=4, provisioned=1)
    alarms("ALARM")
    set_update_seconds(120)
    [acted] = deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))
    assert acted["result"] == "acted"
    variant = boto3.client("sagemaker").describe_endpoint(EndpointName=ENDPOINT)["ProductionVariants"][0]
    assert variant["CurrentServerlessConfig"]["ProvisionedConcurrency"] == 1  # Updating: not yet
    assert variant["DesiredServerlessConfig"]["ProvisionedConcurrency"] == 2
    [verifying] = sweep(fn, clock, OPENED + timedelta(minutes=3))
    assert (verifying["result"], verifying["gate"]) == ("skipped", "verifying")
    assert concurrency()["ProvisionedConcurrency"] == 2
    assert (
        "DesiredServerlessConfig"
        not in (boto3.client("sagemaker").describe_endpoint(EndpointName=ENDPOINT)["ProductionVariants"][0])
    )


def test_with_a_scalable_target_on_provisioned_concurrency_its_min_capacity_is_raised_and_given_back(
    fn: Any, stack: Stack, clock: time_machine.Traveller, aws_requests: Requests
) -> None:
    serverless_endpoint(max_concurrency=4, provisioned=1)
    scaling = boto3.client("application-autoscaling")
    scaling.register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId=f"endpoint/{ENDPOINT}/variant/{VARIANT}",
        ScalableDimension=PROVISIONED,
        MinCapacity=1,
        MaxCapacity=2,
    )
    alarms("ALARM")
    [acted] = deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))
    assert acted["reason"] == f"{VARIANT} provisioned-min-capacity 1 -> 2"
    assert serverless_calls(aws_requests) == []  # the target's range moved it, as in AWS
    # The test's registration, then the scale-up's.
    assert [p["MinCapacity"] for _, op, p in aws_requests if op == "RegisterScalableTarget"] == [1, 2]
    assert concurrency()["ProvisionedConcurrency"] == 2
    recover(fn, clock, OPENED + timedelta(minutes=30))
    [back] = [o for o in sweep(fn, clock, OPENED + timedelta(minutes=46)) if o["action"] == "scale-back"]
    assert back["reason"] == f"{VARIANT} provisioned-min-capacity 2 -> 1"
    [target] = scaling.describe_scalable_targets(ServiceNamespace="sagemaker", ScalableDimension=PROVISIONED)[
        "ScalableTargets"
    ]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 2)


def test_a_persons_provisioned_concurrency_after_the_boost_is_theirs_and_not_given_back(
    fn: Any, stack: Stack, clock: time_machine.Traveller, aws_requests: Requests
) -> None:
    serverless_endpoint(max_concurrency=8, provisioned=1)
    alarms("ALARM")
    deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))  # 1 -> 2
    recover(fn, clock, OPENED + timedelta(minutes=5))
    boto3.client("sagemaker").update_endpoint_weights_and_capacities(
        EndpointName=ENDPOINT,
        DesiredWeightsAndCapacities=[{"VariantName": VARIANT, "ServerlessUpdateConfig": {"ProvisionedConcurrency": 5}}],
    )
    [left] = [o for o in sweep(fn, clock, OPENED + timedelta(minutes=21)) if o["action"] == "scale-back"]
    assert (left["result"], left["reason"]) == (
        "skipped",
        f"a person set {VARIANT} ProvisionedConcurrency 5 since (Model Medic set 2); left as it is",
    )
    assert concurrency()["ProvisionedConcurrency"] == 5
    assert stack.items("boost") == []


@pytest.mark.parametrize(
    ("update", "message"),
    [
        ({"ProvisionedConcurrency": 5}, "ProvisionedConcurrency 5 of variant byoVariant is above its MaxConcurrency 4"),
        ({"MaxConcurrency": 201}, "ServerlessUpdateConfig.MaxConcurrency of variant byoVariant must be 1 to 200"),
    ],
)
def test_moto_refuses_a_serverless_update_aws_refuses_and_changes_nothing(
    stack: Stack, update: dict[str, int], message: str
) -> None:
    serverless_endpoint(max_concurrency=4, provisioned=1)
    with pytest.raises(ClientError, match=message):
        boto3.client("sagemaker").update_endpoint_weights_and_capacities(
            EndpointName=ENDPOINT,
            DesiredWeightsAndCapacities=[{"VariantName": VARIANT, "ServerlessUpdateConfig": update}],
        )
    assert concurrency() == {"MemorySizeInMB": 4096, "MaxConcurrency": 4, "ProvisionedConcurrency": 1}
