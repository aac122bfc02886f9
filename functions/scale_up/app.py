"""ScaleUpFunction: HighErrorRate (5XX) / HighLatency incidents get capacity, one variant's
change at a time, verified against the alarm; the 5-minute sweep re-evaluates open
incidents and gives temporary capacity back once the alarms have been OK for a while."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from model_medic import runtime
from model_medic.capacity import ScaleUp, give_back
from model_medic.observability import logger, metrics, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return runtime.handle(ScaleUp, event, context, sweep_extra=give_back)
