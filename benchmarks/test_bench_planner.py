"""Planner benchmarks (pytest-benchmark): ``make bench``. Not part of ``make test``.

Targets (issue: the planner): fast 10,000 jobs x 20 clusters x 192 steps <= 1 s and <= 300 MB;
exact 500 jobs x 5 clusters x 192 steps <= 10 s with a gap <= 1 %. The figures are recorded in
the benchmark's extra info; the README reports what was measured.
"""

from __future__ import annotations

import pytest

from gridshift.bench.instances import build_instance, warm_up
from gridshift.planner import PlannerOptions, plan

CASES = [
    pytest.param("fast", 1000, 20, id="fast-1000x20"),
    pytest.param("fast", 10000, 20, id="fast-10000x20"),
    pytest.param("exact", 500, 5, id="exact-500x5"),
]


@pytest.mark.parametrize(("solver", "jobs", "clusters"), CASES)
def test_plan(benchmark, solver: str, jobs: int, clusters: int) -> None:  # type: ignore[no-untyped-def]
    warm_up()  # load (or, on a fresh install, compile) the kernels before timing
    instance = build_instance(jobs, clusters, 48 * 3600, 900, seed=0)
    options = PlannerOptions(step_s=900, horizon_s=48 * 3600)

    def run():  # type: ignore[no-untyped-def]
        return plan(
            instance.jobs,
            instance.clusters,
            instance.forecasts,
            instance.objective,
            instance.now,
            solver=solver,
            options=options,
        )

    result = benchmark.pedantic(run, rounds=1 if solver == "exact" else 3, iterations=1)
    benchmark.extra_info.update(
        {
            "objective": result.objective_value,
            "lower_bound": result.lower_bound,
            "gap_pct": result.gap_pct,
            "infeasible": len(result.infeasible),
        }
    )
    assert len(result.jobs) + len(result.infeasible) == jobs
