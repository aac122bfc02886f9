"""Lazily created, cached boto3 clients sharing one retry configuration.

Clients are never made at import time: a client created before moto starts is not
mocked, and one created without a region fails. Tests call `reset()` between tests.
"""

from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools.utilities.parameters import SSMProvider
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_application_autoscaling import ApplicationAutoScalingClient
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_ssm import SSMClient

# Standard retry mode: exponential backoff with jitter on throttling and 5xx, 3 attempts.
BOTO_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=20)


@cache
def _client(service: str) -> Any:
    return boto3.session.Session().client(service, config=BOTO_CONFIG)  # type: ignore[call-overload]


def sagemaker() -> "SageMakerClient":
    return _client("sagemaker")  # type: ignore[no-any-return]


def autoscaling() -> "ApplicationAutoScalingClient":
    return _client("application-autoscaling")  # type: ignore[no-any-return]


def cloudwatch() -> "CloudWatchClient":
    return _client("cloudwatch")  # type: ignore[no-any-return]


def dynamodb() -> "DynamoDBClient":
    return _client("dynamodb")  # type: ignore[no-any-return]


def sns() -> "SNSClient":
    return _client("sns")  # type: ignore[no-any-return]


def events() -> "EventBridgeClient":
    return _client("events")  # type: ignore[no-any-return]


def ssm() -> "SSMClient":
    return _client("ssm")  # type: ignore[no-any-return]


def s3() -> "S3Client":
    return _client("s3")  # type: ignore[no-any-return]


@cache
def ssm_parameters() -> SSMProvider:
    """Powertools' SSM provider on our client; its cache outlives an invocation, by design."""
    return SSMProvider(boto3_client=ssm())


def reset() -> None:
    """Forget every cached client (tests: after moto starts or the environment changes)."""
    _client.cache_clear()
    ssm_parameters.cache_clear()
