"""The simulated account a backtest runs in (moto, in this process), built from a snapshot."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from model_medic.backtest.snapshot import EndpointSeed, Snapshot
from model_medic.platform import aws
from model_medic.policy.policies import INHERIT
from model_medic.remediate.capacity import SCALABLE_DIMENSION
from model_medic.store.deployments import Deployments
from model_medic.store.table import Table

if TYPE_CHECKING:
    from model_medic.platform.settings import ActionSettings

# The simulation's own account: never the one read (a stack in moto in this process keeps its
# resources apart), and never a real one (AWS account IDs are not all zeros).
ACCOUNT = "000000000000"
LEDGER = "model-medic-backtest-ledger"
MODE_PARAMETER = "/model-medic-backtest/automation-mode"
PAGES = "model-medic-backtest-pages"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/model-medic-backtest"
# CreateEndpointConfig takes what DescribeEndpointConfig gives, but these.
_NOT_CONFIG = frozenset({"EndpointConfigArn", "CreationTime", "ResponseMetadata"})
# PutMetricAlarm's parameters, as DescribeAlarms names them (the actions are left out: the replay delivers).
_ALARM_FIELDS = (
    "AlarmName",
    "AlarmDescription",
    "MetricName",
    "Namespace",
    "Statistic",
    "ExtendedStatistic",
    "Dimensions",
    "Period",
    "Unit",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
    "EvaluateLowSampleCountPercentile",
    "Metrics",
    "ThresholdMetricId",
)


@dataclass(frozen=True)
class World:
    """The simulated account, built: each unit's settings pointed at it, and where its pages land."""

    settings: dict[str, ActionSettings]  # by unit name
    critical_topic: str
    pages: str  # the queue subscribed to the critical topic (its URL)
    account: str = ACCOUNT


def build(snapshot: Snapshot, travel: Any) -> World:
    """The simulated account from the snapshot; `travel(at)` moves the clock (time-machine)."""
    topics = _stack(snapshot)
    for seed in snapshot.endpoints:
        _endpoint(seed)
    for name in snapshot.pipelines:
        aws.sagemaker().create_pipeline(
            PipelineName=name,
            PipelineDefinition=json.dumps({"Version": "2020-12-01", "Parameters": [], "Steps": []}),
            RoleArn=ROLE,
            ClientRequestToken=f"model-medic-backtest-{name}"[:128].ljust(32, "-"),
        )
    with travel(snapshot.start):
        for seed in snapshot.endpoints:
            _history(seed)
            _metrics(seed)
    _alarms(snapshot, travel)
    return World(
        settings={unit: _settings(snapshot, unit, topics) for unit in snapshot.units},
        critical_topic=topics["critical"],
        pages=topics["pages"],
    )


def _stack(snapshot: Snapshot) -> dict[str, str]:
    """The stack's data resources in the simulation: ledger, topics, the kill switch, the bus."""
    aws.dynamodb().create_table(
        TableName=LEDGER,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    )
    sns = aws.sns()
    topics = {name: sns.create_topic(Name=f"model-medic-backtest-{name}")["TopicArn"] for name in ("info", "critical")}
    sqs = aws.sqs()
    queue = sqs.create_queue(QueueName=PAGES, Attributes={"MessageRetentionPeriod": "1209600"})["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topics["critical"], Protocol="sqs", Endpoint=queue_arn)
    aws.ssm().put_parameter(Name=MODE_PARAMETER, Value=INHERIT, Type="String")
    bus = snapshot.stack.settings.event_bus_name
    if bus != "default":
        aws.events().create_event_bus(Name=bus)
    return {**topics, "pages": queue}


def _settings(snapshot: Snapshot, unit: str, topics: dict[str, str]) -> ActionSettings:
    """The unit's deployed settings, in enforce, pointed at the simulation's ledger, topics and switch."""
    function = snapshot.stack.functions[unit]
    values: dict[str, Any] = {
        "ledger_table": LEDGER,
        "info_topic_arn": topics["info"],
        "critical_topic_arn": topics["critical"],
        "automation_mode": "enforce",
        "mode_parameter_name": MODE_PARAMETER,
    }
    if "reject_model_packages" in function.settings.model_fields:
        values["reject_model_packages"] = False  # model packages are not copied (docs/rooms/backtest.md)
    return function.settings.with_values(values)


def _endpoint(seed: EndpointSeed) -> None:
    """The endpoint as it is now: its models, its config (with today's counts and weights), its
    tags and its variants' scalable targets."""
    sagemaker = aws.sagemaker()
    for name, model in seed.models.items():
        _model(name, model)
    for missing in _missing_models(seed):
        _model(missing, {})
    now = {v["VariantName"]: v for v in seed.described.get("ProductionVariants", [])}
    variants = []
    for variant in seed.config.get("ProductionVariants", []):
        copied = dict(variant)
        current = now.get(variant["VariantName"], {})
        if "CurrentInstanceCount" in current and "ServerlessConfig" not in variant:
            copied["InitialInstanceCount"] = int(current["CurrentInstanceCount"])
        if "CurrentWeight" in current:
            copied["InitialVariantWeight"] = float(current["CurrentWeight"])
        variants.append(copied)
    _config({**seed.config, "ProductionVariants": variants})
    tags = [{"Key": k, "Value": v} for k, v in sorted(seed.tags.items())]
    sagemaker.create_endpoint(
        EndpointName=seed.name, EndpointConfigName=seed.config["EndpointConfigName"], Tags=cast("Any", tags)
    )
    for target in seed.targets:
        aws.autoscaling().register_scalable_target(
            ServiceNamespace="sagemaker",
            ResourceId=target["ResourceId"],
            ScalableDimension=SCALABLE_DIMENSION,
            MinCapacity=int(target["MinCapacity"]),
            MaxCapacity=int(target["MaxCapacity"]),
        )
    for config in seed.configs.values():
        _config(config)


def _missing_models(seed: EndpointSeed) -> list[str]:
    """Models the configs name that could not be read (deleted): made empty, so the configs can be."""
    named = {
        v["ModelName"]
        for config in (seed.config, *seed.configs.values())
        for v in config.get("ProductionVariants", [])
        if v.get("ModelName")
    }
    return sorted(named - set(seed.models))


def _model(name: str, described: dict[str, Any]) -> None:
    """A model of the same name; its package reference left out (packages are not copied)."""
    try:
        aws.sagemaker().describe_model(ModelName=name)
        return  # two endpoints share it
    except ClientError:
        pass
    container = {k: v for k, v in (described.get("PrimaryContainer") or {}).items() if k != "ModelPackageName"}
    kwargs: dict[str, Any] = {"ModelName": name, "ExecutionRoleArn": ROLE}
    if container:
        kwargs["PrimaryContainer"] = container
    aws.sagemaker().create_model(**kwargs)


def _config(described: dict[str, Any]) -> None:
    try:
        aws.sagemaker().describe_endpoint_config(EndpointConfigName=described["EndpointConfigName"])
        return  # another endpoint's rollback target already
    except ClientError:
        pass
    fields = {k: v for k, v in described.items() if k not in _NOT_CONFIG and v not in (None, {}, [], "")}
    aws.sagemaker().create_endpoint_config(**fields)


def _history(seed: EndpointSeed) -> None:
    """The configs the stack saw InService before the window, in the simulated ledger (rollback targets)."""
    deployments = Deployments(Table(aws.dynamodb(), LEDGER))
    for entry in seed.history:
        deployments.observe_config(seed.name, str(entry["config"]), datetime.fromisoformat(str(entry["at"])))


def _metrics(seed: EndpointSeed) -> None:
    """SageMaker's per-variant datapoints the decision code reads, as they were (statistic sets a minute)."""
    for batch in _batches(list(seed.metrics), 1000):
        aws.cloudwatch().put_metric_data(Namespace="AWS/SageMaker", MetricData=cast("Any", batch))


def _alarms(snapshot: Snapshot, travel: Any) -> None:
    """Each alarm as defined, without actions (the replay delivers), in its state at the window's start."""
    cloudwatch = aws.cloudwatch()
    for alarm in snapshot.alarms:
        request = {k: alarm.definition[k] for k in _ALARM_FIELDS if alarm.definition.get(k) not in (None, [], "")}
        with travel(alarm.since or snapshot.start):
            cloudwatch.put_metric_alarm(**request)
            if alarm.state != "OK":  # moto creates an alarm OK (AWS: INSUFFICIENT_DATA); set it as it was
                cloudwatch.set_alarm_state(
                    AlarmName=alarm.name, StateValue=cast("Any", alarm.state), StateReason="backtest: the window opens"
                )


def _batches[T](items: list[T], size: int) -> Iterator[list[T]]:
    for first in range(0, len(items), size):
        yield items[first : first + size]
