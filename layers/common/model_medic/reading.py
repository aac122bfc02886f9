"""What the control loop reads of AWS: an endpoint, the stack's alarms, and the endpoint an alarm watches."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from model_medic import aws


def endpoint(sagemaker: Any, name: str) -> tuple[dict[str, Any] | None, str | None]:
    """DescribeEndpoint, or the permanent problem that stops it (the endpoint does not exist)."""
    try:
        return sagemaker.describe_endpoint(EndpointName=name), None
    except ClientError as error:
        if aws.is_transient(error):
            raise
        return None, f"{aws.error_code(error)}: {error.response.get('Error', {}).get('Message', '')}"


def alarms(cloudwatch: Any, names: list[str]) -> dict[str, dict[str, Any]]:
    """The metric alarms of these names, by name (DescribeAlarms takes up to 100 names a call)."""
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(names), 100):
        kwargs: dict[str, Any] = {"AlarmNames": names[start : start + 100], "AlarmTypes": ["MetricAlarm"]}
        while True:
            page = cloudwatch.describe_alarms(**kwargs)
            found.update({a["AlarmName"]: a for a in page.get("MetricAlarms", [])})
            if not page.get("NextToken"):
                break
            kwargs["NextToken"] = page["NextToken"]
    return found


def alarm_endpoint(alarm: dict[str, Any]) -> str | None:
    """The endpoint a described alarm watches: its EndpointName or Endpoint dimension."""
    for dimension in alarm.get("Dimensions", []):
        if dimension["Name"] in ("EndpointName", "Endpoint"):
            return str(dimension["Value"])
    for query in alarm.get("Metrics", []):
        for dimension in query.get("MetricStat", {}).get("Metric", {}).get("Dimensions", []):
            if dimension["Name"] in ("EndpointName", "Endpoint"):
                return str(dimension["Value"])
    return None
