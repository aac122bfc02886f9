"""What CloudWatch sends when an alarm changes state, built from the alarm's definition.

The shapes are those of FACTS.md: the JSON message an alarm action publishes to SNS
(lower-case dimension keys, upper-case statistic) and the EventBridge "CloudWatch Alarm
State Change" event (dimensions as an object). The local cloud delivers them; the wiring
tests run them through the template's filter policies.
"""

from datetime import datetime
from typing import Any

REGION_NAMES = {"us-east-1": "US East (N. Virginia)", "us-west-2": "US West (Oregon)", "eu-west-1": "Europe (Ireland)"}


def alarm_arn(name: str, account: str, region: str) -> str:
    return f"arn:aws:cloudwatch:{region}:{account}:alarm:{name}"


def sns_message(
    alarm: dict[str, Any], state: str, previous: str, reason: str, at: datetime, account: str, region: str
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
    alarm: dict[str, Any], state: str, previous: str, reason: str, at: datetime, account: str, region: str
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
