"""The reads behind `model-medic status` and `explain`: the scope, tags, mode and ledger of a stack, read-only."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, cast

from model_medic.platform import aws
from model_medic.policy import tags as policy
from model_medic.policy.policies import ModeSwitch, spelled
from model_medic.report.incident_view import ROLLOUT, parse_utc, rollout_view
from model_medic.status.deployed import StatusError
from model_medic.status.view import (
    EndpointStatus,
    Explanation,
    IncidentView,
    RolloutStatus,
    StackStatus,
    Status,
    StepView,
    acted_step,
    action_row,
    incident_view,
    last_told,
    message_row,
    note_of,
    policy_view,
    rollout_status,
    short_id,
    step_view,
)
from model_medic.store.episodes import Episodes
from model_medic.store.table import Table
from model_medic.tell.telling import PagingRules, flapping
from model_medic.wiring import Invocation

if TYPE_CHECKING:
    from model_medic.platform.settings import EnvModel, Mode
    from model_medic.status.deployed import DeployedStack
    from model_medic.store.incidents import Incident

# How far back `status` reads decisions and closed incidents.
LOOKBACK = timedelta(hours=24)
# The decisions a person was told of, per endpoint, in the overview.
LAST_ACTIONS = 5
# A decision recorded in the same second as `at` is still shown.
_SLACK = timedelta(seconds=1)


class Reader:
    """One stack read at one time, with the stores and scope its functions use (`wiring.Invocation`)
    and the mode switch the action functions build. Reads only: the policies' problems are
    shown, never told (`Policies` would tell them), and no roster is swept."""

    def __init__(self, stack: DeployedStack, at: datetime) -> None:
        self._stack = stack
        self._at = at
        s = stack.settings
        self._house = Invocation(s)
        self._episodes = Episodes(Table(aws.dynamodb(), s.ledger_table))
        self._ignore = policy.discovery_key(s.discovery_tag)
        self._policies: dict[str, list[policy.EndpointPolicy]] = {}
        self._mode = ModeSwitch(
            aws.ssm_parameters(), s.mode_parameter_name, s.automation_mode, s.mode_cache_seconds, self._own_mode
        )

    def stack(self) -> StackStatus:
        mode, why = self._mode.current()
        functions = tuple((name, f.name, f.schedule or "-") for name, f in sorted(self._stack.functions.items()))
        s = self._stack
        return StackStatus(
            s.name, s.status, s.region, self._at.isoformat(), mode, why, s.settings.mode_parameter_name, functions
        )

    def status(self, endpoint: str | None = None) -> Status:
        """Every endpoint in scope, or one endpoint in detail (every incident of the last day)."""
        # A typed name as SageMaker spells it (`churn-prod` for Churn-Prod), as the functions use it.
        in_scope = self._house.scope.endpoints()
        names = spelled([endpoint], in_scope) if endpoint is not None else in_scope
        return Status(self.stack(), tuple(self._endpoint(n, endpoint is not None) for n in names), endpoint is not None)

    def explain(self, reference: str) -> Explanation:
        """One incident, named by its id or its digest (or a unique start of it), among the
        incidents of the endpoints in scope."""
        incident = self._find(reference)
        start = datetime.fromisoformat(incident.opened_at)
        end = max(self._at, datetime.fromisoformat(incident.closed_at)) if incident.closed_at else self._at
        decisions = [
            d
            for d in self._house.journal.decisions(incident.endpoint, start, end + _SLACK)
            if d.incident == incident.id
        ]
        steps: dict[int, StepView] = {}
        for decision in decisions:
            step = acted_step(decision)
            if step is not None:
                steps.setdefault(step.number, step)
        if incident.pending is not None:
            steps[incident.pending.number] = step_view(incident.pending)
        marks = self._house.journal.marks(incident.endpoint, f"{incident.id}#")
        return Explanation(
            self.stack(),
            self._incident(incident),
            tuple(steps[n] for n in sorted(steps)),
            tuple(action_row(d) for d in decisions),
            tuple(sorted((message_row(m, incident.id) for m in marks), key=lambda m: m.at)),
            self._rollout(incident) if incident.action == ROLLOUT else None,
        )

    # --- one endpoint -------------------------------------------------------------------------

    def _endpoint(self, name: str, detail: bool) -> EndpointStatus:
        described, problem = aws.describe_endpoint(aws.sagemaker(), name)
        in_scope, why = self._house.scope.contains(name)
        mode, mode_why = self._mode.current(name)
        incidents = self._house.incidents.of(name)
        since = self._at - LOOKBACK
        shown = [
            i
            for i in incidents
            if i.action != ROLLOUT
            and (i.closed_at is None or (detail and datetime.fromisoformat(i.closed_at) >= since))
        ]
        decisions = self._house.journal.decisions(name, since, self._at + _SLACK)
        rollouts = [i for i in incidents if i.action == ROLLOUT]
        newest = max(rollouts, key=lambda i: parse_utc(i.opened_at)) if rollouts else None
        return EndpointStatus(
            name=name,
            status="missing" if described is None else str(described.get("EndpointStatus", "")),
            problem=problem,
            scope=why if in_scope else f"not in scope: {why}",
            mode=mode,
            mode_why=mode_why,
            policy=policy_view(self._house.scope.tags(name), self._policies_of(name)),
            incidents=tuple(self._incident(i) for i in shown),
            rollout=None if newest is None else self._rollout(newest),
            actions=tuple(reversed([action_row(d) for d in decisions]))
            if detail
            else last_told(decisions, LAST_ACTIONS),
            episodes=self._episodes_of(name),
        )

    def _episodes_of(self, endpoint: str) -> tuple[str, ...]:
        """The endpoint's open paging episodes (a flapping alarm at its bound, a spent budget),
        each with its function's paging rules."""
        lines: list[str] = []
        for action, function in sorted(self._stack.functions.items()):
            s = function.settings
            rules = PagingRules(timedelta(minutes=s.episode_quiet_minutes), timedelta(hours=s.reminder_hours))
            lines += [flapping(e, rules, self._at) for e in self._episodes.of(action, endpoint)]
        return tuple(lines)

    def _incident(self, incident: Incident) -> IncidentView:
        function = self._stack.function(incident.action)
        held = None
        if function is not None and incident.closed_at is None:
            cap = function.settings.actions_per_hour if function.unit.budgeted else None
            held = self._house.claims.check(incident.endpoint, incident.action, cap, self._at)
        return incident_view(incident, function.every if function else None, self._at, held)

    def _rollout(self, incident: Incident) -> RolloutStatus:
        function = self._stack.function(ROLLOUT)
        steps: list[int] = []
        if function is not None:
            own = policy.apply(function.settings, self._policy(function.settings, incident.endpoint))
            steps = list(getattr(own, "canary_steps", []))
        every = function.every if function is not None else None
        return rollout_status(rollout_view(incident), incident.endpoint, steps, every, self._at, note_of(incident))

    def _find(self, reference: str) -> Incident:
        wanted = reference.strip()
        found: dict[str, Incident] = {}
        for endpoint in self._house.scope.endpoints():
            for incident in self._house.incidents.of(endpoint):
                digest = short_id(incident.id)
                if wanted in (incident.id, digest) or (len(wanted) >= 6 and digest.startswith(wanted)):
                    found[incident.id] = incident
        if not found:
            raise StatusError(f"no incident {reference} on the endpoints in scope of stack {self._stack.name}")
        if len(found) > 1:
            raise StatusError(f"{reference} names {len(found)} incidents: {', '.join(sorted(found))}")
        return next(iter(found.values()))

    # --- policies, read as the functions read them, told to nobody ------------------------------

    def _policies_of(self, endpoint: str) -> list[policy.EndpointPolicy]:
        """Each action function's policy for the endpoint (`tags.within_stack` of its settings)."""
        if endpoint not in self._policies:
            self._policies[endpoint] = [self._policy(f.settings, endpoint) for f in self._stack.functions.values()]
        return self._policies[endpoint]

    def _policy(self, settings: EnvModel, endpoint: str) -> policy.EndpointPolicy:
        return policy.within_stack(settings, policy.read(self._house.scope.tags(endpoint), self._ignore))

    def _own_mode(self, endpoint: str) -> Mode | None:
        """The endpoint's own mode, as `Policies.mode` reads it (its tag, checked)."""
        return cast("Mode | None", self._policies_of(endpoint)[0].value("AUTOMATION_MODE"))
