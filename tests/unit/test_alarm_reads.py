"""Every read of alarms by name follows DescribeAlarms' NextToken, even for one or two names:
nothing in the API promises that a page holds every alarm named (docs/aws-behaviours.md,
DescribeAlarms). Each answer here is botocore's Stubber: the first page holds none of the
alarms and a NextToken, the second holds them, so a read of the first page only gets it wrong."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import boto3
from botocore.stub import Stubber
from mypy_boto3_cloudwatch import CloudWatchClient

from model_medic.platform.settings import CanarySettings
from model_medic.remediate.rollout.component import ComponentRollout
from model_medic.remediate.rollout.component_changes import ComponentRolledOut
from model_medic.remediate.rollout.component_cloudwatch import own_alarms, rolled_back_by
from model_medic.remediate.rollout.evidence import alarms_in_alarm
from model_medic.store.component_specs import ComponentSpecs
from model_medic.store.deployments import Deployments

NOW = datetime(2026, 11, 22, 11, 0, tzinfo=UTC)
SINCE = NOW - timedelta(minutes=30)


def alarm(name: str, state: str = "OK") -> dict[str, Any]:
    return {"AlarmName": name, "StateValue": state, "StateUpdatedTimestamp": SINCE - timedelta(hours=1)}


@contextmanager
def second_page(alarms: list[dict[str, Any]], names: list[str]) -> Iterator[CloudWatchClient]:
    """A CloudWatch client whose DescribeAlarms of `names` answers an empty first page with a
    NextToken, then `alarms`; every page must be asked for."""
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
    request = {"AlarmNames": names, "AlarmTypes": ["MetricAlarm"]}
    with Stubber(cloudwatch) as stub:
        stub.add_response("describe_alarms", {"MetricAlarms": [], "NextToken": "t1"}, request)
        stub.add_response("describe_alarms", {"MetricAlarms": alarms}, {**request, "NextToken": "t1"})
        yield cloudwatch
        stub.assert_no_pending_responses()


def test_the_judge_sees_a_canary_alarm_in_alarm_on_the_second_page() -> None:
    names = ["churn-prod-canary-ErrorRate", "churn-prod-canary-Latency"]
    with second_page([alarm(names[0], "ALARM"), alarm(names[1])], names) as cloudwatch:
        assert alarms_in_alarm(cloudwatch, "churn-prod", "canary") == (names[0],)


def test_a_component_rollback_names_the_alarm_that_fired_on_the_second_page() -> None:
    names = ["churn-prod-ic-a-HighErrorRate", "churn-prod-ic-a-HighLatency"]
    facts = {
        "verdict_alarm": "verdict",
        "rollback_alarms": ",".join(["verdict", *names]),
        "component_since": SINCE.isoformat(),
    }
    with second_page([alarm(names[0], "ALARM"), alarm(names[1])], names) as cloudwatch:
        assert rolled_back_by(cloudwatch, facts) == f"rolled back on alarm {names[0]}"


def test_a_components_own_alarms_on_the_second_page_are_found() -> None:
    names = ["churn-prod-ic-a-HighErrorRate", "churn-prod-ic-a-HighLatency"]
    with second_page([alarm(n) for n in names], names) as cloudwatch:
        assert own_alarms(cloudwatch, "churn-prod", "ic-a") == names


def test_a_verdict_alarm_on_the_second_page_is_not_read_as_deleted() -> None:
    """The end of a component rollout takes only once its verdict alarm is gone: an alarm shown
    on the second page is still there, so the end is in flight, not taken."""
    name = "churn-prod-ic-a-RolloutVerdict"
    with second_page([alarm(name)], [name]) as cloudwatch:
        rollout = ComponentRollout(
            boto3.client("sagemaker", region_name="us-east-1"),
            cloudwatch,
            cast("ComponentSpecs", None),
            cast("Deployments", None),
            cast("CanarySettings", None),
            lambda: NOW,
        )
        change = ComponentRolledOut(component="ic-a", alarm=name, detail="rolled out")
        seen = rollout.observe(change, {"call": "DeleteAlarms"})
    assert (seen.seen, seen.detail) == ("in-flight", f"verdict alarm {name} still there")
