"""Rebuild the bundled signal data from the public files (run by a developer, never at run time).

    python scripts/bundle_signals.py PATH/TO/shared/data

Reads every Electricity Maps carbon export and every price file with gridshift's own importers,
merges the years per zone, and writes ``src/gridshift/signals/bundled/<zone>__<kind>.parquet``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from gridshift.domain import SignalKind
from gridshift.signals import parquet_format
from gridshift.signals.importers import ImportOptions, import_file
from gridshift.signals.library import merge

OUT = Path(__file__).resolve().parent.parent / "src" / "gridshift" / "signals" / "bundled"


def main(data: Path) -> None:
    jobs = [
        (p, p.parent.name, SignalKind.CARBON, "electricitymaps")
        for p in sorted((data / "carbon-intensity").glob("*/*_hourly.csv"))
    ] + [
        (p, p.parent.name, SignalKind.PRICE, "csv")
        for p in sorted((data / "prices").glob("*/*.csv"))
    ]
    merged: dict[tuple[str, SignalKind], object] = {}
    for path, zone, kind, fmt in jobs:
        series, _ = import_file(path, ImportOptions(zone=zone, kind=kind, format=fmt), path.name)
        key = (zone, kind)
        merged[key] = merge(merged[key], series) if key in merged else series  # type: ignore[arg-type]
    for (zone, kind), series in sorted(merged.items()):
        target = OUT / f"{zone}__{kind.value}.parquet"
        parquet_format.write_series(series, target)  # type: ignore[arg-type]
        print(f"{target.name}: {len(series)} points, {target.stat().st_size / 1024:.0f} KiB")  # type: ignore[arg-type]


if __name__ == "__main__":
    main(Path(sys.argv[1]))
