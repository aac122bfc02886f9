"""RollbackModelFunction: ModelAccuracyDrop (or any alarm routed here) puts the previous
good model back; "SageMaker Endpoint State Change" events keep the deployment history."""

from datetime import timedelta
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from model_medic import aws, runtime
from model_medic.gates import utc_now
from model_medic.observability import logger, metrics, tracer
from model_medic.rollback import RollbackModel, in_service_deployment, is_endpoint_state_change
from model_medic.settings import RollbackSettings, load_settings


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = load_settings(RollbackSettings)
    ledger = runtime.ledger(settings)
    if is_endpoint_state_change(event):
        try:
            seen = in_service_deployment(event)
        except ValueError as error:
            logger.warning("endpoint state change rejected", error=str(error))
            return {"recorded": None, "rejected": [str(error)]}
        if seen is not None:
            ledger.observe_config(*seen, utc_now())
            logger.info("deployment recorded", endpoint=seen[0], config=seen[1])
        return {"recorded": seen and {"endpoint": seen[0], "config": seen[1]}, "rejected": []}
    rollback = RollbackModel(
        aws.sagemaker(),
        ledger,
        settings.canary_variant,
        settings.reject_model_packages,
        timedelta(minutes=settings.rollback_cooldown_minutes),
        utc_now,
    )
    return runtime.run_alarms(event, context, settings, lambda alarm: rollback, utc_now)
