"""Charts of the analytics page, drawn on the server: no script, no CDN.

A chart is geometry in percent of its plot area (x from 0 to 100 left to right, y from 0
at the top to 100 at the bottom), which the template draws as an SVG stretched to the
box (``preserveAspectRatio="none"``, strokes that do not scale), with the axis labels
as HTML laid over it at the same percentages: so the labels keep their size on a phone
and on a desktop, where an SVG's own text would shrink with the drawing.

Invariants: every series is drawn over the same days, in order; a day without a figure
is drawn as zero; the value axis starts at zero (or below, when a figure is negative) and
ends at a round number at or above the largest figure, so bars are never cut.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

TICKS = 4  # lines across the plot, besides zero
DAY_LABELS = 6  # at most, spread over the days
NICE_STEPS = (1, 2, 2.5, 5, 10)
WHOLE_STEPS = (1, 2, 5, 10)  # 2.5 is a whole step from 25 up only


class Shape(StrEnum):
    LINE = "line"
    BARS = "bars"


@dataclass(frozen=True)
class Series:
    """One line or one set of bars: ``values`` by day, over the chart's days."""

    key: str
    label: str
    values: Sequence[float]


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class DayMark:
    x: float
    label: str


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    title: str


@dataclass(frozen=True)
class Drawn:
    """A series as drawn: its path (a line) or its bars, and its place in the legend."""

    key: str
    label: str
    number: int  # its colour, by position in the legend
    path: str
    bars: tuple[Bar, ...]


@dataclass(frozen=True)
class Hover:
    """A column over one day, whose title says every series' figure of the day."""

    x: float
    width: float
    title: str


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    shape: Shape
    ticks: tuple[Tick, ...]
    days: tuple[DayMark, ...]
    drawn: tuple[Drawn, ...]
    hovers: tuple[Hover, ...]
    zero: float  # where zero is, in percent from the top
    empty: bool  # nothing but zeros: the page says so instead of a flat line

    @property
    def single(self) -> bool:
        return len(self.drawn) == 1


def nice_ceiling(value: float, *, whole: bool = False) -> float:
    """The step of ``TICKS`` round steps that reach ``value``: 1, 2, 2.5 or 5 times a
    power of ten (a maximum of 37 gives steps of 10, up to 40); ``whole`` for counts,
    whose steps are whole numbers."""
    if value <= 0:
        return 1.0
    raw = value / TICKS
    if whole and raw <= 1:
        return 1.0
    power = 10.0 ** math.floor(math.log10(raw))
    steps = WHOLE_STEPS if whole and power < 10 else NICE_STEPS
    return next(step * power for step in steps if step * power >= raw - 1e-9)


def draw_chart(*, key: str, title: str, days: Sequence[date], series: Sequence[Series],
               shape: Shape, value_label: Callable[[float], str],
               day_label: Callable[[date], str], whole: bool = False) -> Chart:
    """The geometry of one chart over ``days`` (oldest first); ``whole`` when the figures
    are counts, so that the axis steps are whole numbers."""
    for one in series:
        if len(one.values) != len(days):
            raise ValueError(f"series {one.key} has {len(one.values)} values for "
                             f"{len(days)} days")
    figures = [value for one in series for value in one.values]
    top_step = nice_ceiling(max(figures, default=0), whole=whole)
    low_steps = math.ceil(-min(figures, default=0) / top_step) if figures else 0
    high, low = top_step * TICKS, -top_step * low_steps
    span = high - low

    def y_of(value: float) -> float:
        return (high - value) / span * 100

    ticks = tuple(Tick(y=y_of(low + step * top_step), label=value_label(low + step * top_step))
                  for step in range(TICKS + low_steps + 1))
    slot = 100 / max(len(days), 1)
    drawn = tuple(
        Drawn(key=one.key, label=one.label, number=number,
              path=_path(one.values, slot, y_of) if shape is Shape.LINE else "",
              bars=_bars(one, number, len(series), slot, y_of, days, day_label, value_label)
              if shape is Shape.BARS else ())
        for number, one in enumerate(series))
    hovers = tuple(
        Hover(x=index * slot, width=slot, title="\n".join(
            [day_label(day)] + [f"{one.label}: {value_label(one.values[index])}"
                                for one in series]))
        for index, day in enumerate(days))
    return Chart(key=key, title=title, shape=shape, ticks=ticks,
                 days=_day_marks(days, slot, day_label), drawn=drawn, hovers=hovers,
                 zero=y_of(0), empty=not any(figures))


def _path(values: Sequence[float], slot: float, y_of: Callable[[float], float]) -> str:
    points = [f"{(index + 0.5) * slot:.3f},{y_of(value):.3f}"
              for index, value in enumerate(values)]
    if len(points) == 1:  # one day: a short level line across its slot
        x = float(points[0].split(",")[0])
        return f"M{x - slot / 4:.3f},{y_of(values[0]):.3f}H{x + slot / 4:.3f}"
    return "M" + "L".join(points)


def _bars(one: Series, number: int, count: int, slot: float,
          y_of: Callable[[float], float], days: Sequence[date],
          day_label: Callable[[date], str], value_label: Callable[[float], str]
          ) -> tuple[Bar, ...]:
    inner = slot * 0.8 / count  # a fifth of each day's slot is the gap between days
    bars = []
    for index, value in enumerate(one.values):
        top, zero = sorted((y_of(value), y_of(0)))
        bars.append(Bar(x=index * slot + slot * 0.1 + number * inner, y=top, width=inner,
                        height=zero - top,
                        title=f"{day_label(days[index])}, {one.label}: {value_label(value)}"))
    return tuple(bars)


def _day_marks(days: Sequence[date], slot: float, day_label: Callable[[date], str]
               ) -> tuple[DayMark, ...]:
    if not days:
        return ()
    every = max(1, math.ceil(len(days) / DAY_LABELS))
    return tuple(DayMark(x=(index + 0.5) * slot, label=day_label(day))
                 for index, day in enumerate(days) if index % every == 0)
