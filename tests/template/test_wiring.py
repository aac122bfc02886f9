"""Every alarm of the template reaches exactly its function, in the states it handles.

For each alarm (two endpoints, as AlarmManagerFunction keeps them from the stack's
thresholds; both quality sources) and each state, the test builds the
message CloudWatch publishes to the alarm's action topics and runs it through every
Lambda subscription's filter policy with moto's SNS filter-policy matcher.
"""

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from moto.sns.utils import FilterPolicyMatcher

from localcloud import template
from localcloud.cloudwatch import sns_message, state_change_event
from model_medic.intake.triggers import parse_alarms
from tests.conftest import matches
from tests.template.conftest import PARAMETERS, packaged, resources_of

ACCOUNT, REGION = "123456789012", "us-east-1"
AT = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)

# (alarm name suffix, state) -> the functions that must receive it, and no others.
EXPECTED = {
    ("HighErrorRate", "ALARM"): {"ScaleUpFunction"},
    ("HighErrorRate", "OK"): {"ScaleUpFunction"},
    ("HighLatency", "ALARM"): {"ScaleUpFunction"},
    ("HighLatency", "OK"): {"ScaleUpFunction"},
    ("DataDrift", "ALARM"): {"StartRetrainingFunction"},
    ("DataDrift", "OK"): set(),
    ("ModelAccuracyDrop", "ALARM"): {"RollbackModelFunction"},
    ("ModelAccuracyDrop", "OK"): set(),
    # The canary's alarms have no SNS action: an EventBridge rule routes them (below).
    ("canary-ErrorRate", "ALARM"): set(),
    ("canary-ErrorRate", "OK"): set(),
    ("canary-Latency", "ALARM"): set(),
    ("canary-Latency", "OK"): set(),
}
# alarm name suffix -> the functions the EventBridge "CloudWatch Alarm State Change" of its ALARM reaches.
EXPECTED_BY_RULE = {
    "HighErrorRate": set(),
    "HighLatency": set(),
    "DataDrift": set(),
    "ModelAccuracyDrop": set(),
    "canary-ErrorRate": {"PromoteCanaryFunction"},
    "canary-Latency": {"PromoteCanaryFunction"},
}


type Wired = tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]


def wiring(source: str) -> Wired:
    """The resolved alarms, the Lambda subscriptions and the event rules of the deployed template."""
    from samtranslator.translator.transform import transform

    raw = template.load()
    given = {**PARAMETERS, "QualityMetricsSource": source}
    alarms = template.manager_alarms(raw, given, given["EndpointNames"].split(","))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", REGION)
        cfn = transform(packaged(raw), given, type("NoPolicies", (), {"load": lambda self: {}})())
    subscriptions = []
    for sub in resources_of(cfn, "AWS::SNS::Subscription").values():
        properties = sub["Properties"]
        if properties["Protocol"] != "lambda":
            continue
        subscriptions.append(
            {
                "topic": properties["TopicArn"]["Ref"],
                "function": properties["Endpoint"]["Fn::GetAtt"][0],
                "policy": properties.get("FilterPolicy"),
                "scope": properties.get("FilterPolicyScope"),
            }
        )
    rules = []
    for rule in resources_of(cfn, "AWS::Events::Rule").values():
        properties = rule["Properties"]
        if "EventPattern" not in properties:
            continue
        resolver = template.Resolver(raw, template.parameter_values(raw, given))
        rules.append(
            {
                "pattern": json.dumps(resolver.resolve(properties["EventPattern"])),
                "functions": {t["Arn"]["Fn::GetAtt"][0] for t in properties["Targets"]},
            }
        )
    return alarms, subscriptions, rules


@pytest.fixture(scope="module", params=["model-medic", "model-monitor"])
def wired(request: pytest.FixtureRequest) -> Wired:
    return wiring(request.param)


def test_every_lambda_subscription_filters_on_the_message_body(wired: Wired) -> None:
    _, subscriptions, _ = wired
    assert {s["function"] for s in subscriptions} == {
        "ScaleUpFunction",
        "StartRetrainingFunction",
        "RollbackModelFunction",
    }
    for subscription in subscriptions:
        assert subscription["scope"] == "MessageBody", subscription
        assert subscription["policy"], subscription


def test_every_endpoint_has_every_alarm_with_an_action(wired: Wired) -> None:
    alarms, _, rules = wired
    names = sorted(a["AlarmName"] for a in alarms)
    assert names == sorted(f"{e}-{s}" for e in ("churn-prod", "fraud-prod") for s, _ in EXPECTED if _ == "ALARM")
    for alarm in alarms:
        event = state_change_event(alarm, "ALARM", "OK", "test", AT, ACCOUNT, REGION)
        routed = any(matches(rule["pattern"], event) for rule in rules)
        assert alarm.get("AlarmActions") or routed, f"{alarm['AlarmName']} reaches nobody"


def test_each_alarm_state_change_event_reaches_exactly_its_function(wired: Wired) -> None:
    alarms, _, rules = wired
    for alarm in alarms:
        suffix = alarm["AlarmName"].split("-prod-")[1]
        for state, expected in (("ALARM", EXPECTED_BY_RULE[suffix]), ("OK", set())):
            event = state_change_event(alarm, state, "OK" if state == "ALARM" else "ALARM", "test", AT, ACCOUNT, REGION)
            reached = set().union(*(r["functions"] for r in rules if matches(r["pattern"], event)))
            assert reached == expected, f"{alarm['AlarmName']} {state}: reached {reached}, expected {expected}"
            [parsed] = parse_alarms(event)
            assert parsed.endpoint == alarm["Dimensions"][0]["Value"]


def test_each_alarm_state_reaches_exactly_its_function(wired: Wired) -> None:
    alarms, subscriptions, _ = wired
    checked = 0
    for alarm in alarms:
        endpoint, suffix = alarm["AlarmName"].split("-prod-")
        endpoint += "-prod"
        for state, previous in (("ALARM", "OK"), ("OK", "ALARM"), ("INSUFFICIENT_DATA", "OK")):
            actions = {"ALARM": "AlarmActions", "OK": "OKActions"}.get(state)
            topics = set(alarm.get(actions, [])) if actions else set()  # logical IDs
            message = sns_message(alarm, state, previous, "test", AT, ACCOUNT, REGION)
            body = json.dumps(message)
            reached = {
                s["function"]
                for s in subscriptions
                if s["topic"] in topics and FilterPolicyMatcher(s["policy"], s["scope"]).matches(None, body)
            }
            expected = EXPECTED.get((suffix, state), set())
            assert reached == expected, f"{alarm['AlarmName']} {state}: reached {reached}, expected {expected}"
            # The message is what the functions parse: it names the endpoint.
            [parsed] = parse_alarms({"Records": [{"Sns": {"Message": body}}]})
            assert parsed.endpoint == endpoint
            checked += 1
    assert checked == len(alarms) * 3


def test_scale_up_alarms_send_ok_so_capacity_is_given_back(wired: Wired) -> None:
    alarms, _, _ = wired
    for alarm in alarms:
        if alarm["AlarmName"].endswith(("-HighErrorRate", "-HighLatency")):
            assert alarm["OKActions"] == alarm["AlarmActions"], alarm["AlarmName"]


def test_alarm_metrics_use_the_units_and_dimensions_of_their_source(wired: Wired) -> None:
    alarms, _, _ = wired
    by_suffix = {a["AlarmName"].split("churn-prod-")[1]: a for a in alarms if a["AlarmName"].startswith("churn-prod-")}
    assert by_suffix["HighLatency"]["Unit"] == "Milliseconds"
    assert by_suffix["HighErrorRate"]["Unit"] == "Percent"
    for alarm in by_suffix.values():
        names = {d["Name"] for d in alarm["Dimensions"]}
        if alarm["Namespace"].startswith("aws/sagemaker/Endpoints/"):
            assert names == {"Endpoint", "MonitoringSchedule"}  # Model Monitor's dimensions
        elif alarm["AlarmName"].startswith("churn-prod-canary-"):
            assert names == {"EndpointName", "VariantName"}
        else:
            assert names == {"EndpointName"}


def test_a_canary_named_by_an_endpoints_tag_reaches_the_rollout_function(wired: Wired) -> None:
    """The canary variant may be an endpoint's own (tag model-medic:canary-variant-name): the rule
    matches every canary alarm whatever its variant's name, and no other alarm of the endpoint."""
    alarms, _, rules = wired
    renamed = []
    for alarm in alarms:
        if alarm["AlarmName"].startswith("churn-prod-canary-"):
            dimensions = [
                {**d, "Value": "challenger"} if d["Name"] == "VariantName" else d for d in alarm["Dimensions"]
            ]
            name = alarm["AlarmName"].replace("-canary-", "-challenger-")
            renamed.append({**alarm, "AlarmName": name, "Dimensions": dimensions})
    assert len(renamed) == 2
    others = [a for a in alarms if a["AlarmName"].startswith("churn-prod-") and "-canary-" not in a["AlarmName"]]
    for alarm, expected in [(a, {"PromoteCanaryFunction"}) for a in renamed] + [(a, set()) for a in others]:
        event = state_change_event(alarm, "ALARM", "OK", "test", AT, ACCOUNT, REGION)
        reached = set().union(*(r["functions"] for r in rules if matches(r["pattern"], event)))
        assert reached == expected, f"{alarm['AlarmName']}: reached {reached}, expected {expected}"


def test_a_function_subscribes_to_a_topic_once(wired: Wired) -> None:
    """SNS keeps one subscription per topic, protocol and endpoint: a second Subscribe of the same
    function with another filter policy is refused ("Subscription already exists with different
    attributes"), so each function's alarms on a topic share one filter policy."""
    _, subscriptions, _ = wired
    pairs = [(s["topic"], s["function"]) for s in subscriptions]
    assert len(pairs) == len(set(pairs)), sorted(pairs)


def test_an_inference_components_alarms_reach_the_scale_up_only(wired: Wired) -> None:
    """Its HighLatency on the warning topic and its HighErrorRate on the critical one, ALARM and
    OK, each through the one subscription ScaleUpFunction has on that topic."""
    from model_medic.fleet.alarm_catalog import AlarmThresholds, Topics, component_alarms

    _, subscriptions, _ = wired
    thresholds = AlarmThresholds(5.0, 1000.0, 0.2, 0.8, "model-medic", "age", 0.2, "canary", 5.0, 1500.0)
    alarms = component_alarms("llm", "llama3-8b", thresholds, Topics("CriticalTopic", "WarningTopic"))
    assert [a["AlarmName"] for a in alarms] == ["llm-llama3-8b-HighLatency", "llm-llama3-8b-HighErrorRate"]
    for alarm in alarms:
        for state, previous in (("ALARM", "OK"), ("OK", "ALARM"), ("INSUFFICIENT_DATA", "OK")):
            actions = {"ALARM": "AlarmActions", "OK": "OKActions"}.get(state)
            topics = set(alarm[actions]) if actions else set()
            body = json.dumps(sns_message(alarm, state, previous, "test", AT, ACCOUNT, REGION))
            reached = {
                s["function"]
                for s in subscriptions
                if s["topic"] in topics and FilterPolicyMatcher(s["policy"], s["scope"]).matches(None, body)
            }
            expected = {"ScaleUpFunction"} if actions else set()
            assert reached == expected, f"{alarm['AlarmName']} {state}: reached {reached}"
            [parsed] = parse_alarms({"Records": [{"Sns": {"Message": body}}]})
            assert (parsed.endpoint, parsed.dimensions) == (None, {"InferenceComponentName": "llama3-8b"})


def test_an_inference_components_error_alarm_on_any_topic_reaches_no_other_function(wired: Wired) -> None:
    """Whatever topic it were sent to, no function but ScaleUpFunction takes its message: no
    other subscription's filter policy matches Invocation5XXErrors."""
    from model_medic.fleet.alarm_catalog import AlarmThresholds, Topics, component_alarms

    _, subscriptions, _ = wired
    thresholds = AlarmThresholds(5.0, 1000.0, 0.2, 0.8, "model-medic", "age", 0.2, "canary", 5.0, 1500.0)
    _, alarm = component_alarms("llm", "llama3-8b", thresholds, Topics("CriticalTopic", "WarningTopic"))
    body = json.dumps(sns_message(alarm, "ALARM", "OK", "test", AT, ACCOUNT, REGION))
    reached = {s["function"] for s in subscriptions if FilterPolicyMatcher(s["policy"], s["scope"]).matches(None, body)}
    assert reached == {"ScaleUpFunction"}
