"""PromoteCanaryFunction: every 10 minutes, and at once when a canary alarm fires, judge the
canary against the primary and promote it a step, hold, or roll it back."""

from datetime import timedelta
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from model_medic import aws, runtime
from model_medic.alarms import AlarmParseError
from model_medic.canary import PromoteCanary, Rules
from model_medic.gates import utc_now
from model_medic.observability import logger, metrics, tracer
from model_medic.settings import CanarySettings, load_settings


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = load_settings(CanarySettings)
    try:
        scheduled = runtime.scheduled_time(event)
    except AlarmParseError as error:
        return {"outcomes": [], "rejected": [str(error)]}
    clock = (lambda: scheduled) if scheduled is not None else utc_now
    rules = Rules(
        steps=tuple(settings.canary_steps),
        bake=timedelta(minutes=settings.bake_minutes),
        min_invocations=settings.min_invocations,
        max_error_rate=settings.max_error_rate,
        max_latency_ms=settings.max_latency_ms,
    )
    promote = PromoteCanary(
        aws.sagemaker(),
        aws.cloudwatch(),
        runtime.ledger(settings),
        settings.primary_variant,
        settings.canary_variant,
        rules,
        clock,
    )
    if scheduled is None:
        return runtime.run_alarms(event, context, settings, lambda alarm: promote, clock)
    gates = runtime.gates(settings, context, clock)
    outcomes = []
    for endpoint in settings.monitored_endpoints:
        if not promote.in_rollout(endpoint):
            logger.debug("no canary rollout", endpoint=endpoint)
            continue
        trigger = runtime.scheduled_evaluation(event, endpoint, settings.canary_variant)
        outcomes.append(gates.run(trigger, promote).as_dict())
    return {"outcomes": outcomes, "rejected": []}
