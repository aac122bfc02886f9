"""`status` and `explain` as text (aligned columns, colour on request) or JSON, pure."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime

from model_medic.status.view import (
    ActionRow,
    EndpointStatus,
    Explanation,
    IncidentView,
    RolloutStatus,
    StackStatus,
    Status,
)

_GREEN, _YELLOW, _RED = "32", "33", "31"
# The words a column may hold that a person should see at a glance: good, in between, bad.
# The outcomes are the report's (docs/rooms/report.md, "One vocabulary of outcomes"): a canary
# rolled back by its judge, not deployed or stopped by someone else's change is no failure.
_COLOURS = {
    **dict.fromkeys(("enforce", "InService", "acted", "recovered", "complete", "ok", "promote", "finish"), _GREEN),
    **dict.fromkeys(
        (
            "dry-run",
            "acting",
            "waiting",
            "verifying",
            "retrained",
            "skipped",
            "under way",
            "continue",
            "undecided",
            "inconclusive",
            "Updating",
            "Creating",
            "closed",
            "open",
            "rolled back",
            "not deployed",
            "stopped",
        ),
        _YELLOW,
    ),
    **dict.fromkeys(("off", "escalated", "failed", "bound-reached", "harm", "rollback", "missing", "Failed"), _RED),
}
NONE = "-"


def as_json(view: Status | Explanation) -> str:
    """The view as JSON for scripts: every field, times in ISO 8601."""
    return json.dumps(asdict(view), indent=2) + "\n"


def text(view: Status | Explanation, colour: bool = False) -> str:
    """The view as a person reads it: a header, then sections of aligned columns; `colour`: ANSI colours."""
    paint = _Paint(colour)
    if isinstance(view, Explanation):
        lines = _explanation(view, paint)
    elif view.detail:
        lines = _detail(view, paint)
    else:
        lines = _overview(view, paint)
    return "\n".join(lines).rstrip() + "\n"


class _Paint:
    """Colours a cell by its word, or leaves it as it is."""

    def __init__(self, on: bool) -> None:
        self.on = on

    def __call__(self, cell: str) -> str:
        code = _COLOURS.get(cell)
        return f"\033[{code}m{cell}\033[0m" if self.on and code else cell


def table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], paint: _Paint, painted: Sequence[int] = ()
) -> list[str]:
    """Aligned columns (two spaces apart; the last one not padded): widths from the plain text,
    colour added after padding, so that colour never moves a column."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    lines = []
    for number, row in enumerate([headers, *rows]):
        cells = []
        for index, cell in enumerate(row):
            shown = paint(cell) if number > 0 and index in painted else cell
            pad = "" if index == len(row) - 1 else " " * (widths[index] - len(cell))
            cells.append(shown + pad)
        lines.append("  ".join(cells).rstrip())
    return lines


def when(moment: str | None, now: str) -> str:
    """A time in UTC: HH:MM on the day of `now`, else YYYY-MM-DD HH:MM; a dash for none."""
    if not moment:
        return NONE
    at = datetime.fromisoformat(moment)
    today = datetime.fromisoformat(now)
    utc = at.astimezone(today.tzinfo) if at.tzinfo and today.tzinfo else at
    return f"{utc:%H:%M}" if utc.date() == today.date() else f"{utc:%Y-%m-%d %H:%M}"


def _header(stack: StackStatus, paint: _Paint) -> list[str]:
    at = datetime.fromisoformat(stack.at)
    return [
        f"Stack {stack.name}  {stack.status}  {stack.region}  at {at:%Y-%m-%d %H:%M} UTC",
        f"Mode  {paint(stack.mode)} - {stack.mode_why} (kill switch {stack.kill_switch})",
    ]


def _overview(view: Status, paint: _Paint) -> list[str]:
    now = view.stack.at
    lines = [*_header(view.stack, paint), ""]
    lines += table(
        ("ENDPOINT", "STATUS", "MODE", "MODE FROM", "SCOPE", "TAGS APPLIED"),
        [(e.name, e.status, e.mode, e.mode_why, e.scope, _applied(e) or NONE) for e in view.endpoints],
        paint,
        (1, 2),
    )
    lines += _refused(view.endpoints, paint)
    lines += _incidents([i for e in view.endpoints for i in e.incidents], now, paint, "INCIDENTS (open)")
    lines += _rollouts([e.rollout for e in view.endpoints if e.rollout is not None], now, paint)
    lines += _episodes([line for e in view.endpoints for line in e.episodes])
    lines += _actions([a for e in view.endpoints for a in e.actions], now, paint, "LAST ACTIONS (told, last 24 h)")
    return lines


def _episodes(lines: list[str]) -> list[str]:
    """The open paging episodes: standing conditions paged once, however often they recur."""
    return ["", "PAGING EPISODES (open)", *lines] if lines else []


def _detail(view: Status, paint: _Paint) -> list[str]:
    now = view.stack.at
    lines = _header(view.stack, paint)
    for endpoint in view.endpoints:
        lines += [
            "",
            f"Endpoint  {endpoint.name}  {paint(endpoint.status)}  ({endpoint.scope})"
            + (f": {endpoint.problem}" if endpoint.problem else ""),
            f"Mode      {paint(endpoint.mode)} - {endpoint.mode_why}",
            f"Tags      {_applied(endpoint) or 'none applied'}",
        ]
        lines += _refused((endpoint,), paint)
        title = "INCIDENTS (open, and closed in the last 24 h)"
        lines += _incidents(list(endpoint.incidents), now, paint, title)
        for incident in endpoint.incidents:
            lines += ["", f"TIMELINE {incident.action} {incident.short_id} ({incident.alarm_name})"]
            lines += _timeline(incident, now, paint)
        lines += _rollouts([endpoint.rollout] if endpoint.rollout else [], now, paint)
        lines += _episodes(list(endpoint.episodes))
        lines += _actions(list(endpoint.actions), now, paint, "DECISIONS (last 24 h)")
    return lines


def _explanation(view: Explanation, paint: _Paint) -> list[str]:
    now = view.stack.at
    i = view.incident
    lines = [
        *_header(view.stack, paint),
        "",
        f"Incident  {i.short_id}  {i.action} on {i.endpoint}  ({i.alarm_name})",
        f"Id        {i.id}",
        f"State     {paint(i.state)} (outcome {paint(i.outcome)}), {i.steps} step(s)",
        f"Opened    {when(i.opened_at, now)}   closed {when(i.closed_at, now)}",
        *_ahead(i, now),
        "",
        "TIMELINE",
        *_timeline(i, now, paint),
    ]
    if view.steps:
        lines += ["", "STEPS"]
        lines += table(
            ("STEP", "DECIDED", "PROGRESS", "CHANGES"),
            [(str(s.number), when(s.at, now), s.progress, "; ".join(s.changes)) for s in view.steps],
            paint,
        )
    lines += _actions(list(view.decisions), now, paint, "DECISIONS")
    lines += ["", "MESSAGES (told once)"]
    lines += (
        table(("TIME", "CHANNEL", "ABOUT"), [(when(m.at, now), m.channel, m.about) for m in view.messages], paint)
        if view.messages
        else ["none"]
    )
    if view.rollout is not None:
        lines += _rollouts([view.rollout], now, paint)
    return lines


def _ahead(incident: IncidentView, now: str) -> list[str]:
    """What comes next for an open incident: the next look, a hold on new steps, the verification deadline."""
    lines = []
    if incident.in_flight is not None:
        lines.append(f"In flight step {incident.in_flight.number}: {incident.in_flight.progress}")
    if incident.next_evaluation is not None:
        lines.append(f"Next      looked at again by {when(incident.next_evaluation, now)} (the schedule's rate)")
    if incident.held is not None:
        lines.append(f"Held      no new step before {when(incident.held_until, now)}: {incident.held}")
    if incident.verify_until is not None:
        lines.append(f"Verify    the alarm must clear by {when(incident.verify_until, now)}, or it is escalated")
    return lines


def _applied(endpoint: EndpointStatus) -> str:
    return ", ".join(f"{t.key.removeprefix('model-medic:')}={t.value}" for t in endpoint.policy.applied)


def _refused(endpoints: Sequence[EndpointStatus], paint: _Paint) -> list[str]:
    rows = [(e.name, f"{t.key}={t.value}", t.reason) for e in endpoints for t in e.policy.refused]
    return ["", "TAGS REFUSED", *table(("ENDPOINT", "TAG", "WHY"), rows, paint)] if rows else []


def _incidents(incidents: list[IncidentView], now: str, paint: _Paint, title: str) -> list[str]:
    if not incidents:
        return ["", f"{title}: none"]
    rows = [
        (
            i.endpoint,
            i.action,
            i.short_id,
            i.state,
            str(i.steps),
            i.in_flight.progress if i.in_flight else NONE,
            when(i.next_evaluation, now),
            when(i.held_until, now),
            when(i.verify_until, now),
            i.alarm_name,
        )
        for i in incidents
    ]
    headers = ("ENDPOINT", "ACTION", "ID", "STATE", "STEPS", "IN FLIGHT", "NEXT EVAL", "NO STEP BEFORE", "VERIFY BY")
    return ["", title, *table((*headers, "ALARM"), rows, paint, (3,))]


def _timeline(incident: IncidentView, now: str, paint: _Paint) -> list[str]:
    rows = [(when(e.at, now), e.what, e.detail) for e in incident.timeline]
    return table(("TIME", "WHAT", "DETAIL"), rows, paint, (1,))


def _rollouts(rollouts: list[RolloutStatus], now: str, paint: _Paint) -> list[str]:
    if not rollouts:
        return []
    rows = [
        (
            r.endpoint,
            r.short_id,
            r.package or "(operator's canary)",
            NONE if r.step is None else f"{r.step}%",
            NONE if r.share is None else f"{r.share:g}%",
            r.state,
            when(r.share_since, now),
            r.verdict or NONE,
            when(r.verdict_at, now),
            when(r.next_evaluation, now),
            r.note or NONE,
        )
        for r in rollouts
    ]
    headers = ("ENDPOINT", "ID", "PACKAGE", "STEP", "SHARE", "STATE", "SINCE", "VERDICT", "JUDGED", "NEXT EVAL", "NOTE")
    lines = ["", "ROLLOUTS (newest per endpoint)", *table(headers, rows, paint, (5, 7))]
    findings = [(r.endpoint, m.metric, m.finding, m.canary, m.primary, m.estimate) for r in rollouts for m in r.metrics]
    if findings:
        columns = ("ENDPOINT", "METRIC", "FINDING", "CANARY", "PRIMARY", "ESTIMATE")
        lines += ["", "THE JUDGE'S LAST VERDICT, PER METRIC", *table(columns, findings, paint, (2,))]
    return lines


def _actions(actions: list[ActionRow], now: str, paint: _Paint, title: str) -> list[str]:
    if not actions:
        return ["", f"{title}: none"]
    rows = [(when(a.at, now), a.endpoint, a.action, a.result, a.gate, a.incident, a.reason) for a in actions]
    return [
        "",
        title,
        *table(("TIME", "ENDPOINT", "ACTION", "RESULT", "GATE", "INCIDENT", "REASON"), rows, paint, (3,)),
    ]
