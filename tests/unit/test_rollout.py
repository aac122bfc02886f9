"""The rollout's pure parts: derived endpoint configs keep every field AWS takes, the endpoint
kinds a canary cannot walk on, the keys the stack may use, what counts as an approval, what
the next step is, the evidence as minutes, and how a weight change reads back."""

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.stub import Stubber

from model_medic.intake.triggers import SAGEMAKER_NAME, names_the_transition
from model_medic.platform.settings import CanarySettings
from model_medic.remediate.capacity import ScaleChange, Variant
from model_medic.remediate.rollback import RejectPackage
from model_medic.remediate.rollout.challenge import Challenge
from model_medic.remediate.rollout.changes import (
    DeclineCandidate,
    DeployCanary,
    FinishRollout,
    RollBackCanary,
    ShiftTraffic,
)
from model_medic.remediate.rollout.deploy import (
    as_input,
    canary_variants,
    config_read_back,
    create_canary,
    derived_config,
    key_allowed,
    resource_name,
    traffic_observation,
    unsupported,
)
from model_medic.remediate.rollout.evidence import as_minutes, minute_queries, minute_window, read_series
from model_medic.remediate.rollout.judge import Decision, Minute, Tally, Verdict
from model_medic.remediate.rollout.plan import (
    CHANGED_OUTSIDE,
    Contest,
    Look,
    Sizes,
    autoscaled_canary,
    declined,
    deploy_plan,
    endpoint_hold,
    finish_plan,
    promote_plan,
    redeploy_hold,
    rules_of,
    step_of,
    verdict_plan,
    walk_hold,
)
from model_medic.remediate.rollout.run import adopted_incident, rollout_incident
from model_medic.store.incidents import Incident
from tests.real_endpoints import KINDS, load

SAGEMAKER = botocore.session.get_session().get_service_model("sagemaker")
CREATE = SAGEMAKER.operation_model("CreateEndpointConfig").input_shape
VARIANT = CREATE.members["ProductionVariants"].member


def example(shape: Any, depth: int = 0) -> Any:
    """A value for every member of a botocore shape, all the way down (recursive shapes stop at depth 8)."""
    kind = shape.type_name
    if kind == "structure":
        return {name: example(member, depth + 1) for name, member in shape.members.items() if depth < 8}
    if kind == "list":
        return [example(shape.member, depth + 1)]
    if kind == "map":
        return {"key": example(shape.value, depth + 1)}
    if kind == "string":
        return shape.enum[0] if shape.enum else f"{shape.name}-value"
    if kind in ("integer", "long"):
        return 3
    if kind in ("float", "double"):
        return 0.5
    if kind == "boolean":
        return True
    if kind == "timestamp":
        return datetime(2026, 1, 2, tzinfo=UTC)
    return b"blob"


def test_a_derived_config_carries_every_field_create_endpoint_config_takes() -> None:
    """Walks botocore's CreateEndpointConfig input: a field AWS adds later is carried, not dropped in silence."""
    described = {
        **example(CREATE),
        # DescribeEndpointConfig's own fields, which CreateEndpointConfig does not take back.
        "EndpointConfigArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/old",
        "CreationTime": datetime(2026, 1, 1, tzinfo=UTC),
    }
    variants = [{"VariantName": "canary", "ModelName": "m", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}]
    request = derived_config(described, CREATE, "new-config", variants)
    assert request["EndpointConfigName"] == "new-config"
    assert request["ProductionVariants"] == variants
    carried = set(CREATE.members) - {"EndpointConfigName", "ProductionVariants"}
    for name in sorted(carried):
        assert request.get(name) == described[name], name
    assert "EndpointConfigArn" not in request
    assert "CreationTime" not in request
    assert set(request) <= set(CREATE.members)


def test_a_variant_keeps_every_field_and_loses_what_only_describe_returns() -> None:
    described = {**example(VARIANT), "CurrentInstanceCount": 2, "DeployedImages": [{"SpecifiedImage": "x"}]}
    kept = as_input(described, VARIANT)
    assert kept == {k: described[k] for k in VARIANT.members}


def test_a_setting_not_made_is_not_sent() -> None:
    # moto answers DataCaptureConfig: {} for a config without capture; AWS leaves it out.
    described: dict[str, Any] = {
        "EndpointConfigName": "c",
        "ProductionVariants": [],
        "DataCaptureConfig": {},
        "KmsKeyId": None,
    }
    assert derived_config(described, CREATE, "d", []) == {"EndpointConfigName": "d", "ProductionVariants": []}


NETWORK = {"SecurityGroupIds": ["sg-0123456789abcdef0"], "Subnets": ["subnet-0123456789abcdef0"]}


@pytest.mark.parametrize(
    ("serving", "carried"),
    [
        ({"VpcConfig": NETWORK}, {"VpcConfig": NETWORK}),
        ({"EnableNetworkIsolation": True}, {"EnableNetworkIsolation": True}),
        ({"EnableNetworkIsolation": False}, {}),  # a setting not made is not sent
    ],
)
def test_the_canary_model_runs_in_the_serving_models_network(serving: dict[str, Any], carried: dict[str, Any]) -> None:
    """The CreateModel request itself, through botocore's Stubber: moto's CreateModel drops
    EnableNetworkIsolation (its DescribeModel always answers False)."""
    role, package = "arn:aws:iam::123456789012:role/sagemaker", ARN
    variant = {
        "VariantName": "primary",
        "ModelName": "churn-v1",
        "InitialInstanceCount": 2,
        "InstanceType": "ml.m5.large",
    }
    created = datetime(2026, 1, 1, tzinfo=UTC)
    sagemaker = boto3.client("sagemaker", region_name="us-east-1")
    with Stubber(sagemaker) as stub:
        stub.add_response(
            "describe_endpoint_config",
            {
                "EndpointConfigName": "config-1",
                "EndpointConfigArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/config-1",
                "ProductionVariants": [variant],
                "CreationTime": created,
            },
            {"EndpointConfigName": "config-1"},
        )
        stub.add_response(
            "describe_model",
            {
                "ModelName": "churn-v1",
                "ModelArn": "arn:aws:sagemaker:us-east-1:123456789012:model/churn-v1",
                "ExecutionRoleArn": role,
                "PrimaryContainer": {"Image": "churn:1"},
                "CreationTime": created,
                **serving,
            },
            {"ModelName": "churn-v1"},
        )
        stub.add_response(
            "create_model",
            {"ModelArn": "arn:aws:sagemaker:us-east-1:123456789012:model/churn-v3"},
            {
                "ModelName": "churn-v3",
                "ExecutionRoleArn": role,
                "PrimaryContainer": {"ModelPackageName": package},
                **carried,
            },
        )
        stub.add_response(
            "create_endpoint_config",
            {"EndpointConfigArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/config-2"},
        )
        create_canary(
            sagemaker, DeployCanary(package, "churn-v3", "config-1", "config-2", "primary", "canary", 1, 5, 0.0)
        )
        stub.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("described", "config", "why"),
    [
        ({"AsyncInferenceConfig": {"OutputConfig": {"S3OutputPath": "s3://b/o"}}}, None, "asynchronous"),
        (
            {
                "ProductionVariants": [
                    {"VariantName": "AllTraffic", "CurrentInstanceCount": 0, "CurrentServerlessConfig": {}}
                ]
            },
            None,
            "serverless variant AllTraffic",
        ),
        (
            {},
            {"ProductionVariants": [{"VariantName": "v", "ServerlessConfig": {"MemorySizeInMB": 2048}}]},
            "serverless",
        ),
        (
            {},
            {"ProductionVariants": [{"VariantName": "AllTraffic", "InstanceType": "ml.g5.2xlarge"}]},
            "inference components",
        ),
        (
            {},
            {"ProductionVariants": [{"VariantName": "primary", "ModelName": "m", "InstanceType": "ml.m5.large"}]},
            None,
        ),
    ],
)
def test_the_endpoints_a_canary_cannot_walk_on_say_why(described: Any, config: Any, why: str | None) -> None:
    problem = unsupported({"ProductionVariants": [], **described}, config)
    if why is None:
        assert problem is None
    else:
        assert problem is not None
        assert why in problem


@pytest.mark.parametrize(
    ("key", "allowed"),
    [
        ("arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab", True),
        ("1234abcd-12ab", True),
        ("arn:aws:kms:us-east-1:123456789012:key/other", False),
        ("alias/endpoints", False),  # an alias: the stack lists keys, and IAM evaluates the key's ARN
    ],
)
def test_a_config_key_is_usable_only_when_listed(key: str, allowed: bool) -> None:
    assert key_allowed(key, ["arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab"]) is allowed
    assert key_allowed(key, []) is False


def test_only_an_event_that_names_the_status_change_proves_a_new_approval() -> None:
    def event(detail: dict[str, Any]) -> dict[str, Any]:
        return {"detail-type": "SageMaker Model Package State Change", "detail": detail}

    assert names_the_transition(event({"UpdatedModelPackageFields": ["ModelApprovalStatus"]}))
    assert not names_the_transition(event({"UpdatedModelPackageFields": ["ApprovalDescription"]}))
    assert not names_the_transition(event({"ModelApprovalStatus": "Approved"}))  # AWS's documented example
    assert names_the_transition({"deploy-package": {"arn": "x"}})  # an operator's request decides by itself


WHY_NOT = {
    "instance-variants": None,
    "serverless": "serverless variant",
    "async": "asynchronous endpoint",
    "shadow": "a shadow test runs on it",
    "inference-components": "hosts inference components",
    "managed-instance-scaling": "hosts inference components",  # AWS takes it on component endpoints only
}


@pytest.mark.parametrize("kind", KINDS)
def test_each_real_endpoint_kind_is_walked_or_says_why_not(kind: str) -> None:
    problem = unsupported(load(kind, "describe-endpoint"), load(kind, "endpoint-config"))
    expected = WHY_NOT[kind]
    if expected is None:
        assert problem is None
    else:
        assert problem is not None
        assert expected in problem
    # What DescribeEndpoint shows alone (a tick's first look) already stops the kinds it can.
    if kind in ("serverless", "async", "shadow"):
        assert unsupported(load(kind, "describe-endpoint")) is not None


# --- what the next step is (plan.py) ----------------------------------------------------------

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/3"
CHAMPION = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/2"
ENV = {
    "LEDGER_TABLE": "model-medic-ledger",
    "INFO_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:info",
    "CRITICAL_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:critical",
    "MONITORED_ENDPOINTS": "churn-prod",
    "AUTOMATION_MODE": "enforce",
    "MODE_PARAMETER_NAME": "/model-medic/mode",
    "ACTIONS_PER_HOUR": "6",
    "PRIMARY_VARIANT": "primary",
    "CANARY_VARIANT": "canary",
    "CANARY_STEPS": "5,10,25,50,100",
    "CANARY_BAKE_MINUTES": "30",
    "CANARY_MIN_INVOCATIONS": "100",
    "CANARY_MAX_ERROR_RATE": "5",
    "CANARY_MAX_LATENCY_MS": "1000",
    "MAX_INSTANCE_COUNT": "10",
    "MODEL_KMS_KEYS": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab",
}
SETTINGS = CanarySettings.model_validate(ENV)
RULES = rules_of(SETTINGS)


def approval(at: datetime, status_changed: bool = True, arn: str = ARN) -> Incident:
    return rollout_incident("churn-prod", arn, at, "approved in churn", status_changed)


def rolled_back(at: datetime, when: datetime) -> Incident:
    """An earlier rollout of ARN on churn-prod, rolled back at `when` and closed."""
    return replace(approval(at), closed_at=when.isoformat(), facts={"package": ARN, "rolled_back_at": when.isoformat()})


def test_an_earlier_rollout_under_way_holds_a_new_approval() -> None:
    under_way, newer = approval(T0), approval(T0 + timedelta(hours=1), arn=CHAMPION)
    hold = redeploy_hold(newer, [under_way, newer], "rollout", CHAMPION)
    assert hold is not None
    assert hold.gate == "rollout"
    assert hold.skip == f"the rollout of {under_way.alarm_name} on churn-prod is under way"
    # The later one holds nothing of the earlier; another unit's incidents are not rollouts.
    assert redeploy_hold(under_way, [under_way, newer], "rollout", ARN) is None
    assert redeploy_hold(newer, [replace(under_way, action="rollback")], "rollout", CHAMPION) is None


def test_a_package_rolled_back_here_comes_back_only_on_a_later_approval_that_names_the_change() -> None:
    back = rolled_back(T0, T0 + timedelta(hours=1))
    assert redeploy_hold(approval(T0 + timedelta(hours=2)), [back], "rollout", ARN) is None
    replayed = redeploy_hold(approval(T0 + timedelta(minutes=30)), [back], "rollout", ARN)  # before the rollback
    edited = redeploy_hold(approval(T0 + timedelta(hours=2), status_changed=False), [back], "rollout", ARN)
    for hold in (replayed, edited):
        assert hold is not None
        assert hold.bound is not None
        assert "not redeployed unless it is rejected and approved again" in hold.bound
    # Another package's rollback holds nothing.
    assert redeploy_hold(approval(T0, arn=CHAMPION), [back], "rollout", CHAMPION) is None


def variant(name: str, model: str = "m", instance_type: str = "ml.m5.large", **more: Any) -> dict[str, Any]:
    return {"VariantName": name, "ModelName": model, "InstanceType": instance_type, **more}


def test_an_endpoint_holds_a_deployment_on_its_kind_its_variants_and_its_key() -> None:
    serverless = {"ProductionVariants": [variant("primary", ServerlessConfig={"MemorySizeInMB": 2048})]}
    hold = endpoint_hold("churn-prod", {}, serverless, SETTINGS)
    assert hold is not None
    assert hold.bound is not None
    assert hold.bound.startswith("no canary rollout on churn-prod: serverless variant primary")
    hold = endpoint_hold("churn-prod", {}, {"ProductionVariants": [variant("AllTraffic")]}, SETTINGS)
    assert hold is not None
    assert hold.bound == "endpoint churn-prod has no variant primary to challenge"
    other_key = {"ProductionVariants": [variant("primary")], "KmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/x"}
    hold = endpoint_hold("churn-prod", {}, other_key, SETTINGS)
    assert hold is not None
    assert (hold.gate, hold.critical, hold.bound) == ("kms-key", True, None)
    assert hold.skip is not None
    assert "ModelKmsKeyArns" in hold.skip
    listed = {**other_key, "KmsKeyId": "1234abcd-12ab"}
    assert endpoint_hold("churn-prod", {}, listed, SETTINGS) is None


def contest(better: bool, reason: str = "better: candidate accuracy 0.9") -> Contest:
    return Contest(ARN, ARN, CHAMPION, Challenge(better, reason, 0.9, 0.85, None), "accuracy")


def test_a_candidate_that_is_not_better_is_rejected_or_left_as_it_is_never_deployed() -> None:
    assert declined(contest(True), SETTINGS) is None
    rejected = declined(contest(False, "not better"), SETTINGS)
    assert rejected is not None
    assert rejected.changes == (DeclineCandidate(ARN, "not better"),)
    assert not rejected.critical  # nothing on the endpoint changed: told, not paged
    assert rejected.notes == {"candidate": 0.9, "champion": 0.85, "live": None, "metric": "accuracy"}
    kept = declined(
        contest(False, "not better"), CanarySettings.model_validate({**ENV, "REJECT_MODEL_PACKAGES": "false"})
    )
    assert kept is not None
    assert (kept.changes, kept.bound) == ((), "churn/3 not deployed: not better")


def test_the_canary_starts_at_the_first_step_on_the_instances_its_share_needs() -> None:
    incident = approval(T0)
    plan = deploy_plan(
        incident, contest(True), Variant("primary", 4, 1.0, min_capacity=2, max_capacity=8), "cfg-1", SETTINGS, RULES
    )
    [deploy] = plan.changes
    assert isinstance(deploy, DeployCanary)
    assert (deploy.package, deploy.champion, deploy.from_config) == (ARN, CHAMPION, "cfg-1")
    assert (deploy.primary, deploy.canary, deploy.share, deploy.instances) == ("primary", "canary", 5, 1)
    assert (deploy.reference, deploy.primary_min) == (4.0, 2)
    assert deploy.to_config.startswith("churn-prod-canary-")
    assert deploy.model.startswith("churn-3-model-")
    assert plan.summary.endswith(" - better: candidate accuracy 0.9")
    # The same incident names the same resources: a retry creates nothing twice.
    again = deploy_plan(incident, contest(True), Variant("primary", 4, 1.0), "cfg-1", SETTINGS, RULES)
    assert again.changes[0].to_config == deploy.to_config  # type: ignore[attr-defined]
    big = deploy_plan(incident, contest(True), Variant("primary", 300, 1.0), "cfg-1", SETTINGS, RULES)
    assert big.bound == "the canary needs 15 instances for 5%, above 10"


@pytest.mark.parametrize(
    ("base", "marker"), [("churn-prod", "canary"), ("a" * 80, "final"), ("e" * 47, "canary"), ("", "model")]
)
def test_resource_names_are_what_sagemaker_takes_and_keep_their_marker(base: str, marker: str) -> None:
    name = resource_name(base, marker, "x")
    assert SAGEMAKER_NAME.fullmatch(name)
    # The clean-up's IAM deletes only names with the marker whole (template.yaml, *-canary-* ...).
    assert f"-{marker}-" in f"-{name}"
    assert name == resource_name(base, marker, "x")
    assert name != resource_name(base, marker, "x-other")


def test_a_short_base_names_its_resource_as_before() -> None:
    # Rollouts in flight across an upgrade find the resources they created under the same name.
    digest = hashlib.sha256(b"churn-prod|canary|incident-1").hexdigest()[:8]
    assert resource_name("churn-prod", "canary", "incident-1") == f"churn-prod-canary-{digest}"


def endpoint(canary: float | None, primary: float | None = 0.9, **more: Any) -> dict[str, Any]:
    weights = {"canary": canary, "primary": primary}
    return {
        "EndpointConfigName": "cfg-2",
        "ProductionVariants": [{"VariantName": n, "CurrentWeight": w} for n, w in weights.items() if w is not None],
        **more,
    }


CONFIG = {"ProductionVariants": [variant("primary", "old"), variant("canary", "new", "ml.m5.xlarge")]}


def test_a_walk_reads_the_canary_share_and_stops_on_what_changed_outside_model_medic() -> None:
    assert walk_hold("churn-prod", endpoint(0.1), CONFIG, {"share": 10}, SETTINGS) == (10.0, None)
    assert walk_hold("churn-prod", endpoint(1, 2), CONFIG, {}, SETTINGS) == (33.33, None)
    stops = {
        "moved": walk_hold("churn-prod", endpoint(0.25, 0.75), CONFIG, {"share": 10}, SETTINGS),
        "off": walk_hold("churn-prod", endpoint(0.0), CONFIG, {"share": 25}, SETTINGS),
        "gone": walk_hold("churn-prod", endpoint(None), CONFIG, {"share": 50}, SETTINGS),
        "replaced": walk_hold("churn-prod", endpoint(0.05, 0.95), CONFIG, {"share": 100, "share_since": "t"}, SETTINGS),
    }
    said = {why: (hold.ends, hold.gate, hold.bound, hold.summary) for why, (_, hold) in stops.items() if hold}
    # Someone else changed the endpoint: the rollout ends as it stands, not escalated (no bound).
    assert said["moved"] == (
        "stopped",
        CHANGED_OUTSIDE,
        None,
        "canary takes 25% of churn-prod's traffic where this rollout left it at 10%: changed outside "
        "Model Medic; the rollout stops at 10%",
    )
    assert (
        said["off"][3] == "canary takes no traffic on churn-prod: changed outside Model Medic; the rollout stops at 25%"
    )
    assert said["gone"][3] == (
        "canary or primary is gone from churn-prod (it now serves cfg-2): changed outside Model Medic; the rollout "
        "stops at 50%"
    )
    # Walked to 100 % (the new model served all of the traffic), then replaced: complete.
    assert said["replaced"][:3] == ("complete", CHANGED_OUTSIDE, None)
    assert said["replaced"][3].startswith("the canary took all of the traffic from t, then canary takes 5%")
    assert said["replaced"][3].endswith("the rollout is complete (its final config was not Model Medic's)")
    # An endpoint a canary cannot walk on is a bound (a person must look).
    _, hold = walk_hold("churn-prod", endpoint(0.1, AsyncInferenceConfig={"x": 1}), CONFIG, {}, SETTINGS)
    assert hold is not None
    assert hold.ends is None
    assert (hold.bound or "").startswith("canary on churn-prod not walked: an asynchronous endpoint")


def test_the_step_a_share_stands_on() -> None:
    steps = RULES.steps
    assert [step_of(share, steps) for share in (99.6, 50.0, 12.0, 9.8, 3.2)] == [100, 50, 10, 10, 3]


def look(decision: Decision, share: float = 10.0, step: int = 10, next_step: int | None = None) -> Look:
    facts = {"package": ARN, "canary_config": "cfg-2", "share": share, "champion": CHAMPION, "primary_min": 0}
    incident = replace(approval(T0), facts=facts)
    verdict = Verdict(decision, ("the reasons",), (), next_step, {"step": step})
    return Look(incident, share, step, T0, T0 + timedelta(minutes=40), Tally(), verdict)


REMEMBERED = {"at": (T0 + timedelta(minutes=40)).isoformat(), "step": 10}


def test_a_rollback_sets_the_canary_to_nothing_and_rejects_its_package() -> None:
    plan = verdict_plan(look("rollback"), SETTINGS)
    assert plan is not None
    verdict = {**REMEMBERED, "decision": "rollback"}
    assert plan.changes == (
        RollBackCanary("primary", "canary", 10.0, 0, Tally().as_dict(), verdict),
        RejectPackage(ARN),
    )
    assert plan.critical
    assert plan.summary == "roll back canary (10% -> 0%): the reasons"
    kept = verdict_plan(look("rollback"), CanarySettings.model_validate({**ENV, "REJECT_MODEL_PACKAGES": "false"}))
    assert kept is not None
    assert [type(c) for c in kept.changes] == [RollBackCanary]


def test_an_undecided_step_is_held_and_an_inconclusive_one_is_told_or_rolled_back() -> None:
    held = verdict_plan(look("continue"), SETTINGS)
    assert held is not None
    assert (held.skip, held.gate, held.critical) == ("continue: the reasons", "continue", False)
    assert held.facts == {"verdict": {**REMEMBERED, "decision": "continue"}}
    told = verdict_plan(look("inconclusive"), SETTINGS)
    assert told is not None
    assert (told.skip, told.gate, told.critical) == ("the reasons; held", "inconclusive", True)
    rolled = verdict_plan(
        look("inconclusive"), CanarySettings.model_validate({**ENV, "CANARY_INCONCLUSIVE_ACTION": "rollback"})
    )
    assert rolled is not None
    assert isinstance(rolled.changes[0], RollBackCanary)
    assert verdict_plan(look("promote", next_step=25), SETTINGS) is None
    assert verdict_plan(look("finish", 100.0, 100), SETTINGS) is None


def test_a_promotion_puts_capacity_ahead_of_the_traffic() -> None:
    sizes = Sizes(Variant("canary", 1, 0.1), Variant("primary", 10, 0.9), reference=10.0)
    plan = promote_plan(look("promote", next_step=25), sizes, SETTINGS)
    assert plan.changes == (
        ScaleChange("canary", "instance-count", 1, 3),  # 25% of 10 instances' traffic
        ScaleChange("primary", "instance-count", 10, 9),  # what the 90% it served through the bake needs
        ShiftTraffic("primary", "canary", 10.0, 25, Tally().as_dict(), {**REMEMBERED, "decision": "promote"}),
    )
    assert plan.summary.startswith("promote canary 10% -> 25%: ")
    assert plan.notes["reference_instances"] == 10.0
    capped = Sizes(Variant("canary", 1, 0.1, min_capacity=1, max_capacity=2), sizes.primary, 10.0)
    bounded = promote_plan(look("promote", next_step=25), capped, SETTINGS)
    assert bounded.bound == "the canary needs 3 instances for 25% of churn-prod's traffic, above its maximum of 2"


def test_a_finish_leaves_the_new_model_alone_with_the_capacity_all_of_the_traffic_needs() -> None:
    done = look("finish", 100.0, 100)
    described = endpoint(1.0, 0.0)
    plan = finish_plan(
        done, described, CONFIG, Sizes(Variant("canary", 3, 1.0), Variant("primary", 1, 0.0), 4.0), SETTINGS
    )
    [finish] = plan.changes
    assert isinstance(finish, FinishRollout)
    assert (finish.model, finish.from_config, finish.primary, finish.instances) == ("new", "cfg-2", "primary", 4)
    assert finish.superseded == CHAMPION
    assert finish.to_config.startswith("churn-prod-final-")
    # An auto-scaled primary keeps its target: the floor it had, within its maximum.
    same_type = {"ProductionVariants": [variant("primary", "old"), variant("canary", "new")]}
    scaled = Variant("primary", 1, 0.0, min_capacity=1, max_capacity=3)
    floor = replace(done, incident=replace(done.incident, facts={**done.facts, "primary_min": 3}))
    plan = finish_plan(floor, described, same_type, Sizes(Variant("canary", 2, 1.0), scaled, 4.0), SETTINGS)
    assert [c.describe() for c in plan.changes][1:] == ["primary min-capacity 1 -> 3"]
    assert plan.changes[0].instances == 3  # type: ignore[attr-defined]
    other_type = finish_plan(done, described, CONFIG, Sizes(Variant("canary", 2, 1.0), scaled, 4.0), SETTINGS)
    assert other_type.bound is not None
    assert "(ml.m5.large -> ml.m5.xlarge): deregister its scaling first" in other_type.bound
    autoscaled = Sizes(Variant("canary", 2, 1.0, min_capacity=1, max_capacity=4), scaled, 4.0)
    assert autoscaled_canary(done, autoscaled) is not None
    assert autoscaled_canary(done, Sizes(Variant("canary", 2, 1.0), scaled, 4.0)) is None


# --- what rollouts are opened and adopted (run.py) --------------------------------------------


def test_an_operators_canary_is_adopted_where_both_variants_take_traffic() -> None:
    described = {
        **endpoint(0.25, 0.75),
        "EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/churn-prod",
    }
    described["ProductionVariants"][1]["CurrentInstanceCount"] = 3
    adopted = adopted_incident("churn-prod", described, "primary", "canary", T0)
    assert adopted is not None
    assert adopted.facts == {
        "canary_config": "cfg-2",
        "from_config": "cfg-2",
        "share": 25.0,
        "share_since": T0.isoformat(),
        "reference": 4.0,  # 3 instances serve 75%: all of the traffic needs 4
    }
    assert adopted_incident("churn-prod", {**described, **endpoint(0.0, 1.0)}, "primary", "canary", T0) is None
    assert approval(T0).facts == {"package": ARN, "status_changed": True}
    assert approval(T0) == approval(T0)  # the same approval twice is the same incident


# --- the evidence: both variants minute by minute (evidence.py) -------------------------------


def test_the_evidence_is_the_whole_minutes_since_the_step_began_within_fifteen_days() -> None:
    now = datetime(2026, 3, 2, 9, 10, 45, tzinfo=UTC)
    assert minute_window(datetime(2026, 3, 2, 9, 0, 30, tzinfo=UTC), now) == (
        datetime(2026, 3, 2, 9, 1, tzinfo=UTC),
        datetime(2026, 3, 2, 9, 10, tzinfo=UTC),
    )
    assert minute_window(datetime(2026, 3, 2, 9, 10, 1, tzinfo=UTC), now) is None
    start, _ = minute_window(now - timedelta(days=20), now) or (None, None)
    assert start == datetime(2026, 2, 15, 9, 16, tzinfo=UTC)  # 15 days less 5 minutes, to the next minute


def test_each_variant_is_read_per_minute_with_its_p99() -> None:
    queries, keys = minute_queries("churn-prod", ("canary", "primary"))
    p99 = {q["Id"]: q["MetricStat"] for q in queries if q["Id"].startswith("p99")}
    assert {
        i: (s["Stat"], s["Metric"]["MetricName"], s["Metric"]["Dimensions"][1]["Value"]) for i, s in p99.items()
    } == {
        "p99v0": ("p99", "ModelLatency", "canary"),
        "p99v1": ("p99", "ModelLatency", "primary"),
    }
    assert {q["MetricStat"]["Period"] for q in queries} == {60}
    assert {pair for pair, _, _ in keys.values()} == {("churn-prod", "canary"), ("churn-prod", "primary")}


def test_every_page_of_get_metric_data_is_read() -> None:
    """The second request carries the first answer's NextToken, and the last answer has none."""
    queries, _ = minute_queries("churn-prod", ("canary", "primary"))
    start, end = datetime(2026, 3, 2, 9, 0, tzinfo=UTC), datetime(2026, 3, 2, 9, 2, tzinfo=UTC)
    first, second = start, start + timedelta(minutes=1)
    request: dict[str, Any] = {"MetricDataQueries": queries, "StartTime": start, "EndTime": end}
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
    with Stubber(cloudwatch) as stub:
        stub.add_response(
            "get_metric_data",
            {"MetricDataResults": [{"Id": "p99v0", "Timestamps": [first], "Values": [150_000.0]}], "NextToken": "t1"},
            request,
        )
        stub.add_response(
            "get_metric_data",
            {"MetricDataResults": [{"Id": "p99v0", "Timestamps": [second], "Values": [160_000.0]}]},
            {**request, "NextToken": "t1"},
        )
        series = read_series(cloudwatch, queries, start, end)
        stub.assert_no_pending_responses()
    assert series == {"p99v0": {first: 150_000.0, second: 160_000.0}}


def test_cloudwatch_series_become_minutes_of_both_variants() -> None:
    _, keys = minute_queries("churn-prod", ("canary", "primary"))
    first, second = datetime(2026, 3, 2, 9, 1, tzinfo=UTC), datetime(2026, 3, 2, 9, 2, tzinfo=UTC)
    figures = {  # per variant: requests, 4XX, 5XX, model latency (µs), overhead (µs)
        "canary": (60.0, 1.0, 2.0, 150_000.0, 10_000.0),
        "primary": (600.0, 0.0, 3.0, 100_000.0, 10_000.0),
    }
    series: dict[str, dict[datetime, float]] = {}
    for query, ((_, name), metric, statistic) in keys.items():
        requests, e4, e5, model, overhead = figures[name]
        value = {
            ("Invocations", "Sum"): requests,
            ("Invocation4XXErrors", "Sum"): e4,
            ("Invocation5XXErrors", "Sum"): e5,
            ("ModelLatency", "Sum"): model * requests,
            ("ModelLatency", "SampleCount"): requests,
            ("OverheadLatency", "Sum"): overhead * requests,
            ("OverheadLatency", "SampleCount"): requests,
        }[(metric, statistic)]
        series[query] = {first: value, second: value}
    series["p99v0"] = {first: 400_000.0}
    series["p99v1"] = {first: 250_000.0}
    assert as_minutes(series, keys, "churn-prod", ("canary", "primary")) == [
        Minute(60.0, 3.0, 600.0, 3.0, 160.0, 110.0, 400.0, 250.0),
        Minute(60.0, 3.0, 600.0, 3.0, 160.0, 110.0, None, None),  # no percentile served this minute
    ]


# --- how the changes are made (deploy.py) -----------------------------------------------------


def test_the_canary_config_keeps_the_serving_variants_and_adds_the_package_on_the_primarys_spec() -> None:
    variants = {"primary": variant("primary", "old", InitialInstanceCount=4), "shadowless": variant("other")}
    change = DeployCanary(ARN, "churn-3-model-x", "cfg-1", "cfg-2", "primary", "canary", 1, 5, 4.0)
    assert canary_variants({**variants, "canary": variant("canary", "stale")}, change) == [
        {**variants["primary"], "InitialVariantWeight": 0.95},
        variants["shadowless"],
        {
            **variants["primary"],
            "VariantName": "canary",
            "ModelName": "churn-3-model-x",
            "InitialInstanceCount": 1,
            "InitialVariantWeight": 0.05,
        },
    ]


@pytest.mark.parametrize(
    ("status", "current", "desired", "seen"),
    [
        ("InService", (0.25, 0.75), (0.25, 0.75), "took"),
        ("Updating", (0.1, 0.9), (0.25, 0.75), "in-flight"),
        ("InService", (0.1, 0.9), (0.25, 0.75), "in-flight"),
        ("InService", (0.1, 0.9), (0.1, 0.9), "not-applied"),
    ],
)
def test_a_weight_change_is_read_back_as_the_canarys_share(
    status: str, current: tuple[float, float], desired: tuple[float, float], seen: str
) -> None:
    described = {
        "EndpointStatus": status,
        "ProductionVariants": [
            {"VariantName": name, "CurrentWeight": current[i], "DesiredWeight": desired[i]}
            for i, name in enumerate(("canary", "primary"))
        ],
    }
    assert traffic_observation(ShiftTraffic("primary", "canary", 10.0, 25), described).seen == seen
    rollback = traffic_observation(
        RollBackCanary("primary", "canary", 10.0, 0), {**described, "ProductionVariants": []}
    )
    assert (rollback.seen, rollback.stops) == ("took", True)  # a shift removes no variant: a person's config


@pytest.mark.parametrize(
    ("status", "weights", "extra", "person"),
    [
        # A third share, still Updating or done: the person's weights, not the 25 % asked.
        ("Updating", (0.3, 0.7), {}, "canary set to 30% of the traffic, not the 25% asked"),
        ("InService", (0.3, 0.7), {}, "canary set to 30% of the traffic, not the 25% asked"),
        # A config deployed (a shift deploys none), in flight or done without the canary.
        (
            "Updating",
            (0.1, 0.9),
            {"PendingDeploymentSummary": {"EndpointConfigName": "theirs"}},
            "config theirs deployed while canary went 10% -> 25%",
        ),
        # Within half a percent of what was asked: the change taken, nobody else's.
        ("InService", (0.2501, 0.7499), {}, ""),
    ],
)
def test_a_persons_weights_or_config_during_a_shift_are_theirs_and_stop_the_rollout(
    status: str, weights: tuple[float, float], extra: dict[str, Any], person: str
) -> None:
    described = {
        "EndpointStatus": status,
        "EndpointConfigName": "canary-config",
        "ProductionVariants": [
            {"VariantName": name, "CurrentWeight": 0.1 if name == "canary" else 0.9, "DesiredWeight": weights[i]}
            for i, name in enumerate(("canary", "primary"))
        ],
        **extra,
    }
    if status == "InService":
        for variant in described["ProductionVariants"]:
            variant["CurrentWeight"] = variant["DesiredWeight"]
    seen = traffic_observation(ShiftTraffic("primary", "canary", 10.0, 25), described)
    assert (seen.person, seen.stops) == ((f"a person changed the endpoint: {person}", True) if person else ("", False))
    assert seen.seen == "took"


@pytest.mark.parametrize(
    ("serving", "pending", "status", "seen", "stops"),
    [
        ("theirs", None, "InService", "took", True),  # a person's config instead of the one asked
        ("from", "theirs", "Updating", "took", True),  # theirs deploying
        ("to", None, "InService", "took", False),
        ("from", "to", "Updating", "in-flight", False),
        ("from", None, "InService", "not-applied", False),  # not called yet
    ],
)
def test_a_persons_config_during_a_rollouts_deployment_is_theirs_and_stops_the_rollout(
    serving: str, pending: str | None, status: str, seen: str, stops: bool
) -> None:
    finish = FinishRollout("model", "from", "to", "primary", 2)
    described: dict[str, Any] = {"EndpointStatus": status, "EndpointConfigName": serving}
    if pending:
        described["PendingDeploymentSummary"] = {"EndpointConfigName": pending}
    observed = config_read_back(finish, described, called=False)
    assert (observed.seen, observed.stops) == (seen, stops)
    if stops:
        assert observed.person == "a person changed the endpoint: config theirs deployed, not the to asked"
