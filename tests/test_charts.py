"""The analytics page's charts as geometry: what the merchant sees drawn is where the
figures say, on a value axis that starts at zero and never cuts a bar."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from app.web.dashboard.charts import Series, Shape, draw_chart, nice_ceiling

DAYS = [date(2026, 11, 1) + timedelta(days=offset) for offset in range(10)]


def chart_of(*series: Series, shape: Shape = Shape.BARS, days: list[date] = DAYS):
    return draw_chart(key="k", title="T", days=days, series=series, shape=shape,
                      value_label=lambda value: f"{value:g}",
                      day_label=lambda day: day.strftime("%d"))


@pytest.mark.parametrize(("largest", "step"), [
    (37, 10), (40, 10), (41, 20), (4, 1), (9, 2.5), (1, 0.25), (123_456, 50_000), (0.3, 0.1)])
def test_the_value_axis_ends_at_a_round_number_at_or_above_the_largest_figure(
        largest: float, step: float) -> None:
    assert nice_ceiling(largest) == pytest.approx(step)
    assert nice_ceiling(largest) * 4 >= largest


@pytest.mark.parametrize(("largest", "step"), [
    (2, 1), (9, 5), (1, 1), (37, 10), (0.5, 1), (90, 25), (900, 250)])
def test_counts_step_by_whole_numbers(largest: float, step: float) -> None:
    assert nice_ceiling(largest, whole=True) == step


def test_a_bar_reaches_exactly_its_figure_on_the_value_axis() -> None:
    values = [0, 5, 10, 40, 37, 0, 0, 1, 2, 3]
    chart = chart_of(Series("purchases", "Purchases", values))
    labels = [tick.label for tick in chart.ticks]
    assert labels == ["0", "10", "20", "30", "40"]
    bars = chart.drawn[0].bars
    assert [round(100 - bar.y, 6) for bar in bars] == [value / 40 * 100 for value in values]
    assert all(bar.y + bar.height == pytest.approx(100) for bar in bars)  # from zero up
    assert bars[3].title == "04, Purchases: 40"


def test_bars_of_two_series_stand_side_by_side_inside_their_day() -> None:
    chart = chart_of(Series("apple", "Apple", [1] * 10), Series("google", "Google", [2] * 10))
    apple, google = (drawn.bars for drawn in chart.drawn)
    for day in range(10):
        assert day * 10 <= apple[day].x < google[day].x
        assert google[day].x + google[day].width <= (day + 1) * 10


def test_a_line_passes_through_each_days_figure_and_each_day_says_every_series() -> None:
    chart = chart_of(Series("issued", "Issued", list(range(10))),
                     Series("redeemed", "Redeemed", [3] * 10), shape=Shape.LINE)
    issued = chart.drawn[0].path
    assert issued.startswith("M5.000,100.000L15.000,")
    assert issued.endswith("L95.000,10.000")  # 9 of a 10 axis (steps of 2.5)
    assert chart.hovers[4].title == "05\nIssued: 4\nRedeemed: 3"


def test_negative_figures_put_zero_inside_the_plot() -> None:
    chart = chart_of(Series("net", "Net", [-15, 10, 20, 0, 0, 0, 0, 0, 0, 0]))
    assert [tick.label for tick in chart.ticks] == [
        "-15", "-10", "-5", "0", "5", "10", "15", "20"]  # the same steps below zero
    assert chart.zero == pytest.approx(20 / 35 * 100)
    first = chart.drawn[0].bars[0]
    assert first.y == pytest.approx(chart.zero) and first.height == pytest.approx(15 / 35 * 100)


def test_only_zeros_is_an_empty_chart_and_few_labels_mark_a_long_span() -> None:
    year = [date(2026, 1, 1) + timedelta(days=offset) for offset in range(365)]
    chart = chart_of(Series("n", "N", [0] * 365), days=year)
    assert chart.empty
    assert 1 < len(chart.days) <= 6


def test_a_series_that_does_not_cover_the_days_is_refused() -> None:
    with pytest.raises(ValueError, match="series short has 3 values for 10 days"):
        chart_of(Series("short", "Short", [1, 2, 3]))
