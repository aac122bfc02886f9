"""The store's records and codec: each item in the exact shape the ledger holds today (written
by hand here, attribute map by attribute map, as earlier releases wrote it) reads back into its
record through the table's codec (`from_item`), and the record's plain values, as the table
writes them (`to_item`), are the very same item again."""

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

import pytest
from mypy_boto3_dynamodb import DynamoDBClient

from model_medic.store.boosts import Boost
from model_medic.store.claims import Budget, Lock
from model_medic.store.deployments import ConfigSeen, Created, Deployments, Serving
from model_medic.store.incidents import Incidents, _decode, opened
from model_medic.store.journal import Decision, Mark, Notice
from model_medic.store.measurements import Drift, MetricWindow
from model_medic.store.table import Table, from_item, to_item
from model_medic.tell.outcome import Outcome
from tests.unit.conftest import TABLE

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_the_codec_writes_strings_numbers_and_string_sets_and_leaves_out_what_has_no_value() -> None:
    item = to_item({"s": "x", "n": 7, "d": Decimal("0.25"), "ss": {"b", "a"}, "none": None, "empty": frozenset()})
    assert {name: value for name, value in item.items() if name != "ss"} == {
        "s": {"S": "x"},
        "n": {"N": "7"},
        "d": {"N": "0.25"},
    }
    assert sorted(item["ss"]["SS"]) == ["a", "b"]
    assert from_item(item) == {"s": "x", "n": Decimal(7), "d": Decimal("0.25"), "ss": {"a", "b"}}


def test_a_float_is_refused_by_the_codec_rather_than_rounded() -> None:
    with pytest.raises(TypeError):
        to_item({"psi": 0.1})


DECISION_ITEM = {
    "pk": {"S": "ENDPOINT#churn-prod"},
    "sk": {"S": "DECISION#2026-03-01T12:00:00+00:00#step-1"},
    "incident": {"S": "inc-1"},
    "kind": {"S": "decision"},
    "endpoint": {"S": "churn-prod"},
    "action": {"S": "scale-up"},
    "result": {"S": "acted"},
    "gate": {"S": "-"},
    "reason": {"S": "primary instance-count 1 -> 2"},
    "mode": {"S": "enforce"},
    "alarm_name": {"S": "churn-prod-HighLatency"},
    "alarm_arn": {"S": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:churn-prod-HighLatency"},
    "transition": {"S": "churn-prod-HighLatency|2026-03-01T11:58:00+00:00"},
    "state": {"S": "ALARM"},
    "at": {"S": "2026-03-01T12:00:00+00:00"},
    "changes": {"S": json.dumps({"steps": [{"before": 1, "variant": "primary"}]}, sort_keys=True)},
    "request_id": {"S": "-"},
    "expiration": {"N": "1780142400"},
}


def test_a_decision_item_of_today_reads_back_and_is_written_again_unchanged() -> None:
    decision = Decision.from_item(from_item(DECISION_ITEM))
    assert (decision.key, decision.gate, decision.expiration) == ("step-1", "-", 1780142400)
    assert decision.changes == {"steps": [{"before": 1, "variant": "primary"}]}
    assert to_item(decision.to_item()) == DECISION_ITEM
    # The daily report's form: every attribute as the ledger holds it, `changes` as data.
    assert decision.as_dict() == {
        **{name: next(iter(value.values())) for name, value in DECISION_ITEM.items()},
        "changes": decision.changes,
    }


def test_a_decision_is_recorded_from_its_outcome_with_the_ledgers_placeholders() -> None:
    outcome = Outcome(
        action="scale-up",
        endpoint="churn-prod",
        result="acted",
        reason="primary instance-count 1 -> 2",
        mode="enforce",
        alarm_name="churn-prod-HighLatency",
        alarm_arn="arn:aws:cloudwatch:us-east-1:123456789012:alarm:churn-prod-HighLatency",
        transition="churn-prod-HighLatency|2026-03-01T11:58:00+00:00",
        state="ALARM",
        at=T0.isoformat(),
        changes={"steps": [{"before": 1, "variant": "primary"}]},
        incident="inc-1",
    )
    item = to_item(Decision.of(outcome, "", "step-1", timedelta(days=90)).to_item())
    seq = item.pop("seq")
    assert int(seq["N"]) > 0  # the order it was recorded in, among decisions of the same instant
    assert item == DECISION_ITEM


def test_marks_and_notices_are_written_as_today_and_read_back() -> None:
    mark = Mark("churn-prod", "inc-1#sns", T0, 1780142400)
    item = {
        "pk": {"S": "ENDPOINT#churn-prod"},
        "sk": {"S": "MARK#inc-1#sns"},
        "kind": {"S": "mark"},
        "at": {"S": "2026-03-01T12:00:00+00:00"},
        "expiration": {"N": "1780142400"},
    }
    assert to_item(mark.to_item()) == item
    assert Mark.from_item(from_item(item)) == mark
    notice = Notice("churn-prod", "baseline-missing", T0)
    item = {
        "pk": {"S": "ENDPOINT#churn-prod"},
        "sk": {"S": "NOTICE#baseline-missing"},
        "kind": {"S": "notice"},
        "since": {"S": "2026-03-01T12:00:00+00:00"},
    }
    assert to_item(notice.to_item()) == item
    assert Notice.from_item(from_item(item)) == notice


def test_a_lock_and_a_budget_read_back_from_todays_items() -> None:
    item = {
        "pk": {"S": "ENDPOINT#churn-prod"},
        "sk": {"S": "COOLDOWN#scale-up"},
        "kind": {"S": "cooldown"},
        "holder": {"S": "inc-1#step-1"},
        "claimed_at": {"S": "2026-03-01T12:00:00+00:00"},
        "until": {"N": "1772367000"},
        "expiration": {"N": "1772453400"},
    }
    lock = Lock.from_item(from_item(item))
    assert (lock.endpoint, lock.action, lock.holder, lock.until) == (
        "churn-prod",
        "scale-up",
        "inc-1#step-1",
        1772367000,
    )
    assert to_item(lock.to_item()) == item
    budget: dict[str, Any] = {
        "pk": {"S": "ENDPOINT#churn-prod"},
        "sk": {"S": "BUDGET#2026-03-01T12"},
        "kind": {"S": "budget"},
    }
    assert Budget.from_item(from_item(budget)).holders == frozenset()  # the set goes with its last holder
    budget["holders"] = {"SS": ["a", "b"]}
    assert Budget.from_item(from_item(budget)) == Budget("churn-prod", "2026-03-01T12", frozenset({"a", "b"}))


BOOST_ITEM = {
    "pk": {"S": "ENDPOINT#churn-prod"},
    "sk": {"S": "BOOST#primary"},
    "kind": {"S": "boost"},
    "variant": {"S": "primary"},
    "lever": {"S": "instance-count"},
    "original": {"N": "1"},
    "boosted_to": {"N": "3"},
    "boosted_at": {"S": "2026-03-01T12:00:00+00:00"},
    "alarms": {"SS": ["churn-prod-HighLatency", "churn-prod-HighErrorRate"]},
}


def test_a_boost_saved_before_steps_were_kept_reads_without_its_step_and_give_back() -> None:
    assert Boost.from_item(from_item(BOOST_ITEM)) == Boost(
        endpoint="churn-prod",
        variant="primary",
        lever="instance-count",
        original=1,
        boosted_to=3,
        boosted_at="2026-03-01T12:00:00+00:00",
        alarms=("churn-prod-HighErrorRate", "churn-prod-HighLatency"),
    )


def test_a_boost_with_its_step_and_a_give_back_step_reads_them_as_numbers() -> None:
    item = {
        **BOOST_ITEM,
        "step": {"N": "2"},
        "returned_to": {"N": "2"},
        "returned_at": {"S": "2026-03-01T12:30:00+00:00"},
    }
    boost = Boost.from_item(from_item(item))
    assert (boost.step, boost.returned_to, boost.returned_at) == (2, 2, "2026-03-01T12:30:00+00:00")
    assert isinstance(boost.original, int)
    assert isinstance(boost.step, int)


def test_configs_seen_created_resources_and_serving_groups_read_back_from_todays_items() -> None:
    seen = {
        "pk": {"S": "ENDPOINT#churn-prod"},
        "sk": {"S": "CONFIG#churn-prod-config-1"},
        "kind": {"S": "deployment"},
        "config": {"S": "churn-prod-config-1"},
        "rejected_at": {"S": "2026-03-01T12:00:00+00:00"},
        "last_seen": {"S": "2026-03-01T12:00:00+00:00"},
    }
    assert ConfigSeen.from_item(from_item(seen)) == ConfigSeen(
        "churn-prod", "churn-prod-config-1", "2026-03-01T12:00:00+00:00", None, "2026-03-01T12:00:00+00:00"
    )
    created = {
        "pk": {"S": "CREATED#ROLLOUTS"},
        "sk": {"S": "churn-prod#config#churn-prod-canary-0a1b2c3d"},
        "kind": {"S": "created"},
        "endpoint": {"S": "churn-prod"},
        "created": {"S": "config"},
        "created_at": {"S": "2026-03-01T12:00:00+00:00"},
    }
    assert Created.from_item(from_item(created)) == Created(
        "churn-prod", "config", "churn-prod-canary-0a1b2c3d", "2026-03-01T12:00:00+00:00"
    )
    # An item written before used_at was kept was last used when it was created.
    assert Created.from_item(from_item(created)).last_used == T0
    used = {**created, "used_at": {"S": "2026-03-20T09:00:00+00:00"}}
    assert Created.from_item(from_item(used)).last_used == datetime(2026, 3, 20, 9, 0, tzinfo=UTC)
    serving = {
        "pk": {"S": "SERVING#GROUPS"},
        "sk": {"S": "churn-prod-config-1#primary"},
        "kind": {"S": "serving-group"},
        "read_at": {"S": "2026-03-01T12:00:00+00:00"},
        "expiration": {"N": "1774958400"},
        "group": {"S": "churn"},
    }
    assert Serving.from_item(from_item(serving)) == Serving("churn-prod-config-1#primary", "churn", T0, 1774958400)
    assert to_item(Serving.from_item(from_item(serving)).to_item()) == serving
    without = {name: value for name, value in serving.items() if name != "group"}
    assert to_item(Serving("churn-prod-config-1#primary", None, T0, 1774958400).to_item()) == without
    assert to_item(Serving("churn-prod-config-1#primary", "", T0, 1774958400).to_item()) == without


def test_a_metric_window_leaves_its_empty_sets_out_and_reads_back_the_same() -> None:
    window = MetricWindow(
        start=T0,
        end=T0 + timedelta(minutes=5),
        computed_at=T0 + timedelta(minutes=7),
        complete=frozenset({"a", "b"}),
        pending=frozenset(),
        published=4,
        recomputed_at=T0 + timedelta(minutes=12),
        recomputed=frozenset({"c"}),
    )
    item = to_item(window.to_item())
    assert sorted(item) == [
        "complete",
        "computed_at",
        "end",
        "expiration",
        "kind",
        "pk",
        "published",
        "recomputed",
        "recomputed_at",
        "sk",
        "start",
    ]
    assert (item["sk"], item["published"], item["expiration"]) == (
        {"S": "WINDOW#2026-03-01T12:00:00+00:00"},
        {"N": "4"},
        {"N": str(int((T0 + timedelta(minutes=5, days=7)).timestamp()))},
    )
    assert sorted(item["complete"]["SS"]) == ["a", "b"]
    assert MetricWindow.from_item(from_item(item)) == window


@pytest.mark.parametrize("psi", [0.31, 1e-07, 0.12345678901234568, 2.5e-05, 12.0])
def test_the_latest_drift_keeps_its_psi_as_a_number_and_reads_back_the_same_float(psi: float) -> None:
    drift = Drift("churn-prod", T0.isoformat(), "tenure", psi)
    item = to_item(drift.to_item())
    assert Decimal(item["psi"]["N"]) == Decimal(repr(psi))  # written as repr(psi) was
    assert Drift.from_item(from_item(item)) == drift
    today = {**item, "psi": {"N": repr(psi)}}  # as earlier releases wrote it
    assert Drift.from_item(from_item(today)) == drift


def test_an_incident_item_keeps_its_attributes_and_its_closing_sets_the_expiration() -> None:
    incident = opened("churn-prod", "scale-up", "churn-prod-HighLatency", "arn:a", T0, "latency", "TotalLatency")
    store = Incidents(Table(cast("DynamoDBClient", None), "ledger"), timedelta(days=90))
    closed = replace(incident, closed_at=(T0 + timedelta(hours=1)).isoformat())
    item: dict[str, Any] = to_item(store._item(closed))
    assert sorted(item) == sorted(
        ["pk", "sk", "kind", "id", "body", "state", "action", "alarm_name", "version", "closed_at", "expiration"]
    )
    assert item["expiration"] == {"N": str(int((T0 + timedelta(hours=1, days=90)).timestamp()))}
    assert item["version"] == {"N": "0"}
    assert "expiration" not in to_item(store._item(incident))
    assert _decode(from_item(item)) == closed


def test_tracking_a_resource_again_moves_when_it_was_last_used_and_keeps_when_it_was_created(dynamodb: Any) -> None:
    """A package deployed again reuses its model's name: each rollout tracks it (used_at), the
    first one's time stays (created_at); `tracked` reads the name's items of every endpoint."""
    deployments = Deployments(Table(dynamodb, TABLE))
    deployments.track_created("churn-prod", "model", "churn-3-model-0a1b2c3d", T0)
    deployments.track_created("churn-prod", "model", "churn-3-model-0a1b2c3d-x", T0)  # a longer name
    deployments.track_created("churn-prod", "model", "churn-3-model-0a1b2c3d", T0 + timedelta(days=40))
    deployments.track_created("churn-staging", "model", "churn-3-model-0a1b2c3d", T0 + timedelta(days=41))
    assert deployments.tracked("model", "churn-3-model-0a1b2c3d") == [
        Created("churn-prod", "model", "churn-3-model-0a1b2c3d", T0.isoformat(), (T0 + timedelta(days=40)).isoformat()),
        Created(
            "churn-staging",
            "model",
            "churn-3-model-0a1b2c3d",
            (T0 + timedelta(days=41)).isoformat(),
            (T0 + timedelta(days=41)).isoformat(),
        ),
    ]
    assert deployments.tracked("config", "churn-3-model-0a1b2c3d") == []
