"""StartRetrainingFunction: a DataDrift alarm starts the retraining pipeline, once."""

from datetime import timedelta
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from model_medic import aws, runtime
from model_medic.gates import utc_now
from model_medic.observability import logger, metrics, tracer
from model_medic.retraining import StartRetraining
from model_medic.settings import RetrainingSettings, load_settings


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = load_settings(RetrainingSettings)
    retraining = StartRetraining(
        aws.sagemaker(),
        settings.pipeline_name,
        settings.pipeline_parameters,
        timedelta(hours=settings.retrain_cooldown_hours),
        runtime.ledger(settings),
    )
    return runtime.run_alarms(event, context, settings, lambda alarm: retraining, utc_now)
