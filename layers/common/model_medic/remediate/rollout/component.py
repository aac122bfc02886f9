"""A new model version rolled to an inference component in batches, judged through an alarm SageMaker watches."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from model_medic.fleet.alarm_catalog import (
    STACK_TAG,
    verdict_alarm,
    verdict_alarm_name,
)
from model_medic.intake.triggers import describe_alarms
from model_medic.platform import aws
from model_medic.platform.clock import Clock
from model_medic.platform.settings import CanarySettings
from model_medic.remediate.component_rollback import models_of, spec_digest, spec_request
from model_medic.remediate.rollback import RejectPackage
from model_medic.remediate.rollout.challenge import package_of
from model_medic.remediate.rollout.component_changes import (
    ComponentRolledBack,
    ComponentRolledOut,
    ComponentRolloutFailed,
    ComponentRolloutStopped,
    EndComponentRollout,
    FireVerdict,
    RollComponent,
)
from model_medic.remediate.rollout.component_cloudwatch import (
    component_counts,
    own_alarms,
    put_verdict,
    rolled_back_by,
    standing_verdict,
)
from model_medic.remediate.rollout.component_judge import (
    Batches,
    Counts,
    batches,
    deployment_config,
    ending,
    judge,
)
from model_medic.remediate.rollout.deploy import create_once, resource_name
from model_medic.remediate.rollout.targets import readable
from model_medic.remediate.units import Change, Observation, Plan, package_label
from model_medic.store.component_specs import ComponentSpecs
from model_medic.store.deployments import Deployments
from model_medic.store.incidents import Incident

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sagemaker.type_defs import InferenceComponentDeploymentConfigTypeDef

# The component's requests and 5XX answers over these hours before the update are its baseline.
BASELINE = timedelta(hours=24)
_ROLLING = ("Updating", "Creating")


def hosts_components(config: dict[str, Any]) -> bool:
    """Pure: an endpoint config whose variants name no model hosts inference components."""
    return any(not v.get("ModelName") for v in config.get("ProductionVariants", []))


def component_endpoints(sagemaker: SageMakerClient, group: str, endpoints: list[str]) -> list[str]:
    """The endpoints in scope with an inference component whose model was made from a package of
    `group`: one paginated ListInferenceComponents for the account, then each component of an
    endpoint in scope read as a variant's model is (DescribeInferenceComponent, DescribeModel,
    DescribeModelPackage). A component endpoint's group is not remembered (`ServingGroups`): a
    component's specification changes in place, its name stays."""
    scope = set(endpoints)
    found: set[str] = set()
    for page in sagemaker.get_paginator("list_inference_components").paginate():
        for row in page.get("InferenceComponents", []):
            endpoint = str(row["EndpointName"])
            if endpoint not in scope or endpoint in found:
                continue
            name = str(row["InferenceComponentName"])
            described = readable(name, lambda n: sagemaker.describe_inference_component(InferenceComponentName=n))
            for model in spec_models(cast("dict[str, Any]", described or {})):
                package = readable(model, partial(package_of, sagemaker))
                if package is not None and package.get("ModelPackageGroupName") == group:
                    found.add(endpoint)
    return [e for e in endpoints if e in found]


class ComponentRollout:
    """Plans, makes and reads back a component rollout (docs/rooms/remediate.md, "Component rollouts")."""

    def __init__(
        self,
        sagemaker: SageMakerClient,
        cloudwatch: CloudWatchClient,
        specs: ComponentSpecs,
        deployments: Deployments,
        settings: CanarySettings,
        clock: Clock,
    ) -> None:
        self._sagemaker = sagemaker
        self.cloudwatch = self._cloudwatch = cloudwatch
        self._specs = specs
        self._deployments = deployments
        self._settings = settings
        self._clock = clock
        self._shape = sagemaker.meta.service_model.operation_model("UpdateInferenceComponent").input_shape

    # --- which component --------------------------------------------------------------------

    def serving(self, endpoint: str, group: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """The endpoint's components whose model was made from a package of `group`, each with
        that package: ListInferenceComponents, DescribeInferenceComponent, then as a variant's model
        is read (`challenge.package_of`: DescribeModel, DescribeModelPackage)."""
        found = []
        for name in listed(self._sagemaker, endpoint):
            described = described_component(self._sagemaker, name)
            if described is None:
                continue
            for model in spec_models(described):
                package = package_of(self._sagemaker, model)
                if package is not None and package.get("ModelPackageGroupName") == group:
                    found.append((described, package))
                    break
        return found

    # --- the start --------------------------------------------------------------------------

    def start(self, incident: Incident, package: dict[str, Any]) -> Plan:
        """The package's model rolled to the one component serving its group, in the smallest
        batches AWS allows, or why not (a bound: nothing changed; a skip while it is changing)."""
        name, arn = incident.endpoint, str(package["ModelPackageArn"])
        group = str(package.get("ModelPackageGroupName") or "")
        serving = self.serving(name, group)
        if len(serving) != 1:
            names = ", ".join(sorted(str(d["InferenceComponentName"]) for d, _ in serving))
            what = (
                f"{len(serving)} inference components ({names}) serve" if serving else "no inference component serves"
            )
            return Plan("", bound=f"no component rollout on {name}: {what} a model of {group}")
        described, champion = serving[0]
        component = str(described["InferenceComponentName"])
        if champion["ModelPackageArn"] == arn:
            return Plan("", bound=f"{package_label(arn)} already serves inference component {component} on {name}")
        status = described.get("InferenceComponentStatus")
        if status != "InService":
            return Plan("", skip=f"inference component {component} is {status}: rolled out once InService")
        standing = standing_verdict(self._cloudwatch, name, component, self._clock())
        if standing is not None:
            # An earlier verdict's datapoints reach ahead (`HOLD`): a new verdict alarm would see them.
            return Plan("", skip=f"the last rollout's verdict on {component} stands until {standing.isoformat()}")
        runtime = described.get("RuntimeConfig") or {}
        copies = int(runtime.get("DesiredCopyCount") or runtime.get("CurrentCopyCount") or 0)
        sizes = batches(copies, self._settings.bake_minutes)
        if isinstance(sizes, str):
            return Plan("", bound=f"inference component {component} on {name} not rolled out: {sizes}")
        now = self._clock()
        model = resource_name(package_label(arn), "model", arn)
        from_spec = spec_request(described, self._shape)
        old = spec_models(described)[0]
        to_spec = _with_model(from_spec, old, model)
        alarm = verdict_alarm_name(name, component)
        baseline = component_counts(self._cloudwatch, component, now - BASELINE, now)
        change = RollComponent(
            component=component,
            package=arn,
            model=model,
            from_model=old,
            from_spec=json.dumps(from_spec, sort_keys=True, default=str),
            to_spec=json.dumps(to_spec, sort_keys=True, default=str),
            from_digest=spec_digest(from_spec),
            to_digest=spec_digest(to_spec),
            alarm=alarm,
            alarms=",".join([*own_alarms(self._cloudwatch, name, component), alarm]),
            copies=sizes.copies,
            batch=sizes.batch,
            wait_seconds=sizes.wait_seconds,
            timeout_seconds=sizes.timeout_seconds,
            baseline_requests=baseline.requests,
            baseline_errors=baseline.errors,
            champion=str(champion["ModelPackageArn"]),
        )
        notes = {"component": component, "baseline": baseline.as_dict(), "batches": sizes.count}
        return Plan(change.describe(), changes=(change,), notes=notes)

    # --- the looks --------------------------------------------------------------------------

    def look(self, incident: Incident) -> Plan:
        """While the component is Updating: the judge's verdict (a hold, or the verdict put); once
        it is not: the rolling update read back and ended."""
        facts = incident.facts or {}
        component = str(facts["component"])
        described = described_component(self._sagemaker, component)
        if described is None:
            return Plan("", bound=f"inference component {component} is gone; its rollout stops")
        digest = spec_digest(spec_request(described, self._shape))
        status = str(described.get("InferenceComponentStatus"))
        state = ending(status, digest, str(facts["to_digest"]), str(facts["from_digest"]))
        if state == "updating":
            return self._judged(incident, component)
        return self._ended(incident, described, state)

    def _judged(self, incident: Incident, component: str) -> Plan:
        facts = incident.facts or {}
        verdict = self._verdict(facts, component)
        notes = {"component": component, **verdict.as_dict()}
        if verdict.decision != "reject":
            return Plan(
                "",
                skip=f"continue: {verdict.reason}",
                gate="continue",
                notes=notes,
                facts={"component_verdict": verdict.as_dict()},
            )
        fire = FireVerdict(incident.endpoint, component, str(facts["verdict_alarm"]), verdict.reason, verdict.as_dict())
        return Plan(fire.describe(), changes=(fire,), critical=True, notes=notes)

    def _verdict(self, facts: dict[str, Any], component: str) -> Any:
        baseline = facts.get("baseline") or {}
        since = component_counts(
            self._cloudwatch, component, datetime.fromisoformat(str(facts["component_since"])), self._clock()
        )
        known = Counts(float(baseline.get("requests") or 0), float(baseline.get("errors") or 0))
        return judge(known, since, self._settings.false_rollback_rate)

    def _ended(self, incident: Incident, described: dict[str, Any], state: str) -> Plan:
        """The update over: rolled out (told with the judge's last figures), rolled back by AWS (on
        which alarm; the package Rejected where the stack rejects packages), changed by a person
        (stopped), or Failed (a person paged)."""
        facts = incident.facts or {}
        component, alarm = str(facts["component"]), str(facts["verdict_alarm"])
        model, old = facts.get("component_model"), facts.get("component_from_model")
        if state == "rolled-out":
            verdict = self._verdict(facts, component)
            detail = (
                f"inference component {component} rolled out to {model}; judge: no evidence of more errors, "
                f"e={verdict.e_value:.3g}, n={verdict.since.requests:g}"
            )
            done = ComponentRolledOut(component, alarm, detail)
            return Plan(done.describe(), changes=(done,), notes=verdict.as_dict())
        if state == "rolled-back":
            why = rolled_back_by(self._cloudwatch, facts)
            back = ComponentRolledBack(
                component, alarm, f"SageMaker rolled inference component {component} back to {old}: {why}"
            )
            changes: list[Change] = [back]
            if self._settings.reject_model_packages and facts.get("package"):
                changes.append(RejectPackage(str(facts["package"])))
            # The judge's verdict was told (critical) when it was put; another alarm's rollback is news.
            return Plan(back.describe(), changes=tuple(changes), critical="verdict_at" not in facts)
        if state == "changed":
            now = ", ".join(models_of(spec_request(described, self._shape)))
            stop = ComponentRolloutStopped(
                component,
                alarm,
                f"inference component {component} serves {now}, neither {old} nor {model}: "
                "changed outside Model Medic; the rollout stops",
            )
            return Plan(stop.describe(), changes=(stop,))
        reason = described.get("FailureReason") or "no reason given"
        failed = ComponentRolloutFailed(
            component,
            alarm,
            f"inference component {component} is {described.get('InferenceComponentStatus')} "
            f"after its rolling update to {model}: {reason}; a person must look",
        )
        return Plan(failed.describe(), changes=(failed,), critical=True)

    # --- evidence ---------------------------------------------------------------------------

    # --- act and read back ------------------------------------------------------------------

    def execute(self, endpoint: str, change: Change, now: datetime) -> dict[str, Any]:
        if isinstance(change, RollComponent):
            return self._roll(endpoint, change, now)
        if isinstance(change, FireVerdict):
            return put_verdict(self._cloudwatch, change, now)
        assert isinstance(change, EndComponentRollout)
        try:
            self._cloudwatch.delete_alarms(AlarmNames=[change.alarm])
        except ClientError as error:
            if aws.is_transient(error) or aws.error_code(error) != "ResourceNotFound":
                raise
        return {"call": "DeleteAlarms"}

    def _roll(self, endpoint: str, change: RollComponent, now: datetime) -> dict[str, Any]:
        """The candidate's model (tracked first, as a variant rollout's is, for cleanup.py), the serving
        specification recorded, the verdict alarm, then the rolling update: each idempotent, so that
        a retry finishes what a failed attempt began."""
        described = described_component(self._sagemaker, change.component)
        if described is None:
            raise ValueError(f"inference component {change.component} is gone")
        serving = self._sagemaker.describe_model(ModelName=change.from_model)
        model: dict[str, Any] = {
            "ModelName": change.model,
            "ExecutionRoleArn": serving["ExecutionRoleArn"],
            "PrimaryContainer": {"ModelPackageName": change.package},
        }
        for key in ("VpcConfig", "EnableNetworkIsolation"):
            if serving.get(key):
                model[key] = serving[key]
        aws.persist(partial(self._deployments.track_created, endpoint, "model", change.model, now))
        create_once(lambda: self._sagemaker.create_model(**model))
        record_spec(self._specs, self._shape, endpoint, described, now)
        request = verdict_alarm(endpoint, change.component)
        self._cloudwatch.put_metric_alarm(**request, Tags=[{"Key": STACK_TAG, "Value": self._stack()}])
        sizes = Batches(change.copies, change.batch, 0, change.wait_seconds, change.timeout_seconds)
        config = deployment_config(sizes, change.alarms.split(","))
        self._sagemaker.update_inference_component(
            InferenceComponentName=change.component,
            **json.loads(change.to_spec),
            DeploymentConfig=cast("InferenceComponentDeploymentConfigTypeDef", config),
        )
        return {"call": "UpdateInferenceComponent", "started_at": now.isoformat()}

    def _stack(self) -> str:
        return self._settings.stack_name or "model-medic"

    def observe(self, change: Change, result: dict[str, Any]) -> Observation:
        called = bool(result)
        if isinstance(change, EndComponentRollout):
            if change.alarm not in describe_alarms(self._cloudwatch, [change.alarm]):
                return Observation("took", f"verdict alarm {change.alarm} deleted")
            return Observation("in-flight" if called else "not-applied", f"verdict alarm {change.alarm} still there")
        assert isinstance(change, RollComponent | FireVerdict)
        described = described_component(self._sagemaker, change.component)
        if described is None:
            return Observation("failed", f"inference component {change.component} is gone")
        status = str(described.get("InferenceComponentStatus"))
        if isinstance(change, FireVerdict):
            if not called:
                return Observation("not-applied", "the verdict is not put yet")
            if status in _ROLLING:
                put_verdict(self._cloudwatch, change, self._clock())  # held in ALARM until SageMaker has rolled back
                return Observation("in-flight", f"inference component {status}: SageMaker rolls back")
            return Observation("took", f"inference component {status}")
        return roll_observation(change, described, status, spec_digest(spec_request(described, self._shape)), called)


def roll_observation(
    change: RollComponent, described: dict[str, Any], status: str, digest: str, called: bool
) -> Observation:
    """Pure: the rolling update read back: under way (Updating, or already over) once the call went
    through; before it, a component Updating on this rollout's own deployment (its verdict alarm
    among the alarms) is the call made and its answer lost; a third specification is a person's."""
    alarms = ((described.get("LastDeploymentConfig") or {}).get("AutoRollbackConfiguration") or {}).get("Alarms", [])
    ours = any(a.get("AlarmName") == change.alarm for a in alarms)
    if status == "Failed":
        return Observation("failed", f"inference component Failed: {described.get('FailureReason', '')}")
    if called or (status in _ROLLING and ours) or digest == change.to_digest:
        return Observation("took", f"inference component {change.component} {status}: rolling update under way")
    if status == "InService" and digest not in (change.from_digest, change.to_digest):
        what = f"inference component {change.component} serves another specification"
        return Observation("took", what, person=f"a person changed the component: {what}", stops=True)
    return Observation("not-applied", f"inference component {change.component} {status}")


def spec_models(described: Mapping[str, Any]) -> list[str]:
    """Pure: the models a component's specification(s) name (DescribeInferenceComponent's answer,
    or an UpdateInferenceComponent request)."""
    specs = described.get("Specifications") or [described.get("Specification") or {}]
    return [str(s["ModelName"]) for s in specs if s.get("ModelName")]


def _with_model(request: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    """Pure: a specification request with `old` model replaced by `new` wherever it is named."""
    if "Specifications" in request:
        return {
            "Specifications": [
                {**s, "ModelName": new} if s.get("ModelName") == old else s for s in request["Specifications"]
            ]
        }
    return {"Specification": {**request["Specification"], "ModelName": new}}


def record_spec(specs: ComponentSpecs, shape: Any, endpoint: str, described: dict[str, Any], now: datetime) -> None:
    """The specification the component serves, in its history (store/component_specs.py), so
    that a rollback finds it as the one before the update."""
    known = {r.key: r for r in specs.of_endpoint(endpoint)}
    name = str(described["InferenceComponentName"])
    request = spec_request(described, shape)
    modified = described.get("LastModifiedTime")
    stamp = modified.isoformat() if isinstance(modified, datetime) else str(modified or "")
    seen = (json.dumps(request, sort_keys=True, default=str), spec_digest(request), stamp)
    try:
        aws.persist(lambda: specs.observe(known.get(f"{endpoint}#{name}"), endpoint, name, seen, now))
    except ClientError as error:
        if aws.error_code(error) != "ConditionalCheckFailedException":
            raise  # another writer recorded it first: the same specification


def listed(sagemaker: SageMakerClient, endpoint: str) -> Iterator[str]:
    pages = sagemaker.get_paginator("list_inference_components").paginate(EndpointNameEquals=endpoint)
    for page in pages:
        for row in page.get("InferenceComponents", []):
            yield str(row["InferenceComponentName"])


def described_component(sagemaker: SageMakerClient, name: str) -> dict[str, Any] | None:
    """DescribeInferenceComponent, or None for a component that does not exist (ValidationException)."""
    try:
        return cast("dict[str, Any]", sagemaker.describe_inference_component(InferenceComponentName=name))
    except ClientError as error:
        if aws.is_transient(error) or aws.error_code(error) != "ValidationException":
            raise
        return None
