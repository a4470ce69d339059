"""The control plane put together: the store, one executor per cluster, the signal feed, the
engine (in a thread of its own) and what the API's routes ask of them.

``build_runtime`` is the one place that wires components; ``gridshift server`` and
``gridshift demo`` both use it, so the demo runs the production control plane.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gridshift.api.metrics import Metrics
from gridshift.config.site import SiteConfig
from gridshift.domain.status import JobStatus
from gridshift.engine import intake
from gridshift.engine.clock import Clock, SystemClock
from gridshift.engine.feed import SignalFeed
from gridshift.engine.loop import Engine
from gridshift.engine.options import EngineOptions
from gridshift.engine.worker import InlinePlanner, ProcessPlanner
from gridshift.executors.base import Executor, ExecutorError
from gridshift.executors.registry import build_executor
from gridshift.forecasting.feeds import site_feeds
from gridshift.forecasting.service import Forecaster
from gridshift.signals.library import SignalLibrary
from gridshift.store import AttemptRow, JobRow, Store, sqlite_url

log = logging.getLogger("gridshift.server")
SWITCH_INTERVAL_S = 0.001


@dataclass
class Runtime:
    store: Store
    site: SiteConfig
    engine: Engine
    executors: Mapping[str, Executor]
    clock: Clock
    options: EngineOptions
    data_dir: Path
    admin_token: str | None = None
    metrics: Metrics = field(init=False)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _pending: dict[str, tuple[float, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.metrics = Metrics(self.store.count_by_status)

    # -- the engine's thread ---------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self.engine.reconcile()
        try:
            self.engine.run_pass()  # a plan (and forecasts) before the first request
        except Exception:
            log.exception("the first engine pass failed; the loop retries")
        # What is loaded by now lives as long as the server: out of the collector's way.
        gc.collect()
        gc.freeze()
        # The engine's thread hands the interpreter to the API's every millisecond (not 5):
        # a read waits less behind a re-plan's bookkeeping.
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="gridshift-engine", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                report = self.engine.run_pass()
                if report.replanned and self.engine.current is not None:
                    self.metrics.replans.inc()
                    self.metrics.replan_seconds.set(self.engine.current.seconds)
            except Exception:
                log.exception("engine pass failed; the next pass re-reads everything")
            self._stop.wait(self.options.pass_s)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
            self._thread = None

    def close(self) -> None:
        self.stop()
        self.engine.planner.close()
        self.store.close()

    # -- what the routes ask ---------------------------------------------------------------

    def submit(self, body: Any, *, team: str, idempotency_key: str | None) -> intake.Submitted:
        got = intake.submit(
            self.store,
            self.site,
            body,
            team=team,
            now=self.clock.now(),
            tables=self.engine.quote_tables(),
            idempotency_key=idempotency_key,
        )
        if got.created:
            self.engine.poke()
        return got

    def cancel(self, row: JobRow) -> JobRow:
        """A waiting job is cancelled at once; a running one is marked, and the engine stops
        it. Raises ``ConflictError`` on a lost race (the caller re-reads)."""
        if row.status.terminal or row.cancel_requested:
            return row
        now = self.clock.now()
        running = any(a.job_id == row.id for a in self.store.open_attempts())
        if row.status in (JobStatus.PENDING, JobStatus.PAUSED) and not running:
            done = self.store.change(
                row, now, status=JobStatus.CANCELLED, reason="cancelled", cancel_requested=True
            )
        else:
            done = self.store.change(
                row,
                now,
                cancel_requested=True,
                event="cancel requested: the running attempt is being stopped",
            )
        self.engine.poke()
        return done

    def team_quota(self, team: str) -> int | None:
        row = self.store.team(team)
        return row.gpu_quota if row is not None else None

    def queue_full(self, team: str) -> bool:
        """The team's pending jobs at the limit (counted at most once a second per team: a
        bound, so it may overshoot by a second's submissions)."""
        now = time.monotonic()
        cached = self._pending.get(team)
        if cached is None or now - cached[0] > 1.0:
            counts = self.store.count_by_status(team)
            cached = (now, counts.get(JobStatus.PENDING.value, 0))
        else:
            cached = (cached[0], cached[1] + 1)
        self._pending[team] = cached
        return cached[1] >= self.options.team_queue_limit

    def team_of_active(self) -> dict[str, str]:
        return {r.id: r.team for r in self.store.active_rows()}

    def attempt_logs(self, attempt: AttemptRow, tail: int) -> str:
        executor = self.executors.get(attempt.cluster)
        if executor is None:
            return ""
        try:
            return executor.logs(attempt.token, tail)
        except ExecutorError as exc:
            return f"(logs unavailable: {exc})"


def build_runtime(
    site: SiteConfig,
    data_dir: Path,
    *,
    database_url: str | None = None,
    clock: Clock | None = None,
    options: EngineOptions | None = None,
    admin_token: str | None = None,
    planner_process: bool = False,
) -> Runtime:
    """Open the store (integrity check, migrations), build the executors and the engine.
    Raises ``StoreError`` (refuses to start) on a corrupt store, ``ConfigError`` on a cluster
    whose executor cannot run here. ``planner_process``: re-plan in a worker process (the
    server's choice: the API never waits for a re-plan), else in the engine's thread."""
    clock = clock or SystemClock()
    options = options or EngineOptions()
    data_dir.mkdir(parents=True, exist_ok=True)
    executors = {
        c.name: build_executor(c, data_dir / "executors", options.grace_s) for c in site.clusters
    }
    url = database_url or os.environ.get("GRIDSHIFT_DATABASE_URL") or sqlite_url(data_dir)
    store = Store.open(url)
    library = SignalLibrary(data_dir)
    forecaster = Forecaster(site_feeds(site, library), now=clock.now)
    feed = SignalFeed(
        site, forecaster, options.signal_refresh_s, options.horizon_s, options.forecast_model
    )
    planner = ProcessPlanner() if planner_process else InlinePlanner()
    engine = Engine(store, site, executors, clock, feed, data_dir / "checkpoints", options, planner)
    return Runtime(
        store=store,
        site=site,
        engine=engine,
        executors=executors,
        clock=clock,
        options=options,
        data_dir=data_dir,
        admin_token=admin_token,
    )
