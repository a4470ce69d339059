"""Terminal charts: column charts drawn with block characters, no dependencies."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

_BLOCKS = " ▁▂▃▄▅▆▇█"


def downsample(values: npt.NDArray[np.float64], width: int) -> npt.NDArray[np.float64]:
    """Means of ``width`` equal slices (NaN-aware)."""
    if len(values) <= width:
        return values.astype(np.float64)
    edges = np.linspace(0, len(values), width + 1).astype(int)
    out = np.full(width, np.nan)
    for i in range(width):
        chunk = values[edges[i] : edges[i + 1]]
        chunk = chunk[~np.isnan(chunk)]
        if len(chunk):
            out[i] = chunk.mean()
    return out


def columns(values: npt.NDArray[np.float64], height: int = 8, width: int = 72) -> list[str]:
    """Rows of a column chart, top row first; each column is one slice of ``values``.

    The vertical axis spans the data's own range (not zero), so daily shapes stay visible.
    """
    data = downsample(values, width)
    finite = data[~np.isnan(data)]
    if len(finite) == 0:
        return ["(no data)"]
    hi = float(finite.max())
    lo = float(finite.min())
    lo -= 0.05 * (hi - lo or 1.0)  # the lowest column still shows
    span = hi - lo or 1.0
    eighths = np.where(np.isnan(data), 0, np.round((data - lo) / span * height * 8)).astype(int)
    rows = []
    for level in range(height - 1, -1, -1):
        fill = np.clip(eighths - level * 8, 0, 8)
        rows.append("".join(_BLOCKS[f] for f in fill))
    return rows


def labelled(
    values: npt.NDArray[np.float64], *, height: int = 8, width: int = 72, unit: str = ""
) -> list[str]:
    """A column chart with the top and bottom values labelled on the left."""
    data = values[~np.isnan(values)]
    rows = columns(values, height=height, width=width)
    if len(data) == 0:
        return rows
    top = f"{float(data.max()):>8.1f} "
    bottom = f"{float(data.min()):>8.1f} "
    pad = " " * len(top)
    out = [
        (top if i == 0 else bottom if i == len(rows) - 1 else pad) + "│" + r
        for i, r in enumerate(rows)
    ]
    if unit:
        out.append(pad + "└" + "─" * min(width, len(rows[0])) + f" {unit}")
    return out
