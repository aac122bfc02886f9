"""What the backtest read of the account, as plain data: the simulation's seeds and what the stack recorded."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from model_medic.backtest.history import Transition
    from model_medic.status.deployed import DeployedStack
    from model_medic.store.incidents import Incident
    from model_medic.store.journal import Decision


@dataclass(frozen=True)
class Subscription:
    """A subscription of one of the stack's functions to an alarm topic, with its filter policy."""

    arn: str
    unit: str
    function: str
    filter_policy: dict[str, Any] | None  # None: every message
    scope: str  # FilterPolicyScope: MessageAttributes (SNS's default) or MessageBody


@dataclass(frozen=True)
class AlarmSeed:
    """One of the stack's alarms: its definition, its state when the window opens, its transitions in it."""

    definition: dict[str, Any]  # DescribeAlarms
    state: str
    since: datetime | None  # when it entered `state`, if the history says
    transitions: tuple[Transition, ...]

    @property
    def name(self) -> str:
        return str(self.definition["AlarmName"])

    def spans(self, state: str, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """Pure: the stretches of the window [start, end] the alarm spent in `state` (from the
        start or a transition into it, to the next transition or the end)."""
        found = []
        current, since = self.state, start if self.state == state else None
        for change in self.transitions:
            if change.new == state and current != state:
                since = change.at
            elif change.new != state and current == state and since is not None:
                found.append((since, change.at))
                since = None
            current = change.new
        if current == state and since is not None:
            found.append((since, end))
        return found


@dataclass(frozen=True)
class EndpointSeed:
    """An endpoint as the simulation starts it: as SageMaker describes it now, with what it is made of."""

    name: str
    described: dict[str, Any]  # DescribeEndpoint
    config: dict[str, Any]  # DescribeEndpointConfig of the config it runs
    models: dict[str, dict[str, Any]]  # DescribeModel of every model its configs name
    tags: dict[str, str]
    targets: tuple[dict[str, Any], ...]  # its variants' scalable targets (DescribeScalableTargets)
    policies: frozenset[str]  # the variants whose target has a scaling policy (DescribeScalingPolicies)
    history: tuple[dict[str, Any], ...] = ()  # configs the ledger saw InService before: {config, first_seen, ...}
    configs: dict[str, dict[str, Any]] = field(default_factory=dict)  # DescribeEndpointConfig of those
    metrics: tuple[dict[str, Any], ...] = ()  # AWS/SageMaker datapoints, PutMetricData's MetricDatum shape

    def count(self, variant: str) -> int | None:
        """A variant's instances now (None: serverless, or no such variant)."""
        for v in self.described.get("ProductionVariants", []):
            if v["VariantName"] == variant and "CurrentServerlessConfig" not in v:
                return int(v.get("CurrentInstanceCount", 0))
        return None


@dataclass(frozen=True)
class Recorded:
    """What the stack itself recorded in the window (its ledger), to hold the backtest against."""

    incidents: tuple[Incident, ...] = ()
    decisions: tuple[Decision, ...] = ()


@dataclass(frozen=True)
class Snapshot:
    """Everything the backtest read, read-only, before it simulates anything."""

    stack: DeployedStack
    start: datetime
    end: datetime
    region_name: str  # the Region's long name, as alarm messages carry it
    units: tuple[str, ...]  # the units replayed (their names)
    endpoints: tuple[EndpointSeed, ...]
    alarms: tuple[AlarmSeed, ...]
    subscriptions: dict[str, tuple[Subscription, ...]]  # by topic ARN
    functions: dict[str, str]  # the stack's action functions: function name -> unit name
    pipelines: tuple[str, ...]  # the retraining pipelines the endpoints' policies name
    recorded: Recorded
    skipped: tuple[str, ...] = ()  # what could not be read or seeded, and why

    @property
    def transitions(self) -> int:
        return sum(len(a.transitions) for a in self.alarms)


# SageMaker's per-variant metrics the decision code reads: the scale-up's look at the last
# ten minutes' errors (are they the callers' 4XX?) - capacity.ERROR_LOOKBACK.
METRIC_LOOKBACK = timedelta(minutes=10)
