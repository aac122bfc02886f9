"""The local cloud's warm runner (localcloud/runner.py, `--serve`): each invocation a cold start in
a process of its own, with exactly its own environment, output and time."""

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localcloud.cloud import ROOT
from localcloud.runner import WarmRunner

AT = "2026-11-22T10:00:00+00:00"
HANDLER = """
import os
import sys
from datetime import UTC, datetime

SEEN = []  # module state: a warm container would keep it between invocations, a cold start not


def lambda_handler(event, context):
    SEEN.append(event)
    print("out", context.function_name)
    print("err", context.aws_request_id, file=sys.stderr)
    if event.get("fail"):
        raise ValueError("boom")
    if event.get("exit") is not None:
        sys.exit(event["exit"])
    return {
        "seen": len(SEEN),
        "pid": os.getpid(),
        "served": sys.argv[1:] == ["--serve"],  # forked from the warm process, or a new interpreter
        "now": datetime.now(UTC).isoformat(),
        "left": context.get_remaining_time_in_millis(),
        "memory": context.memory_limit_in_mb,
        "env": {name: os.environ.get(name) for name in ("ONLY_HERE", "POWERTOOLS_DEBUG", "HOME")},
    }
"""


@pytest.fixture(scope="module")
def runner() -> Iterator[WarmRunner]:
    warm = WarmRunner(str(ROOT))
    yield warm
    warm.close()


def invoke(runner: WarmRunner, work: Path, event: dict[str, Any], **env: str) -> tuple[dict[str, Any], str, str]:
    (work / "app.py").write_text(HANDLER)
    request, result = work / "request.json", work / "result.json"
    result.unlink(missing_ok=True)
    request.write_text(
        json.dumps(
            {
                "paths": [str(work)],
                "handler": "app.lambda_handler",
                "event": event,
                "at": AT,
                "function_name": "TestFunction",
                "request_id": "request-1",
                "timeout": 30,
                "memory": 512,
            }
        )
    )
    environment = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), **env}
    stdout, stderr = runner.run(request, result, environment)
    answer = json.loads(result.read_text()) if result.exists() else {}
    return answer, stdout, stderr


def test_each_invocation_is_a_cold_start_with_exactly_its_environment_its_output_and_its_time(
    runner: WarmRunner, tmp_path: Path
) -> None:
    first, out, err = invoke(runner, tmp_path, {"n": 1}, ONLY_HERE="first")
    second, _, _ = invoke(runner, tmp_path, {"n": 2}, ONLY_HERE="second")
    assert first["result"]["seen"] == second["result"]["seen"] == 1  # the handler's module imported afresh
    assert first["result"]["pid"] != second["result"]["pid"]
    assert first["result"]["served"]
    assert first["result"]["env"] == {"ONLY_HERE": "first", "POWERTOOLS_DEBUG": None, "HOME": None}
    assert second["result"]["env"]["ONLY_HERE"] == "second"
    assert first["result"]["now"].startswith("2026-11-22T10:00:")  # time-machine's clock, ticking
    # The time left counts down from the function's Timeout (30 s here), as Lambda's context does.
    assert 0 < first["result"]["left"] <= 30_000
    assert first["result"]["memory"] == 512
    assert "out TestFunction" in out
    assert "err request-1" in err
    assert first["calls"] == []  # no AWS call made, none listed


def test_an_error_is_the_result_and_an_exit_is_an_exit_as_in_a_process_of_its_own(
    runner: WarmRunner, tmp_path: Path
) -> None:
    failed, _, _ = invoke(runner, tmp_path, {"fail": True})
    assert failed["error"] == "ValueError: boom"
    assert "raise ValueError" in failed["trace"]
    exited, _, err = invoke(runner, tmp_path, {"exit": "bye"})
    assert exited == {}  # no result file: the caller reports the process's stderr
    assert "bye" in err
    again, _, _ = invoke(runner, tmp_path, {"n": 3})
    assert again["result"]["seen"] == 1  # the warm process goes on serving


def test_a_variable_powertools_reads_as_it_is_imported_gets_a_new_interpreter(
    runner: WarmRunner, tmp_path: Path
) -> None:
    answer, out, _ = invoke(runner, tmp_path, {"n": 1}, POWERTOOLS_DEBUG="1")
    assert answer["result"]["env"]["POWERTOOLS_DEBUG"] == "1"
    assert not answer["result"]["served"]
    assert answer["result"]["seen"] == 1
    assert "out TestFunction" in out
