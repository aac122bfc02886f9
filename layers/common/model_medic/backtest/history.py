"""Alarm history as the backtest replays it: StateUpdate items as transitions, and what CloudWatch sends, pure."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from model_medic.intake.triggers import STATES
from model_medic.tell.outcome import SUBJECT_LIMIT

# The states whose actions run on entering them (PutMetricAlarm's AlarmActions, OKActions, ...).
ACTIONS = {"ALARM": "AlarmActions", "OK": "OKActions", "INSUFFICIENT_DATA": "InsufficientDataActions"}
_NAMESPACE = uuid.UUID("6c1d3b1e-5f2c-4d8e-9a51-9a0b3c7d2e10")  # message ids: the same replay, the same ids


@dataclass(frozen=True)
class Transition:
    """One change of an alarm's state, as its StateUpdate history item tells it."""

    alarm: str
    at: datetime  # the item's Timestamp, UTC
    old: str
    new: str
    reason: str  # the new state's reason
    reason_data: str  # the new state's stateReasonData as JSON text; "" when it has none


def read_item(item: Mapping[str, Any]) -> Transition | str:
    """A StateUpdate history item (DescribeAlarmHistory) as a transition, or why it is not one."""
    name = str(item.get("AlarmName", ""))
    if item.get("HistoryItemType") != "StateUpdate":
        return f"{name}: a {item.get('HistoryItemType')} item, not a StateUpdate"
    try:
        data = json.loads(str(item["HistoryData"]))
        old, new = data["oldState"], data["newState"]
        states = (str(old["stateValue"]), str(new["stateValue"]))
        at = _utc(item["Timestamp"])
    except (KeyError, TypeError, ValueError) as error:
        return f"{name}: a StateUpdate item that cannot be read ({type(error).__name__}: {error})"
    if not set(states) <= STATES:
        return f"{name}: a StateUpdate between states CloudWatch does not have: {states[0]} -> {states[1]}"
    reason_data = new.get("stateReasonData")
    return Transition(
        alarm=name,
        at=at,
        old=states[0],
        new=states[1],
        reason=str(new.get("stateReason", "")),
        reason_data=json.dumps(reason_data) if isinstance(reason_data, dict) else "",
    )


def read_items(items: Iterable[Mapping[str, Any]]) -> tuple[list[Transition], list[str]]:
    """The transitions among history items, oldest first, and why the others were left out."""
    found, refused = [], []
    for item in items:
        read = read_item(item)
        if isinstance(read, Transition):
            found.append(read)
        else:
            refused.append(read)
    return sorted(found, key=lambda t: t.at), refused


def opening_state(before: Transition | None, later: list[Transition], now: str) -> tuple[str, datetime | None]:
    """The state an alarm is in when the window opens, and since when (None: not known): the
    last transition before it, else the state the first transition in (or after) it left, else
    the state it is in now."""
    if before is not None:
        return before.new, before.at
    if later:
        return later[0].old, None
    return now, None


def stamp(at: datetime) -> str:
    """A time as CloudWatch writes it in an alarm message: 2026-11-22T10:00:00.000+0000."""
    utc = at.astimezone(UTC)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}+0000"


def sns_message(alarm: Mapping[str, Any], change: Transition, account: str, region_name: str) -> dict[str, Any]:
    """The message CloudWatch publishes to the alarm's topics for this transition (docs/aws-behaviours.md,
    "Alarm messages"): `alarm` as DescribeAlarms gives it; `region_name` the Region's long name."""
    trigger: dict[str, Any] = {
        "Period": int(alarm.get("Period") or 0),
        "EvaluationPeriods": int(alarm.get("EvaluationPeriods") or 0),
        "ComparisonOperator": alarm.get("ComparisonOperator"),
        "Threshold": float(alarm.get("Threshold") or 0.0),
        "TreatMissingData": alarm.get("TreatMissingData", "missing"),
        "EvaluateLowSampleCountPercentile": alarm.get("EvaluateLowSampleCountPercentile", ""),
    }
    if alarm.get("DatapointsToAlarm") is not None:
        trigger["DatapointsToAlarm"] = int(alarm["DatapointsToAlarm"])
    if alarm.get("Metrics"):  # a metric-math alarm
        trigger["Metrics"] = list(alarm["Metrics"])
    else:
        trigger.update(
            MetricName=alarm.get("MetricName"),
            Namespace=alarm.get("Namespace"),
            StatisticType="Statistic",
            Statistic=str(alarm.get("Statistic", "")).upper(),
            Unit=alarm.get("Unit"),
            Dimensions=[{"value": d["Value"], "name": d["Name"]} for d in alarm.get("Dimensions", [])],
        )
    return {
        "AlarmName": change.alarm,
        "AlarmDescription": alarm.get("AlarmDescription", ""),
        "AWSAccountId": account,
        "NewStateValue": change.new,
        "NewStateReason": change.reason,
        "StateChangeTime": stamp(change.at),
        "Region": region_name,
        "AlarmArn": alarm["AlarmArn"],
        "OldStateValue": change.old,
        "Trigger": trigger,
    }


def sns_event(topic_arn: str, subscription_arn: str, message: Mapping[str, Any], region_name: str) -> dict[str, Any]:
    """The Lambda event SNS delivers to a subscribed function for one alarm message."""
    name, state = str(message["AlarmName"]), str(message["NewStateValue"])
    subject = f'{state}: "{name}" in {region_name}'
    at = datetime.strptime(str(message["StateChangeTime"]), "%Y-%m-%dT%H:%M:%S.%f%z")
    record = {
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": subscription_arn,
        "Sns": {
            "Type": "Notification",
            "MessageId": str(uuid.uuid5(_NAMESPACE, f"{subscription_arn}|{name}|{message['StateChangeTime']}")),
            "TopicArn": topic_arn,
            "Subject": subject[:SUBJECT_LIMIT],  # SNS takes fewer than 100 characters
            "Message": json.dumps(message),
            "Timestamp": f"{at:%Y-%m-%dT%H:%M:%S}.{at.microsecond // 1000:03d}Z",
            "MessageAttributes": {},
        },
    }
    return {"Records": [record]}


def alarm_action_event(alarm: Mapping[str, Any], change: Transition, account: str, region: str) -> dict[str, Any]:
    """The event an alarm whose action is a Lambda function invokes it with (docs/aws-behaviours.md,
    "CloudWatch alarm -> Lambda directly")."""
    at = stamp(change.at)
    return {
        "source": "aws.cloudwatch",
        "alarmArn": alarm["AlarmArn"],
        "accountId": account,
        "time": at,
        "region": region,
        "alarmData": {
            "alarmName": change.alarm,
            "state": {"value": change.new, "reason": change.reason, "reasonData": change.reason_data, "timestamp": at},
            "previousState": {"value": change.old, "reason": "", "timestamp": at},
            "configuration": {"description": alarm.get("AlarmDescription", ""), "metrics": metric_queries(alarm)},
        },
    }


def metric_queries(alarm: Mapping[str, Any]) -> list[dict[str, Any]]:
    """An alarm's metric queries as its events carry them (dimensions as an object)."""
    if not alarm.get("Metrics"):
        return [
            {
                "id": "m1",
                "metricStat": {
                    "metric": {
                        "namespace": alarm.get("Namespace"),
                        "name": alarm.get("MetricName"),
                        "dimensions": {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])},
                    },
                    "period": int(alarm.get("Period") or 0),
                    "stat": alarm.get("Statistic"),
                },
                "returnData": True,
            }
        ]
    queries = []
    for query in alarm["Metrics"]:
        shown: dict[str, Any] = {"id": query.get("Id"), "returnData": bool(query.get("ReturnData", False))}
        if "Expression" in query:
            shown["expression"] = query["Expression"]
        if "MetricStat" in query:
            stat, metric = query["MetricStat"], query["MetricStat"].get("Metric", {})
            shown["metricStat"] = {
                "metric": {
                    "namespace": metric.get("Namespace"),
                    "name": metric.get("MetricName"),
                    "dimensions": {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])},
                },
                "period": stat.get("Period"),
                "stat": stat.get("Stat"),
            }
        queries.append(shown)
    return queries


def _utc(value: Any) -> datetime:
    """A history item's Timestamp (botocore gives a datetime; the CLI's JSON a string), in UTC."""
    at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return (at if at.tzinfo is not None else at.replace(tzinfo=UTC)).astimezone(UTC)
