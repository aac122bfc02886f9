"""The model lifecycle's middle: an approved model package becomes a canary, walks to 100 % with
capacity ahead of its traffic, and replaces the model it challenged.

A rollout is an incident of the `rollout` unit (docs/architecture.md, "The control loop"), run by the control loop like
every remediation - mode, scope, hourly budget and intent in one transaction, one AWS change
at a time, InService and read back between changes - but opened by a trigger that is not an
alarm: a "SageMaker Model Package State Change" to Approved in a configured group (or a
package an operator names), or a canary an operator put on an endpoint. Each evaluation
(every 10 minutes, and at once when a canary alarm fires) plans the next step:

1. deploy - champion / challenger first (`challenge`: the candidate's registered
   ModelQuality metric against the serving model's registered one and its live one, as
   ComputeModelQuality publishes it); not better by the margin: not deployed, the package
   Rejected (configurable) and people told with the figures. Better: a new endpoint config
   keeps the serving primary as it is (its count retained) and adds the package as the
   canary at the first step, on the instances that share needs (`instances_for`).
2. walk - the judge (`canary.judge`: errors, average and p99 latency, canary alarms, bake,
   minimum invocations) on the evidence since the step began. Promote: the canary's
   instances for the next share first, the primary scaled in to what the share it served
   through the bake needs, then the weights - each InService before the next. Rollback: the
   canary's weight to 0 and the package behind it Rejected. Inconclusive (too little
   traffic after `CANARY_INCONCLUSIVE_BAKES` bakes): held and told once, or rolled back.
3. finish - a healthy canary baked at 100 %: a final config holds only the new model, as
   the primary variant, with the capacity the old primary had (or its scaling target's
   floor); the canary config is marked transitional, so the next rollback of the final
   config goes to the config before the rollout; the old package is recorded as superseded.

A rejected package is never redeployed unless it is approved again: an approval opens an
incident keyed by the package and the approval's time, and `plan` deploys only a package
that is Approved now. A package rolled back on the endpoint and left Approved comes back only
on an approval after the rollback whose event names the status change (`triggers.names_the_transition`).

Derived configs (canary, final) are the serving config as DescribeEndpointConfig returns it,
cut to CreateEndpointConfig's input shape (`derived_config`): nothing the user configured is
dropped. Endpoints a canary cannot walk on (`unsupported`: inference components, serverless,
asynchronous, a shadow test running) and configs encrypted with a key the stack may not use
are recorded with the reason.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, ClassVar

from botocore.exceptions import ClientError

from model_medic.control.loop import ControlLoop
from model_medic.intake.alarms import AlarmEvent, BadEvent
from model_medic.intake.triggers import Alarms, DeployRequest, PackageApproved, Tick
from model_medic.measure.endpoint_metrics import SOURCE_NAMESPACE, Sums, add_results, variant_queries
from model_medic.platform import aws
from model_medic.platform.clock import Clock, utc_now
from model_medic.platform.observability import logger
from model_medic.platform.settings import CanarySettings
from model_medic.remediate.canary import Minute, Rules, Tally, current_step, judge, tally
from model_medic.remediate.capacity import Capacity, ScaleChange, Variant
from model_medic.remediate.rollback import RejectPackage, config_observation
from model_medic.remediate.units import Change, Observation, Plan, RemediationUnit, package_label
from model_medic.store.deployments import SERVING_KEEP, Deployments
from model_medic.store.incidents import Incident, Incidents, opened
from model_medic.tell.outcome import Outcome

# Registered metrics where lower is better; every other one (accuracy, f1, auc ...) is higher-better.
LOWER_IS_BETTER = frozenset({"mse", "rmse", "mae", "r2_loss"})
# Where ComputeModelQuality publishes the live figures it measures.
QUALITY_NAMESPACE = "Custom/SageMaker"
LIVE_LOOKBACK = timedelta(hours=24)
MINUTE_DATA = timedelta(days=15) - timedelta(minutes=5)  # how far back 1-minute CloudWatch data reaches


# --- pure decisions ---------------------------------------------------------------------------


def instances_for(reference: float, share: float) -> int:
    """Pure: the instances a variant needs for `share` percent of the traffic that `reference`
    instances serve in full (at least one)."""
    return max(1, math.ceil(reference * share / 100.0 - 1e-9))


def reference_capacity(primary_instances: int, remembered: float) -> float:
    """Pure: how many instances all of the traffic needs. The primary is never scaled in below
    what its share needs, so it runs more than the reference only when traffic grew (its
    auto scaling added instances): the reference follows it up, never down."""
    return max(remembered, float(primary_instances))


@dataclass(frozen=True)
class Challenge:
    better: bool
    reason: str
    candidate: float | None
    champion: float | None
    live: float | None


def challenge(
    metric: str, candidate: float | None, champion: float | None, live: float | None, margin: float
) -> Challenge:
    """Pure: whether the candidate beats the serving model on every figure known of it - its
    registered metric and the live one - by more than the margin."""
    if candidate is None:
        return Challenge(
            False, f"the candidate has no registered {metric}: nothing shows it is better", None, champion, live
        )
    known = [(name, value) for name, value in (("registered", champion), ("live", live)) if value is not None]
    if not known:
        return Challenge(
            True,
            f"candidate {metric} {candidate:.4g}; the serving model has no {metric} to compare",
            candidate,
            None,
            None,
        )
    lower = metric in LOWER_IS_BETTER
    worse = [name for name, value in known if not (candidate < value - margin if lower else candidate > value + margin)]
    figures = ", ".join(f"{name} {value:.4g}" for name, value in known)
    text = f"candidate {metric} {candidate:.4g} vs the serving model's {figures} (margin {margin:g})"
    return Challenge(not worse, ("better: " if not worse else "not better: ") + text, candidate, champion, live)


def registered_metric(report: Any, metric: str) -> float | None:
    """Pure: `metric` from a SageMaker model quality report (`{"binary_classification_metrics":
    {"accuracy": {"value": 0.91, "standard_deviation": ...}}}`, or multiclass / regression)."""
    if not isinstance(report, dict):
        return None
    for section, values in report.items():
        if not section.endswith("_metrics") or not isinstance(values, dict):
            continue
        found = values.get(metric)
        value = found.get("value") if isinstance(found, dict) else None
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
    return None


def _name(*parts: str) -> str:
    """A SageMaker resource name (letters, digits, hyphens; at most 63) from readable parts and a digest."""
    digest = hashlib.sha256("|".join(parts).encode()).hexdigest()[:8]
    readable = re.sub(r"[^a-zA-Z0-9-]+", "-", "-".join(parts[:-1])).strip("-")[:50].strip("-")
    return f"{readable}-{digest}" if readable else f"mm-{digest}"


# --- the changes of a rollout -----------------------------------------------------------------


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
            f"deploy {package_label(self.package)} as canary {self.canary}: {self.share}% on "
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
    evidence: dict[str, Any] | None = None  # the judge's tally of the steps so far (canary.Tally)
    verdict: dict[str, Any] | None = None  # the judge's verdict that moved the traffic, per metric

    def describe(self) -> str:
        return f"canary {self.canary} {self.before:g}% -> {self.after}% of the traffic"

    def settled(self, at: datetime) -> dict[str, Any]:
        # The next step's evidence starts now, on top of what the earlier steps showed.
        return {"share": self.after, "share_since": at.isoformat(), "evidence": self.evidence, "verdict": self.verdict}


@dataclass(frozen=True)
class RollBackCanary(ShiftTraffic):
    """The canary's weight to 0: the rollout ends, rolled back."""

    kind: ClassVar[str] = "roll-back-canary"
    ends: ClassVar[str | None] = "rolled back"

    def describe(self) -> str:
        return f"roll back canary {self.canary}: {self.before:g}% -> 0% of the traffic"

    def settled(self, at: datetime) -> dict[str, Any]:
        # Remembered so that the same approval never deploys the package again (Rollout._deploy).
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


# --- the unit -----------------------------------------------------------------------------------


class Rollout:
    """Deploy, walk and finish a canary rollout (see the module docstring)."""

    unit = RemediationUnit(
        name="rollout",
        function="PromoteCanaryFunction",
        states=frozenset({"ALARM"}),
        requires="InService",
        alarm_suffixes=(),
        iam_actions=frozenset(
            {
                "sagemaker:DescribeEndpoint",
                "sagemaker:DescribeEndpointConfig",
                "sagemaker:DescribeModel",
                "sagemaker:DescribeModelPackage",
                "sagemaker:Search",
                "sagemaker:CreateModel",
                "sagemaker:CreateEndpointConfig",
                # cleanup.py: what rollouts created, once nothing needs it (the tick's second job).
                "sagemaker:DeleteEndpointConfig",
                "sagemaker:DeleteModel",
                "sagemaker:UpdateEndpoint",
                "sagemaker:UpdateEndpointWeightsAndCapacities",
                "sagemaker:UpdateModelPackage",
                "application-autoscaling:DescribeScalableTargets",
                "application-autoscaling:RegisterScalableTarget",
                "cloudwatch:DescribeAlarms",
                "cloudwatch:GetMetricData",
                "s3:GetObject",
                "iam:PassRole",
                # Encrypted configs through SageMaker, SSE-KMS reports through S3 (ModelKmsKeyArns).
                "kms:CreateGrant",
                "kms:DescribeKey",
                "kms:Decrypt",
            }
        ),
        effect="next-step",
        verify_minutes_setting=None,
        settings=CanarySettings,
        changes=(
            DeployCanary,
            ScaleChange,
            ShiftTraffic,
            RollBackCanary,
            FinishRollout,
            RejectPackage,
            DeclineCandidate,
        ),
    )
    cooldown = timedelta(0)

    def __init__(
        self,
        *,
        sagemaker: Any,
        capacity: Capacity,
        cloudwatch: Any,
        s3: Any,
        ledger: Deployments,
        incidents: Incidents,
        settings: CanarySettings,
        clock: Clock,
    ) -> None:
        self._sagemaker = sagemaker
        self._capacity = capacity
        self._cloudwatch = cloudwatch
        self._s3 = s3
        self._ledger = ledger
        self._incidents = incidents
        self._settings = settings
        self._primary = settings.primary_variant
        self._canary = settings.canary_variant
        self._rules = rules_of(settings)
        self._clock = clock

    # --- plan ---------------------------------------------------------------------------------

    def plan(self, alarm: AlarmEvent, incident: Incident, endpoint: dict[str, Any]) -> Plan:
        facts = incident.facts or {}
        if "canary_config" not in facts:
            return self._deploy(incident, endpoint, str(facts["package"]))
        return self._walk(incident, endpoint, facts)

    def _deploy(self, incident: Incident, described: dict[str, Any], arn: str) -> Plan:
        name = incident.endpoint
        package = self._sagemaker.describe_model_package(ModelPackageName=arn)
        status = package.get("ModelApprovalStatus")
        if status != "Approved":
            return Plan("", bound=f"model package {package_label(arn)} is {status}, no longer Approved: not deployed")
        approved_at = datetime.fromisoformat(incident.opened_at)
        for other in self._incidents.of(name):
            if other.action != self.unit.name or other.id == incident.id:
                continue
            if not other.is_closed and other.opened_at <= incident.opened_at:
                return Plan("", skip=f"the rollout of {other.alarm_name} on {name} is under way", gate="rollout")
            rolled_back = (other.facts or {}).get("rolled_back_at")
            if (other.facts or {}).get("package") != arn or not rolled_back:
                continue
            # A package rolled back here comes back only on a new approval: one after the
            # rollback that names the change of status (Rejected or pending, then Approved).
            # A repeated or late event, or an edit of the still-Approved package, is not one.
            again = datetime.fromisoformat(str(rolled_back)) < approved_at and (incident.facts or {}).get(
                "status_changed", True
            )
            if not again:
                return Plan(
                    "",
                    bound=f"{package_label(arn)} was rolled back on {name} at {rolled_back}: not redeployed "
                    "unless it is rejected and approved again",
                )
        weights = _weights(described)
        if weights.get(self._canary, 0.0) > 0:
            return Plan("", skip=f"canary {self._canary} already takes traffic on {name}: a rollout is under way")
        current = str(described["EndpointConfigName"])
        config = self._sagemaker.describe_endpoint_config(EndpointConfigName=current)
        variants = {v["VariantName"]: v for v in config["ProductionVariants"]}
        problem = unsupported(described, config)
        if problem:
            return Plan("", bound=f"no canary rollout on {name}: {problem}")
        if self._primary not in variants:
            return Plan("", bound=f"endpoint {name} has no variant {self._primary} to challenge")
        key = config.get("KmsKeyId")
        if key and not key_allowed(str(key), self._settings.model_kms_keys):
            # SageMaker needs the caller allowed on the key (kms:CreateGrant) for a config that names one.
            return Plan(
                "",
                skip=f"{name}'s endpoint config is encrypted with {key}, which the stack may not use: add the key's "
                "ARN to ModelKmsKeyArns; held",
                critical=True,
                gate="kms-key",
            )
        champion = self._package_of(str(variants[self._primary]["ModelName"]))
        if champion is not None and champion["ModelPackageArn"] == package["ModelPackageArn"]:
            return Plan("", bound=f"{package_label(arn)} already serves {name}")
        metric = self._settings.candidate_metric
        candidate, unreadable = self._registered(package)
        registered, unreadable_champion = self._registered(champion) if champion is not None else (None, None)
        if unreadable or unreadable_champion:
            # Cannot read is not "not better": held (people told once) until the report can be read.
            return Plan("", skip=f"{unreadable or unreadable_champion}; held", critical=True, gate="unreadable-report")
        verdict = challenge(metric, candidate, registered, self._live(name), self._settings.candidate_margin)
        notes = {"candidate": verdict.candidate, "champion": verdict.champion, "live": verdict.live, "metric": metric}
        if not verdict.better:
            if self._settings.reject_model_packages:
                decline = DeclineCandidate(package["ModelPackageArn"], verdict.reason)
                return Plan(decline.describe(), changes=(decline,), critical=True, notes=notes)
            return Plan("", bound=f"{package_label(arn)} not deployed: {verdict.reason}", notes=notes)
        _, found = self._capacity.endpoint(name, described)
        primary = next(v for v in found if v.name == self._primary)
        reference = float(primary.instances or 1)
        share = self._rules.steps[0]
        need = instances_for(reference, share)
        if need > self._settings.max_instance_count:
            return Plan(
                "", bound=f"the canary needs {need} instances for {share}%, above {self._settings.max_instance_count}"
            )
        deploy = DeployCanary(
            package=package["ModelPackageArn"],
            model=_name(package_label(arn), "model", package["ModelPackageArn"]),
            from_config=current,
            to_config=_name(name, "canary", incident.id),
            primary=self._primary,
            canary=self._canary,
            instances=need,
            share=share,
            reference=reference,
            primary_min=primary.min_capacity,
            champion=champion["ModelPackageArn"] if champion is not None else "",
        )
        return Plan(f"{deploy.describe()} - {verdict.reason}", changes=(deploy,), notes=notes)

    def _walk(self, incident: Incident, described: dict[str, Any], facts: dict[str, Any]) -> Plan:
        name = incident.endpoint
        config = self._sagemaker.describe_endpoint_config(EndpointConfigName=str(described["EndpointConfigName"]))
        problem = unsupported(described, config)
        if problem:
            return Plan("", bound=f"canary on {name} not walked: {problem}")
        weights = _weights(described)
        if self._canary not in weights or self._primary not in weights:
            return Plan("", bound=f"{self._canary} or {self._primary} is gone from {name}: changed outside Model Medic")
        total = weights[self._canary] + weights[self._primary]
        share = round(weights[self._canary] / total * 100.0, 2) if total > 0 else 0.0
        if share <= 0:
            return Plan("", bound=f"canary {self._canary} takes no traffic on {name}: changed outside Model Medic")
        left = facts.get("share")
        if left is not None and abs(float(left) - share) > 0.5:
            return Plan(
                "",
                bound=f"canary {self._canary} takes {share:g}% of {name}'s traffic where this rollout left it at "
                f"{float(left):g}%: changed outside Model Medic",
            )
        step = 100 if share >= 99.5 else (current_step(share, self._rules.steps) or round(share))
        now = self._clock()
        since = datetime.fromisoformat(str(facts["share_since"]))
        this_step = tally(self._minutes(name, since, now), self._rules)
        rollout = Tally.from_dict(facts.get("evidence")).plus(this_step)
        verdict = judge(rollout, this_step, self._rules, step, now - since, self._alarms_in_alarm(name))
        notes = {**verdict.evidence, "share": share, "since": since.isoformat(), "decision": verdict.decision}
        reasons = "; ".join(verdict.reasons)
        remembered = {"verdict": {"at": now.isoformat(), "decision": verdict.decision, **verdict.evidence}}
        rollback = verdict.decision == "rollback" or (
            verdict.decision == "inconclusive" and self._settings.inconclusive_action == "rollback"
        )
        if rollback:
            changes: list[Change] = [
                RollBackCanary(self._primary, self._canary, share, 0, rollout.as_dict(), remembered["verdict"])
            ]
            package = str(facts.get("package") or "")
            if package and self._settings.reject_model_packages:
                changes.append(RejectPackage(package))
            return Plan(
                f"roll back canary {self._canary} ({share:g}% -> 0%): {reasons}",
                changes=tuple(changes),
                critical=True,
                notes=notes,
            )
        if verdict.decision == "inconclusive":
            return Plan("", skip=f"{reasons}; held", critical=True, gate="inconclusive", notes=notes, facts=remembered)
        if verdict.decision == "continue":
            return Plan("", skip=f"continue: {reasons}", gate="continue", notes=notes, facts=remembered)
        _, found = self._capacity.endpoint(name, described)
        variants = {v.name: v for v in found}
        reference = reference_capacity(int(variants[self._primary].instances or 1), float(facts.get("reference") or 0))
        notes["reference_instances"] = reference
        if verdict.decision == "finish":
            return self._finish(incident, described, facts, variants, reference, notes)
        target = int(verdict.next_step or 100)
        return self._promote(name, variants, reference, step, share, target, notes, rollout, remembered["verdict"])

    def _promote(
        self,
        endpoint: str,
        variants: dict[str, Variant],
        reference: float,
        step: int,
        share: float,
        target: int,
        notes: dict[str, Any],
        evidence: Tally,
        verdict: dict[str, Any],
    ) -> Plan:
        """Capacity ahead of traffic: the canary's instances for `target`, the primary down to
        what the share it served through the bake needs, then the weights."""
        canary, primary = variants[self._canary], variants[self._primary]
        need = instances_for(reference, target)
        bound = self._settings.max_instance_count
        if canary.max_capacity is not None:
            bound = min(bound, canary.max_capacity)
        if need > bound:
            return Plan(
                "",
                bound=f"the canary needs {need} instances for {target}% of {endpoint}'s traffic, above its "
                f"maximum of {bound}",
                notes=notes,
            )
        changes: list[Change] = []
        if need > max(canary.floor, int(canary.instances or 0)):
            changes.append(ScaleChange(canary.name, canary.lever, canary.floor, need))
        keep = instances_for(reference, 100 - step)
        if primary.floor > keep:
            changes.append(ScaleChange(primary.name, primary.lever, primary.floor, keep))
        changes.append(ShiftTraffic(self._primary, self._canary, share, target, evidence.as_dict(), verdict))
        summary = f"promote canary {self._canary} {step}% -> {target}%: " + "; ".join(c.describe() for c in changes)
        return Plan(summary, changes=tuple(changes), notes=notes)

    def _finish(
        self,
        incident: Incident,
        described: dict[str, Any],
        facts: dict[str, Any],
        variants: dict[str, Variant],
        reference: float,
        notes: dict[str, Any],
    ) -> Plan:
        name = incident.endpoint
        canary, primary = variants[self._canary], variants[self._primary]
        if canary.min_capacity is not None:
            return Plan(
                "",
                bound=f"canary {self._canary} of {name} has an auto scaling target: the final config removes the "
                "variant, which AWS refuses; deregister its scaling first",
            )
        current = str(described["EndpointConfigName"])
        config = self._sagemaker.describe_endpoint_config(EndpointConfigName=current)
        problem = unsupported(described, config)
        if problem:
            return Plan("", bound=f"rollout on {name} not finished: {problem}")
        spec = {v["VariantName"]: v for v in config["ProductionVariants"]}
        if primary.min_capacity is not None and spec[self._canary].get("InstanceType") != spec[self._primary].get(
            "InstanceType"
        ):
            return Plan(
                "",
                bound=f"the final config would change the instance type of auto-scaled variant {self._primary} "
                f"({spec[self._primary].get('InstanceType')} -> {spec[self._canary].get('InstanceType')}): "
                "deregister its scaling first",
            )
        floor = int(facts.get("primary_min") or 0)
        instances = max(int(canary.instances or 1), math.ceil(reference - 1e-9), floor)
        if primary.max_capacity is not None:
            instances = min(instances, primary.max_capacity)
        finish = FinishRollout(
            model=str(spec[self._canary]["ModelName"]),
            from_config=current,
            to_config=_name(name, "final", incident.id),
            primary=self._primary,
            instances=instances,
            superseded=str(facts.get("champion") or ""),
        )
        changes: list[Change] = [finish]
        if primary.min_capacity is not None and floor > primary.min_capacity:
            changes.append(ScaleChange(self._primary, "min-capacity", primary.min_capacity, floor))
        return Plan("; ".join(c.describe() for c in changes), changes=tuple(changes), notes=notes)

    # --- act and read back ----------------------------------------------------------------------

    def execute(self, endpoint: str, change: Change, incident: Incident) -> dict[str, Any]:
        if isinstance(change, ScaleChange):
            return {"call": self._capacity.apply(endpoint, change)}
        if isinstance(change, RejectPackage | DeclineCandidate):
            reason = change.reason if isinstance(change, DeclineCandidate) else f"canary rolled back on {endpoint}"
            self._sagemaker.update_model_package(
                ModelPackageArn=change.arn if isinstance(change, RejectPackage) else change.package,
                ModelApprovalStatus="Rejected",
                ApprovalDescription=f"Model Medic: {reason}"[:1024],
            )
            return {"call": "UpdateModelPackage"}
        if isinstance(change, ShiftTraffic):
            after = 0 if isinstance(change, RollBackCanary) else change.after
            self._sagemaker.update_endpoint_weights_and_capacities(
                EndpointName=endpoint,
                DesiredWeightsAndCapacities=[
                    {"VariantName": change.canary, "DesiredWeight": after / 100.0},
                    {"VariantName": change.primary, "DesiredWeight": (100 - after) / 100.0},
                ],
            )
            return {"call": "UpdateEndpointWeightsAndCapacities"}
        if isinstance(change, DeployCanary):
            self._track(endpoint, ("model", change.model), ("config", change.to_config))
            self._create_canary_config(change)
            # The serving variants keep their counts (retained); the weights come from the config.
            self._sagemaker.update_endpoint(
                EndpointName=endpoint,
                EndpointConfigName=change.to_config,
                RetainAllVariantProperties=True,
                ExcludeRetainedVariantProperties=[{"VariantPropertyType": "DesiredWeight"}],
            )
            self.adopt(endpoint, change, incident)
            return {"call": "UpdateEndpoint"}
        assert isinstance(change, FinishRollout)
        self._track(endpoint, ("config", change.to_config))
        self._create_final_config(change)
        # Nothing retained: the new model's variant takes the config's count and weight 1.
        self._sagemaker.update_endpoint(
            EndpointName=endpoint, EndpointConfigName=change.to_config, RetainAllVariantProperties=False
        )
        self.adopt(endpoint, change, incident)
        return {"call": "UpdateEndpoint"}

    def adopt(self, endpoint: str, change: Change, incident: Incident) -> None:
        now = self._clock()
        if isinstance(change, DeployCanary):
            # The config the rollout started from is the known-good one a rollback goes back to.
            aws.persist(lambda: self._ledger.observe_config(endpoint, change.from_config, now))
        elif isinstance(change, FinishRollout):
            # The canary config was a passage, never a rollback target.
            aws.persist(lambda: self._ledger.reject_config(endpoint, change.from_config, now))

    def observe(self, endpoint: str, change: Change, described: dict[str, Any], result: dict[str, Any]) -> Observation:
        if isinstance(change, ScaleChange):
            return self._capacity.observe(endpoint, change, described)
        if isinstance(change, RejectPackage | DeclineCandidate):
            arn = change.arn if isinstance(change, RejectPackage) else change.package
            approval = self._sagemaker.describe_model_package(ModelPackageName=arn).get("ModelApprovalStatus")
            if approval == "Rejected":
                return Observation("took", "model package is Rejected")
            return Observation("not-applied", f"model package is {approval}")
        if isinstance(change, ShiftTraffic):
            return _traffic_observation(change, described)
        assert isinstance(change, DeployCanary | FinishRollout)
        seen = config_observation(described, change.to_config, bool(result))
        if seen.seen == "took" and isinstance(change, FinishRollout):
            # The final config is the known-good one from now on (idempotent: an upsert).
            aws.persist(lambda: self._ledger.observe_config(endpoint, change.to_config, self._clock()))
        return seen

    def _track(self, endpoint: str, *created: tuple[str, str]) -> None:
        """What the next calls create, in the ledger before they are made (cleanup.py deletes
        them once RolloutCleanupDays have passed and nothing uses them)."""
        now = self._clock()
        for kind, name in created:
            aws.persist(partial(self._ledger.track_created, endpoint, kind, name, now))

    # --- reading AWS ------------------------------------------------------------------------------

    def _create_canary_config(self, change: DeployCanary) -> None:
        source = self._sagemaker.describe_endpoint_config(EndpointConfigName=change.from_config)
        shape, variant_shape = self._config_shapes()
        variants = {v["VariantName"]: as_input(v, variant_shape) for v in source["ProductionVariants"]}
        primary = variants[change.primary]
        serving = self._sagemaker.describe_model(ModelName=primary["ModelName"])
        _create(
            lambda: self._sagemaker.create_model(
                ModelName=change.model,
                ExecutionRoleArn=serving["ExecutionRoleArn"],
                PrimaryContainer={"ModelPackageName": change.package},
                **{k: serving[k] for k in ("VpcConfig", "EnableNetworkIsolation") if serving.get(k)},
            )
        )
        kept = [
            {**v, "InitialVariantWeight": (100 - change.share) / 100.0} if name == change.primary else v
            for name, v in variants.items()
            if name != change.canary
        ]
        canary = {
            **primary,
            "VariantName": change.canary,
            "ModelName": change.model,
            "InitialInstanceCount": change.instances,
            "InitialVariantWeight": change.share / 100.0,
        }
        request = derived_config(source, shape, change.to_config, [*kept, canary])
        _create(lambda: self._sagemaker.create_endpoint_config(**request))

    def _create_final_config(self, change: FinishRollout) -> None:
        source = self._sagemaker.describe_endpoint_config(EndpointConfigName=change.from_config)
        shape, variant_shape = self._config_shapes()
        canary = next(v for v in source["ProductionVariants"] if v.get("ModelName") == change.model)
        variant = {
            **as_input(canary, variant_shape),
            "VariantName": change.primary,
            "InitialInstanceCount": change.instances,
            "InitialVariantWeight": 1.0,
        }
        request = derived_config(source, shape, change.to_config, [variant])
        _create(lambda: self._sagemaker.create_endpoint_config(**request))

    def _config_shapes(self) -> tuple[Any, Any]:
        """CreateEndpointConfig's input shape and its ProductionVariant shape, from the client's own model."""
        shape = self._sagemaker.meta.service_model.operation_model("CreateEndpointConfig").input_shape
        return shape, shape.members["ProductionVariants"].member

    def _package_of(self, model: str) -> dict[str, Any] | None:
        """The model package behind a model's container, or None (a model made from an image)."""
        described = self._sagemaker.describe_model(ModelName=model)
        containers = [described.get("PrimaryContainer", {}), *described.get("Containers", [])]
        names = [c["ModelPackageName"] for c in containers if c.get("ModelPackageName")]
        if not names:
            return None
        package: dict[str, Any] = self._sagemaker.describe_model_package(ModelPackageName=names[0])
        return package

    def _registered(self, package: dict[str, Any]) -> tuple[float | None, str | None]:
        """The package's registered ModelQuality metric, read from its report in S3: (the
        figure or None when the package registers none; why the report cannot be read, or
        None). Cannot read is not "no metric": the caller holds instead of judging."""
        uri = (((package.get("ModelMetrics") or {}).get("ModelQuality") or {}).get("Statistics") or {}).get("S3Uri")
        if not uri or not str(uri).startswith("s3://"):
            return None, None
        bucket, _, key = str(uri)[5:].partition("/")
        try:
            body = self._s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as error:
            if aws.is_transient(error):
                raise
            code = aws.error_code(error)
            logger.warning("model quality report unreadable", uri=uri, error=code)
            if code in ("NoSuchKey", "NoSuchBucket"):
                return None, None  # registered, but never written: no figure to compare
            return None, (
                f"cannot read {package_label(str(package['ModelPackageArn']))}'s report {uri} ({code}): the stack "
                f"reads reports in ModelMetricsBucket only, and an SSE-KMS report needs its key in ModelKmsKeyArns"
            )
        try:
            return registered_metric(json.loads(body), self._settings.candidate_metric), None
        except ValueError:
            logger.warning("model quality report is not JSON", uri=uri)
            return None, None

    def _live(self, endpoint: str) -> float | None:
        """The serving variant's latest live figure of the metric, as ComputeModelQuality published it."""
        now = self._clock()
        result = self._cloudwatch.get_metric_data(
            MetricDataQueries=[
                {
                    "Id": "live",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": QUALITY_NAMESPACE,
                            "MetricName": self._settings.candidate_metric,
                            "Dimensions": [
                                {"Name": "EndpointName", "Value": endpoint},
                                {"Name": "VariantName", "Value": self._primary},
                            ],
                        },
                        "Period": 3600,
                        "Stat": "Average",
                    },
                }
            ],
            StartTime=now - LIVE_LOOKBACK,
            EndTime=now,
            ScanBy="TimestampDescending",
        )
        for found in result.get("MetricDataResults", []):
            values = found.get("Values") or []
            if values:
                return float(values[0])
        return None

    def _minutes(self, endpoint: str, since: datetime, now: datetime) -> list[Minute]:
        """Both variants minute by minute, from the first whole minute after `since` (when this
        step's weights were in service) to the last whole minute before `now`: request and error
        counts, average latency and p99 ModelLatency (absent when CloudWatch serves no
        percentile for it), in GetMetricData calls of up to 500 queries, paged."""
        # CloudWatch keeps 1-minute data for 15 days and takes a 60 s period only for a start
        # time within them (older starts need multiples of 300 s): a longer step reads its last 15 days.
        start = datetime.fromtimestamp(math.ceil(max(since, now - MINUTE_DATA).timestamp() / 60) * 60, tz=UTC)
        end = datetime.fromtimestamp(math.floor(now.timestamp() / 60) * 60, tz=UTC)
        if end <= start:
            return []
        pairs = [(endpoint, self._canary), (endpoint, self._primary)]
        queries, keys = variant_queries(pairs, 60)
        for index, (_, variant) in enumerate(pairs):
            queries.append(
                {
                    "Id": f"p99v{index}",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": SOURCE_NAMESPACE,
                            "MetricName": "ModelLatency",
                            "Dimensions": [
                                {"Name": "EndpointName", "Value": endpoint},
                                {"Name": "VariantName", "Value": variant},
                            ],
                        },
                        "Period": 60,
                        "Stat": "p99",
                    },
                }
            )
        series: dict[str, dict[datetime, float]] = {}
        token: str | None = None
        while True:
            page = self._cloudwatch.get_metric_data(
                MetricDataQueries=queries, StartTime=start, EndTime=end, **({"NextToken": token} if token else {})
            )
            for found in page.get("MetricDataResults", []):
                values = series.setdefault(str(found["Id"]), {})
                for stamp, value in zip(found.get("Timestamps", []), found.get("Values", []), strict=False):
                    values[stamp.astimezone(UTC)] = float(value)
            token = page.get("NextToken")
            if not token:
                break
        minutes = []
        for stamp in sorted({t for values in series.values() for t in values}):
            sums = {pair: Sums() for pair in pairs}
            add_results(
                sums, keys, [{"Id": i, "Values": [v[stamp]]} for i, v in series.items() if i in keys and stamp in v]
            )
            canary, primary = sums[pairs[0]], sums[pairs[1]]
            p99 = [series.get(f"p99v{i}", {}).get(stamp) for i in range(2)]
            minutes.append(
                Minute(
                    canary.invocations,
                    canary.errors_4xx + canary.errors_5xx,
                    primary.invocations,
                    primary.errors_4xx + primary.errors_5xx,
                    canary.total_latency_ms(),
                    primary.total_latency_ms(),
                    None if p99[0] is None else p99[0] / 1000.0,  # ModelLatency is in microseconds
                    None if p99[1] is None else p99[1] / 1000.0,
                )
            )
        return minutes

    def _alarms_in_alarm(self, endpoint: str) -> tuple[str, ...]:
        names = [f"{endpoint}-{self._canary}-ErrorRate", f"{endpoint}-{self._canary}-Latency"]
        found = self._cloudwatch.describe_alarms(AlarmNames=names)
        return tuple(sorted(a["AlarmName"] for a in found.get("MetricAlarms", []) if a["StateValue"] == "ALARM"))


def rules_of(settings: CanarySettings) -> Rules:
    return Rules(
        steps=tuple(settings.canary_steps),
        bake=timedelta(minutes=settings.bake_minutes),
        min_invocations=settings.min_invocations,
        max_error_rate=settings.max_error_rate,
        max_latency_ms=settings.max_latency_ms,
        false_rollback_rate=settings.false_rollback_rate,
        error_effect=settings.error_effect,
        latency_effect=settings.latency_effect / 100.0,
        inconclusive_bakes=settings.inconclusive_bakes,
    )


def _weights(described: dict[str, Any]) -> dict[str, float]:
    return {v["VariantName"]: float(v.get("CurrentWeight") or 0.0) for v in described.get("ProductionVariants", [])}


def _traffic_observation(change: ShiftTraffic, described: dict[str, Any]) -> Observation:
    after = 0 if isinstance(change, RollBackCanary) else change.after
    variants = {v["VariantName"]: v for v in described.get("ProductionVariants", [])}
    if change.canary not in variants or change.primary not in variants:
        return Observation("failed", f"{change.canary} or {change.primary} is gone")

    def share(key: str) -> float | None:
        canary, primary = variants[change.canary].get(key), variants[change.primary].get(key)
        if canary is None or primary is None or float(canary) + float(primary) <= 0:
            return None
        return float(canary) / (float(canary) + float(primary)) * 100.0

    status = described.get("EndpointStatus")
    current, desired = share("CurrentWeight"), share("DesiredWeight")
    if status == "InService" and current is not None and abs(current - after) < 0.5:
        return Observation("took", f"canary {change.canary} takes {current:.0f}% of the traffic")
    if (desired is not None and abs(desired - after) < 0.5) or status in ("Updating", "SystemUpdating"):
        return Observation("in-flight", f"endpoint {status}: canary {change.canary} -> {after}%")
    return Observation("not-applied", f"canary {change.canary} takes {current}% of the traffic")


def as_input(value: Any, shape: Any) -> Any:
    """Pure: what a Describe call returned, cut to what `shape` (a botocore input shape) takes.
    A derived endpoint config starts from the serving one as DescribeEndpointConfig returns it
    and changes only what must change: every field CreateEndpointConfig takes is carried over,
    including those added to the API after this was written (the client's model says which)."""
    kind = getattr(shape, "type_name", "")
    if kind == "structure" and isinstance(value, dict):
        # An empty structure or list is a setting not made (moto answers DataCaptureConfig: {}).
        return {
            k: as_input(v, shape.members[k])
            for k, v in value.items()
            if k in shape.members and v is not None and v != {} and v != []
        }
    if kind == "list" and isinstance(value, list):
        return [as_input(v, shape.member) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: as_input(v, shape.value) for k, v in value.items()}
    return value


def derived_config(source: dict[str, Any], shape: Any, name: str, variants: list[dict[str, Any]]) -> dict[str, Any]:
    """Pure: the CreateEndpointConfig request of a config like `source` (DescribeEndpointConfig's
    answer) but named `name` and serving `variants`: data capture, its key, asynchronous
    inference, shadow variants, explainer and every other setting stay as they were."""
    return {**as_input(source, shape), "EndpointConfigName": name, "ProductionVariants": variants}


def unsupported(described: dict[str, Any], config: dict[str, Any] | None = None) -> str | None:
    """Pure: why a canary rollout cannot run safely on this endpoint (DescribeEndpoint, and
    DescribeEndpointConfig where read), or None."""
    if described.get("AsyncInferenceConfig") or (config or {}).get("AsyncInferenceConfig"):
        return (
            "an asynchronous endpoint: the judge compares each variant's invocation errors, and an "
            "asynchronous endpoint accepts a request before it fails (its failures are InvocationFailures)"
        )
    serverless = [v["VariantName"] for v in described.get("ProductionVariants", []) if "CurrentServerlessConfig" in v]
    serverless += [v["VariantName"] for v in (config or {}).get("ProductionVariants", []) if "ServerlessConfig" in v]
    if serverless:
        return f"serverless variant {sorted(set(serverless))[0]}: no instances to size ahead of the canary's traffic"
    if described.get("ShadowProductionVariants") or (config or {}).get("ShadowProductionVariants"):
        return (
            "a shadow test runs on it: AWS takes one production variant beside a shadow variant, so no canary "
            "variant can be added; end the shadow test first"
        )
    components = [v["VariantName"] for v in (config or {}).get("ProductionVariants", []) if not v.get("ModelName")]
    if components:
        return (
            f"variant {components[0]} hosts inference components (no model of its own): AWS updates components "
            "in place, not as canary variants"
        )
    return None


def key_allowed(key: str, allowed: list[str]) -> bool:
    """Pure: whether a config's KmsKeyId (a key ID, key ARN, alias or alias ARN) is one of the
    key ARNs the stack may use (`ModelKmsKeyArns`)."""
    tail = key.rsplit(":", 1)[-1]  # "key/<id>", "alias/<name>", or a bare key ID
    tails = {a.rsplit(":", 1)[-1] for a in allowed}
    return tail in tails or f"key/{tail}" in tails


def _create(call: Callable[[], Any]) -> None:
    """A Create call that a retry may repeat: 'already exists' means the first one went through
    (the names are derived from the incident, so the existing resource is this one)."""
    try:
        call()
    except ClientError as error:
        message = str(error.response.get("Error", {}).get("Message", ""))
        if aws.error_code(error) == "ValidationException" and "already exist" in message:
            return
        raise


def serving_group(sagemaker: Any, endpoint: str, primary: str) -> tuple[str | None, str]:
    """(model package group of the endpoint's primary variant, or None; the endpoint's ARN),
    read now: DescribeEndpoint, then what its config's primary variant serves (`variant_group`)."""
    described = sagemaker.describe_endpoint(EndpointName=endpoint)
    group = variant_group(sagemaker, str(described["EndpointConfigName"]), primary, {})
    return group, str(described["EndpointArn"])


def variant_group(sagemaker: Any, config: str, variant: str, packages: dict[str, str | None]) -> str | None:
    """The model package group behind `variant` of endpoint config `config`, or None: the
    config has no such variant, the variant names no model (an endpoint of inference
    components: its models are the components'), or the model was not made from a package.
    DescribeEndpointConfig and DescribeModel, and DescribeModelPackage once per package
    (`packages`: what this invocation has read)."""
    described = sagemaker.describe_endpoint_config(EndpointConfigName=config)
    model = next((v.get("ModelName") for v in described["ProductionVariants"] if v["VariantName"] == variant), None)
    if not model:
        return None
    found = sagemaker.describe_model(ModelName=model)
    containers = [found.get("PrimaryContainer", {}), *found.get("Containers", [])]
    names = [c["ModelPackageName"] for c in containers if c.get("ModelPackageName")]
    if not names:
        return None
    with _PACKAGES_READ:  # readers run in threads (`ServingGroups`): each package is described once
        if names[0] not in packages:
            group = sagemaker.describe_model_package(ModelPackageName=names[0]).get("ModelPackageGroupName")
            packages[names[0]] = str(group) if group else None
        return packages[names[0]]


_PACKAGES_READ = threading.Lock()


def endpoint_states(sagemaker: Any, endpoints: list[str]) -> dict[str, dict[str, Any]]:
    """The endpoints in scope as DescribeEndpoint would show them (config, variants with their
    weights and counts), read in batches: SageMaker's Search on resource `Endpoint`, 100 a page
    (botocore's sagemaker model: SearchRecord.Endpoint has EndpointConfigName and
    ProductionVariants as ProductionVariantSummary; MaxResults 1-100). AWS does not document how
    soon Search shows a change, so what these records say picks the endpoints worth a fresh
    DescribeEndpoint, and is never acted on as such. An endpoint in scope that Search did not
    return (just created, or named but missing) is described on its own (`_readable`)."""
    wanted = set(endpoints)
    found: dict[str, dict[str, Any]] = {}
    if not wanted:
        return found
    pages = sagemaker.get_paginator("search").paginate(Resource="Endpoint", PaginationConfig={"PageSize": 100})
    for page in pages:
        for result in page.get("Results", []):
            record = result.get("Endpoint") or {}
            if record.get("EndpointName") in wanted and record.get("EndpointConfigName"):
                found[str(record["EndpointName"])] = record
    for endpoint in sorted(wanted - set(found)):
        described = _readable(endpoint, lambda name: sagemaker.describe_endpoint(EndpointName=name))
        if described is not None:
            found[endpoint] = described
    return found


# Unknown configs are read this many at a time: about 2 calls each, so that the first
# approval after a deployment (every config unknown) reads 500 endpoints' in about 12 s in
# AWS rather than 100 s. boto3's clients are thread-safe; throttling is retried by the
# clients' standard retry mode (aws.py).
READ_CONCURRENCY = 8


class ServingGroups:
    """Which model package group each endpoint's primary variant serves, without reading every
    endpoint's config, model and package on every approval.

    Endpoint configs and models cannot be changed once created (SageMaker has no
    UpdateEndpointConfig or UpdateModel; UpdateModelPackage cannot move a package to another
    group), so what `<config>#<variant>` serves is read once (`variant_group`) and remembered in
    the ledger (`Deployments.serving_groups`, one Query for the whole fleet). A name can be deleted
    and reused for another config: an entry is read again after SERVING_KEEP (ticks refresh
    entries in their last week, `refresh`), and an approval confirms each endpoint it is about
    to act on with a fresh read (`serving_endpoints`)."""

    def __init__(self, sagemaker: Any, ledger: Deployments, now: datetime) -> None:
        self._sagemaker = sagemaker
        self._ledger = ledger
        self._now = now
        self._known: dict[str, tuple[str | None, datetime]] | None = None
        self._packages: dict[str, str | None] = {}
        self._read: set[str] = set()  # the entries this object read from SageMaker

    def groups(
        self,
        serving: dict[str, tuple[str, str]],
        budget: int | None = None,
        refresh: timedelta | None = None,
        reread: bool = False,
    ) -> dict[str, str | None]:
        """endpoint -> the group its (config, primary variant) serves. What the ledger does not
        know (or, with `refresh`, read longer ago than that; with `reread`, anything not read
        by this object) is read now - at most `budget` entries, READ_CONCURRENCY at a time; an
        endpoint left unread (budget, or a permanent error, logged) is absent. What was read is
        remembered before a transient error is raised, so that the retry goes on from there."""
        if self._known is None:
            self._known = self._ledger.serving_groups(self._now)
        wanted: dict[str, tuple[str, str, str]] = {}  # key -> an endpoint, the config, the variant
        for endpoint, (config, variant) in sorted(serving.items()):
            key = f"{config}#{variant}"
            known = self._known.get(key)
            if key in self._read or (
                known is not None and not reread and (refresh is None or self._now - known[1] <= refresh)
            ):
                continue
            if key not in wanted and (budget is None or len(wanted) < budget):
                wanted[key] = (endpoint, config, variant)
        read: dict[str, str | None] = {}
        try:
            with ThreadPoolExecutor(max_workers=READ_CONCURRENCY) as pool:
                futures = {
                    pool.submit(_readable, endpoint, self._reader(config, variant)): key
                    for key, (endpoint, config, variant) in wanted.items()
                }
                for future in as_completed(futures):
                    group = future.result()
                    if group is not None:
                        read[futures[future]] = group[0]
        finally:
            self.remember(read)
        found: dict[str, str | None] = {}
        for endpoint, (config, variant) in serving.items():
            known = self._known.get(f"{config}#{variant}")
            if known is not None:
                found[endpoint] = known[0]
        return found

    def _reader(self, config: str, variant: str) -> Callable[[str], tuple[str | None]]:
        """A read of what (config, variant) serves, as a 1-tuple, so that "serves no group"
        (None inside) is told from "could not be read" (`_readable`'s None)."""
        return lambda _: (variant_group(self._sagemaker, config, variant, self._packages),)

    def remember(self, read: dict[str, str | None]) -> None:
        """Keep what was read, in this object and in the ledger. The ledger is a cache here:
        a write that fails is logged, and the next invocation reads the config again."""
        if not read:
            return
        assert self._known is not None
        self._known.update({key: (group, self._now) for key, group in read.items()})
        self._read.update(read)
        try:
            aws.persist(lambda: self._ledger.save_serving_groups(read, self._now))
        except (ClientError, RuntimeError) as error:
            logger.warning("what endpoint configs serve was not remembered", entries=len(read), error=str(error))


def rollout_incident(endpoint: str, arn: str, at: datetime, why: str, status_changed: bool = True) -> Incident:
    """The incident of one approval of one package on one endpoint (the same approval twice:
    the same one). `status_changed`: the approval is known to be a transition to Approved
    (`triggers.names_the_transition`), which a package rolled back before needs to be deployed again."""
    return replace(
        opened(endpoint, Rollout.unit.name, f"{package_label(arn)} approved", arn, at, why, None),
        facts={"package": arn, "status_changed": status_changed},
    )


def adopted_incident(
    endpoint: str, described: dict[str, Any], primary: str, canary: str, at: datetime
) -> Incident | None:
    """An operator's canary (both variants take traffic, no rollout open): walked from here on."""
    weights = _weights(described)
    if weights.get(canary, 0.0) <= 0 or weights.get(primary, 0.0) <= 0:
        return None
    share = round(weights[canary] / (weights[canary] + weights[primary]) * 100.0, 2)
    counts = {v["VariantName"]: int(v.get("CurrentInstanceCount") or 1) for v in described["ProductionVariants"]}
    config = str(described["EndpointConfigName"])
    incident = opened(
        endpoint,
        Rollout.unit.name,
        f"{endpoint} canary {canary}",
        f"{described['EndpointArn']}#{config}",
        at,
        f"canary {canary} takes {share:g}% of the traffic on {config}",
        None,
    )
    return replace(
        incident,
        facts={
            "canary_config": config,
            "from_config": config,
            "share": share,
            "share_since": at.isoformat(),
            # The primary serves 100 - share percent on its instances: all of the traffic needs this many.
            "reference": counts.get(primary, 1) * 100.0 / (100.0 - share),
        },
    )


def _readable[T](endpoint: str, read: Callable[[str], T]) -> T | None:
    """A read of one endpoint in scope, or None when AWS's answer is permanent (the endpoint
    was deleted, access is denied): logged, and the other endpoints go on. Transient errors
    raise, so the invocation is retried."""
    try:
        return read(endpoint)
    except ClientError as error:
        if aws.is_transient(error):
            raise
        logger.warning("endpoint skipped", endpoint=endpoint, error=f"{aws.error_code(error)}: {error}")
        return None


# A tick reads at most this many unknown (or ageing) config entries, so that an approval
# finds them known; ticks also refresh an entry in its last week (deployments.SERVING_KEEP).
READS_PER_TICK = 100
REFRESH_AFTER = SERVING_KEEP - timedelta(days=7)


def serving_endpoints(
    sagemaker: Any, ledger: Deployments, group: str, endpoints: list[str], primary: Callable[[str], str], now: datetime
) -> list[str]:
    """The endpoints in scope whose primary variant serves a model of `group`: the endpoints'
    configs from Search (`endpoint_states`), what each config serves from the ledger
    (`ServingGroups`, read now where unknown), and each endpoint found this way read again now
    (DescribeEndpoint, and what its config serves), so that neither Search's index nor a
    remembered entry decides a deployment. What this cannot see: an endpoint moved onto the
    group so recently that Search still shows its old config."""
    states = endpoint_states(sagemaker, endpoints)
    serving = ServingGroups(sagemaker, ledger, now)
    known = serving.groups({e: (str(s["EndpointConfigName"]), primary(e)) for e, s in states.items()})
    fresh = {}
    for endpoint in [e for e in endpoints if known.get(e) == group]:
        described = _readable(endpoint, lambda name: sagemaker.describe_endpoint(EndpointName=name))
        if described is not None:
            fresh[endpoint] = (str(described["EndpointConfigName"]), primary(endpoint))
    confirmed = serving.groups(fresh, reread=True)
    return [e for e in fresh if confirmed.get(e) == group]


def run(
    trigger: PackageApproved | DeployRequest | Tick | Alarms,
    loop: ControlLoop,
    sagemaker: Any,
    ledger: Deployments,
    settings: CanarySettings,
    endpoints: Callable[[], list[str]],
    own: Callable[[str], CanarySettings],
) -> list[Outcome]:
    """What PromoteCanaryFunction does with a trigger (`wiring.py` builds the loop):
    an approved package opens a rollout on every endpoint serving its group; an operator's
    request opens one on the endpoints named (or serving the group); a canary alarm judges
    its endpoint's rollout at once; a tick adopts operators' canaries and judges every rollout.
    `own`: each endpoint's settings (its variant names are its own, its `model-medic:` tags).

    Reads batched for the fleet: the endpoints' states in Search pages of 100
    (`endpoint_states`), what their configs serve remembered in the ledger (`ServingGroups`),
    the open rollouts from the roster (`ControlLoop.open_incidents`); a call per endpoint only
    for the endpoints acted on."""
    match trigger:
        case PackageApproved() | DeployRequest():
            return _start(trigger, loop, sagemaker, ledger, settings, endpoints, own)
        case Tick(at=now):
            return _tick(now, loop, sagemaker, ledger, settings, endpoints(), own)
        case Alarms(alarms=alarms):
            return loop.follow(sorted({a.endpoint for a in alarms if a.endpoint}))


def _start(
    trigger: PackageApproved | DeployRequest,
    loop: ControlLoop,
    sagemaker: Any,
    ledger: Deployments,
    settings: CanarySettings,
    endpoints: Callable[[], list[str]],
    own: Callable[[str], CanarySettings],
) -> list[Outcome]:
    """A rollout opened on each endpoint in scope that serves the package's group (or that the operator names)."""
    if isinstance(trigger, PackageApproved):
        arn, group, when, named = trigger.arn, trigger.group, trigger.at, None
        if group not in settings.model_package_groups:
            logger.info("package group not configured for rollouts", group=group)
            return []
    else:
        arn, named, when = trigger.arn, trigger.endpoints, trigger.tick or utc_now()
        try:
            group = str(sagemaker.describe_model_package(ModelPackageName=arn).get("ModelPackageGroupName") or "")
        except ClientError as error:
            if aws.is_transient(error):
                raise
            raise BadEvent(f"deploy-package: {arn}: {aws.error_code(error)}: {error}") from error
    targets = (
        named
        if named is not None
        else serving_endpoints(sagemaker, ledger, group, endpoints(), lambda name: own(name).primary_variant, when)
    )
    if not targets:
        logger.info("no endpoint in scope serves the package's group", group=group)
    why = f"model package {package_label(arn)} approved in {group}"
    return loop.start_all([rollout_incident(e, arn, when, why, trigger.status_changed) for e in targets])


def _tick(
    now: datetime,
    loop: ControlLoop,
    sagemaker: Any,
    ledger: Deployments,
    settings: CanarySettings,
    scope: list[str],
    own: Callable[[str], CanarySettings],
) -> list[Outcome]:
    """Operators' canaries adopted, what new configs serve learnt, and every open rollout judged."""
    under_way = loop.open_incidents(scope)
    states = endpoint_states(sagemaker, scope)
    outcomes, followed = [], []
    for endpoint in scope:
        if under_way[endpoint]:
            followed.append(endpoint)
            continue
        names = own(endpoint)
        # Search's record picks the endpoints whose canary may take traffic; the incident
        # is opened from a fresh DescribeEndpoint of those only.
        weights = _weights(states.get(endpoint, {}))
        if weights.get(names.canary_variant, 0.0) <= 0 or weights.get(names.primary_variant, 0.0) <= 0:
            continue
        described = _readable(endpoint, lambda name: sagemaker.describe_endpoint(EndpointName=name))
        if described is None:
            continue
        adopted = adopted_incident(endpoint, described, names.primary_variant, names.canary_variant, now)
        if adopted is not None:
            outcomes.append(loop.start(adopted))
    if settings.model_package_groups:
        # Between approvals: learn what new configs serve, so that an approval finds it known.
        ServingGroups(sagemaker, ledger, now).groups(
            {e: (str(s["EndpointConfigName"]), own(e).primary_variant) for e, s in states.items()},
            budget=READS_PER_TICK,
            refresh=REFRESH_AFTER,
        )
    return outcomes + loop.follow(followed, under_way, shuffle=now.isoformat())
