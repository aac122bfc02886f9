"""An endpoint's alarms as the PutMetricAlarm requests the manager sends, one builder per alarm."""

from typing import Any

import pytest

from model_medic.fleet.alarm_catalog import AlarmThresholds, QualitySource, Topics, endpoint_alarms, endpoint_watch
from model_medic.fleet.variants import held

TOPICS = Topics(
    critical="arn:aws:sns:us-east-1:123456789012:critical", warning="arn:aws:sns:us-east-1:123456789012:warn"
)


def thresholds(source: QualitySource = "model-medic") -> AlarmThresholds:
    return AlarmThresholds(2.5, 400.0, 0.2, 0.85, source, "age", 0.3, "canary", 3.0, 800.0)


def by_name(source: QualitySource = "model-medic") -> dict[str, dict[str, Any]]:
    alarms = endpoint_alarms("churn-prod", thresholds(source), TOPICS, ("primary", "canary"))
    return {alarm["AlarmName"]: alarm for alarm in alarms}


def test_six_alarms_named_after_the_endpoint_and_the_canary_variant_the_canarys_first() -> None:
    assert list(by_name()) == [
        "churn-prod-canary-ErrorRate",
        "churn-prod-canary-Latency",
        "churn-prod-HighErrorRate",
        "churn-prod-HighLatency",
        "churn-prod-DataDrift",
        "churn-prod-ModelAccuracyDrop",
    ]


@pytest.mark.parametrize("variants", [(), ("primary",), ("primary", "challenger"), ("Canary",)])
def test_an_endpoint_without_the_canary_variant_gets_its_own_four_alarms_only(variants: tuple[str, ...]) -> None:
    names = [a["AlarmName"] for a in endpoint_alarms("churn-prod", thresholds(), TOPICS, variants)]
    assert names == [
        "churn-prod-HighErrorRate",
        "churn-prod-HighLatency",
        "churn-prod-DataDrift",
        "churn-prod-ModelAccuracyDrop",
    ]


OWN = ["churn-prod-HighErrorRate", "churn-prod-HighLatency", "churn-prod-DataDrift", "churn-prod-ModelAccuracyDrop"]
CANARY = ["churn-prod-canary-ErrorRate", "churn-prod-canary-Latency"]


@pytest.mark.parametrize(
    ("held_names", "unaccounted", "told"),
    [
        (OWN + CANARY, [], frozenset({"canary"})),  # both canary alarms: it has its canary
        (OWN, [], frozenset()),  # neither: it has none
        (OWN + CANARY[:1], [], None),  # one of two: in doubt
        (OWN[1:] + CANARY, [], None),  # one of its own missing (new, or a run cut short)
        (OWN, ["churn-prod-challenger-ErrorRate"], None),  # an alarm of a former canary name
        (OWN, ["churn-prod-eu-HighLatency"], None),  # churn-prod-eu left scope: read, to be safe
        (OWN, ["fraud-prod-HighLatency"], frozenset()),  # another endpoint's: no doubt here
    ],
)
def test_the_alarms_held_tell_the_variants_only_when_they_can(
    held_names: list[str], unaccounted: list[str], told: frozenset[str] | None
) -> None:
    watch = endpoint_watch("churn-prod", thresholds(), TOPICS)
    assert held(watch, set(held_names), unaccounted) == told


def test_every_request_spells_out_each_field_cloudwatch_returns() -> None:
    for alarm in by_name().values():
        assert alarm["DatapointsToAlarm"] == alarm["EvaluationPeriods"]
        assert alarm["ActionsEnabled"] is True
        assert alarm["InsufficientDataActions"] == []
        assert isinstance(alarm["Threshold"], float)


@pytest.mark.parametrize(
    ("name", "metric", "threshold", "operator", "missing", "actions", "ok_actions", "unit"),
    [
        (
            "HighErrorRate",
            "ErrorRate",
            2.5,
            "GreaterThanThreshold",
            "notBreaching",
            ["critical"],
            ["critical"],
            "Percent",
        ),
        (
            "HighLatency",
            "TotalLatency",
            400.0,
            "GreaterThanThreshold",
            "notBreaching",
            ["warn"],
            ["warn"],
            "Milliseconds",
        ),
        ("DataDrift", "MaxFeatureDrift", 0.2, "GreaterThanThreshold", "ignore", ["warn"], [], None),
        ("ModelAccuracyDrop", "accuracy", 0.85, "LessThanThreshold", "ignore", ["critical"], [], None),
        ("canary-ErrorRate", "ErrorRate", 3.0, "GreaterThanThreshold", "notBreaching", [], [], "Percent"),
        ("canary-Latency", "TotalLatency", 800.0, "GreaterThanThreshold", "notBreaching", [], [], "Milliseconds"),
    ],
)
def test_each_alarm_watches_its_metric_and_tells_its_topic(
    name: str,
    metric: str,
    threshold: float,
    operator: str,
    missing: str,
    actions: list[str],
    ok_actions: list[str],
    unit: str | None,
) -> None:
    alarm = by_name()[f"churn-prod-{name}"]
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Threshold"]) == ("Custom/SageMaker", metric, threshold)
    assert (alarm["ComparisonOperator"], alarm["TreatMissingData"], alarm.get("Unit")) == (operator, missing, unit)
    assert [arn.rsplit(":", 1)[1] for arn in alarm["AlarmActions"]] == actions
    assert [arn.rsplit(":", 1)[1] for arn in alarm["OKActions"]] == ok_actions
    variant = [d["Value"] for d in alarm["Dimensions"] if d["Name"] == "VariantName"]
    assert variant == (["canary"] if name.startswith("canary") else [])


def test_with_model_monitor_as_the_source_drift_and_accuracy_watch_its_schedules() -> None:
    alarms = by_name("model-monitor")
    drift, accuracy = alarms["churn-prod-DataDrift"], alarms["churn-prod-ModelAccuracyDrop"]
    assert (drift["Namespace"], drift["MetricName"], drift["Threshold"]) == (
        "aws/sagemaker/Endpoints/data-metrics",
        "feature_baseline_drift_age",
        0.3,
    )
    assert drift["Dimensions"] == [
        {"Name": "Endpoint", "Value": "churn-prod"},
        {"Name": "MonitoringSchedule", "Value": "churn-prod-data-quality"},
    ]
    assert (accuracy["Namespace"], accuracy["Threshold"]) == ("aws/sagemaker/Endpoints/model-metrics", 0.85)
    assert accuracy["Dimensions"][1] == {"Name": "MonitoringSchedule", "Value": "churn-prod-model-quality"}
    assert alarms["churn-prod-HighErrorRate"] == by_name()["churn-prod-HighErrorRate"]


def test_the_dashboards_decisions_widget_counts_every_result_a_decision_can_have() -> None:
    # Telling._logged emits Outcome_<result> for every decision: recovered, escalated and stopped
    # as much as acted or skipped.
    import json
    from typing import get_args

    from model_medic.fleet.alarm_catalog import dashboard_body
    from model_medic.tell.outcome import Result

    body = json.loads(dashboard_body("model-medic", "us-east-1", "churn-prod", []))
    [widget] = [w for w in body["widgets"] if w["properties"].get("title") == "Model Medic decisions (all endpoints)"]
    [[query]] = widget["properties"]["metrics"]
    # The stack's own decisions: another stack in the account and Region writes series of its own.
    assert query["expression"].startswith('SEARCH(\'{ModelMedic,service,stack} stack="model-medic" MetricName=(')
    searched = query["expression"].split("MetricName=(", 1)[1].split(")", 1)[0].split(" OR ")
    assert sorted(searched) == sorted(f'"Outcome_{result}"' for result in get_args(Result))
    assert {"recovered", "escalated", "stopped"} <= set(get_args(Result))
