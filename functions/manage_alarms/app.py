"""AlarmManagerFunction: every in-scope endpoint's alarms and dashboard kept in step with the fleet."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from model_medic import wiring
from model_medic.fleet.fleet_alarms import unconfigured
from model_medic.intake import triggers
from model_medic.intake.triggers import CustomResource, EndpointStatus, Rejected, Tick
from model_medic.platform.observability import logger, metrics, tracer
from model_medic.platform.settings import AlarmManagerSettings, ConfigurationError, load_settings


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    trigger = triggers.fleet(event)
    try:
        fleet = wiring.fleet(load_settings(AlarmManagerSettings), context)
    except ConfigurationError as error:
        return unconfigured(trigger, error)
    match trigger:
        case CustomResource(request=request):
            return fleet.custom_resource(request)
        case EndpointStatus(endpoint=endpoint, status=status):
            return fleet.state_change(endpoint, status)
        case Tick(at=at):
            return fleet.reconcile_all(at)
        case Rejected(reason=reason):
            return triggers.rejected(reason)
