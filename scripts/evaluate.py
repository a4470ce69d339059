"""The README's evaluation: a month of the Alibaba GPU trace on three sites, every policy side by
side, and the slack, forecast-error and capacity studies. Prints Markdown tables (and writes
them with --out); every run is a plain ``gridshift simulate`` config, kept in --keep DIR.

    .venv/bin/python scripts/evaluate.py --out docs/evaluation.md [--only main,slack,...]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from gridshift.cli.common import library
from gridshift.simulate.config import load_sim
from gridshift.simulate.engine import simulate

ROOT = Path(__file__).resolve().parents[1]
TRACE = ROOT / "tests" / "data" / "traces" / "openb_pod_list_default.csv.gz"
SITES = (("fra-1", "DE-LU", 1.2), ("dfw-1", "US-TEX-ERCO", 1.3), ("tor-1", "CA-ON", 1.2))


def config_text(
    *,
    gpus: int = 64,
    within: str = "24h",
    forecast: str = "model",
    policies: str = "[run-now, lowest-window, lowest-slots, gridshift, oracle]",
    step: str = "15m",
    horizon: str = "48h",
) -> str:
    clusters = "\n".join(
        f"  - {{name: {name}, zone: {zone}, gpus: {gpus}, gpu_type: H100, pue: {pue}, "
        "tariff: {kind: wholesale, adder_usd_per_mwh: 20}}"
        for name, zone, pue in SITES
    )
    signals = "\n".join(
        f"  - {{zone: {zone}, kind: {kind}, source: bundled}}"
        for _, zone, _ in SITES
        for kind in ("carbon", "price")
    )
    return (
        f"clusters:\n{clusters}\nsignals:\n{signals}\n"
        "objective: {mode: combined, carbon_price_usd_per_tonne: 100}\n"
        "start: 2022-05-01T00:00:00Z\nend: 2022-06-01T00:00:00Z\n"
        f"step: {step}\n"
        + ("" if horizon == "48h" else f"horizon: {horizon}\n")
        + f"workload: {{file: {TRACE}, format: alibaba-openb, offset: 116d, "
        f"defaults: {{within: {within}, interruptible: true, checkpoint_overhead: 5m}}}}\n"
        f"forecast: {forecast}\npolicies: {policies}\n"
    )


def run(name: str, text: str, keep: Path) -> dict[str, Any]:
    """Simulate one config (reusing the kept result of the very same config)."""
    path, result = keep / f"{name}.yaml", keep / f"{name}.json"
    if path.is_file() and result.is_file() and path.read_text() == text:
        report: dict[str, Any] = json.loads(result.read_text())
        return report
    path.write_text(text)
    started = time.perf_counter()
    report, _ = simulate(load_sim(path), library(None))
    (keep / f"{name}.json").write_text(json.dumps(report, indent=1, default=str))
    print(f"  {name}: {time.perf_counter() - started:.0f} s", flush=True)
    return report


def pct(report: dict[str, Any], policy: str, key: str) -> str:
    if policy == "run-now":
        return "-"
    return f"{-report['savings'][policy][key]:+.1f} %"


def policy_table(report: dict[str, Any]) -> list[str]:
    rows = [
        "| policy | energy MWh | cost USD | carbon kg | objective USD | CO2 vs run-now | "
        "cost vs run-now | misses | mean delay h | p95 delay h | peak kW | seconds |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, m in report["policies"].items():
        rows.append(
            f"| {name} | {m['energy_kwh'] / 1000:,.1f} | {m['cost_usd']:,.0f} | "
            f"{m['carbon_kg']:,.0f} | {m['objective']:,.0f} | {pct(report, name, 'carbon_pct')} | "
            f"{pct(report, name, 'cost_pct')} | {m['deadline_misses']:g} | "
            f"{m['mean_delay_s'] / 3600:.1f} | {m['p95_delay_s'] / 3600:.1f} | "
            f"{m['peak_kw']:,.0f} | {m['seconds']:.0f} |"
        )
    return rows


def study_table(
    label: str, reports: dict[str, dict[str, Any]], policies: tuple[str, ...]
) -> list[str]:
    head = f"| {label} | " + " | ".join(f"{p} CO2 / cost / misses" for p in policies) + " |"
    rows = [head, "|---|" + "---:|" * len(policies)]
    for value, report in reports.items():
        cells = []
        for p in policies:
            m = report["policies"][p]
            if p == "run-now":
                cells.append(f"{m['carbon_kg']:,.0f} kg / ${m['cost_usd']:,.0f} / "
                             f"{m['deadline_misses']:g}")  # fmt: skip
            else:
                cells.append(
                    f"{pct(report, p, 'carbon_pct')} / {pct(report, p, 'cost_pct')} / "
                    f"{m['deadline_misses']:g}"
                )
        rows.append(f"| {value} | " + " | ".join(cells) + " |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--keep", type=Path, default=Path("/tmp/gridshift-evaluation"))
    parser.add_argument("--only", default="main,slack,forecast,capacity")
    args = parser.parse_args()
    args.keep.mkdir(parents=True, exist_ok=True)
    only = set(args.only.split(","))
    lines: list[str] = []
    if "main" in only:
        report = run("main", config_text(), args.keep)
        w = report["workload"]
        lines += [
            f"### A month on three sites ({report['jobs']:,} jobs; {w['rows']:,} trace rows, "
            f"left out: {', '.join(f'{k} {v:,}' for k, v in w['left_out'].items())})",
            "",
            *policy_table(report),
            "",
            "Forecast error 24 h ahead (mean absolute, % of the mean): "
            + ", ".join(f"{k} {v:.0f} %" for k, v in report["forecast"]["error_pct_24h"].items()),
            "",
        ]
    studies = ("run-now", "lowest-window", "lowest-slots", "gridshift")
    if "slack" in only:
        # The planning horizon covers the slack (at least 48 h): a plan cannot use hours it
        # does not look at.
        reports = {
            w: run(
                f"slack-{w}",
                config_text(
                    within=w,
                    policies=f"[{', '.join(studies)}]",
                    horizon=f"{max(48, int(w[:-1]) + 24)}h",
                ),
                args.keep,
            )
            for w in ("2h", "8h", "24h", "72h")
        }
        lines += ["### Savings against slack (`within`)", "", *study_table("within", reports,
                  studies), ""]  # fmt: skip
    if "forecast" in only:
        noisy = {
            "0 % (perfect)": "perfect",
            "5 %": "{kind: noisy, relative_sd: 0.05, seeds: [0, 1, 2]}",
            "10 %": "{kind: noisy, relative_sd: 0.10, seeds: [0, 1, 2]}",
            "as-of ets model": "model",
        }
        reports = {
            label: run(
                f"forecast-{i}",
                config_text(forecast=f, policies=f"[{', '.join(studies)}]"),
                args.keep,
            )
            for i, (label, f) in enumerate(noisy.items())
        }
        lines += ["### Savings against forecast error", "",
                  *study_table("forecast", reports, studies), ""]  # fmt: skip
    if "capacity" in only:
        both = ("run-now", "lowest-window", "gridshift", "oracle")
        reports = {
            f"{g} GPUs per site": run(
                f"capacity-{g}",
                config_text(gpus=g, policies=f"[{', '.join(both)}]"),
                args.keep,
            )
            for g in (64, 24, 12)
        }
        objective = ["| fleet | " + " | ".join(f"{p} objective USD" for p in both) + " |",
                     "|---|" + "---:|" * len(both)]  # fmt: skip
        for label, r in reports.items():
            objective.append(
                f"| {label} | "
                + " | ".join(f"{r['policies'][p]['objective']:,.0f}" for p in both)
                + " |"
            )
        lines += ["### When capacity binds", "", *study_table("fleet", reports, both), "",
                  *objective, ""]  # fmt: skip
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
