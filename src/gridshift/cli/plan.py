"""``gridshift plan``: planning offline, on a site config and a set of jobs, as of ``--now``.

By default each signal is forecast as of ``--now`` exactly as the control loop would (the provider
for a live source, else the default model on the history known then, with the fallbacks of
``forecasting.service``): the plan is what gridshift would have decided at that moment.
``--forecast perfect`` uses the recorded data itself instead (perfect foresight: a what-if, the
best any forecast could do); ``--forecast MODEL`` names a model.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.table import Table

from gridshift.cli.common import library
from gridshift.cli.output import console, print_json
from gridshift.config.jobs import load_job_specs
from gridshift.config.jobs_csv import read_jobs_csv
from gridshift.config.site import SiteConfig, load_site
from gridshift.config.units import parse_duration, parse_time
from gridshift.domain import Forecast, Job, Plan, SignalKind, UserError
from gridshift.domain.timeutil import to_iso
from gridshift.forecasting import models
from gridshift.forecasting.asof import check_model
from gridshift.forecasting.feeds import site_feeds
from gridshift.forecasting.perfect import MODEL as PERFECT
from gridshift.forecasting.perfect import perfect_forecast
from gridshift.forecasting.service import PROVIDER, Forecaster
from gridshift.planner import SOLVERS, PlannerOptions, plan
from gridshift.signals.library import SignalLibrary
from gridshift.signals.sources import load_site_signals


def site_forecasts(
    site: SiteConfig,
    lib: SignalLibrary,
    at: datetime,
    step_s: int,
    horizon_s: int,
    model: str | None,
) -> tuple[dict[tuple[str, SignalKind], Forecast], list[dict[str, Any]]]:
    """The forecasts a plan at ``at`` uses, and a summary of each (model, quality, note)."""
    if model == PERFECT:
        series = load_site_signals(site, lib)
        forecasts = {k: perfect_forecast(s, at, step_s, horizon_s) for k, s in series.items()}
        for (zone, kind), predicted in forecasts.items():
            if not np.isfinite(predicted.values).any():
                known = series[(zone, kind)]
                raise UserError(
                    f"the {zone} {kind.value} data has no value between {to_iso(at)} and "
                    f"{to_iso(at + timedelta(seconds=horizon_s))}",
                    hint=f"it covers {to_iso(known.start)} .. {to_iso(known.end)}: pick --now "
                    "inside it, or import data for that period",
                )
    else:
        forecaster = Forecaster(site_feeds(site, lib), now=lambda: datetime.now(UTC))
        forecasts = {
            key: forecaster.forecast(key[0], key[1], at, horizon_s, model)
            for key in [(s.zone, s.kind) for s in site.signals]
        }
    used = [
        {
            "zone": zone,
            "kind": kind.value,
            "model": f.model,
            "generated_at": to_iso(f.generated_at or f.as_of),
            "quality": f.quality,
            "note": f.note,
        }
        for (zone, kind), f in forecasts.items()
    ]
    return forecasts, used


def load_jobs(path: Path, *, now: Any, site: Any, default_within_s: float | None) -> list[Job]:
    if path.is_file() and path.suffix.lower() == ".csv":
        return read_jobs_csv(path, default_within_s=default_within_s, site=site)
    return load_job_specs(path, submitted_at=now, site=site)


def plan_to_dict(result: Plan, seconds: float | None = None) -> dict[str, Any]:
    run_now = [j.run_now for j in result.jobs if j.run_now is not None]
    base_kg = sum(o.carbon_kg for o in run_now)
    base_usd = sum(o.cost_usd for o in run_now)
    out: dict[str, Any] = {
        "objective": result.objective.describe(),
        "solver": result.solver,
        "objective_value": result.objective_value,
        "energy_kwh": result.energy_kwh,
        "cost_usd": result.cost_usd,
        "carbon_kg": result.carbon_kg,
        "lower_bound": result.lower_bound,
        "gap_pct": result.gap_pct,
        "run_now": {
            "energy_kwh": sum(o.energy_kwh for o in run_now),
            "cost_usd": base_usd,
            "carbon_kg": base_kg,
        },
        "savings": {
            "carbon_pct": 100 * (base_kg - result.carbon_kg) / base_kg if base_kg else 0.0,
            "cost_pct": 100 * (base_usd - result.cost_usd) / base_usd if base_usd else 0.0,
        },
        "jobs": [
            {
                "id": j.job_id,
                "cluster": j.cluster,
                "segments": [
                    {
                        "start": to_iso(s.start),
                        "end": to_iso(s.end),
                        "gpus": s.gpus,
                        "power_cap_w": s.power_cap_w,
                    }
                    for s in j.segments
                ],
                "energy_kwh": j.outcome.energy_kwh,
                "cost_usd": j.outcome.cost_usd,
                "carbon_kg": j.outcome.carbon_kg,
                "run_now": None
                if j.run_now is None
                else {
                    "energy_kwh": j.run_now.energy_kwh,
                    "cost_usd": j.run_now.cost_usd,
                    "carbon_kg": j.run_now.carbon_kg,
                },
                "reason": j.reason,
            }
            for j in result.jobs
        ],
        "infeasible": [{"id": i.job_id, "reason": i.reason} for i in result.infeasible],
    }
    if result.note:
        out["solver_note"] = result.note
    if seconds is not None:
        out["seconds"] = seconds
    return out


def plan_command(
    config: Annotated[
        Path | None, typer.Option("--config", help="Site configuration (gridshift.yaml).")
    ] = None,
    jobs: Annotated[
        Path | None,
        typer.Option("--jobs", help="Jobs: a gridshift jobs CSV, a job spec, or a folder of them."),
    ] = None,
    now: Annotated[str | None, typer.Option("--now", help="Planning time (ISO-8601).")] = None,
    solver: Annotated[str, typer.Option("--solver", help="auto | fast | exact.")] = "auto",
    horizon: Annotated[str, typer.Option("--horizon", help="Planning horizon.")] = "48h",
    step: Annotated[str, typer.Option("--step", help="Planning step.")] = "15m",
    default_within: Annotated[
        str | None,
        typer.Option("--default-within", help="Deadline for CSV rows without one (e.g. 24h)."),
    ] = None,
    forecast: Annotated[
        str | None,
        typer.Option(
            "--forecast",
            help="perfect (the recorded data), provider, or a model "
            f"({', '.join(models.MODELS)}); default: as of --now, as the server would.",
        ),
    ] = None,
    time_limit: Annotated[
        float, typer.Option("--time-limit", help="Exact solver time limit, seconds.")
    ] = 10.0,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="Signal library.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    url: Annotated[
        str | None, typer.Option("--url", help="Server URL (default $GRIDSHIFT_URL).")
    ] = None,
    token: Annotated[
        str | None, typer.Option("--token", help="Bearer token (default $GRIDSHIFT_TOKEN).")
    ] = None,
) -> None:
    """The server's current plan; or, with --config --jobs --now, a plan made offline: cluster,
    segments, GPUs and power cap for each job, with the reason."""
    if config is None and jobs is None and now is None:
        from gridshift.cli.remote import remote_plan

        remote_plan(url, token, json_out)
        return
    if config is None or jobs is None or now is None:
        raise UserError(
            "offline planning needs --config, --jobs and --now",
            hint="e.g. gridshift plan --config gridshift.yaml --jobs jobs.csv "
            "--now 2022-06-01T06:00:00Z; without all three it asks the server",
        )
    if solver not in SOLVERS:
        raise UserError(f"unknown solver {solver!r}", hint=f"use one of {', '.join(SOLVERS)}")
    if forecast is not None:
        check_model(forecast, "--forecast", extra=(PERFECT, PROVIDER))
    if not 0.1 <= time_limit <= 3600:
        raise UserError(f"--time-limit {time_limit:g} is out of range", hint="0.1 to 3600 s")
    at = parse_time(now, field="--now")
    step_s = int(parse_duration(step, field="--step"))
    horizon_s = int(parse_duration(horizon, field="--horizon"))
    if horizon_s < step_s or horizon_s > 31 * 86400:
        raise UserError(f"--horizon {horizon} is out of range", hint="from one step to 31d")
    site = load_site(config)
    within = parse_duration(default_within, field="--default-within") if default_within else None
    job_list = load_jobs(jobs, now=at, site=site, default_within_s=within)
    forecasts, used = site_forecasts(site, library(data_dir), at, step_s, horizon_s, forecast)
    started = time.perf_counter()
    result = plan(
        job_list,
        site.clusters,
        forecasts,
        site.objective,
        at,
        solver=solver,
        options=PlannerOptions(step_s=step_s, horizon_s=horizon_s, time_limit_s=time_limit),
    )
    seconds = time.perf_counter() - started
    data = plan_to_dict(result, seconds)
    data["forecasts"] = used
    if json_out:
        print_json(data)
        return
    table = Table(
        title=f"plan at {to_iso(at)} ({data['objective']}, {result.solver} solver)",
        title_justify="left",
    )
    for column in ("job", "cluster", "start", "end", "segs", "GPUs", "cap W", "kg CO2", "USD"):
        table.add_column(column, justify="right" if column not in ("job", "cluster") else "left")
    for j in result.jobs:
        caps = sorted({s.power_cap_w for s in j.segments if s.power_cap_w})
        gpus = sorted({s.gpus for s in j.segments})
        table.add_row(
            j.job_id,
            j.cluster,
            j.segments[0].start.strftime("%m-%d %H:%M"),
            j.segments[-1].end.strftime("%m-%d %H:%M"),
            str(len(j.segments)),
            "/".join(str(g) for g in gpus),
            "/".join(f"{c:.0f}" for c in caps) or "-",
            f"{j.outcome.carbon_kg:.1f}",
            f"{j.outcome.cost_usd:.2f}",
        )
    console.print(table)
    for j in result.jobs:
        console.print(f"[bold]{j.job_id}[/bold]: {j.reason}")
    for i in result.infeasible:
        console.print(f"[bold red]{i.job_id} cannot be planned[/bold red]: {i.reason}")
    sav = data["savings"]
    console.print(
        f"\ntotal: {data['energy_kwh']:,.1f} kWh, ${data['cost_usd']:,.2f}, "
        f"{data['carbon_kg']:,.1f} kg CO2; against run-now {-sav['cost_pct']:+.1f} % cost, "
        f"{-sav['carbon_pct']:+.1f} % carbon; objective {result.objective_value:,.2f}, "
        f"lower bound {result.lower_bound or 0:,.2f} (gap {result.gap_pct or 0:.2f} %); "
        f"{len(result.infeasible)} infeasible; planned in {seconds:.2f} s"
    )
    console.print(
        "forecasts as of "
        + to_iso(at)
        + ": "
        + "; ".join(f"{u['zone']} {u['kind']} {u['model']} ({u['quality']})" for u in used)
    )
    for u in used:
        if u["note"]:
            console.print(f"  {u['zone']} {u['kind']}: {u['note']}")
