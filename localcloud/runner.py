"""Runs one function handler the way Lambda would, in this process, at an injected time.

`python -m localcloud.runner REQUEST.json RESULT.json`: the request names the code
directory, the handler ("app.lambda_handler"), the event and the time to run at; the
environment (the deployed function's variables, plus AWS_ENDPOINT_URL of the local
cloud) is this process's. The result file receives {"result": ...} or {"error": ...}.
Logs go to stdout, as in Lambda.

The time is shifted with time-machine (and keeps ticking), so cool-downs and bake times
pass without sleeping. Every AWS call the handler makes is listed in the result
(`"calls": ["sagemaker:DescribeEndpoint", ...]`, botocore's service name and operation), so
the local cloud can hold each function's calls against its role's permissions.
"""

import importlib
import json
import sys
import traceback
from datetime import datetime
from pathlib import Path
from typing import Any

import time_machine
from botocore.client import BaseClient


class Context:
    """The parts of a Lambda context that Powertools and the gates read."""

    def __init__(self, function_name: str, request_id: str) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 256
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def record_calls() -> set[str]:
    """Every API call of every botocore client of this process, from now on."""
    calls: set[str] = set()
    original = BaseClient._make_api_call

    def recording(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        calls.add(f"{self.meta.service_model.service_name}:{operation}")
        return original(self, operation, params)

    BaseClient._make_api_call = recording
    return calls


def main() -> int:
    request = json.loads(Path(sys.argv[1]).read_text())
    calls = record_calls()
    result_path = Path(sys.argv[2])
    for path in reversed(request["paths"]):
        sys.path.insert(0, path)
    module_name, function_name = request["handler"].rsplit(".", 1)
    outcome: dict[str, Any]
    with time_machine.travel(datetime.fromisoformat(request["at"]), tick=True):
        try:
            handler = getattr(importlib.import_module(module_name), function_name)
            result = handler(request["event"], Context(request["function_name"], request["request_id"]))
            outcome = {"result": result}
        except Exception as error:  # noqa: BLE001 - reported to the caller as Lambda would
            outcome = {"error": f"{type(error).__name__}: {error}", "trace": traceback.format_exc()}
    outcome["calls"] = sorted(calls)
    result_path.write_text(json.dumps(outcome, default=str))
    return 0 if "result" in outcome else 1


if __name__ == "__main__":
    sys.exit(main())
