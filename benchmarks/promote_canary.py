"""PromoteCanaryFunction at fleet size, in moto (`make bench`): 100 and 500 endpoints
discovered by tag, the AWS calls by operation and the wall time of, in the order of a
deployment's life:

* the first tick after deployment: it enters the rollout roster (one Query per endpoint,
  once in the stack's life, incidents.py), adopts the canary an operator put on one endpoint
  and learns what READS_PER_TICK endpoint configs serve;
* an approval (a "SageMaker Model Package State Change" to Approved) of a package in a group
  that 2 endpoints serve, while what most configs serve is not known yet: it finds the 2
  endpoints and deploys the package as a canary on each;
* an approval in another group that 2 endpoints serve, what every config serves now known;
* two ticks that judge the 5 rollouts (the second finds every verdict as it was).

The fleet: each endpoint has its own endpoint config and model, serving the approved version
of one of 12 model package groups (every 10th endpoint a model made from an image, every
25th an endpoint of inference components, whose variant names no model). In AWS a call takes
about 100 ms: a run's call count times 0.1 s is about what its Lambda would take, however
fast moto answers here.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import boto3
from moto import mock_aws

from benchmarks.calls import counting_calls, moto_environment, print_runs

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sagemaker.literals import ModelApprovalStatusType

SIZES = (100, 500)
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
ROLE = "arn:aws:iam::123456789012:role/sagemaker-execution"
APPROVED = ("churn", "fraud")  # the groups approvals deploy; each served by 2 endpoints
GROUPS = (*APPROVED, *(f"group-{g}" for g in range(10)))


def _package(
    sagemaker: SageMakerClient, s3: S3Client, group: str, accuracy: float, status: ModelApprovalStatusType
) -> str:
    key = f"{group}/{accuracy}/evaluation.json"
    body = f'{{"binary_classification_metrics": {{"accuracy": {{"value": {accuracy}}}}}}}'
    s3.put_object(Bucket="bench-model-metrics", Key=key, Body=body.encode())
    return str(
        sagemaker.create_model_package(
            ModelPackageGroupName=group,
            ModelApprovalStatus=status,
            InferenceSpecification={
                "Containers": [{"Image": f"123456789012.dkr.ecr.us-east-1.amazonaws.com/{group}:1"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
            ModelMetrics={
                "ModelQuality": {
                    "Statistics": {"ContentType": "application/json", "S3Uri": f"s3://bench-model-metrics/{key}"}
                }
            },
        )["ModelPackageArn"]
    )


def serving(index: int) -> str | None:
    """The group endpoint `index` serves (None: a model made from an image, or no model at all)."""
    if index < 2 * len(APPROVED):
        return APPROVED[index // 2]
    if index % 10 == 0 or index % 25 == 7:
        return None
    return GROUPS[len(APPROVED) + index % 10]


def seed(size: int) -> dict[str, str]:
    """The fleet, the stack's ledger, topics and kill switch; returns the function's environment."""
    sagemaker, sns, s3 = boto3.client("sagemaker"), boto3.client("sns"), boto3.client("s3")
    s3.create_bucket(Bucket="bench-model-metrics")
    approved = {}
    for group in GROUPS:
        sagemaker.create_model_package_group(ModelPackageGroupName=group)
        approved[group] = _package(sagemaker, s3, group, 0.85, "Approved")
    tag = [{"Key": "model-medic", "Value": "on"}]
    for i in range(size):
        name = f"endpoint-{i:03d}"
        served = serving(i)
        container = {"ModelPackageName": approved[served]} if served else {"Image": "123456789012.dkr.ecr/any:1"}
        variants: list[dict[str, Any]] = []
        if i % 25 == 7:
            # An inference-component endpoint: its variant names no model (the components do).
            variants.append({"VariantName": "primary", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1})
        else:
            sagemaker.create_model(ModelName=f"model-{i:03d}", ExecutionRoleArn=ROLE, PrimaryContainer=container)
            variants.append(
                {
                    "VariantName": "primary",
                    "ModelName": f"model-{i:03d}",
                    "InstanceType": "ml.m5.large",
                    "InitialInstanceCount": 4,
                    "InitialVariantWeight": 0.95 if i == size - 1 else 1.0,
                }
            )
        if i == size - 1:  # an operator's canary, at 5 %: adopted by the first tick
            canary = {"VariantName": "canary", "InitialInstanceCount": 1, "InitialVariantWeight": 0.05}
            variants.append({**variants[0], **canary})
        sagemaker.create_endpoint_config(EndpointConfigName=f"config-{i:03d}", ProductionVariants=variants)
        sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=f"config-{i:03d}", Tags=tag)
    boto3.client("dynamodb").create_table(
        TableName="ledger",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    )
    boto3.client("ssm").put_parameter(Name="/model-medic/bench/mode", Value="inherit", Type="String")
    topics = {name: sns.create_topic(Name=name)["TopicArn"] for name in ("info", "critical")}
    return {
        "LEDGER_TABLE": "ledger",
        "INFO_TOPIC_ARN": topics["info"],
        "CRITICAL_TOPIC_ARN": topics["critical"],
        "EVENT_BUS_NAME": "default",
        "MONITORED_ENDPOINTS": "",
        "DISCOVERY_TAG": "model-medic=on",
        "AUTOMATION_MODE": "enforce",
        "MODE_PARAMETER_NAME": "/model-medic/bench/mode",
        "MODE_CACHE_SECONDS": "300",
        "ACTIONS_PER_HOUR": "20",
        "PRIMARY_VARIANT": "primary",
        "CANARY_VARIANT": "canary",
        "CANARY_STEPS": "5,10,25,50,100",
        "CANARY_BAKE_MINUTES": "30",
        "CANARY_MIN_INVOCATIONS": "100",
        "CANARY_MAX_ERROR_RATE": "5",
        "CANARY_MAX_LATENCY_MS": "1000",
        "MAX_INSTANCE_COUNT": "10",
        "MODEL_PACKAGE_GROUPS": ",".join(APPROVED),
        "CANDIDATE_METRIC": "accuracy",
    }


def approval(arn: str, group: str, at: datetime) -> dict[str, Any]:
    boto3.client("sagemaker").update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "version": "0",
        "id": f"approved-{arn}",
        "detail-type": "SageMaker Model Package State Change",
        "source": "aws.sagemaker",
        "account": "123456789012",
        "time": stamp,
        "region": "us-east-1",
        "resources": [arn],
        "detail": {
            "ModelPackageGroupName": group,
            "ModelPackageArn": arn,
            "ModelApprovalStatus": "Approved",
            "UpdatedModelPackageFields": ["ModelApprovalStatus"],
            "LastModifiedTime": stamp,
        },
    }


def scheduled(at: datetime) -> dict[str, Any]:
    return {
        "version": "0",
        "id": f"tick-{at.isoformat()}",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/bench"],
        "detail": {},
    }


def timed(run: Any) -> tuple[Counter[str], float, Any]:
    with counting_calls() as calls:
        started = time.perf_counter()
        result = run()
        elapsed = time.perf_counter() - started
    return calls, elapsed, result


def measure(size: int) -> list[tuple[str, Counter[str], float]]:
    import time_machine

    from benchmarks.calls import handler
    from model_medic.platform import aws
    from model_medic.platform.settings import load_settings
    from model_medic.remediate.rollout.targets import READS_PER_TICK

    rows = []
    with mock_aws():
        aws.reset()
        load_settings.cache_clear()
        os.environ.update(seed(size))
        sagemaker, s3 = boto3.client("sagemaker"), boto3.client("s3")
        promote = handler("promote_canary")

        def handle(event: dict[str, Any], at: datetime) -> dict[str, Any]:
            with time_machine.travel(at, tick=False):
                return promote(event, None)

        calls, elapsed, result = timed(lambda: handle(scheduled(T0), T0))
        assert [o["alarm_name"] for o in result["outcomes"]] == [f"endpoint-{size - 1:03d} canary"], result
        label = f"tick: the first (enters the roster, adopts 1 operator canary, learns {READS_PER_TICK} configs)"
        rows.append((label, calls, elapsed))
        for minute, group in ((1, APPROVED[0]), (2, APPROVED[1])):
            at = T0 + timedelta(minutes=minute)
            candidate = _package(sagemaker, s3, group, 0.91, "PendingManualApproval")
            event = approval(candidate, group, at)
            calls, elapsed, result = timed(lambda e=event, t=at: handle(e, t))
            acted = [o["endpoint"] for o in result["outcomes"] if o["result"] == "acted"]
            assert acted == [f"endpoint-{i:03d}" for i in range(size) if serving(i) == group], result
            known = "most configs not known yet" if minute == 1 else "every config known"
            rows.append((f"approval: 2 endpoints serve {group} ({known}), 2 canaries deployed", calls, elapsed))
        for minute, label in ((10, "records their verdicts"), (20, "verdicts unchanged")):
            at = T0 + timedelta(minutes=minute)
            calls, elapsed, _ = timed(lambda t=at: handle(scheduled(t), t))
            rows.append((f"tick: judges 5 rollouts ({label})", calls, elapsed))
        aws.reset()
        load_settings.cache_clear()
    return rows


def main() -> None:
    from localcloud.moto_extensions import install_all

    install_all()  # UpdateEndpoint, Search's pages, inference-component configs (localcloud/moto_extensions.py)
    moto_environment(POWERTOOLS_LOG_LEVEL="WARNING")  # the decisions' log lines are not the point here
    print("PromoteCanaryFunction: endpoints discovered by tag, in moto (in AWS a call takes about 100 ms)\n")
    for size in SIZES:
        print_runs(size, measure(size))


if __name__ == "__main__":
    main()
