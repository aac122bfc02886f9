"""The demo world: a SageMaker endpoint worth rescuing, in the local cloud.

`churn-prod` serves a primary variant (2 x ml.m5.large, under an auto scaling target of
2-6 instances) and a canary (1 instance, 10% of traffic); a retraining pipeline and a model
package group exist; CloudWatch holds an hour of SageMaker's endpoint metrics in which
model latency climbs. `make up` adds what the sample events read (`seed_for_samples`).

Around it, a small fleet (`FLEET`, `seed_fleet`, one instance each, no traffic): `fraud-prod`
named in the stack's EndpointNames like churn-prod; `recs-prod` and `search-prod` found only
by the discovery tag (`search-prod` with its own max instance count by tag); `legacy-batch`
with neither, out of scope. The fleet scenario creates `pricing-prod` later (`NEW_ENDPOINT`),
the two teams' scenario `fraud-team-a` and `churn-team-b` (`TEAMS`, `seed_teams`), each
capturing to its own bucket with its own baseline and labels, and the last two scenarios a
serverless endpoint, `quotes-serverless` (`serverless_endpoint`), and `assistant-llm`, hosting
the inference component `llama3-8b` (`component_endpoint`, `add_component`), both by tag.
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_cloudwatch.type_defs import MetricDatumTypeDef
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sagemaker.literals import ModelApprovalStatusType
    from mypy_boto3_sagemaker.type_defs import ProductionVariantServerlessConfigTypeDef, ProductionVariantTypeDef

    from localcloud.cloud import LocalCloud

ENDPOINT = "churn-prod"
PIPELINE = "model-medic-retraining"
PACKAGE_GROUP = "churn"
ROLE = "arn:aws:iam::123456789012:role/model-medic-demo-sagemaker"
DATA_BUCKET = "churn-ml-local"
CAPTURE_URI = f"s3://{DATA_BUCKET}/datacapture"
BASELINE_URI = f"s3://{DATA_BUCKET}/baselines"
GROUND_TRUTH_URI = f"s3://{DATA_BUCKET}/groundtruth"
PLANS = ("basic", "plus", "pro")
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/churn"

# The stack's DiscoveryTag ("key=value"); tags with this prefix are an endpoint's own policy.
TAG_PREFIX = "model-medic:"
DISCOVERY_TAG = (f"{TAG_PREFIX}fleet", "demo")
MAX_INSTANCES_TAG = f"{TAG_PREFIX}max-instance-count"
NAMED = (ENDPOINT, "fraud-prod")  # the stack's EndpointNames
FLEET: dict[str, dict[str, str]] = {
    "fraud-prod": {"team": "risk"},  # named in EndpointNames
    "recs-prod": {DISCOVERY_TAG[0]: DISCOVERY_TAG[1]},  # found by tag
    "search-prod": {DISCOVERY_TAG[0]: DISCOVERY_TAG[1], MAX_INSTANCES_TAG: "2"},  # by tag, its own limit
    "legacy-batch": {"team": "batch"},  # neither: out of scope
}
# The endpoint the fleet scenario creates: found by tag, at most 3 instances (the stack says 4).
NEW_ENDPOINT = "pricing-prod"
NEW_TAGS = {DISCOVERY_TAG[0]: DISCOVERY_TAG[1], MAX_INSTANCES_TAG: "3"}


def seed(cloud: LocalCloud, at: datetime) -> dict[str, Any]:
    """Create the world; returns what a person may want to look at."""
    sagemaker = cloud.client("sagemaker")
    cloud.client("s3").create_bucket(Bucket=DATA_BUCKET)
    sagemaker.create_model_package_group(ModelPackageGroupName=PACKAGE_GROUP)
    packages = [
        register_package(cloud, version, accuracy, "Approved") for version, accuracy in (("v1", 0.84), ("v2", 0.86))
    ]
    for version, package in zip(("v1", "v2"), packages, strict=True):
        sagemaker.create_model(
            ModelName=f"churn-{version}", ExecutionRoleArn=ROLE, PrimaryContainer={"ModelPackageName": package}
        )
    sagemaker.create_endpoint_config(
        EndpointConfigName=f"{ENDPOINT}-config-1",
        ProductionVariants=[
            _variant("primary", "churn-v1", count=2, weight=0.9),
            _variant("canary", "churn-v2", count=1, weight=0.1),
        ],
    )
    sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=f"{ENDPOINT}-config-1")
    cloud.client("application-autoscaling").register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId=f"endpoint/{ENDPOINT}/variant/primary",
        ScalableDimension="sagemaker:variant:DesiredInstanceCount",
        MinCapacity=2,
        MaxCapacity=6,
    )
    # The primary's target-tracking policy (SageMaker's usual one): moto never runs it, so the demo
    # plays its scale-in (scenarios._policy_scales_in); `model-medic backtest` models it from here.
    cloud.client("application-autoscaling").put_scaling_policy(
        PolicyName=f"{ENDPOINT}-invocations-per-instance",
        ServiceNamespace="sagemaker",
        ResourceId=f"endpoint/{ENDPOINT}/variant/primary",
        ScalableDimension="sagemaker:variant:DesiredInstanceCount",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 70.0,
            "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
        },
    )
    sagemaker.create_pipeline(
        PipelineName=PIPELINE,
        PipelineDefinition=json.dumps({"Version": "2020-12-01", "Parameters": [], "Steps": []}),
        RoleArn=ROLE,
        # What botocore fills in when the token is left out (the stubs mark it required).
        ClientRequestToken=str(uuid.uuid4()),
    )
    _metrics(cloud.client("cloudwatch"), at)
    _training_data(cloud.client("s3"))
    return {"endpoint": ENDPOINT, "pipeline": PIPELINE, "packages": packages}


def seed_for_samples(cloud: LocalCloud, at: datetime) -> None:
    """What the sample events (events/) read besides `seed`, so that each shows its behaviour
    on a fresh `make up`: data capture of the hour before `at` and of its hour (the inputs
    drifting: older customers, more `pro` plans), churn-prod's predictions three and two hours
    before with their labels an hour later, and a retrained model, churn/3, awaiting approval."""
    hour = at.replace(minute=0, second=0, microsecond=0)
    for captured in (hour - timedelta(hours=1), hour):
        capture(cloud, captured, rows=600, mean_age=55.0, mix=(30, 30, 40))
    for predicted in (hour - timedelta(hours=3), hour - timedelta(hours=2)):
        predictions_and_labels(cloud, predicted, {"primary": (900, 0.84), "canary": (100, 0.86)})
    register_package(cloud, "v3", 0.88)


def by_tag() -> list[str]:
    """The fleet's endpoints in scope only through the discovery tag."""
    key, value = DISCOVERY_TAG
    return [name for name, tags in FLEET.items() if name not in NAMED and tags.get(key) == value]


def seed_fleet(cloud: LocalCloud) -> list[str]:
    """The fleet around churn-prod (`FLEET`). Seeded before the stack is deployed, as a fleet
    Model Medic is installed onto: the stack's FleetAlarms gives those in scope their alarms."""
    for name, tags in FLEET.items():
        fleet_endpoint(cloud, name, tags)
    return sorted(FLEET)


def fleet_endpoint(
    cloud: LocalCloud, name: str, tags: dict[str, str], instances: int = 1, capture_uri: str = ""
) -> None:
    """An endpoint serving one model from one `primary` variant, created with `tags`; with
    `capture_uri`, its config captures every request and response there."""
    sagemaker = cloud.client("sagemaker")
    sagemaker.create_model(
        ModelName=f"{name}-model", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": f"{IMAGE}:{name}"}
    )
    variants = [_variant("primary", f"{name}-model", count=instances, weight=1.0)]
    if capture_uri:
        sagemaker.create_endpoint_config(
            EndpointConfigName=f"{name}-config-1",
            ProductionVariants=variants,
            DataCaptureConfig={
                "EnableCapture": True,
                "InitialSamplingPercentage": 100,
                "DestinationS3Uri": capture_uri,
                "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
            },
        )
    else:
        sagemaker.create_endpoint_config(EndpointConfigName=f"{name}-config-1", ProductionVariants=variants)
    sagemaker.create_endpoint(
        EndpointName=name,
        EndpointConfigName=f"{name}-config-1",
        Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
    )


# Two teams sharing the stack, each with its own bucket (in the stack's DataBucketArns): endpoint,
# bucket, the tags that say where its baseline and labels are and how its answers read, and the
# mean age of the hour it serves (team A's customers younger than its training set).
TEAMS: dict[str, tuple[str, dict[str, str], float]] = {
    "fraud-team-a": (
        "team-a-ml-local",
        {
            f"{TAG_PREFIX}baseline-s3-uri": "s3://team-a-ml-local/monitoring/baselines",
            f"{TAG_PREFIX}ground-truth-s3-uri": "s3://team-a-ml-local/monitoring/labels",
            f"{TAG_PREFIX}inference-attribute": "verdict",
            f"{TAG_PREFIX}probability-attribute": "fraud_probability",
            f"{TAG_PREFIX}positive-label": "fraud",
        },
        35.0,
    ),
    "churn-team-b": (
        "team-b-ml-local",
        {
            f"{TAG_PREFIX}baseline-s3-uri": "s3://team-b-ml-local/baselines",
            f"{TAG_PREFIX}ground-truth-s3-uri": "s3://team-b-ml-local/groundtruth",
        },
        45.0,
    ),
}
TEAM_BUCKETS = tuple(sorted({bucket for bucket, _, _ in TEAMS.values()}))


def seed_teams(cloud: LocalCloud, hour: datetime) -> dict[str, str]:
    """The two teams' endpoints (`TEAMS`), in scope by the discovery tag, each capturing to its own
    bucket (its DataCaptureConfig); a training set beside each baseline location, an hour of
    capture in `hour` (team A answers JSON with its own attribute names, team B CSV scores) and
    its labels collected in the same hour. Endpoint -> its capture location."""
    s3 = cloud.client("s3")
    for bucket in TEAM_BUCKETS:
        s3.create_bucket(Bucket=bucket)
    captured = {}
    for name, (bucket, tags, mean_age) in TEAMS.items():
        captured[name] = f"s3://{bucket}/capture"
        fleet_endpoint(cloud, name, {DISCOVERY_TAG[0]: DISCOVERY_TAG[1], **tags}, capture_uri=captured[name])
        baselines = tags[f"{TAG_PREFIX}baseline-s3-uri"].removeprefix(f"s3://{bucket}/")
        rng = random.Random(f"training-{name}")
        rows = ["label,age"] + [f"{int(rng.random() < 0.3)},{rng.gauss(45, 10):.2f}" for _ in range(3000)]
        s3.put_object(Bucket=bucket, Key=f"{baselines}/{name}/training.csv", Body="\n".join(rows).encode())
        records, labels = _team_hour(name, hour, mean_age)
        key = f"capture/{name}/primary/{hour:%Y/%m/%d/%H}/capture-0000.jsonl"
        s3.put_object(Bucket=bucket, Key=key, Body="\n".join(records).encode())
        truth = tags[f"{TAG_PREFIX}ground-truth-s3-uri"].removeprefix(f"s3://{bucket}/")
        key = f"{truth}/{name}/{hour:%Y/%m/%d/%H}/labels.jsonl"
        s3.put_object(Bucket=bucket, Key=key, Body="\n".join(labels).encode())
    return captured


def _team_hour(name: str, hour: datetime, mean_age: float, rows: int = 600) -> tuple[list[str], list[str]]:
    """An hour of one team's captured requests (age) and answers, and their labels (right 90% of the time)."""
    rng = random.Random(f"{name}{hour:%Y%m%d%H}")
    records, labels = [], []
    for index in range(rows):
        inference_id = f"{name}-{hour:%H}-{index}"
        truth = rng.random() < 0.3
        probability = 0.85 if truth == (rng.random() < 0.9) else 0.15
        if name == "fraud-team-a":
            answer = {
                "predictions": [
                    {"verdict": "fraud" if probability > 0.5 else "legit", "fraud_probability": probability}
                ]
            }
            output = {
                "observedContentType": "application/json",
                "mode": "OUTPUT",
                "data": json.dumps(answer),
                "encoding": "JSON",
            }
            label = "fraud" if truth else "legit"
        else:
            output = {
                "observedContentType": "text/csv",
                "mode": "OUTPUT",
                "data": f"{probability:.2f}",
                "encoding": "CSV",
            }
            label = "1" if truth else "0"
        at = (hour + timedelta(seconds=index)).strftime("%Y-%m-%dT%H:%M:%SZ")
        record = json.loads(capture_record(f"{rng.gauss(mean_age, 10):.2f}", f"e-{inference_id}", at, "", inference_id))
        record["captureData"]["endpointOutput"] = output
        records.append(json.dumps(record))
        labels.append(
            json.dumps(
                {
                    "groundTruthData": {"data": label, "encoding": "CSV"},
                    "eventMetadata": {"eventId": inference_id},
                    "eventVersion": "0",
                }
            )
        )
    return records, labels


# A serverless endpoint in scope by the discovery tag, with provisioned concurrency 2 of its 10
# (ServerlessConfig: SageMaker's serverless inference), and an endpoint hosting one inference
# component (one copy) on an instance variant whose managed instance scaling may add one instance.
SERVERLESS_ENDPOINT = "quotes-serverless"
SERVERLESS_VARIANT = "AllTraffic"
SERVERLESS_CONFIG: ProductionVariantServerlessConfigTypeDef = {
    "MemorySizeInMB": 2048,
    "MaxConcurrency": 10,
    "ProvisionedConcurrency": 2,
}
COMPONENT_ENDPOINT = "assistant-llm"
COMPONENT = "llama3-8b"
COMPONENT_VARIANT = "AllTraffic"


def serverless_endpoint(cloud: LocalCloud) -> None:
    """`SERVERLESS_ENDPOINT`: one serverless variant (`SERVERLESS_CONFIG`: no instance type, no
    instance count), tagged with the discovery tag."""
    sagemaker = cloud.client("sagemaker")
    name = SERVERLESS_ENDPOINT
    sagemaker.create_model(
        ModelName=f"{name}-model", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": f"{IMAGE}:{name}"}
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=f"{name}-config-1",
        ProductionVariants=[
            {"VariantName": SERVERLESS_VARIANT, "ModelName": f"{name}-model", "ServerlessConfig": SERVERLESS_CONFIG}
        ],
    )
    sagemaker.create_endpoint(
        EndpointName=name,
        EndpointConfigName=f"{name}-config-1",
        Tags=[{"Key": DISCOVERY_TAG[0], "Value": DISCOVERY_TAG[1]}],
    )


def component_endpoint(cloud: LocalCloud) -> None:
    """`COMPONENT_ENDPOINT`, as AWS's inference-component examples make one: a config with an
    ExecutionRoleArn and a variant without a model (1 x ml.g5.2xlarge, managed instance scaling
    1-2), tagged with the discovery tag. Its component comes once it is InService (`add_component`)."""
    sagemaker = cloud.client("sagemaker")
    name = COMPONENT_ENDPOINT
    sagemaker.create_endpoint_config(
        EndpointConfigName=f"{name}-config-1",
        ExecutionRoleArn=ROLE,
        ProductionVariants=[
            {
                "VariantName": COMPONENT_VARIANT,
                "InstanceType": "ml.g5.2xlarge",
                "InitialInstanceCount": 1,
                "ManagedInstanceScaling": {"Status": "ENABLED", "MinInstanceCount": 1, "MaxInstanceCount": 2},
                "RoutingConfig": {"RoutingStrategy": "LEAST_OUTSTANDING_REQUESTS"},
            }
        ],
    )
    sagemaker.create_endpoint(
        EndpointName=name,
        EndpointConfigName=f"{name}-config-1",
        Tags=[{"Key": DISCOVERY_TAG[0], "Value": DISCOVERY_TAG[1]}],
    )


def add_component(cloud: LocalCloud, copies: int = 1) -> None:
    """`COMPONENT` on `COMPONENT_ENDPOINT` (CreateInferenceComponent): its model, the compute one
    copy needs, and `copies` copies."""
    sagemaker = cloud.client("sagemaker")
    model = f"{COMPONENT}-model"
    sagemaker.create_model(ModelName=model, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": f"{IMAGE}:{COMPONENT}"})
    sagemaker.create_inference_component(
        InferenceComponentName=COMPONENT,
        EndpointName=COMPONENT_ENDPOINT,
        VariantName=COMPONENT_VARIANT,
        Specification={
            "ModelName": model,
            "ComputeResourceRequirements": {
                "NumberOfAcceleratorDevicesRequired": 1,
                "NumberOfCpuCoresRequired": 1,
                "MinMemoryRequiredInMb": 1024,
            },
        },
        RuntimeConfig={"CopyCount": copies},
    )


ROLLED_COMPONENT = "llama3-8b-chat"  # the component an operator's new version is rolled to (scenarios.py)
ROLLED_GROUP = "assistant-chat"


def rolled_component(cloud: LocalCloud, copies: int = 4) -> tuple[str, str]:
    """`ROLLED_COMPONENT` on `COMPONENT_ENDPOINT` (made first when it is not there), its model made
    from package 1 of `ROLLED_GROUP` (Approved), `copies` copies; and package 2, Approved, not yet
    deployed. Their ARNs: (serving, candidate)."""
    sagemaker = cloud.client("sagemaker")
    if not sagemaker.list_endpoints(NameContains=COMPONENT_ENDPOINT)["Endpoints"]:
        component_endpoint(cloud)
    sagemaker.create_model_package_group(ModelPackageGroupName=ROLLED_GROUP)
    arns = [
        str(
            sagemaker.create_model_package(
                ModelPackageGroupName=ROLLED_GROUP,
                ModelApprovalStatus="Approved",
                InferenceSpecification={
                    "Containers": [{"Image": f"{IMAGE}:{ROLLED_GROUP}-{version}"}],
                    "SupportedContentTypes": ["application/json"],
                    "SupportedResponseMIMETypes": ["application/json"],
                },
            )["ModelPackageArn"]
        )
        for version in (1, 2)
    ]
    model = f"{ROLLED_COMPONENT}-model-1"
    sagemaker.create_model(ModelName=model, ExecutionRoleArn=ROLE, PrimaryContainer={"ModelPackageName": arns[0]})
    sagemaker.create_inference_component(
        InferenceComponentName=ROLLED_COMPONENT,
        EndpointName=COMPONENT_ENDPOINT,
        VariantName=COMPONENT_VARIANT,
        Specification={
            "ModelName": model,
            "ComputeResourceRequirements": {"NumberOfAcceleratorDevicesRequired": 1, "MinMemoryRequiredInMb": 1024},
        },
        RuntimeConfig={"CopyCount": copies},
    )
    return arns[0], arns[1]


def component_traffic(
    cloudwatch: CloudWatchClient, component: str, start: datetime, minutes: int, every: int, counts: tuple[float, float]
) -> None:
    """SageMaker's per-component Invocations and Invocation5XXErrors (AWS/SageMaker, dimension
    InferenceComponentName): `counts` (requests, 5XX answers) every `every` minutes from `start`."""
    data: list[MetricDatumTypeDef] = [
        {
            "MetricName": metric,
            "Dimensions": [{"Name": "InferenceComponentName", "Value": component}],
            "Timestamp": start + timedelta(minutes=minute, seconds=30),
            "Value": value,
        }
        for minute in range(0, minutes, every)
        for metric, value in (("Invocations", counts[0]), ("Invocation5XXErrors", counts[1]))
    ]
    for index in range(0, len(data), 500):
        cloudwatch.put_metric_data(Namespace="AWS/SageMaker", MetricData=data[index : index + 500])


def component_latency(cloudwatch: CloudWatchClient, start: datetime, minutes: int, latency_ms: float) -> None:
    """SageMaker's per-component ModelLatency of `COMPONENT` (AWS/SageMaker, dimension
    InferenceComponentName only, in microseconds), a datapoint a minute from `start`."""
    data: list[MetricDatumTypeDef] = [
        {
            "MetricName": "ModelLatency",
            "Dimensions": [{"Name": "InferenceComponentName", "Value": COMPONENT}],
            "Timestamp": start + timedelta(minutes=minute, seconds=30),
            "Value": latency_ms * 1000,
        }
        for minute in range(minutes)
    ]
    cloudwatch.put_metric_data(Namespace="AWS/SageMaker", MetricData=data)


def serverless_concurrency(cloud: LocalCloud) -> dict[str, int]:
    """The serverless variant's CurrentServerlessConfig, as DescribeEndpoint shows it."""
    described = cloud.client("sagemaker").describe_endpoint(EndpointName=SERVERLESS_ENDPOINT)
    [variant] = described["ProductionVariants"]
    config = variant.get("CurrentServerlessConfig", {})
    return {k: int(v) for k, v in config.items() if isinstance(v, int)}


def component_copies(cloud: LocalCloud) -> tuple[str, int, int]:
    """The component's status and current and desired copies (DescribeInferenceComponent)."""
    found = cloud.client("sagemaker").describe_inference_component(InferenceComponentName=COMPONENT)
    runtime = found.get("RuntimeConfig", {})
    return (
        found["InferenceComponentStatus"],
        int(runtime.get("CurrentCopyCount", 0)),
        int(runtime.get("DesiredCopyCount", 0)),
    )


def instance_counts(cloud: LocalCloud, name: str) -> dict[str, int]:
    """The endpoint's instances per variant."""
    described = cloud.client("sagemaker").describe_endpoint(EndpointName=name)
    return {v["VariantName"]: int(v.get("CurrentInstanceCount", 0)) for v in described["ProductionVariants"]}


def _training_data(s3: S3Client) -> None:
    """The model's training set (age ~ N(45, 10), plan 50/30/20), where drift baselines live;
    the label (churned) first, as SageMaker's built-in algorithms expect it."""
    rng, churned = random.Random("training"), random.Random("churned")  # the label apart: same features as before
    rows = ["churned,age,plan"] + [
        f"{int(churned.random() < 0.3)},{rng.gauss(45, 10):.2f},{rng.choices(PLANS, (50, 30, 20))[0]}"
        for _ in range(5000)
    ]
    s3.put_object(Bucket=DATA_BUCKET, Key=f"baselines/{ENDPOINT}/training.csv", Body="\n".join(rows).encode())


def register_package(
    cloud: LocalCloud, version: str, accuracy: float, status: ModelApprovalStatusType = "PendingManualApproval"
) -> str:
    """What a retraining pipeline's RegisterModel step leaves: a model package of the group with
    its evaluation (a SageMaker model quality report, as ModelMetrics.ModelQuality) in S3."""
    key = f"model-metrics/{version}/evaluation.json"
    report = {"binary_classification_metrics": {"accuracy": {"value": accuracy, "standard_deviation": 0.005}}}
    cloud.client("s3").put_object(Bucket=DATA_BUCKET, Key=key, Body=json.dumps(report).encode())
    return str(
        cloud.client("sagemaker").create_model_package(
            ModelPackageGroupName=PACKAGE_GROUP,
            ModelApprovalStatus=status,
            InferenceSpecification={
                "Containers": [{"Image": f"{IMAGE}:{version}"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
            ModelMetrics={
                "ModelQuality": {
                    "Statistics": {"ContentType": "application/json", "S3Uri": f"s3://{DATA_BUCKET}/{key}"}
                }
            },
        )["ModelPackageArn"]
    )


def solo_config(cloud: LocalCloud, name: str, model: str) -> str:
    """An endpoint config serving `model` alone, as the primary (2 instances)."""
    cloud.client("sagemaker").create_endpoint_config(
        EndpointConfigName=name, ProductionVariants=[_variant("primary", model, count=2, weight=1.0)]
    )
    return name


def capture_record(features: str, event_id: str, time: str, output: str = "0.31", inference_id: str = "") -> str:
    """One data-capture line as SageMaker writes it: CSV input and output (docs/aws-behaviours.md,
    "Data capture and ground truth formats")."""
    metadata = {"eventId": event_id, "inferenceTime": time}
    if inference_id:
        metadata["inferenceId"] = inference_id
    return json.dumps(
        {
            "captureData": {
                "endpointInput": {
                    "observedContentType": "text/csv",
                    "mode": "INPUT",
                    "data": features,
                    "encoding": "CSV",
                },
                "endpointOutput": {
                    "observedContentType": "text/csv",
                    "mode": "OUTPUT",
                    "data": output,
                    "encoding": "CSV",
                },
            },
            "eventMetadata": metadata,
            "eventVersion": "0",
        }
    )


def capture(cloud: LocalCloud, hour: datetime, rows: int, mean_age: float, mix: tuple[int, int, int]) -> None:
    """An hour of data capture of the primary variant, in SageMaker's layout and record format."""
    rng = random.Random(f"{hour:%Y%m%d%H}{mean_age}")
    lines = []
    for index in range(rows):
        features = f"{rng.gauss(mean_age, 10):.2f},{rng.choices(PLANS, mix)[0]}"
        at = (hour + timedelta(seconds=index)).strftime("%Y-%m-%dT%H:%M:%SZ")
        lines.append(capture_record(features, f"{hour:%H}-{index}", at))
    key = f"datacapture/{ENDPOINT}/primary/{hour:%Y/%m/%d/%H}/capture-{hour:%M%S}.jsonl"
    cloud.client("s3").put_object(Bucket=DATA_BUCKET, Key=key, Body="\n".join(lines).encode())


def capture_json_batches(
    cloud: LocalCloud, hour: datetime, requests: int, per_request: int, mean_age: float, mix: tuple[int, int, int]
) -> int:
    """An hour of batched JSON traffic to the primary variant: each request carries
    `per_request` instances in the built-in algorithms' format
    (`{"instances": [{"features": [age, plan]}, ...]}`), each response as many predictions
    (`{"predictions": [{"score": ..., "predicted_label": ...}, ...]}`). Returns the rows."""
    rng = random.Random(f"json{hour:%Y%m%d%H}{mean_age}")
    lines = []
    for index in range(requests):
        instances = [
            {"features": [round(rng.gauss(mean_age, 10), 2), rng.choices(PLANS, mix)[0]]} for _ in range(per_request)
        ]
        scores = [round(rng.random(), 3) for _ in instances]
        at = (hour + timedelta(seconds=index * 3)).strftime("%Y-%m-%dT%H:%M:%SZ")
        lines.append(
            json.dumps(
                {
                    "captureData": {
                        "endpointInput": {
                            "observedContentType": "application/json",
                            "mode": "INPUT",
                            "data": json.dumps({"instances": instances}),
                            "encoding": "JSON",
                        },
                        "endpointOutput": {
                            "observedContentType": "application/json",
                            "mode": "OUTPUT",
                            "data": json.dumps(
                                {"predictions": [{"score": s, "predicted_label": int(s >= 0.5)} for s in scores]}
                            ),
                            "encoding": "JSON",
                        },
                    },
                    "eventMetadata": {"eventId": f"json-{hour:%H}-{index}", "inferenceTime": at},
                    "eventVersion": "0",
                }
            )
        )
    key = f"datacapture/{ENDPOINT}/primary/{hour:%Y/%m/%d/%H}/batched-{hour:%M%S}.jsonl"
    cloud.client("s3").put_object(Bucket=DATA_BUCKET, Key=key, Body="\n".join(lines).encode())
    return requests * per_request


def _variant(name: str, model: str, count: int, weight: float) -> ProductionVariantTypeDef:
    return {
        "VariantName": name,
        "ModelName": model,
        "InitialInstanceCount": count,
        "InstanceType": "ml.m5.large",
        "InitialVariantWeight": weight,
    }


def _metrics(cloudwatch: CloudWatchClient, at: datetime) -> None:
    """An hour of SageMaker's own metrics per variant, one datapoint a minute: steady traffic
    and errors, model latency climbing past a second in the last ten minutes."""
    begin = at - timedelta(minutes=60)
    for variant, per_minute in (("primary", 90.0), ("canary", 10.0)):
        variant_metrics(cloudwatch, ENDPOINT, variant, begin, 50, per_minute, error_rate=0.004, latency_ms=170.0)
        later = begin + timedelta(minutes=50)
        variant_metrics(cloudwatch, ENDPOINT, variant, later, 10, per_minute, error_rate=0.004, latency_ms=1270.0)


def variant_metrics(
    cloudwatch: CloudWatchClient,
    endpoint: str,
    variant: str,
    start: datetime,
    minutes: int,
    per_minute: float,
    error_rate: float = 0.0,
    latency_ms: float = 200.0,
) -> None:
    """SageMaker's own metrics of one variant (AWS/SageMaker), a datapoint a minute from
    `start`: invocations, 5XX errors at `error_rate`, and a total latency of `latency_ms`
    (ModelLatency plus a 20 ms OverheadLatency, in microseconds as SageMaker reports them)."""
    overhead_us = 20_000.0
    data: list[MetricDatumTypeDef] = []
    for minute in range(minutes):
        for name, value in (
            ("Invocations", per_minute),
            ("Invocation4XXErrors", 0.0),
            ("Invocation5XXErrors", per_minute * error_rate),
            ("ModelLatency", latency_ms * 1000 - overhead_us),
            ("OverheadLatency", overhead_us),
        ):
            data.append(
                {
                    "MetricName": name,
                    "Dimensions": [
                        {"Name": "EndpointName", "Value": endpoint},
                        {"Name": "VariantName", "Value": variant},
                    ],
                    "Timestamp": start + timedelta(minutes=minute, seconds=30),
                    "Value": value,
                }
            )
    for first in range(0, len(data), 1000):
        cloudwatch.put_metric_data(Namespace="AWS/SageMaker", MetricData=data[first : first + 1000])


def predictions_and_labels(cloud: LocalCloud, hour: datetime, variants: dict[str, tuple[int, float]]) -> str:
    """Per variant (count, accuracy): predictions captured in `hour` with inference ids, and
    their labels collected an hour later, right `accuracy` of the time; returns the labels' key."""
    rng = random.Random(f"quality{hour:%Y%m%d%H}")
    s3 = cloud.client("s3")
    labels = []
    for variant, (count, accuracy) in variants.items():
        records = []
        for index in range(count):
            inference_id = f"{variant}-{hour:%H}-{index}"
            truth = rng.random() < 0.3
            right = rng.random() < accuracy
            score = (0.8 if truth else 0.2) if right else (0.2 if truth else 0.8)
            at = hour.strftime("%Y-%m-%dT%H:%M:%SZ")
            records.append(capture_record("44.0,plus", f"e-{inference_id}", at, f"{score:.2f}", inference_id))
            labels.append(
                json.dumps(
                    {
                        "groundTruthData": {"data": "1" if truth else "0", "encoding": "CSV"},
                        "eventMetadata": {"eventId": inference_id},
                        "eventVersion": "0",
                    }
                )
            )
        key = f"datacapture/{ENDPOINT}/{variant}/{hour:%Y/%m/%d/%H}/predictions.jsonl"
        s3.put_object(Bucket=DATA_BUCKET, Key=key, Body="\n".join(records).encode())
    labelled = hour + timedelta(hours=1)
    key = f"groundtruth/{ENDPOINT}/{labelled:%Y/%m/%d/%H}/labels.jsonl"
    s3.put_object(Bucket=DATA_BUCKET, Key=key, Body="\n".join(labels).encode())
    return key


def traffic(
    cloud: LocalCloud, variant: str, start: datetime, minutes: int, per_minute: float, error_rate: float
) -> None:
    """The demo endpoint's variant serving `per_minute` requests a minute at 200 ms."""
    variant_metrics(cloud.client("cloudwatch"), ENDPOINT, variant, start, minutes, per_minute, error_rate)


def second_config(cloud: LocalCloud) -> str:
    """A new model's endpoint config: churn-v2 as the primary, the canary variant kept idle."""
    name = f"{ENDPOINT}-config-2"
    cloud.client("sagemaker").create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            _variant("primary", "churn-v2", count=2, weight=1.0),
            _variant("canary", "churn-v2", count=1, weight=0.0),
        ],
    )
    return name


def start_rollout(cloud: LocalCloud, share: float) -> None:
    """An operator sends `share` (0-1) of the traffic to the canary."""
    cloud.client("sagemaker").update_endpoint_weights_and_capacities(
        EndpointName=ENDPOINT,
        DesiredWeightsAndCapacities=[
            {"VariantName": "primary", "DesiredWeight": 1.0 - share},
            {"VariantName": "canary", "DesiredWeight": share},
        ],
    )


def endpoint_state(cloud: LocalCloud) -> dict[str, Any]:
    """What a person looks at: config, variants (weight, instances), the primary's floor."""
    described = cloud.client("sagemaker").describe_endpoint(EndpointName=ENDPOINT)
    targets = cloud.client("application-autoscaling").describe_scalable_targets(
        ServiceNamespace="sagemaker", ResourceIds=[f"endpoint/{ENDPOINT}/variant/primary"]
    )["ScalableTargets"]
    return {
        "config": described["EndpointConfigName"],
        "variants": {
            v["VariantName"]: {"weight": v.get("CurrentWeight"), "instances": v.get("CurrentInstanceCount")}
            for v in described["ProductionVariants"]
        },
        "primary_min_capacity": targets[0]["MinCapacity"] if targets else None,
    }
