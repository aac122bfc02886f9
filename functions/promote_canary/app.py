"""PromoteCanaryFunction: the model lifecycle's rollouts (model_medic.remediate.rollout). An approved
model package becomes a canary, walks to 100 % with its capacity ahead of its traffic, and
replaces the old model - or is rolled back. Every 10 minutes, at once when a canary alarm
fires, on "SageMaker Model Package State Change" events, and for a package an operator names
(`{"deploy-package": {"arn": ..., "endpoints": [...]}}`). Each tick also deletes the configs
and models rollouts created once RolloutCleanupDays have passed and nothing needs them
(model_medic.remediate.cleanup)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from model_medic import wiring
from model_medic.intake import triggers
from model_medic.intake.alarms import BadEvent
from model_medic.intake.triggers import Rejected
from model_medic.platform.observability import logger, metrics, tracer
from model_medic.platform.settings import CanarySettings, load_settings
from model_medic.remediate.cleanup import run
from model_medic.tell.outcome import answer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = load_settings(CanarySettings)
    trigger = triggers.rollout(event)
    if isinstance(trigger, Rejected):
        return triggers.rejected(trigger.reason)
    house = wiring.Remediation(settings, wiring.rollout, trigger, context)
    own, cleanup = house.policies.settings, wiring.cleanup(house)
    try:
        outcomes = run(trigger, house.loop, cleanup, house.sagemaker, house.deployments, settings, house.endpoints, own)
    except BadEvent as error:  # an operator's package SageMaker does not know
        return triggers.rejected(str(error))
    return answer(outcomes)
