"""The Tracer: switched off, it never imports the X-Ray SDK and its decorators still work;
switched on (in Lambda), it is the SDK's recorder with botocore patched."""

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
