"""Results of an activity plan as a server-side SVG chart with a text alternative.

Input: (label, value) points in time order, an optional goal, the unit. Output: an
SVG string (no script, no inline styles, so the Content-Security-Policy holds) with
`role="img"`, a <title> and a <desc> that says in words what the chart shows. The
table under the chart on the page holds every value; the chart never is the only
place a number appears.

Each field type gets a chart that suits it (issue 17: diaries as activity plans):
numbers, scales and durations a line with points (a scale's axis runs from its min to
its max and names its ends; a duration's axis is in hours and minutes), a time of day
points on a clock-time axis that is cut where the registrations leave the longest gap,
so a bedtime at 23.30 and one at 00.30 lie an hour apart, not 23 hours; a single
choice bars that count how often each option was chosen.

The words (the <desc>, the legend, the summary under the chart) are in the language
given (`runtime.i18n.Language`; Swedish by default, as the staff's pages have them): the
patient's page passes the patient's.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from babel.lists import format_list

from runtime.forms import duration_text
from runtime.i18n import SWEDISH, Language, formatting_locale

WIDTH, HEIGHT = 640, 300
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 56
LINE, GOAL, GRID, TEXT = "#1f5f8b", "#a55800", "#c9d1d9", "#1d2327"
DAY = 24 * 60


@dataclass(frozen=True)
class Point:
    """One registered value; `label` is a short date for the axis."""

    label: str
    value: float


@dataclass(frozen=True)
class ScaleAxis:
    """A scale's axis: its lowest and highest value and the words for its ends (value -> label)."""

    low: float
    high: float
    ends: dict[float, str] = field(default_factory=dict)


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


def clock_text(minutes: float) -> str:
    """Minutes after midnight (any day) as a clock time: 1410 -> "23.30", 1470 -> "00.30"."""
    m = int(round(minutes)) % DAY
    return f"{m // 60:02d}.{m % 60:02d}"


# --- words -----------------------------------------------------------------------------------------


def describe(title: str, points: list[Point], goal: float | None, unit: str | None,
             scale: ScaleAxis | None = None, language: Language = SWEDISH) -> str:
    """A sentence or three that say what the chart shows."""
    return _describe(title, points, goal, lambda v: f"{_fmt(v)}{f' {unit}' if unit else ''}", scale, language)


def describe_durations(title: str, points: list[Point], goal: float | None, language: Language = SWEDISH) -> str:
    """What a duration chart shows, in hours and minutes."""
    return _describe(title, points, goal, lambda v: language.localise(duration_text(v)), language=language)


def _none_yet(title: str, language: Language) -> str:
    return language.gettext("%(title)s: inga registreringar ännu.", title=title)


def _how_many(title: str, points: list[Point], language: Language) -> str:
    # Swedish has always said "1 registreringar" here (kept as it was); the other languages need the singular.
    return language.ngettext("%(title)s: %(num)s registreringar från %(first)s till %(last)s.",
                             "%(title)s: %(num)s registreringar från %(first)s till %(last)s.", len(points),
                             title=title, first=points[0].label, last=points[-1].label)


def _describe(title: str, points: list[Point], goal: float | None, text: Callable[[float], str],
              scale: ScaleAxis | None = None, language: Language = SWEDISH) -> str:
    if not points:
        out = _none_yet(title, language)
    else:
        values = [p.value for p in points]
        out = _how_many(title, points, language) + " " + language.gettext(
            "Lägsta värde %(low)s, högsta %(high)s, senaste %(last)s.", low=text(min(values)),
            high=text(max(values)), last=text(values[-1]))
    if scale is not None and scale.ends:
        ends = [language.gettext("%(value)s betyder %(label)s", value=_fmt(v), label=label.lower())
                for v, label in sorted(scale.ends.items())]
        out += " " + language.gettext("Skalan går från %(low)s till %(high)s; %(ends)s.", low=_fmt(scale.low),
                                      high=_fmt(scale.high), ends=format_list(ends, locale=formatting_locale(language.code)))
    if goal is not None:
        out += " " + language.gettext("Målet är %(goal)s.", goal=text(goal))
    return out


def describe_times(title: str, points: list[Point], language: Language = SWEDISH) -> str:
    """What a time-of-day chart shows: earliest, latest and last clock time."""
    if not points:
        return _none_yet(title, language)
    unwrapped = _unwrap([p.value for p in points])
    return _how_many(title, points, language) + " " + language.gettext(
        "Tidigast kl. %(earliest)s, senast kl. %(latest)s, senaste kl. %(last)s.",
        earliest=clock_text(min(unwrapped)), latest=clock_text(max(unwrapped)), last=clock_text(unwrapped[-1]))


def describe_counts(title: str, counts: list[tuple[str, int]], language: Language = SWEDISH) -> str:
    """What a count chart shows: how often each option was chosen."""
    total = sum(n for _, n in counts)
    if not total:
        return _none_yet(title, language)
    each = ", ".join(language.ngettext("%(label)s %(num)s gång", "%(label)s %(num)s gånger", n, label=label)
                     for label, n in counts)
    return language.ngettext("%(title)s: %(num)s registreringar. %(each)s.", "%(title)s: %(num)s registreringar. %(each)s.",
                             total, title=title, each=each)


# --- drawing ---------------------------------------------------------------------------------------


def _open(chart_id: str, title: str, desc: str, height: int = HEIGHT) -> list[str]:
    title_id, desc_id = f"{chart_id}-titel", f"{chart_id}-beskrivning"
    return [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" class="chart" role="img" '
            f'aria-labelledby="{title_id} {desc_id}">',
            f'<title id="{title_id}">{escape(title)}</title>',
            f'<desc id="{desc_id}">{escape(desc)}</desc>']


def _plot(parts: list[str], points: list[Point], values: list[float], low: float, high: float,
          ticks: list[tuple[float, str]], line: bool = True) -> Callable[[float], float]:
    """Grid with tick labels, then the points (joined by a line) at evenly spaced dates; returns y()."""
    span = (high - low) or 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def y(v: float) -> float:
        return TOP + plot_h - (v - low) / span * plot_h

    for v, text in ticks:
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="{GRID}" '
                     f'stroke-width="1"/>')
        parts.append(f'<text x="{LEFT - 8}" y="{y(v) + 5:.1f}" text-anchor="end" font-size="13" fill="{TEXT}">'
                     f'{escape(text)}</text>')
    if points:
        step = plot_w / max(len(points) - 1, 1)
        xs = [LEFT + (i * step if len(points) > 1 else plot_w / 2) for i in range(len(points))]
        if line:
            coords = " ".join(f"{x:.1f},{y(v):.1f}" for x, v in zip(xs, values, strict=True))
            parts.append(f'<polyline points="{coords}" fill="none" stroke="{LINE}" stroke-width="3"/>')
        for x, v in zip(xs, values, strict=True):
            parts.append(f'<circle cx="{x:.1f}" cy="{y(v):.1f}" r="{4 if line else 6}" fill="{LINE}"/>')
        every = max(1, len(points) // 8)
        for i, (x, p) in enumerate(zip(xs, points, strict=True)):
            if i % every == 0 or i == len(points) - 1:
                parts.append(f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 20}" text-anchor="middle" font-size="12" '
                             f'fill="{TEXT}">{escape(p.label)}</text>')
    return y


def _goal(parts: list[str], y: Callable[[float], float], goal: float | None, text: str,
          language: Language = SWEDISH) -> None:
    if goal is None:
        return
    parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(goal):.1f}" y2="{y(goal):.1f}" '
                 f'stroke="{GOAL}" stroke-width="2" stroke-dasharray="8 6"/>')
    label = language.gettext("Mål %(goal)s", goal=text)
    parts.append(f'<text x="{WIDTH - RIGHT}" y="{y(goal) - 6:.1f}" text-anchor="end" font-size="13" '
                 f'fill="{GOAL}">{escape(label)}</text>')


def _legend(parts: list[str], text: str, height: int = HEIGHT) -> None:
    parts.append(f'<text x="{LEFT}" y="{height - 10}" font-size="12" fill="{TEXT}">{escape(text)}</text>')
    parts.append("</svg>")


def line_chart(chart_id: str, title: str, points: list[Point], goal: float | None = None,
               unit: str | None = None, scale: ScaleAxis | None = None, language: Language = SWEDISH) -> str:
    """An accessible SVG line chart of the points, with the goal as a dashed line.

    With `scale`, the axis runs from the scale's lowest to its highest value (every value
    when there are at most 10 steps) and the legend says what the ends mean.
    """
    parts = _open(chart_id, title, describe(title, points, goal, unit, scale, language))
    values = [p.value for p in points]
    if scale is not None:
        bottom, top = scale.low, scale.high
        count = int(top - bottom) if float(top - bottom).is_integer() and top - bottom <= 10 else 4
        ticks = [bottom + (top - bottom) * i / count for i in range(count + 1)]
    else:
        top = _nice_max(max(values + ([goal] if goal is not None else []) + [0]))
        bottom = min(values + [0])
        ticks = [bottom + (top - bottom) * i / 4 for i in range(5)]
    y = _plot(parts, points, values, bottom, top, [(v, _fmt(v)) for v in ticks])
    _goal(parts, y, goal, _fmt(goal) if goal is not None else "", language)
    if scale is not None and scale.ends:
        legend = " · ".join(f"{_fmt(v)} = {label}" for v, label in sorted(scale.ends.items()))
    else:
        legend = language.gettext("Linje: %(unit)s", unit=unit) if unit else language.gettext("Linje: värde")
    _legend(parts, legend + (" · " + language.gettext("streckad linje: mål") if goal is not None else ""))
    return "\n".join(parts)


def duration_chart(chart_id: str, title: str, points: list[Point], goal: float | None = None,
                   language: Language = SWEDISH) -> str:
    """A line chart of durations (minutes) whose axis reads in hours and minutes."""
    parts = _open(chart_id, title, describe_durations(title, points, goal, language))
    values = [p.value for p in points]
    top = max(values + ([goal] if goal is not None else []) + [0])
    step = next((s for s in (15, 30, 60, 120, 180, 240, 360) if top <= 5 * s), 480)
    high = max(step, math.ceil(top / step) * step)
    ticks = [(float(v), language.localise(duration_text(v))) for v in range(0, int(high) + 1, step)]
    y = _plot(parts, points, values, 0, high, ticks)
    _goal(parts, y, goal, language.localise(duration_text(goal)) if goal is not None else "", language)
    _legend(parts, language.gettext("Linje: timmar och minuter")
            + (" · " + language.gettext("streckad linje: mål") if goal is not None else ""))
    return "\n".join(parts)


def _unwrap(minutes: list[float]) -> list[float]:
    """Clock times (minutes after midnight) on one continuous axis, cut at the longest gap between them.

    23.30 and 00.30 become 1410 and 1470 (an hour apart), unless the times leave a longer gap
    around midnight than anywhere else (then a morning at 06.00 and 08.00 stays 360 and 480).
    """
    if not minutes:
        return []
    times = sorted({m % DAY for m in minutes})
    gaps = [(times[(i + 1) % len(times)] - t) % DAY or DAY for i, t in enumerate(times)]
    widest = max(range(len(times)), key=lambda i: (gaps[i], -i))
    start = times[(widest + 1) % len(times)]
    return [m % DAY + (DAY if m % DAY < start else 0) for m in minutes]


def time_chart(chart_id: str, title: str, points: list[Point], language: Language = SWEDISH) -> str:
    """Points on a clock-time axis (values: minutes after midnight) that may cross midnight."""
    parts = _open(chart_id, title, describe_times(title, points, language))
    values = _unwrap([p.value for p in points])
    if values:
        low, high = math.floor(min(values) / 60) * 60, math.ceil(max(values) / 60) * 60
    else:
        low, high = 0, DAY
    if high - low < 120:
        low, high = low - 60, high + 60
    hours = (high - low) // 60
    step = next(s for s in (1, 2, 3, 4, 6, 12) if hours / s <= 8) * 60
    low = math.floor(low / step) * step
    high = math.ceil(high / step) * step
    ticks = [(float(v), clock_text(v)) for v in range(int(low), int(high) + 1, step)]
    _plot(parts, points, values, low, high, ticks, line=False)
    _legend(parts, language.gettext("Punkter: klockslag"))
    return "\n".join(parts)


def count_chart(chart_id: str, title: str, counts: list[tuple[str, int]], language: Language = SWEDISH) -> str:
    """Horizontal bars: how many times each option (in the plan's order) was chosen."""
    label_w, row = 220, 36
    height = TOP + row * max(len(counts), 1) + BOTTOM
    parts = _open(chart_id, title, describe_counts(title, counts, language), height)
    top = max([n for _, n in counts] + [1])
    high = max(top, 4) if top <= 10 else int(_nice_max(top))
    plot_w = WIDTH - label_w - RIGHT - 24

    def x(n: float) -> float:
        return label_w + n / high * plot_w

    tick_step = max(1, math.ceil(high / 5))
    for n in range(0, high + 1, tick_step):
        parts.append(f'<line x1="{x(n):.1f}" x2="{x(n):.1f}" y1="{TOP}" y2="{height - BOTTOM}" stroke="{GRID}" '
                     f'stroke-width="1"/>')
        parts.append(f'<text x="{x(n):.1f}" y="{height - BOTTOM + 20}" text-anchor="middle" font-size="12" '
                     f'fill="{TEXT}">{n}</text>')
    for i, (label, n) in enumerate(counts):
        middle = TOP + row * i + row / 2
        parts.append(f'<text x="{label_w - 8}" y="{middle + 5:.1f}" text-anchor="end" font-size="13" '
                     f'fill="{TEXT}">{escape(label)}</text>')
        if n:
            parts.append(f'<rect x="{label_w}" y="{middle - row * 0.35:.1f}" width="{x(n) - label_w:.1f}" '
                         f'height="{row * 0.7:.1f}" fill="{LINE}"/>')
        parts.append(f'<text x="{x(n) + 6:.1f}" y="{middle + 5:.1f}" font-size="13" fill="{TEXT}">{n}</text>')
    _legend(parts, language.gettext("Staplar: antal gånger"), height)
    return "\n".join(parts)
