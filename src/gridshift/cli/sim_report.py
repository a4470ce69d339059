"""``--report DIR``: the simulation as Markdown with PNG plots.

- ``power.png``: facility power per cluster over time under ``gridshift`` (and run-now, dashed),
  against each zone's actual carbon intensity and price;
- ``savings.png``: cumulative cost and carbon saved against run-now, per policy, over time;
- ``delays.png``: the distribution of delays (start minus release) per policy;
- ``gantt.png`` (runs of at most 80 jobs): when and where ``gridshift`` ran each job.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from gridshift.domain import SignalKind, UserError
from gridshift.simulate.engine import Detail
from gridshift.simulate.settle import JobRecord

GANTT_MAX_JOBS = 80


def _per_step(detail: Detail, policy: str) -> tuple[Any, Any, Any]:
    """kW per cluster and step; USD and kg per step (actual), for one policy's runs."""
    grid = detail.signals.grid
    C = len(detail.clusters)
    kw = np.zeros((C, grid.steps))
    usd = np.zeros(grid.steps)
    kg = np.zeros(grid.steps)
    for run in detail.runs[policy]:
        if not run.ran:
            continue
        where = run.clusters
        np.add.at(kw, (where, run.steps), run.kw * run.frac)
        energy = run.frac * run.kw * grid.step_h
        np.add.at(usd, run.steps, energy * detail.prices.usd[where, run.steps])
        np.add.at(kg, run.steps, energy * detail.prices.kg[where, run.steps])
    return kw, usd, kg


def write_report(
    directory: Path,
    report: dict[str, Any],
    records: dict[str, list[JobRecord]],
    detail: Detail,
) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(
            f"cannot create the report directory {directory}: {exc.strerror}",
            hint="pick a writable path",
        ) from None
    grid = detail.signals.grid
    hours = (grid.times().astype("datetime64[s]") - grid.times()[0]).astype(np.int64) / 3600
    written: list[Path] = []
    focus = "gridshift" if "gridshift" in detail.runs else next(iter(detail.runs))

    # Power per cluster against carbon and price.
    kw, _, _ = _per_step(detail, focus)
    base_kw, _, _ = _per_step(detail, "run-now")
    fig, axes = plt.subplots(len(detail.clusters), 1, figsize=(10, 2.6 * len(detail.clusters)))
    for c, ax in enumerate(np.atleast_1d(axes)):
        cluster = detail.clusters[c]
        ax.plot(hours, kw[c], label=f"{focus} kW", color="tab:green")
        ax.plot(hours, base_kw[c], label="run-now kW", color="tab:gray", linestyle="--")
        ax.set_ylabel(f"{cluster.name}\nkW")
        twin = ax.twinx()
        carbon = detail.signals.actual.get((cluster.zone, SignalKind.CARBON))
        if carbon is not None:
            twin.plot(hours, carbon, color="tab:red", alpha=0.4, label="g CO2/kWh")
        price = detail.signals.actual.get((cluster.zone, SignalKind.PRICE))
        if price is not None:
            twin.plot(hours, price, color="tab:blue", alpha=0.4, label="USD/MWh")
        twin.set_ylabel(f"{cluster.zone}\nsignal")
        if c == 0:
            lines = ax.get_legend_handles_labels()
            other = twin.get_legend_handles_labels()
            ax.legend(lines[0] + other[0], lines[1] + other[1], fontsize=7, loc="upper right")
    np.atleast_1d(axes)[-1].set_xlabel(f"hours from {grid.t0.isoformat()}")
    fig.tight_layout()
    written.append(_save(fig, directory / "power.png", plt))

    # Cumulative savings against run-now.
    _, base_usd, base_kg = _per_step(detail, "run-now")
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.5))
    for name in detail.runs:
        if name == "run-now":
            continue
        _, usd, kg = _per_step(detail, name)
        left.plot(hours, np.cumsum(base_usd - usd), label=name)
        right.plot(hours, np.cumsum(base_kg - kg), label=name)
    left.set_title("cost saved vs run-now (USD, cumulative)")
    right.set_title("carbon saved vs run-now (kg, cumulative)")
    for ax in (left, right):
        ax.set_xlabel("hours")
        ax.legend(fontsize=7)
    fig.tight_layout()
    written.append(_save(fig, directory / "savings.png", plt))

    # Delay distribution.
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for name, recs in records.items():
        delays = np.sort([r.delay_s / 3600 for r in recs if np.isfinite(r.started)])
        if len(delays):
            ax.plot(delays, np.linspace(0, 1, len(delays)), label=name)
    ax.set_xlabel("delay, h (start minus release)")
    ax.set_ylabel("share of jobs")
    ax.legend(fontsize=7)
    fig.tight_layout()
    written.append(_save(fig, directory / "delays.png", plt))

    if len(detail.jobs) <= GANTT_MAX_JOBS:
        fig, ax = plt.subplots(figsize=(10, 0.22 * len(detail.jobs) + 1.5))
        colours = plt.get_cmap("tab10")
        for i, run in enumerate(detail.runs[focus]):
            if run.ran:
                ax.broken_barh(
                    [(grid.step_h * float(t), grid.step_h * float(f))
                     for t, f in zip(run.steps, run.frac, strict=True)],
                    (i - 0.4, 0.8),
                    color=[colours(int(c) % 10) for c in run.clusters],
                )  # fmt: skip
        from matplotlib.patches import Patch

        used = sorted({int(c) for run in detail.runs[focus] if run.ran for c in run.clusters})
        ax.legend(
            handles=[Patch(color=colours(c % 10), label=detail.clusters[c].name) for c in used],
            fontsize=7,
            loc="upper left",
        )
        ax.set_yticks(range(len(detail.jobs)), [j.id for j in detail.jobs], fontsize=6)
        ax.set_xlabel("hours")
        ax.set_title(f"{focus}: when and where each job ran (colour: cluster)")
        fig.tight_layout()
        written.append(_save(fig, directory / "gantt.png", plt))

    written.append(_markdown(directory / "report.md", report, written))
    return written


def _save(fig: Any, path: Path, plt: Any) -> Path:
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _markdown(path: Path, report: dict[str, Any], images: list[Path]) -> Path:
    grid = report["grid"]
    lines = [
        "# gridshift simulation",
        "",
        f"gridshift {report['gridshift_version']}; {report['jobs']} jobs on "
        f"{', '.join(report['clusters'])}; {grid['start']} .. {grid['end']} at "
        f"{grid['step_s']} s steps; forecast {report['forecast']['kind']}.",
        "",
        f"Workload: {report['workload']}",
        "",
        "Forecast error 24 h ahead (mean absolute, % of the series' mean): "
        + ", ".join(f"{k} {v:.1f} %" for k, v in report["forecast"]["error_pct_24h"].items()),
        "",
        "| policy | kWh | USD | kg CO2 | deadline misses | completed | mean delay h | p95 delay h "
        "| peak kW | carbon saved | cost saved |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, m in report["policies"].items():
        saving = report["savings"].get(name, {"carbon_pct": 0.0, "cost_pct": 0.0})
        lines.append(
            f"| {name} | {m['energy_kwh']:,.1f} | {m['cost_usd']:,.2f} | {m['carbon_kg']:,.1f} "
            f"| {m['deadline_misses']:g} | {m['jobs_completed']:g}/{m['jobs']:g} "
            f"| {m['mean_delay_s'] / 3600:.2f} | {m['p95_delay_s'] / 3600:.2f} "
            f"| {m['peak_kw']:,.1f} | {saving['carbon_pct']:.1f} % | {saving['cost_pct']:.1f} % |"
        )
    lines += [
        "",
        "Every policy is settled on the actual signals; savings are against run-now.",
        "",
    ]
    lines += [f"![{image.stem}]({image.name})" for image in images]
    lines += ["", "Configuration:", "", "```", str(report["config"]), "```", ""]
    path.write_text("\n".join(lines))
    return path
