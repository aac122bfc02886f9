"""Start the retraining pipeline when inputs drift: once per transition, never beside a run
that is still executing, at most once per cool-down per endpoint (the gates)."""

from __future__ import annotations

import hashlib
import string
from datetime import datetime, timedelta
from typing import Any

from model_medic.alarms import AlarmEvent
from model_medic.gates import Plan
from model_medic.ledger import Ledger

# Model Monitor names its drift metrics feature_baseline_drift_<feature> (FACTS.md);
# ComputeDriftFunction publishes FeatureDrift with a Feature dimension.
MODEL_MONITOR_DRIFT_PREFIX = "feature_baseline_drift_"
FEATURE_DIMENSION = "Feature"


class TemplateError(ValueError):
    """A pipeline parameter template names a placeholder that does not exist."""


def drifted_feature(alarm: AlarmEvent) -> str:
    """The feature the alarm is about, where the alarm says; empty when it does not."""
    if FEATURE_DIMENSION in alarm.dimensions:
        return alarm.dimensions[FEATURE_DIMENSION]
    if alarm.metric_name and alarm.metric_name.startswith(MODEL_MONITOR_DRIFT_PREFIX):
        return alarm.metric_name[len(MODEL_MONITOR_DRIFT_PREFIX) :]
    return ""


def placeholders(alarm: AlarmEvent, feature: str = "") -> dict[str, str]:
    """What a pipeline parameter value may refer to, as {name}."""
    return {
        "endpoint": str(alarm.endpoint),
        "alarm": alarm.alarm_name,
        "feature": feature or drifted_feature(alarm),
        "time": alarm.state_change_time.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "date": alarm.state_change_time.strftime("%Y-%m-%d"),
    }


def render_parameters(templates: dict[str, str], alarm: AlarmEvent, feature: str = "") -> list[dict[str, str]]:
    """Pure: the configured pipeline parameters with placeholders filled in."""
    values = placeholders(alarm, feature)
    rendered = []
    for name, template in sorted(templates.items()):
        fields = {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}
        unknown = fields - set(values)
        if unknown:
            raise TemplateError(f"pipeline parameter {name!r} refers to unknown {sorted(unknown)}")
        rendered.append({"Name": name, "Value": template.format(**values)})
    return rendered


def request_token(alarm: AlarmEvent) -> str:
    """ClientRequestToken (32-128 characters) from the transition: SageMaker starts one run per token."""
    return hashlib.sha256(alarm.transition_id.encode()).hexdigest()  # 64 characters


class StartRetraining:
    """Remediation for DataDrift in ALARM."""

    action = "start-retraining"
    states = frozenset({"ALARM"})

    def __init__(
        self,
        sagemaker: Any,
        pipeline: str,
        parameters: dict[str, str],
        cooldown: timedelta,
        ledger: Ledger | None = None,
    ) -> None:
        self._sagemaker = sagemaker
        self._ledger = ledger
        self._pipeline = pipeline
        self._parameters = parameters
        self.cooldown = cooldown

    def plan(self, alarm: AlarmEvent) -> Plan:
        running = self._executing()
        if running:
            return Plan("", skip=f"pipeline {self._pipeline} is already executing: {running[0]}")
        feature = drifted_feature(alarm) or self._measured_feature(alarm)
        parameters = render_parameters(self._parameters, alarm, feature)
        feature = feature or "unnamed feature"
        return Plan(
            f"start pipeline {self._pipeline} for {alarm.endpoint} (drift in {feature})",
            changes={"pipeline": self._pipeline, "parameters": parameters},
        )

    def execute(self, alarm: AlarmEvent, plan: Plan) -> dict[str, Any]:
        started = self._sagemaker.start_pipeline_execution(
            PipelineName=self._pipeline,
            PipelineExecutionDisplayName=f"model-medic-{alarm.state_change_time:%Y%m%d%H%M%S}",
            PipelineExecutionDescription=f"Model Medic: {alarm.alarm_name} at {alarm.state_change_time.isoformat()}",
            PipelineParameters=plan.changes["parameters"],
            ClientRequestToken=request_token(alarm),
        )
        return {"pipeline_execution_arn": started["PipelineExecutionArn"]}

    def _measured_feature(self, alarm: AlarmEvent) -> str:
        """The alarm on MaxFeatureDrift names no feature: ComputeDrift's latest measurement does."""
        if self._ledger is None:
            return ""
        latest = self._ledger.latest_drift(str(alarm.endpoint))
        if latest is None:
            return ""
        measured = datetime.fromisoformat(latest["hour"])
        # Only a measurement of the hours that can have raised this alarm.
        if timedelta(0) <= alarm.state_change_time - measured <= timedelta(hours=3):
            return str(latest["feature"])
        return ""

    def _executing(self) -> list[str]:
        # The newest runs come first; a run still executing behind 50 newer ones does not occur.
        page = self._sagemaker.list_pipeline_executions(
            PipelineName=self._pipeline, SortBy="CreationTime", SortOrder="Descending", MaxResults=50
        )
        return [
            s["PipelineExecutionArn"]
            for s in page.get("PipelineExecutionSummaries", [])
            if s.get("PipelineExecutionStatus") == "Executing"
        ]
