"""Small inline SVG charts for the daily report: no plotting stack in the Lambda.

Each chart is a self-contained <svg> with a title, axes, hourly ticks and one polyline per
series; gaps (hours without data) break the line rather than pretending to be zero.
"""

from __future__ import annotations

from html import escape

WIDTH, HEIGHT = 640, 200
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 28, 28
COLOURS = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c")


def line_chart(title: str, hours: list[str], series: dict[str, list[float | None]], unit: str) -> str:
    """An SVG line chart of hourly values; `hours` label the x axis."""
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
