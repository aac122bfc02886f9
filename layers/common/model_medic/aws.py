"""Lazily created, cached boto3 clients sharing one retry configuration.

Clients are never made at import time: a client created before moto starts is not
mocked, and one created without a region fails. Tests call `reset()` between tests.
"""

from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools.utilities.parameters import SSMProvider
from botocore.config import Config

# Standard retry mode: exponential backoff with jitter on throttling and 5xx, 3 attempts.
BOTO_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=20)


# Presigned report links use Signature Version 4 (the only one S3 accepts in newer Regions). A
# presigned link dies with the temporary credentials that signed it, whatever its ExpiresIn:
# report.py asks for one hour and says so.
_SERVICE_CONFIG = {"s3": BOTO_CONFIG.merge(Config(signature_version="s3v4"))}


@cache
def _client(service: str) -> Any:
    return boto3.session.Session().client(service, config=_SERVICE_CONFIG.get(service, BOTO_CONFIG))  # type: ignore[call-overload]


def sagemaker() -> Any:
    return _client("sagemaker")


def autoscaling() -> Any:
    return _client("application-autoscaling")


def cloudwatch() -> Any:
    return _client("cloudwatch")


def dynamodb() -> Any:
    return _client("dynamodb")


def sns() -> Any:
    return _client("sns")


def events() -> Any:
    return _client("events")


def ssm() -> Any:
    return _client("ssm")


def s3() -> Any:
    return _client("s3")


@cache
def ssm_parameters() -> SSMProvider:
    """Powertools' SSM provider on our client; its cache outlives an invocation, by design."""
    return SSMProvider(boto3_client=ssm())


def reset() -> None:
    """Forget every cached client (tests: after moto starts or the environment changes)."""
    _client.cache_clear()
    ssm_parameters.cache_clear()
