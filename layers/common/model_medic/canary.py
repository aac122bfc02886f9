"""Canary promotion on evidence: promote along the configured steps, hold, or roll back.

The judge is pure (`judge`); `PromoteCanary` reads the endpoint, the step history in the
ledger and one GetMetricData call of both variants' SageMaker metrics since the step
began, and sets the weights so that the canary's share is exactly the next step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from model_medic.alarms import AlarmEvent
from model_medic.endpoint_metrics import Sums, add_results, variant_queries
from model_medic.gates import Clock, Plan
from model_medic.ledger import Ledger

Decision = Literal["promote", "hold", "rollback"]


@dataclass(frozen=True)
class Rules:
    """The evidence a canary must show; defaults are the stack parameters' defaults."""

    steps: tuple[int, ...] = (5, 10, 25, 50, 100)
    bake: timedelta = timedelta(minutes=30)
    min_invocations: int = 100
    max_error_rate: float = 5.0  # percent
    max_latency_ms: float = 1000.0
    error_ratio: float = 1.5
    latency_ratio: float = 1.2
    significance: float = 0.05


@dataclass(frozen=True)
class Evidence:
    """What a variant did since the step began."""

    invocations: float
    errors: float
    latency_ms: float | None

    @property
    def error_rate(self) -> float | None:
        return None if self.invocations <= 0 else self.errors / self.invocations * 100.0

    @classmethod
    def of(cls, sums: Sums) -> Evidence:
        return cls(sums.invocations, sums.errors_4xx + sums.errors_5xx, sums.total_latency_ms())


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    reasons: tuple[str, ...]
    p_value: float | None
    next_step: int | None = None
    evidence: dict[str, Any] = field(default_factory=dict)


def one_sided_p_value(errors_a: float, n_a: float, errors_b: float, n_b: float) -> float | None:
    """P(rate A is not above rate B), two-proportion z-test with pooled variance; None without data."""
    if n_a <= 0 or n_b <= 0:
        return None
    pooled = (errors_a + errors_b) / (n_a + n_b)
    variance = pooled * (1 - pooled) * (1 / n_a + 1 / n_b)
    if variance <= 0:
        return 1.0  # no errors anywhere (or only errors): no evidence that A is worse
    z = (errors_a / n_a - errors_b / n_b) / math.sqrt(variance)
    return 0.5 * math.erfc(z / math.sqrt(2))


def current_step(share: float, steps: tuple[int, ...]) -> int | None:
    """The step the canary's share (percent) stands on: the largest step not above it."""
    on = [step for step in steps if step <= share + 0.5]
    return max(on) if on else None


def next_step(step: int | None, steps: tuple[int, ...]) -> int | None:
    later = [s for s in steps if step is None or s > step]
    return min(later) if later else None


def judge(
    canary: Evidence,
    primary: Evidence,
    rules: Rules,
    step: int | None,
    baked: timedelta,
    alarms_in_alarm: tuple[str, ...] = (),
) -> Verdict:
    """Pure: rollback beats hold beats promote."""
    p_value = one_sided_p_value(canary.errors, canary.invocations, primary.errors, primary.invocations)
    evidence = {
        "canary": {
            "invocations": canary.invocations,
            "errors": canary.errors,
            "error_rate": canary.error_rate,
            "latency_ms": canary.latency_ms,
        },
        "primary": {
            "invocations": primary.invocations,
            "errors": primary.errors,
            "error_rate": primary.error_rate,
            "latency_ms": primary.latency_ms,
        },
        "p_value": p_value,
        "step": step,
        "baked_minutes": round(baked.total_seconds() / 60, 1),
    }
    rollback = []
    if alarms_in_alarm:
        rollback.append(f"canary alarm in ALARM: {', '.join(alarms_in_alarm)}")
    if canary.error_rate is not None and canary.error_rate > rules.max_error_rate:
        rollback.append(f"canary error rate {canary.error_rate:.2f}% above the {rules.max_error_rate:g}% gate")
    if canary.latency_ms is not None and canary.latency_ms > rules.max_latency_ms:
        rollback.append(f"canary latency {canary.latency_ms:.0f} ms above the {rules.max_latency_ms:g} ms gate")
    if (
        canary.error_rate is not None
        and primary.error_rate is not None
        and canary.error_rate > rules.error_ratio * primary.error_rate
        and p_value is not None
        and p_value < rules.significance
    ):
        rollback.append(
            f"canary error rate {canary.error_rate:.2f}% vs primary {primary.error_rate:.2f}% "
            f"(over {rules.error_ratio:g}x, p = {p_value:.4f} < {rules.significance:g})"
        )
    if rollback:
        return Verdict("rollback", tuple(rollback), p_value, None, evidence)
    hold = []
    if baked < rules.bake:
        hold.append(f"baking: {baked.total_seconds() / 60:.0f} of {rules.bake.total_seconds() / 60:.0f} minutes")
    for name, variant in (("canary", canary), ("primary", primary)):
        if variant.invocations < rules.min_invocations:
            hold.append(f"{name} has {variant.invocations:.0f} invocations, fewer than {rules.min_invocations}")
    if (
        canary.latency_ms is not None
        and primary.latency_ms is not None
        and canary.latency_ms > rules.latency_ratio * primary.latency_ms
    ):
        hold.append(
            f"canary latency {canary.latency_ms:.0f} ms over {rules.latency_ratio:g}x "
            f"primary {primary.latency_ms:.0f} ms"
        )
    target = next_step(step, rules.steps)
    if target is None:
        hold.append("the canary already serves all traffic")
    if hold:
        return Verdict("hold", tuple(hold), p_value, None, evidence)
    return Verdict("promote", (f"healthy: promote {step}% -> {target}%",), p_value, target, evidence)


class PromoteCanary:
    """Remediation run every 10 minutes per endpoint, and at once when a canary alarm fires."""

    action = "promote-canary"
    states = frozenset({"ALARM"})
    cooldown = timedelta(0)

    def __init__(
        self, sagemaker: Any, cloudwatch: Any, ledger: Ledger, primary: str, canary: str, rules: Rules, clock: Clock
    ) -> None:
        self._sagemaker = sagemaker
        self._cloudwatch = cloudwatch
        self._ledger = ledger
        self._primary = primary
        self._canary = canary
        self._rules = rules
        self._clock = clock

    def canary_alarm_names(self, endpoint: str) -> list[str]:
        return [f"{endpoint}-{self._canary}-ErrorRate", f"{endpoint}-{self._canary}-Latency"]

    def weights(self, endpoint: str) -> tuple[str, dict[str, float]]:
        described = self._sagemaker.describe_endpoint(EndpointName=endpoint)
        return described["EndpointStatus"], {
            v["VariantName"]: float(v.get("CurrentWeight") or 0.0) for v in described["ProductionVariants"]
        }

    def in_rollout(self, endpoint: str) -> bool:
        """Canary and primary both take traffic: a rollout is under way (at 100% it is complete)."""
        _, weights = self.weights(endpoint)
        return weights.get(self._canary, 0.0) > 0 and weights.get(self._primary, 0.0) > 0

    def plan(self, alarm: AlarmEvent) -> Plan:
        endpoint = str(alarm.endpoint)
        status, weights = self.weights(endpoint)
        if status != "InService":
            return Plan("", skip=f"endpoint {endpoint} is {status}, not InService")
        canary_weight, primary_weight = weights.get(self._canary, 0.0), weights.get(self._primary)
        if canary_weight <= 0 or primary_weight is None:
            return Plan(
                "", skip=f"no canary rollout on {endpoint}: {self._canary} takes no traffic beside {self._primary}"
            )
        now = self._clock()
        share = canary_weight / (canary_weight + primary_weight) * 100.0
        step = current_step(share, self._rules.steps)
        since = self._ledger.canary_step_since(endpoint, step, now)
        sums = self._fetch(endpoint, since, now)
        alarms = self._alarms_in_alarm(endpoint)
        verdict = judge(
            Evidence.of(sums[self._canary]), Evidence.of(sums[self._primary]), self._rules, step, now - since, alarms
        )
        evidence = {
            **verdict.evidence,
            "share": round(share, 2),
            "since": since.isoformat(),
            "decision": verdict.decision,
        }
        reasons = "; ".join(verdict.reasons)
        if verdict.decision == "hold":
            return Plan("", skip=f"hold: {reasons}", changes=evidence)
        if verdict.decision == "rollback":
            return Plan(
                f"roll back canary {self._canary} ({share:.0f}% -> 0%): {reasons}",
                changes={**evidence, "weights": {self._canary: 0.0, self._primary: 1.0}},
                critical=True,
            )
        target = int(verdict.next_step or 100)
        return Plan(
            f"promote canary {self._canary} {step}% -> {target}%",
            changes={
                **evidence,
                "to_step": target,
                "weights": {self._canary: target / 100.0, self._primary: (100 - target) / 100.0},
            },
        )

    def execute(self, alarm: AlarmEvent, plan: Plan) -> dict[str, Any]:
        endpoint = str(alarm.endpoint)
        weights = plan.changes["weights"]
        self._sagemaker.update_endpoint_weights_and_capacities(
            EndpointName=endpoint,
            DesiredWeightsAndCapacities=[{"VariantName": name, "DesiredWeight": w} for name, w in weights.items()],
        )
        now = self._clock()
        if plan.changes["decision"] == "rollback":
            self._ledger.end_canary(endpoint, "rolled back", now)
            return {"rollout": "rolled back"}
        step = int(plan.changes["to_step"])
        self._ledger.start_canary_step(endpoint, step, now)
        if step >= 100:
            self._ledger.end_canary(endpoint, "complete", now)
            return {"rollout": "complete"}
        return {"rollout": f"at {step}%"}

    def _alarms_in_alarm(self, endpoint: str) -> tuple[str, ...]:
        found = self._cloudwatch.describe_alarms(AlarmNames=self.canary_alarm_names(endpoint))
        return tuple(sorted(a["AlarmName"] for a in found.get("MetricAlarms", []) if a["StateValue"] == "ALARM"))

    def _fetch(self, endpoint: str, since: datetime, now: datetime) -> dict[str, Sums]:
        """Both variants' sums since the step began: one GetMetricData call, one period."""
        period = max(60, math.ceil((now - since).total_seconds() / 60) * 60)
        pairs = [(endpoint, self._canary), (endpoint, self._primary)]
        queries, keys = variant_queries(pairs, period)
        result = self._cloudwatch.get_metric_data(
            MetricDataQueries=queries, StartTime=now - timedelta(seconds=period), EndTime=now
        )
        sums = {pair: Sums() for pair in pairs}
        add_results(sums, keys, result.get("MetricDataResults", []))
        return {variant: value for (_, variant), value in sums.items()}
