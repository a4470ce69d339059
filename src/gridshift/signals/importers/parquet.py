"""Parquet files: gridshift's own series files, or any table with a time and a value column.

A gridshift file (written by ``gridshift signals export``) needs no options. Any other Parquet
file needs ``time_column`` and ``value_column`` (and ``unit`` unless the value column names it),
exactly as for the generic CSV format; a time column of timestamp type carries its zone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from gridshift.domain import Quality, SignalDataError
from gridshift.signals import parquet_format
from gridshift.signals.importers.generic import pick_time_column, pick_value_column, unit_from_name
from gridshift.signals.validate import Issue, RawPoints

if TYPE_CHECKING:
    from gridshift.signals.importers import ImportOptions, Source


def read(source: Source, options: ImportOptions, label: str) -> RawPoints:
    table = parquet_format.open_table(source, label)
    meta = parquet_format.metadata(table)
    try:
        frame = table.to_pandas()
    except Exception as exc:  # arrow types pandas cannot hold
        raise SignalDataError(f"cannot read the Parquet columns ({exc})", source=label) from None
    if len(frame) == 0:
        raise SignalDataError("the file has no rows", source=label)
    rows = np.arange(1, len(frame) + 1, dtype=np.int64)
    notes: list[Issue] = []
    if meta is not None and {"time", "value"} <= set(frame.columns):
        if meta.get("kind") != options.kind.value or meta.get("zone") != options.zone:
            notes.append(
                Issue(
                    "relabelled",
                    "info",
                    len(frame),
                    f"the file holds {meta.get('zone')} {meta.get('kind')}; stored as "
                    f"{options.zone} {options.kind.value}",
                )
            )
        estimated = None
        if "quality" in frame.columns:
            estimated = frame["quality"].to_numpy() == Quality.ESTIMATED
        return RawPoints(
            times=frame["time"],
            values=frame["value"],
            rows=rows,
            unit=options.unit or str(meta.get("unit", "")),
            naive_times="utc",
            estimated=estimated,
            notes=notes,
        )
    frame.columns = [str(c) for c in frame.columns]
    time_col = pick_time_column(frame, options, label)
    value_col = pick_value_column(frame, options, time_col, label)
    times = frame[time_col]
    if pd.api.types.is_datetime64_any_dtype(times.dtype) and not isinstance(
        times.dtype, pd.DatetimeTZDtype
    ):
        if options.timezone is None and "utc" not in time_col.lower():
            raise SignalDataError(
                f"the time column {time_col!r} has no zone",
                source=label,
                hint="add --timezone UTC (or the zone the times are in)",
            )
        try:
            times = times.dt.tz_localize(
                options.timezone or "UTC", ambiguous="infer", nonexistent="NaT"
            )
        except Exception as exc:  # pandas and zoneinfo raise several types at clock changes
            raise SignalDataError(
                f"times cannot be placed in {options.timezone!r} ({type(exc).__name__}: {exc})",
                source=label,
                hint="store UTC timestamps, or times with offsets",
            ) from None
    elif not isinstance(times.dtype, pd.DatetimeTZDtype) and not pd.api.types.is_numeric_dtype(
        times.dtype
    ):
        try:
            times = times.astype(str)
        except (UnicodeDecodeError, ValueError, TypeError):
            raise SignalDataError(
                "the time column holds bytes that are not text", source=label
            ) from None
    return RawPoints(
        times=times,
        values=frame[value_col],
        rows=rows,
        unit=unit_from_name(value_col, options, label),
        naive_times="utc" if "utc" in time_col.lower() else "reject",
        notes=notes,
    )
