"""Small inline SVG charts for the daily report, and the incident strip's geometry: no plotting stack in the Lambda."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 640, 200
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 28, 28
COLOURS = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c")


def line_chart(title: str, hours: list[str], series: dict[str, list[float | None]], unit: str) -> str:
    """A self-contained SVG line chart of hourly values (title, axes, hourly ticks, a polyline
    per series); `hours` label the x axis. An hour without data breaks the line: it is not zero."""
    values = [v for points in series.values() for v in points if v is not None]
    top = _nice(max(values)) if values else 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    count = max(len(hours), 2)

    def x(i: int) -> float:
        return LEFT + plot_w * i / (count - 1)

    def y(v: float) -> float:
        return TOP + plot_h * (1 - v / top) if top else TOP + plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" class="chart">',
        f"<title>{escape(title)}</title>",
        f'<text x="{LEFT}" y="16" class="chart-title">{escape(title)} ({escape(unit)})</text>',
    ]
    for fraction in (0.0, 0.5, 1.0):
        level = top * fraction
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(level):.1f}" y2="{y(level):.1f}" class="grid"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y(level) + 4:.1f}" class="axis" text-anchor="end">{_fmt(level)}</text>')
    for i, hour in enumerate(hours):
        if i % 6 == 0 or i == len(hours) - 1:
            parts.append(
                f'<text x="{x(i):.1f}" y="{HEIGHT - 8}" class="axis" text-anchor="middle">{escape(hour)}</text>'
            )
    for index, (name, points) in enumerate(series.items()):
        colour = COLOURS[index % len(COLOURS)]
        for run in _runs(points):
            coordinates = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in run)
            if len(run) == 1:
                i, v = run[0]
                parts.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="2.5" fill="{colour}"/>')
            else:
                parts.append(f'<polyline points="{coordinates}" fill="none" stroke="{colour}" stroke-width="2"/>')
        parts.append(
            f'<text x="{LEFT + 8 + 110 * index}" y="{TOP + 12}" class="legend" fill="{colour}">{escape(name)}</text>'
        )
    if not values:
        parts.append(f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" class="empty" text-anchor="middle">no data</text>')
    parts.append("</svg>")
    return "".join(parts)


def _runs(points: list[float | None]) -> list[list[tuple[int, float]]]:
    runs: list[list[tuple[int, float]]] = []
    current: list[tuple[int, float]] = []
    for i, v in enumerate(points):
        if v is None:
            if current:
                runs.append(current)
            current = []
        else:
            current.append((i, v))
    if current:
        runs.append(current)
    return runs


def _nice(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** len(str(int(value)))
    for step in (0.1, 0.2, 0.25, 0.5, 1.0):
        if value <= magnitude * step:
            return float(magnitude * step)
    return value


def _fmt(value: float) -> str:
    return f"{value:.0f}" if value >= 10 else f"{value:.2g}"


# --- the incident strip -------------------------------------------------------------------
#
# One lane per incident across the report's 24 hours: a bar from opened to closed (or to the
# end of the window while open), a mark for each timeline entry. Only geometry is computed
# here; the page template draws it, so every text in it goes through Jinja's autoescape.

LANE_LEFT, LANE_HEIGHT, LANE_TOP, LANE_BOTTOM = 180, 24, 28, 40
MARK_KINDS = ("detected", "action", "in-service", "recovered", "escalated", "failed", "stopped", "closed")


@dataclass(frozen=True)
class Lane:
    """An incident as fractions of the window (0 = start, 1 = end); marks: (fraction, what, title)."""

    label: str
    begin: float
    end: float
    outcome: str
    marks: tuple[tuple[float, str, str], ...] = ()


@dataclass(frozen=True)
class StripMark:
    x: float
    what: str
    title: str


@dataclass(frozen=True)
class StripLane:
    label: str
    title: str
    y: float
    x1: float
    x2: float
    outcome: str
    marks: tuple[StripMark, ...]


@dataclass(frozen=True)
class StripTick:
    x: float
    label: str


@dataclass(frozen=True)
class Strip:
    width: int
    height: int
    left: int
    right: int
    lanes: tuple[StripLane, ...]
    ticks: tuple[StripTick, ...]
    legend: tuple[StripTick, ...]


def incident_strip(hours: list[str], lanes: list[Lane]) -> Strip:
    """The geometry of the incident strip: lanes, hour ticks (every 6 hours) and a legend."""
    plot_w = WIDTH - LANE_LEFT - RIGHT

    def x(fraction: float) -> float:
        return round(LANE_LEFT + plot_w * min(max(fraction, 0.0), 1.0), 1)

    drawn = []
    for index, lane in enumerate(lanes):
        x1, x2 = x(lane.begin), x(lane.end)
        drawn.append(
            StripLane(
                label=lane.label if len(lane.label) <= 28 else lane.label[:27] + "\u2026",
                title=f"{lane.label}: {lane.outcome}",
                y=LANE_TOP + LANE_HEIGHT * index + LANE_HEIGHT / 2,
                x1=x1,
                x2=max(x2, x1 + 2),  # an incident of a minute is still visible
                outcome=lane.outcome,
                marks=tuple(StripMark(x(f), what, title) for f, what, title in lane.marks if 0.0 <= f <= 1.0),
            )
        )
    count = max(len(hours), 1)
    ticks = tuple(StripTick(x(i / count), hour) for i, hour in enumerate(hours) if i % 6 == 0 or i == len(hours) - 1)
    height = LANE_TOP + LANE_HEIGHT * len(lanes) + LANE_BOTTOM
    legend = tuple(StripTick(16 + 77 * i, kind) for i, kind in enumerate(MARK_KINDS))
    return Strip(WIDTH, height, LANE_LEFT, WIDTH - RIGHT, tuple(drawn), ticks, legend)
