"""A deployed stack as its functions see it: its status, and each action function's settings and schedule."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from model_medic.platform import aws

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_lambda import LambdaClient

    from model_medic.platform.settings import ActionSettings
    from model_medic.remediate.units import RemediationUnit


class StatusError(RuntimeError):
    """What `model-medic` cannot read, said for a person (the command exits non-zero)."""


def units() -> tuple[RemediationUnit, ...]:
    """The declared remediation units: each names its function and its settings model (`units.py`)."""
    from model_medic.remediate.capacity import ScaleUp
    from model_medic.remediate.retraining import StartRetraining
    from model_medic.remediate.rollback import RollbackModel
    from model_medic.remediate.rollout.action import Rollout

    return (ScaleUp.unit, StartRetraining.unit, RollbackModel.unit, Rollout.unit)


@dataclass(frozen=True)
class Function:
    """One deployed action function: its unit, its name, its settings, its schedule."""

    unit: RemediationUnit
    name: str
    settings: ActionSettings
    schedule: str | None  # the expression of the schedule that sweeps (rate(5 minutes)), None: none found

    @property
    def every(self) -> timedelta | None:
        """How often the schedule runs it, for a rate expression (None for a cron or no schedule)."""
        return rate_period(self.schedule or "")


@dataclass(frozen=True)
class DeployedStack:
    """A stack as CloudFormation and Lambda show it: status, Region, the action functions by unit name."""

    name: str
    status: str
    region: str
    functions: dict[str, Function]

    @property
    def settings(self) -> ActionSettings:
        """The settings every action function shares (ledger, topics, scope, mode): the first one's."""
        return next(iter(self.functions.values())).settings

    def function(self, action: str) -> Function | None:
        """The function whose unit is named `action` (an incident's action)."""
        return self.functions.get(action)


_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")


def rate_period(expression: str) -> timedelta | None:
    """Pure: the period of an EventBridge rate expression (`rate(5 minutes)`), None for anything else."""
    found = _RATE.match(expression.strip())
    if found is None:
        return None
    unit = found.group(2).rstrip("s")
    return timedelta(**{f"{unit}s": int(found.group(1))})


def find(
    name: str,
    cloudformation: CloudFormationClient | None = None,
    functions: LambdaClient | None = None,
    events: EventBridgeClient | None = None,
) -> DeployedStack:
    """The stack `name`: DescribeStacks, its resources (ListStackResources), and for each action
    function its configuration (GetFunctionConfiguration: the environment its settings are
    read from) and the schedules that target it (ListRuleNamesByTarget, DescribeRule)."""
    cloudformation = cloudformation or aws.cloudformation()
    functions = functions or aws.lambda_()
    events = events or aws.events()
    described = _described(cloudformation, name)
    resources = {
        r["LogicalResourceId"]: r.get("PhysicalResourceId", "")
        for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=name)
        for r in page["StackResourceSummaries"]
    }
    found: dict[str, Function] = {}
    for unit in units():
        physical = resources.get(unit.function)
        if physical:
            found[unit.name] = _function(functions, events, unit, physical)
    if not found:
        raise StatusError(f"stack {name} has none of Model Medic's action functions: is it a Model Medic stack?")
    region = str(described["StackId"]).split(":")[3]
    return DeployedStack(name, str(described["StackStatus"]), region, found)


def _described(cloudformation: CloudFormationClient, name: str) -> dict[str, Any]:
    try:
        stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except ClientError as error:
        if aws.is_transient(error):
            raise
        raise StatusError(f"stack {name}: {aws.error_code(error)}: {_message(error)}") from None
    if not stacks:
        raise StatusError(f"stack {name} not found")
    return dict(stacks[0])


def _function(functions: LambdaClient, events: EventBridgeClient, unit: RemediationUnit, name: str) -> Function:
    config = functions.get_function_configuration(FunctionName=name)
    environment = config.get("Environment", {})
    if "Error" in environment:
        error = environment["Error"]
        raise StatusError(
            f"{unit.function} ({name}): its environment cannot be read: {error.get('ErrorCode')}: "
            f"{error.get('Message')} (the stack's KMS key encrypts it: the caller needs kms:Decrypt on it)"
        )
    try:
        settings = unit.settings.model_validate(environment.get("Variables", {}))
    except ValueError as error:
        raise StatusError(f"{unit.function} ({name}): its settings are not valid: {error}") from None
    return Function(unit, name, settings, _schedule(events, config["FunctionArn"]))


def _schedule(events: EventBridgeClient, function_arn: str) -> str | None:
    """The schedule expression of the first rule targeting the function that has one."""
    for page in events.get_paginator("list_rule_names_by_target").paginate(TargetArn=function_arn):
        for rule in page.get("RuleNames", []):
            expression = events.describe_rule(Name=rule).get("ScheduleExpression")
            if expression:
                return expression
    return None


def _message(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Message", ""))
