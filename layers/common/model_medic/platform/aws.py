"""Lazily created, cached boto3 clients sharing one retry configuration.

Clients are never made at import time: a client created before moto starts is not
mocked, and one created without a region fails. Tests call `reset()` between tests.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from functools import cache
from typing import TYPE_CHECKING, Any, cast

import boto3
from aws_lambda_powertools.utilities.parameters import SSMProvider
from botocore import exceptions as boto_errors
from botocore.config import Config
from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_application_autoscaling import ApplicationAutoScalingClient
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_resourcegroupstaggingapi import ResourceGroupsTaggingAPIClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_ssm import SSMClient

# Standard retry mode: exponential backoff with jitter on throttling and 5xx, 3 attempts.
BOTO_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=20)


# Presigned report links use Signature Version 4 (the only one S3 accepts in newer Regions). A
# presigned link dies with the temporary credentials that signed it, whatever its ExpiresIn:
# report/summary.py asks for one hour (PRESIGNED_SECONDS) and says so.
_S3_SIGV4 = BOTO_CONFIG.merge(Config(signature_version="s3v4"))
# On AWS, S3's Regional endpoint, virtual-hosted: `https://<bucket>.s3.<region>.<partition's
# domain>/<key>`, us-east-1's too. botocore presigns for the global `<bucket>.s3.amazonaws.com`
# otherwise, which S3 answers with 400 Bad Request for a bucket in a Region launched after March
# 20, 2019, and with a 307 redirect for up to 24 hours after a bucket's creation in the others
# (docs/aws-behaviours.md, "S3, SNS, KMS and IAM details"). A bucket name with dots still gets a
# path-style URL on the Regional endpoint (botocore's rule: a virtual host would break TLS).
_S3_REGIONAL = _S3_SIGV4.merge(Config(s3={"addressing_style": "virtual", "us_east_1_regional_endpoint": "regional"}))


@cache
def _session() -> boto3.session.Session:
    # One session for every client: it loads each service model once (a fresh session per
    # client parses botocore's JSON models again, the largest part of creating a client).
    return boto3.session.Session()


@cache
def _client(service: str) -> Any:
    if service == "s3":
        return _s3_client()
    return _session().client(service, config=BOTO_CONFIG)


def _s3_client() -> Any:
    """S3 on its Regional endpoint (`_S3_REGIONAL`), or, where an endpoint URL is configured
    (AWS_ENDPOINT_URL: the local cloud), there as before: path-style, as botocore addresses an
    endpoint of one's own (a virtual host `<bucket>.host.docker.internal` would not resolve)."""
    regional = _session().client("s3", config=_S3_REGIONAL)
    on_aws = _session().client("s3", config=_S3_REGIONAL.merge(Config(ignore_configured_endpoint_urls=True)))
    if regional.meta.endpoint_url == on_aws.meta.endpoint_url:
        return regional
    return _session().client("s3", config=_S3_SIGV4)


def sagemaker() -> SageMakerClient:
    return cast("SageMakerClient", _client("sagemaker"))


def autoscaling() -> ApplicationAutoScalingClient:
    return cast("ApplicationAutoScalingClient", _client("application-autoscaling"))


def cloudwatch() -> CloudWatchClient:
    return cast("CloudWatchClient", _client("cloudwatch"))


def dynamodb() -> DynamoDBClient:
    return cast("DynamoDBClient", _client("dynamodb"))


def sns() -> SNSClient:
    return cast("SNSClient", _client("sns"))


def events() -> EventBridgeClient:
    return cast("EventBridgeClient", _client("events"))


def ssm() -> SSMClient:
    return cast("SSMClient", _client("ssm"))


def sqs() -> SQSClient:
    """The data jobs' queues (`measure/fanout.py`: the hourly run hands the endpoints out), and
    `model-medic backtest`, which reads the pages of its simulation."""
    return cast("SQSClient", _client("sqs"))


def s3() -> S3Client:
    return cast("S3Client", _client("s3"))


def cloudformation() -> CloudFormationClient:
    """For `model-medic status`, which finds a deployed stack (no function calls it)."""
    return cast("CloudFormationClient", _client("cloudformation"))


def lambda_() -> LambdaClient:
    """For `model-medic status`, which reads the deployed functions' settings (no function calls it)."""
    return cast("LambdaClient", _client("lambda"))


def tagging() -> ResourceGroupsTaggingAPIClient:
    """The Resource Groups Tagging API: tags of many resources in one paginated call."""
    return cast("ResourceGroupsTaggingAPIClient", _client("resourcegroupstaggingapi"))


@cache
def ssm_parameters() -> SSMProvider:
    """Powertools' SSM provider on our client; its cache outlives an invocation, by design."""
    return SSMProvider(boto3_client=ssm())


def reset(session: bool = False) -> None:
    """Forget every cached client (tests: after moto starts or the environment changes); with
    `session`, the session too: a client of a session made before moto was imported is not
    mocked by it, and one made with other credentials or endpoints keeps them (the backtest)."""
    _client.cache_clear()
    ssm_parameters.cache_clear()
    if session:
        _session.cache_clear()


# Errors that go away by themselves (throttling, AWS's own faults, another change to the same
# resource under way); anything else that AWS answers with a 4xx (validation, access denied,
# not found) is permanent for this input. Application Auto Scaling's InternalServiceException and
# ConcurrentUpdateException are server faults in AWS's own model, listed by code whatever HTTP
# status they come with (docs/aws-behaviours.md, "Application Auto Scaling").
_TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "SlowDown",
        "RequestTimeout",
        "RequestTimeTooSkewed",
        "ServiceUnavailable",
        "InternalFailure",
        "InternalServerError",
        "InternalError",
        "InternalServiceError",
        "InternalServiceException",
        "ConcurrentUpdateException",
        # The codes as botocore raises them (the services' models; docs/aws-behaviours.md,
        # "Transient or permanent"): SNS answers a throttle with `Throttled` (HTTP 429) and, on a
        # topic encrypted with KMS, `KMSThrottling`; SQS with `KmsThrottled` (its legacy code
        # `KMS.ThrottlingException`); DynamoDB refuses a single write on an item inside an ongoing
        # transaction with `TransactionConflictException`; the rest are throttles and timeouts
        # botocore's own retries know.
        "Throttled",
        "KMSThrottling",
        "KmsThrottled",
        "KMS.ThrottlingException",
        "TransactionConflictException",
        "BandwidthLimitExceeded",
        "PriorRequestNotComplete",
        "RequestTimeoutException",
    }
)

# Another change to the same resource is under way: Application Auto Scaling's
# ConcurrentUpdateException ("a pending update"); SageMaker's is a ValidationException that says
# so in its message (`Cannot update in-progress endpoint`).
_BUSY_CODES = frozenset({"ConcurrentUpdateException"})
_BUSY_MESSAGES = ("in-progress", "in progress", "Updating")

# A transaction cancelled for these reasons (TransactionCanceledException's CancellationReasons)
# is cancelled by a concurrent writer or a throttle, not by its own content.
_TRANSIENT_CANCELLATIONS = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})

# Errors raised before or beside a request that go away by themselves: the connection and read
# failures botocore's own retries treat as transient, a response cut short or garbled on the
# way, the client's retry quota spent, credentials not fetched this time. Every other
# BotoCoreError is the caller's input or setup - a parameter the model refuses
# (ParamValidationError), no credentials or Region - and fails the same way every time.
_TRANSIENT_LOCAL = (
    boto_errors.ConnectionError,
    boto_errors.HTTPClientError,
    boto_errors.IncompleteReadError,
    boto_errors.ChecksumError,
    boto_errors.FlexibleChecksumError,
    boto_errors.CapacityNotAvailableError,
    boto_errors.CredentialRetrievalError,
    boto_errors.MetadataRetrievalError,
)


def is_transient(error: Exception) -> bool:
    """Throttling (HTTP 429 or a throttling code), AWS's own faults (5xx), a transaction cancelled
    by a concurrent one or a throttle, and network errors: try again later. Bad input (a request
    the model refuses, a 4xx validation or access error) is permanent: trying again fails again."""
    if isinstance(error, ClientError):
        found = error.response.get("Error", {})
        codes = {found.get("Code", ""), found.get("QueryErrorCode", "")}
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        return bool(codes & _TRANSIENT_CODES) or status == 429 or status >= 500 or _cancelled_by_others(error)
    return isinstance(error, _TRANSIENT_LOCAL)


def _cancelled_by_others(error: ClientError) -> bool:
    """A transaction cancelled by a concurrent writer or a throttle on some of its items (its other
    items passing, or failing only their conditions): trying again decides it."""
    if error_code(error) != "TransactionCanceledException":
        return False
    reasons = {str(r.get("Code")) for r in error.response.get("CancellationReasons", [])}
    return bool(reasons & _TRANSIENT_CANCELLATIONS) and reasons <= _TRANSIENT_CANCELLATIONS | {
        "None",
        "ConditionalCheckFailed",
    }


def is_busy(error: ClientError) -> bool:
    """Another change to the resource got there first: wait for it and look again, neither a
    permanent error nor a failed invocation (docs/aws-behaviours.md, "Application Auto Scaling")."""
    message = str(error.response.get("Error", {}).get("Message", ""))
    return error_code(error) in _BUSY_CODES or any(words in message for words in _BUSY_MESSAGES)


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


# The in-place retries of one write (`persist`): a transaction sent again within them carries the
# same ClientRequestToken (`store/table.py`), so DynamoDB takes a repeat of one that went through
# as that one, not as a second that fails its own conditions. Outside them, each call has its own.
_RETRIES: ContextVar[str | None] = ContextVar("model_medic_retries", default=None)


def retries() -> str | None:
    """The id of the `persist` whose write is running (None outside one)."""
    return _RETRIES.get()


def persist[T](write: Callable[[], T], attempts: int = 5) -> T:
    """A bookkeeping write that follows a change: retried here on transient errors.

    Once an AWS change is made, failing the invocation over the write that records it
    would leave the retry to find out what happened; retrying the write in place (boto's
    own retries spent) makes the common case - one throttled call - simply succeed. A
    transaction sent again here is the same transaction to DynamoDB (`retries`).
    """
    scope = _RETRIES.set(_RETRIES.get() or uuid.uuid4().hex)
    try:
        for attempt in range(attempts):
            try:
                return write()
            except ClientError as error:
                if not is_transient(error) or attempt == attempts - 1:
                    raise
                time.sleep(0.05 * 2**attempt)
        raise AssertionError("unreachable")
    finally:
        _RETRIES.reset(scope)


def describe_endpoint(sagemaker: SageMakerClient, name: str) -> tuple[dict[str, Any] | None, str | None]:
    """DescribeEndpoint, or the permanent problem that stops it (the endpoint does not exist)."""
    try:
        return cast("dict[str, Any]", sagemaker.describe_endpoint(EndpointName=name)), None
    except ClientError as error:
        if is_transient(error):
            raise
        return None, f"{error_code(error)}: {error.response.get('Error', {}).get('Message', '')}"


def sagemaker_tags(sagemaker: SageMakerClient, arn: str) -> dict[str, str]:
    """A SageMaker resource's tags, from every page of ListTags: a page holds at most 50, and a
    resource may carry more (AWS's own `aws:` tags are beyond the 50 of its owner's), so a tag
    on a second page is no less its (docs/aws-behaviours.md, "SageMaker APIs")."""
    tags: dict[str, str] = {}
    for page in sagemaker.get_paginator("list_tags").paginate(ResourceArn=arn):
        tags.update({t["Key"]: t["Value"] for t in page.get("Tags", [])})
    return tags
