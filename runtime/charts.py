"""Results of an activity plan as a server-side SVG chart with a text alternative.

Input: (label, value) points in time order, an optional goal, the unit. Output: an
SVG string (no script, no inline styles, so the Content-Security-Policy holds) with
`role="img"`, a <title> and a <desc> that says in words what the chart shows. The
table under the chart on the page holds every value; the chart never is the only
place a number appears.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape

WIDTH, HEIGHT = 640, 300
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 56
LINE, GOAL, GRID, TEXT = "#1f5f8b", "#a55800", "#c9d1d9", "#1d2327"


@dataclass(frozen=True)
class Point:
    """One registered value; `label` is a short date for the axis."""

    label: str
    value: float


def _fmt(x: float) -> str:
    return f"{x:,.10g}".replace(",", " ").replace(".", ",")


def _nice_max(top: float) -> float:
    if top <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(top))) - 1)
    for factor in (1, 2, 2.5, 5, 10):
        if top <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def describe(title: str, points: list[Point], goal: float | None, unit: str | None) -> str:
    """A Swedish sentence or three that say what the chart shows."""
    suffix = f" {unit}" if unit else ""
    if not points:
        text = f"{title}: inga registreringar ännu."
    else:
        values = [p.value for p in points]
        text = (f"{title}: {len(points)} registreringar från {points[0].label} till {points[-1].label}. "
                f"Lägsta värde {_fmt(min(values))}{suffix}, högsta {_fmt(max(values))}{suffix}, "
                f"senaste {_fmt(values[-1])}{suffix}.")
    if goal is not None:
        text += f" Målet är {_fmt(goal)}{suffix}."
    return text


def line_chart(chart_id: str, title: str, points: list[Point], goal: float | None = None,
               unit: str | None = None) -> str:
    """An accessible SVG line chart of the points, with the goal as a dashed line."""
    title_id, desc_id = f"{chart_id}-titel", f"{chart_id}-beskrivning"
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" class="chart" role="img" '
             f'aria-labelledby="{title_id} {desc_id}">',
             f'<title id="{title_id}">{escape(title)}</title>',
             f'<desc id="{desc_id}">{escape(describe(title, points, goal, unit))}</desc>']
    top = _nice_max(max([p.value for p in points] + ([goal] if goal is not None else []) + [0]))
    bottom = min([p.value for p in points] + [0])
    span = (top - bottom) or 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def y(v: float) -> float:
        return TOP + plot_h - (v - bottom) / span * plot_h

    for i in range(5):
        v = bottom + span * i / 4
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="{GRID}" '
                     f'stroke-width="1"/>')
        parts.append(f'<text x="{LEFT - 8}" y="{y(v) + 5:.1f}" text-anchor="end" font-size="13" fill="{TEXT}">'
                     f'{escape(_fmt(v))}</text>')
    if points:
        step = plot_w / max(len(points) - 1, 1)
        xs = [LEFT + (i * step if len(points) > 1 else plot_w / 2) for i in range(len(points))]
        coords = " ".join(f"{x:.1f},{y(p.value):.1f}" for x, p in zip(xs, points, strict=True))
        parts.append(f'<polyline points="{coords}" fill="none" stroke="{LINE}" stroke-width="3"/>')
        for x, p in zip(xs, points, strict=True):
            parts.append(f'<circle cx="{x:.1f}" cy="{y(p.value):.1f}" r="4" fill="{LINE}"/>')
        every = max(1, len(points) // 8)
        for i, (x, p) in enumerate(zip(xs, points, strict=True)):
            if i % every == 0 or i == len(points) - 1:
                parts.append(f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 20}" text-anchor="middle" font-size="12" '
                             f'fill="{TEXT}">{escape(p.label)}</text>')
    if goal is not None:
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(goal):.1f}" y2="{y(goal):.1f}" '
                     f'stroke="{GOAL}" stroke-width="2" stroke-dasharray="8 6"/>')
        parts.append(f'<text x="{WIDTH - RIGHT}" y="{y(goal) - 6:.1f}" text-anchor="end" font-size="13" '
                     f'fill="{GOAL}">Mål {escape(_fmt(goal))}</text>')
    legend = f"Linje: {unit}" if unit else "Linje: värde"
    parts.append(f'<text x="{LEFT}" y="{HEIGHT - 10}" font-size="12" fill="{TEXT}">{escape(legend)}'
                 f'{" · streckad linje: mål" if goal is not None else ""}</text>')
    parts.append("</svg>")
    return "\n".join(parts)
