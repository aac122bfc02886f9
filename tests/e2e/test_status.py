"""End to end: the `model-medic` command against a local cloud this test starts (template.yaml
built, packaged and deployed into moto server), reading an incident the real wiring opened."""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from localcloud import world
from localcloud.__main__ import model_medic_status, parameters, simulate_aws, start_server
from localcloud.cloud import ROOT, LocalCloud

pytestmark = pytest.mark.slow
START = datetime.now(UTC).replace(second=0, microsecond=0)
LATENCY = f"{world.ENDPOINT}-HighLatency"
# `make install` puts the project's command beside the environment's Python (pyproject.toml).
COMMAND = Path(sys.executable).parent / "model-medic"


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    server, port = start_server(ROOT / ".localcloud" / "moto-e2e-status.log")
    try:
        local = LocalCloud(f"http://127.0.0.1:{port}")
        world.seed_fleet(local)
        local.deploy(parameters("enforce"))
        world.seed(local, START)
        simulate_aws(local)
        yield local
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="module")
def incident(cloud: LocalCloud) -> dict[str, Any]:
    """HighLatency ALARM through the template's wiring: ScaleUpFunction acts, the endpoint is Updating."""
    [invocation] = [i for i in cloud.alarm(LATENCY, "ALARM", START) if i.function == "ScaleUpFunction"]
    [acted] = [o for o in invocation.outcomes if o["result"] == "acted"]
    return dict(acted)


def run(cloud: LocalCloud, *argv: str, endpoint_url_flag: bool = True) -> subprocess.CompletedProcess[str]:
    """The installed command, with the moto credentials; the cloud's address by flag or by AWS_ENDPOINT_URL."""
    assert COMMAND.exists(), f"{COMMAND} is missing: `make install` installs the project (pip install -e .)"
    environment = {**os.environ, **cloud.aws_env()}
    flags = ["--stack", cloud.stack.name, "--region", cloud.region]
    if endpoint_url_flag:
        environment.pop("AWS_ENDPOINT_URL")
        flags += ["--endpoint-url", cloud.endpoint_url]
    return subprocess.run(  # noqa: S603 - the project's own command
        [str(COMMAND), *flags, *argv], env=environment, capture_output=True, text=True, timeout=120, check=False
    )


def test_status_reads_the_deployed_stack_its_schedules_and_the_incident_the_wiring_opened(
    cloud: LocalCloud, incident: dict[str, Any]
) -> None:
    at = START + timedelta(minutes=1)
    done = run(cloud, "status", "--json", "--at", at.isoformat())
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    stack = shown["stack"]
    assert (stack["name"], stack["status"], stack["region"]) == (cloud.stack.name, "CREATE_COMPLETE", "us-east-1")
    assert (stack["mode"], stack["mode_why"]) == ("enforce", "stack parameter")
    assert stack["kill_switch"] == cloud.stack.outputs["AutomationModeParameterName"]
    # The schedules as the template declares them, read from the deployed rules.
    assert {unit: schedule for unit, _, schedule in stack["functions"]} == {
        "scale-up": "rate(5 minutes)",
        "start-retraining": "rate(5 minutes)",
        "rollback": "rate(5 minutes)",
        "rollout": "rate(10 minutes)",
    }
    endpoints = {e["name"]: e for e in shown["endpoints"]}
    assert set(endpoints) == {*world.NAMED, *world.by_tag()}  # legacy-batch is out of scope
    tag = "=".join(world.DISCOVERY_TAG)
    assert {name: e["scope"] for name, e in endpoints.items()} == {
        **dict.fromkeys(world.NAMED, "named in EndpointNames"),
        **dict.fromkeys(world.by_tag(), f"tagged {tag}"),
    }
    assert endpoints["search-prod"]["policy"]["applied"] == [{"key": world.MAX_INSTANCES_TAG, "value": "2"}]
    churn = endpoints[world.ENDPOINT]
    assert churn["status"] == "Updating"
    [open_incident] = churn["incidents"]
    assert open_incident["id"] == incident["incident"]
    assert (open_incident["action"], open_incident["state"], open_incident["alarm_name"]) == (
        "scale-up",
        "waiting",
        LATENCY,
    )
    assert open_incident["in_flight"]["changes"][0].startswith("primary min-capacity 2 -> 3")
    assert open_incident["next_evaluation"] == (at + timedelta(minutes=5)).isoformat()
    assert churn["actions"][0]["result"] == "acted"


def test_the_text_is_aligned_and_the_address_may_come_from_aws_endpoint_url(
    cloud: LocalCloud, incident: dict[str, Any]
) -> None:
    at = (START + timedelta(minutes=1)).isoformat()
    done = run(cloud, "status", "--at", at, endpoint_url_flag=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"Stack {cloud.stack.name}  CREATE_COMPLETE  us-east-1  at ")
    assert "\033[" not in done.stdout  # not a terminal: no colour
    start = lines.index("INCIDENTS (open)")
    header, row = lines[start + 1], lines[start + 2]
    for name, value in (("ACTION", "scale-up"), ("ID", incident["incident"].rsplit("#", 1)[1]), ("STATE", "waiting")):
        assert row[header.index(name) :].split()[0] == value, name


def test_explain_tells_the_incidents_story(cloud: LocalCloud, incident: dict[str, Any]) -> None:
    digest = incident["incident"].rsplit("#", 1)[1]
    at = (START + timedelta(minutes=1)).isoformat()
    done = run(cloud, "explain", digest, "--json", "--at", at)
    assert done.returncode == 0, done.stderr
    story = json.loads(done.stdout)
    assert story["incident"]["id"] == incident["incident"]
    assert [e["what"] for e in story["incident"]["timeline"]][:2] == ["detected", "action"]
    assert story["steps"][0]["number"] == 1
    assert ("step-1", "SNS") in {(m["about"], m["channel"]) for m in story["messages"]}
    assert "acted" in [d["result"] for d in story["decisions"]]


def test_the_demo_prints_the_status_of_the_stack_it_played(cloud: LocalCloud, incident: dict[str, Any]) -> None:
    shown = model_medic_status(cloud, START + timedelta(minutes=1))
    assert shown.returncode == 0, shown.stderr
    assert shown.command.startswith(f"model-medic --stack {cloud.stack.name} --region us-east-1 --endpoint-url ")
    assert "INCIDENTS (open)" in shown.stdout
