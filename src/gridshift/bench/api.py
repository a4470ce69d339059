"""API benchmarks (``gridshift bench api``): the control plane on loopback, SQLite in a temporary
data directory.

1. *Submissions*: ``clients`` threads POST job specs as fast as the server answers (keep-alive
   HTTP, an Idempotency-Key each); latency percentiles and submissions per second. The engine
   runs meanwhile (every submission is an event that re-plans); the jobs start a day later, so
   none is dispatched during the run.
2. *Reads during a re-plan*: ``pending`` jobs of the planner's benchmark instance (20 clusters,
   48 h at 15 min) are in the store; while the engine re-plans all of them, ``readers`` threads
   GET jobs one by one and in pages; read latency percentiles during the re-plan, and its length.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from gridshift.api.runtime import Runtime, build_runtime
from gridshift.api.serve import ServerThread
from gridshift.bench.instances import build_instance
from gridshift.config.site import SignalSource, SiteConfig
from gridshift.domain import Job, SignalKind
from gridshift.domain.timeutil import to_iso
from gridshift.engine.clock import ScaledClock
from gridshift.engine.loop import PassReport
from gridshift.engine.options import EngineOptions
from gridshift.store import NewJob

ADMIN = "bench-admin"


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q)) if values else float("nan")


def _latency(values_s: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in values_s]
    return {
        "n": len(ms),
        "p50_ms": round(_pct(ms, 50), 2),
        "p95_ms": round(_pct(ms, 95), 2),
        "p99_ms": round(_pct(ms, 99), 2),
        "max_ms": round(max(ms), 2) if ms else float("nan"),
        "mean_ms": round(statistics.fmean(ms), 2) if ms else float("nan"),
    }


def _site(clusters: list[Any]) -> SiteConfig:
    zones = sorted({c.zone for c in clusters})
    return SiteConfig(
        clusters=tuple(dataclasses.replace(c, executor="local") for c in clusters),
        signals=tuple(
            SignalSource(zone, kind, "bundled")
            for zone in zones
            for kind in (SignalKind.CARBON, SignalKind.PRICE)
        ),
        objective=build_instance(1, 1, 3600, 900).objective,
        zones=tuple(zones),
    )


def _spec(job: Job) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": job.name,
        "command": ["true"],
        "resources": {"gpus": job.gpus},
        "duration": f"{round(job.duration_s)}s",
        "deadline": to_iso(job.deadline),
        "priority": job.priority.value,
    }
    if job.earliest_start is not None:
        spec["earliest_start"] = to_iso(job.earliest_start)
    if job.interruptible is not None:
        spec["interruptible"] = {
            "checkpoint_overhead": f"{round(job.interruptible.checkpoint_overhead_s)}s"
        }
    if job.elastic is not None:
        spec["elastic"] = {"min_gpus": job.elastic.min_gpus, "max_gpus": job.elastic.max_gpus}
    if job.zones:
        spec["placement"] = {"zones": list(job.zones)}
    return spec


def _token(url: str) -> str:
    h = {"Authorization": f"Bearer {ADMIN}"}
    httpx.post(f"{url}/api/v1/teams", json={"name": "bench"}, headers=h).raise_for_status()
    r = httpx.post(f"{url}/api/v1/tokens", json={"team": "bench", "role": "member"}, headers=h)
    r.raise_for_status()
    return str(r.json()["token"])


def bench_submissions(submissions: int, clients: int, root: Path) -> dict[str, Any]:
    instance = build_instance(submissions, 20, 48 * 3600, 900, seed=0)
    site = _site(instance.clusters)
    # The clock a day before the instance: every job is planned, none is due yet, so the run
    # measures the API and the re-plans, not the processes the engine would start.
    clock = ScaledClock.starting(instance.now - timedelta(days=1), 1.0)
    runtime = build_runtime(
        site,
        root / "submit",
        clock=clock,
        options=EngineOptions(),
        admin_token=ADMIN,
        planner_process=True,
    )
    specs = [_spec(j) for j in instance.jobs]
    try:
        with ServerThread(runtime) as url:
            token = _token(url)
            got = _load({"do": "submit", "url": url, "token": token, "specs": specs,
                         "clients": clients})  # fmt: skip
    finally:
        runtime.close()
    return {
        "submissions": submissions,
        "clients": clients,
        "seconds": round(got["seconds"], 3),
        "per_second": round(submissions / got["seconds"], 1),
        "latency": _latency(got["latencies"]),
        "failures": len(got["failures"]),
        "replans": runtime.engine.replans,
    }


def _load(task: dict[str, Any]) -> dict[str, Any]:
    """Run a load generator in a process of its own (``bench.load``)."""
    proc = subprocess.run(
        [sys.executable, "-m", "gridshift.bench.load"],
        input=json.dumps(task) + "\n",
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"the load generator failed: {proc.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def bench_reads_during_replan(pending: int, readers: int, root: Path) -> dict[str, Any]:
    instance = build_instance(pending, 20, 48 * 3600, 900, seed=0)
    site = _site(instance.clusters)
    clock = ScaledClock.starting(instance.now, 1.0)
    runtime = build_runtime(
        site, root / "replan", clock=clock, admin_token=ADMIN, planner_process=True
    )
    runtime.store.create_team("bench", None, instance.now)
    for job in instance.jobs:  # straight into the store: this measures re-planning, not intake
        runtime.store.submit(
            NewJob(
                team="bench",
                name=job.name,
                spec=_spec(job),
                submitted_at=instance.now,
                release_at=job.release,
                deadline=job.deadline,
                priority=job.priority.value,
                gpus=job.gpus,
                duration_s=job.duration_s,
            )
        )
    ids = [r.id for r in runtime.store.jobs(team="bench")]
    engine = runtime.engine
    engine.feed.refresh(clock.now())
    engine.options = dataclasses.replace(engine.options)
    cold_started = time.perf_counter()
    engine._replan(clock.now(), PassReport(clock.now()))  # the first plan: tables and caches
    cold = time.perf_counter() - cold_started
    window: list[float] = []
    result: dict[str, Any] = {}
    try:
        with ServerThread(runtime) as url:
            token = _token_for_store(runtime)
            task = {"do": "read", "url": url, "token": token, "ids": ids, "readers": readers,
                    "seconds": 0.0}  # fmt: skip

            def replan_soon() -> None:
                time.sleep(2.0)  # the readers are up and warm
                window.append(time.time())
                engine._replan(clock.now(), PassReport(clock.now()))
                window.append(time.time())

            timer = threading.Thread(target=replan_soon)
            timer.start()
            task["seconds"] = 2.0 + 12.0  # long enough for the re-plan; cut below
            loader = threading.Thread(target=lambda: result.update(_load(task)))
            loader.start()
            timer.join()
            loader.join()
    finally:
        runtime.close()
    during = [dt for began, dt in result["samples"] if window[0] <= began <= window[1]]
    plan = engine.current.plan if engine.current else None
    return {
        "pending": pending,
        "clusters": 20,
        "readers": readers,
        "cold_replan_s": round(cold, 3),
        "replan_s": round(window[1] - window[0], 3),
        "planned": len(plan.jobs) if plan else 0,
        "reads_during_replan": _latency(during),
    }


def _token_for_store(runtime: Runtime) -> str:
    _, secret = runtime.store.create_token("bench", "member", datetime.now(UTC))
    return secret


def bench_api(
    submissions: int = 2000, clients: int = 4, pending: int = 10_000, readers: int = 2
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="gridshift-bench-") as tmp:
        root = Path(tmp)
        return {
            "store": "sqlite",
            "submit": bench_submissions(submissions, clients, root),
            "replan": bench_reads_during_replan(pending, readers, root),
        }
