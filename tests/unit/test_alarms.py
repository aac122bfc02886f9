"""The alarm intake parser against every real-shaped event under events/alarms and malformed ones."""

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from model_medic.intake.triggers import AlarmEvent, AlarmParseError, parse_alarms
from tests.conftest import load_event

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)

# Changes a parsed SNS message or EventBridge event in place (what it returns is unused).
type Mutate = Callable[[dict[str, Any]], object]


def only(event: object) -> AlarmEvent:
    alarms = parse_alarms(event)
    assert len(alarms) == 1
    return alarms[0]


def test_sns_single_metric_alarm_has_lower_case_dimensions_as_a_dict() -> None:
    alarm = only(load_event("alarms/sns_high_latency_alarm.json"))
    assert alarm.source == "sns"
    assert alarm.alarm_name == "churn-prod-HighLatency"
    assert alarm.alarm_arn == "arn:aws:cloudwatch:us-east-1:123456789012:alarm:churn-prod-HighLatency"
    assert (alarm.state, alarm.previous_state) == ("ALARM", "OK")
    assert alarm.state_change_time == T0
    assert (alarm.namespace, alarm.metric_name) == ("Custom/SageMaker", "TotalLatency")
    assert dict(alarm.dimensions) == {"EndpointName": "churn-prod"}
    assert (alarm.endpoint, alarm.variant) == ("churn-prod", None)
    assert (alarm.account, alarm.region) == ("123456789012", "us-east-1")
    assert alarm.reason.startswith("Threshold Crossed")
    assert not alarm.composite


def test_sns_ok_and_insufficient_data_are_parsed_not_rejected() -> None:
    ok = only(load_event("alarms/sns_high_error_rate_ok.json"))
    assert (ok.state, ok.previous_state, ok.metric_name) == ("OK", "ALARM", "ErrorRate")
    insufficient = only(load_event("alarms/sns_insufficient_data.json"))
    assert insufficient.state == "INSUFFICIENT_DATA"


def test_model_monitor_endpoint_dimension_names_the_endpoint() -> None:
    alarm = only(load_event("alarms/sns_model_monitor_drift.json"))
    assert alarm.endpoint == "churn-prod"
    assert alarm.dimensions["MonitoringSchedule"] == "churn-prod-data-quality"
    assert (alarm.namespace, alarm.metric_name) == (
        "aws/sagemaker/Endpoints/data-metrics",
        "feature_baseline_drift_age",
    )


def test_sns_metric_math_alarm_keeps_agreed_dimensions_and_the_watched_expression() -> None:
    alarm = only(load_event("alarms/sns_metric_math_alarm.json"))
    assert alarm.metric_name is None
    assert alarm.namespace == "AWS/SageMaker"
    assert alarm.expression == "100*(m1+m2)/m3"
    assert (alarm.endpoint, alarm.variant) == ("churn-prod", "AllTraffic")


def test_metric_math_over_two_endpoints_names_neither() -> None:
    event = load_event("alarms/sns_metric_math_alarm.json")
    message = json.loads(event["Records"][0]["Sns"]["Message"])
    message["Trigger"]["Metrics"][2]["MetricStat"]["Metric"]["Dimensions"][0]["value"] = "fraud-prod"
    event["Records"][0]["Sns"]["Message"] = json.dumps(message)
    alarm = only(event)
    assert alarm.endpoint is None
    assert alarm.variant == "AllTraffic"


def test_sns_composite_alarm_has_no_metric_and_no_endpoint() -> None:
    alarm = only(load_event("alarms/sns_composite_alarm.json"))
    assert alarm.composite
    assert alarm.endpoint is None
    assert alarm.metric_name is None


def test_sns_batch_yields_every_record_in_order() -> None:
    alarms = parse_alarms(load_event("alarms/sns_batch_two_records.json"))
    assert [a.endpoint for a in alarms] == ["churn-prod", "fraud-prod"]
    assert alarms[0].transition_id != alarms[1].transition_id


def test_eventbridge_state_change_has_dimension_objects() -> None:
    alarm = only(load_event("alarms/eventbridge_alarm_state_change.json"))
    assert alarm.source == "eventbridge"
    assert alarm.alarm_name == "churn-prod-canary-ErrorRate"
    assert (alarm.endpoint, alarm.variant) == ("churn-prod", "canary")
    assert (alarm.namespace, alarm.metric_name) == ("AWS/SageMaker", "Invocation5XXErrors")
    assert (alarm.state, alarm.previous_state) == ("ALARM", "OK")
    assert alarm.state_change_time == T0


def test_eventbridge_metric_math_guards_the_expression_query() -> None:
    alarm = only(load_event("alarms/eventbridge_metric_math.json"))
    assert alarm.expression == "100*m1/m2"
    assert (alarm.endpoint, alarm.variant) == ("churn-prod", "canary")


def test_eventbridge_composite_alarm() -> None:
    alarm = only(load_event("alarms/eventbridge_composite.json"))
    assert alarm.composite
    assert alarm.endpoint is None


def test_direct_alarm_action_payload() -> None:
    alarm = only(load_event("alarms/alarm_action_direct.json"))
    assert alarm.source == "alarm-action"
    assert alarm.alarm_name == "churn-prod-ModelAccuracyDrop"
    assert (alarm.namespace, alarm.metric_name) == ("Custom/SageMaker", "accuracy")
    assert alarm.endpoint == "churn-prod"


def test_the_same_transition_has_the_same_id_in_every_shape() -> None:
    sns = only(load_event("alarms/sns_high_latency_alarm.json"))
    again = only(load_event("alarms/sns_high_latency_alarm.json"))
    assert sns.transition_id == again.transition_id
    assert "2026-11-22T10:00:00+00:00" in sns.transition_id


def _sns_with(mutate: Mutate) -> dict[str, Any]:
    event: dict[str, Any] = load_event("alarms/sns_high_latency_alarm.json")
    message = json.loads(event["Records"][0]["Sns"]["Message"])
    mutate(message)
    event["Records"][0]["Sns"]["Message"] = json.dumps(message)
    return event


def _eventbridge_with(mutate: Mutate) -> dict[str, Any]:
    event: dict[str, Any] = copy.deepcopy(load_event("alarms/eventbridge_alarm_state_change.json"))
    mutate(event)
    return event


@pytest.mark.parametrize(
    ("event", "says"),
    [
        ("not an object", "must be a JSON object"),
        ([], "must be a JSON object"),
        ({}, "unrecognised event"),
        ({"Records": []}, "non-empty list"),
        ({"Records": [{}]}, "missing 'Sns'"),
        ({"Records": [{"Sns": {"Message": "not json"}}]}, "is not JSON"),
        ({"Records": [{"Sns": {"Message": 7}}]}, "Message must be a non-empty string"),
        (_sns_with(lambda m: m.pop("AlarmArn")), "missing 'AlarmArn'"),
        (_sns_with(lambda m: m.update(NewStateValue="BROKEN")), "expected one of"),
        (_sns_with(lambda m: m.update(StateChangeTime="yesterday")), "not an ISO 8601 time"),
        (_sns_with(lambda m: m.update(StateChangeTime="2026-11-22T10:00:00")), "no time zone"),
        (_sns_with(lambda m: m.update(AlarmArn="arn:aws:sns:us-east-1:1:topic")), "not a CloudWatch alarm ARN"),
        (_sns_with(lambda m: m.pop("Trigger")), "missing 'Trigger'"),
        (_sns_with(lambda m: m["Trigger"].update(Dimensions="EndpointName=x")), "Dimensions must be a list"),
        (_sns_with(lambda m: m["Trigger"].update(Dimensions=[{"name": "EndpointName"}])), "string 'name' and 'value'"),
        (_sns_with(lambda m: m["Trigger"].update(Metrics=[])), "no metric queries"),
        (
            _eventbridge_with(lambda e: e.update({"detail-type": "EC2 Instance State-change Notification"})),
            "unsupported detail-type",
        ),
        (_eventbridge_with(lambda e: e.update(source="aws.ec2")), "unsupported source"),
        (_eventbridge_with(lambda e: e.update(resources=[])), "must hold the alarm ARN"),
        (_eventbridge_with(lambda e: e["detail"].pop("state")), "missing 'state'"),
        (
            _eventbridge_with(lambda e: e["detail"]["state"].update(timestamp=17)),
            "timestamp must be a non-empty string",
        ),
        (_eventbridge_with(lambda e: e["detail"].update(configuration={})), "neither 'metrics' nor 'alarmRule'"),
        (
            _eventbridge_with(
                lambda e: e["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"].update(
                    dimensions=[{"name": "EndpointName", "value": "x"}]
                )
            ),
            "dimensions must be an object",
        ),
        ({"source": "aws.cloudwatch", "alarmData": {}}, "missing 'alarmArn'"),
    ],
)
def test_malformed_events_are_rejected_saying_what_is_wrong(event: object, says: str) -> None:
    with pytest.raises(AlarmParseError, match=says):
        parse_alarms(event)


def _dimension(name: str, value: object) -> Mutate:
    return lambda m: m["Trigger"].update(Dimensions=[{"name": name, "value": value}])


def _eb_dimensions(dimensions: object) -> Mutate:
    return lambda e: e["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"].update(dimensions=dimensions)


# Every limit of what AWS accepts (alarms.py's docstring), at and one past the edge.
@pytest.mark.parametrize(
    ("event", "says"),
    [
        (_sns_with(lambda m: m.update(AlarmName="a" * 256)), "256 characters long: AWS allows at most 255"),
        (_sns_with(lambda m: m.update(AlarmName="")), "AlarmName must be a non-empty string"),
        (_sns_with(lambda m: m.update(AlarmName="High\x00Latency")), r"holds '\\x00'"),
        (_sns_with(lambda m: m.update(AlarmName="High\ud800Latency")), r"holds '\\ud800'"),
        (_sns_with(lambda m: m.update(AlarmArn=m["AlarmArn"] + "x" * 1600)), "CloudWatch allows at most 1600"),
        (_sns_with(lambda m: m.update(AlarmArn="arn:aws:cloudwatch:us-east-1:1234:alarm:x")), "no valid Region"),
        (_sns_with(lambda m: m.update(AWSAccountId=["123456789012"])), "not a 12-digit AWS account ID"),
        (_sns_with(lambda m: m.update(NewStateReason="r" * 1024)), "AWS allows at most 1023"),
        (_sns_with(lambda m: m.update(NewStateReason={"a": 1})), "NewStateReason must be a string"),
        (_sns_with(lambda m: m.update(OldStateValue=["OK"])), "OldStateValue must be a string"),
        (_sns_with(lambda m: m.update(StateChangeTime="0001-01-01T00:00:00+14:00")), "not an ISO 8601 time"),
        (_sns_with(lambda m: m.update(StateChangeTime="9999-12-31T23:59:59+00:00")), "outside 2000-2099"),
        (_sns_with(lambda m: m.update(StateChangeTime="1" * 70_000)), "not an ISO 8601 time"),
        (_sns_with(lambda m: m["Trigger"].update(MetricName="m" * 256)), "AWS allows at most 255"),
        (_sns_with(lambda m: m["Trigger"].update(Namespace=":AWS/SageMaker")), "must not start with ':'"),
        (_sns_with(_dimension("EndpointName", ["churn-prod"])), "string 'name' and 'value'"),
        (_sns_with(_dimension("EndpointName", {"a": "b"})), "string 'name' and 'value'"),
        (_sns_with(_dimension("EndpointName", "")), "is not 1-1024 printable ASCII"),
        (_sns_with(_dimension("EndpointName", "   ")), "is not 1-1024 printable ASCII"),
        (_sns_with(_dimension("Feature", "f" * 1025)), "is not 1-1024 printable ASCII"),
        (_sns_with(_dimension("Feature", "caf\u00e9")), "is not 1-1024 printable ASCII"),
        (_sns_with(_dimension("d" * 256, "x")), "is not 1-255 printable ASCII"),
        (_sns_with(_dimension(":Endpoint", "x")), "starts with ':'"),
        (_sns_with(_dimension("EndpointName", "churn_prod")), "not a SageMaker name"),
        (_sns_with(_dimension("EndpointName", "-churn-prod")), "not a SageMaker name"),
        (_sns_with(_dimension("EndpointName", "e" * 64)), "not a SageMaker name"),
        (_sns_with(_dimension("VariantName", "canary variant")), "not a SageMaker name"),
        (
            _sns_with(lambda m: m["Trigger"].update(Dimensions=[{"name": f"D{i}", "value": "x"} for i in range(31)])),
            "31 dimensions: CloudWatch allows at most 30",
        ),
        (_eventbridge_with(_eb_dimensions({"EndpointName": ["churn-prod"]})), "string 'name' and 'value'"),
        (_eventbridge_with(_eb_dimensions({"EndpointName": "churn-prod\ud800"})), "printable ASCII"),
        (_eventbridge_with(lambda e: e.update(resources=["x" * 1601])), "CloudWatch allows at most 1600"),
        (_eventbridge_with(lambda e: e["detail"]["state"].update(reason=7)), "state.reason must be a string"),
        (
            _eventbridge_with(lambda e: e["detail"]["configuration"]["metrics"][0].update(expression=["1+1"])),
            "expression must be a non-empty string",
        ),
    ],
)
def test_a_value_aws_would_refuse_is_rejected_at_intake_saying_which_limit(event: object, says: str) -> None:
    with pytest.raises(AlarmParseError, match=says):
        parse_alarms(event)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda m: m.update(AlarmName="a" * 255),
        lambda m: m.update(AlarmName="Latenz über 1 s"),  # UTF-8 names are CloudWatch's
        lambda m: m.update(NewStateReason="r" * 1023),
        lambda m: m.pop("NewStateReason"),
        _dimension("EndpointName", "e" * 63),
        _dimension("EndpointName", "a--b-9"),
        _dimension("Feature", "f" * 1024),
    ],
)
def test_values_at_the_limits_are_accepted(mutate: Mutate) -> None:
    only(_sns_with(mutate))


def test_a_rejection_quotes_a_huge_value_short_and_in_ascii() -> None:
    with pytest.raises(AlarmParseError) as raised:
        parse_alarms(_sns_with(lambda m: m.update(NewStateValue="\ud800" + "A" * 300_000)))
    message = str(raised.value)
    assert len(message) < 200
    message.encode("ascii")
