"""``gridshift demo``: the embedded default on bundled real data.

Without ``--preview`` it runs the control plane live (``demo_live``). ``--preview`` is offline:
it loads the bundled signals of three zones, shows what they hold, and replays a year of one
daily job (8 x H100, 6 h, due within 24 h) to show what shifting it to its cheapest window
would have saved against running it at once. Deterministic: the same figures on every run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import numpy as np
import typer
from rich.table import Table

from gridshift.cli.output import console, fmt, print_json
from gridshift.domain import Series, SignalKind, Tariff, TariffKind, UserError
from gridshift.domain.power import GPU_DEFAULTS, NATURAL_DRAW_FRACTION
from gridshift.domain.signal import zone_timezone
from gridshift.domain.timeutil import as_np
from gridshift.planner.window import cheapest_window
from gridshift.signals.align import align
from gridshift.signals.library import SignalLibrary, default_data_dir
from gridshift.signals.report import daily_profile
from gridshift.signals.validate import coverage_pct

YEAR_START = datetime(2022, 1, 1, tzinfo=UTC)
YEAR_END = datetime(2023, 1, 1, tzinfo=UTC)
CARBON_PRICE_USD_PER_T = 100.0


@dataclass(frozen=True)
class DemoSite:
    cluster: str
    zone: str
    tariff: Tariff
    pue: float


SITES = (
    DemoSite("fra-1", "DE-LU", Tariff(TariffKind.WHOLESALE, adder_usd_per_mwh=25.0), 1.2),
    DemoSite("dfw-1", "US-TEX-ERCO", Tariff(TariffKind.WHOLESALE, adder_usd_per_mwh=25.0), 1.2),
    DemoSite("lon-1", "GB", Tariff(TariffKind.FIXED, fixed_usd_per_mwh=220.0), 1.2),
)
JOB_GPUS = 8
JOB_HOURS = 6
JOB_WITHIN_H = 24
SUBMIT_LOCAL_HOUR = 9


def _hourly(series: Series) -> Series:
    return align(series, 3600, YEAR_START, YEAR_END)


def _replay(site: DemoSite, carbon: Series, price: Series | None) -> dict[str, Any]:
    """One job a day at 09:00 local; run-now against the cheapest window on the objective."""
    power_kw = JOB_GPUS * GPU_DEFAULTS["H100"].tdp_w * NATURAL_DRAW_FRACTION * site.pue / 1000
    wholesale = price.values if price is not None else np.zeros(len(carbon.values))
    usd_per_mwh = site.tariff.price_usd_per_mwh(wholesale)
    usd_per_kwh_objective = usd_per_mwh / 1000 + carbon.values * 1e-6 * CARBON_PRICE_USD_PER_T
    tz = ZoneInfo(zone_timezone(site.zone))
    first = int(as_np(YEAR_START).astype(np.int64))
    totals = dict.fromkeys(("now_kg", "now_usd", "shift_kg", "shift_usd", "delay_h"), 0.0)
    runs = 0
    day = YEAR_START.astimezone(tz).replace(hour=SUBMIT_LOCAL_HOUR, minute=0, second=0)
    while day.astimezone(UTC) + timedelta(hours=JOB_WITHIN_H) <= YEAR_END:
        submit = (int(day.timestamp()) - first) // 3600
        day += timedelta(days=1)
        if submit < 0:
            continue
        start = cheapest_window(
            usd_per_kwh_objective, JOB_HOURS, submit, submit + JOB_WITHIN_H - JOB_HOURS
        )
        if start is None:
            continue
        for key, at in (("now", submit), ("shift", start)):
            window = slice(at, at + JOB_HOURS)
            totals[f"{key}_kg"] += float(np.sum(carbon.values[window])) * power_kw / 1000
            totals[f"{key}_usd"] += float(np.sum(usd_per_mwh[window])) * power_kw / 1000
        totals["delay_h"] += start - submit
        runs += 1
    energy = runs * JOB_HOURS * power_kw

    def pct(now: float, shifted: float) -> float:
        return 100.0 * (now - shifted) / now if now else 0.0

    return {
        "cluster": site.cluster,
        "zone": site.zone,
        "tariff": site.tariff.kind.value,
        "runs": runs,
        "energy_kwh": round(energy, 1),
        "run_now": {
            "carbon_kg": round(totals["now_kg"], 1),
            "cost_usd": round(totals["now_usd"], 2),
        },
        "shifted": {
            "carbon_kg": round(totals["shift_kg"], 1),
            "cost_usd": round(totals["shift_usd"], 2),
        },
        "savings": {
            "carbon_pct": round(pct(totals["now_kg"], totals["shift_kg"]), 2),
            "cost_pct": round(pct(totals["now_usd"], totals["shift_usd"]), 2),
        },
        "mean_delay_h": round(totals["delay_h"] / max(runs, 1), 2),
        "deadline_misses": 0,
    }


FLEET_JOBS = 60
FLEET_SEED = 7


def _fleet() -> dict[str, Any]:
    """The planner on a fleet: 60 seeded synthetic jobs over 48 h on three clusters fed by the
    bundled signals (the benchmark generator), against each job's run-now counterfactual."""
    from gridshift.bench.instances import build_instance
    from gridshift.planner import PlannerOptions, plan

    instance = build_instance(FLEET_JOBS, 3, 48 * 3600, 900, seed=FLEET_SEED)
    result = plan(
        instance.jobs,
        instance.clusters,
        instance.forecasts,
        instance.objective,
        instance.now,
        solver="fast",
        options=PlannerOptions(step_s=900, horizon_s=48 * 3600),
    )
    base = [j.run_now for j in result.jobs if j.run_now is not None]
    deadlines = {j.id: j.deadline for j in instance.jobs}
    releases = {j.id: j.release for j in instance.jobs}
    late = sum(1 for j in result.jobs if j.segments[-1].end > deadlines[j.job_id])
    delays = [
        (j.segments[0].start - releases[j.job_id]).total_seconds() / 3600 for j in result.jobs
    ]
    return {
        "start": instance.now.isoformat(),
        "clusters": [f"{c.name} ({c.zone}, {c.gpus} GPUs)" for c in instance.clusters],
        "jobs": FLEET_JOBS,
        "planned": len(result.jobs),
        "infeasible": len(result.infeasible),
        "deadline_misses": late,
        "energy_kwh": result.energy_kwh,
        "cost_usd": result.cost_usd,
        "carbon_kg": result.carbon_kg,
        "run_now": {
            "energy_kwh": sum(o.energy_kwh for o in base),
            "cost_usd": sum(o.cost_usd for o in base),
            "carbon_kg": sum(o.carbon_kg for o in base),
        },
        "mean_delay_h": float(np.mean(delays)) if delays else 0.0,
        "examples": [
            {"id": j.job_id, "reason": j.reason}
            for j in sorted(
                (j for j in result.jobs if j.run_now is not None),
                key=lambda j: j.outcome.cost_usd - j.run_now.cost_usd if j.run_now else 0.0,
            )[:2]
        ],
    }


def _print_fleet(fleet: dict[str, Any]) -> None:
    now, base = fleet, fleet["run_now"]

    def pct(a: float, b: float) -> str:
        return _change(100.0 * (b - a) / b if b else 0.0)

    console.print(
        f"\nThe planner on a fleet: {fleet['jobs']} synthetic jobs from {fleet['start'][:16]} "
        f"over 48 h on {', '.join(fleet['clusters'])}:"
    )
    console.print(
        f"  planned {fleet['planned']}, infeasible {fleet['infeasible']}, deadline misses "
        f"{fleet['deadline_misses']}, mean delay {fleet['mean_delay_h']:.1f} h; against each "
        f"job's run-now counterfactual: energy {pct(now['energy_kwh'], base['energy_kwh'])}, "
        f"cost {pct(now['cost_usd'], base['cost_usd'])}, carbon "
        f"{pct(now['carbon_kg'], base['carbon_kg'])} (energy falls where power caps pay)"
    )
    for example in fleet["examples"]:
        console.print(f"  {example['id']}: {example['reason']}")


def _change(saving_pct: float) -> str:
    """A saving shown as a signed change (a 5 % saving reads -5.0 %), without a -0.0."""
    change = round(-saving_pct, 1) + 0.0
    return f"{change:+.1f}%"


def demo(
    duration: Annotated[
        str, typer.Option("--duration", help="About how long the live demo runs.")
    ] = "90s",
    time_scale: Annotated[
        float | None,
        typer.Option("--time-scale", help="Simulated seconds per second (default: to fit)."),
    ] = None,
    serve: Annotated[
        bool, typer.Option("--serve", help="Keep the control plane up after the summary.")
    ] = False,
    preview: Annotated[
        bool, typer.Option("--preview", help="The offline preview instead (no server).")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """The embedded default, live: the control plane on an accelerated clock, real trace jobs,
    bundled real signals; ends with the savings against run-now. --preview: offline figures."""
    if not preview:
        from gridshift.cli.demo_live import demo_duration, live_demo

        seconds = demo_duration(duration)
        if time_scale is not None and time_scale <= 0:
            raise UserError(f"--time-scale must be positive, got {time_scale:g}", hint="e.g. 1000")
        live_demo(seconds, time_scale, serve, json_out)
        return
    _preview(json_out)


def _preview(json_out: bool) -> None:
    """Offline preview on bundled real data: what the signals hold and what shifting saves."""
    lib = SignalLibrary(default_data_dir())
    zones: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    for site in SITES:
        carbon = _hourly(lib.load(site.zone, SignalKind.CARBON).between(YEAR_START, YEAR_END))
        price = None
        if site.tariff.needs_price_signal:
            price = _hourly(lib.load(site.zone, SignalKind.PRICE).between(YEAR_START, YEAR_END))
        tz, profile = daily_profile(carbon)
        zones.append(
            {
                "zone": site.zone,
                "carbon_mean": float(np.nanmean(carbon.values)),
                "carbon_coverage_pct": coverage_pct(carbon),
                "cleanest_local_hour": int(np.nanargmin(profile)),
                "dirtiest_local_hour": int(np.nanargmax(profile)),
                "price_mean": float(np.nanmean(price.values)) if price is not None else None,
                "timezone": tz,
            }
        )
        results.append(_replay(site, carbon, price))
    fleet = _fleet()
    report = {
        "note": "offline preview: bundled 2022 signals, one job a day (without --preview, "
        "the demo runs the control plane live)",
        "job": {
            "gpus": JOB_GPUS,
            "gpu_type": "H100",
            "duration_h": JOB_HOURS,
            "within_h": JOB_WITHIN_H,
            "submitted": f"{SUBMIT_LOCAL_HOUR:02d}:00 local, every day of 2022",
        },
        "objective": f"cost + carbon at ${CARBON_PRICE_USD_PER_T:g}/t",
        "baseline": "run-now (start at submission)",
        "zones": zones,
        "results": results,
        "fleet": fleet,
    }
    if json_out:
        print_json(report)
        return
    console.print("[bold]gridshift demo[/bold] — offline preview on bundled real data (2022)")
    console.print(f"({report['note']})\n")
    table = Table(title="what the bundled signals hold", title_justify="left")
    for column in ("zone", "gCO2/kWh", "coverage", "clean/dirty hour", "USD/MWh"):
        table.add_column(column, justify="right")
    for z in zones:
        table.add_row(
            z["zone"],
            fmt(z["carbon_mean"]),
            f"{z['carbon_coverage_pct']:.1f} %",
            f"{z['cleanest_local_hour']:02d}h / {z['dirtiest_local_hour']:02d}h local",
            fmt(z["price_mean"]) if z["price_mean"] is not None else "fixed tariff",
        )
    console.print(table)
    console.print(
        f"\nA daily job: {JOB_GPUS} x H100 for {JOB_HOURS} h, submitted {SUBMIT_LOCAL_HOUR:02d}:00 "
        f"local, due within {JOB_WITHIN_H} h; shifted to its cheapest window on "
        f"{report['objective']}, against run-now:"
    )
    table = Table(title_justify="left")
    for column in ("zone", "CO2 t now→shifted", "CO2", "k$ now→shifted", "cost", "delay"):
        table.add_column(column, justify="right")
    for r in results:
        table.add_row(
            r["zone"],
            f"{r['run_now']['carbon_kg'] / 1000:.2f} → {r['shifted']['carbon_kg'] / 1000:.2f}",
            _change(r["savings"]["carbon_pct"]),
            f"{r['run_now']['cost_usd'] / 1000:.2f} → {r['shifted']['cost_usd'] / 1000:.2f}",
            _change(r["savings"]["cost_pct"]),
            f"{r['mean_delay_h']:.1f} h",
        )
    console.print(table)
    energy = results[0]["energy_kwh"]
    console.print(
        f"{results[0]['runs']} runs per site, {energy:,.0f} kWh each way, 0 deadline misses. "
        "Shifting moves work in time; it does not remove it, so energy is unchanged. "
        "A fixed tariff cannot save cost; carbon still falls."
    )
    _print_fleet(fleet)
