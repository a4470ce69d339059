"""``gridshift signals``: import, show, list and export signal data."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from gridshift.cli import charts
from gridshift.cli.common import library
from gridshift.cli.fetch import fetch_command
from gridshift.cli.forecast import backtest_command, forecast_command
from gridshift.cli.output import console, fmt, print_json
from gridshift.config.units import parse_time
from gridshift.domain import SignalKind, UserError
from gridshift.domain.signal import check_zone
from gridshift.domain.timeutil import to_iso
from gridshift.signals import parquet_format
from gridshift.signals.importers import READERS, ImportOptions, guess_format, import_file
from gridshift.signals.report import daily_profile, summarize

app = typer.Typer(
    help="Signal data: import, fetch, show, list, export, forecast and backtest.",
    no_args_is_help=True,
)
app.command("fetch")(fetch_command)
app.command("forecast")(forecast_command)
app.command("backtest")(backtest_command)

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Where imported series live (default: $GRIDSHIFT_DATA_DIR, else "
        "~/.local/share/gridshift).",
    ),
]
Zone = Annotated[str, typer.Option("--zone", help="Zone id, e.g. DE-LU, GB, US-CAL-CISO.")]
Kind = Annotated[str, typer.Option("--kind", help="carbon | marginal | price | renewable.")]
Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


def _print_issues(issues: list[dict[str, Any]]) -> None:
    if not issues:
        console.print("quality: no issues found")
        return
    table = Table(title="quality report", title_justify="left")
    for column in ("issue", "count", "what", "where (first)"):
        table.add_column(column)
    for issue in issues:
        table.add_row(
            issue["code"], str(issue["count"]), issue["message"], ", ".join(issue["locations"][:3])
        )
    console.print(table)


def _print_summary(summary: dict[str, Any], title: str) -> None:
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("", style="bold")
    table.add_column("")
    unit = summary["unit"]
    table.add_row("zone / kind", f"{summary['zone']} / {summary['kind']}")
    table.add_row("period", f"{summary['start']} .. {summary['end']}")
    table.add_row("resolution", f"{summary['step_s']} s")
    table.add_row("points", f"{summary['points']:,} ({summary['coverage_pct']:.2f} % coverage)")
    table.add_row(
        "min / mean / max",
        f"{fmt(summary['min'])} / {fmt(summary['mean'])} / {fmt(summary['max'])} {unit}",
    )
    table.add_row("quality", ", ".join(f"{k} {v:,}" for k, v in summary["quality"].items()))
    if summary.get("source"):
        table.add_row("source", str(summary["source"]))
    console.print(table)


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="A CSV (optionally .gz) or Parquet file.")],
    zone: Zone,
    kind: Kind,
    format: Annotated[
        str | None,
        typer.Option("--format", help=f"One of: {', '.join(sorted(READERS))} (default csv)."),
    ] = None,
    time_column: Annotated[str | None, typer.Option(help="Column with the times.")] = None,
    value_column: Annotated[
        str | None, typer.Option(help="Column with the values (for solar: the site).")
    ] = None,
    unit: Annotated[
        str | None, typer.Option(help="Unit of the values, e.g. usd_per_mwh, g_per_kwh.")
    ] = None,
    timezone: Annotated[
        str | None, typer.Option(help="What times without a zone mean, e.g. UTC.")
    ] = None,
    start: Annotated[
        str | None, typer.Option(help="Anchor time for relative times (solar profiles).")
    ] = None,
    replace: Annotated[
        bool, typer.Option(help="Replace what is stored instead of merging into it.")
    ] = False,
    data_dir: DataDir = None,
    json_out: Json = False,
) -> None:
    """Import a signal file into the local library and print its summary and quality report."""
    options = ImportOptions(
        zone=zone,
        kind=SignalKind.parse(kind),
        format=format or guess_format(file),
        time_column=time_column,
        value_column=value_column,
        unit=unit,
        timezone=timezone,
        start=parse_time(start, field="--start") if start else None,
    )
    check_zone(zone, "--zone")
    series, issues = import_file(file, options, label=file.name)
    lib = library(data_dir)
    stored = lib.save(series, issues, replace=replace)
    summary = summarize(series, issues)
    summary["stored"] = {
        "path": str(lib.path(zone, series.kind)),
        "points": len(stored),
        "start": to_iso(stored.start),
        "end": to_iso(stored.end),
    }
    if json_out:
        print_json(summary)
        return
    _print_summary(summary, f"imported {file.name}")
    _print_issues(summary["issues"])
    console.print(
        f"stored {summary['stored']['points']:,} points ({summary['stored']['start']} .. "
        f"{summary['stored']['end']}) in {summary['stored']['path']}"
    )


def _window(start: str | None, end: str | None) -> tuple[datetime | None, datetime | None]:
    lo = parse_time(start, field="--from") if start else None
    hi = parse_time(end, field="--to") if end else None
    if lo and hi and hi <= lo:
        raise UserError(f"--to {to_iso(hi)} is not after --from {to_iso(lo)}")
    return lo, hi


@app.command()
def show(
    zone: Zone,
    kind: Kind,
    from_: Annotated[
        str | None, typer.Option("--from", help="Start (ISO-8601 with zone, or a date).")
    ] = None,
    to: Annotated[str | None, typer.Option("--to", help="End, exclusive.")] = None,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Also write a plot to FILE.png or FILE.html.")
    ] = None,
    data_dir: DataDir = None,
    json_out: Json = False,
) -> None:
    """Coverage, quality report, min/mean/max, the average daily profile and a chart."""
    series = library(data_dir).load(zone, SignalKind.parse(kind))
    lo, hi = _window(from_, to)
    if lo or hi:
        series = series.between(lo, hi)
        if len(series) < 2:
            raise UserError(
                f"{zone} {kind} has {len(series)} point(s) in that period",
                hint="widen --from/--to; 'gridshift signals list' shows what is stored",
            )
    summary = summarize(series)
    if plot is not None:
        from gridshift.cli.plots import write_plot

        write_plot(series, plot)
        summary["plot"] = str(plot)
    if json_out:
        print_json(summary)
        return
    _print_summary(summary, f"{zone} {kind}")
    _print_issues(summary["issues"])
    console.print(f"\n{kind} over the period ({summary['unit']}):")
    for line in charts.labelled(series.values, height=6, width=72):
        console.print(line)
    tz, profile = daily_profile(series)
    console.print(f"\naverage day, by local hour ({tz}):")
    for line in charts.labelled(profile, height=6, width=24):
        console.print(line)
    console.print(" " * 10 + "".join(str(h % 10) for h in range(24)))
    if plot is not None:
        console.print(f"plot written to {plot}")


@app.command("list")
def list_(data_dir: DataDir = None, json_out: Json = False) -> None:
    """The series available: imported ones first, then the bundled real data."""
    entries = library(data_dir).entries()
    rows = [{"zone": e.zone, "kind": e.kind.value, "origin": e.origin} for e in entries]
    if json_out:
        print_json(rows)
        return
    table = Table(title="signals", title_justify="left")
    for column in ("zone", "kind", "origin"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["zone"], row["kind"], row["origin"])
    console.print(table)


@app.command()
def export(
    zone: Zone,
    kind: Kind,
    out: Annotated[Path, typer.Argument(help="Target .parquet file.")],
    data_dir: DataDir = None,
    json_out: Json = False,
) -> None:
    """Write a stored series to a gridshift Parquet file (readable with --format parquet)."""
    if out.suffix.lower() != ".parquet":
        raise UserError(f"cannot export to {out.name!r}", hint="use a file name ending in .parquet")
    series = library(data_dir).load(zone, SignalKind.parse(kind))
    parquet_format.write_series(series, out)
    result = {"zone": zone, "kind": kind, "points": len(series), "path": str(out)}
    if json_out:
        print_json(result)
    else:
        console.print(f"wrote {len(series):,} points to {out}")
