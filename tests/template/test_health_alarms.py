"""The stack's own health: its dead-letter queue and its outbox's refused letters are alarmed,
on the critical topic, to people only.

The two alarms are static resources of the template (not AlarmManagerFunction's): what they
watch, when they fire, where they publish, and - through every Lambda subscription's filter
policy, with moto's SNS matcher - that the message CloudWatch publishes for them reaches no
function (ScaleUp and Rollback subscribe to the critical topic).
"""

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from moto.sns.utils import FilterPolicyMatcher

from localcloud import template
from localcloud.cloudwatch import sns_message
from model_medic.platform.observability import METRICS_NAMESPACE, STACK_DIMENSION
from tests.template.conftest import PARAMETERS, resources_of
from tests.template.test_wiring import ACCOUNT, REGION, Wired, wiring

AT = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]
STACK = "model-medic"
QUEUE_NAME = f"{STACK}-DeadLetterQueue-AbCdEf123456"  # what CloudFormation names it


def _alarm(source: dict[str, Any], logical_id: str) -> dict[str, Any]:
    """The alarm's properties as CloudWatch holds them: parameters resolved, the queue's name
    given, each action a topic's logical ID (as the subscriptions' TopicArn is)."""
    resolver = template.Resolver(
        source, template.parameter_values(source, PARAMETERS), {"AWS::StackName": STACK, "AWS::AccountId": ACCOUNT}
    )
    properties = resolver.resolve(source["Resources"][logical_id]["Properties"])
    text = json.dumps(properties).replace(
        json.dumps({"Fn::GetAtt": ["DeadLetterQueue", "QueueName"]}), json.dumps(QUEUE_NAME)
    )
    alarm: dict[str, Any] = json.loads(text)
    for actions in ("AlarmActions", "OKActions", "InsufficientDataActions"):
        alarm[actions] = [a["Ref"] for a in alarm.get(actions, [])]
    return alarm


def _message(alarm: dict[str, Any], state: str, previous: str) -> str:
    """The body CloudWatch publishes: a metric-math alarm's queries with lower-case dimension
    keys, as in events/alarms/sns_metric_math_alarm.json."""
    given = json.loads(json.dumps({**alarm, "Period": alarm.get("Period", 300)}))  # a copy: the queries are rewritten
    message = sns_message(given, state, previous, "test", AT, ACCOUNT, REGION)
    for query in message["Trigger"].get("Metrics", []):
        if "MetricStat" in query:
            metric = query["MetricStat"]["Metric"]
            metric["Dimensions"] = [{"value": d["Value"], "name": d["Name"]} for d in metric["Dimensions"]]
    return json.dumps(message)


@pytest.fixture(scope="module", params=["model-medic", "model-monitor"])
def wired(request: pytest.FixtureRequest) -> Wired:
    return wiring(request.param)


def test_the_dead_letter_queue_is_alarmed_on_the_critical_topic(source: dict[str, Any]) -> None:
    alarm = _alarm(source, "DeadLetterAlarm")
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": QUEUE_NAME}]
    assert (alarm["Statistic"], alarm["Period"], alarm["EvaluationPeriods"]) == ("Maximum", 300, 1)
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)
    # A queue holding letters may stop reporting (inactive): a gap keeps the alarm's state.
    assert alarm["TreatMissingData"] == "ignore"
    assert alarm["AlarmActions"] == alarm["OKActions"] == ["CriticalTopic"]
    assert alarm["AlarmName"] == f"{STACK}-DeadLetters"
    assert source["Resources"]["DeadLetterQueue"]["Type"] == "AWS::SQS::Queue"


def _draining_services(source: dict[str, Any]) -> set[str]:
    """The service names of the functions whose handler drains the outbox, where LettersNotSent
    is counted: the remediation loop's (wiring.Remediation) and the data jobs' (drift_measure,
    quality_measure)."""
    draining = re.compile(r"wiring\.(Remediation|rollouts|drift_measure|quality_measure)\(")
    services = set()
    for resource in resources_of(source, "AWS::Serverless::Function").values():
        properties = resource["Properties"]
        handler = ROOT / properties["CodeUri"] / "app.py"
        if draining.search(handler.read_text()):
            services.add(properties["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"])
    return services


def test_refused_letters_of_every_draining_function_are_summed_into_one_alarm(source: dict[str, Any]) -> None:
    alarm = _alarm(source, "LettersNotSentAlarm")
    queries = alarm["Metrics"]
    assert len(queries) <= 10  # CloudWatch's limit of metrics an alarm
    stats = [q for q in queries if "MetricStat" in q]
    [watched] = [q for q in queries if q.get("ReturnData")]
    assert watched["Expression"] == "SUM(FILL(METRICS(), 0))"
    services = set()
    for query in stats:
        assert query["ReturnData"] is False
        stat = query["MetricStat"]
        assert (stat["Period"], stat["Stat"]) == (300, "Sum")
        metric = stat["Metric"]
        assert (metric["Namespace"], metric["MetricName"]) == (METRICS_NAMESPACE, "LettersNotSent")
        dimensions = {d["Name"]: d["Value"] for d in metric["Dimensions"]}
        assert len(dimensions) == len(metric["Dimensions"]) == 2
        # This stack's series only: another stack in the account and Region writes its own.
        assert dimensions[STACK_DIMENSION] == STACK
        services.add(dimensions["service"])
    assert len(services) == len(stats)
    assert (
        services
        == _draining_services(source)
        == {
            "scale-up",
            "start-retraining",
            "rollback-model",
            "promote-canary",
            "compute-drift",
            "compute-model-quality",
        }
    )
    assert (alarm["EvaluationPeriods"], alarm["ComparisonOperator"], alarm["Threshold"]) == (
        1,
        "GreaterThanThreshold",
        0,
    )
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmActions"] == ["CriticalTopic"]
    assert alarm["AlarmName"] == f"{STACK}-LettersNotSent"


def test_the_letters_metric_is_published_where_the_alarm_reads_it() -> None:
    telling = (ROOT / "layers/common/model_medic/tell/telling.py").read_text()
    assert 'metrics.add_metric(name="LettersNotSent"' in telling
    observability = (ROOT / "layers/common/model_medic/platform/observability.py").read_text()
    assert "metrics = Metrics(namespace=METRICS_NAMESPACE)" in observability


@pytest.mark.parametrize("logical_id", ["DeadLetterAlarm", "LettersNotSentAlarm"])
def test_the_health_alarms_reach_people_and_no_function(source: dict[str, Any], wired: Wired, logical_id: str) -> None:
    _, subscriptions, _ = wired
    on_critical = [s for s in subscriptions if s["topic"] == "CriticalTopic"]
    assert {s["function"] for s in on_critical} == {"ScaleUpFunction", "RollbackModelFunction"}
    alarm = _alarm(source, logical_id)
    for state, previous, actions in (("ALARM", "OK", "AlarmActions"), ("OK", "ALARM", "OKActions")):
        body = _message(alarm, state, previous)
        reached = {
            s["function"]
            for s in subscriptions
            if s["topic"] in alarm[actions] and FilterPolicyMatcher(s["policy"], s["scope"]).matches(None, body)
        }
        assert reached == set(), f"{logical_id} {state} reached {reached}"
    # The same body with an endpoint metric's name would reach a function: the check can fail.
    endpoint_alarm = {**alarm, "Metrics": [], "Namespace": "Custom/SageMaker", "MetricName": "ErrorRate"}
    endpoint_alarm.setdefault("Period", 300)
    body = _message(endpoint_alarm, "ALARM", "OK")
    assert any(FilterPolicyMatcher(s["policy"], s["scope"]).matches(None, body) for s in on_critical)


def test_every_function_names_its_stack_as_its_metrics_stack_dimension(source: dict[str, Any]) -> None:
    # observability.py reads STACK_NAME into every metric's `stack` dimension: the alarm above
    # finds the stack's letters only if every function is told the stack's own name.
    assert source["Globals"]["Function"]["Environment"]["Variables"]["STACK_NAME"] == {"Ref": "AWS::StackName"}
    for name, resource in resources_of(source, "AWS::Serverless::Function").items():
        variables = resource["Properties"].get("Environment", {}).get("Variables", {})
        assert variables.get("STACK_NAME", {"Ref": "AWS::StackName"}) == {"Ref": "AWS::StackName"}, name
