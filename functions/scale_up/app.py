"""ScaleUpFunction: HighErrorRate / HighLatency in ALARM add capacity; their return to OK,
after the cool-down, gives it back (the OK event, or the 5-minute sweep once it is due)."""

from datetime import timedelta
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from model_medic import aws, runtime
from model_medic.alarms import AlarmEvent
from model_medic.capacity import Capacity, ScaleBack, ScaleUp
from model_medic.gates import Remediation, utc_now
from model_medic.observability import logger, metrics, tracer
from model_medic.settings import ScaleUpSettings, load_settings


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = load_settings(ScaleUpSettings)
    now = runtime.scheduled_time(event)
    clock = (lambda: now) if now is not None else utc_now
    capacity = Capacity(aws.sagemaker(), aws.autoscaling())
    ledger = runtime.ledger(settings)
    scale_up = ScaleUp(
        capacity,
        ledger,
        settings.scale_step,
        settings.max_instance_count,
        timedelta(minutes=settings.scale_up_cooldown_minutes),
        clock,
    )
    scale_back = ScaleBack(
        capacity, ledger, aws.cloudwatch(), timedelta(minutes=settings.scale_back_after_minutes), clock
    )
    if now is not None:
        gates = runtime.gates(settings, context, clock)
        released = [
            gates.run(alarm, scale_back).as_dict()
            for alarm in scale_back.due_releases(settings.monitored_endpoints, now)
        ]
        return {"outcomes": released, "rejected": []}

    def remediation(alarm: AlarmEvent) -> Remediation:
        return scale_back if alarm.state == "OK" else scale_up

    return runtime.run_alarms(event, context, settings, remediation, clock)
