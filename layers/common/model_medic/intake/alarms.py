"""Alarm intake: every shape in which a CloudWatch alarm reaches a function, as one `AlarmEvent`.

Three shapes arrive (docs/aws-behaviours.md, "Alarm messages"):

* SNS: `Records[].Sns.Message` is the JSON CloudWatch publishes to an alarm's topic;
  a single-metric alarm's `Trigger.Dimensions` is a list of `{"value", "name"}` (lower case).
* EventBridge: `detail-type` "CloudWatch Alarm State Change"; `detail.configuration.metrics[]`
  with `metricStat.metric.dimensions` as an object.
* Direct alarm action (the alarm invokes the function itself): `alarmData`, shaped like
  the EventBridge `detail`.

Metric-math alarms carry several metric queries (the endpoint comes from the ones that
name it); composite alarms carry none, so they have no endpoint. Anything else raises
`AlarmParseError` saying what is wrong.

This module is also the intake's one place for what AWS accepts: every field of an event
that reaches AWS (a SageMaker call, a ledger key or item, an SNS message or attribute, an
EventBridge event) is checked and bounded here, before anything is read or written, so
that a value AWS would refuse is a clean rejection, never an exception after a decision.
The limits, with where they come from (botocore's service models are those of the boto3
pinned in layers/common/requirements.txt):

* CloudWatch (botocore `cloudwatch/2010-08-01/service-2.json`): `AlarmName` 1-255,
  `AlarmArn` 1-1600, `MetricName` 1-255, `Namespace` 1-255 not starting with ':',
  `DimensionName` 1-255, `DimensionValue` 1-1024, at most 30 `Dimensions`,
  `StateReason` 0-1023, `MetricExpression` 1-2048. An alarm name "must contain only UTF-8
  characters, and can't contain ASCII control characters" (PutMetricAlarm); dimension
  names and values "must contain only ASCII characters and must include at least one
  non-whitespace character. ASCII control characters are not supported" (API_Dimension).
* SageMaker (botocore `sagemaker/2017-07-24/service-2.json`): `EndpointName`,
  `VariantName` and `EndpointConfigName` match `[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}`
  (at most 63 characters).
* DynamoDB (Developer Guide, "Constraints": partition and sort keys): a partition key value
  is 1-2048 bytes, a sort key value 1-1024 bytes, strings are UTF-8. The ledger's keys
  hold the endpoint name and times (docs/rooms/store.md), bounded by the SageMaker pattern and
  `EARLIEST`/`LATEST`; nothing else of an event goes into a key.
* SNS (API_MessageAttributeValue): "Name, type, and value must not be empty or null";
  strings are UTF-8, 256 KB per message (outcome.py sends attributes only with a value).
* EventBridge (botocore `events/2015-10-07/service-2.json`): a resource ARN is at most
  2048 characters.
* S3 (User Guide, "Naming Amazon S3 objects"): an object key is UTF-8 "with a maximum
  length of 1,024 bytes" (ground-truth keys, `triggers.object_created`).
* Every string AWS receives must encode to UTF-8 (a lone surrogate cannot: a
  `UnicodeEncodeError` in the request) and, for the Query (XML) APIs of SNS and
  CloudWatch, carry no control character other than tab, line feed and return.
"""

from __future__ import annotations

import json
import re
import reprlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, cast

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient

AlarmState = Literal["ALARM", "OK", "INSUFFICIENT_DATA"]
STATES: frozenset[str] = frozenset({"ALARM", "OK", "INSUFFICIENT_DATA"})

ALARM_STATE_CHANGE = "CloudWatch Alarm State Change"

# SageMaker publishes EndpointName; Model Monitor publishes Endpoint (docs/aws-behaviours.md,
# "SageMaker metrics and units").
ENDPOINT_DIMENSIONS = ("EndpointName", "Endpoint")
VARIANT_DIMENSION = "VariantName"

# --- what AWS accepts (sources in the module docstring) ------------------------------------

ALARM_NAME_MAX = 255
ALARM_ARN_MAX = 1600
METRIC_NAME_MAX = 255
NAMESPACE_MAX = 255
DIMENSION_NAME_MAX = 255
DIMENSION_VALUE_MAX = 1024
DIMENSIONS_MAX = 30
STATE_REASON_MAX = 1023
EXPRESSION_MAX = 2048
RESOURCE_ARN_MAX = 2048
S3_KEY_MAX_BYTES = 1024
# SageMaker's EndpointName / VariantName / EndpointConfigName (whole string, so at most 63).
SAGEMAKER_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
ACCOUNT_ID = re.compile(r"[0-9]{12}")
REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}")
# A transition or schedule time outside these is not CloudWatch's or EventBridge's (and
# would overflow the loop's date arithmetic: verification windows, TTLs, cool-downs).
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
# No control characters (C0, DEL), no lone surrogates (not UTF-8), no U+FFFE/U+FFFF (not XML).
_NOT_IN_NAMES = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
# Free text (a state reason, an expression) may break lines.
_NOT_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_NOT_ASCII = re.compile(r"[^\x20-\x7e]")


class BadEvent(ValueError):
    """The event is not one this function understands (an alarm, a schedule, an S3 key, a
    package or deploy request ...); nothing was done, and it is rejected, never retried."""


class AlarmParseError(BadEvent):
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
        except RecursionError:
            raise AlarmParseError(f"{where}.Sns.Message is nested too deeply") from None
        alarms.append(_parse_sns_message(message, f"{where}.Sns.Message"))
    return alarms


def _parse_sns_message(message: Any, where: str) -> AlarmEvent:
    if not isinstance(message, Mapping):
        raise AlarmParseError(f"{where} must be a JSON object")
    arn = _alarm_arn(_get(message, "AlarmArn", str, where), f"{where}.AlarmArn")
    account, region = _arn_account_region(arn, where)
    if message.get("AWSAccountId") is not None:
        account = _account(message["AWSAccountId"], f"{where}.AWSAccountId")
    trigger = message.get("Trigger")
    if trigger is None:
        # Composite alarms publish an AlarmRule and no Trigger.
        if "AlarmRule" not in message:
            raise AlarmParseError(f"{where}: missing 'Trigger' (metric alarm) or 'AlarmRule' (composite alarm)")
        metric = _Metric(composite=True)
    else:
        metric = _sns_trigger_metric(trigger, f"{where}.Trigger")
    return AlarmEvent(
        alarm_name=bounded_name(_get(message, "AlarmName", str, where), f"{where}.AlarmName", ALARM_NAME_MAX),
        alarm_arn=arn,
        state=_state(_get(message, "NewStateValue", str, where), f"{where}.NewStateValue"),
        previous_state=_optional_state(message.get("OldStateValue"), f"{where}.OldStateValue"),
        state_change_time=bounded_time(_get(message, "StateChangeTime", str, where), f"{where}.StateChangeTime"),
        reason=_text(message.get("NewStateReason"), f"{where}.NewStateReason", STATE_REASON_MAX),
        account=account,
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
        namespace=_namespace(_get(trigger, "Namespace", str, where), f"{where}.Namespace"),
        name=bounded_name(_get(trigger, "MetricName", str, where), f"{where}.MetricName", METRIC_NAME_MAX),
        dimensions=dimensions,
    )


def _sns_query(query: Any, where: str) -> _Metric:
    if not isinstance(query, Mapping):
        raise AlarmParseError(f"{where} must be an object")
    if "Expression" in query:
        expression = _text(query["Expression"], f"{where}.Expression", EXPRESSION_MAX, required=True)
        return _Metric(expression=expression, returns=bool(query.get("ReturnData", False)))
    stat = _get(query, "MetricStat", dict, where)
    metric = _get(stat, "Metric", dict, f"{where}.MetricStat")
    at = f"{where}.MetricStat.Metric"
    return _Metric(
        namespace=_namespace(_get(metric, "Namespace", str, at), f"{at}.Namespace"),
        name=bounded_name(
            _get(metric, "MetricName", str, f"{where}.MetricStat.Metric"), f"{where}.MetricName", METRIC_NAME_MAX
        ),
        dimensions=_dimension_list(metric.get("Dimensions", []), f"{where}.MetricStat.Metric.Dimensions"),
        returns=bool(query.get("ReturnData", False)),
    )


def _dimension_list(items: Any, where: str) -> dict[str, str]:
    if not isinstance(items, list):
        raise AlarmParseError(f"{where} must be a list")
    pairs = []
    for i, item in enumerate(items):
        # CloudWatch's SNS message uses lower-case keys; accept the API's capitalised ones too.
        if not isinstance(item, Mapping):
            raise AlarmParseError(f"{where}[{i}] must be an object")
        pairs.append((item.get("name", item.get("Name")), item.get("value", item.get("Value")), f"{where}[{i}]"))
    return _dimensions(pairs, where)


# --- EventBridge and direct alarm actions ----------------------------------------------


def _parse_eventbridge(event: Mapping[str, Any]) -> AlarmEvent:
    detail_type = event.get("detail-type")
    if detail_type != ALARM_STATE_CHANGE:
        raise AlarmParseError(f"unsupported detail-type {shown(detail_type)}: expected {ALARM_STATE_CHANGE!r}")
    if event.get("source") != "aws.cloudwatch":
        raise AlarmParseError(f"unsupported source {shown(event.get('source'))}: expected 'aws.cloudwatch'")
    resources = _get(event, "resources", list, "event")
    if not resources or not isinstance(resources[0], str):
        raise AlarmParseError("event.resources must hold the alarm ARN")
    arn = _alarm_arn(resources[0], "event.resources[0]")
    return _parse_alarm_detail(_get(event, "detail", dict, "event"), arn, "detail", "eventbridge")


def _parse_alarm_action(event: Mapping[str, Any]) -> AlarmEvent:
    if event.get("source") != "aws.cloudwatch":
        raise AlarmParseError(f"unsupported source {shown(event.get('source'))}: expected 'aws.cloudwatch'")
    arn = _alarm_arn(_get(event, "alarmArn", str, "event"), "event.alarmArn")
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
        alarm_name=bounded_name(_get(detail, "alarmName", str, where), f"{where}.alarmName", ALARM_NAME_MAX),
        alarm_arn=arn,
        state=_state(_get(state, "value", str, f"{where}.state"), f"{where}.state.value"),
        previous_state=_optional_state(
            previous.get("value") if isinstance(previous, Mapping) else None, f"{where}.previousState.value"
        ),
        state_change_time=bounded_time(_get(state, "timestamp", str, f"{where}.state"), f"{where}.state.timestamp"),
        reason=_text(state.get("reason"), f"{where}.state.reason", STATE_REASON_MAX),
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
        expression = _text(query["expression"], f"{where}.expression", EXPRESSION_MAX, required=True)
        return _Metric(expression=expression, returns=bool(query.get("returnData", False)))
    stat = _get(query, "metricStat", dict, where)
    metric = _get(stat, "metric", dict, f"{where}.metricStat")
    dimensions = metric.get("dimensions", {})
    if not isinstance(dimensions, Mapping):
        raise AlarmParseError(f"{where}.metricStat.metric.dimensions must be an object of strings")
    return _Metric(
        namespace=_namespace(_get(metric, "namespace", str, f"{where}.metricStat.metric"), f"{where}.namespace"),
        name=bounded_name(_get(metric, "name", str, f"{where}.metricStat.metric"), f"{where}.name", METRIC_NAME_MAX),
        dimensions=_dimensions(
            [(key, value, f"{where}.metricStat.metric.dimensions") for key, value in dimensions.items()],
            f"{where}.metricStat.metric.dimensions",
        ),
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
        raise AlarmParseError(f"{where} is {shown(value)}: expected one of {sorted(STATES)}")
    return value  # type: ignore[return-value]


def _optional_state(value: Any, where: str) -> AlarmState | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise AlarmParseError(f"{where} must be a string, got {type(value).__name__}")
    return _state(value, where)


# --- the checks of what AWS accepts --------------------------------------------------------

# Messages quote at most this much of a bad value (a 300 KB value is not echoed to the logs).
_shown = reprlib.Repr(maxstring=80, maxother=80, maxlevel=2, maxlist=3, maxdict=3)


def shown(value: Any) -> str:
    """A bad value as a rejection quotes it: short, flat, ASCII (escapes, not surrogates)."""
    return _shown.repr(value).encode("ascii", "backslashreplace").decode("ascii")


def bounded_name(value: Any, where: str, longest: int) -> str:
    """A name AWS keeps (an alarm or metric name): 1-`longest` characters, no control characters."""
    return _bounded(value, where, longest, _NOT_IN_NAMES, required=True)


def sagemaker_name(value: Any, where: str) -> str:
    """A SageMaker endpoint, variant or endpoint config name (SageMaker's own pattern)."""
    if not isinstance(value, str) or not SAGEMAKER_NAME.fullmatch(value):
        raise AlarmParseError(
            f"{where} is {shown(value)}: not a SageMaker name (1-63 letters, digits and single hyphens between them)"
        )
    return value


def bounded_time(value: Any, where: str) -> datetime:
    """An ISO 8601 time with a zone, between `EARLIEST` and `LATEST`, in UTC."""
    if not isinstance(value, str) or len(value) > 64:
        raise AlarmParseError(f"{where} is not an ISO 8601 time: {shown(value)}")
    try:
        parsed = datetime.fromisoformat(value)
        utc = parsed.astimezone(UTC) if parsed.tzinfo is not None else None
    except (ValueError, OverflowError):
        raise AlarmParseError(f"{where} is not an ISO 8601 time: {shown(value)}") from None
    if utc is None:
        raise AlarmParseError(f"{where} has no time zone: {shown(value)}")
    if not EARLIEST <= utc < LATEST:
        raise AlarmParseError(f"{where} is {shown(value)}: outside {EARLIEST.year}-{LATEST.year - 1}")
    return utc


def _text(value: Any, where: str, longest: int, required: bool = False) -> str:
    """Free text AWS receives (a state reason, an expression): line breaks allowed; absent is ''."""
    if value is None and not required:
        return ""
    return _bounded(value, where, longest, _NOT_IN_TEXT, required)


def _bounded(value: Any, where: str, longest: int, forbidden: re.Pattern[str], required: bool) -> str:
    if not isinstance(value, str) or (required and not value):
        raise AlarmParseError(f"{where} must be {'a non-empty' if required else 'a'} string")
    if len(value) > longest:
        raise AlarmParseError(f"{where} is {len(value)} characters long: AWS allows at most {longest}")
    bad = forbidden.search(value)
    if bad:
        raise AlarmParseError(f"{where} holds {shown(bad.group())}, which AWS does not accept there")
    return value


def _namespace(value: str, where: str) -> str:
    if value.startswith(":"):
        raise AlarmParseError(f"{where} must not start with ':'")
    return bounded_name(value, where, NAMESPACE_MAX)


def _dimensions(pairs: list[tuple[Any, Any, str]], where: str) -> dict[str, str]:
    """Dimension name/value pairs as CloudWatch allows them; SageMaker's names as SageMaker does."""
    if len(pairs) > DIMENSIONS_MAX:
        raise AlarmParseError(f"{where} has {len(pairs)} dimensions: CloudWatch allows at most {DIMENSIONS_MAX}")
    dimensions: dict[str, str] = {}
    for key, value, at in pairs:
        if not isinstance(key, str) or not isinstance(value, str):
            raise AlarmParseError(f"{at} needs string 'name' and 'value'")
        for part, text, longest in (("name", key, DIMENSION_NAME_MAX), ("value", value, DIMENSION_VALUE_MAX)):
            if not text.strip() or len(text) > longest or _NOT_ASCII.search(text):
                raise AlarmParseError(
                    f"{at}: dimension {part} {shown(text)} is not 1-{longest} printable ASCII characters "
                    "with one that is not a space"
                )
        if key.startswith(":"):
            raise AlarmParseError(f"{at}: dimension name {shown(key)} starts with ':'")
        if key in (*ENDPOINT_DIMENSIONS, VARIANT_DIMENSION):
            sagemaker_name(value, f"{at}.{key}")
        dimensions[key] = value
    return dimensions


def _alarm_arn(arn: str, where: str) -> str:
    if len(arn) > ALARM_ARN_MAX:
        raise AlarmParseError(f"{where} is {len(arn)} characters long: CloudWatch allows at most {ALARM_ARN_MAX}")
    _arn_account_region(arn, where)
    return arn


def _account(value: Any, where: str) -> str:
    if not isinstance(value, str) or not ACCOUNT_ID.fullmatch(value):
        raise AlarmParseError(f"{where} is {shown(value)}: not a 12-digit AWS account ID")
    return value


def _arn_account_region(arn: str, where: str) -> tuple[str, str]:
    parts = arn.split(":", 6)
    if (
        len(parts) != 7
        or parts[0] != "arn"
        or not parts[1].startswith("aws")
        or parts[2:6:3] != ["cloudwatch", "alarm"]
    ):
        raise AlarmParseError(f"{where}: {shown(arn)} is not a CloudWatch alarm ARN")
    if not parts[1].startswith("aws") or not ACCOUNT_ID.fullmatch(parts[4]) or not REGION.fullmatch(parts[3]):
        raise AlarmParseError(f"{where}: {shown(arn)} has no valid Region and account")
    bounded_name(parts[6], f"{where} (alarm name)", ALARM_NAME_MAX)
    return parts[4], parts[3]


def describe_alarms(cloudwatch: CloudWatchClient, names: list[str]) -> dict[str, dict[str, Any]]:
    """The metric alarms of these names, by name (DescribeAlarms takes up to 100 names a call)."""
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(names), 100):
        kwargs: dict[str, Any] = {"AlarmNames": names[start : start + 100], "AlarmTypes": ["MetricAlarm"]}
        while True:
            page = cloudwatch.describe_alarms(**kwargs)
            # The callers read an alarm as a plain mapping (control/loop.py, fleet/alarm_manager.py).
            found.update({a["AlarmName"]: cast("dict[str, Any]", a) for a in page.get("MetricAlarms", [])})
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
