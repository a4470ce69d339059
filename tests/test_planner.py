"""Tests of ``gridshift.planner.plan``: every lever and constraint, checked on the plan it returns.

Each scenario is small and synthetic: hourly (or quarter-hourly) price and carbon arrays aligned to
the planning grid, with an obvious cheap or clean window, so the right answer is known by hand.
Most tests run for both solvers. ``check_plan`` re-derives, from the segments alone, every hard
rule (window, capacity, site power, zones, GPU type, work done) with its own arithmetic.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from gridshift.domain import (
    Cluster,
    Elastic,
    Forecast,
    GpuPowerProfile,
    Interruptible,
    Job,
    JobPlan,
    Objective,
    ObjectiveMode,
    Plan,
    PowerCapWindow,
    Priority,
    Segment,
    SignalKind,
    SitePowerCap,
    Tariff,
    TariffKind,
)
from gridshift.domain.power import capped_throughput, elastic_speedup
from gridshift.domain.timeutil import as_np
from gridshift.planner import PlannerOptions, RunningJob, plan

NOW = datetime(2026, 1, 5, tzinfo=UTC)
HOUR = 3600
SOLVERS = ["fast", "exact"]
UNITS = {SignalKind.PRICE: "usd_per_mwh", SignalKind.CARBON: "g_per_kwh"}


@pytest.fixture(params=SOLVERS)
def solver(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# ----------------------------------------------------------------------------------- builders


def at(hours: float) -> datetime:
    return NOW + timedelta(hours=hours)


def options(steps: int, step_s: int = HOUR, **kw: object) -> PlannerOptions:
    return PlannerOptions(step_s=step_s, horizon_s=steps * step_s, **kw)  # type: ignore[arg-type]


def forecast(zone: str, kind: SignalKind, values: object, step_s: int = HOUR) -> Forecast:
    vals = np.asarray(values, dtype=np.float64)
    times = as_np(NOW) + np.arange(len(vals), dtype=np.int64) * np.timedelta64(step_s, "s")
    return Forecast(zone, kind, UNITS[kind], NOW, times, vals, step_s, "test")


def signals(
    zones: dict[str, tuple[object, object]], step_s: int = HOUR
) -> dict[tuple[str, SignalKind], Forecast]:
    """``{zone: (price, carbon)}`` -> forecasts keyed by (zone, kind)."""
    out = {}
    for zone, (price, carbon) in zones.items():
        out[(zone, SignalKind.PRICE)] = forecast(zone, SignalKind.PRICE, price, step_s)
        out[(zone, SignalKind.CARBON)] = forecast(zone, SignalKind.CARBON, carbon, step_s)
    return out


def cluster(
    name: str = "a",
    zone: str = "DE",
    gpus: int | None = 8,
    *,
    gpu_type: str = "H100",
    idle_w: float = 0.0,
    max_w: float = 700.0,
    pue: float = 1.0,
    power_cap: SitePowerCap | None = None,
    tariff: Tariff | None = None,
) -> Cluster:
    return Cluster(
        name=name,
        zone=zone,
        executor="fake",
        gpus=gpus,
        gpu_type=gpu_type,
        gpu_power=GpuPowerProfile(idle_w, max_w),
        pue=pue,
        power_cap=power_cap or SitePowerCap(),
        tariff=tariff or Tariff(TariffKind.WHOLESALE),
    )


def job(
    job_id: str = "j",
    gpus: int = 8,
    hours: float = 4.0,
    deadline: float = 24.0,
    **kw: object,
) -> Job:
    """A job submitted at ``NOW`` needing ``hours`` at ``gpus`` GPUs, due ``deadline`` h later."""
    submitted = kw.pop("submitted", NOW)
    return Job(
        id=job_id,
        name=job_id,
        gpus=gpus,
        duration_s=hours * HOUR,
        submitted_at=submitted,  # type: ignore[arg-type]
        deadline=at(deadline),
        **kw,  # type: ignore[arg-type]
    )


def flat(steps: int, value: float) -> np.ndarray:
    return np.full(steps, float(value))


def with_window(steps: int, lo: int, hi: int, cheap: float = 10.0, dear: float = 100.0):
    """``dear`` everywhere except ``cheap`` over steps ``[lo, hi)``."""
    values = flat(steps, dear)
    values[lo:hi] = cheap
    return values


# ----------------------------------------------------------------------------------- checks


def step_of(when: datetime, step_s: int = HOUR) -> float:
    return (when - NOW).total_seconds() / step_s


def natural_w(j: Job, c: Cluster) -> float:
    if j.watts_per_gpu is not None:
        return min(j.watts_per_gpu, c.gpu_power.max_w)
    return 0.85 * c.gpu_power.max_w


def seg_kw(j: Job, c: Cluster, gpus: int, cap_w: float | None) -> float:
    watts = natural_w(j, c) if cap_w is None else min(cap_w, natural_w(j, c))
    return gpus * watts * c.pue / 1000.0


def touched(start: datetime, end: datetime, step_s: int) -> range:
    lo = math.floor(step_of(start, step_s) + 1e-9)
    hi = math.ceil(step_of(end, step_s) - 1e-9)
    return range(lo, hi)


def check_plan(
    result: Plan,
    jobs: list[Job],
    clusters: list[Cluster],
    opts: PlannerOptions,
    running: dict[str, RunningJob] | None = None,
    now: datetime = NOW,
) -> None:
    """Every hard rule, from the segments alone."""
    running = running or {}
    by_id = {j.id: j for j in jobs}
    by_name = {c.name: c for c in clusters}
    steps = opts.horizon_s // opts.step_s
    gpus_used = {c.name: np.zeros(steps) for c in clusters}
    kw_used = {c.name: np.zeros(steps) for c in clusters}
    planned = {jp.job_id for jp in result.jobs}
    assert planned.isdisjoint({i.job_id for i in result.infeasible})
    assert planned | {i.job_id for i in result.infeasible} == set(by_id)
    for jp in result.jobs:
        j, c = by_id[jp.job_id], by_name[jp.cluster]
        assert jp.segments, jp
        release = now if jp.job_id in running else max(j.release, now)
        assert jp.segments[0].start >= release
        assert jp.segments[-1].end <= j.deadline
        if jp.job_id in running:
            assert jp.cluster == running[jp.job_id].cluster
        if j.zones:
            assert c.zone in j.zones
        if j.gpu_type:
            assert c.gpu_type == j.gpu_type
        work = 0.0
        for a, b in zip(jp.segments, jp.segments[1:], strict=False):
            assert a.end <= b.start
        for seg in jp.segments:
            assert seg.start < seg.end
            if j.elastic is None:
                assert seg.gpus == j.gpus
            else:
                assert j.elastic.min_gpus <= seg.gpus <= j.elastic.max_gpus
            thr = 1.0
            if seg.power_cap_w is not None:
                thr = capped_throughput(min(seg.power_cap_w / natural_w(j, c), 1.1))
            speed = elastic_speedup(seg.gpus, j.gpus) * thr
            work += (seg.end - seg.start).total_seconds() * speed
            for t in touched(seg.start, seg.end, opts.step_s):
                gpus_used[c.name][t] += seg.gpus
                kw_used[c.name][t] += seg_kw(j, c, seg.gpus, seg.power_cap_w)
        # Every resume (a gap between segments, or a pause of a running job) costs its overhead.
        gaps = sum(1 for a, b in zip(jp.segments, jp.segments[1:], strict=False) if a.end < b.start)
        if jp.job_id in running and jp.segments[0].start > now:
            gaps += 1
        overhead = j.interruptible.checkpoint_overhead_s if j.interruptible else 0.0
        if j.interruptible is None or j.priority is Priority.CRITICAL:
            assert gaps == 0, jp.segments
        done = running[jp.job_id].done_s if jp.job_id in running else 0.0
        assert work - gaps * overhead >= j.duration_s - done - 1e-3 * max(1.0, j.duration_s)
    times = as_np(now) + np.arange(steps, dtype=np.int64) * np.timedelta64(opts.step_s, "s")
    for c in clusters:
        if c.gpus is not None:
            assert gpus_used[c.name].max(initial=0) <= c.gpus, (c.name, gpus_used[c.name])
        limit = c.power_cap.kw_at(times)
        total = kw_used[c.name] + c.idle_kw()
        assert np.all(total <= limit + 1e-6), (c.name, total, limit)


def run(
    jobs: list[Job],
    clusters: list[Cluster],
    fc: dict[tuple[str, SignalKind], Forecast],
    opts: PlannerOptions,
    solver: str,
    objective: Objective | None = None,
    running: dict[str, RunningJob] | None = None,
    previous: Plan | None = None,
) -> Plan:
    """``plan()`` at ``NOW``, then ``check_plan`` on the result."""
    result = plan(
        jobs,
        clusters,
        fc,
        objective or Objective(),
        NOW,
        solver=solver,
        options=opts,
        running=running,
        previous=previous,
    )
    check_plan(result, jobs, clusters, opts, running=running)
    return result


def only(result: Plan, job_id: str = "j") -> JobPlan:
    assert not result.infeasible, result.infeasible
    (jp,) = [jp for jp in result.jobs if jp.job_id == job_id]
    return jp


def active_steps(jp: JobPlan, step_s: int = HOUR) -> list[int]:
    out: list[int] = []
    for seg in jp.segments:
        out.extend(touched(seg.start, seg.end, step_s))
    return out


# ----------------------------------------------------------------------------------- levers


def test_job_is_deferred_into_the_cheap_clean_window(solver: str) -> None:
    T = 24
    price = with_window(T, 12, 16, cheap=20.0, dear=120.0)
    carbon = with_window(T, 12, 16, cheap=50.0, dear=400.0)
    result = run(
        [job(hours=4, deadline=24)],
        [cluster()],
        signals({"DE": (price, carbon)}),
        options(T),
        solver,
    )
    jp = only(result)
    assert active_steps(jp) == [12, 13, 14, 15]
    assert jp.segments[0].start == at(12)
    assert jp.outcome.cost_usd < jp.run_now.cost_usd
    assert jp.outcome.carbon_kg < jp.run_now.carbon_kg
    assert "deferred 12.0 h" in jp.reason


def test_deadline_before_the_cheap_window_wins_over_price(solver: str) -> None:
    T = 24
    price = with_window(T, 12, 16)
    j = job(hours=4, deadline=10, earliest_start=at(2))
    jp = only(run([j], [cluster()], signals({"DE": (price, flat(T, 300))}), options(T), solver))
    assert jp.segments[0].start >= at(2)
    assert jp.segments[-1].end <= at(10)


def random_mix_cases() -> list[object]:
    return [
        pytest.param(solver, seed, id=f"{solver}-{seed}")
        for solver in SOLVERS
        for seed in range(12)
    ]


@pytest.mark.parametrize(("solver_", "seed"), random_mix_cases())
def test_random_mixes_respect_every_hard_rule(solver_: str, seed: int) -> None:
    """Deadlines, releases, capacity, site power, zones and GPU types on random job mixes."""
    rng = np.random.default_rng(seed)
    T = 24
    clusters = [
        cluster("a", "DE", 16, idle_w=60, pue=1.2, power_cap=SitePowerCap(default_kw=14.0)),
        cluster(
            "b",
            "FR",
            8,
            gpu_type="A100",
            max_w=400,
            idle_w=50,
            pue=1.1,
            power_cap=SitePowerCap(windows=(PowerCapWindow(at(6), at(14), 3.0),)),
        ),
    ]
    fc = signals(
        {
            "DE": (rng.uniform(20, 200, T), rng.uniform(50, 500, T)),
            "FR": (rng.uniform(20, 200, T), rng.uniform(20, 100, T)),
        }
    )
    jobs = []
    for i in range(6):
        release = int(rng.integers(0, 8))
        hours = float(rng.integers(1, 6)) + float(rng.choice([0, 0.25, 0.6]))
        deadline = release + hours + float(rng.integers(1, 12))
        gpus = int(rng.choice([2, 4, 8]))
        elastic = rng.random() < 0.25
        jobs.append(
            job(
                f"j{i}",
                gpus=gpus,
                hours=hours,
                deadline=min(deadline, T),
                earliest_start=at(release),
                elastic=Elastic(1, 2 * gpus) if elastic else None,
                watts_per_gpu=float(rng.integers(250, 650)) if rng.random() < 0.3 else None,
                # Elastic and interruptible together: see the elastic overhead bugs below.
                interruptible=Interruptible(float(rng.choice([0, 900, 3600])))
                if not elastic and rng.random() < 0.5
                else None,
                zones=("DE",) if rng.random() < 0.2 else (),
                gpu_type="A100" if rng.random() < 0.2 else None,
                priority=[Priority.LOW, Priority.NORMAL, Priority.HIGH][int(rng.integers(3))],
            )
        )
    result = run(jobs, clusters, fc, options(T), solver_)
    assert len(result.jobs) >= 1


def test_two_full_cluster_jobs_never_overlap(solver: str) -> None:
    T = 24
    price = with_window(T, 10, 14)
    jobs = [job("x", hours=4), job("y", hours=4)]
    fc = signals({"DE": (price, flat(T, 300))})
    result = run(jobs, [cluster(gpus=8)], fc, options(T, cap_ratios=()), solver)
    assert not result.infeasible
    x, y = (set(active_steps(jp)) for jp in result.jobs)
    assert len(x) == len(y) == 4
    assert not x & y
    # One of them gets the cheap window; the other sits next to it.
    assert {10, 11, 12, 13} in (x, y)


def test_site_power_default_limit_serialises_jobs(solver: str) -> None:
    """16 GPUs but the site only powers one 8-GPU job at a time (plus the idle draw)."""
    T = 24
    c = cluster(gpus=16, idle_w=70, pue=1.2, power_cap=SitePowerCap(default_kw=8.0))
    one_job_kw = 8 * 595 * 1.2 / 1000  # 5.712
    assert one_job_kw + c.idle_kw() <= 8.0 < 2 * one_job_kw + c.idle_kw()
    price = with_window(T, 8, 12)
    jobs = [job("x", hours=4), job("y", hours=4)]
    result = run(
        jobs, [c], signals({"DE": (price, flat(T, 300))}), options(T, cap_ratios=()), solver
    )
    assert not result.infeasible
    x, y = (set(active_steps(jp)) for jp in result.jobs)
    assert not x & y


def test_site_power_window_keeps_the_job_out_of_a_demand_response_event(solver: str) -> None:
    T = 24
    event = PowerCapWindow(at(8), at(14), kw=2.0)  # below one job's draw
    c = cluster(gpus=8, idle_w=70, pue=1.2, power_cap=SitePowerCap(default_kw=50, windows=(event,)))
    price = with_window(T, 8, 14)  # cheapest exactly during the event
    result = run([job(hours=4)], [c], signals({"DE": (price, flat(T, 300))}), options(T), solver)
    jp = only(result)
    assert not set(active_steps(jp)) & set(range(8, 14))


def test_power_cap_lets_more_jobs_share_a_tight_site_limit(solver: str) -> None:
    """The site fits one uncapped 8-GPU job, or two at the 0.7 cap: both run in the cheap hours."""
    T = 24
    natural = 595.0
    capped_kw = 8 * 0.7 * natural / 1000
    c = cluster(gpus=16, power_cap=SitePowerCap(default_kw=2 * capped_kw + 0.01))
    price = with_window(T, 6, 18, cheap=10.0, dear=500.0)
    jobs = [job("x", hours=4, deadline=24), job("y", hours=4, deadline=24)]
    result = run(jobs, [c], signals({"DE": (price, flat(T, 0))}), options(T), solver)
    assert not result.infeasible
    for jp in result.jobs:
        assert set(active_steps(jp)) <= set(range(6, 18))


def test_allowed_zones_are_respected(solver: str) -> None:
    T = 12
    fc = signals({"DE": (flat(T, 10), flat(T, 10)), "FR": (flat(T, 300), flat(T, 500))})
    clusters = [cluster("de", "DE"), cluster("fr", "FR")]
    result = run([job(hours=2, deadline=12, zones=("FR",))], clusters, fc, options(T), solver)
    assert only(result).cluster == "fr"
    free = run([job(hours=2, deadline=12)], clusters, fc, options(T), solver)
    assert only(free).cluster == "de"


def test_gpu_type_is_respected(solver: str) -> None:
    T = 12
    fc = signals({"DE": (flat(T, 10), flat(T, 10)), "FR": (flat(T, 300), flat(T, 500))})
    clusters = [cluster("h", "DE", gpu_type="H100"), cluster("a", "FR", gpu_type="A100")]
    result = run([job(hours=2, deadline=12, gpu_type="A100")], clusters, fc, options(T), solver)
    assert only(result).cluster == "a"


def test_critical_job_starts_now_uncapped_in_one_segment(solver: str) -> None:
    T = 24
    price = with_window(T, 12, 20, cheap=5.0, dear=500.0)
    j = job(hours=6, deadline=24, priority=Priority.CRITICAL, interruptible=Interruptible(0.0))
    c = cluster(gpus=16)
    jp = only(run([j], [c], signals({"DE": (price, flat(T, 300))}), options(T), solver))
    assert jp.segments == (Segment(NOW, at(6), 8, None),)
    assert "starts at its release" in jp.reason
    assert jp.outcome == jp.run_now


def test_critical_elastic_job_runs_at_its_requested_gpus(solver: str) -> None:
    T = 24
    price = with_window(T, 12, 20, cheap=5.0, dear=500.0)
    j = job(hours=6, deadline=24, priority=Priority.CRITICAL, elastic=Elastic(4, 16))
    c = cluster(gpus=16)
    jp = only(run([j], [c], signals({"DE": (price, flat(T, 300))}), options(T), solver))
    assert jp.segments == (Segment(NOW, at(6), 8, None),)


def test_critical_job_is_planned_before_others_take_its_place(solver: str) -> None:
    T = 12
    price = with_window(T, 0, 4, cheap=1.0, dear=100.0)
    jobs = [job("crit", hours=4, deadline=12, priority=Priority.CRITICAL), job("n", hours=4)]
    jobs[1] = replace(jobs[1], deadline=at(12))
    fc = signals({"DE": (price, flat(T, 300))})
    result = run(jobs, [cluster()], fc, options(T, cap_ratios=()), solver)
    crit = only(result, "crit")
    assert crit.segments[0].start == NOW
    assert set(active_steps(only(result, "n"))) == {4, 5, 6, 7}


def test_non_interruptible_job_runs_in_one_segment(solver: str) -> None:
    T = 24
    price = np.where(np.arange(T) % 2 == 0, 10.0, 100.0)
    jp = only(
        run(
            [job(hours=6)],
            [cluster()],
            signals({"DE": (price, flat(T, 300))}),
            options(T, cap_ratios=()),
            solver,
        )
    )
    assert len(jp.segments) == 1
    assert jp.segments[0].end - jp.segments[0].start == timedelta(hours=6)


def test_interruptible_job_without_overhead_runs_only_in_cheap_steps(solver: str) -> None:
    T = 24
    price = np.where(np.arange(T) % 2 == 0, 10.0, 100.0)
    j = job(hours=6, interruptible=Interruptible(0.0))
    jp = only(
        run(
            [j],
            [cluster()],
            signals({"DE": (price, flat(T, 0))}),
            options(T, cap_ratios=()),
            solver,
        )
    )
    steps = active_steps(jp)
    assert len(jp.segments) == 6
    assert all(t % 2 == 0 for t in steps)
    assert jp.outcome.energy_kwh == pytest.approx(8 * 0.595 * 6)
    assert "in 6 runs (5 resume(s), +0 min checkpoint overhead)" in jp.reason


def test_large_checkpoint_overhead_means_fewer_segments(solver: str) -> None:
    """Alternating cheap/dear hours: free resumes use only cheap hours; from 1 h of overhead per
    resume a single contiguous run (3 cheap + 3 dear hours) is cheapest."""
    T = 24
    price = np.where(np.arange(T) % 2 == 0, 10.0, 100.0)
    fc = signals({"DE": (price, flat(T, 0))})
    counts = {}
    for overhead in (0.0, HOUR, 3 * HOUR):
        j = job(hours=6, interruptible=Interruptible(overhead))
        jp = only(run([j], [cluster()], fc, options(T, cap_ratios=()), solver))
        counts[overhead] = len(jp.segments)
    assert counts == {0.0: 6, HOUR: 1, 3 * HOUR: 1}


def test_each_resume_adds_its_checkpoint_overhead(solver: str) -> None:
    """30 min per resume on hourly steps: every isolated cheap hour still nets 30 min of work, so
    11 cheap hours (6 h of work + 10 resumes x 30 min) beat any run through dear hours."""
    T = 24
    price = np.where(np.arange(T) % 2 == 0, 10.0, 100.0)
    fc = signals({"DE": (price, flat(T, 0))})
    j = job(hours=6, interruptible=Interruptible(1800.0))
    jp = only(run([j], [cluster()], fc, options(T, cap_ratios=()), solver))
    steps = active_steps(jp)
    # Every even hour costs the same: any 11 of them is optimal (the fast solver takes the
    # earliest; the exact one may break the tie otherwise within its MIP gap).
    assert len(steps) == 11
    assert all(t % 2 == 0 for t in steps)
    if solver == "fast":
        assert steps == list(range(0, 22, 2))
    assert "in 11 runs (10 resume(s), +5.0 h checkpoint overhead)" in jp.reason
    assert jp.outcome.energy_kwh == pytest.approx(8 * 0.595 * 11)


@pytest.mark.parametrize(
    "solver_",
    SOLVERS,
)
@pytest.mark.parametrize("overhead_h", [1.0, 2.0])
def test_interruptible_job_whose_overhead_equals_its_work(solver_: str, overhead_h: float) -> None:
    T = 12
    fc = signals({"DE": (with_window(T, 5, 6), flat(T, 300))})
    j = job(hours=1, deadline=12, interruptible=Interruptible(overhead_h * HOUR))
    jp = only(run([j], [cluster()], fc, options(T, cap_ratios=()), solver_))
    assert jp.segments == (Segment(at(5), at(6), 8, None),)


@pytest.mark.parametrize("solver_", SOLVERS)
def test_interruptible_job_without_room_is_infeasible_not_cut_short(solver_: str) -> None:
    """'a' holds the cluster until 04:00; 'b' needs 4 h before 06:00 and can get only 2."""
    T = 12
    fc = signals({"DE": (flat(T, 50), flat(T, 300))})
    jobs = [
        job("a", hours=4, deadline=4),
        job("b", hours=4, deadline=6, interruptible=Interruptible(0.0)),
    ]
    result = run(jobs, [cluster()], fc, options(T, cap_ratios=()), solver_)
    assert [jp.job_id for jp in result.jobs] == ["a"]
    assert "no set of steps with 8 free GPUs for 4.0 h" in infeasible_reason(result, "b")


def test_interruptible_plan_covers_its_work_after_overheads(solver: str) -> None:
    """A 2 h job with 1 h per resume: five isolated cheap hours would net only 1 h of work."""
    T = 12
    price = np.array([11, 43, 17, 69, 35, 73, 95, 21, 88, 15, 44, 49], dtype=float)
    j = job(hours=2, deadline=12, interruptible=Interruptible(3600.0))
    # check_plan (inside run) asserts: run time - resumes x overhead >= duration.
    jp = only(
        run(
            [j],
            [cluster()],
            signals({"DE": (price, flat(T, 0))}),
            options(T, cap_ratios=()),
            solver,
        )
    )
    assert jp.segments == (Segment(NOW, at(2), 8, None),)  # 11 + 43 beats any split


def test_lone_elastic_interruptible_job_is_planned(solver: str) -> None:
    T = 12
    j = job(gpus=8, hours=4, deadline=12, interruptible=Interruptible(0.0), elastic=Elastic(2, 8))
    fc = signals({"DE": (flat(T, 50.0), flat(T, 0))})
    jp = only(run([j], [cluster()], fc, options(T, cap_ratios=()), solver))
    assert jp.outcome.energy_kwh == pytest.approx(8 * 0.595 * 4)


def test_elastic_resume_costs_its_overhead_in_run_time(solver: str) -> None:
    """Cheap hours 0-1 and 6-8: 2 h, pause, then 2 h of work + 1 h of overhead, at 8 GPUs."""
    T = 12
    price = flat(T, 1000.0)
    price[[0, 1, 6, 7, 8]] = 10.0
    j = job(
        gpus=8, hours=4, deadline=12, interruptible=Interruptible(3600.0), elastic=Elastic(2, 8)
    )
    fc = signals({"DE": (price, flat(T, 0))})
    jp = only(run([j], [cluster()], fc, options(T, cap_ratios=()), solver))
    assert jp.segments == (Segment(NOW, at(2), 8, None), Segment(at(6), at(9), 8, None))
    assert "in 2 runs (1 resume(s), +1.0 h checkpoint overhead)" in jp.reason


def test_site_limit_holds_when_an_elastic_job_could_mix_modes(solver: str) -> None:
    """Site headroom 2.56 kW from 06:00 to 14:00: 4 GPUs (1.5 kW) fit, 8 GPUs (3.0 kW) do not."""
    T = 24
    event = PowerCapWindow(at(6), at(14), 3.0)
    c = cluster(gpus=8, max_w=400, idle_w=50, pue=1.1, power_cap=SitePowerCap(windows=(event,)))
    price = flat(T, 100.0)
    price[9] = 5.0
    j = job(gpus=4, hours=4, deadline=24, interruptible=Interruptible(0.0), elastic=Elastic(4, 8))
    fc = signals({"DE": (price, flat(T, 50))})
    run([j], [c], fc, options(T, cap_ratios=()), solver)  # check_plan checks the site limit


def test_interruptible_job_skips_a_dear_gap_when_it_pays(solver: str) -> None:
    """Two cheap blocks of 3 h split by a very dear spell: run 3 + 3 with one resume."""
    T = 24
    price = flat(T, 100.0)
    price[4:7] = 10.0
    price[7:12] = 1000.0
    price[12:16] = 10.0
    j = job(hours=6, interruptible=Interruptible(900.0))
    jp = only(
        run(
            [j],
            [cluster()],
            signals({"DE": (price, flat(T, 0))}),
            options(T, cap_ratios=()),
            solver,
        )
    )
    assert len(jp.segments) == 2
    # Both runs stay inside the cheap blocks: 6 h of work + 15 min of overhead = 6.25 cheap
    # hours at 10, however they are split between the blocks (a tie the solvers may break
    # either way; fast takes the first block whole).
    first, second = jp.segments
    assert at(4) <= first.start < first.end <= at(7)
    assert at(12) <= second.start < second.end <= at(16)
    hours = sum((seg.end - seg.start).total_seconds() for seg in jp.segments) / HOUR
    assert hours == pytest.approx(6.25)
    if solver == "fast":
        assert (first.start, first.end, second.start, second.end) == (
            at(4),
            at(7),
            at(12),
            at(15.25),
        )


def test_elastic_job_scales_out_for_a_tight_deadline(solver: str) -> None:
    """10 h at 8 GPUs, due in 6 h: only 16 GPUs (speed-up 1.83) make it."""
    T = 24
    j = job(gpus=8, hours=10, deadline=6, elastic=Elastic(4, 16))
    fc = signals({"DE": (flat(T, 50), flat(T, 300))})
    jp = only(run([j], [cluster(gpus=16)], fc, options(T, cap_ratios=()), solver))
    assert max(s.gpus for s in jp.segments) == 16
    assert jp.segments[-1].end <= at(6)
    assert "elastic" in jp.reason


def test_elastic_job_with_a_loose_deadline_stays_at_or_below_its_request(solver: str) -> None:
    T = 24
    j = job(gpus=8, hours=10, deadline=24, elastic=Elastic(4, 16))
    fc = signals({"DE": (flat(T, 50), flat(T, 300))})
    jp = only(run([j], [cluster(gpus=16)], fc, options(T, cap_ratios=()), solver))
    assert max(s.gpus for s in jp.segments) <= 8


def test_power_cap_is_chosen_when_there_is_time_and_energy_is_dear(solver: str) -> None:
    T = 24
    fc = signals({"DE": (flat(T, 300), flat(T, 500))})
    jp = only(run([job(hours=4, deadline=24)], [cluster()], fc, options(T), solver))
    # 0.7 x natural draw (0.85 x 700 W) is the most energy-efficient cap offered.
    assert [s.power_cap_w for s in jp.segments] == [pytest.approx(0.7 * 595, abs=0.1)]
    uncapped_kwh = 8 * 0.595 * 4
    assert jp.outcome.energy_kwh < uncapped_kwh
    assert jp.outcome.energy_kwh == pytest.approx(uncapped_kwh * 0.7 / capped_throughput(0.7))
    assert "power-capped to 416 W" in jp.reason


def test_no_power_cap_without_slack(solver: str) -> None:
    T = 24
    fc = signals({"DE": (flat(T, 300), flat(T, 500))})
    jp = only(run([job(hours=4, deadline=4)], [cluster()], fc, options(T), solver))
    assert all(s.power_cap_w is None for s in jp.segments)
    assert jp.segments[0].start == NOW
    assert jp.segments[-1].end == at(4)


def test_watts_per_gpu_sets_the_energy(solver: str) -> None:
    T = 12
    fc = signals({"DE": (flat(T, 100), flat(T, 200))})
    j = job(hours=3, deadline=12, watts_per_gpu=500.0)
    jp = only(run([j], [cluster(pue=1.3)], fc, options(T, cap_ratios=()), solver))
    kwh = 8 * 500 * 1.3 * 3 / 1000
    assert jp.outcome.energy_kwh == pytest.approx(kwh)
    assert jp.outcome.cost_usd == pytest.approx(kwh * 100 / 1000)
    assert jp.outcome.carbon_kg == pytest.approx(kwh * 200 / 1000)


# ----------------------------------------------------------------------------------- objective


@pytest.mark.parametrize(
    ("mode", "expected"), [(ObjectiveMode.CARBON, 16), (ObjectiveMode.COST, 4)]
)
def test_objective_mode_picks_the_signal(solver: str, mode: ObjectiveMode, expected: int) -> None:
    """Price is low when carbon is high and the other way round."""
    T = 24
    price = with_window(T, 4, 8, cheap=10.0, dear=100.0)
    carbon = with_window(T, 16, 20, cheap=50.0, dear=600.0)
    price[16:20] = 200.0
    carbon[4:8] = 800.0
    jp = only(
        run(
            [job(hours=4)],
            [cluster()],
            signals({"DE": (price, carbon)}),
            options(T, cap_ratios=()),
            solver,
            objective=Objective(mode),
        )
    )
    assert jp.segments[0].start == at(expected)


def test_combined_objective_trades_cost_against_carbon_at_its_price(solver: str) -> None:
    """Window A saves $0.05/kWh of price, B saves 0.4 kg/kWh: B wins above $125/t only."""
    T = 24
    price = flat(T, 100.0)
    carbon = flat(T, 500.0)
    price[2:6] = 50.0
    carbon[14:18] = 100.0
    fc = signals({"DE": (price, carbon)})
    opts = options(T, cap_ratios=())
    for carbon_price, expected in ((50.0, 2), (200.0, 14)):
        objective = Objective(ObjectiveMode.COMBINED, carbon_price)
        jp = only(run([job(hours=4)], [cluster()], fc, opts, solver, objective=objective))
        assert jp.segments[0].start == at(expected)


def test_carbon_objective_value_is_in_kilograms(solver: str) -> None:
    T = 12
    fc = signals({"DE": (flat(T, 80), flat(T, 250))})
    result = run(
        [job(hours=2, deadline=12)],
        [cluster()],
        fc,
        options(T, cap_ratios=()),
        solver,
        objective=Objective(ObjectiveMode.CARBON),
    )
    jp = only(result)
    assert result.objective_value == pytest.approx(jp.outcome.carbon_kg)
    assert jp.outcome.carbon_kg == pytest.approx(8 * 0.595 * 2 * 0.25)


def test_fixed_tariff_cost_is_energy_times_the_fixed_price(solver: str) -> None:
    T = 12
    price = with_window(T, 6, 8, cheap=5.0, dear=300.0)
    fc = signals({"DE": (price, flat(T, 200))})
    c = cluster(pue=1.25, tariff=Tariff(TariffKind.FIXED, fixed_usd_per_mwh=120.0))
    jp = only(
        run(
            [job(hours=2, deadline=12)],
            [c],
            fc,
            options(T, cap_ratios=()),
            solver,
            objective=Objective(ObjectiveMode.COST),
        )
    )
    energy = 8 * 595 * 1.25 * 2 / 1000
    assert jp.outcome.energy_kwh == pytest.approx(energy)
    assert jp.outcome.cost_usd == pytest.approx(energy * 120.0 / 1000)
    assert jp.run_now.cost_usd == pytest.approx(energy * 120.0 / 1000)


def test_wholesale_tariff_cost_is_energy_times_price_plus_adder(solver: str) -> None:
    T = 12
    price = with_window(T, 6, 8, cheap=5.0, dear=300.0)
    fc = signals({"DE": (price, flat(T, 200))})
    c = cluster(pue=1.25, tariff=Tariff(TariffKind.WHOLESALE, adder_usd_per_mwh=40.0))
    jp = only(
        run(
            [job(hours=2, deadline=12)],
            [c],
            fc,
            options(T, cap_ratios=()),
            solver,
            objective=Objective(ObjectiveMode.COST),
        )
    )
    energy = 8 * 595 * 1.25 * 2 / 1000
    assert jp.segments[0].start == at(6)
    assert jp.outcome.cost_usd == pytest.approx(energy * (5.0 + 40.0) / 1000)
    assert jp.run_now.cost_usd == pytest.approx(energy * (300.0 + 40.0) / 1000)


def test_fixed_tariff_cluster_wins_against_dear_wholesale(solver: str) -> None:
    T = 12
    fc = signals({"DE": (flat(T, 400), flat(T, 300)), "FR": (flat(T, 10), flat(T, 300))})
    clusters = [cluster("w", "DE"), cluster("f", "FR", tariff=Tariff(TariffKind.FIXED, 0, 90.0))]
    jp = only(
        run(
            [job(hours=2, deadline=12)],
            clusters,
            fc,
            options(T, cap_ratios=()),
            solver,
            objective=Objective(ObjectiveMode.COST),
        )
    )
    assert jp.cluster == "f"


# ----------------------------------------------------------------------------------- infeasible


def infeasible_reason(result: Plan, job_id: str = "j") -> str:
    reasons = {i.job_id: i.reason for i in result.infeasible}
    assert job_id in reasons, result
    assert job_id not in {jp.job_id for jp in result.jobs}
    return reasons[job_id]


def with_companion(j: Job) -> list[Job]:
    """The job under test plus a small one that fits anywhere (see the empty-exact-model bug)."""
    return [j, job("ok", gpus=1, hours=1, deadline=12)]


def test_infeasible_job_leaves_the_others_planned(solver: str) -> None:
    T = 12
    fc = signals({"DE": (flat(T, 50), flat(T, 300))})
    result = run(
        with_companion(job(gpus=64, hours=2, deadline=12)), [cluster()], fc, options(T), solver
    )
    assert [jp.job_id for jp in result.jobs] == ["ok"]
    assert [i.job_id for i in result.infeasible] == ["j"]


def test_plan_where_no_job_is_plannable(solver: str) -> None:
    T = 12
    fc = signals({"DE": (flat(T, 50), flat(T, 300))})
    result = plan(
        [job(gpus=64)], [cluster()], fc, Objective(), NOW, solver=solver, options=options(T)
    )
    assert result.jobs == ()
    assert infeasible_reason(result) == "needs 64 GPUs; the largest allowed cluster (a) has 8"
    assert result.objective_value == 0.0


def test_infeasible_too_many_gpus(solver: str) -> None:
    T = 12
    fc = signals({"DE": (flat(T, 50), flat(T, 300))})
    clusters = [cluster("small", gpus=8), cluster("big", gpus=32)]
    result = run(
        with_companion(job(gpus=64, hours=2, deadline=12)), clusters, fc, options(T), solver
    )
    assert infeasible_reason(result) == "needs 64 GPUs; the largest allowed cluster (big) has 32"


def test_infeasible_earliest_finish_after_deadline(solver: str) -> None:
    """Submitted 4 h ago with 3 h to go; it needs 6 h from now (it has not started)."""
    T = 12
    fc = signals({"DE": (flat(T, 50), flat(T, 300))})
    j = job(hours=6, deadline=3, submitted=at(-4))
    reason = infeasible_reason(run(with_companion(j), [cluster()], fc, options(T), solver))
    assert "earliest possible finish 2026-01-05 06:00 UTC" in reason
    assert "after the deadline 2026-01-05 03:00 UTC" in reason


def test_infeasible_zone_not_served(solver: str) -> None:
    T = 12
    fc = signals({"DE": (flat(T, 50), flat(T, 300))})
    j = job(hours=2, deadline=12, zones=("FR", "GB"))
    result = run(with_companion(j), [cluster()], fc, options(T), solver)
    reason = infeasible_reason(result)
    assert "allowed zones FR, GB" in reason
    assert "clusters serve DE" in reason


def test_infeasible_gpu_type_not_available(solver: str) -> None:
    T = 12
    fc = signals({"DE": (flat(T, 50), flat(T, 300))})
    j = job(hours=2, deadline=12, gpu_type="B200")
    result = run(with_companion(j), [cluster()], fc, options(T), solver)
    assert infeasible_reason(result) == "needs B200 GPUs; clusters have H100"


def test_infeasible_site_limit_too_small(solver: str) -> None:
    T = 12
    fc = signals({"DE": (flat(T, 50), flat(T, 300))})
    c = cluster(gpus=8, idle_w=100, pue=1.5, power_cap=SitePowerCap(default_kw=4.0))
    left = 4.0 - 8 * 100 * 1.5 / 1000  # 2.8 kW above the idle draw
    # Uncapped 8 x 595 W x 1.5 = 7.1 kW; the least-power mode (0.7 cap) 8 x 416.5 W x 1.5 = 5.0.
    for cap_ratios, need in (((), 8 * 595 * 1.5 / 1000), ((0.8, 0.7), 8 * 416.5 * 1.5 / 1000)):
        opts = options(T, cap_ratios=cap_ratios)
        result = run(with_companion(job(hours=2, deadline=12)), [c], fc, opts, solver)
        reason = infeasible_reason(result)
        assert f"needs at least {need:.1f} kW" in reason
        assert f"the site limit of a leaves {left:.1f} kW after its idle draw" in reason


@pytest.mark.parametrize(
    ("solver_", "interruptible"),
    [
        ("fast", None),
        ("exact", None),
        ("fast", Interruptible(0.0)),
        ("exact", Interruptible(0.0)),
    ],
)
def test_job_that_fits_the_site_limit_only_when_capped_is_planned_capped(
    solver_: str, interruptible: Interruptible | None
) -> None:
    """Uncapped 8 x 595 W = 4.76 kW > 4.0 kW; at the 0.7 cap 8 x 416.5 W = 3.33 kW fits."""
    T = 12
    fc = signals({"DE": (flat(T, 50), flat(T, 300))})
    c = cluster(gpus=8, power_cap=SitePowerCap(default_kw=4.0))
    j = job(hours=2, deadline=12, interruptible=interruptible)
    jp = only(run([j], [c], fc, options(T), solver_))
    assert all(s.power_cap_w is not None for s in jp.segments)


def test_infeasible_deadline_passed(solver: str) -> None:
    T = 12
    fc = signals({"DE": (flat(T, 50), flat(T, 300))})
    j = job(hours=1, deadline=2, submitted=at(-6))
    jobs = [j, job("ok", gpus=1, hours=1, deadline=12)]
    result = plan(jobs, [cluster()], fc, Objective(), at(3), solver=solver, options=options(T))
    assert "has passed" in infeasible_reason(result)


def test_priority_wins_under_scarcity(solver: str) -> None:
    """Room for exactly one of two identical jobs: the high-priority one gets it."""
    T = 12
    fc = signals({"DE": (flat(T, 50), flat(T, 300))})
    jobs = [
        job("a-low", hours=6, deadline=6, priority=Priority.LOW),
        job("b-high", hours=6, deadline=6, priority=Priority.HIGH),
    ]
    result = run(jobs, [cluster(gpus=8)], fc, options(T), solver)
    assert [jp.job_id for jp in result.jobs] == ["b-high"]
    reason = infeasible_reason(result, "a-low")
    assert "priority low" in reason
    assert "8 free GPUs" in reason
    # Listed the other way round, the outcome is the same.
    swapped = run(jobs[::-1], [cluster(gpus=8)], fc, options(T), solver)
    assert [jp.job_id for jp in swapped.jobs] == ["b-high"]


def test_scarcity_drops_the_fewest_jobs_of_the_lowest_priority(solver: str) -> None:
    T = 8
    fc = signals({"DE": (flat(T, 50), flat(T, 300))})
    jobs = [
        job("n1", gpus=4, hours=8, deadline=8),
        job("n2", gpus=4, hours=8, deadline=8),
        job("low", gpus=4, hours=8, deadline=8, priority=Priority.LOW),
    ]
    result = run(jobs, [cluster(gpus=8)], fc, options(T), solver)
    assert {jp.job_id for jp in result.jobs} == {"n1", "n2"}
    assert [i.job_id for i in result.infeasible] == ["low"]


# ----------------------------------------------------------------------------------- running


def test_running_job_stays_on_its_cluster_and_continues_now(solver: str) -> None:
    T = 24
    fc = signals(
        {"DE": (with_window(T, 12, 16, 10, 100), flat(T, 300)), "FR": (flat(T, 5), flat(T, 10))}
    )
    clusters = [cluster("de", "DE"), cluster("fr", "FR")]
    j = job(hours=6, deadline=24, submitted=at(-2))
    running = {"j": RunningJob("j", "de", 8, done_s=2 * HOUR)}
    jp = only(run([j], clusters, fc, options(T, cap_ratios=()), solver, running=running))
    assert jp.cluster == "de"
    assert len(jp.segments) == 1
    assert jp.segments[0].start == NOW
    assert jp.segments[0].end == at(4)  # the 4 h of work left


def test_running_interruptible_job_may_pause_on_its_cluster(solver: str) -> None:
    T = 24
    fc = signals(
        {"DE": (with_window(T, 12, 16, 10, 500), flat(T, 0)), "FR": (flat(T, 1), flat(T, 0))}
    )
    clusters = [cluster("de", "DE"), cluster("fr", "FR")]
    j = job(hours=6, deadline=24, submitted=at(-2), interruptible=Interruptible(0.0))
    running = {"j": RunningJob("j", "de", 8, done_s=2 * HOUR)}
    jp = only(run([j], clusters, fc, options(T, cap_ratios=()), solver, running=running))
    assert jp.cluster == "de"
    # Paused now and resumed in the cheap hours for the 4 h of work left.
    assert jp.segments == (Segment(at(12), at(16), 8, None),)


def test_running_interruptible_job_pauses_and_pays_its_overhead_later(solver: str) -> None:
    """Pause now (one resume, 10 min): 4 cheap hours plus 10 min at $500 per MWh-step, far
    less than running on at $500 now."""
    T = 24
    fc = signals({"DE": (with_window(T, 12, 16, 10, 500), flat(T, 0))})
    j = job(hours=6, deadline=24, submitted=at(-2), interruptible=Interruptible(600.0))
    running = {"j": RunningJob("j", "a", 8, done_s=2 * HOUR)}
    result = run([j], [cluster()], fc, options(T, cap_ratios=()), solver, running=running)
    jp = only(result)
    # 4 cheap hours + 10 min at $500 either at the end (12:00-16:10) or now (00:00-00:10,
    # before the pause): the same cost, far below running on now.
    assert result.objective_value == pytest.approx(8 * 0.595 * (4 * 10 + 500 / 6) / 1000)
    assert any(seg.start == at(12) for seg in jp.segments)
    assert "1 resume(s)" in jp.reason


def test_paused_job_pays_a_resume_even_when_it_runs_on_at_once(solver: str) -> None:
    """A job paused now (started earlier, not running) resumes at step 0 at the price of its
    checkpoint overhead: 2 h of work left and 1 h per resume make a 3 h run on flat prices;
    the same job running now continues for 2 h."""
    T = 12
    fc = signals({"DE": (flat(T, 50), flat(T, 0))})
    j = job(hours=4, deadline=12, submitted=at(-2), interruptible=Interruptible(3600.0))
    paused = {"j": RunningJob("j", "a", 8, done_s=2 * HOUR, paused=True)}
    jp = only(run([j], [cluster()], fc, options(T, cap_ratios=()), solver, running=paused))
    assert sum((s.end - s.start).total_seconds() for s in jp.segments) == pytest.approx(3 * HOUR)
    assert "1 resume(s)" in jp.reason
    running = {"j": RunningJob("j", "a", 8, done_s=2 * HOUR)}
    jp = only(run([j], [cluster()], fc, options(T, cap_ratios=()), solver, running=running))
    assert jp.segments[0].start == NOW
    assert sum((s.end - s.start).total_seconds() for s in jp.segments) == pytest.approx(2 * HOUR)


def test_interruptible_plan_is_never_dearer_than_the_contiguous_one(solver: str) -> None:
    """4.5 h of work; cheap 12:00-16:00, $300 before, $400 after. Contiguous 12:00-16:30 costs
    4 x 10 + 0.5 x 400 = 240 units; a slot plan 00:00-01:00 + 12:00-15:30 would cost 335."""
    T = 24
    price = flat(T, 300.0)
    price[12:16] = 10.0
    price[16:] = 400.0
    fc = signals({"DE": (price, flat(T, 0))})
    opts = options(T, cap_ratios=())
    fixed = run([job(hours=4.5)], [cluster()], fc, opts, solver)
    assert only(fixed).segments == (Segment(at(12), at(16.5), 8, None),)
    free = run([job(hours=4.5, interruptible=Interruptible(0.0))], [cluster()], fc, opts, solver)
    assert free.objective_value <= fixed.objective_value + 1e-9
    # The exact solver's bound must not exceed a cost some valid plan achieves.
    if solver == "exact":
        assert free.lower_bound <= fixed.objective_value + 1e-9


def test_slot_plan_may_end_in_a_dear_part_step(solver: str) -> None:
    """4.5 h of work; cheap hours 0-1 and 10-11, $300 between, $400 after. Best: the four cheap
    hours and half of a $300 hour at the end of a run (4 x 10 + 0.5 x 300 = 190 units)."""
    T = 24
    price = flat(T, 300.0)
    price[[0, 1, 10, 11]] = 10.0
    price[12:] = 400.0
    fc = signals({"DE": (price, flat(T, 0))})
    j = job(hours=4.5, interruptible=Interruptible(0.0))
    result = run([j], [cluster()], fc, options(T, cap_ratios=()), solver)
    best = 8 * 0.595 * 190 / 1000
    assert result.lower_bound <= best + 1e-9
    assert result.objective_value == pytest.approx(best)
    hours = sum((seg.end - seg.start).total_seconds() for seg in only(result).segments) / HOUR
    assert hours == pytest.approx(4.5)


def test_running_elastic_job_continues_on_its_gpus(solver: str) -> None:
    T = 24
    fc = signals({"DE": (flat(T, 100), flat(T, 300))})
    j = job(gpus=8, hours=6, deadline=24, submitted=at(-1), elastic=Elastic(2, 8))
    running = {"j": RunningJob("j", "a", 8, done_s=HOUR)}
    jp = only(run([j], [cluster()], fc, options(T, cap_ratios=()), solver, running=running))
    assert jp.segments == (Segment(NOW, at(5), 8, None),)


def test_run_now_counterfactual_of_an_elastic_job_uses_its_requested_gpus(solver: str) -> None:
    """Price rises each hour: run-now at 8 GPUs for 4 h costs hours 0-3, not 2 GPUs for 16 h."""
    T = 24
    price = np.arange(T, dtype=float) * 10 + 10
    fc = signals({"DE": (price, flat(T, 0))})
    j = job(gpus=8, hours=4, deadline=24, elastic=Elastic(2, 8))
    jp = only(run([j], [cluster()], fc, options(T, cap_ratios=()), solver))
    kwh = 8 * 0.595
    assert jp.run_now.cost_usd == pytest.approx(kwh * (10 + 20 + 30 + 40) / 1000)


def test_running_job_keeps_its_gpus_before_new_work(solver: str) -> None:
    T = 12
    fc = signals({"DE": (with_window(T, 0, 4, 1, 100), flat(T, 300))})
    jobs = [job("run", hours=5, deadline=12, submitted=at(-2)), job("new", hours=4, deadline=12)]
    running = {"run": RunningJob("run", "a", 8, done_s=2 * HOUR)}
    result = run(jobs, [cluster(gpus=8)], fc, options(T, cap_ratios=()), solver, running=running)
    assert only(result, "run").segments[0].start == NOW
    assert set(active_steps(only(result, "new"))) == {3, 4, 5, 6}


# ----------------------------------------------------------------------------------- stability


def stability_case() -> tuple[list[Job], list[Cluster], np.ndarray, PlannerOptions]:
    T = 24
    price = flat(T, 100.0)
    price[4:8] = 50.0
    price[14:18] = 50.1  # nearly as cheap
    return [job(hours=4, deadline=24)], [cluster()], price, options(T, cap_ratios=())


def test_replanning_with_previous_plan_keeps_starts_under_small_price_changes() -> None:
    jobs, clusters, price, opts = stability_case()
    carbon = flat(len(price), 0)
    first = run(jobs, clusters, signals({"DE": (price, carbon)}), opts, "fast")
    assert only(first).segments[0].start == at(4)
    # Adversarial +-0.5 %: the second window becomes the cheaper one.
    nudged = price.copy()
    nudged[4:8] *= 1.005
    nudged[14:18] *= 0.995
    fresh = run(jobs, clusters, signals({"DE": (nudged, carbon)}), opts, "fast")
    assert only(fresh).segments[0].start == at(14)
    kept = run(jobs, clusters, signals({"DE": (nudged, carbon)}), opts, "fast", previous=first)
    assert only(kept).segments[0].start == at(4)
    # Random +-0.5 % perturbations.
    rng = np.random.default_rng(7)
    for _ in range(20):
        noisy = price * (1 + rng.uniform(-0.005, 0.005, len(price)))
        again = run(jobs, clusters, signals({"DE": (noisy, carbon)}), opts, "fast", previous=first)
        assert only(again).segments[0].start == at(4)


def test_replanning_keeps_starts_for_several_jobs() -> None:
    T = 24
    rng = np.random.default_rng(3)
    price = rng.uniform(40, 60, T)
    carbon = rng.uniform(200, 300, T)
    clusters = [cluster("a", gpus=16)]
    jobs = [job(f"j{i}", gpus=8, hours=3, deadline=24) for i in range(4)]
    opts = options(T, cap_ratios=())
    first = run(jobs, clusters, signals({"DE": (price, carbon)}), opts, "fast")
    starts = {jp.job_id: jp.segments[0].start for jp in first.jobs}
    for _ in range(10):
        noisy = price * (1 + rng.uniform(-0.005, 0.005, T))
        fc = signals({"DE": (noisy, carbon)})
        again = run(jobs, clusters, fc, opts, "fast", previous=first)
        assert {jp.job_id: jp.segments[0].start for jp in again.jobs} == starts


def test_exact_solver_also_prefers_the_previous_start() -> None:
    jobs, clusters, price, opts = stability_case()
    carbon = flat(len(price), 0)
    first = run(jobs, clusters, signals({"DE": (price, carbon)}), opts, "exact")
    nudged = price.copy()
    nudged[4:8] *= 1.005
    nudged[14:18] *= 0.995
    kept = run(jobs, clusters, signals({"DE": (nudged, carbon)}), opts, "exact", previous=first)
    assert only(kept).segments[0].start == at(4)


def test_previous_plan_does_not_pin_a_job_when_the_saving_is_large(solver: str) -> None:
    jobs, clusters, price, opts = stability_case()
    carbon = flat(len(price), 0)
    first = run(jobs, clusters, signals({"DE": (price, carbon)}), opts, solver)
    moved = price.copy()
    moved[14:18] = 25.0  # half the price
    again = run(jobs, clusters, signals({"DE": (moved, carbon)}), opts, solver, previous=first)
    assert only(again).segments[0].start == at(14)


# ----------------------------------------------------------------------------------- reporting


def mixed_case() -> tuple[list[Job], list[Cluster], dict[tuple[str, SignalKind], Forecast]]:
    T = 24
    rng = np.random.default_rng(11)
    fc = signals(
        {
            "DE": (rng.uniform(20, 150, T), rng.uniform(100, 500, T)),
            "FR": (rng.uniform(20, 150, T), rng.uniform(20, 120, T)),
        }
    )
    clusters = [cluster("a", "DE", 16, pue=1.3, idle_w=60), cluster("b", "FR", 8, pue=1.1)]
    jobs = [
        job("n1", gpus=8, hours=3, deadline=20),
        job("n2", gpus=4, hours=5, deadline=24, earliest_start=at(3)),
        job("i1", gpus=8, hours=4, deadline=24, interruptible=Interruptible(600.0)),
        job("e1", gpus=4, hours=6, deadline=12, elastic=Elastic(2, 8)),
        job("h1", gpus=8, hours=2, deadline=10, priority=Priority.HIGH, zones=("FR",)),
    ]
    return jobs, clusters, fc


def test_every_plan_has_a_reason_and_a_run_now_counterfactual(solver: str) -> None:
    jobs, clusters, fc = mixed_case()
    result = run(jobs, clusters, fc, options(24), solver)
    assert len(result.jobs) == len(jobs)
    for jp in result.jobs:
        assert "against run-now" in jp.reason
        assert "before its deadline" in jp.reason
        assert jp.run_now is not None
        assert jp.run_now.energy_kwh > 0
    assert result.solver == solver


def test_shifting_moves_energy_without_removing_it(solver: str) -> None:
    """No caps, no elastic, no overheads: the planned energy is the run-now energy."""
    jobs, clusters, fc = mixed_case()
    jobs = [
        replace(j, elastic=None, interruptible=Interruptible(0.0) if j.interruptible else None)
        for j in jobs
    ]
    result = run(jobs, clusters, fc, options(24, cap_ratios=()), solver)
    assert len(result.jobs) == len(jobs)
    for jp in result.jobs:
        assert jp.outcome.energy_kwh == pytest.approx(jp.run_now.energy_kwh, rel=1e-9)
    assert (
        result.objective_value
        <= sum(jp.run_now.cost_usd + jp.run_now.carbon_kg / 1000 * 100 for jp in result.jobs) + 1e-9
    )


def test_run_now_counterfactual_numbers(solver: str) -> None:
    T = 12
    price = np.arange(T, dtype=float) * 10 + 10
    carbon = np.arange(T, dtype=float) * 20 + 100
    jp = only(
        run(
            [job(hours=3, deadline=12, submitted=NOW, earliest_start=at(2))],
            [cluster()],
            signals({"DE": (price, carbon)}),
            options(T, cap_ratios=()),
            solver,
        )
    )
    kwh_per_step = 8 * 0.595
    assert jp.run_now.energy_kwh == pytest.approx(3 * kwh_per_step)
    assert jp.run_now.cost_usd == pytest.approx(kwh_per_step * (30 + 40 + 50) / 1000)
    assert jp.run_now.carbon_kg == pytest.approx(kwh_per_step * (140 + 160 + 180) / 1000)
    assert jp.segments[0].start == at(2)  # prices only rise: run at once


def test_lower_bound_and_gap_are_consistent(solver: str) -> None:
    jobs, clusters, fc = mixed_case()
    result = run(jobs, clusters, fc, options(24), solver)
    assert result.lower_bound is not None
    assert result.lower_bound <= result.objective_value + 1e-6
    assert result.gap_pct is not None
    assert result.gap_pct >= 0
    total = sum(jp.outcome.cost_usd + jp.outcome.carbon_kg / 1000 * 100 for jp in result.jobs)
    assert result.objective_value == pytest.approx(total)


def test_exact_objective_is_no_worse_than_fast() -> None:
    jobs, clusters, fc = mixed_case()
    fast = run(jobs, clusters, fc, options(24, mip_rel_gap=1e-6), "fast")
    exact = run(jobs, clusters, fc, options(24, mip_rel_gap=1e-6), "exact")
    assert exact.objective_value <= fast.objective_value * (1 + 1e-6)
    assert exact.lower_bound <= exact.objective_value + 1e-6


def test_same_inputs_give_identical_plans(solver: str) -> None:
    jobs, clusters, fc = mixed_case()
    first = run(jobs, clusters, fc, options(24), solver)
    second = run(jobs, clusters, fc, options(24), solver)
    assert first == second


def test_plans_do_not_depend_on_earlier_calls(solver: str) -> None:
    """Plans of several problems are the same computed in one order or the other."""
    T = 24
    rng = np.random.default_rng(5)
    cases = [signals({"DE": (rng.uniform(10, 200, T), rng.uniform(50, 500, T))}) for _ in range(8)]
    jobs = [job("x", hours=3.5), job("y", gpus=4, hours=5, interruptible=Interruptible(600.0))]

    def go(fc: dict[tuple[str, SignalKind], Forecast]) -> Plan:
        return run(jobs, [cluster()], fc, options(T), solver)

    forward = [go(fc) for fc in cases]
    backward = [go(fc) for fc in cases[::-1]][::-1]
    assert forward == backward


def test_missing_forecast_values_are_treated_flat(solver: str) -> None:
    T = 24
    price = with_window(T, 10, 14)
    price[16:24] = np.nan
    carbon = flat(T, 300.0)
    carbon[:3] = np.nan
    jp = only(
        run([job(hours=4)], [cluster()], signals({"DE": (price, carbon)}), options(T), solver)
    )
    assert "DE price forecast missing for 8 of 24 steps: treated as flat there" in jp.reason
    assert "DE carbon forecast missing for 3 of 24 steps: treated as flat there" in jp.reason
    assert math.isfinite(jp.outcome.cost_usd)
    assert math.isfinite(jp.outcome.carbon_kg)
    assert jp.segments[0].start == at(10)


def test_forecast_entirely_missing_is_energy_blind(solver: str) -> None:
    T = 12
    result = run([job(hours=2, deadline=12)], [cluster()], {}, options(T), solver)
    jp = only(result)
    assert "no DE price forecast: energy-blind there" in jp.reason
    assert jp.outcome.cost_usd == 0.0


def test_quarter_hour_grid_and_part_steps(solver: str) -> None:
    """A 50-minute job on a 15-minute grid: 4 steps, the last one a 5-minute part-step."""
    step = 900
    T = 16
    price = flat(T, 100.0)
    price[8:12] = 10.0
    fc = signals({"DE": (price, flat(T, 0))}, step_s=step)
    j = job(hours=50 / 60, deadline=4)
    jp = only(run([j], [cluster()], fc, options(T, step_s=step, cap_ratios=()), solver))
    assert jp.segments[0].start == at(2)
    assert jp.segments[-1].end == at(2 + 50 / 60)
    assert jp.outcome.energy_kwh == pytest.approx(8 * 0.595 * 50 / 60)


# --- Regressions from the review of the planner ---------------------------------------------


def test_running_contiguous_job_that_cannot_make_its_deadline_is_reported(solver: str) -> None:
    """A running non-interruptible job keeps its GPUs (no resize without a restart): if it
    cannot finish by its deadline at them, the plan says so instead of running past it."""
    fc = signals({"DE": (flat(8, 50), flat(8, 300))})
    j = job("j", gpus=8, hours=4, deadline=3, elastic=Elastic(4, 16))
    result = plan(
        [j],
        [cluster("a", "DE", 16)],
        fc,
        Objective(),
        NOW,
        solver=solver,
        options=options(8),
        running={"j": RunningJob("j", "a", 4, done_s=0)},
    )
    assert result.jobs == ()
    assert "after the deadline" in result.infeasible[0].reason


def test_running_elastic_job_covers_its_overhead_whatever_gpus_it_runs_on(solver: str) -> None:
    fc = signals({"DE": (np.array([100, 100, 10, 10, 10, 10, 100, 100], float), flat(8, 300))})
    j = job(
        "j",
        gpus=8,
        hours=2,
        deadline=8,
        elastic=Elastic(4, 16),
        interruptible=Interruptible(checkpoint_overhead_s=1800),
    )
    # run() checks that run time minus resumes x overhead covers the work left.
    run(
        [j],
        [cluster("a", "DE", 16)],
        fc,
        options(8),
        solver,
        running={"j": RunningJob("j", "a", 4, done_s=0)},
    )


def test_lower_bound_holds_with_negative_prices(solver: str) -> None:
    T = 6
    fc = signals({"DE": (np.array([-80, 60, -80, 60, 10, -80], float), flat(T, 300))})
    jobs = [
        job("j0", gpus=8, hours=1, deadline=6),
        job("j1", gpus=8, hours=3, deadline=4, interruptible=Interruptible(0.0)),
    ]
    objective = Objective(mode=ObjectiveMode.COST)
    result = plan(
        jobs, [cluster("a", "DE", 8)], fc, objective, NOW, solver=solver, options=options(T)
    )
    best = plan(
        jobs, [cluster("a", "DE", 8)], fc, objective, NOW, solver="exact", options=options(T)
    )
    assert result.lower_bound is not None
    assert result.lower_bound <= best.objective_value + 1e-9


def test_running_job_with_no_work_left_is_not_blamed_on_capacity(solver: str) -> None:
    result = plan(
        [job("j", gpus=8, hours=2, deadline=6)],
        [cluster("a", "DE", 16)],
        signals({"DE": (flat(8, 50), flat(8, 300))}),
        Objective(),
        NOW,
        solver=solver,
        options=options(8),
        running={"j": RunningJob("j", "a", 8, done_s=2 * HOUR)},
    )
    assert result.jobs == ()
    assert "no work left" in result.infeasible[0].reason


def test_deadline_inside_a_step_is_explained_by_the_grid(solver: str) -> None:
    """1.25 h of work due 1.5 h from now: on 1 h steps only one whole step ends before the
    deadline (the plan uses whole steps), so the job is refused with the grid as the reason, not
    blamed on capacity; on 15 min steps it fits."""
    T = 12
    j = job(hours=1.25, deadline=1.5)
    fc = signals({"DE": (flat(T, 50), flat(T, 300))})
    coarse = run(with_companion(j), [cluster()], fc, options(T, cap_ratios=()), solver)
    why = infeasible_reason(coarse)
    assert "on the 1.0 h planning grid" in why
    assert "needs until 2026-01-05 01:15 UTC" in why
    assert "ends at 2026-01-05 01:00 UTC" in why
    fine = run(
        with_companion(j),
        [cluster()],
        signals({"DE": (flat(4 * T, 50), flat(4 * T, 300))}, step_s=900),
        options(4 * T, step_s=900, cap_ratios=()),
        solver,
    )
    assert "j" in {jp.job_id for jp in fine.jobs}


def test_critical_job_without_room_at_release_takes_the_first_room_before_others() -> None:
    """Running work holds the only cluster for 3 h: the critical job cannot start now, so it
    gets the first step with room, before a deferrable job can take it (fast solver)."""
    T = 12
    fc = signals({"DE": (flat(T, 50), flat(T, 300))})
    held = job("r", hours=5, deadline=12, submitted=at(-2))
    crit = job("crit", hours=2, deadline=12, priority=Priority.CRITICAL)
    other = job("n", hours=2, deadline=12)
    running = {"r": RunningJob("r", "a", 8, done_s=2 * HOUR)}
    result = run(
        [held, crit, other], [cluster()], fc, options(T, cap_ratios=()), "fast", running=running
    )
    assert active_steps(only(result, "crit")) == [3, 4]
    assert "no room at its release" in only(result, "crit").reason
    assert min(active_steps(only(result, "n"))) >= 5
