"""Plots of a series to PNG or self-contained HTML (an inline SVG drawn by matplotlib)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from gridshift.domain import Series, UserError
from gridshift.signals.report import daily_profile


def _figure(series: Series):  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(
        1, 2, figsize=(12, 4), gridspec_kw={"width_ratios": [3, 1]}, constrained_layout=True
    )
    times = series.times.astype("datetime64[s]").astype("datetime64[ms]")
    ax1.plot(times, series.values, linewidth=0.6)
    ax1.set_title(f"{series.zone} {series.kind.value} ({series.unit})")
    ax1.set_ylabel(series.unit)
    ax1.grid(alpha=0.3)
    tz, profile = daily_profile(series)
    ax2.bar(np.arange(24), profile)
    ax2.set_title(f"mean by hour ({tz})")
    ax2.set_xlabel("local hour")
    ax2.grid(alpha=0.3, axis="y")
    return fig, plt


def write_plot(series: Series, path: Path) -> None:
    suffix = path.suffix.lower()
    if suffix not in (".png", ".html"):
        raise UserError(
            f"cannot plot to {path.name!r}", hint="use a file name ending in .png or .html"
        )
    if not path.parent.is_dir():
        raise UserError(
            f"cannot write {path}: the folder {path.parent} does not exist",
            hint="create it first, or pick another path",
        )
    fig, plt = _figure(series)
    try:
        if suffix == ".png":
            fig.savefig(path, dpi=110)
        else:
            svg = io.StringIO()
            fig.savefig(svg, format="svg")
            title = f"gridshift: {series.zone} {series.kind.value}"
            path.write_text(
                f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>"
                f"</head><body><h1>{title}</h1>{svg.getvalue()}</body></html>\n",
                encoding="utf-8",
            )
    finally:
        plt.close(fig)
