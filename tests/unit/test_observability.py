"""The Tracer: switched off, it never imports the X-Ray SDK and its decorators still work;
switched on (in Lambda), it is the SDK's recorder with botocore patched. The metrics: each names
its function (`service`) and its stack (`stack`)."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from model_medic.platform.observability import UntracedProvider, tracer

LAYER = Path(__file__).resolve().parents[2] / "layers" / "common"

PROBE = """
import json, sys
from model_medic.platform.observability import tracer
import botocore.client
print(json.dumps({
    "xray": "aws_xray_sdk.core" in sys.modules,
    "disabled": bool(tracer.disabled),
    "provider": type(tracer.provider).__module__,
    "botocore_patched": hasattr(botocore.client, "_xray_enabled"),  # set by the SDK's botocore patch
}))
"""


def _fresh_import(environment: dict[str, str]) -> dict[str, Any]:
    # A fresh interpreter: what is imported at a cold start, not what this test session holds.
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(LAYER), "AWS_DEFAULT_REGION": "us-east-1"}
    result = subprocess.run(  # noqa: S603 - this interpreter, on the probe above
        [sys.executable, "-c", PROBE], env={**env, **environment}, capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_tracing_switched_off_does_not_import_the_xray_sdk() -> None:
    found = _fresh_import({"POWERTOOLS_TRACE_DISABLED": "true", "LAMBDA_TASK_ROOT": "/var/task"})
    assert found == {
        "xray": False,
        "disabled": True,
        "provider": "model_medic.platform.observability",
        "botocore_patched": False,
    }


def test_outside_lambda_tracing_is_off_without_the_sdk() -> None:
    assert _fresh_import({})["xray"] is False


def test_tracing_on_in_lambda_uses_the_xray_recorder_and_patches_botocore() -> None:
    found = _fresh_import({"LAMBDA_TASK_ROOT": "/var/task"})
    assert found["xray"] is True
    assert found["disabled"] is False
    assert found["provider"].startswith("aws_xray_sdk")
    assert found["botocore_patched"] is True


def test_the_untraced_handler_decorator_returns_and_raises_like_the_handler() -> None:
    assert isinstance(tracer.provider, UntracedProvider)

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if event.get("fail"):
            raise ValueError("bad event")
        return {"echo": event["value"]}

    @tracer.capture_method
    def step(value: int) -> int:
        return value + 1

    assert handler({"value": 3}, None) == {"echo": 3}
    assert step(1) == 2
    with pytest.raises(ValueError, match="bad event"):
        handler({"fail": True}, None)


ROOT = LAYER.parents[1]
HANDLER_ENV = {
    "POWERTOOLS_SERVICE_NAME": "compute-metrics",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "LEDGER_TABLE": "ledger",
    "INFO_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:info",
    "CRITICAL_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:critical",
    "MONITORED_ENDPOINTS": "churn-prod",
}


def _emf(stdout: str) -> list[dict[str, Any]]:
    """The embedded-metric-format records among a process's output lines."""
    records = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    return [record for record in records if "_aws" in record]


def _metric_dimensions(record: dict[str, Any]) -> dict[str, str]:
    [directive] = record["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "ModelMedic"
    [names] = directive["Dimensions"]
    return {name: record[name] for name in names}


def _rejected_by_a_function(stack: str, tmp_path: Path) -> list[dict[str, Any]]:
    """ComputeMetricsFunction's handler, decorators and all, at a cold start of its own
    (localcloud/runner.py) with the stack's environment, given an event it turns away (counted as
    RejectedEvents, no AWS call): the EMF records it wrote."""
    request, result = tmp_path / f"{stack}.json", tmp_path / f"{stack}-result.json"
    request.write_text(
        json.dumps(
            {
                "paths": [str(ROOT / "functions" / "compute_metrics"), str(LAYER)],
                "handler": "app.lambda_handler",
                "event": {"not": "a schedule"},
                "at": "2026-11-22T10:00:00+00:00",
                "function_name": "ComputeMetricsFunction",
                "request_id": "request-1",
                "timeout": 30,
                "memory": 256,
            }
        )
    )
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), **HANDLER_ENV, "STACK_NAME": stack}
    done = subprocess.run(  # noqa: S603 - this interpreter, on the project's own runner
        [sys.executable, "-m", "localcloud.runner", str(request), str(result)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    answer = json.loads(result.read_text())
    assert answer["result"]["rejected"], (answer, done.stderr)
    assert answer["calls"] == []
    return _emf(done.stdout)


def test_a_functions_metrics_carry_its_service_and_its_stack_so_each_stack_has_its_own_series(tmp_path: Path) -> None:
    # Two stacks in one account and Region: the same metric, two series (a series is its
    # namespace, name and full set of dimensions).
    series = set()
    for stack in ("stack-a", "stack-b"):
        [record] = _rejected_by_a_function(stack, tmp_path)
        assert record["RejectedEvents"] == [1.0]
        dimensions = _metric_dimensions(record)
        assert dimensions == {"service": "compute-metrics", "stack": stack}
        series.add(json.dumps(sorted(dimensions.items())))
    assert len(series) == 2


ENDPOINT_METRIC = """
from model_medic.measure.endpoint_problems import endpoint_metric
endpoint_metric("DriftNotMeasured", "churn-prod", 1)
"""


def test_an_endpoint_metric_carries_the_endpoint_the_service_and_the_stack() -> None:
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(LAYER), **HANDLER_ENV, "STACK_NAME": "stack-a"}
    done = subprocess.run(  # noqa: S603 - this interpreter, on the probe above
        [sys.executable, "-c", ENDPOINT_METRIC], env=env, capture_output=True, text=True, check=True
    )
    [record] = _emf(done.stdout)
    assert record["DriftNotMeasured"] == [1.0]
    assert _metric_dimensions(record) == {
        "EndpointName": "churn-prod",
        "service": "compute-metrics",
        "stack": "stack-a",
    }
