"""The step in flight: its transitions, its ledger form both ways, and incidents stored before
it was a type (the ledger keeps incidents across deployments)."""

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, cast

import pytest
from mypy_boto3_dynamodb import DynamoDBClient

from model_medic.remediate.capacity import ScaleChange
from model_medic.remediate.rollout.changes import FinishRollout, ShiftTraffic
from model_medic.remediate.units import Change, StoredChange, change_of
from model_medic.store.incidents import Incident, Incidents, Step, _decode, opened
from model_medic.store.table import Table

AT = datetime(2026, 11, 22, 10, 5, tzinfo=UTC)
ARN = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:churn-prod-HighLatency"

# A scale-up step as the loop stored it while `pending` was a dict: its first change called,
# the 'acted' decision not yet told (the key `told` was written only once it was).
OLD_PENDING: dict[str, Any] = {
    "step": 1,
    "id": "2026-11-22T10:05:00+00:00#0123456789abcdef#step-1",
    "at": "2026-11-22T10:05:00+00:00",
    "summary": "primary instance-count 1 -> 2; canary min-capacity 1 -> 2",
    "critical": False,
    "changes": [
        {"kind": "scale", "variant": "primary", "lever": "instance-count", "before": 1, "after": 2},
        {"kind": "scale", "variant": "canary", "lever": "min-capacity", "before": 1, "after": 2},
    ],
    "done": 0,
    "called": True,
    "results": [{"EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/churn-prod"}],
    "hour": "2026-11-22T10",
}


def scale_step(**values: Any) -> Step:
    return replace(
        Step(
            number=1,
            id="i#step-1",
            at=AT.isoformat(),
            summary="scale",
            changes=(ScaleChange("primary", "instance-count", 1, 2), ScaleChange("canary", "min-capacity", 1, 2)),
            hour="2026-11-22T10",
        ),
        **values,
    )


def test_a_new_step_has_made_nothing_and_its_current_change_is_the_first() -> None:
    step = scale_step()
    assert (step.started, step.finished, step.told, step.result) == (False, False, False, {})
    assert step.current == ScaleChange("primary", "instance-count", 1, 2)


def test_a_called_change_keeps_its_answer_until_it_took_then_the_next_change_is_current() -> None:
    called = scale_step().called_({"answer": 1})
    assert (called.started, called.called, called.done, called.result) == (True, True, 0, {"answer": 1})
    took = called.took()
    assert (took.called, took.done, took.result, took.results) == (False, 1, {}, ({"answer": 1},))
    assert took.current == ScaleChange("canary", "min-capacity", 1, 2)
    assert took.started  # a change took: its claim is spent even before the next call
    again = took.called_({"answer": 2}).took()
    assert (again.finished, again.results) == (True, ({"answer": 1}, {"answer": 2}))


def test_a_change_called_again_after_its_answer_was_lost_replaces_that_answer() -> None:
    step = scale_step().called_({"adopted": "InService"}).called_({"answer": 1})
    assert step.results == ({"answer": 1},)


def test_transitions_leave_the_step_they_start_from_unchanged() -> None:
    step = scale_step()
    step.called_({}).took().told_()
    assert step == scale_step()
    assert scale_step().told_().told


def test_a_step_ends_the_incident_only_with_a_change_that_ends_it() -> None:
    shift = ShiftTraffic("primary", "canary", 10.0, 50)
    finish = FinishRollout("model-v3", "config-2", "config-3", "primary", 2)
    assert scale_step(changes=(shift,)).ends is None
    assert scale_step(changes=(shift, finish)).ends == "complete"


def test_a_step_reads_back_what_it_wrote() -> None:
    step = scale_step(critical=True).called_({"answer": 1}).took().told_()
    assert Step.from_dict(json.loads(json.dumps(step.as_dict()))) == step


def test_a_step_stored_as_a_dict_before_it_was_a_type_reads_as_that_step_and_writes_the_same_keys() -> None:
    step = Step.from_dict(OLD_PENDING)
    assert step == Step(
        number=1,
        id=OLD_PENDING["id"],
        at=OLD_PENDING["at"],
        summary=OLD_PENDING["summary"],
        changes=(ScaleChange("primary", "instance-count", 1, 2), ScaleChange("canary", "min-capacity", 1, 2)),
        hour="2026-11-22T10",
        done=0,
        called=True,
        results=(OLD_PENDING["results"][0],),
        told=False,
    )
    assert step.as_dict() == {**OLD_PENDING, "told": False}


def test_an_incident_with_its_step_in_flight_reads_back_from_its_ledger_item() -> None:
    incident = replace(
        opened("churn-prod", "scale-up", "churn-prod-HighLatency", ARN, AT, "latency", "TotalLatency"),
        steps=1,
        state="waiting",
        pending=scale_step().called_({"answer": 1}),
        version=3,
    )
    item = Incidents(Table(cast("DynamoDBClient", None), "ledger"), timedelta(days=90))._item(incident)
    assert json.loads(item["body"])["pending"]["changes"][0] == {
        "kind": "scale",
        "variant": "primary",
        "lever": "instance-count",
        "before": 1,
        "after": 2,
    }
    assert _decode(item) == incident
    assert (
        _decode(
            Incidents(Table(cast("DynamoDBClient", None), "ledger"), timedelta(days=90))._item(
                replace(incident, pending=None)
            )
        ).pending
        is None
    )


def test_an_incident_stored_with_the_old_step_dict_reads_as_a_typed_step() -> None:
    incident = opened("churn-prod", "scale-up", "churn-prod-HighLatency", ARN, AT, "latency", "TotalLatency")
    item = Incidents(Table(cast("DynamoDBClient", None), "ledger"), timedelta(days=90))._item(incident)
    body = json.loads(item["body"])
    item["body"] = json.dumps({**body, "pending": OLD_PENDING, "steps": 1, "state": "waiting"})
    read: Incident = _decode(item)
    assert read.in_flight == Step.from_dict(OLD_PENDING)
    assert isinstance(read.in_flight.current, ScaleChange)


def test_a_change_of_a_kind_this_function_does_not_define_is_kept_as_stored() -> None:
    stored = {"kind": "from-a-later-version", "target": "x", "count": 2}
    change = change_of(stored)
    assert isinstance(change, StoredChange)
    assert change.as_dict() == stored
    assert change.describe() == "from-a-later-version change"


def test_two_change_classes_cannot_declare_the_same_kind() -> None:
    with pytest.raises(TypeError, match="'scale' is declared twice"):

        @dataclass(frozen=True)
        class AnotherScale(Change):
            kind: ClassVar[str] = "scale"
