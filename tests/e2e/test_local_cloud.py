"""End to end: template.yaml built, packaged and deployed into moto server, then driven
through its real wiring by the demo's scenarios, the invoke contract and async failures."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from localcloud import scenarios, world
from localcloud.__main__ import UPDATE_SECONDS, parameters, simulate_aws, start_server
from localcloud.cloud import ROOT, LocalCloud

# The demo's scenarios play for minutes: a parallel run starts them first.
pytestmark = [pytest.mark.slow, pytest.mark.longest]
START = datetime.now(UTC).replace(second=0, microsecond=0)


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    server, port = start_server(ROOT / ".localcloud" / "moto-e2e.log")
    try:
        local = LocalCloud(f"http://127.0.0.1:{port}")
        world.seed_fleet(local)  # before the stack, as in the demo
        local.deploy(parameters("enforce"))
        world.seed(local, START)
        simulate_aws(local)
        yield local
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="module")
def results(cloud: LocalCloud) -> dict[int, scenarios.Result]:
    return {r.number: r for r in scenarios.run_all(cloud, START)}


@pytest.mark.parametrize("number", range(1, len(scenarios.SCENARIOS) + 1))
def test_demo_scenario(results: dict[int, scenarios.Result], number: int) -> None:
    result = results[number]
    if result.status == "pending":
        pytest.skip(f"scenario {number} pending: {result.why}")
    assert result.status == "passed", "\n".join([result.title, *result.lines, result.why])


def test_the_demos_backtest_of_its_own_history_finds_what_enforce_did(
    results: dict[int, scenarios.Result],
) -> None:
    # The backtest scenario replays the demo's alarm history (the local cloud's DescribeAlarmHistory)
    # through `model-medic backtest` and holds it against the stack's ledger; it printed both.
    # Scenarios after it (the two teams, the serverless and inference-component endpoints) make
    # endpoints of their own and leave churn-prod's history as it was.
    [number] = [n for n, (_, s) in enumerate(scenarios.SCENARIOS, start=1) if s is scenarios.backtest_matches_enforce]
    assert scenarios.BACKTEST_UPDATE_MINUTES * 60 == UPDATE_SECONDS  # the local cloud's update time
    last = results[number]
    assert last.status == "passed", "\n".join([last.title, *last.lines, last.why])
    text = "\n".join(last.lines)
    assert "INCIDENTS IT WOULD HAVE OPENED" in text
    assert "WHAT THE STACK RECORDED (its ledger, the same window) AND THE BACKTEST" in text
    assert "differs" not in text


def test_the_stack_materialises_what_moto_skips(cloud: LocalCloud) -> None:
    alarms = cloud.client("cloudwatch").describe_alarms(AlarmNamePrefix=world.ENDPOINT)["MetricAlarms"]
    names = {a["AlarmName"] for a in alarms}
    own = {f"{world.ENDPOINT}-{s}" for s in ("HighErrorRate", "HighLatency", "DataDrift", "ModelAccuracyDrop")}
    canary = {f"{world.ENDPOINT}-canary-{s}" for s in ("ErrorRate", "Latency")}
    # The canary's two follow the canary variant: put with it; removed at its end's state change,
    # else in the endpoint's hourly turn (the scenarios may have ended it since).
    if "canary" in world.instance_counts(cloud, world.ENDPOINT):
        assert names == own | canary
    else:
        assert names in (own, own | canary)
    subscriptions = cloud.client("sns").list_subscriptions()["Subscriptions"]
    assert sum(s["Protocol"] == "lambda" for s in subscriptions) == 4  # the alarm-driven actions
    # The stack's own health alarms (moto's CloudFormation makes them with `cloudformation_alarms`).
    health = {f"{cloud.stack.name}-DeadLetters", f"{cloud.stack.name}-LettersNotSent"}
    found = {
        a["AlarmName"]: a for a in cloud.client("cloudwatch").describe_alarms(AlarmNames=sorted(health))["MetricAlarms"]
    }
    assert set(found) == health
    queue = cloud.stack.resources["DeadLetterQueue"].rsplit("/", 1)[1]
    assert found[f"{cloud.stack.name}-DeadLetters"]["Dimensions"] == [{"Name": "QueueName", "Value": queue}]
    functions = {k for k in cloud.stack.resources if k.endswith("Function")}
    assert functions >= {
        "ScaleUpFunction",
        "StartRetrainingFunction",
        "RollbackModelFunction",
        "ComputeMetricsFunction",
    }
    assert set(cloud.stack.invoke_configs) == functions


def test_invoke_runs_the_deployed_handler_with_its_environment(cloud: LocalCloud) -> None:
    event = json.loads((ROOT / "events" / "rollback_model" / "endpoint_in_service.json").read_text())
    invocation = cloud.invoke("RollbackModelFunction", event, START)
    assert invocation.error is None, invocation.logs
    assert invocation.result == {
        "recorded": {"endpoint": "churn-prod", "config": "churn-prod-config-1"},
        "rejected": [],
    }
    assert '"service":"rollback-model"' in invocation.logs  # POWERTOOLS_SERVICE_NAME from the template


def test_an_event_that_keeps_failing_is_retried_twice_then_parked_in_the_dead_letter_queue(cloud: LocalCloud) -> None:
    # A missing endpoint is a recorded skip (a permanent error, not retried); what keeps
    # failing is a broken deployment: the function's ledger table is gone.
    lambdas = cloud.client("lambda")
    name = cloud.stack.resources["ScaleUpFunction"]
    deployed = lambdas.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
    variables = {key: str(value) for key, value in deployed.items()}
    lambdas.update_function_configuration(
        FunctionName=name, Environment={"Variables": {**variables, "LEDGER_TABLE": "model-medic-gone"}}
    )
    try:
        [invocation] = cloud.tick("ScaleUpFunction", START + timedelta(days=3))
    finally:
        lambdas.update_function_configuration(FunctionName=name, Environment={"Variables": variables})
    assert invocation.error is not None
    assert "ResourceNotFound" in invocation.error
    assert (invocation.attempts, invocation.parked) == (3, True)
    sqs = cloud.client("sqs")
    url = cloud.stack.outputs["DeadLetterQueueUrl"]
    [message] = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    parked = json.loads(message["Body"])
    assert parked["requestContext"]["condition"] == "RetriesExhausted"
    assert parked["requestPayload"]["detail-type"] == "Scheduled Event"


# What an API call needs in IAM where the action is not "<service>:<operation>" (Service
# Authorization Reference): S3 lists with ListBucket and reads heads with GetObject; the
# Tagging API's prefix is "tag"; CloudWatch's service is "monitoring" to botocore.
_PREFIX = {"resourcegroupstaggingapi": "tag", "monitoring": "cloudwatch"}
_ACTION = {
    "s3:ListObjectsV2": ("s3:ListBucket",),
    "s3:HeadObject": ("s3:GetObject",),
    "sqs:SendMessageBatch": ("sqs:SendMessage",),
}
# A TransactWriteItems needs each item's own action (DynamoDB Developer Guide, "Using IAM with
# DynamoDB transactions"): checked with the ledger's transactions in tests/template/test_security.py.
_PER_ITEM = {"dynamodb:TransactWriteItems"}
# What SAM's AWS managed policies give every function (CloudWatch Logs; X-Ray for active tracing).
_MANAGED = ("logs:", "xray:")


def test_every_aws_call_each_function_made_in_the_demo_is_allowed_by_its_role(
    cloud: LocalCloud, results: dict[int, scenarios.Result]
) -> None:
    """moto enforces no IAM: each call the demo's functions really made (recorded by the
    runner) is held against the role CloudFormation would give that function."""
    from fnmatch import fnmatch

    from localcloud import sam, template
    from tests.template.test_security import grants

    transformed = sam.transformed(template.load(), parameters("enforce"))
    allowed: dict[str, set[str]] = {}
    for grant in grants(transformed):
        allowed.setdefault(grant.role, set()).add(grant.action)
    assert len(cloud.calls) >= 9, sorted(cloud.calls)  # every function ran in the demo
    missing = []
    for function, calls in sorted(cloud.calls.items()):
        role = allowed.get(f"{function}Role", set())
        for call in sorted(calls - _PER_ITEM):
            service, operation = call.split(":", 1)
            call = f"{_PREFIX.get(service, service)}:{operation}"
            for action in _ACTION.get(call, (call,)):
                if not action.startswith(_MANAGED) and not any(fnmatch(action, a) for a in role):
                    missing.append(f"{function}: {call} needs {action}")
    assert missing == []


def test_the_env_vars_file_gives_every_function_each_template_variable_resolved(cloud: LocalCloud) -> None:
    from localcloud import sam, template
    from model_medic.platform import settings

    models = {
        "AlarmManagerFunction": settings.AlarmManagerSettings,
        "ScaleUpFunction": settings.ScaleUpSettings,
        "StartRetrainingFunction": settings.RetrainingSettings,
        "RollbackModelFunction": settings.RollbackSettings,
        "PromoteCanaryFunction": settings.CanarySettings,
        "ComputeMetricsFunction": settings.ComputeMetricsSettings,
        "ComputeDriftFunction": settings.DriftSettings,
        "ComputeModelQualityFunction": settings.QualitySettings,
        "DailyReportFunction": settings.ReportSettings,
    }
    env = cloud.env_vars("http://host.docker.internal:4566")
    transformed = sam.transformed(template.load(), parameters("enforce"))
    declared = {
        name: set(r["Properties"]["Environment"]["Variables"])
        for name, r in transformed["Resources"].items()
        if r["Type"] == "AWS::Lambda::Function"
    }
    assert set(env) == set(declared)
    for function, variables in env.items():
        # Exactly the template's variables: sam local invoke overrides only declared ones.
        assert set(variables) == declared[function], function
        assert variables["AWS_ENDPOINT_URL"] == "http://host.docker.internal:4566"
        # No logical ID where a Ref stood (what sam local alone would give: INFO_TOPIC_ARN=InfoTopic).
        assert variables["INFO_TOPIC_ARN"].startswith("arn:aws:sns:"), function
        assert variables["LEDGER_TABLE"] != "LedgerTable", function
        models[function].model_validate(variables)  # what the function does on its first line
    assert set(models) >= set(env)
