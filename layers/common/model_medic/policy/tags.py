"""Per-endpoint policy from tags: an endpoint's `model-medic:` tags override the stack's
defaults for that endpoint. Pure: tags in, validated settings out; no AWS call.

The one tag prefix is `model-medic:`; the key after it is the stack parameter it overrides,
in lower-case kebab (`MaxInstanceCount` -> `model-medic:max-instance-count`). `KEYS` below is
the whole list (README "Per-endpoint policy" shows it as a table). Tags without the prefix
are not ours and are ignored.

Validation is the stack's own: a tag value is converted and checked by the `Field` of every
settings model that reads the same environment variable (`EnvModel.validate_value`), so a
tag can hold exactly what the stack parameter could, and `policy.apply` gives a function
its settings with the endpoint's values in place. A bad value, or an unknown `model-medic:`
key, is a `Problem`: the caller tells it once (`Problem.mark`) and the stack's default is
used for that key - never a crash, never a guess.

What a tag can hold (SageMaker's `Tag` shape, botocore's service model and the
AWS::SageMaker::Endpoint Tag reference): keys 1-128 characters, values 0-256, both only
Unicode letters, digits, white space and `_ . : / = + - @`. So a list is written with `/`
(`model-medic:canary-steps` = `5/25/100`, the stack's `5,25,100`), and the pipeline's
parameters, a JSON object on the stack, are one tag per parameter:
`model-medic:retraining-pipeline-parameter:<Name>` = value (a literal: `{endpoint}` cannot
be written in a tag), each replacing that parameter of RetrainingPipelineParameters.

Bounds only tighten: a key marked with a `bound` (MaxInstanceCount, ScaleStep, the canary's
ceilings and bake time) may move the stack's value only the safe way - a lower ceiling, a
smaller step, a longer bake - unless the stack's TagsMayLoosenBounds is true. A tag that
would loosen one is a `Problem` told once with the reason (`within_stack`), and the stack's
value applies. Anyone with `sagemaker:AddTags` can write a tag; only the stack's owners
can loosen what it allows.

The automation mode from a tag is the endpoint's own mode, in place of AutomationMode; the
SSM kill switch still bounds it (`gates.ModeSwitch`).
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, Literal

from model_medic.platform.settings import (
    AlarmManagerSettings,
    CanarySettings,
    DriftSettings,
    EnvModel,
    QualitySettings,
    RetrainingSettings,
    RollbackSettings,
    ScaleUpSettings,
)

PREFIX = "model-medic:"
TAG_KEY_MAX = 128
TAG_VALUE_MAX = 256
_TAG_SYMBOLS = frozenset("_.:/=+-@")
PIPELINE_PARAMETER = "retraining-pipeline-parameter:"
_PIPELINE_PARAMETER_NAME_MAX = 256  # SageMaker's PipelineParameterName: [A-Za-z0-9\-_]*, 1-256

# The models whose fields a tag may override: a value must pass every one that reads its variable.
MODELS: tuple[type[EnvModel], ...] = (
    ScaleUpSettings,
    RetrainingSettings,
    RollbackSettings,
    CanarySettings,
    AlarmManagerSettings,
    QualitySettings,
    DriftSettings,
)


# Which way a bound tightens: "at-most" - a ceiling or a step (lower is safer); "at-least" - a
# wait (longer is safer).
Bound = Literal["at-most", "at-least"]


def _same(value: str) -> str:
    return value


def _slashes(value: str) -> str:
    """A list in a tag (`5/25/100`) as the stack's variable writes it (`5,25,100`)."""
    if "," in value:
        raise ValueError("cannot hold ',' (not allowed in a tag): separate the items with '/'")
    return ",".join(item.strip() for item in value.split("/"))


@dataclass(frozen=True)
class Key:
    """One tag key: what it overrides (the stack parameter and its variable) and an example."""

    key: str  # after the prefix
    parameter: str  # the template parameter whose default it replaces for the endpoint
    variable: str  # the environment variable the functions read that parameter from
    example: str
    to_variable: Callable[[str], str] = _same  # the tag value written as the variable's value
    bound: Bound | None = None  # a safety bound: a tag may only tighten it (`within_stack`)


KEYS: tuple[Key, ...] = (
    Key("automation-mode", "AutomationMode", "AUTOMATION_MODE", "dry-run"),
    Key("max-instance-count", "MaxInstanceCount", "MAX_INSTANCE_COUNT", "3", bound="at-most"),
    Key("scale-step", "ScaleStep", "SCALE_STEP", "2", bound="at-most"),
    Key("max-concurrency", "MaxConcurrency", "MAX_CONCURRENCY", "10", bound="at-most"),
    Key(
        "max-provisioned-concurrency", "MaxProvisionedConcurrency", "MAX_PROVISIONED_CONCURRENCY", "5", bound="at-most"
    ),
    Key("error-rate-threshold", "ErrorRateThreshold", "ERROR_RATE_THRESHOLD", "2.5"),
    Key("latency-threshold-ms", "LatencyThresholdMs", "LATENCY_THRESHOLD_MS", "300"),
    Key("drift-threshold", "DriftThreshold", "DRIFT_THRESHOLD", "0.3"),
    Key("accuracy-threshold", "AccuracyThreshold", "ACCURACY_THRESHOLD", "0.9"),
    Key("primary-variant-name", "PrimaryVariantName", "PRIMARY_VARIANT", "champion"),
    Key("canary-variant-name", "CanaryVariantName", "CANARY_VARIANT", "challenger"),
    Key("canary-steps", "CanarySteps", "CANARY_STEPS", "5/25/100", _slashes),
    Key("canary-bake-minutes", "CanaryBakeMinutes", "CANARY_BAKE_MINUTES", "30", bound="at-least"),
    Key("canary-max-error-rate", "CanaryMaxErrorRate", "CANARY_MAX_ERROR_RATE", "1", bound="at-most"),
    Key("canary-max-latency-ms", "CanaryMaxLatencyMs", "CANARY_MAX_LATENCY_MS", "500", bound="at-most"),
    Key("retraining-pipeline-name", "RetrainingPipelineName", "PIPELINE_NAME", "model-medic-retraining-fraud"),
    Key("problem-type", "ProblemType", "PROBLEM_TYPE", "Regression"),
    # The endpoint's own data (measure/endpoint_data.py); its capture is its DataCaptureConfig's.
    Key("baseline-s3-uri", "BaselineS3Uri", "BASELINE_S3_URI", "s3://team-a-ml/baselines"),
    Key("features-attribute", "FeaturesAttribute", "FEATURES_ATTRIBUTE", "features"),
    Key("ground-truth-s3-uri", "GroundTruthS3Uri", "GROUND_TRUTH_S3_URI", "s3://team-a-ml/ground-truth"),
    Key("inference-attribute", "InferenceAttribute", "INFERENCE_ATTRIBUTE", "predicted_label"),
    Key("probability-attribute", "ProbabilityAttribute", "PROBABILITY_ATTRIBUTE", "score"),
    Key("positive-label", "PositiveLabel", "POSITIVE_LABEL", "fraud"),
    Key("endpoint-dashboards", "EndpointDashboards", "ENDPOINT_DASHBOARDS", "false"),
    Key("per-feature-drift-metrics", "PerFeatureDriftMetrics", "PER_FEATURE_DRIFT_METRICS", "false"),
)
_BY_KEY = {PREFIX + k.key: k for k in KEYS}


@dataclass(frozen=True)
class Problem:
    """A `model-medic:` tag that is not used: a bad value or an unknown key."""

    endpoint_tag: str  # the whole tag key
    value: str
    reason: str

    @property
    def mark(self) -> str:
        """The ledger mark that tells it once per key and value (a stable digest: Python's
        `hash` of a string changes with every process)."""
        digest = hashlib.sha256(self.value.encode("utf-8", "replace")).hexdigest()[:16]
        key = self.endpoint_tag[:TAG_KEY_MAX].encode("utf-8", "replace").decode("utf-8")
        return f"bad-tag#{key}#{digest}"

    def sentence(self, endpoint: str) -> str:
        shown = self.value if len(self.value) <= 80 else self.value[:77] + "..."
        key = self.endpoint_tag.encode("utf-8", "backslashreplace").decode("utf-8")  # a message SNS accepts
        return f"tag {key}={shown!r} on endpoint {endpoint} is not used: {self.reason}; the stack's setting applies"


@dataclass(frozen=True)
class EndpointPolicy:
    """What an endpoint's tags set: variable -> the variable's text (checked against every model
    that reads it), pipeline parameters from tags, and the tags that were not used."""

    values: tuple[tuple[str, str], ...] = ()
    pipeline_parameters: tuple[tuple[str, str], ...] = ()
    problems: tuple[Problem, ...] = ()

    def value(self, variable: str) -> str | None:
        return dict(self.values).get(variable)


STACK = EndpointPolicy()


def tag_problem(key: str, value: str) -> str | None:
    """Why this tag could not have been written on a SageMaker endpoint, or None."""
    if not 1 <= len(key) <= TAG_KEY_MAX:
        return f"a tag key has 1 to {TAG_KEY_MAX} characters"
    if len(value) > TAG_VALUE_MAX:
        return f"a tag value has at most {TAG_VALUE_MAX} characters, not {len(value)}"
    for text in (key, value):
        bad = next((c for c in text if not _tag_character(c)), None)
        if bad is not None:
            return f"{bad!r} cannot be in a tag (letters, digits, white space and _ . : / = + - @)"
    return None


def _tag_character(c: str) -> bool:
    # [\p{L}\p{Z}\p{N}_.:/=+\-@]: a Unicode letter, separator (white space) or number, or a symbol.
    return c in _TAG_SYMBOLS or unicodedata.category(c)[0] in "LZN"


def discovery_key(discovery_tag: str) -> tuple[str, ...]:
    """The discovery tag's key ("key=value"): it says what is in scope, not a policy, and may carry our prefix."""
    return (discovery_tag.partition("=")[0],) if discovery_tag else ()


def read(tags: Mapping[str, str], ignore: Collection[str] = ()) -> EndpointPolicy:
    """The endpoint's policy from its tags; `ignore`: keys used otherwise (the discovery tag's)."""
    return _read(tuple(sorted((k, v) for k, v in tags.items() if k.startswith(PREFIX) and k not in ignore)))


@lru_cache(maxsize=4096)
def _read(tags: tuple[tuple[str, str], ...]) -> EndpointPolicy:
    values: dict[str, str] = {}
    parameters: dict[str, str] = {}
    problems: list[Problem] = []
    for tag, value in tags:
        why = tag_problem(tag, value)
        if why is None:
            known = _BY_KEY.get(tag)
            if known is not None:
                try:
                    values[known.variable] = _checked(known, value)
                except ValueError as error:
                    why = str(error)
            elif tag.startswith(PREFIX + PIPELINE_PARAMETER):
                why = _parameter_problem(tag.removeprefix(PREFIX + PIPELINE_PARAMETER), value)
                if why is None:
                    parameters[tag.removeprefix(PREFIX + PIPELINE_PARAMETER)] = value
            else:
                why = f"unknown key (known: {', '.join(sorted(_BY_KEY))}, {PREFIX}{PIPELINE_PARAMETER}<Name>)"
        if why is not None:
            problems.append(Problem(tag, value, why))
    return EndpointPolicy(tuple(sorted(values.items())), tuple(sorted(parameters.items())), tuple(problems))


def within_stack(settings: EnvModel, found: EndpointPolicy) -> EndpointPolicy:
    """The policy without what the stack does not allow: a bound loosened (unless the stack's
    TagsMayLoosenBounds is true), and a pipeline the stack's function may not start - its role
    may start only the stack's RetrainingPipelineName and the pipelines named `<that>-...`
    (template.yaml), so another name is a problem, not an AccessDenied in the middle of an
    incident. Each refused tag is a `Problem` saying why."""
    refused: dict[str, str] = {}  # variable -> why
    if not getattr(settings, "tags_may_loosen_bounds", False):
        for key in KEYS:
            text = found.value(key.variable)
            why = None if key.bound is None or text is None else _loosens(settings, key, text)
            if why is not None:
                refused[key.variable] = why
    stack_pipeline = getattr(settings, "pipeline_name", None)
    name = found.value("PIPELINE_NAME")
    if (
        stack_pipeline is not None
        and name is not None
        and name != stack_pipeline
        and not name.startswith(f"{stack_pipeline}-")
    ):
        refused["PIPELINE_NAME"] = f"the stack may start only {stack_pipeline} and pipelines named {stack_pipeline}-..."
    if not refused:
        return found
    by_variable = {k.variable: k for k in KEYS}
    problems = tuple(
        Problem(PREFIX + by_variable[variable].key, found.value(variable) or "", why)
        for variable, why in refused.items()
    )
    kept = tuple(item for item in found.values if item[0] not in refused)
    return replace(found, values=kept, problems=(*found.problems, *problems))


def _loosens(settings: EnvModel, key: Key, text: str) -> str | None:
    """Why the tag's value loosens the stack's bound in these settings, or None."""
    name = type(settings).field_of(key.variable)
    if name is None:
        return None  # this function does not read the bound
    stack = getattr(settings, name)
    value = type(settings).validate_value(key.variable, text)
    if key.bound == "at-most" and value > stack:
        way = "raise"
    elif key.bound == "at-least" and value < stack:
        way = "lower"
    else:
        return None
    allowed = "lower" if key.bound == "at-most" else "raise"
    return (
        f"it would {way} the stack's {key.parameter} ({_shown(stack)}) to {_shown(value)}; a tag may only "
        f"{allowed} this bound (the stack's TagsMayLoosenBounds is false)"
    )


def _shown(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _checked(key: Key, value: str) -> str:
    """The variable's text for a tag value that every model reading the variable accepts."""
    text = key.to_variable(value)
    for model in MODELS:
        if model.field_of(key.variable) is not None:
            model.validate_value(key.variable, text)  # ValueError: the model's own message
    return text


def _parameter_problem(name: str, value: str) -> str | None:
    if not name or len(name) > _PIPELINE_PARAMETER_NAME_MAX:
        return f"a pipeline parameter name has 1 to {_PIPELINE_PARAMETER_NAME_MAX} characters"
    if not all(c.isascii() and (c.isalnum() or c in "-_") for c in name):
        return f"pipeline parameter name {name!r} may hold only A-Z a-z 0-9 - _"
    return None


def apply[SettingsT: EnvModel](settings: SettingsT, policy: EndpointPolicy) -> SettingsT:
    """The settings with the endpoint's values in place of the stack's (the same object when
    the policy changes none of its fields). Cached per settings and policy."""
    if policy is STACK or (not policy.values and not policy.pipeline_parameters):
        return settings
    applied: SettingsT = _apply(settings, policy)
    return applied


@lru_cache(maxsize=4096)
def _apply(settings: Any, policy: EndpointPolicy) -> Any:
    model = type(settings)
    updates: dict[str, Any] = {}
    for variable, text in policy.values:
        name = model.field_of(variable)
        if name is not None:
            updates[name] = model.validate_value(variable, text)  # checked by `read`: cannot fail
    if policy.pipeline_parameters and model.field_of("PIPELINE_PARAMETERS") is not None:
        updates["pipeline_parameters"] = {**settings.pipeline_parameters, **dict(policy.pipeline_parameters)}
    return settings.with_values(updates) if updates else settings
