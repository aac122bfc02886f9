"""The automation mode of each endpoint: the stack's, the SSM kill switch's, or the endpoint's own tag."""

from __future__ import annotations

from collections.abc import Callable

from aws_lambda_powertools.utilities.parameters import SSMProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

from model_medic.platform.observability import logger, metrics
from model_medic.platform.settings import MODES, Mode

# The SSM kill switch holds one of MODES, or this word to defer to the stack parameter.
INHERIT = "inherit"


# From the least to the most permissive: when two say different things, the first one wins.
_PERMISSIVENESS: dict[str, int] = {mode: rank for rank, mode in enumerate(("off", "dry-run", "enforce"))}


class ModeSwitch:
    """The automation mode: the stack's, unless the SSM kill switch says otherwise; per
    endpoint, its own mode (the tag `model-medic:automation-mode`, `policy.py`) in place of
    the stack's.

    Precedence, doing less when in doubt: the global SSM parameter is the kill switch. At
    `inherit` each endpoint runs in its own mode (its tag, else the stack's AutomationMode);
    at `off` or `dry-run` (or unreadable: dry-run) no endpoint does more than that, whatever
    its tag says; at `enforce` an endpoint tagged `dry-run` or `off` still does only that.
    The per-endpoint switch is a tag, not an SSM parameter per endpoint: the tags come in the
    batched read every sweep already makes (`scope.fleet`), with no parameter to create,
    grant or clean up per endpoint, and they go with the endpoint when it is deleted.
    """

    def __init__(
        self,
        provider: SSMProvider,
        parameter_name: str,
        stack_mode: Mode,
        max_age: int,
        endpoint_mode: Callable[[str], Mode | None] | None = None,
    ) -> None:
        self._provider = provider
        self._name = parameter_name
        self._stack_mode = stack_mode
        self._max_age = max_age
        self._endpoint_mode = endpoint_mode  # an endpoint's own mode, None: the stack's

    def current(self, endpoint: str | None = None) -> tuple[Mode, str]:
        """The mode in force (for this endpoint) and where it came from."""
        mode, source, inherited = self._global()
        own = self._endpoint_mode(endpoint) if endpoint is not None and self._endpoint_mode is not None else None
        if own is None:
            return mode, source
        if inherited:
            return own, f"endpoint {endpoint}'s tag"
        if _PERMISSIVENESS[own] < _PERMISSIVENESS[mode]:
            return own, f"endpoint {endpoint}'s tag (under {source})"
        return mode, source

    def _global(self) -> tuple[Mode, str, bool]:
        """The stack-wide mode, where it came from, and whether the switch defers to the stack."""
        try:
            value = str(self._provider.get(self._name, max_age=self._max_age)).strip()
        except GetParameterError as error:
            if "ParameterNotFound" not in str(error):
                raise  # throttled or denied after retries: let Lambda retry the event
            # The switch was deleted: when in doubt, do less.
            logger.error("kill-switch parameter missing; acting as dry-run", parameter=self._name)
            metrics.add_metric(name="ModeSwitchUnreadable", unit="Count", value=1)
            return "dry-run", f"{self._name} is missing", False
        if value == INHERIT:
            return self._stack_mode, "stack parameter", True
        if value in MODES:
            return value, f"SSM {self._name}", False
        logger.error("kill-switch parameter has an unknown value; acting as dry-run", value=value[:40])
        metrics.add_metric(name="ModeSwitchUnreadable", unit="Count", value=1)
        return "dry-run", f"{self._name} holds an unknown value", False
