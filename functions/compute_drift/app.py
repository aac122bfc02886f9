"""ComputeDriftFunction: every hour, PSI and KS of each feature of the last hour of captured
inputs against the training baseline, for every endpoint in scope (named in EndpointNames or
carrying the discovery tag); or, on a "build-baseline" event, the baseline of one endpoint in
scope."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from model_medic import aws, runtime
from model_medic.drift import BaselineError, ComputeDrift
from model_medic.observability import logger, metrics, tracer
from model_medic.scope import Scope
from model_medic.settings import DriftSettings, load_settings


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = load_settings(DriftSettings)
    job = ComputeDrift(
        aws.s3(),
        aws.cloudwatch(),
        settings.capture_s3_uri,
        settings.baseline_s3_uri,
        settings.drift_min_rows,
        settings.baseline_label_column,
        settings.features_attribute,
    )
    if isinstance(event, dict) and "build-baseline" in event:
        request = event["build-baseline"] if isinstance(event["build-baseline"], dict) else {}
        endpoint = str(request.get("endpoint", ""))
        if not endpoint:
            return {"rejected": ["build-baseline needs an endpoint in scope, got ''"]}
        # A named endpoint costs no call; any other, its tags (DescribeEndpoint and ListTags).
        in_scope, why = _scope(settings).contains(endpoint)
        if not in_scope:
            return {"rejected": [f"build-baseline needs an endpoint in scope: {why}"]}
        label = request.get("label-column")
        try:
            uri = job.build(endpoint, label_column=None if label is None else str(label))
        except BaselineError as error:
            logger.error("baseline not built", endpoint=endpoint, error=str(error))
            return {"rejected": [f"baseline of {endpoint} not built: {error}"]}
        logger.info("baseline built", endpoint=endpoint, baseline=uri)
        return {"baseline": uri}
    scheduled = runtime.scheduled_or_rejected(event, "expected a Scheduled Event or a build-baseline event")
    if isinstance(scheduled, dict):
        return scheduled
    endpoints = _scope(settings).endpoints()  # one batched read (scope.fleet)
    return job.run(endpoints, scheduled, runtime.ledger(settings), runtime.notifier(settings))


def _scope(settings: DriftSettings) -> Scope:
    return Scope(aws.sagemaker(), settings.monitored_endpoints, settings.discovery_tag, aws.tagging())
