"""RollbackModelFunction: a ModelAccuracyDrop incident puts the previous good model back,
verified on the endpoint and the alarm; "SageMaker Endpoint State Change" events keep the
deployment history."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from model_medic import runtime
from model_medic.gates import utc_now
from model_medic.observability import logger, metrics, tracer
from model_medic.rollback import RollbackModel, record_deployment
from model_medic.settings import RollbackSettings, load_settings


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    def deployment(received: Any) -> dict[str, Any] | None:
        return record_deployment(runtime.ledger(load_settings(RollbackSettings)), received, utc_now())

    return runtime.handle(RollbackModel, event, context, on_event=deployment)
