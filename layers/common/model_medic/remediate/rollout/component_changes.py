"""The typed changes of a component rollout: the rolling update, the judge's verdict, and its end read back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from model_medic.remediate.units import Change, package_label


@dataclass(frozen=True)
class RollComponent(Change):
    """UpdateInferenceComponent to the package's model in batches, SageMaker watching the alarms
    named (`alarms`, comma-separated: the component's own and the verdict alarm)."""

    kind: ClassVar[str] = "component-rollout"
    component: str
    package: str
    model: str  # the candidate's model, made from the package
    from_model: str
    from_spec: str  # UpdateInferenceComponent's Specification(s), as JSON: the one serving
    to_spec: str  # the same with the candidate's model
    from_digest: str
    to_digest: str
    alarm: str  # Model Medic's verdict alarm
    alarms: str
    copies: int
    batch: int
    wait_seconds: int
    timeout_seconds: int
    baseline_requests: float
    baseline_errors: float
    champion: str = ""  # the package serving now

    def describe(self) -> str:
        return (
            f"roll inference component {self.component} from {self.from_model} to {self.model} "
            f"({package_label(self.package)}): {self.batch} of {self.copies} copies a batch, {self.wait_seconds} s "
            f"bake each; SageMaker rolls back on {self.alarms.replace(',', ', ')}"
        )

    def settled(self, at: datetime) -> dict[str, Any]:
        return {
            "component": self.component,
            "component_since": at.isoformat(),
            "component_model": self.model,
            "component_from_model": self.from_model,
            "from_digest": self.from_digest,
            "to_digest": self.to_digest,
            "verdict_alarm": self.alarm,
            "rollback_alarms": self.alarms,
            "baseline": {"requests": self.baseline_requests, "errors": self.baseline_errors},
            "champion": self.champion,
        }


@dataclass(frozen=True)
class FireVerdict(Change):
    """The judge rejects the new version: RolloutVerdict = 1, so that the verdict alarm goes to
    ALARM and SageMaker rolls the update back; put again at every look while the component is Updating."""

    kind: ClassVar[str] = "component-verdict"
    endpoint: str
    component: str
    alarm: str
    reason: str
    verdict: dict[str, Any]

    def describe(self) -> str:
        return (
            f"Model Medic's judge: inference component {self.component} errs more since its update began "
            f"({self.reason}): verdict alarm {self.alarm} to ALARM, SageMaker rolls the update back"
        )

    def settled(self, at: datetime) -> dict[str, Any]:
        return {"verdict_at": at.isoformat(), "component_verdict": self.verdict}


@dataclass(frozen=True)
class EndComponentRollout(Change):
    """The rolling update over, read back: the verdict alarm deleted, the outcome told."""

    kind: ClassVar[str] = "component-rollout-end"
    component: str
    alarm: str
    detail: str

    def describe(self) -> str:
        return f"{self.detail}; verdict alarm {self.alarm} deleted"


@dataclass(frozen=True)
class ComponentRolledOut(EndComponentRollout):
    kind: ClassVar[str] = "component-rolled-out"
    ends: ClassVar[str | None] = "complete"


@dataclass(frozen=True)
class ComponentRolledBack(EndComponentRollout):
    kind: ClassVar[str] = "component-rolled-back"
    ends: ClassVar[str | None] = "rolled back"

    def settled(self, at: datetime) -> dict[str, Any]:
        # Remembered so that the same approval never rolls the package out again (`plan.redeploy_hold`).
        return {"rolled_back_at": at.isoformat()}


@dataclass(frozen=True)
class ComponentRolloutStopped(EndComponentRollout):
    kind: ClassVar[str] = "component-rollout-stopped"
    ends: ClassVar[str | None] = "stopped"


@dataclass(frozen=True)
class ComponentRolloutFailed(EndComponentRollout):
    kind: ClassVar[str] = "component-rollout-failed"
    ends: ClassVar[str | None] = "escalated"  # the component Failed or is gone: a person must act
