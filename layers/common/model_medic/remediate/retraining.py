"""Start the retraining pipeline when inputs drift: once per incident, never beside a run
that is still executing, at most once per cool-down per endpoint (the gates); verified by
the pipeline's own outcome (Failed or Stopped escalates, Succeeded recovers)."""

from __future__ import annotations

import hashlib
import string
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

from model_medic.intake.alarms import AlarmEvent
from model_medic.platform.settings import RetrainingSettings
from model_medic.remediate.units import Change, Observation, Plan, RemediationUnit
from model_medic.store.incidents import Incident
from model_medic.store.measurements import Measurements

# Model Monitor names its drift metrics feature_baseline_drift_<feature> (docs/aws-behaviours.md,
# "SageMaker metrics and units");
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


@dataclass(frozen=True)
class RetrainChange(Change):
    """One start of the retraining pipeline (ClientRequestToken: SageMaker starts it once)."""

    kind: ClassVar[str] = "retrain"
    pipeline: str
    parameters: tuple[tuple[str, str], ...]
    token: str
    display_name: str
    description: str

    def describe(self) -> str:
        return f"start pipeline {self.pipeline}"


# Pipeline execution states (DescribePipelineExecution).
_RUNNING = frozenset({"Executing", "Stopping"})
_FAILED = frozenset({"Failed", "Stopped"})


class StartRetraining:
    """Remediation for DataDrift in ALARM, verified by the pipeline's own outcome."""

    unit = RemediationUnit(
        name="start-retraining",
        function="StartRetrainingFunction",
        states=frozenset({"ALARM"}),
        requires="exists",
        alarm_suffixes=("DataDrift",),
        iam_actions=frozenset(
            {
                "sagemaker:DescribeEndpoint",
                "sagemaker:ListPipelineExecutions",
                "sagemaker:StartPipelineExecution",
                "sagemaker:DescribePipelineExecution",
                "cloudwatch:DescribeAlarms",
            }
        ),
        effect="pipeline-succeeded",
        verify_minutes_setting=None,
        settings=RetrainingSettings,
        changes=(RetrainChange,),
        max_steps=1,
    )

    def __init__(
        self,
        sagemaker: Any,
        pipeline: str,
        parameters: dict[str, str],
        cooldown: timedelta,
        measurements: Measurements | None = None,
    ) -> None:
        self._sagemaker = sagemaker
        self._measurements = measurements
        self._pipeline = pipeline
        self._parameters = parameters
        self.cooldown = cooldown

    def plan(self, alarm: AlarmEvent, incident: Incident, endpoint: dict[str, Any]) -> Plan:
        running = self._executing()
        if running:
            return Plan("", skip=f"pipeline {self._pipeline} is already executing: {running[0]}")
        feature = drifted_feature(alarm) or self._measured_feature(alarm)
        parameters = render_parameters(self._parameters, alarm, feature)
        feature = feature or "unnamed feature"
        change = RetrainChange(
            pipeline=self._pipeline,
            parameters=tuple((p["Name"], p["Value"]) for p in parameters),
            token=request_token(alarm),
            display_name=f"model-medic-{alarm.state_change_time:%Y%m%d%H%M%S}",
            description=f"Model Medic: {alarm.alarm_name} at {alarm.state_change_time.isoformat()}",
        )
        return Plan(
            f"start pipeline {self._pipeline} for {incident.endpoint} (drift in {feature})",
            changes=(change,),
            notes={"feature": feature},
        )

    def execute(self, endpoint: str, change: Change, incident: Incident) -> dict[str, Any]:
        assert isinstance(change, RetrainChange)
        started = self._sagemaker.start_pipeline_execution(
            PipelineName=change.pipeline,
            PipelineExecutionDisplayName=change.display_name,
            PipelineExecutionDescription=change.description,
            PipelineParameters=[{"Name": name, "Value": value} for name, value in change.parameters],
            ClientRequestToken=change.token,
        )
        return {"pipeline_execution_arn": started["PipelineExecutionArn"]}

    def adopt(self, endpoint: str, change: Change, incident: Incident) -> None:
        """Nothing to record: an execution is only known from `execute`'s answer (see `observe`)."""

    def observe(self, endpoint: str, change: Change, described: dict[str, Any], result: dict[str, Any]) -> Observation:
        arn = result.get("pipeline_execution_arn")
        if not arn:
            # Not started, or started and not recorded: starting again with the same token
            # gives the same execution (docs/aws-behaviours.md, "SageMaker APIs"), so "not applied"
            # is safe either way.
            return Observation("not-applied", "no execution recorded")
        status = self._sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn).get("PipelineExecutionStatus")
        if status in _RUNNING:
            return Observation("in-flight", f"pipeline execution {arn} is {status}")
        if status in _FAILED:
            return Observation("failed", f"pipeline execution {arn} {status}")
        return Observation("took", f"pipeline execution {arn} {status}")

    def _measured_feature(self, alarm: AlarmEvent) -> str:
        """The alarm on MaxFeatureDrift names no feature: ComputeDrift's latest measurement does."""
        if self._measurements is None:
            return ""
        latest = self._measurements.latest_drift(str(alarm.endpoint))
        if latest is None:
            return ""
        measured = datetime.fromisoformat(latest.hour)
        # Only a measurement of the hours that can have raised this alarm.
        if timedelta(0) <= alarm.state_change_time - measured <= timedelta(hours=3):
            return latest.feature
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
