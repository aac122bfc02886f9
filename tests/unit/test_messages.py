"""What people read (`tell/outcome.py`, `tell/outcome.py`): short subjects, bodies saying where and what next."""

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from model_medic.control.stepping import escalation
from model_medic.remediate.units import Plan, variant_label
from model_medic.status.view import TOLD
from model_medic.store.incidents import opened
from model_medic.tell.outcome import (
    ANNOUNCED,
    PHONE,
    Outcome,
    Where,
    body,
    next_step,
    plain_body,
    plain_subject,
    subject,
)

TOPIC = "arn:aws:sns:eu-west-1:111122223333:model-medic-prod-info"
T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
WHERE = Where.of("model-medic-prod", TOPIC, "reports-bucket")


def outcome(**changes: Any) -> Outcome:
    base = Outcome(
        action="scale-up",
        endpoint="fraud-prod",
        result="acted",
        reason="primary instance-count 2 -> 3",
        mode="enforce",
        alarm_name="fraud-prod-HighLatency",
        alarm_arn="arn:aws:cloudwatch:eu-west-1:111122223333:alarm:fraud-prod-HighLatency",
        transition="t|2026-11-22T10:00:00+00:00",
        state="ALARM",
        at="2026-11-22T10:00:30+00:00",
    )
    return replace(base, **changes)


def test_where_comes_from_the_stacks_own_topic_arn_without_sts() -> None:
    assert (WHERE.stack, WHERE.account, WHERE.region, WHERE.partition) == (
        "model-medic-prod",
        "111122223333",
        "eu-west-1",
        "aws",
    )
    assert WHERE.short == "prod"
    assert Where.of("model-medic", TOPIC).short == "model-medic"  # the dev stack keeps its name
    assert Where.of("x", "not an arn").line() == "Stack x, account (unknown), Region (unknown)"


def test_subjects_fit_on_a_phone_and_drop_the_action_before_the_endpoint() -> None:
    assert subject(outcome(result="escalated"), WHERE) == "[CRITICAL] prod escalated scale-up fraud-prod"
    long = "fraud-detector-prod-us-east-1-blue-green-v2"
    said = subject(outcome(result="escalated", endpoint=long), WHERE)
    assert said == f"[CRITICAL] prod escalated {long}"[:59] + "~"
    assert len(said) <= PHONE
    short = subject(outcome(result="bound-reached", endpoint="fraud-detector-prod-eu-v2"), WHERE)
    assert short == "[CRITICAL] prod bound-reached fraud-detector-prod-eu-v2"  # no room for scale-up


def test_a_plain_subject_says_severity_and_stack_first_in_ascii() -> None:
    said = plain_subject("critical", "Model Medic: budget spent on fraud-prod", WHERE)
    assert said == "[CRITICAL] prod budget spent on fraud-prod"
    assert plain_subject("info", "caf\u00e9\nnews", WHERE) == "[INFO] prod caf??news"


def test_a_long_plain_subject_is_cut_below_snss_100_characters() -> None:
    # SNS takes a subject "less than 100 characters long" (docs/aws-behaviours.md).
    text = "Model Medic: model quality of " + "e" * 63 + " is not measured (no data)"
    said = plain_subject("info", text, Where(stack="model-medic-staging"))
    assert len(said) == 99
    assert said.startswith("[INFO] staging model quality of eee")
    assert said.endswith("~")
    fitting = plain_subject("info", "x" * (99 - len("[INFO] staging ")), Where(stack="model-medic-staging"))
    assert len(fitting) == 99
    assert not fitting.endswith("~")  # 99 fits whole


def test_the_pipelines_link_is_the_executions_region_and_partition() -> None:
    execution = "arn:aws:sagemaker:af-south-1:111122223333:pipeline/retrain/execution/abc123"
    assert WHERE.pipelines(execution) == (
        "https://af-south-1.console.aws.amazon.com/sagemaker/home?region=af-south-1#/pipelines"
    )
    china = Where.of("model-medic-prod", "arn:aws-cn:sns:cn-north-1:111122223333:t")
    assert china.pipelines("arn:aws-cn:sagemaker:cn-north-1:111122223333:pipeline/p/execution/x") == (
        "https://console.amazonaws.cn/sagemaker/home?region=cn-north-1#/pipelines"
    )
    assert WHERE.pipelines("not an arn").startswith("https://eu-west-1.console.aws.amazon.com/")  # the stack's
    assert Where.of("s", "arn:aws-iso:sns:us-iso-east-1:1:t").pipelines(execution) == ""  # no known console


def test_an_endpoint_named_index_keeps_its_own_reports_folder() -> None:
    # SageMaker endpoint names are letters, digits and hyphens: `index` is one; `_index` is none.
    own = WHERE.links("index")["reports"]
    fleet = WHERE.links("")["reports"]
    assert own.endswith("&prefix=reports%2Findex%2F")
    assert fleet.endswith("&prefix=reports%2F_index%2F")


@pytest.mark.parametrize(
    ("result", "gate", "action", "critical", "expected"),
    [
        ("escalated", "bound", "scale-up", False, "raise the bound"),
        ("escalated", "bound", "rollout", False, "walk it on or roll it back yourself"),
        ("bound-reached", "bound", "scale-up", False, "nothing was changed: a bound stopped the first step"),
        ("failed", "verify", "rollback", False, "the function's logs"),
        ("stopped", "bound", "rollout", False, "the serving model keeps serving"),
        ("stopped", "changed-outside", "rollout", False, "Check who did"),
        ("dry-run", "", "scale-up", False, "Switch the mode to enforce"),
        ("recovered", "", "scale-up", False, "nothing to do"),
        ("retrained", "", "start-retraining", False, "closes it as recovered when the alarm returns to OK"),
        ("acted", "", "rollback", True, "find out why before the pipeline deploys it again"),
        ("acted", "", "start-retraining", False, "follow the pipeline's execution"),
        ("acted", "", "rollout", True, "find out why before it is approved again"),
        ("acted", "", "scale-up", False, "tells you if the alarm stays in ALARM"),
    ],
)
def test_every_result_says_what_a_person_should_look_at_next(
    result: str, gate: str, action: str, critical: bool, expected: str
) -> None:
    told = outcome(result=result, gate=gate, action=action, critical=critical)
    assert expected in next_step(told)
    assert f"Next: {next_step(told)}" in body(told, WHERE)


def test_a_body_names_where_and_links_the_console_with_names_encoded() -> None:
    alarm = "fraud prod/latency #1"
    text = body(outcome(alarm_name=alarm, alarm_arn=f"arn:aws:cloudwatch:eu-west-1:1:alarm:{alarm}"), WHERE)
    assert "Stack model-medic-prod, account 111122223333, Region eu-west-1" in text
    assert "#alarmsV2:alarm/fraud%20prod%2Flatency%20%231" in text
    assert "https://eu-west-1.console.aws.amazon.com/sagemaker/home?region=eu-west-1#/endpoints/fraud-prod" in text
    assert "Tried:" not in text  # a step that acted is the reason itself


def test_a_bound_says_nothing_was_tried() -> None:
    text = body(outcome(result="bound-reached", reason="at the maximum of 4; nothing was changed"), WHERE)
    assert "Tried:\n  - nothing was changed" in text


@pytest.mark.parametrize(
    ("partition", "console"),
    [
        ("aws-us-gov", "https://console.amazonaws-us-gov.com/sagemaker/home?region=us-gov-west-1#"),
        ("aws-cn", "https://console.amazonaws.cn/sagemaker/home?region=us-gov-west-1#"),
    ],
)
def test_other_partitions_link_their_own_console(partition: str, console: str) -> None:
    where = Where.of("model-medic-prod", f"arn:{partition}:sns:us-gov-west-1:111122223333:t")
    assert where.links("fraud-prod")["endpoint"].startswith(console)


def test_a_partition_without_a_known_console_gets_no_links_and_says_so() -> None:
    where = Where.of("model-medic-prod", "arn:aws-iso:sns:us-iso-east-1:111122223333:t")
    assert where.links("fraud-prod") == {}
    assert "(no console links: partition aws-iso)" in plain_body("x", where, "fraud-prod")


def test_stopped_is_announced_at_info_and_status_lists_what_is_announced() -> None:
    assert "stopped" in ANNOUNCED
    assert TOLD == ANNOUNCED
    assert outcome(result="stopped", gate="changed-outside").severity == "info"
    assert "Model Medic stopped: scale-up" in body(outcome(result="stopped"), WHERE)


def test_a_pipeline_that_succeeded_is_told_as_retrained_not_as_a_recovery() -> None:
    told = outcome(result="retrained", action="start-retraining", reason="start pipeline churn: it succeeded")
    text = body(told, WHERE)
    assert text.startswith("Model Medic saw the retraining pipeline succeed (no recovery yet): start-retraining ")
    assert "saw a recovery" not in text
    assert (told.severity, told.announced) == ("info", True)


def test_a_rollout_stopped_by_a_bound_before_its_first_step_is_stopped_not_a_page() -> None:
    incident = opened("churn-prod", "rollout", "churn approved", "arn", T0, "approved", None)
    plan = Plan("", bound="churn/3 not deployed: not better")
    assert escalation(incident, plan, stops_a_rollout=True)[:2] == (
        "stopped",
        "churn/3 not deployed: not better; nothing was changed",
    )
    assert escalation(incident, plan, stops_a_rollout=False)[0] == "bound-reached"  # an alarm's unit still pages


def test_a_variant_named_for_its_role_is_named_once() -> None:
    assert variant_label("canary", "canary") == "canary"
    assert variant_label("canary", "churn-Canary") == "churn-Canary"
    assert variant_label("canary", "blue") == "canary blue"
    assert variant_label("primary", "primary") == "primary"
