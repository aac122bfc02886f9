"""The declared remediation units (units.py) against the template: what each declares, the
template gives its function - permissions, triggers, a sweep - and its settings exist."""

from typing import Any

import pytest

from model_medic.remediate.capacity import ScaleUp
from model_medic.remediate.retraining import StartRetraining
from model_medic.remediate.rollback import RollbackModel
from model_medic.remediate.rollout.action import Rollout
from model_medic.remediate.units import RemediationUnit
from tests.template.conftest import resources_of

# The units that answer alarms (swept every 5 minutes), and every unit.
ALARM_UNITS = [ScaleUp.unit, StartRetraining.unit, RollbackModel.unit]
UNITS = [*ALARM_UNITS, Rollout.unit]


def _allowed(transformed: dict[str, Any], role: str) -> set[str]:
    actions: set[str] = set()
    for policy in transformed["Resources"][role]["Properties"].get("Policies", []):
        for statement in policy["PolicyDocument"]["Statement"]:
            if "Fn::If" in statement:  # a conditional statement: [condition, statement, AWS::NoValue]
                statement = statement["Fn::If"][1]
            found = statement["Action"]
            actions |= set(found if isinstance(found, list) else [found])
    return actions


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_each_function_role_allows_exactly_what_its_unit_declares(
    transformed: dict[str, Any], unit: RemediationUnit
) -> None:
    allowed = _allowed(transformed, f"{unit.function}Role")
    assert unit.iam_actions <= allowed, sorted(unit.iam_actions - allowed)
    # Beyond the unit's own needs: the scope discovery calls, and parking failures in the DLQ (SAM).
    extra = allowed - unit.iam_actions
    assert extra <= {"sagemaker:ListEndpoints", "sagemaker:ListTags", "tag:GetResources", "sqs:SendMessage"}, sorted(
        extra
    )


@pytest.mark.parametrize("unit", ALARM_UNITS, ids=lambda u: u.name)
def test_each_unit_function_is_swept_every_five_minutes(source: dict[str, Any], unit: RemediationUnit) -> None:
    events = source["Resources"][unit.function]["Properties"]["Events"]
    schedules = [e["Properties"]["Schedule"] for e in events.values() if e["Type"] == "Schedule"]
    assert schedules == ["rate(5 minutes)"], unit.function


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_each_units_settings_are_what_its_function_is_given(source: dict[str, Any], unit: RemediationUnit) -> None:
    variables = {
        **source["Globals"]["Function"]["Environment"]["Variables"],
        **source["Resources"][unit.function]["Properties"]["Environment"]["Variables"],
    }
    required = {
        str(field.alias) for field in unit.settings.model_fields.values() if field.is_required() and field.alias
    }
    assert required <= set(variables), sorted(required - set(variables))
    if unit.verify_minutes_setting is not None:
        alias = unit.settings.model_fields[unit.verify_minutes_setting].alias
        assert alias in variables, f"{unit.function} is not given {alias}"


@pytest.mark.parametrize("unit", ALARM_UNITS, ids=lambda u: u.name)
def test_each_unit_function_hears_its_alarms(source: dict[str, Any], unit: RemediationUnit) -> None:
    alarms = source["Resources"][unit.function]["Properties"]["Events"]
    filtered = [e for e in alarms.values() if e["Type"] == "SNS"]
    assert filtered, f"{unit.function} has no alarm subscription"
    for event in filtered:
        assert set(event["Properties"]["FilterPolicy"]["NewStateValue"]) <= unit.states | {"OK"}


def test_the_retraining_function_hears_its_pipelines_verdict(transformed: dict[str, Any]) -> None:
    rules = resources_of(transformed, "AWS::Events::Rule")
    [pattern] = [
        r["Properties"]["EventPattern"]
        for name, r in rules.items()
        if name.startswith("StartRetrainingFunction") and "EventPattern" in r["Properties"]
    ]
    assert pattern["detail-type"] == ["SageMaker Model Building Pipeline Execution Status Change"]
    assert set(pattern["detail"]["currentPipelineExecutionStatus"]) == {"Succeeded", "Failed", "Stopped"}


def test_the_rollout_function_hears_approvals_canary_alarms_and_ticks(source: dict[str, Any]) -> None:
    events = source["Resources"][Rollout.unit.function]["Properties"]["Events"]
    patterns = [e["Properties"]["Pattern"] for e in events.values() if e["Type"] == "EventBridgeRule"]
    assert {p["detail-type"][0] for p in patterns} == {
        "SageMaker Model Package State Change",
        "CloudWatch Alarm State Change",
    }
    [approved] = [p for p in patterns if p["detail-type"] == ["SageMaker Model Package State Change"]]
    assert approved["detail"]["ModelApprovalStatus"] == ["Approved"]
    assert [e["Properties"]["Schedule"] for e in events.values() if e["Type"] == "Schedule"] == ["rate(10 minutes)"]


ACTION_VARIABLES = {"AUTOMATION_MODE", "MODE_PARAMETER_NAME", "ACTIONS_PER_HOUR"}


def test_only_the_action_functions_are_given_the_action_variables(source: dict[str, Any]) -> None:
    assert not ACTION_VARIABLES & set(source["Globals"]["Function"]["Environment"]["Variables"])
    for name, resource in source["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        variables = set(resource["Properties"].get("Environment", {}).get("Variables", {}))
        acts = name in {u.function for u in UNITS} | {"PromoteCanaryFunction"}
        assert (variables >= ACTION_VARIABLES) == acts, name
        if not acts:
            assert not ACTION_VARIABLES & variables, name
