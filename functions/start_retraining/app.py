"""StartRetrainingFunction: a DataDrift incident starts the retraining pipeline, once; the
pipeline's status changes (and the sweep) verify it - Failed or Stopped is critical."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from model_medic import runtime
from model_medic.observability import logger, metrics, tracer
from model_medic.retraining import StartRetraining, is_pipeline_status_change


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return runtime.handle(StartRetraining, event, context, sweeps_on=is_pipeline_status_change)
