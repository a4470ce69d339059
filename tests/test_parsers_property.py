"""Property tests: every reader either returns a valid ``Series`` or raises a ``GridshiftError``.

For every format (electricitymaps, csv, watttime, solar, parquet) three kinds of input:

(a) arbitrary bytes (raw, gzip-compressed, or after a plausible header);
(b) text CSVs (for parquet: tables) built from a plausible header and random rows;
(c) real files mutated: rows dropped, duplicated, shuffled; values replaced by NaN, 'abc',
    negative, empty; timestamps shifted by an hour around the DST changes or turned into local
    time labelled as UTC; header renamed; truncated at a random byte (before or after gzip).

Nothing else may escape: a ``ValueError`` from pandas or a ``UnicodeDecodeError`` is a bug. A
returned series must hold the ``Series`` invariants: strictly increasing times, one value and
one quality per time, NaN exactly where quality is MISSING, and the kind's canonical unit.

Each bug these tests found has a minimal reproduction in ``test_importers.py`` (the
``test_bug_*`` tests and the Parquet clock-change and binary-time-column tests); the strategies
here keep reaching those inputs too (times far outside 1900-2199, non-ASCII digits, non-UTF-8
bytes, naive times at clock changes).
"""

from __future__ import annotations

import gzip
import io
import json
import os
import random
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from gridshift.domain import GridshiftError, Quality, Series, SignalDataError, SignalKind
from gridshift.domain.signal import unit_conversion
from gridshift.signals import parquet_format
from gridshift.signals.importers import KINDS, ImportOptions, import_file
from gridshift.signals.validate import Issue, RawPoints, parse_times

MAX_EXAMPLES = 1000 if os.environ.get("CI") or os.environ.get("GRIDSHIFT_REQUIRE_SERVICES") else 100

DATA = Path(__file__).parent / "data"
FORMATS = ("electricitymaps", "csv", "watttime", "solar", "parquet")
CSV_FORMATS = ("electricitymaps", "csv", "watttime", "solar")
BERLIN = ZoneInfo("Europe/Berlin")
START = datetime(2023, 6, 8, tzinfo=UTC)

C = SignalKind.CARBON
M = SignalKind.MARGINAL
P = SignalKind.PRICE
R = SignalKind.RENEWABLE
LCA = "Carbon Intensity gCO₂eq/kWh (LCA)"

# Options each format is read with (zones with and without clock changes, units, overrides).
OPTIONS: dict[str, list[ImportOptions]] = {
    "electricitymaps": [
        ImportOptions(zone="DE-LU", kind=C, format="electricitymaps"),
        ImportOptions(zone="GB", kind=R, format="electricitymaps"),
        ImportOptions(zone="XX", kind=C, format="electricitymaps", value_column=LCA),
        ImportOptions(zone="DE-LU", kind=C, format="electricitymaps", unit="kg_per_mwh"),
    ],
    "csv": [
        ImportOptions(zone="DE-LU", kind=P, format="csv"),
        ImportOptions(zone="US-CAL-CISO", kind=P, format="csv", timezone="America/Los_Angeles"),
        ImportOptions(zone="DE-LU", kind=C, format="csv", unit="g_per_kwh"),
        ImportOptions(zone="XX", kind=R, format="csv", unit="percent"),
        ImportOptions(zone="GB", kind=M, format="csv", unit="lbs/mwh", timezone="UTC"),
        ImportOptions(
            zone="DE-LU",
            kind=P,
            format="csv",
            time_column="Datetime (Local)",
            value_column="Price (USD/MWh)",
        ),
        ImportOptions(zone="DE-LU", kind=P, format="csv", timezone="Europe/Berlin"),
    ],
    "watttime": [
        ImportOptions(zone="US-CAL-CISO", kind=M, format="watttime"),
        ImportOptions(zone="XX", kind=C, format="watttime", unit="g_per_kwh"),
        ImportOptions(zone="DE-LU", kind=M, format="watttime", value_column="value"),
    ],
    "solar": [
        ImportOptions(zone="DE-LU", kind=R, format="solar", value_column="Berlin", start=START),
        ImportOptions(zone="XX", kind=R, format="solar", start=START),
        ImportOptions(
            zone="GB",
            kind=R,
            format="solar",
            value_column="San Francisco",
            unit="kw",
            start=datetime(2022, 3, 27, tzinfo=BERLIN),
        ),
    ],
    "parquet": [
        ImportOptions(zone="DE-LU", kind=C, format="parquet"),
        ImportOptions(zone="DE-LU", kind=P, format="parquet"),
        ImportOptions(zone="XX", kind=C, format="parquet", unit="g_per_kwh"),
        ImportOptions(zone="GB", kind=P, format="parquet", timezone="Europe/London"),
        ImportOptions(zone="DE-LU", kind=R, format="parquet", unit="fraction"),
    ],
}
assert all(o.kind in KINDS[fmt] for fmt, opts in OPTIONS.items() for o in opts)

CANONICAL: dict[SignalKind, set[str]] = {
    C: {"g_per_kwh"},
    M: {"g_per_kwh"},
    P: {"usd_per_mwh"},
    R: {"fraction", "kw"},
}

FUZZ = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# --------------------------------------------------------------------------------------------
# The property
# --------------------------------------------------------------------------------------------


def check_series(series: Series, issues: list[Issue], options: ImportOptions) -> None:
    assert isinstance(series, Series)
    assert series.zone == options.zone
    assert series.kind is options.kind
    assert series.unit in CANONICAL[options.kind]
    if options.unit:
        assert series.unit == unit_conversion(options.unit, options.kind)[0]
    times = series.times
    assert times.dtype == np.dtype("datetime64[s]")
    assert len(times) >= 2
    assert len(series.values) == len(times) == len(series.quality)
    assert bool(np.all(np.diff(times.astype(np.int64)) > 0)), "times not strictly increasing"
    missing = series.quality == Quality.MISSING
    np.testing.assert_array_equal(np.isnan(series.values), missing)
    assert set(np.unique(series.quality).tolist()) <= {int(q) for q in Quality}
    valid = series.values[~missing]
    assert valid.size > 0
    assert bool(np.all(np.isfinite(valid)))
    if options.kind is not P:
        assert bool(np.all(valid >= 0))
    if series.unit == "fraction":
        assert bool(np.all(valid <= 1 + 1e-9))
    if options.kind is not R:
        assert bool(np.any(valid != 0))
    assert series.step_s > 0
    assert series.step_s in set(np.diff(times.astype(np.int64)).tolist())
    for issue in issues:
        assert isinstance(issue, Issue)
        assert issue.severity in ("info", "warning")
        assert issue.count >= 0
        assert len(issue.locations) <= 5
        json.dumps(issue.as_dict())


def import_or_refuse(fmt: str, source: bytes, options: ImportOptions) -> Series | None:
    """The property: a valid series, or a GridshiftError. Anything else fails the test."""
    try:
        series, issues = import_file(source, options)
    except GridshiftError as exc:
        refused: GridshiftError = exc
    else:
        check_series(series, issues, options)
        event("valid series")
        return series
    assert refused.one_line()
    event(f"refused: {type(refused).__name__}")
    return None


# --------------------------------------------------------------------------------------------
# Real files, loaded once
# --------------------------------------------------------------------------------------------


def _lines(name: str) -> list[str]:
    return gzip.decompress((DATA / name).read_bytes()).decode("utf-8").splitlines()


_DE = _lines("DE-LU_2022_hourly.csv.gz")
_GB = _lines("GB_2022_hourly.csv.gz")
_DE_PRICE = _lines("DE-LU_electricity_prices_2022.csv.gz")
_CISO_PRICE = _lines("US-CAL-CISO_electricity_prices_2022.csv.gz")
_WATTTIME = _lines("watttime_example.csv.gz")
_SOLAR = _lines("solar_example.csv.gz")

# Data line of the first hour after each DE-LU clock change (2022-03-27 01:00Z, 10-30 01:00Z).
_SPRING, _AUTUMN = 1 + (31 + 28 + 26) * 24 + 1, 1 + 302 * 24 + 1
assert _DE[_SPRING].startswith("2022-03-27 01:00:00")
assert _DE[_AUTUMN].startswith("2022-10-30 01:00:00")


def _slice(lines: list[str], first: int = 1, count: int = 399) -> tuple[str, ...]:
    """The header and ``count`` data lines from line ``first``."""
    return (lines[0], *lines[first : first + count])


# Per format: the real slices to mutate, and the column index holding the times.
BASES: dict[str, list[tuple[str, ...]]] = {
    "electricitymaps": [
        _slice(_DE),
        _slice(_DE, _SPRING - 100, 200),
        _slice(_DE, _AUTUMN - 100, 200),
        _slice(_GB),
    ],
    "csv": [
        _slice(_DE_PRICE),
        _slice(_DE_PRICE, _SPRING - 100, 200),
        _slice(_DE_PRICE, _AUTUMN - 100, 200),
        _slice(_CISO_PRICE),
    ],
    "watttime": [_slice(_WATTTIME)],
    "solar": [_slice(_SOLAR)],
}
TIME_COLUMNS: dict[str, tuple[int, ...]] = {
    "electricitymaps": (0,),
    "csv": (0, 1),
    "watttime": (0,),
    "solar": (0,),
}


def _series_slice(path: str, options: ImportOptions, first: int, count: int) -> Series:
    series, _ = import_file(DATA / path, options)
    return series.with_points(
        series.times[first : first + count],
        series.values[first : first + count],
        series.quality[first : first + count],
    )


PARQUET_BASES: list[Series] = [
    _series_slice("DE-LU_2022_hourly.csv.gz", OPTIONS["electricitymaps"][0], _SPRING - 101, 200),
    _series_slice("DE-LU_2022_hourly.csv.gz", OPTIONS["electricitymaps"][0], _AUTUMN - 101, 200),
    _series_slice("DE-LU_electricity_prices_2022.csv.gz", OPTIONS["csv"][0], 0, 300),
]


def test_mutation_bases_import_cleanly() -> None:
    """The unmutated slices are valid, so the mutation tests start from working files."""
    for fmt, bases in BASES.items():
        for base in bases:
            data = ("\n".join(base) + "\n").encode()
            options = OPTIONS[fmt][0]
            series, _ = import_file(data, options)
            check_series(series, [], options)
            assert len(series) == len(base) - 1
    for series in PARQUET_BASES:
        back, issues = import_file(
            _parquet_bytes(parquet_format.to_table(series)),
            ImportOptions(zone=series.zone, kind=series.kind, format="parquet"),
        )
        np.testing.assert_array_equal(back.times, series.times)
        np.testing.assert_array_equal(back.values, series.values)
        assert all(i.code == "negative_price" for i in issues)


# --------------------------------------------------------------------------------------------
# Strategies
# --------------------------------------------------------------------------------------------

# Short text of any characters: commas, quotes, newlines and non-ASCII digits included.
junk_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=8)
VALUE_WORDS = [
    "",
    " ",
    "NaN",
    "nan",
    "null",
    "None",
    "abc",
    "-1",
    "-400.5",
    "0",
    "-0",
    "inf",
    "-inf",
    "1e400",
    "1e-400",
    "  7 ",
    "1,5",
    '"3"',
    "true",
    "1_000",
    "0x10",
    "٣",
    "１２",
    "99999999999999999999",
]
value_cell = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(-1e4, 1e4).map(lambda f: f"{f:.6g}"),
    st.integers(-1000, 1000).map(str),
    st.sampled_from(VALUE_WORDS),
    junk_text,
)
number_cell = st.one_of(
    st.floats(0, 1, allow_subnormal=False).map(lambda f: f"{f:.4f}"),
    st.floats(-50, 1000).map(lambda f: f"{f:.2f}"),
    st.sampled_from(["", "NaN", "abc", "-1", "0"]),
)
BASE_2022 = int(datetime(2022, 1, 1, tzinfo=UTC).timestamp())
TIME_FORMATS = [
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%SZ",
    "%Y-%m-%dT%H:%M:%S+00:00",
    "%Y-%m-%d %H:%M:%S UTC",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d",
    "%d/%m/%Y %H:%M",
]


# Far outside 1900-2199, the range gridshift handles: years before 1 and after 2262 included.
WIDE_SECONDS = st.integers(-(2**38), 2**38)
JUNK_TIMES = [
    "",
    "2022-13-01",
    "2022-02-30 00:00",
    "0001-01-01 00:00:00",
    "2500-01-01T00:00:00Z",
    "99999999999999999999",
    "-70000000000",
    "10000000000",
    "٣",
]
TIME_STYLES = ["grid"] * 4 + ["jitter", "random", "unix", "junk", "local"]


@st.composite
def time_cell(draw: st.DrawFn, index: int, step: int, fmt: str, style: str = "") -> str:
    """A time for row ``index``: on a regular grid in 2022, or near it, or anything.

    ``style`` (one per file, or drawn per cell when empty) is what the cell looks like: a
    strftime format for grid times, or one of ``TIME_STYLES``.
    """
    how = style or draw(st.sampled_from(TIME_STYLES))
    seconds = BASE_2022 + 60 * 24 * 3600 + index * step
    if how == "jitter":
        seconds += draw(st.sampled_from([-3600, -1800, -300, 0, 1, 3600, 7200]))
    elif how == "random":
        seconds = BASE_2022 + draw(st.integers(-(10**8), 10**8) | WIDE_SECONDS)
    if fmt == "solar":
        if how == "junk":
            return draw(junk_text)
        return str(seconds - BASE_2022) if how != "unix" else f"{draw(st.floats(0, 1e8)):.1f}"
    if how == "unix":
        return str(seconds)
    if how == "junk":
        return draw(st.one_of(junk_text, st.sampled_from(JUNK_TIMES)))
    try:
        stamp = datetime.fromtimestamp(seconds, UTC)
    except (ValueError, OverflowError, OSError):  # beyond Python's years 1..9999
        return str(seconds)
    if how == "local":
        local = stamp.astimezone(BERLIN)
        return draw(st.sampled_from([local.isoformat(sep=" "), local.strftime("%Y-%m-%d %H:%M")]))
    return stamp.strftime(how if "%" in how else draw(st.sampled_from(TIME_FORMATS)))


# Plausible headers per format: (column name, what its cells hold).
HEADERS: dict[str, list[list[tuple[str, str]]]] = {
    "electricitymaps": [
        [
            ("Datetime (UTC)", "time"),
            ("Country", "text"),
            ("Zone Name", "text"),
            ("Zone Id", "zone"),
            ("Carbon Intensity gCO₂eq/kWh (direct)", "value"),
            ("Carbon Intensity gCO₂eq/kWh (LCA)", "value"),
            ("Low Carbon Percentage", "value"),
            ("Renewable Percentage", "value"),
            ("Data Source", "text"),
            ("Data Estimated", "bool"),
            ("Data Estimation Method", "text"),
        ],
        [("Datetime (UTC)", "time"), ("Carbon Intensity gCO2eq/kWh", "value")],
    ],
    "csv": [
        [("Datetime (UTC)", "time"), ("Datetime (Local)", "time"), ("Price (USD/MWh)", "value")],
        [("time", "time"), ("value", "value")],
        [("timestamp", "time"), ("Carbon (g/kWh)", "value")],
        [("Date (UTC)", "time"), ("share (%)", "value"), ("note", "text")],
    ],
    "watttime": [
        [("oootime", "time"), ("Caiso_North", "value")],
        [("point_time", "time"), ("ba", "text"), ("value", "value"), ("frequency", "value")],
    ],
    "solar": [
        [("time", "time"), ("Berlin", "value")],
        [("time", "time"), ("Berlin", "value"), ("San Francisco", "value")],
    ],
}


@st.composite
def csv_texts(draw: st.DrawFn, fmt: str) -> bytes:
    columns = draw(st.sampled_from(HEADERS[fmt]))
    step = draw(st.sampled_from([300, 3600, 86400]))
    n = draw(st.integers(0, 20))
    # A tidy file keeps one time layout and mostly numbers; a messy one mixes anything.
    tidy = draw(st.booleans())
    style = draw(st.sampled_from([*TIME_FORMATS, "unix", "local"])) if tidy else ""
    values = number_cell if tidy else value_cell
    lines = [",".join(name for name, _ in columns)]
    for i in range(n):
        cells = []
        for _, what in columns:
            if what == "time":
                cells.append(draw(time_cell(i, step, fmt, style)))
            elif what == "value":
                cells.append(draw(values))
            elif what == "bool":
                cells.append(draw(st.sampled_from(["true", "false", "", "1", "TRUE", "no"])))
            elif what == "zone":
                cells.append(draw(st.sampled_from(["DE", "DE-LU", "GB", "", "xx"])))
            else:
                cells.append(
                    draw(st.one_of(st.sampled_from(["Germany", "entsoe.eu", ""]), junk_text))
                )
        extra = draw(st.sampled_from([0] * 20 + [-1, 1]))
        if extra < 0:
            cells = cells[:-1]
        elif extra > 0:
            cells.append("1")
        lines.append(",".join(cells))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    text = newline.join(lines) + draw(st.sampled_from(["", newline, newline * 2]))
    data = (draw(st.sampled_from(["", "\ufeff"])) + text).encode("utf-8")
    return gzip.compress(data) if draw(st.booleans()) else data


# ---- Mutations of real files -----------------------------------------------------------------


def shift_time(cell: str, seconds: int) -> str:
    text = cell.strip()
    if re.fullmatch(r"-?[0-9]+", text):
        return str(int(text) + seconds)
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        return cell
    return (stamp + timedelta(seconds=seconds)).isoformat(sep=" ")


def local_labelled_as_utc(cell: str) -> str:
    """A UTC time rewritten as Berlin wall-clock time, still labelled UTC (the DST artefact)."""
    text = cell.strip()
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        return cell
    aware = stamp.tzinfo is not None
    wall = (stamp if aware else stamp.replace(tzinfo=UTC)).astimezone(BERLIN).replace(tzinfo=None)
    return wall.isoformat(sep=" ") + ("+00:00" if aware else "")


MUTATIONS = [
    "drop",
    "duplicate",
    "shuffle",
    "value",
    "value",
    "shift",
    "shift",
    "local",
    "rename",
    "fields",
    "blank",
]


def mutate_rows(
    data: st.DataObject, header: list[str], rows: list[list[str]], time_cols: tuple[int, ...]
) -> list[str]:
    """Apply a few random mutations; returns the names of those applied."""
    applied = data.draw(st.lists(st.sampled_from(MUTATIONS), max_size=5), label="mutations")
    for name in applied:
        at = data.draw(st.integers(0, max(len(rows) - 1, 0)))
        count = data.draw(st.integers(1, 60))
        if name == "drop":
            del rows[at : at + count]
        elif name == "duplicate":
            rows[at:at] = [list(r) for r in rows[at : at + count]]
        elif name == "shuffle":
            part = rows[at : at + count]
            random.Random(data.draw(st.integers(0, 2**32))).shuffle(part)
            rows[at : at + count] = part
        elif name == "value" and rows:
            for _ in range(count // 10 + 1):
                row = rows[data.draw(st.integers(0, len(rows) - 1))]
                col = data.draw(st.integers(0, len(row) - 1))
                row[col] = data.draw(
                    st.sampled_from(["NaN", "abc", "", "-1", "-250.5", "0"]) | value_cell
                )
        elif name == "shift" and rows:
            col = data.draw(st.sampled_from(time_cols))
            delta = data.draw(st.sampled_from([-3600, 3600, -7200, 1800]))
            for row in rows[at : at + count // 10 + 1]:
                if col < len(row):
                    row[col] = shift_time(row[col], delta)
        elif name == "local":
            col = data.draw(st.sampled_from(time_cols))
            for row in rows:
                if col < len(row):
                    row[col] = local_labelled_as_utc(row[col])
        elif name == "rename":
            col = data.draw(st.integers(0, len(header) - 1))
            old = header[col]
            header[col] = data.draw(
                st.sampled_from(
                    [old.lower(), old.upper(), old[:-1], f" {old} ", "", "x", header[col - 1]]
                )
                | junk_text
            )
        elif name == "fields" and rows:
            row = rows[at]
            if data.draw(st.booleans()):
                row.append("1")
            elif len(row) > 1:
                row.pop()
        elif name == "blank":
            rows.insert(at, [""])
    return applied


def serialise(data: st.DataObject, header: list[str], rows: list[list[str]]) -> bytes:
    text = "\n".join(",".join(r) for r in [header, *rows]) + "\n"
    raw = text.encode("utf-8")
    if data.draw(st.integers(0, 4)) == 0:
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    if data.draw(st.booleans()):
        raw = gzip.compress(raw, compresslevel=1)
        if data.draw(st.integers(0, 9)) == 0:
            raw = raw[: data.draw(st.integers(0, len(raw)))]
    return raw


# ---- Parquet ---------------------------------------------------------------------------------


def _parquet_bytes(table: pa.Table, compression: str = "zstd") -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf, compression=compression)
    return buf.getvalue()


# Seconds from about 6700 BC to 10700 AD: pandas' nanoseconds end in 2262.
ANY_SECONDS = st.integers(-(2**38), 2**38)
COLUMN_NAMES = ["time", "value", "quality", "Datetime (UTC)", "Price (USD/MWh)", "timestamp", "x"]
META_FIELDS = {
    "zone": st.sampled_from(["DE-LU", "GB", "XX", "bogus", ""]) | st.integers(),
    "kind": st.sampled_from(["carbon", "price", "renewable", "marginal", "x"]) | st.none(),
    "unit": st.sampled_from(["g_per_kwh", "usd_per_mwh", "lbs/mwh", "fraction", "", "??"])
    | st.none()
    | st.integers(),
    "step_s": st.integers(-5, 10**6) | st.text(max_size=3),
    "source": st.text(max_size=5),
    "attrs": st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2) | st.integers(),
}


@st.composite
def gridshift_metadata(draw: st.DrawFn) -> bytes:
    if draw(st.integers(0, 5)) == 0:
        return draw(st.sampled_from([b"{", b"[]", b"null", b"\xff", b'"x"']))
    keys = draw(st.lists(st.sampled_from(sorted(META_FIELDS)), unique=True))
    return json.dumps({k: draw(META_FIELDS[k]) for k in keys}).encode()


@st.composite
def arrow_column(draw: st.DrawFn, n: int) -> pa.Array:
    kind = draw(
        st.sampled_from(
            [
                "int",
                "float",
                "str",
                "ts_utc",
                "ts_naive",
                "ts_berlin",
                "bool",
                "null",
                "bytes",
                "uint8",
                "date",
            ]
        )
    )
    if kind == "int":
        return pa.array(draw(st.lists(ANY_SECONDS | st.none(), min_size=n, max_size=n)))
    if kind == "float":
        floats = st.floats(-(2.0**38), 2.0**38) | st.sampled_from([np.nan, np.inf, -np.inf])
        return pa.array(draw(st.lists(floats, min_size=n, max_size=n)), type=pa.float64())
    if kind == "str":
        cells = st.one_of(value_cell, time_cell(draw(st.integers(0, 50)), 3600, "csv"))
        return pa.array(draw(st.lists(cells, min_size=n, max_size=n)), type=pa.string())
    if kind.startswith("ts_"):
        seconds = (
            [BASE_2022 + 3600 * i for i in range(n)]
            if draw(st.booleans())
            else draw(st.lists(ANY_SECONDS, min_size=n, max_size=n))
        )
        tz = {"ts_utc": "UTC", "ts_naive": None, "ts_berlin": "Europe/Berlin"}[kind]
        unit = draw(st.sampled_from(["s", "ms", "us"]))
        scale = {"s": 1, "ms": 1000, "us": 10**6}[unit]
        return pa.array([t * scale for t in seconds], type=pa.timestamp(unit, tz))
    if kind == "bool":
        return pa.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    if kind == "null":
        return pa.nulls(n)
    if kind == "bytes":
        cells = st.binary(max_size=6) | value_cell.map(str.encode)
        return pa.array(draw(st.lists(cells, min_size=n, max_size=n)), type=pa.binary())
    if kind == "uint8":
        return pa.array(draw(st.lists(st.integers(0, 255), min_size=n, max_size=n)), pa.uint8())
    return pa.array(
        draw(st.lists(st.integers(-(10**5), 10**5), min_size=n, max_size=n)), type=pa.date32()
    )


PLAUSIBLE_PAIRS = [
    ("time", "value"),
    ("Datetime (UTC)", "Price (USD/MWh)"),
    ("timestamp", "Carbon (g/kWh)"),
    ("time", "share (%)"),
]


@st.composite
def parquet_tables(draw: st.DrawFn) -> bytes:
    """Any small table, or (half the time) a time column and a value column, typed at random."""
    n = draw(st.integers(0, 20))
    if draw(st.booleans()):
        names = list(draw(st.sampled_from(PLAUSIBLE_PAIRS)))
    else:
        names = draw(st.lists(st.sampled_from(COLUMN_NAMES), min_size=1, max_size=4, unique=True))
    table = pa.table({name: draw(arrow_column(n)) for name in names})
    if draw(st.booleans()):
        table = table.replace_schema_metadata({b"gridshift.series": draw(gridshift_metadata())})
    return _parquet_bytes(table, draw(st.sampled_from(["none", "zstd", "snappy"])))


def mutate_parquet(data: st.DataObject, series: Series) -> bytes:
    """Our own Parquet file of a real slice, damaged at table level, then maybe at byte level."""
    frame = pd.DataFrame(
        {
            "time": pd.to_datetime(series.times.astype(np.int64), unit="s", utc=True),
            "value": series.values,
            "quality": series.quality,
        }
    )
    meta: bytes | None = parquet_format.to_table(series).schema.metadata[b"gridshift.series"]
    for name in data.draw(st.lists(st.sampled_from(PARQUET_MUTATIONS), max_size=5)):
        frame = frame.reset_index(drop=True)
        n = len(frame)
        at = data.draw(st.integers(0, max(n - 1, 0)))
        count = data.draw(st.integers(1, 60))
        rows = data.draw(st.lists(st.integers(0, max(n - 1, 0)), min_size=1, max_size=10))
        times = frame["time"] if "time" in frame.columns else None
        is_time = times is not None and pd.api.types.is_datetime64_any_dtype(times.dtype)
        aware = times is not None and isinstance(times.dtype, pd.DatetimeTZDtype)
        if name == "drop":
            frame = frame.drop(frame.index[at : at + count])
        elif name == "duplicate":
            frame = pd.concat([frame, frame.iloc[at : at + count]])
        elif name == "shuffle":
            frame = frame.sample(frac=1.0, random_state=data.draw(st.integers(0, 2**31)))
        elif (
            name == "value"
            and n
            and "value" in frame.columns
            and pd.api.types.is_float_dtype(frame["value"].dtype)
        ):
            bad = data.draw(st.sampled_from([np.nan, -1.0, -250.5, 0.0, np.inf, 1e300]))
            frame.loc[rows, "value"] = bad
        elif name == "quality" and n and "quality" in frame.columns:
            frame.loc[rows, "quality"] = data.draw(st.integers(0, 255))
        elif name == "shift" and n and is_time:
            delta = pd.Timedelta(hours=data.draw(st.sampled_from([-1, 1, 2])))
            frame.loc[rows, "time"] = frame.loc[rows, "time"] + delta
        elif name == "local" and aware:
            wall = frame["time"].dt.tz_convert(BERLIN).dt.tz_localize(None)
            frame["time"] = wall.dt.tz_localize("UTC") if data.draw(st.booleans()) else wall
        elif name == "retype" and is_time:
            how = data.draw(st.sampled_from(["str", "int", "naive"]))
            if how == "str":
                frame["time"] = frame["time"].astype(str)
            elif how == "int":
                ns = frame["time"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
                frame["time"] = ns // 10**9
            elif aware:
                frame["time"] = frame["time"].dt.tz_localize(None)
        elif name == "rename":
            col = data.draw(st.sampled_from(list(frame.columns)))
            new = data.draw(st.sampled_from(["Time", "value", "x", "Datetime (UTC)", "q"]))
            if new not in frame.columns:
                frame = frame.rename(columns={col: new})
        elif name == "drop_column" and len(frame.columns) > 1:
            frame = frame.drop(columns=[data.draw(st.sampled_from(list(frame.columns)))])
        elif name == "metadata":
            meta = data.draw(st.none() | gridshift_metadata())
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.replace_schema_metadata({b"gridshift.series": meta} if meta else None)
    raw = _parquet_bytes(table, data.draw(st.sampled_from(["none", "zstd", "snappy"])))
    damage = data.draw(st.sampled_from(["none"] * 6 + ["truncate", "flip"]))
    if damage == "truncate":
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    elif damage == "flip":
        flipped = bytearray(raw)
        for _ in range(data.draw(st.integers(1, 4))):
            flipped[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
        raw = bytes(flipped)
    return raw


PARQUET_MUTATIONS = [
    "drop",
    "duplicate",
    "shuffle",
    "value",
    "quality",
    "shift",
    "local",
    "retype",
    "rename",
    "drop_column",
    "metadata",
]


# --------------------------------------------------------------------------------------------
# (a) arbitrary bytes
# --------------------------------------------------------------------------------------------

PREFIXES: dict[str, list[bytes]] = {
    "electricitymaps": [b"", (_DE[0] + "\n").encode(), (_DE[0] + "\n" + _DE[1] + "\n").encode()],
    "csv": [b"", (_DE_PRICE[0] + "\n").encode(), b"time,value\n", b"time (UTC),value\n"],
    "watttime": [b"", b"oootime,Caiso_North\n", b"point_time,value\n"],
    "solar": [b"", b"time,Berlin\n", b"time,Berlin\n0,0.5\n"],
    "parquet": [b"", b"PAR1", _parquet_bytes(parquet_format.to_table(PARQUET_BASES[0]))[:200]],
}


@pytest.mark.parametrize("fmt", FORMATS)
@FUZZ
@given(data=st.data(), junk=st.binary(max_size=2000))
def test_arbitrary_bytes(fmt: str, data: st.DataObject, junk: bytes) -> None:
    options = data.draw(st.sampled_from(OPTIONS[fmt]), label="options")
    source = data.draw(st.sampled_from(PREFIXES[fmt]), label="prefix") + junk
    if data.draw(st.booleans(), label="gzip"):
        source = gzip.compress(source, compresslevel=1)
    import_or_refuse(fmt, source, options)


# --------------------------------------------------------------------------------------------
# (b) plausible headers, random rows (random tables for Parquet)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", CSV_FORMATS)
@FUZZ
@given(data=st.data())
def test_random_rows_under_a_plausible_header(fmt: str, data: st.DataObject) -> None:
    source = data.draw(csv_texts(fmt), label="file")
    options = data.draw(st.sampled_from(OPTIONS[fmt]), label="options")
    import_or_refuse(fmt, source, options)


@FUZZ
@given(source=parquet_tables(), options=st.sampled_from(OPTIONS["parquet"]))
def test_random_parquet_tables(source: bytes, options: ImportOptions) -> None:
    import_or_refuse("parquet", source, options)


def test_times_that_are_bytes_but_not_utf8_are_refused_by_row() -> None:
    """Found by the property above: time values that are bytes but not UTF-8 reached the time
    parser, where pandas raised UnicodeDecodeError instead of our error naming the rows."""
    raw = RawPoints(
        times=pd.Series([b"\x80", b"2022-01-01T00:00Z"], dtype=object),
        values=pd.Series([1.0, 2.0]),
        rows=np.array([2, 3], dtype=np.int64),
        unit="g_per_kwh",
        naive_times="utc",
    )
    with pytest.raises(SignalDataError) as caught:
        parse_times(raw, "t.parquet")
    assert caught.value.rows is not None
    assert list(caught.value.rows) == [2]


# --------------------------------------------------------------------------------------------
# (c) mutated real files
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", CSV_FORMATS)
@FUZZ
@given(data=st.data())
def test_mutated_real_files(fmt: str, data: st.DataObject) -> None:
    base = data.draw(st.sampled_from(BASES[fmt]), label="base")
    header = base[0].split(",")
    rows = [line.split(",") for line in base[1:]]
    for name in mutate_rows(data, header, rows, TIME_COLUMNS[fmt]):
        event(f"mutation: {name}")
    source = serialise(data, header, rows)
    options = data.draw(st.sampled_from(OPTIONS[fmt]), label="options")
    import_or_refuse(fmt, source, options)


@FUZZ
@given(data=st.data())
def test_mutated_parquet_files(data: st.DataObject) -> None:
    base = data.draw(st.sampled_from(PARQUET_BASES), label="base")
    source = mutate_parquet(data, base)
    options = data.draw(st.sampled_from(OPTIONS["parquet"]), label="options")
    import_or_refuse("parquet", source, options)


# A sharper property for row-level damage: surviving points keep their exact time and value.

_ORIGINALS: dict[tuple[str, tuple[str, ...]], Series] = {}


def _original(fmt: str, base: tuple[str, ...]) -> Series:
    if (fmt, base) not in _ORIGINALS:
        data = ("\n".join(base) + "\n").encode()
        _ORIGINALS[fmt, base] = import_file(data, OPTIONS[fmt][0])[0]
    return _ORIGINALS[fmt, base]


@pytest.mark.parametrize("fmt", CSV_FORMATS)
@FUZZ
@given(data=st.data())
def test_row_mutations_never_change_a_surviving_point(fmt: str, data: st.DataObject) -> None:
    base = data.draw(st.sampled_from(BASES[fmt]), label="base")
    options = OPTIONS[fmt][0]
    original = _original(fmt, base)
    rows = list(base[1:])
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(rows) - 1)) if rows else 0
        count = data.draw(st.integers(1, 80))
        how = data.draw(st.sampled_from(["drop", "duplicate", "shuffle"]))
        if how == "drop":
            del rows[at : at + count]
        elif how == "duplicate":
            rows[at:at] = rows[at : at + count]
        else:
            part = rows[at : at + count]
            random.Random(data.draw(st.integers(0, 2**32))).shuffle(part)
            rows[at : at + count] = part
    source = ("\n".join([base[0], *rows]) + "\n").encode()
    series = import_or_refuse(fmt, source, options)
    if series is None:
        assert len(set(rows)) < 2  # only too few rows may make a real file unusable
        return
    index = np.searchsorted(original.times, series.times)
    assert bool(np.all(index < len(original)))
    np.testing.assert_array_equal(original.times[index], series.times)
    np.testing.assert_array_equal(original.values[index], series.values)
    np.testing.assert_array_equal(original.quality[index], series.quality)
    assert len(series) == len({line.split(",")[0] for line in rows})
