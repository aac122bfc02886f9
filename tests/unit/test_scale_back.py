"""When the give-back may start (`ScaleBack.due`): every scale-up alarm of the boosts read, however
many, before capacity is given back."""

from datetime import UTC, datetime, timedelta
from typing import Any, cast

import boto3
from botocore.stub import Stubber

from model_medic.remediate.capacity import Capacity, ScaleBack
from model_medic.store.boosts import Boost, Boosts

ENDPOINT = "churn-prod"
NOW = datetime(2026, 11, 22, 11, 0, tzinfo=UTC)
QUIET = NOW - timedelta(hours=1)


def component_boosts(count: int) -> list[Boost]:
    """One boost per inference component, each called for by its own HighLatency alarm."""
    return [
        Boost(
            endpoint=ENDPOINT,
            variant=f"inference-component/ic-{i:03d}",
            lever="min-copies",
            original=1,
            boosted_to=2,
            boosted_at=(QUIET - timedelta(minutes=5)).isoformat(),
            alarms=(f"{ENDPOINT}-ic-{i:03d}-HighLatency",),
        )
        for i in range(count)
    ]


def alarm(name: str, state: str = "OK") -> dict[str, Any]:
    return {"AlarmName": name, "StateValue": state, "StateUpdatedTimestamp": QUIET, "StateTransitionedTimestamp": QUIET}


def test_more_than_a_hundred_alarm_names_are_read_a_hundred_a_call_every_page_and_one_firing_stops_the_give_back() -> (
    None
):
    """120 boosted components name 122 alarms (with the endpoint's two): two calls of at most
    100 names, the first answered in two pages. The alarm in ALARM is on the first call's
    second page: a give-back that read only the first page would give capacity back during it."""
    boosts = component_boosts(120)
    names = sorted({n for b in boosts for n in b.alarms} | {f"{ENDPOINT}-HighErrorRate", f"{ENDPOINT}-HighLatency"})
    assert len(names) == 122
    firing = names[60]
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
    first = {"AlarmNames": names[:100], "AlarmTypes": ["MetricAlarm"]}
    with Stubber(cloudwatch) as stub:
        stub.add_response("describe_alarms", {"MetricAlarms": [alarm(n) for n in names[:50]], "NextToken": "t1"}, first)
        stub.add_response(
            "describe_alarms",
            {"MetricAlarms": [alarm(n, "ALARM" if n == firing else "OK") for n in names[50:100]]},
            {**first, "NextToken": "t1"},
        )
        stub.add_response(
            "describe_alarms",
            {"MetricAlarms": [alarm(n) for n in names[100:]]},
            {"AlarmNames": names[100:], "AlarmTypes": ["MetricAlarm"]},
        )
        scale_back = ScaleBack(
            cast("Capacity", None), cast("Boosts", None), cloudwatch, timedelta(minutes=15), lambda: NOW
        )
        due, why = scale_back.due(ENDPOINT, NOW, boosts)
        stub.assert_no_pending_responses()
    assert (due, why) == ([], f"scale-up alarm(s) still in ALARM: {firing}")


def test_once_every_alarm_of_every_page_is_ok_and_quiet_for_the_wait_the_boosts_are_due() -> None:
    boosts = component_boosts(3)
    names = sorted({n for b in boosts for n in b.alarms} | {f"{ENDPOINT}-HighErrorRate", f"{ENDPOINT}-HighLatency"})
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
    request = {"AlarmNames": names, "AlarmTypes": ["MetricAlarm"]}
    with Stubber(cloudwatch) as stub:
        stub.add_response(
            "describe_alarms", {"MetricAlarms": [alarm(n) for n in names[:2]], "NextToken": "t1"}, request
        )
        stub.add_response(
            "describe_alarms", {"MetricAlarms": [alarm(n) for n in names[2:]]}, {**request, "NextToken": "t1"}
        )
        scale_back = ScaleBack(
            cast("Capacity", None), cast("Boosts", None), cloudwatch, timedelta(minutes=15), lambda: NOW
        )
        due, why = scale_back.due(ENDPOINT, NOW, boosts)
        stub.assert_no_pending_responses()
    assert (due, why) == (boosts, "")
