"""The one place where Model Medic extends moto, each extension documented with why.

moto answers most of what the service needs (FACTS.md). Where it differs from AWS in a
way that would make a test prove nothing, the gap is filled here and nowhere else, for
the tests and the local cloud alike.

* `sagemaker_update_endpoint`: moto does not implement `UpdateEndpoint` (FACTS.md).
  The extension deploys the new endpoint config at once: the endpoint keeps its name,
  takes the config's variants (with `RetainAllVariantProperties`, same-named variants
  keep their instance counts and weights) and stays `InService`. AWS goes through
  `Updating` for minutes first; moto has no clock to spend them on.
* `pipeline_executions_run_until_finished`: see the section below.
* `eventbridge_rules_as_in_aws`: in moto, a schedule rule (no event pattern) matches
  every event put on its bus, and a matching rule with a Lambda target crashes PutEvents
  (it would need Docker). In AWS a schedule rule matches no put event; Lambda targets are
  delivered by the local cloud itself (`LocalCloud.put_event`), so moto skips them.
* `endpoint_variants_keep_what_was_not_changed`: moto's UpdateEndpointWeightsAndCapacities
  sets to None the keys it was not asked to change (a new instance count loses the variant's
  weight, FACTS.md); AWS keeps them.
* `serialise_dynamodb_requests`: DynamoDB applies a condition expression and the write
  it guards atomically, and a transaction as a whole. moto checks the condition and then
  writes in plain Python, so two threads can both pass the check. Serialising moto's
  DynamoDB request handling restores the atomicity that the ledger's conditional writes
  (and Powertools Idempotency) rely on, so a race test measures our code, not moto's.
"""

import functools
import json
import threading
from collections.abc import Callable
from typing import Any

from moto.dynamodb.responses import DynamoHandler


def _once(install: Callable[[], None]) -> Callable[[], None]:
    """An extension installs itself at most once per process, however often it is called."""
    done = False

    @functools.wraps(install)
    def wrapper() -> None:
        nonlocal done
        if not done:
            done = True
            install()

    return wrapper


_dynamodb_lock = threading.RLock()


@_once
def serialise_dynamodb_requests() -> None:
    """Make each moto DynamoDB request atomic with respect to the others."""
    original = DynamoHandler.call_action

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


@_once
def pipeline_executions_run_until_finished() -> None:
    """Executions start `Executing` and honour ClientRequestToken, as in AWS."""
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


# --- SageMaker UpdateEndpoint ----------------------------------------------------------


@_once
def sagemaker_update_endpoint() -> None:
    """Teach moto `UpdateEndpoint`."""
    from moto.core.common_types import TYPE_RESPONSE
    from moto.core.utils import utcnow
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.models import FakeEndpoint, SageMakerModelBackend
    from moto.sagemaker.responses import SageMakerResponse

    def update_endpoint(
        self: SageMakerModelBackend, endpoint_name: str, endpoint_config_name: str, retain: bool
    ) -> FakeEndpoint:
        endpoint = self.endpoints.get(endpoint_name)
        if endpoint is None:
            raise ValidationError(message=f"Could not find endpoint '{endpoint_name}'.")
        if endpoint.endpoint_status != "InService":
            raise ValidationError(message=f"Cannot update in-progress endpoint '{endpoint_name}'.")
        try:
            config = self.describe_endpoint_config(endpoint_config_name)
        except KeyError:
            raise ValidationError(message=f"Could not find endpoint_config '{endpoint_config_name}'.") from None
        previous = {v["VariantName"]: v for v in endpoint.production_variants}
        variants = endpoint._process_production_variants(config["ProductionVariants"])
        if retain:
            for variant in variants:
                kept = previous.get(variant["VariantName"])
                if kept is not None:
                    for key in ("CurrentWeight", "DesiredWeight", "CurrentInstanceCount", "DesiredInstanceCount"):
                        if key in kept:
                            variant[key] = kept[key]
        endpoint.endpoint_config_name = endpoint_config_name
        endpoint.production_variants = variants
        endpoint.last_modified_time = utcnow()
        return endpoint

    def respond(self: SageMakerResponse) -> TYPE_RESPONSE:
        endpoint = self.sagemaker_backend.update_endpoint(  # type: ignore[attr-defined]
            self._get_param("EndpointName"),
            self._get_param("EndpointConfigName"),
            bool(self._get_param("RetainAllVariantProperties", False)),
        )
        return 200, {}, json.dumps({"EndpointArn": endpoint.arn})

    SageMakerModelBackend.update_endpoint = update_endpoint  # type: ignore[attr-defined]
    SageMakerResponse.update_endpoint = respond  # type: ignore[attr-defined]


# --- EventBridge rules ------------------------------------------------------------------


@_once
def eventbridge_rules_as_in_aws() -> None:
    """Schedule rules match no put event; Lambda targets are left to the local cloud."""
    from moto.events.models import Rule

    original = Rule.send_to_targets

    def send_to_targets(self: Any, original_event: Any, transform_input: bool = True) -> None:
        if not self.event_pattern.get_pattern():
            return
        lambdas = [t for t in self.targets if ":lambda:" in t["Arn"]]
        if lambdas:
            others = [t for t in self.targets if t not in lambdas]
            saved, self.targets = self.targets, others
            try:
                original(self, original_event, transform_input)
            finally:
                self.targets = saved
            return
        original(self, original_event, transform_input)

    Rule.send_to_targets = send_to_targets  # type: ignore[method-assign]


# --- SageMaker UpdateEndpointWeightsAndCapacities ----------------------------------------


@_once
def endpoint_variants_keep_what_was_not_changed() -> None:
    """UpdateEndpointWeightsAndCapacities keeps each variant's other keys, as AWS does."""
    from moto.sagemaker.models import SageMakerModelBackend

    original = SageMakerModelBackend.update_endpoint_weights_and_capacities

    def update(self: Any, endpoint_name: str, desired_weights_and_capacities: list[dict[str, Any]]) -> Any:
        endpoint = self.endpoints.get(endpoint_name)
        before = {v["VariantName"]: dict(v) for v in endpoint.production_variants} if endpoint else {}
        result = original(self, endpoint_name, desired_weights_and_capacities)
        for variant in self.endpoints[endpoint_name].production_variants:
            for key, value in before.get(variant["VariantName"], {}).items():
                if variant.get(key) is None:  # moto writes None for what the call did not set
                    variant[key] = value
        return result

    SageMakerModelBackend.update_endpoint_weights_and_capacities = update  # type: ignore[method-assign]


def install_all() -> None:
    """Every extension of this module (tests and the local cloud call this once)."""
    serialise_dynamodb_requests()
    eventbridge_rules_as_in_aws()
    endpoint_variants_keep_what_was_not_changed()
    sagemaker_update_endpoint()
    pipeline_executions_run_until_finished()
