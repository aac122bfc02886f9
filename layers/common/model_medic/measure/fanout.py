"""The drift and quality jobs fanned out: the hourly run queues one message per endpoint, each measured on its own."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from model_medic.intake.triggers import Assignment, Job
from model_medic.platform.observability import logger, metrics

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

BATCH = 10  # SendMessageBatch takes at most 10 messages
SEND_ATTEMPTS = 3  # entries SQS failed for its own reasons are sent again, then the hourly run fails (retried)
# A message of a batch is started only with this much of the invocation left; the rest are
# handed back to the queue unstarted (reported as failures), never cut off by the timeout.
START_RESERVE_SECONDS = 60.0


class HandOutIncomplete(Exception):
    """SQS did not take every message: the hourly run fails, and Lambda's retry hands out again."""


def message_body(job: Job, endpoint: str, at: datetime) -> str:
    """The queue message of one endpoint's measurement (`read_body` reads it)."""
    return json.dumps({"measure": job, "endpoint": endpoint, "at": at.isoformat()}, sort_keys=True)


class HandOut:
    """The hourly run's part: every endpoint in scope becomes one message on the job's queue
    (SendMessageBatch, ten a call); Lambda's event source mapping gives each to an invocation."""

    def __init__(self, sqs: SQSClient, queue_url: str, job: Job) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._job = job

    def hand_out(self, endpoints: list[str], at: datetime) -> dict[str, Any]:
        entries: list[SendMessageBatchRequestEntryTypeDef] = [
            {"Id": str(number), "MessageBody": message_body(self._job, endpoint, at)}
            for number, endpoint in enumerate(endpoints)
        ]
        for first in range(0, len(entries), BATCH):
            self._send(entries[first : first + BATCH])
        logger.info("endpoints handed out", job=self._job, endpoints=len(endpoints), at=at.isoformat())
        metrics.add_metric(name="EndpointsHandedOut", unit="Count", value=len(endpoints))
        return {"job": self._job, "at": at.isoformat(), "queued": list(endpoints)}

    def _send(self, entries: list[SendMessageBatchRequestEntryTypeDef]) -> None:
        """One batch; entries SQS failed on its side are sent again, a refused one is a bug (raised)."""
        for _ in range(SEND_ATTEMPTS):
            failed = self._sqs.send_message_batch(QueueUrl=self._queue_url, Entries=entries).get("Failed", [])
            if not failed:
                return
            refused = [f for f in failed if f.get("SenderFault")]
            if refused:
                raise HandOutIncomplete(f"SQS refused {len(refused)} message(s): {refused[0].get('Message', '')}")
            again = {f["Id"] for f in failed}
            entries = [entry for entry in entries if entry["Id"] in again]
        raise HandOutIncomplete(f"SQS did not take {len(entries)} message(s) after {SEND_ATTEMPTS} attempts")


def work(
    assignments: list[Assignment],
    rejected: list[str],
    measure: Callable[[Assignment], dict[str, Any]],
    time_left: Callable[[], float] | None = None,
) -> dict[str, Any]:
    """The worker's part: each assignment measured on its own, as Lambda's partial batch response
    (`batchItemFailures`) says. A message whose measurement raised goes back to the queue alone
    (retried after the visibility timeout, parked in the dead-letter queue by the queue's redrive
    policy after its last receive) and never fails the others; a message started too close to
    the timeout is handed back unstarted. Rejected messages (bad input) are not retried."""
    failures: list[str] = []
    results: list[dict[str, Any]] = []
    for reason in rejected:
        logger.warning("queue message rejected", error=reason)
        metrics.add_metric(name="RejectedEvents", unit="Count", value=1)
    for started, item in enumerate(assignments):
        if started and time_left is not None and time_left() < START_RESERVE_SECONDS:
            logger.info("too little time left to start; handed back to the queue", endpoint=item.endpoint)
            failures.append(item.message_id)
            continue
        try:
            results.append(measure(item))
        except Exception:  # noqa: BLE001 - one endpoint's failure is retried alone, not the batch
            logger.exception(
                "endpoint not measured; its message goes back to the queue",
                endpoint=item.endpoint,
                at=item.at.isoformat(),
                receive_count=item.receive_count,
            )
            metrics.add_metric(name="MeasurementsRetried", unit="Count", value=1)
            failures.append(item.message_id)
    return {
        "batchItemFailures": [{"itemIdentifier": message_id} for message_id in failures],
        "results": results,
        "rejected": rejected,
    }
