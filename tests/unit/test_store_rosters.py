"""The one roster (store/table.py) as its two users use it - the open incidents and the boosts:
the first sweep reads every endpoint, enters what was written before the roster and marks it
complete; later sweeps read the roster and only what it names; a stale entry goes once a read
or a condition confirms it, and only then."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from model_medic.store.boosts import BOOSTS_PK, Boosts, _Members
from model_medic.store.incidents import ROSTER_PK, Incident, Incidents, opened
from model_medic.store.table import Roster, Table
from tests.unit.conftest import TABLE

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
Requests = list[tuple[str, str, dict[str, Any]]]


def roster(dynamodb: Any, pk: str) -> list[str]:
    items = dynamodb.query(
        TableName=TABLE, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": pk}}
    )["Items"]
    return [item["sk"]["S"] for item in items]


def queried(requests: Requests) -> list[str]:
    """The partitions queried, in order."""
    return [p["ExpressionAttributeValues"][":pk"]["S"] for _, op, p in requests if op == "Query"]


def put_entry(dynamodb: Any, pk: str, sk: str, endpoint: str, kind: str) -> None:
    """An entry as a first sweep racing a close or a give-back leaves it."""
    item = {"pk": {"S": pk}, "sk": {"S": sk}, "kind": {"S": kind}, "endpoint": {"S": endpoint}}
    dynamodb.put_item(TableName=TABLE, Item=item)


def incident(endpoint: str, minutes: int = 0, action: str = "scale-up") -> Incident:
    alarm = f"{endpoint}-HighLatency"
    at = T0 + timedelta(minutes=minutes)
    return opened(endpoint, action, alarm, f"arn:aws:cloudwatch:us-east-1:1:alarm:{alarm}", at, "latency", "Latency")


# --- boosts ---------------------------------------------------------------------------------


def test_a_boost_saved_before_the_roster_is_entered_by_the_first_sweep(dynamodb: Any) -> None:
    boosts = Boosts(Table(dynamodb, TABLE))
    boosts.save("ep-a", "primary", "instance-count", 1, 2, "ep-a-HighLatency", T0)
    dynamodb.delete_item(TableName=TABLE, Key={"pk": {"S": BOOSTS_PK}, "sk": {"S": "ep-a#primary"}})  # as before
    found = boosts.by_endpoint(["ep-a", "ep-b"])
    assert [(e, [b.variant for b in bs]) for e, bs in found.items()] == [("ep-a", ["primary"])]
    assert roster(dynamodb, BOOSTS_PK) == ["!complete", "ep-a#primary"]


def test_a_complete_boost_roster_is_read_then_only_the_endpoints_it_names(
    dynamodb: Any, aws_requests: Requests
) -> None:
    boosts = Boosts(Table(dynamodb, TABLE))
    boosts.save("ep-a", "primary", "instance-count", 1, 2, "ep-a-HighLatency", T0)
    boosts.save("ep-a", "canary", "min-capacity", 1, 3, "ep-a-HighLatency", T0, step=2)
    boosts.by_endpoint(["ep-a", "ep-b", "ep-c"])  # the first sweep: every endpoint
    assert queried(aws_requests)[1:] == ["ENDPOINT#ep-a", "ENDPOINT#ep-b", "ENDPOINT#ep-c"]
    aws_requests.clear()
    found = boosts.by_endpoint(["ep-a", "ep-b", "ep-c"])
    assert queried(aws_requests) == [BOOSTS_PK, "ENDPOINT#ep-a"]
    assert [(b.variant, b.original, b.boosted_to, b.step) for b in found["ep-a"]] == [
        ("canary", 1, 3, 2),
        ("primary", 1, 2, None),
    ]
    assert list(found) == ["ep-a"]


def test_a_boost_entry_goes_only_on_the_condition_that_its_boost_is_gone(dynamodb: Any) -> None:
    boosts = Boosts(Table(dynamodb, TABLE))
    boosts.save("ep-a", "primary", "instance-count", 1, 2, "ep-a-HighLatency", T0)
    boosts.by_endpoint(["ep-a"])
    put_entry(dynamodb, BOOSTS_PK, "ep-a#canary", "ep-a", "boost-entry")  # its boost was given back
    assert list(boosts.by_endpoint(["ep-a"])) == ["ep-a"]
    assert roster(dynamodb, BOOSTS_PK) == ["!complete", "ep-a#primary"]
    # Saved again between the read and the delete: the condition keeps the entry.
    table = Table(dynamodb, TABLE)
    members = _Members(boosts, table, Roster(table, BOOSTS_PK, "", "boost-entry"))
    members.drop_stale("ep-a#primary", "ep-a", None)
    assert roster(dynamodb, BOOSTS_PK) == ["!complete", "ep-a#primary"]


def test_dropping_a_boost_takes_its_entry_in_the_same_transaction(dynamodb: Any) -> None:
    boosts = Boosts(Table(dynamodb, TABLE))
    boosts.save("ep-a", "primary", "instance-count", 1, 2, "ep-a-HighLatency", T0)
    assert roster(dynamodb, BOOSTS_PK) == ["ep-a#primary"]
    boosts.drop("ep-a", "primary")
    assert roster(dynamodb, BOOSTS_PK) == []
    assert boosts.of("ep-a") == []


# --- open incidents -------------------------------------------------------------------------


def test_an_incident_opened_before_the_roster_is_entered_by_its_actions_first_sweep(dynamodb: Any) -> None:
    incidents = Incidents(Table(dynamodb, TABLE), timedelta(days=90))
    old = replace(incident("ep-b"), version=1)
    Table(dynamodb, TABLE).put(incidents._item(old))  # as before the roster: no entry
    incidents.open(incident("ep-a", action="rollback"))
    found = incidents.open_by_endpoint("scale-up", ["ep-a", "ep-b", "ep-c"])
    assert {endpoint: [i.id for i in found] for endpoint, found in found.items()} == {
        "ep-a": [],
        "ep-b": [old.id],
        "ep-c": [],
    }
    assert roster(dynamodb, ROSTER_PK) == [
        f"rollback#ep-a#{incident('ep-a').id}",
        "scale-up#!complete",
        f"scale-up#ep-b#{old.id}",
    ]


def test_a_complete_incident_roster_reads_the_named_incidents_by_key(dynamodb: Any, aws_requests: Requests) -> None:
    incidents = Incidents(Table(dynamodb, TABLE), timedelta(days=90))
    first, second = incidents.open(incident("ep-a")), incidents.open(incident("ep-a", minutes=5))
    incidents.open_by_endpoint("scale-up", ["ep-a", "ep-b"])
    aws_requests.clear()
    found = incidents.open_by_endpoint("scale-up", ["ep-a", "ep-b"])
    assert [i.id for i in found["ep-a"]] == [first.id, second.id]  # oldest first
    assert found["ep-b"] == []
    assert [op for _, op, _ in aws_requests] == ["Query", "BatchGetItem"]


def test_an_incident_entry_goes_once_its_incident_is_read_closed_and_an_unreadable_one_stays(dynamodb: Any) -> None:
    incidents = Incidents(Table(dynamodb, TABLE), timedelta(days=90))
    opened_one = incidents.open(incident("ep-a"))
    incidents.open_by_endpoint("scale-up", ["ep-a", "ep-b"])  # complete
    closed = replace(opened_one, state="closed", closed_at=(T0 + timedelta(hours=1)).isoformat())
    incidents.save(closed)
    assert roster(dynamodb, ROSTER_PK) == ["scale-up#!complete"]  # closed in the same transaction
    left = f"scale-up#ep-a#{opened_one.id}"
    missing = "scale-up#ep-b#2026-01-01T00:00:00+00:00#0123456789abcdef"
    put_entry(dynamodb, ROSTER_PK, left, "ep-a", "open-incident")  # a first sweep racing the close
    put_entry(dynamodb, ROSTER_PK, missing, "ep-b", "open-incident")
    assert incidents.open_by_endpoint("scale-up", ["ep-a", "ep-b"]) == {"ep-a": [], "ep-b": []}
    assert roster(dynamodb, ROSTER_PK) == ["scale-up#!complete", missing]


def test_a_first_sweep_reads_a_stale_entrys_incident_before_it_deletes_the_entry(dynamodb: Any) -> None:
    incidents = Incidents(Table(dynamodb, TABLE), timedelta(days=90))
    one = incidents.open(incident("ep-a"))
    incidents.save(replace(one, state="closed", closed_at=T0.isoformat()))
    entry = f"scale-up#ep-a#{one.id}"
    missing = "scale-up#ep-b#2026-01-01T00:00:00+00:00#0123456789abcdef"
    put_entry(dynamodb, ROSTER_PK, entry, "ep-a", "open-incident")
    put_entry(dynamodb, ROSTER_PK, missing, "ep-b", "open-incident")
    assert incidents.open_by_endpoint("scale-up", ["ep-a", "ep-b"]) == {"ep-a": [], "ep-b": []}
    assert roster(dynamodb, ROSTER_PK) == ["scale-up#!complete", missing]
