"""Unit tests for the signal importers and for ``validate.build_series``.

Every importer is driven through ``import_file`` with ``ImportOptions``, on the real files in
``tests/data`` and on small hand-written files whose expected results are known exactly.
"""

from __future__ import annotations

import gzip
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gridshift.domain import (
    ConfigError,
    GridshiftError,
    Quality,
    Series,
    SignalDataError,
    SignalKind,
)
from gridshift.signals import parquet_format
from gridshift.signals.importers import KINDS, READERS, ImportOptions, import_file
from gridshift.signals.validate import Issue, RawPoints, build_series

DATA = Path(__file__).parent / "data"
DE_CARBON = DATA / "DE-LU_2022_hourly.csv.gz"
GB_CARBON = DATA / "GB_2022_hourly.csv.gz"
DE_PRICES = DATA / "DE-LU_electricity_prices_2022.csv.gz"
CISO_PRICES = DATA / "US-CAL-CISO_electricity_prices_2022.csv.gz"
WATTTIME = DATA / "watttime_example.csv.gz"
SOLAR = DATA / "solar_example.csv.gz"

EM_HEADER = (
    "Datetime (UTC),Country,Zone Name,Zone Id,Carbon Intensity gCO₂eq/kWh (direct),"
    "Carbon Intensity gCO₂eq/kWh (LCA),Low Carbon Percentage,Renewable Percentage,"
    "Data Source,Data Estimated,Data Estimation Method"
)
LB_TO_G = 0.45359237
SOLAR_START = datetime(2023, 6, 8, tzinfo=UTC)


def np_time(text: str) -> np.datetime64:
    return np.datetime64(text, "s")


def text_of(path: Path) -> str:
    return gzip.decompress(path.read_bytes()).decode("utf-8")


def by_code(issues: list[Issue]) -> dict[str, Issue]:
    codes = [i.code for i in issues]
    assert len(codes) == len(set(codes)), f"an issue code is reported twice: {codes}"
    return {i.code: i for i in issues}


def opts(kind: SignalKind = SignalKind.CARBON, **kw: object) -> ImportOptions:
    kw.setdefault("zone", "DE-LU")
    return ImportOptions(kind=kind, **kw)  # type: ignore[arg-type]


def csv_import(
    text: str, kind: SignalKind = SignalKind.CARBON, **kw: object
) -> tuple[Series, list[Issue]]:
    """Import a small generic CSV given as text (unit g_per_kwh unless said otherwise)."""
    if kind in (SignalKind.CARBON, SignalKind.MARGINAL):
        kw.setdefault("unit", "g_per_kwh")
    return import_file(text.encode(), opts(kind, format="csv", **kw))


def hourly_csv(values: list[str], start: str = "2022-01-01T00:00:00Z") -> str:
    t0 = datetime.fromisoformat(start)
    rows = [
        f"{(t0 + timedelta(hours=i)).strftime('%Y-%m-%dT%H:%M:%SZ')},{v}"
        for i, v in enumerate(values)
    ]
    return "time,value\n" + "\n".join(rows) + "\n"


def raw_points(times: list[object], values: list[object], unit: str = "g_per_kwh") -> RawPoints:
    return RawPoints(
        times=pd.Series(times, dtype=object),
        values=pd.Series(values, dtype=object),
        rows=np.arange(2, len(times) + 2, dtype=np.int64),
        unit=unit,
        naive_times="utc",
    )


def assert_invariants(series: Series) -> None:
    assert series.times.dtype == np.dtype("datetime64[s]")
    assert bool(np.all(np.diff(series.times.astype(np.int64)) > 0))
    assert len(series.values) == len(series.times) == len(series.quality)
    np.testing.assert_array_equal(np.isnan(series.values), series.quality == Quality.MISSING)


# --------------------------------------------------------------------------------------------
# Electricity Maps
# --------------------------------------------------------------------------------------------


def test_electricitymaps_de_lu_carbon_full_year() -> None:
    series, issues = import_file(DE_CARBON, opts(format="electricitymaps"))
    assert_invariants(series)
    assert len(series) == 8760
    assert series.step_s == 3600
    assert series.times[0] == np_time("2022-01-01T00:00:00")
    assert series.times[-1] == np_time("2022-12-31T23:00:00")
    assert series.end == datetime(2023, 1, 1, tzinfo=UTC)
    assert series.unit == "g_per_kwh"
    assert series.zone == "DE-LU"
    assert series.kind is SignalKind.CARBON
    assert series.values[0] == pytest.approx(163.46)
    assert series.values[1] == pytest.approx(166.66)
    assert series.values[-1] == pytest.approx(157.03)
    assert bool(np.all(series.quality == Quality.OK))
    assert series.source == str(DE_CARBON)
    # The export labels the zone "DE"; we asked for DE-LU: noted, not refused.
    issues_by = by_code(issues)
    assert set(issues_by) == {"zone_label"}
    assert issues_by["zone_label"].severity == "info"
    assert issues_by["zone_label"].count == 8760
    assert "DE" in issues_by["zone_label"].message


def test_electricitymaps_gb_carbon_has_no_issues() -> None:
    series, issues = import_file(GB_CARBON, opts(format="electricitymaps", zone="GB"))
    assert issues == []
    assert len(series) == 8760
    assert series.step_s == 3600
    assert series.values[0] == pytest.approx(52.2)
    assert series.values[-1] == pytest.approx(62.81)


def test_electricitymaps_lca_column_by_value_column() -> None:
    series, _ = import_file(
        GB_CARBON,
        opts(format="electricitymaps", zone="GB", value_column="Carbon Intensity gCO2eq/kWh (LCA)"),
    )
    # "gCO2" finds the "gCO₂" column: names are matched ignoring the subscript.
    assert series.values[0] == pytest.approx(89.98)
    assert series.values[-1] == pytest.approx(91.43)


def test_electricitymaps_renewable_percent_becomes_fraction() -> None:
    series, _ = import_file(
        GB_CARBON, opts(SignalKind.RENEWABLE, format="electricitymaps", zone="GB")
    )
    assert series.unit == "fraction"
    assert series.values[0] == pytest.approx(0.6039)
    assert series.values[-1] == pytest.approx(0.5991)
    assert float(np.nanmax(series.values)) <= 1.0


def test_electricitymaps_path_gzip_bytes_and_plain_bytes_agree() -> None:
    options = opts(format="electricitymaps")
    from_path, _ = import_file(DE_CARBON, options)
    from_gzip, _ = import_file(DE_CARBON.read_bytes(), options)
    from_plain, _ = import_file(text_of(DE_CARBON).encode(), options, label="plain.csv")
    for other in (from_gzip, from_plain):
        np.testing.assert_array_equal(other.times, from_path.times)
        np.testing.assert_array_equal(other.values, from_path.values)
    assert from_gzip.source == "<data>"
    assert from_plain.source == "plain.csv"


def test_electricitymaps_estimated_rows_get_estimated_quality() -> None:
    text = (
        EM_HEADER
        + "\n2022-01-01 00:00:00,Germany,Germany,DE-LU,100,150,1,2,entsoe.eu,false,"
        + "\n2022-01-01 01:00:00,Germany,Germany,DE-LU,110,150,1,2,entsoe.eu,true,TIME_SLICER"
        + "\n2022-01-01 02:00:00,Germany,Germany,DE-LU,120,150,1,2,entsoe.eu,false,\n"
    )
    series, issues = import_file(text.encode(), opts(format="electricitymaps"))
    assert list(series.quality) == [Quality.OK, Quality.ESTIMATED, Quality.OK]
    est = by_code(issues)["estimated"]
    assert est.severity == "info"
    assert est.count == 1
    assert est.locations == ("2022-01-01T01:00:00Z",)
    assert "zone_label" not in by_code(issues)  # the file's label matches the zone asked for


def test_electricitymaps_without_time_column_is_refused() -> None:
    text = "when,Carbon Intensity gCO₂eq/kWh (direct)\n2022-01-01,1\n2022-01-02,2\n"
    with pytest.raises(SignalDataError, match="not an Electricity Maps export"):
        import_file(text.encode(), opts(format="electricitymaps"))


def test_electricitymaps_wrong_value_column_suggests_the_close_one() -> None:
    with pytest.raises(ConfigError) as info:
        import_file(DE_CARBON, opts(format="electricitymaps", value_column="Renewable Percentag"))
    assert info.value.field == "value_column"
    assert info.value.value == "Renewable Percentag"
    assert "did you mean 'Renewable Percentage'" in (info.value.accepted or "")
    assert "did you mean" in info.value.one_line()


def test_electricitymaps_cannot_carry_prices() -> None:
    with pytest.raises(ConfigError) as info:
        import_file(DE_CARBON, opts(SignalKind.PRICE, format="electricitymaps"))
    assert info.value.field == "kind"
    assert info.value.value == "price"
    assert info.value.accepted == "carbon, renewable"


# --------------------------------------------------------------------------------------------
# Generic CSV
# --------------------------------------------------------------------------------------------


def test_csv_de_lu_prices_unit_from_column_name_and_negative_prices_kept() -> None:
    series, issues = import_file(DE_PRICES, opts(SignalKind.PRICE))
    assert_invariants(series)
    assert len(series) == 8760
    assert series.step_s == 3600
    assert series.unit == "usd_per_mwh"
    assert series.times[0] == np_time("2022-01-01T00:00:00")
    assert series.times[-1] == np_time("2022-12-31T23:00:00")
    assert series.values[0] == pytest.approx(49.23737159999999)
    assert series.values[-1] == pytest.approx(-0.9429350000012647)
    negative = by_code(issues)["negative_price"]
    assert negative.severity == "info"
    assert negative.count == 70 == int(np.sum(series.values < 0))
    assert negative.locations[0] == "2022-01-03T01:00:00Z"
    assert len(negative.locations) == 5
    assert bool(np.all(series.quality == Quality.OK))  # negative prices are valid, not missing
    assert [i.code for i in issues] == ["negative_price"]


def test_csv_ciso_prices() -> None:
    series, issues = import_file(CISO_PRICES, opts(SignalKind.PRICE, zone="US-CAL-CISO"))
    assert len(series) == 8760
    assert series.values[0] == pytest.approx(75.141955)
    assert series.values[-1] == pytest.approx(111.02772999999976)
    assert by_code(issues)["negative_price"].count == 36


def test_csv_local_column_with_offsets_gives_the_same_instants() -> None:
    utc, _ = import_file(DE_PRICES, opts(SignalKind.PRICE))
    local, _ = import_file(
        DE_PRICES,
        opts(SignalKind.PRICE, time_column="Datetime (Local)", value_column="Price (USD/MWh)"),
    )
    np.testing.assert_array_equal(local.times, utc.times)
    np.testing.assert_array_equal(local.values, utc.values)


def test_csv_naive_local_times_with_timezone_berlin_cross_both_clock_changes() -> None:
    """The local column stripped of its offsets, read with timezone=Europe/Berlin."""
    lines = text_of(DE_PRICES).splitlines()[1:]
    rows = [line.split(",") for line in lines]
    text = "time,Price (USD/MWh)\n" + "\n".join(f"{r[1][:19]},{r[2]}" for r in rows) + "\n"
    assert "2022-03-27 02:00:00" not in text  # the hour that does not exist in Berlin
    assert text.count("2022-10-30 02:00:00") == 2  # the hour that happens twice
    local, issues = import_file(text.encode(), opts(SignalKind.PRICE, timezone="Europe/Berlin"))
    utc, _ = import_file(DE_PRICES, opts(SignalKind.PRICE))
    np.testing.assert_array_equal(local.times, utc.times)
    np.testing.assert_array_equal(local.values, utc.values)
    assert "dst" not in by_code(issues)
    assert "gap" not in by_code(issues)


def test_csv_timezone_berlin_localises_winter_and_summer() -> None:
    text = "time,value\n2022-01-15 01:00:00,10\n2022-01-15 02:00:00,11\n2022-07-01 02:00:00,12\n"
    series, _ = csv_import(text, timezone="Europe/Berlin")
    assert list(series.times) == [
        np_time("2022-01-15T00:00:00"),  # CET = UTC+1
        np_time("2022-01-15T01:00:00"),
        np_time("2022-07-01T00:00:00"),  # CEST = UTC+2
    ]


def test_csv_naive_times_are_rejected_unless_utc_is_said() -> None:
    text = "time,value\n2022-01-01 00:00:00,10\n2022-01-01 01:00:00,11\n"
    with pytest.raises(SignalDataError) as info:
        csv_import(text)
    assert "have no zone" in info.value.message
    assert "'2022-01-01 00:00:00' at row 2" in info.value.message
    assert info.value.rows == (2, 3)
    assert "--timezone" in (info.value.hint or "")

    utc_named, _ = csv_import(text.replace("time,", "time (UTC),"))
    given, _ = csv_import(text, timezone="UTC")
    for series in (utc_named, given):
        assert list(series.times) == [
            np_time("2022-01-01T00:00:00"),
            np_time("2022-01-01T01:00:00"),
        ]


def test_csv_times_with_offsets_and_z_need_no_timezone() -> None:
    text = "time,value\n2022-01-01T01:00:00+01:00,10\n2022-01-01T01:00:00Z,11\n"
    series, _ = csv_import(text)
    assert list(series.times) == [np_time("2022-01-01T00:00:00"), np_time("2022-01-01T01:00:00")]


def test_csv_unix_seconds() -> None:
    text = "time,value\n1640995200,10\n1640998800,11\n1641002400.0,12\n"
    series, issues = csv_import(text)
    assert series.step_s == 3600
    assert series.times[0] == np_time("2022-01-01T00:00:00")
    assert series.times[-1] == np_time("2022-01-01T02:00:00")
    assert list(series.values) == [10.0, 11.0, 12.0]
    assert issues == []


def test_csv_unit_conversion_usd_per_kwh_and_percent() -> None:
    price, _ = csv_import(hourly_csv(["0.05", "0.1"]), SignalKind.PRICE, unit="usd_per_kwh")
    assert price.unit == "usd_per_mwh"
    assert list(price.values) == pytest.approx([50.0, 100.0])
    share, _ = csv_import(hourly_csv(["25", "100"]), SignalKind.RENEWABLE, unit="percent")
    assert share.unit == "fraction"
    assert list(share.values) == pytest.approx([0.25, 1.0])
    in_name = hourly_csv(["25", "50"]).replace("value", "Renewable share (%)")
    share2, _ = csv_import(in_name, SignalKind.RENEWABLE)
    assert list(share2.values) == pytest.approx([0.25, 0.5])


def test_csv_unit_wrong_for_kind_names_the_field() -> None:
    with pytest.raises(ConfigError) as info:
        import_file(DE_PRICES, opts(SignalKind.PRICE, unit="g_per_kwh"))
    assert info.value.field == "unit"
    assert info.value.value == "g_per_kwh"
    assert "usd_per_mwh" in (info.value.accepted or "")
    assert "not valid for a price signal" in info.value.message


def test_csv_unit_in_column_name_wrong_for_kind_is_not_used() -> None:
    # "Price (USD/MWh)" says a price unit; a carbon signal cannot take it, and none was given.
    with pytest.raises(ConfigError) as info:
        import_file(DE_PRICES, opts(SignalKind.CARBON))
    assert info.value.field == "unit"
    assert "Price (USD/MWh)" in info.value.message


def test_csv_wrong_column_says_did_you_mean() -> None:
    with pytest.raises(ConfigError) as info:
        import_file(DE_PRICES, opts(SignalKind.PRICE, value_column="Price (USD/MW)"))
    assert info.value.field == "value_column"
    assert "did you mean 'Price (USD/MWh)'?" in (info.value.accepted or "")
    with pytest.raises(ConfigError) as info:
        import_file(DE_PRICES, opts(SignalKind.PRICE, time_column="Datetime (UTX)"))
    assert info.value.field == "time_column"
    assert "did you mean 'Datetime (UTC)'?" in (info.value.accepted or "")


def test_csv_column_match_ignores_case_and_spacing() -> None:
    series, _ = import_file(
        DE_PRICES,
        opts(SignalKind.PRICE, time_column="datetime  (utc)", value_column="price (usd/mwh)"),
    )
    assert len(series) == 8760


def test_csv_several_value_columns_must_be_named() -> None:
    text = "time (UTC),a,b\n2022-01-01 00:00,1,2\n2022-01-01 01:00,1,2\n"
    with pytest.raises(ConfigError) as info:
        csv_import(text)
    assert info.value.field == "value_column"
    assert "'a', 'b'" in (info.value.accepted or "")
    series, _ = csv_import(text, value_column="b")
    assert list(series.values) == [2.0, 2.0]


def test_csv_time_column_ambiguous_must_be_named() -> None:
    text = "start time,end time,value\n2022-01-01T00:00Z,2022-01-01T01:00Z,1\n"
    with pytest.raises(ConfigError) as info:
        csv_import(text)
    assert info.value.field == "time_column"


def test_unknown_format_lists_the_formats() -> None:
    with pytest.raises(ConfigError) as info:
        import_file(DE_PRICES, opts(SignalKind.PRICE, format="xlsx"))
    assert info.value.field == "format"
    assert info.value.value == "xlsx"
    assert info.value.accepted == "csv, electricitymaps, parquet, solar, watttime"
    assert info.value.accepted == ", ".join(sorted(READERS))


@pytest.mark.parametrize(
    ("fmt", "kind"),
    [(fmt, kind) for fmt in sorted(READERS) for kind in SignalKind if kind not in KINDS[fmt]],
)
def test_kind_the_format_cannot_carry_is_a_config_error(fmt: str, kind: SignalKind) -> None:
    with pytest.raises(ConfigError) as info:
        import_file(b"irrelevant", opts(kind, format=fmt))
    assert info.value.field == "kind"
    assert info.value.value == kind.value


def test_missing_file_is_a_signal_data_error(tmp_path: Path) -> None:
    with pytest.raises(SignalDataError, match="no such file"):
        import_file(tmp_path / "absent.csv", opts(SignalKind.PRICE))
    with pytest.raises(SignalDataError, match="is a directory"):
        import_file(tmp_path, opts(SignalKind.PRICE))


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"\xff\xfe\x00bad", "not UTF-8"),
        (b"time,value\n2022\x00,1\n", "NUL"),
        (b"\x1f\x8b\x08\x00garbage", "damaged gzip"),
        (b'time,value\n"2022-01-01,1\n', "not a readable CSV"),
        (
            b"time,value\n2022-01-01T00:00Z,1\n2022-01-01T01:00Z,1,2,3\n",
            "fields but the header has 2",
        ),
        (b"time,value\n", "no data rows"),
    ],
)
def test_unreadable_csv_is_a_signal_data_error(data: bytes, reason: str) -> None:
    with pytest.raises(SignalDataError, match=reason):
        import_file(data, opts(unit="g_per_kwh"))


# --------------------------------------------------------------------------------------------
# WattTime
# --------------------------------------------------------------------------------------------


def test_watttime_moer_converted_from_lbs_per_mwh() -> None:
    series, issues = import_file(
        WATTTIME, opts(SignalKind.MARGINAL, format="watttime", zone="US-CAL-CISO")
    )
    assert_invariants(series)
    assert issues == []
    assert len(series) == 8928
    assert series.step_s == 300
    assert series.unit == "g_per_kwh"
    assert series.times[0] == np_time("2023-06-08T00:00:00")
    assert series.times[-1] == np_time("2023-07-08T23:55:00")
    assert series.values[0] == pytest.approx(425.01605069 * LB_TO_G, rel=1e-12)
    assert series.values[-1] == pytest.approx(441.79896838 * LB_TO_G, rel=1e-12)


def test_watttime_unit_override_and_carbon_kind() -> None:
    series, _ = import_file(
        WATTTIME,
        opts(SignalKind.CARBON, format="watttime", zone="US-CAL-CISO", unit="g_per_kwh"),
    )
    assert series.kind is SignalKind.CARBON
    assert series.values[0] == pytest.approx(425.01605069, rel=1e-12)


def test_watttime_api_layout_takes_the_value_column() -> None:
    text = (
        "point_time,ba,value,frequency\n"
        "2023-06-08T00:00:00Z,CAISO_NORTH,1000,300\n"
        "2023-06-08T00:05:00Z,CAISO_NORTH,2000,300\n"
    )
    series, _ = import_file(text.encode(), opts(SignalKind.MARGINAL, format="watttime"))
    assert list(series.values) == pytest.approx([1000 * LB_TO_G, 2000 * LB_TO_G])
    assert series.step_s == 300


def test_watttime_with_a_single_column_is_refused() -> None:
    with pytest.raises(SignalDataError, match="needs a time column and a value column"):
        import_file(b"value\n1\n2\n", opts(SignalKind.MARGINAL, format="watttime"))


def test_watttime_unit_wrong_for_kind() -> None:
    with pytest.raises(ConfigError) as info:
        import_file(WATTTIME, opts(SignalKind.MARGINAL, format="watttime", unit="percent"))
    assert info.value.field == "unit"


# --------------------------------------------------------------------------------------------
# Solar profiles
# --------------------------------------------------------------------------------------------


def test_solar_profile_anchored_at_start() -> None:
    series, issues = import_file(
        SOLAR,
        opts(SignalKind.RENEWABLE, format="solar", value_column="Berlin", start=SOLAR_START),
    )
    assert_invariants(series)
    assert issues == []
    assert len(series) == 8352
    assert series.step_s == 300
    assert series.unit == "fraction"
    assert series.start == SOLAR_START
    assert series.times[-1] == np_time("2023-06-08T00:00:00") + np.timedelta64(2505300, "s")
    assert float(series.values.min()) >= 0.0
    assert float(series.values.max()) <= 1.0


def test_solar_start_in_another_zone_is_converted() -> None:
    start = datetime(2023, 6, 8, 2, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    series, _ = import_file(
        SOLAR, opts(SignalKind.RENEWABLE, format="solar", value_column="Sydney", start=start)
    )
    assert series.times[0] == np_time("2023-06-08T00:00:00")
    assert series.values[0] == pytest.approx(0.705352)


def test_solar_without_start_names_the_field() -> None:
    with pytest.raises(ConfigError) as info:
        import_file(SOLAR, opts(SignalKind.RENEWABLE, format="solar", value_column="Berlin"))
    assert info.value.field == "start"


def test_solar_naive_start_names_the_field() -> None:
    with pytest.raises(ConfigError) as info:
        import_file(
            SOLAR,
            opts(
                SignalKind.RENEWABLE,
                format="solar",
                value_column="Berlin",
                start=datetime(2023, 6, 8),
            ),
        )
    assert info.value.field == "start"


def test_solar_several_sites_need_value_column() -> None:
    with pytest.raises(ConfigError) as info:
        import_file(SOLAR, opts(SignalKind.RENEWABLE, format="solar", start=SOLAR_START))
    assert info.value.field == "value_column"
    assert "'São Paulo'" in (info.value.accepted or "")


def test_solar_single_site_and_bad_offsets() -> None:
    series, _ = import_file(
        b"time,Site\n0,0.5\n600,0.25\n",
        opts(SignalKind.RENEWABLE, format="solar", start=SOLAR_START),
    )
    assert series.step_s == 600
    assert list(series.values) == [0.5, 0.25]
    with pytest.raises(SignalDataError) as info:
        import_file(
            b"time,Site\n0,0.5\nsoon,0.25\n",
            opts(SignalKind.RENEWABLE, format="solar", start=SOLAR_START),
        )
    assert info.value.rows == (3,)


# --------------------------------------------------------------------------------------------
# Parquet
# --------------------------------------------------------------------------------------------


def _all_quality_series() -> Series:
    times = np.arange(
        np_time("2022-03-01T00:00:00"), np_time("2022-03-01T05:00:00"), np.timedelta64(3600, "s")
    )
    return Series(
        zone="DE-LU",
        kind=SignalKind.CARBON,
        unit="g_per_kwh",
        times=times,
        values=np.array([100.0, 110.5, 120.25, 130.0, np.nan]),
        quality=np.array(
            [Quality.OK, Quality.ESTIMATED, Quality.STALE, Quality.FALLBACK, Quality.MISSING],
            dtype=np.uint8,
        ),
        step_s=3600,
        source="test",
        attrs={"origin": "unit test"},
    )


def test_parquet_round_trip_keeps_every_quality_code(tmp_path: Path) -> None:
    series = _all_quality_series()
    path = tmp_path / "sub" / "s.parquet"
    parquet_format.write_series(series, path)
    assert path.exists()
    assert not path.with_suffix(".parquet.tmp").exists()
    back = parquet_format.read_series(path)
    np.testing.assert_array_equal(back.times, series.times)
    np.testing.assert_array_equal(back.values, series.values)
    np.testing.assert_array_equal(back.quality, series.quality)
    assert (back.zone, back.kind, back.unit, back.step_s) == (
        "DE-LU",
        SignalKind.CARBON,
        "g_per_kwh",
        3600,
    )
    assert back.source == "test"
    assert back.attrs == {"origin": "unit test"}


def test_parquet_read_series_refuses_other_files(tmp_path: Path) -> None:
    path = tmp_path / "plain.parquet"
    pq.write_table(pa.table({"time": [1, 2], "value": [1.0, 2.0]}), path)
    with pytest.raises(SignalDataError, match="not a gridshift series file"):
        parquet_format.read_series(path)
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"PAR1 not really")
    with pytest.raises(SignalDataError, match="not a readable Parquet file"):
        parquet_format.read_series(junk)


def test_import_own_parquet_file(tmp_path: Path) -> None:
    original, _ = import_file(DE_CARBON, opts(format="electricitymaps"))
    path = tmp_path / "de.parquet"
    parquet_format.write_series(original, path)
    for source in (path, path.read_bytes()):
        series, issues = import_file(source, opts(format="parquet"))
        np.testing.assert_array_equal(series.times, original.times)
        np.testing.assert_array_equal(series.values, original.values)
        assert series.step_s == 3600
        assert issues == []


def test_import_own_parquet_keeps_estimated_and_missing(tmp_path: Path) -> None:
    path = tmp_path / "q.parquet"
    parquet_format.write_series(_all_quality_series(), path)
    series, issues = import_file(path, opts(format="parquet", zone="GB"))
    # ESTIMATED and MISSING survive an import; STALE and FALLBACK describe a use, not the data.
    assert list(series.quality) == [
        Quality.OK,
        Quality.ESTIMATED,
        Quality.OK,
        Quality.OK,
        Quality.MISSING,
    ]
    found = by_code(issues)
    assert found["relabelled"].severity == "info"
    assert "DE-LU carbon" in found["relabelled"].message
    assert found["estimated"].count == 1
    assert found["nan"].count == 1


def test_import_other_parquet_table() -> None:
    frame = pd.DataFrame(
        {
            "Datetime (UTC)": pd.date_range("2022-06-01", periods=4, freq="h", tz="UTC"),
            "Price (USD/MWh)": [10.0, -2.0, 30.0, 40.0],
        }
    )
    buf = io.BytesIO()
    frame.to_parquet(buf)
    series, issues = import_file(buf.getvalue(), opts(SignalKind.PRICE, format="parquet"))
    assert series.unit == "usd_per_mwh"
    assert series.times[0] == np_time("2022-06-01T00:00:00")
    assert list(series.values) == [10.0, -2.0, 30.0, 40.0]
    assert by_code(issues)["negative_price"].count == 1


def test_import_parquet_naive_timestamps_need_a_zone() -> None:
    frame = pd.DataFrame(
        {
            "timestamp": pd.date_range("2022-06-01 02:00", periods=3, freq="h"),
            "value": [1.0, 2.0, 3.0],
        }
    )
    buf = io.BytesIO()
    frame.to_parquet(buf)
    with pytest.raises(SignalDataError, match="has no zone"):
        import_file(buf.getvalue(), opts(format="parquet", unit="g_per_kwh"))
    series, _ = import_file(
        buf.getvalue(), opts(format="parquet", unit="g_per_kwh", timezone="Europe/Berlin")
    )
    assert series.times[0] == np_time("2022-06-01T00:00:00")


def test_import_parquet_garbage_is_a_signal_data_error() -> None:
    with pytest.raises(SignalDataError, match="not a readable Parquet file"):
        import_file(b"definitely not parquet", opts(format="parquet"))


# --------------------------------------------------------------------------------------------
# build_series: the validation rules
# --------------------------------------------------------------------------------------------


def test_gaps_are_reported_with_counts_and_locations_and_not_filled() -> None:
    text = (
        "time,value\n"
        "2022-01-01T00:00:00Z,1\n"
        "2022-01-01T01:00:00Z,2\n"
        "2022-01-01T04:00:00Z,3\n"  # 02:00 and 03:00 missing
        "2022-01-01T05:00:00Z,4\n"
        "2022-01-01T07:00:00Z,5\n"  # 06:00 missing
        "2022-01-01T08:00:00Z,6\n"
    )
    series, issues = csv_import(text, zone="XX")
    assert len(series) == 6
    assert series.step_s == 3600
    gap = by_code(issues)["gap"]
    assert gap.count == 3
    assert gap.severity == "warning"
    assert gap.message.startswith("3 missing step(s) in 2 gap(s)")
    assert gap.locations == ("2022-01-01T02:00:00Z (2 step(s))", "2022-01-01T06:00:00Z (1 step(s))")


def test_duplicates_keep_the_first_and_say_when_values_conflict() -> None:
    text = (
        "time,value\n"
        "2022-01-01T00:00:00Z,1\n"
        "2022-01-01T01:00:00Z,2\n"
        "2022-01-01T01:00:00Z,99\n"
        "2022-01-01T02:00:00Z,3\n"
        "2022-01-01T02:00:00Z,3\n"
    )
    series, issues = csv_import(text)
    assert list(series.values) == [1.0, 2.0, 3.0]
    dup = by_code(issues)["duplicate"]
    assert dup.count == 2
    assert "1 with conflicting values" in dup.message
    assert "kept the first" in dup.message
    assert dup.locations == ("2022-01-01T01:00:00Z", "2022-01-01T02:00:00Z")


def test_duplicates_with_equal_values_are_not_called_conflicting() -> None:
    text = "time,value\n2022-01-01T00:00Z,1\n2022-01-01T00:00Z,1\n2022-01-01T01:00Z,2\n"
    _, issues = csv_import(text)
    dup = by_code(issues)["duplicate"]
    assert dup.count == 1
    assert "conflicting" not in dup.message


def test_non_monotonic_times_are_sorted_and_reported() -> None:
    text = (
        "time,value\n"
        "2022-01-01T02:00:00Z,3\n"
        "2022-01-01T00:00:00Z,1\n"  # row 3 goes backwards
        "2022-01-01T01:00:00Z,2\n"
        "2022-01-01T04:00:00Z,5\n"
        "2022-01-01T03:00:00Z,4\n"  # row 6 goes backwards
    )
    series, issues = csv_import(text)
    assert list(series.values) == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert series.times[0] == np_time("2022-01-01T00:00:00")
    nm = by_code(issues)["non_monotonic"]
    assert nm.count == 2
    assert nm.locations == ("row 3", "row 6")
    assert "gap" not in by_code(issues)


def test_nan_and_non_numeric_values_are_kept_as_missing() -> None:
    series, issues = csv_import(hourly_csv(["1", "abc", "", "NaN", "5", "inf", "7"]))
    assert len(series) == 7
    assert_invariants(series)
    missing = series.quality == Quality.MISSING
    assert list(missing) == [False, True, True, True, False, True, False]
    assert list(series.values[~missing]) == [1.0, 5.0, 7.0]
    found = by_code(issues)
    assert found["non_numeric"].count == 1  # "abc"; empty, NaN and inf are not "text"
    assert found["non_numeric"].locations == ("row 3",)
    assert found["nan"].count == 4
    assert found["nan"].locations[0] == "2022-01-01T01:00:00Z"


def test_negative_carbon_is_made_missing() -> None:
    series, issues = csv_import(hourly_csv(["100", "-5", "120", "-0.1"]))
    assert list(series.quality) == [Quality.OK, Quality.MISSING, Quality.OK, Quality.MISSING]
    assert np.isnan(series.values[1])
    out = by_code(issues)["out_of_range"]
    assert out.count == 2
    assert out.locations == ("2022-01-01T01:00:00Z", "2022-01-01T03:00:00Z")
    assert "made missing" in out.message
    assert by_code(issues)["nan"].count == 2


def test_renewable_fraction_above_one_is_made_missing() -> None:
    series, issues = csv_import(
        hourly_csv(["0.5", "1.5", "1.0"]), SignalKind.RENEWABLE, unit="fraction"
    )
    assert list(np.isnan(series.values)) == [False, True, False]
    assert by_code(issues)["out_of_range"].count == 1


def test_negative_prices_are_kept_with_an_info_issue() -> None:
    series, issues = csv_import(
        hourly_csv(["10", "-20.5", "0", "-1"]), SignalKind.PRICE, unit="usd_per_mwh"
    )
    assert list(series.values) == [10.0, -20.5, 0.0, -1.0]
    assert bool(np.all(series.quality == Quality.OK))
    neg = by_code(issues)["negative_price"]
    assert (neg.severity, neg.count) == ("info", 2)
    assert neg.locations == ("2022-01-01T01:00:00Z", "2022-01-01T03:00:00Z")


@pytest.mark.parametrize("kind", [SignalKind.CARBON, SignalKind.MARGINAL, SignalKind.PRICE])
def test_all_zero_values_are_refused(kind: SignalKind) -> None:
    unit = "usd_per_mwh" if kind is SignalKind.PRICE else "g_per_kwh"
    with pytest.raises(SignalDataError, match=f"all 3 values are 0.*no real {kind.value} data"):
        csv_import(hourly_csv(["0", "0.0", "", "0"]), kind, unit=unit)


def test_all_zero_renewable_is_accepted() -> None:
    series, _ = csv_import(hourly_csv(["0", "0"]), SignalKind.RENEWABLE, unit="fraction")
    assert list(series.values) == [0.0, 0.0]


@pytest.mark.parametrize(
    "values",
    [["5"], ["abc", "abc", "abc"], ["-1", "-2"]],
    ids=["one-point", "no-number", "none-valid"],
)
def test_unusable_values_are_refused(values: list[str]) -> None:
    with pytest.raises(SignalDataError):
        csv_import(hourly_csv(values))


def test_fewer_than_two_distinct_times_is_refused() -> None:
    with pytest.raises(SignalDataError, match="only 1 distinct time"):
        csv_import("time,value\n2022-01-01T00:00Z,1\n2022-01-01T00:00Z,2\n")
    with pytest.raises(SignalDataError, match="only 1 distinct time"):
        build_series(
            raw_points(["2022-01-01T00:00Z"], ["1"]), zone="GB", kind=SignalKind.CARBON, source="x"
        )


def test_unparseable_times_name_the_rows() -> None:
    text = "time,value\n2022-01-01T00:00Z,1\nyesterday,2\n2022-01-01T02:00Z,3\nlater,4\n"
    with pytest.raises(SignalDataError) as info:
        csv_import(text)
    assert info.value.rows == (3, 5)
    assert "'yesterday' at row 3" in info.value.message


def test_irregular_steps_are_reported() -> None:
    text = (
        "time,value\n2022-01-01T00:00Z,1\n2022-01-01T01:00Z,2\n2022-01-01T02:00Z,3\n"
        "2022-01-01T02:30Z,4\n2022-01-01T03:30Z,5\n"
    )
    series, issues = csv_import(text)
    assert series.step_s == 3600
    irregular = by_code(issues)["irregular"]
    # 02:00 -> 02:30 is half a step; 02:30 -> 03:30 is a whole one (offset, but a multiple).
    assert irregular.count == 1
    assert irregular.locations == ("2022-01-01T02:30:00Z",)


def test_build_series_directly_with_unix_seconds_and_unit_field() -> None:
    raw = RawPoints(
        times=pd.Series([1656633600, 1656637200, 1656640800]),
        values=pd.Series([1.0, 2.0, 3.0]),
        rows=np.array([2, 3, 4]),
        unit="t_per_mwh",
        naive_times="reject",
    )
    series, issues = build_series(raw, zone="DE-LU", kind=SignalKind.CARBON, source="x")
    assert series.times[0] == np_time("2022-07-01T00:00:00")
    assert list(series.values) == [1000.0, 2000.0, 3000.0]
    assert issues == []
    raw.unit = "usd_per_mwh"
    with pytest.raises(ConfigError) as info:
        build_series(
            raw, zone="DE-LU", kind=SignalKind.CARBON, source="x", unit_field="signals.unit"
        )
    assert info.value.field == "signals.unit"


def _local_labelled_as_utc(path: Path) -> str:
    """The DE-LU export with its UTC times replaced by Berlin wall-clock times, still 'UTC'."""
    lines = text_of(path).splitlines()
    berlin = ZoneInfo("Europe/Berlin")
    out = [lines[0]]
    for line in lines[1:]:
        stamp, rest = line.split(",", 1)
        utc = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        out.append(f"{utc.astimezone(berlin).strftime('%Y-%m-%d %H:%M:%S')},{rest}")
    return "\n".join(out) + "\n"


def test_dst_artefacts_of_local_time_labelled_as_utc() -> None:
    text = _local_labelled_as_utc(DE_CARBON)
    assert "2022-03-27 02:00:00" not in text
    assert text.count("\n2022-10-30 02:00:00,") == 2
    series, issues = import_file(text.encode(), opts(format="electricitymaps"))
    found = by_code(issues)
    dst = found["dst"]
    assert dst.severity == "warning"
    assert dst.count == 2
    assert "1 missing and 1 duplicated" in dst.message
    assert "Europe/Berlin" in dst.message
    assert dst.locations == ("2022-03-27T02:00:00Z", "2022-10-30T02:00:00Z")
    # The same artefacts are also reported as what they look like.
    assert found["gap"].count == 1
    assert found["gap"].locations == ("2022-03-27T02:00:00Z (1 step(s))",)
    assert found["duplicate"].count == 1
    assert len(series) == 8759
    assert series.times[0] == np_time("2022-01-01T01:00:00")
    assert series.times[-1] == np_time("2023-01-01T00:00:00")


def test_same_artefacts_in_a_zone_without_known_clock_changes_are_not_dst() -> None:
    text = _local_labelled_as_utc(DE_CARBON)
    _, issues = import_file(text.encode(), opts(format="electricitymaps", zone="XX"))
    found = by_code(issues)
    assert "dst" not in found
    assert found["gap"].count == 1
    assert found["duplicate"].count == 1


def test_real_utc_data_has_no_dst_issue() -> None:
    _, issues = import_file(GB_CARBON, opts(format="electricitymaps", zone="GB"))
    assert "dst" not in by_code(issues)


def test_issue_as_dict() -> None:
    issue = Issue("gap", "warning", 3, "3 missing", ("a", "b"))
    assert issue.as_dict() == {
        "code": "gap",
        "severity": "warning",
        "count": 3,
        "message": "3 missing",
        "locations": ["a", "b"],
    }


# --------------------------------------------------------------------------------------------
# Regressions: minimal reproductions of the bugs these tests found (fixed in 0f54705); a bug
# still open is a strict xfail, so that fixing it turns the test red until the mark goes.
# --------------------------------------------------------------------------------------------


def test_bug_unix_seconds_after_2262_in_a_zone_with_dst() -> None:
    with pytest.raises(GridshiftError):
        csv_import("time,value\n10000000000,1\n10000003600,2\n", zone="DE-LU")


def test_bug_solar_offsets_past_2262() -> None:
    with pytest.raises(GridshiftError):
        import_file(
            b"time,Berlin\n9000000000,0.1\n9000000300,0.2\n",
            opts(SignalKind.RENEWABLE, format="solar", start=SOLAR_START),
        )


def test_bug_unix_seconds_before_year_one() -> None:
    with pytest.raises(GridshiftError):
        csv_import("time,value\n-70000000000,1\n-69999996400,\n", zone="XX")


@pytest.mark.parametrize(
    "time_cell",
    [
        pytest.param("99999999999999999999", id="integer-beyond-uint64"),
        pytest.param("٣", id="arabic-indic-digit"),
    ],
)
def test_bug_all_digit_time_column_pd_to_numeric(time_cell: str) -> None:
    with pytest.raises(GridshiftError):
        csv_import(f"time,value\n{time_cell},1\n1,2\n", zone="XX")


def test_bug_rows_with_an_extra_field_are_misread_silently() -> None:
    # Every row has a trailing extra field: pandas makes the times the index, so "time" reads
    # the values 1, 2 (Unix seconds in 1970) and "value" reads 5, 6. It should be refused.
    with pytest.raises(SignalDataError):
        csv_import("time,value\n2022-01-01T00:00Z,1,5\n2022-01-01T01:00Z,2,6\n", zone="XX")


def _parquet_bytes(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def test_bug_parquet_binary_value_column() -> None:
    table = pa.table(
        {
            "time": pa.array([1640995200, 1640998800], type=pa.timestamp("s", "UTC")),
            "value": pa.array([b"1", b"\xff"]),
        }
    )
    with pytest.raises(GridshiftError):
        import_file(_parquet_bytes(table), opts(format="parquet", unit="g_per_kwh", zone="XX"))


def test_bug_parquet_timestamps_after_2262_are_wrapped_silently() -> None:
    stamps = [datetime(2500, 1, 1, tzinfo=UTC), datetime(2500, 1, 1, 1, tzinfo=UTC)]
    table = pa.table({"time": pa.array(stamps, type=pa.timestamp("s", "UTC")), "value": [1.0, 2.0]})
    try:
        series, _ = import_file(
            _parquet_bytes(table), opts(format="parquet", unit="g_per_kwh", zone="XX")
        )
    except SignalDataError:
        return  # refusing the file is a correct answer
    assert series.times[0] == np_time("2500-01-01T00:00:00")


@pytest.mark.parametrize(
    "wall_clock",
    [
        pytest.param(
            ["2022-03-27 01:00", "2022-03-27 02:00", "2022-03-27 03:00"], id="missing-hour"
        ),
        pytest.param(
            ["2022-10-30 02:00", "2022-10-30 02:00", "2022-10-30 03:00"], id="repeated-hour"
        ),
    ],
)
def test_parquet_naive_times_at_a_clock_change(wall_clock: list[str]) -> None:
    """A missing local hour is refused; a repeated one is read in order (01:00Z then 02:00Z),
    as the CSV importer does; either way nothing escapes our error hierarchy."""
    frame = pd.DataFrame({"time": pd.to_datetime(wall_clock), "value": [1.0, 2.0, 3.0]})
    buf = io.BytesIO()
    frame.to_parquet(buf)
    options = opts(format="parquet", unit="g_per_kwh", timezone="Europe/Berlin")
    if wall_clock[0].startswith("2022-03-27"):
        with pytest.raises(GridshiftError):
            import_file(buf.getvalue(), options)
        return
    series, _ = import_file(buf.getvalue(), options)
    assert series.times.tolist() == [
        np_time("2022-10-30T00:00:00").item(),
        np_time("2022-10-30T01:00:00").item(),
        np_time("2022-10-30T02:00:00").item(),
    ]


def test_parquet_binary_time_column() -> None:
    table = pa.table({"time": pa.array([b"\x80", b"1"]), "value": [1.0, 2.0]})
    with pytest.raises(GridshiftError):
        import_file(_parquet_bytes(table), opts(format="parquet", unit="g_per_kwh", zone="XX"))
