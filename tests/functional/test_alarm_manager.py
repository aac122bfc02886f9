"""AlarmManagerFunction against moto: a 200-endpoint fleet gets its alarms, a second
reconciliation writes nothing, endpoints that leave scope lose theirs, the stack's delete
removes them all - and only alarms the stack made are ever changed. Under throttling the
calls are asked again; only a permanent error answers FAILED; out of time, Lambda retries."""

import json
import threading
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import TYPE_CHECKING, Any, ClassVar, cast

import boto3
import pytest

from model_medic.fleet.alarm_catalog import verdict_alarm
from model_medic.fleet.variants import reread_now
from model_medic.platform.settings import ConfigurationError, load_settings
from tests.conftest import ALARM_MANAGER_ENV, REGION, FakeContext, Stack, load_event, load_handler

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_resourcegroupstaggingapi import ResourceGroupsTaggingAPIClient

STACK = "model-medic-test"
TAG = {"Key": "model-medic", "Value": "on"}
OWN = ("HighErrorRate", "HighLatency", "DataDrift", "ModelAccuracyDrop")
SUFFIXES = (*OWN, "canary-ErrorRate", "canary-Latency")
SCHEDULE = load_event("manage_alarms/schedule.json")


@pytest.fixture
def fleet_env(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Stack:
    warning = stack.sns.create_topic(Name="model-medic-warning")["TopicArn"]
    for name, value in {
        "STACK_NAME": STACK,
        "WARNING_TOPIC_ARN": warning,
        "DISCOVERY_TAG": "model-medic=on",
        "MONITORED_ENDPOINTS": "churn-prod",
        **ALARM_MANAGER_ENV,
        "ALARM_WRITES_PER_RUN": "5000",
    }.items():
        monkeypatch.setenv(name, value)
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    sagemaker.create_model(
        ModelName="m",
        ExecutionRoleArn="arn:aws:iam::123456789012:role/sagemaker-execution",
        PrimaryContainer={"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/m:latest"},
    )
    # The fleet's endpoints serve a primary and a canary variant; `plain` endpoints a primary only.
    variant = {"ModelName": "m", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
    sagemaker.create_endpoint_config(
        EndpointConfigName="shared",
        ProductionVariants=[{"VariantName": "primary", **variant}, {"VariantName": "canary", **variant}],
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName="plain", ProductionVariants=[{"VariantName": "primary", **variant}]
    )
    return stack


def endpoints(
    count: int, prefix: str = "fleet", tags: list[dict[str, str]] | None = None, config: str = "shared"
) -> list[str]:
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    names = [f"{prefix}-{i:03d}" for i in range(count)]
    for name in names:
        sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=config, Tags=tags or [TAG])
    return names


def run(event: Any, context: FakeContext | None = None) -> dict[str, Any]:
    result: dict[str, Any] = load_handler("manage_alarms").lambda_handler(event, context or FakeContext())
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


def expected(names: list[str], without_canary: Iterable[str] = ("churn-prod",)) -> set[str]:
    """The alarms of these endpoints: six with a canary variant, four without (churn-prod, named
    in the stack, does not exist: no variant)."""
    plain = set(without_canary)
    return {f"{n}-{s}" for n in names for s in (OWN if n in plain else SUFFIXES)}


def test_a_fleet_of_200_gets_its_alarms_and_a_second_pass_reads_little_and_writes_nothing(
    fleet_env: Stack, aws_requests: list[tuple[str, str, dict[str, Any]]]
) -> None:
    names = endpoints(200)
    endpoints(3, prefix="untagged", tags=[{"Key": "team", "Value": "x"}])
    first = run(SCHEDULE)["reconciled"]
    # 200 tagged, with a canary variant, + churn-prod, named (need not exist yet: no canary alarms)
    assert len(first["created"]) == 200 * 6 + 4
    assert first["described"] == 201  # new to the stack: each one's variants read once
    assert alarm_names() == expected([*names, "churn-prod"])
    assert len(dashboards()) == 201
    cw = boto3.client("cloudwatch", region_name=REGION)
    arn = cw.describe_alarms(AlarmNames=["fleet-007-HighLatency"])["MetricAlarms"][0]["AlarmArn"]
    assert {"Key": "model-medic:stack", "Value": STACK} in cw.list_tags_for_resource(ResourceARN=arn)["Tags"]

    aws_requests.clear()
    second = run(SCHEDULE)["reconciled"]
    assert second["unchanged"] == 200 * 6 + 4
    # A quarter of them read again in their turn (each once an hour); the others' alarms say
    # which variants they have.
    at = datetime.fromisoformat(SCHEDULE["time"])
    assert second["described"] == sum(reread_now(name, at) for name in [*names, "churn-prod"])
    assert 30 < second["described"] < 70
    assert second["created"] == second["updated"] == second["deleted"] == second["dashboards_put"] == []
    readers = ("Describe", "Get", "List")
    assert [op for _, op, _ in aws_requests if not op.startswith(readers)] == []
    operations = [op for _, op, _ in aws_requests]
    # 203 endpoints in pages of 100, their tags 100 a page, 1,204 alarms 100 a page twice (owned
    # by tag, configuration by name: 1,206 names with churn-prod's canary's), dashboards in one
    # listing.
    assert operations.count("ListEndpoints") == 3
    assert operations.count("DescribeEndpoint") == second["described"]
    assert operations.count("GetResources") <= 3 + 13 + 1  # moto also pages at 100 tags
    assert operations.count("DescribeAlarms") == 13
    assert operations.count("ListDashboards") == 1
    assert "ListTagsForResource" not in operations
    assert "ListTags" not in operations
    assert "GetDashboard" not in operations


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
    # 6 alarms + a dashboard each; churn-prod (no canary variant) 4 + a dashboard
    assert (len(first["created"]), first["pending"]) == (50, 20 * 7 + 5 - 50)
    assert runs == 3
    assert alarm_names() == expected([*names, "churn-prod"])
    assert len(dashboards()) == 21


def test_writes_are_paced_to_cloudwatchs_rate() -> None:
    from model_medic.fleet.alarm_catalog import EndpointWatch
    from model_medic.fleet.alarm_manager import AlarmManager, WritePace
    from model_medic.fleet.holdings import StackPlace

    waits: list[float] = []
    manager = AlarmManager(
        cast("CloudWatchClient", None),
        cast("ResourceGroupsTaggingAPIClient", None),
        StackPlace("s", "r", "p"),
        lambda endpoint, _: EndpointWatch(endpoint, (), "canary", ()),
        lambda _: frozenset(),
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


def test_a_named_endpoint_created_with_capitals_is_watched_under_its_own_spelling(fleet_env: Stack) -> None:
    # EndpointNames holds churn-prod (lower case: the roles' ARNs); SageMaker keeps Churn-Prod,
    # and publishes its metrics under it. Its policy tag counts; it has no discovery tag.
    boto3.client("sagemaker", region_name=REGION).create_endpoint(
        EndpointName="Churn-Prod",
        EndpointConfigName="shared",
        Tags=[{"Key": "model-medic:latency-threshold-ms", "Value": "250"}],
    )
    run(SCHEDULE)
    assert alarm_names() == expected(["Churn-Prod"], without_canary=())
    cw = boto3.client("cloudwatch", region_name=REGION)
    [latency] = cw.describe_alarms(AlarmNames=["Churn-Prod-HighLatency"])["MetricAlarms"]
    assert latency["Threshold"] == 250.0
    for alarm in cw.describe_alarms(AlarmNamePrefix="Churn-Prod-")["MetricAlarms"]:
        assert {"Name": "EndpointName", "Value": "Churn-Prod"} in alarm["Dimensions"], alarm["AlarmName"]
    assert {d for d in dashboards() if d.endswith("Churn-Prod")} != set()
    # Its state change, as SageMaker sends it (the name as created, the ARN in lower case), is
    # in scope: its alarms stay as they are.
    event = state_change("Churn-Prod", "IN_SERVICE")
    event["resources"] = ["arn:aws:sagemaker:us-east-1:123456789012:endpoint/churn-prod"]
    result = run(event)["reconciled"]
    assert (result["endpoints"], result["created"], result["deleted"], result["unchanged"]) == (1, [], [], 6)
    assert alarm_names() == expected(["Churn-Prod"], without_canary=())


def canary_alarms(endpoint: str) -> set[str]:
    return {f"{endpoint}-canary-ErrorRate", f"{endpoint}-canary-Latency"}


def ticks(count: int) -> list[dict[str, Any]]:
    """`count` ticks of the 15-minute schedule from the sample's time."""
    at = datetime.fromisoformat(SCHEDULE["time"])
    return [{**SCHEDULE, "time": (at + timedelta(minutes=15 * i)).isoformat()} for i in range(count)]


def test_an_endpoint_without_a_canary_variant_gets_no_canary_alarms_until_it_has_one(fleet_env: Stack) -> None:
    [plain] = endpoints(1, prefix="plain", config="plain")
    run(state_change(plain, "IN_SERVICE"))
    assert alarm_names() == expected([plain], without_canary=[plain])
    # A new model goes out as a canary: the endpoint's update ends IN_SERVICE with the variant.
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    sagemaker.update_endpoint(EndpointName=plain, EndpointConfigName="shared")
    created = run(state_change(plain, "IN_SERVICE"))["reconciled"]["created"]
    assert created == sorted(canary_alarms(plain))  # the canary's, and nothing else
    # Its dashboard lists the alarms the endpoint has.
    cw = boto3.client("cloudwatch", region_name=REGION)
    body = json.loads(cw.get_dashboard(DashboardName=f"model-medic_{STACK}_{REGION}_{plain}")["DashboardBody"])
    listed = next(w for w in body["widgets"] if w["type"] == "alarm")["properties"]["alarms"]
    assert {arn.rsplit(":", 1)[1] for arn in listed} == expected([plain], without_canary=[])
    # Its decisions are the stack's own (the `stack` dimension every metric of the functions has).
    [decisions] = [w for w in body["widgets"] if w["properties"].get("title", "").startswith("Model Medic decisions")]
    [[query]] = decisions["properties"]["metrics"]
    assert query["expression"].startswith(f'SEARCH(\'{{ModelMedic,service,stack}} stack="{STACK}" MetricName=(')
    # The canary promoted, the endpoint serves one variant again: its alarms go with it.
    sagemaker.update_endpoint(EndpointName=plain, EndpointConfigName="plain")
    deleted = run(state_change(plain, "IN_SERVICE"))["reconciled"]["deleted"]
    assert sorted(deleted) == sorted(canary_alarms(plain))
    assert alarm_names() == expected([plain], without_canary=[plain])


def test_a_canary_no_state_change_told_of_gets_its_alarms_within_four_ticks(fleet_env: Stack) -> None:
    names = endpoints(8, prefix="plain", config="plain")
    run(SCHEDULE)
    assert alarm_names() == expected([*names, "churn-prod"], without_canary=[*names, "churn-prod"])
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    for name in names:  # every endpoint gains a canary; the state change events are lost
        sagemaker.update_endpoint(EndpointName=name, EndpointConfigName="shared")
    described = []
    for tick in ticks(4):
        described.append(run(tick)["reconciled"]["described"])
    assert alarm_names() == expected([*names, "churn-prod"])
    assert sum(described) == len(names) + 1  # each endpoint (churn-prod too) read once in the hour
    assert run(ticks(5)[-1])["reconciled"]["created"] == []


def test_canary_alarms_deleted_by_hand_come_back(fleet_env: Stack) -> None:
    [name] = endpoints(1)
    run(SCHEDULE)
    cw = boto3.client("cloudwatch", region_name=REGION)
    cw.delete_alarms(AlarmNames=[f"{name}-canary-Latency"])  # one of the two: in doubt, read at once
    assert run(SCHEDULE)["reconciled"]["created"] == [f"{name}-canary-Latency"]
    cw.delete_alarms(AlarmNames=sorted(canary_alarms(name)))  # both: the endpoint's turn puts them back
    created = [c for tick in ticks(4) for c in run(tick)["reconciled"]["created"]]
    assert sorted(created) == sorted(canary_alarms(name))


def test_dashboards_are_switched_off_by_the_stack_or_by_an_endpoints_tag(
    fleet_env: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = endpoints(3)
    run(SCHEDULE)
    prefix = f"model-medic_{STACK}_{REGION}_"
    assert dashboards() == {prefix + n for n in [*names, "churn-prod"]}
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    arn = sagemaker.describe_endpoint(EndpointName=names[0])["EndpointArn"]
    sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": "model-medic:endpoint-dashboards", "Value": "false"}])
    result = run(SCHEDULE)["reconciled"]
    assert result["dashboards_deleted"] == [prefix + names[0]]
    assert result["deleted"] == result["created"] == []  # its alarms stay
    assert dashboards() == {prefix + n for n in [*names[1:], "churn-prod"]}
    # The stack says none; an endpoint's tag may still ask for its own.
    monkeypatch.setenv("ENDPOINT_DASHBOARDS", "false")
    load_settings.cache_clear()  # a new cold start with the stack's new parameter
    sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": "model-medic:endpoint-dashboards", "Value": "true"}])
    run(SCHEDULE)
    assert dashboards() == {prefix + names[0]}
    assert alarm_names() == expected([*names, "churn-prod"])


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


def test_a_request_on_a_bad_configuration_is_answered_failed_with_the_reason_not_left_waiting(
    fleet_env: Stack, response_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Settings that do not validate raise before the fleet is built: CloudFormation must still
    # get an answer (it would wait ServiceTimeout for one), and nothing is touched.
    monkeypatch.setenv("ALARM_WRITES_PER_RUN", "not a number")
    assert run(custom("Create", response_url))["status"] == "FAILED"
    answer = json.loads(_Catcher.received[-1][2])
    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith("Create not carried out: invalid configuration")
    assert "ALARM_WRITES_PER_RUN" in answer["Reason"]
    assert alarm_names() == set()
    # Any other trigger raises, as every function does on a bad configuration.
    with pytest.raises(ConfigurationError):
        run(load_event("manage_alarms/schedule.json"))


# --- transient and permanent errors --------------------------------------------------------


class Countdown(FakeContext):
    """Lambda's context with a clock: the time left is spent by the manager's back-off waits
    (`patience.time` is this object in the test, so nothing really sleeps)."""

    def __init__(self, seconds: float) -> None:
        self.left = seconds
        self.waits: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.left -= seconds

    def get_remaining_time_in_millis(self) -> int:
        return int(self.left * 1000)


@pytest.fixture
def countdown(monkeypatch: pytest.MonkeyPatch) -> Countdown:
    """A 300-second invocation (the function's Timeout) whose waits cost no real time."""
    from model_medic.fleet import patience

    clock = Countdown(300.0)
    monkeypatch.setattr(patience, "time", clock)
    return clock


class _Answer:
    def __init__(self, status: int) -> None:
        self.status_code = status


class Injected:
    """AWS answers the `on`-th calls (1 = the first; None: every call) of one operation of the
    function's client with an error, through botocore's own hook (before-call), as AWS would
    answer; the other calls go through. `seen` numbers the calls made."""

    def __init__(self, client: Any, operation: str, code: str, status: int, on: Iterable[int] | None) -> None:
        self.seen: list[int] = []
        self._failing = None if on is None else set(on)
        self._error = {"Code": code, "Message": f"{code} (injected)"}
        self._status = status
        self._events = client.meta.events
        self._name = f"before-call.{client.meta.service_model.service_id.hyphenize()}.{operation}"
        self._events.register(self._name, self._hook)

    def _hook(self, **_: Any) -> tuple[Any, dict[str, Any]] | None:
        self.seen.append(len(self.seen) + 1)
        if self._failing is not None and self.seen[-1] not in self._failing:
            return None
        return _Answer(self._status), {"Error": self._error, "ResponseMetadata": {"HTTPStatusCode": self._status}}

    def stop(self) -> None:
        self._events.unregister(self._name, self._hook)


def answer(client: Any, operation: str, code: str, status: int, on: Iterable[int] | None = None) -> list[int]:
    """`Injected`, for the rest of the test; returns the calls seen."""
    return Injected(client, operation, code, status, on).seen


def answers() -> list[dict[str, Any]]:
    return [json.loads(body) for _, _, body in _Catcher.received]


def cloudwatch() -> Any:
    from model_medic.platform import aws

    return aws.cloudwatch()


def test_throttled_calls_are_asked_again_and_create_update_and_delete_each_end_success(
    fleet_env: Stack, response_url: str, countdown: Countdown
) -> None:
    from model_medic.platform import aws

    names = endpoints(4)
    puts = answer(cloudwatch(), "PutMetricAlarm", "Throttling", 400, on={2, 3, 9})
    answer(cloudwatch(), "DescribeAlarms", "ServiceUnavailable", 503, on={1})
    answer(aws.tagging(), "GetResources", "ThrottledException", 400, on={1})
    result = run(custom("Create", response_url), countdown)
    assert result["status"] == "SUCCESS"
    assert alarm_names() == expected([*names, "churn-prod"])
    assert len(puts) == 4 * 6 + 4 + 3  # every alarm put once, three of them asked again
    assert len(countdown.waits) == 5  # one wait per transient answer (3 puts, 1 read, 1 discovery), none real
    [created] = answers()
    assert created["Status"] == "SUCCESS"
    assert created["Data"] == {"Alarms": 28, "Pending": 0}

    sagemaker = boto3.client("sagemaker", region_name=REGION)
    arn = sagemaker.describe_endpoint(EndpointName=names[0])["EndpointArn"]
    sagemaker.delete_tags(ResourceArn=arn, TagKeys=["model-medic"])  # out of scope: its alarms go
    deletes = answer(cloudwatch(), "DeleteAlarms", "Throttling", 400, on={1, 3})  # 3: the Delete's first
    answer(cloudwatch(), "DeleteDashboards", "InternalServiceError", 500, on={1, 3})
    assert run(custom("Update", response_url, physical="p"), countdown)["status"] == "SUCCESS"
    assert answers()[-1]["Status"] == "SUCCESS"
    assert alarm_names() == expected([*names[1:], "churn-prod"])
    assert len(dashboards()) == 4
    assert len(deletes) == 2

    unrelated_alarm()
    assert run(custom("Delete", response_url, physical="p"), countdown)["status"] == "SUCCESS"
    assert answers()[-1]["Status"] == "SUCCESS"
    assert alarm_names() == {"someone-elses"}
    assert dashboards() == set()
    assert len(deletes) == 2 + 2  # one batch of 22 alarms, asked again
    assert len(_Catcher.received) == 3  # each request answered once


@pytest.mark.parametrize(("code", "status"), [("AccessDenied", 403), ("LimitExceeded", 400), ("ValidationError", 400)])
def test_a_permanent_error_answers_failed_with_its_reason_and_changes_nothing_more(
    fleet_env: Stack,
    response_url: str,
    countdown: Countdown,
    aws_requests: list[tuple[str, str, dict[str, Any]]],
    code: str,
    status: int,
) -> None:
    endpoints(2)
    aws_requests.clear()
    answer(cloudwatch(), "PutMetricAlarm", code, status, on={3})
    result = run(custom("Create", response_url), countdown)
    assert result["status"] == "FAILED"
    [failed] = answers()
    assert failed["Status"] == "FAILED"
    assert f"({code})" in failed["Reason"]
    assert "PutMetricAlarm" in failed["Reason"]
    assert failed["PhysicalResourceId"] == f"{STACK}-fleet-alarms"
    assert len(alarm_names()) == 2  # the two put before it, and not one more
    writes = [op for _, op, _ in aws_requests if not op.startswith(("Describe", "Get", "List"))]
    assert writes == ["PutMetricAlarm"] * 3
    assert countdown.waits == []  # not asked again


def test_time_running_out_raises_to_lambda_and_its_retry_answers_as_a_clean_run_would(
    fleet_env: Stack, response_url: str, countdown: Countdown
) -> None:
    from model_medic.fleet.patience import RESERVE, OutOfTime

    names = endpoints(3)
    request = custom("Create", response_url)
    throttled = Injected(cloudwatch(), "PutMetricAlarm", "Throttling", 400, on=range(5, 10_000))
    with pytest.raises(OutOfTime, match="PutMetricAlarm"):
        run(request, countdown)
    assert _Catcher.received == []  # no answer: CloudFormation waits for Lambda's retry
    assert RESERVE < countdown.left < RESERVE + 16  # waited until only the reserve was left
    assert len(alarm_names()) == 4
    assert len(throttled.seen) > 5

    throttled.stop()
    countdown.left = 300.0  # Lambda's retry: the same request, a new invocation
    assert run(request, countdown)["status"] == "SUCCESS"
    assert alarm_names() == expected([*names, "churn-prod"])
    [answered] = answers()
    assert answered["Status"] == "SUCCESS"
    assert answered["Data"] == {"Alarms": 22, "Pending": 0}  # as a run without throttling answers
    assert answered["RequestId"] == "request-Create"


def test_a_delete_answers_success_only_once_nothing_of_the_stack_is_left(
    fleet_env: Stack, response_url: str, countdown: Countdown
) -> None:
    endpoints(2)
    run(custom("Create", response_url), countdown)
    # DeleteAlarms answers 200 the first time but deletes nothing (as a read-after-delete that
    # still sees the alarms would look): the read-back finds them and deletes them again.
    calls: list[int] = []

    def accepted_but_kept(**_: Any) -> tuple[Any, dict[str, Any]] | None:
        calls.append(1)
        return (_Answer(200), {"ResponseMetadata": {"HTTPStatusCode": 200}}) if len(calls) == 1 else None

    cloudwatch().meta.events.register("before-call.cloudwatch.DeleteAlarms", accepted_but_kept)
    assert run(custom("Delete", response_url, physical="p"), countdown)["status"] == "SUCCESS"
    assert answers()[-1]["Status"] == "SUCCESS"
    assert len(calls) == 2
    assert len(countdown.waits) == 1  # one pause before reading back again
    assert alarm_names() == set()
    assert dashboards() == set()


def test_an_alarm_the_tag_index_still_lists_after_its_delete_is_not_counted_as_left(
    fleet_env: Stack, response_url: str, countdown: Countdown
) -> None:
    from model_medic.platform import aws

    run(custom("Create", response_url), countdown)
    ghost = f"arn:aws:cloudwatch:{REGION}:123456789012:alarm:gone-HighLatency"

    def stale_index(**kwargs: Any) -> tuple[Any, dict[str, Any]] | None:
        if kwargs["params"].get("ResourceTypeFilters") != ["cloudwatch:alarm"]:
            return None
        listed = [{"ResourceARN": ghost, "Tags": [{"Key": "model-medic:stack", "Value": STACK}]}]
        return _Answer(200), {"ResourceTagMappingList": listed, "ResponseMetadata": {"HTTPStatusCode": 200}}

    aws.tagging().meta.events.register("before-call.resource-groups-tagging-api.GetResources", stale_index)
    assert run(custom("Delete", response_url, physical="p"), countdown)["status"] == "SUCCESS"
    assert answers()[-1]["Status"] == "SUCCESS"
    assert dashboards() == set()


def test_a_delete_that_cannot_remove_the_alarms_answers_failed_naming_them_and_the_way_out(
    fleet_env: Stack, response_url: str, countdown: Countdown
) -> None:
    names = endpoints(1)
    run(custom("Create", response_url), countdown)
    answer(cloudwatch(), "DeleteAlarms", "AccessDenied", 403)
    assert run(custom("Delete", response_url, physical="p"), countdown)["status"] == "FAILED"
    failed = answers()[-1]
    assert failed["Status"] == "FAILED"
    assert failed["PhysicalResourceId"] == "p"
    assert "(AccessDenied)" in failed["Reason"]
    assert "10 alarms and 2 dashboards left (churn-prod-DataDrift, " in failed["Reason"]
    assert "--retain-resources FleetAlarms" in failed["Reason"]
    assert f"model-medic:stack={STACK}" in failed["Reason"]
    assert alarm_names() == expected([*names, "churn-prod"])
    assert len(dashboards()) == 2  # stopped at the error: nothing more changed


def test_a_permanent_error_after_everything_is_deleted_still_answers_success(
    fleet_env: Stack, response_url: str, countdown: Countdown
) -> None:
    from model_medic.platform import aws

    endpoints(1)
    run(custom("Create", response_url), countdown)
    # The read-back after the deletes is refused once: what is left is read again for the answer.
    answer(aws.tagging(), "GetResources", "InvalidParameterException", 400, on={2})
    assert run(custom("Delete", response_url, physical="p"), countdown)["status"] == "SUCCESS"
    done = answers()[-1]
    assert done["Status"] == "SUCCESS"
    assert "nothing of the stack is left" in done["Reason"]
    assert "(InvalidParameterException)" in done["Reason"]
    assert alarm_names() == set()


def test_a_delete_still_throttled_when_time_runs_out_raises_and_its_retry_leaves_nothing(
    fleet_env: Stack, response_url: str, countdown: Countdown
) -> None:
    from model_medic.fleet.patience import OutOfTime

    endpoints(2)
    run(custom("Create", response_url), countdown)
    request = custom("Delete", response_url, physical="p")
    throttled = Injected(cloudwatch(), "DeleteAlarms", "Throttling", 400, on=None)
    with pytest.raises(OutOfTime, match="DeleteAlarms"):
        run(request, countdown)
    assert len(_Catcher.received) == 1  # only the Create's answer
    assert len(alarm_names()) == 16
    throttled.stop()
    countdown.left = 300.0  # Lambda's retry
    assert run(request, countdown)["status"] == "SUCCESS"
    assert answers()[-1]["Status"] == "SUCCESS"
    assert alarm_names() == set()
    assert dashboards() == set()


def test_the_schedule_and_state_changes_ride_out_throttling_and_raise_to_lambda_when_time_runs_out(
    fleet_env: Stack, countdown: Countdown
) -> None:
    from model_medic.fleet.patience import OutOfTime
    from model_medic.platform import aws

    names = endpoints(3)
    answer(cloudwatch(), "PutMetricAlarm", "Throttling", 400, on={1, 7})
    answer(aws.tagging(), "GetResources", "InternalServiceException", 500, on={2})
    assert run(SCHEDULE, countdown)["reconciled"]["created"]
    assert alarm_names() == expected([*names, "churn-prod"])

    [new] = endpoints(1, prefix="fresh")
    answer(aws.sagemaker(), "ListTags", "ThrottlingException", 400, on={1})
    assert sorted(run(state_change(new, "IN_SERVICE"), countdown)["reconciled"]["created"]) == sorted(expected([new]))

    [late] = endpoints(1, prefix="late")
    answer(cloudwatch(), "PutMetricAlarm", "Throttling", 400, on=None)
    countdown.left = 60.0
    with pytest.raises(OutOfTime):  # Lambda retries the event, then parks it in the dead-letter queue
        run(state_change(late, "IN_SERVICE"), countdown)
    assert not alarm_names() & expected([late])


def test_a_component_rollouts_verdict_alarm_is_left_to_the_rollout_until_the_stack_is_deleted(
    fleet_env: Stack, response_url: str
) -> None:
    """The verdict alarm of a rolling update (tagged with the stack, remediate/rollout/component.py)
    is in no endpoint's watch: a full reconciliation leaves it; the stack's delete removes it."""
    names = endpoints(2)
    verdict = verdict_alarm("fleet-000", "llama3-ic")
    cw = boto3.client("cloudwatch", region_name=REGION)
    cw.put_metric_alarm(**verdict, Tags=[{"Key": "model-medic:stack", "Value": STACK}])
    result = run(SCHEDULE)["reconciled"]
    assert verdict["AlarmName"] not in result["deleted"]
    assert alarm_names() == expected([*names, "churn-prod"]) | {verdict["AlarmName"]}
    run(custom("Delete", response_url, physical=f"{STACK}-fleet-alarms"))
    assert alarm_names() == set()


# --- alarms a customer's composite alarm depends on -----------------------------------------


def composite_over(*alarms: str) -> None:
    """A composite alarm of someone else's over these alarms: CloudWatch refuses to delete them
    (localcloud/moto_extensions.py, `composite_alarms_as_in_aws`)."""
    rule = " OR ".join(f"ALARM({name})" for name in alarms)
    boto3.client("cloudwatch", region_name=REGION).put_composite_alarm(AlarmName="customers-rollup", AlarmRule=rule)


def test_an_alarm_a_composite_alarm_depends_on_is_kept_and_reported_and_the_others_are_deleted(
    fleet_env: Stack, aws_requests: list[tuple[str, str, dict[str, Any]]]
) -> None:
    names = endpoints(3)
    run(SCHEDULE)
    composite_over("fleet-000-HighLatency")
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    for name in names[:2]:  # out of scope: their alarms and dashboards go
        arn = sagemaker.describe_endpoint(EndpointName=name)["EndpointArn"]
        sagemaker.delete_tags(ResourceArn=arn, TagKeys=["model-medic"])
    aws_requests.clear()
    result = run(SCHEDULE)["reconciled"]
    assert result["blocked"] == ["fleet-000-HighLatency"]
    assert sorted(result["deleted"]) == sorted(expected(names[:2]) - {"fleet-000-HighLatency"})
    assert len(result["dashboards_deleted"]) == 2  # the run went on past the refusal
    assert alarm_names() == expected([*names[2:], "churn-prod"]) | {"fleet-000-HighLatency"}
    # One batch refused as a whole, then the same batch without the blocked alarm.
    deletes = [params["AlarmNames"] for _, op, params in aws_requests if op == "DeleteAlarms"]
    assert [len(batch) for batch in deletes] == [12, 11]
    # The next tick tries again and is told the same: no error, the alarm still blocked.
    again = run(SCHEDULE)["reconciled"]
    assert (again["blocked"], again["deleted"]) == (["fleet-000-HighLatency"], [])


def test_a_stack_delete_deletes_all_else_and_answers_failed_naming_the_blocked_alarms_and_the_way_out(
    fleet_env: Stack, response_url: str, countdown: Countdown
) -> None:
    endpoints(1)
    run(custom("Create", response_url), countdown)
    composite_over("churn-prod-DataDrift", "fleet-000-canary-Latency")
    unrelated_alarm()
    assert run(custom("Delete", response_url, physical="p"), countdown)["status"] == "FAILED"
    failed = answers()[-1]
    assert failed["Status"] == "FAILED"
    assert "2 alarms and 0 dashboards left (churn-prod-DataDrift, fleet-000-canary-Latency)" in failed["Reason"]
    assert "composite alarms depend on them" in failed["Reason"]
    assert "--retain-resources FleetAlarms" in failed["Reason"]
    assert alarm_names() == {"churn-prod-DataDrift", "fleet-000-canary-Latency", "someone-elses"}
    assert dashboards() == set()
    assert countdown.waits == []  # no read-back rounds spent on alarms CloudWatch keeps refusing
    # The customer takes them out of the rule; the stack's delete, run again, ends it.
    boto3.client("cloudwatch", region_name=REGION).delete_alarms(AlarmNames=["customers-rollup"])
    assert run(custom("Delete", response_url, physical="p"), countdown)["status"] == "SUCCESS"
    assert answers()[-1]["Status"] == "SUCCESS"
    assert alarm_names() == {"someone-elses"}


def test_an_alarm_the_tag_index_still_lists_after_its_delete_is_not_deleted_again_on_a_tick(
    fleet_env: Stack, aws_requests: list[tuple[str, str, dict[str, Any]]]
) -> None:
    """The role may delete only alarms tagged with the stack (template.yaml), and a deleted alarm
    has no tags: a DeleteAlarms naming it would be denied in AWS."""
    from model_medic.platform import aws

    endpoints(2)
    run(SCHEDULE)
    ghost = f"arn:aws:cloudwatch:{REGION}:123456789012:alarm:gone-HighLatency"

    def stale_index(parsed: dict[str, Any], model: Any, **_: Any) -> None:
        if "ResourceTagMappingList" in parsed and not parsed.get("PaginationToken"):
            parsed["ResourceTagMappingList"].append(
                {"ResourceARN": ghost, "Tags": [{"Key": "model-medic:stack", "Value": STACK}]}
            )

    aws.tagging().meta.events.register("after-call.resource-groups-tagging-api.GetResources", stale_index)
    aws_requests.clear()
    result = run(SCHEDULE)["reconciled"]
    assert result["deleted"] == []
    assert [op for _, op, _ in aws_requests if op == "DeleteAlarms"] == []


def refusal(code: str, message: str) -> Any:
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": code, "Message": message}}, "DeleteAlarms")


def test_a_refusal_that_names_none_of_the_batch_is_taken_apart_one_name_a_call() -> None:
    from model_medic.fleet.alarm_manager import _delete_in_batches

    calls: list[list[str]] = []

    def delete(batch: list[str]) -> None:
        calls.append(batch)
        if "b" in batch:  # AWS's wording may change: the names are not where they were
            raise refusal("ValidationError", "Some alarms cannot be deleted: composite alarm(s) depend on them.")

    assert _delete_in_batches(["a", "b", "c"], lambda: True, delete) == (["a", "c"], ["b"], 0)
    assert calls == [["a", "b", "c"], ["a"], ["b"], ["c"]]


def test_a_refusal_for_composite_alarms_costs_writes_and_other_errors_are_raised() -> None:
    from botocore.exceptions import ClientError

    from model_medic.fleet.alarm_manager import _delete_in_batches

    def refused(batch: list[str]) -> None:
        if "b" in batch:
            raise refusal("ValidationError", "Cannot delete b as there are composite alarm(s) depending on it.")

    budget = iter([True, False])
    assert _delete_in_batches(["a", "b", "c"], lambda: next(budget), refused) == ([], ["b"], 2)
    for code, message in [("ValidationError", "1 validation error detected"), ("ResourceConflict", "busy")]:

        def failing(_: list[str], code: str = code, message: str = message) -> None:
            raise refusal(code, message)

        with pytest.raises(ClientError):
            _delete_in_batches(["a"], lambda: True, failing)
