"""The backtest's pure parts: alarm history read as transitions (AWS's own example), the messages an
alarm sends (read back by the functions' intake), the replay's order, capacity integrated over time."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from model_medic.backtest.history import (
    Transition,
    alarm_action_event,
    opening_state,
    read_item,
    read_items,
    sns_event,
    sns_message,
    stamp,
)
from model_medic.backtest.replay import Event, page, scheduled, timeline
from model_medic.backtest.snapshot import AlarmSeed
from model_medic.backtest.view import compare, held
from model_medic.intake.triggers import Tick, parse_alarms, remediation
from model_medic.store.incidents import opened
from model_medic.store.journal import Decision

REAL = Path(__file__).resolve().parents[1] / "data" / "real" / "awscli-describe-alarm-history.json"
T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
ALARM: dict[str, Any] = {
    "AlarmName": "churn-prod-HighLatency",
    "AlarmArn": "arn:aws:cloudwatch:us-east-1:000000000000:alarm:churn-prod-HighLatency",
    "AlarmDescription": "Model Medic: total latency (ms) of churn-prod above 1000",
    "MetricName": "TotalLatency",
    "Namespace": "Custom/SageMaker",
    "Statistic": "Average",
    "Dimensions": [{"Name": "EndpointName", "Value": "churn-prod"}],
    "Period": 300,
    "EvaluationPeriods": 2,
    "DatapointsToAlarm": 2,
    "Threshold": 1000.0,
    "ComparisonOperator": "GreaterThanThreshold",
    "TreatMissingData": "notBreaching",
    "StateValue": "ALARM",
}


def change(at: datetime, old: str, new: str, alarm: str = "churn-prod-HighLatency") -> Transition:
    return Transition(alarm, at, old, new, f"went {new}", "")


# --- history ------------------------------------------------------------------------------------


def test_aws_own_example_of_alarm_history_reads_as_two_transitions_oldest_first() -> None:
    items = json.loads(REAL.read_text())["AlarmHistoryItems"]
    found, refused = read_items(items)
    assert refused == []
    assert [(t.alarm, t.old, t.new) for t in found] == [("myalarm", "OK", "ALARM"), ("myalarm", "ALARM", "OK")]
    assert found[0].at == datetime(2014, 4, 9, 18, 59, 5, 805000, tzinfo=UTC)
    # Set by hand: a reason and no data; evaluated: the datapoints come with the reason.
    assert (found[0].reason, found[0].reason_data) == ("testing purposes", "")
    assert json.loads(found[1].reason_data)["recentDatapoints"] == [38.958, 40.292]


@pytest.mark.parametrize(
    ("item", "why"),
    [
        ({"AlarmName": "a", "HistoryItemType": "ConfigurationUpdate", "HistoryData": "{}"}, "not a StateUpdate"),
        ({"AlarmName": "a", "HistoryItemType": "StateUpdate", "HistoryData": "{", "Timestamp": T0}, "cannot be read"),
        ({"AlarmName": "a", "HistoryItemType": "StateUpdate", "HistoryData": "{}", "Timestamp": T0}, "cannot be read"),
        (
            {
                "AlarmName": "a",
                "HistoryItemType": "StateUpdate",
                "Timestamp": T0,
                "HistoryData": json.dumps({"oldState": {"stateValue": "OK"}, "newState": {"stateValue": "ON FIRE"}}),
            },
            "states CloudWatch does not have",
        ),
    ],
)
def test_an_item_that_is_not_a_readable_state_update_is_said_and_left_out(item: dict[str, Any], why: str) -> None:
    read = read_item(item)
    assert isinstance(read, str)
    assert why in read


def test_the_state_at_the_start_is_the_last_before_it_else_what_the_first_in_it_left_else_now() -> None:
    before = change(T0 - timedelta(hours=2), "OK", "ALARM")
    later = [change(T0 + timedelta(minutes=5), "INSUFFICIENT_DATA", "OK")]
    assert opening_state(before, later, "OK") == ("ALARM", before.at)
    assert opening_state(None, later, "ALARM") == ("INSUFFICIENT_DATA", None)
    assert opening_state(None, [], "ALARM") == ("ALARM", None)


def test_an_alarms_spans_in_a_state_run_from_each_transition_into_it_to_the_next_out() -> None:
    seed = AlarmSeed(
        dict(ALARM),
        "ALARM",
        None,
        (
            change(T0 + timedelta(minutes=10), "ALARM", "OK"),
            change(T0 + timedelta(minutes=30), "OK", "ALARM"),
        ),
    )
    end = T0 + timedelta(hours=1)
    assert seed.spans("ALARM", T0, end) == [(T0, T0 + timedelta(minutes=10)), (T0 + timedelta(minutes=30), end)]
    assert seed.spans("OK", T0, end) == [(T0 + timedelta(minutes=10), T0 + timedelta(minutes=30))]


# --- what an alarm sends ------------------------------------------------------------------------


def test_the_sns_message_of_a_transition_reads_back_through_the_functions_intake() -> None:
    moment = T0 + timedelta(seconds=7, microseconds=250000)
    message = sns_message(ALARM, change(moment, "OK", "ALARM"), "000000000000", "US East (N. Virginia)")
    assert message["StateChangeTime"] == "2026-11-22T10:00:07.250+0000" == stamp(moment)
    assert message["Trigger"]["Statistic"] == "AVERAGE"
    assert message["Trigger"]["Dimensions"] == [{"value": "churn-prod", "name": "EndpointName"}]
    event = sns_event("arn:aws:sns:us-east-1:000000000000:warning", "arn:sub", message, "US East (N. Virginia)")
    assert event["Records"][0]["Sns"]["Subject"] == 'ALARM: "churn-prod-HighLatency" in US East (N. Virginia)'
    # A long alarm name: the subject is cut below SNS's 100 characters (docs/aws-behaviours.md).
    long = {**message, "AlarmName": "churn-prod-" + "x" * 120}
    cut = sns_event("arn:aws:sns:us-east-1:000000000000:warning", "arn:sub", long, "US East (N. Virginia)")
    assert cut["Records"][0]["Sns"]["Subject"] == f'ALARM: "{long["AlarmName"]}'[:99]
    [alarm] = parse_alarms(event)
    assert (alarm.alarm_name, alarm.state, alarm.previous_state, alarm.state_change_time) == (
        "churn-prod-HighLatency",
        "ALARM",
        "OK",
        moment.replace(microsecond=250000),
    )
    assert (alarm.endpoint, alarm.metric_name, alarm.account, alarm.source) == (
        "churn-prod",
        "TotalLatency",
        "000000000000",
        "sns",
    )


def test_a_direct_alarm_action_event_reads_back_as_the_same_alarm() -> None:
    event = alarm_action_event(ALARM, change(T0, "ALARM", "OK"), "000000000000", "us-east-1")
    [alarm] = parse_alarms(event)
    assert (alarm.alarm_name, alarm.state, alarm.previous_state, alarm.endpoint, alarm.source) == (
        "churn-prod-HighLatency",
        "OK",
        "ALARM",
        "churn-prod",
        "alarm-action",
    )


def test_a_metric_math_alarm_keeps_its_queries_and_its_endpoint() -> None:
    math = {
        **{k: v for k, v in ALARM.items() if k not in ("MetricName", "Namespace", "Statistic", "Dimensions")},
        "Metrics": [
            {"Id": "e1", "Expression": "m1 * 100", "ReturnData": True},
            {
                "Id": "m1",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/SageMaker",
                        "MetricName": "Invocation5XXErrors",
                        "Dimensions": [{"Name": "EndpointName", "Value": "churn-prod"}],
                    },
                    "Period": 60,
                    "Stat": "Sum",
                },
                "ReturnData": False,
            },
        ],
    }
    for event in (
        sns_event("arn:topic", "arn:sub", sns_message(math, change(T0, "OK", "ALARM"), "000000000000", "x"), "x"),
        alarm_action_event(math, change(T0, "OK", "ALARM"), "000000000000", "us-east-1"),
    ):
        [alarm] = parse_alarms(event)
        assert (alarm.endpoint, alarm.expression) == ("churn-prod", "m1 * 100")


def test_a_scheduled_event_is_a_tick_at_its_time() -> None:
    assert remediation(scheduled(T0, "000000000000", "us-east-1")) == Tick(T0)


# --- the replay's order and what it reads back ----------------------------------------------------


def test_transitions_and_sweeps_interleave_in_time_and_a_transition_comes_first_at_one_instant() -> None:
    end = T0 + timedelta(minutes=10)
    alarm, cleared = change(T0 + timedelta(minutes=5), "OK", "ALARM"), change(end + timedelta(seconds=1), "ALARM", "OK")
    every = {"scale-up": timedelta(minutes=5), "rollback": timedelta(minutes=10)}
    events = timeline(T0, end, [cleared, alarm], every)
    assert events == [
        Event(T0 + timedelta(minutes=5), change=alarm),
        Event(T0 + timedelta(minutes=5), unit="scale-up"),
        Event(end, unit="rollback"),
        Event(end, unit="scale-up"),
    ]


def test_a_page_is_the_outcome_a_critical_message_carries_or_its_text() -> None:
    outcome = {"endpoint": "churn-prod", "result": "escalated", "incident": "x#1", "reason": "still in ALARM"}
    envelope = {"Type": "Notification", "Subject": "[CRITICAL] escalated", "Message": json.dumps(outcome)}
    found = page(T0, json.dumps(envelope))
    assert (found.endpoint, found.result, found.incident, found.text, found.subject) == (
        "churn-prod",
        "escalated",
        "x#1",
        "still in ALARM",
        "[CRITICAL] escalated",
    )
    alert = page(T0, json.dumps({"Subject": "standing problem", "Message": "the kill switch is unreadable"}))
    assert (alert.result, alert.endpoint, alert.text) == ("alert", "", "the kill switch is unreadable")


def test_capacity_counts_the_instances_held_above_the_start_up_to_the_floor() -> None:
    end = T0 + timedelta(hours=1)
    counts = [(T0, 2), (T0 + timedelta(minutes=2), 3), (T0 + timedelta(minutes=40), 2)]
    floors: list[tuple[datetime, int | None]] = [(T0, 3), (T0 + timedelta(minutes=35), 2)]
    # Held from 10:02 (the instance runs) to 10:35 (the floor goes down: the rest is the policy's).
    hours, peak = held(counts, floors, 2, T0, end)
    assert hours == pytest.approx(33 / 60)
    assert peak == 1
    # Without a scalable target, every instance it runs counts.
    hours, peak = held([(T0, 1), (T0 + timedelta(minutes=30), 3)], [], 1, T0, end)
    assert hours == pytest.approx(2 * 30 / 60)
    assert peak == 2
    assert held([], [], 2, T0, end) == (0.0, 0)


def test_the_comparison_counts_incidents_and_each_told_result_on_both_sides() -> None:
    incident = opened("churn-prod", "scale-up", "churn-prod-HighLatency", "arn", T0, "high", "TotalLatency")

    def decided(result: str, action: str = "scale-up") -> Decision:
        return Decision(
            "churn-prod",
            T0.isoformat(),
            "k",
            "-",
            action,
            result,
            "-",
            "r",
            "enforce",
            "a",
            "arn",
            "t",
            "ALARM",
            {},
            "-",
            0,
        )

    rows = compare(([incident], [decided("dry-run"), decided("skipped")]), ([incident], [decided("acted")]))
    assert [(r.action, r.what, r.recorded, r.backtest) for r in rows] == [
        ("scale-up", "incidents", 1, 1),
        ("scale-up", "acted", 0, 1),
        ("scale-up", "dry-run", 1, 0),
    ]


@pytest.mark.parametrize(
    ("url", "own"),
    [
        ("https://api.sagemaker.us-east-1.amazonaws.com", True),
        ("https://api.sagemaker.cn-north-1.amazonaws.com.cn", True),  # aws-cn
        ("https://monitoring.us-gov-west-1.amazonaws.com", True),
        ("https://api.sagemaker.us-iso-east-1.c2s.ic.gov", True),  # aws-iso
        ("http://localhost:4566", False),  # a local cloud: a configured endpoint
        ("http://api.sagemaker.us-east-1.amazonaws.com", False),  # AWS's own are https
        ("https://api.sagemaker.us-east-1.api.aws", False),  # dual-stack: moto lets it through
        ("https://amazonaws.com.example.net", False),
        ("https://proxy.example.net/amazonaws.com", False),
        ("https://notamazonaws.com", False),
    ],
)
def test_the_simulation_takes_awss_own_endpoints_in_every_partition_and_nothing_else(url: str, own: bool) -> None:
    from model_medic.backtest.run import aws_own

    assert aws_own(url) is own
