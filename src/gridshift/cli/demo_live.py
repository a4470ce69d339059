"""``gridshift demo``: the embedded default, live (DESIGN.md §3.1).

The production control plane in-process — the REST API on a free local port (uvicorn), the engine,
SQLite in a temporary data directory, the local executor — for three clusters in three zones fed
by the bundled real signals (June 2022), with an accelerated clock. A sample of a real trace
(Pollux's sample of Microsoft Philly: arrivals, GPU counts; durations from the paper's GPU-hours)
is submitted through the API as it arrives, each job a checkpoint-aware sleep scaled to the
clock (``gridshift.demo_job``): most with a day of slack, some with an hour, half of them
interruptible, one critical. It prints live progress and ends, when every job has finished, with
what ran settled on the actual signals against ``run-now`` on the same jobs and capacity.
"""

from __future__ import annotations

import math
import secrets
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gridshift.cli.client import ApiClient
from gridshift.cli.demo_settle import settle_demo
from gridshift.cli.output import console, fmt, print_json
from gridshift.config.site import SiteConfig, site_from_data
from gridshift.domain import Job
from gridshift.domain.timeutil import to_iso
from gridshift.engine.clock import ScaledClock
from gridshift.engine.options import EngineOptions
from gridshift.signals.library import SignalLibrary
from gridshift.simulate.config import Defaults
from gridshift.simulate.traces import read_trace

START = datetime(2022, 6, 6, 6, 0, tzinfo=UTC)  # a Monday morning in Europe
TRACE = Path(__file__).resolve().parent.parent / "demo_data" / "pollux-workload-1.csv"
EVERY = 4  # every fourth job of the trace
SLACK_S = 24 * 3600
TIGHT_SLACK_S = 3600
SITE = {
    "clusters": [
        {"name": "fra-1", "zone": "DE-LU", "gpus": 48, "gpu_type": "H100", "pue": 1.2,
         "tariff": {"kind": "wholesale", "adder_usd_per_mwh": 25}},
        {"name": "dfw-1", "zone": "US-TEX-ERCO", "gpus": 48, "gpu_type": "H100", "pue": 1.3,
         "tariff": {"kind": "wholesale", "adder_usd_per_mwh": 20}},
        {"name": "tor-1", "zone": "CA-ON", "gpus": 48, "gpu_type": "H100", "pue": 1.2,
         "tariff": {"kind": "wholesale", "adder_usd_per_mwh": 20}},
    ],
    "signals": [
        {"zone": z, "kind": k, "source": "bundled"}
        for z in ("DE-LU", "US-TEX-ERCO", "CA-ON")
        for k in ("carbon", "price")
    ],
    "objective": {"mode": "combined", "carbon_price_usd_per_tonne": 100},
}  # fmt: skip


@dataclass(frozen=True)
class DemoJob:
    job: Job  # as the trace gives it (times on the demo's clock)
    spec: dict[str, Any]


def demo_site() -> SiteConfig:
    return site_from_data(SITE, "gridshift demo", Path.cwd())


def demo_jobs(scale: float) -> list[DemoJob]:
    """Every ``EVERY``-th trace job: a tight deadline for every fifth, interruptible every other,
    the first one critical; its command sleeps its duration on the demo's clock."""
    trace, _ = read_trace(TRACE, "pollux", START, 86400.0, Defaults(within_s=SLACK_S))
    out = []
    for i, job in enumerate(trace[::EVERY]):
        tight = i % 5 == 2
        slack = TIGHT_SLACK_S if tight else SLACK_S
        seconds = max(0.2, job.duration_s / scale)
        spec: dict[str, Any] = {
            "name": job.id,
            "kind": "training",
            "command": [
                sys.executable, "-m", "gridshift.demo_job", "--seconds", f"{seconds:.2f}",
                "--tick", "0.1",
            ],
            "resources": {"gpus": job.gpus, "gpu_type": "H100"},
            "duration": f"{math.ceil(job.duration_s)}s",
            "within": f"{math.ceil(job.duration_s + slack)}s",
            "priority": "critical" if i == 0 else ("high" if tight else "normal"),
            "interruptible": {"checkpoint_overhead": "5m"} if i % 2 == 1 else False,
            "env": {"WANDB_MODE": "offline"},
        }  # fmt: skip
        out.append(DemoJob(job, spec))
    return out


def _span_s(jobs: list[DemoJob]) -> float:
    return max(
        (j.job.submitted_at - START).total_seconds() + j.job.duration_s + 3 * 3600 for j in jobs
    )


def live_demo(duration_s: float, scale: float | None, serve: bool, json_out: bool) -> None:
    from gridshift.api.runtime import build_runtime
    from gridshift.api.serve import ServerThread

    probe = demo_jobs(1.0)
    scale = scale or _span_s(probe) / max(10.0, duration_s * 0.8)
    jobs = demo_jobs(scale)
    data_dir = Path(tempfile.mkdtemp(prefix="gridshift-demo-"))
    site = demo_site()
    clock = ScaledClock.starting(START, scale)
    options = EngineOptions(
        replan_s=900.0, signal_refresh_s=900.0, pass_s=0.1, grace_s=2.0, lease_s=10.0
    )
    admin = secrets.token_urlsafe(24)
    runtime = build_runtime(
        site, data_dir, clock=clock, options=options, admin_token=admin, planner_process=True
    )
    server = ServerThread(runtime)
    url = server.start()

    def say(text: str) -> None:
        if not json_out:
            console.print(text)

    say(f"[bold]gridshift demo[/bold] — the control plane at {url}/api/v1 "
        f"(docs: {url}/api/v1/docs; admin token: {admin})")  # fmt: skip
    say(f"data: {data_dir} · clock: {to_iso(START)} at {scale:,.0f}× · {len(jobs)} jobs from the "
        f"Philly trace (Pollux sample) on {', '.join(c.name for c in site.clusters)}")  # fmt: skip
    client = ApiClient(url, admin)
    client.request("POST", "/teams", json={"name": "demo"})
    token = client.request("POST", "/tokens", json={"team": "demo", "role": "member"})["token"]
    member = ApiClient(url, token)
    try:
        _drive(member, runtime, clock, jobs, duration_s, say)
        summary = _summary(runtime, jobs, data_dir)
        if json_out:
            print_json({**summary, "url": url, "time_scale": scale})
        else:
            _print_summary(summary)
        if serve:
            say(f"\nserving at {url}/api/v1 until Ctrl-C (GRIDSHIFT_URL={url} "
                f"GRIDSHIFT_TOKEN={token} gridshift jobs)")  # fmt: skip
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        runtime.close()
        shutil.rmtree(data_dir, ignore_errors=True)  # a temporary store, as its name says


def _drive(
    member: ApiClient,
    runtime: Any,
    clock: ScaledClock,
    jobs: list[DemoJob],
    duration_s: float,
    say: Any,
) -> None:
    started = time.monotonic()
    limit = duration_s + 20.0
    queue = sorted(jobs, key=lambda j: j.job.submitted_at)
    submitted: dict[str, str] = {}
    last_line = 0.0
    seen_events: set[tuple[str, str, str]] = set()
    while time.monotonic() - started < limit:
        now = clock.now()
        while queue and queue[0].job.submitted_at <= now:
            item = queue.pop(0)
            got = member.submit(item.spec, key=item.job.id)
            submitted[got["id"]] = item.job.id
        counts = runtime.store.count_by_status("demo")
        active = sum(counts.get(s, 0) for s in ("pending", "running", "paused"))
        if time.monotonic() - last_line >= 2.0 or (not queue and active == 0):
            last_line = time.monotonic()
            used = {c.name: 0 for c in runtime.site.clusters}
            for a in runtime.store.open_attempts():
                used[a.cluster] += a.gpus
            pools = "  ".join(f"{c.name} {used[c.name]:>2}/{c.gpus}" for c in runtime.site.clusters)
            say(
                f"[{clock.now():%a %H:%M}] submitted {len(submitted):>2}/{len(jobs)} · "
                f"running {counts.get('running', 0):>2} · paused {counts.get('paused', 0)} · "
                f"waiting {counts.get('pending', 0):>2} · done {counts.get('succeeded', 0):>2}"
                f"  |  {pools}"
            )
            for e in _notable(runtime, submitted, seen_events):
                say(f"    {e}")
        if not queue and active == 0:
            return
        time.sleep(0.1)
    say("(the demo's time is up; jobs still waiting are counted as they are)")


def _notable(runtime: Any, submitted: dict[str, str], seen: set[tuple[str, str, str]]) -> list[str]:
    """Pauses, resumes, watchdog firings and failures since the last line."""
    lines = []
    for job_id, name in submitted.items():
        for e in runtime.store.events(job_id):
            key = (job_id, e.at.isoformat(), e.kind)
            if key in seen:
                continue
            seen.add(key)
            text = e.message
            if e.kind in ("paused", "failed", "expired") or "watchdog" in text or "resumed" in text:
                lines.append(f"{e.at:%H:%M} {name}: {text}")
    return lines[:6]


def _summary(runtime: Any, jobs: list[DemoJob], data_dir: Path) -> dict[str, Any]:
    rows = runtime.store.jobs(team="demo")
    domain_jobs = [runtime.engine.job_of(r) for r in rows]
    attempts = runtime.store.attempts()
    result = settle_demo(runtime.site, domain_jobs, attempts, START, SignalLibrary(data_dir))
    statuses: dict[str, int] = {}
    for r in rows:
        statuses[r.status.value] = statuses.get(r.status.value, 0) + 1
    result["statuses"] = statuses
    result["pauses"] = sum(1 for a in attempts if a.stop_reason == "pause")
    result["attempts"] = len(attempts)
    return result


def _print_summary(s: dict[str, Any]) -> None:
    from rich.table import Table

    console.print(
        f"\n[bold]savings against run-now[/bold] (same jobs, same capacity, actual signals "
        f"{s['period']['start'][:16]} → {s['period']['end'][:16]}; {s['signals']})"
    )
    table = Table(box=None, header_style="bold")
    for col in ("", "energy kWh", "cost USD", "carbon kg", "deadline misses", "completed"):
        table.add_column(col, justify="right")
    for label, key in (("run-now", "run_now"), ("gridshift", "gridshift")):
        m = s[key]
        table.add_row(
            label,
            fmt(m["energy_kwh"], 0),
            fmt(m["cost_usd"], 2),
            fmt(m["carbon_kg"], 1),
            f"{m['deadline_misses']:.0f}",
            f"{m['jobs_completed']:.0f}",
        )
    p = s["savings_pct"]
    table.add_row(
        "saved", f"{p['energy_kwh']:.1f} %", f"{p['cost_usd']:.1f} %", f"{p['carbon_kg']:.1f} %",
        "", "",
    )  # fmt: skip
    console.print(table)
    console.print(
        f"jobs: {', '.join(f'{n} {k}' for k, n in sorted(s['statuses'].items()))}; "
        f"{s['attempts']} attempts, {s['pauses']} checkpoint pauses. gridshift's figures are what "
        "ran (attempt start and end times); run-now is simulated first come, first served."
    )


def demo_duration(text: str) -> float:
    from gridshift.config.units import parse_duration

    return parse_duration(text, field="--duration")
