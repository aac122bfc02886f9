"""The fleet at 100 and 500 endpoints discovered by tag, in moto (`make bench`): the AWS
calls by operation and the wall time of

* AlarmManagerFunction's first reconciliation (every alarm and dashboard created, over as
  many runs as its write budget of 400 calls a run takes; in AWS each run paces its writes
  to CloudWatch's 3 a second, unpaced here), a run with nothing to change (it must write
  nothing), and one endpoint's state change;
* ScaleUpFunction sweeps (the 5-minute schedule) over the whole fleet, nothing in ALARM:
  the first after an upgrade (it reads every endpoint once to enter incidents and boosts
  written before the rosters existed, then marks the rosters complete) and the ones after it
  (one Query per roster, and one per endpoint the rosters name - none here).
"""

import os
import time
from collections import Counter
from typing import Any

import boto3
from moto import mock_aws

from benchmarks.calls import counting_calls, moto_environment, print_runs

SIZES = (100, 500)
READERS = ("Describe", "Get", "List", "Query", "Scan")
SCHEDULED = {
    "version": "0",
    "id": "bench",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2026-11-23T10:00:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/bench"],
    "detail": {},
}


def seed(size: int) -> dict[str, str]:
    """`size` endpoints tagged model-medic=on, the stack's ledger, topics and kill switch;
    returns the functions' environment."""
    sagemaker, sns = boto3.client("sagemaker"), boto3.client("sns")
    sagemaker.create_model(
        ModelName="m", ExecutionRoleArn="arn:aws:iam::123456789012:role/r", PrimaryContainer={"Image": "i"}
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName="c",
        ProductionVariants=[
            {"VariantName": "primary", "ModelName": "m", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
        ],
    )
    for i in range(size):
        sagemaker.create_endpoint(
            EndpointName=f"endpoint-{i:03d}", EndpointConfigName="c", Tags=[{"Key": "model-medic", "Value": "on"}]
        )
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
    topics = {name: sns.create_topic(Name=name)["TopicArn"] for name in ("info", "critical", "warning")}
    return {
        "LEDGER_TABLE": "ledger",
        "INFO_TOPIC_ARN": topics["info"],
        "CRITICAL_TOPIC_ARN": topics["critical"],
        "WARNING_TOPIC_ARN": topics["warning"],
        "MONITORED_ENDPOINTS": "endpoint-000",
        "DISCOVERY_TAG": "model-medic=on",
        "STACK_NAME": "model-medic-bench",
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
        "AUTOMATION_MODE": "enforce",
        "MODE_PARAMETER_NAME": "/model-medic/bench/mode",
        "ACTIONS_PER_HOUR": "6",
        "MAX_INSTANCE_COUNT": "4",
        "SCALE_STEP": "1",
        "SCALE_UP_COOLDOWN_MINUTES": "10",
        "SCALE_BACK_AFTER_MINUTES": "15",
        "ALARM_WRITES_PER_SECOND": "0",  # moto has no quota; AWS: 3 a second (see alarm_manager.py)
    }


def timed(run: Any) -> tuple[Counter[str], float, Any]:
    with counting_calls() as calls:
        started = time.perf_counter()
        result = run()
        elapsed = time.perf_counter() - started
    return calls, elapsed, result


def measure(size: int) -> list[tuple[str, Counter[str], float]]:
    from benchmarks.calls import handler
    from model_medic.platform import aws
    from model_medic.platform.settings import load_settings

    rows = []
    with mock_aws():
        aws.reset()
        load_settings.cache_clear()
        os.environ.update(seed(size))
        event = {**SCHEDULED}
        scale_up, manage_alarms = handler("scale_up"), handler("manage_alarms")
        runs, first, spent = 0, Counter[str](), 0.0
        while True:
            calls, elapsed, result = timed(lambda: manage_alarms(event, None))
            runs, spent = runs + 1, spent + elapsed
            first.update(calls)
            if not result["reconciled"]["pending"]:
                break
        rows.append((f"alarms: first reconciliation ({runs} runs)", first, spent))
        calls, elapsed, result = timed(lambda: manage_alarms(event, None))
        assert result["reconciled"]["unchanged"] == size * 4, result["reconciled"]  # no canary variant: 4 each
        assert not [op for op in calls if not op.startswith(READERS)], calls
        rows.append(("alarms: nothing to change", calls, elapsed))
        changed = {
            "detail-type": "SageMaker Endpoint State Change",
            "source": "aws.sagemaker",
            "detail": {"EndpointName": "endpoint-042", "EndpointStatus": "IN_SERVICE"},
        }
        calls, elapsed, _ = timed(lambda: manage_alarms(changed, None))
        rows.append(("alarms: one endpoint's state change", calls, elapsed))
        calls, elapsed, _ = timed(lambda: scale_up(event, None))
        rows.append(("ScaleUpFunction sweep: the first (enters the rosters)", calls, elapsed))
        calls, elapsed, _ = timed(lambda: scale_up(event, None))
        rows.append(("ScaleUpFunction sweep: every one after", calls, elapsed))
        aws.reset()
        load_settings.cache_clear()
    return rows


def main() -> None:
    moto_environment()
    print("The fleet: endpoints discovered by tag, one variant each (4 alarms and a dashboard), in moto\n")
    for size in SIZES:
        print_runs(size, measure(size))


if __name__ == "__main__":
    main()
