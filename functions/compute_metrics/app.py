"""ComputeMetricsFunction: every 5 minutes, TotalLatency and ErrorRate per endpoint and variant
of the last period that ended METRICS_LAG_MINUTES ago; a window held back for late datapoints
is recomputed once by the next run."""

from dataclasses import asdict
from datetime import timedelta
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from model_medic import aws, runtime
from model_medic.endpoint_metrics import ComputeMetrics
from model_medic.observability import logger, metrics, tracer
from model_medic.scope import tagged_endpoints
from model_medic.settings import ComputeMetricsSettings, load_settings


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = load_settings(ComputeMetricsSettings)
    scheduled = runtime.scheduled_or_rejected(event)
    if isinstance(scheduled, dict):
        return {"rejected": scheduled["rejected"]}
    endpoints = list(settings.monitored_endpoints)
    if settings.discovery_tag:
        endpoints += tagged_endpoints(aws.sagemaker(), aws.tagging(), settings.discovery_tag)
    run = ComputeMetrics(
        aws.cloudwatch(),
        runtime.ledger(settings),
        timedelta(minutes=settings.metrics_period_minutes),
        timedelta(minutes=settings.metrics_lag_minutes),
    ).run(sorted(set(endpoints)), scheduled)
    logger.info(
        "metrics computed",
        published=run.published,
        variants=run.variants,
        without_data=run.without_data,
        held_back=run.held_back,
        recomputed=run.recomputed,
    )
    metrics.add_metric(name="MetricsPublished", unit="Count", value=run.published)
    result = asdict(run)
    result["window"] = {"start": run.window.start.isoformat(), "end": run.window.end.isoformat()}
    return result
