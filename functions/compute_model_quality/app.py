"""ComputeModelQualityFunction: model quality when labels land, and hourly every endpoint queued and measured alone."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from model_medic import wiring
from model_medic.intake import triggers
from model_medic.intake.triggers import ObjectCreated, Queued, Rejected, Tick
from model_medic.measure.fanout import work
from model_medic.measure.quality import on_ground_truth
from model_medic.platform.observability import logger, metrics, tracer
from model_medic.platform.settings import QualitySettings, load_settings


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = load_settings(QualitySettings)
    trigger = triggers.quality(event)
    house = wiring.Invocation(settings, trigger, context)
    measure = wiring.quality_measure(house)
    match trigger:
        case ObjectCreated():
            return on_ground_truth(trigger, wiring.label_keys(settings), house.scope, house.journal, measure)
        case Tick(at=at):
            return wiring.hand_out(settings).hand_out(house.scope.endpoints(), at)
        case Queued(assignments=assignments, rejected=rejected):
            return work(assignments, rejected, wiring.quality_of_one(measure), house.time_left())
        case Rejected(reason=reason):
            return triggers.rejected(reason)
