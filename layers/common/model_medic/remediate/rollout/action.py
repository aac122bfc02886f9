"""The rollout unit: a canary deployed, walked step by step and finished, one AWS change at a time."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from model_medic.platform import aws
from model_medic.platform.clock import Clock
from model_medic.platform.settings import CanarySettings
from model_medic.remediate.capacity import Capacity, ScaleChange
from model_medic.remediate.rollback import RejectPackage, package_observation, reject_package
from model_medic.remediate.rollout.challenge import challenge, live_figure, package_of, registered
from model_medic.remediate.rollout.changes import (
    DeclineCandidate,
    DeployCanary,
    FinishRollout,
    RollBackCanary,
    ShiftTraffic,
)
from model_medic.remediate.rollout.component import ComponentRollout, hosts_components
from model_medic.remediate.rollout.component_changes import (
    ComponentRolledBack,
    ComponentRolledOut,
    ComponentRolloutFailed,
    ComponentRolloutStopped,
    FireVerdict,
    RollComponent,
)
from model_medic.remediate.rollout.deploy import (
    config_read_back,
    create_canary,
    create_final,
    shift_traffic,
    traffic_observation,
)
from model_medic.remediate.rollout.evidence import alarms_in_alarm, minutes
from model_medic.remediate.rollout.judge import Tally, judge, tally
from model_medic.remediate.rollout.plan import (
    Contest,
    Look,
    Sizes,
    autoscaled_canary,
    declined,
    deploy_plan,
    endpoint_hold,
    finish_plan,
    promote_plan,
    redeploy_hold,
    reference_capacity,
    rules_of,
    step_of,
    verdict_plan,
    walk_hold,
    weights,
)
from model_medic.remediate.units import Change, Observation, Plan, RemediationUnit, package_label, variant_label
from model_medic.store.deployments import Deployments
from model_medic.store.incidents import Incident, Incidents

# The changes of a component rollout: made and read back by `ComponentRollout`.
COMPONENT_CHANGES = (
    RollComponent,
    FireVerdict,
    ComponentRolledOut,
    ComponentRolledBack,
    ComponentRolloutStopped,
    ComponentRolloutFailed,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sagemaker import SageMakerClient


# What PromoteCanaryFunction's role must allow for rollouts (the unit's `iam_actions`).
_IAM_ACTIONS = frozenset(
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
        # A component rollout (component.py): the component read, listed and rolled; its
        # verdict alarm put and deleted, the verdict published. The clean-up lists and reads
        # components too (the models they name).
        "sagemaker:ListInferenceComponents",
        "sagemaker:DescribeInferenceComponent",
        "sagemaker:UpdateInferenceComponent",
        "cloudwatch:PutMetricAlarm",
        "cloudwatch:TagResource",
        "cloudwatch:DeleteAlarms",
        "cloudwatch:PutMetricData",
        "application-autoscaling:DescribeScalableTargets",
        "application-autoscaling:RegisterScalableTarget",
        "cloudwatch:DescribeAlarms",
        "cloudwatch:GetMetricData",
        "s3:GetObject",
        # Never called: with it S3 answers a report never written NoSuchKey, not AccessDenied (challenge.py).
        "s3:ListBucket",
        "iam:PassRole",
        # Encrypted configs through SageMaker, SSE-KMS reports through S3 (ModelKmsKeyArns).
        "kms:CreateGrant",
        "kms:DescribeKey",
        "kms:Decrypt",
    }
)


class Rollout:
    """Deploy, walk and finish a canary rollout (docs/rooms/remediate.md, "The rollout")."""

    unit = RemediationUnit(
        name="rollout",
        function="PromoteCanaryFunction",
        states=frozenset({"ALARM"}),
        requires="InService",
        alarm_suffixes=(),
        iam_actions=_IAM_ACTIONS,
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
            *COMPONENT_CHANGES,
        ),
    )
    cooldown = timedelta(0)

    def __init__(
        self,
        *,
        sagemaker: SageMakerClient,
        capacity: Capacity,
        s3: S3Client,
        components: ComponentRollout,
        deployments: Deployments,
        incidents: Incidents,
        settings: CanarySettings,
        clock: Clock,
    ) -> None:
        self._sagemaker = sagemaker
        self._capacity = capacity
        self._cloudwatch = components.cloudwatch  # one CloudWatch client for both kinds of rollout
        self._s3 = s3
        self._components = components
        self._deployments = deployments
        self._incidents = incidents
        self._settings = settings
        self._primary = settings.primary_variant
        self._canary = settings.canary_variant
        self._rules = rules_of(settings)
        self._clock = clock

    # --- plan ---------------------------------------------------------------------------------

    def plan(self, incident: Incident, endpoint: dict[str, Any]) -> Plan:
        facts = incident.facts or {}
        if "component" in facts:
            return self._components.look(incident)
        if "canary_config" not in facts:
            return self._deploy(incident, endpoint, str(facts["package"]))
        return self._walk(incident, endpoint)

    def _deploy(self, incident: Incident, described: dict[str, Any], arn: str) -> Plan:
        """The candidate deployed as the canary, once nothing holds it and it beats the serving model."""
        name = incident.endpoint
        package = cast("dict[str, Any]", self._sagemaker.describe_model_package(ModelPackageName=arn))
        status = package.get("ModelApprovalStatus")
        if status != "Approved":
            return Plan("", bound=f"model package {package_label(arn)} is {status}, no longer Approved: not deployed")
        hold = redeploy_hold(incident, self._incidents.of(name), self.unit.name, arn)
        if hold is not None:
            return hold
        current = str(described["EndpointConfigName"])
        config = cast("dict[str, Any]", self._sagemaker.describe_endpoint_config(EndpointConfigName=current))
        if hosts_components(config):  # its models are the components': rolled in batches, not as a canary
            return self._components.start(incident, package)
        if weights(described).get(self._canary, 0.0) > 0:
            return Plan(
                "",
                skip=f"{variant_label('canary', self._canary)} already takes traffic on {name}: a rollout is under way",
            )
        hold = endpoint_hold(name, described, config, self._settings)
        if hold is not None:
            return hold
        serving = {v["VariantName"]: v for v in config["ProductionVariants"]}[self._primary]
        contest = self._contest(name, arn, package, package_of(self._sagemaker, str(serving["ModelName"])))
        if isinstance(contest, Plan):
            return contest
        hold = declined(contest, self._settings)
        if hold is not None:
            return hold
        _, found = self._capacity.endpoint(name, described)
        primary = next(v for v in found if v.name == self._primary)
        return deploy_plan(incident, contest, primary, current, self._settings, self._rules)

    def _contest(self, name: str, arn: str, package: dict[str, Any], champion: dict[str, Any] | None) -> Contest | Plan:
        """The candidate against the serving package, on their registered metric and the live one;
        a plan instead where the candidate already serves, or a report cannot be read (held)."""
        if champion is not None and champion["ModelPackageArn"] == package["ModelPackageArn"]:
            return Plan("", bound=f"{package_label(arn)} already serves {name}")
        metric = self._settings.candidate_metric
        candidate, unreadable = registered(self._s3, package, metric)
        serving, unreadable_champion = registered(self._s3, champion, metric) if champion is not None else (None, None)
        if unreadable or unreadable_champion:
            # Cannot read is not "not better": held (people told once) until the report can be read.
            return Plan("", skip=f"{unreadable or unreadable_champion}; held", critical=True, gate="unreadable-report")
        live = live_figure(self._cloudwatch, name, self._primary, metric, self._clock())
        verdict = challenge(metric, candidate, serving, live, self._settings.candidate_margin)
        champion_arn = champion["ModelPackageArn"] if champion is not None else ""
        return Contest(arn, package["ModelPackageArn"], champion_arn, verdict, metric)

    def _walk(self, incident: Incident, described: dict[str, Any]) -> Plan:
        """The judge's verdict on the step so far, as a rollback, a hold, a promotion or the finish."""
        name, facts = incident.endpoint, incident.facts or {}
        config = cast(
            "dict[str, Any]",
            self._sagemaker.describe_endpoint_config(EndpointConfigName=str(described["EndpointConfigName"])),
        )
        share, hold = walk_hold(name, described, config, facts, self._settings)
        if hold is not None:
            return hold
        look = self._look(incident, share)
        hold = verdict_plan(look, self._settings)
        if hold is not None:
            return hold
        _, found = self._capacity.endpoint(name, described)
        variants = {v.name: v for v in found}
        primary = variants[self._primary]
        reference = reference_capacity(int(primary.instances or 1), float(facts.get("reference") or 0))
        sizes = Sizes(variants[self._canary], primary, reference)
        if look.verdict.decision == "finish":
            hold = autoscaled_canary(look, sizes)
            if hold is not None:
                return hold
            final = cast(
                "dict[str, Any]",
                self._sagemaker.describe_endpoint_config(EndpointConfigName=str(described["EndpointConfigName"])),
            )
            return finish_plan(look, described, final, sizes, self._settings)
        return promote_plan(look, sizes, self._settings)

    def _look(self, incident: Incident, share: float) -> Look:
        """The evidence since the step began (on top of the earlier steps'), judged."""
        facts = incident.facts or {}
        step = step_of(share, self._rules.steps)
        now = self._clock()
        since = datetime.fromisoformat(str(facts["share_since"]))
        read = minutes(self._cloudwatch, incident.endpoint, (self._canary, self._primary), since, now)
        this_step = tally(read, self._rules)
        evidence = Tally.from_dict(facts.get("evidence")).plus(this_step)
        alarms = alarms_in_alarm(self._cloudwatch, incident.endpoint, self._canary)
        verdict = judge(evidence, this_step, self._rules, step, now - since, alarms)
        return Look(incident, share, step, since, now, evidence, verdict)

    # --- act and read back ----------------------------------------------------------------------

    def execute(self, endpoint: str, change: Change, incident: Incident) -> dict[str, Any]:
        if isinstance(change, COMPONENT_CHANGES):
            return self._components.execute(endpoint, change, self._clock())
        if isinstance(change, ScaleChange):
            return {"call": self._capacity.apply(endpoint, change)}
        if isinstance(change, RejectPackage):
            return reject_package(self._sagemaker, change.arn, f"Model Medic: canary rolled back on {endpoint}"[:1024])
        if isinstance(change, DeclineCandidate):
            return reject_package(self._sagemaker, change.package, f"Model Medic: {change.reason}"[:1024])
        if isinstance(change, ShiftTraffic):
            return shift_traffic(self._sagemaker, endpoint, change)
        if isinstance(change, DeployCanary):
            self._track(endpoint, ("model", change.model), ("config", change.to_config))
            create_canary(self._sagemaker, change)
            # The serving variants keep their counts (retained); the weights come from the config.
            self._sagemaker.update_endpoint(
                EndpointName=endpoint,
                EndpointConfigName=change.to_config,
                RetainAllVariantProperties=True,
                ExcludeRetainedVariantProperties=[{"VariantPropertyType": "DesiredWeight"}],
            )
        else:
            assert isinstance(change, FinishRollout)
            self._track(endpoint, ("config", change.to_config))
            create_final(self._sagemaker, change)
            # Nothing retained: the new model's variant takes the config's count and weight 1.
            self._sagemaker.update_endpoint(
                EndpointName=endpoint, EndpointConfigName=change.to_config, RetainAllVariantProperties=False
            )
        self.adopt(endpoint, change, incident)
        return {"call": "UpdateEndpoint"}

    def rehearse(self, endpoint: str, changes: tuple[Change, ...], incident: Incident) -> None:
        """Nothing to keep: a rollout's dry run records what it would do on the incident alone."""

    def adopt(self, endpoint: str, change: Change, incident: Incident) -> None:
        now = self._clock()
        if isinstance(change, DeployCanary):
            # The config the rollout started from is the known-good one a rollback goes back to.
            aws.persist(lambda: self._deployments.observe_config(endpoint, change.from_config, now))
        elif isinstance(change, FinishRollout):
            # The canary config was a passage, never a rollback target.
            aws.persist(lambda: self._deployments.reject_config(endpoint, change.from_config, now))

    def observe(self, endpoint: str, change: Change, described: dict[str, Any], result: dict[str, Any]) -> Observation:
        if isinstance(change, COMPONENT_CHANGES):
            return self._components.observe(change, result)
        if isinstance(change, ScaleChange):
            return self._capacity.observe(endpoint, change, described, bool(result))
        if isinstance(change, RejectPackage | DeclineCandidate):
            arn = change.arn if isinstance(change, RejectPackage) else change.package
            return package_observation(self._sagemaker, arn)
        if isinstance(change, ShiftTraffic):
            return traffic_observation(change, described)
        assert isinstance(change, DeployCanary | FinishRollout)
        seen = config_read_back(change, described, bool(result))
        if seen.seen == "took" and isinstance(change, FinishRollout):
            # The final config is the known-good one from now on (idempotent: an upsert).
            aws.persist(lambda: self._deployments.observe_config(endpoint, change.to_config, self._clock()))
        return seen

    def _track(self, endpoint: str, *created: tuple[str, str]) -> None:
        """What the next calls create, in the ledger before they are made (cleanup.py deletes
        them once RolloutCleanupDays have passed and nothing uses them)."""
        now = self._clock()
        for kind, name in created:
            aws.persist(partial(self._deployments.track_created, endpoint, kind, name, now))
