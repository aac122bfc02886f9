"""PromoteCanaryFunction: approved model packages rolled out as judged canaries, and each day's clean-up."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from model_medic import wiring
from model_medic.intake import triggers
from model_medic.intake.triggers import BadEvent, Rejected
from model_medic.platform.observability import logger, metrics, tracer
from model_medic.platform.settings import CanarySettings, load_settings
from model_medic.remediate.rollout.run import run


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = load_settings(CanarySettings)
    trigger = triggers.rollout(event)
    if isinstance(trigger, Rejected):
        return triggers.rejected(trigger.reason)
    rollouts = wiring.rollouts(settings, trigger, context)
    try:
        return run(trigger, rollouts)
    except BadEvent as error:  # an operator's package SageMaker does not know
        return triggers.rejected(str(error))
