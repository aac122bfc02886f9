"""Put the previous good model back when model quality drops.

A canary that takes traffic is the suspect: its weight goes to 0. Without one, the
endpoint goes back to the config that served it InService before the current one; the
deployment history in the ledger knows it (recorded from "SageMaker Endpoint State
Change" events and whenever this function sees the endpoint). No known target: nothing
changes and a person is called.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from model_medic.alarms import AlarmEvent
from model_medic.gates import Clock, Plan
from model_medic.ledger import Ledger


class RollbackModel:
    """Remediation for ModelAccuracyDrop (and any alarm an operator routes here) in ALARM."""

    action = "rollback"
    states = frozenset({"ALARM"})

    def __init__(
        self,
        sagemaker: Any,
        ledger: Ledger,
        canary_variant: str,
        reject_model_packages: bool,
        cooldown: timedelta,
        clock: Clock,
    ) -> None:
        self._sagemaker = sagemaker
        self._ledger = ledger
        self._canary = canary_variant
        self._reject = reject_model_packages
        self.cooldown = cooldown
        self._clock = clock

    def plan(self, alarm: AlarmEvent) -> Plan:
        endpoint = str(alarm.endpoint)
        described = self._sagemaker.describe_endpoint(EndpointName=endpoint)
        status, current = described["EndpointStatus"], described["EndpointConfigName"]
        if status != "InService":
            return Plan("", skip=f"endpoint {endpoint} is {status}, not InService")
        self._ledger.observe_config(endpoint, current, self._clock())
        weights = {v["VariantName"]: float(v.get("CurrentWeight", 0.0)) for v in described["ProductionVariants"]}
        canary_weight = weights.get(self._canary, 0.0)
        others = sum(w for name, w in weights.items() if name != self._canary)
        if canary_weight > 0 and others > 0:
            return Plan(
                f"canary {self._canary} weight {canary_weight:g} -> 0",
                changes={
                    "kind": "canary",
                    "variant": self._canary,
                    "from_weight": canary_weight,
                    "reject": self._packages(current, only_variant=self._canary),
                },
            )
        previous = self._ledger.previous_config(endpoint, current)
        if previous is None:
            return Plan(
                "",
                bound=f"no known rollback target for {endpoint}: no canary takes traffic and no endpoint "
                f"config other than {current} is in the deployment history",
            )
        return Plan(
            f"endpoint config {current} -> {previous}",
            changes={"kind": "config", "from": current, "to": previous, "reject": self._packages(current)},
        )

    def execute(self, alarm: AlarmEvent, plan: Plan) -> dict[str, Any]:
        endpoint = str(alarm.endpoint)
        changes = plan.changes
        calls = []
        if changes["kind"] == "canary":
            self._sagemaker.update_endpoint_weights_and_capacities(
                EndpointName=endpoint,
                DesiredWeightsAndCapacities=[{"VariantName": changes["variant"], "DesiredWeight": 0.0}],
            )
            calls.append("UpdateEndpointWeightsAndCapacities")
        else:
            # A blue/green deployment of the known-good config, with its own counts and weights.
            self._sagemaker.update_endpoint(EndpointName=endpoint, EndpointConfigName=changes["to"])
            self._ledger.reject_config(endpoint, changes["from"], self._clock())
            calls.append("UpdateEndpoint")
        for package in changes["reject"]:
            self._sagemaker.update_model_package(
                ModelPackageArn=package,
                ModelApprovalStatus="Rejected",
                ApprovalDescription=f"Model Medic rolled back {endpoint}: {alarm.alarm_name}",
            )
            calls.append("UpdateModelPackage")
        return {"calls": calls}

    def _packages(self, config: str, only_variant: str | None = None) -> list[str]:
        """Model packages behind the config's models (all, or one variant's), when asked to reject."""
        if not self._reject:
            return []
        variants = self._sagemaker.describe_endpoint_config(EndpointConfigName=config)["ProductionVariants"]
        packages = []
        for variant in variants:
            if only_variant is not None and variant["VariantName"] != only_variant:
                continue
            model = self._sagemaker.describe_model(ModelName=variant["ModelName"])
            containers = [model.get("PrimaryContainer", {}), *model.get("Containers", [])]
            packages += [c["ModelPackageName"] for c in containers if c.get("ModelPackageName")]
        return sorted(set(packages))


ENDPOINT_STATE_CHANGE = "SageMaker Endpoint State Change"
# The event spells the status IN_SERVICE; the API spells it InService. Accept both.
_IN_SERVICE = frozenset({"IN_SERVICE", "InService"})


def is_endpoint_state_change(event: Any) -> bool:
    return isinstance(event, dict) and event.get("detail-type") == ENDPOINT_STATE_CHANGE


def in_service_deployment(event: dict[str, Any]) -> tuple[str, str] | None:
    """(endpoint, config) when a "SageMaker Endpoint State Change" says the endpoint is InService."""
    detail = event.get("detail")
    if event.get("source") != "aws.sagemaker" or not isinstance(detail, dict):
        raise ValueError("not a SageMaker endpoint state change: expected source aws.sagemaker and a detail")
    endpoint, config = detail.get("EndpointName"), detail.get("EndpointConfigName")
    if not isinstance(endpoint, str) or not isinstance(config, str) or not endpoint or not config:
        raise ValueError("endpoint state change without EndpointName and EndpointConfigName")
    return (endpoint, config) if detail.get("EndpointStatus") in _IN_SERVICE else None
