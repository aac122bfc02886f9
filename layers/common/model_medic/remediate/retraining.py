"""Retraining on DataDrift: the pipeline started once per incident, verified by its own outcome."""

from __future__ import annotations

import hashlib
import string
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from model_medic.platform.settings import RetrainingSettings
from model_medic.remediate.units import Change, Observation, Plan, RemediationUnit
from model_medic.store.incidents import Incident
from model_medic.store.measurements import Drift, Measurements

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

# Model Monitor names its drift metrics feature_baseline_drift_<feature> (docs/aws-behaviours.md,
# "SageMaker metrics and units");
# ComputeDriftFunction publishes FeatureDrift with a Feature dimension.
MODEL_MONITOR_DRIFT_PREFIX = "feature_baseline_drift_"
FEATURE_DIMENSION = "Feature"
# A drift measurement names the feature of an alarm on MaxFeatureDrift only if it measured one
# of the hours that can have raised it.
MEASURED_WITHIN = timedelta(hours=3)
# Pipeline execution states (DescribePipelineExecution).
_RUNNING = frozenset({"Executing", "Stopping"})
_FAILED = frozenset({"Failed", "Stopped"})


class TemplateError(ValueError):
    """A pipeline parameter template names a placeholder that does not exist."""


def opened_at(incident: Incident) -> datetime:
    """The time of the alarm transition that opened the incident."""
    return datetime.fromisoformat(incident.opened_at)


def drifted_feature(incident: Incident) -> str:
    """The feature the incident's alarm is about, where the alarm says; empty when it does not."""
    dimensions = incident.dimensions or {}
    if FEATURE_DIMENSION in dimensions:
        return dimensions[FEATURE_DIMENSION]
    if incident.metric.startswith(MODEL_MONITOR_DRIFT_PREFIX):
        return incident.metric[len(MODEL_MONITOR_DRIFT_PREFIX) :]
    return ""


def placeholders(incident: Incident, feature: str = "") -> dict[str, str]:
    """What a pipeline parameter value may refer to, as {name}."""
    at = opened_at(incident)
    return {
        "endpoint": incident.endpoint,
        "alarm": incident.alarm_name,
        "feature": feature or drifted_feature(incident),
        "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "date": at.strftime("%Y-%m-%d"),
    }


def render_parameters(templates: dict[str, str], incident: Incident, feature: str = "") -> list[dict[str, str]]:
    """Pure: the configured pipeline parameters with placeholders filled in."""
    values = placeholders(incident, feature)
    rendered = []
    for name, template in sorted(templates.items()):
        fields = {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}
        unknown = fields - set(values)
        if unknown:
            raise TemplateError(f"pipeline parameter {name!r} refers to unknown {sorted(unknown)}")
        rendered.append({"Name": name, "Value": template.format(**values)})
    return rendered


def request_token(incident: Incident) -> str:
    """ClientRequestToken (32-128 characters) from the opening transition (alarm ARN, ALARM, its
    time): SageMaker starts one run per token."""
    transition = f"{incident.alarm_arn}|ALARM|{opened_at(incident).isoformat()}"
    return hashlib.sha256(transition.encode()).hexdigest()  # 64 characters


def measured_feature(latest: Drift | None, opened: datetime) -> str:
    """Pure: the feature of ComputeDrift's latest measurement (`Measurements.latest_drift`), when it
    measured one of the hours that can have raised an alarm that went off at `opened`."""
    if latest is None:
        return ""
    measured = datetime.fromisoformat(latest.hour)
    if timedelta(0) <= opened - measured <= MEASURED_WITHIN:
        return latest.feature
    return ""


def execution_observation(arn: str, status: str | None) -> Observation:
    """Pure: a pipeline execution's status (DescribePipelineExecution) as the loop reads it back."""
    if status in _RUNNING:
        return Observation("in-flight", f"pipeline execution {arn} is {status}")
    if status in _FAILED:
        return Observation("failed", f"pipeline execution {arn} {status}")
    return Observation("took", f"pipeline execution {arn} {status}")


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
        sagemaker: SageMakerClient,
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

    def plan(self, incident: Incident, endpoint: dict[str, Any]) -> Plan:
        running = self._executing()
        if running:
            return Plan("", skip=f"pipeline {self._pipeline} is already executing: {running[0]}")
        feature = drifted_feature(incident) or self._measured_feature(incident)
        parameters = render_parameters(self._parameters, incident, feature)
        at = opened_at(incident)
        change = RetrainChange(
            pipeline=self._pipeline,
            parameters=tuple((p["Name"], p["Value"]) for p in parameters),
            token=request_token(incident),
            display_name=f"model-medic-{at:%Y%m%d%H%M%S}",
            description=f"Model Medic: {incident.alarm_name} at {at.isoformat()}",
        )
        return Plan(
            f"start pipeline {self._pipeline} for {incident.endpoint} "
            + (f"(drift in {feature})" if feature else "(drift; no feature named by the job)"),
            changes=(change,),
            notes={"feature": feature or ""},
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

    def rehearse(self, endpoint: str, changes: tuple[Change, ...], incident: Incident) -> None:
        """Nothing to keep: a dry run records its would-be step on the incident alone."""

    def observe(self, endpoint: str, change: Change, described: dict[str, Any], result: dict[str, Any]) -> Observation:
        arn = result.get("pipeline_execution_arn")
        if not arn:
            # Not started, or started and not recorded: starting again with the same token
            # gives the same execution (docs/aws-behaviours.md, "SageMaker APIs"), so "not applied"
            # is safe either way.
            return Observation("not-applied", "no execution recorded")
        status = self._sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn).get("PipelineExecutionStatus")
        return execution_observation(arn, status)

    def _measured_feature(self, incident: Incident) -> str:
        """The alarm on MaxFeatureDrift names no feature: ComputeDrift's latest measurement does."""
        if self._measurements is None:
            return ""
        return measured_feature(self._measurements.latest_drift(incident.endpoint), opened_at(incident))

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
