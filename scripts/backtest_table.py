"""Print the README's forecast backtest table: every model on the bundled 2022 data, 48 h ahead.

    .venv/bin/python scripts/backtest_table.py

The ETS parameters were chosen on 2021 (see ``forecasting.models.EtsParams``); 2022 is held out.
Each cell is what ``gridshift signals backtest --zone Z --kind K --model M --from 2022-01-01
--to 2022-12-29`` prints as skill (1 - MAE / persistence MAE).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from gridshift.domain import SignalKind
from gridshift.forecasting.backtest import backtest
from gridshift.forecasting.models import MODELS
from gridshift.signals.library import SignalLibrary

START = datetime(2022, 1, 1, tzinfo=UTC)
END = datetime(2022, 12, 29, tzinfo=UTC)
ROWS = [
    ("DE-LU", SignalKind.CARBON),
    ("GB", SignalKind.CARBON),
    ("US-CAL-CISO", SignalKind.CARBON),
    ("US-TEX-ERCO", SignalKind.CARBON),
    ("AU-NSW", SignalKind.CARBON),
    ("JP-TK", SignalKind.CARBON),
    ("DE-LU", SignalKind.PRICE),
    ("FR", SignalKind.PRICE),
    ("US-CAL-CISO", SignalKind.PRICE),
    ("US-TEX-ERCO", SignalKind.PRICE),
    ("AU-NSW", SignalKind.PRICE),
    ("JP-TK", SignalKind.PRICE),
]
OTHERS = [m for m in MODELS if m != "persistence"]


def main() -> None:
    library = SignalLibrary(Path("/nonexistent-gridshift-table"))
    print(
        "| zone | kind | persistence MAE | "
        + " | ".join(f"{m} skill" for m in OTHERS)
        + " | ets MAE at 1 / 24 / 48 h | ets 80 % band held |"
    )
    print("|---|---|---:|" + "---:|" * len(OTHERS) + "---:|---:|")
    wins: dict[str, int] = dict.fromkeys(OTHERS, 0)
    total: dict[str, float] = dict.fromkeys(OTHERS, 0.0)
    for zone, kind in ROWS:
        series = library.load(zone, kind)
        results = {m: backtest(series, m, 48 * 3600, START, END) for m in OTHERS}
        best = max(OTHERS, key=lambda m: results[m].skill or -1.0)
        wins[best] += 1
        for m in OTHERS:
            total[m] += results[m].skill or 0.0
        ets = results["ets"]
        cells = [
            f"**{results[m].skill:.2f}**" if m == best else f"{results[m].skill:.2f}"
            for m in OTHERS
        ]
        by = {s.h: s.mae for s in ets.by_horizon}
        print(
            f"| {zone} | {kind.value} | {ets.persistence_mae:.1f} {series.unit} | "
            + " | ".join(cells)
            + f" | {by[1]:.1f} / {by[24]:.1f} / {by[48]:.1f} | {ets.band_coverage_pct:.0f} % |"
        )
    print()
    print(
        "mean skill: "
        + ", ".join(f"{m} {total[m] / len(ROWS):.3f}" for m in OTHERS)
        + "; best on: "
        + ", ".join(f"{m} {wins[m]}" for m in OTHERS)
    )


if __name__ == "__main__":
    main()
