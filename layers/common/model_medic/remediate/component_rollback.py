"""An inference component back on its previous specification, from the specification history the sweeps keep."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, cast

from botocore.exceptions import ClientError

from model_medic.platform import aws
from model_medic.platform.clock import Clock
from model_medic.platform.observability import logger
from model_medic.remediate.units import Change, Observation, Plan
from model_medic.store.component_specs import ComponentSpec, ComponentSpecs

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

# A component being changed: its specification is read again once it is InService.
_CHANGING = frozenset({"Creating", "Updating"})


class Listed(NamedTuple):
    """A component as ListInferenceComponents shows it."""

    endpoint: str
    name: str
    modified: str  # LastModifiedTime
    status: str


@dataclass(frozen=True)
class SpecRollback(Change):
    """One inference component updated back to the specification it had before its last change."""

    kind: ClassVar[str] = "component-rollback"
    component: str
    changed_at: str  # when the change rolled back was seen
    from_digest: str
    to_digest: str
    to_spec: str  # the Specification(s) of UpdateInferenceComponent, as JSON
    from_models: str = ""
    to_models: str = ""

    def describe(self) -> str:
        return (
            f"inference component {self.component} back to its specification before {self.changed_at} "
            f"({self.from_models} -> {self.to_models})"
        )


def _container_as_input(summary: Mapping[str, Any]) -> dict[str, Any]:
    """Pure: a specification summary whose container names its image as a request does. The
    summary shows the image as `DeployedImage` (the path asked, and the digest it resolved to);
    a request takes `Image`: the resolved digest when shown, so that the image that ran is the one
    put back even if its tag has moved since, else the path asked."""
    container = summary.get("Container")
    if not isinstance(container, Mapping) or "DeployedImage" not in container:
        return dict(summary)
    deployed = container["DeployedImage"] or {}
    image = deployed.get("ResolvedImage") or deployed.get("SpecifiedImage")
    kept = {k: v for k, v in container.items() if k != "DeployedImage"}
    return {**summary, "Container": {**kept, **({"Image": image} if image else {})}}


def spec_request(described: Mapping[str, Any], request_shape: Any) -> dict[str, Any]:
    """Pure: the `Specification` (or, for a component of several instance types, `Specifications`)
    of an UpdateInferenceComponent request that puts the component back as DescribeInferenceComponent
    shows it. `request_shape`: botocore's input shape of UpdateInferenceComponent. The answer's
    shapes are summaries (InferenceComponentSpecificationSummary, its container's DeployedImage):
    each is cut to what the request's shape takes, so fields added to the API later are carried."""
    from model_medic.remediate.rollout.deploy import as_input  # rollout imports rollback, which imports this

    members = request_shape.members
    several = described.get("Specifications")
    if several:
        shape = members["Specifications"].member
        return {"Specifications": [as_input(_container_as_input(s), shape) for s in several]}
    return {
        "Specification": as_input(_container_as_input(described.get("Specification") or {}), members["Specification"])
    }


def runtime_request(described: Mapping[str, Any]) -> dict[str, Any]:
    """Pure: the `RuntimeConfig` of an UpdateInferenceComponent that keeps the copy count the
    component has now (DescribeInferenceComponent's `DesiredCopyCount`; auto scaling's copies
    kept, a component scaled to zero left at zero: the API's CopyCount may be 0); nothing when the
    answer shows no count (RuntimeConfig is optional: the count is left as it is)."""
    copies = (described.get("RuntimeConfig") or {}).get("DesiredCopyCount")
    return {} if copies is None else {"RuntimeConfig": {"CopyCount": int(copies)}}


def spec_digest(request: Mapping[str, Any]) -> str:
    """Pure: a short digest of a specification request, to tell two specifications apart."""
    text = json.dumps(request, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def models_of(request: Mapping[str, Any]) -> list[str]:
    """Pure: the models a specification request names (its image, for one that names none)."""
    specs = request.get("Specifications") or [request.get("Specification") or {}]
    named = [str(s.get("ModelName") or (s.get("Container") or {}).get("Image") or "?") for s in specs]
    return sorted(set(named))


def decide(
    endpoint: str, records: list[ComponentSpec], since: datetime, hours: int
) -> tuple[ComponentSpec | None, str]:
    """Pure: the one component whose specification changed since `since`, or None and why not."""
    changed = [r for r in records if r.previous and r.changed_at and datetime.fromisoformat(r.changed_at) >= since]
    if not changed:
        return None, (
            f"no inference component of {endpoint} changed its specification in the {hours} hours before the "
            f"alarm ({len(records)} component(s) recorded): nothing to roll back to"
        )
    if len(changed) > 1:
        names = ", ".join(sorted(r.component for r in changed))
        return None, (
            f"{len(changed)} inference components of {endpoint} changed their specifications in the {hours} hours "
            f"before the alarm ({names}): which one lowered the accuracy is not known"
        )
    found = changed[0]
    if found.previous_digest in found.rejected:
        return None, (
            f"the specification inference component {found.component} had before {found.changed_at} was "
            "rolled back from once: never a rollback target again"
        )
    return found, ""


class ComponentRollback:
    """The specification history of inference components (kept by the sweeps and the alarm) and
    the rollback of one component to the specification it had before its last change."""

    def __init__(self, sagemaker: SageMakerClient, specs: ComponentSpecs, window: timedelta, clock: Clock) -> None:
        self._sagemaker = sagemaker
        self._specs = specs
        self._window = window
        self._clock = clock
        self._shape = sagemaker.meta.service_model.operation_model("UpdateInferenceComponent").input_shape

    # --- the history -------------------------------------------------------------------------

    def record(self, endpoints: Collection[str]) -> dict[str, int]:
        """The sweep's look: every inference component of the endpoints in scope (one paginated
        ListInferenceComponents), each one's specification read (DescribeInferenceComponent) only
        when its LastModifiedTime moved since it was recorded; records of components gone are
        dropped. A call refused (not a transient error) is told in the log and ends the look: the
        sweep of the incidents goes on."""
        scope = set(endpoints)
        try:
            listed = [row for row in self._listed(None) if row.endpoint in scope]
            known = self._specs.all()
            read, _ = self._observe(listed, known, self._clock())
        except ClientError as error:
            if aws.is_transient(error):
                raise
            logger.warning("component specifications not recorded", error=str(error))
            return {"components": 0, "read": 0}
        for key in set(known) - {f"{row.endpoint}#{row.name}" for row in listed}:
            self._specs.forget(key)
        if read:
            logger.info("component specifications read", components=len(listed), read=read)
        return {"components": len(listed), "read": read}

    def _listed(self, endpoint: str | None) -> list[Listed]:
        """The components listed, of one endpoint or all."""
        found: list[Listed] = []
        paginator = self._sagemaker.get_paginator("list_inference_components")
        pages = paginator.paginate(EndpointNameEquals=endpoint) if endpoint else paginator.paginate()
        for page in pages:
            for row in page.get("InferenceComponents", []):
                modified = row.get("LastModifiedTime")
                stamp = modified.isoformat() if isinstance(modified, datetime) else str(modified or "")
                status = str(row.get("InferenceComponentStatus") or "")
                found.append(Listed(row["EndpointName"], row["InferenceComponentName"], stamp, status))
        return found

    def _observe(
        self, listed: list[Listed], known: Mapping[str, ComponentSpec], now: datetime
    ) -> tuple[int, list[str]]:
        """Each listed component whose LastModifiedTime moved, read and recorded; how many were
        read, and those being created or updated (recorded once InService)."""
        read, changing = 0, []
        for endpoint, name, modified, listed_status in listed:
            if listed_status in _CHANGING:
                changing.append(name)
                continue  # its specification is recorded once it is InService
            record = known.get(f"{endpoint}#{name}")
            if record is not None and record.modified == modified:
                continue
            described, read = self._describe(name), read + 1
            status = None if described is None else described.get("InferenceComponentStatus")
            if described is None or status != "InService":
                changing += [name] if status in _CHANGING else []
                continue  # gone, or changing: its specification is recorded once it is InService
            request = spec_request(described, self._shape)
            seen = (json.dumps(request, sort_keys=True, default=str), spec_digest(request), modified)
            self._specs.observe(record, endpoint, name, seen, now)
        return read, changing

    def _describe(self, name: str) -> dict[str, Any] | None:
        try:
            return cast("dict[str, Any]", self._sagemaker.describe_inference_component(InferenceComponentName=name))
        except ClientError as error:
            if aws.is_transient(error) or aws.error_code(error) != "ValidationException":
                raise
            return None  # SageMaker's answer for a component that does not exist

    # --- the rollback ------------------------------------------------------------------------

    def plan(self, endpoint: str, hosting: list[str]) -> Plan:
        """The rollback of the one component whose specification changed within the window, or
        the bound that stops it: none or several changed, the one before rolled back from once,
        or a model it names gone. The endpoint's components are looked at first, so that a change
        since the last sweep is seen."""
        now = self._clock()
        recorded = {r.key: r for r in self._specs.of_endpoint(endpoint)}
        _, changing = self._observe(self._listed(endpoint), recorded, now)
        if changing:
            return Plan("", skip=f"inference component {changing[0]} is being changed: looked at once InService")
        records = self._specs.of_endpoint(endpoint)
        hours = int(self._window.total_seconds() // 3600)
        found, why = decide(endpoint, records, now - self._window, hours)
        notes: dict[str, Any] = {"inference_component_variants": hosting, "components": [r.component for r in records]}
        if found is None or found.previous is None or found.previous_digest is None:
            return Plan("", bound=why, notes=notes)
        described = self._describe(found.component)
        status = "gone" if described is None else described.get("InferenceComponentStatus")
        if status in _CHANGING:
            return Plan("", skip=f"inference component {found.component} is {status}: rolled back once InService")
        if status != "InService":
            return Plan("", bound=f"inference component {found.component} is {status}", notes=notes)
        previous = json.loads(found.previous)
        gone = [m for m in _model_names(previous) if not self._model_exists(m)]
        if gone:
            return Plan(
                "",
                bound=f"the specification {found.component} had before {found.changed_at} names model "
                f"{gone[0]}, which no longer exists: it cannot be put back",
                notes=notes,
            )
        change = SpecRollback(
            component=found.component,
            changed_at=found.changed_at or "",
            from_digest=found.digest,
            to_digest=found.previous_digest,
            to_spec=found.previous,
            from_models=", ".join(models_of(json.loads(found.spec))),
            to_models=", ".join(models_of(previous)),
        )
        return Plan(change.describe(), changes=(change,), critical=True, notes=notes)

    def _model_exists(self, model: str) -> bool:
        try:
            self._sagemaker.describe_model(ModelName=model)
        except ClientError as error:
            if aws.is_transient(error) or aws.error_code(error) != "ValidationException":
                raise
            return False
        return True

    def execute(self, change: SpecRollback) -> dict[str, Any]:
        """UpdateInferenceComponent with the specification recorded, the copy count as it is now."""
        described = self._describe(change.component)
        if described is None:
            raise ValueError(f"inference component {change.component} is gone")
        runtime = runtime_request(described)
        self._sagemaker.update_inference_component(
            InferenceComponentName=change.component, **json.loads(change.to_spec), **runtime
        )
        return {"call": "UpdateInferenceComponent", "copies": runtime.get("RuntimeConfig", {}).get("CopyCount")}

    def adopt(self, endpoint: str, change: SpecRollback) -> None:
        """The specification rolled back from is never a rollback target again."""
        aws.persist(lambda: self._specs.reject(endpoint, change.component, change.from_digest))

    def observe(self, change: SpecRollback, called: bool) -> Observation:
        return spec_observation(self._describe(change.component), change, self._shape, called)


def spec_observation(described: dict[str, Any] | None, change: SpecRollback, shape: Any, called: bool) -> Observation:
    """Pure: a component's rollback read back (DescribeInferenceComponent; None: gone): done only
    when InService on the specification asked; an update AWS rolled back on its own (its
    AutoRollbackConfiguration) is InService on the old one: failed."""
    if described is None:
        return Observation("failed", f"inference component {change.component} is gone")
    status = str(described.get("InferenceComponentStatus"))
    digest = spec_digest(spec_request(described, shape))
    if status == "InService" and digest == change.to_digest:
        return Observation("took", f"{change.component} InService on its specification of before {change.changed_at}")
    if status in _CHANGING:
        return Observation("in-flight", f"inference component {status}")
    if status != "InService":
        return Observation("failed", f"inference component is {status}: {described.get('FailureReason', '')}")
    if called:
        reason = described.get("FailureReason") or "no reason given"
        return Observation(
            "failed", f"the update did not hold: {change.component} InService on another specification ({reason})"
        )
    return Observation("not-applied", f"{change.component} InService on another specification")


def _model_names(request: Mapping[str, Any]) -> list[str]:
    specs = request.get("Specifications") or [request.get("Specification") or {}]
    return sorted({str(s["ModelName"]) for s in specs if s.get("ModelName")})
