"""The alarms and the dashboard of one monitored endpoint, as the exact requests CloudWatch is sent."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Literal, get_args

from model_medic.platform.observability import METRICS_NAMESPACE, STACK_DIMENSION

QualitySource = Literal["model-medic", "model-monitor"]

# The alarms' own tag: which stack made (and may change or delete) the alarm.
STACK_TAG = "model-medic:stack"
DASHBOARD_PREFIX = "model-medic"


@dataclass(frozen=True)
class AlarmThresholds:
    """What an endpoint's alarms watch and where they fire: the stack's parameters, or an
    endpoint's own values from its tags (`policy.py`)."""

    error_rate: float  # percent
    latency_ms: float
    drift: float  # maximum feature PSI
    accuracy: float
    quality_source: QualitySource
    model_monitor_drift_feature: str
    model_monitor_drift_threshold: float
    canary_variant: str
    canary_max_error_rate: float  # percent
    canary_max_latency_ms: float


@dataclass(frozen=True)
class Topics:
    critical: str
    warning: str


@dataclass(frozen=True)
class EndpointWatch:
    """What an endpoint is given: its own four alarms, its canary variant's two (only while the
    endpoint has a variant of that name), and a dashboard unless its policy says none."""

    endpoint: str
    alarms: tuple[dict[str, Any], ...]
    canary_variant: str
    canary_alarms: tuple[dict[str, Any], ...]
    dashboard: bool = True

    def requests(self, variants: Collection[str]) -> list[dict[str, Any]]:
        """The PutMetricAlarm requests for an endpoint with these variants (without the stack
        tag), the canary's first: an endpoint whose own alarms are all held has its canary's
        too, if it should (`variants.held` reads the alarms so)."""
        return [*(self.canary_alarms if self.canary_variant in variants else ()), *self.alarms]

    @property
    def names(self) -> frozenset[str]:
        """Every alarm name the endpoint may have under this policy, its canary's included."""
        return frozenset(a["AlarmName"] for a in (*self.alarms, *self.canary_alarms))

    @property
    def canary_names(self) -> frozenset[str]:
        return frozenset(a["AlarmName"] for a in self.canary_alarms)


def endpoint_watch(endpoint: str, t: AlarmThresholds, topics: Topics, dashboard: bool = True) -> EndpointWatch:
    """The endpoint's alarms (its canary's apart) and whether it has a dashboard."""
    own = (
        _high_error_rate(endpoint, t, topics),
        _high_latency(endpoint, t, topics),
        _data_drift(endpoint, t, topics),
        _accuracy_drop(endpoint, t, topics),
    )
    return EndpointWatch(endpoint, own, t.canary_variant, tuple(_canary_alarms(endpoint, t)), dashboard)


def endpoint_alarms(
    endpoint: str, t: AlarmThresholds, topics: Topics, variants: Collection[str] = ()
) -> list[dict[str, Any]]:
    """The PutMetricAlarm requests of the endpoint's alarms (without the stack tag): four, and
    the canary's two when `variants` holds the canary variant."""
    return endpoint_watch(endpoint, t, topics).requests(variants)


@dataclass(frozen=True)
class Watch:
    """What an alarm watches and when it fires: a PutMetricAlarm request without its name,
    description and actions."""

    namespace: str
    metric: str
    dimensions: list[dict[str, str]]
    statistic: str
    period: int
    periods: int
    threshold: float
    operator: str
    missing: str
    unit: str | None = None


def _by_endpoint(endpoint: str) -> list[dict[str, str]]:
    return [{"Name": "EndpointName", "Value": endpoint}]


def _by_schedule(endpoint: str, schedule: str) -> list[dict[str, str]]:
    """Model Monitor's dimensions: the endpoint and its monitoring schedule."""
    return [{"Name": "Endpoint", "Value": endpoint}, {"Name": "MonitoringSchedule", "Value": f"{endpoint}-{schedule}"}]


def _high_error_rate(endpoint: str, t: AlarmThresholds, topics: Topics) -> dict[str, Any]:
    watch = Watch(
        "Custom/SageMaker",
        "ErrorRate",
        _by_endpoint(endpoint),
        statistic="Average",
        unit="Percent",
        period=300,
        periods=2,
        threshold=t.error_rate,
        operator="GreaterThanThreshold",
        # No invocations means no error rate: not an error.
        missing="notBreaching",
    )
    description = f"Model Medic: error rate (%) of {endpoint} above {_num(t.error_rate)} - scale up"
    # OK closes the incident (the sweep gives the temporary capacity back later).
    return _alarm(f"{endpoint}-HighErrorRate", description, watch, [topics.critical], [topics.critical])


def _high_latency(endpoint: str, t: AlarmThresholds, topics: Topics) -> dict[str, Any]:
    watch = Watch(
        "Custom/SageMaker",
        "TotalLatency",
        _by_endpoint(endpoint),
        statistic="Average",
        unit="Milliseconds",
        period=300,
        periods=2,
        threshold=t.latency_ms,
        operator="GreaterThanThreshold",
        missing="notBreaching",
    )
    description = f"Model Medic: total latency (ms) of {endpoint} above {_num(t.latency_ms)} - scale up"
    return _alarm(f"{endpoint}-HighLatency", description, watch, [topics.warning], [topics.warning])


def _data_drift(endpoint: str, t: AlarmThresholds, topics: Topics) -> dict[str, Any]:
    monitor = t.quality_source == "model-monitor"
    watch = Watch(
        "aws/sagemaker/Endpoints/data-metrics" if monitor else "Custom/SageMaker",
        f"feature_baseline_drift_{t.model_monitor_drift_feature}" if monitor else "MaxFeatureDrift",
        _by_schedule(endpoint, "data-quality") if monitor else _by_endpoint(endpoint),
        statistic="Maximum",
        period=3600,
        periods=1,
        threshold=t.model_monitor_drift_threshold if monitor else t.drift,
        operator="GreaterThanThreshold",
        # Drift is measured hourly from captured traffic; a quiet hour keeps the last verdict.
        missing="ignore",
    )
    description = f"Model Medic: input drift on {endpoint} - start retraining"
    return _alarm(f"{endpoint}-DataDrift", description, watch, [topics.warning])


def _accuracy_drop(endpoint: str, t: AlarmThresholds, topics: Topics) -> dict[str, Any]:
    monitor = t.quality_source == "model-monitor"
    watch = Watch(
        "aws/sagemaker/Endpoints/model-metrics" if monitor else "Custom/SageMaker",
        "accuracy",
        _by_schedule(endpoint, "model-quality") if monitor else _by_endpoint(endpoint),
        statistic="Average",
        period=3600,
        periods=1,
        threshold=t.accuracy,
        operator="LessThanThreshold",
        # Labels arrive late and in bursts: an hour without them says nothing about quality.
        missing="ignore",
    )
    description = f"Model Medic: accuracy of {endpoint} below {_num(t.accuracy)} - roll back"
    return _alarm(f"{endpoint}-ModelAccuracyDrop", description, watch, [topics.critical])


def _canary_alarms(endpoint: str, t: AlarmThresholds) -> list[dict[str, Any]]:
    """The canary's own alarms. No SNS action: an EventBridge rule sends their ALARM to
    PromoteCanaryFunction, which judges the rollout at once and holds its promotion while one is
    in ALARM. They roll nothing back themselves: a five-minute average above a fixed threshold
    is no test within the false-rollback budget (a healthy canary on a quiet endpoint crosses
    it), so the judge's ceiling tests decide (docs/canary-judge.md)."""
    canary = t.canary_variant
    by_canary = [*_by_endpoint(endpoint), {"Name": "VariantName", "Value": canary}]
    errors = Watch(
        "Custom/SageMaker",
        "ErrorRate",
        by_canary,
        statistic="Average",
        unit="Percent",
        period=300,
        periods=2,
        threshold=t.canary_max_error_rate,
        operator="GreaterThanThreshold",
        # No canary traffic (weight 0, or no canary): nothing to judge.
        missing="notBreaching",
    )
    latency = Watch(
        "Custom/SageMaker",
        "TotalLatency",
        by_canary,
        statistic="Average",
        unit="Milliseconds",
        period=300,
        periods=2,
        threshold=t.canary_max_latency_ms,
        operator="GreaterThanThreshold",
        missing="notBreaching",
    )
    of_canary = f"of the {canary} of {endpoint} above"
    looks = "the canary judge looks at once"
    return [
        _alarm(
            f"{endpoint}-{canary}-ErrorRate",
            f"Model Medic: error rate (%) {of_canary} {_num(t.canary_max_error_rate)} - {looks}",
            errors,
        ),
        _alarm(
            f"{endpoint}-{canary}-Latency",
            f"Model Medic: total latency (ms) {of_canary} {_num(t.canary_max_latency_ms)} - {looks}",
            latency,
        ),
    ]


def component_alarms(endpoint: str, component: str, t: AlarmThresholds, topics: Topics) -> list[dict[str, Any]]:
    """The PutMetricAlarm requests of one inference component's alarms (without the stack tag),
    from SageMaker's own per-component metrics (AWS/SageMaker, dimension InferenceComponentName
    only: docs/aws-behaviours.md, "Inference components"): <endpoint>-<component>-HighLatency and
    <endpoint>-<component>-HighErrorRate. In ALARM each adds copies of the component
    (ScaleUpFunction reads the endpoint back from the component)."""
    return [_component_latency(endpoint, component, t, topics), _component_errors(endpoint, component, t, topics)]


def _by_component(component: str) -> list[dict[str, str]]:
    return [{"Name": "InferenceComponentName", "Value": component}]


def _component_latency(endpoint: str, component: str, t: AlarmThresholds, topics: Topics) -> dict[str, Any]:
    watch = Watch(
        "AWS/SageMaker",
        "ModelLatency",
        _by_component(component),
        statistic="Average",
        # No Unit: an alarm with one sees only datapoints published with it; SageMaker's is
        # microseconds, hence the threshold.
        period=300,
        periods=2,
        threshold=t.latency_ms * 1000,
        operator="GreaterThanThreshold",
        # No invocations of the component: nothing slow.
        missing="notBreaching",
    )
    description = (
        f"Model Medic: model latency (ms) of inference component {component} on {endpoint} above "
        f"{_num(t.latency_ms)} - more copies"
    )
    return _alarm(f"{endpoint}-{component}-HighLatency", description, watch, [topics.warning], [topics.warning])


def _component_errors(endpoint: str, component: str, t: AlarmThresholds, topics: Topics) -> dict[str, Any]:
    """SageMaker sends Invocation5XXErrors as 1 for a request answered 5XX and 0 for any other,
    so its Average is the share of requests that failed on the server's side: the error rate as
    a fraction, watched by one metric (a metric-math alarm's message carries no
    Trigger.MetricName for the topic's filter policy to route by). 5XX only: more copies do
    nothing for the callers' 4XX (docs/aws-behaviours.md, "Inference components")."""
    watch = Watch(
        "AWS/SageMaker",
        "Invocation5XXErrors",
        _by_component(component),
        statistic="Average",
        # No Unit, as for ModelLatency: SageMaker's is None.
        period=300,
        periods=2,
        threshold=t.error_rate / 100,
        operator="GreaterThanThreshold",
        # No invocations of the component: no errors.
        missing="notBreaching",
    )
    description = (
        f"Model Medic: 5XX error rate (%) of inference component {component} on {endpoint} above "
        f"{_num(t.error_rate)} - more copies"
    )
    # Critical, as the endpoint's HighErrorRate; OK closes the incident.
    return _alarm(f"{endpoint}-{component}-HighErrorRate", description, watch, [topics.critical], [topics.critical])


def dashboard_prefix(stack: str, region: str) -> str:
    """The names of one stack's dashboards start with this. Dashboards are global to the
    account and cannot be tagged, so the name says whose they are: stack names cannot hold
    "_", so no other stack's prefix is a prefix of this one."""
    return f"{DASHBOARD_PREFIX}_{stack}_{region}_"


def dashboard_name(stack: str, region: str, endpoint: str) -> str:
    return dashboard_prefix(stack, region) + endpoint


def dashboard_body(stack: str, region: str, endpoint: str, alarm_arns: list[str]) -> str:
    """The endpoint at a glance: traffic and errors, latency, input drift and accuracy, what
    the stack's Model Medic did, and its alarms. SEARCH expressions find every variant of the endpoint."""
    quoted = json.dumps(endpoint)[1:-1]
    widgets: list[dict[str, Any]] = [
        _traffic_widget(endpoint, quoted, region),
        _latency_widget(endpoint, quoted, region),
        _drift_and_accuracy_widget(endpoint, quoted, region),
        _decisions_widget(stack, region),
        {
            "type": "alarm",
            "x": 0,
            "y": 12,
            "width": 24,
            "height": 3,
            "properties": {"title": f"Alarms ({endpoint})", "alarms": list(alarm_arns)},
        },
    ]
    return json.dumps({"widgets": widgets}, sort_keys=True, separators=(",", ":"))


def _traffic_widget(endpoint: str, quoted: str, region: str) -> dict[str, Any]:
    """`quoted`: the endpoint's name as it stands inside a SEARCH expression's double quotes."""
    traffic = {
        "expression": "SEARCH('{AWS/SageMaker,EndpointName,VariantName} "
        f'EndpointName="{quoted}" '
        'MetricName=("Invocations" OR "Invocation4XXErrors" OR "Invocation5XXErrors")\', '
        "'Sum', 300)",
        "id": "traffic",
        "label": "",
    }
    error_rate = {"stat": "Average", "yAxis": "right", "label": "ErrorRate (%)"}
    return _widget(
        0,
        0,
        f"Invocations and errors ({endpoint})",
        region,
        300,
        [[traffic], ["Custom/SageMaker", "ErrorRate", "EndpointName", endpoint, error_rate]],
    )


def _latency_widget(endpoint: str, quoted: str, region: str) -> dict[str, Any]:
    latency = {
        "expression": "SEARCH('{AWS/SageMaker,EndpointName,VariantName} "
        f'EndpointName="{quoted}" MetricName=("ModelLatency" OR "OverheadLatency")\', '
        "'Average', 300)",
        "id": "latency",
        "label": "",
        "yAxis": "left",
    }
    total = {"stat": "Average", "yAxis": "right", "label": "TotalLatency (ms)"}
    return _widget(
        12,
        0,
        f"Latency ({endpoint})",
        region,
        300,
        [[latency], ["Custom/SageMaker", "TotalLatency", "EndpointName", endpoint, total]],
        {"yAxis": {"left": {"label": "microseconds"}, "right": {"label": "milliseconds"}}},
    )


def _drift_and_accuracy_widget(endpoint: str, quoted: str, region: str) -> dict[str, Any]:
    monitor_drift = {
        "expression": "SEARCH('{aws/sagemaker/Endpoints/data-metrics,Endpoint,MonitoringSchedule} "
        f"Endpoint=\"{quoted}\"', 'Maximum', 3600)",
        "id": "monitordrift",
        "label": "Model Monitor drift",
    }
    monitor_accuracy = {
        "expression": "SEARCH('{aws/sagemaker/Endpoints/model-metrics,Endpoint,MonitoringSchedule} "
        f'Endpoint="{quoted}" MetricName="accuracy"\', \'Average\', 3600)',
        "id": "monitoraccuracy",
        "label": "Model Monitor accuracy",
        "yAxis": "right",
    }
    return _widget(
        0,
        6,
        f"Input drift and accuracy ({endpoint})",
        region,
        3600,
        [
            [
                "Custom/SageMaker",
                "MaxFeatureDrift",
                "EndpointName",
                endpoint,
                {"stat": "Maximum", "label": "max feature PSI"},
            ],
            ["Custom/SageMaker", "accuracy", "EndpointName", endpoint, {"stat": "Average", "yAxis": "right"}],
            [monitor_drift],
            [monitor_accuracy],
        ],
    )


def _decisions_widget(stack: str, region: str) -> dict[str, Any]:
    """Every decision's `Outcome_<result>` metric (`Telling._logged`), one per result kind, of
    this stack's functions only (the `stack` dimension, `observability.STACK_DIMENSION`)."""
    schema = f"{{{METRICS_NAMESPACE},service,{STACK_DIMENSION}}} {STACK_DIMENSION}={json.dumps(stack)}"
    outcomes = {
        "expression": f"SEARCH('{schema} MetricName=({' OR '.join(_decision_metrics())})', 'Sum', 300)",
        "id": "outcomes",
        "label": "",
    }
    return _widget(12, 6, "Model Medic decisions (all endpoints)", region, 300, [[outcomes]], {"stat": "Sum"})


def _decision_metrics() -> list[str]:
    """The decisions' metric names, quoted as a SEARCH expression names them: one per result kind
    (`tell.outcome.Result`, the one place they are defined)."""
    # Imported here: tell.outcome imports this module (`dashboard_name`).
    from model_medic.tell.outcome import Result

    return [f'"Outcome_{result}"' for result in get_args(Result)]


def _widget(
    x: int,
    y: int,
    title: str,
    region: str,
    period: int,
    metrics: list[Any],
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    properties = {"title": title, "region": region, "view": "timeSeries", "period": period, "metrics": metrics}
    return {"type": "metric", "x": x, "y": y, "width": 12, "height": 6, "properties": {**properties, **(extra or {})}}


def _alarm(
    name: str, description: str, watch: Watch, actions: list[str] | None = None, ok_actions: list[str] | None = None
) -> dict[str, Any]:
    alarm: dict[str, Any] = {
        "AlarmName": name,
        "AlarmDescription": description,
        "ActionsEnabled": True,
        "AlarmActions": list(actions or []),
        "OKActions": list(ok_actions or []),
        "InsufficientDataActions": [],
        "Namespace": watch.namespace,
        "MetricName": watch.metric,
        "Dimensions": watch.dimensions,
        "Statistic": watch.statistic,
        "Period": watch.period,
        "EvaluationPeriods": watch.periods,
        # Explicit even where it equals EvaluationPeriods, so that what CloudWatch returns
        # compares field by field with what was asked for.
        "DatapointsToAlarm": watch.periods,
        "Threshold": float(watch.threshold),
        "ComparisonOperator": watch.operator,
        "TreatMissingData": watch.missing,
    }
    if watch.unit is not None:
        alarm["Unit"] = watch.unit
    return alarm


def _num(value: float) -> str:
    return f"{value:g}"


# Model Medic's own verdict on a component's rolling update (remediate/rollout/component.py): an
# alarm SageMaker watches (AutoRollbackConfiguration), made for the update and deleted after it.
VERDICT_SUFFIX = "RolloutVerdict"
VERDICT_NAMESPACE = "ModelMedic"


def verdict_alarm_name(endpoint: str, component: str) -> str:
    return f"{endpoint}-{component}-{VERDICT_SUFFIX}"


def verdict_dimensions(endpoint: str, component: str) -> list[dict[str, str]]:
    return [{"Name": "EndpointName", "Value": endpoint}, {"Name": "InferenceComponentName", "Value": component}]


def verdict_alarm(endpoint: str, component: str) -> dict[str, Any]:
    """The PutMetricAlarm request (without the stack tag) of the verdict alarm of a component's
    rolling update: ALARM in the minute Model Medic's judge puts RolloutVerdict = 1, OK otherwise
    (missing data is not breaching). No actions: SageMaker reads it, and the rollout tells people."""
    watch = Watch(
        VERDICT_NAMESPACE,
        "RolloutVerdict",
        verdict_dimensions(endpoint, component),
        statistic="Maximum",
        period=60,
        periods=1,
        threshold=1,
        operator="GreaterThanOrEqualToThreshold",
        missing="notBreaching",
    )
    description = (
        f"Model Medic: its judge found inference component {component} on {endpoint} erring more since its rolling "
        "update began - SageMaker rolls the update back"
    )
    return _alarm(verdict_alarm_name(endpoint, component), description, watch)
