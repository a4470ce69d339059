"""gridshift's own Parquet layout for a series: columns ``time``, ``value``, ``quality``.

Zone, kind, unit, step and source travel in the file's key-value metadata under ``gridshift.*``.
Reading back gives the identical series, per-point quality included.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from gridshift.domain import Quality, Series, SignalDataError, SignalKind

_META = b"gridshift.series"


def to_table(series: Series) -> Any:
    table = pa.table(
        {
            "time": pa.array(series.times.astype("datetime64[s]"), type=pa.timestamp("s", "UTC")),
            "value": pa.array(series.values, type=pa.float64()),
            "quality": pa.array(series.quality, type=pa.uint8()),
        }
    )
    meta = {
        "zone": series.zone,
        "kind": series.kind.value,
        "unit": series.unit,
        "step_s": series.step_s,
        "source": series.source,
        "attrs": series.attrs,
    }
    return table.replace_schema_metadata({_META: json.dumps(meta).encode()})


def write_series(series: Series, path: Path) -> None:
    """Write atomically: a temporary file beside ``path``, then a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    pq.write_table(
        to_table(series),
        tmp,
        compression="zstd",
        compression_level=19,
        use_dictionary=["quality"],
        column_encoding={"time": "DELTA_BINARY_PACKED", "value": "BYTE_STREAM_SPLIT"},
    )
    tmp.replace(path)


def open_table(source: Path | bytes, label: str) -> Any:
    try:
        handle: Any = io.BytesIO(source) if isinstance(source, bytes) else source
        return pq.read_table(handle)
    except FileNotFoundError:
        raise SignalDataError("no such file", source=label) from None
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise SignalDataError(f"not a readable Parquet file ({exc})", source=label) from None


def metadata(table: Any) -> dict[str, Any] | None:
    raw = (table.schema.metadata or {}).get(_META)
    if raw is None:
        return None
    try:
        meta = json.loads(raw)
    except ValueError:
        return None
    return meta if isinstance(meta, dict) else None


def read_series(path: Path) -> Series:
    """A series written by ``write_series``."""
    table = open_table(path, str(path))
    meta = metadata(table)
    if meta is None or not {"time", "value", "quality"} <= set(table.column_names):
        raise SignalDataError("not a gridshift series file", source=str(path))
    times = table.column("time").to_numpy().astype("datetime64[s]")
    values = table.column("value").to_numpy().astype(np.float64)
    quality = table.column("quality").to_numpy().astype(np.uint8)
    quality[np.isnan(values)] = Quality.MISSING
    return Series(
        zone=str(meta["zone"]),
        kind=SignalKind(meta["kind"]),
        unit=str(meta["unit"]),
        times=times,
        values=values,
        quality=quality,
        step_s=int(meta["step_s"]),
        source=str(meta.get("source", "")),
        attrs={str(k): str(v) for k, v in dict(meta.get("attrs", {})).items()},
    )
