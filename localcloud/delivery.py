"""`localcloud invoke`: a sample event delivered at the invocation's time, what it reports made so first."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localcloud.cloud import Invocation, LocalCloud

# An ISO 8601 date-time with a zone, the whole value ("2026-11-22T10:00:00Z",
# "2026-11-22T10:00:00.000+0000", "2026-11-22T10:00:01.123Z"): the shapes AWS's events use.
_ISO = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d{1,6})?(Z|[+-]\d{2}:?\d{2})")
# The hour of time-partitioned S3 data in an object key (".../2026/11/22/10/labels.jsonl"), as
# SageMaker writes data capture and reads ground truth.
_HOUR_PATH = re.compile(r"(?<![0-9])(\d{4})/(\d{2})/(\d{2})/(\d{2})(?=/)")
# Epoch milliseconds under a key ending in "Time" (SageMaker's endpoint state-change event).
_EPOCH_MS = (10**12, 10**13)
Move = Callable[[datetime], datetime]


@dataclass
class Delivered:
    """One sample sent: the run, what was done first (in words), and for a custom resource
    request the response it PUT to the ResponseURL served here (`answered_here`)."""

    invocation: Invocation
    notes: list[str]
    answered_here: bool = False
    response: dict[str, Any] | None = None


def deliver(cloud: LocalCloud, logical_id: str, event: Any, at: datetime, *, as_is: bool = False) -> Delivered:
    """The event delivered to the function at `at` (`localcloud invoke`): its times moved so that
    its newest is `at`; what AWS did before sending it made so in the local cloud (`made_so`); a
    custom resource request answered at a ResponseURL served here. `as_is`: the event unchanged,
    as `sam local invoke -e` sends it."""
    if as_is:
        return Delivered(cloud.invoke(logical_id, event, at), [])
    held = times(event)
    event = redated(event, at)
    seconds = round((at - max(held)).total_seconds()) if held else 0
    moved = f"its times moved {timedelta(seconds=abs(seconds))} {'later' if seconds >= 0 else 'earlier'}"
    said = moved if held else "no time in it"
    notes = [f"delivered at {at:%Y-%m-%dT%H:%M:%SZ}: {said} (--as-is: the file unchanged)", *made_so(cloud, event)]
    if not is_custom_resource_request(event):
        return Delivered(cloud.invoke(logical_id, event, at), notes)
    invocation, response = cloud.answer_custom_resource(logical_id, event, at)
    notes.append("its ResponseURL replaced by one served here, on loopback")
    return Delivered(invocation, notes, answered_here=True, response=response)


def made_so(cloud: LocalCloud, event: Any) -> list[str]:
    """What AWS did before it sent the event, done in the local cloud where it is not so yet: an
    alarm's state change (CloudWatch), a model package's approval status (the registry). Nothing
    is delivered: the invocation is the delivery. Returns what was done, in words."""
    done = []
    for change in alarm_changes(event):
        if cloud.set_alarm_state(change.alarm, change.state, change.at, change.reason or "set by invoke"):
            done.append(f"{change.alarm} set to {change.state} at {change.at:%H:%M:%S}, the change the event reports")
    package = package_change(event)
    if package is not None and cloud.set_package_status(package.package, package.status, package.at):
        done.append(f"{package.package} set to {package.status} in the registry, the change the event reports")
    return done


@dataclass(frozen=True)
class AlarmChange:
    """An alarm's state change an event reports: CloudWatch made it before it sent the event."""

    alarm: str
    state: str
    at: datetime
    reason: str


@dataclass(frozen=True)
class PackageChange:
    """A model package's approval status an event reports: SageMaker's registry holds it."""

    package: str
    status: str
    at: datetime


def times(event: Any) -> list[datetime]:
    """Every time the event holds as a whole value, also inside an SNS message or an SQS
    message's body (JSON strings)."""
    found: list[datetime] = []

    def keep(when: datetime) -> datetime:
        found.append(when)
        return when

    _walk(event, keep)
    return found


def redated(event: Any, at: datetime) -> Any:
    """The event with every time it holds moved by one offset, so that its newest is `at`: the
    event as if delivered at `at`, its times as far apart as the file has them. Times are whole
    values (ISO 8601 with a zone, epoch milliseconds of a `...Time` key) and the hour path of an
    S3 key; each keeps its written form. Times inside prose (an alarm's reason) stay as written."""
    held = times(event)
    if not held:
        return event
    offset = at - max(held)
    return _walk(event, lambda when: when + offset)


def alarm_changes(event: Any) -> list[AlarmChange]:
    """The alarm state changes the event reports: each SNS record's alarm message, an EventBridge
    "CloudWatch Alarm State Change", a Lambda alarm action's alarmData."""
    if not isinstance(event, dict):
        return []
    changes: list[AlarmChange | None] = []
    for record in event.get("Records") or []:
        message = _message(record)
        if isinstance(message, dict):
            changes.append(
                _change(
                    message.get("AlarmName"),
                    message.get("NewStateValue"),
                    message.get("StateChangeTime"),
                    message.get("NewStateReason"),
                )
            )
    detail = event.get("detail") if event.get("detail-type") == "CloudWatch Alarm State Change" else None
    data = detail if isinstance(detail, dict) else event.get("alarmData")
    if isinstance(data, dict) and isinstance(data.get("state"), dict):
        state = data["state"]
        changes.append(_change(data.get("alarmName"), state.get("value"), state.get("timestamp"), state.get("reason")))
    return [c for c in changes if c is not None]


def package_change(event: Any) -> PackageChange | None:
    """The approval status a "SageMaker Model Package State Change" reports for its package."""
    if not isinstance(event, dict) or event.get("detail-type") != "SageMaker Model Package State Change":
        return None
    detail = event.get("detail")
    if not isinstance(detail, dict):
        return None
    arn, status = detail.get("ModelPackageArn"), detail.get("ModelApprovalStatus")
    when = _parse(event["time"]) if isinstance(event.get("time"), str) else None
    if not isinstance(arn, str) or not isinstance(status, str) or when is None:
        return None
    return PackageChange(arn, status, when)


def is_custom_resource_request(event: Any) -> bool:
    """A CloudFormation custom resource request: answered at its ResponseURL."""
    return isinstance(event, dict) and isinstance(event.get("RequestType"), str) and "ResponseURL" in event


def _change(alarm: Any, state: Any, when: Any, reason: Any) -> AlarmChange | None:
    at = _parse(when) if isinstance(when, str) else None
    if not isinstance(alarm, str) or not alarm or not isinstance(state, str) or not state or at is None:
        return None
    return AlarmChange(alarm, state, at, reason if isinstance(reason, str) else "")


def _message(record: Any) -> Any:
    sns = record.get("Sns") if isinstance(record, dict) else None
    text = sns.get("Message") if isinstance(sns, dict) else None
    if not isinstance(text, str):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _walk(value: Any, move: Move, key: str = "") -> Any:
    """`value` with `move` applied to each time it holds (a copy; `value` is not changed)."""
    if isinstance(value, dict):
        return {k: _walk(v, move, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, move) for v in value]
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and key.endswith("Time") and _EPOCH_MS[0] <= value < _EPOCH_MS[1]:
        return int(move(datetime.fromtimestamp(value / 1000, tz=UTC)).timestamp() * 1000)
    if isinstance(value, str):
        return _walk_text(value, move, key)
    return value


# The keys whose string value is a JSON document of its own: an SNS record's message, an SQS
# record's body (the data jobs' queue messages carry the scheduled time there).
_JSON_TEXT = frozenset({"Message", "body"})


def _walk_text(value: str, move: Move, key: str) -> Any:
    if key in _JSON_TEXT and value.startswith("{"):
        try:
            inner = json.loads(value)
        except ValueError:
            return value
        return json.dumps(_walk(inner, move))
    whole = _ISO.fullmatch(value)
    when = _parse(value)
    if whole is not None and when is not None:
        return _written_like(whole, move(when))
    return _HOUR_PATH.sub(lambda hour: _hour_path(hour, move), value)


def _hour_path(found: re.Match[str], move: Move) -> str:
    year, month, day, hour_of_day = (int(part) for part in found.groups())
    try:
        hour = datetime(year, month, day, hour_of_day, tzinfo=UTC)
    except ValueError:
        return found.group()
    return move(hour).strftime("%Y/%m/%d/%H")


def _parse(value: str) -> datetime | None:
    if _ISO.fullmatch(value) is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _written_like(original: re.Match[str], when: datetime) -> str:
    """`when` in the form of the `original` time: its fraction's digits and its zone's form."""
    _, fraction, zone = original.groups()
    shown = when.astimezone(datetime.fromisoformat(original.group()).tzinfo)
    text = shown.strftime("%Y-%m-%dT%H:%M:%S")
    if fraction:
        text += f".{shown.microsecond:06d}"[: len(fraction)]
    if zone == "Z":
        return text + "Z"
    offset = shown.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return text + f"{sign}{minutes // 60:02d}{':' if ':' in zone else ''}{minutes % 60:02d}"
