"""Tests of ``signals.align.align`` and of the cheapest-window helpers in ``planner.window``.

Alignment is checked on the real DE-LU 2022 hourly carbon series (against plain numpy) and on
small hand-made series whose aligned values are known exactly. The window helpers are compared
with a brute force over small arrays (hypothesis), with integer-valued costs so that sums are
exact and ties are real ties.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridshift.domain import ConfigError, Quality, Series, SignalKind
from gridshift.planner.window import cheapest_window, window_sums
from gridshift.signals.align import align
from gridshift.signals.importers import ImportOptions, import_file

DATA = Path(__file__).parent / "data"
T0 = datetime(2022, 1, 1, tzinfo=UTC)
HOUR = 3600
NAN = math.nan
OK, EST, MISSING = Quality.OK, Quality.ESTIMATED, Quality.MISSING


def hourly(
    values: list[float],
    hours: list[int] | None = None,
    quality: list[int] | None = None,
    step_s: int = HOUR,
) -> Series:
    """A DE-LU carbon series at ``T0 + hours[i] * step_s`` (default: consecutive steps)."""
    hours = list(range(len(values))) if hours is None else hours
    times = np.datetime64("2022-01-01T00:00:00", "s") + np.array(hours, dtype=np.int64) * (
        np.timedelta64(step_s, "s")
    )
    vals = np.array(values, dtype=np.float64)
    if quality is None:
        qual = np.where(np.isnan(vals), MISSING, OK).astype(np.uint8)
    else:
        qual = np.array(quality, dtype=np.uint8)
    return Series("DE-LU", SignalKind.CARBON, "g_per_kwh", times, vals, qual, step_s)


def at(minutes: int) -> np.datetime64:
    return np.datetime64("2022-01-01T00:00:00", "s") + np.timedelta64(minutes * 60, "s")


@pytest.fixture(scope="module")
def de_carbon() -> Series:
    series, _ = import_file(
        DATA / "DE-LU_2022_hourly.csv.gz",
        ImportOptions(zone="DE-LU", kind=SignalKind.CARBON, format="electricitymaps"),
    )
    assert len(series) == 8760
    assert series.step_s == HOUR
    return series


# --- coarsening -------------------------------------------------------------------------------


def test_hourly_to_daily_gives_the_daily_means_of_the_real_series(de_carbon: Series) -> None:
    daily = align(de_carbon, 86400)
    assert daily.step_s == 86400
    assert len(daily) == 365
    assert daily.times[0] == np.datetime64("2022-01-01T00:00:00", "s")
    assert daily.times[-1] == np.datetime64("2022-12-31T00:00:00", "s")
    expected = de_carbon.values.reshape(365, 24).mean(axis=1)
    np.testing.assert_allclose(daily.values, expected, rtol=1e-12)
    assert np.all(daily.quality == OK)
    # A few days by hand: 1 January, 1 March (day 59) and 31 December (day 364).
    for day in (0, 59, 364):
        hours = de_carbon.values[day * 24 : (day + 1) * 24]
        assert daily.values[day] == pytest.approx(math.fsum(hours) / 24, rel=1e-12)
    # The mean of the daily means of a complete year is the mean of the year.
    assert daily.values.mean() == pytest.approx(410.96984817351597, rel=1e-12)


def test_coarsening_over_a_window_keeps_only_the_points_inside_it(de_carbon: Series) -> None:
    start = T0 + timedelta(days=31)  # 1 February
    six_hourly = align(de_carbon, 6 * HOUR, start, start + timedelta(days=2))
    assert len(six_hourly) == 8
    assert six_hourly.times[0] == np.datetime64("2022-02-01T00:00:00", "s")
    first = 31 * 24
    expected = de_carbon.values[first : first + 48].reshape(8, 6).mean(axis=1)
    np.testing.assert_allclose(six_hourly.values, expected, rtol=1e-12)


def test_coarsening_takes_the_worst_quality_of_each_bucket() -> None:
    series = hourly(
        [10, 20, 30, 40, 50, 60],
        quality=[OK, EST, OK, OK, OK, Quality.STALE],
    )
    two_hourly = align(series, 2 * HOUR)
    assert list(two_hourly.values) == [15.0, 35.0, 55.0]
    assert list(two_hourly.quality) == [EST, OK, Quality.STALE]


def test_coarsening_averages_only_the_valid_points_of_a_bucket() -> None:
    series = hourly([10, NAN, 40, 60])
    two_hourly = align(series, 2 * HOUR)
    assert list(two_hourly.values) == [10.0, 50.0]
    assert list(two_hourly.quality) == [OK, OK]


def test_a_bucket_without_valid_points_is_missing() -> None:
    # Hours 2 and 3 are NaN; hours 4 and 5 are absent from the series altogether.
    series = hourly([1, 3, NAN, NAN, 7, 9], hours=[0, 1, 2, 3, 6, 7])
    two_hourly = align(series, 2 * HOUR)
    assert len(two_hourly) == 4
    np.testing.assert_array_equal(two_hourly.values, [2.0, NAN, NAN, 8.0])
    assert list(two_hourly.quality) == [OK, MISSING, MISSING, OK]


def test_coarsening_onto_a_grid_wider_than_the_data_marks_the_outside_missing() -> None:
    series = hourly([4, 8, 6, 2])
    two_hourly = align(series, 2 * HOUR, T0 - timedelta(hours=4), T0 + timedelta(hours=8))
    assert len(two_hourly) == 6
    np.testing.assert_array_equal(two_hourly.values, [NAN, NAN, 6.0, 4.0, NAN, NAN])
    assert list(two_hourly.quality) == [MISSING, MISSING, OK, OK, MISSING, MISSING]


# --- refining ---------------------------------------------------------------------------------


def test_refining_with_hold_repeats_each_value(de_carbon: Series) -> None:
    day = de_carbon.between(T0, T0 + timedelta(days=2))
    quarter = align(day, 900)
    assert quarter.step_s == 900
    assert len(quarter) == 48 * 4
    assert quarter.times[1] - quarter.times[0] == np.timedelta64(900, "s")
    np.testing.assert_array_equal(quarter.values, np.repeat(day.values, 4))
    assert np.all(quarter.quality == OK)
    # The default rule is hold.
    np.testing.assert_array_equal(align(day, 900, refine="hold").values, quarter.values)


def test_refining_with_interpolate_draws_lines_and_marks_created_points(de_carbon: Series) -> None:
    day = de_carbon.between(T0, T0 + timedelta(days=1))
    quarter = align(day, 900, refine="interpolate")
    assert len(quarter) == 96
    v = day.values
    for hour in range(23):
        for k in range(4):
            expected = v[hour] + k / 4 * (v[hour + 1] - v[hour])
            assert quarter.values[hour * 4 + k] == pytest.approx(expected, rel=1e-12)
            assert quarter.quality[hour * 4 + k] == (OK if k == 0 else EST)
    # After the last point there is no neighbour: nothing is extrapolated.
    tail = quarter.values[92:]
    assert tail[0] == v[23]
    assert np.all((tail == v[23]) | np.isnan(tail))


def test_interpolate_keeps_the_estimated_quality_of_a_source_point() -> None:
    series = hourly([100, 200, 300], quality=[OK, EST, OK])
    quarter = align(series, 1800, refine="interpolate")
    assert list(quarter.values[:5]) == [100.0, 150.0, 200.0, 250.0, 300.0]
    assert list(quarter.quality[:5]) == [OK, EST, EST, EST, OK]


def test_interpolate_leaves_nan_points_missing() -> None:
    series = hourly([100, NAN, 300, 400])
    quarter = align(series, 900, refine="interpolate")
    assert np.all(np.isnan(quarter.values[4:8]))
    assert np.all(quarter.quality[4:8] == MISSING)
    assert list(quarter.values[8:13]) == [300.0, 325.0, 350.0, 375.0, 400.0]


@pytest.mark.parametrize("hole", ["nan point", "absent point"])
def test_interpolate_does_not_draw_lines_across_a_hole(hole: str) -> None:
    series = hourly([100, NAN, 300]) if hole == "nan point" else hourly([100, 300], hours=[0, 2])
    quarter = align(series, 900, refine="interpolate")
    assert len(quarter) == 12
    # The hour after 00:00 has no neighbour on its right: held or missing, never 300's line.
    first_hour = quarter.values[1:4]
    assert np.all((first_hour == 100.0) | np.isnan(first_hour)), first_hour


def test_interpolate_on_a_series_without_valid_points_is_all_missing() -> None:
    series = hourly([NAN, NAN])
    quarter = align(series, 900, refine="interpolate")
    assert len(quarter) == 8
    assert np.all(np.isnan(quarter.values))
    assert np.all(quarter.quality == MISSING)


def test_hold_on_a_series_without_valid_points_is_all_missing() -> None:
    quarter = align(hourly([NAN, NAN]), 900)
    assert len(quarter) == 8
    assert np.all(np.isnan(quarter.values))
    assert np.all(quarter.quality == MISSING)


# --- equal steps and gaps ---------------------------------------------------------------------


def test_equal_step_reindexes_onto_a_grid_beyond_the_data(de_carbon: Series) -> None:
    day = de_carbon.between(T0, T0 + timedelta(days=1))
    wide = align(day, HOUR, T0 - timedelta(hours=3), T0 + timedelta(hours=26))
    assert len(wide) == 29
    assert wide.times[0] == np.datetime64("2021-12-31T21:00:00", "s")
    assert np.all(np.isnan(wide.values[:3]))
    assert np.all(np.isnan(wide.values[27:]))
    assert np.all(wide.quality[:3] == MISSING)
    assert np.all(wide.quality[27:] == MISSING)
    np.testing.assert_array_equal(wide.values[3:27], day.values)
    assert np.all(wide.quality[3:27] == OK)


def test_equal_step_on_a_shifted_grid_takes_the_point_whose_interval_holds_it() -> None:
    series = hourly([5, 6, 7])
    shifted = align(series, HOUR, T0 + timedelta(minutes=30), T0 + timedelta(hours=3, minutes=30))
    assert shifted.times[0] == at(30)
    np.testing.assert_array_equal(shifted.values, [5.0, 6.0, 7.0])


@pytest.mark.parametrize("step_s", [HOUR, 900])
def test_hold_never_fills_a_gap(step_s: int) -> None:
    # 02:00 is absent and 04:00 is NaN; both must stay missing at any step.
    series = hourly([10, 11, 13, NAN, 15], hours=[0, 1, 3, 4, 5])
    aligned = align(series, step_s)
    per_hour = HOUR // step_s
    assert len(aligned) == 6 * per_hour
    values = aligned.values.reshape(6, per_hour)
    quality = aligned.quality.reshape(6, per_hour)
    for hour, expected in enumerate([10.0, 11.0, NAN, 13.0, NAN, 15.0]):
        if math.isnan(expected):
            assert np.all(np.isnan(values[hour]))
            assert np.all(quality[hour] == MISSING)
        else:
            assert np.all(values[hour] == expected)
            assert np.all(quality[hour] == OK)


def test_a_real_missing_hour_stays_missing(de_carbon: Series) -> None:
    # Remove 2022-03-10 12:00 from the real series; alignment must not bring it back.
    keep = np.ones(len(de_carbon), dtype=bool)
    hole = (31 + 28 + 9) * 24 + 12
    keep[hole] = False
    holed = de_carbon.with_points(
        de_carbon.times[keep], de_carbon.values[keep], de_carbon.quality[keep]
    )
    for step_s, refine in ((HOUR, "hold"), (900, "hold"), (900, "interpolate")):
        aligned = align(holed, step_s, refine=refine)
        per_hour = HOUR // step_s
        block = slice(hole * per_hour, (hole + 1) * per_hour)
        assert np.all(np.isnan(aligned.values[block])), (step_s, refine)
        assert np.all(aligned.quality[block] == MISSING)
        assert np.count_nonzero(np.isnan(aligned.values)) == per_hour


# --- refused arguments ------------------------------------------------------------------------


@pytest.mark.parametrize("step_s", [0, -3600])
def test_a_step_that_is_not_positive_is_a_config_error(step_s: int) -> None:
    with pytest.raises(ConfigError) as caught:
        align(hourly([1, 2]), step_s)
    assert caught.value.field == "step"
    assert caught.value.value == step_s


def test_an_unknown_refine_rule_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as caught:
        align(hourly([1, 2]), 900, refine="linear")  # type: ignore[arg-type]
    assert caught.value.field == "refine"
    assert "hold, interpolate" in caught.value.one_line()


# --- cheapest window --------------------------------------------------------------------------


def brute_sums(cost: list[float], length: int) -> list[float]:
    return [
        NAN if any(math.isnan(c) for c in cost[s : s + length]) else sum(cost[s : s + length])
        for s in range(len(cost) - length + 1)
    ]


def brute_cheapest(
    cost: list[float], length: int, earliest: int, latest_start: int | None
) -> int | None:
    sums = brute_sums(cost, length)
    last = len(sums) - 1 if latest_start is None else min(latest_start, len(sums) - 1)
    best: int | None = None
    for s in range(earliest, last + 1):
        if not math.isnan(sums[s]) and (best is None or sums[s] < sums[best]):
            best = s
    return best


# Integer-valued costs: every window sum is exact in float64, so ties are real ties.
costs = st.lists(st.one_of(st.integers(-50, 50).map(float), st.just(NAN)), min_size=0, max_size=14)


@given(cost=costs, length=st.integers(1, 16))
def test_window_sums_match_brute_force(cost: list[float], length: int) -> None:
    got = window_sums(np.array(cost, dtype=np.float64), length)
    expected = brute_sums(cost, length) if len(cost) >= length else []
    assert len(got) == len(expected)
    np.testing.assert_array_equal(got, np.array(expected, dtype=np.float64))


@given(
    cost=costs,
    length=st.integers(1, 6),
    earliest=st.integers(0, 16),
    latest_start=st.one_of(st.none(), st.integers(-1, 16)),
)
def test_cheapest_window_matches_brute_force(
    cost: list[float], length: int, earliest: int, latest_start: int | None
) -> None:
    got = cheapest_window(np.array(cost, dtype=np.float64), length, earliest, latest_start)
    assert got == brute_cheapest(cost, length, earliest, latest_start)


def test_cheapest_window_on_ties_takes_the_earliest() -> None:
    cost = np.array([3.0, 1.0, 2.0, 1.0, 2.0, 1.0])
    assert cheapest_window(cost, 1) == 1
    assert cheapest_window(cost, 1, earliest=2) == 3
    # Windows of two: 4, 3, 3, 3, 3 -> the first of the four equal ones.
    assert cheapest_window(cost, 2) == 1
    assert cheapest_window(np.full(10, 7.0), 3) == 0


def test_cheapest_window_skips_windows_with_unknown_cost() -> None:
    cost = np.array([1.0, NAN, 0.0, 5.0, 2.0, 2.0])
    np.testing.assert_array_equal(window_sums(cost, 2), [NAN, NAN, 5.0, 7.0, 4.0])
    assert cheapest_window(cost, 2) == 4
    assert cheapest_window(cost, 1) == 2


@pytest.mark.parametrize(
    ("cost", "length", "earliest", "latest_start"),
    [
        ([1.0, 2.0], 3, 0, None),  # window longer than the horizon
        ([NAN, NAN, 1.0], 2, 0, None),  # every window holds a NaN
        ([1.0, 2.0, 3.0], 1, 5, None),  # earliest after the last start
        ([1.0, 2.0, 3.0], 1, 2, 1),  # latest_start before earliest
        ([], 1, 0, None),  # no data at all
    ],
)
def test_cheapest_window_is_none_when_no_window_fits(
    cost: list[float], length: int, earliest: int, latest_start: int | None
) -> None:
    assert cheapest_window(np.array(cost, dtype=np.float64), length, earliest, latest_start) is None


def test_window_length_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        window_sums(np.array([1.0, 2.0]), 0)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_an_infinite_cost_only_rules_out_the_windows_that_contain_it() -> None:
    cost = np.array([np.inf, 5.0, 1.0, 3.0])
    np.testing.assert_array_equal(window_sums(cost, 1), [np.inf, 5.0, 1.0, 3.0])
    assert cheapest_window(cost, 1) == 2
    assert cheapest_window(np.array([5.0, 1.0, np.inf, 3.0, 0.5]), 1) == 4
