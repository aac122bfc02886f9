"""The typed changes of a rollout: deploy the canary, shift its traffic, roll it back, finish, decline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from model_medic.remediate.units import Change, package_label, variant_label


@dataclass(frozen=True)
class DeployCanary(Change):
    """A new endpoint config: the serving variants as they are, the package as the canary."""

    kind: ClassVar[str] = "deploy-canary"
    package: str
    model: str
    from_config: str
    to_config: str
    primary: str
    canary: str
    instances: int
    share: int
    reference: float
    primary_min: int | None = None
    champion: str = ""  # the package serving now, superseded once the rollout completes

    def describe(self) -> str:
        return (
            f"deploy {package_label(self.package)} as {variant_label('canary', self.canary)}: {self.share}% on "
            f"{self.instances} instance(s) ({self.from_config} -> {self.to_config})"
        )

    def settled(self, at: datetime) -> dict[str, Any]:
        return {
            "package": self.package,
            "model": self.model,
            "from_config": self.from_config,
            "canary_config": self.to_config,
            "share": self.share,
            "share_since": at.isoformat(),
            "reference": self.reference,
            "primary_min": self.primary_min,
            "champion": self.champion,
        }


@dataclass(frozen=True)
class ShiftTraffic(Change):
    """Both variants' weights, so that the canary takes exactly `after` percent."""

    kind: ClassVar[str] = "shift-traffic"
    primary: str
    canary: str
    before: float
    after: int
    evidence: dict[str, Any] | None = None  # the judge's tally of the steps so far (judge.Tally)
    verdict: dict[str, Any] | None = None  # the judge's verdict that moved the traffic, per metric

    def describe(self) -> str:
        return f"{variant_label('canary', self.canary)} {self.before:g}% -> {self.after}% of the traffic"

    def settled(self, at: datetime) -> dict[str, Any]:
        # The next step's evidence starts now, on top of what the earlier steps showed.
        return {"share": self.after, "share_since": at.isoformat(), "evidence": self.evidence, "verdict": self.verdict}


@dataclass(frozen=True)
class RollBackCanary(ShiftTraffic):
    """The canary's weight to 0: the rollout ends, rolled back."""

    kind: ClassVar[str] = "roll-back-canary"
    ends: ClassVar[str | None] = "rolled back"

    def describe(self) -> str:
        return f"roll back {variant_label('canary', self.canary)}: {self.before:g}% -> 0% of the traffic"

    def settled(self, at: datetime) -> dict[str, Any]:
        # Remembered so that the same approval never deploys the package again (`plan.redeploy_hold`).
        return {**super().settled(at), "rolled_back_at": at.isoformat()}


@dataclass(frozen=True)
class FinishRollout(Change):
    """A final endpoint config with only the new model, as the primary variant."""

    kind: ClassVar[str] = "finish-rollout"
    ends: ClassVar[str | None] = "complete"
    model: str
    from_config: str
    to_config: str
    primary: str
    instances: int
    superseded: str = ""

    def describe(self) -> str:
        old = f"; {package_label(self.superseded)} superseded" if self.superseded else ""
        return (
            f"final config {self.to_config}: {self.model} alone as {self.primary} on {self.instances} instance(s){old}"
        )


@dataclass(frozen=True)
class DeclineCandidate(Change):
    """A candidate that is not better than the serving model: Rejected, not deployed."""

    kind: ClassVar[str] = "decline-candidate"
    ends: ClassVar[str | None] = "not deployed"
    package: str
    reason: str

    def describe(self) -> str:
        return f"model package {package_label(self.package)} -> Rejected, not deployed ({self.reason})"
