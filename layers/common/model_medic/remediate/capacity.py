"""Scale-up on HighErrorRate (5XX) / HighLatency, one variant at a time, and giving the temporary capacity back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import cached_property, partial
from typing import TYPE_CHECKING, Any, ClassVar, Literal, cast

from botocore.exceptions import ClientError

from model_medic.control.loop import ControlLoop
from model_medic.intake.triggers import VARIANT_DIMENSION, describe_alarms
from model_medic.measure.endpoint_metrics import Sums, add_results, variant_queries
from model_medic.platform import aws
from model_medic.platform.clock import Clock
from model_medic.platform.observability import logger
from model_medic.platform.settings import ScaleUpSettings
from model_medic.remediate import serverless as sls
from model_medic.remediate.components import COMPONENT_DIMENSION, CopyChange, CopyScaling, is_component_boost
from model_medic.remediate.serverless import ConcurrencyBounds, Serverless, ServerlessLever
from model_medic.remediate.units import CHANGING, Change, Observation, Plan, RemediationUnit, read_back, unsettled
from model_medic.store.boosts import Boost, Boosts
from model_medic.store.incidents import Incident
from model_medic.tell.outcome import Outcome

if TYPE_CHECKING:
    from mypy_boto3_application_autoscaling import ApplicationAutoScalingClient
    from mypy_boto3_application_autoscaling.literals import ScalableDimensionType
    from mypy_boto3_application_autoscaling.type_defs import ScalableTargetTypeDef
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_cloudwatch.type_defs import MetricDataQueryTypeDef
    from mypy_boto3_sagemaker import SageMakerClient

SCALABLE_DIMENSION: ScalableDimensionType = "sagemaker:variant:DesiredInstanceCount"
# The alarms of template.yaml that ask for capacity, by name suffix: <endpoint>-<suffix>.
SCALE_UP_ALARM_SUFFIXES = ("HighErrorRate", "HighLatency")
ERROR_RATE_METRIC = "ErrorRate"
# The levers that set a scalable target's MinCapacity, and the target's dimension.
TARGET_LEVERS: dict[str, ScalableDimensionType] = {
    "min-capacity": SCALABLE_DIMENSION,
    "provisioned-min-capacity": sls.PROVISIONED_DIMENSION,
}
# How far back the 4XX / 5XX split of an error-rate incident is read: the alarm's 2 x 5 min.
ERROR_LOOKBACK = timedelta(minutes=10)

Lever = Literal["min-capacity", "instance-count"] | ServerlessLever


@dataclass(frozen=True)
class Variant:
    """A production variant as the scale-up sees it."""

    name: str
    instances: int | None  # None: serverless, nothing to scale
    weight: float
    min_capacity: int | None = None  # set when an auto scaling target exists
    max_capacity: int | None = None
    managed_max: int | None = None  # ManagedInstanceScaling.MaxInstanceCount, when that scaling is ENABLED
    concurrency: int | None = None  # a serverless variant's CurrentServerlessConfig.MaxConcurrency
    serverless: Serverless | None = None  # a serverless variant's concurrency (serverless.py)

    @property
    def lever(self) -> Lever:
        if self.serverless is not None:
            return self.serverless.lever
        return "min-capacity" if self.min_capacity is not None else "instance-count"

    @property
    def floor(self) -> int:
        """The capacity the variant is guaranteed now: the target's MinCapacity, else its count
        (a serverless variant's: its concurrency, `Serverless.floor`)."""
        if self.serverless is not None:
            return self.serverless.floor
        return self.min_capacity if self.min_capacity is not None else int(self.instances or 0)

    @property
    def current(self) -> int:
        """What runs now: its instances (auto scaling may run more than MinCapacity), or its concurrency."""
        return self.serverless.current if self.serverless is not None else int(self.instances or 0)


@dataclass(frozen=True)
class ScaleChange(Change):
    """One variant's new floor: a single AWS call."""

    kind: ClassVar[str] = "scale"
    variant: str
    lever: Lever
    before: int
    after: int

    def describe(self) -> str:
        return f"{self.variant} {self.lever} {self.before} -> {self.after}"


@dataclass(frozen=True)
class ScaleUpDecision:
    steps: tuple[ScaleChange, ...]
    at_ceiling: tuple[str, ...]
    not_scalable: tuple[str, ...]
    # The limit that cut a step short or stopped a variant at its ceiling, by variant.
    limits: dict[str, str] = field(default_factory=dict)


def ceiling(variant: Variant, max_instances: int) -> tuple[int, str]:
    """Pure: the most instances the scale-up may give the variant, and the limit that sets it."""
    # MaxInstanceCount: the stack's, or lower where the endpoint's tag says so (policy.py).
    limits = [(max_instances, f"MaxInstanceCount, the maximum {max_instances} instances")]
    if variant.max_capacity is not None:
        limits.append((variant.max_capacity, f"the scalable target's MaxCapacity {variant.max_capacity}"))
    if variant.managed_max is not None:
        limits.append((variant.managed_max, f"ManagedInstanceScaling.MaxInstanceCount {variant.managed_max}"))
    return min(limits, key=lambda limit: limit[0])


def decide_scale_up(
    variants: list[Variant], step: int, max_instances: int, concurrency: ConcurrencyBounds | None = None
) -> ScaleUpDecision:
    """Pure: the new floor of each variant, never above the stack's maximum, the target's
    MaxCapacity or the variant's ManagedInstanceScaling.MaxInstanceCount; a serverless
    variant's concurrency within `concurrency` (`serverless.ceiling`; None: not scaled).

    The boost starts from what runs now (auto scaling may already have gone above its
    MinCapacity), so that raising the floor adds capacity instead of restating it.
    """
    steps, at_ceiling, serverless, limits = [], [], [], {}
    for variant in variants:
        if variant.instances is None and (variant.serverless is None or concurrency is None):
            serverless.append(variant.name)
            continue
        if variant.serverless is not None and concurrency is not None:
            bound, limit = sls.ceiling(variant.serverless, concurrency)
        else:
            bound, limit = ceiling(variant, max_instances)
        start = max(variant.floor, variant.current)
        after = min(start + step, bound)
        if after <= start:
            at_ceiling.append(variant.name)
            limits[variant.name] = limit
            continue
        if after < start + step:
            limits[variant.name] = limit
        steps.append(ScaleChange(variant.name, variant.lever, variant.floor, after))
    return ScaleUpDecision(tuple(steps), tuple(at_ceiling), tuple(serverless), limits)


def shadowed(variants: list[Variant], changes: tuple[Change, ...]) -> list[Variant]:
    """Pure: the variants as a dry run's would-be changes (its incident's shadow) would have left
    them: each changed variant at its last would-be floor (its MinCapacity, when that is the
    lever, and at least as many instances)."""
    floors = {c.variant: c for c in changes if isinstance(c, ScaleChange)}
    seen = []
    for variant in variants:
        change = floors.get(variant.name)
        if change is None or variant.instances is None or change.lever != variant.lever:
            seen.append(variant)
            continue
        instances = max(variant.instances, change.after)
        minimum = None if variant.min_capacity is None else change.after
        seen.append(replace(variant, instances=instances, min_capacity=minimum))
    return seen


def client_errors_dominate(sums: Sums) -> bool:
    """Pure: the errors are mostly 4XX - the callers' requests, which capacity does not fix."""
    return sums.errors_4xx > 0 and sums.errors_4xx >= sums.errors_5xx


def variant_targets(
    name: str, variants: list[Variant], described: dict[str, Any], variant: str | None
) -> tuple[list[Variant], Plan | None]:
    """Pure: the variants a scale-up adds to - the alarm's variant, or every variant taking
    traffic - or the plan that stops it (a shadow variant, a variant the endpoint lacks)."""
    if variant is None:
        return [v for v in variants if v.weight > 0], None
    targets = [v for v in variants if v.name == variant]
    if targets:
        return targets, None
    shadows = {v["VariantName"] for v in described.get("ShadowProductionVariants") or []}
    if variant in shadows:
        return [], Plan(
            "",
            bound=f"{variant} is a shadow variant of {name}: only the production variant's responses "
            "are returned to callers, so more instances for it would not help them",
        )
    return [], Plan("", skip=f"endpoint {name} has no variant {variant}")


def components_bound(name: str, targets: list[Variant], components: frozenset[str] | None) -> Plan | None:
    """Pure: the bound of a scale-up whose variants host inference components, or None."""
    hosting = sorted(v.name for v in targets if components is not None and v.name in components)
    if not hosting:
        return None
    return Plan(
        "",
        bound=f"endpoint {name} serves inference components on {', '.join(hosting)}: their capacity is each "
        "component's copy count (and the instances managed instance scaling gives them), which the scale-up "
        "does not change yet",
        notes={"inference_component_variants": hosting},
    )


def client_errors_bound(name: str, errors: Sums) -> Plan | None:
    """Pure: the bound of an error-rate scale-up whose errors are mostly the callers' (4XX), or None."""
    if not client_errors_dominate(errors):
        return None
    counts = {"invocations": errors.invocations, "errors_4xx": errors.errors_4xx, "errors_5xx": errors.errors_5xx}
    return Plan(
        "",
        bound=f"the errors on {name} are mostly 4XX ({errors.errors_4xx:.0f} 4XX, {errors.errors_5xx:.0f}"
        f" 5XX of {errors.invocations:.0f} requests in {ERROR_LOOKBACK.total_seconds() / 60:.0f} min):"
        " callers send bad requests, more instances do not fix that",
        notes=counts,
    )


def scale_up_plan(name: str, decision: ScaleUpDecision, targets: list[Variant], notes: dict[str, Any]) -> Plan:
    """Pure: the plan of a scale-up decision - its steps, or why there is none (at the ceiling,
    nothing scalable); `notes` are the findings read on the way."""
    notes = {
        "at_ceiling": list(decision.at_ceiling),
        "not_scalable": list(decision.not_scalable),
        "limits": decision.limits,
        **notes,
    }
    if decision.steps:
        summary = "; ".join(
            s.describe() + (f" (cut at {decision.limits[s.variant]})" if s.variant in decision.limits else "")
            for s in decision.steps
        )
        return Plan(summary, changes=decision.steps, notes=notes)
    if decision.at_ceiling:
        held = ", ".join(f"{v} (at {decision.limits[v]})" for v in decision.at_ceiling)
        return Plan("", bound=f"endpoint {name} is at its ceiling: {held} cannot grow", notes=notes)
    serverless = [v for v in targets if v.name in decision.not_scalable]
    why = (
        ", ".join(f"{v.name} (MaxConcurrency {v.concurrency})" for v in serverless)
        + " is serverless: SageMaker scales its concurrency itself, and the scale-up changes instance counts only"
        if serverless
        else "no variant takes traffic"
    )
    return Plan("", bound=f"endpoint {name} is not scalable: {why}", notes=notes)


def scale_observation(
    endpoint: str, change: ScaleChange, described: dict[str, Any], min_capacity: int | None = None, called: bool = False
) -> Observation:
    """Pure: a floor change read back - the variant as DescribeEndpoint shows it and, for the
    min-capacity lever, the scalable target's MinCapacity now (None: no target). A floor a
    person set higher than asked is the change taken, and named as theirs (`Observation.person`).
    Once `called`, an endpoint still changing is never read as the change not taken
    (`units.unsettled`)."""
    if change.lever in sls.LEVERS:
        step = sls.Step(change.variant, change.lever, change.before, change.after)
        return sls.observation(endpoint, step, described, min_capacity, called)
    variant = _variant(described, change.variant)
    if variant is None:
        return Observation("failed", f"variant {change.variant} is gone from {endpoint}")
    current = int(variant.get("CurrentInstanceCount") or 0)
    desired = int(variant.get("DesiredInstanceCount") or current)
    status = described.get("EndpointStatus")
    if change.lever == "min-capacity":
        what, observed = "MinCapacity", min_capacity
    else:
        # Running the count asked is the change taken, whatever is asked next.
        what, observed = "DesiredInstanceCount", change.after if current == change.after else desired
    # A floor taken down (a rollout's primary once its share has fallen): the count before is the
    # change not made yet, not a person's giving more; any third count is a person's.
    lowered = change.after < change.before
    reading = read_back(change.before, change.after, observed, ordered=not lowered)
    if reading == "did-not-take":
        return unsettled(called, str(status), f"{change.variant} runs {current} instance(s)")
    person = ""
    if reading == "person-gave-more":
        person = f"a person set {change.variant} {what} {observed}, above the {change.after} asked: theirs, kept"
    elif reading == "person-changed-other":
        person = f"a person set {change.variant} {what} {observed}, not the {change.after} asked: theirs, kept"
    if lowered and what != "MinCapacity":  # a count taken down is met only by the count asked (or the person's)
        settled = current == (observed if person else change.after)
    else:  # a floor raised is met by as many or more
        settled = current >= change.after
    if status == "InService" and settled:
        return Observation("took", f"{change.variant} runs {current} instance(s)", person)
    if status == "InService" or status in CHANGING:
        return Observation("in-flight", f"endpoint {status}: {change.variant} {current} -> {change.after}", person)
    return Observation("failed", f"endpoint is {status}")


def _variant(described: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((v for v in described.get("ProductionVariants", []) if v["VariantName"] == name), None)


class Capacity:
    """Reads and sets variant capacity through SageMaker and Application Auto Scaling."""

    def __init__(
        self,
        sagemaker: SageMakerClient,
        autoscaling: ApplicationAutoScalingClient,
        copies: Callable[[], CopyScaling] | None = None,
    ) -> None:
        self._sagemaker = sagemaker
        self._autoscaling = autoscaling
        self._make_copies = copies

    @cached_property
    def copies(self) -> CopyScaling | None:
        """Inference components' copies (components.py), built the first time a component is
        scaled or given back; None: not scaled here."""
        return None if self._make_copies is None else self._make_copies()

    def endpoint(self, name: str, described: dict[str, Any] | None = None) -> tuple[str, list[Variant]]:
        """The endpoint's status and its variants with their scaling targets."""
        if described is None:
            described = cast("dict[str, Any]", self._sagemaker.describe_endpoint(EndpointName=name))
        targets = self.targets(name, [v["VariantName"] for v in described.get("ProductionVariants", [])])
        provisioned = self.serverless_targets(name, described)
        variants = []
        for v in described.get("ProductionVariants", []):
            target = targets.get(v["VariantName"])
            # AWS shows a serverless variant with CurrentInstanceCount 0 (tests/data/real/endpoints/).
            serverless = v.get("CurrentServerlessConfig")
            managed = v.get("ManagedInstanceScaling") or {}
            enabled = managed.get("Status") == "ENABLED" and managed.get("MaxInstanceCount") is not None
            variants.append(
                Variant(
                    name=v["VariantName"],
                    instances=None if serverless else int(v.get("CurrentInstanceCount", 0)),
                    weight=float(v.get("CurrentWeight", 0.0)),
                    min_capacity=None if target is None else int(target["MinCapacity"]),
                    max_capacity=None if target is None else int(target["MaxCapacity"]),
                    managed_max=int(managed["MaxInstanceCount"]) if enabled else None,
                    concurrency=None if not serverless else serverless.get("MaxConcurrency"),
                    serverless=sls.read(v, cast("dict[str, Any] | None", provisioned.get(v["VariantName"]))),
                )
            )
        return str(described["EndpointStatus"]), variants

    def component_variants(self, described: dict[str, Any]) -> frozenset[str] | None:
        """The endpoint's variants that host inference components (their config names no model),
        or None when its endpoint config cannot be read (a config in use may be deleted)."""
        try:
            config = self._sagemaker.describe_endpoint_config(EndpointConfigName=described["EndpointConfigName"])
        except ClientError as error:
            if aws.is_transient(error):
                raise
            logger.warning("endpoint config unreadable", config=described["EndpointConfigName"], error=str(error))
            return None
        return frozenset(v["VariantName"] for v in config.get("ProductionVariants", []) if not v.get("ModelName"))

    def targets(
        self, endpoint: str, variants: list[str], dimension: ScalableDimensionType = SCALABLE_DIMENSION
    ) -> dict[str, ScalableTargetTypeDef]:
        """The variants' scalable targets on `dimension`, by variant name."""
        if not variants:
            return {}
        found = self._autoscaling.describe_scalable_targets(
            ServiceNamespace="sagemaker",
            ResourceIds=[_resource_id(endpoint, v) for v in variants],
            ScalableDimension=dimension,
        ).get("ScalableTargets", [])
        return {t["ResourceId"].rsplit("/", 1)[-1]: t for t in found}

    def serverless_targets(self, endpoint: str, described: dict[str, Any]) -> dict[str, ScalableTargetTypeDef]:
        """The serverless variants' scalable targets on provisioned concurrency, by variant name
        (no call for an endpoint without serverless variants)."""
        names = [v["VariantName"] for v in described.get("ProductionVariants", []) if v.get("CurrentServerlessConfig")]
        return self.targets(endpoint, names, sls.PROVISIONED_DIMENSION)

    def apply(self, endpoint: str, change: ScaleChange) -> str:
        """Set one variant's new floor; returns the AWS operation it called."""
        if change.lever in sls.LEVERS:
            return sls.apply(self._sagemaker, self._autoscaling, endpoint, change.variant, change.lever, change.after)
        if change.lever == "min-capacity":
            # Only MinCapacity changes; MaxCapacity and the policies stay as they are.
            self._autoscaling.register_scalable_target(
                ServiceNamespace="sagemaker",
                ResourceId=_resource_id(endpoint, change.variant),
                ScalableDimension=SCALABLE_DIMENSION,
                MinCapacity=change.after,
            )
            return "RegisterScalableTarget"
        self._sagemaker.update_endpoint_weights_and_capacities(
            EndpointName=endpoint,
            DesiredWeightsAndCapacities=[{"VariantName": change.variant, "DesiredInstanceCount": change.after}],
        )
        return "UpdateEndpointWeightsAndCapacities"

    def observe(self, endpoint: str, change: ScaleChange, described: dict[str, Any], called: bool) -> Observation:
        """Whether the variant now runs at the change's floor (or is on its way there); `called`:
        the change was made (`scale_observation`)."""
        minimum = None
        if change.lever in TARGET_LEVERS and _variant(described, change.variant) is not None:
            target = self.targets(endpoint, [change.variant], TARGET_LEVERS[change.lever]).get(change.variant)
            minimum = None if target is None else int(target["MinCapacity"])
        return scale_observation(endpoint, change, described, minimum, called)

    def errors(self, cloudwatch: CloudWatchClient, endpoint: str, variants: list[str], now: datetime) -> Sums:
        """The endpoint's invocations and 4XX / 5XX errors over the error alarm's look-back."""
        pairs = [(endpoint, v) for v in variants]
        period = int(ERROR_LOOKBACK.total_seconds())
        queries, keys = variant_queries(pairs, period)
        result = cloudwatch.get_metric_data(
            MetricDataQueries=cast("list[MetricDataQueryTypeDef]", queries), StartTime=now - ERROR_LOOKBACK, EndTime=now
        )
        sums = {pair: Sums() for pair in pairs}
        add_results(sums, keys, result.get("MetricDataResults", []))
        total = Sums()
        for value in sums.values():
            total.merge(value)
        return total


class ScaleUp:
    """Remediation for HighErrorRate (5XX) / HighLatency in ALARM: one step more capacity."""

    unit = RemediationUnit(
        name="scale-up",
        function="ScaleUpFunction",
        states=frozenset({"ALARM"}),
        requires="InService",
        alarm_suffixes=SCALE_UP_ALARM_SUFFIXES,
        component_alarm_suffixes=SCALE_UP_ALARM_SUFFIXES,
        iam_actions=frozenset(
            {
                "sagemaker:DescribeEndpoint",
                # Not called by us: Application Auto Scaling checks it on the caller of
                # RegisterScalableTarget (SageMaker's auto scaling prerequisites).
                "sagemaker:DescribeEndpointConfig",
                "sagemaker:UpdateEndpointWeightsAndCapacities",
                # An inference component's copies (components.py), and its max-copy-count tag.
                "sagemaker:DescribeInferenceComponent",
                "sagemaker:UpdateInferenceComponentRuntimeConfig",
                # The sweep's listing of the components, whose alarms it reads too.
                "sagemaker:ListInferenceComponents",
                "sagemaker:ListTags",
                "application-autoscaling:DescribeScalableTargets",
                "application-autoscaling:RegisterScalableTarget",
                "cloudwatch:DescribeAlarms",
                "cloudwatch:GetMetricData",
            }
        ),
        effect="alarm-ok",
        verify_minutes_setting="scale_up_verify_minutes",
        settings=ScaleUpSettings,
        changes=(ScaleChange, CopyChange),
    )

    def __init__(
        self,
        capacity: Capacity,
        boosts: Boosts,
        cloudwatch: CloudWatchClient,
        step: int,
        max_instances: int,
        cooldown: timedelta,
        clock: Clock,
        concurrency: ConcurrencyBounds | None = None,  # None: serverless variants are not scaled
    ) -> None:
        self._capacity = capacity
        self._boosts = boosts
        self._cloudwatch = cloudwatch
        self._step = step
        self._max = max_instances
        self.cooldown = cooldown
        self._clock = clock
        self._concurrency = concurrency

    @property
    def _copies(self) -> CopyScaling | None:
        """Inference components' copies (components.py), built when first used (`Capacity.copies`)."""
        return self._capacity.copies

    def plan(self, incident: Incident, endpoint: dict[str, Any]) -> Plan:
        name = incident.endpoint
        component = (incident.dimensions or {}).get(COMPONENT_DIMENSION)
        if component:
            return self._component_plan(incident, component, endpoint)
        _, variants = self._capacity.endpoint(name, endpoint)
        if incident.shadow is not None:  # a dry run goes on from where enforce would be
            variants = shadowed(variants, incident.shadow.made())
        variant = (incident.dimensions or {}).get(VARIANT_DIMENSION)
        targets, stop = variant_targets(name, variants, endpoint, variant)
        if stop is not None:
            return stop
        components = self._capacity.component_variants(endpoint)
        stop = components_bound(name, targets, components)
        if stop is not None:
            return stop
        if incident.metric == ERROR_RATE_METRIC:
            errors = self._capacity.errors(self._cloudwatch, name, [v.name for v in variants], self._clock())
            stop = client_errors_bound(name, errors)
            if stop is not None:
                return stop
        notes = (
            {}
            if components is not None
            else {"endpoint_config": f"{endpoint.get('EndpointConfigName')} cannot be read"}
        )
        decision = decide_scale_up(targets, self._step, self._max, self._concurrency)
        return scale_up_plan(name, decision, targets, notes)

    def _component_plan(self, incident: Incident, component: str, endpoint: dict[str, Any]) -> Plan:
        """The plan of an inference component's alarm: its copies, not the variant's instances."""
        if self._copies is None:
            return Plan("", bound=f"inference component {component}: this function does not scale copies")
        shadow = incident.shadow.made() if incident.shadow is not None else ()
        return self._copies.plan(component, incident.endpoint, endpoint, shadow)

    def execute(self, endpoint: str, change: Change, incident: Incident) -> dict[str, Any]:
        if isinstance(change, CopyChange) and self._copies is not None:
            call = self._copies.execute(change)
            self.adopt(endpoint, change, incident)  # remembered the moment its call succeeded
            return {"call": call}
        assert isinstance(change, ScaleChange)
        call = self._capacity.apply(endpoint, change)
        # The boost is remembered the moment its own call succeeded: a retry never boosts twice.
        self.adopt(endpoint, change, incident)
        return {"call": call}

    def adopt(self, endpoint: str, change: Change, incident: Incident) -> None:
        if isinstance(change, CopyChange) and self._copies is not None:
            self._copies.save(self._boosts, endpoint, change, incident.alarm_name, self._clock())
            return
        assert isinstance(change, ScaleChange)
        aws.persist(
            lambda: self._boosts.save(
                endpoint,
                change.variant,
                change.lever,
                change.before,
                change.after,
                incident.alarm_name,
                self._clock(),
                step=self._step,  # the endpoint's own: the give-back's pace
            )
        )

    def observe(self, endpoint: str, change: Change, described: dict[str, Any], result: dict[str, Any]) -> Observation:
        if isinstance(change, CopyChange) and self._copies is not None:
            return self._copies.observe(change, bool(result))
        assert isinstance(change, ScaleChange)
        return self._capacity.observe(endpoint, change, described, bool(result))

    def rehearse(self, endpoint: str, changes: tuple[Change, ...], incident: Incident) -> None:
        """A dry run's would-be boosts, kept as shadow boosts: the dry-run give-back walks them back."""
        shadows = self._boosts.shadows()
        for change in changes:
            if isinstance(change, CopyChange) and self._copies is not None:
                self._copies.save(shadows, endpoint, change, incident.alarm_name, self._clock())
                continue
            assert isinstance(change, ScaleChange)
            save = partial(shadows.save, endpoint, change.variant, change.lever, change.before, change.after)
            aws.persist(partial(save, incident.alarm_name, self._clock(), step=self._step))


def step_down(floor: int, original: int, step: int) -> int:
    """Pure: a give-back step's new floor - one scale-up step lower, never below the floor from
    before the first boost."""
    return max(original, floor - step)


class ScaleBack:
    """Gives temporary capacity back once the scale-up alarms have been OK for a while.

    Run by the sweep, at the pace the capacity was added: ScaleStep instances a step, one
    variant's change at a time (the endpoint must be InService), a step no sooner than the
    scale-up cool-down after the variant's last one, and only once that last step is read back
    InService at its floor - as a scale-up step is. Never counted against the hourly budget that
    limits adding capacity. Each step is one 'acted' decision under a deterministic key (the
    boost and the step's floor), so a retry records it once; the boost is forgotten when its
    last step has been read back.
    """

    action = "scale-back"

    def __init__(
        self,
        capacity: Capacity,
        boosts: Boosts,
        cloudwatch: CloudWatchClient,
        wait: timedelta,
        clock: Clock,
        step: int = 1,  # for a boost saved without its step
        pace: timedelta = timedelta(0),
    ) -> None:
        self._capacity = capacity
        self._boosts = boosts
        self._cloudwatch = cloudwatch
        self._wait = wait
        self._clock = clock
        self._step = step
        self._pace = pace

    @property
    def _copies(self) -> CopyScaling | None:
        """Inference components' copies (components.py), built when first used (`Capacity.copies`)."""
        return self._capacity.copies

    def due(self, endpoint: str, now: datetime, boosts: list[Boost] | None = None) -> tuple[list[Boost], str]:
        """The boosts (read now, unless given) that may be given back now, or why none may."""
        boosts = self._boosts.of(endpoint) if boosts is None else boosts
        if not boosts:
            return [], f"no temporary capacity on {endpoint}"
        names = sorted({n for b in boosts for n in b.alarms} | {f"{endpoint}-{s}" for s in SCALE_UP_ALARM_SUFFIXES})
        # Every page, 100 names a call: an endpoint of many boosted components names more.
        alarms = list(describe_alarms(self._cloudwatch, names).values())
        firing = sorted(a["AlarmName"] for a in alarms if a["StateValue"] == "ALARM")
        if firing:
            return [], f"scale-up alarm(s) still in ALARM: {', '.join(firing)}"
        # When each went OK: the last change of StateValue (StateUpdatedTimestamp also moves on EvaluationState).
        latest = max((a.get("StateTransitionedTimestamp", a["StateUpdatedTimestamp"]) for a in alarms), default=None)
        last_boost = max(datetime.fromisoformat(b.boosted_at) for b in boosts)
        quiet_since = max(latest, last_boost) if latest is not None else last_boost
        if now < quiet_since + self._wait:
            return [], f"capacity is given back from {(quiet_since + self._wait).isoformat()}"
        return boosts, ""

    def give_back(self, endpoint: str, boosts: list[Boost]) -> list[GiveBack]:
        """One give-back step of one boosted variant (one AWS change), after the boosts a person
        took over, left as they are (`GiveBack.floor` None). A boost whose last step has been
        read back at its original floor is forgotten here, as is one whose variant is gone; one
        a person took over is forgotten once that is recorded (`give_back`, the sweep's).

        The step is remembered (`stepped`) in the transaction that records it: a retry finds the
        floor already one step lower and finishes the telling instead of stepping again.
        """
        now = self._clock()
        status, variants = self._capacity.endpoint(endpoint)
        present = {v.name: v for v in variants}
        left, stop = self._give_back_components(endpoint, [b for b in boosts if is_component_boost(b)], now)
        if stop:
            return left  # one change at a time: a component's step made, or a component changing
        for boost in [b for b in boosts if not is_component_boost(b)]:
            variant = present.get(boost.variant)
            if variant is None:
                self.forget(endpoint, boost.variant)  # gone: nothing to give back
                continue
            if status != "InService":
                return left  # a step in flight (ours or another change): read back when it is done
            last = boost.boosted_to if boost.returned_to is None else boost.returned_to  # the floor the ledger expects
            step = self._step if boost.step is None else boost.step  # the pace the capacity was added at
            change = ScaleChange(variant.name, variant.lever, last, step_down(last, boost.original, step))
            key = f"scale-back#{variant.name}#{boost.boosted_at}#{change.after}"
            if variant.lever == boost.lever and variant.floor == change.after and change.after < last:
                return [*left, GiveBack(variant.name, change.describe(), key, change.after)]  # its record failed
            taken = taken_over(boost, variant, last)
            if taken is not None:
                logger.warning("boost re-scaled by someone else; not given back", endpoint=endpoint, why=taken)
                left.append(GiveBack(variant.name, taken, f"scale-back#{variant.name}#{boost.boosted_at}#left", None))
                continue
            if last <= boost.original:
                self.forget(endpoint, variant.name)  # the last step is read back: all given back
                continue
            if boost.returned_at is not None and now < datetime.fromisoformat(boost.returned_at) + self._pace:
                continue  # at the scale-up's pace; another variant may step meanwhile
            if not self._applied(endpoint, change):
                return left  # another change got there first: looked at again by the next sweep
            return [*left, GiveBack(variant.name, change.describe(), key, change.after)]
        return left

    def _applied(self, endpoint: str, change: ScaleChange) -> bool:
        """The give-back step made, or False when another change to the variant is under way
        (`aws.is_busy`: a scaling activity, a person's update), which the next sweep waits out."""
        try:
            self._capacity.apply(endpoint, change)
        except ClientError as error:
            if not aws.is_busy(error):
                raise
            logger.info("give-back waits for another change", endpoint=endpoint, error=str(error))
            return False
        return True

    def _give_back_components(self, endpoint: str, boosts: list[Boost], now: datetime) -> tuple[list[GiveBack], bool]:
        """The component boosts' part of `give_back`: those a person took over, then at most one
        step; True when the give-back stops here (a step made, or a component changing)."""
        left: list[GiveBack] = []
        for boost in boosts:
            done = self._give_back_copies(endpoint, boost, now)
            if done == "stop":
                return left, True
            if isinstance(done, GiveBack):
                if done.floor is not None:
                    return [*left, done], True
                left.append(done)
        return left, False

    def _give_back_copies(self, endpoint: str, boost: Boost, now: datetime) -> GiveBack | str | None:
        """One look at a component's boost (`CopyScaling.give_back`): a step made (or found made),
        a boost a person took over, "stop" while the component changes, or None (nothing now)."""
        if self._copies is None:
            return None  # this function does not scale copies: the boost stays for one that does
        kind, what, floor = self._copies.give_back(boost, now, self._pace)
        if kind == "step":
            return GiveBack(boost.variant, what, f"scale-back#{boost.variant}#{boost.boosted_at}#{floor}", floor)
        if kind == "left":
            logger.warning("boost re-scaled by someone else; not given back", endpoint=endpoint, why=what)
            return GiveBack(boost.variant, what, f"scale-back#{boost.variant}#{boost.boosted_at}#left", None)
        if kind == "forget":
            self.forget(endpoint, boost.variant)
        return "stop" if kind == "stop" else None

    def stepped(self, endpoint: str, variant: str, floor: int, shadow: bool = False) -> dict[str, Any]:
        """What a give-back step leaves in the ledger (the boost's new floor; `shadow`: a dry run's
        shadow boost's), as the Update of the transaction that records the step: recorded and
        remembered together, or neither."""
        boosts = self._boosts.shadows() if shadow else self._boosts
        return boosts.step_back_request(endpoint, variant, floor, self._clock())

    def rehearse(self, endpoints: list[str], enforced: list[str]) -> list[tuple[str, str, str, str, int]]:
        """The dry-run give-back, of shadow boosts (`ScaleUp.rehearse`): for each of `endpoints`
        whose shadow boosts are due (`due`: the same alarms, the same wait), one variant's would-be
        step back at the same pace, as `sweep` gives them, nothing changed in AWS. The shadow boosts
        of `enforced` endpoints are forgotten: enforce plans from the endpoint as it is."""
        shadows = self._boosts.shadows()
        boosted = shadows.by_endpoint(endpoints + enforced)
        for endpoint in [e for e in enforced if e in boosted]:
            for boost in boosted[endpoint]:
                aws.persist(partial(shadows.drop, endpoint, boost.variant))
        now = self._clock()
        given = []
        for endpoint in [e for e in endpoints if e in boosted]:
            boosts, why = self.due(endpoint, now, boosted[endpoint])
            if not boosts:
                logger.debug("no dry-run scale-back", endpoint=endpoint, why=why)
                continue
            done = self._would_give_back(endpoint, boosts, now, shadows)
            if done is not None:
                given.append((endpoint, *done))
        return given

    def _would_give_back(
        self, endpoint: str, boosts: list[Boost], now: datetime, shadows: Boosts
    ) -> tuple[str, str, str, int] | None:
        """One would-be give-back step of one shadow boost (as `give_back`, each step taken as
        read back at once), or None; a shadow boost walked back to its original floor is forgotten."""
        for boost in boosts:
            last = boost.boosted_to if boost.returned_to is None else boost.returned_to
            if last <= boost.original:
                aws.persist(partial(shadows.drop, endpoint, boost.variant))
                continue
            if boost.returned_at is not None and now < datetime.fromisoformat(boost.returned_at) + self._pace:
                continue
            step = self._step if boost.step is None else boost.step
            lever = cast("Lever", boost.lever)
            change = ScaleChange(boost.variant, lever, last, step_down(last, boost.original, step))
            key = f"dry-run#scale-back#{boost.variant}#{boost.boosted_at}#{change.after}"
            return boost.variant, change.describe(), key, change.after
        return None

    def forget(self, endpoint: str, variant: str) -> None:
        aws.persist(lambda: self._boosts.drop(endpoint, variant))

    def sweep(self, endpoints: list[str]) -> list[tuple[str, GiveBack]]:
        """For each endpoint whose boosts are due, the boosts a person took over and one
        variant's step back, by endpoint."""
        now = self._clock()
        given = []
        # One Query of the roster of boosts, then only the endpoints that have one (boosts.py).
        boosted = self._boosts.by_endpoint(endpoints)
        for endpoint in [e for e in endpoints if e in boosted]:
            boosts, why = self.due(endpoint, now, boosted[endpoint])
            if not boosts:
                logger.debug("no scale-back", endpoint=endpoint, why=why)
                continue
            given += [(endpoint, done) for done in self.give_back(endpoint, boosts)]
        return given


@dataclass(frozen=True)
class GiveBack:
    """A give-back step made (`floor`: the variant's new floor), or a boost left as a person set
    it (`floor` None; `summary` says what they set)."""

    variant: str
    summary: str
    key: str  # the decision's: a retry records it once
    floor: int | None


def taken_over(boost: Boost, variant: Variant, last: int) -> str | None:
    """Pure: what a person did to a boosted variant since Model Medic last set its floor (`last`),
    or None: a scalable target registered or deregistered, or another floor. Theirs now: the
    give-back leaves it as it is, never lower."""
    if variant.lever != boost.lever:
        what = "registered a scalable target" if variant.lever in TARGET_LEVERS else "deregistered its scalable target"
        if variant.serverless is not None and "provisioned-min-capacity" not in (variant.lever, boost.lever):
            what = f"changed its lever from {boost.lever} to {variant.lever}"
        return f"a person {what} on {variant.name} since; left as it is"
    if _runs_at(variant, last):
        return None
    what = {"min-capacity": "MinCapacity", "instance-count": "the instance count", **sls.NAMES}[variant.lever]
    return f"a person set {variant.name} {what} {variant.floor} since (Model Medic set {last}); left as it is"


def _runs_at(variant: Variant, floor: int) -> bool:
    """Whether an InService variant runs at this floor: its target's MinCapacity, else its count."""
    return variant.floor == floor


def give_back(loop: ControlLoop, scale_back: ScaleBack, endpoints: list[str]) -> list[Outcome]:
    """The sweep's second job: temporary capacity back, a step at a time, on the endpoints in
    enforce mode (each endpoint's own, `ModeSwitch.current`); on those in dry-run, the give-back
    of what the dry run would have added, recorded as dry-run decisions (`ScaleBack.rehearse`)."""
    modes = {endpoint: loop.current_mode(endpoint) for endpoint in endpoints}
    enforced = [e for e in endpoints if modes[e] == "enforce"]
    rehearsed = [e for e in endpoints if modes[e] == "dry-run"]
    outcomes = []
    if enforced:
        for endpoint, done in scale_back.sweep(enforced):
            if done.floor is None:
                # Recorded (once per key), then forgotten: a person's floor is not given back, nor
                # looked at again every sweep.
                outcomes.append(
                    loop.acted(ScaleBack.action, endpoint, done.summary, done.key, "enforce", result="skipped")
                )
                scale_back.forget(endpoint, done.variant)
                continue
            # The step's record and its new floor in one transaction: a retry that finds the step
            # made records nothing twice, and remembers the floor if an earlier run did not.
            stepped = scale_back.stepped(endpoint, done.variant, done.floor)
            outcomes.append(loop.acted(ScaleBack.action, endpoint, done.summary, done.key, "enforce", also=[stepped]))
    if enforced or rehearsed:
        for endpoint, variant, summary, key, floor in scale_back.rehearse(rehearsed, enforced):
            stepped = scale_back.stepped(endpoint, variant, floor, shadow=True)
            outcomes.append(
                loop.acted(ScaleBack.action, endpoint, summary, key, "dry-run", also=[stepped], result="dry-run")
            )
    return outcomes


def _resource_id(endpoint: str, variant: str) -> str:
    return f"endpoint/{endpoint}/variant/{variant}"
