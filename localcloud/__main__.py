"""`python -m localcloud`: Model Medic on moto, without AWS or Docker.

    demo                               start a local cloud, deploy, seed, play every scenario, stop
    up [--mode enforce|dry-run|off]    start a local cloud in the background, deploy, seed the demo world
    invoke LOGICAL_ID -e EVENT.json [--as-is]   run a deployed function on an event (the sam local
                                       invoke contract), delivered at --at: its times moved there, the
                                       alarm or approval it reports made so first (events/README.md)
    alarm ALARM_NAME ALARM|OK|INSUFFICIENT_DATA   set an alarm and deliver what CloudWatch would
    tick LOGICAL_ID|RULE               deliver a scheduled event
    down                               stop the local cloud that `up` started
    env-vars [-o FILE] [--endpoint-url URL]   the `sam local invoke --env-vars` file of the deployed functions

`--at` (ISO 8601) sets the time the functions run at; it defaults to now.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from localcloud import delivery, scenarios, world
from localcloud.cloud import ROOT, Invocation, LocalCloud

STATE = ROOT / ".localcloud" / "state.json"
HOST = "127.0.0.1"
# Importing moto and the extensions takes seconds, more while the parallel test run's other
# workers keep both cores busy.
SERVER_START_SECONDS = 60


def start_server(log: Path) -> tuple[subprocess.Popen[bytes], int]:
    """moto server with our extensions on loopback, on a port the kernel picks as the server binds
    it (a port probed first could be taken meanwhile: local clouds run side by side in the
    parallel test run); returns the process and its port once it answers."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        told = Path(work) / "port"
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "localcloud.server", "--port", "0", "--port-file", str(told)],
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        deadline = time.monotonic() + SERVER_START_SECONDS
        while not told.exists():
            if process.poll() is not None:
                raise RuntimeError(f"moto server exited; see {log}")
            if time.monotonic() > deadline:
                process.terminate()
                raise RuntimeError(f"moto server did not listen within {SERVER_START_SECONDS} s; see {log}")
            time.sleep(0.05)
        port = int(told.read_text())
    try:
        with urllib.request.urlopen(f"http://{HOST}:{port}/moto-api/", timeout=10):
            return process, port
    except OSError:
        process.terminate()
        raise


def parameters(mode: str) -> dict[str, str]:
    return {
        "EndpointNames": ",".join(world.NAMED),
        # The fleet: every live endpoint with this tag is in scope too (localcloud/world.py).
        "DiscoveryTag": "=".join(world.DISCOVERY_TAG),
        "AutomationMode": mode,
        "DataCaptureS3Uri": world.CAPTURE_URI,
        "BaselineS3Uri": world.BASELINE_URI,
        "GroundTruthS3Uri": world.GROUND_TRUTH_URI,
        # The two teams' own buckets, which their endpoints capture to and keep their data in.
        "DataBucketArns": ",".join(f"arn:aws:s3:::{bucket}" for bucket in world.TEAM_BUCKETS),
        # The model lifecycle: approved packages of the demo's group become canaries.
        "ModelPackageGroups": world.PACKAGE_GROUP,
        "ModelMetricsBucket": world.DATA_BUCKET,
        "CandidateMargin": "0.01",
        # A candidate that loses, and a canary rolled back, are marked Rejected in the registry.
        "RejectModelPackages": "true",
    }


# How long an endpoint stays Updating after a change in the local cloud (simulated time):
# SageMaker's capacity and weight changes take minutes, so the control loop must wait.
UPDATE_SECONDS = 240


def simulate_aws(cloud: LocalCloud) -> None:
    """What AWS does and moto does not, switched on for the whole local cloud."""
    cloud.set_update_seconds(UPDATE_SECONDS)
    cloud.set_range_moves_capacity(True)


def _out_of_scope() -> list[str]:
    return [n for n in world.FLEET if n not in world.NAMED and n not in world.by_tag()]


def demo(args: argparse.Namespace) -> int:
    started = datetime.now(UTC).replace(second=0, microsecond=0)
    server, port = start_server(ROOT / ".localcloud" / "moto-demo.log")
    try:
        cloud = LocalCloud(f"http://{HOST}:{port}")
        print(f"Model Medic demo: local cloud on {cloud.endpoint_url} (moto server, extensions installed)")
        world.seed_fleet(cloud)  # the fleet Model Medic is installed onto: FleetAlarms gives it alarms
        print("Building and deploying template.yaml (sam build, sam package, SAM transform, CloudFormation in moto)...")
        stack = cloud.deploy(parameters("enforce"), say=print)
        functions = sorted(k for k in stack.resources if k.endswith("Function"))
        print(f"Stack {stack.name}: {len(stack.resources)} resources; functions {', '.join(functions)}")
        world.seed(cloud, started)
        simulate_aws(cloud)
        print(
            f"Demo world: endpoint {world.ENDPOINT} (primary 2 x ml.m5.large floor 2, canary 1 at 10%), "
            f"pipeline {world.PIPELINE}, model package group {world.PACKAGE_GROUP}; "
            f"fleet: {', '.join(world.NAMED)} named, {', '.join(world.by_tag())} by tag "
            f"{'='.join(world.DISCOVERY_TAG)}, {', '.join(_out_of_scope())} out of scope\n"
        )
        results, ended = scenarios.play(cloud, started, out=partial(print, flush=True), only=args.only)
        told = model_medic_status(cloud, ended)
    finally:
        server.terminate()
        server.wait(timeout=10)
    counts = {status: sum(r.status == status for r in results) for status in ("passed", "failed", "pending")}
    print(f"{counts['passed']} passed, {counts['failed']} failed, {counts['pending']} pending")
    print(f"\nWhat the stack is doing at the end (simulated clock {ended:%Y-%m-%d %H:%M} UTC):")
    print(f"$ {told.command}")
    print(told.stdout.rstrip())
    if told.stderr:
        print(told.stderr.rstrip())
    return 1 if counts["failed"] or told.returncode else 0


@dataclass
class StatusRun:
    command: str
    returncode: int
    stdout: str
    stderr: str


def model_medic_status(cloud: LocalCloud, at: datetime, *arguments: str) -> StatusRun:
    """`model-medic status` (the project's command, `make install` puts it beside this Python; else
    its module) against the local cloud at `at`, as a person runs it: the moto credentials, the
    cloud's address given with --endpoint-url."""
    script = Path(sys.executable).parent / "model-medic"
    program = [str(script)] if script.exists() else [sys.executable, "-m", "model_medic.status"]
    options = ["--stack", cloud.stack.name, "--region", cloud.region, "--endpoint-url", cloud.endpoint_url]
    argv = [*options, "--at", at.isoformat(), *(arguments or ("status",))]
    environment = {**os.environ, **cloud.aws_env(), "PYTHONPATH": str(ROOT / "layers" / "common")}
    environment.pop("AWS_ENDPOINT_URL")
    done = subprocess.run(  # noqa: S603 - the project's own command
        [*program, *argv], env=environment, capture_output=True, text=True, timeout=120, check=False
    )
    shown = "model-medic" if script.exists() else "python -m model_medic.status"
    return StatusRun(" ".join([shown, *argv]), done.returncode, done.stdout, done.stderr)


def start(cloud: LocalCloud, mode: str, at: datetime, say: Callable[[str], None] = lambda _: None) -> None:
    """What `up` does to the moto server it started: the fleet, the stack, the demo world at `at`
    with what the sample events read (events/), and AWS's behaviours switched on."""
    world.seed_fleet(cloud)  # before the stack, which gives the fleet its alarms
    cloud.deploy(parameters(mode), say=say)
    world.seed(cloud, at)
    # SageMaker's "Endpoint State Change" for churn-prod, created after the stack (as AWS sends
    # it): its canary variant's alarms and its known-good config follow from it.
    cloud.endpoint_state_changed(world.ENDPOINT, at)
    world.seed_for_samples(cloud, at)
    simulate_aws(cloud)


def up(args: argparse.Namespace) -> int:
    if STATE.exists():
        state = json.loads(STATE.read_text())
        print(f"a local cloud is already up at {state['endpoint_url']} (python -m localcloud down)")
        return 0
    server, port = start_server(ROOT / ".localcloud" / "moto.log")
    cloud = LocalCloud(f"http://{HOST}:{port}")
    try:
        print(f"local cloud starting at {cloud.endpoint_url}; seeding the fleet, then deploying the stack:")
        start(cloud, args.mode, datetime.now(UTC), say=print)
    except Exception:
        server.terminate()
        raise
    STATE.write_text(json.dumps({"endpoint_url": cloud.endpoint_url, "pid": server.pid, "stack": cloud.stack.name}))
    endpoints = ", ".join([world.ENDPOINT, *world.FLEET])
    print(f"local cloud up at {cloud.endpoint_url}; stack {cloud.stack.name}; endpoints {endpoints}")
    print(
        f"AWS CLI: AWS_ENDPOINT_URL={cloud.endpoint_url} AWS_ACCESS_KEY_ID=testing "
        "AWS_SECRET_ACCESS_KEY=testing aws ..."
    )
    print(
        "status: AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing .venv/bin/model-medic "
        f"--stack {cloud.stack.name} --region {cloud.region} --endpoint-url {cloud.endpoint_url} status"
    )
    return 0


def down(args: argparse.Namespace) -> int:
    if not STATE.exists():
        print("no local cloud is up")
        return 0
    state = json.loads(STATE.read_text())
    with contextlib.suppress(ProcessLookupError):  # already gone
        os.kill(int(state["pid"]), signal.SIGTERM)
    STATE.unlink()
    print(f"stopped the local cloud at {state['endpoint_url']}")
    return 0


def _connected() -> LocalCloud:
    if not STATE.exists():
        raise SystemExit("no local cloud is up: python -m localcloud up")
    state = json.loads(STATE.read_text())
    cloud = LocalCloud(state["endpoint_url"], stack_name=state["stack"])
    cloud.load()
    return cloud


def _report(invocations: list[Invocation]) -> int:
    invocations = [each for top in invocations for each in (top, *top.delivered)]  # queue deliveries too
    for invocation in invocations:
        print(f"--- {invocation.function} (attempts: {invocation.attempts}) logs ---")
        print(invocation.logs.rstrip())
        print(f"--- {invocation.function} result ---")
        print(json.dumps(invocation.result if invocation.error is None else {"error": invocation.error}, indent=2))
    return 1 if any(i.error for i in invocations) else 0


def invoke(args: argparse.Namespace) -> int:
    event: Any = json.loads(Path(args.event).read_text())
    delivered = delivery.deliver(_connected(), args.logical_id, event, args.at, as_is=args.as_is)
    for note in delivered.notes:
        print(note)
    code = _report([delivered.invocation])
    if not delivered.answered_here:
        return code
    print("--- the response CloudFormation receives at its ResponseURL (served here) ---")
    print(json.dumps(delivered.response, indent=2) if delivered.response else "none: the function did not answer")
    return code or int(delivered.response is None or delivered.response.get("Status") != "SUCCESS")


def alarm(args: argparse.Namespace) -> int:
    invocations = _connected().alarm(args.name, args.state, args.at)
    if not invocations:
        print("no subscription or rule matched: nothing was invoked")
    return _report(invocations)


def tick(args: argparse.Namespace) -> int:
    return _report(_connected().tick(args.target, args.at))


def env_vars(args: argparse.Namespace) -> int:
    variables = _connected().env_vars(args.endpoint_url)
    text = json.dumps(variables, indent=2, sort_keys=True) + "\n"
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(text)
        print(f"wrote {args.output}: {len(variables)} functions")
    return 0


def main(argv: list[str] | None = None) -> int:
    # A line as soon as it is printed, also into a pipe or a log: `make demo` and `make up` are
    # watched as they go.
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)
    parser = argparse.ArgumentParser(
        prog="python -m localcloud", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("demo")
    p.add_argument(
        "--only",
        type=lambda v: {int(n) for n in v.split(",")},
        default=set(),
        help="play only these scenarios (numbers, comma-separated); a scenario may lean on an earlier one",
    )
    p.set_defaults(run=demo)
    p = commands.add_parser("up")
    p.add_argument("--mode", choices=["enforce", "dry-run", "off"], default="enforce")
    p.set_defaults(run=up)
    commands.add_parser("down").set_defaults(run=down)
    p = commands.add_parser("invoke")
    p.add_argument("logical_id")
    p.add_argument("-e", "--event", required=True)
    p.add_argument("--as-is", action="store_true", help="send the file unchanged, as sam local invoke does")
    p.set_defaults(run=invoke)
    p = commands.add_parser("alarm")
    p.add_argument("name")
    p.add_argument("state", choices=["ALARM", "OK", "INSUFFICIENT_DATA"])
    p.set_defaults(run=alarm)
    p = commands.add_parser("tick")
    p.add_argument("target")
    p.set_defaults(run=tick)
    p = commands.add_parser("env-vars")
    p.add_argument("-o", "--output", default="-")
    p.add_argument("--endpoint-url", default=None, help="how a container reaches the local cloud")
    p.set_defaults(run=env_vars)
    for sub in commands.choices.values():
        sub.add_argument("--at", type=lambda v: datetime.fromisoformat(v).astimezone(UTC), default=datetime.now(UTC))
    args = parser.parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
