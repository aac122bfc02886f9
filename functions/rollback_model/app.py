"""RollbackModelFunction: the previous good model back on ModelAccuracyDrop; deployments, component specs kept."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from model_medic import wiring
from model_medic.intake import triggers
from model_medic.intake.triggers import Alarms, Deployment, Rejected, Tick
from model_medic.platform.clock import utc_now
from model_medic.platform.observability import logger, metrics, tracer
from model_medic.platform.settings import RollbackSettings, load_settings
from model_medic.remediate.rollback import record_deployment
from model_medic.tell.outcome import answer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = load_settings(RollbackSettings)
    trigger = triggers.rollback(event)
    house = wiring.Remediation(settings, wiring.rollback_model, trigger, context)
    match trigger:
        case Deployment():
            return record_deployment(house.deployments, trigger, utc_now())
        case Tick():
            wiring.record_components(settings, house)
            return answer(house.loop.sweep(house.endpoints()))
        case Alarms(alarms=alarms):
            return house.loop.on_alarms(alarms)
        case Rejected(reason=reason):
            return triggers.rejected(reason)
