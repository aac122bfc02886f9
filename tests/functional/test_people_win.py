"""People win (issue 27): a person's change during an incident, against moto - read back as
theirs (not a failure), never given back, and told as what it is."""

from datetime import timedelta
from typing import Any

import boto3
import pytest
import time_machine

from localcloud.moto_extensions import set_update_seconds
from model_medic.store.boosts import Boosts
from model_medic.store.table import Table
from tests.conftest import Stack, bodies, decisions, load_event, make_endpoint, stored_incidents
from tests.functional.test_scale_up import (
    ENDPOINT,
    LATENCY,
    OPENED,
    counts,
    deliver,
    min_capacity,
    ok_at,
    scalable_target,
    scale_up_alarms,
    set_alarm,
    sweep,
)
from tests.functional.test_scale_up import clock as clock  # the fixture
from tests.functional.test_scale_up import fn as fn  # the fixture


@pytest.fixture(autouse=True)
def _room(fn: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Room above a person's 6 instances; every change keeps the endpoint Updating 5 minutes."""
    monkeypatch.setenv("MAX_INSTANCE_COUNT", "8")
    set_update_seconds(300)


def at(minutes: float) -> Any:
    return OPENED + timedelta(minutes=minutes)


def operator_floor(minimum: int) -> None:
    """A person raises the variant's floor through its scalable target (the console's way)."""
    boto3.client("application-autoscaling").register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId=f"endpoint/{ENDPOINT}/variant/primary",
        ScalableDimension="sagemaker:variant:DesiredInstanceCount",
        MinCapacity=minimum,
    )


def operator_count(count: int) -> None:
    boto3.client("sagemaker").update_endpoint_weights_and_capacities(
        EndpointName=ENDPOINT, DesiredWeightsAndCapacities=[{"VariantName": "primary", "DesiredInstanceCount": count}]
    )


def alarm_clears(fn: Any, clock: time_machine.Traveller, minutes: float) -> None:
    clock.move_to(at(minutes))
    set_alarm(LATENCY, "OK")
    deliver(fn, clock, ok_at(at(minutes)), at=at(minutes))


def scale_backs(fn: Any, clock: time_machine.Traveller, minutes: range) -> list[tuple[int, str, str]]:
    found = []
    for minute in minutes:
        outcomes = sweep(fn, clock, at(minute))
        found += [(minute, o["result"], o["reason"]) for o in outcomes if o["action"] == "scale-back"]
    return found


def boosted_then(fn: Any, clock: time_machine.Traveller, person: Any, target: bool = True) -> None:
    """primary at 2 (floor 2 through a scalable target, or a plain count); the alarm raises it
    to 3 (Updating until 10:05:30); at 10:06 a person makes their own change."""
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 1.0}})
    if target:
        scalable_target("primary", minimum=2, maximum=8)
    scale_up_alarms({"HighLatency": "ALARM", "HighErrorRate": "OK"})
    [acted] = deliver(fn, clock, load_event("scale_up/high_latency_alarm.json"))
    lever = "min-capacity" if target else "instance-count"
    assert (acted["result"], acted["reason"]) == ("acted", f"primary {lever} 2 -> 3")
    clock.move_to(at(6))
    person()


def test_an_operators_higher_floor_is_the_step_taken_theirs_and_never_given_back(
    fn: Any, stack: Stack, clock: time_machine.Traveller
) -> None:
    boosted_then(fn, clock, lambda: operator_floor(6))
    stack.drain("info")
    outcomes = sweep(fn, clock, at(12))  # read back: MinCapacity 6, above the 3 asked
    kept = "a person set primary MinCapacity 6, above the 3 asked: theirs, kept"
    assert [(o["gate"], o["result"], o["reason"]) for o in outcomes] == [
        (
            "verifying",
            "skipped",
            f"primary min-capacity 2 -> 3 is InService; {kept}; the alarm must clear by {at(27).isoformat()}",
        )
    ]
    [incident] = stored_incidents(stack)
    assert incident["state"] == "verifying"
    assert [(e["what"], e["detail"]) for e in incident["timeline"] if e["what"] == "operator-change"] == [
        ("operator-change", kept)
    ]
    assert [(d["gate"], d["reason"]) for d in decisions(stack, "skipped") if d["gate"] == "operator-change"] == [
        ("operator-change", kept)
    ]
    assert decisions(stack, "failed") == []
    assert bodies(stack, "critical") == []
    [told] = bodies(stack, "info")
    assert told["subject"] == f"[INFO] test a person's change on {ENDPOINT} is kept"
    assert kept in told["text"]
    # The alarm clears: recovered; the give-back leaves the person's floor as they set it.
    alarm_clears(fn, clock, 20)
    assert stored_incidents(stack)[0]["state"] == "recovered"
    left = "a person set primary MinCapacity 6 since (Model Medic set 3); left as it is"
    assert scale_backs(fn, clock, range(35, 70, 5)) == [(35, "skipped", left)]
    assert min_capacity("primary") == 6
    assert counts() == {"primary": 6}
    assert stack.items("boost") == []  # forgotten: not looked at again every sweep
    assert bodies(stack, "critical") == []


def test_an_operators_higher_instance_count_is_the_step_taken_and_never_given_back(
    fn: Any, stack: Stack, clock: time_machine.Traveller
) -> None:
    boosted_then(fn, clock, lambda: operator_count(6), target=False)
    [verifying] = sweep(fn, clock, at(12))
    kept = "a person set primary DesiredInstanceCount 6, above the 3 asked: theirs, kept"
    assert verifying["gate"] == "verifying"
    assert kept in verifying["reason"]
    assert decisions(stack, "failed") == []
    assert bodies(stack, "critical") == []
    [incident] = stored_incidents(stack)
    assert ("operator-change", kept) in [(e["what"], e["detail"]) for e in incident["timeline"]]
    alarm_clears(fn, clock, 20)
    left = "a person set primary the instance count 6 since (Model Medic set 3); left as it is"
    assert scale_backs(fn, clock, range(35, 70, 5)) == [(35, "skipped", left)]
    assert counts() == {"primary": 6}


def test_an_operators_count_below_what_was_asked_is_still_a_step_that_did_not_take(
    fn: Any, stack: Stack, clock: time_machine.Traveller
) -> None:
    boosted_then(fn, clock, lambda: operator_count(1), target=False)
    [failed] = sweep(fn, clock, at(12))
    assert (failed["result"], failed["reason"]) == (
        "failed",
        "primary instance-count 2 -> 3 did not take: primary runs 1 instance(s)",
    )
    assert stored_incidents(stack)[0]["state"] == "escalated"
    assert [b["result"] for b in bodies(stack, "critical")] == ["failed"]
    assert not [e for e in stored_incidents(stack)[0]["timeline"] if e["what"] == "operator-change"]


def test_a_later_step_over_an_operators_floor_is_given_back_to_their_floor_not_below(
    fn: Any, stack: Stack, clock: time_machine.Traveller
) -> None:
    boosted_then(fn, clock, lambda: operator_floor(6))
    sweep(fn, clock, at(12))  # read back as the person's floor; verifying until 10:27
    # Still in ALARM after the window: the next step starts from the person's floor.
    stepped = sweep(fn, clock, at(28))
    assert [(o["result"], o["reason"]) for o in stepped] == [("acted", "primary min-capacity 6 -> 7")]
    [boost] = Boosts(Table(stack.dynamodb, stack.table)).of(ENDPOINT)
    assert (boost.original, boost.boosted_to) == (6, 7)  # started over from what the person set
    sweep(fn, clock, at(34))  # InService at 7: verifying
    alarm_clears(fn, clock, 36)
    assert scale_backs(fn, clock, range(55, 90, 5)) == [(55, "acted", "primary min-capacity 7 -> 6")]
    assert min_capacity("primary") == 6
    assert stack.items("boost") == []
