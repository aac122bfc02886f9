"""The data jobs' queues and event source mappings as CloudFormation deploys them: encrypted, retried
then parked, bounded below the functions' reserved concurrency, and reachable by their own function only."""

import json
from typing import Any

import pytest

from tests.template.conftest import resources_of
from tests.template.test_security import grants

JOBS = [
    ("ComputeDriftFunction", "ComputeDriftQueue", "ComputeDriftQueueMapping", "DRIFT_QUEUE_URL", 10),
    (
        "ComputeModelQualityFunction",
        "ComputeModelQualityQueue",
        "ComputeModelQualityQueueMapping",
        "QUALITY_QUEUE_URL",
        1,
    ),
]
SQS_ACTIONS = {"sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}


@pytest.mark.parametrize(("function", "queue", "mapping", "variable", "batch"), JOBS)
def test_each_job_has_its_queue_retried_then_parked_and_encrypted_with_the_stacks_key(
    transformed: dict[str, Any], function: str, queue: str, mapping: str, variable: str, batch: int
) -> None:
    resources = transformed["Resources"]
    made = resources[queue]
    properties = made["Properties"]
    assert made["Condition"] == resources[function]["Condition"]
    assert properties["KmsMasterKeyId"] == {"Fn::GetAtt": ["TopicKey", "Arn"]}
    # At least six times the function's timeout (Lambda Developer Guide): a throttled batch can be retried.
    assert properties["VisibilityTimeout"] >= 6 * resources[function]["Properties"]["Timeout"]
    assert properties["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]},
        "maxReceiveCount": 5,
    }
    # A message is received five times within 5 x 1,800 s; it is kept longer than that, and
    # the dead-letter queue keeps it longer still (its age counts from the first send).
    retention = properties["MessageRetentionPeriod"]
    assert 5 * properties["VisibilityTimeout"] < retention
    assert retention < resources["DeadLetterQueue"]["Properties"]["MessageRetentionPeriod"]
    variables = resources[function]["Properties"]["Environment"]["Variables"]
    assert variables[variable] == {"Ref": queue}


@pytest.mark.parametrize(("function", "queue", "mapping", "variable", "batch"), JOBS)
def test_each_mapping_reports_failures_alone_and_stays_below_the_reserved_concurrency(
    transformed: dict[str, Any], function: str, queue: str, mapping: str, variable: str, batch: int
) -> None:
    resources = transformed["Resources"]
    made = resources[mapping]
    properties = made["Properties"]
    assert made["Type"] == "AWS::Lambda::EventSourceMapping"
    assert made["Condition"] == resources[function]["Condition"]
    assert properties["FunctionName"] == {"Ref": function}
    assert properties["EventSourceArn"] == {"Fn::GetAtt": [queue, "Arn"]}
    assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert properties["BatchSize"] == batch
    concurrency = properties["ScalingConfig"]["MaximumConcurrency"]
    reserved = resources[function]["Properties"]["ReservedConcurrentExecutions"]
    # 2-1000 (ScalingConfig); one invocation left for the tick, labels and baseline builds.
    assert 2 <= concurrency <= reserved - 1


def test_no_sam_sqs_event_brings_aws_s_queue_policy_on_every_queue(source: dict[str, Any]) -> None:
    """SAM's `Type: SQS` event attaches AWSLambdaSQSQueueExecutionRole (sqs actions on "*"):
    the mappings are declared as resources, with the role's statements scoped to one queue."""
    for name, resource in source["Resources"].items():
        for event in resource.get("Properties", {}).get("Events", {}).values():
            assert event["Type"] != "SQS", name


def test_only_each_job_s_function_may_send_to_and_take_from_its_queue(transformed: dict[str, Any]) -> None:
    key = json.dumps({"Fn::GetAtt": ["TopicKey", "Arn"]}, sort_keys=True)
    for function, queue, _, _, _ in JOBS:
        arn = json.dumps({"Fn::GetAtt": [queue, "Arn"]}, sort_keys=True)
        naming = [g for g in grants(transformed) if any(queue in r for r in g.resources)]
        assert {(g.role, g.action) for g in naming} == {(f"{function}Role", action) for action in SQS_ACTIONS}
        assert all(g.resources == (arn,) for g in naming)  # that queue alone, nothing beside it
        # The queue is encrypted with the stack's key: sending needs GenerateDataKey, receiving Decrypt.
        usable = {g.action for g in grants(transformed) if g.role == f"{function}Role" and key in g.resources}
        assert {"kms:GenerateDataKey*", "kms:Decrypt"} <= usable


def test_the_mappings_and_queues_are_the_only_ones(transformed: dict[str, Any]) -> None:
    mappings = resources_of(transformed, "AWS::Lambda::EventSourceMapping")
    assert set(mappings) == {mapping for _, _, mapping, _, _ in JOBS}
    queues = resources_of(transformed, "AWS::SQS::Queue")
    assert set(queues) == {"DeadLetterQueue", *(queue for _, queue, _, _, _ in JOBS)}
