"""DailyReportFunction: the day's report of every endpoint in scope, its index, and a summary to the info topic."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from model_medic import wiring
from model_medic.intake import triggers
from model_medic.intake.triggers import Rejected, Tick
from model_medic.platform.observability import logger, metrics, tracer
from model_medic.platform.settings import ReportSettings, load_settings
from model_medic.report.daily import daily


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = load_settings(ReportSettings)
    trigger = triggers.scheduled(event)
    house = wiring.Invocation(settings, trigger, context)
    match trigger:
        case Tick(at=at):
            return daily(wiring.daily_report(house), house.scope.endpoints(), at, house.notifier)
        case Rejected(reason=reason):
            return triggers.rejected(reason)
