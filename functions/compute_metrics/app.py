"""ComputeMetricsFunction: every 5 minutes, TotalLatency and ErrorRate per endpoint and variant."""

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
    run = ComputeMetrics(aws.cloudwatch(), timedelta(minutes=settings.metrics_period_minutes)).run(
        sorted(set(endpoints)), scheduled
    )
    logger.info("metrics computed", published=run.published, variants=run.variants, without_data=run.without_data)
    metrics.add_metric(name="MetricsPublished", unit="Count", value=run.published)
    result = asdict(run)
    result["window"] = {"start": run.window.start.isoformat(), "end": run.window.end.isoformat()}
    return result
