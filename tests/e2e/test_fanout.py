"""End to end: the data jobs fanned out in a local cloud this test starts - the hourly run queues
every endpoint in scope, the local cloud delivers each queue to its function as Lambda's event
source mapping does, and a measurement that keeps failing is retried, then parked."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from localcloud import world
from localcloud.__main__ import parameters, simulate_aws, start_server
from localcloud.cloud import ROOT, Invocation, LocalCloud

pytestmark = pytest.mark.slow
HOUR = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
IN_SCOPE = sorted([*world.NAMED, *world.by_tag()])


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    server, port = start_server(ROOT / ".localcloud" / "moto-e2e-fanout.log")
    try:
        local = LocalCloud(f"http://127.0.0.1:{port}")
        world.seed_fleet(local)
        local.deploy(parameters("enforce"))
        world.seed(local, HOUR)
        simulate_aws(local)
        yield local
    finally:
        server.terminate()
        server.wait(timeout=10)


def queue_url(cloud: LocalCloud, logical_id: str) -> str:
    return cloud.stack.resources[logical_id]


def results(tick: Invocation) -> list[dict[str, object]]:
    return [r for d in tick.delivered for r in (d.result or {}).get("results", [])]


def test_the_queues_and_their_mappings_are_deployed_as_the_template_says(cloud: LocalCloud) -> None:
    mappings = cloud.client("lambda").list_event_source_mappings()["EventSourceMappings"]
    by_function = {cloud.logical_id_of(m["FunctionArn"]): m for m in mappings}
    assert set(by_function) == {"ComputeDriftFunction", "ComputeModelQualityFunction"}
    sqs = cloud.client("sqs")
    dead_letters = cloud.stack.outputs["DeadLetterQueueArn"]
    for function, queue, batch in (
        ("ComputeDriftFunction", "ComputeDriftQueue", 10),
        ("ComputeModelQualityFunction", "ComputeModelQualityQueue", 1),
    ):
        mapping = by_function[function]
        assert (mapping["BatchSize"], mapping["FunctionResponseTypes"]) == (batch, ["ReportBatchItemFailures"])
        assert mapping["ScalingConfig"] == {"MaximumConcurrency": 4}
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url(cloud, queue), AttributeNames=["All"])["Attributes"]
        assert mapping["EventSourceArn"] == attributes["QueueArn"]
        assert json.loads(attributes["RedrivePolicy"]) == {"deadLetterTargetArn": dead_letters, "maxReceiveCount": 5}
        assert attributes["VisibilityTimeout"] == "1800"
        assert attributes["KmsMasterKeyId"]


def test_the_hourly_drift_run_queues_every_endpoint_and_each_is_measured_once(cloud: LocalCloud) -> None:
    built = cloud.invoke("ComputeDriftFunction", {"build-baseline": {"endpoint": world.ENDPOINT}}, HOUR)
    assert built.error is None, built.logs
    world.capture(cloud, HOUR, 1200, mean_age=40, mix=(30, 40, 30))
    [tick] = cloud.tick("ComputeDriftFunction", HOUR + timedelta(minutes=65))
    assert tick.error is None, tick.logs
    assert sorted(tick.result["queued"]) == IN_SCOPE
    assert "sqs:SendMessageBatch" in tick.calls
    # One batch (BatchSize 10) held every endpoint; each measured once, none sent back.
    [worker] = tick.delivered
    assert worker.error is None, worker.logs
    assert worker.result["batchItemFailures"] == []
    measured = {str(r["endpoint"]): r for r in results(tick)}
    assert sorted(measured) == IN_SCOPE
    assert (measured[world.ENDPOINT]["status"], measured[world.ENDPOINT]["rows"]) == ("published", 1200)
    assert {measured[e]["status"] for e in IN_SCOPE if e != world.ENDPOINT} == {"no-baseline"}
    attributes = cloud.client("sqs").get_queue_attributes(
        QueueUrl=queue_url(cloud, "ComputeDriftQueue"),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    assert attributes == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}


def test_the_quality_catch_up_gives_each_endpoint_an_invocation_of_its_own(cloud: LocalCloud) -> None:
    world.predictions_and_labels(cloud, HOUR, {"primary": (900, 0.8), "canary": (100, 0.3)})
    # Labels collected the hour after the predictions: the catch-up at the end of that hour takes them.
    [tick] = cloud.tick("ComputeModelQualityFunction", HOUR + timedelta(hours=2, minutes=10))
    assert tick.error is None, tick.logs
    assert sorted(tick.result["queued"]) == IN_SCOPE
    assert [len(d.event["Records"]) for d in tick.delivered] == [1] * len(IN_SCOPE)  # BatchSize 1
    assert all(d.error is None and d.result["batchItemFailures"] == [] for d in tick.delivered)
    measured = {str(r["endpoint"]): r for r in results(tick)}
    assert sorted(measured) == IN_SCOPE
    churn = measured[world.ENDPOINT]
    assert churn["status"] == "published"
    assert churn["matched"] == 1000


def test_a_measurement_that_keeps_failing_is_retried_five_times_then_parked(cloud: LocalCloud) -> None:
    # A broken deployment: the function's ledger table is gone, so every endpoint's measurement
    # fails (each reported in batchItemFailures); the hourly run itself needs no ledger.
    lambdas = cloud.client("lambda")
    name = cloud.stack.resources["ComputeDriftFunction"]
    deployed = lambdas.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
    variables = {key: str(value) for key, value in deployed.items()}
    lambdas.update_function_configuration(
        FunctionName=name, Environment={"Variables": {**variables, "LEDGER_TABLE": "model-medic-gone"}}
    )
    try:
        [tick] = cloud.tick("ComputeDriftFunction", HOUR + timedelta(hours=2, minutes=5))
    finally:
        lambdas.update_function_configuration(FunctionName=name, Environment={"Variables": variables})
    assert tick.error is None, tick.logs
    # Every message delivered five times (maxReceiveCount), reported failed each time, never as a function error.
    received = [r["messageId"] for d in tick.delivered for r in d.event["Records"]]
    assert sorted(set(received)) == sorted(received[: len(IN_SCOPE)])
    assert len(received) == 5 * len(IN_SCOPE)
    for delivery in tick.delivered:
        assert delivery.error is None, delivery.logs
        failed = [f["itemIdentifier"] for f in delivery.result["batchItemFailures"]]
        assert sorted(failed) == sorted(r["messageId"] for r in delivery.event["Records"])
    sqs = cloud.client("sqs")
    parked = sqs.receive_message(QueueUrl=cloud.stack.outputs["DeadLetterQueueUrl"], MaxNumberOfMessages=10)
    bodies = [json.loads(m["Body"]) for m in parked.get("Messages", [])]
    assert sorted(b["endpoint"] for b in bodies) == IN_SCOPE
    assert {b["measure"] for b in bodies} == {"drift"}


def test_the_queues_and_mappings_go_with_the_stack(cloud: LocalCloud) -> None:
    """Last: the stack deleted, nothing of the fan-out is left (README "Uninstall")."""
    queues = [queue_url(cloud, name) for name in ("ComputeDriftQueue", "ComputeModelQualityQueue")]
    status = cloud.delete()
    assert status.startswith("DELETE_COMPLETE"), status
    left = cloud.client("sqs").list_queues().get("QueueUrls", [])
    assert not set(queues) & set(left)
    assert cloud.client("lambda").list_event_source_mappings()["EventSourceMappings"] == []
