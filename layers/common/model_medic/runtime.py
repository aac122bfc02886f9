"""Composition for handlers: builds the gates from settings and the cached clients, and
runs every alarm of an event through them.

Handlers stay thin adapters: parse, pick a remediation, `run_alarms`, return a dict.
"""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
from aws_lambda_powertools.utilities.typing import LambdaContext

from model_medic import aws
from model_medic.alarms import AlarmEvent, AlarmParseError, parse_alarms
from model_medic.gates import Clock, GateRejection, ModeSwitch, Remediation, SafetyGates, utc_now
from model_medic.ledger import Ledger
from model_medic.observability import logger, metrics
from model_medic.outcome import Notifier
from model_medic.settings import Settings


def ledger(settings: Settings) -> Ledger:
    return Ledger(aws.dynamodb(), settings.ledger_table, settings.ledger_retention_days)


def notifier(settings: Settings) -> Notifier:
    return Notifier(
        aws.sns(), aws.events(), settings.info_topic_arn, settings.critical_topic_arn, settings.event_bus_name
    )


def gates(settings: Settings, context: LambdaContext | None, clock: Clock = utc_now) -> SafetyGates:
    return SafetyGates(
        ledger=ledger(settings),
        notifier=notifier(settings),
        mode=ModeSwitch(
            aws.ssm_parameters(), settings.mode_parameter_name, settings.automation_mode, settings.mode_cache_seconds
        ),
        idempotency=DynamoDBPersistenceLayer(
            table_name=settings.ledger_table, key_attr="pk", sort_key_attr="sk", boto3_client=aws.dynamodb()
        ),
        actions_per_hour=settings.actions_per_hour,
        clock=clock,
        request_id=getattr(context, "aws_request_id", ""),
        lambda_context=context,
    )


def run_alarms(
    event: Any,
    context: LambdaContext | None,
    settings: Settings,
    remediation_for: Callable[[AlarmEvent], Remediation],
    clock: Clock = utc_now,
) -> dict[str, Any]:
    """Every alarm of the event through the gates; bad input is rejected, never retried.

    A transient AWS failure propagates, so Lambda retries and finally parks the event in
    the dead-letter queue.
    """
    try:
        alarms = parse_alarms(event)
    except AlarmParseError as error:
        return _rejected(str(error))
    safety = gates(settings, context, clock)
    outcomes, rejected = [], []
    for alarm in alarms:
        try:
            outcomes.append(safety.run(alarm, remediation_for(alarm)).as_dict())
        except GateRejection as error:
            rejected.append(str(error))
            logger.warning("alarm rejected", alarm=alarm.alarm_name, error=str(error))
    return {"outcomes": outcomes, "rejected": rejected}


def scheduled_time(event: Any) -> datetime | None:
    """The scheduled time of an EventBridge "Scheduled Event", or None for any other event."""
    if not isinstance(event, dict) or event.get("detail-type") != "Scheduled Event":
        return None
    try:
        return datetime.fromisoformat(str(event["time"]).replace("Z", "+00:00")).astimezone(UTC)
    except (KeyError, ValueError):
        raise AlarmParseError(f"scheduled event without a valid 'time': {event.get('time')!r}") from None


def scheduled_evaluation(event: dict[str, Any], endpoint: str, variant: str | None = None) -> AlarmEvent:
    """A scheduled evaluation of one endpoint, as a trigger the gates handle once per tick."""
    at = scheduled_time(event)
    if at is None:
        raise AlarmParseError("expected an EventBridge Scheduled Event")
    resources = event.get("resources") or ["arn:aws:events:::rule/schedule"]
    arn = str(resources[0])
    parts = arn.split(":")
    dimensions = {"EndpointName": endpoint, **({"VariantName": variant} if variant else {})}
    return AlarmEvent(
        alarm_name=arn.rsplit("/", 1)[-1],
        alarm_arn=f"{arn}|{endpoint}",
        state="ALARM",
        previous_state=None,
        state_change_time=at,
        reason="scheduled evaluation",
        account=parts[4] if len(parts) > 4 else "",
        region=parts[3] if len(parts) > 3 else "",
        source="schedule",
        dimensions=dimensions,
    )


def _rejected(reason: str) -> dict[str, Any]:
    logger.warning("event rejected", error=reason)
    metrics.add_metric(name="RejectedEvents", unit="Count", value=1)
    return {"outcomes": [], "rejected": [reason]}
