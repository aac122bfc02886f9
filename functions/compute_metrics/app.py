"""ComputeMetricsFunction: TotalLatency and ErrorRate per endpoint and variant, every 5 minutes."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from model_medic import wiring
from model_medic.intake import triggers
from model_medic.intake.triggers import Rejected, Tick
from model_medic.measure.endpoint_metrics import publish
from model_medic.platform.observability import logger, metrics, tracer
from model_medic.platform.settings import ComputeMetricsSettings, load_settings


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = load_settings(ComputeMetricsSettings)
    trigger = triggers.scheduled(event)
    house = wiring.Invocation(settings, trigger, context)
    match trigger:
        case Tick(at=at):
            return publish(wiring.metrics_job(house), wiring.metrics_endpoints(settings), at)
        case Rejected(reason=reason):
            return {"rejected": triggers.rejected(reason)["rejected"]}
