"""The replay: a snapshot's alarm transitions and the functions' schedules, in time order, through their pipelines."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from model_medic.backtest.handlers import HANDLERS
from model_medic.backtest.history import ACTIONS, Transition, alarm_action_event, sns_event, sns_message
from model_medic.intake.triggers import describe_alarms
from model_medic.platform import aws
from model_medic.platform.observability import metrics
from model_medic.remediate.capacity import Capacity

if TYPE_CHECKING:
    from model_medic.backtest.snapshot import Snapshot, Subscription
    from model_medic.backtest.world import World

# An asynchronous invocation that raises is tried twice more, then parked (Lambda's retries).
ATTEMPTS = 3
# Application Auto Scaling's default scale-in cool-down for a SageMaker variant (docs/aws-behaviours.md).
SCALE_IN_COOLDOWN = timedelta(seconds=300)

Travel = Callable[[datetime], AbstractContextManager[Any]]
Matcher = Callable[["Subscription", str], bool]


@dataclass(frozen=True)
class Event:
    """What happens at one instant: an alarm's transition (delivered as CloudWatch would), or a unit's sweep."""

    at: datetime
    unit: str = ""  # the unit swept; "" for a transition
    change: Transition | None = None


def timeline(start: datetime, end: datetime, changes: list[Transition], every: dict[str, timedelta]) -> list[Event]:
    """Pure: every transition at its time, and every unit's sweep each `every` from the start up to
    the end; at one instant, transitions first (an alarm notifies at once, a schedule at its time)."""
    events = [Event(c.at, change=c) for c in changes if start <= c.at <= end]
    for unit, period in sorted(every.items()):
        at = start + period
        while at <= end:
            events.append(Event(at, unit=unit))
            at += period
    return sorted(events, key=lambda e: (e.at, e.change is None, e.unit))


@dataclass(frozen=True)
class Page:
    """A message to the critical topic: what would have woken a person."""

    at: str
    subject: str
    endpoint: str
    result: str
    incident: str
    text: str


@dataclass
class Replayed:
    """What the replay did and saw, besides what the simulated ledger holds."""

    invocations: dict[str, int] = field(default_factory=dict)  # by unit
    deliveries: int = 0  # alarm messages delivered to a function
    parked: list[str] = field(default_factory=list)  # invocations that failed every attempt
    pages: list[Page] = field(default_factory=list)
    counts: dict[tuple[str, str], list[tuple[datetime, int]]] = field(default_factory=dict)  # running instances
    floors: dict[tuple[str, str], list[tuple[datetime, int | None]]] = field(default_factory=dict)  # MinCapacity
    scaled_in: list[str] = field(default_factory=list)  # the scaling policies' own scale-ins


class Replay:
    """Plays a snapshot's events against the simulated world, sampling capacity around each."""

    def __init__(self, snapshot: Snapshot, world: World, travel: Travel, matches: Matcher) -> None:
        self._snapshot = snapshot
        self._world = world
        self._travel = travel
        self._matches = matches
        self._excess: dict[tuple[str, str], datetime] = {}
        self.done = Replayed()

    def run(self, every: dict[str, timedelta]) -> Replayed:
        changes = [c for alarm in self._snapshot.alarms for c in alarm.transitions]
        for event in timeline(self._snapshot.start, self._snapshot.end, changes, every):
            with self._travel(event.at):
                self._sample(event.at)  # finished updates settle at their own time (LastModifiedTime)
                self._scale_in(event.at)
                if event.change is not None:
                    self._transition(event.change)
                else:
                    self._invoke(event.unit, self._scheduled(event.at), event.at)
                self._sample(event.at)
                self._scale_in(event.at)  # a floor lowered now starts the policy's cool-down now
                self._drain(event.at)
        with self._travel(self._snapshot.end):
            self._sample(self._snapshot.end)
        return self.done

    # --- deliveries -----------------------------------------------------------------------

    def _transition(self, change: Transition) -> None:
        """The alarm set as CloudWatch set it, then its message sent where its actions send it."""
        cloudwatch = aws.cloudwatch()
        cloudwatch.set_alarm_state(
            AlarmName=change.alarm,
            StateValue=cast("Any", change.new),
            StateReason=change.reason[:1023] or "backtest",
            **({"StateReasonData": change.reason_data} if change.reason_data else {}),
        )
        seed = next(a for a in self._snapshot.alarms if a.name == change.alarm)
        if seed.definition.get("ActionsEnabled") is False:
            return
        simulated = describe_alarms(cloudwatch, [change.alarm])[change.alarm]
        message = sns_message(simulated, change, self._world.account, self._snapshot.region_name)
        body = json.dumps(message)
        for action in seed.definition.get(ACTIONS[change.new], []):
            function = action.split(":function:", 1)[1].split(":")[0] if ":function:" in action else ""
            unit = self._snapshot.functions.get(function)
            if unit is not None:  # the alarm invokes the function itself
                event = alarm_action_event(simulated, change, self._world.account, self._snapshot.stack.region)
                self._deliver(unit, event, change.at)
            for subscription in self._snapshot.subscriptions.get(action, ()):
                if self._matches(subscription, body):
                    event = sns_event(action, subscription.arn, message, self._snapshot.region_name)
                    self._deliver(subscription.unit, event, change.at)

    def _deliver(self, unit: str, event: dict[str, Any], at: datetime) -> None:
        self.done.deliveries += 1
        self._invoke(unit, event, at)

    def _invoke(self, unit: str, event: dict[str, Any], at: datetime) -> None:
        """The unit's function on the event, as an asynchronous invocation: retried twice, then parked."""
        self.done.invocations[unit] = self.done.invocations.get(unit, 0) + 1
        failure = ""
        for _ in range(ATTEMPTS):
            try:
                HANDLERS[unit](self._world.settings[unit], event)
                failure = ""
                break
            except Exception as error:  # noqa: BLE001 - Lambda retries it, then the dead-letter queue keeps it
                failure = f"{type(error).__name__}: {error}"
            finally:
                metrics.clear_metrics()  # the functions' metrics are flushed by Lambda's decorator, not here
        if failure:
            self.done.parked.append(f"{at.isoformat()} {unit}: {failure}")

    def _scheduled(self, at: datetime) -> dict[str, Any]:
        return scheduled(at, self._world.account, self._snapshot.stack.region)

    # --- what AWS does by itself ------------------------------------------------------------

    def _sample(self, at: datetime) -> None:
        """Each variant's running count (dated by LastModifiedTime when an update finished) and floor."""
        sagemaker = aws.sagemaker()
        capacity = Capacity(sagemaker, aws.autoscaling())
        for seed in self._snapshot.endpoints:
            described, _ = aws.describe_endpoint(sagemaker, seed.name)
            if described is None:
                continue
            status, variants = capacity.endpoint(seed.name, described)
            modified = _utc(described.get("LastModifiedTime"))
            for variant in variants:
                if variant.instances is None:
                    continue
                key = (seed.name, variant.name)
                counts = self.done.counts.setdefault(key, [])
                if not counts or counts[-1][1] != variant.instances:
                    began = at
                    if status == "InService" and modified is not None and counts and counts[-1][0] < modified <= at:
                        began = modified  # an update that finished since the last look: from its end
                    counts.append((began, variant.instances))
                floors = self.done.floors.setdefault(key, [])
                if not floors or floors[-1][1] != variant.min_capacity:
                    floors.append((at, variant.min_capacity))

    def _scale_in(self, at: datetime) -> None:
        """A variant whose target has a scaling policy comes back to what it ran at the start once its
        floor allows, a scale-in cool-down after it could: the load is taken to be the start's."""
        sagemaker = aws.sagemaker()
        capacity = Capacity(sagemaker, aws.autoscaling())
        for seed in self._snapshot.endpoints:
            if not seed.policies:
                continue
            status, variants = capacity.endpoint(seed.name)
            for variant in variants:
                start = seed.count(variant.name)
                if variant.name not in seed.policies or start is None or variant.instances is None:
                    continue
                wanted = max(variant.floor, start)
                key = (seed.name, variant.name)
                if variant.instances <= wanted:
                    self._excess.pop(key, None)
                    continue
                if status != "InService":
                    continue
                since = self._excess.setdefault(key, at)
                if at - since >= SCALE_IN_COOLDOWN:
                    sagemaker.update_endpoint_weights_and_capacities(
                        EndpointName=seed.name,
                        DesiredWeightsAndCapacities=[{"VariantName": variant.name, "DesiredInstanceCount": wanted}],
                    )
                    self._excess.pop(key, None)
                    shown = f"{at.isoformat()} {seed.name} {variant.name} {variant.instances} -> {wanted}"
                    self.done.scaled_in.append(shown)
                    return  # one change at a time: the endpoint is Updating now

    def _drain(self, at: datetime) -> None:
        """The messages that reached the critical topic since the last event."""
        sqs = aws.sqs()
        while True:
            received = sqs.receive_message(QueueUrl=self._world.pages, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            messages = received.get("Messages", [])
            if not messages:
                return
            for message in messages:
                self.done.pages.append(page(at, message.get("Body", "")))
                sqs.delete_message(QueueUrl=self._world.pages, ReceiptHandle=message["ReceiptHandle"])


def page(at: datetime, body: str) -> Page:
    """Pure: a critical-topic message (the SNS envelope an SQS subscriber gets) as a page."""
    envelope = _json(body)
    text = str(envelope.get("Message", body))
    outcome = _json(text)
    return Page(
        at=at.isoformat(),
        subject=str(envelope.get("Subject") or ""),
        endpoint=str(outcome.get("endpoint", "")),
        result=str(outcome.get("result", "alert")),
        incident=str(outcome.get("incident", "")),
        text=str(outcome.get("reason", text)),
    )


def _json(text: str) -> dict[str, Any]:
    try:
        found = json.loads(text)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def scheduled(at: datetime, account: str, region: str) -> dict[str, Any]:
    """Pure: the Scheduled Event EventBridge sends a rate schedule's target at `at`."""
    return {
        "version": "0",
        "id": f"backtest-{at:%Y%m%dT%H%M%S}",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [],
        "detail": {},
    }


def _utc(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).astimezone(UTC)
