"""Runs one function handler the way Lambda would, in a fresh process, at an injected time.

`python -m localcloud.runner REQUEST.json RESULT.json`: the request names the code
directory, the handler ("app.lambda_handler"), the event and the time to run at; the
environment (the deployed function's variables, plus AWS_ENDPOINT_URL of the local
cloud) is this process's. The result file receives {"result": ...} or {"error": ...}.
Logs go to stdout, as in Lambda.

`python -m localcloud.runner --serve` is the same, warm: it imports the libraries every
handler imports (never the layer's package or a handler) and parses botocore's service models
once, then, for each request line on stdin (`{"request", "result", "stdout", "stderr", "env"}`),
forks a child that takes the request's environment, sends its stdout and stderr to those files
and runs the handler as above, then ends as the interpreter ends a process (threads joined,
`atexit` run, output flushed); the answer line is
{"exit": code} or {"timeout": seconds}. A child is a cold start like a new process (its
handler and `model_medic` imported afresh); it only skips the start-up work every invocation
repeated (LocalCloud.invoke keeps one per local cloud).

The time is shifted with time-machine (and keeps ticking), so cool-downs and bake times
pass without sleeping. Every AWS call the handler makes is listed in the result
(`"calls": ["sagemaker:DescribeEndpoint", ...]`, botocore's service name and operation), so
the local cloud can hold each function's calls against its role's permissions.
"""

import atexit
import functools
import gc
import importlib
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import botocore.loaders
import botocore.session
import time_machine
from botocore.client import BaseClient

# Every child's time limit, as LocalCloud.invoke gave a process of its own.
TIMEOUT_SECONDS = 120
# What the stack's functions call (the layer's typed clients): their models are parsed once.
SERVICES = (
    "application-autoscaling",
    "cloudformation",
    "cloudwatch",
    "dynamodb",
    "events",
    "lambda",
    "resourcegroupstaggingapi",
    "s3",
    "sagemaker",
    "sns",
    "sqs",
    "ssm",
)
# Third-party libraries the layer imports, imported once by the warm process (whose environment
# holds only PATH and PYTHONPATH). What Powertools reads as it is imported is IMPORT_TIME: an
# invocation whose environment sets any of it gets a new interpreter instead (`_child`).
LIBRARIES = (
    "boto3",
    "boto3.dynamodb.types",
    "pydantic",
    "pydantic_settings",
    "jinja2",
    "orjson",
    "aws_lambda_powertools",
    "aws_lambda_powertools.utilities.parameters",
    "aws_lambda_powertools.utilities.typing",
)

IMPORT_TIME = ("AWS_EXECUTION_ENV", "AWS_LAMBDA_INITIALIZATION_TYPE", "POWERTOOLS_DEBUG", "POWERTOOLS_DEV")


class Context:
    """The parts of a Lambda context that Powertools and the gates read. The time left counts down
    from the deployed function's Timeout, as Lambda's does (the handlers that stop early read it)."""

    def __init__(self, function_name: str, request_id: str, timeout: float, memory: int) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory
        self._deadline = time.monotonic() + timeout
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def record_calls() -> set[str]:
    """Every API call of every botocore client of this process, from now on."""
    calls: set[str] = set()
    original = BaseClient._make_api_call

    def recording(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        calls.add(f"{self.meta.service_model.service_name}:{operation}")
        return original(self, operation, params)

    BaseClient._make_api_call = recording
    return calls


def run(request_path: Path, result_path: Path) -> int:
    """The request's handler on its event at its time; the outcome in the result file."""
    request = json.loads(request_path.read_text())
    calls = record_calls()
    for path in reversed(request["paths"]):
        sys.path.insert(0, path)
    module_name, function_name = request["handler"].rsplit(".", 1)
    outcome: dict[str, Any]
    with time_machine.travel(datetime.fromisoformat(request["at"]), tick=True):
        try:
            handler = getattr(importlib.import_module(module_name), function_name)
            context = Context(request["function_name"], request["request_id"], request["timeout"], request["memory"])
            result = handler(request["event"], context)
            outcome = {"result": result}
        except Exception as error:  # noqa: BLE001 - reported to the caller as Lambda would
            outcome = {"error": f"{type(error).__name__}: {error}", "trace": traceback.format_exc()}
    outcome["calls"] = sorted(calls)
    result_path.write_text(json.dumps(outcome, default=str))
    return 0 if "result" in outcome else 1


def warm_up() -> None:
    """The libraries imported and the service models parsed, once, before any child is forked.

    One botocore Loader for every session (each child's too): it only reads botocore's own data
    files and caches what it parsed; no handler changes a loaded model, so sharing it changes no
    request or response. The clients made here only fill that cache; they send nothing.
    """
    botocore.session.create_loader = functools.cache(botocore.loaders.create_loader)
    for library in LIBRARIES:
        importlib.import_module(library)
    session = botocore.session.Session()
    for service in SERVICES:
        session.create_client(
            service,
            region_name="us-east-1",
            aws_access_key_id="warm-up",
            aws_secret_access_key="warm-up",  # noqa: S106 - never sent: no call is made
        )


def serve() -> int:
    """Fork a child per request line on stdin; answer each on stdout once the child has ended."""
    warm_up()
    # What is loaded stays out of the collector's sight: a child's collections would otherwise
    # touch (and so copy) every inherited object, and cost more than the start-up saved.
    gc.freeze()
    for line in sys.stdin:
        order = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _exit(_child(order))
        print(json.dumps(_wait(pid)), flush=True)
    return 0


def _exit(code: int) -> None:
    """The end of a process that ran to completion, as the interpreter's own exit does it:
    non-daemon threads joined, `atexit` callbacks run, stdout and stderr flushed; the inherited
    objects are left to the kernel instead of being freed one by one."""
    try:
        for thread in threading.enumerate():
            if thread is not threading.main_thread() and not thread.daemon:
                thread.join()
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)


def _child(order: dict[str, Any]) -> int:
    os.environ.clear()
    os.environ.update(order["env"])
    for fd, path, flags in (
        (0, os.devnull, os.O_RDONLY),
        (1, order["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
        (2, order["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
    ):
        opened = os.open(path, flags, 0o600)
        os.dup2(opened, fd)
        os.close(opened)
    if any(name in os.environ for name in IMPORT_TIME):  # what was imported here would not have seen it
        os.execv(sys.executable, [sys.executable, "-m", "localcloud.runner", order["request"], order["result"]])  # noqa: S606
    try:
        return run(Path(order["request"]), Path(order["result"]))
    except SystemExit as exiting:  # what the interpreter makes of `sys.exit` in a process of its own
        if exiting.code is None or isinstance(exiting.code, int):
            return exiting.code or 0
        print(exiting.code, file=sys.stderr)
        return 1
    except BaseException:  # noqa: BLE001 - reported on stderr with exit code 1, as the interpreter does
        traceback.print_exc()
        return 1


def _wait(pid: int) -> dict[str, Any]:
    """The child's exit code, or - past TIMEOUT_SECONDS - the child killed."""
    deadline = time.monotonic() + TIMEOUT_SECONDS
    ended = os.pidfd_open(pid) if hasattr(os, "pidfd_open") else None
    try:
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return {"exit": os.waitstatus_to_exitcode(status)}
            left = deadline - time.monotonic()
            if left <= 0:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return {"timeout": TIMEOUT_SECONDS}
            if ended is not None:
                select.select([ended], [], [], left)
            else:
                time.sleep(min(left, 0.005))
    finally:
        if ended is not None:
            os.close(ended)


class WarmRunner:
    """The caller's side of `--serve`: one warm process, started at the first `run`, ended by `close`."""

    def __init__(self, pythonpath: str) -> None:
        self._pythonpath = pythonpath
        self._process: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()

    def run(self, request: Path, result: Path, env: dict[str, str]) -> tuple[str, str]:
        """The request run in a child with exactly `env`; its stdout and stderr. Raises
        subprocess.TimeoutExpired past TIMEOUT_SECONDS, as a process of its own did."""
        with self._lock, tempfile.TemporaryDirectory() as work:
            out, err = Path(work) / "stdout", Path(work) / "stderr"
            order = {"request": str(request), "result": str(result), "stdout": str(out), "stderr": str(err)}
            process = self._started()
            orders, answers = _pipes(process)
            orders.write(json.dumps({**order, "env": env}) + "\n")
            orders.flush()
            line = answers.readline()
            if not line:
                raise RuntimeError(f"the warm runner ended (exit code {process.wait()})")
            if "timeout" in json.loads(line):
                raise subprocess.TimeoutExpired([sys.executable, "-m", "localcloud.runner"], TIMEOUT_SECONDS)
            return _read(out), _read(err)

    def _started(self) -> subprocess.Popen[str]:
        if self._process is None:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "localcloud.runner", "--serve"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": self._pythonpath},
            )
        return self._process

    def close(self) -> None:
        """The warm process told to end (its stdin closed), and waited for."""
        with self._lock:
            process, self._process = self._process, None
        if process is not None:
            orders, answers = _pipes(process)
            orders.close()
            process.wait(timeout=30)
            answers.close()


def _pipes(process: subprocess.Popen[str]) -> tuple[IO[str], IO[str]]:
    """The warm process's stdin and stdout (both pipes, as `_started` makes it)."""
    if process.stdin is None or process.stdout is None:
        raise RuntimeError("the warm runner was started without its pipes")
    return process.stdin, process.stdout


def _read(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def main() -> int:
    if sys.argv[1:] == ["--serve"]:
        return serve()
    return run(Path(sys.argv[1]), Path(sys.argv[2]))


if __name__ == "__main__":
    sys.exit(main())
