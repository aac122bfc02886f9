"""Alarm intake: every shape in which a CloudWatch alarm reaches a function, as one `AlarmEvent`.

Three shapes arrive (FACTS.md):

* SNS: `Records[].Sns.Message` is the JSON CloudWatch publishes to an alarm's topic;
  a single-metric alarm's `Trigger.Dimensions` is a list of `{"value", "name"}` (lower case).
* EventBridge: `detail-type` "CloudWatch Alarm State Change"; `detail.configuration.metrics[]`
  with `metricStat.metric.dimensions` as an object.
* Direct alarm action (the alarm invokes the function itself): `alarmData`, shaped like
  the EventBridge `detail`.

Metric-math alarms carry several metric queries (the endpoint comes from the ones that
name it); composite alarms carry none, so they have no endpoint. Anything else raises
`AlarmParseError` saying what is wrong.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

AlarmState = Literal["ALARM", "OK", "INSUFFICIENT_DATA"]
STATES: frozenset[str] = frozenset({"ALARM", "OK", "INSUFFICIENT_DATA"})

ALARM_STATE_CHANGE = "CloudWatch Alarm State Change"

# SageMaker publishes EndpointName; Model Monitor publishes Endpoint (FACTS.md).
ENDPOINT_DIMENSIONS = ("EndpointName", "Endpoint")
VARIANT_DIMENSION = "VariantName"


class AlarmParseError(ValueError):
    """The event is not an alarm state change this service understands; nothing was done."""


@dataclass(frozen=True)
class AlarmEvent:
    """One alarm state transition, whatever shape it arrived in."""

    alarm_name: str
    alarm_arn: str
    state: AlarmState
    previous_state: AlarmState | None
    state_change_time: datetime
    reason: str
    account: str
    region: str
    # "sweep" and "schedule": a scheduled run acting on a transition, or evaluating an endpoint
    # as if an alarm were in ALARM (so that it passes the same gates, once per tick).
    source: Literal["sns", "eventbridge", "alarm-action", "sweep", "schedule"]
    namespace: str | None = None
    metric_name: str | None = None
    dimensions: Mapping[str, str] = field(default_factory=dict)
    expression: str | None = None
    composite: bool = False

    @property
    def endpoint(self) -> str | None:
        for key in ENDPOINT_DIMENSIONS:
            if key in self.dimensions:
                return self.dimensions[key]
        return None

    @property
    def variant(self) -> str | None:
        return self.dimensions.get(VARIANT_DIMENSION)

    @property
    def transition_id(self) -> str:
        """What makes a delivery the same transition: alarm ARN, new state and its time."""
        return f"{self.alarm_arn}|{self.state}|{self.state_change_time.isoformat()}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "alarm_name": self.alarm_name,
            "alarm_arn": self.alarm_arn,
            "state": self.state,
            "previous_state": self.previous_state,
            "state_change_time": self.state_change_time.isoformat(),
            "reason": self.reason,
            "account": self.account,
            "region": self.region,
            "source": self.source,
            "namespace": self.namespace,
            "metric_name": self.metric_name,
            "dimensions": dict(self.dimensions),
            "expression": self.expression,
            "composite": self.composite,
            "endpoint": self.endpoint,
            "variant": self.variant,
        }


def parse_alarms(event: Any) -> list[AlarmEvent]:
    """Every alarm transition in a Lambda event (an SNS batch may carry several)."""
    if not isinstance(event, Mapping):
        raise AlarmParseError(f"event must be a JSON object, got {type(event).__name__}")
    if "Records" in event:
        return _parse_sns_batch(event["Records"])
    if "alarmData" in event:
        return [_parse_alarm_action(event)]
    if "detail-type" in event:
        return [_parse_eventbridge(event)]
    raise AlarmParseError("unrecognised event: expected SNS 'Records', EventBridge 'detail-type' or 'alarmData'")


# --- SNS -------------------------------------------------------------------------------


def _parse_sns_batch(records: Any) -> list[AlarmEvent]:
    if not isinstance(records, list) or not records:
        raise AlarmParseError("'Records' must be a non-empty list")
    alarms = []
    for index, record in enumerate(records):
        where = f"Records[{index}]"
        sns = _get(record, "Sns", dict, where)
        body = _get(sns, "Message", str, f"{where}.Sns")
        try:
            message = json.loads(body)
        except json.JSONDecodeError as error:
            raise AlarmParseError(f"{where}.Sns.Message is not JSON: {error.msg}") from None
        alarms.append(_parse_sns_message(message, f"{where}.Sns.Message"))
    return alarms


def _parse_sns_message(message: Any, where: str) -> AlarmEvent:
    arn = _get(message, "AlarmArn", str, where)
    account, region = _arn_account_region(arn, where)
    trigger = message.get("Trigger") if isinstance(message, Mapping) else None
    if trigger is None:
        # Composite alarms publish an AlarmRule and no Trigger.
        if "AlarmRule" not in message:
            raise AlarmParseError(f"{where}: missing 'Trigger' (metric alarm) or 'AlarmRule' (composite alarm)")
        metric = _Metric(composite=True)
    else:
        metric = _sns_trigger_metric(trigger, f"{where}.Trigger")
    return AlarmEvent(
        alarm_name=_get(message, "AlarmName", str, where),
        alarm_arn=arn,
        state=_state(_get(message, "NewStateValue", str, where), f"{where}.NewStateValue"),
        previous_state=_optional_state(message.get("OldStateValue"), f"{where}.OldStateValue"),
        state_change_time=_timestamp(_get(message, "StateChangeTime", str, where), f"{where}.StateChangeTime"),
        reason=str(message.get("NewStateReason", "")),
        account=str(message.get("AWSAccountId") or account),
        region=region,
        source="sns",
        namespace=metric.namespace,
        metric_name=metric.name,
        dimensions=metric.dimensions,
        expression=metric.expression,
        composite=metric.composite,
    )


def _sns_trigger_metric(trigger: Any, where: str) -> _Metric:
    if not isinstance(trigger, Mapping):
        raise AlarmParseError(f"{where} must be an object")
    if "Metrics" in trigger:
        queries = _get(trigger, "Metrics", list, where)
        return _merge_queries((_sns_query(query, f"{where}.Metrics[{i}]") for i, query in enumerate(queries)), where)
    dimensions = _dimension_list(_get(trigger, "Dimensions", list, where), f"{where}.Dimensions")
    return _Metric(
        namespace=_get(trigger, "Namespace", str, where),
        name=_get(trigger, "MetricName", str, where),
        dimensions=dimensions,
    )


def _sns_query(query: Any, where: str) -> _Metric:
    if not isinstance(query, Mapping):
        raise AlarmParseError(f"{where} must be an object")
    if "Expression" in query:
        return _Metric(expression=str(query["Expression"]), returns=bool(query.get("ReturnData", False)))
    stat = _get(query, "MetricStat", dict, where)
    metric = _get(stat, "Metric", dict, f"{where}.MetricStat")
    return _Metric(
        namespace=_get(metric, "Namespace", str, f"{where}.MetricStat.Metric"),
        name=_get(metric, "MetricName", str, f"{where}.MetricStat.Metric"),
        dimensions=_dimension_list(metric.get("Dimensions", []), f"{where}.MetricStat.Metric.Dimensions"),
        returns=bool(query.get("ReturnData", False)),
    )


def _dimension_list(items: Any, where: str) -> dict[str, str]:
    if not isinstance(items, list):
        raise AlarmParseError(f"{where} must be a list")
    dimensions = {}
    for i, item in enumerate(items):
        # CloudWatch's SNS message uses lower-case keys; accept the API's capitalised ones too.
        if not isinstance(item, Mapping):
            raise AlarmParseError(f"{where}[{i}] must be an object")
        name = item.get("name", item.get("Name"))
        value = item.get("value", item.get("Value"))
        if not isinstance(name, str) or not isinstance(value, str):
            raise AlarmParseError(f"{where}[{i}] needs string 'name' and 'value'")
        dimensions[name] = value
    return dimensions


# --- EventBridge and direct alarm actions ----------------------------------------------


def _parse_eventbridge(event: Mapping[str, Any]) -> AlarmEvent:
    detail_type = event.get("detail-type")
    if detail_type != ALARM_STATE_CHANGE:
        raise AlarmParseError(f"unsupported detail-type {detail_type!r}: expected {ALARM_STATE_CHANGE!r}")
    if event.get("source") != "aws.cloudwatch":
        raise AlarmParseError(f"unsupported source {event.get('source')!r}: expected 'aws.cloudwatch'")
    resources = _get(event, "resources", list, "event")
    if not resources or not isinstance(resources[0], str):
        raise AlarmParseError("event.resources must hold the alarm ARN")
    return _parse_alarm_detail(_get(event, "detail", dict, "event"), resources[0], "detail", "eventbridge")


def _parse_alarm_action(event: Mapping[str, Any]) -> AlarmEvent:
    if event.get("source") != "aws.cloudwatch":
        raise AlarmParseError(f"unsupported source {event.get('source')!r}: expected 'aws.cloudwatch'")
    arn = _get(event, "alarmArn", str, "event")
    return _parse_alarm_detail(_get(event, "alarmData", dict, "event"), arn, "alarmData", "alarm-action")


def _parse_alarm_detail(detail: Mapping[str, Any], arn: str, where: str, source: Any) -> AlarmEvent:
    account, region = _arn_account_region(arn, where)
    state = _get(detail, "state", dict, where)
    previous = detail.get("previousState")
    configuration = _get(detail, "configuration", dict, where)
    if "metrics" in configuration:
        queries = _get(configuration, "metrics", list, f"{where}.configuration")
        metric = _merge_queries(
            (_eventbridge_query(q, f"{where}.configuration.metrics[{i}]") for i, q in enumerate(queries)),
            f"{where}.configuration",
        )
    elif "alarmRule" in configuration:
        metric = _Metric(composite=True)
    else:
        raise AlarmParseError(f"{where}.configuration has neither 'metrics' nor 'alarmRule'")
    return AlarmEvent(
        alarm_name=_get(detail, "alarmName", str, where),
        alarm_arn=arn,
        state=_state(_get(state, "value", str, f"{where}.state"), f"{where}.state.value"),
        previous_state=_optional_state(
            previous.get("value") if isinstance(previous, Mapping) else None, f"{where}.previousState.value"
        ),
        state_change_time=_timestamp(_get(state, "timestamp", str, f"{where}.state"), f"{where}.state.timestamp"),
        reason=str(state.get("reason", "")),
        account=account,
        region=region,
        source=source,
        namespace=metric.namespace,
        metric_name=metric.name,
        dimensions=metric.dimensions,
        expression=metric.expression,
        composite=metric.composite,
    )


def _eventbridge_query(query: Any, where: str) -> _Metric:
    if not isinstance(query, Mapping):
        raise AlarmParseError(f"{where} must be an object")
    # An expression query has no metricStat (Powertools' data class raises KeyError here).
    if "expression" in query:
        return _Metric(expression=str(query["expression"]), returns=bool(query.get("returnData", False)))
    stat = _get(query, "metricStat", dict, where)
    metric = _get(stat, "metric", dict, f"{where}.metricStat")
    dimensions = metric.get("dimensions", {})
    if not isinstance(dimensions, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in dimensions.items()
    ):
        raise AlarmParseError(f"{where}.metricStat.metric.dimensions must be an object of strings")
    return _Metric(
        namespace=_get(metric, "namespace", str, f"{where}.metricStat.metric"),
        name=_get(metric, "name", str, f"{where}.metricStat.metric"),
        dimensions=dict(dimensions),
        returns=bool(query.get("returnData", True)),
    )


# --- shared pieces ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Metric:
    namespace: str | None = None
    name: str | None = None
    dimensions: dict[str, str] = field(default_factory=dict)
    expression: str | None = None
    composite: bool = False
    returns: bool = True


def _merge_queries(queries: Iterable[_Metric], where: str) -> _Metric:
    """One metric for a list of metric queries.

    A single metric query is the metric itself. For metric math the alarm watches an
    expression: there is no single metric name, and a dimension is kept only where every
    metric query that names it agrees (an alarm over two endpoints names neither).
    """
    items = list(queries)
    if not items:
        raise AlarmParseError(f"{where}: the alarm has no metric queries")
    expressions = [q for q in items if q.expression is not None]
    stats = [q for q in items if q.expression is None]
    if not expressions and len(stats) == 1:
        return stats[0]
    values: dict[str, set[str]] = {}
    for query in stats:
        for name, value in query.dimensions.items():
            values.setdefault(name, set()).add(value)
    agreed = {name: next(iter(found)) for name, found in values.items() if len(found) == 1}
    namespaces = {q.namespace for q in stats}
    watched = next((q.expression for q in expressions if q.returns), None) or (
        expressions[0].expression if expressions else None
    )
    return _Metric(
        namespace=namespaces.pop() if len(namespaces) == 1 else None,
        name=None,
        dimensions=agreed,
        expression=watched,
    )


_KIND_NAMES: dict[type, str] = {str: "string", list: "list", dict: "object"}


def _get(container: Any, key: str, kind: type, where: str) -> Any:
    if not isinstance(container, Mapping):
        raise AlarmParseError(f"{where} must be an object")
    if key not in container:
        raise AlarmParseError(f"{where}: missing '{key}'")
    value = container[key]
    if not isinstance(value, kind) or (kind is str and not value):
        article = "a non-empty" if kind is str else "a" if kind is list else "an"
        raise AlarmParseError(f"{where}.{key} must be {article} {_KIND_NAMES.get(kind, kind.__name__)}")
    return value


def _state(value: str, where: str) -> AlarmState:
    if value not in STATES:
        raise AlarmParseError(f"{where} is {value!r}: expected one of {sorted(STATES)}")
    return value  # type: ignore[return-value]


def _optional_state(value: Any, where: str) -> AlarmState | None:
    return None if value is None else _state(str(value), where)


def _timestamp(value: str, where: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise AlarmParseError(f"{where} is not an ISO 8601 time: {value!r}") from None
    if parsed.tzinfo is None:
        raise AlarmParseError(f"{where} has no time zone: {value!r}")
    return parsed.astimezone(UTC)


def _arn_account_region(arn: str, where: str) -> tuple[str, str]:
    parts = arn.split(":", 6)
    if len(parts) != 7 or parts[0] != "arn" or parts[2] != "cloudwatch" or parts[5] != "alarm":
        raise AlarmParseError(f"{where}: {arn!r} is not a CloudWatch alarm ARN")
    return parts[4], parts[3]
