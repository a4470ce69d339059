"""``gridshift bench``: benchmarks on reproducible synthetic instances built from real signals."""

from __future__ import annotations

import resource
import time
from typing import Annotated, Any

import typer

from gridshift.cli.output import console, print_json
from gridshift.config.units import parse_duration
from gridshift.domain import UserError
from gridshift.planner import SOLVERS, PlannerOptions, solve
from gridshift.planner.model import build_problem

app = typer.Typer(
    help="Benchmarks of the planner, the forecasts and the simulator.",
    no_args_is_help=True,
)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


@app.command("plan")
def bench_plan(
    jobs: Annotated[int, typer.Option("--jobs", help="Number of jobs.")] = 1000,
    clusters: Annotated[int, typer.Option("--clusters", help="Number of clusters.")] = 20,
    horizon: Annotated[str, typer.Option("--horizon", help="Planning horizon.")] = "48h",
    step: Annotated[str, typer.Option("--step", help="Planning step.")] = "15m",
    solver: Annotated[str, typer.Option("--solver", help="auto | fast | exact.")] = "auto",
    seed: Annotated[int, typer.Option("--seed", help="Instance seed.")] = 0,
    time_limit: Annotated[
        float, typer.Option("--time-limit", help="Exact solver time limit, seconds.")
    ] = 10.0,
    rounds: Annotated[
        int, typer.Option("--rounds", help="Plan this many times; seconds is the median.")
    ] = 1,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Plan a seeded synthetic instance on the bundled real signals; report time, memory, gap."""
    if not 1 <= jobs <= 200_000:
        raise UserError(f"--jobs {jobs} is out of range", hint="1 to 200000")
    if not 1 <= clusters <= 200:
        raise UserError(f"--clusters {clusters} is out of range", hint="1 to 200")
    if solver not in SOLVERS:
        raise UserError(f"unknown solver {solver!r}", hint=f"use one of {', '.join(SOLVERS)}")
    if not 1 <= rounds <= 100:
        raise UserError(f"--rounds {rounds} is out of range", hint="1 to 100")
    horizon_s = int(parse_duration(horizon, field="--horizon"))
    step_s = int(parse_duration(step, field="--step"))
    if horizon_s < step_s or horizon_s > 14 * 86400:
        raise UserError(f"--horizon {horizon} is out of range", hint="from one step to 14d")
    from gridshift.bench.instances import build_instance, warm_up

    started = time.perf_counter()
    warm_up()
    warm = time.perf_counter() - started
    started = time.perf_counter()
    instance = build_instance(jobs, clusters, horizon_s, step_s, seed=seed)
    built = time.perf_counter() - started
    rss_before = _rss_mb()
    options = PlannerOptions(step_s=step_s, horizon_s=horizon_s, time_limit_s=time_limit)
    runs: list[tuple[float, float, dict[str, float]]] = []
    for _ in range(rounds):
        stages: dict[str, float] = {}
        started = time.perf_counter()
        problem = build_problem(
            instance.jobs,
            instance.clusters,
            instance.forecasts,
            instance.objective,
            instance.now,
            options,
        )
        tables = time.perf_counter() - started
        result = solve(problem, solver, timings=stages)
        runs.append((time.perf_counter() - started, tables, stages))
    # The median run (by total seconds) is reported, with the spread of all of them.
    runs_by_time = sorted(runs, key=lambda r: r[0])
    seconds, tables, stages = runs_by_time[(len(runs) - 1) // 2]
    out: dict[str, Any] = {
        "solver": result.solver,
        "jobs": jobs,
        "clusters": clusters,
        "steps": -(-horizon_s // step_s),
        "seconds": round(seconds, 3),
        "rounds": rounds,
        "seconds_min": round(runs_by_time[0][0], 3),
        "seconds_max": round(runs_by_time[-1][0], 3),
        "peak_rss_mb": round(_rss_mb(), 1),
        "objective": result.objective_value,
        "lower_bound": result.lower_bound,
        "gap_pct": result.gap_pct,
        "planned": len(result.jobs),
        "infeasible": len(result.infeasible),
        "stage_seconds": {"tables": round(tables, 3)} | {k: round(v, 3) for k, v in stages.items()},
        "rss_before_plan_mb": round(rss_before, 1),
        "instance_seconds": round(built, 3),
        "kernel_load_seconds": round(warm, 3),
        "seed": seed,
        "start": instance.now.isoformat(),
        "solver_note": result.note,
    }
    if json_out:
        print_json(out)
        return
    console.print(
        f"{result.solver} solver: {jobs} jobs x {clusters} clusters x {out['steps']} steps in "
        f"{seconds:.2f} s ({', '.join(f'{k} {v:.2f}' for k, v in out['stage_seconds'].items())}), "
        f"peak RSS {out['peak_rss_mb']:.0f} MB; objective "
        f"{result.objective_value:,.2f}, lower bound {result.lower_bound or 0:,.2f} "
        f"(gap {result.gap_pct or 0:.2f} %); {len(result.infeasible)} infeasible"
    )


def _forecast_args(zones: int, model: str, horizon: str) -> int:
    """Check the options of the forecast benchmarks; returns the horizon in seconds."""
    from gridshift.forecasting.asof import check_model

    if not 1 <= zones <= 20:
        raise UserError(f"--zones {zones} is out of range", hint="1 to 20 (the bundled zones)")
    check_model(model, "--model")
    horizon_s = int(parse_duration(horizon, field="--horizon"))
    if not 3600 <= horizon_s <= 14 * 86400:
        raise UserError(f"--horizon {horizon} is out of range", hint="from 1h to 14d")
    return horizon_s


@app.command("forecast")
def bench_forecast(
    zones: Annotated[int, typer.Option("--zones", help="How many zones (1-20).")] = 20,
    model: Annotated[str, typer.Option("--model", help="Forecast model.")] = "ets",
    horizon: Annotated[str, typer.Option("--horizon", help="How far ahead.")] = "48h",
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Forecast many zones at once on the bundled data, as the control loop does each pass."""
    from gridshift.bench.forecasts import forecast_many

    horizon_s = _forecast_args(zones, model, horizon)
    run = forecast_many(zones, model, horizon_s)
    out = {
        "model": model,
        "zones": run.series,
        "horizon_h": horizon_s / 3600,
        "seconds": round(run.forecast_seconds, 4),
        "load_seconds": round(run.load_seconds, 4),
        "steps": run.steps,
        "peak_rss_mb": round(_rss_mb(), 1),
    }
    if json_out:
        print_json(out)
        return
    console.print(
        f"{model}: {run.series} zones x {horizon} forecast in {run.forecast_seconds:.3f} s "
        f"(+{run.load_seconds:.3f} s to read their history), peak RSS {out['peak_rss_mb']:.0f} MB"
    )


@app.command("backtest")
def bench_backtest(
    zones: Annotated[int, typer.Option("--zones", help="How many zones (1-20).")] = 4,
    model: Annotated[str, typer.Option("--model", help="Forecast model.")] = "ets",
    horizon: Annotated[str, typer.Option("--horizon", help="How far ahead.")] = "48h",
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Backtest a year of hourly history per zone (forecasts every hour)."""
    from gridshift.bench.forecasts import backtest_many

    horizon_s = _forecast_args(zones, model, horizon)
    runs = backtest_many(zones, model, horizon_s)
    rows = [
        {
            "zone": r.zone,
            "kind": r.kind,
            "forecasts": r.forecasts,
            "seconds": round(s, 3),
            "skill": None if r.skill is None else round(r.skill, 3),
        }
        for r, s in runs
    ]
    out = {
        "model": model,
        "horizon_h": horizon_s / 3600,
        "zones": rows,
        "max_seconds": max(s for _, s in runs),
        "peak_rss_mb": round(_rss_mb(), 1),
    }
    if json_out:
        print_json(out)
        return
    for row in rows:
        console.print(
            f"{row['zone']} {row['kind']}: {row['forecasts']:,} forecasts in {row['seconds']:.3f} s"
            f" (skill {row['skill']})"
        )
    console.print(
        f"slowest zone {max(s for _, s in runs):.3f} s; peak RSS {out['peak_rss_mb']:.0f} MB"
    )


@app.command("simulate")
def bench_simulate(
    jobs: Annotated[int, typer.Option("--jobs", help="Number of jobs.")] = 100_000,
    days: Annotated[
        float, typer.Option("--days", help="Days of arrivals (from 2021-01-01).")
    ] = 365,
    clusters: Annotated[int, typer.Option("--clusters", help="Number of clusters.")] = 5,
    gpus: Annotated[int, typer.Option("--gpus", help="GPUs per cluster.")] = 8,
    step: Annotated[str, typer.Option("--step", help="Simulation step.")] = "1h",
    within: Annotated[str, typer.Option("--within", help="Slack after each job's run.")] = "24h",
    policies: Annotated[
        str, typer.Option("--policies", help="Comma-separated policies (run-now always runs).")
    ] = "run-now,gridshift",
    seed: Annotated[int, typer.Option("--seed", help="Workload seed.")] = 0,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Simulate a seeded year-long trace (Alibaba-shaped jobs) on the bundled real signals;
    report each policy's seconds, the peak memory, deadline misses and savings."""
    import tempfile
    from pathlib import Path

    from gridshift.bench.instances import warm_up
    from gridshift.bench.simulation import bench_config, write_jobs
    from gridshift.cli.common import library
    from gridshift.simulate.engine import simulate

    if not 1 <= jobs <= 1_000_000:
        raise UserError(f"--jobs {jobs} is out of range", hint="1 to 1000000")
    if not 1 <= days <= 365:
        raise UserError(f"--days {days} is out of range", hint="1 to 365 (the data covers 2021)")
    if not 1 <= clusters <= 16 or not 1 <= gpus <= 100_000:
        raise UserError("--clusters or --gpus out of range", hint="1-16 clusters, 1-100000 GPUs")
    within_s = parse_duration(within, field="--within")
    warm_up()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        write_jobs(folder / "jobs.csv", jobs, days, within_s, seed)
        config = bench_config(
            folder, clusters, gpus, days, step, [p.strip() for p in policies.split(",") if p]
        )
        built = time.perf_counter() - started
        started = time.perf_counter()
        report, _ = simulate(config, library(None))
        total = time.perf_counter() - started
    out: dict[str, Any] = {
        "jobs": report["jobs"],
        "days": days,
        "clusters": clusters,
        "gpus_per_cluster": gpus,
        "step": step,
        "steps": report["grid"]["steps"],
        "seconds": round(total, 2),
        "policy_seconds": {k: round(v["seconds"], 2) for k, v in report["policies"].items()},
        "deadline_misses": {k: v["deadline_misses"] for k, v in report["policies"].items()},
        "savings": report["savings"],
        "peak_rss_mb": round(_rss_mb(), 1),
        "workload_seconds": round(built, 2),
        "seed": seed,
    }
    if json_out:
        print_json(out)
        return
    console.print(
        f"{out['jobs']:,} jobs, {clusters} clusters x {gpus} GPUs, {out['steps']:,} steps of "
        f"{step}: {total:.1f} s in all ("
        + ", ".join(f"{k} {v:.1f} s" for k, v in out["policy_seconds"].items())
        + f"), peak RSS {out['peak_rss_mb']:.0f} MB; misses "
        + ", ".join(f"{k} {v:g}" for k, v in out["deadline_misses"].items())
    )


@app.command("api")
def bench_api_command(
    submissions: Annotated[
        int, typer.Option("--submissions", help="Job submissions to time.")
    ] = 2000,
    clients: Annotated[int, typer.Option("--clients", help="Concurrent submitting clients.")] = 4,
    pending: Annotated[
        int, typer.Option("--pending", help="Pending jobs re-planned while reads are timed.")
    ] = 10_000,
    readers: Annotated[int, typer.Option("--readers", help="Concurrent reading clients.")] = 2,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The REST API on loopback with SQLite: submission latency and rate; read latency while
    the engine re-plans every pending job."""
    if not 1 <= submissions <= 100_000:
        raise UserError(f"--submissions {submissions} is out of range", hint="1 to 100000")
    if not 1 <= clients <= 64 or not 1 <= readers <= 64:
        raise UserError("--clients and --readers take 1 to 64", hint="e.g. --clients 4")
    if not 1 <= pending <= 100_000:
        raise UserError(f"--pending {pending} is out of range", hint="1 to 100000")
    from gridshift.bench.api import bench_api
    from gridshift.bench.instances import warm_up

    warm_up()
    result = bench_api(submissions, clients, pending, readers)
    result["peak_rss_mb"] = round(_rss_mb(), 1)
    if json_out:
        print_json(result)
        return
    sub, rep = result["submit"], result["replan"]
    lat = sub["latency"]
    console.print(
        f"submissions: {sub['submissions']} from {sub['clients']} clients in {sub['seconds']} s "
        f"= {sub['per_second']}/s; latency p50 {lat['p50_ms']} ms, p99 {lat['p99_ms']} ms, "
        f"max {lat['max_ms']} ms; {sub['failures']} failed; {sub['replans']} re-plans meanwhile"
    )
    reads = rep["reads_during_replan"]
    console.print(
        f"re-plan of {rep['pending']} pending jobs on {rep['clusters']} clusters: "
        f"{rep['replan_s']} s (first plan {rep['cold_replan_s']} s), {rep['planned']} planned; "
        f"{reads['n']} reads meanwhile: p50 {reads['p50_ms']} ms, p99 {reads['p99_ms']} ms, "
        f"max {reads['max_ms']} ms"
    )
    console.print(f"peak RSS {result['peak_rss_mb']} MB (SQLite, loopback)")
