"""The policy set, built once per invocation by `wiring.py`: each endpoint acted on with its
own settings - the stack's, with the values of its `model-medic:` tags in place (`tags.py`) -
and a tag that is not used told once.

`Policies` reads an endpoint's tags from the scope (the batched read of a sweep, or one
ListTags for an alarm's endpoint), resolves them once per invocation and endpoint, and
tells each problem once: a ledger mark per endpoint, tag key and value, written with its
info message in the outbox, then the message sent, and a warning in the log. `PerEndpoint`
is the unit's `Action` for the control loop: it hands each call to the unit built from that
endpoint's settings (built once per distinct policy, by the builders of `wiring.py`), so the
remediation modules stay as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from model_medic.platform import aws
from model_medic.platform.observability import logger, metrics
from model_medic.platform.settings import Mode, Settings
from model_medic.policy.tags import EndpointPolicy, Problem, apply, read, within_stack
from model_medic.store.table import cancelled_on
from model_medic.tell.courier import dedup_of

if TYPE_CHECKING:
    from model_medic.platform.clock import Clock
    from model_medic.policy.scope import Scope
    from model_medic.remediate.units import Action, Change, Observation, Plan, RemediationUnit
    from model_medic.store.incidents import Incident
    from model_medic.store.journal import Journal
    from model_medic.tell.courier import Courier


class Policies[SettingsT: Settings]:
    """The endpoints' policies for one invocation; problems told once (ledger marks)."""

    def __init__(
        self,
        stack: SettingsT,
        scope: Scope,
        journal: Journal,
        courier: Courier,
        clock: Clock,
        ignore: Collection[str] = (),
    ) -> None:
        self.stack = stack
        self.scope = scope
        self._journal = journal
        self._courier = courier
        self._clock = clock
        self._ignore = tuple(ignore)
        self._found: dict[str, EndpointPolicy] = {}
        self._settings: dict[str, SettingsT] = {}

    def policy(self, endpoint: str) -> EndpointPolicy:
        found = self._found.get(endpoint)
        if found is None:
            found = within_stack(self.stack, read(self.scope.tags(endpoint), self._ignore))
            self._tell(endpoint, found.problems)
            self._found[endpoint] = found
        return found

    def settings(self, endpoint: str) -> SettingsT:
        """The stack's settings with the endpoint's tags' values in place, resolved once per invocation."""
        own = self._settings.get(endpoint)
        if own is None:
            own = self._settings[endpoint] = apply(self.stack, self.policy(endpoint))
        return own

    def mode(self, endpoint: str) -> Mode | None:
        """The endpoint's own automation mode (its tag), None: the stack's."""
        return cast("Mode | None", self.policy(endpoint).value("AUTOMATION_MODE"))

    def by_settings(self, endpoints: list[str]) -> list[tuple[SettingsT, list[str]]]:
        """The endpoints grouped by their settings (one group per distinct policy), in order."""
        groups: dict[int, tuple[SettingsT, list[str]]] = {}
        for endpoint in endpoints:
            own = self.settings(endpoint)
            groups.setdefault(id(own), (own, []))[1].append(endpoint)
        return list(groups.values())

    def check(self, endpoints: list[str]) -> None:
        """Resolve (and so tell the problems of) every endpoint's tags: a sweep's job, so that a
        bad tag on an endpoint without incidents is told too."""
        for endpoint in endpoints:
            self.policy(endpoint)

    def _tell(self, endpoint: str, problems: tuple[Problem, ...]) -> None:
        """Each problem told once: its mark and its letter in one transaction, then the letter sent
        (a retry that finds the mark leaves the sending to the outbox, `tell/courier.py`)."""
        for problem in problems:
            subject = f"Model Medic: a tag of {endpoint} is not used"
            dedup = dedup_of(endpoint, problem.mark)
            letter = self._courier.plain_letter("inform", endpoint, subject, problem.sentence(endpoint), dedup)
            mark = self._journal.mark_request(endpoint, problem.mark, self._clock())
            try:
                aws.persist(partial(self._courier.commit, [mark, self._courier.put_request(letter)]))
            except ClientError as error:
                if cancelled_on(error, {0}):
                    continue  # told already
                raise
            logger.warning("tag not used", endpoint=endpoint, tag=problem.endpoint_tag, reason=problem.reason)
            metrics.add_metric(name="UnusedPolicyTags", unit="Count", value=1)
            self._courier.deliver(letter)


class PerEndpoint:
    """A unit's `Action` that acts on each endpoint with the unit built from its settings."""

    def __init__(self, build: Callable[[Any], Action], policies: Policies[Any]) -> None:
        self._build = build
        self._policies = policies
        self._default = build(policies.stack)
        self._built: dict[int, tuple[Any, Action]] = {}
        self._by_endpoint: dict[str, Action] = {}
        self.unit: RemediationUnit = self._default.unit
        # The cool-down is the stack's (no tag overrides it): one value for the claim.
        self.cooldown: timedelta = self._default.cooldown

    def for_endpoint(self, endpoint: str) -> Action:
        """The unit built from the endpoint's settings: one per distinct policy, found once per endpoint."""
        found = self._by_endpoint.get(endpoint)
        if found is not None:
            return found
        settings = self._policies.settings(endpoint)
        if settings is self._policies.stack:
            found = self._default
        else:
            # `tags.apply` returns the same object for the same policy: one unit per distinct policy.
            built = self._built.get(id(settings))
            if built is None or built[0] is not settings:
                built = (settings, self._build(settings))
                self._built[id(settings)] = built
            found = built[1]
        self._by_endpoint[endpoint] = found
        return found

    def plan(self, incident: Incident, endpoint: dict[str, Any]) -> Plan:
        return self.for_endpoint(incident.endpoint).plan(incident, endpoint)

    def execute(self, endpoint: str, change: Change, incident: Incident) -> dict[str, Any]:
        return self.for_endpoint(endpoint).execute(endpoint, change, incident)

    def adopt(self, endpoint: str, change: Change, incident: Incident) -> None:
        self.for_endpoint(endpoint).adopt(endpoint, change, incident)

    def observe(self, endpoint: str, change: Change, described: dict[str, Any], result: dict[str, Any]) -> Observation:
        return self.for_endpoint(endpoint).observe(endpoint, change, described, result)

    def rehearse(self, endpoint: str, changes: tuple[Change, ...], incident: Incident) -> None:
        self.for_endpoint(endpoint).rehearse(endpoint, changes, incident)
