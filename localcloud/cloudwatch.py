"""What CloudWatch sends when an alarm changes state, built from the alarm's definition.

The shapes are those of docs/aws-behaviours.md, "Alarm messages": the JSON message an alarm
action publishes to SNS (lower-case dimension keys, upper-case statistic) and the
EventBridge "CloudWatch Alarm State Change" event (dimensions as an object). The local cloud
delivers them; the wiring tests run them through the template's filter policies.

`evaluate` is CloudWatch's judgement of a metric alarm from its datapoints, which moto does
not make (moto only stores alarms and the states it is told): the alarm goes to ALARM when
at least DatapointsToAlarm (default: EvaluationPeriods) of its last EvaluationPeriods
periods breach the threshold, "M out of N" (CloudWatch User Guide, "Using Amazon
CloudWatch alarms" - alarm evaluation). A missing period is, by TreatMissingData
(CloudWatch User Guide, "Configuring how CloudWatch alarms treat missing data"):
`notBreaching` within the threshold, `breaching` over it, `ignore` the current state
kept, `missing` (the default) INSUFFICIENT_DATA when every period is missing. Simplified:
AWS may look back beyond the N periods when some are missing ("evaluation range"); here,
with `ignore` or `missing`, a verdict the present periods cannot settle keeps the state.
"""

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

REGION_NAMES = {"us-east-1": "US East (N. Virginia)", "us-west-2": "US West (Oregon)", "eu-west-1": "Europe (Ireland)"}


def alarm_arn(name: str, account: str, region: str) -> str:
    return f"arn:aws:cloudwatch:{region}:{account}:alarm:{name}"


def sns_message(
    alarm: Mapping[str, Any], state: str, previous: str, reason: str, at: datetime, account: str, region: str
) -> dict[str, Any]:
    """The `Message` (as a dict) that CloudWatch publishes to the alarm's action topics."""
    trigger: dict[str, Any] = {
        "Period": int(alarm["Period"]),
        "EvaluationPeriods": int(alarm["EvaluationPeriods"]),
        "ComparisonOperator": alarm["ComparisonOperator"],
        "Threshold": float(alarm["Threshold"]),
        "TreatMissingData": alarm.get("TreatMissingData", "missing"),
        "EvaluateLowSampleCountPercentile": "",
    }
    if "DatapointsToAlarm" in alarm:
        trigger["DatapointsToAlarm"] = int(alarm["DatapointsToAlarm"])
    if alarm.get("Metrics"):  # a metric-math alarm (describe_alarms gives [] for the others)
        trigger["Metrics"] = alarm["Metrics"]
    else:
        trigger.update(
            MetricName=alarm["MetricName"],
            Namespace=alarm["Namespace"],
            StatisticType="Statistic",
            Statistic=str(alarm.get("Statistic", "Average")).upper(),
            Unit=alarm.get("Unit"),
            Dimensions=[{"value": d["Value"], "name": d["Name"]} for d in alarm.get("Dimensions", [])],
        )
    return {
        "AlarmName": alarm["AlarmName"],
        "AlarmDescription": alarm.get("AlarmDescription", ""),
        "AWSAccountId": account,
        "AlarmConfigurationUpdatedTimestamp": at.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
        "NewStateValue": state,
        "NewStateReason": reason,
        "StateChangeTime": at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}+0000",
        "Region": REGION_NAMES.get(region, region),
        "AlarmArn": alarm_arn(alarm["AlarmName"], account, region),
        "OldStateValue": previous,
        "Trigger": trigger,
    }


def state_change_event(
    alarm: Mapping[str, Any], state: str, previous: str, reason: str, at: datetime, account: str, region: str
) -> dict[str, Any]:
    """The EventBridge "CloudWatch Alarm State Change" event for the same transition."""
    stamp = at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}+0000"
    metric = {
        "id": "m1",
        "metricStat": {
            "metric": {
                "namespace": alarm["Namespace"],
                "name": alarm["MetricName"],
                "dimensions": {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])},
            },
            "period": int(alarm["Period"]),
            "stat": alarm.get("Statistic", "Average"),
        },
        "returnData": True,
    }
    return {
        "version": "0",
        "id": f"{alarm['AlarmName']}-{int(at.timestamp())}",
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": account,
        "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [alarm_arn(alarm["AlarmName"], account, region)],
        "detail": {
            "alarmName": alarm["AlarmName"],
            "state": {"value": state, "reason": reason, "timestamp": stamp},
            "previousState": {"value": previous, "reason": "", "timestamp": stamp},
            "configuration": {"description": alarm.get("AlarmDescription", ""), "metrics": [metric]},
        },
    }


_BREACHES = {
    "GreaterThanThreshold": lambda value, threshold: value > threshold,
    "GreaterThanOrEqualToThreshold": lambda value, threshold: value >= threshold,
    "LessThanThreshold": lambda value, threshold: value < threshold,
    "LessThanOrEqualToThreshold": lambda value, threshold: value <= threshold,
}


def evaluate(alarm: Mapping[str, Any], values: Sequence[float | None]) -> str:
    """The state CloudWatch gives the alarm (DescribeAlarms' shape) for the values of its last
    EvaluationPeriods periods, oldest first (None: no datapoint in that period)."""
    periods = int(alarm["EvaluationPeriods"])
    if len(values) != periods:
        raise ValueError(f"{alarm['AlarmName']} evaluates {periods} periods, got {len(values)} values")
    operator = alarm["ComparisonOperator"]
    if operator not in _BREACHES:
        raise ValueError(f"{alarm['AlarmName']}: the local cloud evaluates {sorted(_BREACHES)}, not {operator}")
    needed = int(alarm.get("DatapointsToAlarm") or periods)
    missing = alarm.get("TreatMissingData") or "missing"
    breaching = not_breaching = 0
    for value in values:
        if value is None:
            breaching += missing == "breaching"
            not_breaching += missing == "notBreaching"
        elif _BREACHES[operator](value, float(alarm["Threshold"])):
            breaching += 1
        else:
            not_breaching += 1
    current = str(alarm.get("StateValue", "INSUFFICIENT_DATA"))
    if breaching >= needed:
        return "ALARM"
    if not_breaching > periods - needed:  # too few periods left to breach
        return "OK"
    if missing == "missing" and all(value is None for value in values):
        return "INSUFFICIENT_DATA"
    return current
