"""Electricity Maps data-portal CSV export (hourly, daily, ... per zone and year).

Columns: ``Datetime (UTC)``, ``Country``, ``Zone Name``, ``Zone Id``,
``Carbon Intensity gCO₂eq/kWh (direct)``, ``Carbon Intensity gCO₂eq/kWh (LCA)``,
``Low Carbon Percentage``, ``Renewable Percentage``, ``Data Source``, ``Data Estimated``,
``Data Estimation Method``. Times are UTC by the column's definition.

Default values: ``carbon`` takes the *direct* (operational) intensity, the figure location-based
Scope 2 accounting uses; pass ``value_column`` to take the LCA one. ``renewable`` takes
``Renewable Percentage`` as a share 0..1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gridshift.domain import ConfigError, SignalDataError, SignalKind
from gridshift.signals.importers._table import find_column, find_column_like, read_csv, rows_of
from gridshift.signals.validate import Issue, RawPoints

if TYPE_CHECKING:
    from gridshift.signals.importers import ImportOptions, Source

TIME_COLUMN = "Datetime (UTC)"
CARBON_COLUMN = "Carbon Intensity gCO₂eq/kWh (direct)"
RENEWABLE_COLUMN = "Renewable Percentage"


def read(source: Source, options: ImportOptions, label: str) -> RawPoints:
    frame = read_csv(source, label)
    try:
        time_col = find_column(
            frame,
            options.time_column or TIME_COLUMN,
            field="time_column",
            label=label,
            candidates=("datetime",),
        )
    except ConfigError as exc:
        raise SignalDataError(
            f"not an Electricity Maps export: no time column {TIME_COLUMN!r}",
            source=label,
            hint=f"{exc.hint}; for other files use --format csv --time-column ... "
            "--value-column ...",
        ) from None
    if options.value_column:
        value_col = find_column(frame, options.value_column, field="value_column", label=label)
    elif options.kind is SignalKind.RENEWABLE:
        value_col = find_column(frame, RENEWABLE_COLUMN, field="value_column", label=label)
    else:
        direct = find_column_like(frame, "carbon intensity", "direct")
        if not direct:
            direct = find_column_like(frame, "carbon intensity")
        if not direct:
            raise SignalDataError(
                f"not an Electricity Maps export: no column {CARBON_COLUMN!r}",
                source=label,
                hint="name the column with --value-column",
            )
        value_col = direct[0]
    unit = options.unit or ("percent" if options.kind is SignalKind.RENEWABLE else "g_per_kwh")
    notes: list[Issue] = []
    estimated = None
    est_cols = find_column_like(frame, "data estimated")
    if est_cols:
        estimated = frame[est_cols[0]].str.strip().str.lower().isin(["true", "1", "yes"]).to_numpy()
    zone_cols = find_column_like(frame, "zone id")
    if zone_cols:
        labels = sorted(set(frame[zone_cols[0]].str.strip()) - {""})
        if labels and labels != [options.zone]:
            notes.append(
                Issue(
                    "zone_label",
                    "info",
                    len(frame),
                    f"the file labels its zone {', '.join(labels[:3])}; stored as {options.zone}",
                )
            )
    return RawPoints(
        times=frame[time_col],
        values=frame[value_col],
        rows=rows_of(frame),
        unit=unit,
        naive_times="utc",
        estimated=estimated,
        notes=notes,
    )
