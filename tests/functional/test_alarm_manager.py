"""AlarmManagerFunction against moto: a 200-endpoint fleet gets its alarms, a second
reconciliation writes nothing, endpoints that leave scope lose theirs, the stack's delete
removes them all - and only alarms the stack made are ever changed."""

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import TYPE_CHECKING, Any, ClassVar, cast

import boto3
import pytest

from tests.conftest import REGION, FakeContext, Stack, load_event, load_handler

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_resourcegroupstaggingapi import ResourceGroupsTaggingAPIClient

STACK = "model-medic-test"
TAG = {"Key": "model-medic", "Value": "on"}
SUFFIXES = ("HighErrorRate", "HighLatency", "DataDrift", "ModelAccuracyDrop", "canary-ErrorRate", "canary-Latency")
SCHEDULE = load_event("manage_alarms/schedule.json")


@pytest.fixture
def fleet_env(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Stack:
    warning = stack.sns.create_topic(Name="model-medic-warning")["TopicArn"]
    for name, value in {
        "STACK_NAME": STACK,
        "WARNING_TOPIC_ARN": warning,
        "DISCOVERY_TAG": "model-medic=on",
        "MONITORED_ENDPOINTS": "churn-prod",
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
        "ALARM_WRITES_PER_SECOND": "0",  # moto has no quota to keep to
        "ALARM_WRITES_PER_RUN": "5000",
    }.items():
        monkeypatch.setenv(name, value)
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    sagemaker.create_model(
        ModelName="m",
        ExecutionRoleArn="arn:aws:iam::123456789012:role/sagemaker-execution",
        PrimaryContainer={"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/m:latest"},
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName="shared",
        ProductionVariants=[
            {"VariantName": "primary", "ModelName": "m", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
        ],
    )
    return stack


def endpoints(count: int, prefix: str = "fleet", tags: list[dict[str, str]] | None = None) -> list[str]:
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    names = [f"{prefix}-{i:03d}" for i in range(count)]
    for name in names:
        sagemaker.create_endpoint(EndpointName=name, EndpointConfigName="shared", Tags=tags or [TAG])
    return names


def run(event: Any) -> dict[str, Any]:
    result: dict[str, Any] = load_handler("manage_alarms").lambda_handler(event, FakeContext())
    return result


def alarm_names() -> set[str]:
    cw = boto3.client("cloudwatch", region_name=REGION)
    return {a["AlarmName"] for page in cw.get_paginator("describe_alarms").paginate() for a in page["MetricAlarms"]}


def dashboards() -> set[str]:
    cw = boto3.client("cloudwatch", region_name=REGION)
    return {d["DashboardName"] for d in cw.list_dashboards()["DashboardEntries"]}


def unrelated_alarm() -> None:
    boto3.client("cloudwatch", region_name=REGION).put_metric_alarm(
        AlarmName="someone-elses",
        MetricName="CPUUtilization",
        Namespace="AWS/EC2",
        Statistic="Average",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanThreshold",
    )


def expected(names: list[str]) -> set[str]:
    return {f"{n}-{s}" for n in names for s in SUFFIXES}


def test_a_fleet_of_200_gets_its_alarms_and_a_second_pass_reads_little_and_writes_nothing(
    fleet_env: Stack, aws_requests: list[tuple[str, str, dict[str, Any]]]
) -> None:
    names = endpoints(200)
    endpoints(3, prefix="untagged", tags=[{"Key": "team", "Value": "x"}])
    first = run(SCHEDULE)["reconciled"]
    assert len(first["created"]) == 201 * 6  # 200 tagged + churn-prod, named (need not exist yet)
    assert alarm_names() == expected([*names, "churn-prod"])
    assert len(dashboards()) == 201
    cw = boto3.client("cloudwatch", region_name=REGION)
    arn = cw.describe_alarms(AlarmNames=["fleet-007-HighLatency"])["MetricAlarms"][0]["AlarmArn"]
    assert {"Key": "model-medic:stack", "Value": STACK} in cw.list_tags_for_resource(ResourceARN=arn)["Tags"]

    aws_requests.clear()
    second = run(SCHEDULE)["reconciled"]
    assert second["unchanged"] == 201 * 6
    assert second["created"] == second["updated"] == second["deleted"] == second["dashboards_put"] == []
    readers = ("Describe", "Get", "List")
    assert [op for _, op, _ in aws_requests if not op.startswith(readers)] == []
    operations = [op for _, op, _ in aws_requests]
    # 203 endpoints in pages of 100, their tags 100 a page, 1,206 alarms 100 a page twice
    # (owned by tag, configuration by name), dashboards in one listing.
    assert operations.count("ListEndpoints") == 3
    assert operations.count("GetResources") <= 3 + 13 + 1  # moto also pages at 100 tags
    assert operations.count("DescribeAlarms") == 13
    assert operations.count("ListDashboards") == 1
    assert "ListTagsForResource" not in operations
    assert "ListTags" not in operations
    assert "GetDashboard" not in operations
    assert "DescribeEndpoint" not in operations


def test_the_stacks_alarms_are_found_by_tag_100_a_page(
    fleet_env: Stack, aws_requests: list[tuple[str, str, dict[str, Any]]]
) -> None:
    endpoints(1)
    run(SCHEDULE)
    owned = [
        params
        for service, op, params in aws_requests
        if (service, op) == ("resourcegroupstaggingapi", "GetResources")
        and params.get("ResourceTypeFilters") == ["cloudwatch:alarm"]
    ]
    assert owned
    assert all(params["ResourcesPerPage"] == 100 for params in owned)


def test_endpoints_that_leave_scope_lose_their_alarms_and_nothing_else_is_touched(fleet_env: Stack) -> None:
    names = endpoints(12)
    cw = boto3.client("cloudwatch", region_name=REGION)
    # Not ours: an unrelated alarm, and one with a fleet alarm's name that another stack owns.
    unrelated_alarm()
    cw.put_metric_alarm(
        AlarmName="fleet-011-HighLatency",
        MetricName="TotalLatency",
        Namespace="Custom/SageMaker",
        Dimensions=[{"Name": "EndpointName", "Value": "fleet-011"}],
        Statistic="Average",
        Period=60,
        EvaluationPeriods=1,
        Threshold=99,
        ComparisonOperator="GreaterThanThreshold",
        Tags=[{"Key": "model-medic:stack", "Value": "another-stack"}],
    )
    result = run(SCHEDULE)["reconciled"]
    assert result["conflicts"] == ["fleet-011-HighLatency"]
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    for name in names[:3]:  # untagged: out of scope
        arn = sagemaker.describe_endpoint(EndpointName=name)["EndpointArn"]
        sagemaker.delete_tags(ResourceArn=arn, TagKeys=["model-medic"])
    for name in names[3:5]:  # deleted
        sagemaker.delete_endpoint(EndpointName=name)
    result = run(SCHEDULE)["reconciled"]
    assert sorted(result["deleted"]) == sorted(expected(names[:5]))
    assert len(result["dashboards_deleted"]) == 5
    assert alarm_names() == expected([*names[5:], "churn-prod"]) | {"someone-elses"}
    held = cw.describe_alarms(AlarmNames=["fleet-011-HighLatency"])["MetricAlarms"][0]
    assert held["Threshold"] == 99  # another stack's alarm: neither updated nor deleted


def test_a_drifted_alarm_is_put_back(fleet_env: Stack) -> None:
    endpoints(2)
    run(SCHEDULE)
    cw = boto3.client("cloudwatch", region_name=REGION)
    [alarm] = cw.describe_alarms(AlarmNames=["fleet-001-HighErrorRate"])["MetricAlarms"]
    keep = {
        k: alarm[k]
        for k in ("AlarmName", "MetricName", "Namespace", "Dimensions", "Statistic", "Period", "EvaluationPeriods")
    }
    cw.put_metric_alarm(**keep, Threshold=50.0, ComparisonOperator="GreaterThanThreshold")
    result = run(SCHEDULE)["reconciled"]
    assert result["updated"] == ["fleet-001-HighErrorRate"]
    [alarm] = cw.describe_alarms(AlarmNames=["fleet-001-HighErrorRate"])["MetricAlarms"]
    assert (alarm["Threshold"], alarm["AlarmActions"]) == (5.0, [fleet_env.topics["critical"]])


def test_a_run_keeps_to_its_write_budget_and_the_next_runs_carry_on(
    fleet_env: Stack, monkeypatch: pytest.MonkeyPatch, aws_requests: list[tuple[str, str, dict[str, Any]]]
) -> None:
    names = endpoints(20)
    monkeypatch.setenv("ALARM_WRITES_PER_RUN", "50")
    runs, first = 0, None
    while True:
        aws_requests.clear()
        result = run(SCHEDULE)["reconciled"]
        runs += 1
        first = first or result
        writes = [op for _, op, _ in aws_requests if op.startswith(("Put", "Delete"))]
        assert len(writes) <= 50
        if not result["pending"]:
            break
    assert (len(first["created"]), first["pending"]) == (50, 21 * 7 - 50)  # 6 alarms + a dashboard each
    assert runs == 3
    assert alarm_names() == expected([*names, "churn-prod"])
    assert len(dashboards()) == 21


def test_writes_are_paced_to_cloudwatchs_rate() -> None:
    from model_medic.fleet.alarm_manager import AlarmManager, StackPlace, WritePace

    waits: list[float] = []
    manager = AlarmManager(
        cast("CloudWatchClient", None),
        cast("ResourceGroupsTaggingAPIClient", None),
        StackPlace("s", "r", "p"),
        lambda *_: [],
        WritePace(per_second=3.0, sleep=waits.append),
    )
    assert all(manager._may_write() for _ in range(4))
    assert len(waits) == 3
    assert all(0 < w <= 1 / 3 for w in waits)


def state_change(endpoint: str, status: str) -> dict[str, Any]:
    event: dict[str, Any] = load_event("manage_alarms/endpoint_in_service.json")
    event["resources"] = [f"arn:aws:sagemaker:us-east-1:123456789012:endpoint/{endpoint}"]
    event["detail"] = {**event["detail"], "EndpointName": endpoint, "EndpointStatus": status, "Tags": {}}
    return event


def test_a_state_change_reconciles_that_endpoint_alone(
    fleet_env: Stack, aws_requests: list[tuple[str, str, dict[str, Any]]]
) -> None:
    [new] = endpoints(1, prefix="fresh")
    endpoints(1, prefix="other")
    aws_requests.clear()
    result = run(state_change(new, "IN_SERVICE"))["reconciled"]
    assert sorted(result["created"]) == sorted(expected([new]))
    assert alarm_names() == expected([new])  # not the other endpoint, not churn-prod
    assert len([op for _, op, _ in aws_requests if op.startswith(("Describe", "Get", "List"))]) <= 6
    boto3.client("sagemaker", region_name=REGION).delete_endpoint(EndpointName=new)
    result = run(state_change(new, "DELETING"))["reconciled"]
    assert sorted(result["deleted"]) == sorted(expected([new]))
    assert alarm_names() == set()
    assert dashboards() == set()


def test_a_named_endpoint_keeps_its_alarms_while_it_is_deleted_and_an_untagged_one_gets_none(fleet_env: Stack) -> None:
    run(state_change("churn-prod", "IN_SERVICE"))
    assert alarm_names() == expected(["churn-prod"])
    run(state_change("churn-prod", "DELETING"))
    assert alarm_names() == expected(["churn-prod"])
    [plain] = endpoints(1, prefix="plain", tags=[{"Key": "team", "Value": "x"}])
    assert run(state_change(plain, "IN_SERVICE"))["reconciled"]["created"] == []


@pytest.mark.parametrize(
    "event",
    [
        {"detail-type": "SageMaker Endpoint State Change", "detail": {"EndpointName": "bad name!"}},
        {"detail-type": "Something Else"},
        {"RequestType": "Create"},  # a custom resource request without its ResponseURL and ids
    ],
)
def test_bad_events_are_rejected_and_change_nothing(fleet_env: Stack, event: dict[str, Any]) -> None:
    result = run(event)
    assert result["rejected"]
    assert result.get("reconciled") is None
    assert alarm_names() == set()


class _Catcher(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, dict[str, str], bytes]]] = []

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Catcher.received.append((self.path, dict(self.headers), body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def response_url() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Catcher)
    _Catcher.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/cfn-response?signature=x"
    server.shutdown()


def custom(kind: str, url: str, physical: str | None = None) -> dict[str, Any]:
    request: dict[str, Any] = load_event("manage_alarms/stack_delete.json")
    request.update(
        RequestType=kind,
        ResponseURL=url,
        StackId=f"arn:aws:cloudformation:us-east-1:123456789012:stack/{STACK}/guid",
        RequestId=f"request-{kind}",
    )
    request.pop("PhysicalResourceId")
    if physical is not None:
        request["PhysicalResourceId"] = physical
    return request


def test_the_custom_resource_answers_cloudformation_and_its_delete_removes_every_alarm(
    fleet_env: Stack, response_url: str
) -> None:
    names = endpoints(3)
    assert run(custom("Create", response_url))["status"] == "SUCCESS"
    path, headers, body = _Catcher.received[-1]
    answer = json.loads(body)
    assert path == "/cfn-response?signature=x"
    assert headers["Content-Type"] == ""
    assert answer["Status"] == "SUCCESS"
    assert answer["PhysicalResourceId"] == f"{STACK}-fleet-alarms"
    assert (answer["StackId"], answer["RequestId"], answer["LogicalResourceId"]) == (
        f"arn:aws:cloudformation:us-east-1:123456789012:stack/{STACK}/guid",
        "request-Create",
        "FleetAlarms",
    )
    assert alarm_names() == expected([*names, "churn-prod"])
    unrelated_alarm()
    run(custom("Delete", response_url, physical="given-at-create"))
    answer = json.loads(_Catcher.received[-1][2])
    assert (answer["Status"], answer["PhysicalResourceId"]) == ("SUCCESS", "given-at-create")
    assert alarm_names() == {"someone-elses"}
    assert dashboards() == set()


def test_a_failed_request_is_answered_failed_with_the_reason(
    fleet_env: Stack, response_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRITICAL_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:gone")
    from model_medic.fleet import alarm_manager

    def refuse(*_: Any, **__: Any) -> None:
        raise RuntimeError("CloudWatch said no")

    monkeypatch.setattr(alarm_manager.AlarmManager, "reconcile", refuse)
    assert run(custom("Update", response_url, physical="p"))["status"] == "FAILED"
    answer = json.loads(_Catcher.received[-1][2])
    assert answer["Status"] == "FAILED"
    assert "CloudWatch said no" in answer["Reason"]
    assert answer["PhysicalResourceId"] == "p"
