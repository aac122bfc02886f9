"""Keeps every in-scope endpoint's alarms and dashboard in step with the fleet, its own alarms only."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from model_medic.fleet.alarm_catalog import (
    STACK_TAG,
    VERDICT_SUFFIX,
    EndpointWatch,
    dashboard_body,
    dashboard_name,
    dashboard_prefix,
)
from model_medic.fleet.holdings import PAGE, Holdings, StackPlace
from model_medic.fleet.patience import Patience
from model_medic.fleet.variants import held
from model_medic.platform import aws
from model_medic.platform.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_resourcegroupstaggingapi import ResourceGroupsTaggingAPIClient

# The fields of a PutMetricAlarm request that DescribeAlarms returns as they were put.
_COMPARED = (
    "AlarmDescription",
    "ActionsEnabled",
    "AlarmActions",
    "OKActions",
    "InsufficientDataActions",
    "Namespace",
    "MetricName",
    "Dimensions",
    "Statistic",
    "Unit",
    "Period",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
)

# What an endpoint should have, given its tags: its alarms (PutMetricAlarm requests without
# tags, its canary's apart) and whether it has a dashboard.
AlarmsFor = Callable[[str, Mapping[str, str]], EndpointWatch]
# An endpoint's variants as SageMaker describes them (`variants.EndpointVariants.of`).
VariantsOf = Callable[[str], frozenset[str]]


@dataclass
class Reconciliation:
    """What one reconciliation found and did."""

    endpoints: int = 0
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: int = 0
    described: int = 0  # endpoints whose variants were read (DescribeEndpoint) in this run
    conflicts: list[str] = field(default_factory=list)  # our name, someone else's alarm
    blocked: list[str] = field(default_factory=list)  # ours, but a composite alarm depends on it: kept
    dashboards_put: list[str] = field(default_factory=list)
    dashboards_deleted: list[str] = field(default_factory=list)
    pending: int = 0  # changes left for the next run (the write budget of this one was spent)
    remaining: list[str] = field(default_factory=list)  # a delete's read-back: what CloudWatch still holds

    @property
    def writes(self) -> int:
        return (
            len(self.created)
            + len(self.updated)
            + len(self.deleted)
            + len(self.dashboards_put)
            + len(self.dashboards_deleted)
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def drift(desired: Mapping[str, Any], actual: Mapping[str, Any]) -> list[str]:
    """The fields in which the alarm CloudWatch holds differs from the desired request."""
    return [key for key in _COMPARED if _normal(key, desired.get(key)) != _normal(key, actual.get(key))]


def _normal(key: str, value: Any) -> Any:
    if key == "Dimensions":
        return sorted((d["Name"], d["Value"]) for d in value or [])
    if key in ("AlarmActions", "OKActions", "InsufficientDataActions"):
        return sorted(value or [])
    if key == "Threshold":
        return None if value is None else float(value)
    if key == "ActionsEnabled":
        return True if value is None else bool(value)
    return value


def alarm_endpoint(alarm: Mapping[str, Any]) -> str | None:
    """The endpoint an alarm watches: its EndpointName (or Model Monitor's Endpoint) dimension."""
    for dimension in alarm.get("Dimensions", []):
        if dimension["Name"] in ("EndpointName", "Endpoint"):
            return str(dimension["Value"])
    return None


@dataclass(frozen=True)
class WritePace:
    """How many writes a run may make, and how many a second (0: no pacing)."""

    max_writes: int = 400
    per_second: float = 3.0
    sleep: Callable[[float], None] = time.sleep


class AlarmManager:
    """Creates what is missing, updates what drifted, deletes what left scope - its own only."""

    def __init__(
        self,
        cloudwatch: CloudWatchClient,
        tagging: ResourceGroupsTaggingAPIClient,
        place: StackPlace,
        alarms_for: AlarmsFor,
        variants_of: VariantsOf,
        pace: WritePace = WritePace(),
        patience: Patience | None = None,
    ) -> None:
        self._cw = cloudwatch
        self._patience = patience or Patience()
        self._held = Holdings(cloudwatch, tagging, place, self._patience)
        self._stack = place.stack
        self._region = place.region
        self._arn_prefix = place.alarm_arn_prefix
        self._alarms_for = alarms_for
        self._variants_of = variants_of
        self._writes_left = pace.max_writes
        self._interval = 1.0 / pace.per_second if pace.per_second > 0 else 0.0
        self._sleep = pace.sleep
        self._last_write = float("-inf")

    # --- entry points --------------------------------------------------------------------

    def reconcile(self, fleet: Mapping[str, Mapping[str, str]], reread: Collection[str] = ()) -> Reconciliation:
        """The whole fleet: `fleet` maps every endpoint in scope to its tags. An endpoint's
        variants are read (DescribeEndpoint) when it is in `reread` (it may have changed) or its
        alarms cannot say which it has (`variants.held`); otherwise its alarms tell."""
        watches = {endpoint: self._alarms_for(endpoint, tags) for endpoint, tags in fleet.items()}
        owned = self._held.owned()
        # Every name the fleet may have, its canaries' included: what CloudWatch holds of them
        # tells each endpoint's variants (the tagging index alone may still list a deleted alarm).
        existing = self._held.describe(sorted({name for watch in watches.values() for name in watch.names}))
        variants, described = self._variants(watches, owned, existing, set(reread))
        desired = self._desired(watches, variants)
        # The ones to delete, confirmed: an alarm the tagging index still lists after its delete
        # has no tag left, and the role may delete only alarms tagged with the stack.
        doomed = set(self._held.describe(sorted(_doomed(owned, desired))))
        result = self._apply(desired, existing, owned, doomed=doomed)
        result.endpoints, result.described = len(fleet), described
        dashboards = self._held.dashboards(dashboard_prefix(self._stack, self._region))
        self._apply_dashboards(watches, desired, dashboards, result)
        return result

    def reconcile_endpoint(
        self, endpoint: str, tags: Mapping[str, str] | None, variants: Collection[str] = ()
    ) -> Reconciliation:
        """One endpoint (a state change): `tags` when it is in scope, None when it is not, and
        the `variants` it was described with."""
        watches = {endpoint: self._alarms_for(endpoint, tags)} if tags is not None else {}
        desired = self._desired(watches, {endpoint: frozenset(variants)})
        # Every alarm named after the endpoint and watching it; its owner is asked only for these.
        found = self._held.describe_prefix(f"{endpoint}-")
        mine = {name: alarm for name, alarm in found.items() if alarm_endpoint(alarm) == endpoint}
        owned = self._held.owned_of([alarm["AlarmArn"] for alarm in mine.values()])
        existing = {name: alarm for name, alarm in found.items() if name in desired or name in mine}
        result = self._apply(desired, existing, owned, doomed=_doomed(owned, desired))
        result.endpoints = len(watches)
        name = dashboard_name(self._stack, self._region, endpoint)
        dashboards = {k: v for k, v in self._held.dashboards(name).items() if k == name}
        self._apply_dashboards(watches, desired, dashboards, result)
        return result

    def remove_all(self) -> Reconciliation:
        """Every alarm and dashboard of the stack (the stack is being deleted), read back after
        each round of deletes until CloudWatch holds none of them but those `blocked` (a composite
        alarm depends on them: CloudWatch refuses their delete); `remaining` is what else it
        still holds when the run's writes or time are spent. `Patience` bounds the rounds."""
        result = Reconciliation()
        alarms, dashboards = self.leftovers()
        rounds = 0
        while alarms or dashboards:
            if rounds:
                left = f"{len(alarms)} alarms and {len(dashboards)} dashboards still held"
                self._patience.wait(rounds - 1, "the stack's delete, read back", left)
            pending = result.pending
            self._delete(alarms, result)
            self._delete_dashboards(dashboards, result)
            if result.pending > pending:  # this run's writes or time are spent: the rest is left
                break
            alarms, dashboards = self.leftovers()
            alarms = [name for name in alarms if name not in result.blocked]
            rounds += 1
        result.remaining = alarms + dashboards
        return result

    def leftovers(self) -> tuple[list[str], list[str]]:
        """The stack's alarms CloudWatch holds (found by their tag, confirmed by DescribeAlarms:
        the tagging API's index may still list an alarm just deleted) and its dashboards."""
        alarms = self._held.describe(sorted(self._held.owned()))
        return sorted(alarms), sorted(self._held.dashboards(dashboard_prefix(self._stack, self._region)))

    # --- desired and changes ---------------------------------------------------------------

    def _variants(
        self,
        watches: Mapping[str, EndpointWatch],
        owned: Mapping[str, str],
        existing: Mapping[str, Any],
        reread: set[str],
    ) -> tuple[dict[str, frozenset[str]], int]:
        """Each endpoint's variants, as its alarms (ours, and held by CloudWatch) tell them, or
        read; and how many were read."""
        accounted = {name for watch in watches.values() for name in watch.names}
        unaccounted = [name for name in owned if name not in accounted]
        ours = {name for name in existing if name in owned}
        variants: dict[str, frozenset[str]] = {}
        read = 0
        for endpoint, watch in watches.items():
            told = None if endpoint in reread else held(watch, ours, unaccounted)
            if told is None:
                told, read = self._variants_of(endpoint), read + 1
            variants[endpoint] = told
        return variants, read

    @staticmethod
    def _desired(
        watches: Mapping[str, EndpointWatch], variants: Mapping[str, frozenset[str]]
    ) -> dict[str, dict[str, Any]]:
        return {
            alarm["AlarmName"]: alarm
            for endpoint, watch in watches.items()
            for alarm in watch.requests(variants.get(endpoint, frozenset()))
        }

    def _apply(
        self,
        desired: Mapping[str, dict[str, Any]],
        existing: Mapping[str, dict[str, Any]],
        owned: Mapping[str, str],
        doomed: set[str],
    ) -> Reconciliation:
        result = Reconciliation()
        for name, alarm in desired.items():  # in order: an endpoint's canary alarms before its own
            actual = existing.get(name)
            if actual is not None and name not in owned:
                result.conflicts.append(name)
                continue
            changed = ["(missing)"] if actual is None else drift(alarm, actual)
            if not changed:
                result.unchanged += 1
            elif not self._may_write():
                result.pending += 1
            else:
                if actual is not None:
                    logger.info("alarm drifted", alarm=name, fields=changed)
                self._put(alarm)
                (result.created if actual is None else result.updated).append(name)
        if result.conflicts:
            logger.warning(
                "alarms with the stack's names belong to someone else; left alone",
                alarms=result.conflicts[:20],
                count=len(result.conflicts),
            )
        self._delete(sorted(doomed), result)
        return result

    def _put(self, alarm: dict[str, Any]) -> None:
        # The stack tag on every put: it marks the alarm as ours on creation, and the role may
        # put only requests that carry it (aws:RequestTag). On an update CloudWatch ignores
        # Tags (PutMetricAlarm API reference); an owned alarm already has it.
        put = partial(self._cw.put_metric_alarm, **alarm, Tags=[{"Key": STACK_TAG, "Value": self._stack}])
        self._patience.call(f"PutMetricAlarm {alarm['AlarmName']}", put)

    def _may_write(self) -> bool:
        """Whether this run may make one more write call (its budget and the invocation's time
        allow it); waits so as to keep to the rate."""
        if self._writes_left <= 0 or not self._patience.has_time(self._interval):
            return False
        self._writes_left -= 1
        wait = self._last_write + self._interval - time.monotonic()
        if wait > 0:
            self._sleep(wait)
        self._last_write = time.monotonic()
        return True

    def _delete(self, names: list[str], result: Reconciliation) -> None:
        """DeleteAlarms, 100 names a call, but for the alarms composite alarms depend on (`_delete_in_batches`)."""
        gone = partial(self._gone, "DeleteAlarms")
        deleted, kept, pending = _delete_in_batches(
            names, self._may_write, lambda batch: gone(partial(self._cw.delete_alarms, AlarmNames=batch))
        )
        result.deleted += deleted
        result.blocked += kept
        result.pending += pending

    def _gone(self, what: str, delete: Callable[[], object]) -> None:
        """A delete, where some of the names being gone already (another run, or an earlier
        attempt of this one) is no error: the callers read back what is left."""
        try:
            self._patience.call(what, delete)
        except ClientError as error:
            if aws.error_code(error) != "ResourceNotFound":
                raise
            logger.info("some were deleted already", call=what, error=str(error))

    def _apply_dashboards(
        self,
        watches: Mapping[str, EndpointWatch],
        desired: Mapping[str, dict[str, Any]],
        dashboards: Mapping[str, int],
        result: Reconciliation,
    ) -> None:
        """Each endpoint's dashboard put where it is missing or differs; those of endpoints that
        left scope, or whose policy says none (`EndpointDashboards`), deleted."""
        names_of: dict[str, list[str]] = {}
        for name, alarm in desired.items():
            endpoint = alarm_endpoint(alarm)
            if endpoint is not None:
                names_of.setdefault(endpoint, []).append(name)
        wanted: set[str] = set()
        for endpoint in (endpoint for endpoint, watch in watches.items() if watch.dashboard):
            name = dashboard_name(self._stack, self._region, endpoint)
            wanted.add(name)
            body = dashboard_body(
                self._stack,
                self._region,
                endpoint,
                [self._arn_prefix + alarm for alarm in sorted(names_of.get(endpoint, []))],
            )
            size = dashboards.get(name)
            if size is not None and (size == len(body.encode()) or self._held.same_dashboard(name, body)):
                continue
            if not self._may_write():
                result.pending += 1
                continue
            put = partial(self._cw.put_dashboard, DashboardName=name, DashboardBody=body)
            self._patience.call(f"PutDashboard {name}", put)
            result.dashboards_put.append(name)
        self._delete_dashboards(sorted(set(dashboards) - wanted), result)

    def _delete_dashboards(self, names: Iterable[str], result: Reconciliation) -> None:
        names = list(names)
        for start in range(0, len(names), PAGE):
            batch = names[start : start + PAGE]
            if not self._may_write():
                result.pending += len(batch)
                continue
            self._gone("DeleteDashboards", partial(self._cw.delete_dashboards, DashboardNames=batch))
            result.dashboards_deleted += batch


def _delete_in_batches(
    names: list[str], may_write: Callable[[], bool], delete: Callable[[list[str]], None]
) -> tuple[list[str], list[str], int]:
    """The names deleted, blocked and left pending: `delete` (DeleteAlarms) 100 names a call while
    `may_write`. CloudWatch refuses a whole call when a composite alarm depends on any of its
    names (docs/aws-behaviours.md, "CloudWatch API limits and percentiles"): those are blocked -
    left where they are - and the call is made again without them, one name a call when the
    refusal does not say which."""
    batches = [names[start : start + PAGE] for start in range(0, len(names), PAGE)]
    deleted: list[str] = []
    kept: list[str] = []
    pending = 0
    while batches:
        batch = batches.pop(0)
        if not may_write():
            pending += len(batch)
            continue
        try:
            delete(batch)
        except ClientError as error:
            listed = composite_refusal(error)
            if listed is None:
                raise
            named = listed & set(batch)
            if not named and len(batch) > 1:  # the refusal does not say which: one name a call
                batches[:0] = [[name] for name in batch]
                continue
            refused = named or set(batch)
            kept += sorted(refused)
            rest = [name for name in batch if name not in refused]
            if rest:
                batches.insert(0, rest)
            continue
        deleted += batch
    if kept:
        logger.warning(
            "alarms of the stack left: composite alarms depend on them and CloudWatch refuses their delete",
            alarms=kept[:20],
            count=len(kept),
        )
    return deleted, kept, pending


# AWS's refusal, "Cannot delete abc,xyz as there are composite alarm(s) depending on them." (or
# "... on it."), as quoted from real CloudWatch (docs/aws-behaviours.md, "CloudWatch API limits
# and percentiles").
_COMPOSITE_REFUSAL = re.compile(r"Cannot delete (?P<names>.+) as there are composite alarm")


def composite_refusal(error: ClientError) -> set[str] | None:
    """The alarm names a DeleteAlarms refusal says composite alarms depend on (empty when it
    does not say which); None when the error is not that refusal. AWS answers ValidationError;
    botocore's model also lists ResourceConflict for DeleteAlarms ("conflicts with the current
    state of the alarm"), taken too when its message speaks of composite alarms."""
    message = str(error.response.get("Error", {}).get("Message", ""))
    if aws.error_code(error) not in ("ValidationError", "ResourceConflict") or "composite alarm" not in message:
        return None
    found = _COMPOSITE_REFUSAL.search(message)
    return {name.strip() for name in found["names"].split(",")} if found else set()


def _doomed(owned: Mapping[str, str], desired: Mapping[str, Any]) -> set[str]:
    """The stack's alarms the fleet no longer wants, but a component rollout's verdict alarm: the
    rollout deletes it once the update is over (remediate/rollout/component.py); the stack's delete
    removes any left (`leftovers`)."""
    return {name for name in set(owned) - set(desired) if not name.endswith(f"-{VERDICT_SUFFIX}")}
