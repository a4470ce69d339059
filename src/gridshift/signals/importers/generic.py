"""Generic CSV: a time column, a value column and a unit.

The options carry the names of the config keys: ``time_column``, ``value_column``, ``unit``,
``timezone``. Where they are not given:

- the time column is the one whose name says ``UTC`` (else the only one that says time or date);
- the value column is the only other column left once time-like columns are set aside;
- the unit is read from the value column's name, e.g. ``Price (USD/MWh)``.

Times must carry a zone (``+01:00``, ``Z``), or the time column's name must say ``UTC``, or
``timezone`` must say what naive times mean. Purely numeric times are Unix seconds.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pandas as pd

from gridshift.domain import ConfigError, SignalDataError
from gridshift.domain.signal import unit_conversion
from gridshift.signals.importers._table import find_column, normalise, read_csv, rows_of
from gridshift.signals.validate import ZONE_SUFFIX, RawPoints

if TYPE_CHECKING:
    from gridshift.signals.importers import ImportOptions, Source

_UNIT_IN_NAME = re.compile(r"[\(\[]([^\)\]]+)[\)\]]")


def _time_like(name: str) -> bool:
    n = normalise(name)
    return any(word in n for word in ("time", "date", "utc", "timestamp"))


def pick_time_column(frame: pd.DataFrame, options: ImportOptions, label: str) -> str:
    if options.time_column:
        return find_column(frame, options.time_column, field="time_column", label=label)
    utc = [c for c in frame.columns if "utc" in normalise(c)]
    timey = [c for c in frame.columns if _time_like(c)]
    for found in (utc, timey):
        if len(found) == 1:
            return found[0]
    raise ConfigError(
        "cannot tell which column holds the times",
        source=label,
        field="time_column",
        value=None,
        accepted=f"--time-column one of {', '.join(repr(c) for c in frame.columns)}",
    )


def pick_value_column(
    frame: pd.DataFrame, options: ImportOptions, time_col: str, label: str
) -> str:
    if options.value_column:
        return find_column(frame, options.value_column, field="value_column", label=label)
    rest = [c for c in frame.columns if c != time_col and not _time_like(c)]
    if len(rest) == 1:
        return rest[0]
    raise ConfigError(
        "cannot tell which column holds the values",
        source=label,
        field="value_column",
        value=None,
        accepted=f"--value-column one of {', '.join(repr(c) for c in rest or frame.columns)}",
    )


def unit_from_name(column: str, options: ImportOptions, label: str) -> str:
    if options.unit:
        return options.unit
    for found in _UNIT_IN_NAME.findall(column):
        try:
            unit_conversion(found, options.kind)
        except ConfigError:
            continue
        return str(found)
    raise ConfigError(
        f"no unit given and none in the column name {column!r}",
        source=label,
        field="unit",
        value=None,
        accepted="--unit, e.g. usd_per_mwh, g_per_kwh, lb_per_mwh, fraction, percent, kw",
    )


def localise(times: pd.Series[str], timezone: str, label: str) -> pd.Series[pd.Timestamp]:
    """Naive local times in ``timezone`` as aware times; ambiguous or missing hours refuse.
    Times that carry their own offsets keep them; a column that mixes both is refused."""
    text = times.astype("string").str.strip()
    zoned = text.str.contains(ZONE_SUFFIX, regex=True, na=False)
    if bool(zoned.all()):
        return pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True)
    if bool(zoned.any()):
        raise SignalDataError(
            f"{int(zoned.sum())} of {len(text)} times carry a zone and the others do not",
            source=label,
            hint="give every time an offset, or none (and say which with --timezone)",
        )
    try:
        parsed = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=False)
        return parsed.dt.tz_localize(timezone, ambiguous="infer", nonexistent="NaT")
    except Exception as exc:  # pandas and zoneinfo raise several types for bad zones and DST
        raise SignalDataError(
            f"times cannot be placed in {timezone!r} ({type(exc).__name__}: {exc})",
            source=label,
            hint="give times with offsets, or an IANA zone such as Europe/Berlin or UTC",
        ) from None


def read(source: Source, options: ImportOptions, label: str) -> RawPoints:
    frame = read_csv(source, label)
    time_col = pick_time_column(frame, options, label)
    value_col = pick_value_column(frame, options, time_col, label)
    unit = unit_from_name(value_col, options, label)
    times: Any = frame[time_col]
    if options.timezone:
        times = localise(frame[time_col], options.timezone, label)
    elif frame[time_col].str.strip().str.fullmatch(r"-?[0-9]+(\.[0-9]+)?").all():
        times = pd.to_numeric(frame[time_col], errors="coerce").astype("float64")
    return RawPoints(
        times=times,
        values=frame[value_col],
        rows=rows_of(frame),
        unit=unit,
        naive_times="utc" if "utc" in normalise(time_col) else "reject",
    )
