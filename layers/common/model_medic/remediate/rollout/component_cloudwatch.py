"""What a component rollout reads and writes in CloudWatch: the component's counts, the verdict and its alarms."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from model_medic.fleet.alarm_catalog import VERDICT_NAMESPACE, verdict_dimensions
from model_medic.intake.triggers import describe_alarms
from model_medic.remediate.rollout.component_changes import FireVerdict
from model_medic.remediate.rollout.component_judge import Counts, verdict_minutes
from model_medic.remediate.rollout.evidence import minute_window, read_series

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_cloudwatch.type_defs import DimensionTypeDef, MetricDataQueryTypeDef

# Each verdict put covers the minutes to the next look (PromoteCanary's tick, every 10 minutes) and some.
HOLD = timedelta(minutes=15)


def component_counts(cloudwatch: CloudWatchClient, component: str, start: datetime, end: datetime) -> Counts:
    """The component's Invocations and Invocation5XXErrors (AWS/SageMaker, InferenceComponentName),
    summed over the whole minutes between start and end."""
    window = minute_window(start, end)
    if window is None:
        return Counts(0.0, 0.0)
    queries: list[MetricDataQueryTypeDef] = [
        {
            "Id": key,
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/SageMaker",
                    "MetricName": metric,
                    "Dimensions": [{"Name": "InferenceComponentName", "Value": component}],
                },
                "Period": 60,
                "Stat": "Sum",
            },
        }
        for key, metric in (("requests", "Invocations"), ("errors", "Invocation5XXErrors"))
    ]
    series = read_series(cloudwatch, queries, *window)
    return Counts(sum(series.get("requests", {}).values()), sum(series.get("errors", {}).values()))


def put_verdict(cloudwatch: CloudWatchClient, change: FireVerdict, now: datetime) -> dict[str, Any]:
    """RolloutVerdict = 1 for each minute from now to HOLD after it (`verdict_minutes`)."""
    minutes = verdict_minutes(now, HOLD)
    cloudwatch.put_metric_data(
        Namespace=VERDICT_NAMESPACE,
        MetricData=[
            {
                "MetricName": "RolloutVerdict",
                "Dimensions": cast("list[DimensionTypeDef]", verdict_dimensions(change.endpoint, change.component)),
                "Timestamp": minute,
                "Value": 1.0,
            }
            for minute in minutes
        ],
    )
    return {"call": "PutMetricData", "datapoints": len(minutes)}


def rolled_back_by(cloudwatch: CloudWatchClient, facts: dict[str, Any]) -> str:
    """Which alarm SageMaker rolled back on, as far as CloudWatch tells: the verdict (Model
    Medic's judge), else the named alarms in ALARM or that changed state since the start."""
    alarm = str(facts["verdict_alarm"])
    if facts.get("verdict_at"):
        verdict = facts.get("component_verdict") or {}
        e_value = verdict.get("e_value")  # a number, or DynamoDB's Decimal
        shown = f"{float(e_value):.3g}" if e_value is not None else "?"
        return f"rolled back by Model Medic's judge (alarm {alarm}, e={shown})"
    names = [n for n in str(facts.get("rollback_alarms") or "").split(",") if n and n != alarm]
    since = datetime.fromisoformat(str(facts["component_since"]))
    found = describe_alarms(cloudwatch, names).values()
    fired = sorted(
        a["AlarmName"]
        for a in found
        if a["StateValue"] == "ALARM" or a.get("StateTransitionedTimestamp", a["StateUpdatedTimestamp"]) >= since
    )
    if fired:
        return f"rolled back on alarm {', '.join(fired)}"
    return "rolled back, no alarm of its AutoRollbackConfiguration shows why (AWS's own checks)"


def own_alarms(cloudwatch: CloudWatchClient, endpoint: str, component: str) -> list[str]:
    """The component's own alarms that exist (`<endpoint>-<component>-HighErrorRate`, `-HighLatency`)."""
    names = [f"{endpoint}-{component}-HighErrorRate", f"{endpoint}-{component}-HighLatency"]
    found = describe_alarms(cloudwatch, names)
    return [n for n in names if n in found]


def standing_verdict(cloudwatch: CloudWatchClient, endpoint: str, component: str, now: datetime) -> datetime | None:
    """The last minute an earlier verdict put RolloutVerdict = 1 for, if it is still to come (a
    verdict covers the minutes to the next look, `HOLD`), else None."""
    start = now.replace(second=0, microsecond=0)
    query: MetricDataQueryTypeDef = {
        "Id": "verdict",
        "MetricStat": {
            "Metric": {
                "Namespace": VERDICT_NAMESPACE,
                "MetricName": "RolloutVerdict",
                "Dimensions": cast("list[DimensionTypeDef]", verdict_dimensions(endpoint, component)),
            },
            "Period": 60,
            "Stat": "Maximum",
        },
    }
    series = read_series(cloudwatch, [query], start, start + HOLD + timedelta(minutes=1))
    ahead = [at for at, value in series.get("verdict", {}).items() if value >= 1 and at >= start]
    return max(ahead) if ahead else None
