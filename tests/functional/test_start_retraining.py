"""StartRetrainingFunction against moto: one pipeline run per drift incident, never beside a
running one, verified by the pipeline's own outcome (Succeeded: retrained, recovered once the
alarm returns to OK; Failed or Stopped is critical)."""

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
import time_machine
from botocore.exceptions import ClientError

from localcloud.moto_extensions import (
    finish_pipeline_executions,
    pipeline_executions_run_until_finished,
    set_update_seconds,
)
from model_medic.store.measurements import Measurements
from model_medic.store.table import Table
from tests.conftest import (
    REGION,
    AwsCalls,
    FakeContext,
    Stack,
    bodies,
    decisions,
    load_event,
    load_handler,
    make_endpoint,
    metric_alarm,
    stored_incidents,
)

PIPELINE = "churn-retrain"
ACCOUNT = "123456789012"
ENDPOINT = "churn-prod"
ALARM = f"{ENDPOINT}-DataDrift"
ALARM_ARN = f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:{ALARM}"
OPENED = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)  # StateChangeTime of model_monitor_drift_alarm.json
DELIVERED = OPENED + timedelta(seconds=30)

Requests = list[tuple[str, str, dict[str, Any]]]


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(OPENED, tick=False) as traveller:
        yield traveller


@pytest.fixture
def fn(stack: Stack, clock: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch) -> Any:
    pipeline_executions_run_until_finished()
    monkeypatch.setenv("PIPELINE_NAME", PIPELINE)
    monkeypatch.setenv(
        "PIPELINE_PARAMETERS",
        json.dumps({"EndpointName": "{endpoint}", "DriftedFeature": "{feature}", "TriggeredAt": "{time}"}),
    )
    monkeypatch.setenv("RETRAIN_COOLDOWN_HOURS", "24")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "start-retraining")
    boto3.client("sagemaker").create_pipeline(
        PipelineName=PIPELINE,
        PipelineDefinition=json.dumps({"Version": "2020-12-01", "Steps": []}),
        RoleArn="arn:aws:iam::123456789012:role/pipeline",
    )
    return load_handler("start_retraining")


@pytest.fixture
def churn(stack: Stack) -> None:
    """The monitored endpoint exists (retraining needs it to exist, not to be InService)."""
    make_endpoint(ENDPOINT, {"primary": {"count": 1, "weight": 1.0}})


def executions() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = boto3.client("sagemaker").list_pipeline_executions(PipelineName=PIPELINE)[
        "PipelineExecutionSummaries"
    ]
    return found


def invoke(fn: Any, event: Any) -> dict[str, Any]:
    return fn.lambda_handler(event, FakeContext())  # type: ignore[no-any-return]


def deliver(fn: Any, clock: time_machine.Traveller, event: Any, at: datetime = DELIVERED) -> list[dict[str, Any]]:
    clock.move_to(at)
    return invoke(fn, event)["outcomes"]  # type: ignore[no-any-return]


def drift_alarm(**message: Any) -> dict[str, Any]:
    """Model Monitor's drift alarm for churn-prod (feature_baseline_drift_age), some keys replaced."""
    event = load_event("start_retraining/model_monitor_drift_alarm.json")
    body = json.loads(event["Records"][0]["Sns"]["Message"])
    body.update(message)
    event["Records"][0]["Sns"]["Message"] = json.dumps(body)
    return event  # type: ignore[no-any-return]


def sweep(fn: Any, clock: time_machine.Traveller, at: datetime) -> list[dict[str, Any]]:
    clock.move_to(at)
    event = {
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/model-medic-RetrainingSweep"],
        "detail": {},
    }
    return invoke(fn, event)["outcomes"]  # type: ignore[no-any-return]


def pipeline_status_changed(fn: Any, clock: time_machine.Traveller, at: datetime, status: str) -> list[dict[str, Any]]:
    """EventBridge's "SageMaker Model Building Pipeline Execution Status Change" for the latest run."""
    clock.move_to(at)
    arn = executions()[0]["PipelineExecutionArn"]
    event = {
        "version": "0",
        "id": "5b1a8b9e-0f3c-4b7e-9d0e-3a4c2d1e0f9a",
        "detail-type": "SageMaker Model Building Pipeline Execution Status Change",
        "source": "aws.sagemaker",
        "account": ACCOUNT,
        "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:pipeline/{PIPELINE}", arn],
        "detail": {
            "pipelineExecutionDisplayName": "model-medic-20261122100000",
            "currentPipelineExecutionStatus": status,
            "previousPipelineExecutionStatus": "Executing",
            "executionStartTime": "2026-11-22T10:00:31Z",
            "pipelineArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:pipeline/{PIPELINE}",
            "pipelineExecutionArn": arn,
        },
    }
    return invoke(fn, event)["outcomes"]  # type: ignore[no-any-return]


def drift_alarm_in_cloudwatch(state: str = "ALARM") -> None:
    """The template's DataDrift alarm, as the sweep reads it (DescribeAlarms)."""
    metric_alarm(ALARM, "MaxFeatureDrift", state, statistic="Maximum", period=3600, evaluation_periods=1, threshold=0.2)


def starts(requests: Requests) -> list[dict[str, Any]]:
    return [params for _, op, params in requests if op == "StartPipelineExecution"]


# --- one run per incident --------------------------------------------------------------------


def test_model_monitor_drift_starts_the_pipeline_with_the_feature_and_a_token_from_the_transition(
    fn: Any, stack: Stack, churn: None, clock: time_machine.Traveller, aws_requests: Requests
) -> None:
    [outcome] = deliver(fn, clock, load_event("start_retraining/model_monitor_drift_alarm.json"))
    assert (outcome["result"], outcome["reason"]) == (
        "acted",
        f"start pipeline {PIPELINE} for {ENDPOINT} (drift in age)",
    )
    transition = f"{ALARM_ARN}|ALARM|2026-11-22T10:00:00+00:00"
    assert starts(aws_requests) == [
        {
            "PipelineName": PIPELINE,
            "PipelineExecutionDisplayName": "model-medic-20261122100000",
            "PipelineExecutionDescription": f"Model Medic: {ALARM} at 2026-11-22T10:00:00+00:00",
            "PipelineParameters": [
                {"Name": "DriftedFeature", "Value": "age"},
                {"Name": "EndpointName", "Value": ENDPOINT},
                {"Name": "TriggeredAt", "Value": "2026-11-22T10:00:00Z"},
            ],
            "ClientRequestToken": hashlib.sha256(transition.encode()).hexdigest(),
        }
    ]
    [execution] = executions()
    assert outcome["changes"]["results"] == [{"pipeline_execution_arn": execution["PipelineExecutionArn"]}]
    # The ledger keeps the execution ARN for the report; the incident waits for the pipeline.
    [acted] = decisions(stack, "acted")
    assert json.loads(acted["changes"])["results"] == [{"pipeline_execution_arn": execution["PipelineExecutionArn"]}]
    [incident] = stored_incidents(stack)
    assert (incident["id"], incident["state"], incident["steps"]) == (outcome["incident"], "waiting", 1)
    assert [(b["result"], b["incident"]) for b in bodies(stack, "info")] == [("acted", outcome["incident"])]


def drift_alarm_set(state: str, clock: time_machine.Traveller, at: datetime) -> None:
    """The DataDrift alarm changes state at `at` (the sweep reads it with DescribeAlarms)."""
    clock.move_to(at)
    boto3.client("cloudwatch").set_alarm_state(AlarmName=ALARM, StateValue=state, StateReason="test")


def test_a_succeeded_pipeline_is_retrained_and_the_alarms_own_ok_is_the_recovery(
    fn: Any, stack: Stack, churn: None, clock: time_machine.Traveller
) -> None:
    drift_alarm_in_cloudwatch("ALARM")
    [acted] = deliver(fn, clock, load_event("start_retraining/model_monitor_drift_alarm.json"))
    sweep(fn, clock, OPENED + timedelta(minutes=30))
    assert stored_incidents(stack)[0]["state"] == "waiting"  # still executing
    finish_pipeline_executions(ACCOUNT, REGION, "Succeeded")
    [retrained] = pipeline_status_changed(fn, clock, OPENED + timedelta(hours=2), "Succeeded")
    # The pipeline succeeded; no new model serves and the drift alarm is still in ALARM: no recovery.
    assert (retrained["result"], retrained["incident"]) == ("retrained", acted["incident"])
    assert retrained["reason"] == (
        f"start pipeline {PIPELINE} for {ENDPOINT} (drift in age): the pipeline succeeded; "
        f"the incident stays open until {ALARM} returns to OK"
    )
    [incident] = stored_incidents(stack)
    assert (incident["state"], incident["closed_at"], incident["recovered_seconds"]) == ("retrained", None, None)
    assert [b["result"] for b in bodies(stack, "info")] == ["acted", "retrained"]
    # Nothing is repeated while the alarm lasts, whatever is delivered.
    assert sweep(fn, clock, OPENED + timedelta(hours=2, minutes=5)) == []
    assert pipeline_status_changed(fn, clock, OPENED + timedelta(hours=2, minutes=6), "Succeeded") == []
    assert decisions(stack, "recovered") == []
    # The alarm returns to OK: that is the recovery, timed from the alarm's own transition.
    drift_alarm_set("OK", clock, OPENED + timedelta(hours=5))
    [recovered] = sweep(fn, clock, OPENED + timedelta(hours=5, minutes=5))
    assert (recovered["result"], recovered["incident"]) == ("recovered", acted["incident"])
    assert recovered["reason"].startswith(f"{ALARM} recovered 300 min after it fired, after 1 start-retraining step(s)")
    [incident] = stored_incidents(stack)
    assert (incident["state"], incident["recovered_seconds"]) == ("recovered", 18000.0)
    assert [e["what"] for e in incident["timeline"]][-2:] == ["retrained", "recovered"]
    assert [b["result"] for b in bodies(stack, "info")] == ["recovered"]
    assert bodies(stack, "critical") == []
    assert len(executions()) == 1


def test_an_alarm_that_cleared_while_the_pipeline_ran_recovers_when_it_succeeds(
    fn: Any, stack: Stack, churn: None, clock: time_machine.Traveller
) -> None:
    drift_alarm_in_cloudwatch("ALARM")
    [acted] = deliver(fn, clock, load_event("start_retraining/model_monitor_drift_alarm.json"))
    drift_alarm_set("OK", clock, OPENED + timedelta(hours=1))
    sweep(fn, clock, OPENED + timedelta(hours=1, minutes=5))
    [incident] = stored_incidents(stack)
    assert (incident["state"], incident["alarm_ok_at"]) == ("waiting", (OPENED + timedelta(hours=1)).isoformat())
    finish_pipeline_executions(ACCOUNT, REGION, "Succeeded")
    [recovered] = pipeline_status_changed(fn, clock, OPENED + timedelta(hours=2), "Succeeded")
    assert (recovered["result"], recovered["incident"]) == ("recovered", acted["incident"])
    [incident] = stored_incidents(stack)
    assert (incident["state"], incident["recovered_seconds"]) == ("recovered", 3600.0)
    assert incident["closed_at"] == (OPENED + timedelta(hours=1)).isoformat()
    assert [b["result"] for b in bodies(stack, "info")] == ["acted", "recovered"]


@pytest.mark.parametrize("status", ["Failed", "Stopped"])
def test_a_failed_or_stopped_pipeline_is_critical_and_not_started_again(
    fn: Any, stack: Stack, churn: None, clock: time_machine.Traveller, status: str
) -> None:
    drift_alarm_in_cloudwatch("ALARM")
    [acted] = deliver(fn, clock, load_event("start_retraining/model_monitor_drift_alarm.json"))
    arn = executions()[0]["PipelineExecutionArn"]
    finish_pipeline_executions(ACCOUNT, REGION, status)
    [failed] = pipeline_status_changed(fn, clock, OPENED + timedelta(hours=1), status)
    assert (failed["result"], failed["incident"]) == ("failed", acted["incident"])
    assert failed["reason"] == f"start pipeline {PIPELINE} did not take: pipeline execution {arn} {status}"
    assert stored_incidents(stack)[0]["state"] == "escalated"
    for hours in (2, 3):
        assert sweep(fn, clock, OPENED + timedelta(hours=hours)) == []
    assert [b["result"] for b in bodies(stack, "critical")] == ["failed"]
    assert len(executions()) == 1


def test_the_sweep_also_reads_the_pipelines_verdict(
    fn: Any, stack: Stack, churn: None, clock: time_machine.Traveller
) -> None:
    # The status-change event may be lost; the 5-minute sweep looks at the execution itself.
    drift_alarm_in_cloudwatch("ALARM")
    deliver(fn, clock, load_event("start_retraining/model_monitor_drift_alarm.json"))
    finish_pipeline_executions(ACCOUNT, REGION, "Failed")
    [failed] = sweep(fn, clock, OPENED + timedelta(minutes=45))
    assert failed["result"] == "failed"
    assert [b["result"] for b in bodies(stack, "critical")] == ["failed"]


def test_redeliveries_and_sweeps_while_the_run_executes_start_nothing_more(
    fn: Any, stack: Stack, churn: None, clock: time_machine.Traveller, aws_calls: AwsCalls
) -> None:
    drift_alarm_in_cloudwatch("ALARM")
    for seconds in (30, 31, 200):
        deliver(
            fn,
            clock,
            load_event("start_retraining/model_monitor_drift_alarm.json"),
            OPENED + timedelta(seconds=seconds),
        )
    for minutes in (5, 10, 15):
        sweep(fn, clock, OPENED + timedelta(minutes=minutes))
    assert len(executions()) == 1
    assert aws_calls.of("sagemaker").count("StartPipelineExecution") == 1
    assert len(decisions(stack, "acted")) == 1
    assert [b["result"] for b in bodies(stack, "info")] == ["acted"]
    # The wait is recorded once, not at every look.
    assert len([d for d in decisions(stack) if d["gate"] == "waiting"]) == 1


def test_a_start_whose_answer_was_lost_is_not_started_twice(
    fn: Any, stack: Stack, churn: None, clock: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.client import BaseClient

    original = BaseClient._make_api_call
    lost: list[str] = []

    def answer_lost_once(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        answer = original(self, operation, params)
        if operation == "StartPipelineExecution" and not lost:
            lost.append(operation)
            raise ClientError({"Error": {"Code": "InternalFailure", "Message": "try again"}}, operation)
        return answer

    monkeypatch.setattr(BaseClient, "_make_api_call", answer_lost_once)
    event = load_event("start_retraining/model_monitor_drift_alarm.json")
    with pytest.raises(ClientError):
        deliver(fn, clock, event)
    [acted] = deliver(fn, clock, event, at=DELIVERED + timedelta(minutes=1))  # Lambda's retry
    assert acted["result"] == "acted"
    [execution] = executions()  # the same ClientRequestToken: SageMaker starts it once
    assert acted["changes"]["results"] == [{"pipeline_execution_arn": execution["PipelineExecutionArn"]}]
    assert len(decisions(stack, "acted")) == 1
    assert [b["result"] for b in bodies(stack, "info")] == ["acted"]


def test_a_run_already_executing_is_waited_for_and_the_sweep_starts_one_when_it_ends(
    fn: Any, stack: Stack, churn: None, clock: time_machine.Traveller
) -> None:
    drift_alarm_in_cloudwatch("ALARM")
    running = boto3.client("sagemaker").start_pipeline_execution(PipelineName=PIPELINE)["PipelineExecutionArn"]
    [skipped] = deliver(fn, clock, load_event("start_retraining/model_monitor_drift_alarm.json"))
    assert (skipped["result"], skipped["gate"]) == ("skipped", "precondition")
    assert skipped["reason"] == f"pipeline {PIPELINE} is already executing: {running}"
    assert sweep(fn, clock, OPENED + timedelta(minutes=5)) == []  # the same wait, recorded once
    assert len(executions()) == 1
    finish_pipeline_executions(ACCOUNT, REGION, "Succeeded")
    [acted] = sweep(fn, clock, OPENED + timedelta(minutes=10))
    assert (acted["result"], acted["incident"]) == ("acted", skipped["incident"])
    assert len(executions()) == 2


def test_at_most_one_run_per_cooldown_per_endpoint(
    fn: Any, stack: Stack, churn: None, clock: time_machine.Traveller
) -> None:
    deliver(fn, clock, load_event("start_retraining/model_monitor_drift_alarm.json"))
    finish_pipeline_executions(ACCOUNT, REGION, "Succeeded")
    # A new transition an hour later (ComputeDrift's alarm): the 24-hour cool-down holds.
    [second] = deliver(fn, clock, load_event("start_retraining/data_drift_alarm.json"), OPENED + timedelta(hours=1))
    assert (second["result"], second["gate"]) == ("skipped", "cooldown")
    assert second["reason"].endswith("looked at again from 2026-11-23T10:00:30+00:00")
    assert len(executions()) == 1


def test_the_feature_comes_from_compute_drifts_latest_measurement_when_the_alarm_names_none(
    fn: Any, stack: Stack, churn: None, clock: time_machine.Traveller, aws_requests: Requests
) -> None:
    Measurements(Table(boto3.client("dynamodb"), stack.table)).save_drift(ENDPOINT, OPENED, "tenure", 0.31)
    [outcome] = deliver(fn, clock, load_event("start_retraining/data_drift_alarm.json"), OPENED + timedelta(hours=1))
    assert outcome["reason"] == f"start pipeline {PIPELINE} for {ENDPOINT} (drift in tenure)"
    [start] = starts(aws_requests)
    assert {"Name": "DriftedFeature", "Value": "tenure"} in start["PipelineParameters"]


def test_drift_without_a_feature_says_so_not_unnamed_feature(
    fn: Any, stack: Stack, churn: None, clock: time_machine.Traveller
) -> None:
    [outcome] = deliver(fn, clock, load_event("start_retraining/data_drift_alarm.json"))
    assert outcome["reason"] == f"start pipeline {PIPELINE} for {ENDPOINT} (drift; no feature named by the job)"


def test_a_feature_drift_alarm_names_its_feature(
    fn: Any, stack: Stack, churn: None, clock: time_machine.Traveller, aws_requests: Requests
) -> None:
    event = drift_alarm(
        Trigger={
            "MetricName": "FeatureDrift",
            "Namespace": "Custom/SageMaker",
            "StatisticType": "Statistic",
            "Statistic": "MAXIMUM",
            "Unit": None,
            "Dimensions": [{"value": ENDPOINT, "name": "EndpointName"}, {"value": "tenure", "name": "Feature"}],
            "Period": 3600,
            "EvaluationPeriods": 1,
            "ComparisonOperator": "GreaterThanThreshold",
            "Threshold": 0.2,
            "TreatMissingData": "notBreaching",
        }
    )
    [outcome] = deliver(fn, clock, event)
    assert outcome["reason"] == f"start pipeline {PIPELINE} for {ENDPOINT} (drift in tenure)"
    [start] = starts(aws_requests)
    assert {"Name": "DriftedFeature", "Value": "tenure"} in start["PipelineParameters"]


def test_a_pipeline_that_fails_after_the_alarm_cleared_is_still_critical(
    fn: Any, stack: Stack, churn: None, clock: time_machine.Traveller
) -> None:
    drift_alarm_in_cloudwatch("ALARM")
    deliver(fn, clock, load_event("start_retraining/model_monitor_drift_alarm.json"))
    clock.move_to(OPENED + timedelta(hours=1))
    drift_alarm_in_cloudwatch("OK")
    sweep(fn, clock, OPENED + timedelta(hours=1, minutes=5))
    finish_pipeline_executions(ACCOUNT, REGION, "Failed")
    pipeline_status_changed(fn, clock, OPENED + timedelta(hours=2), "Failed")
    sweep(fn, clock, OPENED + timedelta(hours=2, minutes=5))
    assert [b["result"] for b in bodies(stack, "critical")] == ["failed"]


# --- gates and bad input -----------------------------------------------------------------------


def test_retraining_does_not_wait_for_the_endpoint_to_be_in_service(
    fn: Any, stack: Stack, churn: None, clock: time_machine.Traveller
) -> None:
    set_update_seconds(600)
    boto3.client("sagemaker").update_endpoint_weights_and_capacities(
        EndpointName=ENDPOINT, DesiredWeightsAndCapacities=[{"VariantName": "primary", "DesiredWeight": 2.0}]
    )
    assert boto3.client("sagemaker").describe_endpoint(EndpointName=ENDPOINT)["EndpointStatus"] == "Updating"
    [outcome] = deliver(fn, clock, load_event("start_retraining/model_monitor_drift_alarm.json"))
    assert outcome["result"] == "acted"
    assert len(executions()) == 1


def test_an_endpoint_that_does_not_exist_starts_nothing_and_a_person_hears_once(
    fn: Any, stack: Stack, clock: time_machine.Traveller
) -> None:
    [outcome] = deliver(fn, clock, load_event("start_retraining/model_monitor_drift_alarm.json"))
    assert (outcome["result"], outcome["gate"]) == ("skipped", "permanent-error")
    later = DELIVERED + timedelta(minutes=1)
    [again] = deliver(fn, clock, load_event("start_retraining/model_monitor_drift_alarm.json"), later)
    assert again["result"] == "skipped"
    assert executions() == []
    [notice] = bodies(stack, "critical")
    assert notice["subject"] == f"[CRITICAL] test cannot start-retraining {ENDPOINT}"
    assert [d["gate"] for d in decisions(stack)] == ["permanent-error"]


def test_an_alarm_without_an_endpoint_dimension_is_rejected_and_starts_nothing(
    fn: Any, stack: Stack, churn: None, clock: time_machine.Traveller
) -> None:
    trigger = json.loads(load_event("start_retraining/data_drift_alarm.json")["Records"][0]["Sns"]["Message"])[
        "Trigger"
    ]
    event = drift_alarm(Trigger={**trigger, "Dimensions": []})
    clock.move_to(DELIVERED)
    result = invoke(fn, event)
    assert result["outcomes"] == []
    assert result["rejected"] == [f"alarm '{ALARM}' has no EndpointName or Endpoint dimension"]
    assert executions() == []
    assert stack.items("incident") == []


def test_an_endpoint_out_of_scope_is_a_recorded_skip(
    fn: Any, stack: Stack, churn: None, clock: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MONITORED_ENDPOINTS", "fraud-prod")
    [outcome] = deliver(fn, clock, load_event("start_retraining/model_monitor_drift_alarm.json"))
    assert (outcome["result"], outcome["gate"]) == ("skipped", "scope")
    assert executions() == []


def test_dry_run_names_the_pipeline_and_parameters_and_starts_nothing(
    fn: Any, stack: Stack, churn: None, clock: time_machine.Traveller
) -> None:
    stack.set_mode("dry-run")
    [outcome] = deliver(fn, clock, load_event("start_retraining/model_monitor_drift_alarm.json"))
    assert (outcome["result"], outcome["reason"]) == (
        "dry-run",
        f"start pipeline {PIPELINE} for {ENDPOINT} (drift in age)",
    )
    [change] = outcome["changes"]["changes"]
    assert change["pipeline"] == PIPELINE
    assert ("DriftedFeature", "age") in [tuple(p) for p in change["parameters"]]
    assert executions() == []
    assert [b["result"] for b in bodies(stack, "info")] == ["dry-run"]


def test_mode_off_starts_nothing(fn: Any, stack: Stack, churn: None, clock: time_machine.Traveller) -> None:
    stack.set_mode("off")
    [outcome] = deliver(fn, clock, load_event("start_retraining/model_monitor_drift_alarm.json"))
    assert (outcome["result"], outcome["gate"]) == ("skipped", "mode")
    assert executions() == []


def test_a_parameter_template_with_an_unknown_placeholder_fails_loudly_and_starts_nothing(
    fn: Any, stack: Stack, churn: None, clock: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIPELINE_PARAMETERS", json.dumps({"Model": "{model_name}"}))
    with pytest.raises(ValueError, match="unknown \\['model_name'\\]"):
        deliver(fn, clock, load_event("start_retraining/data_drift_alarm.json"))
    assert executions() == []


@pytest.mark.parametrize("time", ["soon", "2026-11-22T10:05:00", None])
def test_a_scheduled_event_with_a_bad_time_is_rejected_cleanly(fn: Any, stack: Stack, churn: None, time: Any) -> None:
    event = {"detail-type": "Scheduled Event", "source": "aws.events", "time": time, "resources": [], "detail": {}}
    result = invoke(fn, event)
    assert result["outcomes"] == []
    [rejected] = result["rejected"]
    assert rejected.startswith("scheduled event")
    assert repr(time) in rejected
    assert executions() == []
    assert stack.items("decision") == []


@pytest.mark.parametrize(
    "mutate",
    [lambda e: e.update(source="aws.events"), lambda e: e.update(detail="Succeeded"), lambda e: e.pop("source")],
)
def test_a_pipeline_status_change_sagemaker_could_not_have_sent_is_rejected_not_swept(
    fn: Any, churn: None, aws_calls: AwsCalls, mutate: Any
) -> None:
    event = load_event("start_retraining/pipeline_status_change.json")
    assert invoke(fn, event)["rejected"] == []  # the real one sweeps
    mutate(event)
    aws_calls.made.clear()
    result = invoke(fn, event)
    assert result["outcomes"] == []
    assert "detail-type" in result["rejected"][0]
    assert aws_calls.made == []
