"""Configuration: environment variables into validated, frozen models, read once per cold start."""

import json
import math
import operator
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import (
    Annotated,
    Any,
    ClassVar,
    Literal,
    Self,
    TypedDict,
    TypeVar,
    Unpack,
    get_args,
    get_origin,
    get_type_hints,
)

Mode = Literal["enforce", "dry-run", "off"]
MODES: tuple[Mode, ...] = ("enforce", "dry-run", "off")

_REQUIRED: Any = object()


class ConfigurationError(RuntimeError):
    """The function's environment does not describe a valid configuration."""


@dataclass(frozen=True)
class FieldInfo:
    """One setting: the variable it is read from, its default and its bounds."""

    alias: str
    default: Any = _REQUIRED
    ge: float | None = None
    le: float | None = None
    gt: float | None = None
    lt: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None

    def is_required(self) -> bool:
        return self.default is _REQUIRED


class Bounds(TypedDict, total=False):
    """What a setting's value must keep to, named as pydantic's `Field` names them: ge/le/gt/lt,
    min_length/max_length, and a regular expression the value must contain (`re.search`)."""

    ge: float
    le: float
    gt: float
    lt: float
    min_length: int
    max_length: int
    pattern: str


def Field(default: Any = _REQUIRED, *, alias: str, **bounds: Unpack[Bounds]) -> Any:
    """A setting read from the environment variable `alias` (typed Any: it stands for the value)."""
    return FieldInfo(alias, default, **bounds)


@dataclass(frozen=True)
class Before:
    """In `Annotated[...]`: a step applied to the raw value before it is checked against the type."""

    step: Callable[[Any], Any]


def _json(value: Any) -> Any:
    try:
        return json.loads(value)
    except (TypeError, json.JSONDecodeError) as error:
        raise ValueError(f"must be JSON ({error})") from None


JSON = Before(_json)  # the variable holds JSON

_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})


def _convert(value: Any, kind: Any) -> Any:
    """The value as `kind`, or ValueError saying why not.

    What a setting may be: str, int, float, bool (true/false, 1/0, yes/no, on/off), a
    Literal, a list (after a `Before` step such as CSV splitting) or a dict (from `JSON`).
    """
    origin = get_origin(kind)
    if origin is not None and origin in _GENERIC:
        return _GENERIC[origin](value, get_args(kind))
    scalar = _SCALAR.get(kind)
    if scalar is None:
        raise TypeError(f"settings cannot hold a {kind!r}")  # a mistake in a model, not in the environment
    return scalar(value)


def _annotated(value: Any, args: tuple[Any, ...]) -> Any:
    for step in args[1:]:
        if isinstance(step, Before):
            value = step.step(value)
    return _convert(value, args[0])


def _literal(value: Any, args: tuple[Any, ...]) -> Any:
    if value not in args:
        raise ValueError(f"must be one of {', '.join(map(repr, args))}, not {value!r}")
    return value


def _list(value: Any, args: tuple[Any, ...]) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError(f"must be a list, not {value!r}")
    return [_convert(item, args[0]) for item in value]


def _dict(value: Any, args: tuple[Any, ...]) -> dict[Any, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"must be a JSON object, not {value!r}")
    return {_convert(k, args[0]): _convert(v, args[1]) for k, v in value.items()}


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError(f"must be true or false, not {value!r}")


def _int(value: Any) -> int:
    whole = isinstance(value, int | str) and re.fullmatch(r"\s*[-+]?\d+\s*", str(value))
    if isinstance(value, bool) or not whole:
        raise ValueError(f"must be a whole number, not {value!r}")
    return int(value)


def _float(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"must be a number, not {value!r}") from None
    if isinstance(value, bool) or not math.isfinite(number):
        raise ValueError(f"must be a finite number, not {value!r}")
    return number


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be text, not {value!r}")
    return value


# The converters by kind: generic kinds by their origin (with their arguments), plain types by themselves.
_GENERIC: dict[Any, Callable[[Any, tuple[Any, ...]], Any]] = {
    Annotated: _annotated,
    Literal: _literal,
    list: _list,
    dict: _dict,
}
_SCALAR: dict[Any, Callable[[Any], Any]] = {bool: _bool, int: _int, float: _float, str: _str}


def _check(value: Any, spec: FieldInfo) -> None:
    """The bounds of a converted value, or ValueError naming the one it breaks."""
    for symbol, bound, holds in (
        (">=", spec.ge, operator.ge),
        ("<=", spec.le, operator.le),
        (">", spec.gt, operator.gt),
        ("<", spec.lt, operator.lt),
    ):
        if bound is not None and not holds(value, bound):
            raise ValueError(f"must be {symbol} {bound}, not {value!r}")
    if spec.min_length is not None and len(value) < spec.min_length:
        raise ValueError(f"must have at least {spec.min_length} item(s) or character(s)")
    if spec.max_length is not None and len(value) > spec.max_length:
        raise ValueError(f"must have at most {spec.max_length} item(s) or character(s)")
    if spec.pattern is not None and not re.search(spec.pattern, value):
        raise ValueError(f"must match {spec.pattern}, not {value!r}")


class EnvModel:
    """Frozen settings validated from a mapping of environment variables (`model_validate`).

    A model declares each setting as a type and a `Field` (its variable, default and bounds),
    the way pydantic models do, and is validated with the standard library: importing
    pydantic and building its validators was about 0.06 s of every cold start, a third of the
    bare boto3 + Powertools import (`make bench`, benchmarks/cold_start.py), for a dozen kinds
    of check. Bad configuration raises `ConfigurationError` on the first invocation, loudly,
    instead of acting on a half-understood setting (`load_settings`).
    """

    model_fields: ClassVar[dict[str, FieldInfo]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.model_fields = {
            name: value
            for base in reversed(cls.__mro__)
            for name, value in vars(base).items()
            if isinstance(value, FieldInfo)
        }

    @classmethod
    def model_validate(cls, environment: Mapping[str, str]) -> Self:
        """Every field from its variable (or its default); ValueError listing every problem."""
        hints = get_type_hints(cls, include_extras=True)
        values: dict[str, Any] = {}
        problems: list[str] = []
        for name, spec in cls.model_fields.items():
            if spec.alias not in environment:
                if spec.is_required():
                    problems.append(f"{spec.alias}: is required")
                else:
                    values[name] = spec.default
                continue
            try:
                values[name] = _convert(environment[spec.alias], hints[name])
                _check(values[name], spec)
            except ValueError as error:
                problems.append(f"{spec.alias}: {error}")
        if not problems:
            problems = cls.model_problems(values)
        if problems:
            raise ValueError("; ".join(problems))
        model = cls.__new__(cls)
        for name, value in values.items():
            object.__setattr__(model, name, value)
        return model

    @classmethod
    def model_problems(cls, values: Mapping[str, Any]) -> list[str]:
        """What is wrong with the fields together (each already valid); none by default."""
        return []

    @classmethod
    def field_of(cls, variable: str) -> str | None:
        """The name of the field read from `variable`, or None when the model has none."""
        return next((name for name, spec in cls.model_fields.items() if spec.alias == variable), None)

    @classmethod
    def validate_value(cls, variable: str, raw: Any) -> Any:
        """One variable's value, converted and checked exactly as `model_validate` does it;
        ValueError saying why not (KeyError: the model has no such variable)."""
        name = cls.field_of(variable)
        if name is None:
            raise KeyError(variable)
        value = _convert(raw, get_type_hints(cls, include_extras=True)[name])
        _check(value, cls.model_fields[name])
        return value

    def with_values(self, values: Mapping[str, Any]) -> Self:
        """A copy with these fields replaced (values already validated, `validate_value`)."""
        unknown = set(values) - set(self.model_fields)
        if unknown:
            raise KeyError(f"{type(self).__name__} has no field(s) {sorted(unknown)}")
        copy = type(self).__new__(type(self))
        for name in self.model_fields:
            object.__setattr__(copy, name, values[name] if name in values else getattr(self, name))
        return copy

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen")

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.model_fields)
        return f"{type(self).__name__}({shown})"


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


CsvList = Annotated[list[str], Before(_split_csv)]


class Settings(EnvModel):
    """What every function needs: where the ledger and topics are, which endpoints are named."""

    ledger_table: str = Field(alias="LEDGER_TABLE", min_length=3)
    info_topic_arn: str = Field(alias="INFO_TOPIC_ARN", pattern=r"^arn:aws[a-z-]*:sns:")
    critical_topic_arn: str = Field(alias="CRITICAL_TOPIC_ARN", pattern=r"^arn:aws[a-z-]*:sns:")
    event_bus_name: str = Field("default", alias="EVENT_BUS_NAME", min_length=1)
    # Empty for a fleet found only by DISCOVERY_TAG (a function that finds endpoints by tag needs one or the other).
    monitored_endpoints: CsvList = Field(alias="MONITORED_ENDPOINTS")
    ledger_retention_days: int = Field(90, alias="LEDGER_RETENTION_DAYS", ge=1, le=3650)
    # An endpoint's `model-medic:` tags may only tighten the stack's bounds unless this is true (policy.py).
    tags_may_loosen_bounds: bool = Field(False, alias="TAGS_MAY_LOOSEN_BOUNDS")
    # What messages name and link (tell/outcome.py): the stack, and the bucket of its daily reports.
    # STACK_NAME is also every metric's `stack` dimension, read by observability.py as its Metrics is made.
    stack_name: str = Field("", alias="STACK_NAME", pattern=r"^$|^[a-zA-Z][-a-zA-Z0-9]{0,127}$")
    reports_bucket: str = Field("", alias="REPORTS_BUCKET", max_length=63)


class ScopedSettings(Settings):
    """A function that covers every endpoint in scope (`scope.Scope`): the named ones and,
    with a discovery tag, every live endpoint carrying it."""

    # "key=value": live endpoints with this tag are in scope too; empty: only the named.
    discovery_tag: str = Field("", alias="DISCOVERY_TAG", pattern=r"^$|^[^=]+=.*$")

    @classmethod
    def model_problems(cls, values: Mapping[str, Any]) -> list[str]:
        """Names, the tag or both (the template's rule EndpointsToWatch says the same before a
        stack is created)."""
        if not values["monitored_endpoints"] and not values["discovery_tag"]:
            return ["MONITORED_ENDPOINTS: empty, and so is DISCOVERY_TAG - no endpoint is in scope"]
        return []


class ActionSettings(ScopedSettings):
    """What every action function needs beyond that: the mode, the budget, the scope."""

    automation_mode: Mode = Field(alias="AUTOMATION_MODE")
    mode_parameter_name: str = Field(alias="MODE_PARAMETER_NAME", pattern=r"^/")
    mode_cache_seconds: int = Field(30, alias="MODE_CACHE_SECONDS", ge=0, le=300)
    actions_per_hour: int = Field(alias="ACTIONS_PER_HOUR", ge=1, le=100)
    # A standing condition (a bound, a spent budget) is one paging episode until it has been quiet
    # this long; while it lasts, people are reminded at most every REMINDER_HOURS (docs/rooms/tell.md).
    episode_quiet_minutes: int = Field(60, alias="EPISODE_QUIET_MINUTES", ge=1, le=7 * 1440)
    reminder_hours: int = Field(4, alias="REMINDER_HOURS", ge=1, le=168)


SettingsT = TypeVar("SettingsT", bound=EnvModel)


@cache
def load_settings[SettingsT: EnvModel](model: type[SettingsT]) -> SettingsT:
    """The model validated from the environment (cached; `load_settings.cache_clear()` in tests)."""
    try:
        return model.model_validate(dict(os.environ))
    except ValueError as error:
        raise ConfigurationError(f"invalid configuration for {model.__name__}: {error}") from None


class ScaleUpSettings(ActionSettings):
    """ScaleUpFunction: how much capacity a boost adds, up to where, and when it is given back."""

    max_instance_count: int = Field(alias="MAX_INSTANCE_COUNT", ge=1, le=1000)
    scale_step: int = Field(alias="SCALE_STEP", ge=1, le=100)
    # A serverless variant's ceilings (AWS allows 1-200 for both: botocore's ServerlessMaxConcurrency).
    max_concurrency: int = Field(20, alias="MAX_CONCURRENCY", ge=1, le=200)
    max_provisioned_concurrency: int = Field(10, alias="MAX_PROVISIONED_CONCURRENCY", ge=1, le=200)
    scale_up_cooldown_minutes: int = Field(alias="SCALE_UP_COOLDOWN_MINUTES", ge=0, le=1440)
    scale_back_after_minutes: int = Field(alias="SCALE_BACK_AFTER_MINUTES", ge=0, le=1440)
    # How long the alarm may stay in ALARM once the last step's capacity is InService.
    scale_up_verify_minutes: int = Field(15, alias="SCALE_UP_VERIFY_MINUTES", ge=1, le=1440)
    # An inference component's most copies (its model-medic:max-copy-count tag may say fewer).
    max_copy_count: int = Field(4, alias="MAX_COPY_COUNT", ge=1, le=1000)


class RetrainingSettings(ActionSettings):
    """StartRetrainingFunction: which pipeline, with which parameters, how often at most."""

    pipeline_name: str = Field(alias="PIPELINE_NAME", pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}$")
    # {"Name": "value with {endpoint} {alarm} {feature} {time} {date}"}
    pipeline_parameters: Annotated[dict[str, str], JSON] = Field(alias="PIPELINE_PARAMETERS")
    retrain_cooldown_hours: int = Field(alias="RETRAIN_COOLDOWN_HOURS", ge=0, le=24 * 30)


class RollbackSettings(ActionSettings):
    """RollbackModelFunction: which variant is the canary, whether to reject model packages."""

    canary_variant: str = Field(alias="CANARY_VARIANT", min_length=1, max_length=63)
    reject_model_packages: bool = Field(alias="REJECT_MODEL_PACKAGES")
    rollback_cooldown_minutes: int = Field(alias="ROLLBACK_COOLDOWN_MINUTES", ge=0, le=1440)
    # Accuracy is measured hourly: give the rolled-back model a few hours to show it.
    rollback_verify_minutes: int = Field(180, alias="ROLLBACK_VERIFY_MINUTES", ge=1, le=7 * 1440)
    # A component whose specification changed within these hours before the accuracy alarm is the
    # suspect (the template gives the hours the accuracy is measured over, QualityWindowHours).
    component_change_hours: int = Field(24, alias="COMPONENT_CHANGE_HOURS", ge=1, le=336)


class ComputeMetricsSettings(ScopedSettings):
    """ComputeMetricsFunction: the period, the lag, and an optional tag that adds endpoints."""

    metrics_period_minutes: int = Field(5, alias="METRICS_PERIOD_MINUTES", ge=1, le=60)
    # How long after a period ends its one-minute SageMaker datapoints are given to arrive.
    metrics_lag_minutes: int = Field(2, alias="METRICS_LAG_MINUTES", ge=1, le=30)


def _ascending_steps(value: object) -> object:
    if isinstance(value, str):
        value = [int(item) for item in value.split(",") if item.strip()]
    if isinstance(value, list) and (not value or value != sorted(set(value)) or value[-1] != 100 or value[0] <= 0):
        raise ValueError("steps must ascend strictly from above 0 to 100")
    return value


# Sampling noise alone: with the baseline's 10 equal bins, an hour of n rows from the training
# distribution itself has a PSI above the 0.2 alarm line in 44 % of hours at n = 50, 3.4 % at
# 100 and 0.2 % at 150 (4,000 simulated hours each; docs/canary-judge.md, "Drift sample size").
MIN_DRIFT_ROWS = 150


def _meaningful_rows(value: Any) -> Any:
    try:
        rows = int(value)
    except (TypeError, ValueError):
        return value  # the type check says what is wrong
    if rows < MIN_DRIFT_ROWS:
        raise ValueError(
            f"{rows} is below {MIN_DRIFT_ROWS}: an hour of fewer rows than that drawn from the training data "
            "itself often has a PSI above 0.2 (sampling noise), so the DataDrift alarm would fire on no drift"
        )
    return value


class CanarySettings(ActionSettings):
    """PromoteCanaryFunction: the variants, the steps and the evidence a canary must show."""

    primary_variant: str = Field(alias="PRIMARY_VARIANT", min_length=1)
    canary_variant: str = Field(alias="CANARY_VARIANT", min_length=1)
    canary_steps: Annotated[list[int], Before(_ascending_steps)] = Field(alias="CANARY_STEPS")
    bake_minutes: int = Field(alias="CANARY_BAKE_MINUTES", ge=0, le=24 * 60)
    min_invocations: int = Field(alias="CANARY_MIN_INVOCATIONS", ge=0)
    max_error_rate: float = Field(alias="CANARY_MAX_ERROR_RATE", ge=0, le=100)
    max_latency_ms: float = Field(alias="CANARY_MAX_LATENCY_MS", gt=0)
    # The sequential judge (rollout/judge.py): the chance that a canary no worse than the primary is ever
    # rolled back, over the whole rollout; the smallest error-rate ratio and latency increase (%)
    # worth acting on.
    false_rollback_rate: float = Field(0.01, alias="CANARY_FALSE_ROLLBACK_RATE", gt=0, le=0.1)
    error_effect: float = Field(1.5, alias="CANARY_ERROR_EFFECT", gt=1, le=100)
    latency_effect: float = Field(20.0, alias="CANARY_LATENCY_EFFECT", gt=0, le=1000)
    # A step the judge has not decided after this many bakes is inconclusive: held (people told
    # once) or rolled back.
    inconclusive_bakes: int = Field(6, alias="CANARY_INCONCLUSIVE_BAKES", ge=1, le=100)
    inconclusive_action: Literal["hold", "rollback"] = Field("hold", alias="CANARY_INCONCLUSIVE_ACTION")
    # The canary's instances never exceed this (nor its scaling target's MaxCapacity).
    max_instance_count: int = Field(10, alias="MAX_INSTANCE_COUNT", ge=1, le=1000)
    # Approved packages of these groups are deployed as canaries; empty: none is.
    model_package_groups: CsvList = Field([], alias="MODEL_PACKAGE_GROUPS")
    # Champion / challenger: the registered ModelQuality metric compared, and by how much the
    # candidate must beat the serving model (absolute; lower is better for mse, rmse, mae).
    candidate_metric: str = Field("accuracy", alias="CANDIDATE_METRIC", pattern=r"^[a-z0-9_]{1,64}$")
    candidate_margin: float = Field(0.0, alias="CANDIDATE_MARGIN", ge=0)
    reject_model_packages: bool = Field(True, alias="REJECT_MODEL_PACKAGES")
    # KMS keys (ARNs) the stack may use: endpoint configs encrypted with one of them can be
    # rolled out (SageMaker needs kms:CreateGrant on a config's key), reports under one read.
    model_kms_keys: CsvList = Field([], alias="MODEL_KMS_KEYS")
    # The endpoint configs and models rollouts created are deleted this long after a rollout
    # last used them, once nothing needs them (cleanup.py).
    rollout_cleanup_days: int = Field(30, alias="ROLLOUT_CLEANUP_DAYS", ge=1, le=3650)
    # RollbackSettings' own: a model an inference component's specification named before its last
    # change is kept this long after the change, while ComponentRollback may put it back (cleanup.py).
    component_change_hours: int = Field(24, alias="COMPONENT_CHANGE_HOURS", ge=1, le=336)


S3_URI_OR_EMPTY = r"^$|^s3://[a-z0-9.-]{3,63}(/.*)?$"
# Model Monitor's attributes as the measure jobs read them: `.`-separated keys of a JSON record
# or a zero-based CSV column (measure/records.py), at most 256 characters; no brackets.
ATTRIBUTE = r"^[A-Za-z0-9_.-]{0,256}$"


class DriftSettings(ScopedSettings):
    """ComputeDriftFunction: where data capture and the baselines are, and how many rows an hour needs."""

    # The stack's defaults: an endpoint's capture is where its DataCaptureConfig says, its
    # baseline where its tag says (measure/endpoint_data.py); empty: no default.
    capture_s3_uri: str = Field("", alias="CAPTURE_S3_URI", pattern=S3_URI_OR_EMPTY)
    baseline_s3_uri: str = Field("", alias="BASELINE_S3_URI", pattern=S3_URI_OR_EMPTY)
    drift_min_rows: Annotated[int, Before(_meaningful_rows)] = Field(alias="DRIFT_MIN_ROWS", ge=MIN_DRIFT_ROWS)
    # The label column of training.csv (and statistics.json), left out of the baseline: "auto"
    # (the captured rows' width decides: as wide as the training set, no label; one narrower,
    # the label is the first column, where SageMaker's built-in algorithms expect it), a header
    # name, a zero-based column number, or "none".
    baseline_label_column: str = Field("auto", alias="BASELINE_LABEL_COLUMN", max_length=256)
    # Model Monitor's features attribute: where the features of a JSON instance are
    # ({"instances": [{"features": [...]}]}); instances without it are read by feature name.
    features_attribute: str = Field("features", alias="FEATURES_ATTRIBUTE", pattern=ATTRIBUTE)
    # The queue through which the hourly run hands each endpoint to its own invocation
    # (measure/fanout.py): the function reads its batches through an event source mapping.
    drift_queue_url: str = Field(alias="DRIFT_QUEUE_URL", pattern=r"^https?://\S+$")
    # FeatureDrift (PSI) of each feature and FeatureKS of each numeric one besides MaxFeatureDrift;
    # false: the maximum only (a custom metric a feature, and one a numeric feature, fewer; README "Cost").
    per_feature_drift_metrics: bool = Field(True, alias="PER_FEATURE_DRIFT_METRICS")


class QualitySettings(ScopedSettings):
    """ComputeModelQualityFunction: where labels and predictions are, what kind of model it is."""

    # The stack's defaults: an endpoint's capture is where its DataCaptureConfig says, its
    # labels where its tag says (measure/endpoint_data.py); empty: no default.
    capture_s3_uri: str = Field("", alias="CAPTURE_S3_URI", pattern=S3_URI_OR_EMPTY)
    ground_truth_s3_uri: str = Field("", alias="GROUND_TRUTH_S3_URI", pattern=S3_URI_OR_EMPTY)
    problem_type: Literal["BinaryClassification", "MulticlassClassification", "Regression"] = Field(
        alias="PROBLEM_TYPE"
    )
    quality_window_hours: int = Field(alias="QUALITY_WINDOW_HOURS", ge=1, le=24 * 14)
    label_lookback_hours: int = Field(alias="LABEL_LOOKBACK_HOURS", ge=0, le=24 * 30)
    quality_min_samples: int = Field(alias="QUALITY_MIN_SAMPLES", ge=1)
    positive_label: str = Field("1", alias="POSITIVE_LABEL", min_length=1, max_length=256)
    probability_threshold: float = Field(0.5, alias="PROBABILITY_THRESHOLD", gt=0, lt=1)
    # Model Monitor's inference and probability attributes: a key path into a JSON record
    # (predicted_label, score) or a zero-based CSV column ("0"); empty: not in the response.
    inference_attribute: str = Field("predicted_label", alias="INFERENCE_ATTRIBUTE", pattern=ATTRIBUTE)
    probability_attribute: str = Field("score", alias="PROBABILITY_ATTRIBUTE", pattern=ATTRIBUTE)
    # Where decoded predictions are kept, one object per endpoint and capture hour, so that
    # a run reads one object per hour of look-back instead of every capture file.
    prediction_index_s3_uri: str = Field(
        "", alias="PREDICTION_INDEX_S3_URI", pattern=r"^$|^s3://[a-z0-9.-]{3,63}(/.*)?$"
    )
    # The queue through which the hourly catch-up hands each endpoint to its own invocation
    # (measure/fanout.py): the function reads its batches through an event source mapping.
    quality_queue_url: str = Field(alias="QUALITY_QUEUE_URL", pattern=r"^https?://\S+$")


class ReportSettings(ScopedSettings):
    """DailyReportFunction: where the reports go, and which endpoints it covers."""

    reports_bucket: str = Field(alias="REPORTS_BUCKET", min_length=3)


class AlarmManagerSettings(ScopedSettings):
    """AlarmManagerFunction: the stack whose alarms it keeps, the topics they notify, the
    thresholds they default to (an endpoint's tags may override them, `policy.py`)."""

    stack_name: str = Field(alias="STACK_NAME", pattern=r"^[a-zA-Z][-a-zA-Z0-9]{0,127}$")
    warning_topic_arn: str = Field(alias="WARNING_TOPIC_ARN", pattern=r"^arn:aws[a-z-]*:sns:")
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
    # A CloudWatch dashboard per endpoint (an account's first three are free; README "Cost").
    endpoint_dashboards: bool = Field(True, alias="ENDPOINT_DASHBOARDS")
