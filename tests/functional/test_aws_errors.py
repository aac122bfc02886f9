"""AWS's real answers to a throttle, a concurrent writer and bad input, against moto (the errors are
injected at the client as botocore raises them: docs/aws-behaviours.md, "Transient or permanent").
A throttle or a conflict is tried again, never taken for a refusal; bad input is refused at once,
and one letter's trouble never fails an invocation that has its own work to do."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from botocore.client import BaseClient
from botocore.exceptions import ClientError, ParamValidationError

from model_medic.tell.telling import LEASE
from tests.conftest import FakeContext, Stack, bodies, decisions, load_event, make_endpoint
from tests.functional.test_outbox import T0, courier, outcome, write
from tests.functional.test_scale_up import OPENED, counts, scale_up_alarms
from tests.functional.test_scale_up import clock as clock  # the fixture
from tests.functional.test_scale_up import fn as fn  # the fixture

ENDPOINT = "churn-prod"
LATER = T0 + timedelta(seconds=30)  # the writer's lease is over

Call = Callable[[str, dict[str, Any]], Any]  # reaches moto


def error(code: str, status: int = 400, operation: str = "", **more: Any) -> ClientError:
    """A ClientError as botocore raises it for this answer."""
    response: Any = {"Error": {"Code": code, "Message": "injected"}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response | more, operation)


def conflict(*reasons: str) -> ClientError:
    """TransactWriteItems cancelled by a concurrent transaction (reasons in the order of the items)."""
    return error(
        "TransactionCanceledException",
        operation="TransactWriteItems",
        CancellationReasons=[{"Code": r} for r in reasons],
    )


@pytest.fixture
def answers(monkeypatch: pytest.MonkeyPatch) -> Callable[[Callable[[str, dict[str, Any], Call], Any]], None]:
    """`answers(hook)`: every AWS call goes through `hook(operation, params, call)`, which answers
    it (`call(operation, params)` reaches moto) or raises."""

    def install(hook: Callable[[str, dict[str, Any], Call], Any]) -> None:
        original = BaseClient._make_api_call

        def call(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
            return hook(operation, params, lambda o, p: original(self, o, p))

        monkeypatch.setattr(BaseClient, "_make_api_call", call)

    return install


def held(stack: Stack) -> list[int]:
    """How long after LATER each pending letter is held back, in seconds."""
    return sorted(int(item["lease_until"]) - int(LATER.timestamp()) for item in stack.items("letter"))


# --- the drain ----------------------------------------------------------------------------------


def test_an_sns_throttle_stops_the_drain_and_holds_no_letter_back(stack: Stack, answers: Any) -> None:
    write(courier(stack, "request-1", T0), outcome("acted", "a"), outcome("acted", "b"))

    def hook(operation: str, params: dict[str, Any], call: Any) -> Any:
        if operation == "Publish":
            raise error("Throttled", 429, operation)  # SNS's ThrottledException
        return call(operation, params)

    answers(hook)
    assert courier(stack, "request-2", LATER).drain() == 0
    assert max(held(stack)) <= LEASE.total_seconds()  # no more than a lease: the next invocation tries again
    assert all("last_error" not in item for item in stack.items("letter"))


def test_a_letter_botocore_refuses_is_held_back_and_the_others_are_sent(stack: Stack, answers: Any) -> None:
    write(courier(stack, "request-1", T0), outcome("failed", "bad"), outcome("acted", "good"))

    def hook(operation: str, params: dict[str, Any], call: Any) -> Any:
        if operation == "Publish" and "bad" in params["Message"]:
            raise ParamValidationError(report="Invalid length for parameter Subject")
        return call(operation, params)

    answers(hook)
    assert courier(stack, "request-2", LATER).drain() == 1
    [bad] = stack.items("letter")
    assert bad["endpoint"] == "bad"
    assert "Invalid length" in bad["last_error"]
    assert held(stack) == [15 * 60]
    assert [b["endpoint"] for b in bodies(stack, "info")] == ["good"]


def test_a_letter_another_drain_is_writing_stops_the_drain_quietly(stack: Stack, answers: Any) -> None:
    # Another function's sweep marks a letter sent (a transaction) while this one leases it.
    write(courier(stack, "request-1", T0), outcome("acted", "a"))

    def hook(operation: str, params: dict[str, Any], call: Any) -> Any:
        if operation == "UpdateItem":
            raise error("TransactionConflictException", 400, operation)
        return call(operation, params)

    answers(hook)
    assert courier(stack, "request-2", LATER).drain() == 0
    assert len(stack.items("letter")) == 1


def test_an_outbox_it_cannot_read_stops_the_drain_quietly(stack: Stack, answers: Any) -> None:
    write(courier(stack, "request-1", T0), outcome("acted", "a"))

    def hook(operation: str, params: dict[str, Any], call: Any) -> Any:
        if operation == "Query":
            raise error("ProvisionedThroughputExceededException", 400, operation)
        return call(operation, params)

    answers(hook)
    assert courier(stack, "request-2", LATER).drain() == 0


@pytest.mark.parametrize(
    ("code", "hold"), [("ThrottlingException", 30), ("InternalFailure", 30), ("AccessDeniedException", 900)]
)
def test_an_outcome_event_eventbridge_rejects_is_tried_again_or_held_back_by_its_error_code(
    stack: Stack, answers: Any, code: str, hold: int
) -> None:
    # PutEvents answers 200 with the entry failed: InternalFailure and ThrottlingException are
    # retryable, the others are not (the API reference, PutEventsResultEntry).
    write(courier(stack, "request-1", T0), outcome("acted", "a"))

    def hook(operation: str, params: dict[str, Any], call: Any) -> Any:
        if operation == "PutEvents":
            return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": code, "ErrorMessage": "no"}]}
        return call(operation, params)

    answers(hook)
    assert courier(stack, "request-2", LATER).drain() == 0
    assert held(stack) == [hold]


def test_an_alarm_is_handled_though_another_letters_event_is_rejected(
    fn: Any, stack: Stack, clock: time_machine.Traveller, answers: Any
) -> None:
    make_endpoint(ENDPOINT, {"primary": {"count": 1, "weight": 1.0}})
    scale_up_alarms({"HighLatency": "ALARM", "HighErrorRate": "OK"})
    write(courier(stack, "request-1", OPENED - timedelta(minutes=5)), outcome("acted", "someone-else"))

    def hook(operation: str, params: dict[str, Any], call: Any) -> Any:
        if operation == "PutEvents" and "someone-else" in params["Entries"][0]["Detail"]:
            return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InvalidArgument", "ErrorMessage": "no"}]}
        return call(operation, params)

    answers(hook)
    clock.move_to(OPENED + timedelta(seconds=30))
    answer = fn.lambda_handler(load_event("scale_up/high_latency_alarm.json"), FakeContext())
    assert [o["result"] for o in answer["outcomes"]] == ["acted"]
    assert counts() == {"primary": 2}


# --- the control loop's transactions -------------------------------------------------------------


def keys(params: dict[str, Any]) -> list[str]:
    """The sort keys a TransactWriteItems writes or checks."""
    found = []
    for item in params["TransactItems"]:
        [request] = item.values()
        found.append((request.get("Item") or request.get("Key"))["sk"]["S"])
    return found


def alarm(fn: Any, clock: time_machine.Traveller) -> list[str]:
    make_endpoint(ENDPOINT, {"primary": {"count": 1, "weight": 1.0}})
    scale_up_alarms({"HighLatency": "ALARM", "HighErrorRate": "OK"})
    clock.move_to(OPENED + timedelta(seconds=30))
    answer = fn.lambda_handler(load_event("scale_up/high_latency_alarm.json"), FakeContext())
    return [o["result"] for o in answer["outcomes"]]


def test_a_claim_cancelled_by_a_concurrent_transaction_on_the_budget_is_tried_again_not_refused(
    fn: Any, stack: Stack, clock: time_machine.Traveller, answers: Any
) -> None:
    conflicts: list[list[str]] = []

    def hook(operation: str, params: dict[str, Any], call: Any) -> Any:
        if operation == "TransactWriteItems" and not conflicts and any(k.startswith("COOLDOWN#") for k in keys(params)):
            conflicts.append(keys(params))
            raise conflict(*["TransactionConflict" if k.startswith("BUDGET#") else "None" for k in keys(params)])
        return call(operation, params)

    answers(hook)
    assert alarm(fn, clock) == ["acted"]
    assert conflicts  # the claim met a concurrent transaction once
    assert counts() == {"primary": 2}
    assert [d["gate"] for d in decisions(stack) if d["gate"] in ("cooldown", "budget")] == []


def test_a_decision_cancelled_by_a_concurrent_transaction_is_written_and_told_in_the_same_invocation(
    fn: Any, stack: Stack, clock: time_machine.Traveller, answers: Any
) -> None:
    # The step's 'acted' transaction (the incident, the decision, its letter), right after the
    # change, meets a concurrent transaction on its letter once.
    state = {"conflicted": False}

    def hook(operation: str, params: dict[str, Any], call: Any) -> Any:
        if operation == "TransactWriteItems" and not state["conflicted"]:
            written = keys(params)
            if any(k.startswith("DECISION#") and k.endswith("#step-1") for k in written):
                state["conflicted"] = True
                raise conflict(*["TransactionConflict" if i == 2 else "None" for i, _ in enumerate(written)])
        return call(operation, params)

    answers(hook)
    assert alarm(fn, clock) == ["acted"]
    assert state["conflicted"]
    assert len(decisions(stack, "acted")) == 1
    assert [b["result"] for b in bodies(stack, "info")] == ["acted"]
    assert stack.items("letter") == []


def test_a_transaction_whose_answer_said_in_progress_is_the_one_transaction_when_tried_again(
    fn: Any, stack: Stack, clock: time_machine.Traveller, answers: Any
) -> None:
    # The step's 'acted' transaction goes through, but its answer says it is still in progress
    # (botocore's own retries spent): tried again in place, with the same ClientRequestToken, it
    # is the same transaction - DynamoDB answers success and writes nothing again.
    tokens: list[str] = []

    def hook(operation: str, params: dict[str, Any], call: Any) -> Any:
        answer = call(operation, params)
        acted = operation == "TransactWriteItems" and any(k.endswith("#step-1") for k in keys(params))
        if acted:
            tokens.append(params.get("ClientRequestToken", ""))
            if len(tokens) == 1:
                raise error("TransactionInProgressException", 400, operation)
        return answer

    answers(hook)
    assert alarm(fn, clock) == ["acted"]
    assert len(tokens) == 2
    assert tokens[0] == tokens[1]
    assert len(decisions(stack, "acted")) == 1
    assert [b["result"] for b in bodies(stack, "info")] == ["acted"]
    assert stack.items("letter") == []
