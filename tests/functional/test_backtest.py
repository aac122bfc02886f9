"""`model-medic backtest` against moto: a stack whose real handlers ran an incident (the account's
alarm history, ledger and endpoint), replayed by the backtest on a simulation of its own, apart
from the account it reads, which it never writes."""

import json
import os
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import time_machine
from botocore.client import BaseClient

from localcloud.moto_extensions import reset_simulation, set_update_seconds
from model_medic.status import cli
from tests.conftest import REGION, FakeContext, Stack, decisions, load_handler, make_endpoint, stored_incidents
from tests.functional.test_scale_up import OPENED, latency_alarm, ok_at, scalable_target, set_alarm, sweep
from tests.functional.test_status import ENDPOINT, OTHER, SCALE_UP, STACK, deploy

LATENCY = f"{ENDPOINT}-HighLatency"
SINCE = OPENED  # the sweeps run every 5 minutes from here, in the account and in the backtest alike
UNTIL = OPENED + timedelta(hours=1)
CLEARED = OPENED + timedelta(minutes=12)
# As template.yaml subscribes ScaleUpFunction to the warning topic (its HighLatency event).
LATENCY_FILTER = {
    "NewStateValue": ["ALARM", "OK"],
    "Trigger": {"Namespace": ["Custom/SageMaker"], "MetricName": ["TotalLatency"]},
}
WINDOW = ["--since", SINCE.isoformat(), "--until", UNTIL.isoformat(), "--update-minutes", "2"]
PRIMARY = f"endpoint/{ENDPOINT}/variant/primary"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(OPENED - timedelta(hours=1), tick=False) as traveller:
        yield traveller


@pytest.fixture
def account(stack: Stack, clock: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The deployed stack in moto, its alarms wired as the template wires them, the primary under
    auto scaling with a target-tracking policy; endpoint changes take 2 minutes. Yields
    ScaleUpFunction's handler."""
    for name, value in SCALE_UP.items():
        monkeypatch.setenv(name, value)
    deploy(stack)
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 0.9}, "canary": {"count": 1, "weight": 0.1}})
    make_endpoint(OTHER)
    scalable_target("primary", 2, 6)
    boto3.client("application-autoscaling").put_scaling_policy(
        PolicyName="invocations",
        ServiceNamespace="sagemaker",
        ResourceId=PRIMARY,
        ScalableDimension=DIMENSION,
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 70.0,
            "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
        },
    )
    wire_alarms()
    reset_simulation()
    set_update_seconds(120)
    yield load_handler("scale_up")
    reset_simulation()


def function_arn(logical_id: str) -> str:
    resources = boto3.client("cloudformation").list_stack_resources(StackName=STACK)["StackResourceSummaries"]
    name = next(r["PhysicalResourceId"] for r in resources if r["LogicalResourceId"] == logical_id)
    return str(boto3.client("lambda").get_function_configuration(FunctionName=name)["FunctionArn"])


def wire_alarms() -> None:
    """churn-prod's scale-up alarms, notifying a warning topic on ALARM and OK, and
    ScaleUpFunction subscribed to it with the template's filter policy."""
    sns = boto3.client("sns", region_name=REGION)
    warning = sns.create_topic(Name="model-medic-warning")["TopicArn"]
    sns.subscribe(
        TopicArn=warning,
        Protocol="lambda",
        Endpoint=function_arn("ScaleUpFunction"),
        Attributes={"FilterPolicy": json.dumps(LATENCY_FILTER), "FilterPolicyScope": "MessageBody"},
    )
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    for suffix, metric, threshold in (("HighLatency", "TotalLatency", 1000.0), ("HighErrorRate", "ErrorRate", 5.0)):
        cloudwatch.put_metric_alarm(
            AlarmName=f"{ENDPOINT}-{suffix}",
            Namespace="Custom/SageMaker",
            MetricName=metric,
            Dimensions=[{"Name": "EndpointName", "Value": ENDPOINT}],
            Statistic="Average",
            Period=300,
            EvaluationPeriods=2,
            Threshold=threshold,
            ComparisonOperator="GreaterThanThreshold",
            AlarmActions=[warning],
            OKActions=[warning],
        )


def play(scale_up: Any, clock: time_machine.Traveller, cleared: datetime | None = CLEARED) -> None:
    """What the stack lived through: HighLatency ALARM at 10:00 (delivered), the 5-minute sweeps,
    OK at 10:12 (delivered) unless `cleared` is None; the primary's scaling policy scales it in 5
    minutes after its floor went down (moto runs no scaling policy: the test does its part)."""
    clock.move_to(OPENED)
    set_alarm(LATENCY, "ALARM", "Threshold Crossed: 2 out of the last 2 datapoints were greater than 1000")
    scale_up.lambda_handler(latency_alarm(), FakeContext())
    lowered: datetime | None = None
    at = OPENED
    while at < UNTIL:
        at += timedelta(minutes=5)
        if cleared is not None and cleared < at <= cleared + timedelta(minutes=5):
            clock.move_to(cleared)
            set_alarm(LATENCY, "OK", "Threshold Crossed: no datapoint above 1000")
            scale_up.lambda_handler(ok_at(cleared), FakeContext())
        sweep(scale_up, clock, at)
        lowered = _policy_scales_in(at, lowered)


def _policy_scales_in(at: datetime, lowered: datetime | None) -> datetime | None:
    autoscaling, sagemaker = boto3.client("application-autoscaling"), boto3.client("sagemaker")
    [target] = autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=[PRIMARY])[
        "ScalableTargets"
    ]
    described = sagemaker.describe_endpoint(EndpointName=ENDPOINT)
    running = next(v["CurrentInstanceCount"] for v in described["ProductionVariants"] if v["VariantName"] == "primary")
    if running <= max(target["MinCapacity"], 2) or described["EndpointStatus"] != "InService":
        return None if running <= 2 else lowered
    if lowered is None:
        return at
    if at - lowered >= timedelta(minutes=5):
        sagemaker.update_endpoint_weights_and_capacities(
            EndpointName=ENDPOINT, DesiredWeightsAndCapacities=[{"VariantName": "primary", "DesiredInstanceCount": 2}]
        )
        return None
    return lowered


def backtest(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()  # what the handlers logged before
    code = cli.main(["backtest", "--stack", STACK, *argv])
    out, err = capsys.readouterr()
    return code, out, err


def as_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    code, out, err = backtest(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def told(found: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    results = {"acted", "dry-run", "bound-reached", "failed", "recovered", "escalated"}
    return [(d["at"], d["action"], d["result"], d["reason"]) for d in found if d["result"] in results]


# --- the backtest of what the stack did -----------------------------------------------------


def test_the_backtest_of_an_incident_the_stack_handled_finds_what_it_did_and_when(
    account: Any, clock: time_machine.Traveller, stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    play(account, clock)
    clock.move_to(UNTIL + timedelta(hours=1))
    shown = as_json(capsys, *WINDOW)
    [real] = stored_incidents(stack)
    [simulated] = shown["incidents"]
    assert (simulated["alarm_name"], simulated["opened_at"], simulated["closed_at"]) == (
        LATENCY,
        real["opened_at"],
        real["closed_at"],
    )
    assert (simulated["outcome"], simulated["steps"], simulated["recovered_seconds"]) == ("recovered", 1, 720.0)
    # Every decision a person was told of, at the same time and for the same reason.
    assert [(a["at"], a["action"], a["result"], a["reason"]) for a in shown["actions"]] == told(decisions(stack))
    assert all(row["recorded"] == row["backtest"] for row in shown["comparison"]), shown["comparison"]
    assert {(r["what"], r["recorded"]) for r in shown["comparison"] if r["action"] == "scale-back"} == {("acted", 2)}
    assert (shown["window"]["transitions"], shown["window"]["deliveries"]) == (2, 2)
    assert shown["pages"] == []


def test_the_capacity_added_is_the_instances_held_above_the_start_integrated_over_time(
    account: Any, clock: time_machine.Traveller, capsys: pytest.CaptureFixture[str]
) -> None:
    play(account, clock)
    clock.move_to(UNTIL + timedelta(hours=1))
    shown = as_json(capsys, *WINDOW)
    rows = {c["variant"]: c for c in shown["capacity"] if c["endpoint"] == ENDPOINT}
    # The primary's floor 2 -> 3 at 10:00, its third instance InService at 10:02 (changes take 2
    # minutes), the floor back to 2 at 10:35: 33 minutes. The canary's second instance asked for
    # at the 10:05 sweep (the primary's change InService first), running 10:07 to 10:32: 25 minutes.
    assert (rows["primary"]["start"], rows["primary"]["peak_added"]) == (2, 1)
    assert rows["primary"]["instance_hours"] == pytest.approx(33 / 60, abs=1e-3)
    assert rows["canary"]["instance_hours"] == pytest.approx(25 / 60, abs=1e-3)
    assert not any(c["instance_hours"] for c in shown["capacity"] if c["endpoint"] == OTHER)


def test_a_stack_in_dry_run_is_shown_what_enforce_would_have_done(
    account: Any, clock: time_machine.Traveller, stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.set_mode("dry-run")
    play(account, clock)
    clock.move_to(UNTIL + timedelta(hours=1))
    assert [d["result"] for d in decisions(stack) if d["result"] == "acted"] == []
    shown = as_json(capsys, *WINDOW)
    counts = {(r["action"], r["what"]): (r["recorded"], r["backtest"]) for r in shown["comparison"]}
    # The dry run took its would-be step as InService at once, so its second came at 10:10, after
    # the cool-down; enforce's step waited for its two changes (10:07) and the alarm cleared first.
    assert counts[("scale-up", "dry-run")] == (2, 0)
    assert counts[("scale-up", "acted")] == (0, 1)
    assert counts[("scale-back", "acted")] == (0, 2)
    assert shown["capacity"]
    assert sum(c["instance_hours"] for c in shown["capacity"]) > 0


def test_an_alarm_that_never_clears_is_escalated_once_at_the_bound_and_pages_once(
    account: Any, clock: time_machine.Traveller, stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.set_mode("off")  # the stack itself did nothing: only the history tells what happened
    play(account, clock, cleared=None)
    clock.move_to(UNTIL + timedelta(hours=1))
    shown = as_json(capsys, *WINDOW)
    [incident] = shown["incidents"]
    assert (incident["outcome"], incident["closed_at"]) == ("escalated", None)
    acted = [a for a in shown["actions"] if a["action"] == "scale-up" and a["result"] == "acted"]
    # A step each cool-down (10 minutes) while the alarm lasts, up to MaxInstanceCount 4.
    assert [a["reason"] for a in acted] == [
        "primary min-capacity 2 -> 3; canary instance-count 1 -> 2",
        "primary min-capacity 3 -> 4; canary instance-count 2 -> 3",
        "canary instance-count 3 -> 4",
    ]
    [page] = shown["pages"]
    assert (page["endpoint"], page["result"]) == (ENDPOINT, "escalated")
    assert page["subject"].startswith("[CRITICAL]")
    assert page["subject"].endswith(" escalated scale-up churn-prod")
    assert "still in ALARM" in page["text"]


# --- read-only, isolated ------------------------------------------------------------------------


def test_it_reads_the_account_and_never_writes_it(
    account: Any,
    clock: time_machine.Traveller,
    stack: Stack,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    play(account, clock)
    clock.move_to(UNTIL + timedelta(hours=1))
    before = _account_state(stack)
    calls: list[tuple[str, str, str]] = []
    original = BaseClient._make_api_call

    def recording(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        # The simulation runs in an account of its own (MOTO_ACCOUNT_ID while it runs).
        calls.append((os.environ.get("MOTO_ACCOUNT_ID", "account"), self.meta.service_model.service_name, operation))
        return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recording)
    code, _out, err = backtest(capsys, *WINDOW)
    assert code == 0, err
    real = [(service, operation) for where, service, operation in calls if where == "account"]
    readers = ("Describe", "Get", "List", "Query", "Scan")
    assert [call for call in real if not call[1].startswith(readers)] == []
    assert ("monitoring", "DescribeAlarmHistory") in real or ("cloudwatch", "DescribeAlarmHistory") in real
    simulated = {where for where, _, _ in calls} - {"account"}
    assert simulated == {"000000000000"}
    assert any(operation == "SetAlarmState" for where, _, operation in calls if where != "account")
    assert _account_state(stack) == before


def _account_state(stack: Stack) -> Any:
    cloudwatch, sagemaker = boto3.client("cloudwatch"), boto3.client("sagemaker")
    alarms = cloudwatch.describe_alarms()["MetricAlarms"]
    described = sagemaker.describe_endpoint(EndpointName=ENDPOINT)
    targets = boto3.client("application-autoscaling").describe_scalable_targets(ServiceNamespace="sagemaker")
    return (
        sorted((a["AlarmName"], a["StateValue"], str(a["StateUpdatedTimestamp"])) for a in alarms),
        [(v["VariantName"], v["CurrentInstanceCount"], v["CurrentWeight"]) for v in described["ProductionVariants"]],
        sorted((t["ResourceId"], t["MinCapacity"]) for t in targets["ScalableTargets"]),
        len(stack.items("decision")),
        len(stack.items("incident")),
        len(cloudwatch.describe_alarm_history()["AlarmHistoryItems"]),
    )


# --- what it prints -----------------------------------------------------------------------------


def test_the_text_is_aligned_like_status_and_the_page_is_written(
    account: Any, clock: time_machine.Traveller, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    play(account, clock)
    clock.move_to(UNTIL + timedelta(hours=1))
    page = tmp_path / "backtest.html"
    code, out, err = backtest(capsys, *WINDOW, "--html", str(page))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"Backtest  stack {STACK}  {REGION}  2026-11-22 10:00 -> 2026-11-22 11:00 UTC (1.0 h)"
    start = lines.index("INCIDENTS IT WOULD HAVE OPENED")
    header, row = lines[start + 1], lines[start + 2]
    for name, value in (("ALARM", LATENCY), ("OPENED", "10:00"), ("CLOSED", "10:12"), ("OUTCOME", "recovered")):
        assert row[header.index(name) :].split()[0] == value, name
    assert "CAPACITY ADDED: 0.97 instance-hours" in lines
    html = page.read_text()
    assert html.startswith("<!doctype html>")
    assert "<script" not in html
    assert LATENCY in html
    assert "primary min-capacity 2 -&gt; 3" in html


def test_an_endpoint_that_is_gone_is_not_simulated_and_says_why(
    account: Any, clock: time_machine.Traveller, capsys: pytest.CaptureFixture[str]
) -> None:
    play(account, clock)
    boto3.client("sagemaker").delete_endpoint(EndpointName=OTHER)
    clock.move_to(UNTIL + timedelta(hours=1))
    shown = as_json(capsys, *WINDOW)
    assert {s["endpoint"] for s in shown["seeded"]} == {ENDPOINT}
    assert any(note.startswith(f"endpoint {OTHER}: not simulated, SageMaker answers ") for note in shown["notes"])


def test_without_its_extra_packages_it_says_what_to_install_before_reading_the_history(
    account: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "time_machine", None)  # as if not installed
    calls: list[str] = []
    original = BaseClient._make_api_call

    def recording(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        calls.append(operation)
        return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recording)
    code, out, err = backtest(capsys, *WINDOW)
    assert (code, out) == (1, "")
    assert "pip install 'model-medic[backtest]'" in err
    assert "(missing: time_machine)" in err
    assert "DescribeAlarmHistory" not in calls


def test_an_empty_window_is_refused(account: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = backtest(capsys, "--since", UNTIL.isoformat(), "--until", SINCE.isoformat())
    assert code == 1
    assert "the window is empty" in err


# --- the simulation, apart from the account --------------------------------------------------------


def test_a_stack_in_a_china_region_is_simulated_at_its_partitions_endpoints() -> None:
    # botocore's endpoints in aws-cn end in .amazonaws.com.cn: AWS's own, which moto answers.
    from model_medic.backtest.run import simulation
    from model_medic.platform import aws

    with simulation("cn-north-1", 0):
        sagemaker = aws.sagemaker()
        assert sagemaker.meta.endpoint_url == "https://api.sagemaker.cn-north-1.amazonaws.com.cn"
        assert sagemaker.list_endpoints()["Endpoints"] == []  # answered by moto


def test_every_partitions_own_endpoints_are_answered_by_moto() -> None:
    # What the simulation's guard (`run.aws_own`) accepts must be what moto takes in place of AWS:
    # a partition whose DNS suffix moto did not know would let a call through to it.
    import botocore.session
    from moto.core.utils import get_equivalent_url_in_aws_domain

    from model_medic.backtest.run import aws_own

    partitions = botocore.session.get_session().get_data("endpoints")["partitions"]
    for partition in partitions:
        url = f"https://api.sagemaker.{next(iter(partition['regions']))}.{partition['dnsSuffix']}/"
        assert aws_own(url), url
        mocked, _ = get_equivalent_url_in_aws_domain(url)
        assert str(mocked.hostname).endswith(".amazonaws.com"), partition["partition"]
