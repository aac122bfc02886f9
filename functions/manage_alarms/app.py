"""AlarmManagerFunction: keeps every in-scope endpoint's alarms and dashboard in step with the
fleet - on each SageMaker endpoint state change (that endpoint), on a schedule (the whole
fleet, the safety net), and as the stack's custom resource (Create/Update: the whole fleet;
Delete: every alarm and dashboard of the stack)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from model_medic import fleet_alarms
from model_medic.observability import logger, metrics, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return fleet_alarms.handle(event)
