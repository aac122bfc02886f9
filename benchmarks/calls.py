"""Counting the AWS calls a benchmark makes, by operation, and printing them."""

import importlib.util
import inspect
import os
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from botocore.client import BaseClient

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def counting_calls() -> Iterator[Counter[str]]:
    """Every botocore API call made inside the block, counted by operation name."""
    calls: Counter[str] = Counter()
    original = BaseClient._make_api_call

    def counting(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        calls[operation] += 1
        return original(self, operation, params)

    BaseClient._make_api_call = counting
    try:
        yield calls
    finally:
        BaseClient._make_api_call = original


def moto_environment(**extra: str) -> None:
    """What a benchmark of our functions in moto needs in the environment (unless given)."""
    for key, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "ModelMedic",
        "POWERTOOLS_SERVICE_NAME": "bench",
        **extra,
    }.items():
        os.environ.setdefault(key, value)


def print_runs(size: int, rows: list[tuple[str, Counter[str], float]]) -> None:
    """A markdown table of runs: the calls of each operation, the total and the wall time."""
    operations = sorted({op for _, calls, _ in rows for op in calls})
    print(f"### {size} endpoints\n")
    print("| run | " + " | ".join(operations) + " | total | wall time |")
    print("|---|" + "---:|" * (len(operations) + 2))
    for label, calls, elapsed in rows:
        counts = " | ".join(str(calls.get(op, 0)) for op in operations)
        print(f"| {label} | {counts} | {sum(calls.values())} | {elapsed:.2f} s |")
    print()


def handler(function: str) -> Callable[[Any, Any], dict[str, Any]]:
    """functions/<function>/app.py's handler without its Powertools decorators (no Lambda context
    is needed): the handler's own pipeline, as a benchmark measures it."""
    spec = importlib.util.spec_from_file_location(f"bench_{function}_app", ROOT / "functions" / function / "app.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    found: Callable[[Any, Any], dict[str, Any]] = inspect.unwrap(module.lambda_handler)
    return found
