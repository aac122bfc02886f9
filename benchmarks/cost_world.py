"""The hour `benchmarks.cost` simulates: the fleet assumed, the stack's schedules and environments, the account."""

import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import boto3

from localcloud import template
from localcloud.world import capture_record
from model_medic.measure.baseline import build_baseline

STACK = "model-medic-bench"
DATA = "bench-data"  # data capture, baselines and ground truth
REPORTS = "bench-reports"
TAG = ("model-medic", "on")
NUMERIC = [f"x{i}" for i in range(7)]
CATEGORICAL = {"plan": ["basic", "plus", "pro"], "region": ["eu", "us", "apac", "latam"], "channel": ["web", "app"]}
SAGEMAKER_METRICS = ("Invocations", "Invocation4XXErrors", "Invocation5XXErrors", "ModelLatency", "OverheadLatency")


@dataclass(frozen=True)
class Fleet:
    """What is assumed of each endpoint (README "Cost" states the same)."""

    endpoints: int
    features: int = len(NUMERIC) + len(CATEGORICAL)  # 7 numeric, 3 categorical
    capture_files: int = 60  # data capture: a file a minute (one instance, one variant)
    records_per_file: int = 10  # 600 captured rows an hour: above DriftMinRows (500)
    label_files: int = 1  # ground truth: one file an hour, labelling the hour before's predictions
    labels_per_file: int = 200

    def names(self) -> list[str]:
        return [f"endpoint-{i:03d}" for i in range(self.endpoints)]


@dataclass(frozen=True)
class Scheduled:
    """A function of the stack that runs on a schedule, as template.yaml declares it."""

    logical_id: str
    folder: str  # functions/<folder>/app.py
    memory_mb: int
    minutes: tuple[int, ...]  # the minutes of every hour it runs at
    daily_hour: int | None = None  # a daily schedule's hour (UTC); minutes then holds its minute
    queue: str | None = None  # the queue its hourly run hands the endpoints to (its event source mapping's)
    batch_size: int = 10  # the mapping's BatchSize


def parameters() -> dict[str, str]:
    """The stack's parameters: a fleet found by tag, drift and model quality on, defaults otherwise."""
    return {
        "DiscoveryTag": "=".join(TAG),
        "DataCaptureS3Uri": f"s3://{DATA}/datacapture",
        "BaselineS3Uri": f"s3://{DATA}/baselines",
        "GroundTruthS3Uri": f"s3://{DATA}/groundtruth",
    }


def when(expression: str) -> tuple[tuple[int, ...], int | None]:
    """The minutes of the hour a schedule expression runs at, and the hour of a daily one."""
    rate = re.fullmatch(r"rate\((\d+) minutes?\)", expression)
    if rate:
        return tuple(range(0, 60, int(rate.group(1)))), None
    cron = re.fullmatch(r"cron\((\d+) (\*|\d+) \* \* \? \*\)", expression)
    if cron is None:
        raise ValueError(f"schedule {expression!r}: only rate(N minutes) and hourly or daily cron are modelled")
    minute, hour = cron.groups()
    return (int(minute),), None if hour == "*" else int(hour)


def schedules(main: dict[str, Any], values: dict[str, Any]) -> list[Scheduled]:
    """Every scheduled function the stack deploys with these parameters."""
    resolver = template.Resolver(main, values)
    memory = int(main["Globals"]["Function"]["MemorySize"])
    rules = {
        rule["Properties"]["Targets"][0]["Arn"]["Fn::GetAtt"][0]: rule["Properties"]["ScheduleExpression"]
        for rule in main["Resources"].values()
        if rule["Type"] == "AWS::Events::Rule" and "ScheduleExpression" in rule["Properties"]
    }
    mappings = {
        m["Properties"]["FunctionName"]["Ref"]: (
            m["Properties"]["EventSourceArn"]["Fn::GetAtt"][0],
            int(m["Properties"].get("BatchSize", 10)),
        )
        for m in main["Resources"].values()
        if m["Type"] == "AWS::Lambda::EventSourceMapping"
    }
    found = []
    for name, resource in main["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        if "Condition" in resource and not resolver.condition(resource["Condition"]):
            continue
        properties = resource["Properties"]
        events = [
            e["Properties"]["Schedule"] for e in (properties.get("Events") or {}).values() if e["Type"] == "Schedule"
        ]
        for expression in [*events, *([rules[name]] if name in rules else [])]:
            minutes, daily = when(str(resolver.resolve(expression)))
            folder = properties["CodeUri"].strip("/").split("/")[-1]
            queue, batch = mappings.get(name, (None, 10))
            mb = int(properties.get("MemorySize", memory))
            found.append(Scheduled(name, folder, mb, minutes, daily, queue, batch))
    return found


def environment(main: dict[str, Any], values: dict[str, Any], logical_id: str, made: dict[str, str]) -> dict[str, str]:
    """A function's environment as CloudFormation resolves it; `made`: the stack's resources
    (logical ID -> name or ARN) as created in moto."""
    resolver = template.Resolver(main, values, {"AWS::StackName": STACK, **made})
    variables = {
        **main["Globals"]["Function"]["Environment"]["Variables"],
        **main["Resources"][logical_id]["Properties"].get("Environment", {}).get("Variables", {}),
    }
    resolved = {name: resolver.resolve(value) for name, value in variables.items()}
    unresolved = {name: value for name, value in resolved.items() if isinstance(value, dict) or "${" in str(value)}
    if unresolved:
        raise ValueError(f"{logical_id}: resources not made for the benchmark: {unresolved}")
    return {name: str(value) for name, value in resolved.items()}


def make_queues(functions: list[Scheduled]) -> dict[str, str]:
    """The data jobs' queues (logical ID -> URL, what Ref gives)."""
    sqs = boto3.client("sqs")
    names = sorted({f.queue for f in functions if f.queue})
    return {name: sqs.create_queue(QueueName=f"{STACK}-{name}")["QueueUrl"] for name in names}


def seed(fleet: Fleet, start: datetime) -> dict[str, str]:
    """The account before the hour: the endpoints, the stack's data resources, two hours of
    endpoint metrics, data capture and labels (the hour before `start` and the one before it);
    returns the stack's resources by logical ID."""
    sns, s3 = boto3.client("sns"), boto3.client("s3")
    made = {
        name: sns.create_topic(Name=f"{STACK}-{name}")["TopicArn"]
        for name in ("InfoTopic", "CriticalTopic", "WarningTopic")
    }
    boto3.client("dynamodb").create_table(
        TableName=f"{STACK}-ledger",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in ("pk", "sk")],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    )
    mode = f"/model-medic/{STACK}/automation-mode"
    boto3.client("ssm").put_parameter(Name=mode, Value="inherit", Type="String")
    for bucket in (DATA, REPORTS):
        s3.create_bucket(Bucket=bucket)
    made.update(LedgerTable=f"{STACK}-ledger", AutomationModeParameter=mode, ReportsBucket=REPORTS)
    _endpoints(fleet)
    _metrics(fleet, start - timedelta(hours=1), start + timedelta(hours=1))
    baseline = json.dumps(_baseline()).encode()
    put = _store()
    for endpoint in fleet.names():
        put(DATA, f"baselines/{endpoint}/baseline.json", baseline)
        for hour in (start - timedelta(hours=2), start - timedelta(hours=1)):
            _capture(put, fleet, endpoint, hour)
            _labels(put, fleet, endpoint, hour)
    return made


Put = Callable[[str, str, bytes], object]


def _store() -> Put:
    """S3's PutObject, straight into moto's store: the seeding is not what is measured, and a
    request an object would take most of the benchmark's time."""
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    return lambda bucket, key, body: backend.put_object(bucket, key, body)


def seed_prediction_index(quality_env: dict[str, str], fleet: Fleet, start: datetime) -> None:
    """The prediction index as the runs before `start` left it (`measure/predictions.py`): an
    object for every capture hour of the look-back that had sealed by the run an hour before -
    empty ones, as no capture before the seeded hours exists. The hour's run then builds the one
    index that sealed since (as every hourly run does) instead of all of them (as a first does)."""
    from model_medic.measure.predictions import CapturedPredictions, index_document
    from model_medic.measure.quality import QualityConfig
    from model_medic.platform.settings import QualitySettings

    settings = QualitySettings.model_validate(quality_env)
    config = QualityConfig.of(settings)
    index = CapturedPredictions(boto3.client("s3"), config.capture_uri, config.index_uri, config.reading())
    bucket = config.index_uri.removeprefix("s3://").split("/", 1)[0]
    first = start - config.window - config.lookback
    put = _store()
    hour = first
    while hour < start - timedelta(hours=2):  # the hour before's run could index up to three hours back
        for endpoint in fleet.names():
            document = index_document(endpoint, hour, config.reading(), {})
            put(bucket, index.index_key(endpoint, hour), json.dumps(document).encode())
        hour += timedelta(hours=1)


def _endpoints(fleet: Fleet) -> None:
    sagemaker = boto3.client("sagemaker")
    sagemaker.create_model(
        ModelName="bench", ExecutionRoleArn="arn:aws:iam::123456789012:role/r", PrimaryContainer={"Image": "i"}
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName="bench",
        ProductionVariants=[
            {"VariantName": "primary", "ModelName": "bench", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
        ],
    )
    for endpoint in fleet.names():
        sagemaker.create_endpoint(
            EndpointName=endpoint, EndpointConfigName="bench", Tags=[{"Key": TAG[0], "Value": TAG[1]}]
        )


def _metrics(fleet: Fleet, start: datetime, end: datetime) -> None:
    """SageMaker's endpoint metrics, one datapoint of each a 5-minute period (at its first
    minute): what ComputeMetrics reads is there, and moto's GetMetricData stays fast."""
    values = {"Invocations": 600.0, "Invocation4XXErrors": 2.0, "Invocation5XXErrors": 0.0}
    data = []
    at = start + timedelta(minutes=1)
    while at < end:
        for endpoint in fleet.names():
            for metric in SAGEMAKER_METRICS:
                dimensions = [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": "primary"}]
                value = values.get(metric, 90_000.0)  # latencies in microseconds
                data.append({"MetricName": metric, "Dimensions": dimensions, "Timestamp": at, "Value": value})
        at += timedelta(minutes=5)
    cloudwatch = boto3.client("cloudwatch")
    for first in range(0, len(data), 1000):
        cloudwatch.put_metric_data(Namespace="AWS/SageMaker", MetricData=data[first : first + 1000])


def _row(rng: random.Random) -> list[str]:
    return [f"{rng.gauss(50, 10):.3f}" for _ in NUMERIC] + [rng.choice(c) for c in CATEGORICAL.values()]


def _baseline() -> dict[str, Any]:
    rng = random.Random("training")
    header = ",".join(["label", *NUMERIC, *CATEGORICAL])
    rows = [",".join([rng.choice("01"), *_row(rng)]) for _ in range(5000)]
    return build_baseline("\n".join([header, *rows]), label_column="label")


def _capture(put: Put, fleet: Fleet, endpoint: str, hour: datetime) -> None:
    rng = random.Random(f"{endpoint}{hour}")
    for minute in range(fleet.capture_files):
        stamp = (hour + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:00Z")
        lines = [
            capture_record(
                ",".join(_row(rng)), f"{minute}-{r}", stamp, output="0.42", inference_id=f"{hour:%H}-{minute}-{r}"
            )
            for r in range(fleet.records_per_file)
        ]
        key = f"datacapture/{endpoint}/primary/{hour:%Y/%m/%d/%H}/{minute:02d}-capture.jsonl"
        put(DATA, key, "\n".join(lines).encode())


def _labels(put: Put, fleet: Fleet, endpoint: str, hour: datetime) -> None:
    """Labels collected in `hour`, each naming a prediction of the hour before it."""
    before = hour - timedelta(hours=1)
    for part in range(fleet.label_files):
        lines = [
            json.dumps(
                {
                    "groundTruthData": {"data": str(i % 2), "encoding": "CSV"},
                    "eventMetadata": {
                        "eventId": f"{before:%H}-{i // fleet.records_per_file}-{i % fleet.records_per_file}"
                    },
                    "eventVersion": "0",
                }
            )
            for i in range(fleet.labels_per_file)
        ]
        key = f"groundtruth/{endpoint}/{hour:%Y/%m/%d/%H}/labels-{part}.jsonl"
        put(DATA, key, "\n".join(lines).encode())
