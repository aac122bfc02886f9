"""StartRetrainingFunction: the retraining pipeline started once per DataDrift incident, verified by its outcome."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from model_medic import wiring
from model_medic.intake import triggers
from model_medic.intake.triggers import Alarms, PipelineChanged, Rejected, Tick
from model_medic.platform.observability import logger, metrics, tracer
from model_medic.platform.settings import RetrainingSettings, load_settings
from model_medic.tell.outcome import answer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = load_settings(RetrainingSettings)
    trigger = triggers.retraining(event)
    house = wiring.Remediation(settings, wiring.start_retraining, trigger, context)
    match trigger:
        case Tick() | PipelineChanged():
            return answer(house.loop.sweep(house.endpoints()))
        case Alarms(alarms=alarms):
            return house.loop.on_alarms(alarms)
        case Rejected(reason=reason):
            return triggers.rejected(reason)
