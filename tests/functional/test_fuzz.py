"""Hostile input (issue 16, item 1): structure-aware mutations of the `events/` files, fed to
every handler that takes an event, must end in a clean rejection or a normal decision.

A fixed seed mutates each function's sample events (the SNS-wrapped alarm `Message` is
decoded and mutated as JSON, then wrapped again; it is also delivered raw): keys deleted
or renamed, values of the wrong type, empty and huge strings, lone surrogates, deep
nesting, unhashable values where a dimension is expected, other endpoints and times.

For every mutated event the handler must return (an exception would make Lambda retry it
twice and park it in the dead-letter queue); an event it rejects must have made no AWS
request but reads (every request is recorded), and every tenth one is also checked against
a snapshot of the endpoint, its scaling targets and the pipeline's runs; SageMaker or
Application Auto Scaling is only ever changed by an event whose answer says it acted.

`MODEL_MEDIC_FUZZ_MUTATIONS` sets the mutations per action function (default 1,000); the
scheduled jobs, each accepted event of which computes a whole window or report, get a
tenth. With the variable set, a per-function summary is printed; `make fuzz` runs 10,000.
"""

from __future__ import annotations

import copy
import json
import os
import random
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
import time_machine
from botocore.client import BaseClient

from tests.conftest import EVENTS, FakeContext, Stack, load_handler, make_endpoint, metric_alarm

if TYPE_CHECKING:
    from mypy_boto3_application_autoscaling import ApplicationAutoScalingClient
    from mypy_boto3_sagemaker import SageMakerClient
from tests.functional.test_schedule_time import ENVIRONMENT as SETTINGS

SEED = 16
MUTATIONS = int(os.environ.get("MODEL_MEDIC_FUZZ_MUTATIONS", "1000"))
NOW = datetime(2026, 11, 22, 10, 1, tzinfo=UTC)
ENDPOINT = "churn-prod"
# Named in the stack but deleted from SageMaker: every AWS read of it is a permanent error.
GONE = "churn-gone"

# Every function's settings (as in test_schedule_time.py), with two endpoints and a pipeline.
ENVIRONMENT = {
    **SETTINGS,
    "MONITORED_ENDPOINTS": f"{ENDPOINT},{GONE}",
    "PIPELINE_NAME": "churn-retrain",
    "PIPELINE_PARAMETERS": '{"Endpoint": "{endpoint}", "Alarm": "{alarm}", "Feature": "{feature}"}',
    "ACTIONS_PER_HOUR": "100",
}

# Functions whose settings differ from ENVIRONMENT (none: every function is given GONE too).
OVERRIDES: dict[str, dict[str, str]] = {}

# Each function's sample events; the action functions also get every alarm shape.
ALARMS = sorted((EVENTS / "alarms").glob("*.json"))
SEEDS: dict[str, list[Path]] = {
    "scale_up": sorted((EVENTS / "scale_up").glob("*.json")) + ALARMS,
    "start_retraining": sorted((EVENTS / "start_retraining").glob("*.json")) + ALARMS,
    "rollback_model": sorted((EVENTS / "rollback_model").glob("*.json")) + ALARMS,
    "promote_canary": sorted((EVENTS / "promote_canary").glob("*.json")) + ALARMS,
    "compute_metrics": sorted((EVENTS / "compute_metrics").glob("*.json")),
    "compute_drift": sorted((EVENTS / "compute_drift").glob("*.json")),
    "compute_model_quality": sorted((EVENTS / "compute_model_quality").glob("*.json")),
    "daily_report": sorted((EVENTS / "daily_report").glob("*.json")),
}
ACTION_FUNCTIONS = ("scale_up", "start_retraining", "rollback_model", "promote_canary")

# What a rejected or refused event may still call: reads, and nothing else.
_READS = ("Describe", "Get", "List", "Query", "Scan", "Receive", "BatchGet", "Search")
# The services whose state is the product's effect on the world.
_ACTING = ("sagemaker", "application-autoscaling")


# --- mutations ---------------------------------------------------------------------------


class Encoded:
    """A JSON document inside a string (an SNS `Message`): mutated as JSON, sent as a string."""

    def __init__(self, doc: Any) -> None:
        self.doc = doc


def decode(value: Any) -> Any:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key == "Message" and isinstance(item, str):
                try:
                    out[key] = Encoded(decode(json.loads(item)))
                    continue
                except ValueError:
                    pass
            out[key] = decode(item)
        return out
    if isinstance(value, list):
        return [decode(item) for item in value]
    return value


def encode(value: Any) -> Any:
    if isinstance(value, Encoded):
        return json.dumps(encode(value.doc))
    if isinstance(value, dict):
        return {key: encode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [encode(item) for item in value]
    return value


Slot = tuple[Any, Any]  # (container, key): a dict and its key, a list and its index, an Encoded and None


def slots(value: Any) -> list[Slot]:
    found: list[Slot] = []

    def walk(container: Any, key: Any, node: Any) -> None:
        found.append((container, key))
        if isinstance(node, Encoded):
            walk(node, None, node.doc)
        elif isinstance(node, dict):
            for child_key, child in list(node.items()):
                walk(node, child_key, child)
        elif isinstance(node, list):
            for index, child in enumerate(node):
                walk(node, index, child)

    if isinstance(value, dict):
        for key, child in list(value.items()):
            walk(value, key, child)
    return found


def get(slot: Slot) -> Any:
    container, key = slot
    return container.doc if isinstance(container, Encoded) else container[key]


def put(slot: Slot, value: Any) -> None:
    container, key = slot
    if isinstance(container, Encoded):
        container.doc = value
    else:
        container[key] = value


# The fields that reach AWS or decide what is done: mutated more often than the rest.
IDENTITY = frozenset(
    {
        "AlarmName",
        "AlarmArn",
        "alarmName",
        "alarmArn",
        "resources",
        "Dimensions",
        "dimensions",
        "EndpointName",
        "Endpoint",
        "VariantName",
        "value",
        "name",
        "NewStateValue",
        "OldStateValue",
        "StateChangeTime",
        "NewStateReason",
        "timestamp",
        "time",
        "reason",
        "EndpointConfigName",
        "EndpointStatus",
        "key",
        "endpoint",
        "Trigger",
        "metrics",
        "Metrics",
        "MetricName",
        "Namespace",
        "Message",
        "Records",
        "detail",
        "detail-type",
        "source",
        "alarmData",
        "state",
    }
)
HUGE = (256, 1024, 1025, 1601, 2049, 70_000, 300_000)
SURROGATES = ("\ud800", "\udfff", "\udc00")
STRANGE_TIMES = (
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "9999-12-31T23:59:59+00:00",
    "1970-01-01T00:00:00+00:00",
    "2026-11-22T10:00:00",
    "2026-11-22",
    "2026-11-22T10:00:00.000+0000",
    "2026-02-30T10:00:00Z",
    "+002026-11-22T10:00:00Z",
)
OTHER_STRINGS = (
    GONE,
    "ghost-endpoint",
    "churn-prod ",
    "CHURN-PROD",
    "churn--prod",
    "-churn-prod",
    "churn_prod",
    "churn-prod\n",
    "churn-prod\x00",
    "churn-prod/../x",
    "endpoint-with-a-name-that-is-sixty-four-characters-long-xxxxxxxxx",
    "ALARM",
    "OK",
    "INSUFFICIENT_DATA",
    "alarm",
    "arn:aws:cloudwatch:us-east-1:123456789012:alarm:",
    "arn:aws:cloudwatch:us-east-1:123456789012:alarm:churn-prod-HighLatency",
    "arn:aws:cloudwatch:::alarm:x",
    "arn:aws:sns:us-east-1:123456789012:alarm:x",
    "IN_SERVICE",
    "Scheduled Event",
    "CloudWatch Alarm State Change",
    "aws.cloudwatch",
    "aws.sagemaker",
    "{}",
    "[]",
    "null",
    "😀",
    "é",
    "‮",
)


def _wrong_types(value: Any) -> list[Any]:
    return [None, True, False, 0, -1, 1.5, 10**30, "", "x", [], {}, [value], {"value": value}, str(value)[:40]]


def mutate_once(event: Any, rng: random.Random) -> Any:
    found = slots(event)
    if not found:
        return event
    targeted = [s for s in found if s[1] in IDENTITY]
    slot = rng.choice(targeted if targeted and rng.random() < 0.6 else found)
    value = get(slot)
    operator = rng.randrange(12)
    container, key = slot
    if operator == 0:  # delete
        if isinstance(container, dict):
            del container[key]
        elif isinstance(container, list):
            container.pop(key)
        else:
            put(slot, None)
    elif operator == 1:
        put(slot, rng.choice(_wrong_types(value)))
    elif operator == 2:
        put(slot, "")
    elif operator == 3:
        size = rng.choice(HUGE)
        put(slot, (value if isinstance(value, str) and value else "x") * (size // max(1, len(str(value))) + 1))
    elif operator == 4:
        text = value if isinstance(value, str) else "churn-prod"
        at = rng.randrange(len(text) + 1)
        put(slot, text[:at] + rng.choice(SURROGATES) + text[at:])
    elif operator == 5:  # deep nesting
        nested = value
        for _ in range(rng.choice((5, 50, 400))):
            nested = [nested] if rng.random() < 0.5 else {"a": nested}
        put(slot, nested)
    elif operator == 6:  # unhashable where a string is expected
        put(slot, rng.choice(([value], {"value": value}, [[]], {"a": {}})))
    elif operator == 7:
        put(slot, rng.choice(OTHER_STRINGS))
    elif operator == 8:
        put(slot, rng.choice(STRANGE_TIMES))
    elif operator == 9 and isinstance(container, dict):  # rename
        container[key.lower() if key != key.lower() else key.capitalize()] = container.pop(key)
    elif operator == 10 and isinstance(value, list) and value:  # a batch
        value.extend(copy.deepcopy(value[:1]) * rng.choice((1, 2, 30)))
    elif operator == 11 and isinstance(value, str):
        put(slot, rng.choice((value.upper(), value + "-x", value * 2, value.strip("-"), value[::-1])))
    else:
        put(slot, rng.choice(_wrong_types(value)))
    return event


def mutants(paths: list[Path], count: int, seed: int) -> Iterator[tuple[str, Any]]:
    """`count` mutated events of the seed events (SNS messages also delivered raw), 1-3 mutations each."""
    rng = random.Random(seed)
    seeds: list[tuple[str, Any]] = []
    weights: list[float] = []
    for path in paths:
        event = decode(json.loads(path.read_text()))
        seeds.append((path.stem, event))
        weights.append(1.0)
        for record in event.get("Records", []) if isinstance(event, dict) else []:
            message = record.get("Sns", {}).get("Message")
            if isinstance(message, Encoded):
                # The raw form is always turned away whole: a few are enough.
                seeds.append((f"{path.stem}(raw)", message.doc))
                weights.append(0.1)
    for _ in range(count):
        [(name, event)] = rng.choices(seeds, weights)
        mutated = copy.deepcopy(event)
        for _ in range(rng.choice((1, 1, 2, 3))):
            # Wrapped, so that the event itself may be replaced (by a list, a string, nothing).
            mutated = mutate_once({"_": mutated}, rng).get("_", {})
        yield name, encode(mutated)


# --- the world and the campaign ----------------------------------------------------------


def world(stack: Stack) -> None:
    """churn-prod with a primary and a canary variant, its alarms, the retraining pipeline.

    The stack's taps (SQS queues behind the topics and the outcome rule) are taken away: what
    SNS and EventBridge accept is what is tested, and their fan-out in moto would cost more
    than the handlers themselves.
    """
    sns = boto3.client("sns")
    for topic in stack.topics.values():
        for subscription in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]:
            sns.unsubscribe(SubscriptionArn=subscription["SubscriptionArn"])
    stack.events.remove_targets(Rule="tap-outcomes", Ids=["tap"])
    stack.events.delete_rule(Name="tap-outcomes")
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 0.95}, "canary": {"count": 1, "weight": 0.05}})
    sagemaker = boto3.client("sagemaker")
    sagemaker.create_endpoint_config(
        EndpointConfigName=f"{ENDPOINT}-config-0",
        ProductionVariants=[
            {
                "VariantName": "primary",
                "ModelName": f"{ENDPOINT}-primary-model",
                "InitialInstanceCount": 2,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    sagemaker.create_pipeline(
        PipelineName="churn-retrain",
        PipelineDefinition=json.dumps({"Version": "2020-12-01", "Steps": []}),
        RoleArn="arn:aws:iam::123456789012:role/pipeline",
    )
    for suffix, metric in (
        ("HighLatency", "TotalLatency"),
        ("HighErrorRate", "ErrorRate"),
        ("DataDrift", "MaxFeatureDrift"),
        ("ModelAccuracyDrop", "accuracy"),
    ):
        metric_alarm(f"{ENDPOINT}-{suffix}", metric, "ALARM")
    boto3.client("s3").create_bucket(Bucket="churn-ml")
    boto3.client("s3").create_bucket(Bucket="model-medic-reports")


# moto copies a whole table for every transaction (to roll it back) and reads a whole partition
# for every query, so a ledger that grows by thousands of decisions makes each event slower
# than the one before; the campaign starts a fresh ledger now and then (AWS state is kept).
FRESH_LEDGER_EVERY = 25
SNAPSHOT_EVERY = 10


def fresh_ledger(table: str) -> None:
    dynamodb = boto3.client("dynamodb")
    described = dynamodb.describe_table(TableName=table)["Table"]
    dynamodb.delete_table(TableName=table)
    dynamodb.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=described["AttributeDefinitions"],
        KeySchema=described["KeySchema"],
    )


def acting_state(sagemaker: SageMakerClient, autoscaling: ApplicationAutoScalingClient) -> Any:
    """What the action functions change: endpoint weights and counts, configs, scaling, pipelines."""
    described = sagemaker.describe_endpoint(EndpointName=ENDPOINT)
    targets = autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")
    runs = sagemaker.list_pipeline_executions(PipelineName="churn-retrain")["PipelineExecutionSummaries"]
    return (
        described["EndpointConfigName"],
        sorted(
            (v["VariantName"], v.get("CurrentWeight"), v.get("CurrentInstanceCount"))
            for v in described["ProductionVariants"]
        ),
        sorted((t["ResourceId"], t["MinCapacity"], t["MaxCapacity"]) for t in targets["ScalableTargets"]),
        len(runs),
    )


@dataclass
class Summary:
    function: str
    mutations: int = 0
    rejections: int = 0
    decided: int = 0
    exceptions: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def line(self) -> str:
        rate = self.mutations / self.seconds if self.seconds else 0.0
        return (
            f"{self.function:<22} mutations {self.mutations:>6}  rejections {self.rejections:>6}  "
            f"decided {self.decided:>6}  exceptions {sum(self.exceptions.values()):>4}  "
            f"({rate:.0f} events/s)"
        )


def rejected(result: Any) -> bool:
    """An answer that turned the whole event away (nothing decided, something rejected)."""
    if not isinstance(result, dict) or not result.get("rejected"):
        return False
    return not any(result.get(key) for key in ("outcomes", "results", "recorded", "written", "baseline", "debounced"))


def acted(result: Any) -> bool:
    return isinstance(result, dict) and any(
        isinstance(o, dict) and o.get("result") == "acted" for o in result.get("outcomes") or []
    )


def campaign(function: str, count: int, table: str, monkeypatch: pytest.MonkeyPatch) -> Summary:
    summary = Summary(function)
    handler = load_handler(function).lambda_handler
    sagemaker, autoscaling = boto3.client("sagemaker"), boto3.client("application-autoscaling")
    requests: list[tuple[str, str]] = []
    original = BaseClient._make_api_call

    def recording(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        requests.append((self.meta.service_model.service_name, operation))
        return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recording)
    started = time.perf_counter()
    for index, (name, event) in enumerate(mutants(SEEDS[function], count, SEED)):
        if index and index % FRESH_LEDGER_EVERY == 0:
            fresh_ledger(table)
        # Every tenth event is also checked against a snapshot of what the actions change.
        before = acting_state(sagemaker, autoscaling) if index % SNAPSHOT_EVERY == 0 else None
        requests.clear()
        summary.mutations += 1
        try:
            result = handler(event, FakeContext())
        except Exception as error:  # noqa: BLE001 - counted and shown, the test then fails
            kind = f"{type(error).__name__}"
            summary.exceptions[kind] += 1
            summary.examples.setdefault(kind, f"{name}: {str(error)[:300]}")
            continue
        changes = [f"{service}:{op}" for service, op in requests if not op.startswith(_READS)]
        if rejected(result):
            summary.rejections += 1
            if changes:
                summary.exceptions["ChangedWhenRejected"] += 1
                summary.examples.setdefault("ChangedWhenRejected", f"{name}: {changes} {result['rejected']}")
            if before is not None and acting_state(sagemaker, autoscaling) != before:
                summary.exceptions["StateChangedWhenRejected"] += 1
                summary.examples.setdefault("StateChangedWhenRejected", f"{name}: {result['rejected']}")
        else:
            summary.decided += 1
            acting = [c for c in changes if c.split(":")[0] in _ACTING]
            if acting and not acted(result):
                summary.exceptions["ChangedWithoutActing"] += 1
                summary.examples.setdefault("ChangedWithoutActing", f"{name}: {acting}")
    summary.seconds = time.perf_counter() - started
    monkeypatch.setattr(BaseClient, "_make_api_call", original)
    return summary


def mutations_for(function: str) -> int:
    return MUTATIONS if function in ACTION_FUNCTIONS else max(1, MUTATIONS // 10)


@pytest.mark.parametrize("function", list(SEEDS))
def test_mutated_events_end_in_a_clean_rejection_or_a_decision(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], function: str
) -> None:
    for name, value in {**ENVIRONMENT, **OVERRIDES.get(function, {})}.items():
        monkeypatch.setenv(name, value)
    with time_machine.travel(NOW, tick=False):
        world(stack)
        summary = campaign(function, mutations_for(function), stack.table, monkeypatch)
    lines = [summary.line()] + [f"    {k} x{summary.exceptions[k]}: {e}" for k, e in summary.examples.items()]
    if "MODEL_MEDIC_FUZZ_MUTATIONS" in os.environ:  # a campaign (make fuzz): show the summary
        with capsys.disabled():
            print("\n" + "\n".join(lines))
    assert summary.mutations == mutations_for(function)
    assert summary.rejections > 0  # the campaign reaches the intake's refusals ...
    assert summary.decided > 0  # ... and events that are decided on
    assert not summary.exceptions, "\n".join(lines)


def test_the_mutations_are_the_same_for_the_same_seed() -> None:
    first = [json.dumps(e, default=str) for _, e in mutants(SEEDS["scale_up"], 50, SEED)]
    again = [json.dumps(e, default=str) for _, e in mutants(SEEDS["scale_up"], 50, SEED)]
    assert first == again
    assert len(set(first)) > 40


def test_a_canary_tick_with_a_named_endpoint_that_does_not_exist_is_not_retried(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    with time_machine.travel(NOW, tick=False):
        world(stack)
        event = json.loads((EVENTS / "promote_canary" / "schedule.json").read_text())
        result = load_handler("promote_canary").lambda_handler(event, FakeContext())
    assert isinstance(result, dict)
