"""Inference components: a component's copy count raised on its alarm, and the copies given back."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar, Literal, cast

from botocore.exceptions import ClientError

from model_medic.platform import aws
from model_medic.platform.observability import logger
from model_medic.remediate.units import Change, Observation, Plan, read_back, unsettled
from model_medic.store.boosts import Boost, Boosts

if TYPE_CHECKING:
    from mypy_boto3_application_autoscaling import ApplicationAutoScalingClient
    from mypy_boto3_application_autoscaling.literals import ScalableDimensionType
    from mypy_boto3_sagemaker import SageMakerClient

    from model_medic.intake.triggers import AlarmEvent

# The dimension of SageMaker's per-component metrics (docs/aws-behaviours.md, "Inference components").
COMPONENT_DIMENSION = "InferenceComponentName"
COPY_DIMENSION: ScalableDimensionType = "sagemaker:inference-component:DesiredCopyCount"
# A component's own ceiling, on the component's tags; the stack's MaxCopyCount otherwise.
MAX_COPY_TAG = "model-medic:max-copy-count"
# How a component's boost is keyed in the ledger: its Application Auto Scaling resource id,
# which no variant name can be (a variant name holds no "/").
BOOST_PREFIX = "inference-component/"

CopyLever = Literal["min-copies", "copy-count"]


@dataclass(frozen=True)
class Component:
    """An inference component as the scale-up sees it (DescribeInferenceComponent, its target)."""

    name: str
    endpoint: str
    variant: str
    status: str  # InferenceComponentStatus: InService, Creating, Updating, Failed, Deleting
    copies: int  # RuntimeConfig.CurrentCopyCount
    desired: int  # RuntimeConfig.DesiredCopyCount
    min_capacity: int | None = None  # set when a scalable target on DesiredCopyCount exists
    max_capacity: int | None = None
    max_copies: int | None = None  # the component's model-medic:max-copy-count tag

    @property
    def lever(self) -> CopyLever:
        return "min-copies" if self.min_capacity is not None else "copy-count"

    @property
    def floor(self) -> int:
        """The copies the component is guaranteed now: the target's MinCapacity, else its desired count."""
        return self.min_capacity if self.min_capacity is not None else self.desired


@dataclass(frozen=True)
class Placement:
    """Where new copies would go: the hosting variant's instances and its managed instance scaling."""

    variant: str
    instances: int
    managed_max: int | None  # ManagedInstanceScaling.MaxInstanceCount when its Status is ENABLED


@dataclass(frozen=True)
class CopyChange(Change):
    """One component's new copy floor: a single AWS call."""

    kind: ClassVar[str] = "copies"
    component: str
    lever: CopyLever
    before: int
    after: int

    def describe(self) -> str:
        return f"inference component {self.component} {self.lever} {self.before} -> {self.after}"


def boost_key(component: str) -> str:
    return BOOST_PREFIX + component


def is_component_boost(boost: Boost) -> bool:
    return boost.variant.startswith(BOOST_PREFIX)


def copy_ceiling(component: Component, max_copies: int) -> tuple[int, str]:
    """Pure: the most copies the scale-up may give the component, and the limit that sets it."""
    limits = [(max_copies, f"MaxCopyCount, the maximum {max_copies} copies")]
    if component.max_copies is not None:
        limits.append((component.max_copies, f"the component's {MAX_COPY_TAG} tag {component.max_copies}"))
    if component.max_capacity is not None:
        limits.append((component.max_capacity, f"the scalable target's MaxCapacity {component.max_capacity}"))
    return min(limits, key=lambda limit: limit[0])


def placement_bound(component: Component, placement: Placement | None) -> str | None:
    """Pure: why a new copy may have nowhere to go, or None. SageMaker places copies on the
    variant's instances and, with managed instance scaling ENABLED, adds instances up to its
    MaxInstanceCount for them; how much room the running instances have left is not shown by
    any Describe call, so only a variant that can still grow is taken as room for a copy."""
    if placement is None:
        return f"variant {component.variant} of {component.endpoint} is gone"
    if placement.managed_max is None:
        return (
            f"{placement.variant} has no managed instance scaling: SageMaker cannot add an instance for a new "
            f"copy of {component.name}, and whether its {placement.instances} instance(s) have room is not shown"
        )
    if placement.instances >= placement.managed_max:
        return (
            f"{placement.variant} runs {placement.instances} instance(s), its ManagedInstanceScaling."
            f"MaxInstanceCount {placement.managed_max}: no instance can be added for a new copy of {component.name}"
        )
    return None


def decide_copies(
    component: Component, placement: Placement | None, step: int, max_copies: int
) -> tuple[CopyChange | None, str, str]:
    """Pure: the component's new copy floor, or None with the bound that stops it; and the limit
    that cut the step short ("" when none did). The boost starts from what runs now (auto scaling
    may have gone above MinCapacity), so raising the floor adds copies instead of restating them."""
    bound, limit = copy_ceiling(component, max_copies)
    start = max(component.floor, component.copies, component.desired)
    after = min(start + step, bound)
    if after <= component.floor or after <= component.copies:
        return None, f"inference component {component.name} is at its ceiling ({limit})", limit
    room = placement_bound(component, placement)
    if room is not None:
        return None, f"inference component {component.name} cannot grow: {room}", ""
    change = CopyChange(component.name, component.lever, component.floor, after)
    return change, "", limit if after < start + step else ""


def copies_plan(component: Component, placement: Placement | None, step: int, max_copies: int) -> Plan:
    """Pure: the plan of a component's scale-up - one change, or the bound that stops it."""
    notes: dict[str, Any] = {
        "inference_component": component.name,
        "copies": component.copies,
        "desired_copies": component.desired,
        "lever": component.lever,
    }
    if component.status != "InService":
        return Plan(
            "", skip=f"inference component {component.name} is {component.status}: copies change once InService"
        )
    change, bound, limit = decide_copies(component, placement, step, max_copies)
    if change is None:
        return Plan("", bound=bound, notes=notes)
    summary = change.describe() + (f" (cut at {limit})" if limit else "")
    return Plan(summary, changes=(change,), notes=notes)


def copies_observation(component: Component | None, change: CopyChange, called: bool = False) -> Observation:
    """Pure: a copy floor read back - the component now (None: gone). A floor a person set higher
    than asked is the change taken, and named as theirs. Once `called`, a component still
    changing is never read as the change not taken (`units.unsettled`)."""
    if component is None:
        return Observation("failed", f"inference component {change.component} is gone")
    if change.lever == "min-copies":
        what, observed = "MinCapacity", component.min_capacity
    else:
        what = "DesiredCopyCount"
        observed = change.after if component.copies == change.after else component.desired
    reading = read_back(change.before, change.after, observed, ordered=True)
    if reading == "did-not-take":
        return unsettled(called, component.status, f"{component.name} runs {component.copies} copies")
    person = ""
    if reading == "person-gave-more":
        person = f"a person set {component.name} {what} {observed}, above the {change.after} asked: theirs, kept"
    if component.status == "InService" and component.copies >= change.after:
        return Observation("took", f"{component.name} runs {component.copies} copies", person)
    if component.status in ("InService", "Updating"):
        return Observation(
            "in-flight", f"inference component {component.status}: {component.copies} -> {change.after}", person
        )
    return Observation("failed", f"inference component {component.name} is {component.status}")


def copies_taken_over(boost: Boost, component: Component, last: int) -> str | None:
    """Pure: what a person did to a boosted component since Model Medic last set its floor, or None."""
    if component.lever != boost.lever:
        what = "registered a scalable target" if component.lever == "min-copies" else "deregistered its scalable target"
        return f"a person {what} on {component.name} since; left as it is"
    if component.floor == last:
        return None
    what = "MinCapacity" if component.lever == "min-copies" else "the copy count"
    return f"a person set {component.name} {what} {component.floor} since (Model Medic set {last}); left as it is"


class Components:
    """Reads and sets inference components' copies through SageMaker and Application Auto Scaling."""

    def __init__(self, sagemaker: SageMakerClient, autoscaling: ApplicationAutoScalingClient) -> None:
        self._sagemaker = sagemaker
        self._autoscaling = autoscaling

    def read(self, name: str) -> Component | None:
        """The component with its scalable target and its ceiling tag, or None when it is gone."""
        try:
            found = cast("dict[str, Any]", self._sagemaker.describe_inference_component(InferenceComponentName=name))
        except ClientError as error:
            if aws.is_transient(error) or aws.error_code(error) != "ValidationException":
                raise
            return None  # SageMaker's answer for a component that does not exist
        runtime = found.get("RuntimeConfig") or {}
        target = self.target(name)
        return Component(
            name=name,
            endpoint=str(found["EndpointName"]),
            variant=str(found.get("VariantName") or ""),
            status=str(found["InferenceComponentStatus"]),
            copies=int(runtime.get("CurrentCopyCount") or 0),
            desired=int(runtime.get("DesiredCopyCount") or 0),
            min_capacity=None if target is None else int(target["MinCapacity"]),
            max_capacity=None if target is None else int(target["MaxCapacity"]),
            max_copies=self._max_copies(str(found["InferenceComponentArn"])),
        )

    def _max_copies(self, arn: str) -> int | None:
        value = aws.sagemaker_tags(self._sagemaker, arn).get(MAX_COPY_TAG)
        if value is None:
            return None
        if not value.isdigit() or int(value) < 1:
            logger.warning("tag not used", tag=MAX_COPY_TAG, value=value, reason="not a whole number from 1")
            return None
        return int(value)

    def target(self, name: str) -> dict[str, Any] | None:
        found = self._autoscaling.describe_scalable_targets(
            ServiceNamespace="sagemaker", ResourceIds=[boost_key(name)], ScalableDimension=COPY_DIMENSION
        ).get("ScalableTargets", [])
        return cast("dict[str, Any]", found[0]) if found else None

    def apply(self, change: CopyChange) -> str:
        """Set one component's new copy floor; returns the AWS operation it called."""
        if change.lever == "min-copies":
            # Only MinCapacity changes; MaxCapacity and the policies stay as they are.
            self._autoscaling.register_scalable_target(
                ServiceNamespace="sagemaker",
                ResourceId=boost_key(change.component),
                ScalableDimension=COPY_DIMENSION,
                MinCapacity=change.after,
            )
            return "RegisterScalableTarget"
        self._sagemaker.update_inference_component_runtime_config(
            InferenceComponentName=change.component, DesiredRuntimeConfig={"CopyCount": change.after}
        )
        return "UpdateInferenceComponentRuntimeConfig"

    def endpoint_of(self, alarm: AlarmEvent) -> AlarmEvent:
        """A component's alarm with its endpoint: SageMaker's per-component metrics carry the
        component's name only, so the endpoint is read from the component (unchanged when the
        alarm names an endpoint already, names no component, or the component is gone)."""
        name = alarm.dimensions.get(COMPONENT_DIMENSION)
        if alarm.endpoint or not name:
            return alarm
        component = self.read(name)
        if component is None:
            return alarm
        return replace(alarm, dimensions={**alarm.dimensions, "EndpointName": component.endpoint})


def components_by_endpoint(sagemaker: SageMakerClient) -> dict[str, list[str]]:
    """The names of every inference component of the account and Region, by endpoint, sorted
    (ListInferenceComponents without a filter, every page: one listing for the whole fleet, not
    a call an endpoint); none when they cannot be listed (told in the log: the endpoints' own
    alarms still stand)."""
    found: dict[str, list[str]] = {}
    try:
        for page in sagemaker.get_paginator("list_inference_components").paginate():
            for component in page.get("InferenceComponents", []):
                found.setdefault(component["EndpointName"], []).append(component["InferenceComponentName"])
    except ClientError as error:
        if aws.is_transient(error):
            raise
        logger.warning("inference components not listed", error=str(error))
        return {}
    return {endpoint: sorted(names) for endpoint, names in found.items()}


def placement_of(described: dict[str, Any], variant: str) -> Placement | None:
    """Pure: the hosting variant as DescribeEndpoint shows it, or None when it is gone."""
    found = next((v for v in described.get("ProductionVariants", []) if v["VariantName"] == variant), None)
    if found is None:
        return None
    managed = found.get("ManagedInstanceScaling") or {}
    enabled = managed.get("Status") == "ENABLED" and managed.get("MaxInstanceCount") is not None
    return Placement(
        variant, int(found.get("CurrentInstanceCount") or 0), int(managed["MaxInstanceCount"]) if enabled else None
    )


def step_back(
    component: Component, boost: Boost, step: int, now: datetime, pace_until: datetime | None
) -> CopyChange | None:
    """Pure: the give-back step of a component's boost (one step lower, never below its floor from
    before the boost), or None when it is all given back or the pace says wait."""
    last = boost.boosted_to if boost.returned_to is None else boost.returned_to
    if last <= boost.original or (pace_until is not None and now < pace_until):
        return None
    return CopyChange(component.name, component.lever, last, max(boost.original, last - step))


# What one give-back look at a component's boost comes to (`CopyScaling.give_back`).
GiveBackKind = Literal["step", "left", "forget", "wait", "stop"]


class CopyScaling:
    """The scale-up and the give-back of inference components' copies, for ScaleUp and ScaleBack:
    the same one change at a time, read back, remembered as a boost keyed by the component."""

    def __init__(self, components: Components, step: int, max_copies: int) -> None:
        self._components = components
        self._step = step
        self._max = max_copies

    def plan(self, name: str, endpoint: str, described: dict[str, Any], shadow: tuple[Change, ...] = ()) -> Plan:
        """The plan of the component's alarm: one step more copies, or why not. `shadow`: a dry
        run's would-be changes, which it goes on from (as enforce would)."""
        component = self._components.read(name)
        if component is None:
            return Plan("", skip=f"inference component {name} does not exist")
        if component.endpoint != endpoint:
            return Plan("", skip=f"inference component {name} is on {component.endpoint}, not {endpoint}")
        floors = [c for c in shadow if isinstance(c, CopyChange) and c.component == name]
        if floors and floors[-1].lever == component.lever:
            after = floors[-1].after
            minimum = None if component.min_capacity is None else after
            component = replace(
                component,
                desired=max(component.desired, after),
                copies=max(component.copies, after),
                min_capacity=minimum,
            )
        return copies_plan(component, placement_of(described, component.variant), self._step, self._max)

    def execute(self, change: CopyChange) -> str:
        return self._components.apply(change)

    def observe(self, change: CopyChange, called: bool) -> Observation:
        return copies_observation(self._components.read(change.component), change, called)

    def save(self, boosts: Boosts, endpoint: str, change: CopyChange, alarm: str, at: datetime) -> None:
        """The boost remembered (real, or a dry run's shadow), keyed by the component."""
        save = partial(boosts.save, endpoint, boost_key(change.component), change.lever, change.before, change.after)
        aws.persist(partial(save, alarm, at, step=self._step))

    def give_back(self, boost: Boost, now: datetime, pace: timedelta) -> tuple[GiveBackKind, str, int | None]:
        """One look at a component's boost in the give-back: ("step", what, new floor) - a step
        made now, or found made (its record lost); ("left", why, None) - a person took it over;
        ("forget", why, None) - all given back, or the component is gone; ("wait", why, None) - at
        the scale-up's pace; ("stop", why, None) - the component is changing: read back later."""
        name = boost.variant.removeprefix(BOOST_PREFIX)
        component = self._components.read(name)
        if component is None:
            return "forget", f"inference component {name} is gone", None
        if component.status != "InService":
            return "stop", f"inference component {name} is {component.status}", None
        last = boost.boosted_to if boost.returned_to is None else boost.returned_to
        step = boost_step(boost, self._step)
        lower = max(boost.original, last - step)
        if component.lever == boost.lever and component.floor == lower < last:  # made; its record failed
            return "step", CopyChange(name, component.lever, last, lower).describe(), lower
        taken = copies_taken_over(boost, component, last)
        if taken is not None:
            return "left", taken, None
        until = None if boost.returned_at is None else datetime.fromisoformat(boost.returned_at) + pace
        change = step_back(component, boost, step, now, until)
        if change is None:
            return ("forget", "all given back", None) if last <= boost.original else ("wait", "pace", None)
        try:
            self._components.apply(change)
        except ClientError as error:
            if not aws.is_busy(error):
                raise
            return "stop", f"inference component {name}: {error}", None  # a scaling activity: the next sweep
        return "step", change.describe(), change.after


def boost_step(boost: Boost, default: int) -> int:
    """The pace a boost's copies were added at (the stack's step for a boost saved without it)."""
    return default if boost.step is None else boost.step
