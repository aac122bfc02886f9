"""People win in a rollout (issue 27), against moto: a person's weight or config during a canary
step is read back as theirs - recorded, told once at info level, never undone - and the rollout
stops there instead of escalating."""

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest
import time_machine

from localcloud.moto_extensions import reset_simulation, set_update_seconds
from tests.conftest import Stack, bodies, decisions, stored_incidents
from tests.functional.test_promote_canary import (
    ENDPOINT,
    T0,
    endpoint,
    operator_sets_canary,
    share,
    tick,
    traffic,
)
from tests.functional.test_promote_canary import fn as fn  # the fixture
from tests.functional.test_promote_canary import operator_canary as operator_canary  # the fixture


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    """The clock moto's endpoint updates run on (the function's is each tick's event time)."""
    reset_simulation()
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller
    reset_simulation()


def at(minutes: float) -> Any:
    return T0 + timedelta(minutes=minutes)


def promoted_then(fn: Any, stack: Stack, clock: time_machine.Traveller, person: Callable[[], None]) -> str:
    """An operator's canary at 5 % adopted; at 10:40 the judge moves it to 10 % (Updating until
    10:45); at 10:46 a person makes their own change. The incident's id."""
    traffic("primary", T0, 120, per_minute=200)
    traffic("canary", T0, 120, per_minute=60)
    tick(fn, T0)
    set_update_seconds(300)
    clock.move_to(at(40))
    [promoted] = [o for o in tick(fn, at(40)) if o["result"] == "acted"]
    assert promoted["reason"].startswith("promote canary 5% -> 10%")
    clock.move_to(at(46))
    assert share() == 10.0
    for tap in ("critical", "info", "events"):
        stack.drain(tap)
    person()
    return str(promoted["incident"])


def deploy_config_without_canary() -> None:
    """A person serves a config of their own: the primary model alone (UpdateEndpoint)."""
    sagemaker = boto3.client("sagemaker")
    sagemaker.create_endpoint_config(
        EndpointConfigName=f"{ENDPOINT}-config-9",
        ProductionVariants=[
            {
                "VariantName": "primary",
                "ModelName": f"{ENDPOINT}-primary-model",
                "InitialInstanceCount": 4,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    sagemaker.update_endpoint(EndpointName=ENDPOINT, EndpointConfigName=f"{ENDPOINT}-config-9")


def assert_stopped_as_theirs(stack: Stack, stopped: dict[str, Any], incident_id: str, what: str) -> None:
    """The person's change on the timeline and in a decision of its own, the rollout stopped, one
    info message, nobody paged, nothing failed."""
    person = f"a person changed the endpoint: {what}"
    assert (stopped["result"], stopped["gate"], stopped["critical"]) == ("stopped", "operator-change", False)
    assert stopped["reason"] == f"{person}; the rollout stops and leaves it as they set it"
    [incident] = [i for i in stored_incidents(stack) if i["id"] == incident_id]
    assert incident["state"] == "closed"
    assert [e["what"] for e in incident["timeline"]][-2:] == ["operator-change", "stopped"]
    assert incident["timeline"][-2]["detail"] == person
    mine = sorted((d for d in decisions(stack) if d["incident"] == incident_id), key=lambda d: (d["at"], int(d["seq"])))
    assert [(d["result"], d["gate"]) for d in mine][-2:] == [
        ("skipped", "operator-change"),
        ("stopped", "operator-change"),
    ]
    assert decisions(stack, "failed") == []
    assert decisions(stack, "escalated") == []
    assert stack.drain("critical") == []
    [told] = bodies(stack, "info")
    assert (told["result"], told["reason"]) == ("stopped", stopped["reason"])


def test_a_persons_canary_weight_during_a_step_is_theirs_and_the_rollout_stops_without_undoing_it(
    operator_canary: Any, stack: Stack, clock: time_machine.Traveller
) -> None:
    incident_id = promoted_then(operator_canary, stack, clock, lambda: operator_sets_canary(0.3))
    clock.move_to(at(50))  # the person's weights still Updating: the step's read-back sees them asked
    [stopped] = tick(operator_canary, at(50))
    assert_stopped_as_theirs(stack, stopped, incident_id, "canary set to 30% of the traffic, not the 10% asked")
    clock.move_to(at(52))
    assert share() == 30.0  # as they set it
    # Told once: the next tick does not end this rollout again (the person's canary is adopted anew).
    clock.move_to(at(60))
    tick(operator_canary, at(60))
    assert share() == 30.0
    assert len([d for d in decisions(stack, "stopped") if d["incident"] == incident_id]) == 1


def test_a_persons_config_deployed_during_a_step_is_theirs_and_the_rollout_stops_without_undoing_it(
    operator_canary: Any, stack: Stack, clock: time_machine.Traveller
) -> None:
    incident_id = promoted_then(operator_canary, stack, clock, deploy_config_without_canary)
    clock.move_to(at(48))  # the person's deployment in flight (PendingDeploymentSummary)
    [stopped] = tick(operator_canary, at(48))
    what = f"config {ENDPOINT}-config-9 deployed while canary went 5% -> 10%"
    assert_stopped_as_theirs(stack, stopped, incident_id, what)
    clock.move_to(at(52))
    assert endpoint()["config"] == f"{ENDPOINT}-config-9"
    assert tick(operator_canary, at(60)) == []  # no canary left to walk; theirs stays
    assert endpoint()["config"] == f"{ENDPOINT}-config-9"
