"""ComputeModelQualityFunction: when ground-truth files land (S3 "Object Created" on
EventBridge, the ground-truth prefix only; at most one run per endpoint and hour of
labels), and hourly as a catch-up, join labels to captured predictions and publish model
quality per endpoint and variant, for every endpoint in scope (named in EndpointNames or
carrying the discovery tag). An endpoint's tag model-medic:problem-type (policy.py) says
what kind of model it serves, in place of the stack's ProblemType."""

from datetime import datetime, timedelta
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from model_medic import aws, runtime
from model_medic.alarms import AlarmParseError, shown
from model_medic.endpoint_policy import Policies
from model_medic.ledger import Ledger
from model_medic.observability import logger, metrics, tracer
from model_medic.outcome import Notifier
from model_medic.policy import discovery_key
from model_medic.quality import ComputeModelQuality, RunDebounce, deadline_in
from model_medic.records import OutputFormat
from model_medic.scope import Scope
from model_medic.settings import QualitySettings, load_settings


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = load_settings(QualitySettings)
    job = _job(settings)
    try:
        created = runtime.object_created(event)
    except AlarmParseError as error:
        return runtime.rejected(str(error))
    if created is not None:
        key, at = created
        endpoint, end = job.endpoint_for_key(key), job.evaluation_time_for_key(key)
        if not endpoint or end is None:
            return runtime.rejected(
                f"ground-truth key {shown(key)} is not <prefix>/<endpoint in scope>/[<variant>/]YYYY/MM/DD/HH/<file>"
            )
        # A named endpoint costs no call; any other, its tags (DescribeEndpoint and ListTags).
        scope = _scope(settings)
        in_scope, why = scope.contains(endpoint)
        if not in_scope:
            return runtime.rejected(f"ground-truth key {shown(key)}: {shown(why)}")
        now = at or end
        if not RunDebounce(runtime.ledger(settings)).first(endpoint, end - timedelta(hours=1), now):
            logger.info("labels of this hour already triggered a run; the hourly catch-up covers this file", key=key)
            return {"debounced": [key]}
        ledger, notifier = runtime.ledger(settings), runtime.notifier(settings)
        return {"results": _run_all(settings, scope, [endpoint], end, now, ledger, notifier, _deadline(context))}
    scheduled = runtime.scheduled_or_rejected(
        event, "expected a ground-truth Object Created event or a Scheduled Event"
    )
    if isinstance(scheduled, dict):
        return scheduled
    ledger, notifier = runtime.ledger(settings), runtime.notifier(settings)
    deadline = _deadline(context)
    scope = _scope(settings)
    endpoints = scope.endpoints()  # one batched read (scope.fleet), their tags kept for their policies
    return {"results": _run_all(settings, scope, endpoints, scheduled, scheduled, ledger, notifier, deadline)}


def _scope(settings: QualitySettings) -> Scope:
    return Scope(aws.sagemaker(), settings.monitored_endpoints, settings.discovery_tag, aws.tagging())


def _job(settings: QualitySettings) -> ComputeModelQuality:
    return ComputeModelQuality(
        aws.s3(),
        aws.cloudwatch(),
        settings.capture_s3_uri,
        settings.ground_truth_s3_uri,
        settings.problem_type,
        timedelta(hours=settings.quality_window_hours),
        timedelta(hours=settings.label_lookback_hours),
        settings.quality_min_samples,
        settings.positive_label,
        settings.probability_threshold,
        OutputFormat.for_problem(settings.problem_type, settings.inference_attribute, settings.probability_attribute),
        settings.prediction_index_s3_uri,
    )


def _run_all(
    settings: QualitySettings,
    scope: Scope,
    endpoints: list[str],
    end: datetime,
    now: datetime,
    ledger: Ledger,
    notifier: Notifier,
    deadline: float | None,
) -> list[dict[str, Any]]:
    """Each endpoint measured as the kind of model its policy says: one job per distinct policy
    (its tags as the scope read them; a bad tag told once)."""
    policies = Policies(settings, scope, ledger, notifier, lambda: now, discovery_key(settings.discovery_tag))
    results: list[dict[str, Any]] = []
    for own, group in policies.by_settings(endpoints):
        results += _job(own).run_all(group, end, now, ledger, notifier, deadline)
    return results


def _deadline(context: LambdaContext) -> float | None:
    """Building the prediction index stops at 60% of the time left, so that a first run over
    a long look-back never times out: the next run goes on from the indexes written."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return None if remaining is None else deadline_in(remaining() / 1000 * 0.6)
