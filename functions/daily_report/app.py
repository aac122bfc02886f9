"""DailyReportFunction: the 24 hours before the scheduled time, for every endpoint in scope
(named in EndpointNames or carrying the discovery tag), as HTML and JSON in the reports
bucket (with the control loop's incidents of those hours), an index of the day, and a
summary with links to the info topic."""

from datetime import timedelta
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from model_medic import aws, runtime
from model_medic.incidents import Incidents
from model_medic.observability import logger, metrics, tracer
from model_medic.report import DailyReport
from model_medic.scope import Scope
from model_medic.settings import ReportSettings, load_settings


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = load_settings(ReportSettings)
    scheduled = runtime.scheduled_or_rejected(event)
    if isinstance(scheduled, dict):
        return scheduled
    job = DailyReport(
        aws.cloudwatch(),
        aws.sagemaker(),
        aws.s3(),
        runtime.ledger(settings),
        settings.reports_bucket,
        incidents=Incidents(aws.dynamodb(), settings.ledger_table, timedelta(days=settings.ledger_retention_days)),
    )
    endpoints = Scope(aws.sagemaker(), settings.monitored_endpoints, settings.discovery_tag, aws.tagging()).endpoints()
    reports = job.build(endpoints, scheduled)
    day = reports[0].day if reports else scheduled.strftime("%Y-%m-%d")
    links = job.publish(reports, day)
    runtime.notifier(settings).inform(f"Model Medic daily report {day}", job.summary(reports, links, day))
    logger.info("daily report written", day=day, endpoints=len(reports))
    return {"day": day, "grades": {r.endpoint: r.grade for r in reports}, "written": links}
