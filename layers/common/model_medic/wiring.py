"""Composition: every collaborator a handler needs, built once per invocation from its settings
and the cached clients (`aws.py`). The one module, with `aws.py`, that creates clients.

`Invocation` holds one of each store of the ledger table (journal, claims, incidents, boosts,
deployments, measurements), one notifier, one courier (the outbox) with the notices it tells
(`tell/notices.py`), one scope and one policy set, each built on first
use; `Remediation` adds the control loop of an action function, whose unit is built per
distinct endpoint policy (`endpoint_policy.PerEndpoint`) by the builders below
(`scale_up`, `rollback_model`, `start_retraining`, `rollout`). The scheduled jobs' objects
(`drift_job`, `quality_job`, `metrics_job`, `daily_report`, `alarm_manager`) are built here too,
with the data jobs' fan-out (`hand_out`, `drift_measure`, `quality_of_one`), each endpoint
measured with its own data (`measure/endpoint_data.py`).
Each builder imports its domain module when it is called, so that a handler's cold start pays
only for the modules it uses.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from model_medic.control.loop import ControlLoop, Parts
from model_medic.intake.triggers import DeployRequest, Tick
from model_medic.platform import aws
from model_medic.platform.clock import Clock, utc_now
from model_medic.platform.observability import logger
from model_medic.platform.settings import (
    ActionSettings,
    AlarmManagerSettings,
    CanarySettings,
    ComputeMetricsSettings,
    DriftSettings,
    QualitySettings,
    RetrainingSettings,
    RollbackSettings,
    ScaleUpSettings,
    ScopedSettings,
)
from model_medic.policy import tags as policy
from model_medic.policy.policies import ModeSwitch, PerEndpoint, Policies, Scope
from model_medic.store.boosts import Boosts
from model_medic.store.claims import Claims
from model_medic.store.deployments import Deployments
from model_medic.store.episodes import Episodes
from model_medic.store.incidents import Incidents
from model_medic.store.journal import Journal, Outbox
from model_medic.store.measurements import Measurements
from model_medic.store.table import Table
from model_medic.tell.notices import Notices
from model_medic.tell.outcome import Notifier, Where
from model_medic.tell.telling import Courier, PagingRules

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from mypy_boto3_sagemaker import SageMakerClient

    from model_medic.fleet.alarm_catalog import AlarmThresholds, EndpointWatch
    from model_medic.fleet.alarm_manager import AlarmManager, AlarmsFor
    from model_medic.fleet.fleet_alarms import Fleet
    from model_medic.fleet.patience import Patience
    from model_medic.intake.triggers import AlarmEvent, Assignment
    from model_medic.measure.baseline import BaselineStore
    from model_medic.measure.drift import ComputeDrift
    from model_medic.measure.endpoint_metrics import ComputeMetrics
    from model_medic.measure.fanout import HandOut
    from model_medic.measure.ground_truth import GroundTruth
    from model_medic.measure.quality import ComputeModelQuality
    from model_medic.remediate.capacity import Capacity, ScaleBack, ScaleUp
    from model_medic.remediate.cleanup import Cleanup
    from model_medic.remediate.component_rollback import ComponentRollback
    from model_medic.remediate.retraining import StartRetraining
    from model_medic.remediate.rollback import RollbackModel
    from model_medic.remediate.rollout.action import Rollout
    from model_medic.remediate.rollout.run import Rollouts
    from model_medic.remediate.units import Action
    from model_medic.report.daily import DailyReport


def clock_of(trigger: object) -> Clock:
    """A tick's scheduled time is the invocation's clock; any other trigger runs on the wall clock."""
    at = trigger.at if isinstance(trigger, Tick) else trigger.tick if isinstance(trigger, DeployRequest) else None
    return utc_now if at is None else (lambda: at)


class Invocation[S: ScopedSettings]:
    """One invocation's collaborators, each built once, on first use."""

    def __init__(self, settings: S, trigger: object = None, context: LambdaContext | None = None) -> None:
        self.settings = settings
        self.clock = clock_of(trigger)
        self.context = context
        self._endpoints: list[str] | None = None

    @cached_property
    def table(self) -> Table:
        """The ledger table, one for every store of the invocation."""
        return Table(aws.dynamodb(), self.settings.ledger_table)

    @cached_property
    def journal(self) -> Journal:
        """Decisions, and what is told once (marks, notices)."""
        s = self.settings
        return Journal(self.table, timedelta(days=s.ledger_retention_days))

    @cached_property
    def claims(self) -> Claims:
        return Claims(self.table)

    @cached_property
    def boosts(self) -> Boosts:
        return Boosts(self.table)

    @cached_property
    def deployments(self) -> Deployments:
        return Deployments(self.table)

    @cached_property
    def measurements(self) -> Measurements:
        return Measurements(self.table)

    @cached_property
    def where(self) -> Where:
        """The stack: its name, account, Region and partition (from its own topic's ARN) and its reports bucket."""
        s = self.settings
        return Where.of(s.stack_name, s.info_topic_arn, s.reports_bucket)

    @cached_property
    def notifier(self) -> Notifier:
        s = self.settings
        return Notifier(aws.sns(), aws.events(), s.info_topic_arn, s.critical_topic_arn, s.event_bus_name, self.where)

    @cached_property
    def courier(self) -> Courier:
        """Letters written with the decisions they tell (the outbox), sent by this invocation."""
        s = self.settings
        outbox = Outbox(self.table, timedelta(days=s.ledger_retention_days))
        return Courier(outbox, self.notifier, getattr(self.context, "aws_request_id", ""))

    @cached_property
    def notices(self) -> Notices:
        """Standing problems told once, each with its letter in the outbox (the data jobs')."""
        return Notices(self.journal, self.courier)

    @cached_property
    def incidents(self) -> Incidents:
        s = self.settings
        return Incidents(self.table, timedelta(days=s.ledger_retention_days))

    @cached_property
    def episodes(self) -> Episodes:
        """Paging episodes: one for each standing condition paged (`tell/telling.py`, `Pager`)."""
        return Episodes(self.table, timedelta(days=self.settings.ledger_retention_days))

    @cached_property
    def scope(self) -> Scope:
        s = self.settings
        return Scope(aws.sagemaker(), s.monitored_endpoints, s.discovery_tag, aws.tagging())

    @cached_property
    def policies(self) -> Policies[S]:
        """The stack's scope, and each endpoint's settings from the tags it reads (`endpoint_policy.py`)."""
        ignore = policy.discovery_key(self.settings.discovery_tag)
        return Policies(self.settings, self.scope, self.journal, self.courier, self.clock, ignore)

    @cached_property
    def capacity(self) -> Capacity:
        from model_medic.remediate.capacity import Capacity

        return Capacity(aws.sagemaker(), aws.autoscaling())

    def endpoints(self) -> list[str]:
        """The endpoints in scope (one batched read, `fleet`), each one's tags resolved, so
        that a bad tag on an endpoint without incidents is told too; read once per invocation."""
        if self._endpoints is None:
            self._endpoints = self.scope.endpoints()
            self.policies.check(self._endpoints)
        return self._endpoints

    def time_left(self) -> Callable[[], float] | None:
        """Seconds left in this invocation, read from Lambda's context (None without one)."""
        return time_left(self.context)


class Remediation[S: ActionSettings](Invocation[S]):
    """An action function's invocation: its collaborators and its control loop."""

    def __init__(
        self,
        settings: S,
        build: Callable[[S, Invocation[S]], Action],
        trigger: object = None,
        context: LambdaContext | None = None,
    ) -> None:
        super().__init__(settings, trigger, context)
        self._build = build

    @cached_property
    def loop(self) -> ControlLoop:
        """The loop of the unit: each endpoint acted on, and in the mode, of its own policy (the
        stack's settings with its tags' values, `policy.py`). Built once per invocation, after what
        earlier invocations left untold is sent (`Courier.drain`)."""
        from model_medic.remediate.components import components_by_endpoint

        action = PerEndpoint(lambda own: self._build(own, self), self.policies)
        window = getattr(self.settings, action.unit.verify_minutes_setting or "", None)
        s = self.settings
        self.courier.drain(self.time_left())
        return ControlLoop(
            Parts(
                action=action,
                verify_window=timedelta(minutes=int(window or 0)),
                journal=self.journal,
                claims=self.claims,
                incidents=self.incidents,
                courier=self.courier,
                episodes=lambda: self.episodes,
                paging=PagingRules(timedelta(minutes=s.episode_quiet_minutes), timedelta(hours=s.reminder_hours)),
                mode=ModeSwitch(
                    aws.ssm_parameters(),
                    s.mode_parameter_name,
                    s.automation_mode,
                    s.mode_cache_seconds,
                    self.policies.mode,
                ),
                scope=self.scope,
                sagemaker=aws.sagemaker(),
                cloudwatch=aws.cloudwatch(),
                actions_per_hour=s.actions_per_hour,
                clock=self.clock,
                request_id=getattr(self.context, "aws_request_id", ""),
                time_left=self.time_left(),
                components=functools.cache(lambda: components_by_endpoint(aws.sagemaker())),
            )
        )

    @property
    def sagemaker(self) -> SageMakerClient:
        return aws.sagemaker()


# --- the remediation units, from an endpoint's settings ---------------------------------------


def scale_up(settings: ScaleUpSettings, house: Invocation[Any]) -> ScaleUp:
    from model_medic.remediate.capacity import ScaleUp
    from model_medic.remediate.serverless import ConcurrencyBounds

    return ScaleUp(
        scaling_capacity(settings),
        house.boosts,
        aws.cloudwatch(),
        settings.scale_step,
        settings.max_instance_count,
        timedelta(minutes=settings.scale_up_cooldown_minutes),
        house.clock,
        ConcurrencyBounds(settings.max_concurrency, settings.max_provisioned_concurrency),
    )


def component_endpoints(alarms: list[AlarmEvent]) -> list[AlarmEvent]:
    """Each inference component's alarm with its endpoint, read from the component (its metrics
    name the component only); every other alarm as it came."""
    from model_medic.remediate.components import COMPONENT_DIMENSION, Components

    if not any(COMPONENT_DIMENSION in a.dimensions and not a.endpoint for a in alarms):
        return alarms
    components = Components(aws.sagemaker(), aws.autoscaling())
    return [components.endpoint_of(a) for a in alarms]


def scaling_capacity(settings: ScaleUpSettings) -> Capacity:
    """The scale-up's capacity: variants' instances, and inference components' copies at the
    scale-up's step, up to the stack's MaxCopyCount."""
    from model_medic.remediate.capacity import Capacity
    from model_medic.remediate.components import Components, CopyScaling

    def copies() -> CopyScaling:
        return CopyScaling(Components(aws.sagemaker(), aws.autoscaling()), settings.scale_step, settings.max_copy_count)

    return Capacity(aws.sagemaker(), aws.autoscaling(), copies)


def scale_back(house: Invocation[ScaleUpSettings]) -> ScaleBack:
    from model_medic.remediate.capacity import ScaleBack

    s = house.settings
    return ScaleBack(
        scaling_capacity(s),
        house.boosts,
        aws.cloudwatch(),
        timedelta(minutes=s.scale_back_after_minutes),
        house.clock,
        step=s.scale_step,
        pace=timedelta(minutes=s.scale_up_cooldown_minutes),
    )


def rollback_model(settings: RollbackSettings, house: Invocation[Any]) -> RollbackModel:
    from model_medic.remediate.rollback import RollbackModel

    return RollbackModel(
        aws.sagemaker(),
        house.capacity,
        house.deployments,
        lambda: component_rollback(settings, house),
        settings.canary_variant,
        settings.reject_model_packages,
        timedelta(minutes=settings.rollback_cooldown_minutes),
        house.clock,
    )


def component_rollback(settings: RollbackSettings, house: Invocation[Any]) -> ComponentRollback:
    """The components' specification history and their rollback (RollbackModelFunction)."""
    from model_medic.remediate.component_rollback import ComponentRollback
    from model_medic.store.component_specs import ComponentSpecs

    specs = ComponentSpecs(house.table)
    return ComponentRollback(aws.sagemaker(), specs, timedelta(hours=settings.component_change_hours), house.clock)


def record_components(settings: RollbackSettings, house: Invocation[Any]) -> dict[str, int]:
    """The sweep's look at the specifications of the components of the endpoints in scope."""
    return component_rollback(settings, house).record(house.endpoints())


def start_retraining(settings: RetrainingSettings, house: Invocation[Any]) -> StartRetraining:
    from model_medic.remediate.retraining import StartRetraining

    return StartRetraining(
        aws.sagemaker(),
        settings.pipeline_name,
        settings.pipeline_parameters,
        timedelta(hours=settings.retrain_cooldown_hours),
        house.measurements,
    )


def rollout(settings: CanarySettings, house: Invocation[Any]) -> Rollout:
    from model_medic.remediate.rollout.action import Rollout
    from model_medic.remediate.rollout.component import ComponentRollout
    from model_medic.store.component_specs import ComponentSpecs

    specs = ComponentSpecs(house.table)
    return Rollout(
        sagemaker=aws.sagemaker(),
        capacity=house.capacity,
        s3=aws.s3(),
        components=ComponentRollout(aws.sagemaker(), aws.cloudwatch(), specs, house.deployments, settings, house.clock),
        deployments=house.deployments,
        incidents=house.incidents,
        settings=settings,
        clock=house.clock,
    )


def cleanup(house: Invocation[CanarySettings]) -> Cleanup:
    """The clean-up of what rollouts created; a model is kept while an inference component names it
    or ComponentRollback may put it back (COMPONENT_CHANGE_HOURS, as RollbackModelFunction's)."""
    from model_medic.remediate.cleanup import Cleanup, ComponentModels
    from model_medic.store.component_specs import ComponentSpecs

    window = timedelta(hours=house.settings.component_change_hours)
    return Cleanup(
        aws.sagemaker(),
        house.deployments,
        house.journal,
        timedelta(days=house.settings.rollout_cleanup_days),
        house.clock,
        ComponentModels(aws.sagemaker(), ComponentSpecs(house.table), window),
    )


def rollouts(settings: CanarySettings, trigger: object, context: LambdaContext | None) -> Rollouts:
    """PromoteCanaryFunction's collaborators: the rollout unit's loop, each endpoint's own
    settings, and the clean-up of what rollouts created."""
    from model_medic.remediate.rollout.run import Rollouts

    house = Remediation(settings, rollout, trigger, context)
    return Rollouts(
        own=house.policies.settings,
        loop=house.loop,
        cleanup=cleanup(house),
        sagemaker=house.sagemaker,
        deployments=house.deployments,
        settings=settings,
        endpoints=house.endpoints,
    )


# --- the scheduled jobs ---------------------------------------------------------------------


def drift_job(settings: DriftSettings, capture_uri: str) -> ComputeDrift:
    """The drift job of one endpoint's settings and capture (`endpoint_data.py`); its drift is
    published per feature when its PerFeatureDriftMetrics (the stack's or its tag's) says so."""
    from model_medic.measure.drift import ComputeDrift

    return ComputeDrift(
        aws.s3(),
        aws.cloudwatch(),
        capture_uri,
        settings.baseline_s3_uri,
        settings.drift_min_rows,
        settings.baseline_label_column,
        settings.features_attribute,
        lambda _endpoint: settings.per_feature_drift_metrics,
    )


def baselines(house: Invocation[DriftSettings]) -> Callable[[str], BaselineStore | None]:
    """`baselines(endpoint)`: where that endpoint's drift baselines are - its tag's location,
    else the stack's (None: neither); a bad tag told once (`Policies`)."""
    from model_medic.measure.baseline import BaselineStore

    def store(endpoint: str) -> BaselineStore | None:
        own = house.policies.settings(endpoint)
        if not own.baseline_s3_uri:
            return None
        return BaselineStore(aws.s3(), own.baseline_s3_uri, own.baseline_label_column)

    return store


def hand_out(settings: DriftSettings | QualitySettings) -> HandOut:
    """The hourly run's queue: the drift or the quality job's, by its settings."""
    from model_medic.measure.fanout import HandOut

    if isinstance(settings, DriftSettings):
        return HandOut(aws.sqs(), settings.drift_queue_url, "drift")
    return HandOut(aws.sqs(), settings.quality_queue_url, "quality")


def drift_measure(house: Invocation[DriftSettings]) -> Callable[[Assignment], dict[str, Any]]:
    """`measure(assignment)`: one endpoint's drift for the hour before its scheduled time, with
    its own data (`endpoint_data.py`: its capture, its tags' baseline and features attribute,
    a bad tag told once at the scheduled time); an endpoint whose data is not found is told
    once and skipped. Built once per invocation, after what earlier invocations left untold is
    sent (`Courier.drain`)."""
    from model_medic.measure.drift import hour_before
    from model_medic.measure.endpoint_data import DataFinder

    _drain_aside(house)
    finder = DataFinder("drift", house.scope, house.notices)

    def measure(item: Assignment) -> dict[str, Any]:
        own = _policies(house, item.at).settings(item.endpoint)
        hour = hour_before(item.at)
        data = finder.find(item.endpoint, own.capture_s3_uri, own.baseline_s3_uri, hour, item.at)
        if data.capture is None or data.missing:
            return {"hour": hour.isoformat(), **data.skipped()}
        job = drift_job(own, data.capture.uri)
        run = job.run([item.endpoint], item.at, house.notices, house.measurements)
        return {"hour": run["hour"], **run["endpoints"][0]}

    return measure


def quality_job(settings: QualitySettings, capture_uri: str | None = None) -> ComputeModelQuality:
    """The quality job of one endpoint's settings and capture (an endpoint's problem type, labels
    and attributes are its own, `policy/tags.py`; its capture, `endpoint_data.py`)."""
    from model_medic.measure.quality import ComputeModelQuality, QualityConfig

    return ComputeModelQuality(aws.s3(), aws.cloudwatch(), QualityConfig.of(settings, capture_uri))


def label_keys(settings: QualitySettings) -> GroundTruth | None:
    """The stack's ground truth, whose new objects trigger a run (None: the stack has none)."""
    from model_medic.measure.ground_truth import GroundTruth
    from model_medic.measure.quality import QualityConfig

    if not settings.ground_truth_s3_uri:
        return None
    return GroundTruth(aws.s3(), settings.ground_truth_s3_uri, QualityConfig.of(settings).reading())


def metrics_job(house: Invocation[ComputeMetricsSettings]) -> ComputeMetrics:
    from model_medic.measure.endpoint_metrics import ComputeMetrics

    s = house.settings
    return ComputeMetrics(
        aws.cloudwatch(),
        house.measurements,
        timedelta(minutes=s.metrics_period_minutes),
        timedelta(minutes=s.metrics_lag_minutes),
    )


def daily_report(house: Invocation[Any]) -> DailyReport:
    from model_medic.report.daily import DailyReport

    s = house.settings
    return DailyReport(
        aws.cloudwatch(),
        aws.sagemaker(),
        aws.s3(),
        house.journal,
        s.reports_bucket,
        incidents=house.incidents,
        episodes=house.episodes,
        where=house.where,
    )


# --- the fleet's alarms ---------------------------------------------------------------------


def stack_thresholds(settings: AlarmManagerSettings) -> AlarmThresholds:
    from model_medic.fleet.alarm_catalog import AlarmThresholds

    return AlarmThresholds(
        error_rate=settings.error_rate_threshold,
        latency_ms=settings.latency_threshold_ms,
        drift=settings.drift_threshold,
        accuracy=settings.accuracy_threshold,
        quality_source=settings.quality_metrics_source,
        model_monitor_drift_feature=settings.model_monitor_drift_feature,
        model_monitor_drift_threshold=settings.model_monitor_drift_threshold,
        canary_variant=settings.canary_variant,
        canary_max_error_rate=settings.canary_max_error_rate,
        canary_max_latency_ms=settings.canary_max_latency_ms,
    )


def alarms_for(settings: AlarmManagerSettings) -> AlarmsFor:
    """An endpoint's alarms from its tags: the stack's thresholds and canary variant unless the
    endpoint's `model-medic:` tags say otherwise (`policy.py`). A tag that is not used is
    logged here on every run and the stack's value kept; the action functions' sweeps tell it
    once (`endpoint_policy.Policies`)."""
    from model_medic.fleet.alarm_catalog import Topics, component_alarms, endpoint_watch
    from model_medic.remediate.components import components_by_endpoint

    topics = Topics(critical=settings.critical_topic_arn, warning=settings.warning_topic_arn)
    ignore = policy.discovery_key(settings.discovery_tag)
    # The fleet's inference components, listed once an invocation, when the first endpoint asks.
    components = functools.cache(lambda: components_by_endpoint(aws.sagemaker()))

    def alarms(endpoint: str, tags: Mapping[str, str]) -> EndpointWatch:
        found = policy.within_stack(settings, policy.read(tags, ignore))
        for problem in found.problems:
            logger.warning("tag not used", endpoint=endpoint, tag=problem.endpoint_tag, reason=problem.reason)
        own = policy.apply(settings, found)
        thresholds = stack_thresholds(own)
        # Each inference component of the endpoint has its own alarms (ListInferenceComponents).
        per_component = [
            a for c in components().get(endpoint, []) for a in component_alarms(endpoint, c, thresholds, topics)
        ]
        watch = endpoint_watch(endpoint, thresholds, topics, own.endpoint_dashboards)
        return dataclasses.replace(watch, alarms=(*watch.alarms, *per_component))

    return alarms


def alarm_manager(settings: AlarmManagerSettings, patience: Patience | None = None) -> AlarmManager:
    from model_medic.fleet.alarm_manager import AlarmManager, WritePace
    from model_medic.fleet.holdings import StackPlace
    from model_medic.fleet.patience import Patience
    from model_medic.fleet.variants import EndpointVariants

    patience = patience or Patience()
    # The topics' ARNs say the partition, Region and account the alarms live in.
    _, partition, _, region, account, _ = settings.critical_topic_arn.split(":", 5)
    return AlarmManager(
        aws.cloudwatch(),
        aws.tagging(),
        StackPlace(settings.stack_name, region, f"arn:{partition}:cloudwatch:{region}:{account}:alarm:"),
        alarms_for(settings),
        EndpointVariants(aws.sagemaker(), patience).of,
        WritePace(settings.alarm_writes_per_run, settings.alarm_writes_per_second),
        patience,
    )


def fleet(settings: AlarmManagerSettings, context: LambdaContext | None = None) -> Fleet:
    """The fleet's alarms for one invocation: its calls retried on transient errors while the
    invocation has time (`Patience`, from Lambda's context)."""
    from model_medic.fleet.fleet_alarms import Fleet
    from model_medic.fleet.patience import Patience

    patience = Patience(time_left(context))
    return Fleet(settings, aws.sagemaker(), aws.tagging(), lambda: alarm_manager(settings, patience), patience)


def time_left(context: LambdaContext | None) -> Callable[[], float] | None:
    """Seconds left in the invocation, read from Lambda's context (None without one)."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return None if remaining is None else lambda: remaining() / 1000.0


def metrics_endpoints(settings: ComputeMetricsSettings) -> list[str]:
    """The endpoints named, as SageMaker spells them (its metrics' EndpointName), and those
    carrying the discovery tag: one batched read (`Scope.endpoints`)."""
    s = settings
    return Scope(aws.sagemaker(), s.monitored_endpoints, s.discovery_tag, aws.tagging()).endpoints()


def _drain_aside(house: Invocation[DriftSettings] | Invocation[QualitySettings]) -> None:
    """A data job's drain of the outbox, beside its work: a ledger it cannot read fails each
    endpoint's measurement on its own (retried alone from its queue), not the whole batch."""
    try:
        house.courier.drain(house.time_left())
    except (ClientError, BotoCoreError):
        logger.exception("outbox not drained; left for the next invocation")


def quality_measure(
    house: Invocation[QualitySettings],
) -> Callable[[list[str], datetime, datetime], list[dict[str, Any]]]:
    """`measure(endpoints, end, now)`: each endpoint measured with its own data and as the kind of
    model its policy says (its tags as the scope read them; a bad tag told once, at `now`), one
    job per distinct policy and capture; an endpoint whose data is not found is told once and skipped.
    Built once per invocation, after what earlier invocations left untold is sent (`Courier.drain`)."""
    from model_medic.measure.endpoint_data import DataFinder

    _drain_aside(house)
    finder = DataFinder("quality", house.scope, house.notices)

    def measure(endpoints: list[str], end: datetime, now: datetime) -> list[dict[str, Any]]:
        deadline = _deadline(house.context)
        policies = _policies(house, now)
        hour = end.astimezone(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
        jobs: dict[tuple[int, str], tuple[QualitySettings, ComputeModelQuality]] = {}
        results: list[dict[str, Any]] = []
        for endpoint in endpoints:
            own = policies.settings(endpoint)
            data = finder.find(endpoint, own.capture_s3_uri, own.ground_truth_s3_uri, hour, now)
            if data.capture is None or data.missing:
                results.append(data.skipped())
                continue
            # `tags.apply` returns the same object for the same policy: one job per policy and capture.
            key = (id(own), data.capture.uri)
            if key not in jobs or jobs[key][0] is not own:
                jobs[key] = (own, quality_job(own, data.capture.uri))
            results += jobs[key][1].run_all([endpoint], end, now, house.notices, deadline)
        return results

    return measure


def _policies[S: ScopedSettings](house: Invocation[S], at: datetime) -> Policies[S]:
    """The endpoints' policies, a bad tag told at `at` (the run's scheduled time, not the wall clock)."""
    ignore = policy.discovery_key(house.settings.discovery_tag)
    return Policies(house.settings, house.scope, house.journal, house.courier, lambda: at, ignore)


def quality_of_one(
    measure: Callable[[list[str], datetime, datetime], list[dict[str, Any]]],
) -> Callable[[Assignment], dict[str, Any]]:
    """`measure(assignment)`: one endpoint's model quality for the run scheduled at its time."""

    def one(item: Assignment) -> dict[str, Any]:
        [result] = measure([item.endpoint], item.at, item.at)
        return result

    return one


def _deadline(context: LambdaContext | None) -> float | None:
    """Building the prediction index stops at 60% of the time left, so that a first run over
    a long look-back never times out: the next run goes on from the indexes written."""
    from model_medic.measure.predictions import deadline_in

    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return None if remaining is None else deadline_in(remaining() / 1000 * 0.6)
