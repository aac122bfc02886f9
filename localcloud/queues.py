"""What Lambda's SQS event source mapping does, for the local cloud, the tests and the benchmarks.

moto cannot run it: its SQS hands each new message to the mapped function through Docker
(localcloud/moto_extensions.py, `sqs_event_source_mappings_polled_here`), so the local cloud
polls the queue here instead, as Lambda's pollers do in AWS (Lambda Developer Guide, "Using
Lambda with Amazon SQS"; docs/aws-behaviours.md, "SQS event source mappings"):

* a batch of up to `BatchSize` messages (10 at most here: one ReceiveMessage), each as a
  record of Lambda's SQS event (`messageId`, `receiptHandle`, `body`, `attributes` with
  `ApproximateReceiveCount`, `eventSource` `aws:sqs`, `eventSourceARN`, `awsRegion`);
* a function error fails the whole batch. With `ReportBatchItemFailures`, the function's
  `batchItemFailures` name the messages that failed; an empty or null list is a complete
  success, and an item without an `itemIdentifier`, with an empty one, or naming a message
  that is not in the batch fails the whole batch. Without it, only an error fails;
* the messages that succeeded are deleted; the others become visible again when the queue's
  visibility timeout runs out - here at once (ChangeMessageVisibility 0): the local cloud
  does not wait 30 minutes. The queue's redrive policy then moves a message received
  maxReceiveCount times to its dead-letter queue (moto does this on the next receive);
* batches are delivered one after another: the mapping's MaximumConcurrency bounds how many
  run at once in AWS, and one at a time is within any bound.

A queue without a redrive policy would retry a failing message for as long as the queue
keeps it; here a message is given up (left invisible) after `GIVE_UP_AFTER` receives, so
that a drain always ends.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

GIVE_UP_AFTER = 20  # receives of one message, on a queue whose redrive policy does not park it first
RECEIVE_MAX = 10  # ReceiveMessage returns at most 10 messages


@dataclass
class Delivery:
    """One invocation of the function with one batch: what it answered (or raised), and which
    of the batch's messages went back to the queue."""

    event: dict[str, Any]
    result: Any = None
    error: str | None = None
    failed: list[str] = field(default_factory=list)  # message ids


Invoke = Callable[[dict[str, Any]], tuple[Any, str | None]]  # event -> (result, error)


def failed_messages(result: Any, error: str | None, batch: list[str], reports: bool) -> list[str]:
    """The messages of `batch` (ids) that go back to the queue after one invocation (AWS's
    success and failure conditions of a partial batch response, above)."""
    if error is not None:
        return list(batch)
    if not reports or not isinstance(result, dict) or result.get("batchItemFailures") is None:
        return []
    failures = result["batchItemFailures"]
    if not isinstance(failures, list):
        return list(batch)
    named: list[str] = []
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or identifier not in batch:
            return list(batch)  # a bad response fails the whole batch
        named.append(identifier)
    return [message_id for message_id in batch if message_id in named]


def record(message: MessageTypeDef, queue_arn: str, region: str) -> dict[str, Any]:
    """A message as one record of Lambda's SQS event."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {},
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


class QueuePoller:
    """One SQS event source mapping: its queue, its batch size and whether the function reports
    batch item failures."""

    def __init__(
        self, sqs: SQSClient, queue_url: str, batch_size: int = 10, reports: bool = True, region: str = "us-east-1"
    ) -> None:
        self._sqs = sqs
        self._url = queue_url
        self._batch = max(1, min(batch_size, RECEIVE_MAX))
        self._reports = reports
        self._region = region
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]
        self._arn = attributes["QueueArn"]

    def drain(self, invoke: Invoke) -> list[Delivery]:
        """Every message of the queue delivered to the function, batch by batch, retried as the
        queue says, until the queue has nothing left to receive."""
        deliveries: list[Delivery] = []
        while True:
            received = self._sqs.receive_message(
                QueueUrl=self._url, MaxNumberOfMessages=self._batch, MessageSystemAttributeNames=["All"]
            ).get("Messages", [])
            if not received:
                return deliveries
            event = {"Records": [record(message, self._arn, self._region) for message in received]}
            result, error = invoke(event)
            ids = [message["MessageId"] for message in received]
            failed = failed_messages(result, error, ids, self._reports)
            deliveries.append(Delivery(event, result, error, failed))
            self._settle(received, failed)

    def _settle(self, received: list[MessageTypeDef], failed: list[str]) -> None:
        done = [m for m in received if m["MessageId"] not in failed]
        if done:
            self._sqs.delete_message_batch(
                QueueUrl=self._url,
                Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(done)],
            )
        for message in received:
            if message["MessageId"] not in failed:
                continue
            receives = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
            if receives < GIVE_UP_AFTER:  # the visibility timeout, run out at once
                self._sqs.change_message_visibility(
                    QueueUrl=self._url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
