"""What a rollout's next step is - deploy, promote, finish, roll back or hold - from what was read."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from model_medic.platform.settings import CanarySettings
from model_medic.remediate.capacity import ScaleChange, Variant
from model_medic.remediate.rollback import RejectPackage
from model_medic.remediate.rollout.challenge import Challenge
from model_medic.remediate.rollout.changes import (
    DeclineCandidate,
    DeployCanary,
    FinishRollout,
    RollBackCanary,
    ShiftTraffic,
)
from model_medic.remediate.rollout.deploy import key_allowed, resource_name, unsupported
from model_medic.remediate.rollout.judge import Rules, Tally, Verdict, current_step
from model_medic.remediate.units import Change, Plan, package_label, variant_label
from model_medic.store.incidents import Incident

# The gate a rollout ends under when its endpoint was changed outside Model Medic (`changed_outside`).
CHANGED_OUTSIDE = "changed-outside"


def rules_of(settings: CanarySettings) -> Rules:
    """The judge's rules from the canary settings."""
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


def weights(described: dict[str, Any]) -> dict[str, float]:
    """Pure: each production variant's current weight (DescribeEndpoint, or a Search record)."""
    return {v["VariantName"]: float(v.get("CurrentWeight") or 0.0) for v in described.get("ProductionVariants", [])}


def instances_for(reference: float, share: float) -> int:
    """Pure: the instances a variant needs for `share` percent of the traffic that `reference`
    instances serve in full (at least one)."""
    return max(1, math.ceil(reference * share / 100.0 - 1e-9))


def reference_capacity(primary_instances: int, remembered: float) -> float:
    """Pure: how many instances all of the traffic needs. The primary is never scaled in below
    what its share needs, so it runs more than the reference only when traffic grew (its
    auto scaling added instances): the reference follows it up, never down."""
    return max(remembered, float(primary_instances))


def step_of(share: float, steps: tuple[int, ...]) -> int:
    """Pure: the step a canary taking `share` percent stands on (100 from 99.5 %; between the
    configured steps, the one below; below the first, its share rounded)."""
    return 100 if share >= 99.5 else (current_step(share, steps) or round(share))


# --- deploy -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Contest:
    """A candidate package against the model it would replace, as read for the deployment."""

    arn: str  # the package as the incident names it
    package: str  # the candidate's ARN (DescribeModelPackage)
    champion: str  # the serving package's ARN; empty when the serving model was not made from one
    verdict: Challenge
    metric: str

    @property
    def notes(self) -> dict[str, Any]:
        v = self.verdict
        return {"candidate": v.candidate, "champion": v.champion, "live": v.live, "metric": self.metric}


def redeploy_hold(incident: Incident, others: list[Incident], unit: str, arn: str) -> Plan | None:
    """Pure: what stops the deployment of `arn` given the endpoint's other incidents - an
    earlier rollout still open, or a rollback of the same package that no new approval
    followed - or None. A package rolled back here comes back only on an approval after the
    rollback that names the change of status (Rejected or pending, then Approved): a repeated or
    late event, or an edit of the still-Approved package, is not one."""
    name = incident.endpoint
    approved_at = datetime.fromisoformat(incident.opened_at)
    for other in others:
        if other.action != unit or other.id == incident.id:
            continue
        if not other.is_closed and other.opened_at <= incident.opened_at:
            return Plan("", skip=f"the rollout of {other.alarm_name} on {name} is under way", gate="rollout")
        rolled_back = (other.facts or {}).get("rolled_back_at")
        if (other.facts or {}).get("package") != arn or not rolled_back:
            continue
        again = datetime.fromisoformat(str(rolled_back)) < approved_at and (incident.facts or {}).get(
            "status_changed", True
        )
        if not again:
            return Plan(
                "",
                bound=f"{package_label(arn)} was rolled back on {name} at {rolled_back}: not redeployed "
                "unless it is rejected and approved again",
            )
    return None


def endpoint_hold(
    name: str, described: dict[str, Any], config: dict[str, Any], settings: CanarySettings
) -> Plan | None:
    """Pure: why no canary can be deployed on this endpoint and config now, or None."""
    problem = unsupported(described, config)
    if problem:
        return Plan("", bound=f"no canary rollout on {name}: {problem}")
    if settings.primary_variant not in {v["VariantName"] for v in config["ProductionVariants"]}:
        return Plan("", bound=f"endpoint {name} has no variant {settings.primary_variant} to challenge")
    key = config.get("KmsKeyId")
    if key and not key_allowed(str(key), settings.model_kms_keys):
        # SageMaker needs the caller allowed on the key (kms:CreateGrant) for a config that names one.
        return Plan(
            "",
            skip=f"{name}'s endpoint config is encrypted with {key}, which the stack may not use: add the key's "
            "ARN to ModelKmsKeyArns; held",
            critical=True,
            gate="kms-key",
        )
    return None


def declined(contest: Contest, settings: CanarySettings) -> Plan | None:
    """Pure: a candidate that is not better is Rejected (where the stack rejects packages) or
    left as it is, never deployed; None for a better one."""
    verdict = contest.verdict
    if verdict.better:
        return None
    if settings.reject_model_packages:
        decline = DeclineCandidate(contest.package, verdict.reason)
        # Rejected, not deployed: the endpoint serves as it did, told at info level.
        return Plan(decline.describe(), changes=(decline,), notes=contest.notes)
    return Plan("", bound=f"{package_label(contest.arn)} not deployed: {verdict.reason}", notes=contest.notes)


def deploy_plan(
    incident: Incident, contest: Contest, primary: Variant, current: str, settings: CanarySettings, rules: Rules
) -> Plan:
    """Pure: the better candidate as the canary at the first step, on the instances its share of
    what the primary serves needs; the serving config `current` kept as it is beside it."""
    reference = float(primary.instances or 1)
    share = rules.steps[0]
    need = instances_for(reference, share)
    if need > settings.max_instance_count:
        return Plan("", bound=f"the canary needs {need} instances for {share}%, above {settings.max_instance_count}")
    deploy = DeployCanary(
        package=contest.package,
        model=resource_name(package_label(contest.arn), "model", contest.package),
        from_config=current,
        to_config=resource_name(incident.endpoint, "canary", incident.id),
        primary=settings.primary_variant,
        canary=settings.canary_variant,
        instances=need,
        share=share,
        reference=reference,
        primary_min=primary.min_capacity,
        champion=contest.champion,
    )
    return Plan(f"{deploy.describe()} - {contest.verdict.reason}", changes=(deploy,), notes=contest.notes)


# --- walk ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Look:
    """One look at a walking canary: where it stands and what the judge made of the evidence."""

    incident: Incident
    share: float
    step: int
    since: datetime  # when this step's weights were in service
    at: datetime
    evidence: Tally  # every step's, this one included
    verdict: Verdict

    @property
    def endpoint(self) -> str:
        return self.incident.endpoint

    @property
    def facts(self) -> dict[str, Any]:
        return self.incident.facts or {}

    @property
    def notes(self) -> dict[str, Any]:
        v = self.verdict
        return {**v.evidence, "share": self.share, "since": self.since.isoformat(), "decision": v.decision}

    @property
    def remembered(self) -> dict[str, Any]:
        """The verdict as the incident keeps it (the report shows the latest)."""
        return {"at": self.at.isoformat(), "decision": self.verdict.decision, **self.verdict.evidence}


@dataclass(frozen=True)
class Sizes:
    """Both variants as read now, and how many instances all of the traffic needs."""

    canary: Variant
    primary: Variant
    reference: float


def walk_hold(
    name: str, described: dict[str, Any], config: dict[str, Any], facts: dict[str, Any], settings: CanarySettings
) -> tuple[float, Plan | None]:
    """Pure: the canary's share of the traffic (percent), or the plan that ends the walk: an
    endpoint a canary cannot walk on (a bound), or variants and weights changed outside Model
    Medic (`changed_outside`)."""
    canary, primary = settings.canary_variant, settings.primary_variant
    problem = unsupported(described, config)
    if problem:
        return 0.0, Plan("", bound=f"canary on {name} not walked: {problem}")
    found = weights(described)
    if canary not in found or primary not in found:
        serving = described.get("EndpointConfigName")
        return 0.0, changed_outside(f"{canary} or {primary} is gone from {name} (it now serves {serving})", facts)
    total = found[canary] + found[primary]
    share = round(found[canary] / total * 100.0, 2) if total > 0 else 0.0
    if share <= 0:
        return share, changed_outside(f"{variant_label('canary', canary)} takes no traffic on {name}", facts)
    left = facts.get("share")
    if left is not None and abs(float(left) - share) > 0.5:
        label = variant_label("canary", canary)
        what = f"{label} takes {share:g}% of {name}'s traffic where this rollout left it at {float(left):g}%"
        return share, changed_outside(what, facts)
    return share, None


def changed_outside(what: str, facts: dict[str, Any]) -> Plan:
    """Pure: a rollout whose endpoint someone else changed (an operator's weights or config)
    ends here, as it stands: complete when its canary had reached 100 % (the new model served
    all of the traffic), stopped otherwise. Nobody is paged: nothing failed, and the person
    who made the change knows of it (docs/rooms/remediate.md, "Rollouts")."""
    share = float(facts.get("share") or 0.0)
    if step_of(share, ()) == 100:
        since = facts.get("share_since")
        return Plan(
            f"the canary took all of the traffic from {since}, then {what}: changed outside Model Medic; "
            "the rollout is complete (its final config was not Model Medic's)",
            gate=CHANGED_OUTSIDE,
            ends="complete",
        )
    return Plan(
        f"{what}: changed outside Model Medic; the rollout stops at {share:g}%", gate=CHANGED_OUTSIDE, ends="stopped"
    )


def verdict_plan(look: Look, settings: CanarySettings) -> Plan | None:
    """Pure: a rollback (and the package Rejected, where the stack rejects packages), or a hold
    while the judge waits (continue) or cannot decide (inconclusive, held and told once); None
    when the canary goes on to the next step or finishes."""
    decision = look.verdict.decision
    reasons = "; ".join(look.verdict.reasons)
    remembered = {"verdict": look.remembered}
    if decision == "rollback" or (decision == "inconclusive" and settings.inconclusive_action == "rollback"):
        canary = settings.canary_variant
        rollback = RollBackCanary(
            settings.primary_variant, canary, look.share, 0, look.evidence.as_dict(), remembered["verdict"]
        )
        changes: list[Change] = [rollback]
        package = str(look.facts.get("package") or "")
        if package and settings.reject_model_packages:
            changes.append(RejectPackage(package))
        summary = f"roll back {variant_label('canary', canary)} ({look.share:g}% -> 0%): {reasons}"
        return Plan(summary, changes=tuple(changes), critical=True, notes=look.notes)
    if decision == "inconclusive":
        return Plan("", skip=f"{reasons}; held", critical=True, gate="inconclusive", notes=look.notes, facts=remembered)
    if decision == "continue":
        return Plan("", skip=f"continue: {reasons}", gate="continue", notes=look.notes, facts=remembered)
    return None


def promote_plan(look: Look, sizes: Sizes, settings: CanarySettings) -> Plan:
    """Pure: capacity ahead of traffic - the canary's instances for the next step, the primary
    down to what the share it served through the bake needs - then the weights."""
    canary, primary = sizes.canary, sizes.primary
    target = int(look.verdict.next_step or 100)
    notes = {**look.notes, "reference_instances": sizes.reference}
    need = instances_for(sizes.reference, target)
    bound = settings.max_instance_count
    if canary.max_capacity is not None:
        bound = min(bound, canary.max_capacity)
    if need > bound:
        return Plan(
            "",
            bound=f"the canary needs {need} instances for {target}% of {look.endpoint}'s traffic, above its "
            f"maximum of {bound}",
            notes=notes,
        )
    changes: list[Change] = []
    if need > max(canary.floor, int(canary.instances or 0)):
        changes.append(ScaleChange(canary.name, canary.lever, canary.floor, need))
    keep = instances_for(sizes.reference, 100 - look.step)
    if primary.floor > keep:
        changes.append(ScaleChange(primary.name, primary.lever, primary.floor, keep))
    shift = ShiftTraffic(primary.name, canary.name, look.share, target, look.evidence.as_dict(), look.remembered)
    changes.append(shift)
    label = variant_label("canary", canary.name)
    summary = f"promote {label} {look.step}% -> {target}%: " + "; ".join(c.describe() for c in changes)
    return Plan(summary, changes=tuple(changes), notes=notes)


def autoscaled_canary(look: Look, sizes: Sizes) -> Plan | None:
    """Pure: the bound of a finish whose canary has an auto scaling target (the final config
    removes the variant, which AWS refuses while it is registered), or None."""
    if sizes.canary.min_capacity is None:
        return None
    return Plan(
        "",
        bound=f"{variant_label('canary', sizes.canary.name)} of {look.endpoint} has an auto scaling target: the final "
        "config removes the variant, which AWS refuses; deregister its scaling first",
    )


def finish_plan(
    look: Look, described: dict[str, Any], config: dict[str, Any], sizes: Sizes, settings: CanarySettings
) -> Plan:
    """Pure: the final config - the new model alone, as the primary variant, with the capacity
    all of the traffic needs (at least the old primary's floor, within its maximum)."""
    name, facts = look.endpoint, look.facts
    canary, primary = sizes.canary, sizes.primary
    problem = unsupported(described, config)
    if problem:
        return Plan("", bound=f"rollout on {name} not finished: {problem}")
    spec = {v["VariantName"]: v for v in config["ProductionVariants"]}
    if primary.min_capacity is not None and spec[canary.name].get("InstanceType") != spec[primary.name].get(
        "InstanceType"
    ):
        return Plan(
            "",
            bound=f"the final config would change the instance type of auto-scaled variant {primary.name} "
            f"({spec[primary.name].get('InstanceType')} -> {spec[canary.name].get('InstanceType')}): "
            "deregister its scaling first",
        )
    floor = int(facts.get("primary_min") or 0)
    instances = max(int(canary.instances or 1), math.ceil(sizes.reference - 1e-9), floor)
    if primary.max_capacity is not None:
        instances = min(instances, primary.max_capacity)
    finish = FinishRollout(
        model=str(spec[canary.name]["ModelName"]),
        from_config=str(described["EndpointConfigName"]),
        to_config=resource_name(name, "final", look.incident.id),
        primary=primary.name,
        instances=instances,
        superseded=str(facts.get("champion") or ""),
    )
    changes: list[Change] = [finish]
    if primary.min_capacity is not None and floor > primary.min_capacity:
        changes.append(ScaleChange(primary.name, "min-capacity", primary.min_capacity, floor))
    notes = {**look.notes, "reference_instances": sizes.reference}
    return Plan("; ".join(c.describe() for c in changes), changes=tuple(changes), notes=notes)
