"""PromoteCanaryFunction against moto: the model lifecycle's rollouts.

An approved package is challenged, deployed as a canary on the instances its share needs,
walked to 100 % with capacity ahead of traffic, and finished with a final config holding
only the new model; a worse candidate is not deployed; a bad canary (errors, p99 latency)
is rolled back and its package rejected; a canary alarm makes the judge look at once and
holds the promotion; too little traffic is inconclusive; duplicates act once; dry-run
changes nothing. The main paths run with endpoint changes done inside the call and with each
taking 4 minutes, as on AWS (the `clock` fixture: `tick`, `approve` and `settle` move the
process clock, by which moto's endpoint updates settle).
"""

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
import time_machine
from moto import mock_aws

from localcloud.moto_extensions import set_update_seconds, update_seconds
from localcloud.world import variant_metrics
from model_medic.remediate.rollout.plan import instances_for
from model_medic.remediate.rollout.targets import serving_group
from model_medic.store.deployments import Deployments
from model_medic.store.journal import Journal
from model_medic.store.table import Table
from tests.conftest import AwsCalls, FakeContext, Stack, load_event, load_handler, make_endpoint, stored_incidents
from tests.functional.test_endpoint_policy import tag

ENDPOINT = "churn-prod"
T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
GROUP = "churn"
BUCKET = "churn-model-metrics"
ROLE = "arn:aws:iam::123456789012:role/sagemaker-execution"
SETTINGS = {
    "PRIMARY_VARIANT": "primary",
    "CANARY_VARIANT": "canary",
    "CANARY_STEPS": "5,10,25,50,100",
    "CANARY_BAKE_MINUTES": "30",
    "CANARY_MIN_INVOCATIONS": "100",
    "CANARY_MAX_ERROR_RATE": "5",
    "CANARY_MAX_LATENCY_MS": "1000",
    "MAX_INSTANCE_COUNT": "10",
    "MODEL_PACKAGE_GROUPS": GROUP,
    "CANDIDATE_METRIC": "accuracy",
    "CANDIDATE_MARGIN": "0.01",
    "REJECT_MODEL_PACKAGES": "true",
    "ACTIONS_PER_HOUR": "20",
    "POWERTOOLS_SERVICE_NAME": "promote-canary",
}


@pytest.fixture
def fn(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, value in SETTINGS.items():
        monkeypatch.setenv(name, value)
    return load_handler("promote_canary")


@pytest.fixture(params=[0, 240], ids=["instant", "updating-4-min"])
def clock(request: pytest.FixtureRequest) -> Iterator[time_machine.Traveller]:
    """The process clock - the function's, and moto's, by which an endpoint change settles - at
    T0 until `tick` or `settle` moves it; every endpoint change stays Updating for the param's
    seconds (0: done inside the call; 240: as on AWS, where each takes minutes)."""
    with time_machine.travel(T0, tick=False) as traveller:
        set_update_seconds(request.param)
        yield traveller


def settle(clock: time_machine.Traveller) -> None:
    """The time an endpoint change takes goes by (nothing when changes are instant)."""
    clock.shift(timedelta(seconds=update_seconds()))


@pytest.fixture
def operator_canary(fn: Any) -> Any:
    """An operator's canary: primary 4 instances at 95 %, canary 1 at 5 %."""
    make_endpoint(ENDPOINT, {"primary": {"count": 4, "weight": 0.95}, "canary": {"count": 1, "weight": 0.05}})
    return fn


def report(key: str, accuracy: float) -> str:
    """A SageMaker model quality report (the registry's ModelQuality statistics) in S3."""
    body = {"binary_classification_metrics": {"accuracy": {"value": accuracy, "standard_deviation": 0.004}}}
    boto3.client("s3").put_object(Bucket=BUCKET, Key=key, Body=json.dumps(body).encode())
    return f"s3://{BUCKET}/{key}"


def package(accuracy: float | None, status: str = "PendingManualApproval", group: str = GROUP) -> str:
    """A package of `group` whose registered accuracy is `accuracy` (a report in S3; None: no report)."""
    sagemaker = boto3.client("sagemaker")
    version = len(sagemaker.list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"]) + 1
    extra: dict[str, Any] = {}
    if accuracy is not None:
        uri = report(f"{group}/{version}/evaluation.json", accuracy)
        extra["ModelMetrics"] = {"ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": uri}}}
    return str(
        sagemaker.create_model_package(
            ModelPackageGroupName=group,
            ModelApprovalStatus=status,
            InferenceSpecification={
                "Containers": [{"Image": f"123456789012.dkr.ecr.us-east-1.amazonaws.com/{group}:{version}"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
            **extra,
        )["ModelPackageArn"]
    )


def serve_champion(**config: Any) -> str:
    """churn-prod serves churn/1 (registered accuracy 0.85) on 4 primary instances; `config`:
    more of the endpoint config's fields."""
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    boto3.client("sagemaker").create_model_package_group(ModelPackageGroupName=GROUP)
    arn = package(0.85, "Approved")
    sagemaker = boto3.client("sagemaker")
    sagemaker.create_model(ModelName="churn-v1", ExecutionRoleArn=ROLE, PrimaryContainer={"ModelPackageName": arn})
    sagemaker.create_endpoint_config(
        EndpointConfigName=f"{ENDPOINT}-config-1",
        ProductionVariants=[
            {
                "VariantName": "primary",
                "ModelName": "churn-v1",
                "InitialInstanceCount": 4,
                "InstanceType": "ml.m5.large",
                "InitialVariantWeight": 1.0,
            }
        ],
        **config,
    )
    sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=f"{ENDPOINT}-config-1")
    return arn


@pytest.fixture
def champion(fn: Any) -> str:
    return serve_champion()


def approve(
    fn: Any,
    arn: str,
    at: datetime,
    updated: list[str] | None = None,
    listed: bool = True,
    clock: time_machine.Traveller | None = None,
) -> list[dict[str, Any]]:
    """Approve the package and deliver SageMaker's state change event, as EventBridge would
    (`updated`: the event's UpdatedModelPackageFields, the approval itself by default; not
    `listed`: without that field, as AWS's documented example event; with the `clock`, the
    process clock moves to `at` first)."""
    if clock is not None:
        clock.move_to(at)
    boto3.client("sagemaker").update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    event = approval_event(arn, GROUP, at, updated)
    if not listed:
        del event["detail"]["UpdatedModelPackageFields"]
    with time_machine.travel(at, tick=False):  # the function's clock: the approval's time
        return fn.lambda_handler(event, FakeContext())["outcomes"]  # type: ignore[no-any-return]


def approval_event(arn: str, group: str, at: datetime, updated: list[str] | None = None) -> dict[str, Any]:
    """SageMaker's "Model Package State Change" for the package approved at `at`, as EventBridge delivers it."""
    return {
        "version": "0",
        "id": f"approved-{arn}-{at.isoformat()}",
        "detail-type": "SageMaker Model Package State Change",
        "source": "aws.sagemaker",
        "account": "123456789012",
        "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "us-east-1",
        "resources": [arn],
        "detail": {
            "ModelPackageGroupName": group,
            "ModelPackageVersion": int(arn.rsplit("/", 1)[-1]),
            "ModelPackageArn": arn,
            "ModelApprovalStatus": "Approved",
            "UpdatedModelPackageFields": ["ModelApprovalStatus"] if updated is None else updated,
            "LastModifiedTime": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
    }


def traffic(
    variant: str, start: datetime, minutes: int, per_minute: float, error_rate: float = 0.0, latency_ms: float = 200
) -> None:
    variant_metrics(boto3.client("cloudwatch"), ENDPOINT, variant, start, minutes, per_minute, error_rate, latency_ms)


def tick(fn: Any, at: datetime, clock: time_machine.Traveller | None = None) -> list[dict[str, Any]]:
    """A scheduled tick at `at`; with the `clock`, the process clock moves to `at` first."""
    if clock is not None:
        clock.move_to(at)
    event = load_event("promote_canary/schedule.json")
    event["time"] = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return fn.lambda_handler(event, FakeContext())["outcomes"]  # type: ignore[no-any-return]


def endpoint() -> dict[str, Any]:
    described = boto3.client("sagemaker").describe_endpoint(EndpointName=ENDPOINT)
    return {
        "config": described["EndpointConfigName"],
        "status": described["EndpointStatus"],
        **{
            v["VariantName"]: {"weight": v["CurrentWeight"], "instances": v["CurrentInstanceCount"]}
            for v in described["ProductionVariants"]
        },
    }


def share() -> float:
    now = endpoint()
    if "canary" not in now:
        return 0.0
    canary: float = now["canary"]["weight"]
    total: float = canary + now["primary"]["weight"]
    return round(canary / total * 100, 2)


def approval(arn: str) -> str:
    return str(boto3.client("sagemaker").describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"])


def walk(
    fn: Any, start: datetime, minutes: int, clock: time_machine.Traveller | None = None
) -> tuple[list[float], list[dict[str, Any]], list[tuple[float, int]]]:
    """Tick every 10 minutes; the shares reached (each once, in order), what was decided, and
    (share, canary instances) after each tick while a canary serves."""
    path, decided, sized = [share()], [], []
    for minute in range(10, minutes, 10):
        decided += tick(fn, start + timedelta(minutes=minute), clock)
        now = endpoint()
        if share() != path[-1]:
            path.append(share())
        if "canary" in now:
            sized.append((share(), now["canary"]["instances"]))
    return path, decided, sized


def test_an_operators_canary_walks_to_100_percent_with_capacity_ahead_of_traffic_then_finishes(
    operator_canary: Any, stack: Stack, clock: time_machine.Traveller
) -> None:
    traffic("primary", T0, 400, per_minute=200)
    traffic("canary", T0, 400, per_minute=60)
    path, decided, sized = walk(operator_canary, T0, 400, clock)
    assert path[:5] == [5.0, 10.0, 25.0, 50.0, 100.0]
    # 4 primary instances serve 95 %: all of the traffic needs 4.21. Never a share above what
    # the canary's instances were sized for.
    reference = 4 * 100 / 95
    assert all(instances >= instances_for(reference, share_now) for share_now, instances in sized)
    acted = [o["reason"] for o in decided if o["result"] == "acted"]
    assert "canary instance-count 1 -> 2" in acted[1]  # 10 % -> 25 % needs 2 instances, added first
    assert "canary instance-count 2 -> 3" in acted[2]  # 25 % -> 50 %
    assert "primary instance-count 4 -> 3" in acted[3]  # it served 50 % through the bake: 3 suffice
    assert "canary instance-count 3 -> 5" in acted[3]  # 100 %
    final = endpoint()
    assert set(final) == {"config", "status", "primary"}  # only the new model, as the primary variant
    assert final["primary"] == {"weight": 1.0, "instances": 5}
    config = boto3.client("sagemaker").describe_endpoint_config(EndpointConfigName=final["config"])
    assert [v["ModelName"] for v in config["ProductionVariants"]] == [f"{ENDPOINT}-canary-model"]
    [rollout] = [i for i in stored_incidents(stack) if i["action"] == "rollout"]
    assert rollout["state"] == "recovered"
    assert rollout["closed_at"] is not None
    assert rollout["steps"] == 5  # four promotions and the finish, each one or more single changes
    assert [e["what"] for e in rollout["timeline"]].count("action") == 9
    # The primary really taken down before the traffic left it - made, not read as a person's count.
    assert "primary instance-count 4 -> 3: primary runs 3 instance(s)" in [e["detail"] for e in rollout["timeline"]]
    assert "operator-change" not in [e["what"] for e in rollout["timeline"]]
    # The canary config was a passage: never a rollback target again.
    ledger = Deployments(Table(boto3.client("dynamodb"), stack.table))
    assert ledger.previous_config(ENDPOINT, final["config"]) is None
    assert tick(operator_canary, T0 + timedelta(minutes=500), clock) == []  # complete: nothing left to judge


# With instant updates the same rollout is walked by the clean-up test below.
@pytest.mark.parametrize("clock", [240], ids=["updating-4-min"], indirect=True)
def test_an_approved_package_is_challenged_deployed_as_a_canary_and_replaces_the_champion(
    champion: str, fn: Any, stack: Stack, clock: time_machine.Traveller
) -> None:
    candidate = package(0.91)
    [deployed] = approve(fn, candidate, T0, clock=clock)
    assert deployed["result"] == "acted"
    assert "better: candidate accuracy 0.91 vs the serving model's registered 0.85" in deployed["reason"]
    # The same approval delivered again while the deployment is under way: nothing more.
    assert [o for o in approve(fn, candidate, T0, clock=clock) if o["result"] == "acted"] == []
    settle(clock)
    now = endpoint()
    assert now["status"] == "InService"
    assert now["primary"]["instances"] == 4  # the serving primary kept as it was
    assert now["canary"]["instances"] == 1  # 5 % of 4 instances' traffic
    assert share() == 5.0
    config = boto3.client("sagemaker").describe_endpoint_config(EndpointConfigName=now["config"])
    canary = next(v for v in config["ProductionVariants"] if v["VariantName"] == "canary")
    model = boto3.client("sagemaker").describe_model(ModelName=canary["ModelName"])
    assert model["PrimaryContainer"]["ModelPackageName"] == candidate
    assert model["ExecutionRoleArn"] == ROLE  # the serving model's role
    # The same approval delivered again: the same incident, nothing more.
    assert [o for o in approve(fn, candidate, T0, clock=clock) if o["result"] == "acted"] == []
    traffic("primary", T0, 400, per_minute=200)
    traffic("canary", T0, 400, per_minute=60)
    path, decided, _ = walk(fn, T0, 400, clock)
    assert path[:5] == [5.0, 10.0, 25.0, 50.0, 100.0]
    finished = [o for o in decided if o["result"] == "recovered"]
    assert len(finished) <= 1
    final = endpoint()
    assert set(final) == {"config", "status", "primary"}
    assert final["primary"]["instances"] == 4
    config = boto3.client("sagemaker").describe_endpoint_config(EndpointConfigName=final["config"])
    assert [v["ModelName"] for v in config["ProductionVariants"]] == [canary["ModelName"]]
    # The next rollback of the final config goes to the config before the rollout.
    ledger = Deployments(Table(boto3.client("dynamodb"), stack.table))
    assert ledger.previous_config(ENDPOINT, final["config"]) == f"{ENDPOINT}-config-1"
    [rollout] = [i for i in stored_incidents(stack) if i["action"] == "rollout"]
    assert rollout["state"] == "recovered"
    assert any("churn/1 superseded" in e["detail"] for e in rollout["timeline"])


def test_a_candidate_worse_than_the_champion_is_not_deployed_and_people_are_told_both_figures(
    champion: str, fn: Any, stack: Stack
) -> None:
    before = endpoint()
    candidate = package(0.80)
    [outcome] = approve(fn, candidate, T0)
    assert outcome["result"] == "acted"
    assert "not deployed" in outcome["reason"]
    assert endpoint() == before
    assert approval(candidate) == "Rejected"
    assert stack.drain("critical") == []  # never deployed: told at info level, nobody paged
    [told] = [json.loads(m["Message"]) for m in stack.drain("info")]
    assert "candidate accuracy 0.8 vs the serving model's registered 0.85" in told["reason"]
    [rollout] = [i for i in stored_incidents(stack) if i["action"] == "rollout"]
    assert rollout["closed_at"] is not None


def test_the_live_accuracy_counts_too(champion: str, fn: Any, stack: Stack) -> None:
    # Registered 0.85, but ComputeModelQuality measures 0.93 live: a 0.91 candidate is not better.
    boto3.client("cloudwatch").put_metric_data(
        Namespace="Custom/SageMaker",
        MetricData=[
            {
                "MetricName": "accuracy",
                "Dimensions": [
                    {"Name": "EndpointName", "Value": ENDPOINT},
                    {"Name": "VariantName", "Value": "primary"},
                ],
                "Timestamp": T0 - timedelta(hours=2),
                "Value": 0.93,
            }
        ],
    )
    candidate = package(0.91)
    [outcome] = approve(fn, candidate, T0)
    assert "not better" in outcome["reason"]
    assert "live 0.93" in outcome["reason"]
    assert "canary" not in endpoint()


def test_a_package_outside_the_configured_groups_is_not_deployed(champion: str, fn: Any, stack: Stack) -> None:
    candidate = package(0.95)
    event = {
        "detail-type": "SageMaker Model Package State Change",
        "source": "aws.sagemaker",
        "time": "2026-11-22T10:00:00Z",
        "detail": {"ModelPackageGroupName": "other", "ModelPackageArn": candidate, "ModelApprovalStatus": "Approved"},
    }
    assert fn.lambda_handler(event, FakeContext()) == {"outcomes": [], "rejected": []}
    assert "canary" not in endpoint()


def test_an_operator_naming_a_package_that_does_not_exist_is_told_so_and_nothing_changes(
    champion: str, fn: Any, stack: Stack
) -> None:
    missing = champion.rsplit("/", 1)[0] + "/404"
    result = fn.lambda_handler({"deploy-package": {"arn": missing}}, FakeContext())
    assert result["outcomes"] == []
    [reason] = result["rejected"]
    assert missing in reason
    assert "canary" not in endpoint()
    assert stack.items("decision") == []


def test_a_bad_canary_is_rolled_back_its_package_rejected_and_not_redeployed_unless_approved_again(
    champion: str, fn: Any, stack: Stack, clock: time_machine.Traveller
) -> None:
    candidate = package(0.91)
    approve(fn, candidate, T0, clock=clock)
    traffic("primary", T0, 60, per_minute=200)
    traffic("canary", T0, 60, per_minute=60, error_rate=0.12)
    first = T0 + timedelta(minutes=10)
    if update_seconds():
        # The deployment took minutes: the first look reads it InService, the judge looks at the next.
        [deployed] = tick(fn, first, clock)
        assert (deployed["result"], deployed["gate"]) == ("skipped", "in-service")
        first += timedelta(minutes=10)
    [outcome] = tick(fn, first, clock)
    assert outcome["result"] == "acted"
    assert outcome["reason"].startswith("roll back canary (5% -> 0%)")
    if update_seconds():
        # The weight change under way: the package is rejected only once the canary takes nothing.
        assert approval(candidate) == "Approved"
        assert [o["gate"] for o in tick(fn, first + timedelta(minutes=5), clock)] == ["closed"]
    assert share() == 0.0
    assert approval(candidate) == "Rejected"  # the package behind the canary, not the champion
    assert approval(champion) == "Approved"
    # The old approval delivered late: the same incident, closed; nothing is redeployed.
    assert [o for o in approve_event_only(fn, candidate, T0) if o["result"] == "acted"] == []
    assert share() == 0.0
    # Approved again (a new approval): deployed again.
    [again] = approve(fn, candidate, T0 + timedelta(hours=2), clock=clock)
    assert again["result"] == "acted"
    settle(clock)
    assert share() == 5.0


def daily_report(monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, Any], str]:
    """DailyReportFunction's day ending 2026-11-23 06:00 for churn-prod: its JSON and its page."""
    monkeypatch.setenv("REPORTS_BUCKET", "model-medic-reports")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "daily-report")
    s3 = boto3.client("s3")
    if "model-medic-reports" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket="model-medic-reports")
    load_handler("daily_report").lambda_handler(load_event("daily_report/schedule.json"), FakeContext())

    def read(suffix: str) -> str:
        key = f"reports/{ENDPOINT}/2026-11-23.{suffix}"
        return str(s3.get_object(Bucket="model-medic-reports", Key=key)["Body"].read().decode())

    return json.loads(read("json")), read("html")


def test_the_daily_report_shows_the_newest_rollout_its_share_and_how_it_ended(
    champion: str, fn: Any, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    candidate = package(0.91)
    label = candidate.split(":model-package/", 1)[-1]
    approve(fn, candidate, T0)
    report, html = daily_report(monkeypatch)
    assert report["canary"]["rollout"] == {
        "id": report["canary"]["rollout"]["id"],
        "package": label,
        "canary_config": endpoint()["config"],
        "started_at": T0.isoformat(),
        "share": 5.0,
        "share_since": T0.isoformat(),
        "ended": "under way",
        "ended_at": None,
        "verdict": None,  # not judged yet
    }
    assert f"model package <code>{label}</code>, started 2026-11-22T10:00 UTC." in html
    assert "Canary at 5% of the traffic since 2026-11-22T10:00 UTC." in html
    assert "<strong>Under way.</strong>" in html
    assert not any("rolled back" in r for r in report["recommendations"])
    # A bad canary: rolled back by the next tick.
    for name in SETTINGS:
        monkeypatch.setenv(name, SETTINGS[name])
    traffic("primary", T0, 60, per_minute=200)
    traffic("canary", T0, 60, per_minute=60, error_rate=0.12)
    [outcome] = tick(fn, T0 + timedelta(minutes=10))
    assert outcome["result"] == "acted"
    report, html = daily_report(monkeypatch)
    rolled_back = report["canary"]["rollout"]
    assert (rolled_back["package"], rolled_back["share"], rolled_back["ended"]) == (label, 0.0, "rolled back")
    assert rolled_back["ended_at"] == (T0 + timedelta(minutes=10)).isoformat()
    assert "Canary at 0% of the traffic since 2026-11-22T10:10 UTC." in html
    assert "<strong>Rolled back</strong> at 2026-11-22T10:10 UTC." in html
    # The verdict that rolled it back, per metric, as the judge gave it.
    verdict = rolled_back["verdict"]
    assert verdict["decision"] == "rollback"
    findings = {m["metric"]: m["finding"] for m in verdict["metrics"]}
    assert findings["error rate"] == "harm"
    assert "The judge&#39;s last verdict" in html or "The judge's last verdict" in html
    assert "<td>error rate</td><td>harm</td>" in html
    # The rollback the loop recorded (a rollout step with a roll-back-canary change) is recommended on.
    assert "A model was rolled back: review it before the pipeline deploys it again." in report["recommendations"]
    # A canary rolled back is the rollout doing its job, not an action that failed to fix an alarm.
    assert not any("escalated" in r or "stopped" in r for r in report["recommendations"])


def approve_event_only(fn: Any, arn: str, at: datetime) -> list[dict[str, Any]]:
    status = approval(arn)
    try:
        return approve(fn, arn, at)
    finally:
        boto3.client("sagemaker").update_model_package(ModelPackageArn=arn, ModelApprovalStatus=status)


def test_an_operators_canary_is_found_by_the_variant_names_of_its_endpoints_tags(fn: Any, stack: Stack) -> None:
    make_endpoint(ENDPOINT, {"champion": {"count": 4, "weight": 0.95}, "challenger": {"count": 1, "weight": 0.05}})
    tag(ENDPOINT, **{"model-medic:primary-variant-name": "champion", "model-medic:canary-variant-name": "challenger"})
    traffic("champion", T0, 60, per_minute=200)
    traffic("challenger", T0, 60, per_minute=60)
    [adopted] = tick(fn, T0 + timedelta(minutes=10))
    [rollout] = [i for i in stored_incidents(stack) if i["action"] == "rollout"]
    assert rollout["alarm_name"] == f"{ENDPOINT} canary challenger"
    assert adopted["result"] in ("skipped", "acted")
    # At the bake's end the challenger takes the next step, sized from the champion's 4 instances.
    [promoted] = [o for o in tick(fn, T0 + timedelta(minutes=40)) if o["result"] == "acted"]
    assert "promote canary challenger 5% -> 10%" in promoted["reason"]


def test_a_canary_with_a_worse_tail_is_rolled_back_on_p99(operator_canary: Any, stack: Stack) -> None:
    cloudwatch = boto3.client("cloudwatch")
    traffic("primary", T0, 60, per_minute=200)
    traffic("canary", T0, 60, per_minute=200)
    # Every minute, 3 of the canary's 100 ModelLatency samples take 1 s: its average is 12 %
    # above the primary's (under the 20 % effect), its per-minute p99 five times the primary's.
    for first in range(0, 60, 20):
        cloudwatch.put_metric_data(
            Namespace="AWS/SageMaker",
            MetricData=[
                {
                    "MetricName": "ModelLatency",
                    "Dimensions": [
                        {"Name": "EndpointName", "Value": ENDPOINT},
                        {"Name": "VariantName", "Value": "canary"},
                    ],
                    "Timestamp": T0 + timedelta(minutes=minute, seconds=40),
                    # With the minute's one 180 ms datapoint from traffic(): 97 at 180 ms, 3 at 1 s.
                    "Values": [180_000.0, 1_000_000.0],
                    "Counts": [96.0, 3.0],
                }
                for minute in range(first, first + 20)
            ],
        )
    tick(operator_canary, T0 + timedelta(minutes=1))  # adopted: the step's evidence starts
    [outcome] = tick(operator_canary, T0 + timedelta(minutes=40))
    assert outcome["result"] == "acted"
    assert "p99 latency: harm" in outcome["reason"]
    assert outcome["reason"].count("latency: harm") == 1  # the tail alone: the average is within the effect
    assert share() == 0.0


@pytest.mark.parametrize("action", ["hold", "rollback"])
def test_a_low_traffic_step_is_inconclusive_not_a_hang(
    operator_canary: Any, stack: Stack, monkeypatch: pytest.MonkeyPatch, action: str
) -> None:
    monkeypatch.setenv("CANARY_INCONCLUSIVE_ACTION", action)
    traffic("primary", T0, 200, per_minute=200)
    traffic("canary", T0, 200, per_minute=0.2)  # 40 requests in 200 minutes
    _, decided, _ = walk(operator_canary, T0, 200)
    inconclusive = [o for o in decided if "inconclusive" in o["reason"]]
    assert inconclusive
    first = inconclusive[0]
    assert "after 180 minutes (6 bakes)" in first["reason"]  # 6 bakes of 30 minutes
    if action == "hold":
        assert first["result"] == "skipped"
        assert share() == 5.0
        alerts = [m for m in stack.drain("critical") if "inconclusive" in m["Message"]]
        assert len(alerts) == 1  # told once, however many ticks hold it
    else:
        assert first["result"] == "acted"
        assert share() == 0.0


def test_a_canary_alarm_makes_the_judge_look_at_once_and_holds_the_promotion(
    operator_canary: Any, stack: Stack, clock: time_machine.Traveller
) -> None:
    """The alarm's event judges the rollout at once; a healthy canary is not rolled back on the
    alarm (its fixed threshold is no test within the false-rollback budget), and not promoted
    while the alarm is in ALARM - then promoted at the first look after it is OK again."""
    from tests.conftest import metric_alarm

    traffic("primary", T0, 120, per_minute=200)
    traffic("canary", T0, 120, per_minute=60)
    tick(operator_canary, T0, clock)
    metric_alarm(f"{ENDPOINT}-canary-ErrorRate", "ErrorRate", "ALARM")
    clock.move_to(T0 + timedelta(minutes=40))  # the function's clock: the alarm's look
    alarm = load_event("promote_canary/canary_alarm.json")
    [outcome] = operator_canary.lambda_handler(alarm, FakeContext())["outcomes"]
    assert (outcome["result"], outcome["gate"]) == ("skipped", "continue")
    assert "canary alarm in ALARM: churn-prod-canary-ErrorRate (no promotion while it is" in outcome["reason"]
    held = tick(operator_canary, T0 + timedelta(minutes=45), clock)  # the same skip again: told once, not repeated
    assert [o for o in held if o["result"] == "acted"] == []
    assert share() == 5.0
    metric_alarm(f"{ENDPOINT}-canary-ErrorRate", "ErrorRate", "OK")
    [promoted] = tick(operator_canary, T0 + timedelta(minutes=50), clock)
    assert promoted["result"] == "acted"
    # The alarm again while the promotion is under way: no second change over it, no rollback.
    metric_alarm(f"{ENDPOINT}-canary-ErrorRate", "ErrorRate", "ALARM")
    clock.move_to(T0 + timedelta(minutes=51))
    alarmed = operator_canary.lambda_handler(alarm, FakeContext())
    assert [o for o in alarmed["outcomes"] if o["result"] == "acted"] == []
    settle(clock)
    assert share() == 10.0


def test_every_alarm_is_answered_with_what_was_done_or_why_not(fn: Any, stack: Stack) -> None:
    # A canary alarm judges its endpoint's rollout at once; any other alarm is answered too:
    # rejected when it names no endpoint (an EC2 alarm), a skip saying why otherwise.
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 1.0}, "canary": {"count": 1, "weight": 0.0}})
    canary_alarm = load_event("promote_canary/canary_alarm.json")
    ec2 = json.loads(json.dumps(canary_alarm))
    ec2["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"] = {
        "namespace": "AWS/EC2",
        "name": "CPUUtilization",
        "dimensions": {"InstanceId": "i-0123456789abcdef0"},
    }
    result = fn.lambda_handler(ec2, FakeContext())
    assert result["outcomes"] == []
    [rejected] = result["rejected"]
    assert "has no EndpointName or Endpoint dimension" in rejected
    [nothing_under_way] = fn.lambda_handler(canary_alarm, FakeContext())["outcomes"]
    assert (nothing_under_way["result"], nothing_under_way["gate"]) == ("skipped", "state")
    assert nothing_under_way["reason"] == f"no rollout under way on {ENDPOINT}"
    elsewhere = json.loads(json.dumps(canary_alarm).replace(ENDPOINT, "someone-elses"))
    [out_of_scope] = fn.lambda_handler(elsewhere, FakeContext())["outcomes"]
    assert (out_of_scope["result"], out_of_scope["gate"]) == ("skipped", "scope")
    cleared = json.loads(json.dumps(canary_alarm))
    cleared["detail"]["state"]["value"] = "OK"
    [ok] = fn.lambda_handler(cleared, FakeContext())["outcomes"]
    assert (ok["gate"], ok["reason"]) == ("state", "rollout does not act on OK")


def test_a_duplicate_schedule_event_does_not_promote_twice(
    operator_canary: Any, stack: Stack, clock: time_machine.Traveller
) -> None:
    traffic("primary", T0, 120, per_minute=200)
    traffic("canary", T0, 120, per_minute=60)
    tick(operator_canary, T0, clock)
    first = tick(operator_canary, T0 + timedelta(minutes=40), clock)
    again = tick(operator_canary, T0 + timedelta(minutes=40), clock)  # the promotion still under way, or done
    assert [o["result"] for o in first] == ["acted"]
    assert [o for o in again if o["result"] == "acted"] == []
    settle(clock)
    assert share() == 10.0


def test_no_canary_traffic_means_nothing_to_judge(fn: Any, stack: Stack) -> None:
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 1.0}, "canary": {"count": 1, "weight": 0.0}})
    assert tick(fn, T0 + timedelta(minutes=10)) == []
    assert stack.items("decision") == []


def test_dry_run_records_the_promotion_it_would_make(operator_canary: Any, stack: Stack, aws_calls: AwsCalls) -> None:
    stack.set_mode("dry-run")
    traffic("primary", T0, 60, per_minute=200)
    traffic("canary", T0, 60, per_minute=60)
    tick(operator_canary, T0)
    aws_calls.made.clear()
    [outcome] = tick(operator_canary, T0 + timedelta(minutes=45))
    assert outcome["result"] == "dry-run"
    assert "promote canary 5% -> 10%" in outcome["reason"]
    assert share() == 5.0
    changes = [
        op
        for service, op in aws_calls.made
        if service != "dynamodb" and op.startswith(("Update", "Create", "Register"))
    ]
    assert changes == []  # the ledger records the dry run; nothing in SageMaker changes


def test_an_edit_of_an_approved_package_is_not_an_approval_and_a_duplicate_approval_is_one(
    champion: str, fn: Any, stack: Stack
) -> None:
    """SageMaker sends the state change on every update of a package, and may send one change
    more than once: only a change of ModelApprovalStatus to Approved deploys, once."""
    candidate = package(0.91)
    assert approve(fn, candidate, T0, updated=["ApprovalDescription"]) == []
    assert approve(fn, candidate, T0, updated=["CustomerMetadataProperties", "ModelLifeCycle"]) == []
    assert share() == 0.0  # nothing deployed
    [deployed] = approve(fn, candidate, T0 + timedelta(minutes=1))
    assert deployed["result"] == "acted"
    # The same change delivered again (SageMaker may repeat it): the same incident, nothing more.
    assert [o for o in approve(fn, candidate, T0 + timedelta(minutes=1)) if o["result"] == "acted"] == []
    assert len([i for i in stored_incidents(stack) if i["action"] == "rollout"]) == 1


def test_a_package_rolled_back_and_left_approved_comes_back_only_on_a_new_approval(
    champion: str, fn: Any, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RejectModelPackages=false leaves a rolled-back package Approved: an event about it that
    does not name a change of its status (an edit, AWS's documented example shape, a late
    repeat) never puts the model back on traffic; a rejection and a new approval does."""
    monkeypatch.setenv("REJECT_MODEL_PACKAGES", "false")
    candidate = package(0.91)
    approve(fn, candidate, T0)
    traffic("primary", T0, 60, per_minute=200)
    traffic("canary", T0, 60, per_minute=60, error_rate=0.12)
    [rolled_back] = tick(fn, T0 + timedelta(minutes=10))
    assert rolled_back["reason"].startswith("roll back canary (5% -> 0%)")
    assert approval(candidate) == "Approved"
    # An hour later an event without UpdatedModelPackageFields (the documented example's shape).
    [edit] = approve(fn, candidate, T0 + timedelta(hours=1), listed=False)
    assert (edit["result"], edit["gate"], edit["critical"]) == ("stopped", "bound", False)
    assert "was rolled back on churn-prod" in edit["reason"]
    assert "unless it is rejected and approved again" in edit["reason"]
    assert share() == 0.0
    # Rejected, then approved again: SageMaker's event names the status change.
    boto3.client("sagemaker").update_model_package(ModelPackageArn=candidate, ModelApprovalStatus="Rejected")
    [again] = approve(fn, candidate, T0 + timedelta(hours=2))
    assert again["result"] == "acted"
    assert share() == 5.0


def deny_get_object(event_name: str = "before-call.s3.GetObject") -> None:
    """S3 answers AccessDenied to the function's GetObject (a report in a bucket the stack may
    not read, or under a KMS key it may not use), as AWS answers, through botocore's own hook."""
    from model_medic.platform import aws

    class Denied:
        status_code = 403

    def deny(**_: Any) -> tuple[Any, dict[str, Any]]:
        return Denied(), {"Error": {"Code": "AccessDenied", "Message": "Access Denied"}, "ResponseMetadata": {}}

    aws.s3().meta.events.register(event_name, deny)


def test_a_report_that_cannot_be_read_holds_the_rollout_and_rejects_nothing(
    champion: str, fn: Any, stack: Stack
) -> None:
    candidate = package(0.91)
    deny_get_object()
    [held] = approve(fn, candidate, T0)
    assert held["result"] == "skipped"
    assert "cannot read churn/2's report" in held["reason"]
    assert "(AccessDenied)" in held["reason"]
    assert "ModelMetricsBucket" in held["reason"]
    assert approval(candidate) == "Approved"  # cannot read is not "no metric": nothing Rejected
    assert share() == 0.0
    assert tick(fn, T0 + timedelta(minutes=10)) == []  # still held: nothing new to record or tell
    told = [m for m in stack.drain("critical") if "cannot read" in m["Message"]]
    assert len(told) == 1  # told once
    [incident] = [i for i in stored_incidents(stack) if i["action"] == "rollout"]
    assert incident["closed_at"] is None  # held open: once the report can be read, the next tick decides


def test_an_encrypted_endpoint_keeps_its_key_capture_and_every_setting_in_the_canary_config(
    fn: Any, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    capture = {
        "EnableCapture": True,
        "InitialSamplingPercentage": 100,
        "DestinationS3Uri": "s3://churn-capture/datacapture",
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
    }
    network = {"SecurityGroupIds": ["sg-0123456789abcdef0"], "Subnets": ["subnet-0123456789abcdef0"]}
    serve_champion(KmsKeyId=key, DataCaptureConfig=capture, VpcConfig=network, EnableNetworkIsolation=True)
    candidate = package(0.91)
    [held] = approve(fn, candidate, T0)
    assert held["result"] == "skipped"
    assert f"encrypted with {key}, which the stack may not use" in held["reason"]
    assert "ModelKmsKeyArns" in held["reason"]
    assert share() == 0.0

    from model_medic.platform.settings import load_settings

    monkeypatch.setenv("MODEL_KMS_KEYS", key)  # the stack updated with ModelKmsKeyArns: new containers
    load_settings.cache_clear()
    [deployed] = tick(fn, T0 + timedelta(minutes=10))
    assert deployed["result"] == "acted"
    assert share() == 5.0
    sagemaker = boto3.client("sagemaker")
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint()["config"])
    assert config["KmsKeyId"] == key
    assert config["DataCaptureConfig"] == capture
    assert config["VpcConfig"] == network
    assert config["EnableNetworkIsolation"] is True
    assert [v["VariantName"] for v in config["ProductionVariants"]] == ["primary", "canary"]


@pytest.mark.parametrize("kind", ["serverless", "async", "shadow", "inference-components"])
def test_an_operators_deploy_on_an_endpoint_a_canary_cannot_walk_on_changes_nothing_and_says_why(
    fn: Any, stack: Stack, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    from tests.real_endpoints import create_in_moto

    request = create_in_moto(kind, ENDPOINT)
    monkeypatch.setenv("PRIMARY_VARIANT", request["ProductionVariants"][0]["VariantName"])
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    boto3.client("sagemaker").create_model_package_group(ModelPackageGroupName=GROUP)
    candidate = package(0.91, "Approved")
    event = {"deploy-package": {"arn": candidate, "endpoints": [ENDPOINT]}}
    with time_machine.travel(T0, tick=False):
        [outcome] = fn.lambda_handler(event, FakeContext())["outcomes"]
    assert (outcome["result"], outcome["gate"]) == ("stopped", "bound")
    # An endpoint of inference components is rolled by its component (test_component_rollout.py): none here.
    kind_says = "no component rollout" if kind == "inference-components" else "no canary rollout"
    assert f"{kind_says} on {ENDPOINT}: " in outcome["reason"]
    assert endpoint()["config"] == request["EndpointConfigName"]  # nothing changed


def test_an_operators_canary_on_an_inference_component_endpoint_is_not_walked(fn: Any, stack: Stack) -> None:
    """Variants that host inference components have no model of their own: the judge's changes
    (instances per variant, a final config of one model) do not apply; recorded, nothing changed."""
    sagemaker = boto3.client("sagemaker")
    variants = [
        {
            "VariantName": name,
            "InstanceType": "ml.g4dn.xlarge",
            "InitialInstanceCount": 1,
            "InitialVariantWeight": weight,
            "ManagedInstanceScaling": {"Status": "ENABLED", "MinInstanceCount": 1, "MaxInstanceCount": 2},
            "RoutingConfig": {"RoutingStrategy": "LEAST_OUTSTANDING_REQUESTS"},
        }
        for name, weight in (("primary", 0.95), ("canary", 0.05))
    ]
    sagemaker.create_endpoint_config(
        EndpointConfigName="llm-config", ProductionVariants=variants, ExecutionRoleArn=ROLE
    )
    sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName="llm-config")
    traffic("primary", T0, 60, per_minute=200)
    traffic("canary", T0, 60, per_minute=60)
    [outcome] = tick(fn, T0 + timedelta(minutes=10))
    assert (outcome["result"], outcome["gate"]) == ("stopped", "bound")
    assert "hosts inference components" in outcome["reason"]
    assert endpoint()["config"] == "llm-config"
    assert share() == 5.0


# --- at fleet size (issue 21, 2.7): calls that do not grow with the fleet -------------------

FLEET_GROUPS = ("churn", "fraud")  # approvals deploy these; each served by 2 endpoints of the fleet


def fleet_package(group: str, accuracy: float, status: str) -> str:
    return package(accuracy, status, group)


def fleet_serves(index: int) -> str | None:
    """What fleet-<index> serves: endpoints 0-1 churn, 2-3 fraud; every 5th a model made from an
    image and every 7th an endpoint of inference components (no group); the rest other-0..2."""
    if index < 4:
        return FLEET_GROUPS[index // 2]
    if index % 5 == 0 or index % 7 == 0:
        return None
    return f"other-{index % 3}"


@pytest.fixture
def at_fleet_size(fn: Any, stack: Stack, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Endpoints found by tag; the approved version of each group it serves (-> its ARN)."""
    monkeypatch.setenv("MONITORED_ENDPOINTS", "")
    monkeypatch.setenv("DISCOVERY_TAG", "model-medic=on")
    monkeypatch.setenv("MODEL_PACKAGE_GROUPS", ",".join(FLEET_GROUPS))
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    served = {}
    for group in (*FLEET_GROUPS, "other-0", "other-1", "other-2"):
        boto3.client("sagemaker").create_model_package_group(ModelPackageGroupName=group)
        served[group] = fleet_package(group, 0.85, "Approved")
    return served


def grow(served: dict[str, str], start: int, stop: int) -> None:
    """fleet-<start>..fleet-<stop - 1>, tagged for discovery, each with its own config and model."""
    sagemaker = boto3.client("sagemaker")
    for i in range(start, stop):
        group = fleet_serves(i)
        variant: dict[str, Any] = {"VariantName": "primary", "InstanceType": "ml.m5.large", "InitialInstanceCount": 4}
        if i % 7 != 0 or i < 4:
            container = {"ModelPackageName": served[group]} if group else {"Image": "123456789012.dkr.ecr/any:1"}
            sagemaker.create_model(ModelName=f"fleet-{i:03d}", ExecutionRoleArn=ROLE, PrimaryContainer=container)
            variant = {**variant, "ModelName": f"fleet-{i:03d}", "InitialVariantWeight": 1.0}
        sagemaker.create_endpoint_config(EndpointConfigName=f"fleet-{i:03d}-config", ProductionVariants=[variant])
        sagemaker.create_endpoint(
            EndpointName=f"fleet-{i:03d}",
            EndpointConfigName=f"fleet-{i:03d}-config",
            Tags=[{"Key": "model-medic", "Value": "on"}],
        )


def calls_of(aws_calls: AwsCalls, run: Any) -> Counter[str]:
    aws_calls.made.clear()
    run()
    return Counter(operation for _, operation in aws_calls.made)


def approve_in(fn: Any, group: str, at: datetime) -> list[dict[str, Any]]:
    candidate = fleet_package(group, 0.91, "PendingManualApproval")
    return [o for o in approve_group(fn, candidate, group, at) if o["result"] == "acted"]


def approve_group(fn: Any, arn: str, group: str, at: datetime) -> list[dict[str, Any]]:
    boto3.client("sagemaker").update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    event = {
        "detail-type": "SageMaker Model Package State Change",
        "source": "aws.sagemaker",
        "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "detail": {"ModelPackageGroupName": group, "ModelPackageArn": arn, "ModelApprovalStatus": "Approved"},
    }
    with time_machine.travel(at, tick=False):
        return fn.lambda_handler(event, FakeContext())["outcomes"]  # type: ignore[no-any-return]


def test_a_tick_reads_the_fleet_in_pages_and_makes_no_call_per_endpoint(
    at_fleet_size: dict[str, str], fn: Any, stack: Stack, aws_calls: AwsCalls
) -> None:
    grow(at_fleet_size, 0, 20)
    tick(fn, T0)  # the first: enters the roster, learns what the configs serve
    small = calls_of(aws_calls, lambda: tick(fn, T0 + timedelta(minutes=10)))
    grow(at_fleet_size, 20, 60)
    tick(fn, T0 + timedelta(minutes=20))  # learns what the 40 new configs serve
    large = calls_of(aws_calls, lambda: tick(fn, T0 + timedelta(minutes=30)))
    # Three times the endpoints, not one call more: pages of 100 (ListEndpoints, GetResources,
    # Search), the roster, the outbox's pending letters, the kill switch. No endpoint's canary
    # takes traffic: none is described.
    assert large == small
    assert (small["Search"], small["DescribeEndpoint"], small["DescribeEndpointConfig"]) == (1, 0, 0)
    assert sum(small.values()) <= 7


def test_an_approval_reads_the_fleet_in_pages_and_only_its_targets_one_by_one(
    at_fleet_size: dict[str, str], fn: Any, stack: Stack, aws_calls: AwsCalls
) -> None:
    grow(at_fleet_size, 0, 20)
    tick(fn, T0)
    small = calls_of(aws_calls, lambda: approve_in(fn, "churn", T0 + timedelta(minutes=1)))
    assert {o["endpoint"] for o in stored_incidents(stack) if o["action"] == "rollout"} == {"fleet-000", "fleet-001"}
    grow(at_fleet_size, 20, 60)
    tick(fn, T0 + timedelta(minutes=10))
    acted: list[dict[str, Any]] = []
    large = calls_of(aws_calls, lambda: acted.extend(approve_in(fn, "fraud", T0 + timedelta(minutes=11))))
    assert sorted(o["endpoint"] for o in acted) == ["fleet-002", "fleet-003"]
    assert all("deploy fraud/2 as canary" in o["reason"] for o in acted)
    # The same calls for 20 endpoints and for 60: what every config serves is known (the
    # ledger, one Query), each target is read again before it is acted on.
    assert large == small
    assert small["Search"] == 1
    assert small["DescribeEndpoint"] <= 4 * 2  # per target: confirmed, evaluated, read back
    assert small["DescribeEndpointConfig"] <= 3 * 2


def test_what_a_config_serves_is_read_once_then_remembered_and_confirmed_before_acting(
    at_fleet_size: dict[str, str], fn: Any, stack: Stack, aws_calls: AwsCalls
) -> None:
    grow(at_fleet_size, 0, 12)
    # The first approval after a deployment: nothing known yet, every config read once.
    cold = calls_of(aws_calls, lambda: approve_in(fn, "churn", T0))
    assert cold["DescribeEndpointConfig"] >= 12
    remembered = Deployments(Table(boto3.client("dynamodb"), stack.table)).serving_groups(T0)
    assert remembered["fleet-005-config#primary"][0] is None  # a model from an image
    assert remembered["fleet-007-config#primary"][0] is None  # inference components: no model in the variant
    assert remembered["fleet-004-config#primary"][0] == "other-1"
    # A remembered entry that is wrong (a config name deleted and reused) is caught by the
    # fresh read of each endpoint an approval is about to act on: nothing is deployed there.
    Deployments(Table(boto3.client("dynamodb"), stack.table)).save_serving_groups(
        {"fleet-004-config#primary": "fraud"}, T0
    )
    acted = approve_in(fn, "fraud", T0 + timedelta(minutes=1))
    assert sorted(o["endpoint"] for o in acted) == ["fleet-002", "fleet-003"]
    after = Deployments(Table(boto3.client("dynamodb"), stack.table)).serving_groups(T0 + timedelta(minutes=1))
    assert after["fleet-004-config#primary"][0] == "other-1"  # corrected


def test_an_endpoint_of_inference_components_serves_no_group() -> None:
    with mock_aws():
        sagemaker = boto3.client("sagemaker")
        sagemaker.create_endpoint_config(
            EndpointConfigName="components",
            ExecutionRoleArn=ROLE,
            ProductionVariants=[{"VariantName": "primary", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}],
        )
        arn = sagemaker.create_endpoint(EndpointName="components", EndpointConfigName="components")["EndpointArn"]
        assert serving_group(sagemaker, "components", "primary") == (None, arn)


class RunningOut(FakeContext):
    """A Lambda context whose time runs out after `evaluations` looks at the clock."""

    def __init__(self, evaluations: int) -> None:
        super().__init__()
        self.looks = 0
        self.evaluations = evaluations

    def get_remaining_time_in_millis(self) -> int:
        self.looks += 1
        return 60_000 if self.looks <= self.evaluations else 9_000


def test_an_approval_with_more_targets_than_time_opens_them_all_and_leaves_the_rest_to_the_next_tick(
    at_fleet_size: dict[str, str], fn: Any, stack: Stack
) -> None:
    """One evaluation fits, then less than TIME_RESERVE is left: the second target's rollout is
    open but not deployed (no timeout, no retry, no dead-letter queue); the next tick deploys it."""
    grow(at_fleet_size, 0, 6)
    tick(fn, T0)
    candidate = fleet_package("churn", 0.91, "Approved")
    event = {
        "detail-type": "SageMaker Model Package State Change",
        "source": "aws.sagemaker",
        "time": (T0 + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "detail": {"ModelPackageGroupName": "churn", "ModelPackageArn": candidate, "ModelApprovalStatus": "Approved"},
    }
    with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
        [first] = fn.lambda_handler(event, RunningOut(evaluations=1))["outcomes"]
    assert first["result"] == "acted"
    rollouts = {i["endpoint"]: i for i in stored_incidents(stack) if i["action"] == "rollout"}
    assert set(rollouts) == {"fleet-000", "fleet-001"}  # both open: durable, followed by ticks
    [left] = [name for name, i in rollouts.items() if i["steps"] == 0]
    assert left != first["endpoint"]
    later = [o for o in tick(fn, T0 + timedelta(minutes=10)) if o["result"] == "acted"]
    assert [(o["endpoint"], "deploy churn/2 as canary" in o["reason"]) for o in later] == [(left, True)]


# --- what rollouts created, deleted once nothing needs it (cleanup.py) ---------------------------


def tracked(stack: Stack) -> list[tuple[str, str]]:
    ledger = Deployments(Table(boto3.client("dynamodb"), stack.table))
    return sorted((e.kind, e.name) for e in ledger.created())


def configs() -> set[str]:
    return {c["EndpointConfigName"] for c in boto3.client("sagemaker").list_endpoint_configs()["EndpointConfigs"]}


def models() -> set[str]:
    return {m["ModelName"] for m in boto3.client("sagemaker").list_models()["Models"]}


def test_a_finished_rollouts_canary_config_is_deleted_after_the_retention_and_what_is_served_stays(
    champion: str, fn: Any, stack: Stack, aws_calls: AwsCalls
) -> None:
    candidate = package(0.91)
    approve(fn, candidate, T0)
    canary_config = endpoint()["config"]
    traffic("primary", T0, 400, per_minute=200)
    traffic("canary", T0, 400, per_minute=60)
    walk(fn, T0, 400)
    final = endpoint()
    [model] = [m for m in models() if "-model-" in m]
    # Tracked before they were created: the canary config, the final config, the candidate model.
    assert tracked(stack) == sorted([("config", canary_config), ("config", final["config"]), ("model", model)])
    # Before RolloutCleanupDays (30 by default) nothing goes.
    assert [o for o in tick(fn, T0 + timedelta(days=29)) if o["action"] == "cleanup"] == []
    assert canary_config in configs()
    cleaned = [o for o in tick(fn, T0 + timedelta(days=31)) if o["action"] == "cleanup"]
    assert [(o["result"], o["endpoint"]) for o in cleaned] == [("acted", ENDPOINT)]
    assert cleaned[0]["reason"].startswith(f"deleted endpoint config {canary_config}: created by a rollout 31 days ago")
    # The served final config, its model and the config from before the rollout (not ours) stay.
    assert configs() == {f"{ENDPOINT}-config-1", final["config"]}
    assert model in models()
    assert tracked(stack) == sorted([("config", final["config"]), ("model", model)])
    # Once a day: a later tick of the same day reads nothing for the clean-up.
    aws_calls.made.clear()
    assert [o for o in tick(fn, T0 + timedelta(days=31, minutes=10)) if o["action"] == "cleanup"] == []
    assert aws_calls.of("sagemaker").count("DescribeEndpoint") == 0
    # The next day the served final config, due and kept, costs one read of its own endpoint.
    aws_calls.made.clear()
    assert [o for o in tick(fn, T0 + timedelta(days=32)) if o["action"] == "cleanup"] == []
    assert aws_calls.of("sagemaker").count("DescribeEndpoint") == 1


def test_the_rollback_target_and_its_model_stay_and_dry_run_deletes_nothing(fn: Any, stack: Stack) -> None:
    from model_medic.remediate.cleanup import Cleanup, ComponentModels
    from model_medic.store.component_specs import ComponentSpecs

    sagemaker = boto3.client("sagemaker")
    make_endpoint(ENDPOINT, {"primary": {"count": 1, "weight": 1.0}})
    for model in ("churn-v2-model-aaaa1111", "churn-v3-model-bbbb2222"):
        sagemaker.create_model(ModelName=model, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "x"})
    for config, model in (
        (f"{ENDPOINT}-final-aaaa1111", "churn-v2-model-aaaa1111"),
        (f"{ENDPOINT}-canary-bbbb2222", "churn-v3-model-bbbb2222"),
    ):
        sagemaker.create_endpoint_config(
            EndpointConfigName=config,
            ProductionVariants=[
                {"VariantName": "primary", "ModelName": model, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
            ],
        )
    ledger = Deployments(Table(boto3.client("dynamodb"), stack.table))
    for kind, name in (
        ("config", f"{ENDPOINT}-final-aaaa1111"),
        ("model", "churn-v2-model-aaaa1111"),
        ("config", f"{ENDPOINT}-canary-bbbb2222"),
        ("model", "churn-v3-model-bbbb2222"),
    ):
        ledger.track_created(ENDPOINT, kind, name, T0)
    # The final config served before the endpoint's current one: the rollback target.
    ledger.observe_config(ENDPOINT, f"{ENDPOINT}-final-aaaa1111", T0 + timedelta(days=1))
    ledger.observe_config(ENDPOINT, f"{ENDPOINT}-config-1", T0 + timedelta(days=2))
    later = T0 + timedelta(days=40)
    journal = Journal(Table(boto3.client("dynamodb"), stack.table), timedelta(days=90))
    components = ComponentModels(
        sagemaker, ComponentSpecs(Table(boto3.client("dynamodb"), stack.table)), timedelta(hours=24)
    )
    cleanup = Cleanup(sagemaker, ledger, journal, timedelta(days=30), lambda: later, components)
    assert cleanup.sweep(lambda _: False) == []  # not in enforce: nothing
    assert {f"{ENDPOINT}-final-aaaa1111", f"{ENDPOINT}-canary-bbbb2222"} <= configs()
    done = cleanup.sweep(lambda _: True)
    assert [key for _, _, key in done] == [
        f"cleanup#config#{ENDPOINT}-canary-bbbb2222",
        "cleanup#model#churn-v3-model-bbbb2222",  # its only config went first
    ]
    assert f"{ENDPOINT}-final-aaaa1111" in configs()  # the rollback target
    assert "churn-v2-model-aaaa1111" in models()  # the rollback target's model
    assert f"{ENDPOINT}-canary-bbbb2222" not in configs()
    assert "churn-v3-model-bbbb2222" not in models()
    # Gone already (a run whose record failed): deleted again is "done", recorded once by its key.
    again = Cleanup(sagemaker, ledger, journal, timedelta(days=30), lambda: later, components).sweep(lambda _: True)
    assert [key for _, _, key in again] == [key for _, _, key in done]


def walk_to_100(fn: Any, start: datetime) -> datetime:
    """Tick every 10 minutes until the canary takes all of the traffic (before the finish); when."""
    for minute in range(10, 400, 10):
        at = start + timedelta(minutes=minute)
        tick(fn, at)
        if share() == 100.0:
            return at
    raise AssertionError(f"the canary never reached 100% ({share()}%)")


def operator_sets_canary(weight: float) -> None:
    """An operator sends `weight` of the traffic to the canary (UpdateEndpointWeightsAndCapacities)."""
    boto3.client("sagemaker").update_endpoint_weights_and_capacities(
        EndpointName=ENDPOINT,
        DesiredWeightsAndCapacities=[
            {"VariantName": "primary", "DesiredWeight": 1.0 - weight},
            {"VariantName": "canary", "DesiredWeight": weight},
        ],
    )


def test_the_demos_two_rollouts_one_walked_to_100_percent_then_replaced_one_rolled_back_in_the_report(
    operator_canary: Any, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo's day: a canary walked to 100 %, then an operator puts a new canary at 5 % (the
    first rollout's endpoint changed under it, before its finish), which fails and is rolled
    back. Neither is a failure: the first is complete (told once, not paged), the second was
    rolled back by its judge; the report counts them so, with no fix rate, and grades the day A."""
    traffic("primary", T0, 600, per_minute=200)
    traffic("canary", T0, 600, per_minute=60)
    reached = walk_to_100(operator_canary, T0)
    for tap in ("critical", "info", "events"):
        stack.drain(tap)
    operator_sets_canary(0.05)
    replaced = reached + timedelta(minutes=10)
    traffic("canary", replaced, 60, per_minute=60, error_rate=0.12)
    [ended] = tick(operator_canary, replaced)
    assert (ended["result"], ended["gate"]) == ("recovered", "changed-outside")
    assert "then canary takes 5% of churn-prod's traffic where this rollout left it at 100%" in ended["reason"]
    assert ended["reason"].endswith(
        "changed outside Model Medic; the rollout is complete (its final config was not Model Medic's)"
    )
    assert stack.drain("critical") == []  # nobody paged
    [told] = stack.drain("info")  # told once
    assert told["MessageAttributes"]["result"]["Value"] == "recovered"
    assert [(e["detail"]["result"], e["detail"]["gate"]) for e in stack.drain("events")] == [
        ("recovered", "changed-outside")
    ]
    tick(operator_canary, replaced + timedelta(minutes=5))  # the new canary adopted
    rolled_back = tick(operator_canary, replaced + timedelta(minutes=10))
    assert [o["reason"][:16] for o in rolled_back if o["result"] == "acted"] == ["roll back canary"]
    # Later an operator serves a new config without a canary: what completed stays complete.
    sagemaker = boto3.client("sagemaker")
    sagemaker.create_endpoint_config(
        EndpointConfigName=f"{ENDPOINT}-config-9",
        ProductionVariants=[
            {
                "VariantName": "primary",
                "ModelName": f"{ENDPOINT}-primary-model",
                "InitialInstanceCount": 2,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    sagemaker.update_endpoint(EndpointName=ENDPOINT, EndpointConfigName=f"{ENDPOINT}-config-9")
    assert tick(operator_canary, replaced + timedelta(minutes=30)) == []
    report, html = daily_report(monkeypatch)
    assert [(i["outcome"], i["state"]) for i in report["incidents"]] == [
        ("complete", "recovered"),
        ("rolled back", "escalated"),
    ]
    assert report["actions"] == []  # no alarm was answered: no fix rate
    assert report["rollouts"] == [
        {
            "action": "rollout",
            "rollouts": 2,
            "complete": 1,
            "rolled_back": 1,
            "not_deployed": 0,
            "stopped": 0,
            "escalated": 0,
            "under_way": 0,
            # Adopted by the first tick, complete when the change was seen: 2 h 10 min.
            "median_time_to_complete_seconds": (replaced - T0 - timedelta(minutes=10)).total_seconds(),
            "median_time_to_complete": "2 h 10 min",
        }
    ]
    assert (report["grade"], report["graded"]) == ("A", [])
    assert "How the rollouts ended" in html
    assert "Fix rate" not in html
    assert '<span class="badge badge-complete">complete</span>' in html
    assert '<span class="badge badge-rolled-back">rolled back</span>' in html


def test_a_rollout_whose_endpoint_an_operator_changed_before_100_percent_stops_told_once_not_paged(
    operator_canary: Any, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    traffic("primary", T0, 120, per_minute=200)
    traffic("canary", T0, 120, per_minute=60)
    tick(operator_canary, T0)
    [promoted] = [o for o in tick(operator_canary, T0 + timedelta(minutes=40)) if o["result"] == "acted"]
    assert share() == 10.0
    stack.drain("critical")
    operator_sets_canary(0.3)
    [stopped] = tick(operator_canary, T0 + timedelta(minutes=50))
    assert (stopped["result"], stopped["gate"], stopped["critical"]) == ("stopped", "changed-outside", False)
    assert stopped["reason"] == (
        "canary takes 30% of churn-prod's traffic where this rollout left it at 10%: changed outside Model "
        "Medic; the rollout stops at 10%"
    )
    assert stack.drain("critical") == []  # not paged: nothing failed
    events = [e["detail"] for e in stack.drain("events")]
    assert [e["result"] for e in events if e["incident"] == promoted["incident"]][-1:] == ["stopped"]
    [first] = [i for i in stored_incidents(stack) if i["action"] == "rollout"]
    assert (first["state"], first["timeline"][-1]["what"]) == ("closed", "stopped")
    assert first["closed_at"] == (T0 + timedelta(minutes=50)).isoformat()
    # Recorded once: the next ticks adopt the operator's canary as a new rollout, nothing more of this one.
    tick(operator_canary, T0 + timedelta(minutes=60))
    stopped_decisions = [d for d in stack.items("decision") if '"stopped"' in json.dumps(d)]
    assert len(stopped_decisions) == 1
    report, _ = daily_report(monkeypatch)
    first_row = next(i for i in report["incidents"] if i["id"] == first["id"])
    assert first_row["outcome"] == "stopped"
    assert report["rollouts"][0]["stopped"] == 1
    assert report["grade"] == "A"


def test_a_report_registered_but_never_written_is_no_figure_not_a_hold(champion: str, fn: Any, stack: Stack) -> None:
    """S3 answers NoSuchKey for it to a role that may list the bucket, as the stack's may
    (ListRegisteredModelQuality; without it AWS answers AccessDenied, which would hold the
    rollout: tests/template/test_security.py): the candidate registers no figure."""
    candidate = package(0.91)
    boto3.client("s3").delete_object(Bucket=BUCKET, Key=f"{GROUP}/2/evaluation.json")
    [declined] = approve(fn, candidate, T0)
    assert (declined["result"], declined["gate"]) == ("acted", "")
    assert declined["reason"] == (
        "model package churn/2 -> Rejected, not deployed (the candidate has no registered accuracy: "
        "nothing shows it is better)"
    )
    assert share() == 0.0
