"""Golden tests: figures of the real files, computed here independently of gridshift.

The references read the gzip CSVs with the standard library only (``gzip`` + ``csv`` +
``math.fsum``), not pandas and not our importers, and the importers must agree to 1e-9 relative.
Where a figure is well known (the DE-LU 2022 mean carbon intensity) it is also pinned, so a
broken reference cannot agree with a broken importer.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from gridshift.domain import Quality, Series, SignalKind
from gridshift.signals.importers import ImportOptions, import_file

DATA = Path(__file__).parent / "data"
REL = 1e-9
DIRECT = "Carbon Intensity gCO₂eq/kWh (direct)"
LB_TO_G = 0.45359237


def stdlib_rows(name: str) -> list[dict[str, str]]:
    with gzip.open(DATA / name, "rt", encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(io.StringIO(handle.read())))


def stdlib_column(name: str, column: str) -> list[float]:
    return [float(row[column]) for row in stdlib_rows(name)]


def fsum_mean(values: list[float]) -> float:
    return math.fsum(values) / len(values)


def our_values(series: Series) -> list[float]:
    assert bool(np.all(series.quality == Quality.OK))
    return [float(v) for v in series.values]


@pytest.mark.parametrize(
    ("file", "zone", "expected_mean"),
    [
        ("DE-LU_2022_hourly.csv.gz", "DE-LU", 410.97),
        ("GB_2022_hourly.csv.gz", "GB", 155.69),
    ],
)
def test_mean_direct_carbon_intensity_2022(file: str, zone: str, expected_mean: float) -> None:
    reference = stdlib_column(file, DIRECT)
    assert len(reference) == 8760
    ref_mean = fsum_mean(reference)
    assert ref_mean == pytest.approx(expected_mean, abs=0.005)
    series, _ = import_file(
        DATA / file, ImportOptions(zone=zone, kind=SignalKind.CARBON, format="electricitymaps")
    )
    assert len(series) == len(reference)
    ours = our_values(series)
    assert fsum_mean(ours) == pytest.approx(ref_mean, rel=REL)
    assert float(np.mean(series.values)) == pytest.approx(ref_mean, rel=REL)
    assert min(ours) == min(reference)
    assert max(ours) == max(reference)


def test_gb_is_cleaner_than_de_lu_in_2022() -> None:
    de = fsum_mean(stdlib_column("DE-LU_2022_hourly.csv.gz", DIRECT))
    gb = fsum_mean(stdlib_column("GB_2022_hourly.csv.gz", DIRECT))
    assert 150 < gb < 300 < de


def test_mean_renewable_share_gb_2022() -> None:
    reference = [v / 100 for v in stdlib_column("GB_2022_hourly.csv.gz", "Renewable Percentage")]
    series, _ = import_file(
        DATA / "GB_2022_hourly.csv.gz",
        ImportOptions(zone="GB", kind=SignalKind.RENEWABLE, format="electricitymaps"),
    )
    assert fsum_mean(our_values(series)) == pytest.approx(fsum_mean(reference), rel=REL)


def test_times_match_the_file_row_by_row() -> None:
    rows = stdlib_rows("DE-LU_2022_hourly.csv.gz")
    expected = [
        int(
            datetime.strptime(r["Datetime (UTC)"], "%Y-%m-%d %H:%M:%S")
            .replace(tzinfo=UTC)
            .timestamp()
        )
        for r in rows
    ]
    series, _ = import_file(
        DATA / "DE-LU_2022_hourly.csv.gz",
        ImportOptions(zone="DE-LU", kind=SignalKind.CARBON, format="electricitymaps"),
    )
    assert series.times.astype(np.int64).tolist() == expected


@pytest.mark.parametrize(
    ("file", "zone", "n_negative"),
    [
        ("DE-LU_electricity_prices_2022.csv.gz", "DE-LU", 70),
        ("US-CAL-CISO_electricity_prices_2022.csv.gz", "US-CAL-CISO", 36),
    ],
)
def test_negative_prices_2022(file: str, zone: str, n_negative: int) -> None:
    prices = stdlib_column(file, "Price (USD/MWh)")
    negative = [p for p in prices if p < 0]
    assert len(negative) == n_negative
    series, issues = import_file(DATA / file, ImportOptions(zone=zone, kind=SignalKind.PRICE))
    ours = our_values(series)
    our_negative = [v for v in ours if v < 0]
    assert len(our_negative) == len(negative)
    assert fsum_mean(our_negative) == pytest.approx(fsum_mean(negative), rel=REL)
    assert min(our_negative) == pytest.approx(min(negative), rel=REL)
    assert max(our_negative) == pytest.approx(max(negative), rel=REL)
    assert fsum_mean(ours) == pytest.approx(fsum_mean(prices), rel=REL)
    (note,) = [i for i in issues if i.code == "negative_price"]
    assert note.count == len(negative)


def test_de_lu_negative_price_figures() -> None:
    """Pins the reference itself: 70 negative hours in 2022, mean -2.20, min -19.32 USD/MWh."""
    negative = [
        p for p in stdlib_column("DE-LU_electricity_prices_2022.csv.gz", "Price (USD/MWh)") if p < 0
    ]
    assert len(negative) == 70
    assert fsum_mean(negative) == pytest.approx(-2.2039, abs=1e-4)
    assert min(negative) == pytest.approx(-19.3167, abs=1e-4)
    assert -1e-12 < max(negative) < 0  # a rounding residue of a zero price, still negative


def test_watttime_mean_in_g_per_kwh() -> None:
    rows = stdlib_rows("watttime_example.csv.gz")
    lbs = [float(r["Caiso_North"]) for r in rows]
    assert len(lbs) == 8928
    ref_mean = fsum_mean(lbs) * LB_TO_G
    series, _ = import_file(
        DATA / "watttime_example.csv.gz",
        ImportOptions(zone="US-CAL-CISO", kind=SignalKind.MARGINAL, format="watttime"),
    )
    assert series.unit == "g_per_kwh"
    assert fsum_mean(our_values(series)) == pytest.approx(ref_mean, rel=REL)
    assert float(np.mean(series.values)) == pytest.approx(ref_mean, rel=REL)
    assert ref_mean == pytest.approx(161.1772, abs=1e-4)  # g/kWh; it is 355.33 in lbs/MWh


def test_solar_mean_per_site() -> None:
    rows = stdlib_rows("solar_example.csv.gz")
    start = datetime(2023, 6, 8, tzinfo=UTC)
    for site in ("Berlin", "San Francisco", "São Paulo"):
        reference = [float(r[site]) for r in rows]
        series, _ = import_file(
            DATA / "solar_example.csv.gz",
            ImportOptions(
                zone="DE-LU",
                kind=SignalKind.RENEWABLE,
                format="solar",
                value_column=site,
                start=start,
            ),
        )
        assert len(series) == len(reference) == 8352
        assert fsum_mean(our_values(series)) == pytest.approx(fsum_mean(reference), rel=REL)
