"""``gridshift signals fetch``: pull live providers' history and forecasts into local storage.

History is merged into the signal library (where ``signals show`` and the planner find it); each
forecast goes to the forecast archive under the time the provider generated it, so that later
decisions and backtests can use it as of that time. One failing source does not stop the others;
the command exits non-zero if any failed, after saying which and why.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from gridshift.cli.common import library
from gridshift.cli.output import console, print_json
from gridshift.config.site import SignalSource, load_site
from gridshift.config.units import parse_time
from gridshift.domain import (
    GridshiftError,
    InternalError,
    ProviderUnavailableError,
    SignalKind,
    UserError,
)
from gridshift.domain.signal import check_zone
from gridshift.domain.timeutil import to_iso
from gridshift.forecasting.feeds import connect
from gridshift.signals.archive import ForecastArchive
from gridshift.signals.library import SignalLibrary
from gridshift.signals.providers import ProviderOptions, provider_class, provider_names
from gridshift.signals.providers.base import series_issues

DEFAULT_BACK = timedelta(hours=48)
MAX_BACK = timedelta(days=366)


def _attempt(errors: list[GridshiftError], step: Callable[[], None]) -> None:
    """Run one part of a fetch; its failure is recorded, never raised (the others go on)."""
    try:
        step()
    except GridshiftError as exc:
        errors.append(exc)
    except Exception as exc:  # a payload that surprised a parser: say so, keep going
        errors.append(InternalError(f"unexpected {type(exc).__name__}: {exc}"))


def _one(
    source: SignalSource,
    lib: SignalLibrary,
    start: datetime,
    end: datetime,
    with_forecast: bool,
) -> dict[str, Any]:
    row: dict[str, Any] = {"zone": source.zone, "kind": source.kind.value, "source": source.source}
    errors: list[GridshiftError] = []
    try:
        provider = connect(source, lib.root)
    except GridshiftError as exc:
        row["error"] = exc.one_line()
        row["user_error"] = isinstance(exc, UserError)
        return row

    def history() -> None:
        series = provider.history(source.zone, source.kind, start, end)
        issues = series_issues(series)
        stored = lib.save(series, issues)
        row["history"] = {
            "points": len(series),
            "start": to_iso(series.start),
            "end": to_iso(series.end),
            "stored_points": len(stored),
            "issues": [i.as_dict() for i in issues],
        }

    def forecast() -> None:
        got = provider.forecast(source.zone, source.kind)
        ForecastArchive(lib.root).save(got, fetched_at=datetime.now(UTC))
        row["forecast"] = {
            "generated_at": to_iso(got.generated_at or got.as_of),
            "points": len(got.times),
            "horizon_h": round(got.horizon_s / 3600, 1),
        }

    try:
        _attempt(errors, history)
        unreachable = any(isinstance(e, ProviderUnavailableError) for e in errors)
        if with_forecast and not unreachable:  # a provider that is down is not asked twice
            _attempt(errors, forecast)
    finally:
        provider.close()
    if errors:
        row["error"] = "; ".join(e.one_line() for e in errors)
        row["user_error"] = any(isinstance(e, UserError) for e in errors)
    return row


def fetch_command(
    config: Annotated[
        Path | None,
        typer.Option("--config", help="Fetch every live source of this gridshift.yaml."),
    ] = None,
    zone: Annotated[str | None, typer.Option("--zone", help="One zone (with --source).")] = None,
    kind: Annotated[str | None, typer.Option("--kind", help="Its signal kind.")] = None,
    source: Annotated[
        str | None, typer.Option("--source", help=f"One of: {', '.join(provider_names())}.")
    ] = None,
    region: Annotated[
        str | None, typer.Option("--region", help="The provider's own region, if it differs.")
    ] = None,
    from_: Annotated[
        str | None, typer.Option("--from", help="History from (default: 48 h ago).")
    ] = None,
    to: Annotated[str | None, typer.Option("--to", help="History to (default: now).")] = None,
    forecast: Annotated[
        bool, typer.Option("--forecast/--no-forecast", help="Also archive the latest forecast.")
    ] = True,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="Signal library.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Fetch history and the latest forecast from live providers into local storage."""
    now = datetime.now(UTC)
    end = parse_time(to, field="--to") if to else now
    start = parse_time(from_, field="--from") if from_ else end - DEFAULT_BACK
    if end <= start:
        raise UserError(f"--to {to_iso(end)} is not after --from {to_iso(start)}")
    if end - start > MAX_BACK:
        raise UserError(
            f"--from {to_iso(start)} is more than a year before --to",
            hint="fetch a year at a time",
        )
    sources = _sources(config, zone, kind, source, region)
    lib = library(data_dir)
    rows = [_one(s, lib, start, end, forecast) for s in sources]
    if json_out:
        print_json(rows)
    else:
        _print(rows)
    failed = [r for r in rows if "error" in r]
    if failed:
        text = f"{len(failed)} of {len(rows)} source(s) failed: " + "; ".join(
            f"{r['zone']} {r['kind']} ({r['source']}): {r['error']}" for r in failed
        )
        if any(r.get("user_error") for r in failed):
            raise UserError(text)
        raise GridshiftError(text, hint="the provider may be down; stored data is unchanged")


def _sources(
    config: Path | None, zone: str | None, kind: str | None, source: str | None, region: str | None
) -> list[SignalSource]:
    if config is not None:
        if source or zone or kind:
            raise UserError("give either --config or --zone/--kind/--source, not both")
        live = [s for s in load_site(config).signals if s.live]
        if not live:
            raise UserError(
                f"{config} has no live signal source",
                hint=f"add e.g. {{zone: GB, kind: carbon, source: uk-carbon-intensity}} "
                f"(live sources: {', '.join(provider_names())})",
            )
        return live
    if source is None or zone is None or kind is None:
        raise UserError(
            "say what to fetch",
            hint="--config gridshift.yaml, or --zone GB --kind carbon --source uk-carbon-intensity",
        )
    check_zone(zone, "--zone")
    signal_kind = SignalKind.parse(kind, "--kind")
    options = ProviderOptions(region=region)
    provider_class(source, "--source").check(zone, signal_kind, options)
    return [SignalSource(zone=zone, kind=signal_kind, source=source, provider=options)]


def _short(error: str, width: int = 60) -> str:
    """The table shows the start of an error; the whole of it follows on stderr."""
    return error if len(error) <= width else error[: width - 1] + "…"


def _print(rows: list[dict[str, Any]]) -> None:
    table = Table(title="fetched", title_justify="left")
    for column in ("zone", "kind", "source", "history", "forecast", "error"):
        table.add_column(column)
    for row in rows:
        hist = row.get("history")
        fc = row.get("forecast")
        table.add_row(
            row["zone"],
            row["kind"],
            row["source"],
            f"{hist['points']} pts {hist['start']} .. {hist['end']}" if hist else "-",
            f"generated {fc['generated_at']}, {fc['horizon_h']} h" if fc else "-",
            _short(row.get("error", "")),
        )
    console.print(table)
