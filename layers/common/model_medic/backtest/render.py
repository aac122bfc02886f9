"""A backtest as text (the aligned columns of `status`), JSON, or one HTML page in the daily report's style, pure."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from importlib import resources

from jinja2 import Environment, select_autoescape

from model_medic.backtest.view import Backtest, CompareRow, IncidentRow
from model_medic.report.incident_view import duration
from model_medic.status.render import NONE, _Paint, table, when


def as_json(view: Backtest) -> str:
    """Every field, times in ISO 8601."""
    return json.dumps(asdict(view), indent=2) + "\n"


def text(view: Backtest, colour: bool = False) -> str:
    """The backtest as a person reads it: what was replayed, then what it would have done."""
    paint = _Paint(colour)
    w = view.window
    now = w.end
    start, end = datetime.fromisoformat(w.start), datetime.fromisoformat(w.end)
    hours = (end - start).total_seconds() / 3600
    sweeps = ", ".join(f"{unit} every {minutes} min" for unit, minutes in w.sweeps) or "none"
    lines = [
        f"Backtest  stack {w.stack}  {w.region}  {start:%Y-%m-%d %H:%M} -> {end:%Y-%m-%d %H:%M} UTC ({hours:.1f} h)",
        f"Replayed  {w.transitions} transition(s) of {w.alarms} alarm(s), {w.deliveries} delivered; sweeps: {sweeps}; "
        f"{w.invocations} invocation(s), in enforce",
        f"Assumed   endpoint changes take {w.update_minutes:g} min; endpoints start as SageMaker describes them now",
        "",
        "SIMULATED ENDPOINTS (at the start)",
        *table(
            ("ENDPOINT", "VARIANT", "INSTANCES", "WEIGHT", "FLOOR", "MAX", "SCALING POLICY"),
            [
                (
                    s.endpoint,
                    s.variant,
                    "serverless" if s.instances is None else str(s.instances),
                    f"{s.weight:g}",
                    NONE if s.floor is None else str(s.floor),
                    NONE if s.ceiling is None else str(s.ceiling),
                    "yes" if s.policy else "no",
                )
                for s in view.seeded
            ],
            paint,
        ),
    ]
    lines += _incidents(view.incidents, now, paint, "INCIDENTS IT WOULD HAVE OPENED")
    lines += _actions(view, now, paint)
    lines += _pages(view, now)
    lines += _capacity(view)
    lines += _comparison(view.comparison, paint)
    if view.notes:
        lines += ["", "NOTES", *(f"- {note}" for note in view.notes)]
    return "\n".join(lines).rstrip() + "\n"


def _incidents(incidents: tuple[IncidentRow, ...], now: str, paint: _Paint, title: str) -> list[str]:
    if not incidents:
        return ["", f"{title}: none"]
    rows = [
        (
            i.endpoint,
            i.action,
            i.short_id,
            i.alarm_name,
            when(i.opened_at, now),
            when(i.closed_at, now),
            str(i.steps),
            i.outcome,
            duration(i.recovered_seconds) if i.recovered_seconds is not None else NONE,
        )
        for i in incidents
    ]
    headers = ("ENDPOINT", "ACTION", "ID", "ALARM", "OPENED", "CLOSED", "STEPS", "OUTCOME", "RECOVERED IN")
    return ["", title, *table(headers, rows, paint, (7,))]


def _actions(view: Backtest, now: str, paint: _Paint) -> list[str]:
    title = "ACTIONS AND THEIR TIMES (what people would have been told)"
    if not view.actions:
        return ["", f"{title}: none"]
    rows = [(when(a.at, now), a.endpoint, a.action, a.result, a.incident, a.reason) for a in view.actions]
    return ["", title, *table(("TIME", "ENDPOINT", "ACTION", "RESULT", "INCIDENT", "REASON"), rows, paint, (3,))]


def _pages(view: Backtest, now: str) -> list[str]:
    title = "PAGES (the critical topic)"
    if not view.pages:
        return ["", f"{title}: none"]
    rows = [(when(p.at, now), p.endpoint or NONE, p.result, p.subject) for p in view.pages]
    return ["", title, *table(("TIME", "ENDPOINT", "RESULT", "SUBJECT"), rows, _Paint(False))]


def _capacity(view: Backtest) -> list[str]:
    title = f"CAPACITY ADDED: {view.instance_hours:.2f} instance-hours"
    rows = [
        (c.endpoint, c.variant, str(c.start), str(c.peak_added), f"{c.instance_hours:.2f}")
        for c in view.capacity
        if c.instance_hours > 0 or c.peak_added > 0
    ]
    if not rows:
        return ["", title]
    return ["", title, *table(("ENDPOINT", "VARIANT", "AT START", "PEAK ADDED", "INSTANCE-HOURS"), rows, _Paint(False))]


def _comparison(rows: tuple[CompareRow, ...], paint: _Paint) -> list[str]:
    title = "WHAT THE STACK RECORDED (its ledger, the same window) AND THE BACKTEST"
    if not rows:
        return ["", f"{title}: nothing on either side"]
    shown = [
        (
            r.endpoint,
            r.action,
            r.what,
            str(r.recorded),
            str(r.backtest),
            "same" if r.recorded == r.backtest else "differs",
        )
        for r in rows
    ]
    return ["", title, *table(("ENDPOINT", "ACTION", "WHAT", "RECORDED", "BACKTEST", ""), shown, paint)]


def html(view: Backtest) -> str:
    """One self-contained page (no script), in the daily report's style."""
    environment = Environment(autoescape=select_autoescape(default=True), trim_blocks=True, lstrip_blocks=True)
    template = (resources.files("model_medic.backtest") / "templates" / "backtest.html.j2").read_text()
    return environment.from_string(template).render(view=view, duration=duration)
