"""Per-endpoint policy from tags (policy.py): every key overrides its setting with the stack's
own validation, a bad value or an unknown key is a problem and leaves the stack's value, tags
that are not ours are ignored, and what a tag cannot hold is refused."""

import hashlib
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from model_medic.platform.settings import (
    AlarmManagerSettings,
    CanarySettings,
    DriftSettings,
    EnvModel,
    QualitySettings,
    RetrainingSettings,
    RollbackSettings,
    ScaleUpSettings,
)
from model_medic.policy import tags as policy
from model_medic.policy.policies import fleet, is_named, spelled
from model_medic.policy.tags import KEYS, PREFIX, Problem, apply, read, within_stack

ENV = {
    "LEDGER_TABLE": "model-medic-ledger",
    "INFO_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:info",
    "CRITICAL_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:critical",
    "WARNING_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:warning",
    "MONITORED_ENDPOINTS": "churn-prod",
    "AUTOMATION_MODE": "enforce",
    "MODE_PARAMETER_NAME": "/model-medic/mode",
    "ACTIONS_PER_HOUR": "6",
    "MAX_INSTANCE_COUNT": "4",
    "SCALE_STEP": "1",
    "SCALE_UP_COOLDOWN_MINUTES": "10",
    "SCALE_BACK_AFTER_MINUTES": "15",
    "PIPELINE_NAME": "model-medic-retraining",
    "PIPELINE_PARAMETERS": '{"EndpointName": "{endpoint}", "Mode": "full"}',
    "RETRAIN_COOLDOWN_HOURS": "24",
    "CANARY_VARIANT": "canary",
    "PRIMARY_VARIANT": "primary",
    "REJECT_MODEL_PACKAGES": "false",
    "ROLLBACK_COOLDOWN_MINUTES": "60",
    "CANARY_STEPS": "10,50,100",
    "CANARY_BAKE_MINUTES": "10",
    "CANARY_MIN_INVOCATIONS": "100",
    "CANARY_MAX_ERROR_RATE": "2",
    "CANARY_MAX_LATENCY_MS": "800",
    "STACK_NAME": "model-medic",
    "ERROR_RATE_THRESHOLD": "5",
    "LATENCY_THRESHOLD_MS": "1000",
    "DRIFT_THRESHOLD": "0.2",
    "ACCURACY_THRESHOLD": "0.8",
    "QUALITY_METRICS_SOURCE": "model-medic",
    "MODEL_MONITOR_DRIFT_FEATURE": "age",
    "MODEL_MONITOR_DRIFT_THRESHOLD": "0.1",
    "CAPTURE_S3_URI": "s3://capture-bucket/capture",
    "GROUND_TRUTH_S3_URI": "s3://labels-bucket/labels",
    "PROBLEM_TYPE": "BinaryClassification",
    "QUALITY_WINDOW_HOURS": "24",
    "LABEL_LOOKBACK_HOURS": "48",
    "QUALITY_MIN_SAMPLES": "50",
    "QUALITY_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/model-medic-quality",
    "BASELINE_S3_URI": "s3://capture-bucket/baselines",
    "DRIFT_MIN_ROWS": "500",
    "DRIFT_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/model-medic-drift",
}
STACKS: dict[type[EnvModel], EnvModel] = {model: model.model_validate(ENV) for model in policy.MODELS}


def stack_of[M: EnvModel](model: type[M]) -> M:
    """The stack's settings of one function, typed as that function's model."""
    stack = STACKS[model]
    assert isinstance(stack, model)
    return stack


# key -> (a good tag value, the setting it gives, a bad tag value)
CASES: dict[str, tuple[str, Any, str]] = {
    "automation-mode": ("dry-run", "dry-run", "yolo"),
    "max-instance-count": ("3", 3, "0"),
    "scale-step": ("2", 2, "two"),
    "max-concurrency": ("10", 10, "201"),
    "max-provisioned-concurrency": ("5", 5, "0"),
    "error-rate-threshold": ("2.5", 2.5, "101"),
    "latency-threshold-ms": ("300", 300.0, "0"),
    "drift-threshold": ("0.3", 0.3, "-1"),
    "accuracy-threshold": ("0.9", 0.9, "1.5"),
    "primary-variant-name": ("champion", "champion", ""),
    "canary-variant-name": ("challenger", "challenger", "bad_name"),  # the alarms' pattern: no _
    "canary-steps": ("5/25/100", [5, 25, 100], "50/25/100"),
    "canary-bake-minutes": ("30", 30, "2000"),
    "canary-max-error-rate": ("1", 1.0, "nan"),
    "canary-max-latency-ms": ("500", 500.0, "-5"),
    "retraining-pipeline-name": ("model-medic-retraining-fraud", "model-medic-retraining-fraud", "-x"),
    "problem-type": ("Regression", "Regression", "Clustering"),
    "baseline-s3-uri": ("s3://team-a-ml/baselines", "s3://team-a-ml/baselines", "https://team-a-ml/baselines"),
    "features-attribute": ("instance.values", "instance.values", "instance values"),
    "ground-truth-s3-uri": ("s3://team-a-ml/labels", "s3://team-a-ml/labels", "s3://Team_A/labels"),
    "inference-attribute": ("prediction.label", "prediction.label", "predicted label"),
    "probability-attribute": ("0", "0", "the score"),
    "positive-label": ("fraud", "fraud", ""),
    "endpoint-dashboards": ("false", False, "none"),
    "per-feature-drift-metrics": ("no", False, "0.5"),
}


def test_every_key_has_a_case_and_every_key_is_the_kebab_of_its_parameter() -> None:
    assert set(CASES) == {k.key for k in KEYS}
    for key in KEYS:
        kebab = "".join(f"-{c.lower()}" if c.isupper() else c for c in key.parameter).lstrip("-")
        # "...Ms" / "...Name" parameters keep their unit or noun: RetrainingPipelineName -> retraining-pipeline-name
        assert key.key == kebab, (key.key, kebab)
        assert read({PREFIX + key.key: key.example}).problems == (), key.example


@pytest.mark.parametrize("key", sorted(CASES))
def test_each_key_overrides_its_setting_in_every_model_that_reads_it(key: str) -> None:
    good, expected, _ = CASES[key]
    [spec] = [k for k in KEYS if k.key == key]
    found = read({PREFIX + key: good, "team": "ml"})
    assert found.problems == ()
    readers = [model for model in policy.MODELS if model.field_of(spec.variable) is not None]
    assert readers, f"no settings model reads {spec.variable}"
    for model in readers:
        stack = STACKS[model]
        name = model.field_of(spec.variable)
        assert name is not None
        assert getattr(apply(stack, found), name) == expected
        assert getattr(stack, name) != expected  # a real override, not the default
        # Every other field keeps the stack's value.
        for other in model.model_fields:
            if other != name:
                assert getattr(apply(stack, found), other) == getattr(stack, other)


@pytest.mark.parametrize("key", sorted(CASES))
def test_a_bad_value_is_a_problem_and_the_stack_value_stays(key: str) -> None:
    _, _, bad = CASES[key]
    companion = "scale-step" if key != "scale-step" else "max-instance-count"
    found = read({PREFIX + key: bad, PREFIX + companion: "3"})
    [problem] = found.problems
    assert (problem.endpoint_tag, problem.value) == (PREFIX + key, bad)
    assert problem.reason
    [spec] = [k for k in KEYS if k.key == key]
    assert found.value(spec.variable) is None
    scale_up = apply(STACKS[ScaleUpSettings], found)
    assert getattr(scale_up, companion.replace("-", "_")) == 3  # the good tag next to it still applies
    for model, stack in STACKS.items():
        name = model.field_of(spec.variable)
        if name is not None:
            assert getattr(apply(stack, found), name) == getattr(stack, name)


def test_the_value_must_suit_every_model_that_reads_the_variable() -> None:
    # RollbackSettings accepts any 1-63 characters; the alarms' pattern does not accept "_".
    assert RollbackSettings.validate_value("CANARY_VARIANT", "bad_name") == "bad_name"
    [problem] = read({PREFIX + "canary-variant-name": "bad_name"}).problems
    assert "must match" in problem.reason


def test_unknown_keys_are_problems_and_other_tags_are_ignored() -> None:
    found = read({PREFIX + "max-instances": "3", "team": "ml", "model-medic": "on", "Model-Medic:scale-step": "9"})
    [problem] = found.problems
    assert problem.endpoint_tag == PREFIX + "max-instances"
    assert "unknown key" in problem.reason
    assert PREFIX + "max-instance-count" in problem.reason
    assert found.values == ()


def test_the_discovery_tags_key_is_not_a_policy() -> None:
    assert read({"model-medic:fleet": "true"}, ignore=("model-medic:fleet",)).problems == ()
    assert read({"model-medic:fleet": "true"}).problems != ()


@pytest.mark.parametrize(
    ("key", "value", "why"),
    [
        ("max-instance-count", "3" * 257, "at most 256 characters"),
        ("canary-steps", "5,25,100", "','"),
        ("automation-mode", "{dry-run}", "'{'"),
        ("automation-mode", "dry-run\n", "'\\n'"),
        ("x" * 130, "1", "1 to 128 characters"),
    ],
)
def test_what_a_sagemaker_tag_cannot_hold_is_refused(key: str, value: str, why: str) -> None:
    [problem] = read({PREFIX + key: value}).problems
    assert why in problem.reason, problem.reason


def test_the_tag_character_set_is_sagemakers() -> None:
    # [\p{L}\p{Z}\p{N}_.:/=+\-@]: Unicode letters, separators and numbers, and seven symbols.
    assert policy.tag_problem("model-medic:x", "Größe 3/4 = ½ + café @ 12:00_a.b-c") is None
    for bad in "{}[],\"'\t;!#$%&*()<>?\\|~^`":
        assert policy.tag_problem("model-medic:x", bad) is not None, repr(bad)
    assert policy.tag_problem("model-medic:x", "a" * 256) is None


def test_pipeline_parameters_one_tag_each_replace_the_stacks_entries() -> None:
    found = read(
        {
            PREFIX + "retraining-pipeline-parameter:Mode": "incremental",
            PREFIX + "retraining-pipeline-parameter:Team": "fraud",
            PREFIX + "retraining-pipeline-parameter:bad name": "x",
            PREFIX + "retraining-pipeline-parameter:": "x",
        }
    )
    assert sorted(p.endpoint_tag for p in found.problems) == [
        PREFIX + "retraining-pipeline-parameter:",
        PREFIX + "retraining-pipeline-parameter:bad name",
    ]
    retraining = apply(STACKS[RetrainingSettings], found)
    assert isinstance(retraining, RetrainingSettings)
    assert retraining.pipeline_parameters == {"EndpointName": "{endpoint}", "Mode": "incremental", "Team": "fraud"}
    assert apply(STACKS[ScaleUpSettings], found) is STACKS[ScaleUpSettings]  # nothing of ScaleUp's changes


def test_a_pipeline_the_stacks_role_may_not_start_is_a_problem() -> None:
    stack = STACKS[RetrainingSettings]
    own = within_stack(stack, read({PREFIX + "retraining-pipeline-name": "model-medic-retraining-fraud"}))
    assert own.problems == ()
    assert own.value("PIPELINE_NAME") == "model-medic-retraining-fraud"
    other = within_stack(stack, read({PREFIX + "retraining-pipeline-name": "someone-elses-pipeline"}))
    [problem] = other.problems
    assert "model-medic-retraining-" in problem.reason
    assert other.value("PIPELINE_NAME") is None
    assert apply(stack, other) is stack
    # Functions that start no pipeline leave it to StartRetraining.
    assert within_stack(STACKS[ScaleUpSettings], read({PREFIX + "retraining-pipeline-name": "x1"})).problems == ()


def test_no_tags_is_the_stack_and_the_same_policy_gives_the_same_settings() -> None:
    stack = stack_of(ScaleUpSettings)
    assert apply(stack, read({})) is stack
    assert apply(stack, read({"team": "ml"})) is stack
    first = apply(stack, read({PREFIX + "max-instance-count": "3"}))
    assert apply(stack, read({PREFIX + "max-instance-count": "3", "team": "ml"})) is first
    assert first is not stack
    assert stack.max_instance_count == 4


def test_a_problem_is_marked_by_key_and_a_stable_digest_of_its_value() -> None:
    problem = Problem(PREFIX + "scale-step", "two", "must be a whole number")
    digest = hashlib.sha256(b"two").hexdigest()[:16]
    assert problem.mark == f"bad-tag#{PREFIX}scale-step#{digest}"
    assert Problem(PREFIX + "scale-step", "three", "").mark != problem.mark
    assert "model-medic:scale-step='two'" in problem.sentence("churn-prod")
    assert "stack's setting applies" in problem.sentence("churn-prod")


def test_settings_models_are_all_covered() -> None:
    assert {
        AlarmManagerSettings,
        CanarySettings,
        DriftSettings,
        QualitySettings,
        RetrainingSettings,
        RollbackSettings,
    } <= set(policy.MODELS)


# key -> (a value that tightens the stack's bound in ENV, one that loosens it)
BOUNDS: dict[str, tuple[str, str]] = {
    "max-instance-count": ("3", "5"),
    "scale-step": ("1", "2"),
    "max-concurrency": ("10", "30"),  # the stack's default: 20
    "max-provisioned-concurrency": ("5", "11"),  # the stack's default: 10
    "canary-max-error-rate": ("1.5", "2.5"),
    "canary-max-latency-ms": ("500", "900"),
    "canary-bake-minutes": ("30", "5"),
}


def test_the_bounds_are_the_keys_marked_as_bounds() -> None:
    assert {k.key for k in KEYS if k.bound is not None} == set(BOUNDS)


@pytest.mark.parametrize("key", sorted(BOUNDS))
def test_a_tag_may_tighten_a_bound_but_never_loosen_it(key: str) -> None:
    tighter, looser = BOUNDS[key]
    [spec] = [k for k in KEYS if k.key == key]
    readers = [model for model in policy.MODELS if model.field_of(spec.variable) is not None]
    assert readers
    for model in readers:
        stack = STACKS[model]
        name = model.field_of(spec.variable)
        assert name is not None
        kept = within_stack(stack, read({PREFIX + key: tighter}))
        assert kept.problems == ()
        assert getattr(apply(stack, kept), name) == model.validate_value(spec.variable, tighter)
        refused = within_stack(stack, read({PREFIX + key: looser}))
        [problem] = refused.problems
        assert (problem.endpoint_tag, problem.value) == (PREFIX + key, looser)
        assert spec.parameter in problem.reason
        assert "TagsMayLoosenBounds is false" in problem.reason
        assert apply(stack, refused) is stack  # the stack's value applies


def test_the_refusal_says_which_way_and_from_what() -> None:
    [problem] = within_stack(STACKS[ScaleUpSettings], read({PREFIX + "max-instance-count": "5"})).problems
    assert problem.reason == (
        "it would raise the stack's MaxInstanceCount (4) to 5; a tag may only lower this bound "
        "(the stack's TagsMayLoosenBounds is false)"
    )
    [bake] = within_stack(STACKS[CanarySettings], read({PREFIX + "canary-bake-minutes": "5"})).problems
    assert "lower the stack's CanaryBakeMinutes (10) to 5; a tag may only raise this bound" in bake.reason
    assert "must be" not in problem.sentence("churn-prod")
    assert problem.sentence("churn-prod").endswith("the stack's setting applies")


def test_a_loosened_bound_is_refused_while_the_other_tags_still_apply() -> None:
    found = within_stack(
        STACKS[ScaleUpSettings], read({PREFIX + "max-instance-count": "9", PREFIX + "latency-threshold-ms": "300"})
    )
    assert [p.endpoint_tag for p in found.problems] == [PREFIX + "max-instance-count"]
    assert found.value("LATENCY_THRESHOLD_MS") == "300"
    assert found.value("MAX_INSTANCE_COUNT") is None


def test_the_stack_may_allow_tags_to_loosen_its_bounds() -> None:
    loose = ScaleUpSettings.model_validate({**ENV, "TAGS_MAY_LOOSEN_BOUNDS": "true"})
    found = within_stack(loose, read({PREFIX + "max-instance-count": "9", PREFIX + "scale-step": "3"}))
    assert found.problems == ()
    applied = apply(loose, found)
    assert (applied.max_instance_count, applied.scale_step) == (9, 3)
    assert stack_of(ScaleUpSettings).tags_may_loosen_bounds is False  # the default: tags only tighten


def test_a_bound_a_function_does_not_read_is_left_to_the_functions_that_do() -> None:
    # StartRetraining reads no MaxInstanceCount: nothing to refuse there, ScaleUp refuses it.
    assert within_stack(STACKS[RetrainingSettings], read({PREFIX + "max-instance-count": "9"})).problems == ()


# --- named endpoints as SageMaker spells them (policies.spelled) ----------------------------


def test_a_named_endpoint_is_the_listed_one_of_the_same_name_in_any_case() -> None:
    listed = ["Churn-Prod", "fraud-prod", "Search-PROD"]
    # EndpointNames is lower case (the roles' ARNs); SageMaker keeps the case the endpoint was created with.
    assert spelled(["churn-prod", "fraud-prod", "search-prod"], listed) == ["Churn-Prod", "fraud-prod", "Search-PROD"]
    assert spelled(["recs-prod"], listed) == ["recs-prod"]  # not live (yet): as named
    assert spelled(["churn-prod"], ["churn-prod-2", "Churn-Prodx"]) == ["churn-prod"]  # whole names only


def test_an_events_endpoint_is_named_whatever_the_case_of_its_name_in_endpoint_names() -> None:
    assert is_named("Churn-Prod", ["fraud-prod", "churn-prod"])
    assert is_named("churn-prod", ["churn-prod"])
    assert not is_named("Churn-Prod-2", ["churn-prod"])
    assert not is_named("Churn-Prod", [])


# --- the fleet by its discovery tag (policies.fleet) -------------------------------------------


@pytest.mark.parametrize(
    ("listed_arn", "tagged_arn"),
    [
        ("endpoint/churn-prod", "endpoint/churn-prod"),  # as AWS writes both
        ("endpoint/Churn-Prod", "endpoint/churn-prod"),  # the two APIs not alike: no document says they are
        ("endpoint/churn-prod", "endpoint/Churn-Prod"),
    ],
)
def test_an_endpoint_named_with_capitals_is_found_by_its_tag_whatever_the_case_of_its_arn(
    listed_arn: str, tagged_arn: str
) -> None:
    """ListEndpoints and GetResources are matched by the endpoint's ARN, in which SageMaker
    writes the name in lower case: the endpoint and its tags are found by that ARN in any case,
    and kept under the name SageMaker lists."""
    prefix = "arn:aws:sagemaker:us-east-1:123456789012:"
    sagemaker = boto3.client("sagemaker", region_name="us-east-1")
    tagging = boto3.client("resourcegroupstaggingapi", region_name="us-east-1")
    with Stubber(sagemaker) as sm, Stubber(tagging) as tg:
        sm.add_response(
            "list_endpoints",
            {
                "Endpoints": [
                    {
                        "EndpointName": "Churn-Prod",
                        "EndpointArn": prefix + listed_arn,
                        "CreationTime": datetime(2026, 11, 1, tzinfo=UTC),
                        "LastModifiedTime": datetime(2026, 11, 1, tzinfo=UTC),
                        "EndpointStatus": "InService",
                    }
                ]
            },
            {"MaxResults": 100},
        )
        tags = [{"Key": "model-medic", "Value": "on"}, {"Key": "model-medic:max-instance-count", "Value": "3"}]
        tg.add_response(
            "get_resources",
            {"ResourceTagMappingList": [{"ResourceARN": prefix + tagged_arn, "Tags": tags}]},
            {"ResourceTypeFilters": ["sagemaker:endpoint"], "ResourcesPerPage": 100},
        )
        found = fleet(sagemaker, tagging, [], "model-medic=on")
    assert found == {"Churn-Prod": {"model-medic": "on", "model-medic:max-instance-count": "3"}}
