"""Both solvers against a brute-force optimum on small random instances.

The reference here shares no code with the planner: it prices every option of every job from the
raw arrays (energy = GPUs x natural draw x PUE x 1 h, cost per kWh = tariff price / 1000 + carbon
/ 10^6 x carbon price), enumerates all of them, and searches every combination that respects GPU
capacity and the site power limit per step (a depth-first search that prunes on cost only, so it
is exact). Instances are built so that no part-steps occur: 1-hour steps, durations in whole
hours, no power caps (``cap_ratios=()``), checkpoint overhead 0 or exactly one step, and elastic
jobs only within one 8-GPU node (linear speed-up) at GPU counts giving whole durations.

Options per job:
- contiguous: cluster x GPU count x start, ``[start, start + length)`` inside ``[release,
  deadline)``;
- interruptible: cluster x set of steps inside its window (at most 10 steps) whose count minus
  one overhead step per resume equals the duration (with positive costs any larger set is dearer
  and never needed).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from gridshift.domain import (
    Cluster,
    Elastic,
    Forecast,
    GpuPowerProfile,
    Interruptible,
    Job,
    Objective,
    ObjectiveMode,
    Plan,
    SignalKind,
    SitePowerCap,
    Tariff,
    TariffKind,
)
from gridshift.domain.timeutil import as_np
from gridshift.planner import PlannerOptions, plan

NOW = datetime(2026, 3, 2, tzinfo=UTC)
HOUR = 3600
ZONES = ("DE", "FR")
EXACT_TOL = 1e-3  # the exact solver is within 0.1 % of the optimum
# Fast/optimum on seeds 0-199: with ejection chains, re-insertion and price-directed passes,
# worst 1.274, mean 1.0034, optimal on 94 %, every job planned where a plan holds them all.
# (The greedy with only a window polish measured worst 1.59, mean 1.021 there;
# seeds 0-1999 worst 2.96; 3,000 hypothesis examples worst 2.32, 99th percentile 1.50.)
FAST_WORST_SEEDED = 1.35  # measured 1.2741 (before ejection chains: 1.5919)
FAST_MEAN_SEEDED = 1.01  # measured 1.0034 (before the local search: 1.0204)
FAST_WORST_ANY = 4.0
MAX_NODES = 400_000  # brute-force search budget per instance; larger instances are skipped


# ----------------------------------------------------------------------------------- instances


@dataclass(frozen=True)
class ClusterSpec:
    gpus: int
    pue: float
    max_w: float
    idle_w: float
    adder: float  # wholesale adder, USD/MWh
    fixed: float | None  # fixed tariff USD/MWh (None: wholesale)
    site_kw: float | None


@dataclass(frozen=True)
class JobSpec:
    gpus: int
    steps: int  # duration in steps at ``gpus``
    release: int
    deadline: int
    overhead: int | None  # None: not interruptible; else overhead in steps (0 or 1)
    elastic_min: int | None  # elastic range elastic_min..8 around gpus=4
    zone: str | None  # allow-list of one zone, or any
    watts: float | None


@dataclass(frozen=True)
class Instance:
    T: int
    clusters: tuple[ClusterSpec, ClusterSpec]
    price: tuple[tuple[float, ...], ...]  # per zone
    carbon: tuple[tuple[float, ...], ...]
    mode: ObjectiveMode
    carbon_price: float
    jobs: tuple[JobSpec, ...]


Draw = Callable[[int, int], int]  # inclusive integer draw


def make_instance(draw: Draw) -> Instance:
    """An instance from a stream of integer draws (hypothesis or a seeded numpy generator)."""
    T = draw(12, 24)
    clusters = []
    for _ in ZONES:
        gpus = (8, 16)[draw(0, 1)]
        fixed = float(draw(40, 160)) if draw(0, 3) == 0 else None
        idle = float(draw(0, 80))
        pue = (1.0, 1.1, 1.25, 1.5)[draw(0, 3)]
        site = None
        if draw(0, 2) == 0:  # a site limit: the idle draw plus room for 4..16 GPUs at full load
            site = gpus * idle * pue / 1000 + draw(4, 16) * 700 * pue / 1000
        clusters.append(
            ClusterSpec(
                gpus=gpus,
                pue=pue,
                max_w=(400.0, 700.0)[draw(0, 1)],
                idle_w=idle,
                adder=float((0, 25)[draw(0, 1)]),
                fixed=fixed,
                site_kw=site,
            )
        )
    price = tuple(tuple(float(draw(5, 200)) for _ in range(T)) for _ in ZONES)
    carbon = tuple(tuple(float(draw(20, 600)) for _ in range(T)) for _ in ZONES)
    mode = (
        ObjectiveMode.COMBINED,
        ObjectiveMode.COMBINED,
        ObjectiveMode.COST,
        ObjectiveMode.CARBON,
    )[draw(0, 3)]
    carbon_price = float((0, 50, 100, 400)[draw(0, 3)])
    jobs = []
    for _ in range(draw(1, 5)):
        kind = draw(0, 5)
        zone = ZONES[draw(0, 1)] if draw(0, 4) == 0 else None
        watts = float(draw(250, 650)) if draw(0, 3) == 0 else None
        if kind <= 1:  # interruptible, window of at most 10 steps
            overhead = draw(0, 1)
            # Work of one step with one step of overhead hits a known bug of the exact solver
            # (see test_planner.py::test_interruptible_job_whose_overhead_equals_its_work).
            steps = draw(1 + overhead, 5)
            release = draw(0, T - steps)
            width = draw(steps, min(10, T - release))
            jobs.append(
                JobSpec(
                    (1, 2, 4, 8)[draw(0, 3)],
                    steps,
                    release,
                    release + width,
                    overhead,
                    None,
                    zone,
                    watts,
                )
            )
        elif kind == 2:  # elastic, contiguous: 4 GPUs for an even number of steps
            steps = 2 * draw(1, 3)
            release = draw(0, T - steps // 2)
            deadline = draw(release + steps // 2, T)
            jobs.append(JobSpec(4, steps, release, deadline, None, (2, 4)[draw(0, 1)], zone, watts))
        else:  # contiguous
            steps = draw(1, 8)
            release = draw(0, T - steps)
            deadline = draw(release + steps, T)
            jobs.append(
                JobSpec((1, 2, 4, 8)[draw(0, 3)], steps, release, deadline, None, None, zone, watts)
            )
    return Instance(T, (clusters[0], clusters[1]), price, carbon, mode, carbon_price, tuple(jobs))


@st.composite
def instances(draw: st.DrawFn) -> Instance:
    return make_instance(lambda lo, hi: draw(st.integers(lo, hi)))


def seeded_instance(seed: int) -> Instance:
    rng = np.random.default_rng(seed)
    return make_instance(lambda lo, hi: int(rng.integers(lo, hi + 1)))


# ----------------------------------------------------------------------------------- to the planner


def at(step: float) -> datetime:
    return NOW + timedelta(hours=step)


def to_planner(
    inst: Instance,
) -> tuple[list[Job], list[Cluster], dict[tuple[str, SignalKind], Forecast], PlannerOptions]:
    clusters = [
        Cluster(
            name=f"c{i}",
            zone=ZONES[i],
            executor="fake",
            gpus=spec.gpus,
            gpu_type="H100",
            gpu_power=GpuPowerProfile(spec.idle_w, spec.max_w),
            pue=spec.pue,
            power_cap=SitePowerCap(default_kw=spec.site_kw),
            tariff=Tariff(TariffKind.WHOLESALE, adder_usd_per_mwh=spec.adder)
            if spec.fixed is None
            else Tariff(TariffKind.FIXED, fixed_usd_per_mwh=spec.fixed),
        )
        for i, spec in enumerate(inst.clusters)
    ]
    times = as_np(NOW) + np.arange(inst.T, dtype=np.int64) * np.timedelta64(HOUR, "s")
    forecasts = {}
    for z, zone in enumerate(ZONES):
        forecasts[(zone, SignalKind.PRICE)] = Forecast(
            zone, SignalKind.PRICE, "usd_per_mwh", NOW, times, np.array(inst.price[z]), HOUR, "t"
        )
        forecasts[(zone, SignalKind.CARBON)] = Forecast(
            zone, SignalKind.CARBON, "g_per_kwh", NOW, times, np.array(inst.carbon[z]), HOUR, "t"
        )
    jobs = [
        Job(
            id=f"j{i}",
            name=f"j{i}",
            gpus=spec.gpus,
            duration_s=spec.steps * HOUR,
            submitted_at=NOW,
            earliest_start=at(spec.release),
            deadline=at(spec.deadline),
            interruptible=None if spec.overhead is None else Interruptible(spec.overhead * HOUR),
            elastic=None if spec.elastic_min is None else Elastic(spec.elastic_min, 8),
            zones=() if spec.zone is None else (spec.zone,),
            watts_per_gpu=spec.watts,
        )
        for i, spec in enumerate(inst.jobs)
    ]
    options = PlannerOptions(
        step_s=HOUR, horizon_s=inst.T * HOUR, cap_ratios=(), mip_rel_gap=1e-6, time_limit_s=20
    )
    return jobs, clusters, forecasts, options


# ----------------------------------------------------------------------------------- reference


def unit_cost(inst: Instance) -> np.ndarray:
    """Objective per kWh, [cluster, step]: USD, or kg CO2 in carbon mode."""
    out = np.zeros((2, inst.T))
    for c, spec in enumerate(inst.clusters):
        price = np.array(inst.price[c]) + spec.adder if spec.fixed is None else spec.fixed
        usd = np.broadcast_to(np.asarray(price, dtype=float) / 1000.0, (inst.T,))
        kg = np.array(inst.carbon[c]) / 1000.0
        if inst.mode is ObjectiveMode.COST:
            out[c] = usd
        elif inst.mode is ObjectiveMode.CARBON:
            out[c] = kg
        else:
            out[c] = usd + kg / 1000.0 * inst.carbon_price
    return out


def job_kw(inst: Instance, spec: JobSpec, c: int, gpus: int) -> float:
    cl = inst.clusters[c]
    natural = 0.85 * cl.max_w if spec.watts is None else min(spec.watts, cl.max_w)
    return gpus * natural * cl.pue / 1000.0


def headroom(inst: Instance, c: int) -> float:
    cl = inst.clusters[c]
    if cl.site_kw is None:
        return math.inf
    return cl.site_kw - cl.gpus * cl.idle_w * cl.pue / 1000.0


def gpu_modes(spec: JobSpec) -> list[tuple[int, int]]:
    """(GPU count, steps) the job may run at: within one node the speed-up is linear."""
    if spec.elastic_min is None:
        return [(spec.gpus, spec.steps)]
    counts = sorted({spec.elastic_min, spec.gpus, 8})
    return [(g, spec.steps * spec.gpus // g) for g in counts]


def count_runs(steps: tuple[int, ...]) -> int:
    return 1 + sum(1 for a, b in itertools.pairwise(steps) if b != a + 1)


@dataclass(frozen=True)
class Option:
    cost: float
    cluster: int
    steps: tuple[int, ...]
    gpus: int
    kw: float


def options_of(inst: Instance, spec: JobSpec, cost: np.ndarray) -> list[Option]:
    out = []
    for c in range(2):
        if spec.zone is not None and ZONES[c] != spec.zone:
            continue
        for gpus, length in gpu_modes(spec):
            kw = job_kw(inst, spec, c, gpus)
            if gpus > inst.clusters[c].gpus or kw > headroom(inst, c) + 1e-9:
                continue
            if spec.overhead is None:
                for start in range(spec.release, spec.deadline - length + 1):
                    steps = tuple(range(start, start + length))
                    out.append(Option(kw * float(cost[c, list(steps)].sum()), c, steps, gpus, kw))
                continue
            window = range(spec.release, spec.deadline)
            for size in range(length, len(window) + 1):
                for steps in itertools.combinations(window, size):
                    if size - spec.overhead * (count_runs(steps) - 1) != length:
                        continue
                    out.append(Option(kw * float(cost[c, list(steps)].sum()), c, steps, gpus, kw))
    out.sort(key=lambda o: o.cost)
    return out


@dataclass
class Reference:
    optimum: float | None  # None: no combination plans every job
    complete: bool  # False: the search budget ran out (the instance is skipped)
    choice: tuple[Option, ...] = ()  # the optimal option of each job, in job order


def brute_force(inst: Instance) -> Reference:
    cost = unit_cost(inst)
    per_job = [options_of(inst, spec, cost) for spec in inst.jobs]
    if any(not opts for opts in per_job):
        return Reference(None, True)
    order = sorted(range(len(per_job)), key=lambda j: len(per_job[j]))
    per_job = [per_job[j] for j in order]
    rest = [sum(opts[0].cost for opts in per_job[k:]) for k in range(len(per_job) + 1)]
    gpus_left = np.array([[c.gpus] * inst.T for c in inst.clusters], dtype=float)
    kw_left = np.array([[headroom(inst, c)] * inst.T for c in range(2)])
    best = math.inf
    nodes = 0
    taken: list[Option] = []
    choice: tuple[Option, ...] = ()

    def search(k: int, spent: float) -> bool:
        nonlocal best, nodes, choice
        if k == len(per_job):
            if spent < best:
                best = spent
                choice = tuple(taken[order.index(j)] for j in range(len(order)))
            return True
        for opt in per_job[k]:
            nodes += 1
            if nodes > MAX_NODES:
                return False
            if spent + opt.cost + rest[k + 1] >= best * (1 - 1e-12):
                break  # options are sorted by cost: none further can do better
            steps = list(opt.steps)
            if np.any(gpus_left[opt.cluster, steps] < opt.gpus) or np.any(
                kw_left[opt.cluster, steps] < opt.kw - 1e-9
            ):
                continue
            gpus_left[opt.cluster, steps] -= opt.gpus
            kw_left[opt.cluster, steps] -= opt.kw
            taken.append(opt)
            ok = search(k + 1, spent + opt.cost)
            taken.pop()
            gpus_left[opt.cluster, steps] += opt.gpus
            kw_left[opt.cluster, steps] += opt.kw
            if not ok:
                return False
        return True

    complete = search(0, 0.0)
    return Reference(None if math.isinf(best) else best, complete, choice)


# ----------------------------------------------------------------------------------- plan checks


def plan_cost(inst: Instance, result: Plan) -> float:
    """The plan's objective recomputed from its segments, after checking every rule on them."""
    cost = unit_cost(inst)
    specs = {f"j{i}": spec for i, spec in enumerate(inst.jobs)}
    gpus_used = np.zeros((2, inst.T))
    kw_used = np.zeros((2, inst.T))
    total = 0.0
    for jp in result.jobs:
        spec = specs[jp.job_id]
        c = int(jp.cluster[1:])
        assert spec.zone is None or ZONES[c] == spec.zone
        steps: list[int] = []
        work = 0.0
        for seg in jp.segments:
            lo = (seg.start - NOW) / timedelta(hours=1)
            hi = (seg.end - NOW) / timedelta(hours=1)
            # Whole steps only on these instances.
            assert lo == int(lo), seg
            assert hi == int(hi), seg
            assert seg.power_cap_w is None
            assert seg.gpus in {g for g, _ in gpu_modes(spec)}
            kw = job_kw(inst, spec, c, seg.gpus)
            for t in range(int(lo), int(hi)):
                steps.append(t)
                gpus_used[c, t] += seg.gpus
                kw_used[c, t] += kw
                total += kw * cost[c, t]
                work += seg.gpus / spec.gpus
        assert steps == sorted(set(steps))
        assert spec.release <= steps[0]
        assert steps[-1] < spec.deadline
        resumes = count_runs(tuple(steps)) - 1
        if spec.overhead is None:
            assert resumes == 0
        else:
            assert work - spec.overhead * resumes >= spec.steps - 1e-9
        assert work >= spec.steps - 1e-9
    for c in range(2):
        assert np.all(gpus_used[c] <= inst.clusters[c].gpus)
        assert np.all(kw_used[c] <= headroom(inst, c) + 1e-6)
    assert total == pytest.approx(result.objective_value, rel=1e-9, abs=1e-12)
    return total


def solve(inst: Instance, solver: str) -> Plan:
    jobs, clusters, forecasts, options = to_planner(inst)
    objective = Objective(inst.mode, inst.carbon_price)
    return plan(jobs, clusters, forecasts, objective, NOW, solver=solver, options=options)


def reference_of(inst: Instance) -> Reference:
    ref = brute_force(inst)
    assume(ref.complete)
    return ref


# ----------------------------------------------------------------------------------- properties

PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Seeded instances that show the bugs below (found by the seeded measurement at the end).
WARM_START_REGRESSION = seeded_instance(53)  # exact returns the fast plan: 1.36 x the optimum
SHORT_WORK_REGRESSION = seeded_instance(43)  # exact "plans" a job with half its work
# Fast left a job out here though a plan with every job exists (fixed by the passes directed
# by capacity prices, which run when jobs found no room).
FAST_MISSES = seeded_instance(94)


@PROPERTY
@example(WARM_START_REGRESSION)
@given(instances())
def test_exact_reaches_the_brute_force_optimum(inst: Instance) -> None:
    ref = reference_of(inst)
    assume(ref.optimum is not None)
    result = solve(inst, "exact")
    assert not result.infeasible, result.infeasible
    value = plan_cost(inst, result)
    # Every plan is a combination the brute force enumerated: never below the optimum.
    assert value >= ref.optimum * (1 - 1e-9) - 1e-12
    assert value <= ref.optimum * (1 + EXACT_TOL) + 1e-12
    assert result.lower_bound is not None
    assert result.lower_bound <= ref.optimum * (1 + 1e-9) + 1e-12


@PROPERTY
@given(instances())
def test_exact_plans_every_job_validly_and_no_worse_than_fast(inst: Instance) -> None:
    """What holds even with the MIP-start bug: when every job fits, the exact solver plans every
    job, validly, never above the fast plan, and never below the brute-force optimum."""
    ref = reference_of(inst)
    assume(ref.optimum is not None)
    exact = solve(inst, "exact")
    assert not exact.infeasible, exact.infeasible
    value = plan_cost(inst, exact)
    assert value >= ref.optimum * (1 - 1e-9) - 1e-12
    fast = solve(inst, "fast")
    if not fast.infeasible:
        assert value <= plan_cost(inst, fast) * (1 + 1e-9) + 1e-12


@PROPERTY
@example(SHORT_WORK_REGRESSION)
@given(instances())
def test_exact_plans_are_valid_also_under_scarcity(inst: Instance) -> None:
    ref = reference_of(inst)
    result = solve(inst, "exact")
    plan_cost(inst, result)
    if ref.optimum is None:
        assert result.infeasible


@pytest.mark.xfail(
    reason="the fast solver is a heuristic: on rare instances where a plan with every job "
    "exists it still leaves one out (none of the 196 seeded ones since the price-directed "
    "passes; hypothesis finds some)",
    strict=False,
)
@PROPERTY
@example(FAST_MISSES)
@given(instances())
def test_fast_plans_every_job_when_the_brute_force_can(inst: Instance) -> None:
    ref = reference_of(inst)
    assume(ref.optimum is not None)
    result = solve(inst, "fast")
    assert not result.infeasible, result.infeasible


@PROPERTY
@given(instances())
def test_fast_plans_are_valid_and_within_the_measured_ratio(inst: Instance) -> None:
    ref = reference_of(inst)
    result = solve(inst, "fast")
    value = plan_cost(inst, result)
    if ref.optimum is None:
        assert result.infeasible  # no plan holds every job: the fast one cannot either
        return
    assert result.lower_bound is not None
    assert result.lower_bound <= ref.optimum * (1 + 1e-9) + 1e-12
    if not result.infeasible:
        assert value >= ref.optimum * (1 - 1e-9) - 1e-12
        assert value <= ref.optimum * FAST_WORST_ANY + 1e-12


def test_bug_examples_are_what_they_claim() -> None:
    """The seeded bug examples above: all jobs fit (53, 94), or they do not (43)."""
    assert brute_force(WARM_START_REGRESSION).optimum is not None
    assert brute_force(FAST_MISSES).optimum is not None
    assert brute_force(SHORT_WORK_REGRESSION).optimum is None
    assert brute_force(SHORT_WORK_REGRESSION).complete


# ----------------------------------------------------------------------------------- measurement

SEEDS = range(200)


@pytest.fixture(scope="module")
def measured() -> dict[str, list[float]]:
    """solver/optimum over the seeded instances where a plan with every job exists."""
    out: dict[str, list[float]] = {
        "fast": [],
        "exact": [],
        "fast_missed": [],
        "exact_missed": [],
        "skipped": [],
    }
    for seed in SEEDS:
        inst = seeded_instance(seed)
        ref = brute_force(inst)
        if not ref.complete:
            out["skipped"].append(seed)
            continue
        if ref.optimum is None:
            continue
        for solver in ("fast", "exact"):
            result = solve(inst, solver)
            value = plan_cost(inst, result)
            if result.infeasible:
                out[f"{solver}_missed"].append(seed)
                continue
            out[solver].append(value / ref.optimum)
    fast, exact = np.array(out["fast"]), np.array(out["exact"])
    print(
        f"\nbrute force over {len(SEEDS)} seeded instances, {len(exact) + len(out['exact_missed'])}"
        f" with a plan holding every job ({len(out['skipped'])} skipped for size):\n"
        f"  exact/optimum: worst {exact.max():.4f}, mean {exact.mean():.5f}, "
        f"above optimum + 0.1 % on {int(np.sum(exact > 1 + EXACT_TOL))}; "
        f"jobs left out on {out['exact_missed']}\n"
        f"  fast/optimum:  worst {fast.max():.4f}, mean {fast.mean():.4f}, median "
        f"{np.median(fast):.4f}, optimal on {np.mean(fast <= 1 + 1e-9):.0%}; "
        f"jobs left out on {out['fast_missed']}"
    )
    return out


def test_fast_ratio_over_the_seeded_instances(measured: dict[str, list[float]]) -> None:
    fast = np.array(measured["fast"])
    assert len(fast) >= 150
    assert fast.min() >= 1 - 1e-9
    assert fast.max() <= FAST_WORST_SEEDED
    assert fast.mean() <= FAST_MEAN_SEEDED
    # Before the price-directed passes: 2 of 196 (94, 195); now none.
    assert not measured["fast_missed"]


def test_exact_ratio_over_the_seeded_instances(measured: dict[str, list[float]]) -> None:
    exact = np.array(measured["exact"])
    assert not measured["exact_missed"]
    assert exact.min() >= 1 - 1e-9
    assert exact.max() <= 1 + EXACT_TOL


# ----------------------------------------------------------------------------------- the reference


def test_reference_on_a_hand_instance() -> None:
    """Two 8-GPU jobs, one 8-GPU cluster usable, prices with one cheap 2-step window."""
    T = 12
    price = [100.0] * T
    price[3:5] = [10.0, 10.0]
    cheap = ClusterSpec(8, 1.0, 700.0, 0.0, 0.0, None, None)
    inst = Instance(
        T,
        (cheap, ClusterSpec(8, 1.0, 700.0, 0.0, 0.0, None, None)),
        (tuple(price), tuple([500.0] * T)),
        (tuple([0.0] * T), tuple([0.0] * T)),
        ObjectiveMode.COST,
        0.0,
        (
            JobSpec(8, 2, 0, 12, None, None, "DE", None),
            JobSpec(8, 2, 0, 12, 0, None, "DE", None),
        ),
    )
    ref = brute_force(inst)
    kw = 8 * 0.595
    # One job takes the cheap window (2 x 10), the other the two cheapest other hours (2 x 100).
    assert ref.optimum == pytest.approx(kw * (20 + 200) / 1000)
    for solver in ("fast", "exact"):
        result = solve(inst, solver)
        assert plan_cost(inst, result) == pytest.approx(ref.optimum)


def test_reference_counts_overhead_steps() -> None:
    """Overhead of one step: cheap hours 0, 2, 4 cannot hold 2 h of work in three runs."""
    T = 12
    price = [100.0] * T
    price[0] = price[2] = price[4] = 1.0
    spec = ClusterSpec(8, 1.0, 700.0, 0.0, 0.0, None, None)
    inst = Instance(
        T,
        (spec, spec),
        (tuple(price), tuple(price)),
        (tuple([0.0] * T), tuple([0.0] * T)),
        ObjectiveMode.COST,
        0.0,
        (JobSpec(8, 2, 0, 6, 1, None, "DE", None),),
    )
    opts = options_of(inst, inst.jobs[0], unit_cost(inst))
    assert all(len(o.steps) - (count_runs(o.steps) - 1) == 2 for o in opts)
    kw = 8 * 0.595
    # Best: 0-1 (1 + 100) or a run 2 steps long elsewhere; three isolated cheap hours net 1 h.
    assert opts[0].cost == pytest.approx(kw * 101 / 1000)
    assert brute_force(inst).optimum == pytest.approx(kw * 101 / 1000)
