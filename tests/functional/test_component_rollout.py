"""PromoteCanaryFunction on an endpoint of inference components, against moto: an approved package's
model is rolled to the component serving its group in the smallest batches AWS allows, judged on each
tick through a verdict alarm SageMaker watches (the local cloud's rolling update, moto_extensions.py),
and read back once the component is InService again.

The endpoint and the component are AWS's own requests (tests/data/real/endpoints/,
tests/data/real/inference-components/), on the stack's monitored endpoint's name."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import time_machine

from localcloud.moto_extensions import set_update_seconds
from model_medic.remediate.component_rollback import spec_digest, spec_request
from model_medic.remediate.rollout.component_changes import FireVerdict
from model_medic.remediate.rollout.component_cloudwatch import put_verdict, standing_verdict
from model_medic.store.component_specs import ComponentSpecs
from model_medic.store.deployments import Created, Deployments
from model_medic.store.journal import Journal
from model_medic.store.table import Table
from tests.conftest import FakeContext, Stack, bodies, load_event, load_handler, stored_incidents
from tests.functional.test_promote_canary import approval_event
from tests.real_endpoints import MODEL_ROLE, load

REAL = Path(__file__).resolve().parents[1] / "data" / "real" / "inference-components"
ENDPOINT = "churn-prod"
REQUEST = {**json.loads((REAL / "create-inference-component.json").read_text()), "EndpointName": ENDPOINT}
COMPONENT = REQUEST["InferenceComponentName"]
SERVING = REQUEST["Specification"]["ModelName"]
VERDICT = f"{ENDPOINT}-{COMPONENT}-RolloutVerdict"
GROUP = "llama3"
T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
SETTINGS = {
    "PRIMARY_VARIANT": "AllTraffic",
    "CANARY_VARIANT": "canary",
    "CANARY_STEPS": "5,10,25,50,100",
    "CANARY_BAKE_MINUTES": "10",
    "CANARY_MIN_INVOCATIONS": "100",
    "CANARY_MAX_ERROR_RATE": "5",
    "CANARY_MAX_LATENCY_MS": "1000",
    "MAX_INSTANCE_COUNT": "10",
    "MODEL_PACKAGE_GROUPS": GROUP,
    "REJECT_MODEL_PACKAGES": "true",
    "ACTIONS_PER_HOUR": "20",
    "POWERTOOLS_SERVICE_NAME": "promote-canary",
}


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(T0 - timedelta(days=1, minutes=5), tick=False) as traveller:
        yield traveller


@pytest.fixture
def fn(stack: Stack, clock: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, value in SETTINGS.items():
        monkeypatch.setenv(name, value)
    return load_handler("promote_canary")


def package(status: str) -> str:
    sagemaker = boto3.client("sagemaker")
    version = len(sagemaker.list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"]) + 1
    return str(
        sagemaker.create_model_package(
            ModelPackageGroupName=GROUP,
            ModelApprovalStatus=status,
            InferenceSpecification={
                "Containers": [{"Image": f"123456789012.dkr.ecr.us-east-1.amazonaws.com/{GROUP}:{version}"}],
                "SupportedContentTypes": ["application/json"],
                "SupportedResponseMIMETypes": ["application/json"],
            },
        )["ModelPackageArn"]
    )


def component_endpoint(copies: int = 4) -> str:
    """AWS's component endpoint; its component serves llama3/1 on `copies` copies; llama3/2 waits for approval."""
    sagemaker = boto3.client("sagemaker")
    config = load("inference-components", "endpoint-config")
    sagemaker.create_endpoint_config(**config)
    sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=config["EndpointConfigName"])
    sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
    serving = package("Approved")
    sagemaker.create_model(
        ModelName=SERVING, ExecutionRoleArn=MODEL_ROLE, PrimaryContainer={"ModelPackageName": serving}
    )
    sagemaker.create_inference_component(**{**REQUEST, "RuntimeConfig": {"CopyCount": copies}})
    return package("PendingManualApproval")


def traffic(start: datetime, minutes: int, every: int, requests: float, errors: float) -> None:
    """The component's Invocations and Invocation5XXErrors as SageMaker publishes them, every `every` minutes."""
    cloudwatch = boto3.client("cloudwatch")
    dimensions = [{"Name": "InferenceComponentName", "Value": COMPONENT}]
    data = [
        {"MetricName": metric, "Dimensions": dimensions, "Timestamp": start + timedelta(minutes=m), "Value": value}
        for m in range(0, minutes, every)
        for metric, value in (("Invocations", requests), ("Invocation5XXErrors", errors))
    ]
    for index in range(0, len(data), 500):
        cloudwatch.put_metric_data(Namespace="AWS/SageMaker", MetricData=data[index : index + 500])


def approve(fn: Any, clock: time_machine.Traveller, arn: str, at: datetime = T0) -> list[dict[str, Any]]:
    clock.move_to(at)
    boto3.client("sagemaker").update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    return fn.lambda_handler(approval_event(arn, GROUP, at), FakeContext())["outcomes"]  # type: ignore[no-any-return]


def tick(fn: Any, clock: time_machine.Traveller, at: datetime) -> list[dict[str, Any]]:
    clock.move_to(at)
    event = load_event("promote_canary/schedule.json")
    event["time"] = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return [o for o in fn.lambda_handler(event, FakeContext())["outcomes"] if o["action"] == "rollout"]


def component() -> dict[str, Any]:
    return boto3.client("sagemaker").describe_inference_component(InferenceComponentName=COMPONENT)  # type: ignore[no-any-return]


def verdict_alarms() -> list[str]:
    return [a["AlarmName"] for a in boto3.client("cloudwatch").describe_alarms(AlarmNames=[VERDICT])["MetricAlarms"]]


@pytest.fixture
def rollout(fn: Any, clock: time_machine.Traveller, aws_requests: list[tuple[str, str, dict[str, Any]]]) -> str:
    """llama3/2 approved at T0 on a component of 4 copies that erred 0.5 % over the day before."""
    candidate = component_endpoint()
    traffic(T0 - timedelta(days=1), 24 * 60, 10, requests=1000, errors=5)
    set_update_seconds(300)  # a batch's copies take 5 minutes to come up, then bake 10
    [started] = approve(fn, clock, candidate)
    assert started["result"] == "acted", started
    return candidate


def test_the_rolling_update_is_asked_in_batches_of_one_copy_judged_by_the_verdict_alarm(
    rollout: str, stack: Stack, aws_requests: list[tuple[str, str, dict[str, Any]]]
) -> None:
    [update] = [p for _, op, p in aws_requests if op == "UpdateInferenceComponent"]
    assert update["Specification"]["ModelName"] != SERVING
    assert {k: v for k, v in update["Specification"].items() if k != "ModelName"} == {
        k: v for k, v in REQUEST["Specification"].items() if k != "ModelName"
    }
    assert update["DeploymentConfig"] == {
        "RollingUpdatePolicy": {
            "MaximumBatchSize": {"Type": "COPY_COUNT", "Value": 1},
            "WaitIntervalInSeconds": 600,
            "MaximumExecutionTimeoutInSeconds": 4 * (600 + 900),
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": VERDICT}]},
    }
    model = boto3.client("sagemaker").describe_model(ModelName=update["Specification"]["ModelName"])
    assert model["PrimaryContainer"]["ModelPackageName"] == rollout
    assert model["ExecutionRoleArn"] == MODEL_ROLE
    [alarm] = boto3.client("cloudwatch").describe_alarms(AlarmNames=[VERDICT])["MetricAlarms"]
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"], alarm["Period"]) == (
        "ModelMedic",
        "RolloutVerdict",
        "Maximum",
        60,
    )
    assert (alarm["Threshold"], alarm["ComparisonOperator"], alarm["TreatMissingData"]) == (
        1.0,
        "GreaterThanOrEqualToThreshold",
        "notBreaching",
    )
    tags = boto3.client("cloudwatch").list_tags_for_resource(ResourceARN=alarm["AlarmArn"])["Tags"]
    assert {"Key": "model-medic:stack", "Value": "model-medic-test"} in tags
    now = component()
    assert (now["InferenceComponentStatus"], now["Specification"]["ModelName"]) == ("Updating", SERVING)
    # The specification it served is in its history, for a rollback to find.
    [record] = stack.items("component-spec")
    assert json.loads(record["spec"])["Specification"]["ModelName"] == SERVING


def test_a_version_that_errs_more_is_judged_its_verdict_alarm_fires_and_sagemaker_rolls_it_back(
    rollout: str, fn: Any, clock: time_machine.Traveller, stack: Stack
) -> None:
    stack.drain("critical")
    stack.drain("info")
    traffic(T0, 120, 1, requests=100, errors=3)  # 3 % since the start: its new copies err
    [judged] = tick(fn, clock, T0 + timedelta(minutes=10))
    assert judged["result"] == "acted"
    assert "Model Medic's judge" in judged["reason"]
    assert VERDICT in judged["reason"]
    # A redelivered tick, and the next ones while SageMaker rolls back: the verdict is not told again.
    assert [o for o in tick(fn, clock, T0 + timedelta(minutes=10)) if not o.get("replayed")] == []
    critical = bodies(stack, "critical")
    assert [b["result"] for b in critical] == ["acted"]
    assert "errs more since its update began" in critical[0]["reason"]
    tick(fn, clock, T0 + timedelta(minutes=20))
    now = component()
    assert (now["InferenceComponentStatus"], now["Specification"]["ModelName"]) == ("InService", SERVING)
    [ended] = tick(fn, clock, T0 + timedelta(minutes=30))
    assert ended["result"] == "acted"
    assert "rolled back by Model Medic's judge" in ended["reason"]
    assert verdict_alarms() == []  # deleted once the update is over
    status = boto3.client("sagemaker").describe_model_package(ModelPackageName=rollout)["ModelApprovalStatus"]
    assert status == "Rejected"
    [incident] = [i for i in stored_incidents(stack) if i["action"] == "rollout"]
    assert incident["state"] == "escalated"
    assert incident["closed_at"] is not None
    assert incident["facts"]["component_verdict"]["decision"] == "reject"
    assert bodies(stack, "critical") == []  # the judge's verdict was the one page
    assert tick(fn, clock, T0 + timedelta(minutes=40)) == []


def test_a_good_version_rolls_out_batch_by_batch_and_people_are_told(
    rollout: str, fn: Any, clock: time_machine.Traveller, stack: Stack
) -> None:
    traffic(T0, 120, 1, requests=200, errors=1)  # 0.5 %, as before
    decided = [o for minute in range(10, 60, 10) for o in tick(fn, clock, T0 + timedelta(minutes=minute))]
    assert [(o["result"], o["gate"]) for o in decided] == [("skipped", "continue")] * 5
    assert component()["Specification"]["ModelName"] == SERVING  # the old one serves until the last batch
    [done] = tick(fn, clock, T0 + timedelta(minutes=60))  # 4 batches of 5 + 10 minutes
    now = component()
    assert now["InferenceComponentStatus"] == "InService"
    assert done["result"] == "acted"
    assert f"rolled out to {now['Specification']['ModelName']}; judge: no evidence of more errors, e=" in done["reason"]
    assert ", n=12000" in done["reason"]
    assert verdict_alarms() == []
    [incident] = [i for i in stored_incidents(stack) if i["action"] == "rollout"]
    assert incident["state"] == "recovered"
    assert [b["result"] for b in bodies(stack, "info") if b.get("action") == "rollout"][-1] == "recovered"
    assert bodies(stack, "critical") == []


def test_a_dry_run_changes_nothing_and_says_what_it_would_do(
    fn: Any, clock: time_machine.Traveller, stack: Stack, aws_requests: list[tuple[str, str, dict[str, Any]]]
) -> None:
    candidate = component_endpoint()
    traffic(T0 - timedelta(days=1), 24 * 60, 10, requests=1000, errors=5)
    stack.set_mode("dry-run")
    aws_requests.clear()
    [outcome] = approve(fn, clock, candidate)
    assert (outcome["result"], outcome["mode"]) == ("dry-run", "dry-run")
    assert f"roll inference component {COMPONENT} from {SERVING}" in outcome["reason"]
    assert "1 of 4 copies a batch" in outcome["reason"]
    approval = {"ModelPackageArn": candidate, "ModelApprovalStatus": "Approved"}  # the test's own, in `approve`
    made = [op for service, op, p in aws_requests if service in ("sagemaker", "cloudwatch") and p != approval]
    assert not [op for op in made if op.startswith(("Update", "Create", "Put", "Delete"))], made
    assert verdict_alarms() == []
    assert component()["InferenceComponentStatus"] == "InService"


def test_a_component_of_one_copy_is_stopped_with_the_reason_and_nothing_changes(
    fn: Any, clock: time_machine.Traveller, aws_requests: list[tuple[str, str, dict[str, Any]]]
) -> None:
    candidate = component_endpoint(copies=1)
    aws_requests.clear()
    [outcome] = approve(fn, clock, candidate)
    assert (outcome["result"], outcome["gate"]) == ("stopped", "bound")
    assert "a component of one copy cannot be updated in batches" in outcome["reason"]
    assert not [op for _, op, _ in aws_requests if op in ("UpdateInferenceComponent", "PutMetricAlarm", "CreateModel")]
    assert component()["Specification"]["ModelName"] == SERVING


def test_the_same_approval_delivered_again_rolls_nothing_twice(
    rollout: str, fn: Any, clock: time_machine.Traveller, aws_requests: list[tuple[str, str, dict[str, Any]]]
) -> None:
    assert [o for o in approve(fn, clock, rollout) if o["result"] == "acted"] == []
    assert [op for _, op, _ in aws_requests].count("UpdateInferenceComponent") == 1
    assert [op for _, op, _ in aws_requests].count("PutMetricAlarm") == 1


def test_a_rollback_on_the_components_own_alarm_says_which_and_pages(
    fn: Any, clock: time_machine.Traveller, stack: Stack, aws_requests: list[tuple[str, str, dict[str, Any]]]
) -> None:
    candidate = component_endpoint()
    traffic(T0 - timedelta(days=1), 24 * 60, 10, requests=1000, errors=5)
    own = f"{ENDPOINT}-{COMPONENT}-HighErrorRate"
    cloudwatch = boto3.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName=own,
        Namespace="AWS/SageMaker",
        MetricName="Invocation5XXErrors",
        Dimensions=[{"Name": "InferenceComponentName", "Value": COMPONENT}],
        Statistic="Average",
        Period=300,
        EvaluationPeriods=2,
        Threshold=0.05,
        ComparisonOperator="GreaterThanThreshold",
    )
    set_update_seconds(300)
    assert [o["result"] for o in approve(fn, clock, candidate)] == ["acted"]
    [update] = [p for _, op, p in aws_requests if op == "UpdateInferenceComponent"]
    assert update["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"] == [
        {"AlarmName": own},
        {"AlarmName": VERDICT},
    ]
    traffic(T0, 60, 1, requests=200, errors=1)  # the judge sees nothing wrong
    clock.move_to(T0 + timedelta(minutes=6))
    cloudwatch.set_alarm_state(AlarmName=own, StateValue="ALARM", StateReason="test: its copies time out")
    stack.drain("critical")
    # The first batch baked from minute 5 with the alarm in ALARM from 6: back on the old copies by 11.
    [ended] = [o for o in tick(fn, clock, T0 + timedelta(minutes=20)) if o["result"] == "acted"]
    assert component()["Specification"]["ModelName"] == SERVING
    assert f"rolled back on alarm {own}" in ended["reason"]
    assert "Model Medic's judge" not in ended["reason"]
    assert [b["result"] for b in bodies(stack, "critical")] == ["acted"]  # news: a person hears of it


def test_an_earlier_verdict_still_ahead_holds_a_new_rollout_of_the_component(stack: Stack) -> None:
    cloudwatch = boto3.client("cloudwatch")
    fire = FireVerdict(ENDPOINT, COMPONENT, VERDICT, "test", {})
    with time_machine.travel(T0 + timedelta(seconds=20), tick=False):
        assert standing_verdict(cloudwatch, ENDPOINT, COMPONENT, T0) is None
        assert put_verdict(cloudwatch, fire, T0 + timedelta(seconds=20))["datapoints"] == 16
        assert standing_verdict(cloudwatch, ENDPOINT, COMPONENT, T0 + timedelta(minutes=3)) == T0 + timedelta(
            minutes=15
        )
    assert standing_verdict(cloudwatch, ENDPOINT, COMPONENT, T0 + timedelta(minutes=16)) is None


# --- what a component rollout created, deleted once nothing needs it (cleanup.py) -------------


def cleaned(fn: Any, clock: time_machine.Traveller, at: datetime) -> list[dict[str, Any]]:
    """The day's clean-up, on a tick at `at`: its outcomes."""
    clock.move_to(at)
    event = load_event("promote_canary/schedule.json")
    event["time"] = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return [o for o in fn.lambda_handler(event, FakeContext())["outcomes"] if o["action"] == "cleanup"]


def ledger(stack: Stack) -> tuple[Deployments, ComponentSpecs]:
    table = Table(boto3.client("dynamodb"), stack.table)
    return Deployments(table), ComponentSpecs(table)


def tracked(stack: Stack) -> list[tuple[str, str, str]]:
    return sorted((e.endpoint, e.kind, e.name) for e in ledger(stack)[0].created())


def models() -> set[str]:
    return {m["ModelName"] for m in boto3.client("sagemaker").list_models()["Models"]}


def candidate_model(aws_requests: list[tuple[str, str, dict[str, Any]]]) -> str:
    [update] = [p for _, op, p in aws_requests if op == "UpdateInferenceComponent"]
    return str(update["Specification"]["ModelName"])


def test_the_candidates_model_is_tracked_before_it_is_created_so_a_crash_after_loses_nothing(
    fn: Any,
    clock: time_machine.Traveller,
    stack: Stack,
    monkeypatch: pytest.MonkeyPatch,
    aws_requests: list[tuple[str, str, dict[str, Any]]],
) -> None:
    candidate = component_endpoint()
    traffic(T0 - timedelta(days=1), 24 * 60, 10, requests=1000, errors=5)

    def dies(*_: Any) -> None:
        raise RuntimeError("the function dies after CreateModel")

    monkeypatch.setattr("model_medic.remediate.rollout.component.record_spec", dies)
    with pytest.raises(RuntimeError, match="dies after CreateModel"):
        approve(fn, clock, candidate)
    [made] = [p["ModelName"] for _, op, p in aws_requests if op == "CreateModel" and p["ModelName"] != SERVING]
    assert made in models()
    assert tracked(stack) == [(ENDPOINT, "model", made)]
    [created] = ledger(stack)[0].created()
    assert created.created_at == T0.isoformat()


def test_a_rolled_back_component_rollouts_model_is_deleted_after_the_retention(
    rollout: str,
    fn: Any,
    clock: time_machine.Traveller,
    stack: Stack,
    aws_requests: list[tuple[str, str, dict[str, Any]]],
) -> None:
    model = candidate_model(aws_requests)
    traffic(T0, 120, 1, requests=100, errors=3)  # its new copies err: judged, rolled back
    for minute in (10, 20, 30):
        tick(fn, clock, T0 + timedelta(minutes=minute))
    assert component()["Specification"]["ModelName"] == SERVING
    assert tracked(stack) == [(ENDPOINT, "model", model)]
    # Before RolloutCleanupDays (30 by default) nothing goes.
    assert cleaned(fn, clock, T0 + timedelta(days=29)) == []
    assert model in models()
    [deleted] = cleaned(fn, clock, T0 + timedelta(days=31))
    assert (deleted["result"], deleted["endpoint"]) == ("acted", ENDPOINT)
    assert deleted["reason"].startswith(f"deleted model {model}: created by a rollout 31 days ago")
    assert model not in models()
    assert SERVING in models()  # the model the component serves (and not ours)
    assert tracked(stack) == []


def test_a_rolled_out_component_rollouts_model_stays_while_the_component_serves_it(
    rollout: str,
    fn: Any,
    clock: time_machine.Traveller,
    stack: Stack,
    aws_requests: list[tuple[str, str, dict[str, Any]]],
) -> None:
    model = candidate_model(aws_requests)
    traffic(T0, 120, 1, requests=200, errors=1)
    for minute in range(10, 70, 10):
        tick(fn, clock, T0 + timedelta(minutes=minute))
    assert (component()["InferenceComponentStatus"], component()["Specification"]["ModelName"]) == (
        "InService",
        model,
    )
    aws_requests.clear()
    assert cleaned(fn, clock, T0 + timedelta(days=31)) == []
    assert model in models()
    assert tracked(stack) == [(ENDPOINT, "model", model)]  # looked at again the next day
    described = [p for _, op, p in aws_requests if op == "DescribeInferenceComponent"]
    assert described == [{"InferenceComponentName": COMPONENT}]


def cleanup_at(stack: Stack, at: datetime, hours: int = 24, deployments: Deployments | None = None) -> Any:
    """The clean-up as PromoteCanaryFunction builds it, its clock at `at` (retention 30 days)."""
    from model_medic.remediate.cleanup import Cleanup, ComponentModels

    sagemaker = boto3.client("sagemaker")
    read, specs = ledger(stack)
    deployments = deployments or read
    journal = Journal(Table(boto3.client("dynamodb"), stack.table), timedelta(days=90))
    components = ComponentModels(sagemaker, specs, timedelta(hours=hours))
    return Cleanup(sagemaker, deployments, journal, timedelta(days=30), lambda: at, components)


def made_models(*names: str) -> None:
    for name in names:
        boto3.client("sagemaker").create_model(
            ModelName=name, ExecutionRoleArn=MODEL_ROLE, PrimaryContainer={"Image": "llama3:latest"}
        )


def swept(stack: Stack, at: datetime) -> list[str]:
    """The models a sweep at `at` deleted, each then forgotten (as `cleanup.clean` does)."""
    cleanup = cleanup_at(stack, at)
    done = cleanup.sweep(lambda _: True)
    for endpoint, _, key in done:
        cleanup.forget(endpoint, key)
    return [key.removeprefix("cleanup#model#") for _, _, key in done]


def test_a_model_a_recorded_specification_names_stays_while_it_may_be_put_back_then_goes(
    clock: time_machine.Traveller, stack: Stack
) -> None:
    """The component served llama3-1's model until T0; its specification of before is recorded,
    so ComponentRollback may put it back for COMPONENT_CHANGE_HOURS (24) after the change."""
    component_endpoint()
    before, other = "llama3-1-model-aaaa1111", "llama3-2-model-bbbb2222"
    made_models(before, other)
    deployments, specs = ledger(stack)
    for name in (before, other):
        deployments.track_created(ENDPOINT, "model", name, T0 - timedelta(days=40))
    clock.move_to(T0)
    shape = boto3.client("sagemaker").meta.service_model.operation_model("UpdateInferenceComponent").input_shape
    now = spec_request(component(), shape)
    was = {"Specification": {**now["Specification"], "ModelName": before}}
    for request, at in ((was, T0 - timedelta(days=40)), (now, T0)):
        known = specs.all().get(f"{ENDPOINT}#{COMPONENT}")
        seen = (json.dumps(request, sort_keys=True), spec_digest(request), at.isoformat())
        specs.observe(known, ENDPOINT, COMPONENT, seen, at)
    # Within the window: the one before stays, a model nothing names goes.
    clock.move_to(T0 + timedelta(hours=23))
    assert swept(stack, T0 + timedelta(hours=23)) == [other]
    assert before in models()
    # Once it may no longer be put back, it goes too.
    clock.move_to(T0 + timedelta(hours=25))
    assert swept(stack, T0 + timedelta(hours=25)) == [before]
    assert before not in models()
    assert SERVING in models()


def record(stack: Stack, at: datetime) -> None:
    """The component's specification recorded as RollbackModelFunction's sweep records it."""
    _, specs = ledger(stack)
    shape = boto3.client("sagemaker").meta.service_model.operation_model("UpdateInferenceComponent").input_shape
    request = spec_request(component(), shape)
    seen = (json.dumps(request, sort_keys=True), spec_digest(request), at.isoformat())
    specs.observe(specs.all().get(f"{ENDPOINT}#{COMPONENT}"), ENDPOINT, COMPONENT, seen, at)


def test_a_model_a_component_names_or_may_be_moving_to_stays(
    clock: time_machine.Traveller, stack: Stack, aws_requests: list[tuple[str, str, dict[str, Any]]]
) -> None:
    """A tracked model another endpoint's component serves stays; while a component is being
    changed, every model tracked for its endpoint and the one its recorded specification names stay
    (DescribeInferenceComponent does not show both the specification left and the one asked)."""
    component_endpoint()
    mine, theirs = "llama3-2-model-bbbb2222", "llama3-3-model-cccc3333"
    made_models(mine, theirs)
    deployments, _ = ledger(stack)
    # SERVING, as if a rollout of another endpoint had made it: the component here names it.
    deployments.track_created("churn-staging", "model", SERVING, T0 - timedelta(days=40))
    clock.move_to(T0)
    assert swept(stack, T0) == []
    assert SERVING in models()
    deployments.track_created(ENDPOINT, "model", mine, T0 - timedelta(days=40))
    record(stack, T0)
    set_update_seconds(600)
    boto3.client("sagemaker").update_inference_component(
        InferenceComponentName=COMPONENT, Specification={**REQUEST["Specification"], "ModelName": theirs}
    )
    assert component()["InferenceComponentStatus"] == "Updating"
    assert swept(stack, T0) == []
    assert {mine, SERVING} <= models()
    # InService on `theirs`: `mine` is named by nothing; SERVING still by the recorded specification.
    clock.move_to(T0 + timedelta(minutes=11))
    assert swept(stack, T0 + timedelta(minutes=11)) == [mine]
    assert {theirs, SERVING} <= models()


def test_a_component_last_changed_before_the_due_models_were_tracked_is_not_read(
    clock: time_machine.Traveller, stack: Stack, aws_requests: list[tuple[str, str, dict[str, Any]]]
) -> None:
    """A component names a model only once it exists; a model is tracked before it is created."""
    component_endpoint()
    late = "llama3-4-model-dddd4444"
    made_models(late)
    ledger(stack)[0].track_created(ENDPOINT, "model", late, T0 + timedelta(hours=2))
    later = T0 + timedelta(days=31)
    clock.move_to(later)
    aws_requests.clear()
    assert swept(stack, later) == [late]
    assert [op for _, op, _ in aws_requests if "InferenceComponent" in op] == ["ListInferenceComponents"]


class RacedLedger(Deployments):
    """The ledger as the clean-up reads it while a rollout races it: just after the sweep has read
    what is tracked, a rollout tracks `name` for `endpoint` - as rollout/component.py and
    rollout/action.py do before their CreateModel, which then finds the model there."""

    def __init__(self, stack: Stack, endpoint: str, name: str, at: datetime) -> None:
        super().__init__(Table(boto3.client("dynamodb"), stack.table))
        self.race = (endpoint, name, at)

    def created(self) -> list[Created]:
        read = super().created()
        endpoint, name, at = self.race
        self.track_created(endpoint, "model", name, at)
        return read


@pytest.mark.parametrize("endpoint", [ENDPOINT, "churn-staging"], ids=["same-endpoint", "another-endpoint"])
def test_a_model_a_rollout_tracks_again_after_the_sweeps_read_is_kept_then_due_a_retention_later(
    endpoint: str, clock: time_machine.Traveller, stack: Stack
) -> None:
    """A package rolled out 40 days ago is deployed again (to this endpoint or another), so its
    model keeps its name; the new rollout tracks it after the clean-up read the ledger, before its
    DeleteModel. Read again before the delete, the model stays; it is due a retention after that use."""
    component_endpoint()
    model = "llama3-2-model-bbbb2222"
    made_models(model)
    ledger(stack)[0].track_created(ENDPOINT, "model", model, T0 - timedelta(days=40))
    clock.move_to(T0)
    raced = RacedLedger(stack, endpoint, model, T0)
    assert cleanup_at(stack, T0, deployments=raced).sweep(lambda _: True) == []
    assert model in models()
    long_ago = T0 - timedelta(days=40)
    uses = [(e.endpoint, e.created_at, e.last_used) for e in ledger(stack)[0].tracked("model", model)]
    if endpoint == ENDPOINT:  # tracked again: created then, last used now
        assert uses == [(ENDPOINT, long_ago.isoformat(), T0)]
    else:  # tracked for another endpoint: a new item
        assert uses == [(ENDPOINT, long_ago.isoformat(), long_ago), (endpoint, T0.isoformat(), T0)]
    # Used at T0: kept until RolloutCleanupDays (30) after that, then deleted (by each item).
    clock.move_to(T0 + timedelta(days=30) - timedelta(minutes=1))
    assert swept(stack, T0 + timedelta(days=30) - timedelta(minutes=1)) == []
    clock.move_to(T0 + timedelta(days=30))
    cleanup = cleanup_at(stack, T0 + timedelta(days=30))
    done = cleanup.sweep(lambda _: True)
    assert {key for _, _, key in done} == {f"cleanup#model#{model}"}
    if endpoint == ENDPOINT:
        [(_, reason, _)] = done
        assert reason.startswith(
            f"deleted model {model}: created by a rollout 70 days ago, last used by one 30 days ago"
        )
    for owner, _, key in done:
        cleanup.forget(owner, key)
    assert model not in models()
    assert tracked(stack) == []


def test_a_delete_refused_is_logged_and_the_model_stays_tracked_for_a_later_sweep(
    clock: time_machine.Traveller, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SageMaker refusing a DeleteModel (here AccessDenied) is told in the log, not raised: the
    model stays tracked and the next day's sweep tries again."""
    from botocore.exceptions import ClientError

    component_endpoint()
    model = "llama3-2-model-bbbb2222"
    made_models(model)
    ledger(stack)[0].track_created(ENDPOINT, "model", model, T0 - timedelta(days=40))
    clock.move_to(T0)
    cleanup = cleanup_at(stack, T0)
    refusal = {"Error": {"Code": "AccessDeniedException", "Message": "not authorized to perform: DeleteModel"}}

    def refuse(**_: Any) -> None:
        raise ClientError(refusal, "DeleteModel")

    monkeypatch.setattr(cleanup._sagemaker, "delete_model", refuse)
    assert cleanup.sweep(lambda _: True) == []
    assert model in models()
    assert tracked(stack) == [(ENDPOINT, "model", model)]
