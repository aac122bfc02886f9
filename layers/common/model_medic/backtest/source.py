"""The backtest's reads of the account, all read-only: the stack's alarms and history, its endpoints, its ledger."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from model_medic.backtest.history import ACTIONS, Transition, opening_state, read_items
from model_medic.backtest.snapshot import (
    METRIC_LOOKBACK,
    AlarmSeed,
    EndpointSeed,
    Recorded,
    Snapshot,
    Subscription,
)
from model_medic.intake.triggers import describe_alarms
from model_medic.measure.endpoint_metrics import QUERIES, SOURCE_NAMESPACE
from model_medic.platform import aws
from model_medic.policy import tags as policy
from model_medic.remediate.capacity import SCALABLE_DIMENSION, Capacity
from model_medic.status.deployed import units
from model_medic.store.deployments import Deployments
from model_medic.store.table import Table
from model_medic.wiring import Invocation

if TYPE_CHECKING:
    from model_medic.status.deployed import DeployedStack

# The statistics of a minute that make one datapoint again (PutMetricData's StatisticValues).
_STATISTICS = ("SampleCount", "Sum", "Minimum", "Maximum")
_QUERIES_PER_CALL = 500  # GetMetricData's limit


def replayed_units(stack: DeployedStack) -> tuple[str, ...]:
    """The units the backtest replays: those the stack deploys that alarms drive. A rollout
    (`effect` next-step) starts from a model package approval, not from an alarm."""
    return tuple(u.name for u in units() if u.name in stack.functions and u.effect != "next-step")


class Source:
    """Reads one stack's account for a window [start, end], with the clients `platform/aws.py` makes."""

    def __init__(self, stack: DeployedStack, start: datetime, end: datetime) -> None:
        self._stack = stack
        self._start = start
        self._end = end
        self._house = Invocation(stack.settings)
        self._units = replayed_units(stack)
        self._skipped: list[str] = []

    def snapshot(self) -> Snapshot:
        endpoints = self._house.scope.endpoints()
        seeds = [seed for name in endpoints if (seed := self._endpoint(name)) is not None]
        alarms = self._alarms([s.name for s in seeds])
        seeds = [self._with_metrics(seed, alarms) for seed in seeds]
        functions = {f.name: name for name, f in self._stack.functions.items() if name in self._units}
        return Snapshot(
            stack=self._stack,
            start=self._start,
            end=self._end,
            region_name=region_name(self._stack.region),
            units=self._units,
            endpoints=tuple(seeds),
            alarms=tuple(alarms),
            subscriptions=subscriptions(alarms, functions),
            functions=functions,
            pipelines=self._pipelines(seeds),
            recorded=self._recorded([s.name for s in seeds]),
            skipped=tuple(self._skipped),
        )

    # --- endpoints ----------------------------------------------------------------------

    def _endpoint(self, name: str) -> EndpointSeed | None:
        """An endpoint in scope as it is now, or None (said in `skipped`) when it cannot be read."""
        sagemaker = aws.sagemaker()
        described, problem = aws.describe_endpoint(sagemaker, name)
        if described is None:
            self._skipped.append(f"endpoint {name}: not simulated, SageMaker answers {problem}")
            return None
        config = self._config(described["EndpointConfigName"])
        if config is None:
            self._skipped.append(
                f"endpoint {name}: not simulated, its config {described['EndpointConfigName']} is gone"
            )
            return None
        variants = [v["VariantName"] for v in described.get("ProductionVariants", [])]
        targets = Capacity(sagemaker, aws.autoscaling()).targets(name, variants)
        history, configs = self._history(name, described["EndpointConfigName"])
        models = self._models([config, *configs.values()])
        return EndpointSeed(
            name=name,
            described=described,
            config=config,
            models=models,
            tags=self._house.scope.tags(name),
            targets=tuple(cast("dict[str, Any]", t) for t in targets.values()),
            policies=frozenset(v for v in targets if self._has_policy(name, v)),
            history=tuple(history),
            configs=configs,
        )

    def _config(self, name: str) -> dict[str, Any] | None:
        try:
            return cast("dict[str, Any]", aws.sagemaker().describe_endpoint_config(EndpointConfigName=name))
        except ClientError as error:
            if aws.is_transient(error):
                raise
            return None

    def _models(self, configs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        names = {v["ModelName"] for c in configs for v in c.get("ProductionVariants", []) if v.get("ModelName")}
        found = {}
        for name in sorted(names):
            try:
                found[name] = cast("dict[str, Any]", aws.sagemaker().describe_model(ModelName=name))
            except ClientError as error:
                if aws.is_transient(error):
                    raise
                self._skipped.append(f"model {name}: {aws.error_code(error)}; simulated as a model without a container")
        return found

    def _history(self, endpoint: str, current: str) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
        """The configs the stack's ledger saw InService on the endpoint before the window (its
        rollback targets then), with their descriptions; a config gone from SageMaker is left out."""
        seen = Deployments(Table(aws.dynamodb(), self._stack.settings.ledger_table)).configs_seen(endpoint)
        history, configs = [], {}
        for entry in seen:
            if entry.first_seen is None or entry.first_seen > self._start.isoformat() or entry.config == current:
                continue
            described = self._config(entry.config)
            if described is None:
                self._skipped.append(
                    f"endpoint {endpoint}: earlier config {entry.config} is gone; not a rollback target"
                )
                continue
            configs[entry.config] = described
            history.append({"config": entry.config, "at": min(entry.last_seen, self._start.isoformat())})
        return history, configs

    def _has_policy(self, endpoint: str, variant: str) -> bool:
        found = aws.autoscaling().describe_scaling_policies(
            ServiceNamespace="sagemaker",
            ResourceId=f"endpoint/{endpoint}/variant/{variant}",
            ScalableDimension=SCALABLE_DIMENSION,
        )
        return bool(found.get("ScalingPolicies"))

    def _pipelines(self, seeds: list[EndpointSeed]) -> tuple[str, ...]:
        """The retraining pipelines the endpoints' policies name (the stack's, or an endpoint's tag)."""
        function = self._stack.function("start-retraining")
        if function is None or "start-retraining" not in self._units:
            return ()
        ignore = policy.discovery_key(self._stack.settings.discovery_tag)
        names = set()
        for seed in seeds:
            own = policy.apply(
                function.settings, policy.within_stack(function.settings, policy.read(seed.tags, ignore))
            )
            names.add(str(getattr(own, "pipeline_name", "")))
        return tuple(sorted(n for n in names if n))

    # --- metrics --------------------------------------------------------------------------

    def _with_metrics(self, seed: EndpointSeed, alarms: list[AlarmSeed]) -> EndpointSeed:
        """The endpoint with SageMaker's per-variant metrics over every stretch a scale-up alarm of
        it was in ALARM, from the look-back before (the scale-up reads them: `Capacity.errors`)."""
        suffixes = next((u.alarm_suffixes for u in units() if u.name == "scale-up"), ())
        spans = [
            (begin - METRIC_LOOKBACK, end)
            for alarm in alarms
            if alarm.name in {f"{seed.name}-{s}" for s in suffixes}
            for begin, end in alarm.spans("ALARM", self._start, self._end)
        ]
        variants = [v["VariantName"] for v in seed.described.get("ProductionVariants", [])]
        data = [datum for begin, end in _merged(spans) for datum in variant_metrics(seed.name, variants, begin, end)]
        return replace(seed, metrics=tuple(data))

    # --- alarms ---------------------------------------------------------------------------

    def _alarms(self, endpoints: list[str]) -> list[AlarmSeed]:
        """The replayed units' alarms of these endpoints (`<endpoint>-<suffix>`, as the sweep names
        them), with their state at the window's start and their transitions in it."""
        suffixes = [s for u in units() if u.name in self._units for s in u.alarm_suffixes]
        names = sorted({f"{e}-{s}" for e in endpoints for s in suffixes})
        found = describe_alarms(aws.cloudwatch(), names)
        seeds = []
        for name in names:
            definition = found.get(name)
            if definition is None:
                continue  # the endpoint has no such alarm (its manager made none, or it was deleted)
            before, later = self._history_of(name)
            state, since = opening_state(before, later, str(definition["StateValue"]))
            window = tuple(t for t in later if t.at <= self._end)
            seeds.append(AlarmSeed(definition, state, since, window))
        return seeds

    def _history_of(self, name: str) -> tuple[Transition | None, list[Transition]]:
        """The alarm's last transition before the window, and those from its start on (up to
        the first after its end): DescribeAlarmHistory, StateUpdate items only."""
        cloudwatch = aws.cloudwatch()
        last = cloudwatch.describe_alarm_history(
            AlarmName=name,
            HistoryItemType="StateUpdate",
            EndDate=self._start - timedelta(microseconds=1),
            ScanBy="TimestampDescending",
            MaxRecords=1,
        ).get("AlarmHistoryItems", [])
        before, refused = read_items(cast("list[dict[str, Any]]", last))
        later: list[Transition] = []
        for items in self._history_pages(name):
            found, more = read_items(items)
            refused += more
            later += [t for t in found if t.at >= self._start]
            if later and later[-1].at > self._end:
                break
        self._skipped += [f"alarm history: {why}" for why in refused]
        return (before[-1] if before else None), later

    def _history_pages(self, name: str) -> Iterator[list[dict[str, Any]]]:
        pages = aws.cloudwatch().get_paginator("describe_alarm_history")
        for page in pages.paginate(
            AlarmName=name, HistoryItemType="StateUpdate", StartDate=self._start, ScanBy="TimestampAscending"
        ):
            yield cast("list[dict[str, Any]]", page.get("AlarmHistoryItems", []))

    # --- what the stack recorded ------------------------------------------------------------

    def _recorded(self, endpoints: list[str]) -> Recorded:
        """The stack's own incidents opened in the window, and its decisions in it, of the replayed units."""
        incidents, decisions = [], []
        for endpoint in endpoints:
            for incident in self._house.incidents.of(endpoint):
                opened = datetime.fromisoformat(incident.opened_at)
                if incident.action in self._units and self._start <= opened <= self._end:
                    incidents.append(incident)
            decisions += [
                d
                for d in self._house.journal.decisions(endpoint, self._start, self._end)
                if d.action in self._units or d.action == "scale-back"
            ]
        return Recorded(tuple(incidents), tuple(decisions))


def subscriptions(alarms: list[AlarmSeed], functions: dict[str, str]) -> dict[str, tuple[Subscription, ...]]:
    """The subscriptions of the stack's replayed functions to the topics the alarms notify."""
    topics = sorted(
        {
            arn
            for alarm in alarms
            for actions in ACTIONS.values()
            for arn in alarm.definition.get(actions, [])
            if arn.startswith("arn:") and arn.split(":")[2] == "sns"
        }
    )
    sns = aws.sns()
    found: dict[str, tuple[Subscription, ...]] = {}
    for topic in topics:
        subscriptions = []
        for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic):
            for listed in page.get("Subscriptions", []):
                function = _function_name(listed.get("Endpoint", "")) if listed.get("Protocol") == "lambda" else ""
                if function not in functions:
                    continue
                attributes = sns.get_subscription_attributes(SubscriptionArn=listed["SubscriptionArn"])
                subscriptions.append(_subscription(listed["SubscriptionArn"], functions, function, attributes))
        found[topic] = tuple(subscriptions)
    return found


def variant_metrics(endpoint: str, variants: list[str], begin: datetime, end: datetime) -> list[dict[str, Any]]:
    """A datapoint a minute of each metric the scale-up reads, as a statistic set (GetMetricData)."""
    names = sorted({metric for metric, _ in QUERIES})
    queries, keys = [], {}
    for v_index, variant in enumerate(variants):
        for m_index, metric in enumerate(names):
            for s_index, statistic in enumerate(_STATISTICS):
                query_id = f"v{v_index}m{m_index}s{s_index}"
                keys[query_id] = (variant, metric, statistic)
                queries.append(_query(query_id, endpoint, variant, metric, statistic))
    values: dict[tuple[str, str, datetime], dict[str, float]] = {}
    for first in range(0, len(queries), _QUERIES_PER_CALL):
        for result in _results(queries[first : first + _QUERIES_PER_CALL], begin, end):
            variant, metric, statistic = keys[result["Id"]]
            for at, value in zip(result.get("Timestamps", []), result.get("Values", []), strict=False):
                values.setdefault((variant, metric, at), {})[statistic] = float(value)
    return [
        {
            "MetricName": metric,
            "Dimensions": [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}],
            "Timestamp": at,
            "StatisticValues": stats,
        }
        for (variant, metric, at), stats in sorted(values.items(), key=lambda kv: (kv[0][2], kv[0][0], kv[0][1]))
        if set(stats) == set(_STATISTICS) and stats["SampleCount"] > 0
    ]


def region_name(region: str) -> str:
    """A Region's long name (US East (N. Virginia)), as botocore's endpoint data gives it."""
    import botocore.session

    for partition in botocore.session.get_session().get_data("endpoints").get("partitions", []):
        described = partition.get("regions", {}).get(region)
        if described is not None:
            return str(described.get("description", region))
    return region


def _function_name(arn: str) -> str:
    return arn.split(":function:", 1)[1].split(":")[0] if ":function:" in arn else ""


def _subscription(arn: str, functions: dict[str, str], function: str, attributes: Any) -> Subscription:
    values = attributes.get("Attributes", {})
    raw = values.get("FilterPolicy")
    return Subscription(
        arn=arn,
        unit=functions[function],
        function=function,
        filter_policy=json.loads(raw) if raw else None,
        scope=values.get("FilterPolicyScope") or "MessageAttributes",
    )


def _query(query_id: str, endpoint: str, variant: str, metric: str, statistic: str) -> dict[str, Any]:
    return {
        "Id": query_id,
        "MetricStat": {
            "Metric": {
                "Namespace": SOURCE_NAMESPACE,
                "MetricName": metric,
                "Dimensions": [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}],
            },
            "Period": 60,
            "Stat": statistic,
        },
        "ReturnData": True,
    }


def _results(queries: list[dict[str, Any]], begin: datetime, end: datetime) -> Iterator[dict[str, Any]]:
    pages = aws.cloudwatch().get_paginator("get_metric_data")
    for page in pages.paginate(MetricDataQueries=cast("Any", queries), StartTime=begin, EndTime=end):
        yield from cast("list[dict[str, Any]]", page.get("MetricDataResults", []))


def _merged(spans: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """Pure: overlapping stretches of time as one."""
    merged: list[tuple[datetime, datetime]] = []
    for begin, end in sorted(spans):
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((begin, end))
    return merged
