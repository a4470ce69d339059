"""``gridshift simulate sim.yaml``: a workload through every policy, settled on actual data."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Annotated, Any

import typer

from gridshift.cli.common import library
from gridshift.cli.output import console, json_text, print_json
from gridshift.domain import UserError
from gridshift.simulate.config import load_sim
from gridshift.simulate.engine import simulate_detail
from gridshift.simulate.settle import JobRecord

RECORD_COLUMNS = (
    "policy",
    "job_id",
    "cluster",
    "submitted_s",
    "started_s",
    "finished_s",
    "deadline_s",
    "missed",
    "delay_s",
    "energy_kwh",
    "cost_usd",
    "carbon_kg",
)


def _records_csv(records: dict[str, list[JobRecord]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(RECORD_COLUMNS)

    def num(x: float) -> str:
        return "" if not math.isfinite(x) else f"{x:.6g}"

    for policy, recs in records.items():
        for r in recs:
            writer.writerow(
                [
                    policy,
                    r.job_id,
                    r.cluster,
                    num(r.submitted),
                    num(r.started),
                    num(r.finished),
                    num(r.deadline),
                    str(r.missed).lower(),
                    num(r.delay_s),
                    f"{r.energy_kwh:.6g}",
                    f"{r.cost_usd:.6g}",
                    f"{r.carbon_kg:.6g}",
                ]
            )
    return out.getvalue()


def _write(path: Path, text: str, what: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UserError(
            f"cannot write the {what} to {path}: {exc.strerror}", hint="pick a writable path"
        ) from None


def simulate_command(
    config: Annotated[Path, typer.Argument(help="The simulation file (sim.yaml).")],
    json_out: Annotated[
        Path | None,
        typer.Option("--json", help="Write the report as JSON to this file ('-': stdout)."),
    ] = None,
    records_out: Annotated[
        Path | None, typer.Option("--records", help="Write per-job records (CSV) to this file.")
    ] = None,
    report_dir: Annotated[
        Path | None,
        typer.Option("--report", help="Write report.md and PNG plots into this directory."),
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Signal library (default: the user's).")
    ] = None,
) -> None:
    """Replay the workload through run-now, lowest-window, lowest-slots, gridshift and oracle;
    settle every policy on the actual signals; report energy, cost, carbon, misses and delays."""
    sim = load_sim(config)
    report, records, detail = simulate_detail(sim, library(data_dir))
    if report_dir is not None:
        from gridshift.cli.sim_report import write_report

        write_report(report_dir, report, records, detail)
    if records_out is not None:
        _write(records_out, _records_csv(records), "records")
    if json_out is not None and str(json_out) == "-":
        print_json(report)
        return
    if json_out is not None:
        _write(json_out, json_text(report), "report")
    _table(report)


def _table(report: dict[str, Any]) -> None:
    from rich.table import Table

    grid = report["grid"]
    console.print(
        f"{report['jobs']} jobs on {', '.join(report['clusters'])}; {grid['start']} .. "
        f"{grid['end']} at {grid['step_s'] // 60} min; forecast {report['forecast']['kind']}"
    )
    table = Table()
    for name in ("policy", "kWh", "USD", "kg CO2", "late", "delay h", "CO2", "cost"):
        if name == "policy":
            table.add_column(name, min_width=13, no_wrap=True)
        else:
            table.add_column(name, justify="right", no_wrap=True)
    for name, m in report["policies"].items():
        saving = report["savings"].get(name)
        table.add_row(
            name,
            f"{m['energy_kwh']:,.0f}",
            f"{m['cost_usd']:,.0f}",
            f"{m['carbon_kg']:,.0f}",
            f"{m['deadline_misses']:g}",
            f"{m['mean_delay_s'] / 3600:.1f}",
            "-" if saving is None else f"{-saving['carbon_pct']:+.1f}%",
            "-" if saving is None else f"{-saving['cost_pct']:+.1f}%",
        )
    console.print(table)
    console.print(
        "CO2 and cost against run-now; late: deadline misses; every policy settled on the "
        "actual signals (peak kW, completions and p95 delay in --json)"
    )


__all__ = ["simulate_command"]
