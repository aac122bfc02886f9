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


# --- SageMaker Pipelines ---------------------------------------------------------------
#
# * In AWS a pipeline execution is `Executing` until its steps finish; moto marks it
#   `Succeeded` at once, so "never start beside a running execution" could not be seen.
#   Executions start as `Executing`; `finish_pipeline_executions` ends them.
# * `start_pipeline_execution` with a ClientRequestToken already used returns the same
#   execution in AWS; moto starts another. Honour the token.

_pipelines_patched = False


def pipeline_executions_run_until_finished() -> None:
    """Executions start `Executing` and honour ClientRequestToken, as in AWS (idempotent)."""
    global _pipelines_patched
    if _pipelines_patched:
        return
    _pipelines_patched = True
    from moto.sagemaker.models import FakePipelineExecution, SageMakerModelBackend

    original_init = FakePipelineExecution.__init__
    original_start = SageMakerModelBackend.start_pipeline_execution

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.pipeline_execution_status = "Executing"

    def start(self: Any, pipeline_name: str, *args: Any, **kwargs: Any) -> dict[str, str]:
        token = kwargs.get("client_request_token") or (args[4] if len(args) > 4 else None)
        pipeline = self.pipelines.get(pipeline_name)
        if token and pipeline is not None:
            for arn, execution in pipeline.pipeline_executions.items():
                if getattr(execution, "client_request_token", None) == token:
                    return {"PipelineExecutionArn": arn}
        return original_start(self, pipeline_name, *args, **kwargs)  # type: ignore[no-any-return]

    FakePipelineExecution.__init__ = init  # type: ignore[method-assign]
    SageMakerModelBackend.start_pipeline_execution = start  # type: ignore[method-assign]


def finish_pipeline_executions(account: str, region: str, status: str = "Succeeded") -> int:
    """End every `Executing` pipeline execution in moto with `status`; returns how many."""
    from moto.sagemaker.models import sagemaker_backends

    ended = 0
    for pipeline in sagemaker_backends[account][region].pipelines.values():
        for execution in pipeline.pipeline_executions.values():
            if execution.pipeline_execution_status == "Executing":
                execution.pipeline_execution_status = status
                ended += 1
    return ended
