"""Configuration: environment variables into validated models, read once per cold start.

Bad configuration raises `ConfigurationError` on the first invocation, loudly, instead
of acting on a half-understood setting.
"""

import os
from functools import cache
from typing import Annotated, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Json, ValidationError

Mode = Literal["enforce", "dry-run", "off"]
MODES: tuple[Mode, ...] = ("enforce", "dry-run", "off")


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


CsvList = Annotated[list[str], BeforeValidator(_split_csv)]


class ConfigurationError(RuntimeError):
    """The function's environment does not describe a valid configuration."""


class Settings(BaseModel):
    """What every function needs: where the ledger and topics are, which endpoints are named."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    ledger_table: str = Field(alias="LEDGER_TABLE", min_length=3)
    info_topic_arn: str = Field(alias="INFO_TOPIC_ARN", pattern=r"^arn:aws[a-z-]*:sns:")
    critical_topic_arn: str = Field(alias="CRITICAL_TOPIC_ARN", pattern=r"^arn:aws[a-z-]*:sns:")
    event_bus_name: str = Field("default", alias="EVENT_BUS_NAME", min_length=1)
    monitored_endpoints: CsvList = Field(alias="MONITORED_ENDPOINTS", min_length=1)
    ledger_retention_days: int = Field(90, alias="LEDGER_RETENTION_DAYS", ge=1, le=3650)


class ActionSettings(Settings):
    """What every action function needs beyond that: the mode, the budget, the scope."""

    automation_mode: Mode = Field(alias="AUTOMATION_MODE")
    mode_parameter_name: str = Field(alias="MODE_PARAMETER_NAME", pattern=r"^/")
    mode_cache_seconds: int = Field(30, alias="MODE_CACHE_SECONDS", ge=0, le=300)
    actions_per_hour: int = Field(alias="ACTIONS_PER_HOUR", ge=1, le=100)
    # "key=value": InService endpoints with this tag are in scope too; empty: only the named.
    discovery_tag: str = Field("", alias="DISCOVERY_TAG", pattern=r"^$|^[^=]+=.*$")


SettingsT = TypeVar("SettingsT", bound=BaseModel)


@cache
def load_settings[SettingsT: BaseModel](model: type[SettingsT]) -> SettingsT:
    """The model validated from the environment (cached; `load_settings.cache_clear()` in tests)."""
    try:
        return model.model_validate(dict(os.environ))
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in issue['loc'])}: {issue['msg']}" for issue in error.errors()
        )
        raise ConfigurationError(f"invalid configuration for {model.__name__}: {problems}") from None


class ScaleUpSettings(ActionSettings):
    """ScaleUpFunction: how much capacity a boost adds, up to where, and when it is given back."""

    max_instance_count: int = Field(alias="MAX_INSTANCE_COUNT", ge=1, le=1000)
    scale_step: int = Field(alias="SCALE_STEP", ge=1, le=100)
    scale_up_cooldown_minutes: int = Field(alias="SCALE_UP_COOLDOWN_MINUTES", ge=0, le=1440)
    scale_back_after_minutes: int = Field(alias="SCALE_BACK_AFTER_MINUTES", ge=0, le=1440)
    # How long the alarm may stay in ALARM once the last step's capacity is InService.
    scale_up_verify_minutes: int = Field(15, alias="SCALE_UP_VERIFY_MINUTES", ge=1, le=1440)


class RetrainingSettings(ActionSettings):
    """StartRetrainingFunction: which pipeline, with which parameters, how often at most."""

    pipeline_name: str = Field(alias="PIPELINE_NAME", pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}$")
    # {"Name": "value with {endpoint} {alarm} {feature} {time} {date}"}
    pipeline_parameters: Json[dict[str, str]] = Field(alias="PIPELINE_PARAMETERS")
    retrain_cooldown_hours: int = Field(alias="RETRAIN_COOLDOWN_HOURS", ge=0, le=24 * 30)


class RollbackSettings(ActionSettings):
    """RollbackModelFunction: which variant is the canary, whether to reject model packages."""

    canary_variant: str = Field(alias="CANARY_VARIANT", min_length=1, max_length=63)
    reject_model_packages: bool = Field(alias="REJECT_MODEL_PACKAGES")
    rollback_cooldown_minutes: int = Field(alias="ROLLBACK_COOLDOWN_MINUTES", ge=0, le=1440)
    # Accuracy is measured hourly: give the rolled-back model a few hours to show it.
    rollback_verify_minutes: int = Field(180, alias="ROLLBACK_VERIFY_MINUTES", ge=1, le=7 * 1440)


class ComputeMetricsSettings(Settings):
    """ComputeMetricsFunction: the period, and an optional tag that adds endpoints."""

    metrics_period_minutes: int = Field(5, alias="METRICS_PERIOD_MINUTES", ge=1, le=60)
    # "key=value": every InService endpoint with this tag is measured too; empty: none.
    discovery_tag: str = Field("", alias="DISCOVERY_TAG", pattern=r"^$|^[^=]+=.*$")


def _ascending_steps(value: object) -> object:
    if isinstance(value, str):
        value = [int(item) for item in value.split(",") if item.strip()]
    if isinstance(value, list) and (not value or value != sorted(set(value)) or value[-1] != 100 or value[0] <= 0):
        raise ValueError("steps must ascend strictly from above 0 to 100")
    return value


class CanarySettings(ActionSettings):
    """PromoteCanaryFunction: the variants, the steps and the evidence a canary must show."""

    primary_variant: str = Field(alias="PRIMARY_VARIANT", min_length=1)
    canary_variant: str = Field(alias="CANARY_VARIANT", min_length=1)
    canary_steps: Annotated[list[int], BeforeValidator(_ascending_steps)] = Field(alias="CANARY_STEPS")
    bake_minutes: int = Field(alias="CANARY_BAKE_MINUTES", ge=0, le=24 * 60)
    min_invocations: int = Field(alias="CANARY_MIN_INVOCATIONS", ge=0)
    max_error_rate: float = Field(alias="CANARY_MAX_ERROR_RATE", ge=0, le=100)
    max_latency_ms: float = Field(alias="CANARY_MAX_LATENCY_MS", gt=0)


class DriftSettings(Settings):
    """ComputeDriftFunction: where data capture and the baselines are, and how many rows an hour needs."""

    capture_s3_uri: str = Field(alias="CAPTURE_S3_URI", pattern=r"^s3://[a-z0-9.-]{3,63}(/.*)?$")
    baseline_s3_uri: str = Field(alias="BASELINE_S3_URI", pattern=r"^s3://[a-z0-9.-]{3,63}(/.*)?$")
    drift_min_rows: int = Field(alias="DRIFT_MIN_ROWS", ge=1)
    # The label column of training.csv (and statistics.json), left out of the baseline: a
    # header name, a zero-based column number, or "none". SageMaker's built-in algorithms
    # expect the label first.
    baseline_label_column: str = Field("0", alias="BASELINE_LABEL_COLUMN", max_length=256)
    # Model Monitor's features attribute: where the features of a JSON instance are
    # ({"instances": [{"features": [...]}]}); instances without it are read by feature name.
    features_attribute: str = Field("features", alias="FEATURES_ATTRIBUTE", max_length=256)


class QualitySettings(Settings):
    """ComputeModelQualityFunction: where labels and predictions are, what kind of model it is."""

    capture_s3_uri: str = Field(alias="CAPTURE_S3_URI", pattern=r"^s3://[a-z0-9.-]{3,63}(/.*)?$")
    ground_truth_s3_uri: str = Field(alias="GROUND_TRUTH_S3_URI", pattern=r"^s3://[a-z0-9.-]{3,63}(/.*)?$")
    problem_type: Literal["BinaryClassification", "MulticlassClassification", "Regression"] = Field(
        alias="PROBLEM_TYPE"
    )
    quality_window_hours: int = Field(alias="QUALITY_WINDOW_HOURS", ge=1, le=24 * 14)
    label_lookback_hours: int = Field(alias="LABEL_LOOKBACK_HOURS", ge=0, le=24 * 30)
    quality_min_samples: int = Field(alias="QUALITY_MIN_SAMPLES", ge=1)
    positive_label: str = Field("1", alias="POSITIVE_LABEL", min_length=1)
    probability_threshold: float = Field(0.5, alias="PROBABILITY_THRESHOLD", gt=0, lt=1)
    # Model Monitor's inference and probability attributes: a key path into a JSON record
    # (predicted_label, score) or a zero-based CSV column ("0"); empty: not in the response.
    inference_attribute: str = Field("predicted_label", alias="INFERENCE_ATTRIBUTE", max_length=256)
    probability_attribute: str = Field("score", alias="PROBABILITY_ATTRIBUTE", max_length=256)
    # Where decoded predictions are kept, one object per endpoint and capture hour, so that
    # a run reads one object per hour of look-back instead of every capture file.
    prediction_index_s3_uri: str = Field(
        "", alias="PREDICTION_INDEX_S3_URI", pattern=r"^$|^s3://[a-z0-9.-]{3,63}(/.*)?$"
    )


class ReportSettings(Settings):
    """DailyReportFunction: where the reports go."""

    reports_bucket: str = Field(alias="REPORTS_BUCKET", min_length=3)


class AlarmManagerSettings(Settings):
    """AlarmManagerFunction: the stack whose alarms it keeps, the topics they notify, the
    thresholds they default to (an endpoint's tags may override them, `policy.py`)."""

    stack_name: str = Field(alias="STACK_NAME", pattern=r"^[a-zA-Z][-a-zA-Z0-9]{0,127}$")
    warning_topic_arn: str = Field(alias="WARNING_TOPIC_ARN", pattern=r"^arn:aws[a-z-]*:sns:")
    # "key=value": every live endpoint with this tag gets alarms too; empty: only the named.
    discovery_tag: str = Field("", alias="DISCOVERY_TAG", pattern=r"^$|^[^=]+=.*$")
    error_rate_threshold: float = Field(alias="ERROR_RATE_THRESHOLD", ge=0, le=100)
    latency_threshold_ms: float = Field(alias="LATENCY_THRESHOLD_MS", gt=0)
    drift_threshold: float = Field(alias="DRIFT_THRESHOLD", ge=0)
    accuracy_threshold: float = Field(alias="ACCURACY_THRESHOLD", ge=0, le=1)
    quality_metrics_source: Literal["model-medic", "model-monitor"] = Field(alias="QUALITY_METRICS_SOURCE")
    model_monitor_drift_feature: str = Field(alias="MODEL_MONITOR_DRIFT_FEATURE", pattern=r"^[A-Za-z0-9_.-]+$")
    model_monitor_drift_threshold: float = Field(alias="MODEL_MONITOR_DRIFT_THRESHOLD", ge=0)
    canary_variant: str = Field(alias="CANARY_VARIANT", pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
    canary_max_error_rate: float = Field(alias="CANARY_MAX_ERROR_RATE", ge=0, le=100)
    canary_max_latency_ms: float = Field(alias="CANARY_MAX_LATENCY_MS", gt=0)
    # CloudWatch's default quota: 3 PutMetricAlarm (and DeleteAlarms) requests a second; a run
    # makes at most this many writes, and the schedule's next run carries on.
    alarm_writes_per_second: float = Field(3.0, alias="ALARM_WRITES_PER_SECOND", ge=0, le=100)
    alarm_writes_per_run: int = Field(400, alias="ALARM_WRITES_PER_RUN", ge=1, le=10_000)
