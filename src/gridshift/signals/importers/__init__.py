"""Signal importers: one module per file format, all ending in ``validate.build_series``.

``import_file`` is the one entry point: it picks the importer by format name and returns the
validated series and its quality report. Unknown format names list the valid ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from gridshift.domain import ConfigError, Series, SignalKind
from gridshift.signals.importers import electricitymaps, generic, parquet, solar, watttime
from gridshift.signals.validate import Issue, RawPoints, build_series

Source = Path | bytes


@dataclass(frozen=True)
class ImportOptions:
    """How to read a file. Names match the keys of a ``signals`` entry in gridshift.yaml."""

    zone: str
    kind: SignalKind
    format: str = "csv"
    time_column: str | None = None
    value_column: str | None = None  # for ``solar``: the site (column) to take
    unit: str | None = None
    timezone: str | None = None  # what naive times mean, for formats that do not say
    start: datetime | None = None  # anchor for formats with relative times (``solar``)


Reader = Callable[[Source, ImportOptions, str], RawPoints]

READERS: dict[str, Reader] = {
    "electricitymaps": electricitymaps.read,
    "csv": generic.read,
    "watttime": watttime.read,
    "solar": solar.read,
    "parquet": parquet.read,
}

# Signal kinds each format can carry.
KINDS: dict[str, frozenset[SignalKind]] = {
    "electricitymaps": frozenset({SignalKind.CARBON, SignalKind.RENEWABLE}),
    "csv": frozenset(SignalKind),
    "watttime": frozenset({SignalKind.MARGINAL, SignalKind.CARBON}),
    "solar": frozenset({SignalKind.RENEWABLE}),
    "parquet": frozenset(SignalKind),
}


def guess_format(path: Path) -> str:
    """The format a file most likely has, from its name (``--format`` overrides)."""
    name = path.name.lower()
    if name.endswith(".parquet"):
        return "parquet"
    return "csv"


def import_file(
    source: Source, options: ImportOptions, label: str | None = None
) -> tuple[Series, list[Issue]]:
    """Read ``source`` (a path or the file's bytes) as ``options.format``, then validate it."""
    if options.format not in READERS:
        raise ConfigError(
            "unknown signal file format",
            field="format",
            value=options.format,
            accepted=", ".join(sorted(READERS)),
        )
    if options.kind not in KINDS[options.format]:
        raise ConfigError(
            f"the {options.format} format does not carry {options.kind.value} signals",
            field="kind",
            value=options.kind.value,
            accepted=", ".join(sorted(k.value for k in KINDS[options.format])),
        )
    name = label or (str(source) if isinstance(source, Path) else "<data>")
    raw = READERS[options.format](source, options, name)
    series, issues = build_series(raw, zone=options.zone, kind=options.kind, source=name)
    return series, issues


__all__ = ["KINDS", "READERS", "ImportOptions", "Issue", "guess_format", "import_file"]
