"""How the cost benchmark turns usage into a bill (benchmarks/prices.py) and reads the stack's schedules."""

import json

import pytest

from benchmarks import cost_world, prices
from benchmarks.cost import Usage
from localcloud import template


def test_custom_metrics_are_priced_tier_by_tier() -> None:
    assert prices.custom_metrics_usd(0) == 0
    assert prices.custom_metrics_usd(10) == pytest.approx(3.0)
    assert prices.custom_metrics_usd(10_000) == pytest.approx(3_000.0)
    assert prices.custom_metrics_usd(10_001) == pytest.approx(3_000.10)
    assert prices.custom_metrics_usd(300_000) == pytest.approx(3_000 + 24_000 + 50_000 * 0.05)


@pytest.mark.parametrize(
    ("operation", "params", "response", "units"),
    [
        ("PutItem", {"Item": {"pk": {"S": "x"}}}, {}, (0.0, 1)),
        ("PutItem", {"Item": {"pk": {"S": "x" * 3000}}}, {}, (0.0, 3)),  # 1 KB a write unit
        ("GetItem", {"Key": {}}, {"Item": {"pk": {"S": "x"}}}, (0.5, 0.0)),  # eventually consistent: half
        ("GetItem", {"Key": {}, "ConsistentRead": True}, {}, (1.0, 0.0)),
        ("Query", {}, {"Items": [{"pk": {"S": "x" * 5000}}, {"pk": {"S": "y"}}]}, (1.0, 0.0)),  # 4 KB a unit
        ("TransactWriteItems", {"TransactItems": [{"Put": {"Item": {"a": {"S": "b"}}}}, {"Update": {}}]}, {}, (0, 4)),
        ("DescribeTable", {}, {}, (0.0, 0.0)),
    ],
)
def test_dynamodb_request_units_follow_item_sizes(
    operation: str, params: dict[str, object], response: dict[str, object], units: tuple[float, float]
) -> None:
    assert prices.request_units(operation, params, response) == units


def test_emf_lines_are_custom_metrics_and_other_lines_are_not() -> None:
    line = json.dumps(
        {
            "_aws": {
                "Timestamp": 1,
                "CloudWatchMetrics": [
                    {
                        "Namespace": "ModelMedic",
                        "Dimensions": [["service", "stack"]],
                        "Metrics": [{"Name": "AlarmWrites"}],
                    }
                ],
            },
            "service": "manage-alarms",
            "stack": "model-medic",
            "AlarmWrites": [3.0],
        }
    )
    series = '[["service", "manage-alarms"], ["stack", "model-medic"]]'
    assert prices.emf_metrics(line) == {("ModelMedic", "AlarmWrites", series)}
    assert prices.emf_metrics('{"level": "INFO", "message": "alarms reconciled"}') == set()
    assert prices.emf_metrics("START RequestId: x Version: $LATEST") == set()


def test_lambda_time_is_the_functions_own_at_its_cpu_share_and_its_round_trips() -> None:
    usage = Usage(seconds=2.0, in_aws=1.5)
    usage.calls[("s3", "GetObject")] = 32  # 16 at a time: two round trips
    usage.calls[("cloudwatch", "PutMetricData")] = 2
    own = 0.5 * prices.LAMBDA_FULL_CPU_MB / 256
    assert prices.lambda_seconds(usage, 256) == pytest.approx(own + 4 * prices.AWS_CALL_SECONDS)
    assert prices.lambda_seconds(usage, 4096) == pytest.approx(0.5 + 4 * prices.AWS_CALL_SECONDS)  # a whole vCPU


def test_the_schedules_are_the_templates() -> None:
    main = template.load()
    values = template.parameter_values(main, cost_world.parameters())
    found = {s.logical_id: s for s in cost_world.schedules(main, values)}
    assert found["ComputeMetricsFunction"].minutes == tuple(range(0, 60, 5))
    assert found["AlarmManagerFunction"].minutes == (0, 15, 30, 45)  # its rule, not a SAM event
    assert (found["ComputeDriftFunction"].minutes, found["ComputeDriftFunction"].memory_mb) == ((5,), 1024)
    assert (found["DailyReportFunction"].daily_hour, found["DailyReportFunction"].minutes) == (6, (0,))
    # Without data capture, drift and model quality are not deployed, and not billed.
    bare = {s.logical_id for s in cost_world.schedules(main, template.parameter_values(main, {}))}
    assert "ComputeDriftFunction" not in bare
    assert "ComputeModelQualityFunction" not in bare


@pytest.mark.parametrize("expression", ["rate(1 hour)", "cron(0/5 * * * ? *)", "cron(0 6 ? * MON *)"])
def test_a_schedule_the_model_cannot_read_is_refused_not_guessed(expression: str) -> None:
    with pytest.raises(ValueError, match="only rate"):
        cost_world.when(expression)
