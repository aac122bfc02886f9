"""The mode switch and the decision record of the safety gates (DESIGN.md §4).

The gates themselves - validate, state, mode, once, cool-down and hourly budget,
preconditions and bounds, act, record, tell - are applied per incident step by the control
loop (`loop.py`, DESIGN.md §4a), for every action function. This module keeps what the loop
and the units share: the clock, `ModeSwitch` (the stack's mode, overridden by the SSM kill
switch), `GateRejection` (an alarm that cannot be acted on at all) and `record_decision`
(every decision into the ledger, a metric and a log line).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from aws_lambda_powertools.utilities.parameters import SSMProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

from model_medic.ledger import Ledger
from model_medic.observability import logger, metrics
from model_medic.outcome import Outcome
from model_medic.settings import MODES, Mode

Clock = Callable[[], datetime]

# The SSM kill switch holds one of MODES, or this word to defer to the stack parameter.
INHERIT = "inherit"


def utc_now() -> datetime:
    return datetime.now(UTC)


class GateRejection(ValueError):
    """The alarm cannot be acted on at all (gate 1); nothing was changed or recorded."""


class ModeSwitch:
    """The automation mode: the stack's, unless the SSM kill switch says otherwise."""

    def __init__(self, provider: SSMProvider, parameter_name: str, stack_mode: Mode, max_age: int) -> None:
        self._provider = provider
        self._name = parameter_name
        self._stack_mode = stack_mode
        self._max_age = max_age

    def current(self) -> tuple[Mode, str]:
        """The mode in force and where it came from."""
        try:
            value = str(self._provider.get(self._name, max_age=self._max_age)).strip()
        except GetParameterError as error:
            if "ParameterNotFound" not in str(error):
                raise  # throttled or denied after retries: let Lambda retry the event
            # The switch was deleted: when in doubt, do less.
            logger.error("kill-switch parameter missing; acting as dry-run", parameter=self._name)
            metrics.add_metric(name="ModeSwitchUnreadable", unit="Count", value=1)
            return "dry-run", f"{self._name} is missing"
        if value == INHERIT:
            return self._stack_mode, "stack parameter"
        if value in MODES:
            return value, f"SSM {self._name}"  # type: ignore[return-value]
        logger.error("kill-switch parameter has an unknown value; acting as dry-run", value=value[:40])
        metrics.add_metric(name="ModeSwitchUnreadable", unit="Count", value=1)
        return "dry-run", f"{self._name} holds an unknown value"


def record_decision(ledger: Ledger, outcome: Outcome, request_id: str, key: str | None = None) -> None:
    """A decision into the ledger, a metric and a structured log line (the control loop's gates)."""
    ledger.record(outcome, request_id, key)
    metrics.add_metric(name=f"Outcome_{outcome.result}", unit="Count", value=1)
    logger.info(
        "decision",
        action=outcome.action,
        endpoint=outcome.endpoint,
        result=outcome.result,
        gate=outcome.gate,
        reason=outcome.reason,
        mode=outcome.mode,
        incident=outcome.incident,
    )
