"""Scale-up on HighErrorRate / HighLatency, and giving the temporary capacity back.

Where a variant has an Application Auto Scaling target, the boost raises the target's
MinCapacity (a manual instance count would be undone by the scaling policy, FACTS.md);
elsewhere it raises DesiredInstanceCount. The floor before the first boost is kept in
the ledger, so the scale-back restores exactly it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from model_medic.alarms import AlarmEvent
from model_medic.gates import Clock, Plan
from model_medic.ledger import Ledger
from model_medic.observability import logger

SCALABLE_DIMENSION = "sagemaker:variant:DesiredInstanceCount"
# The alarms of template.yaml that ask for capacity, by name suffix: <endpoint>-<suffix>.
SCALE_UP_ALARM_SUFFIXES = ("HighErrorRate", "HighLatency")

Lever = Literal["min-capacity", "instance-count"]


@dataclass(frozen=True)
class Variant:
    """A production variant as the scale-up sees it."""

    name: str
    instances: int | None  # None: serverless, nothing to scale
    weight: float
    min_capacity: int | None = None  # set when an auto scaling target exists
    max_capacity: int | None = None

    @property
    def lever(self) -> Lever:
        return "min-capacity" if self.min_capacity is not None else "instance-count"

    @property
    def floor(self) -> int:
        """The capacity the variant is guaranteed now: the target's MinCapacity, else its count."""
        return self.min_capacity if self.min_capacity is not None else int(self.instances or 0)


@dataclass(frozen=True)
class Step:
    variant: str
    lever: Lever
    before: int
    after: int


@dataclass(frozen=True)
class ScaleUpDecision:
    steps: tuple[Step, ...]
    at_ceiling: tuple[str, ...]
    not_scalable: tuple[str, ...]


def decide_scale_up(variants: list[Variant], step: int, max_instances: int) -> ScaleUpDecision:
    """Pure: the new floor of each variant, never above the maximum or the target's MaxCapacity.

    The boost starts from what runs now (auto scaling may already have gone above its
    MinCapacity), so that raising the floor adds capacity instead of restating it.
    """
    steps, ceiling, serverless = [], [], []
    for variant in variants:
        if variant.instances is None:
            serverless.append(variant.name)
            continue
        bound = max_instances if variant.max_capacity is None else min(max_instances, variant.max_capacity)
        start = max(variant.floor, variant.instances)
        after = min(start + step, bound)
        if after <= variant.floor or after <= variant.instances:
            ceiling.append(variant.name)
            continue
        steps.append(Step(variant.name, variant.lever, variant.floor, after))
    return ScaleUpDecision(tuple(steps), tuple(ceiling), tuple(serverless))


class Capacity:
    """Reads and sets variant capacity through SageMaker and Application Auto Scaling."""

    def __init__(self, sagemaker: Any, autoscaling: Any) -> None:
        self._sagemaker = sagemaker
        self._autoscaling = autoscaling

    def endpoint(self, name: str) -> tuple[str, list[Variant]]:
        """The endpoint's status and its variants with their scaling targets."""
        described = self._sagemaker.describe_endpoint(EndpointName=name)
        targets = {
            target["ResourceId"]: target
            for target in self._autoscaling.describe_scalable_targets(
                ServiceNamespace="sagemaker",
                ResourceIds=[_resource_id(name, v["VariantName"]) for v in described.get("ProductionVariants", [])],
                ScalableDimension=SCALABLE_DIMENSION,
            ).get("ScalableTargets", [])
        }
        variants = []
        for v in described.get("ProductionVariants", []):
            target = targets.get(_resource_id(name, v["VariantName"]))
            serverless = "CurrentServerlessConfig" in v and "CurrentInstanceCount" not in v
            variants.append(
                Variant(
                    name=v["VariantName"],
                    instances=None if serverless else int(v.get("CurrentInstanceCount", 0)),
                    weight=float(v.get("CurrentWeight", 0.0)),
                    min_capacity=None if target is None else int(target["MinCapacity"]),
                    max_capacity=None if target is None else int(target["MaxCapacity"]),
                )
            )
        return described["EndpointStatus"], variants

    def apply(self, endpoint: str, steps: list[Step]) -> list[str]:
        """Set each variant's new floor; returns the AWS operations it called."""
        calls = []
        counts = [s for s in steps if s.lever == "instance-count"]
        for step in steps:
            if step.lever == "min-capacity":
                # Only MinCapacity changes; MaxCapacity and the policies stay as they are.
                self._autoscaling.register_scalable_target(
                    ServiceNamespace="sagemaker",
                    ResourceId=_resource_id(endpoint, step.variant),
                    ScalableDimension=SCALABLE_DIMENSION,
                    MinCapacity=step.after,
                )
                calls.append("RegisterScalableTarget")
        if counts:
            self._sagemaker.update_endpoint_weights_and_capacities(
                EndpointName=endpoint,
                DesiredWeightsAndCapacities=[
                    {"VariantName": s.variant, "DesiredInstanceCount": s.after} for s in counts
                ],
            )
            calls.append("UpdateEndpointWeightsAndCapacities")
        return calls


def _resource_id(endpoint: str, variant: str) -> str:
    return f"endpoint/{endpoint}/variant/{variant}"


class ScaleUp:
    """Remediation for HighErrorRate / HighLatency in ALARM: one step more capacity."""

    action = "scale-up"
    states = frozenset({"ALARM"})

    def __init__(
        self, capacity: Capacity, ledger: Ledger, step: int, max_instances: int, cooldown: timedelta, clock: Clock
    ) -> None:
        self._capacity = capacity
        self._ledger = ledger
        self._step = step
        self._max = max_instances
        self.cooldown = cooldown
        self._clock = clock

    def plan(self, alarm: AlarmEvent) -> Plan:
        endpoint = str(alarm.endpoint)
        status, variants = self._capacity.endpoint(endpoint)
        if status != "InService":
            return Plan("", skip=f"endpoint {endpoint} is {status}, not InService")
        if alarm.variant is not None:
            targets = [v for v in variants if v.name == alarm.variant]
            if not targets:
                return Plan("", skip=f"endpoint {endpoint} has no variant {alarm.variant}")
        else:
            targets = [v for v in variants if v.weight > 0]
        decision = decide_scale_up(targets, self._step, self._max)
        if not decision.steps:
            if decision.at_ceiling:
                return Plan(
                    "",
                    bound=f"endpoint {endpoint} is at its ceiling: {', '.join(decision.at_ceiling)} cannot grow "
                    f"(maximum {self._max} instances or the scalable target's MaxCapacity)",
                    changes={"at_ceiling": list(decision.at_ceiling)},
                )
            return Plan(
                "",
                skip=f"endpoint {endpoint} is not scalable: {', '.join(decision.not_scalable) or 'no variant'}"
                " has no instance count (serverless)",
            )
        summary = "; ".join(f"{s.variant} {s.lever} {s.before} -> {s.after}" for s in decision.steps)
        return Plan(
            summary,
            changes={
                "steps": [s.__dict__ for s in decision.steps],
                "at_ceiling": list(decision.at_ceiling),
                "not_scalable": list(decision.not_scalable),
            },
        )

    def execute(self, alarm: AlarmEvent, plan: Plan) -> dict[str, Any]:
        endpoint = str(alarm.endpoint)
        steps = [Step(**s) for s in plan.changes["steps"]]
        calls = self._capacity.apply(endpoint, steps)
        for step in steps:
            self._ledger.save_boost(
                endpoint, step.variant, step.lever, step.before, step.after, alarm.alarm_name, self._clock()
            )
        return {"calls": calls}


class ScaleBack:
    """Remediation for the same alarms returning to OK: after the cool-down, restore the floor.

    The OK event arrives when the cool-down has only begun, so it records the wait; the
    scheduled sweep (`due_releases`) delivers the OK transition again once it has passed.
    """

    action = "scale-back"
    states = frozenset({"OK"})
    cooldown = timedelta(0)

    def __init__(self, capacity: Capacity, ledger: Ledger, cloudwatch: Any, wait: timedelta, clock: Clock) -> None:
        self._capacity = capacity
        self._ledger = ledger
        self._cloudwatch = cloudwatch
        self._wait = wait
        self._clock = clock

    def plan(self, alarm: AlarmEvent) -> Plan:
        endpoint = str(alarm.endpoint)
        boosts = self._ledger.boosts(endpoint)
        if not boosts:
            return Plan("", skip=f"no temporary capacity to give back on {endpoint}")
        still = self._alarms_in_alarm(endpoint, {n for b in boosts for n in b["alarms"]} - {alarm.alarm_name})
        if still:
            return Plan("", skip=f"scale-up alarm(s) still in ALARM: {', '.join(sorted(still))}")
        due = alarm.state_change_time + self._wait
        if self._clock() < due:
            return Plan("", skip=f"cool-down: capacity is given back from {due.isoformat()} (the sweep does it)")
        status, variants = self._capacity.endpoint(endpoint)
        if status != "InService":
            return Plan("", skip=f"endpoint {endpoint} is {status}, not InService")
        present = {v.name: v for v in variants}
        steps = []
        for boost in boosts:
            variant = present.get(boost["variant"])
            if variant is None or variant.lever != boost["lever"]:
                continue  # the variant or its scaling changed since: leave it to people
            steps.append(Step(variant.name, variant.lever, variant.floor, int(boost["original"])))
        summary = "; ".join(f"{s.variant} {s.lever} {s.before} -> {s.after}" for s in steps) or "forget stale boosts"
        return Plan(summary, changes={"steps": [s.__dict__ for s in steps]})

    def execute(self, alarm: AlarmEvent, plan: Plan) -> dict[str, Any]:
        endpoint = str(alarm.endpoint)
        steps = [Step(**s) for s in plan.changes["steps"]]
        calls = self._capacity.apply(endpoint, steps) if steps else []
        for boost in self._ledger.boosts(endpoint):
            self._ledger.drop_boost(endpoint, boost["variant"])
        return {"calls": calls}

    def _alarms_in_alarm(self, endpoint: str, others: set[str]) -> set[str]:
        names = sorted(others | {f"{endpoint}-{suffix}" for suffix in SCALE_UP_ALARM_SUFFIXES})
        found = self._cloudwatch.describe_alarms(AlarmNames=names, AlarmTypes=["MetricAlarm"])
        return {a["AlarmName"] for a in found.get("MetricAlarms", []) if a["StateValue"] == "ALARM"} - {""}

    def due_releases(self, endpoints: list[str], now: datetime) -> list[AlarmEvent]:
        """For the sweep: the OK transitions whose cool-down has passed, on boosted endpoints."""
        due = []
        for endpoint in endpoints:
            boosts = self._ledger.boosts(endpoint)
            if not boosts:
                continue
            names = sorted({n for b in boosts for n in b["alarms"]})
            found = self._cloudwatch.describe_alarms(AlarmNames=names, AlarmTypes=["MetricAlarm"])
            alarms = found.get("MetricAlarms", [])
            if any(a["StateValue"] != "OK" for a in alarms):
                continue
            latest = max(alarms, key=lambda a: a["StateUpdatedTimestamp"], default=None)
            if latest is None or now < latest["StateUpdatedTimestamp"] + self._wait:
                continue
            due.append(_ok_transition(latest, endpoint))
        logger.debug("scale-back sweep", due=[a.alarm_name for a in due])
        return due


def _ok_transition(alarm: dict[str, Any], endpoint: str) -> AlarmEvent:
    """The alarm's current OK state as the transition it was (same id as its SNS delivery)."""
    arn = alarm["AlarmArn"]
    _, _, _, region, account, _, _ = arn.split(":", 6)
    return AlarmEvent(
        alarm_name=alarm["AlarmName"],
        alarm_arn=arn,
        state="OK",
        previous_state=None,
        state_change_time=alarm["StateUpdatedTimestamp"],
        reason=alarm.get("StateReason", ""),
        account=account,
        region=region,
        source="sweep",
        namespace=alarm.get("Namespace"),
        metric_name=alarm.get("MetricName"),
        dimensions={d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])} or {"EndpointName": endpoint},
    )
