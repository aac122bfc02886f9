"""A problem of one endpoint's measure that a person must fix: told once, logged and counted every time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from botocore.exceptions import BotoCoreError, ClientError

from model_medic.platform import aws
from model_medic.platform.observability import METRICS_NAMESPACE, logger, metrics
from model_medic.tell.notices import Said
from model_medic.tell.outcome import Outcome

if TYPE_CHECKING:
    from model_medic.measure.drift import EndpointDrift
    from model_medic.tell.notices import Notices


class EndpointProblem(Exception):
    """Something about one endpoint that a person must fix; the other endpoints go on.

    `status`: bad-baseline, unreadable or shape-mismatch; `notice`: the tell-once key (a
    person hears of it once per endpoint and key).
    """

    def __init__(self, status: str, notice: str, message: str, measured: EndpointDrift | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.notice = notice
        self.message = message
        self.measured = measured  # what was read before the problem showed, if anything


def tell_problem(
    notices: Notices,
    function: str,
    what: str,
    endpoint: str,
    problem: EndpointProblem,
    hour: datetime,
    at: datetime,
) -> None:
    """A problem of one endpoint: logged and counted every time (metric
    `<What>NotMeasured`, per endpoint); a ledger entry and a critical message once per
    endpoint and notice key, written together (`tell/notices.py`)."""
    metric = "".join(word.capitalize() for word in what.split()) + "NotMeasured"
    logger.error("not measured", measure=what, endpoint=endpoint, status=problem.status, problem=problem.message)
    endpoint_metric(metric, endpoint, 1)
    decision = Outcome(
        action=f"measure-{what.replace(' ', '-')}",
        endpoint=endpoint,
        result="skipped",
        reason=problem.message,
        mode="-",
        alarm_name=function,
        alarm_arn=f"model-medic:{what.replace(' ', '-')}:{endpoint}",
        transition=f"{problem.notice}|{hour.isoformat()}",
        state=problem.status,
        at=at.astimezone(UTC).isoformat(),
        gate="precondition",
    )
    said = Said(
        "alert",
        f"Model Medic: {what} of {endpoint} is not measured ({problem.status})",
        f"{function} could not measure the {what} of {endpoint} for {hour:%Y-%m-%d %H}:00 UTC: "
        f"{problem.message}\n\nThe other endpoints are still measured. This message is sent once for "
        f"this problem; the function logs it every hour and counts it in the ModelMedic {metric} metric.",
        decision,
    )
    notices.tell_once(endpoint, problem.notice, at, said)


def endpoint_metric(name: str, endpoint: str, value: float) -> None:
    """A ModelMedic metric with the endpoint as a dimension (so an alarm can watch one endpoint),
    besides the function's and the stack's, as every metric of the layer (`observability.py`)."""
    with single_metric(
        name=name,
        unit=MetricUnit.Count,
        value=value,
        namespace=METRICS_NAMESPACE,
        default_dimensions=metrics.default_dimensions,
    ) as metric:
        metric.add_dimension(name="EndpointName", value=endpoint)


# The services a data job reads and writes, by the operations it calls: a refusal names the one that refused.
_SERVICES = {
    **dict.fromkeys(("GetObject", "HeadObject", "ListObjectsV2", "PutObject"), "S3"),
    **dict.fromkeys(("GetItem", "PutItem", "Query", "DeleteItem", "UpdateItem", "TransactWriteItems"), "DynamoDB"),
    **dict.fromkeys(("PutMetricData", "GetMetricData"), "CloudWatch"),
}


def aws_refused(function: str, error: ClientError | BotoCoreError) -> str:
    """What a permanent AWS refusal says, naming the service by the operation refused. S3's
    AccessDenied names the stack parameters that grant reading another team's bucket and key (the
    stack cannot know every bucket an endpoint captures to)."""
    operation = error.operation_name if isinstance(error, ClientError) else ""
    service = _SERVICES.get(operation, "AWS")
    said = f"{service} refused {function}: {error}"
    if service == "S3" and isinstance(error, ClientError) and aws.error_code(error) == "AccessDenied":
        said += (
            ". A bucket outside the stack's own data locations must be listed in its DataBucketArns, and the "
            "KMS key of SSE-KMS data in its DataKmsKeyArns"
        )
    return said
