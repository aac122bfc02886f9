"""Settings from the environment: each kind of value and bound, defaults, and a bad
configuration refused with every problem named by its variable."""

from typing import Any

import pytest

from model_medic.platform.settings import (
    ActionSettings,
    CanarySettings,
    ComputeMetricsSettings,
    ConfigurationError,
    RetrainingSettings,
    RollbackSettings,
    Settings,
    load_settings,
)

BASE = {
    "LEDGER_TABLE": "model-medic-ledger",
    "INFO_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:info",
    "CRITICAL_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:critical",
    "MONITORED_ENDPOINTS": " churn-prod, fraud-prod ,,",
}
ROLLBACK_BASE = {"CANARY_VARIANT": "canary", "ROLLBACK_COOLDOWN_MINUTES": "0"}
ACTION = {
    **BASE,
    "AUTOMATION_MODE": "dry-run",
    "MODE_PARAMETER_NAME": "/model-medic/mode",
    "ACTIONS_PER_HOUR": "6",
}


def _problems(model: type[Any], environment: dict[str, str]) -> str:
    with pytest.raises(ValueError, match=r"^[A-Z_]+: ") as raised:
        model.model_validate(environment)
    return str(raised.value)


def test_values_are_converted_and_defaults_filled() -> None:
    settings = ActionSettings.model_validate({**ACTION, "UNRELATED": "ignored"})
    assert settings.monitored_endpoints == ["churn-prod", "fraud-prod"]
    assert settings.actions_per_hour == 6
    assert settings.automation_mode == "dry-run"
    assert (settings.event_bus_name, settings.ledger_retention_days, settings.mode_cache_seconds) == ("default", 90, 30)
    assert settings.discovery_tag == ""


def test_every_problem_is_named_by_its_variable() -> None:
    problems = _problems(
        ActionSettings,
        {
            **ACTION,
            "LEDGER_TABLE": "ab",
            "INFO_TOPIC_ARN": "arn:aws:sqs:us-east-1:1:q",
            "AUTOMATION_MODE": "yolo",
            "ACTIONS_PER_HOUR": "0",
            "MODE_CACHE_SECONDS": "3.5",
            "LEDGER_RETENTION_DAYS": "4000",
        },
    )
    for expected in (
        "LEDGER_TABLE: must have at least 3",
        "INFO_TOPIC_ARN: must match ^arn:aws[a-z-]*:sns:",
        "AUTOMATION_MODE: must be one of 'enforce', 'dry-run', 'off', not 'yolo'",
        "ACTIONS_PER_HOUR: must be >= 1",
        "MODE_CACHE_SECONDS: must be a whole number",
        "LEDGER_RETENTION_DAYS: must be <= 3650",
    ):
        assert expected in problems
    assert "CRITICAL_TOPIC_ARN" not in problems


def test_a_fleet_found_only_by_tag_needs_no_names_but_one_or_the_other_is_needed() -> None:
    tag_only = ActionSettings.model_validate({**ACTION, "MONITORED_ENDPOINTS": " , ", "DISCOVERY_TAG": "team=ml"})
    assert (tag_only.monitored_endpoints, tag_only.discovery_tag) == ([], "team=ml")
    assert _problems(ActionSettings, {**ACTION, "MONITORED_ENDPOINTS": ""}) == (
        "MONITORED_ENDPOINTS: empty, and so is DISCOVERY_TAG - no endpoint is in scope"
    )
    with pytest.raises(ValueError, match="and so is DISCOVERY_TAG"):
        ComputeMetricsSettings.model_validate({**BASE, "MONITORED_ENDPOINTS": ""})
    # A function that watches only the named endpoints (drift, quality, report) has nothing to do.
    assert Settings.model_validate({**BASE, "MONITORED_ENDPOINTS": ""}).monitored_endpoints == []


def test_a_missing_required_variable_is_named() -> None:
    environment = dict(BASE)
    del environment["LEDGER_TABLE"]
    assert _problems(Settings, environment) == "LEDGER_TABLE: is required"


@pytest.mark.parametrize(
    ("text", "value"), [("true", True), ("False", False), ("1", True), ("no", False), ("on", True)]
)
def test_booleans_read_as_people_write_them(text: str, value: bool) -> None:
    environment = {
        **ACTION,
        "CANARY_VARIANT": "canary",
        "REJECT_MODEL_PACKAGES": text,
        "ROLLBACK_COOLDOWN_MINUTES": "0",
    }
    assert RollbackSettings.model_validate(environment).reject_model_packages is value


def test_a_boolean_that_is_neither_is_refused() -> None:
    environment = {
        **ACTION,
        "CANARY_VARIANT": "canary",
        "REJECT_MODEL_PACKAGES": "maybe",
        "ROLLBACK_COOLDOWN_MINUTES": "0",
    }
    assert _problems(RollbackSettings, environment) == "REJECT_MODEL_PACKAGES: must be true or false, not 'maybe'"


CANARY = {
    **ACTION,
    "PRIMARY_VARIANT": "primary",
    "CANARY_VARIANT": "canary",
    "CANARY_STEPS": "5,25,100",
    "CANARY_BAKE_MINUTES": "10",
    "CANARY_MIN_INVOCATIONS": "100",
    "CANARY_MAX_ERROR_RATE": "2.5",
    "CANARY_MAX_LATENCY_MS": "800",
}


def test_lists_of_numbers_and_floats() -> None:
    settings = CanarySettings.model_validate(CANARY)
    assert settings.canary_steps == [5, 25, 100]
    assert settings.max_error_rate == 2.5
    assert settings.max_latency_ms == 800.0


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("CANARY_STEPS", "50,25,100", "steps must ascend strictly from above 0 to 100"),
        ("CANARY_STEPS", "5,x", "invalid literal"),
        ("CANARY_MAX_ERROR_RATE", "nan", "must be a finite number"),
        ("CANARY_MAX_ERROR_RATE", "101", "must be <= 100"),
        ("CANARY_MAX_LATENCY_MS", "0", "must be > 0"),
        ("CANARY_MAX_LATENCY_MS", "fast", "must be a number"),
        ("CANARY_FALSE_ROLLBACK_RATE", "0.5", "must be <= 0.1"),
        ("CANARY_FALSE_ROLLBACK_RATE", "0", "must be > 0"),
        ("CANARY_ERROR_EFFECT", "1", "must be > 1"),
        ("CANARY_LATENCY_EFFECT", "0", "must be > 0"),
    ],
)
def test_bad_canary_values_are_refused(variable: str, value: str, problem: str) -> None:
    problems = _problems(CanarySettings, {**CANARY, variable: value})
    assert problems.startswith(f"{variable}: ")
    assert problem in problems


RETRAINING = {**ACTION, "PIPELINE_NAME": "churn-retrain", "RETRAIN_COOLDOWN_HOURS": "24"}


def test_json_settings_are_parsed_and_typed() -> None:
    settings = RetrainingSettings.model_validate({**RETRAINING, "PIPELINE_PARAMETERS": '{"Endpoint": "{endpoint}"}'})
    assert settings.pipeline_parameters == {"Endpoint": "{endpoint}"}
    assert "must be JSON" in _problems(RetrainingSettings, {**RETRAINING, "PIPELINE_PARAMETERS": "{nope"})
    assert "must be text" in _problems(RetrainingSettings, {**RETRAINING, "PIPELINE_PARAMETERS": '{"Endpoint": 3}'})
    assert "must be a JSON object" in _problems(RetrainingSettings, {**RETRAINING, "PIPELINE_PARAMETERS": "[1]"})


def test_settings_are_frozen() -> None:
    settings = ComputeMetricsSettings.model_validate(BASE)
    with pytest.raises(AttributeError, match="frozen"):
        settings.metrics_lag_minutes = 0
    assert (settings.metrics_period_minutes, settings.metrics_lag_minutes) == (5, 2)


def test_fields_declare_their_variable_and_whether_it_is_required() -> None:
    fields = ComputeMetricsSettings.model_fields
    assert fields["ledger_table"].alias == "LEDGER_TABLE"
    assert fields["ledger_table"].is_required()
    assert not fields["metrics_lag_minutes"].is_required()
    assert set(fields) >= set(Settings.model_fields)


def test_load_settings_raises_a_configuration_error_once_and_caches_success(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in BASE.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("METRICS_LAG_MINUTES", "0")
    load_settings.cache_clear()
    with pytest.raises(ConfigurationError, match="invalid configuration for ComputeMetricsSettings: METRICS_LAG"):
        load_settings(ComputeMetricsSettings)
    monkeypatch.setenv("METRICS_LAG_MINUTES", "3")
    first = load_settings(ComputeMetricsSettings)
    assert first.metrics_lag_minutes == 3
    assert load_settings(ComputeMetricsSettings) is first


@pytest.mark.parametrize("rows", ["1", "50", "149"])
def test_a_drift_sample_too_small_to_mean_anything_is_refused_with_the_reason(rows: str) -> None:
    from model_medic.platform.settings import DriftSettings

    environment = {
        **BASE,
        "CAPTURE_S3_URI": "s3://bucket/datacapture",
        "BASELINE_S3_URI": "s3://bucket/baselines",
        "DRIFT_MIN_ROWS": rows,
        "DRIFT_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/model-medic-drift",
    }
    problems = _problems(DriftSettings, environment)
    assert problems.startswith("DRIFT_MIN_ROWS: ")
    assert "PSI above 0.2 (sampling noise)" in problems
    assert DriftSettings.model_validate({**environment, "DRIFT_MIN_ROWS": "150"}).drift_min_rows == 150


def test_a_fields_bounds_are_kept_as_given() -> None:
    from model_medic.platform.settings import Field, FieldInfo

    assert Field(5, alias="STEP", ge=1, le=10, pattern="^[0-9]+$") == FieldInfo(
        "STEP", 5, ge=1, le=10, pattern="^[0-9]+$"
    )
    assert Field(alias="NAME").is_required()


def test_a_model_holding_a_type_settings_cannot_convert_is_a_mistake_in_the_model() -> None:
    from model_medic.platform.settings import EnvModel, Field

    class Pairs(EnvModel):
        pair: tuple[int, int] = Field(alias="PAIR")

    with pytest.raises(TypeError, match="settings cannot hold a tuple"):
        Pairs.model_validate({"PAIR": "1,2"})


def test_a_list_of_literals_is_checked_item_by_item() -> None:
    from typing import Annotated, Literal

    from model_medic.platform.settings import JSON, EnvModel, Field

    class Colours(EnvModel):
        colours: Annotated[list[Literal["red", "green"]], JSON] = Field(alias="COLOURS")

    assert Colours.model_validate({"COLOURS": '["red", "green"]'}).colours == ["red", "green"]
    with pytest.raises(ValueError, match="COLOURS: must be one of 'red', 'green', not 'blue'"):
        Colours.model_validate({"COLOURS": '["red", "blue"]'})
