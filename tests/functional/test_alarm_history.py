"""DescribeAlarmHistory in moto, as localcloud/moto_extensions.py gives it (`alarm_history_as_in_aws`):
each change of an alarm's state a StateUpdate item shaped like AWS's, filtered, ordered and paged."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import time_machine
from botocore.exceptions import ClientError

from model_medic.backtest.history import read_items
from tests.conftest import REGION, Stack, metric_alarm

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
NAME = "churn-prod-HighLatency"
REAL = Path(__file__).resolve().parents[1] / "data" / "real" / "awscli-describe-alarm-history.json"


@pytest.fixture
def cloudwatch(stack: Stack) -> Iterator[Any]:
    with time_machine.travel(T0 - timedelta(hours=1), tick=False):
        metric_alarm(NAME, "TotalLatency", "OK")
        yield boto3.client("cloudwatch", region_name=REGION)


def set_state(cloudwatch: Any, at: datetime, state: str, reason: str, data: dict[str, Any] | None = None) -> None:
    with time_machine.travel(at, tick=False):
        extra = {"StateReasonData": json.dumps(data)} if data else {}
        cloudwatch.set_alarm_state(AlarmName=NAME, StateValue=state, StateReason=reason, **extra)


def items(cloudwatch: Any, **request: Any) -> list[dict[str, Any]]:
    return list(cloudwatch.describe_alarm_history(**request)["AlarmHistoryItems"])


def test_each_change_of_state_is_a_state_update_shaped_like_aws_s(cloudwatch: Any) -> None:
    data = {"version": "1.0", "statistic": "Average", "period": 300, "recentDatapoints": [1450.2, 1320.7]}
    set_state(cloudwatch, T0, "ALARM", "Threshold Crossed: 2 datapoints were greater than 1000", data)
    [item] = items(cloudwatch, AlarmName=NAME)
    real = json.loads(REAL.read_text())["AlarmHistoryItems"][0]
    assert set(item) - {"ResponseMetadata"} == {*real, "AlarmType"}  # AlarmType: newer than the CLI's example
    assert (item["AlarmName"], item["AlarmType"], item["HistoryItemType"]) == (NAME, "MetricAlarm", "StateUpdate")
    assert item["Timestamp"] == T0
    assert item["HistorySummary"] == "Alarm updated from OK to ALARM"
    history = json.loads(item["HistoryData"])
    assert history["version"] == "1.0"
    assert history["oldState"] == {"stateValue": "OK", "stateReason": "test"}
    assert history["newState"] == {
        "stateValue": "ALARM",
        "stateReason": "Threshold Crossed: 2 datapoints were greater than 1000",
        "stateReasonData": data,
    }
    # The transition's time is the one DescribeAlarms gives (the sweep reads that one).
    [alarm] = cloudwatch.describe_alarms(AlarmNames=[NAME])["MetricAlarms"]
    assert alarm["StateTransitionedTimestamp"] == item["Timestamp"]


def test_setting_the_state_the_alarm_is_in_records_nothing_and_a_deleted_alarm_keeps_its_history(
    cloudwatch: Any,
) -> None:
    set_state(cloudwatch, T0, "ALARM", "up")
    set_state(cloudwatch, T0 + timedelta(minutes=1), "ALARM", "still up")
    set_state(cloudwatch, T0 + timedelta(minutes=2), "OK", "down")
    cloudwatch.delete_alarms(AlarmNames=[NAME])
    found, refused = read_items(items(cloudwatch, AlarmName=NAME))
    assert refused == []
    assert [(t.old, t.new, t.reason) for t in found] == [("OK", "ALARM", "up"), ("ALARM", "OK", "down")]


def test_newest_first_unless_asked_and_filtered_by_name_type_and_dates_inclusive(cloudwatch: Any) -> None:
    for minute, state in enumerate(("ALARM", "OK", "INSUFFICIENT_DATA", "ALARM")):
        set_state(cloudwatch, T0 + timedelta(minutes=minute), state, f"r{minute}")
    metric_alarm("fraud-prod-HighLatency", "TotalLatency", "ALARM", endpoint="fraud-prod")  # another alarm
    newest = items(cloudwatch, AlarmName=NAME)
    assert [i["Timestamp"] for i in newest] == [T0 + timedelta(minutes=m) for m in (3, 2, 1, 0)]
    oldest = items(cloudwatch, AlarmName=NAME, ScanBy="TimestampAscending")
    assert [i["Timestamp"] for i in oldest] == [T0 + timedelta(minutes=m) for m in (0, 1, 2, 3)]
    between = items(
        cloudwatch, StartDate=T0 + timedelta(minutes=1), EndDate=T0 + timedelta(minutes=2), ScanBy="TimestampAscending"
    )
    assert [i["HistorySummary"] for i in between] == [
        "Alarm updated from ALARM to OK",
        "Alarm updated from OK to INSUFFICIENT_DATA",
    ]
    assert {i["AlarmName"] for i in items(cloudwatch)} == {NAME, "fraud-prod-HighLatency"}
    assert items(cloudwatch, AlarmName=NAME, HistoryItemType="ConfigurationUpdate") == []
    assert items(cloudwatch, AlarmName=NAME, AlarmTypes=["CompositeAlarm"]) == []


def test_pages_of_max_records_follow_the_next_token_and_a_token_not_ours_is_refused(cloudwatch: Any) -> None:
    for minute in range(5):
        set_state(cloudwatch, T0 + timedelta(minutes=minute), "ALARM" if minute % 2 == 0 else "OK", str(minute))
    first = cloudwatch.describe_alarm_history(AlarmName=NAME, MaxRecords=2, ScanBy="TimestampAscending")
    assert len(first["AlarmHistoryItems"]) == 2
    assert first["NextToken"]
    pages = cloudwatch.get_paginator("describe_alarm_history").paginate(
        AlarmName=NAME, ScanBy="TimestampAscending", PaginationConfig={"PageSize": 2}
    )
    seen = [i["Timestamp"] for page in pages for i in page["AlarmHistoryItems"]]
    assert seen == [T0 + timedelta(minutes=m) for m in range(5)]
    with pytest.raises(ClientError) as refused:
        cloudwatch.describe_alarm_history(AlarmName=NAME, NextToken="not-a-token")
    assert refused.value.response["Error"]["Code"] == "InvalidNextToken"
    with pytest.raises(ClientError) as too_many:
        cloudwatch.describe_alarm_history(AlarmName=NAME, MaxRecords=101)
    assert too_many.value.response["Error"]["Code"] == "ValidationError"
