"""Shared fixtures: sample events, a moto account with the stack's data resources, settings."""

from __future__ import annotations

import functools
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import boto3
import botocore.loaders
import botocore.session
import pytest
from moto import mock_aws
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.events.models import EventPattern
from moto.events.utils import EventMessageType
from moto.sqs.models import sqs_backends

from localcloud.moto_extensions import install_all, reset_simulation
from localcloud.queues import Delivery, QueuePoller
from localcloud.server import speed_up_moto
from model_medic.platform import aws
from model_medic.platform.settings import load_settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_ssm import SSMClient

install_all()
speed_up_moto()  # moto's per-request work that never changes an answer, done once (its docstring says why)

# One botocore Loader for every session the suite makes. moto's `mock_aws` resets boto3's default
# session each time it starts and every test builds fresh clients, so each new session would read
# and parse the service models' JSON again (SageMaker's alone is megabytes): about half of what
# building a test's stack took. The loader only reads botocore's own data files and caches them
# as it goes; nothing registers a handler that changes a loaded model, so sharing it changes no
# request or response, only how often the same files are parsed.
botocore.session.create_loader = functools.cache(botocore.loaders.create_loader)

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"
REGION = "us-east-1"


# AlarmManagerFunction's thresholds as the stack's defaults give them (template.yaml's parameters);
# ALARM_WRITES_PER_SECOND 0: moto has no quota to keep to.
ALARM_MANAGER_ENV = {
    "ERROR_RATE_THRESHOLD": "5",
    "LATENCY_THRESHOLD_MS": "1000",
    "DRIFT_THRESHOLD": "0.2",
    "ACCURACY_THRESHOLD": "0.8",
    "QUALITY_METRICS_SOURCE": "model-medic",
    "MODEL_MONITOR_DRIFT_FEATURE": "age",
    "MODEL_MONITOR_DRIFT_THRESHOLD": "0.1",
    "CANARY_VARIANT": "canary",
    "CANARY_MAX_ERROR_RATE": "5",
    "CANARY_MAX_LATENCY_MS": "1000",
    "ALARM_WRITES_PER_SECOND": "0",
}
NICE = 5  # the priority of a parallel worker off the critical path (pytest_runtest_setup)


def load_event(relative: str) -> Any:
    """A sample event from events/ (the same files `sam local invoke -e` takes)."""
    return json.loads((EVENTS / relative).read_text())


def matches(pattern: str, event: dict[str, Any]) -> bool:
    """Whether an EventBridge rule's pattern matches the event, by moto's matcher (typed to take
    its own TypedDict of an event; ours are the plain dicts AWS sends)."""
    return EventPattern.load(pattern).matches_event(cast(EventMessageType, event))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The `longest` modules first, the rest as collected: the parallel run (`make test`,
    pytest-xdist --dist loadscope, each module or test class one unit of work) then runs
    everything else on the other workers meanwhile."""
    items.sort(key=lambda item: item.get_closest_marker("longest") is None)  # a stable sort


def pytest_runtest_setup(item: pytest.Item) -> None:
    """In the parallel run, a worker yields the CPU to the `longest` modules' workers once it runs
    anything else (lower priority, inherited by its moto servers and functions): the longest
    modules are the run's critical path, the rest fills the cores around them."""
    if os.environ.get("PYTEST_XDIST_WORKER") and item.get_closest_marker("longest") is None and os.nice(0) < NICE:
        os.nice(NICE - os.nice(0))


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No real credentials, no tracing, fresh clients and settings, and moto's simulation as it
    starts (instant updates, the process clock, no pending failures) in every test: a test that
    sets `set_update_seconds` cannot leave the next test's endpoints Updating."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "ModelMedic",
        "POWERTOOLS_SERVICE_NAME": "model-medic-tests",
        "AWS_LAMBDA_FUNCTION_NAME": "model-medic-tests",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    aws.reset()
    load_settings.cache_clear()
    reset_simulation()
    yield
    aws.reset()
    load_settings.cache_clear()
    reset_simulation()


class Stack:
    """The data resources of template.yaml, made in moto, plus taps to read what was told."""

    def __init__(self) -> None:
        self.dynamodb: DynamoDBClient = boto3.client("dynamodb", region_name=REGION)
        self.sns: SNSClient = boto3.client("sns", region_name=REGION)
        self.sqs: SQSClient = boto3.client("sqs", region_name=REGION)
        self.ssm: SSMClient = boto3.client("ssm", region_name=REGION)
        self.events: EventBridgeClient = boto3.client("events", region_name=REGION)
        self.table = "model-medic-ledger"
        self.dynamodb.create_table(
            TableName=self.table,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        )
        self.topics = {
            name: self.sns.create_topic(Name=f"model-medic-{name}")["TopicArn"] for name in ("info", "critical")
        }
        self.taps = {name: self._tap_topic(arn, name) for name, arn in self.topics.items()}
        self.mode_parameter = "/model-medic/test/automation-mode"
        self.set_mode("inherit")
        self.taps["events"] = self._tap_outcome_events()
        # The data jobs' queues, as template.yaml makes them: a message received five times
        # without being deleted goes to the dead-letter queue.
        self.dead_letters: str = self.sqs.create_queue(QueueName="model-medic-dead-letters")["QueueUrl"]
        dead_letters_arn = self.sqs.get_queue_attributes(QueueUrl=self.dead_letters, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        redrive = json.dumps({"deadLetterTargetArn": dead_letters_arn, "maxReceiveCount": "5"})
        self.queues: dict[str, str] = {
            job: self.sqs.create_queue(
                QueueName=f"model-medic-{job}",
                Attributes={"VisibilityTimeout": "1800", "RedrivePolicy": redrive},
            )["QueueUrl"]
            for job in ("drift", "quality")
        }

    def env(self, **overrides: str) -> dict[str, str]:
        values = {
            "LEDGER_TABLE": self.table,
            "INFO_TOPIC_ARN": self.topics["info"],
            "CRITICAL_TOPIC_ARN": self.topics["critical"],
            "EVENT_BUS_NAME": "default",
            "MONITORED_ENDPOINTS": "churn-prod",
            "AUTOMATION_MODE": "enforce",
            "MODE_PARAMETER_NAME": self.mode_parameter,
            "MODE_CACHE_SECONDS": "0",
            "ACTIONS_PER_HOUR": "6",
            "LEDGER_RETENTION_DAYS": "90",
            "DRIFT_QUEUE_URL": self.queues["drift"],
            "QUALITY_QUEUE_URL": self.queues["quality"],
            "STACK_NAME": "model-medic-test",
        }
        values.update(overrides)
        return values

    def set_mode(self, value: str) -> None:
        self.ssm.put_parameter(Name=self.mode_parameter, Value=value, Type="String", Overwrite=True)

    def _tap_topic(self, topic_arn: str, name: str) -> str:
        url: str = self.sqs.create_queue(QueueName=f"tap-{name}")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)
        return url

    def _tap_outcome_events(self) -> str:
        url: str = self.sqs.create_queue(QueueName="tap-events")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.events.put_rule(Name="tap-outcomes", EventPattern=json.dumps({"source": ["model-medic"]}))
        self.events.put_targets(Rule="tap-outcomes", Targets=[{"Id": "tap", "Arn": arn}])
        return url

    def drain(self, tap: str) -> list[dict[str, Any]]:
        """Every message that reached a tap since the last drain (SNS envelopes unwrapped), oldest first.

        Read from moto's store of the tap queue, not with ReceiveMessage: moto's ReceiveMessage
        drops a message older than the queue's retention period measured by the wall clock, so a
        message sent under a travelled clock (2026-11-22) would vanish once today is more than
        four days later. The tap is an instrument, not the system under test: it must not depend
        on today's date.
        """
        queue = sqs_backends[DEFAULT_ACCOUNT_ID][REGION].get_queue(self.taps[tap].rsplit("/", 1)[-1])
        with queue._messages_lock:
            stored, queue._messages = list(queue._messages), []
        return [json.loads(message.body) for message in stored]

    def items(self, kind: str) -> list[dict[str, Any]]:
        pages = self.dynamodb.get_paginator("scan").paginate(TableName=self.table)
        return [
            {key: next(iter(value.values())) for key, value in item.items()}
            for page in pages
            for item in page["Items"]
            if item.get("kind", {}).get("S") == kind
        ]


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    with mock_aws():
        made = Stack()
        for name, value in made.env().items():
            monkeypatch.setenv(name, value)
        yield made


def make_endpoint(
    name: str,
    variants: dict[str, dict[str, Any]] | None = None,
    region: str = REGION,
) -> None:
    """A SageMaker endpoint in moto: variant name -> {"count": n, "weight": w, "type": instance type}."""
    sagemaker = boto3.client("sagemaker", region_name=region)
    variants = variants or {"AllTraffic": {"count": 1, "weight": 1.0}}
    production = []
    for variant, spec in variants.items():
        model = f"{name}-{variant}-model"
        sagemaker.create_model(
            ModelName=model,
            ExecutionRoleArn="arn:aws:iam::123456789012:role/sagemaker-execution",
            PrimaryContainer={"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/churn:latest"},
        )
        production.append(
            {
                "VariantName": variant,
                "ModelName": model,
                "InitialInstanceCount": spec.get("count", 1),
                "InstanceType": spec.get("type", "ml.m5.large"),
                "InitialVariantWeight": spec.get("weight", 1.0),
            }
        )
    sagemaker.create_endpoint_config(EndpointConfigName=f"{name}-config-1", ProductionVariants=production)
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-config-1")


def load_handler(function: str) -> Any:
    """functions/<function>/app.py as a module (every handler is called app.py)."""
    import importlib.util

    path = ROOT / "functions" / function / "app.py"
    spec = importlib.util.spec_from_file_location(f"handler_{function}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def deliver(stack: Stack, job: str, handler: Any, batch_size: int = 10, context: Any = None) -> list[Delivery]:
    """What Lambda's event source mapping does with a data job's queue (localcloud/queues.py):
    every message delivered to `handler` in this process, batch by batch, retried as the queue
    says (a message received five times is then parked in the dead-letter queue)."""

    def invoke(event: dict[str, Any]) -> tuple[Any, str | None]:
        try:
            return handler(event, context or FakeContext()), None
        except Exception as error:  # noqa: BLE001 - a function error, as Lambda reports it
            return None, f"{type(error).__name__}: {error}"

    return QueuePoller(stack.sqs, stack.queues[job], batch_size).drain(invoke)


def parked(stack: Stack) -> list[dict[str, Any]]:
    """The message bodies in the dead-letter queue (read from moto's store, as `Stack.drain` reads a tap)."""
    queue = sqs_backends[DEFAULT_ACCOUNT_ID][REGION].get_queue(stack.dead_letters.rsplit("/", 1)[-1])
    with queue._messages_lock:
        stored = list(queue._messages)
    return [json.loads(message.body) for message in stored]


@dataclass
class FakeContext:
    """The parts of a Lambda context that Powertools and the gates read. Each invocation has its
    own request id, as in Lambda; a test that models Lambda's retry of an invocation passes the
    same context again (a retry keeps the request id)."""

    function_name: str = "model-medic-tests"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:model-medic-tests"
    aws_request_id: str = ""  # a fresh one for each context made

    def __post_init__(self) -> None:
        if not self.aws_request_id:
            self.aws_request_id = str(uuid.uuid4())

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


class AwsCalls:
    """Every AWS operation the code under test called, in order (service, operation)."""

    def __init__(self) -> None:
        self.made: list[tuple[str, str]] = []

    def of(self, service: str) -> list[str]:
        return [operation for s, operation in self.made if s == service]

    def mutating(self) -> list[str]:
        readers = ("Describe", "Get", "List", "Query", "Scan", "Receive", "BatchGet", "Search")
        return [op for _, op in self.made if not op.startswith(readers)]


@pytest.fixture
def aws_calls(monkeypatch: pytest.MonkeyPatch) -> AwsCalls:
    from botocore.client import BaseClient

    calls = AwsCalls()
    original = BaseClient._make_api_call

    def recording(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        calls.made.append((self.meta.service_model.service_name, operation))
        return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recording)
    return calls


@pytest.fixture
def aws_requests(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, dict[str, Any]]]:
    """Every AWS request the code under test made, with its parameters: (service, operation, params)."""
    from botocore.client import BaseClient

    made: list[tuple[str, str, dict[str, Any]]] = []
    original = BaseClient._make_api_call

    def recording(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        made.append((self.meta.service_model.service_name, operation, dict(params)))
        return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recording)
    return made


def bodies(stack: Stack, tap: str) -> list[dict[str, Any]]:
    """The outcome JSON of every message on a topic tap (plain alerts are kept as {'text': ...})."""
    found = []
    for message in stack.drain(tap):
        try:
            found.append(json.loads(message["Message"]))
        except json.JSONDecodeError:
            found.append({"text": message["Message"], "subject": message.get("Subject")})
    return found


def decisions(stack: Stack, result: str | None = None) -> list[dict[str, Any]]:
    """The ledger's decisions, oldest first (all, or those with `result`)."""
    found = sorted(stack.items("decision"), key=lambda d: d["sk"])
    return [d for d in found if result is None or d["result"] == result]


def stored_incidents(stack: Stack) -> list[dict[str, Any]]:
    """The incidents in the ledger as the loop stored them, oldest first."""
    return sorted((json.loads(i["body"]) for i in stack.items("incident")), key=lambda i: i["opened_at"])


def metric_alarm(
    name: str,
    metric: str,
    state: str,
    *,
    endpoint: str = "churn-prod",
    statistic: str = "Average",
    period: int = 300,
    evaluation_periods: int = 2,
    threshold: float = 1.0,
    comparison: str = "GreaterThanThreshold",
    reason: str = "test",
) -> None:
    """A `Custom/SageMaker` alarm on one endpoint in CloudWatch, set to `state` (at the clock's time)."""
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        Namespace="Custom/SageMaker",
        MetricName=metric,
        Dimensions=[{"Name": "EndpointName", "Value": endpoint}],
        Statistic=statistic,
        Period=period,
        EvaluationPeriods=evaluation_periods,
        Threshold=threshold,
        ComparisonOperator=comparison,
    )
    cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason=reason)
