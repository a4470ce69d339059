"""Normalised solar profiles: on-site renewable output as a share 0..1 of peak.

The format of the Solcast-derived profiles that vessim ships: a ``time`` column in seconds since
the profile's start, and one column per site (``Berlin``, ``San Francisco``, ...). Relative times
need an anchor: ``start``. ``value_column`` picks the site.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from gridshift.domain import ConfigError, SignalDataError
from gridshift.domain.timeutil import require_utc
from gridshift.signals.importers._table import find_column, read_csv, rows_of
from gridshift.signals.validate import RawPoints

if TYPE_CHECKING:
    from gridshift.signals.importers import ImportOptions, Source


def read(source: Source, options: ImportOptions, label: str) -> RawPoints:
    frame = read_csv(source, label)
    time_col = find_column(frame, options.time_column or "time", field="time_column", label=label)
    sites = [c for c in frame.columns if c != time_col]
    if not sites:
        raise SignalDataError("a solar profile needs at least one site column", source=label)
    if options.value_column:
        site = find_column(frame, options.value_column, field="value_column", label=label)
    elif len(sites) == 1:
        site = sites[0]
    else:
        raise ConfigError(
            "the profile has several sites; say which",
            source=label,
            field="value_column",
            value=None,
            accepted=", ".join(repr(s) for s in sites),
        )
    if options.start is None:
        raise ConfigError(
            "solar profiles give seconds since their start, so they need an anchor",
            source=label,
            field="start",
            value=None,
            accepted="--start 2023-06-08T00:00:00Z (the time the first row stands for)",
        )
    anchor = int(require_utc(options.start, "start").timestamp())
    offsets = pd.to_numeric(frame[time_col].str.strip(), errors="coerce")
    if offsets.isna().any():
        bad = rows_of(frame)[offsets.isna().to_numpy()]
        raise SignalDataError(
            f"{len(bad)} time value(s) are not seconds since the start",
            source=label,
            rows=bad,
            hint=f"first at row {int(bad[0])}",
        )
    if (offsets.abs() > 1e10).any():
        raise SignalDataError("time offsets are implausibly large", source=label)
    return RawPoints(
        times=offsets.round() + anchor,
        values=frame[site],
        rows=rows_of(frame),
        unit=options.unit or "fraction",
        naive_times="utc",
    )
