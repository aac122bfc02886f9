"""Crash-safe acting and telling (issues 15, 27): every AWS call fails once, or the process dies right after it.

Each scenario runs once without faults to list its AWS calls. Then, for each call, the same
scenario runs with one fault, in a fresh moto world - the one the clean run started from, built
once and put back (tests/functional/moto_snapshot.py; the clean run is run again from it and must
go exactly as from the world built anew) - and the event is delivered again as Lambda would (the
same event and request id, up to two retries). Two kinds of fault:

- throttle: the call fails (ThrottlingException, raised where boto's own retries cannot absorb
  it) before it reaches AWS;
- crash: the call succeeds, and the process dies right after it (a Lambda timeout or running out
  of memory): nothing more of that invocation runs, not even a call in a `finally`.

Afterwards the world must hold exactly the intended changes, the same 'acted' decisions (one
per step), no letter left in the outbox, and the same messages and events as without the fault.
A throttle may not repeat a message; a crash may repeat one only as a copy carrying the same
deduplication id (SNS message attribute, EventBridge detail field), which a consumer drops.

A crash right after a read leaves AWS as the crash right after the call before it did, so the
crash cases are the calls that write (anything but Describe/Get/List/Query/Search/...). A
throttle is tried on every call, or - for a path with more calls than its budget - on every
write and on evenly spaced reads up to the budget (deterministic). `pytest -s` prints each
path's calls and cases per fault kind.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Literal

import boto3
import pytest
import time_machine
from botocore.client import BaseClient
from botocore.exceptions import ClientError
from moto import mock_aws

from localcloud.moto_extensions import reset_simulation, set_update_seconds
from localcloud.world import variant_metrics
from model_medic.fleet.alarm_catalog import VERDICT_NAMESPACE, verdict_dimensions
from tests.conftest import ALARM_MANAGER_ENV, FakeContext, Stack, load_event, load_handler, make_endpoint, metric_alarm
from tests.functional import moto_snapshot
from tests.functional import test_component_rollout as components
from tests.functional.test_promote_canary import GROUP, approval_event, package, serve_champion
from tests.functional.test_promote_canary import SETTINGS as CANARY_SETTINGS

# Minutes of moto worlds in all: a parallel run starts its classes first, beside the demo.
pytestmark = pytest.mark.longest
ENDPOINT = "churn-prod"
T = datetime(2026, 11, 22, 10, 0, 30, tzinfo=UTC)
ACCOUNT = "123456789012"
READS = ("Describe", "Get", "List", "Query", "Scan", "Search", "BatchGet", "Receive")

Kind = Literal["throttle", "crash"]


class Crash(BaseException):  # not an Exception: no handler of the code under test catches it
    """The process died right after a call that succeeded."""


class Faults:
    """Counts AWS calls; the one numbered `at` fails before it reaches AWS (throttle), or the
    process dies right after it succeeded (crash): from then on every call of the invocation dies."""

    def __init__(self, kind: Kind | None = None, at: int | None = None) -> None:
        self.kind = kind
        self.at = at
        self.calls: list[str] = []
        self.active = False
        self.dead = False

    def __call__(self, client: BaseClient, operation: str, params: dict[str, Any], original: Any) -> Any:
        if not self.active:
            return original(client, operation, params)
        if self.dead:
            raise Crash(operation)
        self.calls.append(f"{client.meta.service_model.service_name}:{operation}")
        index = len(self.calls) - 1
        if self.kind == "throttle" and index == self.at:
            raise ClientError(
                {
                    "Error": {"Code": "ThrottlingException", "Message": "Rate exceeded (injected)"},
                    "ResponseMetadata": {"HTTPStatusCode": 400},
                },
                operation,
            )
        answer = original(client, operation, params)
        if self.kind == "crash" and index == self.at:
            self.dead = True
            raise Crash(operation)
        return answer


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
    world: Callable[[Stack, Any], None]  # the AWS state before the event (may invoke the handler, fault-free)
    event: Callable[[], dict[str, Any]]
    state: Callable[[], Any]  # what the intended changes left in AWS
    budget: int = 32  # throttle cases at most (every write, reads sampled beyond)


# --- scale-up, scale-back, rollback, retraining ------------------------------------------------


def _alarms(states: dict[str, tuple[str, str]]) -> None:
    for name, (metric, state) in states.items():
        metric_alarm(name, metric, state)


def _scale_up_world(stack: Stack, fn: Any) -> None:
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


def _rollback_world(stack: Stack, fn: Any) -> None:
    sagemaker = boto3.client("sagemaker")
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 1.0}})
    sagemaker.create_model_package_group(ModelPackageGroupName="churn")
    arn = sagemaker.create_model_package(
        ModelPackageGroupName="churn",
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
        PrimaryContainer={"ModelPackageName": arn},
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


def _endpoint_state() -> Any:
    """The endpoint's config and variants, the configs and models there are, and each package's approval."""
    sagemaker = boto3.client("sagemaker")
    described = sagemaker.describe_endpoint(EndpointName=ENDPOINT)
    groups = [g["ModelPackageGroupName"] for g in sagemaker.list_model_package_groups()["ModelPackageGroupSummaryList"]]
    packages = [
        (p["ModelPackageArn"].rsplit("/", 2)[-2:], p["ModelApprovalStatus"])
        for group in groups
        for p in sagemaker.list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"]
    ]
    return (
        described["EndpointConfigName"],
        sorted(
            (v["VariantName"], v["CurrentInstanceCount"], round(float(v["CurrentWeight"]), 4))
            for v in described["ProductionVariants"]
        ),
        sorted(c["EndpointConfigName"] for c in sagemaker.list_endpoint_configs()["EndpointConfigs"]),
        sorted(m["ModelName"] for m in sagemaker.list_models()["Models"]),
        sorted(packages),
    )


def _retraining_world(stack: Stack, fn: Any) -> None:
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


def _scale_back_world(stack: Stack, fn: Any) -> None:
    """A boost from an hour ago (floor 2 -> 3 through the scalable target); the alarms OK since."""
    _scale_up_world(stack, fn)
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


def schedule(at: datetime, source: str = "sweep") -> dict[str, Any]:
    return {
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "resources": [f"arn:aws:events:us-east-1:123456789012:rule/{source}"],
        "detail": {},
    }


# --- the model lifecycle: deploy, promote, finish, roll back ----------------------------------


def _candidate() -> str:
    """The champion serving, and a better candidate (churn/2) approved."""
    serve_champion()
    arn = package(0.91)
    boto3.client("sagemaker").update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    return arn


def _deploy_world(stack: Stack, fn: Any) -> None:
    _candidate()


def _deploy_event() -> dict[str, Any]:
    return approval_event(f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model-package/{GROUP}/2", GROUP, T)


def _invoke(fn: Any, event: dict[str, Any], at: datetime) -> None:
    """A fault-free invocation before the event under test, at its own time."""
    with time_machine.travel(at, tick=False):
        fn.lambda_handler(event, FakeContext())


def _traffic(variant: str, start: datetime, minutes: int, per_minute: float, error_rate: float = 0.0) -> None:
    variant_metrics(boto3.client("cloudwatch"), ENDPOINT, variant, start, minutes, per_minute, error_rate)


def _rollback_canary_world(stack: Stack, fn: Any) -> None:
    """The candidate deployed as a 5 % canary 10 minutes ago; since, it fails 12 % of its requests."""
    arn = _candidate()
    _invoke(fn, approval_event(arn, GROUP, T - timedelta(minutes=10)), T - timedelta(minutes=10))
    _traffic("primary", T - timedelta(minutes=10), 20, per_minute=200)
    _traffic("canary", T - timedelta(minutes=10), 20, per_minute=60, error_rate=0.12)


def _promote_world(stack: Stack, fn: Any) -> None:
    """An operator's canary at 10 % (1 instance; the primary's 4 serve 90 %), adopted 40 minutes
    ago and healthy since: the next step, 25 %, needs a second canary instance first."""
    make_endpoint(ENDPOINT, {"primary": {"count": 4, "weight": 0.9}, "canary": {"count": 1, "weight": 0.1}})
    _traffic("primary", T - timedelta(minutes=40), 40, per_minute=200)
    _traffic("canary", T - timedelta(minutes=40), 40, per_minute=60)
    _invoke(fn, schedule(T - timedelta(minutes=40), "promote"), T - timedelta(minutes=40))


def _finish_world(stack: Stack, fn: Any) -> None:
    """An operator's canary at 50 %, adopted 80 minutes ago, promoted to 100 % 40 minutes ago,
    healthy throughout: the next step finishes the rollout."""
    make_endpoint(ENDPOINT, {"primary": {"count": 1, "weight": 0.5}, "canary": {"count": 1, "weight": 0.5}})
    _traffic("primary", T - timedelta(minutes=80), 80, per_minute=200)
    _traffic("canary", T - timedelta(minutes=80), 80, per_minute=200)
    _invoke(fn, schedule(T - timedelta(minutes=80), "promote"), T - timedelta(minutes=80))
    _invoke(fn, schedule(T - timedelta(minutes=40), "promote"), T - timedelta(minutes=40))


# --- an inference component's judged rolling update: start, verdict, end ------------------------


def _component_candidate(start: datetime) -> str:
    """test_component_rollout's world: a component of 4 copies serving llama3/1 that erred 0.5 % over
    the day before `start`, each batch's copies up in 5 minutes; llama3/2 approved."""
    candidate = components.component_endpoint()
    components.traffic(start - timedelta(days=1), 24 * 60, 10, requests=1000, errors=5)
    set_update_seconds(300)
    boto3.client("sagemaker").update_model_package(ModelPackageArn=candidate, ModelApprovalStatus="Approved")
    return candidate


def _component_start_world(stack: Stack, fn: Any) -> None:
    _component_candidate(T)


def _component_approval() -> dict[str, Any]:
    arn = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model-package/{components.GROUP}/2"
    return approval_event(arn, components.GROUP, T)


def _component_rolling(started: datetime, fn: Any) -> None:
    """The rolling update started at `started`; its new copies fail 3 % of their requests since."""
    candidate = _component_candidate(started)
    _invoke(fn, approval_event(candidate, components.GROUP, started), started)
    components.traffic(started, 120, 1, requests=100, errors=3)


def _component_verdict_world(stack: Stack, fn: Any) -> None:
    """Updating for 10 minutes: the first batch bakes, and errs more than the component did."""
    _component_rolling(T - timedelta(minutes=10), fn)


def _component_end_world(stack: Stack, fn: Any) -> None:
    """The judge's verdict put 20 minutes ago; SageMaker has rolled back since (read at the tick after)."""
    _component_rolling(T - timedelta(minutes=30), fn)
    _invoke(fn, schedule(T - timedelta(minutes=20), "promote"), T - timedelta(minutes=20))
    _invoke(fn, schedule(T - timedelta(minutes=10), "promote"), T - timedelta(minutes=10))


def _ledger(kind: str) -> list[dict[str, Any]]:
    pages = boto3.client("dynamodb").get_paginator("scan").paginate(TableName="model-medic-ledger")
    return [item for page in pages for item in page["Items"] if item.get("kind", {}).get("S") == kind]


def _component_state() -> Any:
    """The component (status, models, copies), the models and packages, the verdict alarms and the
    verdict's series as they see it, the specifications recorded and the rollout's incidents."""
    sagemaker, cloudwatch = boto3.client("sagemaker"), boto3.client("cloudwatch")
    described = components.component()
    packages = sagemaker.list_model_packages(ModelPackageGroupName=components.GROUP)["ModelPackageSummaryList"]
    alarms = cloudwatch.describe_alarms(AlarmNamePrefix=ENDPOINT)["MetricAlarms"]
    verdict = cloudwatch.get_metric_statistics(
        Namespace=VERDICT_NAMESPACE,
        MetricName="RolloutVerdict",
        Dimensions=verdict_dimensions(ENDPOINT, components.COMPONENT),
        StartTime=T - timedelta(hours=1),
        EndTime=T + timedelta(hours=1),
        Period=60,
        Statistics=["Maximum"],
    )["Datapoints"]
    incidents = [json.loads(i["body"]["S"]) for i in _ledger("incident")]
    return (
        described["InferenceComponentStatus"],
        described["Specification"]["ModelName"],
        described["RuntimeConfig"]["DesiredCopyCount"],
        sorted(m["ModelName"] for m in sagemaker.list_models()["Models"]),
        sorted((p["ModelPackageArn"].rsplit("/", 1)[-1], p["ModelApprovalStatus"]) for p in packages),
        sorted((a["AlarmName"], a["Namespace"], a["MetricName"], a["Threshold"]) for a in alarms),
        sorted((d["Timestamp"].isoformat(), d["Maximum"]) for d in verdict),
        sorted(i["spec"]["S"] for i in _ledger("component-spec")),
        sorted((i["action"], i["state"], i["closed_at"] is not None) for i in incidents),
    )


# --- the fleet's alarms --------------------------------------------------------------------------

FLEET_ENV = {
    "STACK_NAME": "model-medic-test",
    "DISCOVERY_TAG": "model-medic=on",
    "MONITORED_ENDPOINTS": "",
    **ALARM_MANAGER_ENV,
    "WARNING_TOPIC_ARN": f"arn:aws:sns:us-east-1:{ACCOUNT}:model-medic-warning",
    "POWERTOOLS_SERVICE_NAME": "alarm-manager",
}


def _fleet_world(stack: Stack, fn: Any) -> None:
    """Two tagged endpoints with the stack's alarms; then one loses its tag and a new one gets it."""
    stack.sns.create_topic(Name="model-medic-warning")
    sagemaker = boto3.client("sagemaker")
    tag = [{"Key": "model-medic", "Value": "on"}]
    make_endpoint("fleet-a")
    sagemaker.add_tags(ResourceArn=_arn("fleet-a"), Tags=tag)
    sagemaker.create_endpoint(EndpointName="fleet-b", EndpointConfigName="fleet-a-config-1", Tags=tag)
    _invoke(fn, load_event("manage_alarms/schedule.json"), T - timedelta(hours=1))
    sagemaker.delete_tags(ResourceArn=_arn("fleet-b"), TagKeys=["model-medic"])
    sagemaker.create_endpoint(EndpointName="fleet-c", EndpointConfigName="fleet-a-config-1", Tags=tag)


def _arn(endpoint: str) -> str:
    return f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/{endpoint}"


def _fleet_state() -> Any:
    cloudwatch = boto3.client("cloudwatch")
    alarms = [
        (a["AlarmName"], a.get("Threshold"), tuple(a.get("AlarmActions", [])))
        for page in cloudwatch.get_paginator("describe_alarms").paginate()
        for a in page["MetricAlarms"]
    ]
    dashboards = [d["DashboardName"] for d in cloudwatch.list_dashboards()["DashboardEntries"]]
    return sorted(alarms), sorted(dashboards)


SCALE_UP_ENV = {
    "MAX_INSTANCE_COUNT": "4",
    "SCALE_STEP": "1",
    "SCALE_UP_COOLDOWN_MINUTES": "10",
    "SCALE_BACK_AFTER_MINUTES": "15",
}
SCENARIOS = [
    Scenario(
        "scale-up",
        "scale_up",
        SCALE_UP_ENV,
        _scale_up_world,
        lambda: load_event("scale_up/high_latency_alarm.json"),
        _capacity,
    ),
    Scenario(
        "give-back", "scale_up", SCALE_UP_ENV, _scale_back_world, lambda: schedule(T + timedelta(minutes=30)), _capacity
    ),
    Scenario(
        "rollback",
        "rollback_model",
        {"CANARY_VARIANT": "canary", "REJECT_MODEL_PACKAGES": "true", "ROLLBACK_COOLDOWN_MINUTES": "60"},
        _rollback_world,
        lambda: load_event("rollback_model/accuracy_drop_alarm.json"),
        _endpoint_state,
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
    Scenario("deploy", "promote_canary", CANARY_SETTINGS, _deploy_world, _deploy_event, _endpoint_state),
    Scenario(
        "promote", "promote_canary", CANARY_SETTINGS, _promote_world, lambda: schedule(T, "promote"), _endpoint_state
    ),
    Scenario(
        "finish", "promote_canary", CANARY_SETTINGS, _finish_world, lambda: schedule(T, "promote"), _endpoint_state
    ),
    Scenario(
        "rollout-rollback",
        "promote_canary",
        CANARY_SETTINGS,
        _rollback_canary_world,
        lambda: schedule(T, "promote"),
        _endpoint_state,
    ),
    Scenario(
        "component-start",
        "promote_canary",
        components.SETTINGS,
        _component_start_world,
        _component_approval,
        _component_state,
    ),
    Scenario(
        "component-verdict",
        "promote_canary",
        components.SETTINGS,
        _component_verdict_world,
        lambda: schedule(T, "promote"),
        _component_state,
    ),
    Scenario(
        "component-end",
        "promote_canary",
        components.SETTINGS,
        _component_end_world,
        lambda: schedule(T, "promote"),
        _component_state,
    ),
    Scenario(
        "alarm-manager",
        "manage_alarms",
        FLEET_ENV,
        _fleet_world,
        lambda: load_event("manage_alarms/schedule.json"),
        _fleet_state,
    ),
]


# --- one run, and what it is compared by ---------------------------------------------------------


# What moto makes up anew in every world (a pipeline execution's id): not part of what is told.
_RANDOM = re.compile(r"execution/[a-z0-9]+")


@dataclass
class Told:
    """What reached people or machines: each copy's dedup id and what it says."""

    copies: list[tuple[str, str]] = field(default_factory=list)  # (dedup id, content)

    def __post_init__(self) -> None:
        self.copies = [(dedup, _RANDOM.sub("execution/*", content)) for dedup, content in self.copies]

    @staticmethod
    def short(contents: Counter[str]) -> list[str]:
        return [content[:200] for content in contents]

    def distinct(self) -> Counter[str]:
        """The messages a consumer that drops repeats of a dedup id keeps."""
        seen: dict[str, str] = {}
        kept: Counter[str] = Counter()
        for dedup, content in self.copies:
            if not dedup or dedup not in seen:
                kept[content] += 1
            if dedup:
                seen[dedup] = content
        return kept

    def shape(self) -> list[tuple[int | None, str]]:
        """The copies in order, each dedup id by the order it first came in (an id made anew in
        each invocation, as the request id, then compares alike)."""
        order: dict[str, int] = {}
        return [(order.setdefault(dedup, len(order)) if dedup else None, content) for dedup, content in self.copies]

    def repeats_differ(self) -> list[str]:
        """Copies that share a dedup id but say different things (never allowed)."""
        first: dict[str, str] = {}
        return [d for d, content in self.copies if d and first.setdefault(d, content) != content]


@dataclass
class Run:
    calls: list[str]
    state: Any
    acted: list[tuple[str, str]]
    told: dict[str, Told]
    pending: int
    errors: int
    world: World = field(compare=False, repr=False)  # the world it started from


def same(one: Run, other: Run) -> bool:
    """Whether two runs are alike in all that `differences` looks at and more: the calls in order,
    the state, acted, letters, errors, and each tap's copies in order with which share a dedup id."""

    def shape(run: Run) -> Any:
        told = {tap: copies.shape() for tap, copies in run.told.items()}
        return run.calls, run.state, run.acted, run.pending, run.errors, told

    return bool(shape(one) == shape(other))


def said(text: str) -> str:
    """What a message or event says: an outcome's fields, except what AWS answered to the calls of
    its step - after a crash lost that answer, the retry says what reading AWS back showed
    (`{"adopted": ...}`); a plain message's text as it is."""
    try:
        outcome = json.loads(text)
    except json.JSONDecodeError:
        return text
    if not isinstance(outcome, dict):
        return text
    outcome.pop("dedup_id", None)
    if isinstance(outcome.get("changes"), dict) and "results" in outcome["changes"]:
        outcome["changes"] = {**outcome["changes"], "results": "..."}
    return json.dumps(outcome, sort_keys=True)


def dedup_of(message: dict[str, Any]) -> str:
    """A message's deduplication id: in an outcome's JSON body (SNS sends no message attributes
    with a JSON message structure), else its attribute (a plain message)."""
    try:
        body = json.loads(message["Message"])
    except json.JSONDecodeError:
        body = None
    if isinstance(body, dict) and "dedup_id" in body:
        return str(body["dedup_id"])
    return str(message.get("MessageAttributes", {}).get("dedup_id", {}).get("Value", ""))


def _told(stack: Stack) -> dict[str, Told]:
    found = {}
    for tap in ("info", "critical"):
        found[tap] = Told([(dedup_of(m), f"{m.get('Subject')}|{said(m['Message'])}") for m in stack.drain(tap)])
    events = []
    for event in stack.drain("events"):
        detail = dict(event["detail"])
        dedup = str(detail.pop("dedup_id", ""))
        events.append((dedup, said(json.dumps(detail))))
    found["events"] = Told(events)
    return found


@contextmanager
def _cached_clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """One client per service for the helpers of every run (each moto world is fresh; the clients
    reach it all the same), instead of one per helper call."""
    made: dict[tuple[str, str | None], Any] = {}
    original = boto3.client

    def client(service: str, region_name: str | None = None, **kwargs: Any) -> Any:
        if kwargs:
            return original(service, region_name=region_name, **kwargs)
        key = (service, region_name)
        if key not in made:
            made[key] = original(service, region_name=region_name)
        return made[key]

    with monkeypatch.context() as patch:
        patch.setattr(boto3, "client", client)
        yield


@dataclass(frozen=True)
class World:
    """A scenario's world as `scenario.world` built it (its taps drained), and the stack it was built on."""

    snapshot: moto_snapshot.Snapshot
    stack: Stack


def run(
    monkeypatch: pytest.MonkeyPatch, scenario: Scenario, kind: Kind | None, at: int | None, world: World | None = None
) -> Run:
    """The scenario's event, Lambda's retries included, in its world: built by `scenario.world`
    (then kept in the run), or `world` put back."""
    faults = Faults(kind, at)
    with mock_aws(), time_machine.travel(T, tick=False):
        reset_simulation()  # each world fresh, as the suite's fixture makes it for a test
        stack = world.stack if world else Stack()
        for name, value in {**stack.env(), **scenario.env}.items():
            monkeypatch.setenv(name, value)
        from model_medic.platform.settings import load_settings

        load_settings.cache_clear()
        handler = load_handler(scenario.function)
        if world:
            moto_snapshot.restore(world.snapshot)
        else:
            scenario.world(stack, handler)
            load_settings.cache_clear()
            _told(stack)
            world = World(moto_snapshot.take(), stack)
        errors = 0
        context = FakeContext()  # Lambda retries an invocation with its request id
        with injected(monkeypatch, faults):
            for _ in range(3):  # the first try and Lambda's two retries
                faults.active, faults.dead = True, False
                try:
                    handler.lambda_handler(scenario.event(), context)
                except (Exception, Crash):  # noqa: BLE001 - any error makes Lambda retry the event
                    errors += 1
                    continue
                finally:
                    faults.active = False
                break
        decisions = stack.items("decision")
        return Run(
            calls=faults.calls,
            state=scenario.state(),
            acted=sorted((d["action"], d["reason"]) for d in decisions if d["result"] == "acted"),
            told=_told(stack),
            pending=len(stack.items("letter")),
            errors=errors,
            world=world,
        )


def differences(clean: Run, faulty: Run, kind: Kind) -> list[str]:
    """What the faulty run ended with that the clean one did not."""
    found = []
    if faulty.state != clean.state:
        found.append(f"state {faulty.state} != {clean.state}")
    if faulty.acted != clean.acted:
        found.append(f"acted {faulty.acted} != {clean.acted}")
    if faulty.pending:
        found.append(f"{faulty.pending} letter(s) left unsent")
    for tap, told in faulty.told.items():
        want = Counter(content for _, content in clean.told[tap].copies)
        got = Counter(content for _, content in told.copies) if kind == "throttle" else told.distinct()
        if got != want:
            extra, missing = got - want, want - got
            found.append(f"{tap}: {sum(extra.values())} extra {Told.short(extra)[:2]}")
            found.append(f"{tap}: {sum(missing.values())} missing {Told.short(missing)[:2]}")
        if told.repeats_differ():
            found.append(f"{tap}: copies with one dedup id differ")
    return found


def writes(calls: list[str]) -> list[int]:
    """The calls that change something in AWS (the ledger included): all but the reads."""
    return [i for i, call in enumerate(calls) if not call.split(":", 1)[1].startswith(READS)]


def cases(calls: list[str], kind: Kind, budget: int) -> list[int]:
    """Which calls fault. A crash right after a read leaves AWS as the crash right after the call
    before it did (the retry starts from the same world): the crash cases are the writes. A
    throttle can meet a different handler at each call: every call, or - beyond the budget -
    every write and evenly spaced reads."""
    written = writes(calls)
    if kind == "crash":
        return written
    if len(calls) <= budget:
        return list(range(len(calls)))
    reads = [i for i in range(len(calls)) if i not in written]
    room = max(budget - len(written), 0)
    sampled = reads[:: max(1, -(-len(reads) // room))] if room else []
    return sorted(written + sampled)


@pytest.fixture(scope="module")
def baselines() -> dict[str, Run]:
    return {}


class Paths:
    """Every call of the named scenarios failing (throttle) or dying (crash). A test class per
    scenario: the parallel run (`make test`, --dist loadscope) spreads the classes over its workers."""

    NAME: ClassVar[str]

    @pytest.mark.parametrize("kind", ["throttle", "crash"])
    def test_every_call_failing_or_dying_ends_with_exactly_the_intended_changes_and_messages(
        self, monkeypatch: pytest.MonkeyPatch, kind: Kind, baselines: dict[str, Run]
    ) -> None:
        [scenario] = [s for s in SCENARIOS if s.name == self.NAME]
        every_path(monkeypatch, scenario, kind, baselines)


class TestScaleUp(Paths):
    NAME = "scale-up"


class TestGiveBack(Paths):
    NAME = "give-back"


class TestRollback(Paths):
    NAME = "rollback"


class TestStartRetraining(Paths):
    NAME = "start-retraining"


class TestDeploy(Paths):
    NAME = "deploy"


class TestPromote(Paths):
    NAME = "promote"


class TestFinish(Paths):
    NAME = "finish"


class TestRolloutRollback(Paths):
    NAME = "rollout-rollback"


class TestComponentStart(Paths):
    NAME = "component-start"


class TestComponentVerdict(Paths):
    NAME = "component-verdict"


class TestComponentEnd(Paths):
    NAME = "component-end"


class TestAlarmManager(Paths):
    NAME = "alarm-manager"


def test_every_scenario_has_its_test_class() -> None:
    classes = [c.NAME for c in Paths.__subclasses__()]
    assert sorted(classes) == sorted(s.name for s in SCENARIOS)


def every_path(monkeypatch: pytest.MonkeyPatch, scenario: Scenario, kind: Kind, baselines: dict[str, Run]) -> None:
    """The scenario without faults (once per module and worker), then with each chosen call faulting,
    each run in a copy of the clean run's world: the clean run again in one first, to show that a
    copy runs as the world built anew (same calls, state, acted, letters, errors and copies told)."""
    with _cached_clients(monkeypatch):
        if scenario.name not in baselines:
            baselines[scenario.name] = built = run(monkeypatch, scenario, None, None)
            restored = run(monkeypatch, scenario, None, None, built.world)
            assert same(restored, built), f"the restored world ran otherwise\n{restored}\n{built}"
        clean = baselines[scenario.name]
        assert clean.errors == 0, clean
        assert clean.pending == 0
        if scenario.function != "manage_alarms":  # the alarm manager decides nothing, it keeps alarms
            assert clean.acted, clean
        chosen = cases(clean.calls, kind, scenario.budget)
        failures = []
        for index in chosen:
            faulty = run(monkeypatch, scenario, kind, index, clean.world)
            assert faulty.calls[index] == clean.calls[index], f"call {index} differs\n{clean.calls}\n{faulty.calls}"
            wrong = differences(clean, faulty, kind)
            if wrong:
                failures.append(f"#{index} {clean.calls[index]}: " + "; ".join(wrong))
    print(f"{scenario.name} [{kind}]: {len(clean.calls)} AWS calls, {len(chosen)} cases, {len(failures)} wrong")
    assert not failures, f"{len(failures)} of {len(chosen)} cases:\n" + "\n".join(failures)
