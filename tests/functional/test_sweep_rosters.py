"""The ScaleUp sweep's two rosters - open incidents (incidents.py) and boosts (boosts.py):
written and deleted in the transactions that open and close incidents and save and drop
boosts, read by the sweep in one Query each (then the incidents named, by key) instead of one
Query per endpoint; what was
written before they existed entered by the first sweep; a stale entry removed."""

from dataclasses import replace
from datetime import timedelta
from typing import Any

import boto3
import pytest
import time_machine

from model_medic.store.boosts import BOOSTS_PK, Boosts
from model_medic.store.incidents import ROSTER_PK, Incidents, opened
from model_medic.store.table import Table
from tests.conftest import Stack, make_endpoint, stored_incidents
from tests.functional.test_scale_up import (  # noqa: F401 - fixtures shared with the ScaleUp tests
    OPENED,
    clock,
    deliver,
    fn,
    latency_alarm,
    scale_up_alarms,
    set_alarm,
    sweep,
)

FLEET = [f"model-{i:02d}" for i in range(12)]
SICK = "model-07"


@pytest.fixture
def fleet(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setenv("MONITORED_ENDPOINTS", ",".join(FLEET))
    for name in FLEET:
        make_endpoint(name, {"primary": {"count": 1, "weight": 1.0}})
    return FLEET


def roster(stack: Stack, pk: str = ROSTER_PK) -> list[str]:
    items = boto3.client("dynamodb").query(
        TableName=stack.table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": pk}},
        ConsistentRead=True,
    )["Items"]
    return [item["sk"]["S"] for item in items]


def queries(requests: list[tuple[str, str, dict[str, Any]]], kind: str, roster_pk: str) -> list[str]:
    """The partitions the requests queried for items of this kind (sort key prefix) or for
    its roster, in order."""
    found = []
    for _, operation, params in requests:
        if operation != "Query":
            continue
        pk = params["ExpressionAttributeValues"][":pk"]["S"]
        if pk == roster_pk or kind in str(params["ExpressionAttributeValues"]):
            found.append(pk)
    return found


def store(stack: Stack) -> Incidents:
    return Incidents(Table(boto3.client("dynamodb"), stack.table), timedelta(days=90))


def test_an_incident_is_on_the_roster_from_its_open_to_its_close(
    fn: Any,  # noqa: F811
    fleet: list[str],
    stack: Stack,
    clock: time_machine.Traveller,  # noqa: F811
) -> None:
    scale_up_alarms({"HighLatency": "ALARM", "HighErrorRate": "OK"}, endpoint=SICK)
    [acted] = deliver(fn, clock, latency_alarm(SICK))
    assert acted["result"] == "acted"
    assert roster(stack) == [f"scale-up#{SICK}#{acted['incident']}"]
    clock.move_to(OPENED + timedelta(minutes=12))
    set_alarm(f"{SICK}-HighLatency", "OK")
    [recovered] = sweep(fn, clock, OPENED + timedelta(minutes=15))
    assert recovered["result"] == "recovered"
    assert roster(stack) == ["scale-up#!complete"]


def test_the_sweep_queries_the_roster_and_only_the_endpoints_it_names(
    fn: Any,  # noqa: F811
    fleet: list[str],
    stack: Stack,
    clock: time_machine.Traveller,  # noqa: F811
    aws_requests: list[tuple[str, str, dict[str, Any]]],
) -> None:
    scale_up_alarms({"HighLatency": "ALARM", "HighErrorRate": "OK"}, endpoint=SICK)
    deliver(fn, clock, latency_alarm(SICK))
    sweep(fn, clock, OPENED + timedelta(minutes=5))  # the first: the roster is not known complete yet
    assert queries(aws_requests, "INCIDENT#", ROSTER_PK).count(ROSTER_PK) == 1
    assert len(queries(aws_requests, "BOOST#", BOOSTS_PK)) == 1 + len(FLEET)  # each endpoint once, to enter
    assert roster(stack)[0] == "scale-up#!complete"
    assert roster(stack, BOOSTS_PK) == ["!complete", f"{SICK}#primary"]
    aws_requests.clear()
    sweep(fn, clock, OPENED + timedelta(minutes=10))
    # Not one Query per endpoint of 12: the rosters, then the incident the roster names, read
    # by its key (BatchGetItem), and the one endpoint the boost roster names.
    assert queries(aws_requests, "INCIDENT#", ROSTER_PK) == [ROSTER_PK]
    [batch] = [params for _, operation, params in aws_requests if operation == "BatchGetItem"]
    [(_, wanted)] = batch["RequestItems"].items()
    assert [key["pk"]["S"] for key in wanted["Keys"]] == [f"ENDPOINT#{SICK}"]
    assert wanted["ConsistentRead"] is True
    assert queries(aws_requests, "BOOST#", BOOSTS_PK) == [BOOSTS_PK, f"ENDPOINT#{SICK}"]


def test_incidents_opened_before_the_roster_are_found_by_the_first_sweep_and_entered(
    fn: Any,  # noqa: F811
    fleet: list[str],
    stack: Stack,
    clock: time_machine.Traveller,  # noqa: F811
) -> None:
    # Two open incidents written as before the roster existed (no entry): one whose alarm is
    # still in ALARM, one whose OK was never delivered.
    dynamodb = boto3.client("dynamodb")
    old = {}
    for endpoint in ("model-02", "model-09"):
        alarm = f"{endpoint}-HighLatency"
        arn = f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{alarm}"
        incident = replace(opened(endpoint, "scale-up", alarm, arn, OPENED, "latency", "TotalLatency"), version=1)
        Table(dynamodb, stack.table).put(store(stack)._item(incident))
        old[endpoint] = incident
    clock.move_to(OPENED + timedelta(minutes=20))
    scale_up_alarms({"HighLatency": "ALARM", "HighErrorRate": "OK"}, endpoint="model-02")
    scale_up_alarms({"HighLatency": "OK", "HighErrorRate": "OK"}, endpoint="model-09")
    assert roster(stack) == []
    outcomes = sweep(fn, clock, OPENED + timedelta(minutes=25))
    by_endpoint = {o["endpoint"]: o for o in outcomes}
    assert by_endpoint["model-02"]["incident"] == old["model-02"].id
    assert by_endpoint["model-02"]["result"] == "acted"
    assert by_endpoint["model-09"]["incident"] == old["model-09"].id  # closed: its alarm is OK
    assert [i["closed_at"] is None for i in stored_incidents(stack)] == [True, False]
    assert roster(stack) == ["scale-up#!complete", f"scale-up#model-02#{old['model-02'].id}"]


def test_a_stale_entry_is_removed_once_its_incident_is_read_closed_and_a_missing_one_is_kept(
    fn: Any,  # noqa: F811
    fleet: list[str],
    stack: Stack,
    clock: time_machine.Traveller,  # noqa: F811
) -> None:
    incidents = store(stack)
    alarm = f"{SICK}-HighLatency"
    arn = f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{alarm}"
    incident = incidents.open(opened(SICK, "scale-up", alarm, arn, OPENED, "latency", "TotalLatency"))
    incidents.save(replace(incident, state="closed", closed_at=OPENED.isoformat()))
    assert roster(stack) == []  # closed in the same transaction
    dynamodb = boto3.client("dynamodb")
    unseen = f"scale-up#model-03#{OPENED.isoformat()}#0123456789abcdef"
    for sk, endpoint in ((f"scale-up#{SICK}#{incident.id}", SICK), (unseen, "model-03")):
        dynamodb.put_item(
            TableName=stack.table,
            Item={"pk": {"S": ROSTER_PK}, "sk": {"S": sk}, "endpoint": {"S": endpoint}, "kind": {"S": "open-incident"}},
        )
    scale_up_alarms({"HighLatency": "OK", "HighErrorRate": "OK"}, endpoint=SICK)
    assert sweep(fn, clock, OPENED + timedelta(minutes=5)) == []
    assert roster(stack) == ["scale-up#!complete", unseen]


def test_opening_the_same_transition_twice_gives_the_stored_incident(stack: Stack) -> None:
    incidents = store(stack)
    make_endpoint(SICK)
    alarm = f"{SICK}-HighLatency"
    arn = f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{alarm}"
    first = incidents.open(opened(SICK, "scale-up", alarm, arn, OPENED, "latency", "TotalLatency"))
    saved = incidents.save(replace(first, steps=1).at("action", OPENED, "primary 1 -> 2"))
    again = incidents.open(opened(SICK, "scale-up", alarm, arn, OPENED, "latency", "TotalLatency"))
    assert (again.id, again.version, again.steps) == (first.id, saved.version, 1)
    assert roster(stack) == [f"scale-up#{SICK}#{first.id}"]


def test_a_boost_is_on_its_roster_until_it_is_given_back(
    fn: Any,  # noqa: F811
    fleet: list[str],
    stack: Stack,
    clock: time_machine.Traveller,  # noqa: F811
) -> None:
    scale_up_alarms({"HighLatency": "ALARM", "HighErrorRate": "OK"}, endpoint=SICK)
    deliver(fn, clock, latency_alarm(SICK))
    assert roster(stack, BOOSTS_PK) == [f"{SICK}#primary"]
    clock.move_to(OPENED + timedelta(minutes=12))
    set_alarm(f"{SICK}-HighLatency", "OK")
    sweep(fn, clock, OPENED + timedelta(minutes=15))  # recovered; the boost stays 15 quiet minutes
    assert roster(stack, BOOSTS_PK) == ["!complete", f"{SICK}#primary"]
    [given] = sweep(fn, clock, OPENED + timedelta(minutes=30))
    assert (given["action"], given["endpoint"], given["reason"]) == (
        "scale-back",
        SICK,
        "primary instance-count 2 -> 1",
    )
    # On the roster until the next sweep reads the last step back InService at the old floor.
    assert roster(stack, BOOSTS_PK) == ["!complete", f"{SICK}#primary"]
    assert sweep(fn, clock, OPENED + timedelta(minutes=35)) == []
    assert roster(stack, BOOSTS_PK) == ["!complete"]
    assert stack.items("boost") == []


def test_a_boost_saved_before_its_roster_is_given_back_by_the_first_sweep(
    fn: Any,  # noqa: F811
    fleet: list[str],
    stack: Stack,
    clock: time_machine.Traveller,  # noqa: F811
) -> None:
    dynamodb = boto3.client("dynamodb")
    dynamodb.update_item(  # as Boosts.save wrote it before the roster: no entry
        TableName=stack.table,
        Key={"pk": {"S": "ENDPOINT#model-04"}, "sk": {"S": "BOOST#primary"}},
        UpdateExpression=(
            "SET kind = :kind, variant = :variant, lever = :lever, original = :before, boosted_to = :after,"
            " boosted_at = :at ADD alarms :alarm"
        ),
        ExpressionAttributeValues={
            ":kind": {"S": "boost"},
            ":variant": {"S": "primary"},
            ":lever": {"S": "instance-count"},
            ":before": {"N": "1"},
            ":after": {"N": "2"},
            ":at": {"S": OPENED.isoformat()},
            ":alarm": {"SS": ["model-04-HighLatency"]},
        },
    )
    boto3.client("sagemaker").update_endpoint_weights_and_capacities(
        EndpointName="model-04", DesiredWeightsAndCapacities=[{"VariantName": "primary", "DesiredInstanceCount": 2}]
    )
    scale_up_alarms({"HighLatency": "OK", "HighErrorRate": "OK"}, endpoint="model-04")
    [given] = sweep(fn, clock, OPENED + timedelta(minutes=20))
    assert (given["endpoint"], given["reason"]) == ("model-04", "primary instance-count 2 -> 1")
    assert sweep(fn, clock, OPENED + timedelta(minutes=25)) == []  # read back: done
    assert roster(stack, BOOSTS_PK) == ["!complete"]


def test_a_stale_boost_entry_is_removed_only_while_its_boost_is_gone(stack: Stack) -> None:
    ledger = Boosts(Table(boto3.client("dynamodb"), stack.table))
    ledger.save(SICK, "primary", "instance-count", 1, 2, f"{SICK}-HighLatency", OPENED)
    ledger.by_endpoint([SICK])  # completes the roster
    boto3.client("dynamodb").delete_item(  # the boost goes without its entry (a first sweep's race)
        TableName=stack.table, Key={"pk": {"S": f"ENDPOINT#{SICK}"}, "sk": {"S": "BOOST#primary"}}
    )
    assert roster(stack, BOOSTS_PK) == ["!complete", f"{SICK}#primary"]
    assert ledger.by_endpoint([SICK, "model-01"]) == {}
    assert roster(stack, BOOSTS_PK) == ["!complete"]
    ledger.save(SICK, "canary", "instance-count", 1, 2, f"{SICK}-HighLatency", OPENED)
    [boost] = ledger.by_endpoint([SICK])[SICK]
    assert (boost.variant, boost.original, boost.boosted_to) == ("canary", 1, 2)
    ledger.drop(SICK, "canary")
    assert roster(stack, BOOSTS_PK) == ["!complete"]
