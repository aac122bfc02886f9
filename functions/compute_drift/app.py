"""ComputeDriftFunction: hourly, every endpoint in scope queued and each measured on its own; a baseline on request."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from model_medic import wiring
from model_medic.intake import triggers
from model_medic.intake.triggers import BuildBaseline, Queued, Rejected, Tick
from model_medic.measure.drift import baseline_requested
from model_medic.measure.fanout import work
from model_medic.platform.observability import logger, metrics, tracer
from model_medic.platform.settings import DriftSettings, load_settings


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = load_settings(DriftSettings)
    trigger = triggers.drift(event)
    house = wiring.Invocation(settings, trigger, context)
    job = wiring.drift_job(settings, house.scope)
    match trigger:
        case BuildBaseline():
            return baseline_requested(job, house.scope, trigger)
        case Tick(at=at):
            return wiring.hand_out(settings).hand_out(house.scope.endpoints(), at)
        case Queued(assignments=assignments, rejected=rejected):
            return work(assignments, rejected, wiring.drift_measure(house, job), house.time_left())
        case Rejected(reason=reason):
            return triggers.rejected(reason)
