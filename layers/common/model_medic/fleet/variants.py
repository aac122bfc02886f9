"""Which variants an endpoint has (for its canary's alarms): read in its turn or in doubt, else told by its alarms."""

from __future__ import annotations

import zlib
from collections.abc import Collection
from functools import partial
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from model_medic.fleet.alarm_catalog import EndpointWatch
from model_medic.fleet.patience import Patience
from model_medic.platform import aws

if TYPE_CHECKING:
    from datetime import datetime

    from mypy_boto3_sagemaker import SageMakerClient

NONE: frozenset[str] = frozenset()
TICK_SECONDS = 15 * 60  # AlarmManagerSchedule: rate(15 minutes)
REREAD_TICKS = 4  # an endpoint's variants are read at least once every 4 ticks: hourly


class EndpointVariants:
    """One endpoint's variants, as SageMaker describes them."""

    def __init__(self, sagemaker: SageMakerClient, patience: Patience) -> None:
        self._sagemaker = sagemaker
        self._patience = patience

    def of(self, endpoint: str) -> frozenset[str]:
        """The names of the endpoint's production variants (DescribeEndpoint); none when it does
        not exist (yet: a named endpoint)."""
        try:
            described = self._patience.call(
                "DescribeEndpoint", partial(self._sagemaker.describe_endpoint, EndpointName=endpoint)
            )
        except ClientError as error:
            if aws.is_transient(error):
                raise
            return NONE
        return frozenset(v["VariantName"] for v in described.get("ProductionVariants", []))


def reread_now(endpoint: str, at: datetime) -> bool:
    """Whether the tick at `at` reads the endpoint's variants again. Each endpoint has its turn
    once every `REREAD_TICKS` ticks of the 15-minute schedule (by a stable digest of its name),
    so a change that no state change event told of (a lost event, an alarm deleted by hand) is
    seen within the hour, at a quarter of the fleet's DescribeEndpoint calls a tick."""
    tick = round(at.timestamp() / TICK_SECONDS)
    return zlib.crc32(endpoint.encode()) % REREAD_TICKS == tick % REREAD_TICKS


def held(watch: EndpointWatch, owned: Collection[str], unaccounted: Collection[str]) -> frozenset[str] | None:
    """The variants the endpoint's alarms say it has - its canary when both canary alarms are
    held, none when neither is - or None when they cannot say: an alarm of its own is missing
    (it is new to scope, or a run was cut short: the canary's alarms are put before the
    endpoint's own, `EndpointWatch.requests`), one of the two canary alarms is, or the stack
    holds an alarm named after the endpoint that no endpoint in scope accounts for (its canary
    variant's name changed; or an endpoint whose name starts with this one's left scope)."""
    if any(alarm["AlarmName"] not in owned for alarm in watch.alarms):
        return None
    prefix = f"{watch.endpoint}-"
    if any(name.startswith(prefix) for name in unaccounted):
        return None
    canary = sum(name in owned for name in watch.canary_names)
    if canary == len(watch.canary_names):
        return frozenset({watch.canary_variant})
    return NONE if canary == 0 else None
