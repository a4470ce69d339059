"""WattTime MOER CSV, as its historical downloads and the public examples come.

The first column is the time whatever its header says (``point_time`` in API downloads, literally
``oootime`` in the CAISO North example); the value column is ``value`` or else the second column
(``Caiso_North`` in the example), overridable with ``value_column``. Times are UTC. Values are in
lbs CO2/MWh unless ``unit`` says otherwise; they are stored as g/kWh (x 0.4536).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gridshift.domain import SignalDataError
from gridshift.signals.importers._table import find_column, read_csv, rows_of
from gridshift.signals.validate import RawPoints

if TYPE_CHECKING:
    from gridshift.signals.importers import ImportOptions, Source


def read(source: Source, options: ImportOptions, label: str) -> RawPoints:
    frame = read_csv(source, label)
    if len(frame.columns) < 2:
        raise SignalDataError("a WattTime CSV needs a time column and a value column", source=label)
    time_col = (
        find_column(frame, options.time_column, field="time_column", label=label)
        if options.time_column
        else frame.columns[0]
    )
    if options.value_column:
        value_col = find_column(frame, options.value_column, field="value_column", label=label)
    elif "value" in frame.columns:
        value_col = "value"
    else:
        value_col = next(c for c in frame.columns if c != time_col)
    return RawPoints(
        times=frame[time_col],
        values=frame[value_col],
        rows=rows_of(frame),
        unit=options.unit or "lb_per_mwh",
        naive_times="utc",
    )
