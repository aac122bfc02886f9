"""An endpoint's own data for the data jobs: its capture from its DataCaptureConfig, the rest from its tags."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import ClientError

from model_medic.platform import aws
from model_medic.platform.observability import logger
from model_medic.tell.notices import Said
from model_medic.tell.outcome import Outcome

if TYPE_CHECKING:
    from model_medic.policy.policies import Scope
    from model_medic.tell.notices import Notices

Job = Literal["drift", "quality"]
Need = Literal["capture", "baseline", "ground-truth"]

# What each job needs besides the capture, and where an endpoint says it: its tag, else the stack's parameter.
_LOCATION: dict[Job, tuple[Need, str, str, str]] = {
    "drift": ("baseline", "model-medic:baseline-s3-uri", "BaselineS3Uri", "its drift baseline is"),
    "quality": ("ground-truth", "model-medic:ground-truth-s3-uri", "GroundTruthS3Uri", "its ground-truth labels are"),
}
_STACK = "DataCaptureS3Uri"
_FUNCTION: dict[Job, str] = {"drift": "ComputeDriftFunction", "quality": "ComputeModelQualityFunction"}


@dataclass(frozen=True)
class Capture:
    """Where SageMaker writes the endpoint's captures: `<uri>/<endpoint>/<variant>/YYYY/MM/DD/HH/`."""

    uri: str
    kms_key: str = ""  # the DataCaptureConfig's KmsKeyId: reading SSE-KMS captures needs kms:Decrypt on it
    source: str = "DataCaptureConfig"  # or "DataCaptureS3Uri": the stack's default, for an endpoint without one


@dataclass(frozen=True)
class Missing:
    """One part of an endpoint's data that cannot be found, and why."""

    need: Need
    why: str


@dataclass(frozen=True)
class EndpointData:
    """Where one endpoint's data is for one job (capture, and the baseline or labels root), or what is missing."""

    endpoint: str
    job: Job
    capture: Capture | None
    location: str  # the drift baseline's or the labels' root, `<location>/<endpoint>/...`; "" when missing
    missing: tuple[Missing, ...] = ()

    def sentence(self) -> str:
        """What is missing, as a person reads it."""
        return "; ".join(f"{m.need}: {m.why}" for m in self.missing)

    def skipped(self) -> dict[str, Any]:
        """The job's result for an endpoint whose data was not found (a skip, not a failure)."""
        return {
            "endpoint": self.endpoint,
            "status": "no-data",
            "missing": {m.need: m.why for m in self.missing},
        }


def capture_of(description: Mapping[str, Any] | None, stack_uri: str, unreadable: str = "") -> Capture | Missing:
    """Pure: the endpoint's capture from its DescribeEndpoint answer (`DataCaptureConfig`), the
    stack's DataCaptureS3Uri only for an endpoint whose answer has none (or that could not be
    described: `unreadable` says why); capture turned off, or stopped (`CaptureStatus` Stopped:
    "whether data capture is currently functional", DataCaptureConfigSummary), is missing,
    whatever the stack says - its destination is not being written."""
    config = (description or {}).get("DataCaptureConfig") or {}
    destination = str(config.get("DestinationS3Uri") or "")
    if destination:
        if config.get("EnableCapture") is False:
            return Missing("capture", "data capture is off (its DataCaptureConfig.EnableCapture is false)")
        if config.get("CaptureStatus") == "Stopped":
            return Missing("capture", "data capture is stopped (its DataCaptureConfig.CaptureStatus is Stopped)")
        if not destination.startswith("s3://") or len(destination) <= len("s3://"):
            return Missing("capture", f"its capture destination {destination} is not an s3:// URI")
        return Capture(destination.rstrip("/"), str(config.get("KmsKeyId") or ""))
    if stack_uri:
        return Capture(stack_uri.rstrip("/"), source="DataCaptureS3Uri")
    if description is None:
        return Missing("capture", f"the endpoint could not be described ({unreadable}) and the stack has no {_STACK}")
    return Missing("capture", f"the endpoint has no DataCaptureConfig (no capture set up) and the stack no {_STACK}")


def resolve(
    endpoint: str,
    job: Job,
    description: Mapping[str, Any] | None,
    stack_capture: str,
    location: str,
    unreadable: str = "",
) -> EndpointData:
    """Pure: the endpoint's data for `job`. `location`: the baseline (drift) or ground-truth
    (quality) root from the endpoint's settings - its tag's value, else the stack's."""
    capture = capture_of(description, stack_capture, unreadable)
    missing: list[Missing] = [capture] if isinstance(capture, Missing) else []
    if not location:
        need, tag, parameter, what = _LOCATION[job]
        why = f"neither a {tag} tag on the endpoint nor the stack's {parameter} says where {what}"
        missing.append(Missing(need, why))
    found = capture if isinstance(capture, Capture) else None
    return EndpointData(endpoint, job, found, location, tuple(missing))


class DataFinder:
    """Each endpoint's data for one job, read from the endpoint (DescribeEndpoint, once per
    invocation through the scope); an endpoint whose data is not found is told once per missing
    part (a notice in the ledger written with its decision and its info message, `tell/notices.py`)
    and logged every time."""

    def __init__(self, job: Job, scope: Scope, notices: Notices) -> None:
        self._job = job
        self._scope = scope
        self._notices = notices

    def find(self, endpoint: str, stack_capture: str, location: str, hour: datetime, at: datetime) -> EndpointData:
        description, unreadable = self._describe(endpoint)
        data = resolve(endpoint, self._job, description, stack_capture, location, unreadable)
        if data.missing:
            self._tell(data, hour, at)
        else:
            for need in ("capture", _LOCATION[self._job][0]):
                self._notices.clear(endpoint, self._notice(need))
        return data

    def _describe(self, endpoint: str) -> tuple[dict[str, Any] | None, str]:
        try:
            return self._scope.description(endpoint), ""
        except ClientError as error:
            if aws.is_transient(error):
                raise
            return None, f"{aws.error_code(error)}: {error.response.get('Error', {}).get('Message', '')}"

    def _notice(self, need: str) -> str:
        return f"{self._job}-data-missing#{need}"

    def _tell(self, data: EndpointData, hour: datetime, at: datetime) -> None:
        """Logged every time; told once per endpoint and missing part (a new part is told again,
        with all), then sent (a failure to send raises: the letter stays in the outbox)."""
        logger.info("data not found; not measured", measure=self._job, endpoint=data.endpoint, missing=data.sentence())
        notices = {self._notice(m.need): m.need for m in data.missing}
        self._notices.tell(
            data.endpoint, list(notices), at, lambda fresh: self._said(data, [notices[n] for n in fresh], hour, at)
        )
        self._notices.send()

    def _said(self, data: EndpointData, fresh: list[str], hour: datetime, at: datetime) -> Said:
        """The decision and the info message of the missing parts `fresh` not told yet (the message lists all)."""
        function = _FUNCTION[self._job]
        what = "drift" if self._job == "drift" else "model quality"
        decision = Outcome(
            action=f"measure-{what.replace(' ', '-')}",
            endpoint=data.endpoint,
            result="skipped",
            reason=f"its data was not found: {data.sentence()}",
            mode="-",
            alarm_name=function,
            alarm_arn=f"model-medic:{what.replace(' ', '-')}:{data.endpoint}",
            transition=f"{self._notice('+'.join(fresh))}|{hour.isoformat()}",
            state="no-data",
            at=at.astimezone(UTC).isoformat(),
            gate="precondition",
        )
        return Said(
            "inform",
            f"Model Medic: {what} of {data.endpoint} is not measured (no data)",
            f"{function} does not measure the {what} of {data.endpoint}: its data was not found.\n\n"
            + "\n".join(f"- {m.need}: {m.why}" for m in data.missing)
            + "\n\nAn endpoint's capture is where its own DataCaptureConfig writes; its baseline and labels are "
            "where its model-medic: tags say, else where the stack's parameters say (README, \"Per-endpoint "
            'data"). Other remediations of the endpoint (scale-up, rollback) are not affected. This message is '
            "sent once for each missing part.",
            decision,
        )
