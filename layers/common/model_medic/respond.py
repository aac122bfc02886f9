"""The action functions' entry points and their answers: a sweep of the fleet (level-triggered),
alarms through the control loop (each refused by a gate said why), outcomes as the plain dict
Lambda returns (`{"outcomes": [...], "rejected": [...]}`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from model_medic.gates import GateRejection
from model_medic.observability import logger

if TYPE_CHECKING:
    from model_medic.alarms import AlarmEvent
    from model_medic.loop import ControlLoop
    from model_medic.outcome import Outcome


def answer(outcomes: list[Outcome]) -> dict[str, Any]:
    """What a sweep or a rollout did (a step replayed from an earlier attempt is not news)."""
    return {"outcomes": [o.as_dict() for o in outcomes if not o.replayed], "rejected": []}


def alarms(loop: ControlLoop, alarms: list[AlarmEvent]) -> dict[str, Any]:
    """Alarm deliveries open, close and evaluate incidents; a gate's refusal is said, not retried."""
    decided: list[dict[str, Any]] = []
    refused: list[str] = []
    for alarm in alarms:
        try:
            decided.append(loop.on_alarm(alarm).as_dict())
        except GateRejection as error:
            refused.append(str(error))
            logger.warning("alarm rejected", alarm=alarm.alarm_name, error=str(error))
    return {"outcomes": decided, "rejected": refused}
