"""Unit tests for the domain records: signals, units, zones, clusters, tariffs, jobs, power models,
the objective and ``ConfigError`` formatting.

Every expected number here is worked out by hand from DESIGN.md §1 and the documented models
(``domain/power.py``), not read back from the code under test.
"""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest

from gridshift.domain import (
    DEFAULT_UNIT,
    EXECUTORS,
    Cluster,
    ConfigError,
    Elastic,
    GpuPowerProfile,
    GridshiftError,
    Interruptible,
    Job,
    Objective,
    ObjectiveMode,
    PowerCapWindow,
    Quality,
    Series,
    SignalKind,
    SitePowerCap,
    Tariff,
    TariffKind,
    UserError,
    check_zone,
)
from gridshift.domain.power import capped_throughput, elastic_speedup
from gridshift.domain.signal import unit_conversion

T0 = datetime(2022, 1, 1, tzinfo=UTC)
HOUR = 3600.0
LB_TO_G = 0.45359237


def hours(*offsets: float) -> np.ndarray:
    """``datetime64[s]`` times at ``T0`` plus the given hours."""
    base = np.datetime64("2022-01-01T00:00:00", "s")
    return np.array([base + np.timedelta64(int(h * 3600), "s") for h in offsets])


def series(
    values: list[float],
    quality: list[int] | None = None,
    *,
    times: np.ndarray | None = None,
    kind: SignalKind = SignalKind.CARBON,
    unit: str | None = None,
    zone: str = "DE-LU",
    step_s: int = 3600,
) -> Series:
    return Series(
        zone=zone,
        kind=kind,
        unit=unit or DEFAULT_UNIT[kind],
        times=hours(*range(len(values))) if times is None else times,
        values=np.array(values, dtype=np.float64),
        quality=np.array(quality or [Quality.OK] * len(values), dtype=np.uint8),
        step_s=step_s,
        source="test",
    )


# --- Series invariants -------------------------------------------------------------------------


def test_series_arrays_are_read_only() -> None:
    s = series([100.0, 200.0, 300.0])
    for array in (s.times, s.values, s.quality):
        assert not array.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        s.values[0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        s.quality[0] = Quality.MISSING
    with pytest.raises(ValueError, match="read-only"):
        s.times[0] = np.datetime64("2030-01-01T00:00:00", "s")


def test_series_copies_its_inputs() -> None:
    values = np.array([1.0, 2.0])
    quality = np.zeros(2, dtype=np.uint8)
    times = hours(0, 1)
    s = Series("GB", SignalKind.CARBON, "g_per_kwh", times, values, quality, 3600)
    values[0] = 99.0
    quality[1] = Quality.STALE
    times[0] = np.datetime64("2000-01-01T00:00:00", "s")
    assert s.values.tolist() == [1.0, 2.0]
    assert s.quality.tolist() == [0, 0]
    assert s.times[0] == np.datetime64("2022-01-01T00:00:00", "s")


def test_series_normalises_dtypes() -> None:
    times_ns = np.array(["2022-01-01T00:00", "2022-01-01T01:00"], dtype="datetime64[ns]")
    s = Series(
        "GB", SignalKind.PRICE, "usd_per_mwh", times_ns, np.array([1, 2]), np.array([0, 1]), 3600
    )
    assert s.times.dtype == np.dtype("datetime64[s]")
    assert s.values.dtype == np.float64
    assert s.quality.dtype == np.uint8
    assert s.start == T0
    assert s.end == T0 + timedelta(hours=2)
    assert len(s) == 2


@pytest.mark.parametrize(
    "offsets",
    [(0, 1, 1), (0, 2, 1), (3, 2, 1), (0, 0)],
    ids=["repeat", "step-back", "decreasing", "two-equal"],
)
def test_series_times_must_strictly_increase(offsets: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="strictly increasing"):
        series([1.0] * len(offsets), times=hours(*offsets))


def test_series_irregular_but_increasing_times_are_accepted() -> None:
    s = series([1.0, 2.0, 3.0], times=hours(0, 1, 5))
    assert [str(t) for t in s.times] == [
        "2022-01-01T00:00:00",
        "2022-01-01T01:00:00",
        "2022-01-01T05:00:00",
    ]


@pytest.mark.parametrize(
    "quality", [Quality.OK, Quality.ESTIMATED, Quality.STALE, Quality.FALLBACK]
)
def test_series_nan_requires_quality_missing(quality: Quality) -> None:
    with pytest.raises(ValueError, match="MISSING"):
        series([1.0, math.nan], [Quality.OK, quality])


def test_series_nan_with_missing_quality_is_accepted_and_not_valid() -> None:
    s = series([1.0, math.nan, 3.0], [Quality.OK, Quality.MISSING, Quality.ESTIMATED])
    assert s.valid.tolist() == [True, False, True]
    assert math.isnan(s.values[1])
    assert s.quality.tolist() == [0, 4, 1]


def test_series_missing_quality_requires_nan() -> None:
    with pytest.raises(ValueError, match="MISSING"):
        series([1.0, 2.0], [Quality.OK, Quality.MISSING])


@pytest.mark.parametrize(
    ("kind", "unit"),
    [
        (SignalKind.CARBON, "kg_per_mwh"),
        (SignalKind.CARBON, "usd_per_mwh"),
        (SignalKind.MARGINAL, "lb_per_mwh"),
        (SignalKind.PRICE, "usd_per_kwh"),
        (SignalKind.RENEWABLE, "percent"),
        (SignalKind.RENEWABLE, "mw"),
    ],
)
def test_series_unit_must_be_canonical(kind: SignalKind, unit: str) -> None:
    with pytest.raises(ValueError, match="not canonical"):
        series([1.0], kind=kind, unit=unit)


@pytest.mark.parametrize(
    ("kind", "unit"),
    [
        (SignalKind.CARBON, "g_per_kwh"),
        (SignalKind.MARGINAL, "g_per_kwh"),
        (SignalKind.PRICE, "usd_per_mwh"),
        (SignalKind.RENEWABLE, "fraction"),
        (SignalKind.RENEWABLE, "kw"),
    ],
)
def test_series_canonical_units_are_accepted(kind: SignalKind, unit: str) -> None:
    s = series([0.5], kind=kind, unit=unit)
    assert s.unit == unit
    assert s.kind is kind


def test_series_negative_prices_are_kept() -> None:
    s = series([-50.0, 0.0, 30.0], kind=SignalKind.PRICE)
    assert s.values.tolist() == [-50.0, 0.0, 30.0]


def test_series_length_mismatch_and_step() -> None:
    with pytest.raises(ValueError, match="same length"):
        Series(
            "GB",
            SignalKind.CARBON,
            "g_per_kwh",
            hours(0, 1),
            np.array([1.0]),
            np.zeros(2, np.uint8),
            3600,
        )
    with pytest.raises(ValueError, match="step_s"):
        series([1.0], step_s=0)


def test_series_bad_zone_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        series([1.0], zone="de-lu")
    assert info.value.field == "zone"
    assert info.value.value == "de-lu"


def test_series_between_is_half_open() -> None:
    s = series([10.0, 11.0, 12.0, 13.0, 14.0], [0, 1, 0, 2, 0])
    part = s.between(T0 + timedelta(hours=1), T0 + timedelta(hours=3))
    assert part.values.tolist() == [11.0, 12.0]
    assert part.quality.tolist() == [1, 0]
    assert part.start == T0 + timedelta(hours=1)
    assert part.end == T0 + timedelta(hours=3)
    assert (part.zone, part.kind, part.unit, part.source, part.step_s) == (
        "DE-LU",
        SignalKind.CARBON,
        "g_per_kwh",
        "test",
        3600,
    )
    assert not part.values.flags.writeable


def test_series_between_open_ends_and_other_zones() -> None:
    s = series([10.0, 11.0, 12.0, 13.0])
    assert s.between(None, T0 + timedelta(hours=2)).values.tolist() == [10.0, 11.0]
    assert s.between(T0 + timedelta(hours=2)).values.tolist() == [12.0, 13.0]
    assert s.between().values.tolist() == [10.0, 11.0, 12.0, 13.0]
    # an aware time in another zone means the same instant: 02:00+01:00 is 01:00 UTC
    plus_one = timezone(timedelta(hours=1))
    assert s.between(datetime(2022, 1, 1, 2, tzinfo=plus_one)).values.tolist() == [
        11.0,
        12.0,
        13.0,
    ]
    # inside one interval, not on a point: the point before is left out
    assert s.between(T0 + timedelta(minutes=30)).values.tolist() == [11.0, 12.0, 13.0]
    assert len(s.between(T0 + timedelta(days=1))) == 0


def test_series_between_rejects_naive_times() -> None:
    s = series([1.0, 2.0])
    with pytest.raises(ConfigError, match="no zone"):
        s.between(datetime(2022, 1, 1, 1))


# --- units and zones ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("unit", "kind", "canonical", "factor"),
    [
        ("gCO2eq/kWh", SignalKind.CARBON, "g_per_kwh", 1.0),
        ("gCO2/kWh", SignalKind.MARGINAL, "g_per_kwh", 1.0),
        ("g_per_kwh", SignalKind.CARBON, "g_per_kwh", 1.0),
        ("kg/MWh", SignalKind.CARBON, "g_per_kwh", 1.0),
        ("lbs/MWh", SignalKind.MARGINAL, "g_per_kwh", LB_TO_G),
        ("lb_per_mwh", SignalKind.CARBON, "g_per_kwh", LB_TO_G),
        ("t_per_mwh", SignalKind.CARBON, "g_per_kwh", 1000.0),
        ("$/MWh", SignalKind.PRICE, "usd_per_mwh", 1.0),
        ("USD / MWh", SignalKind.PRICE, "usd_per_mwh", 1.0),
        ("$/kWh", SignalKind.PRICE, "usd_per_mwh", 1000.0),
        ("%", SignalKind.RENEWABLE, "fraction", 0.01),
        ("share", SignalKind.RENEWABLE, "fraction", 1.0),
        ("MW", SignalKind.RENEWABLE, "kw", 1000.0),
        ("kw", SignalKind.RENEWABLE, "kw", 1.0),
    ],
)
def test_unit_conversion_aliases(
    unit: str, kind: SignalKind, canonical: str, factor: float
) -> None:
    got_unit, got_factor = unit_conversion(unit, kind)
    assert got_unit == canonical
    assert got_factor == pytest.approx(factor, rel=1e-12)


@pytest.mark.parametrize(
    ("unit", "kind", "accepted"),
    [
        ("usd_per_mwh", SignalKind.CARBON, "g_per_kwh, kg_per_mwh, lb_per_mwh, t_per_mwh"),
        ("%", SignalKind.PRICE, "usd_per_kwh, usd_per_mwh"),
        ("gCO2eq/kWh", SignalKind.RENEWABLE, "fraction, kw, mw, percent"),
        ("furlongs", SignalKind.MARGINAL, "g_per_kwh, kg_per_mwh, lb_per_mwh, t_per_mwh"),
    ],
)
def test_unit_conversion_wrong_unit_lists_accepted(
    unit: str, kind: SignalKind, accepted: str
) -> None:
    with pytest.raises(ConfigError) as info:
        unit_conversion(unit, kind, field="signals[0].unit")
    err = info.value
    assert err.field == "signals[0].unit"
    assert err.value == unit
    assert err.accepted == accepted
    assert kind.value in err.one_line()
    assert accepted in err.one_line()


def test_signal_kind_parse() -> None:
    assert SignalKind.parse(" Carbon ") is SignalKind.CARBON
    assert SignalKind.parse("PRICE") is SignalKind.PRICE
    with pytest.raises(ConfigError) as info:
        SignalKind.parse("co2", field="signals[1].kind")
    assert info.value.field == "signals[1].kind"
    assert info.value.value == "co2"
    assert info.value.accepted == "carbon, marginal, price, renewable"


@pytest.mark.parametrize("zone", ["DE-LU", "GB", "US-CAL-CISO", "US-MIDA-PJM", "AU-NSW", "IN-WE"])
def test_check_zone_accepts_electricity_maps_ids(zone: str) -> None:
    assert check_zone(zone) == zone


@pytest.mark.parametrize("zone", ["de-lu", "G", "DE_LU", "", "DE-", "GBR", "DE--LU", " GB", 49])
def test_check_zone_rejects_others(zone: object) -> None:
    with pytest.raises(ConfigError) as info:
        check_zone(zone, field="clusters[0].zone")  # type: ignore[arg-type]
    assert info.value.field == "clusters[0].zone"
    assert info.value.value == zone
    assert "DE-LU" in (info.value.accepted or "")


# --- clusters, power caps, tariffs -------------------------------------------------------------


def cluster(**over: object) -> Cluster:
    fields: dict[str, object] = {
        "name": "fra-1",
        "zone": "DE-LU",
        "executor": "local",
        "gpus": 8,
        "gpu_type": "H100",
        "gpu_power": GpuPowerProfile(idle_w=70.0, max_w=700.0),
        "pue": 1.2,
    }
    fields.update(over)
    return Cluster(**fields)  # type: ignore[arg-type]


def test_cluster_valid_and_idle_power() -> None:
    c = cluster()
    assert not c.unlimited
    # 8 GPUs x 70 W x PUE 1.2 = 672 W
    assert c.idle_kw() == pytest.approx(0.672)
    assert c.tariff.kind is TariffKind.WHOLESALE
    assert c.power_cap.kw_at(hours(0, 1)).tolist() == [math.inf, math.inf]


def test_cluster_unlimited_has_no_idle_draw() -> None:
    c = cluster(gpus=None)
    assert c.unlimited
    assert c.idle_kw() == 0.0


@pytest.mark.parametrize("executor", EXECUTORS)
def test_cluster_known_executors(executor: str) -> None:
    assert cluster(executor=executor).executor == executor


def test_cluster_unknown_executor() -> None:
    with pytest.raises(ConfigError) as info:
        cluster(executor="nomad")
    err = info.value
    assert err.field == "executor"
    assert err.value == "nomad"
    assert err.accepted == "local, slurm, ray, kubernetes, fake"
    assert "'nomad'" in str(err)


def test_cluster_gpu_count() -> None:
    assert cluster(gpus=0).gpus == 0
    with pytest.raises(ConfigError) as info:
        cluster(gpus=-1)
    assert info.value.field == "gpus"
    assert info.value.value == -1
    assert "unlimited" in (info.value.accepted or "")


@pytest.mark.parametrize("pue", [1.0, 1.1, 3.0])
def test_cluster_pue_in_range(pue: float) -> None:
    assert cluster(pue=pue).pue == pue


@pytest.mark.parametrize("pue", [0.99, 0.0, 3.01, -1.2, math.nan])
def test_cluster_pue_out_of_range(pue: float) -> None:
    with pytest.raises(ConfigError) as info:
        cluster(pue=pue)
    assert info.value.field == "pue"
    assert "1.0 to 3.0" in (info.value.accepted or "")


def test_cluster_bad_zone() -> None:
    with pytest.raises(ConfigError) as info:
        cluster(zone="Germany")
    assert info.value.field == "zone"
    assert info.value.value == "Germany"


def test_cluster_executor_options_are_read_only() -> None:
    options = {"partition": "gpu"}
    c = cluster(executor="slurm", executor_options=options)
    options["partition"] = "cpu"
    assert c.executor_options["partition"] == "gpu"
    with pytest.raises(TypeError):
        c.executor_options["partition"] = "x"  # type: ignore[index]


@pytest.mark.parametrize(("idle", "peak"), [(800.0, 700.0), (-1.0, 700.0), (0.0, 0.0)])
def test_gpu_power_profile_invalid(idle: float, peak: float) -> None:
    with pytest.raises(ConfigError) as info:
        GpuPowerProfile(idle_w=idle, max_w=peak)
    assert info.value.field == "gpu_power_w"
    assert info.value.value == {"idle": idle, "max": peak}


def test_gpu_power_profile_valid_edges() -> None:
    assert GpuPowerProfile(idle_w=0.0, max_w=300.0).idle_w == 0.0
    same = GpuPowerProfile(idle_w=300.0, max_w=300.0)
    assert (same.idle_w, same.max_w) == (300.0, 300.0)


def window(start_h: float, end_h: float, kw: float) -> PowerCapWindow:
    return PowerCapWindow(T0 + timedelta(hours=start_h), T0 + timedelta(hours=end_h), kw)


def test_site_power_cap_none_is_infinite() -> None:
    assert SitePowerCap().kw_at(hours(0, 5, 100)).tolist() == [math.inf] * 3


def test_site_power_cap_constant_default() -> None:
    assert SitePowerCap(default_kw=60.0).kw_at(hours(0, 1)).tolist() == [60.0, 60.0]


def test_site_power_cap_overlapping_windows_lowest_wins() -> None:
    cap = SitePowerCap(default_kw=100.0, windows=(window(0, 6, 50.0), window(3, 9, 30.0)))
    times = hours(0, 2, 3, 5, 6, 8, 9, 12)
    assert cap.kw_at(times).tolist() == [50.0, 50.0, 30.0, 30.0, 30.0, 30.0, 100.0, 100.0]


def test_site_power_cap_windows_without_default() -> None:
    cap = SitePowerCap(windows=(window(1, 2, 40.0), window(1, 3, 45.0)))
    assert cap.kw_at(hours(0, 1, 2, 3)).tolist() == [math.inf, 40.0, 45.0, math.inf]


def test_site_power_cap_window_above_default_does_not_raise_it() -> None:
    cap = SitePowerCap(default_kw=20.0, windows=(window(0, 2, 80.0),))
    assert cap.kw_at(hours(0, 1, 2)).tolist() == [20.0, 20.0, 20.0]


def test_site_power_cap_zero_kw_window() -> None:
    cap = SitePowerCap(windows=(window(1, 2, 0.0),))
    assert cap.kw_at(hours(0, 1)).tolist() == [math.inf, 0.0]


def test_power_cap_window_invalid() -> None:
    with pytest.raises(ConfigError) as info:
        window(2, 2, 10.0)
    assert info.value.field == "power_cap_kw.windows"
    with pytest.raises(ConfigError) as info:
        window(3, 2, 10.0)
    assert "ends before it starts" in str(info.value)
    with pytest.raises(ConfigError) as info:
        window(0, 1, -5.0)
    assert info.value.field == "power_cap_kw.windows.kw"
    assert info.value.value == -5.0
    with pytest.raises(ConfigError) as info:
        PowerCapWindow(datetime(2022, 1, 1), T0 + timedelta(hours=1), 5.0)
    assert info.value.field == "power_cap_kw.windows.start"


def test_power_cap_window_converts_to_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    w = PowerCapWindow(datetime(2022, 1, 1, 2, tzinfo=plus_two), T0 + timedelta(hours=1), 5.0)
    assert w.start == T0
    assert w.start.tzinfo is UTC


def test_tariff_wholesale_adds_adder_and_keeps_negative_prices() -> None:
    tariff = Tariff(TariffKind.WHOLESALE, adder_usd_per_mwh=25.0)
    prices = tariff.price_usd_per_mwh(np.array([-50.0, 0.0, 80.5, -200.0]))
    assert prices.tolist() == [-25.0, 25.0, 105.5, -175.0]
    assert tariff.needs_price_signal


def test_tariff_wholesale_without_adder_passes_negative_through() -> None:
    prices = Tariff(TariffKind.WHOLESALE).price_usd_per_mwh(np.array([-120.0, 45.0]))
    assert prices.tolist() == [-120.0, 45.0]


def test_tariff_fixed_ignores_wholesale() -> None:
    tariff = Tariff(TariffKind.FIXED, fixed_usd_per_mwh=120.0, adder_usd_per_mwh=25.0)
    prices = tariff.price_usd_per_mwh(np.array([-50.0, 500.0, math.nan]))
    assert prices.tolist() == [120.0, 120.0, 120.0]
    grid = tariff.price_usd_per_mwh(np.zeros((2, 3)))
    assert grid.shape == (2, 3)
    assert bool(np.all(grid == 120.0))
    assert not tariff.needs_price_signal


# --- jobs --------------------------------------------------------------------------------------

SUBMITTED = datetime(2026, 11, 26, 8, tzinfo=UTC)


def job(**over: object) -> Job:
    fields: dict[str, object] = {
        "id": "j1",
        "name": "finetune",
        "gpus": 8,
        "duration_s": 6 * HOUR,
        "submitted_at": SUBMITTED,
        "deadline": SUBMITTED + timedelta(hours=24),
    }
    fields.update(over)
    return Job(**fields)  # type: ignore[arg-type]


def test_job_numbers_without_levers() -> None:
    j = job()
    assert j.release == SUBMITTED
    assert j.min_duration_s == 6 * HOUR
    assert j.earliest_finish == datetime(2026, 11, 26, 14, tzinfo=UTC)
    assert j.slack_s == 18 * HOUR


def test_job_numbers_with_earliest_start_and_elastic() -> None:
    # DESIGN.md §3.3: 8 GPUs for 6 h, elastic 4..16, start 12:00, deadline 09:00 the next day
    j = job(
        earliest_start=datetime(2026, 11, 26, 12, tzinfo=UTC),
        deadline=datetime(2026, 11, 27, 9, tzinfo=UTC),
        elastic=Elastic(min_gpus=4, max_gpus=16),
    )
    assert j.release == datetime(2026, 11, 26, 12, tzinfo=UTC)
    # 16 GPUs run 16 x (0.92 - 0.005 x log2(2)) = 14.64 GPU-equivalents against 8: x1.83
    assert j.min_duration_s == pytest.approx(21600 / 1.83)
    assert j.min_duration_s == pytest.approx(11803.2787, abs=1e-3)
    assert j.slack_s == pytest.approx(21 * HOUR - 21600 / 1.83)
    expected_finish = datetime(2026, 11, 26, 12, tzinfo=UTC) + timedelta(seconds=21600 / 1.83)
    assert abs((j.earliest_finish - expected_finish).total_seconds()) < 1e-3


def test_job_earliest_start_in_the_past_releases_at_submission() -> None:
    j = job(earliest_start=SUBMITTED - timedelta(days=3))
    assert j.release == SUBMITTED
    assert j.slack_s == 18 * HOUR


def test_job_converts_times_to_utc() -> None:
    plus_one = timezone(timedelta(hours=1))
    j = job(deadline=datetime(2026, 11, 27, 10, tzinfo=plus_one))
    assert j.deadline == datetime(2026, 11, 27, 9, tzinfo=UTC)
    assert j.deadline.utcoffset() == timedelta(0)


@pytest.mark.parametrize("field", ["submitted_at", "deadline", "earliest_start"])
def test_job_rejects_naive_times(field: str) -> None:
    naive = {
        "submitted_at": datetime(2026, 11, 26, 8),
        "deadline": datetime(2026, 11, 27, 8),
        "earliest_start": datetime(2026, 11, 26, 9),
    }[field]
    with pytest.raises(ConfigError) as info:
        job(**{field: naive})
    assert info.value.field == field
    assert info.value.value == naive.isoformat()
    assert "no zone" in str(info.value)


@pytest.mark.parametrize("gpus", [0, -4])
def test_job_needs_a_gpu(gpus: int) -> None:
    with pytest.raises(ConfigError) as info:
        job(gpus=gpus)
    assert info.value.field == "resources.gpus"
    assert info.value.value == gpus


@pytest.mark.parametrize("duration", [0.0, -60.0, math.nan])
def test_job_duration_must_be_positive(duration: float) -> None:
    with pytest.raises(ConfigError) as info:
        job(duration_s=duration)
    assert info.value.field == "duration"


def test_job_watts_per_gpu_must_be_positive() -> None:
    assert job(watts_per_gpu=550.0).watts_per_gpu == 550.0
    with pytest.raises(ConfigError) as info:
        job(watts_per_gpu=0.0)
    assert info.value.field == "power.watts_per_gpu"


def test_job_zone_allow_list_is_checked() -> None:
    assert job(zones=("DE-LU", "GB")).zones == ("DE-LU", "GB")
    with pytest.raises(ConfigError) as info:
        job(zones=("DE-LU", "germany"))
    assert info.value.field == "placement.zones"
    assert info.value.value == "germany"


def test_elastic_bounds() -> None:
    with pytest.raises(ConfigError) as info:
        Elastic(min_gpus=0, max_gpus=4)
    assert info.value.field == "elastic.min_gpus"
    assert info.value.value == 0
    with pytest.raises(ConfigError) as info:
        Elastic(min_gpus=8, max_gpus=4)
    assert info.value.field == "elastic"
    assert info.value.value == {"min_gpus": 8, "max_gpus": 4}
    assert Elastic(min_gpus=4, max_gpus=4).max_gpus == 4


@pytest.mark.parametrize("gpus", [2, 32])
def test_job_gpus_outside_elastic_range(gpus: int) -> None:
    with pytest.raises(ConfigError) as info:
        job(gpus=gpus, elastic=Elastic(min_gpus=4, max_gpus=16))
    assert info.value.field == "resources.gpus"
    assert info.value.value == gpus
    assert info.value.accepted == "4..16 (elastic range)"


def test_interruptible_overhead() -> None:
    assert Interruptible().checkpoint_overhead_s == 300.0
    assert Interruptible(0.0).checkpoint_overhead_s == 0.0
    with pytest.raises(ConfigError) as info:
        Interruptible(-1.0)
    assert info.value.field == "interruptible.checkpoint_overhead"


def test_job_deadline_at_earliest_finish_is_feasible() -> None:
    j = job(deadline=SUBMITTED + timedelta(hours=6))
    assert j.slack_s == 0.0


def test_job_deadline_before_earliest_finish() -> None:
    deadline = SUBMITTED + timedelta(hours=6) - timedelta(seconds=1)
    with pytest.raises(ConfigError) as info:
        job(deadline=deadline)
    err = info.value
    assert err.field == "deadline"
    assert err.value == "2026-11-26T13:59:59Z"
    assert "2026-11-26T14:00:00Z" in err.detail


def test_job_deadline_counts_from_earliest_start() -> None:
    # 6 h fit between submission and deadline, but not after the earliest start
    with pytest.raises(ConfigError) as info:
        job(
            earliest_start=SUBMITTED + timedelta(hours=20),
            deadline=SUBMITTED + timedelta(hours=24),
        )
    assert info.value.field == "deadline"
    assert "2026-11-27T10:00:00Z" in info.value.detail  # 04:00 next day + 6 h
    assert "2026-11-27T04:00:00Z" in info.value.detail


def test_job_elastic_speed_up_makes_a_tight_deadline_feasible() -> None:
    tight = SUBMITTED + timedelta(hours=4)
    with pytest.raises(ConfigError):
        job(deadline=tight)
    j = job(deadline=tight, elastic=Elastic(min_gpus=8, max_gpus=16))
    assert j.slack_s == pytest.approx(4 * HOUR - 21600 / 1.83)
    # but not one that even 16 GPUs cannot meet (3 h 16 m 43 s)
    with pytest.raises(ConfigError) as info:
        job(deadline=SUBMITTED + timedelta(hours=3), elastic=Elastic(min_gpus=8, max_gpus=16))
    assert "at max GPUs" in info.value.detail


def test_job_env_is_read_only() -> None:
    env = {"WANDB_MODE": "offline"}
    j = job(env=env)
    env["WANDB_MODE"] = "online"
    assert dict(j.env) == {"WANDB_MODE": "offline"}
    with pytest.raises(TypeError):
        j.env["X"] = "1"  # type: ignore[index]


# --- power models ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ratio", "throughput"),
    [
        (0.4, 0.40),
        (0.5, 0.61),
        (0.7, 0.84),
        (0.45, 0.505),
        (1.0, 0.98),
        (1.05, 0.99),
        (1.1, 1.0),
        (1.5, 1.0),
        (10.0, 1.0),
    ],
)
def test_capped_throughput(ratio: float, throughput: float) -> None:
    assert capped_throughput(ratio) == pytest.approx(throughput, abs=1e-12)


@pytest.mark.parametrize("ratio", [0.39, 0.0, -1.0])
def test_capped_throughput_below_range_raises(ratio: float) -> None:
    with pytest.raises(ValueError, match=r">= 0\.4"):
        capped_throughput(ratio)


def test_capped_throughput_is_monotone() -> None:
    ratios = np.linspace(0.4, 1.5, 111)
    values = [capped_throughput(float(r)) for r in ratios]
    assert all(b >= a for a, b in itertools.pairwise(values))
    assert values[0] == pytest.approx(0.4)
    assert values[-1] == 1.0


def test_elastic_speedup_points() -> None:
    assert elastic_speedup(8, 8) == 1.0
    assert elastic_speedup(16, 8) == pytest.approx(1.83)
    assert elastic_speedup(4, 8) == pytest.approx(0.5)
    assert elastic_speedup(8, 16) == pytest.approx(1 / 1.83)
    assert elastic_speedup(1, 1) == 1.0
    # inside one node scaling is linear
    assert elastic_speedup(8, 1) == pytest.approx(8.0)
    # 512 GPUs: 512 x (0.92 - 0.005 x log2(64)) = 455.68 against 8
    assert elastic_speedup(512, 8) == pytest.approx(455.68 / 8)


@pytest.mark.parametrize("base", [1, 8, 12])
def test_elastic_speedup_monotone_non_decreasing(base: int) -> None:
    values = [elastic_speedup(n, base) for n in range(1, 513)]
    assert all(b >= a for a, b in itertools.pairwise(values))
    assert values[base - 1] == pytest.approx(1.0)


# --- objective ---------------------------------------------------------------------------------


def test_objective_defaults_and_describe() -> None:
    assert Objective().mode is ObjectiveMode.COMBINED
    assert Objective().carbon_price_usd_per_tonne == 100.0
    assert Objective().describe() == "cost + carbon at $100/t"
    assert Objective(carbon_price_usd_per_tonne=0.0).describe() == "cost + carbon at $0/t"
    assert Objective(mode=ObjectiveMode.CARBON).describe() == "carbon only"
    assert Objective(mode=ObjectiveMode.COST).describe() == "cost only"


def test_objective_negative_carbon_price() -> None:
    with pytest.raises(ConfigError) as info:
        Objective(carbon_price_usd_per_tonne=-1.0)
    assert info.value.field == "objective.carbon_price_usd_per_tonne"
    assert info.value.value == -1.0


# --- ConfigError formatting --------------------------------------------------------------------


def test_config_error_is_a_user_error() -> None:
    err = ConfigError("bad")
    assert isinstance(err, UserError)
    assert isinstance(err, GridshiftError)
    assert err.one_line() == "bad"
    assert (err.source, err.field, err.value, err.accepted, err.hint) == (
        None,
        None,
        None,
        None,
        None,
    )


def test_config_error_one_line_names_everything() -> None:
    err = ConfigError(
        "unknown executor",
        source="site/gridshift.yaml",
        field="clusters[0].executor",
        value="nomad",
        accepted="local, slurm, ray, kubernetes",
    )
    assert str(err) == "site/gridshift.yaml: clusters[0].executor: unknown executor (got 'nomad')"
    assert err.one_line() == (
        "site/gridshift.yaml: clusters[0].executor: unknown executor (got 'nomad')"
        " — accepted: local, slurm, ray, kubernetes"
    )
    assert "\n" not in err.one_line()
    assert err.detail == "unknown executor"


def test_config_error_numbers_and_empty_values() -> None:
    assert str(ConfigError("PUE out of range", field="pue", value=0.9)) == (
        "pue: PUE out of range (got 0.9)"
    )
    assert str(ConfigError("zero", field="gpus", value=0)) == "gpus: zero (got 0)"
    assert str(ConfigError("missing", source="a.yaml", value=None)) == "a.yaml: missing"
    assert str(ConfigError("empty", source="a.yaml", value="")) == "a.yaml: empty"


def test_config_error_long_value_is_cut() -> None:
    err = ConfigError("too long", value="x" * 500)
    got = str(err).split("(got ", 1)[1]
    assert len(got) <= 81  # 80 characters of the repr and the closing parenthesis
    assert got.startswith("'xxxx")


def test_config_error_custom_hint_wins_over_accepted() -> None:
    err = ConfigError("m", field="f", accepted="a, b", hint="try c")
    assert err.one_line() == "f: m — try c"
    assert err.accepted == "a, b"


def test_config_error_at_relocates() -> None:
    inner = ConfigError("negative GPU count", field="gpus", value=-1, accepted="a number >= 0")
    moved = inner.at("conf/gridshift.yaml", "clusters[2]")
    assert moved is not inner
    assert isinstance(moved, ConfigError)
    assert moved.source == "conf/gridshift.yaml"
    assert moved.field == "clusters[2].gpus"
    assert moved.value == -1
    assert moved.accepted == "a number >= 0"
    assert moved.one_line() == (
        "conf/gridshift.yaml: clusters[2].gpus: negative GPU count (got -1)"
        " — accepted: a number >= 0"
    )
    # the original is untouched
    assert inner.source is None
    assert inner.field == "gpus"


def test_config_error_at_without_prefix_or_field() -> None:
    assert ConfigError("m", field="deadline").at("job.yaml").field == "deadline"
    assert ConfigError("m").at("job.yaml", "clusters[0]").field == "clusters[0]"
    bare = ConfigError("m").at("job.yaml")
    assert bare.field is None
    assert str(bare) == "job.yaml: m"
    hinted = ConfigError("m", field="x", hint="do y").at("s.yaml", "p")
    assert hinted.one_line() == "s.yaml: p.x: m — do y"
