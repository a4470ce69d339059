"""The planning problem as numpy tables: stage 1 of the planner (candidates and costs).

Nomenclature:
- *step*: one interval ``[t0 + k*step_s, t0 + (k+1)*step_s)`` of the planning grid, k = 0..T-1.
- *work*: what a job must get done, in seconds of running at its requested GPUs uncapped.
- *mode*: how a job runs during a step: a GPU count and a power cap. Its *rate* is work done per
  second of running (elastic speed-up x capped throughput); its *kW* is facility power
  (GPUs x power at the cap x PUE).
- *cost*: the objective per kWh on a cluster at a step (USD, or kg CO2 in carbon mode).

Tables (C clusters, T steps, J jobs):
- ``cost[c, t]``, ``usd_per_kwh[c, t]``, ``kg_per_kwh[c, t]``: objective, price and carbon per kWh
- ``gpus[c]``: GPUs of each cluster (a very large number for unlimited pools)
- ``headroom_kw[c, t]``: site power available for jobs (site limit minus the idle draw of the
  whole pool; ``inf`` where there is no limit)
- per job: release step, deadline step (steps ``[release, deadline)`` are usable), work, the
  allowed clusters, and its modes with their rate and their kW on each cluster.

A forecast value that is missing (NaN) is replaced by the mean of that zone's known values (flat:
energy-blind for those steps), and the job's reason says so; it never blocks a deadline.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

from gridshift.domain import (
    Cluster,
    Forecast,
    InternalError,
    Job,
    Objective,
    ObjectiveMode,
    Priority,
    SignalKind,
)
from gridshift.domain.power import (
    GPU_DEFAULTS,
    NATURAL_DRAW_FRACTION,
    capped_throughput,
    elastic_speedup,
)
from gridshift.domain.timeutil import as_np, require_utc

Floats = npt.NDArray[np.float64]
UNLIMITED_GPUS = 1_000_000_000
NEW, RUNNING, PAUSED = 0, 1, 2  # a job's state at ``now``: not started, running, paused


@dataclass(frozen=True)
class PlannerOptions:
    """Knobs of the planner; the defaults are what ``gridshift plan`` uses."""

    step_s: int = 900
    horizon_s: int = 48 * 3600
    cap_ratios: tuple[float, ...] = (0.8, 0.7)  # caps tried besides uncapped, as cap / natural draw
    # Plan stability: a job moves away from its previous plan only when that saves more than
    # this share of its cost (a switching cost, so small forecast changes do not churn the plan).
    switching_cost_pct: float = 2.0
    time_limit_s: float = 10.0  # exact solver
    mip_rel_gap: float = 0.005  # exact solver
    mip_max_nodes: int | None = None  # exact solver: a deterministic budget (auto sets one)
    full_model_limit: int = 20_000  # exact solver: binaries above which column generation runs
    patterns_per_cluster: int = 24  # exact solver: start times kept per job, cluster and mode
    seed: int = 0


@dataclass(frozen=True)
class RunningJob:
    """A job that is running now: it keeps its cluster; only interruptible ones may pause."""

    job_id: str
    cluster: str
    gpus: int
    done_s: float  # work completed so far, in seconds at the requested GPUs uncapped
    power_cap_w: float | None = None
    paused: bool = False  # interruptible work paused now: it stays there, its next run resumes


@dataclass(frozen=True)
class Mode:
    """One way to run a job: ``gpus`` GPUs at ``cap_ratio`` (None = uncapped)."""

    gpus: int
    cap_ratio: float | None
    rate: float  # work seconds per second of running
    gpu_w: Floats  # power per GPU on each cluster (NaN where this mode is not allowed there)
    kw: Floats  # facility kW on each cluster (NaN where not allowed)
    cap_w: Floats  # the cap in W on each cluster (NaN when uncapped)


@dataclass
class JobTable:
    """One job's candidates."""

    index: int
    job: Job
    release: int  # first usable step
    deadline: int  # steps < deadline are usable
    work_s: float
    allowed: npt.NDArray[np.bool_]  # [C]
    modes: list[Mode]
    interruptible: bool
    overhead_s: float
    running_on: int | None = None  # cluster index when running now (or paused there)
    paused: bool = False  # started before and paused now: its next run is a resume
    previous_start: int | None = None  # step where the previous plan started it
    beyond_horizon: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def overhead_work_s(self) -> float:
        """Work one resume costs: its overhead is run time at the requested GPUs, where one
        second of running is one second of work (the unit work is measured in)."""
        return self.overhead_s

    @property
    def priority(self) -> Priority:
        return self.job.priority

    @property
    def started(self) -> int:
        """``NEW``, ``RUNNING`` or ``PAUSED``: how resumes are counted (``kernels.resumes``)."""
        if self.running_on is None:
            return NEW
        return PAUSED if self.paused else RUNNING

    @functools.cached_property
    def slack_s(self) -> float:
        """The job's slack (computed once: orders and repairs ask for it often)."""
        return self.job.slack_s


@dataclass
class Problem:
    t0: datetime
    step_s: int
    times: npt.NDArray[np.datetime64]
    clusters: list[Cluster]
    cost: Floats
    usd_per_kwh: Floats
    kg_per_kwh: Floats
    carbon_g_per_kwh: Floats
    gpus: npt.NDArray[np.int64]
    headroom_kw: Floats
    idle_kw: Floats
    jobs: list[JobTable]
    objective: Objective
    options: PlannerOptions
    zone_notes: dict[str, str] = field(default_factory=dict)
    cost_prefix: Floats = field(default_factory=lambda: np.zeros((0, 1)))
    # Caches derived from the above (``flat.arrays_of``, ``kernels.cost_order``); not copied.
    arrays: object | None = field(default=None, repr=False, compare=False)
    cost_order: npt.NDArray[np.int64] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.cost_prefix.shape != (self.cost.shape[0], self.cost.shape[1] + 1):
            self.cost_prefix = np.concatenate(
                [np.zeros((self.cost.shape[0], 1)), np.cumsum(self.cost, axis=1)], axis=1
            )

    @property
    def steps(self) -> int:
        return len(self.times)

    @property
    def step_h(self) -> float:
        return self.step_s / 3600.0

    def time_at(self, step: float) -> datetime:
        return self.t0 + timedelta(seconds=step * self.step_s)


def _on_grid(
    forecast: Forecast | None, times: npt.NDArray[np.datetime64], label: str
) -> tuple[Floats, str | None]:
    """The forecast's values at the grid times (held over each forecast step); NaN filled flat."""
    if forecast is None:
        return np.zeros(len(times)), f"no {label} forecast: energy-blind there"
    t_src = forecast.times.astype("datetime64[s]").astype(np.int64)
    t_grid = times.astype(np.int64)
    idx = np.searchsorted(t_src, t_grid, side="right") - 1
    inside = (idx >= 0) & (t_grid < t_src[np.clip(idx, 0, None)] + forecast.step_s)
    values = np.full(len(times), np.nan)
    values[inside] = np.asarray(forecast.values, dtype=np.float64)[idx[inside]]
    missing = ~np.isfinite(values)
    if not missing.any():
        return values, None
    known = values[~missing]
    fill = float(known.mean()) if len(known) else 0.0
    values[missing] = fill
    return values, (
        f"{label} forecast missing for {int(missing.sum())} of {len(values)} steps: "
        "treated as flat there"
    )


def _natural_w(job: Job, cluster: Cluster) -> float:
    if job.watts_per_gpu is not None:
        return min(job.watts_per_gpu, cluster.gpu_power.max_w)
    return NATURAL_DRAW_FRACTION * cluster.gpu_power.max_w


def _min_cap_w(cluster: Cluster) -> float:
    known = GPU_DEFAULTS.get(cluster.gpu_type.upper())
    return known.min_cap_w if known else 0.4 * cluster.gpu_power.max_w


def _gpu_options(job: Job) -> list[int]:
    if job.elastic is None:
        return [job.gpus]
    lo, hi = job.elastic.min_gpus, job.elastic.max_gpus
    options = {job.gpus, lo, hi}
    n = 1
    while n < hi:
        if lo < n < hi:
            options.add(n)
        n *= 2
    # Mode 0 is always the requested GPU count, uncapped: the run-now counterfactual, critical
    # and running work use it.
    return [job.gpus, *sorted(options - {job.gpus})]


@dataclass(frozen=True)
class ClusterArrays:
    """Per-cluster numbers the modes need, as arrays (computed once per problem)."""

    max_w: Floats
    min_cap_w: Floats
    pue: Floats
    capping: npt.NDArray[np.bool_]

    @classmethod
    def of(cls, clusters: Sequence[Cluster]) -> ClusterArrays:
        return cls(
            max_w=np.array([c.gpu_power.max_w for c in clusters]),
            min_cap_w=np.array([_min_cap_w(c) for c in clusters]),
            pue=np.array([c.pue for c in clusters]),
            capping=np.array(
                [bool(c.executor_options.get("power_capping", True)) for c in clusters]
            ),
        )


def build_modes(
    job: Job,
    clusters: Sequence[Cluster],
    options: PlannerOptions,
    arrays: ClusterArrays | None = None,
    first_gpus: int | None = None,
) -> list[Mode]:
    """Every (GPU count, cap) the job may run at, with its rate and power on each cluster."""
    arrays = arrays or ClusterArrays.of(clusters)
    caps: list[float | None] = [None]
    if job.priority is not Priority.CRITICAL:
        caps += list(options.cap_ratios)
    if job.watts_per_gpu is not None:
        natural = np.minimum(job.watts_per_gpu, arrays.max_w)
    else:
        natural = NATURAL_DRAW_FRACTION * arrays.max_w
    modes = []
    counts = _gpu_options(job)
    if first_gpus is not None and first_gpus in counts:
        counts = [first_gpus] + [g for g in counts if g != first_gpus]
    for gpus in counts:
        speed = elastic_speedup(gpus, job.gpus)
        for ratio in caps:
            if ratio is None:
                gpu_w = natural
                cap_w = np.full(len(clusters), np.nan)
                thr = 1.0
            else:
                cap = ratio * natural
                ok = (cap >= arrays.min_cap_w) & arrays.capping
                gpu_w = np.where(ok, np.minimum(cap, natural), np.nan)
                cap_w = np.where(ok, cap, np.nan)
                thr = capped_throughput(ratio)
            kw = gpus * gpu_w * arrays.pue / 1000.0
            for shared in (gpu_w, kw, cap_w):
                shared.flags.writeable = False
            modes.append(Mode(gpus, ratio, speed * thr, gpu_w, kw, cap_w))
    return modes


def cost_tables(
    clusters: Sequence[Cluster],
    forecasts: Mapping[tuple[str, SignalKind], Forecast],
    objective: Objective,
    times: npt.NDArray[np.datetime64],
) -> tuple[Floats, Floats, Floats, dict[str, str]]:
    """Per cluster and step: USD per kWh, carbon g per kWh and the objective's cost per kWh,
    from the forecasts on ``times``; notes on zones whose forecasts fall short."""
    steps = len(times)
    C = len(clusters)
    usd = np.zeros((C, steps))
    carbon = np.zeros((C, steps))
    zone_notes: dict[str, str] = {}
    for c, cluster in enumerate(clusters):
        wholesale = np.zeros(steps)
        if cluster.tariff.needs_price_signal:
            wholesale, note = _on_grid(
                forecasts.get((cluster.zone, SignalKind.PRICE)), times, f"{cluster.zone} price"
            )
            if note:
                zone_notes[f"{cluster.zone}/price"] = note
        usd[c] = cluster.tariff.price_usd_per_mwh(wholesale) / 1000.0
        carbon[c], note = _on_grid(
            forecasts.get((cluster.zone, SignalKind.CARBON)), times, f"{cluster.zone} carbon"
        )
        if note:
            zone_notes[f"{cluster.zone}/carbon"] = note
    kg = carbon / 1000.0
    if objective.mode is ObjectiveMode.COST:
        cost = usd.copy()
    elif objective.mode is ObjectiveMode.CARBON:
        cost = kg.copy()
    else:
        cost = usd + kg / 1000.0 * objective.carbon_price_usd_per_tonne

    return usd, carbon, cost, zone_notes


def build_problem(
    jobs: Sequence[Job],
    clusters: Sequence[Cluster],
    forecasts: Mapping[tuple[str, SignalKind], Forecast],
    objective: Objective,
    now: datetime,
    options: PlannerOptions,
    running: Mapping[str, RunningJob] | None = None,
    previous_starts: Mapping[str, datetime] | None = None,
) -> Problem:
    """Stage 1: the tables every solver works on."""
    running = running or {}
    previous_starts = previous_starts or {}
    t0 = require_utc(now, "now")
    step_s = options.step_s
    steps = max(1, math.ceil(options.horizon_s / step_s))
    times = as_np(t0) + np.arange(steps, dtype=np.int64) * np.timedelta64(step_s, "s")
    if not clusters:
        raise InternalError("the planner needs at least one cluster")

    C = len(clusters)
    usd, carbon, cost, zone_notes = cost_tables(clusters, forecasts, objective, times)
    kg = carbon / 1000.0

    gpus = np.array([UNLIMITED_GPUS if c.gpus is None else c.gpus for c in clusters])
    idle_kw = np.array([c.idle_kw() for c in clusters])
    headroom = np.vstack([c.power_cap.kw_at(times) for c in clusters]) - idle_kw[:, None]

    names = {c.name: i for i, c in enumerate(clusters)}
    arrays = ClusterArrays.of(clusters)
    zones = np.array([c.zone for c in clusters])
    gpu_types = np.array([c.gpu_type.upper() for c in clusters])
    tables: list[JobTable] = []
    horizon_end = t0 + timedelta(seconds=steps * step_s)
    # Jobs alike in what their modes depend on share one list of modes (read-only arrays), and
    # jobs with the same placement rules share one ``allowed`` row: 10,000 jobs have a few
    # dozen distinct ones.
    mode_lists: dict[tuple[object, ...], list[Mode]] = {}
    allowed_rows: dict[tuple[object, ...], npt.NDArray[np.bool_]] = {}
    for j, job in enumerate(jobs):
        run = running.get(job.id)
        first_gpus = run.gpus if run else None
        elastic = (job.elastic.min_gpus, job.elastic.max_gpus) if job.elastic else None
        mode_key = (
            job.gpus,
            elastic,
            job.priority is Priority.CRITICAL,
            job.watts_per_gpu,
            first_gpus,
        )
        modes = mode_lists.get(mode_key)
        if modes is None:
            modes = build_modes(job, clusters, options, arrays, first_gpus)
            mode_lists[mode_key] = modes
        release_s = max(0.0, (job.release - t0).total_seconds())
        release = math.ceil(release_s / step_s - 1e-9)
        deadline = math.floor((job.deadline - t0).total_seconds() / step_s + 1e-9)
        beyond = deadline > steps
        deadline = min(deadline, steps)
        allowed_key = (job.zones, job.gpu_type)
        allowed = allowed_rows.get(allowed_key)
        if allowed is None:
            allowed = np.isin(zones, job.zones) if job.zones else np.ones(C, dtype=bool)
            if job.gpu_type:
                allowed &= gpu_types == job.gpu_type.upper()
            allowed.flags.writeable = False
            allowed_rows[allowed_key] = allowed
        running_on = None
        work = job.duration_s
        if run is not None:
            running_on = names.get(run.cluster)
            if running_on is None:
                raise InternalError(f"job {job.id} runs on unknown cluster {run.cluster}")
            allowed = np.zeros(C, dtype=bool)
            allowed[running_on] = True
            allowed.flags.writeable = False
            work = max(0.0, job.duration_s - run.done_s)
        table = JobTable(
            index=j,
            job=job,
            release=0 if run is not None else release,
            deadline=deadline,
            work_s=work,
            allowed=allowed,
            modes=modes,
            interruptible=job.interruptible is not None and job.priority is not Priority.CRITICAL,
            overhead_s=job.interruptible.checkpoint_overhead_s if job.interruptible else 0.0,
            running_on=running_on,
            paused=bool(run is not None and run.paused),
            beyond_horizon=beyond,
        )
        if beyond:
            table.notes.append(
                f"its deadline is past the {options.horizon_s / 3600:g} h horizon "
                f"({horizon_end:%Y-%m-%d %H:%M} UTC): planned to finish within it"
            )
        prev = previous_starts.get(job.id)
        if prev is not None:
            table.previous_start = round((require_utc(prev) - t0).total_seconds() / step_s)
        tables.append(table)
    return Problem(
        t0=t0,
        step_s=step_s,
        times=times,
        clusters=list(clusters),
        cost=cost,
        usd_per_kwh=usd,
        kg_per_kwh=kg,
        carbon_g_per_kwh=carbon,
        gpus=gpus,
        headroom_kw=headroom,
        idle_kw=idle_kw,
        jobs=tables,
        objective=objective,
        options=options,
        zone_notes=zone_notes,
    )
