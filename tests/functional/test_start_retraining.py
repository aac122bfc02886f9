"""StartRetrainingFunction against moto: one run per drift, never beside a running one."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from localcloud.moto_extensions import finish_pipeline_executions, pipeline_executions_run_until_finished
from tests.conftest import REGION, AwsCalls, FakeContext, Stack, load_event, load_handler

PIPELINE = "churn-retrain"
ACCOUNT = "123456789012"


@pytest.fixture
def fn(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Any:
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


def executions() -> list[dict[str, Any]]:
    return boto3.client("sagemaker").list_pipeline_executions(PipelineName=PIPELINE)["PipelineExecutionSummaries"]


def invoke(fn: Any, event: Any) -> list[dict[str, Any]]:
    return fn.lambda_handler(event, FakeContext())["outcomes"]  # type: ignore[no-any-return]


def test_model_monitor_drift_starts_the_pipeline_with_the_feature(fn: Any, stack: Stack, aws_calls: AwsCalls):
    [outcome] = invoke(fn, load_event("start_retraining/model_monitor_drift_alarm.json"))
    assert outcome["result"] == "acted"
    assert outcome["reason"] == "start pipeline churn-retrain for churn-prod (drift in age)"
    assert aws_calls.of("sagemaker") == ["ListPipelineExecutions", "StartPipelineExecution"]
    [execution] = executions()
    assert outcome["changes"]["pipeline_execution_arn"] == execution["PipelineExecutionArn"]
    assert outcome["changes"]["parameters"] == [
        {"Name": "DriftedFeature", "Value": "age"},
        {"Name": "EndpointName", "Value": "churn-prod"},
        {"Name": "TriggeredAt", "Value": "2026-11-22T10:00:00Z"},
    ]
    # The ledger keeps the execution ARN for the report.
    [decision] = stack.items("decision")
    assert json.loads(decision["changes"])["pipeline_execution_arn"] == execution["PipelineExecutionArn"]


def test_a_second_drift_alarm_while_the_run_executes_starts_nothing(fn: Any, stack: Stack, monkeypatch):
    monkeypatch.setenv("RETRAIN_COOLDOWN_HOURS", "0")  # so that the precondition, not the cool-down, decides
    invoke(fn, load_event("start_retraining/model_monitor_drift_alarm.json"))
    later = datetime.now(UTC) + timedelta(minutes=5)
    monkeypatch.setattr(fn, "utc_now", lambda: later)
    [second] = invoke(fn, load_event("start_retraining/data_drift_alarm.json"))
    assert (second["result"], second["gate"]) == ("skipped", "precondition")
    assert "already executing" in second["reason"]
    assert len(executions()) == 1
    # Once the run has finished, the next drift starts one.
    finish_pipeline_executions(ACCOUNT, REGION)
    event = load_event("start_retraining/data_drift_alarm.json")
    message = json.loads(event["Records"][0]["Sns"]["Message"])
    message["StateChangeTime"] = "2026-11-22T12:00:00.000+0000"
    event["Records"][0]["Sns"]["Message"] = json.dumps(message)
    [third] = invoke(fn, event)
    assert third["result"] == "acted"
    assert len(executions()) == 2


def test_at_most_one_run_per_cooldown_per_endpoint(fn: Any, stack: Stack):
    invoke(fn, load_event("start_retraining/model_monitor_drift_alarm.json"))
    finish_pipeline_executions(ACCOUNT, REGION)
    [second] = invoke(fn, load_event("start_retraining/data_drift_alarm.json"))
    assert second["gate"] == "cooldown"
    assert len(executions()) == 1


def test_redelivery_starts_nothing_and_the_token_is_derived_from_the_transition(fn: Any, stack: Stack):
    for _ in range(3):
        invoke(fn, load_event("start_retraining/model_monitor_drift_alarm.json"))
    assert len(executions()) == 1


def test_a_parameter_template_with_an_unknown_placeholder_fails_loudly(fn: Any, stack: Stack, monkeypatch):
    monkeypatch.setenv("PIPELINE_PARAMETERS", json.dumps({"Model": "{model_name}"}))
    with pytest.raises(ValueError, match="unknown \\['model_name'\\]"):
        invoke(fn, load_event("start_retraining/data_drift_alarm.json"))
    assert executions() == []
    assert json.loads(stack.drain("critical")[0]["Message"])["result"] == "failed"


def test_dry_run_names_the_pipeline_and_parameters_and_starts_nothing(fn: Any, stack: Stack):
    stack.set_mode("dry-run")
    [outcome] = invoke(fn, load_event("start_retraining/data_drift_alarm.json"))
    assert outcome["result"] == "dry-run"
    assert outcome["changes"]["pipeline"] == PIPELINE
    assert {"Name": "DriftedFeature", "Value": ""} in outcome["changes"]["parameters"]
    assert executions() == []
