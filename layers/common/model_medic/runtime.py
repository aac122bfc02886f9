"""Composition for handlers: builds the control loop from settings and the cached clients,
and runs every alarm of an event - or a sweep - through it.

Handlers stay thin adapters: `handle(UnitClass, event, context)`, return a dict.
"""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from aws_lambda_powertools.utilities.typing import LambdaContext

from model_medic import aws
from model_medic.alarms import (
    RESOURCE_ARN_MAX,
    S3_KEY_MAX_BYTES,
    AlarmParseError,
    bounded_name,
    bounded_time,
    parse_alarms,
    shown,
)
from model_medic.endpoint_policy import PerEndpoint, Policies
from model_medic.gates import Clock, GateRejection, ModeSwitch, utc_now
from model_medic.incidents import Incidents
from model_medic.ledger import Ledger
from model_medic.loop import ControlLoop
from model_medic.observability import logger, metrics
from model_medic.outcome import Notifier, Outcome
from model_medic.policy import discovery_key
from model_medic.scope import Scope
from model_medic.settings import ActionSettings, Mode, Settings, load_settings
from model_medic.units import Action


def ledger(settings: Settings) -> Ledger:
    return Ledger(aws.dynamodb(), settings.ledger_table, settings.ledger_retention_days)


def notifier(settings: Settings) -> Notifier:
    return Notifier(
        aws.sns(), aws.events(), settings.info_topic_arn, settings.critical_topic_arn, settings.event_bus_name
    )


def mode_switch(settings: ActionSettings, endpoint_mode: Callable[[str], Mode | None] | None = None) -> ModeSwitch:
    return ModeSwitch(
        aws.ssm_parameters(),
        settings.mode_parameter_name,
        settings.automation_mode,
        settings.mode_cache_seconds,
        endpoint_mode,
    )


class Unit(Protocol):
    """A remediation class: its declaration and how to build it from its settings."""

    unit: Any

    @classmethod
    def from_settings(cls, settings: Any, clock: Clock) -> Action: ...


# What a handler may add to its sweep (ScaleUp: give capacity back) or to its events (a
# SageMaker or pipeline state change): called with the loop, the settings and the clock.
Extra = Callable[[ControlLoop, Any, Clock, list[str]], list[Outcome]]


def policies(settings: ActionSettings, clock: Clock) -> Policies[Any]:
    """The stack's scope, and each endpoint's settings from the tags it reads (`endpoint_policy.py`)."""
    scope = Scope(aws.sagemaker(), settings.monitored_endpoints, settings.discovery_tag, aws.tagging())
    return Policies(settings, scope, ledger(settings), notifier(settings), clock, discovery_key(settings.discovery_tag))


def control_loop(
    build: Callable[[Any], Action],
    settings: ActionSettings,
    context: LambdaContext | None,
    clock: Clock,
    endpoint_policies: Policies[Any] | None = None,
) -> ControlLoop:
    """The loop of the unit `build` makes from settings: each endpoint acted on, and in the mode,
    of its own policy (the stack's settings with its tags' values, `policy.py`)."""
    endpoint_policies = endpoint_policies or policies(settings, clock)
    action = PerEndpoint(build, endpoint_policies)
    window = getattr(settings, action.unit.verify_minutes_setting or "", None)
    return ControlLoop(
        action=action,
        verify_window=timedelta(minutes=int(window or 0)),
        ledger=ledger(settings),
        incidents=Incidents(aws.dynamodb(), settings.ledger_table, timedelta(days=settings.ledger_retention_days)),
        notifier=notifier(settings),
        mode=mode_switch(settings, endpoint_policies.mode),
        scope=endpoint_policies.scope,
        sagemaker=aws.sagemaker(),
        cloudwatch=aws.cloudwatch(),
        actions_per_hour=settings.actions_per_hour,
        clock=clock,
        request_id=getattr(context, "aws_request_id", ""),
        time_left=_time_left(context),
    )


def _time_left(context: LambdaContext | None) -> Callable[[], float] | None:
    """Seconds left in this invocation, read from Lambda's context (None without one)."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return None if remaining is None else lambda: remaining() / 1000.0


def handle(
    remediation: type[Unit],
    event: Any,
    context: LambdaContext | None,
    sweep_extra: Extra | None = None,
    on_event: Callable[[Any], dict[str, Any] | None] | None = None,
    sweeps_on: Callable[[Any], bool] | None = None,
) -> dict[str, Any]:
    """An action function: alarm deliveries open, close and evaluate incidents; a Scheduled
    Event sweeps them (level-triggered). Bad input is rejected, never retried; a transient
    AWS failure propagates, so Lambda retries and finally parks the event in the DLQ."""
    settings = load_settings(remediation.unit.settings)
    if on_event is not None:
        handled = on_event(event)
        if handled is not None:
            return handled
    try:
        scheduled = scheduled_time(event)
    except AlarmParseError as error:
        return rejected(str(error))
    clock: Clock = (lambda: scheduled) if scheduled is not None else utc_now
    endpoint_policies = policies(settings, clock)
    loop = control_loop(lambda s: remediation.from_settings(s, clock), settings, context, clock, endpoint_policies)
    if scheduled is not None or (sweeps_on is not None and sweeps_on(event)):
        endpoints = endpoint_policies.scope.endpoints()
        endpoint_policies.check(endpoints)
        outcomes = loop.sweep(endpoints)
        if sweep_extra is not None:
            outcomes += sweep_extra(loop, settings, clock, endpoints)
        return {"outcomes": [o.as_dict() for o in outcomes if not o.replayed], "rejected": []}
    try:
        alarms = parse_alarms(event)
    except AlarmParseError as error:
        return rejected(str(error))
    decided: list[dict[str, Any]] = []
    refused: list[str] = []
    for alarm in alarms:
        try:
            decided.append(loop.on_alarm(alarm).as_dict())
        except GateRejection as error:
            refused.append(str(error))
            logger.warning("alarm rejected", alarm=alarm.alarm_name, error=str(error))
    return {"outcomes": decided, "rejected": refused}


def handle_rollouts(
    rollout: type[Unit], run: Callable[..., list[Outcome]], event: Any, context: LambdaContext | None
) -> dict[str, Any]:
    """PromoteCanaryFunction: package approvals, operator requests, canary alarms and ticks,
    through the control loop of the rollout unit (`rollout.Rollout`, `rollout.run`, imported by
    the handler's module, so a cold start pays for them at import). Bad input is rejected, never retried."""
    settings = load_settings(rollout.unit.settings)
    try:
        scheduled = scheduled_time(event)
    except AlarmParseError as error:
        return rejected(str(error))
    clock: Clock = (lambda: scheduled) if scheduled is not None else utc_now
    endpoint_policies = policies(settings, clock)
    loop = control_loop(lambda s: rollout.from_settings(s, clock), settings, context, clock, endpoint_policies)
    found: list[list[str]] = []

    def endpoints() -> list[str]:
        if not found:
            found.append(endpoint_policies.scope.endpoints())
            endpoint_policies.check(found[0])
        return found[0]

    try:
        outcomes = run(event, loop, settings, endpoints, scheduled, endpoint_policies.settings)
    except AlarmParseError as error:
        return rejected(str(error))
    return {"outcomes": [o.as_dict() for o in outcomes if not o.replayed], "rejected": []}


def scheduled_time(event: Any) -> datetime | None:
    """The scheduled time of an EventBridge "Scheduled Event", or None for any other event.

    The event's `time` and `resources` (the rule that fired) are checked here, at intake,
    with the limits of `alarms.py`: a bad one is an `AlarmParseError`.
    """
    if not isinstance(event, dict) or event.get("detail-type") != "Scheduled Event":
        return None
    _schedule_rule(event)
    return bounded_time(event.get("time"), "scheduled event 'time'")


def _schedule_rule(event: dict[str, Any]) -> str:
    """The ARN of the rule that scheduled the event (EventBridge puts it first in `resources`)."""
    resources = event.get("resources", [])
    if not isinstance(resources, list) or not all(isinstance(r, str) for r in resources):
        raise AlarmParseError(f"scheduled event 'resources' must be a list of ARNs, got {shown(resources)}")
    if not resources:
        return "arn:aws:events:::rule/schedule"
    rule = resources[0]
    # Nothing downstream reads the rule; an event no EventBridge rule could have sent is still
    # bad input, turned away here rather than acted on.
    if not rule.startswith("arn:") or len(rule) > RESOURCE_ARN_MAX:
        raise AlarmParseError(f"scheduled event 'resources[0]' is not an ARN of at most {RESOURCE_ARN_MAX} characters")
    return bounded_name(rule, "scheduled event 'resources[0]'", RESOURCE_ARN_MAX)


def scheduled_or_rejected(
    event: Any, expected: str = "expected an EventBridge Scheduled Event"
) -> datetime | dict[str, Any]:
    """A scheduled job's time, or the answer that rejects the event (a bad or missing `time`
    is bad input: rejected with a clear message and a metric, never retried into the DLQ)."""
    try:
        scheduled = scheduled_time(event)
    except AlarmParseError as error:
        return rejected(str(error))
    return rejected(expected) if scheduled is None else scheduled


def object_created(event: Any) -> tuple[str, datetime | None] | None:
    """(key, event time) of an S3 "Object Created" event on EventBridge; None for any other
    event. A key that is not a string S3 could hold is an `AlarmParseError`; a missing or
    bad `time` is None (the caller falls back to the key's hour)."""
    if not isinstance(event, dict) or event.get("detail-type") != "Object Created":
        return None
    detail = event.get("detail")
    found = detail.get("object") if isinstance(detail, dict) else None
    key = found.get("key") if isinstance(found, dict) else None
    if not isinstance(key, str) or not key:
        raise AlarmParseError("Object Created event without a string detail.object.key")
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError:
        raise AlarmParseError(f"detail.object.key {shown(key)} is not UTF-8") from None
    if size > S3_KEY_MAX_BYTES:
        raise AlarmParseError(f"detail.object.key is {size} bytes: S3 keys are at most {S3_KEY_MAX_BYTES}")
    try:
        at: datetime | None = bounded_time(event.get("time"), "Object Created event 'time'")
    except AlarmParseError:
        at = None
    return key, at


def rejected(reason: str) -> dict[str, Any]:
    """The answer that turns an event away: logged, counted (RejectedEvents), never retried."""
    logger.warning("event rejected", error=reason)
    metrics.add_metric(name="RejectedEvents", unit="Count", value=1)
    return {"outcomes": [], "rejected": [reason]}
