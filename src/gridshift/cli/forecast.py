"""``gridshift signals forecast`` and ``gridshift signals backtest``."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.table import Table

from gridshift.cli import charts
from gridshift.cli.common import library
from gridshift.cli.output import console, fmt, print_json
from gridshift.config.site import load_site
from gridshift.config.units import parse_duration, parse_time
from gridshift.domain import Forecast, SignalKind, UserError
from gridshift.domain.signal import check_zone
from gridshift.domain.timeutil import to_iso
from gridshift.forecasting import models
from gridshift.forecasting.asof import check_model
from gridshift.forecasting.backtest import BacktestResult, backtest
from gridshift.forecasting.feeds import site_feeds
from gridshift.forecasting.service import PROVIDER, Feed, Forecaster
from gridshift.signals.archive import ForecastArchive

MAX_HORIZON_S = 14 * 86400
TABLE_HOURS = (1, 2, 3, 6, 12, 18, 24, 36, 48, 72, 96, 168)

Zone = Annotated[str, typer.Option("--zone", help="Zone id, e.g. DE-LU, GB, US-CAL-CISO.")]
Kind = Annotated[str, typer.Option("--kind", help="carbon | marginal | price | renewable.")]
DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Signal library.")]
Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
Horizon = Annotated[str, typer.Option("--horizon", help="How far ahead, e.g. 48h.")]


def _horizon(text: str) -> int:
    seconds = int(parse_duration(text, field="--horizon"))
    if seconds < 3600 or seconds > MAX_HORIZON_S:
        raise UserError(f"--horizon {text} is out of range", hint="from 1h to 14d")
    return seconds


def forecast_to_dict(got: Forecast) -> dict[str, Any]:
    points = []
    for i, t in enumerate(got.times):
        point: dict[str, Any] = {"time": to_iso(t), "value": round(float(got.values[i]), 3)}
        if got.lower is not None and got.upper is not None:
            point["lower"] = round(float(got.lower[i]), 3)
            point["upper"] = round(float(got.upper[i]), 3)
        points.append(point)
    return {
        "zone": got.zone,
        "kind": got.kind.value,
        "unit": got.unit,
        "model": got.model,
        "as_of": to_iso(got.as_of),
        "generated_at": to_iso(got.generated_at or got.as_of),
        "step_s": got.step_s,
        "horizon_h": round(got.horizon_s / 3600, 2),
        "quality": got.quality,
        "note": got.note,
        "points": points,
    }


def forecast_command(
    zone: Zone,
    kind: Kind,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            help=f"{PROVIDER} | {' | '.join(models.MODELS)} (default: the provider for a live "
            f"source, else {models.DEFAULT_MODEL}).",
        ),
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Forecast as of this time (default: now).")
    ] = None,
    horizon: Horizon = "48h",
    config: Annotated[
        Path | None,
        typer.Option("--config", help="Site configuration: use its source for the zone (live)."),
    ] = None,
    offline: Annotated[
        bool, typer.Option("--offline", help="Never call a provider (archive and history only).")
    ] = False,
    data_dir: DataDir = None,
    json_out: Json = False,
) -> None:
    """A forecast as of a time, with its band, its model and what stood in if anything failed."""
    check_zone(zone, "--zone")
    signal_kind = SignalKind.parse(kind, "--kind")
    if model is not None:
        check_model(model, "--model", extra=(PROVIDER,))
    at = parse_time(as_of, field="--as-of") if as_of else datetime.now(UTC)
    horizon_s = _horizon(horizon)
    lib = library(data_dir)
    if config is not None:
        feeds = site_feeds(load_site(config), lib, live=not offline)
    else:
        stored = lib.load(zone, signal_kind)  # no data is the user's to fix, not a flat guess
        feeds = {(zone, signal_kind): Feed(zone, signal_kind, lambda: stored, source="library")}
    forecaster = Forecaster(feeds, now=lambda: datetime.now(UTC))
    got = forecaster.forecast(zone, signal_kind, at, horizon_s, model)
    data = forecast_to_dict(got)
    if json_out:
        print_json(data)
        return
    band = got.lower is not None
    console.print(
        f"{zone} {signal_kind.value} as of {data['as_of']}: model {got.model}, generated "
        f"{data['generated_at']}, {len(got.times)} steps of {got.step_s} s, quality {got.quality}"
    )
    if got.note:
        console.print(f"note: {got.note}")
    for line in charts.labelled(got.values, height=6, width=72):
        console.print(line)
    table = Table(title=f"forecast ({got.unit})", title_justify="left")
    for column in ("time", "value", *(("80 % band",) if band else ())):
        table.add_column(column, justify="right")
    every = max(1, len(got.times) // 24)
    for point in data["points"][::every]:
        row = [point["time"], fmt(point["value"])]
        if band:
            row.append(f"{fmt(point['lower'])} .. {fmt(point['upper'])}")
        table.add_row(*row)
    console.print(table)


def backtest_command(
    zone: Zone,
    kind: Kind,
    model: Annotated[
        str,
        typer.Option(
            "--model", help=f"{' | '.join(models.MODELS)} | {PROVIDER} (the archived forecasts)."
        ),
    ] = models.DEFAULT_MODEL,
    horizon: Horizon = "48h",
    from_: Annotated[
        str | None, typer.Option("--from", help="First forecast origin (default: a year back).")
    ] = None,
    to: Annotated[str | None, typer.Option("--to", help="Last forecast origin, exclusive.")] = None,
    every: Annotated[str, typer.Option("--every", help="Time between forecast origins.")] = "1h",
    data_dir: DataDir = None,
    json_out: Json = False,
) -> None:
    """Score a model's as-of forecasts on stored history: MAE, MAPE, skill against persistence."""
    check_zone(zone, "--zone")
    signal_kind = SignalKind.parse(kind, "--kind")
    check_model(model, "--model", extra=(PROVIDER,))
    horizon_s = _horizon(horizon)
    if horizon_s % 3600:
        raise UserError(f"--horizon {horizon} is not a whole number of hours", hint="e.g. 48h")
    every_s = int(parse_duration(every, field="--every"))
    lo = parse_time(from_, field="--from") if from_ else None
    hi = parse_time(to, field="--to") if to else None
    if lo and hi and hi <= lo:
        raise UserError(f"--to {to_iso(hi)} is not after --from {to_iso(lo)}")
    lib = library(data_dir)
    series = lib.load(zone, signal_kind)
    started = time.perf_counter()
    result = backtest(series, model, horizon_s, lo, hi, every_s, archive=ForecastArchive(lib.root))
    data = result.as_dict()
    data["seconds"] = round(time.perf_counter() - started, 3)
    if json_out:
        print_json(data)
        return
    _print_backtest(result, data)


def _print_backtest(result: BacktestResult, data: dict[str, Any]) -> None:
    console.print(
        f"{result.zone} {result.kind}: {result.model} vs persistence, {result.forecasts:,} "
        f"forecasts from {data['from']} to {data['to']}, {result.horizon_h} h ahead "
        f"({data['seconds']} s)"
    )
    table = Table(title=f"error by horizon ({result.unit})", title_justify="left")
    for column in ("hour ahead", "MAE", "MAPE %", "persistence MAE", "skill"):
        table.add_column(column, justify="right")
    for score in result.by_horizon:
        if score.h in TABLE_HOURS or score.h == result.horizon_h:
            table.add_row(
                str(score.h),
                fmt(score.mae),
                fmt(score.mape),
                fmt(score.persistence_mae),
                fmt(score.skill, 3),
            )
    table.add_row(
        "all",
        fmt(result.mae),
        fmt(result.mape),
        fmt(result.persistence_mae),
        fmt(result.skill, 3),
        style="bold",
    )
    console.print(table)
    if result.band_coverage_pct is not None:
        console.print(
            f"80 % band held the actual value {result.band_coverage_pct:.1f} % of the time"
        )
    skill = np.nan if result.skill is None else result.skill
    verdict = "beats" if skill > 0 else "does not beat"
    console.print(f"{result.model} {verdict} persistence (skill {fmt(skill, 3)})")
