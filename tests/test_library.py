"""Tests of the local signal library: storage, merging, the bundled data and the data directory.

Every library lives in ``tmp_path``; the series stored are the real DE-LU 2022 hourly carbon
intensity (from ``tests/data``) or parts of it, so a merge can be checked against the whole.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

import gridshift.signals
from gridshift.domain import (
    NotFoundError,
    Quality,
    Series,
    SignalDataError,
    SignalKind,
    UserError,
)
from gridshift.signals.align import align
from gridshift.signals.importers import ImportOptions, import_file
from gridshift.signals.library import SignalLibrary, default_data_dir
from gridshift.signals.validate import Issue

DATA = Path(__file__).parent / "data"
BUNDLED = Path(gridshift.signals.__file__).parent / "bundled"
T0 = datetime(2022, 1, 1, tzinfo=UTC)
CARBON, PRICE = SignalKind.CARBON, SignalKind.PRICE


@pytest.fixture(scope="module")
def imported() -> tuple[Series, list[Issue]]:
    return import_file(
        DATA / "DE-LU_2022_hourly.csv.gz",
        ImportOptions(zone="DE-LU", kind=CARBON, format="electricitymaps"),
        label="DE-LU_2022_hourly.csv.gz",
    )


@pytest.fixture
def whole(imported: tuple[Series, list[Issue]]) -> Series:
    return imported[0]


def bundled_files() -> dict[tuple[str, str], Path]:
    out = {}
    for path in BUNDLED.glob("*__*.parquet"):
        zone, kind = path.stem.split("__")
        out[(zone, kind)] = path
    return out


def assert_same_points(got: Series, expected: Series) -> None:
    assert len(got) == len(expected)
    np.testing.assert_array_equal(got.times, expected.times)
    np.testing.assert_array_equal(got.values, expected.values)
    np.testing.assert_array_equal(got.quality, expected.quality)
    assert got.step_s == expected.step_s


def hours(series: Series, lo: int, hi: int) -> Series:
    return series.between(T0 + timedelta(hours=lo), T0 + timedelta(hours=hi))


# --- save and load ----------------------------------------------------------------------------


def test_save_then_load_gives_the_same_series(
    tmp_path: Path, imported: tuple[Series, list[Issue]]
) -> None:
    series, issues = imported
    lib = SignalLibrary(tmp_path, bundled=False)
    lib.save(series, issues)
    path = tmp_path / "signals" / "DE-LU" / "carbon.parquet"
    assert lib.path("DE-LU", CARBON) == path
    assert path.is_file()
    loaded = lib.load("DE-LU", CARBON)
    assert_same_points(loaded, series)
    assert (loaded.zone, loaded.kind, loaded.unit) == ("DE-LU", CARBON, "g_per_kwh")
    assert loaded.source == "DE-LU_2022_hourly.csv.gz"
    assert float(np.mean(loaded.values)) == pytest.approx(410.96984817351597, rel=1e-12)
    stored_issues = json.loads(loaded.attrs["import_issues"])
    assert [i["code"] for i in stored_issues] == [i.code for i in issues] == ["zone_label"]


def test_missing_and_estimated_points_survive_a_round_trip(tmp_path: Path, whole: Series) -> None:
    values = whole.values.copy()
    quality = whole.quality.copy()
    values[[5, 6, 100]] = np.nan
    quality[[5, 6, 100]] = Quality.MISSING
    quality[[7, 200]] = Quality.ESTIMATED
    marked = whole.with_points(whole.times, values, quality)
    lib = SignalLibrary(tmp_path, bundled=False)
    lib.save(marked, [])
    loaded = lib.load("DE-LU", CARBON)
    assert_same_points(loaded, marked)
    assert np.count_nonzero(loaded.quality == Quality.MISSING) == 3
    assert np.count_nonzero(loaded.quality == Quality.ESTIMATED) == 2


def test_a_damaged_stored_file_is_a_signal_data_error(tmp_path: Path, whole: Series) -> None:
    lib = SignalLibrary(tmp_path, bundled=False)
    lib.save(whole, [])
    lib.path("DE-LU", CARBON).write_bytes(b"not parquet at all")
    with pytest.raises(SignalDataError, match="not a readable Parquet file"):
        lib.load("DE-LU", CARBON)


def test_files_that_are_not_a_kind_are_not_listed(tmp_path: Path, whole: Series) -> None:
    lib = SignalLibrary(tmp_path, bundled=False)
    lib.save(whole, [])
    (tmp_path / "signals" / "DE-LU" / "notes.parquet").write_bytes(b"x")
    assert [(e.zone, e.kind, e.origin) for e in lib.entries()] == [("DE-LU", CARBON, "imported")]


# --- merging ----------------------------------------------------------------------------------


@pytest.mark.parametrize("order", ["first half first", "second half first"])
def test_two_halves_saved_one_after_the_other_load_as_the_whole(
    tmp_path: Path, whole: Series, order: str
) -> None:
    first, second = hours(whole, 0, 4380), hours(whole, 4380, 8760)
    assert len(first) == len(second) == 4380
    lib = SignalLibrary(tmp_path, bundled=False)
    parts = (first, second) if order == "first half first" else (second, first)
    lib.save(parts[0], [])
    stored = lib.save(parts[1], [])
    assert_same_points(stored, whole)
    loaded = lib.load("DE-LU", CARBON)
    assert_same_points(loaded, whole)
    assert loaded.source == "DE-LU_2022_hourly.csv.gz"


def test_the_newer_series_wins_where_both_have_a_time(tmp_path: Path, whole: Series) -> None:
    early = hours(whole, 0, 5000)
    late = hours(whole, 4000, 8760)
    late_changed = late.with_points(late.times, late.values + 1000.0, late.quality)
    lib = SignalLibrary(tmp_path, bundled=False)
    lib.save(early, [])
    lib.save(late_changed, [])
    loaded = lib.load("DE-LU", CARBON)
    assert len(loaded) == 8760
    np.testing.assert_array_equal(loaded.values[:4000], whole.values[:4000])
    np.testing.assert_array_equal(loaded.values[4000:], whole.values[4000:] + 1000.0)
    # Saving the early part again makes it the newer one on the overlap.
    lib.save(early, [])
    loaded = lib.load("DE-LU", CARBON)
    np.testing.assert_array_equal(loaded.values[:5000], whole.values[:5000])
    np.testing.assert_array_equal(loaded.values[5000:], whole.values[5000:] + 1000.0)


def test_replace_drops_what_is_stored(tmp_path: Path, whole: Series) -> None:
    lib = SignalLibrary(tmp_path, bundled=False)
    lib.save(hours(whole, 0, 4380), [])
    lib.save(hours(whole, 4380, 8760), [], replace=True)
    loaded = lib.load("DE-LU", CARBON)
    assert_same_points(loaded, hours(whole, 4380, 8760))


def test_a_different_step_is_refused_unless_replace(tmp_path: Path, whole: Series) -> None:
    lib = SignalLibrary(tmp_path, bundled=False)
    lib.save(whole, [])
    before = lib.path("DE-LU", CARBON).read_bytes()
    daily = align(whole, 86400)
    with pytest.raises(UserError) as caught:
        lib.save(daily, [])
    assert "3600 s" in caught.value.message
    assert "86400 s" in caught.value.message
    assert caught.value.hint is not None
    assert "--replace" in caught.value.hint
    assert lib.path("DE-LU", CARBON).read_bytes() == before
    assert len(lib.load("DE-LU", CARBON)) == 8760

    lib.save(daily, [], replace=True)
    loaded = lib.load("DE-LU", CARBON)
    assert loaded.step_s == 86400
    assert len(loaded) == 365
    np.testing.assert_allclose(loaded.values, whole.values.reshape(365, 24).mean(axis=1))


def test_a_different_unit_is_refused_unless_replace(tmp_path: Path) -> None:
    def renewable(unit: str, first_hour: int, values: list[float]) -> Series:
        times = np.datetime64("2022-01-01T00:00:00", "s") + np.arange(
            first_hour, first_hour + len(values)
        ) * np.timedelta64(3600, "s")
        quality = np.zeros(len(values), dtype=np.uint8)
        return Series("DE-LU", SignalKind.RENEWABLE, unit, times, np.array(values), quality, 3600)

    lib = SignalLibrary(tmp_path, bundled=False)
    lib.save(renewable("fraction", 0, [0.1, 0.2, 0.3]), [])
    with pytest.raises(UserError):
        lib.save(renewable("kw", 3, [500.0, 600.0]), [])
    assert lib.load("DE-LU", SignalKind.RENEWABLE).unit == "fraction"


# --- bundled data -----------------------------------------------------------------------------


def test_bundled_data_is_visible_by_default(tmp_path: Path) -> None:
    lib = SignalLibrary(tmp_path)
    entries = lib.entries()
    assert {(e.zone, e.kind.value) for e in entries} == set(bundled_files())
    assert {e.origin for e in entries} == {"bundled"}
    assert sum(e.kind is CARBON for e in entries) == 16
    assert sum(e.kind is PRICE for e in entries) == 13
    gb = lib.load("GB", CARBON)
    table = pq.read_table(BUNDLED / "GB__carbon.parquet")
    raw = table.column("value").to_numpy()
    assert len(gb) == len(raw) == 17520
    assert gb.start == datetime(2021, 1, 1, tzinfo=UTC)
    assert gb.end == datetime(2023, 1, 1, tzinfo=UTC)
    assert gb.step_s == 3600
    assert float(np.nanmean(gb.values)) == pytest.approx(float(np.nanmean(raw)), rel=1e-12)
    # Nothing was written by reading.
    assert not (tmp_path / "signals").exists()


def test_bundled_false_hides_the_shipped_data(tmp_path: Path) -> None:
    lib = SignalLibrary(tmp_path, bundled=False)
    assert lib.entries() == []
    with pytest.raises(NotFoundError):
        lib.load("GB", CARBON)


def test_imported_data_shadows_bundled_data_of_the_same_zone_and_kind(
    tmp_path: Path, whole: Series
) -> None:
    lib = SignalLibrary(tmp_path)
    assert len(lib.load("DE-LU", CARBON)) == 17520  # bundled 2021-2022
    lib.save(whole, [])
    by_key = {(e.zone, e.kind): e.origin for e in lib.entries()}
    assert by_key[("DE-LU", CARBON)] == "imported"
    assert by_key[("DE-LU", PRICE)] == "bundled"
    assert by_key[("GB", CARBON)] == "bundled"
    assert len(by_key) == len(bundled_files())
    loaded = lib.load("DE-LU", CARBON)
    assert_same_points(loaded, whole)
    assert loaded.source == "DE-LU_2022_hourly.csv.gz"
    assert len(lib.load("DE-LU", PRICE)) == 17520
    assert len(lib.load("GB", CARBON)) == 17520


def test_a_zone_without_data_is_not_found_and_the_hint_lists_zones(tmp_path: Path) -> None:
    lib = SignalLibrary(tmp_path)
    with pytest.raises(NotFoundError) as caught:
        lib.load("XX", CARBON)
    assert caught.value.message == "no carbon data for zone XX"
    carbon_zones = sorted(zone for zone, kind in bundled_files() if kind == "carbon")
    assert caught.value.hint is not None
    assert f"zones with carbon data: {', '.join(carbon_zones)};" in caught.value.hint
    assert "gridshift signals import" in caught.value.hint
    # A zone that has other kinds only is not found either, and the price zones are listed.
    with pytest.raises(NotFoundError) as caught_price:
        lib.load("ZA", PRICE)
    price_zones = sorted(zone for zone, kind in bundled_files() if kind == "price")
    assert caught_price.value.hint is not None
    assert f"zones with price data: {', '.join(price_zones)};" in caught_price.value.hint


def test_the_hint_names_imported_zones_and_only_those_of_the_kind(
    tmp_path: Path, whole: Series
) -> None:
    lib = SignalLibrary(tmp_path, bundled=False)
    with pytest.raises(NotFoundError) as empty:
        lib.load("DE-LU", CARBON)
    assert empty.value.hint is not None
    assert "zones with" not in empty.value.hint
    lib.save(whole, [])
    with pytest.raises(NotFoundError) as caught:
        lib.load("GB", CARBON)
    assert caught.value.hint is not None
    assert caught.value.hint.startswith("zones with carbon data: DE-LU;")
    with pytest.raises(NotFoundError) as other_kind:
        lib.load("DE-LU", PRICE)
    assert other_kind.value.hint is not None
    assert "zones with" not in other_kind.value.hint


# --- data directory ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"GRIDSHIFT_DATA_DIR": "/srv/gridshift"}, Path("/srv/gridshift")),
        (
            {"GRIDSHIFT_DATA_DIR": "/srv/gridshift", "XDG_DATA_HOME": "/xdg"},
            Path("/srv/gridshift"),
        ),
        ({"XDG_DATA_HOME": "/xdg"}, Path("/xdg/gridshift")),
        ({"GRIDSHIFT_DATA_DIR": "", "XDG_DATA_HOME": "/xdg"}, Path("/xdg/gridshift")),
        ({"GRIDSHIFT_DATA_DIR": "~/gs-data"}, Path.home() / "gs-data"),
        ({}, Path.home() / ".local" / "share" / "gridshift"),
        ({"XDG_DATA_HOME": ""}, Path.home() / ".local" / "share" / "gridshift"),
    ],
)
def test_default_data_dir(environ: dict[str, str], expected: Path) -> None:
    assert default_data_dir(environ) == expected


def test_default_data_dir_reads_the_process_environment_only_without_a_dict(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GRIDSHIFT_DATA_DIR", str(tmp_path / "from-env"))
    assert default_data_dir() == tmp_path / "from-env"
    assert default_data_dir({"XDG_DATA_HOME": "/xdg"}) == Path("/xdg/gridshift")
