"""Crash-safe acting (issue 15, item 5): every AWS call of every action fails once.

Each scenario runs once without faults to list its AWS calls. Then, for every call - none
excepted - a fresh moto world runs the same scenario with that one call failing
(ThrottlingException, raised where boto's own retries cannot absorb it), and the event is
delivered again as Lambda would. Afterwards the world must hold exactly the intended
change, one 'acted' decision, and one message of each kind: the same as without faults.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
import time_machine
from botocore.client import BaseClient
from botocore.exceptions import ClientError
from moto import mock_aws

from tests.conftest import FakeContext, Stack, load_event, load_handler, make_endpoint, metric_alarm

ENDPOINT = "churn-prod"
T = datetime(2026, 11, 22, 10, 0, 30, tzinfo=UTC)
ACCOUNT = "123456789012"


class Faults:
    """Counts AWS calls; fails the one numbered `fail_at` once, before it reaches AWS."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.fail_at = fail_at
        self.calls: list[str] = []
        self.active = False

    def __call__(self, client: BaseClient, operation: str, params: dict[str, Any], original: Any) -> Any:
        if self.active:
            self.calls.append(f"{client.meta.service_model.service_name}:{operation}")
            if len(self.calls) - 1 == self.fail_at:
                raise ClientError(
                    {
                        "Error": {"Code": "ThrottlingException", "Message": "Rate exceeded (injected)"},
                        "ResponseMetadata": {"HTTPStatusCode": 400},
                    },
                    operation,
                )
        return original(client, operation, params)


@contextmanager
def injected(monkeypatch: pytest.MonkeyPatch, faults: Faults) -> Iterator[None]:
    original = BaseClient._make_api_call

    def call(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        return faults(self, operation, params, original)

    with monkeypatch.context() as patch:
        patch.setattr(BaseClient, "_make_api_call", call)
        yield


@dataclass(frozen=True)
class Scenario:
    name: str
    function: str
    env: dict[str, str]
    world: Callable[[Stack], None]
    event: Callable[[], dict[str, Any]]
    state: Callable[[], Any]  # what the intended change left in AWS


def _alarms(states: dict[str, tuple[str, str]]) -> None:
    for name, (metric, state) in states.items():
        metric_alarm(name, metric, state)


def _scale_up_world(stack: Stack) -> None:
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 0.9}, "canary": {"count": 1, "weight": 0.1}})
    boto3.client("application-autoscaling").register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId=f"endpoint/{ENDPOINT}/variant/primary",
        ScalableDimension="sagemaker:variant:DesiredInstanceCount",
        MinCapacity=2,
        MaxCapacity=6,
    )
    _alarms({f"{ENDPOINT}-HighLatency": ("TotalLatency", "ALARM"), f"{ENDPOINT}-HighErrorRate": ("ErrorRate", "OK")})


def _capacity() -> Any:
    described = boto3.client("sagemaker").describe_endpoint(EndpointName=ENDPOINT)
    target = boto3.client("application-autoscaling").describe_scalable_targets(ServiceNamespace="sagemaker")
    return (
        sorted((v["VariantName"], v["CurrentInstanceCount"]) for v in described["ProductionVariants"]),
        [t["MinCapacity"] for t in target["ScalableTargets"]],
    )


def _rollback_world(stack: Stack) -> None:
    sagemaker = boto3.client("sagemaker")
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 1.0}})
    group = "churn"
    sagemaker.create_model_package_group(ModelPackageGroupName=group)
    package = sagemaker.create_model_package(
        ModelPackageGroupName=group,
        ModelApprovalStatus="Approved",
        InferenceSpecification={
            "Containers": [{"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/churn:v2"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]
    sagemaker.create_model(
        ModelName="churn-v2",
        ExecutionRoleArn="arn:aws:iam::123456789012:role/r",
        PrimaryContainer={"ModelPackageName": package},
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=f"{ENDPOINT}-config-2",
        ProductionVariants=[
            {
                "VariantName": "primary",
                "ModelName": "churn-v2",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    stack.dynamodb.put_item(
        TableName=stack.table,
        Item={
            "pk": {"S": f"ENDPOINT#{ENDPOINT}"},
            "sk": {"S": f"CONFIG#{ENDPOINT}-config-1"},
            "kind": {"S": "deployment"},
            "config": {"S": f"{ENDPOINT}-config-1"},
            "last_seen": {"S": "2026-11-21T10:00:00+00:00"},
            "first_seen": {"S": "2026-11-20T10:00:00+00:00"},
        },
    )
    sagemaker.update_endpoint(
        EndpointName=ENDPOINT, EndpointConfigName=f"{ENDPOINT}-config-2", RetainAllVariantProperties=True
    )
    _alarms({f"{ENDPOINT}-ModelAccuracyDrop": ("accuracy", "ALARM")})


def _rollback_state() -> Any:
    sagemaker = boto3.client("sagemaker")
    described = sagemaker.describe_endpoint(EndpointName=ENDPOINT)
    packages = sagemaker.list_model_packages(ModelPackageGroupName="churn")["ModelPackageSummaryList"]
    return (
        described["EndpointConfigName"],
        sorted((v["VariantName"], v["CurrentInstanceCount"]) for v in described["ProductionVariants"]),
        [p["ModelApprovalStatus"] for p in packages],
    )


def _retraining_world(stack: Stack) -> None:
    make_endpoint(ENDPOINT)
    boto3.client("sagemaker").create_pipeline(
        PipelineName="model-medic-retraining",
        PipelineDefinition='{"Version": "2020-12-01", "Steps": []}',
        RoleArn="arn:aws:iam::123456789012:role/r",
    )
    _alarms({f"{ENDPOINT}-DataDrift": ("MaxFeatureDrift", "ALARM")})


def _executions() -> Any:
    found = boto3.client("sagemaker").list_pipeline_executions(PipelineName="model-medic-retraining")
    return len(found["PipelineExecutionSummaries"])


def _scale_back_world(stack: Stack) -> None:
    """A boost from an hour ago (floor 2 -> 3 through the scalable target); the alarms OK since."""
    _scale_up_world(stack)
    boto3.client("application-autoscaling").register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId=f"endpoint/{ENDPOINT}/variant/primary",
        ScalableDimension="sagemaker:variant:DesiredInstanceCount",
        MinCapacity=3,
    )
    _alarms({f"{ENDPOINT}-HighLatency": ("TotalLatency", "OK"), f"{ENDPOINT}-HighErrorRate": ("ErrorRate", "OK")})
    stack.dynamodb.put_item(
        TableName=stack.table,
        Item={
            "pk": {"S": f"ENDPOINT#{ENDPOINT}"},
            "sk": {"S": "BOOST#primary"},
            "kind": {"S": "boost"},
            "variant": {"S": "primary"},
            "lever": {"S": "min-capacity"},
            "original": {"N": "2"},
            "boosted_to": {"N": "3"},
            "boosted_at": {"S": "2026-11-22T09:00:00+00:00"},
            "alarms": {"SS": [f"{ENDPOINT}-HighLatency"]},
        },
    )


def _sweep() -> dict[str, Any]:
    """The 5-minute sweep, half an hour after the alarms went OK."""
    return {
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "time": (T + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/sweep"],
        "detail": {},
    }


SCALE_UP_ENV = {
    "MAX_INSTANCE_COUNT": "4",
    "SCALE_STEP": "1",
    "SCALE_UP_COOLDOWN_MINUTES": "10",
    "SCALE_BACK_AFTER_MINUTES": "15",
}
SCENARIOS = [
    Scenario(
        "scale-up: a scalable target and a plain variant",
        "scale_up",
        SCALE_UP_ENV,
        _scale_up_world,
        lambda: load_event("scale_up/high_latency_alarm.json"),
        _capacity,
    ),
    Scenario(
        "scale-back: the sweep gives a boost back",
        "scale_up",
        SCALE_UP_ENV,
        _scale_back_world,
        _sweep,
        _capacity,
    ),
    Scenario(
        "rollback: previous config, package rejected after",
        "rollback_model",
        {"CANARY_VARIANT": "canary", "REJECT_MODEL_PACKAGES": "true", "ROLLBACK_COOLDOWN_MINUTES": "60"},
        _rollback_world,
        lambda: load_event("rollback_model/accuracy_drop_alarm.json"),
        _rollback_state,
    ),
    Scenario(
        "start-retraining",
        "start_retraining",
        {
            "PIPELINE_NAME": "model-medic-retraining",
            "PIPELINE_PARAMETERS": '{"Endpoint": "{endpoint}"}',
            "RETRAIN_COOLDOWN_HOURS": "24",
        },
        _retraining_world,
        lambda: load_event("start_retraining/data_drift_alarm.json"),
        _executions,
    ),
]


@dataclass
class Run:
    calls: list[str]
    state: Any
    acted: int
    info: int
    critical: int
    events: int
    errors: int


def run(monkeypatch: pytest.MonkeyPatch, scenario: Scenario, fail_at: int | None) -> Run:
    faults = Faults(fail_at)
    with mock_aws(), time_machine.travel(T, tick=False):
        stack = Stack()
        for name, value in {**stack.env(), **scenario.env}.items():
            monkeypatch.setenv(name, value)
        from model_medic.platform import aws
        from model_medic.platform.settings import load_settings

        aws.reset()
        load_settings.cache_clear()
        scenario.world(stack)
        stack.drain("info"), stack.drain("critical"), stack.drain("events")
        handler = load_handler(scenario.function)
        errors = 0
        context = FakeContext()  # Lambda retries an invocation with its request id
        with injected(monkeypatch, faults):
            for _ in range(3):  # the first try and Lambda's two retries
                faults.active = True
                try:
                    handler.lambda_handler(scenario.event(), context)
                except Exception:  # noqa: BLE001 - any error makes Lambda retry the event
                    errors += 1
                    continue
                finally:
                    faults.active = False
                break
        decisions = stack.items("decision")
        return Run(
            calls=faults.calls,
            state=scenario.state(),
            acted=sum(1 for d in decisions if d["result"] == "acted"),
            info=len(stack.drain("info")),
            critical=len(stack.drain("critical")),
            events=len(stack.drain("events")),
            errors=errors,
        )


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_every_call_failing_once_ends_with_exactly_the_intended_change(
    monkeypatch: pytest.MonkeyPatch, scenario: Scenario
) -> None:
    clean = run(monkeypatch, scenario, None)
    assert clean.errors == 0, clean
    assert clean.acted == 1, clean
    failures = []
    for index, call in enumerate(clean.calls):
        faulty = run(monkeypatch, scenario, index)
        assert faulty.calls[index] == call, f"call {index} differs: {faulty.calls[index]} != {call}"
        got = (faulty.state, faulty.acted, faulty.info, faulty.critical, faulty.events)
        want = (clean.state, clean.acted, clean.info, clean.critical, clean.events)
        if got != want:
            failures.append(f"#{index} {call}: got {got}, want {want}")
    print(f"{scenario.name}: {len(clean.calls)} AWS calls, each failed once; {len(failures)} cases wrong")
    assert not failures, f"{len(failures)} of {len(clean.calls)} cases:\n" + "\n".join(failures)
