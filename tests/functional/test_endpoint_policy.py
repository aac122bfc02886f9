"""Per-endpoint policy from tags, end to end against moto: an endpoint's `model-medic:` tags
set its own limits, mode and alarm thresholds; a bad tag is told once and the stack's value
used; endpoints without tags keep the stack's."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
import time_machine

from localcloud.moto_extensions import reset_simulation
from tests.conftest import REGION, FakeContext, Stack, bodies, load_event, load_handler, make_endpoint
from tests.functional import test_alarm_manager, test_compute_model_quality
from tests.functional.test_scale_up import OPENED, deliver, latency_alarm, scale_up_alarms, sweep

TAGGED, PLAIN = "churn-prod", "fraud-prod"


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(OPENED, tick=False) as traveller:
        yield traveller


@pytest.fixture
def fn(stack: Stack, clock: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """ScaleUpFunction with the stack's MaxInstanceCount 4 and ScaleStep 1 (as test_scale_up's)."""
    for name, value in {
        "MAX_INSTANCE_COUNT": "4",
        "SCALE_STEP": "1",
        "SCALE_UP_COOLDOWN_MINUTES": "10",
        "SCALE_UP_VERIFY_MINUTES": "15",
        "SCALE_BACK_AFTER_MINUTES": "15",
        "POWERTOOLS_SERVICE_NAME": "scale-up",
    }.items():
        monkeypatch.setenv(name, value)
    reset_simulation()  # moto's endpoint changes finish at once
    yield load_handler("scale_up")
    reset_simulation()


@pytest.fixture
def fleet(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Stack:
    """AlarmManagerFunction's environment (test_alarm_manager's)."""
    return test_alarm_manager.fleet_env.__wrapped__(stack, monkeypatch)  # type: ignore[attr-defined, no-any-return]


def tag(endpoint: str, **tags: str) -> None:
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    arn = sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointArn"]
    sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])


def count(endpoint: str) -> int:
    described = boto3.client("sagemaker", region_name=REGION).describe_endpoint(EndpointName=endpoint)
    return int(described["ProductionVariants"][0]["CurrentInstanceCount"])


@pytest.fixture
def two(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Stack:
    """Two named endpoints of one instance each, both scale-up alarms of both in ALARM / OK."""
    monkeypatch.setenv("MONITORED_ENDPOINTS", f"{TAGGED},{PLAIN}")
    for endpoint in (TAGGED, PLAIN):
        make_endpoint(endpoint, {"primary": {"count": 1, "weight": 1.0}})
        scale_up_alarms({"HighLatency": "ALARM", "HighErrorRate": "OK"}, endpoint=endpoint)
    return stack


def unused_tag_messages(stack: Stack) -> list[dict[str, Any]]:
    return [b for b in bodies(stack, "info") if "is not used" in str(b.get("text", ""))]


def test_an_endpoint_tagged_with_its_own_maximum_is_scaled_to_it_and_no_further_while_another_keeps_the_stacks(
    fn: Any, two: Stack, clock: time_machine.Traveller
) -> None:
    tag(TAGGED, **{"model-medic:max-instance-count": "3", "team": "fraud"})
    for endpoint in (TAGGED, PLAIN):
        [first] = deliver(fn, clock, latency_alarm(endpoint))
        assert (first["endpoint"], first["reason"]) == (endpoint, "primary instance-count 1 -> 2")
    for minutes in (11, 22, 33, 38, 60):
        sweep(fn, clock, OPENED + timedelta(minutes=minutes))
    assert count(TAGGED) == 3  # its own MaxInstanceCount
    assert count(PLAIN) == 4  # the stack's (MAX_INSTANCE_COUNT=4)
    escalated = {b["endpoint"]: b for b in bodies(two, "critical") if b.get("result") == "escalated"}
    assert set(escalated) == {TAGGED, PLAIN}
    assert escalated[TAGGED]["changes"]["tried"] == ["primary instance-count 1 -> 2", "primary instance-count 2 -> 3"]
    assert len(escalated[PLAIN]["changes"]["tried"]) == 3
    assert unused_tag_messages(two) == []  # a good tag and a tag that is not ours: nothing to tell


def test_a_bad_tag_value_is_told_once_and_the_stacks_value_is_used(
    fn: Any, two: Stack, clock: time_machine.Traveller
) -> None:
    tag(TAGGED, **{"model-medic:max-instance-count": "lots", "model-medic:max-instances": "3"})
    deliver(fn, clock, latency_alarm(TAGGED))
    for minutes in (11, 22, 33, 38):
        sweep(fn, clock, OPENED + timedelta(minutes=minutes))
    assert count(TAGGED) == 4  # the stack's MaxInstanceCount, not a guess from "lots"
    told = unused_tag_messages(two)
    assert sorted(m["text"].split("=")[0] for m in told) == [
        "tag model-medic:max-instance-count",
        "tag model-medic:max-instances",
    ]
    [bad_value] = [m for m in told if m["text"].startswith("tag model-medic:max-instance-count=")]
    assert "must be a whole number" in bad_value["text"]
    assert f"on endpoint {TAGGED}" in bad_value["text"]
    marks = [i["sk"] for i in two.items("mark") if "bad-tag#" in i["sk"]]
    assert len(marks) == 2
    # More sweeps and deliveries tell nothing more.
    sweep(fn, clock, OPENED + timedelta(minutes=50))
    deliver(fn, clock, latency_alarm(TAGGED), OPENED + timedelta(minutes=51))
    assert unused_tag_messages(two) == []
    # A new bad value is a new problem: told once again.
    tag(TAGGED, **{"model-medic:max-instance-count": "0"})
    sweep(fn, clock, OPENED + timedelta(minutes=55))
    [again] = unused_tag_messages(two)
    assert "must be >= 1" in again["text"]


def test_a_named_endpoint_created_with_capitals_is_in_scope_under_its_own_spelling_and_its_tags_count(
    fn: Any, stack: Stack, clock: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch
) -> None:
    # EndpointNames holds churn-prod (lower case: the roles' ARNs); SageMaker keeps Churn-Prod,
    # and its alarms (the alarm manager's) carry Churn-Prod.
    monkeypatch.setenv("MONITORED_ENDPOINTS", "churn-prod")
    make_endpoint("Churn-Prod", {"primary": {"count": 1, "weight": 1.0}})
    scale_up_alarms({"HighLatency": "ALARM", "HighErrorRate": "OK"}, endpoint="Churn-Prod")
    tag("Churn-Prod", **{"model-medic:max-instance-count": "2"})
    [first] = deliver(fn, clock, latency_alarm("Churn-Prod"))
    assert (first["endpoint"], first["reason"]) == ("Churn-Prod", "primary instance-count 1 -> 2")
    for minutes in (11, 22, 33, 38):
        sweep(fn, clock, OPENED + timedelta(minutes=minutes))
    assert count("Churn-Prod") == 2  # its own MaxInstanceCount (its tag), not the stack's 4
    [escalated] = [b for b in bodies(stack, "critical") if b.get("result") == "escalated"]
    assert escalated["endpoint"] == "Churn-Prod"
    assert {i["pk"] for i in stack.items("incident")} == {"ENDPOINT#Churn-Prod"}  # the ledger key


def test_an_endpoint_tagged_dry_run_is_left_alone_while_the_others_are_acted_on(
    fn: Any, two: Stack, clock: time_machine.Traveller
) -> None:
    tag(TAGGED, **{"model-medic:automation-mode": "dry-run"})
    [dry] = deliver(fn, clock, latency_alarm(TAGGED))
    [acted] = deliver(fn, clock, latency_alarm(PLAIN))
    assert (dry["result"], dry["mode"], dry["reason"]) == ("dry-run", "dry-run", "primary instance-count 1 -> 2")
    assert (acted["result"], acted["mode"]) == ("acted", "enforce")
    sweep(fn, clock, OPENED + timedelta(minutes=11))
    assert (count(TAGGED), count(PLAIN)) == (1, 3)


def test_a_policy_tag_on_the_second_page_of_list_tags_is_the_endpoints_all_the_same(
    fn: Any, two: Stack, clock: time_machine.Traveller
) -> None:
    """ListTags answers at most 50 tags a page (moto's default page is 50 too), and an endpoint
    may carry more: CloudFormation's three `aws:cloudformation:` tags are beyond the 50 of its
    owner. Here the dry-run tag is the 52nd: read from the second page, it is obeyed."""
    stack_tags = {f"aws:cloudformation:{k}": "churn" for k in ("stack-name", "stack-id", "logical-id")}
    tag(TAGGED, **stack_tags)
    tag(TAGGED, **{f"cost-centre-{i:02d}": "ml" for i in range(48)})
    tag(TAGGED, **{"model-medic:automation-mode": "dry-run"})
    arn = boto3.client("sagemaker", region_name=REGION).describe_endpoint(EndpointName=TAGGED)["EndpointArn"]
    first = boto3.client("sagemaker", region_name=REGION).list_tags(ResourceArn=arn)
    assert "NextToken" in first  # the policy tag is on the second page
    assert "model-medic:automation-mode" not in {t["Key"] for t in first["Tags"]}
    [dry] = deliver(fn, clock, latency_alarm(TAGGED))
    assert (dry["result"], dry["mode"]) == ("dry-run", "dry-run")
    assert count(TAGGED) == 1


def test_the_global_kill_switch_wins_over_an_endpoint_tagged_enforce(
    fn: Any, two: Stack, clock: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTOMATION_MODE", "dry-run")
    tag(TAGGED, **{"model-medic:automation-mode": "enforce"})
    # Inheriting, the tag replaces the stack's dry-run for its endpoint only.
    [acted] = deliver(fn, clock, latency_alarm(TAGGED))
    [dry] = deliver(fn, clock, latency_alarm(PLAIN))
    assert (acted["result"], dry["result"]) == ("acted", "dry-run")
    # The kill switch at off: nothing anywhere, whatever the tag says.
    two.set_mode("off")
    outcomes = sweep(fn, clock, OPENED + timedelta(minutes=11))
    assert {(o["endpoint"], o["gate"]) for o in outcomes} == {(TAGGED, "mode"), (PLAIN, "mode")}
    assert (count(TAGGED), count(PLAIN)) == (2, 1)


# --- alarms --------------------------------------------------------------------------------


def manage(event: Any) -> dict[str, Any]:
    result: dict[str, Any] = load_handler("manage_alarms").lambda_handler(event, FakeContext())
    return result


def alarm(name: str) -> dict[str, Any]:
    found: dict[str, Any]
    [found] = boto3.client("cloudwatch", region_name=REGION).describe_alarms(AlarmNames=[name])["MetricAlarms"]
    return found


def test_the_alarm_manager_gives_a_tagged_endpoint_its_own_thresholds_and_follows_a_changed_tag(
    fleet: Stack,
) -> None:
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    # tagged-prod serves a challenger beside its canary: which of them is the canary is its tag's say.
    variant = {"ModelName": "m", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
    sagemaker.create_endpoint_config(
        EndpointConfigName="three",
        ProductionVariants=[{"VariantName": v, **variant} for v in ("primary", "canary", "challenger")],
    )
    for name, config in (("tagged-prod", "three"), ("plain-prod", "shared")):
        sagemaker.create_endpoint(
            EndpointName=name, EndpointConfigName=config, Tags=[{"Key": "model-medic", "Value": "on"}]
        )
    tag(
        "tagged-prod",
        **{
            "model-medic:latency-threshold-ms": "250",
            "model-medic:canary-variant-name": "challenger",
            "model-medic:error-rate-threshold": "high",  # bad: the stack's 5 stays
        },
    )
    schedule = load_event("manage_alarms/schedule.json")
    manage(schedule)
    assert alarm("tagged-prod-HighLatency")["Threshold"] == 250.0
    assert alarm("plain-prod-HighLatency")["Threshold"] == 1000.0
    assert alarm("tagged-prod-HighErrorRate")["Threshold"] == 5.0
    challenger = alarm("tagged-prod-challenger-ErrorRate")
    assert {d["Name"]: d["Value"] for d in challenger["Dimensions"]}["VariantName"] == "challenger"
    names = {a["AlarmName"] for a in boto3.client("cloudwatch", region_name=REGION).describe_alarms()["MetricAlarms"]}
    assert "tagged-prod-canary-ErrorRate" not in names
    assert "plain-prod-canary-ErrorRate" in names
    # The tag changes: the next run puts the alarm back in step, and touches nothing else.
    tag("tagged-prod", **{"model-medic:latency-threshold-ms": "400"})
    result = manage(schedule)["reconciled"]
    assert alarm("tagged-prod-HighLatency")["Threshold"] == 400.0
    assert result["updated"] == ["tagged-prod-HighLatency"]
    # The tag removed: the stack's threshold again; the canary alarms follow the variant's name.
    arn = sagemaker.describe_endpoint(EndpointName="tagged-prod")["EndpointArn"]
    sagemaker.delete_tags(
        ResourceArn=arn, TagKeys=["model-medic:latency-threshold-ms", "model-medic:canary-variant-name"]
    )
    manage(schedule)
    assert alarm("tagged-prod-HighLatency")["Threshold"] == 1000.0
    names = {a["AlarmName"] for a in boto3.client("cloudwatch", region_name=REGION).describe_alarms()["MetricAlarms"]}
    assert "tagged-prod-canary-ErrorRate" in names
    assert "tagged-prod-challenger-ErrorRate" not in names


def test_the_alarm_manager_lets_a_tag_lower_a_canary_ceiling_but_not_raise_it(fleet: Stack) -> None:
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    for name in ("strict-prod", "loose-prod"):
        sagemaker.create_endpoint(
            EndpointName=name, EndpointConfigName="shared", Tags=[{"Key": "model-medic", "Value": "on"}]
        )
    tag("strict-prod", **{"model-medic:canary-max-error-rate": "2.5"})
    tag("loose-prod", **{"model-medic:canary-max-error-rate": "10"})
    manage(load_event("manage_alarms/schedule.json"))
    assert alarm("strict-prod-canary-ErrorRate")["Threshold"] == 2.5
    assert alarm("loose-prod-canary-ErrorRate")["Threshold"] == 5.0  # the stack's CanaryMaxErrorRate, not 10


# --- model quality ---------------------------------------------------------------------------


@pytest.fixture
def quality(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Any:
    """ComputeModelQualityFunction with the stack's ProblemType BinaryClassification."""
    for name, value in {
        "CAPTURE_S3_URI": f"s3://{test_compute_model_quality.BUCKET}/datacapture",
        "GROUND_TRUTH_S3_URI": f"s3://{test_compute_model_quality.BUCKET}/groundtruth",
        "PROBLEM_TYPE": "BinaryClassification",
        "QUALITY_WINDOW_HOURS": "24",
        "LABEL_LOOKBACK_HOURS": "72",
        "QUALITY_MIN_SAMPLES": "50",
        "POWERTOOLS_SERVICE_NAME": "compute-model-quality",
    }.items():
        monkeypatch.setenv(name, value)
    boto3.client("s3").create_bucket(Bucket=test_compute_model_quality.BUCKET)
    return load_handler("compute_model_quality")


def test_an_endpoint_tagged_as_a_regression_model_is_measured_as_one(quality: Any, stack: Stack) -> None:
    make_endpoint("churn-prod")
    hour = datetime(2026, 11, 22, 9, tzinfo=UTC)
    truth = [10.0 + i for i in range(60)]
    test_compute_model_quality.predictions("primary", hour, [f"r{i}" for i in range(60)], [t + 1 for t in truth])
    test_compute_model_quality.labels(hour + timedelta(hours=1), [(f"r{i}", str(t)) for i, t in enumerate(truth)])
    # The hourly catch-up (window to 11:00), each endpoint measured from its queue message.
    # The stack's binary classification cannot read labels of 10.0 ... 69.0 as classes.
    [as_stack] = test_compute_model_quality.hourly(quality, stack)
    assert (as_stack["published"], as_stack["undecodable_predictions"]) == ({}, 60)
    tag("churn-prod", **{"model-medic:problem-type": "Regression"})
    [as_tagged] = test_compute_model_quality.hourly(quality, stack)
    assert as_tagged["published"]["primary"]["rmse"] == pytest.approx(1.0)
    assert as_tagged["published"]["primary"]["mae"] == pytest.approx(1.0)


def test_a_tag_that_would_raise_the_stacks_maximum_is_told_once_and_the_stacks_maximum_holds(
    fn: Any, two: Stack, clock: time_machine.Traveller
) -> None:
    tag(TAGGED, **{"model-medic:max-instance-count": "5"})  # the stack's MaxInstanceCount is 4
    deliver(fn, clock, latency_alarm(TAGGED))
    for minutes in (11, 22, 33, 38, 50):
        sweep(fn, clock, OPENED + timedelta(minutes=minutes))
    assert count(TAGGED) == 4
    [told] = unused_tag_messages(two)
    sentence, where = told["text"].split("\n\n", 1)
    assert sentence == (
        f"tag model-medic:max-instance-count='5' on endpoint {TAGGED} is not used: it would raise the stack's "
        "MaxInstanceCount (4) to 5; a tag may only lower this bound (the stack's TagsMayLoosenBounds is false); "
        "the stack's setting applies"
    )
    assert where.startswith("Stack model-medic-test, account 123456789012, Region us-east-1\n")


def test_a_stack_that_allows_it_lets_a_tag_raise_the_maximum(
    fn: Any, two: Stack, clock: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TAGS_MAY_LOOSEN_BOUNDS", "true")
    tag(TAGGED, **{"model-medic:max-instance-count": "5"})
    deliver(fn, clock, latency_alarm(TAGGED))
    for minutes in (11, 22, 33, 44, 50):
        sweep(fn, clock, OPENED + timedelta(minutes=minutes))
    assert count(TAGGED) == 5
    assert unused_tag_messages(two) == []
