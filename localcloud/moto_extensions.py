"""The one place where Model Medic extends moto, each extension documented with why.

moto answers most of what the service needs (FACTS.md). Where it differs from AWS in a
way that would make a test prove nothing, the gap is filled here and nowhere else, for
the tests and the local cloud alike.

* `serialise_dynamodb_requests`: DynamoDB applies a condition expression and the write
  it guards atomically, and a transaction as a whole. moto checks the condition and then
  writes in plain Python, so two threads can both pass the check. Serialising moto's
  DynamoDB request handling restores the atomicity that the ledger's conditional writes
  (and Powertools Idempotency) rely on, so a race test measures our code, not moto's.
"""

import threading
from collections.abc import Callable
from typing import Any

from moto.dynamodb.responses import DynamoHandler

_dynamodb_lock = threading.RLock()
_original_call_action: Callable[..., Any] | None = None


def serialise_dynamodb_requests() -> None:
    """Make each moto DynamoDB request atomic with respect to the others (idempotent)."""
    global _original_call_action
    if _original_call_action is not None:
        return
    _original_call_action = DynamoHandler.call_action
    original = _original_call_action

    def call_action(self: DynamoHandler) -> Any:
        with _dynamodb_lock:
            return original(self)

    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
