"""The one Logger, Tracer and Metrics that every Model Medic module imports."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.tracing.base import BaseProvider, BaseSegment

# Operational metrics of the service itself (rejected events, skipped actions, ...).
# The endpoint metrics the service computes go to Custom/SageMaker instead.
METRICS_NAMESPACE = "ModelMedic"
# Every one of them carries two dimensions: `service`, the function (POWERTOOLS_SERVICE_NAME,
# which Powertools reads as the Metrics is made), and `stack`, the stack (STACK_NAME, template.yaml's
# Globals, read here likewise): each Model Medic stack in an account and Region writes series of
# its own, and its LettersNotSentAlarm and dashboards read only those.
STACK_DIMENSION = "stack"

# With tracing on, only botocore is patched: every AWS call becomes a subsegment. The default
# (patch_all) would also import and patch whatever else the X-Ray SDK supports and finds
# installed (sqlite3, httplib, requests...), none of which the functions call.
TRACED_MODULES = ("botocore",)


class _Untraced(BaseSegment):
    """The subsegment of a trace that is switched off: takes everything, keeps nothing."""

    def close(self, end_time: int | None = None) -> None:
        return None

    def add_subsegment(self, subsegment: Any) -> None:
        return None

    def remove_subsegment(self, subsegment: Any) -> None:
        return None

    def put_annotation(self, key: str, value: Any) -> None:
        return None

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        return None

    def add_exception(self, exception: BaseException, stack: Any, remote: bool = False) -> None:
        return None


class UntracedProvider(BaseProvider):
    """Tracing switched off, without the X-Ray SDK.

    Powertools' Tracer imports `aws_xray_sdk.core` even when it is disabled (its default
    provider is the SDK's recorder, whose import builds an X-Ray client for sampling rules:
    about 0.19 s of a cold start here). Given this provider instead, the disabled Tracer
    never imports the SDK; its decorators still run, on segments that record nothing.
    """

    @contextmanager
    def in_subsegment(self, name: str | None = None, **kwargs: Any) -> Iterator[BaseSegment]:
        yield _Untraced()

    @asynccontextmanager
    async def in_subsegment_async(self, name: str | None = None, **kwargs: Any) -> AsyncIterator[BaseSegment]:
        yield _Untraced()

    def put_annotation(self, key: str, value: Any) -> None:
        return None

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        return None

    def patch(self, modules: Sequence[str]) -> None:
        return None

    def patch_all(self) -> None:
        return None


def _tracer() -> Tracer:
    # Powertools' own rule decides (POWERTOOLS_TRACE_DISABLED, or not running in Lambda, or
    # SAM local): one rule, the one its Tracer would apply to itself.
    if Tracer._is_tracer_disabled():
        return Tracer(disabled=True, provider=UntracedProvider())
    return Tracer(patch_modules=TRACED_MODULES)


logger = Logger()
tracer = _tracer()
metrics = Metrics(namespace=METRICS_NAMESPACE)
if _stack := os.environ.get("STACK_NAME"):
    metrics.set_default_dimensions(**{STACK_DIMENSION: _stack})
