"""What may be done to each endpoint: the scope, the mode, and the policy set of an invocation."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from aws_lambda_powertools.utilities.parameters import SSMProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from botocore.exceptions import ClientError

from model_medic.platform import aws
from model_medic.platform.observability import logger, metrics
from model_medic.platform.settings import MODES, Mode, Settings
from model_medic.policy.tags import EndpointPolicy, Problem, apply, read, within_stack
from model_medic.store.table import cancelled_on
from model_medic.tell.telling import dedup_of

if TYPE_CHECKING:
    from mypy_boto3_resourcegroupstaggingapi import ResourceGroupsTaggingAPIClient
    from mypy_boto3_sagemaker import SageMakerClient

    from model_medic.platform.clock import Clock
    from model_medic.remediate.units import Action, Change, Observation, Plan, RemediationUnit
    from model_medic.store.incidents import Incident
    from model_medic.store.journal import Journal
    from model_medic.tell.telling import Courier


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
        (a retry that finds the mark leaves the sending to the outbox, `tell/telling.py`)."""
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


def spelled(named: Iterable[str], listed: Iterable[str]) -> list[str]:
    """Each named endpoint as SageMaker spells it: the listed endpoint of the same name in any
    case, else the name as given (an endpoint not live yet). EndpointNames holds names in lower
    case (they go into the roles' ARNs, and SageMaker writes endpoint ARNs in lower case), while
    SageMaker keeps a name's case and CloudWatch's dimensions match it exactly; two endpoints
    cannot differ only in case (docs/aws-behaviours.md, "SageMaker APIs"). The one place the
    named and the live names meet: `fleet` and `is_named` go through it."""
    by_lower = {name.lower(): name for name in listed}
    return [by_lower.get(name.lower(), name) for name in named]


def is_named(endpoint: str, named: Iterable[str]) -> bool:
    """Whether the endpoint, as SageMaker spells it (an event's, an alarm's), is named (`spelled`)."""
    return endpoint in spelled(named, [endpoint])


class Scope:
    """The stack's scope for one invocation; the tags it reads are kept (`tags`), so that an
    endpoint's policy (`Policies`) costs no call of its own."""

    def __init__(
        self,
        sagemaker: SageMakerClient,
        named: list[str],
        discovery_tag: str = "",
        tagging: ResourceGroupsTaggingAPIClient | None = None,
    ) -> None:
        self._sagemaker = sagemaker
        self._named = list(named)
        self._tag = discovery_tag
        self._tagging = tagging  # the Resource Groups Tagging API client; needed with a discovery tag
        self._tags: dict[str, dict[str, str]] = {}  # endpoint -> its tags, as read in this invocation
        self._listed: dict[str, dict[str, str]] = {}  # live endpoints -> their tags, as `endpoints` read them
        self._described: dict[str, dict[str, Any]] = {}  # endpoint -> its DescribeEndpoint answer, this invocation

    def endpoints(self) -> list[str]:
        """Every endpoint in scope now: the named ones and the tagged live ones, with their
        tags (one batched read, `fleet`)."""
        if self._tagging is None:
            return sorted(set(self._named))
        found = fleet(self._sagemaker, self._tagging, self._named, self._tag, self._listed)
        self._tags.update(found)
        return list(found)

    def tags(self, endpoint: str) -> dict[str, str]:
        """The endpoint's tags: as read by `endpoints` or `contains`, else one DescribeEndpoint
        and ListTags (an endpoint that cannot be read has none: the stack's policy)."""
        if endpoint not in self._tags:
            self._tags[endpoint] = self._read_tags(endpoint) or {}
        return self._tags[endpoint]

    def contains(self, endpoint: str) -> tuple[bool, str]:
        """Whether the endpoint is in scope, and why not: from its tags as `endpoints` listed them
        in this invocation, else as read now (DescribeEndpoint, ListTags)."""
        if is_named(endpoint, self._named):
            return True, "named in EndpointNames"
        if not self._tag:
            return False, f"endpoint {endpoint} is not in scope (not named in EndpointNames)"
        key, _, value = self._tag.partition("=")
        if endpoint in self._listed:  # listed live with its tags by `endpoints` in this invocation
            self._tags[endpoint] = self._listed[endpoint]
        else:
            try:
                tags = self._read_tags(endpoint, quiet=False)
            except ClientError as error:
                if aws.is_transient(error):
                    raise
                return False, f"endpoint {endpoint} is not in scope ({aws.error_code(error)})"
            assert tags is not None
            self._tags[endpoint] = tags
        if self._tags[endpoint].get(key) == value:
            return True, f"tagged {self._tag}"
        return False, f"endpoint {endpoint} is not in scope (not named, no tag {self._tag})"

    def description(self, endpoint: str) -> dict[str, Any]:
        """The endpoint's DescribeEndpoint answer, read once per invocation (ClientError raised)."""
        if endpoint not in self._described:
            answer = self._sagemaker.describe_endpoint(EndpointName=endpoint)
            self._described[endpoint] = {k: v for k, v in answer.items() if k != "ResponseMetadata"}
        return self._described[endpoint]

    def _read_tags(self, endpoint: str, quiet: bool = True) -> dict[str, str] | None:
        """DescribeEndpoint + ListTags; a permanent error is None (quiet) or raised, a transient one raised."""
        try:
            return aws.sagemaker_tags(self._sagemaker, self.description(endpoint)["EndpointArn"])
        except ClientError as error:
            if aws.is_transient(error) or not quiet:
                raise
            return None


# Endpoints in these states have no alarms: not yet serving, failed to start, or going away.
# Every other state keeps them - an endpoint Updating (Model Medic scaling it, say) still
# needs its alarms.
_UNWATCHED = frozenset({"Creating", "Failed", "Deleting"})


def live_status(status: str) -> str:
    """An endpoint status as DescribeEndpoint spells it: EventBridge's state-change events say
    IN_SERVICE, DELETING, ...; the API says InService, Deleting, ..."""
    if "_" in status or status.isupper():
        return "".join(part.capitalize() for part in status.split("_"))
    return status


def fleet(
    sagemaker: SageMakerClient,
    tagging: ResourceGroupsTaggingAPIClient,
    named: list[str],
    discovery_tag: str = "",
    listed: dict[str, dict[str, str]] | None = None,
) -> dict[str, dict[str, str]]:
    """Every endpoint in scope with its tags: the named ones (whether or not they exist yet),
    each as SageMaker lists it (`spelled`), and every live endpoint carrying the discovery tag.
    `listed` (if given) receives every live endpoint whose tags were read, in scope or not,
    with its tags.

    Batched: ListEndpoints in pages of 100 and the Resource Groups Tagging API's GetResources
    in pages of 100 (one page holds the tags of 100 endpoints), never a ListTags or
    DescribeEndpoint per endpoint. GetResources lists only resources that have (or had) tags.
    """
    # Endpoint ARN in lower case -> name, of the endpoints watched. SageMaker writes an endpoint's
    # name in lower case in its ARN (`Churn-Prod` is `endpoint/churn-prod`), and no document says
    # that ListEndpoints and GetResources write it alike: they are matched in any case, which
    # names one endpoint (two cannot differ only in case; docs/aws-behaviours.md, "SageMaker APIs").
    live: dict[str, str] = {}
    names: list[str] = []  # every endpoint's name as SageMaker keeps it, whatever its state
    for page in sagemaker.get_paginator("list_endpoints").paginate(PaginationConfig={"PageSize": 100}):
        for endpoint in page.get("Endpoints", []):
            names.append(endpoint["EndpointName"])
            if endpoint.get("EndpointStatus") not in _UNWATCHED:
                live[endpoint["EndpointArn"].lower()] = endpoint["EndpointName"]
    tags_by_name: dict[str, dict[str, str]] = {}
    # PageSize is the paginator's name for ResourcesPerPage: the request is the same.
    for page in tagging.get_paginator("get_resources").paginate(
        ResourceTypeFilters=["sagemaker:endpoint"], PaginationConfig={"PageSize": 100}
    ):
        for resource in page.get("ResourceTagMappingList", []):
            name = live.get(resource["ResourceARN"].lower())
            if name is not None:
                tags_by_name[name] = {t["Key"]: t["Value"] for t in resource.get("Tags", [])}
    if listed is not None:
        listed.update(tags_by_name)
    key, _, value = discovery_tag.partition("=")
    found = {name: tags for name, tags in tags_by_name.items() if discovery_tag and tags.get(key) == value}
    for name in spelled(named, names):
        found[name] = tags_by_name.get(name, {})
    return dict(sorted(found.items()))


# The SSM kill switch holds one of MODES, or this word to defer to the stack parameter.
INHERIT = "inherit"


# From the least to the most permissive: when two say different things, the first one wins.
_PERMISSIVENESS: dict[str, int] = {mode: rank for rank, mode in enumerate(("off", "dry-run", "enforce"))}


class ModeSwitch:
    """The automation mode: the stack's, unless the SSM kill switch says otherwise; per
    endpoint, its own mode (the tag `model-medic:automation-mode`, `Policies`) in place of
    the stack's.

    Precedence, doing less when in doubt: the global SSM parameter is the kill switch. At
    `inherit` each endpoint runs in its own mode (its tag, else the stack's AutomationMode);
    at `off` or `dry-run` (or unreadable: dry-run) no endpoint does more than that, whatever
    its tag says; at `enforce` an endpoint tagged `dry-run` or `off` still does only that.
    The per-endpoint switch is a tag, not an SSM parameter per endpoint: the tags come in the
    batched read every sweep already makes (`fleet`), with no parameter to create,
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
