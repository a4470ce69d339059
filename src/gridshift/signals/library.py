"""The local signal library: series stored as Parquet under the data directory, plus the
bundled real data that ships inside the package.

Layout: ``<data dir>/signals/<zone>/<kind>.parquet``. The data directory is
``$GRIDSHIFT_DATA_DIR`` or else ``$XDG_DATA_HOME/gridshift`` (``~/.local/share/gridshift``).
Lookups prefer what the user imported over the bundled data.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from gridshift.domain import NotFoundError, Series, SignalKind, UserError
from gridshift.signals import parquet_format
from gridshift.signals.validate import Issue

BUNDLED_PACKAGE = "gridshift.signals.bundled"


def default_data_dir(environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get("GRIDSHIFT_DATA_DIR"):
        return Path(env["GRIDSHIFT_DATA_DIR"]).expanduser()
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base).expanduser() / "gridshift"


@dataclass(frozen=True)
class Entry:
    zone: str
    kind: SignalKind
    origin: str  # "imported" or "bundled"
    path: Path


def bundled_entries() -> list[Entry]:
    """The series shipped in the package (files named ``<zone>__<kind>.parquet``)."""
    out = []
    root = resources.files(BUNDLED_PACKAGE)
    for item in root.iterdir():
        name = item.name
        if name.endswith(".parquet") and "__" in name:
            zone, kind = name.removesuffix(".parquet").split("__", 1)
            out.append(Entry(zone, SignalKind(kind), "bundled", Path(str(item))))
    return sorted(out, key=lambda e: (e.zone, e.kind.value))


def merge(old: Series, new: Series) -> Series:
    """Union of two series of one zone and kind; ``new`` wins where both have a time."""
    if old.unit != new.unit:
        raise UserError(
            f"{new.zone} {new.kind.value} is stored in {old.unit}; the new data is in {new.unit}",
            hint="pass --replace to drop what is stored, or import it under another zone",
        )
    if old.step_s != new.step_s:
        raise UserError(
            f"{new.zone} {new.kind.value} is stored at {old.step_s} s steps; the new data has "
            f"{new.step_s} s",
            hint="pass --replace to drop what is stored, or import it under another zone",
        )
    keep_old = ~np.isin(old.times, new.times)
    times = np.concatenate([old.times[keep_old], new.times])
    order = np.argsort(times, kind="stable")
    return Series(
        zone=new.zone,
        kind=new.kind,
        unit=new.unit,
        times=times[order],
        values=np.concatenate([old.values[keep_old], new.values])[order],
        quality=np.concatenate([old.quality[keep_old], new.quality])[order],
        step_s=new.step_s,
        source="; ".join(dict.fromkeys(s for s in (old.source, new.source) if s)),
        attrs=dict(new.attrs),
    )


class SignalLibrary:
    """Stored series by zone and kind. ``bundled=False`` hides the shipped data."""

    def __init__(self, root: Path, *, bundled: bool = True) -> None:
        self.root = root
        self.bundled = bundled

    def path(self, zone: str, kind: SignalKind) -> Path:
        return self.root / "signals" / zone / f"{kind.value}.parquet"

    def entries(self) -> list[Entry]:
        found: dict[tuple[str, SignalKind], Entry] = {}
        if self.bundled:
            for entry in bundled_entries():
                found[(entry.zone, entry.kind)] = entry
        base = self.root / "signals"
        if base.is_dir():
            for path in sorted(base.glob("*/*.parquet")):
                try:
                    kind = SignalKind(path.stem)
                except ValueError:
                    continue
                found[(path.parent.name, kind)] = Entry(path.parent.name, kind, "imported", path)
        return sorted(found.values(), key=lambda e: (e.zone, e.kind.value))

    def load(self, zone: str, kind: SignalKind) -> Series:
        for entry in reversed(self.entries()):
            if entry.zone == zone and entry.kind is kind:
                return parquet_format.read_series(entry.path)
        have = sorted({e.zone for e in self.entries() if e.kind is kind})
        raise NotFoundError(
            f"no {kind.value} data for zone {zone}",
            hint=(f"zones with {kind.value} data: {', '.join(have)}; " if have else "")
            + "import a file with 'gridshift signals import FILE --zone Z --kind K'",
        )

    def save(self, series: Series, issues: list[Issue], *, replace: bool = False) -> Series:
        """Store ``series``, merged with what is stored for its zone and kind unless ``replace``."""
        path = self.path(series.zone, series.kind)
        stored = series
        if path.exists() and not replace:
            stored = merge(parquet_format.read_series(path), series)
        attrs = dict(stored.attrs)
        attrs["import_issues"] = json.dumps([i.as_dict() for i in issues])
        stored = Series(
            zone=stored.zone,
            kind=stored.kind,
            unit=stored.unit,
            times=stored.times,
            values=stored.values,
            quality=stored.quality,
            step_s=stored.step_s,
            source=stored.source,
            attrs=attrs,
        )
        parquet_format.write_series(stored, path)
        return stored
