"""The real ``gridshift`` command in subprocesses: ``signals import|show|list|export``, ``demo``.

Each run gets its own ``GRIDSHIFT_DATA_DIR`` under ``tmp_path``. Expected figures are computed
here from the files themselves (``gzip`` + ``csv`` for the CSVs, ``pyarrow`` for the bundled
Parquet), not through gridshift. User mistakes must exit 2 with one line on stderr.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import os
import random
import struct
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

import gridshift
import gridshift.signals

GRIDSHIFT = Path(sys.executable).parent / "gridshift"
REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data"
BUNDLED = Path(gridshift.signals.__file__).parent / "bundled"
CONTRACT_KEYS = (
    "zone",
    "kind",
    "unit",
    "start",
    "end",
    "step_s",
    "points",
    "coverage_pct",
    "min",
    "mean",
    "max",
    "issues",
)
DIRECT = "Carbon Intensity gCO₂eq/kWh (direct)"
LB_TO_G = 0.45359237
BLOCKS = set("▁▂▃▄▅▆▇█")


# --- helpers ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mpl_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mpl")


def gridshift_cli(
    args: list[str], data_dir: Path, mpl: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["GRIDSHIFT_DATA_DIR"] = str(data_dir)
    if mpl is not None:
        env["MPLCONFIGDIR"] = str(mpl)
    return subprocess.run(
        [str(GRIDSHIFT), *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        cwd=REPO,
        timeout=120,
        check=False,
    )


def ok_json(proc: subprocess.CompletedProcess[str]) -> Any:
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return json.loads(proc.stdout)


def assert_user_error(proc: subprocess.CompletedProcess[str], *fragments: str) -> str:
    """Exit 2, nothing on stdout, exactly one line on stderr: ``gridshift: error: ...``."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("gridshift: error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def stored_files(data_dir: Path) -> list[Path]:
    return [p for p in data_dir.rglob("*") if p.is_file()]


def csv_rows(name: str) -> list[dict[str, str]]:
    with gzip.open(DATA / name, "rt", encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(io.StringIO(handle.read())))


def csv_column(name: str, column: str) -> list[float]:
    return [float(row[column]) for row in csv_rows(name)]


def fmean(values: list[float]) -> float:
    return math.fsum(values) / len(values)


def bundled_values(name: str, start: str | None = None) -> np.ndarray:
    table = pq.read_table(BUNDLED / name)
    values = table.column("value").to_numpy()
    if start is None:
        return values
    times = table.column("time").to_numpy().astype("datetime64[s]")
    return values[times >= np.datetime64(start, "s")]


def bundled_pairs() -> set[tuple[str, str]]:
    return {tuple(p.stem.split("__")) for p in BUNDLED.glob("*__*.parquet")}  # type: ignore[misc]


# --- import -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def de_import(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, dict[str, Any]]:
    data_dir = tmp_path_factory.mktemp("de-import")
    proc = gridshift_cli(
        [
            "signals",
            "import",
            "tests/data/DE-LU_2022_hourly.csv.gz",
            "--zone",
            "DE-LU",
            "--kind",
            "carbon",
            "--format",
            "electricitymaps",
            "--json",
        ],
        data_dir,
    )
    return data_dir, ok_json(proc)


def test_import_prints_the_contract_keys_with_the_file_figures(
    de_import: tuple[Path, dict[str, Any]],
) -> None:
    data_dir, summary = de_import
    for key in CONTRACT_KEYS:
        assert key in summary, key
    direct = csv_column("DE-LU_2022_hourly.csv.gz", DIRECT)
    assert summary["zone"] == "DE-LU"
    assert summary["kind"] == "carbon"
    assert summary["unit"] == "g_per_kwh"
    assert summary["start"] == "2022-01-01T00:00:00Z"
    assert summary["end"] == "2023-01-01T00:00:00Z"
    assert summary["step_s"] == 3600
    assert summary["points"] == len(direct) == 8760
    assert summary["coverage_pct"] == 100.0
    assert summary["min"] == min(direct) == 117.36
    assert summary["max"] == max(direct) == 681.42
    assert summary["mean"] == pytest.approx(fmean(direct), rel=1e-9)
    assert summary["mean"] == pytest.approx(410.97, abs=0.005)
    assert [(i["code"], i["severity"]) for i in summary["issues"]] == [("zone_label", "info")]
    stored = data_dir / "signals" / "DE-LU" / "carbon.parquet"
    assert stored_files(data_dir) == [stored]
    assert pq.read_table(stored).num_rows == 8760


@pytest.mark.parametrize(
    ("name", "zone"),
    [
        ("US-CAL-CISO_electricity_prices_2022.csv.gz", "US-CAL-CISO"),
        ("DE-LU_electricity_prices_2022.csv.gz", "DE-LU"),
    ],
)
def test_generic_price_import_infers_the_unit_and_notes_negative_prices(
    tmp_path: Path, name: str, zone: str
) -> None:
    proc = gridshift_cli(
        [
            "signals",
            "import",
            str(DATA / name),
            "--zone",
            zone,
            "--kind",
            "price",
            "--format",
            "csv",
            "--json",
        ],
        tmp_path,
    )
    summary = ok_json(proc)
    prices = csv_column(name, "Price (USD/MWh)")
    negatives = [p for p in prices if p < 0]
    assert negatives, "the real file has negative prices"
    assert summary["unit"] == "usd_per_mwh"
    assert summary["kind"] == "price"
    assert summary["points"] == len(prices) == 8760
    assert summary["min"] == pytest.approx(min(prices), rel=1e-12)
    assert summary["max"] == pytest.approx(max(prices), rel=1e-12)
    assert summary["mean"] == pytest.approx(fmean(prices), rel=1e-9)
    by_code = {i["code"]: i for i in summary["issues"]}
    assert set(by_code) == {"negative_price"}
    assert by_code["negative_price"]["severity"] == "info"
    assert by_code["negative_price"]["count"] == len(negatives)
    assert stored_files(tmp_path) == [tmp_path / "signals" / zone / "price.parquet"]


def test_watttime_import_as_marginal(tmp_path: Path) -> None:
    proc = gridshift_cli(
        [
            "signals",
            "import",
            str(DATA / "watttime_example.csv.gz"),
            "--zone",
            "US-CAL-CISO",
            "--kind",
            "marginal",
            "--format",
            "watttime",
            "--json",
        ],
        tmp_path,
    )
    summary = ok_json(proc)
    rows = csv_rows("watttime_example.csv.gz")
    lbs = [float(r["Caiso_North"]) for r in rows]
    assert summary["kind"] == "marginal"
    assert summary["unit"] == "g_per_kwh"
    assert summary["start"] == rows[0]["oootime"].replace(" ", "T") + "Z"
    assert summary["step_s"] == 300
    assert summary["points"] == len(rows) == 8928
    assert summary["mean"] == pytest.approx(fmean(lbs) * LB_TO_G, rel=1e-9)
    assert summary["max"] == pytest.approx(max(lbs) * LB_TO_G, rel=1e-12)
    assert stored_files(tmp_path) == [tmp_path / "signals" / "US-CAL-CISO" / "marginal.parquet"]


def test_solar_import_needs_start(tmp_path: Path) -> None:
    args = ["signals", "import", str(DATA / "solar_example.csv.gz"), "--zone", "DE-LU"]
    args += ["--kind", "renewable", "--format", "solar", "--value-column", "Berlin"]
    missing = gridshift_cli([*args, "--json"], tmp_path)
    assert_user_error(missing, "--start")
    assert stored_files(tmp_path) == []

    summary = ok_json(gridshift_cli([*args, "--start", "2023-06-08T00:00:00Z", "--json"], tmp_path))
    berlin = csv_column("solar_example.csv.gz", "Berlin")
    assert summary["kind"] == "renewable"
    assert summary["unit"] == "fraction"
    assert summary["start"] == "2023-06-08T00:00:00Z"
    assert summary["step_s"] == 300
    assert summary["points"] == len(berlin) == 8352
    assert summary["mean"] == pytest.approx(fmean(berlin), rel=1e-9)
    assert summary["max"] == max(berlin)
    assert stored_files(tmp_path) == [tmp_path / "signals" / "DE-LU" / "renewable.parquet"]


# --- show -------------------------------------------------------------------------------------


def test_show_works_from_bundled_data_without_an_import(tmp_path: Path) -> None:
    summary = ok_json(
        gridshift_cli(
            ["signals", "show", "--zone", "DE-LU", "--kind", "carbon", "--json"], tmp_path
        )
    )
    for key in CONTRACT_KEYS:
        assert key in summary, key
    values = bundled_values("DE-LU__carbon.parquet")
    assert summary["start"] == "2021-01-01T00:00:00Z"
    assert summary["end"] == "2023-01-01T00:00:00Z"
    assert summary["points"] == len(values) == 17520
    assert summary["coverage_pct"] == 100.0
    assert summary["mean"] == pytest.approx(float(np.nanmean(values)), rel=1e-12)
    assert summary["min"] == float(np.nanmin(values))
    assert summary["max"] == float(np.nanmax(values))
    assert isinstance(summary["issues"], list)
    assert stored_files(tmp_path) == []


def test_show_from_to_restricts_the_period(tmp_path: Path) -> None:
    summary = ok_json(
        gridshift_cli(
            [
                "signals",
                "show",
                "--zone",
                "DE-LU",
                "--kind",
                "carbon",
                "--from",
                "2022-01-01",
                "--to",
                "2023-01-01",
                "--json",
            ],
            tmp_path,
        )
    )
    values = bundled_values("DE-LU__carbon.parquet", start="2022-01-01")
    assert summary["start"] == "2022-01-01T00:00:00Z"
    assert summary["end"] == "2023-01-01T00:00:00Z"
    assert summary["points"] == len(values) == 8760
    assert summary["mean"] == pytest.approx(float(np.nanmean(values)), rel=1e-12)
    # The bundled 2022 year is the same data as the Electricity Maps file in tests/data.
    direct = csv_column("DE-LU_2022_hourly.csv.gz", DIRECT)
    assert summary["mean"] == pytest.approx(fmean(direct), rel=1e-9)


def test_show_prints_a_chart_and_the_daily_profile(tmp_path: Path) -> None:
    proc = gridshift_cli(["signals", "show", "--zone", "DE-LU", "--kind", "carbon"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert BLOCKS & set(out)
    assert "DE-LU / carbon" in out
    assert "87.4 / 391.0 / 681.4 g_per_kwh" in out
    assert "average day, by local hour (Europe/Berlin):" in out
    assert "012345678901234567890123" in out
    # Both charts carry their maximum as the top label; the profile's is found here with pandas.
    table = pq.read_table(BUNDLED / "DE-LU__carbon.parquet").to_pandas()
    local_hour = table["time"].dt.tz_convert("Europe/Berlin").dt.hour
    profile = table["value"].groupby(local_hour).mean()
    labels = [line.split("│")[0].strip() for line in out.splitlines() if "│" in line]
    assert f"{table['value'].max():.1f}" in labels
    assert f"{profile.max():.1f}" in labels
    chart_rows = [line.split("│", 1)[1] for line in out.splitlines() if "│" in line]
    assert any(BLOCKS & set(row) for row in chart_rows)


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_show_plot_png_writes_a_png(tmp_path: Path, mpl_dir: Path) -> None:
    target = tmp_path / "x.png"
    proc = gridshift_cli(
        ["signals", "show", "--zone", "GB", "--kind", "carbon", "--plot", str(target)],
        tmp_path / "data",
        mpl_dir,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"plot written to {target}" in proc.stdout
    data = target.read_bytes()
    assert png_size(data) == (1320, 440)  # 12 x 4 inches at 110 dpi
    assert data.endswith(b"IEND\xaeB`\x82")
    assert len(data) > 20_000


def test_show_plot_html_writes_an_svg_page(tmp_path: Path, mpl_dir: Path) -> None:
    target = tmp_path / "x.html"
    summary = ok_json(
        gridshift_cli(
            [
                "signals",
                "show",
                "--zone",
                "US-CAL-CISO",
                "--kind",
                "price",
                "--from",
                "2022-06-01",
                "--to",
                "2022-07-01",
                "--plot",
                str(target),
                "--json",
            ],
            tmp_path / "data",
            mpl_dir,
        )
    )
    assert summary["plot"] == str(target)
    assert summary["points"] == 30 * 24
    page = target.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>")
    assert "<title>gridshift: US-CAL-CISO price</title>" in page
    assert page.count("<svg") == 1
    assert "</svg>" in page
    assert page.rstrip().endswith("</html>")
    assert "<path" in page


def test_show_plot_pdf_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "x.pdf"
    proc = gridshift_cli(
        ["signals", "show", "--zone", "DE-LU", "--kind", "carbon", "--plot", str(target)],
        tmp_path / "data",
    )
    assert_user_error(proc, "x.pdf", ".png or .html")
    assert not target.exists()


def test_show_plot_into_a_missing_directory_is_a_user_error(tmp_path: Path, mpl_dir: Path) -> None:
    target = tmp_path / "no-such-dir" / "x.png"
    proc = gridshift_cli(
        ["signals", "show", "--zone", "DE-LU", "--kind", "carbon", "--plot", str(target)],
        tmp_path / "data",
        mpl_dir,
    )
    assert_user_error(proc, "x.png")


# --- list and export --------------------------------------------------------------------------


def test_list_includes_bundled_and_imported_entries(de_import: tuple[Path, dict[str, Any]]) -> None:
    data_dir, _ = de_import
    rows = ok_json(gridshift_cli(["signals", "list", "--json"], data_dir))
    origin = {(r["zone"], r["kind"]): r["origin"] for r in rows}
    assert len(origin) == len(rows)
    assert set(origin) == bundled_pairs()
    assert origin[("DE-LU", "carbon")] == "imported"
    assert origin[("DE-LU", "price")] == "bundled"
    assert sum(o == "bundled" for o in origin.values()) == len(bundled_pairs()) - 1
    assert sum(kind == "carbon" for _, kind in origin) == 16
    assert sum(kind == "price" for _, kind in origin) == 13


def test_export_then_import_parquet_round_trips(
    de_import: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    data_dir, original = de_import
    exported = tmp_path / "exported.parquet"
    result = ok_json(
        gridshift_cli(
            ["signals", "export", "--zone", "DE-LU", "--kind", "carbon", str(exported), "--json"],
            data_dir,
        )
    )
    assert result == {"zone": "DE-LU", "kind": "carbon", "points": 8760, "path": str(exported)}
    fresh = tmp_path / "fresh"
    summary = ok_json(
        gridshift_cli(
            [
                "signals",
                "import",
                str(exported),
                "--zone",
                "DE-LU",
                "--kind",
                "carbon",
                "--format",
                "parquet",
                "--json",
            ],
            fresh,
        )
    )
    for key in ("zone", "kind", "unit", "start", "end", "step_s", "points", "coverage_pct"):
        assert summary[key] == original[key], key
    for key in ("min", "mean", "max"):
        assert summary[key] == original[key], key
    assert summary["issues"] == []
    first = pq.read_table(data_dir / "signals" / "DE-LU" / "carbon.parquet")
    second = pq.read_table(fresh / "signals" / "DE-LU" / "carbon.parquet")
    for column in ("time", "value", "quality"):
        assert first.column(column).equals(second.column(column)), column
    direct = csv_column("DE-LU_2022_hourly.csv.gz", DIRECT)
    assert second.column("value").to_pylist() == direct


# --- user mistakes ----------------------------------------------------------------------------

IMPORT_DE = ["signals", "import", "tests/data/DE-LU_2022_hourly.csv.gz", "--zone", "DE-LU"]
IMPORT_PRICE = ["signals", "import", "tests/data/DE-LU_electricity_prices_2022.csv.gz"]
SHOW_DE = ["signals", "show", "--zone", "DE-LU", "--kind", "carbon", "--json"]


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        pytest.param(
            ["signals", "show", "--zone", "XX", "--kind", "carbon", "--json"],
            ["no carbon data for zone XX", "zones with carbon data: AU-NSW", "DE-LU"],
            id="show-unknown-zone",
        ),
        pytest.param(
            ["signals", "show", "--zone", "DE-LU", "--kind", "co2", "--json"],
            ["unknown signal kind", "'co2'", "carbon, marginal, price, renewable"],
            id="show-unknown-kind",
        ),
        pytest.param(
            [*SHOW_DE, "--from", "2022-01-01T00:00:00"],
            ["--from", "no zone"],
            id="show-naive-from",
        ),
        pytest.param(
            [*SHOW_DE, "--from", "2022-03-01", "--to", "2022-02-01"],
            ["--to 2022-02-01T00:00:00Z is not after --from 2022-03-01T00:00:00Z"],
            id="show-to-before-from",
        ),
        pytest.param(
            [*SHOW_DE, "--from", "2030-01-01"],
            ["0 point(s) in that period"],
            id="show-empty-period",
        ),
    ],
)
def test_show_mistakes_are_one_line_errors(
    tmp_path: Path, args: list[str], fragments: list[str]
) -> None:
    assert_user_error(gridshift_cli(args, tmp_path), *fragments)
    assert stored_files(tmp_path) == []


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        pytest.param(
            [*IMPORT_DE, "--kind", "co2", "--format", "electricitymaps"],
            ["unknown signal kind", "'co2'"],
            id="import-unknown-kind",
        ),
        pytest.param(
            [
                "signals",
                "import",
                "tests/data/no-such-file.csv",
                "--zone",
                "DE-LU",
                "--kind",
                "carbon",
            ],
            ["no-such-file.csv", "no such file"],
            id="import-missing-file",
        ),
        pytest.param(
            [*IMPORT_DE, "--kind", "carbon", "--format", "electricitymap"],
            ["unknown signal file format", "'electricitymap'", "electricitymaps"],
            id="import-wrong-format-name",
        ),
        pytest.param(
            [
                *IMPORT_PRICE,
                "--zone",
                "DE-LU",
                "--kind",
                "price",
                "--format",
                "csv",
                "--value-column",
                "Price (USD/MW)",
            ],
            ["no such column", "did you mean 'Price (USD/MWh)'"],
            id="import-wrong-column",
        ),
        pytest.param(
            [
                *IMPORT_DE,
                "--kind",
                "carbon",
                "--format",
                "electricitymaps",
                "--value-column",
                "Carbon Intensity gCO2eq/kWh (dirct)",
            ],
            ["did you mean 'Carbon Intensity gCO₂eq/kWh (direct)'"],
            id="import-wrong-em-column",
        ),
        pytest.param(
            [
                "signals",
                "import",
                "tests/data/DE-LU_2022_hourly.csv.gz",
                "--zone",
                "de-lu",
                "--kind",
                "carbon",
                "--format",
                "electricitymaps",
            ],
            ["--zone", "not a zone id"],
            id="import-bad-zone-id",
        ),
        pytest.param(
            [*IMPORT_DE, "--kind", "carbon", "--format", "parquet"],
            ["not a readable Parquet file"],
            id="import-csv-as-parquet",
        ),
    ],
)
def test_import_mistakes_are_one_line_errors_and_store_nothing(
    tmp_path: Path, args: list[str], fragments: list[str]
) -> None:
    assert_user_error(gridshift_cli(args, tmp_path), *fragments)
    assert stored_files(tmp_path) == []


def garbage(kind: str) -> bytes:
    rng = random.Random(20220101)
    if kind == "binary":
        return bytes(rng.randrange(256) for _ in range(4096))
    return b"\x1f\x8b" + bytes(rng.randrange(256) for _ in range(512))


@pytest.mark.parametrize(
    ("kind", "fragment"),
    [("binary", "not UTF-8"), ("gzip", "damaged gzip")],
)
def test_a_csv_of_garbage_bytes_is_a_one_line_error(
    tmp_path: Path, kind: str, fragment: str
) -> None:
    bad = tmp_path / f"garbage-{kind}.csv"
    bad.write_bytes(garbage(kind))
    data_dir = tmp_path / "data"
    proc = gridshift_cli(
        ["signals", "import", str(bad), "--zone", "DE-LU", "--kind", "price", "--format", "csv"],
        data_dir,
    )
    assert_user_error(proc, bad.name, fragment)
    assert stored_files(data_dir) == []


def test_a_broken_csv_is_a_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "broken.csv"
    bad.write_text('Datetime (UTC),Price (USD/MWh)\n"2022-01-01 00:00:00,1\n', encoding="utf-8")
    data_dir = tmp_path / "data"
    proc = gridshift_cli(
        ["signals", "import", str(bad), "--zone", "DE-LU", "--kind", "price", "--format", "csv"],
        data_dir,
    )
    assert_user_error(proc, "broken.csv", "not a readable CSV file")
    assert stored_files(data_dir) == []


def test_a_failed_import_leaves_the_stored_series_alone(tmp_path: Path) -> None:
    args = ["signals", "import", str(DATA / "DE-LU_electricity_prices_2022.csv.gz")]
    args += ["--zone", "DE-LU", "--kind", "price", "--format", "csv", "--json"]
    ok_json(gridshift_cli(args, tmp_path))
    stored = tmp_path / "signals" / "DE-LU" / "price.parquet"
    before = stored.read_bytes()
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "Datetime (UTC),Price (USD/MWh)\n2023-01-01 00:00:00,abc\n2023-01-01 01:00:00,-\n",
        encoding="utf-8",
    )
    proc = gridshift_cli(
        ["signals", "import", str(bad), "--zone", "DE-LU", "--kind", "price", "--format", "csv"],
        tmp_path,
    )
    assert_user_error(proc, "bad.csv", "no value in the file is a number")
    assert stored.read_bytes() == before
    assert sorted(stored_files(tmp_path)) == sorted([bad, stored])


# --- demo and version -------------------------------------------------------------------------


def test_demo_json(tmp_path: Path) -> None:
    report = ok_json(gridshift_cli(["demo", "--preview", "--json"], tmp_path))
    results = {r["zone"]: r for r in report["results"]}
    assert set(results) == {"DE-LU", "US-TEX-ERCO", "GB"}
    assert {z["zone"] for z in report["zones"]} == set(results)
    within, duration = report["job"]["within_h"], report["job"]["duration_h"]
    for zone, r in results.items():
        assert r["deadline_misses"] == 0, zone
        assert r["runs"] == 364, zone  # every 09:00 of 2022 whose 24 h window ends in 2022
        assert 0 <= r["mean_delay_h"] <= within - duration, zone
        assert r["energy_kwh"] > 0
        # The objective is cost + carbon at $100/t, i.e. cost_usd + 0.1 * carbon_kg: shifting to
        # the cheapest window can only lower it.
        now = r["run_now"]["cost_usd"] + 0.1 * r["run_now"]["carbon_kg"]
        shifted = r["shifted"]["cost_usd"] + 0.1 * r["shifted"]["carbon_kg"]
        assert shifted <= now + 0.01, zone
    # One job, so one energy figure for every site.
    assert len({r["energy_kwh"] for r in results.values()}) == 1
    # A fixed tariff prices every kWh alike: equal cost now and shifted means equal energy.
    gb = results["GB"]
    assert gb["tariff"] == "fixed"
    assert gb["run_now"]["cost_usd"] == gb["shifted"]["cost_usd"]
    assert gb["run_now"]["cost_usd"] == pytest.approx(gb["energy_kwh"] * 0.220, abs=0.01)
    assert gb["shifted"]["carbon_kg"] < gb["run_now"]["carbon_kg"]
    # The zone figures are the real 2022 data.
    de = next(z for z in report["zones"] if z["zone"] == "DE-LU")
    direct = csv_column("DE-LU_2022_hourly.csv.gz", DIRECT)
    assert de["carbon_mean"] == pytest.approx(fmean(direct), rel=1e-9)
    assert de["timezone"] == "Europe/Berlin"
    prices = bundled_values("DE-LU__price.parquet", start="2022-01-01")
    assert de["price_mean"] == pytest.approx(float(np.nanmean(prices)), rel=1e-9)
    assert stored_files(tmp_path) == []


def test_version(tmp_path: Path) -> None:
    proc = gridshift_cli(["--version"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"gridshift {gridshift.__version__}\n"
    assert gridshift.__version__ == version("gridshift")
