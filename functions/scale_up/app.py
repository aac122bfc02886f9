"""ScaleUpFunction: capacity for HighErrorRate / HighLatency incidents, given back once they are over."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from model_medic import wiring
from model_medic.intake import triggers
from model_medic.intake.triggers import Alarms, Rejected, Tick
from model_medic.platform.observability import logger, metrics, tracer
from model_medic.platform.settings import ScaleUpSettings, load_settings
from model_medic.remediate.capacity import give_back
from model_medic.tell.outcome import answer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = load_settings(ScaleUpSettings)
    trigger = triggers.remediation(event)
    house = wiring.Remediation(settings, wiring.scale_up, trigger, context)
    match trigger:
        case Tick():
            endpoints = house.endpoints()
            swept = house.loop.sweep(endpoints)
            return answer(swept + give_back(house.loop, wiring.scale_back(house), endpoints))
        case Alarms(alarms=alarms):
            return house.loop.on_alarms(wiring.component_endpoints(alarms))
        case Rejected(reason=reason):
            return triggers.rejected(reason)
