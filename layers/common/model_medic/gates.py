"""The safety gates (DESIGN.md §4) that every action function passes, in order.

1. validate  - the alarm names an endpoint (parsing itself is `alarms.parse_alarms`)
2. state     - only the states the action handles (ALARM; OK for undoing a scale-up)
3. mode      - enforce / dry-run / off: stack parameter, overridden by the SSM kill switch
4. once      - one act per alarm transition and action (Powertools Idempotency, DynamoDB)
5. cool-down and hourly budget - a conditional, transactional claim in the ledger
6. preconditions and 7. bounds - the action's own `plan`, read-only
8. act, record in the ledger, then tell (SNS + EventBridge), the telling itself done once

Every decision, skips and dry runs included, is recorded in the ledger; duplicate
deliveries of a transition are answered from the idempotency record and only logged.

`SafetyGates` runs PromoteCanaryFunction's evaluations (one per schedule tick or canary
alarm). ScaleUp, StartRetraining and RollbackModel pass the same gates per incident step in
the control loop (`loop.py`, DESIGN.md §4a), which also uses `ModeSwitch` and
`record_decision` from here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError
from aws_lambda_powertools.utilities.parameters import SSMProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from botocore.exceptions import ClientError

from model_medic import aws
from model_medic.alarms import AlarmEvent
from model_medic.ledger import Claim, Ledger, Refused
from model_medic.observability import logger, metrics
from model_medic.outcome import Notifier, Outcome
from model_medic.settings import MODES, Mode

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

Clock = Callable[[], datetime]

# The SSM kill switch holds one of MODES, or this word to defer to the stack parameter.
INHERIT = "inherit"


def utc_now() -> datetime:
    return datetime.now(UTC)


class GateRejection(ValueError):
    """The alarm cannot be acted on at all (gate 1); nothing was changed or recorded."""


class _NotActed(Exception):  # a control-flow signal, not an error
    """A precondition failed: leave no idempotency record, so a later delivery re-evaluates."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.reason)
        self.outcome = outcome


@dataclass(frozen=True)
class Plan:
    """What an action would do now, decided read-only from the alarm and the live state.

    `skip` names a failed precondition, `bound` a limit that stops the action; with
    neither, `summary` and `changes` say what `execute` will change.
    """

    summary: str
    changes: dict[str, Any] = field(default_factory=dict)
    skip: str | None = None
    bound: str | None = None
    critical: bool = False  # an act a person must hear of at once (a canary rollback)


class Remediation(Protocol):
    """One mutating action; the gates call `plan`, then (in enforce mode) `execute`."""

    action: str
    states: frozenset[str]
    cooldown: timedelta

    def plan(self, alarm: AlarmEvent) -> Plan: ...

    def execute(self, alarm: AlarmEvent, plan: Plan) -> dict[str, Any]:
        """Make the change; returns what was changed (merged into the outcome's changes)."""
        ...


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
            return value, f"SSM {self._name}", False  # type: ignore[return-value]
        logger.error("kill-switch parameter has an unknown value; acting as dry-run", value=value[:40])
        metrics.add_metric(name="ModeSwitchUnreadable", unit="Count", value=1)
        return "dry-run", f"{self._name} holds an unknown value", False


class SafetyGates:
    """Runs one remediation for one alarm transition through every gate."""

    def __init__(
        self,
        *,
        ledger: Ledger,
        notifier: Notifier,
        mode: ModeSwitch,
        idempotency: DynamoDBPersistenceLayer,
        actions_per_hour: int,
        clock: Clock = utc_now,
        request_id: str = "",
        lambda_context: LambdaContext | None = None,
    ) -> None:
        self._ledger = ledger
        self._notifier = notifier
        self._mode = mode
        self._store = idempotency
        self._cap = actions_per_hour
        self._clock = clock
        self._request_id = request_id
        self._context = lambda_context

    def run(self, alarm: AlarmEvent, remediation: Remediation) -> Outcome:
        # Gate 1: validate. Without an endpoint there is nothing to act on or record under.
        if alarm.endpoint is None:
            metrics.add_metric(name="RejectedEvents", unit="Count", value=1)
            raise GateRejection(
                f"alarm {alarm.alarm_name!r} has no EndpointName or Endpoint dimension"
                + (" (composite alarm)" if alarm.composite else "")
            )
        base = Outcome(
            action=remediation.action,
            endpoint=alarm.endpoint,
            result="skipped",
            reason="",
            mode="",
            alarm_name=alarm.alarm_name,
            alarm_arn=alarm.alarm_arn,
            transition=alarm.transition_id,
            state=alarm.state,
            at=self._clock().isoformat(),
        )
        # Gate 2: state.
        if alarm.state not in remediation.states:
            return self._finish(
                replace(base, gate="state", reason=f"{remediation.action} does not act on state {alarm.state}")
            )
        # Gate 3: mode.
        mode, source = self._mode.current()
        base = replace(base, mode=mode)
        if mode == "off":
            return self._finish(replace(base, gate="mode", reason=f"automation is off ({source})"))
        # Gate 4: once per transition. Gates 5-8 run inside.
        try:
            outcome = Outcome.from_dict(
                self._once(remediation.action, alarm, lambda: self._decide(alarm, remediation, base).as_dict())
            )
        except _NotActed as skipped:
            self._notifier.tell(skipped.outcome)
            return skipped.outcome
        except IdempotencyAlreadyInProgressError:
            # The delivery that is in progress owns the work (and its retries); this copy stops.
            logger.info("duplicate delivery while the first is in progress", transition=alarm.transition_id)
            metrics.add_metric(name="DuplicateDeliveries", unit="Count", value=1)
            return replace(base, gate="once", reason="the same transition is being handled", replayed=True)
        if outcome.replayed:
            logger.info("duplicate delivery answered from the idempotency record", transition=alarm.transition_id)
            metrics.add_metric(name="DuplicateDeliveries", unit="Count", value=1)
        self._tell_once(outcome, alarm)
        return outcome

    # --- gates 5 to 8 --------------------------------------------------------------------

    def _decide(self, alarm: AlarmEvent, remediation: Remediation, base: Outcome) -> Outcome:
        endpoint = base.endpoint
        now = self._clock()
        claim: Claim | None = None
        # Gate 5: cool-down and budget. A dry run only looks, so it never blocks a real run.
        if base.mode == "enforce":
            granted = self._ledger.claim(endpoint, remediation.action, remediation.cooldown, self._cap, now)
            if isinstance(granted, Refused):
                return self._record(replace(base, gate=granted.gate, reason=granted.reason), budget=granted)
            claim = granted
        else:
            refused = self._ledger.check(endpoint, remediation.action, self._cap, now)
            if refused is not None:
                return self._record(replace(base, gate=refused.gate, reason=refused.reason), budget=refused)
        try:
            # Gates 6 and 7: preconditions and bounds, read-only.
            plan = remediation.plan(alarm)
            if plan.skip is not None or plan.bound is not None:
                if claim is not None:
                    self._ledger.release(claim)
                if plan.bound is not None:
                    return self._record(
                        replace(base, result="bound-reached", gate="bound", reason=plan.bound, changes=plan.changes)
                    )
                raise _NotActed(
                    self._record(replace(base, gate="precondition", reason=str(plan.skip), changes=plan.changes))
                )
            base = replace(base, critical=plan.critical)
            if base.mode == "dry-run":
                return self._record(replace(base, result="dry-run", reason=plan.summary, changes=plan.changes))
            # Gate 8: act.
            done = remediation.execute(alarm, plan)
        except _NotActed:
            raise
        except Exception as error:
            if claim is not None:
                self._ledger.release(claim)
            failed = replace(base, result="failed", reason=f"{type(error).__name__}: {error}")
            if isinstance(error, ClientError) and not aws.is_transient(error):
                # AWS's permanent answer to this input (no such endpoint, a validation error):
                # recorded and told once, as in the control loop; a retry would get the same answer.
                message = error.response.get("Error", {}).get("Message", "")
                reason = f"{aws.error_code(error)}: {message}"
                return self._record(replace(failed, gate="permanent-error", reason=reason))
            self._record(failed)
            self._tell_best_effort(failed)
            raise
        return self._record(replace(base, result="acted", reason=plan.summary, changes={**plan.changes, **done}))

    # --- recording and telling -------------------------------------------------------------

    def _record(self, outcome: Outcome, budget: Refused | None = None) -> Outcome:
        if budget is not None and budget.gate == "budget":
            # An exhausted budget means automation is churning: a person must look.
            outcome = replace(outcome, result="bound-reached")
        record_decision(self._ledger, outcome, self._request_id)
        return outcome

    def _finish(self, outcome: Outcome) -> Outcome:
        """Record and tell a decision made before the idempotency gate."""
        self._record(outcome)
        self._notifier.tell(outcome)
        return outcome

    def _tell_once(self, outcome: Outcome, alarm: AlarmEvent) -> None:
        # A separate idempotency key: when telling fails, the retry tells again, while the
        # act itself is answered from its own record and never repeated.
        def tell() -> dict[str, Any]:
            self._notifier.tell(outcome)
            return {"told": True}

        try:
            self._once(f"{outcome.action}-tell", alarm, tell)
        except IdempotencyAlreadyInProgressError:
            logger.info("outcome is being told by a concurrent delivery", transition=alarm.transition_id)

    def _tell_best_effort(self, outcome: Outcome) -> None:
        try:
            self._notifier.tell(outcome)
        except Exception:  # noqa: BLE001 - the original failure is what must propagate
            logger.exception("could not tell about a failed action")

    def _once(self, key: str, alarm: AlarmEvent, work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        config = IdempotencyConfig(
            event_key_jmespath="transition",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=24 * 3600,  # alarms are redelivered for up to 24 h (EventBridge retries)
            response_hook=_mark_replayed,
            lambda_context=self._context,
        )

        @idempotent_function(  # type: ignore[untyped-decorator]
            data_keyword_argument="transition", persistence_store=self._store, config=config, key_prefix=key
        )
        def once(transition: dict[str, str]) -> dict[str, Any]:
            return work()

        return once(transition={"transition": alarm.transition_id})  # type: ignore[no-any-return]


def record_decision(ledger: Ledger, outcome: Outcome, request_id: str, key: str | None = None) -> None:
    """A decision into the ledger, a metric and a structured log line (the gates and the loop)."""
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


def _mark_replayed(response: Any, idempotent_data: DataRecord) -> Any:
    if isinstance(response, dict) and "action" in response:
        return {**response, "replayed": True}
    return response
