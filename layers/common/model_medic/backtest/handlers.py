"""The alarm-driven action functions' pipelines as their handlers (functions/<name>/app.py) run them."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from model_medic import wiring
from model_medic.intake import triggers
from model_medic.intake.triggers import Alarms, Deployment, PipelineChanged, Rejected, Tick
from model_medic.platform.clock import utc_now
from model_medic.remediate.capacity import give_back
from model_medic.remediate.rollback import record_deployment
from model_medic.tell.outcome import answer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from model_medic.platform.settings import RetrainingSettings, RollbackSettings, ScaleUpSettings

# Each body below is its handler's, line for line after `load_settings` (tests/template/test_backtest.py).


def scale_up(settings: ScaleUpSettings, event: dict[str, Any], context: LambdaContext | None = None) -> dict[str, Any]:
    trigger = triggers.remediation(event)
    house = wiring.Remediation(settings, wiring.scale_up, trigger, context)
    match trigger:
        case Tick():
            endpoints = house.endpoints()
            swept = house.loop.sweep(endpoints)
            return answer(swept + give_back(house.loop, wiring.scale_back(house), endpoints))
        case Alarms(alarms=alarms):
            return house.loop.on_alarms(wiring.component_endpoints(alarms))
        case Rejected(reason=reason):
            return triggers.rejected(reason)


def start_retraining(
    settings: RetrainingSettings, event: dict[str, Any], context: LambdaContext | None = None
) -> dict[str, Any]:
    trigger = triggers.retraining(event)
    house = wiring.Remediation(settings, wiring.start_retraining, trigger, context)
    match trigger:
        case Tick() | PipelineChanged():
            return answer(house.loop.sweep(house.endpoints()))
        case Alarms(alarms=alarms):
            return house.loop.on_alarms(alarms)
        case Rejected(reason=reason):
            return triggers.rejected(reason)


def rollback_model(
    settings: RollbackSettings, event: dict[str, Any], context: LambdaContext | None = None
) -> dict[str, Any]:
    trigger = triggers.rollback(event)
    house = wiring.Remediation(settings, wiring.rollback_model, trigger, context)
    match trigger:
        case Deployment():
            return record_deployment(house.deployments, trigger, utc_now())
        case Tick():
            wiring.record_components(settings, house)
            return answer(house.loop.sweep(house.endpoints()))
        case Alarms(alarms=alarms):
            return house.loop.on_alarms(alarms)
        case Rejected(reason=reason):
            return triggers.rejected(reason)


# By unit name: the function each unit's alarms and schedule invoke (`units.RemediationUnit.function`).
HANDLERS: dict[str, Callable[[Any, dict[str, Any]], dict[str, Any]]] = {
    "scale-up": scale_up,
    "start-retraining": start_retraining,
    "rollback": rollback_model,
}
# The handler file of each (the template's CodeUri of the unit's function).
SOURCES = {"scale-up": "scale_up", "start-retraining": "start_retraining", "rollback": "rollback_model"}
