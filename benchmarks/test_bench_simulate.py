"""Simulator benchmark (pytest-benchmark): ``make bench``. Not part of ``make test``.

Target (issue: the simulator): 100,000 jobs over a year on 5 clusters at 1-hour steps with the
``gridshift`` policy in <= 5 minutes on 2 cores and <= 4 GB; ``run-now`` in seconds. The year
is ``gridshift bench simulate`` (defaults); here a month of it (8,400 jobs) keeps ``make bench``
short. The README reports both.
"""

from __future__ import annotations

import resource
from pathlib import Path

from gridshift.bench.instances import warm_up
from gridshift.bench.simulation import bench_config, write_jobs
from gridshift.signals.library import SignalLibrary
from gridshift.simulate.engine import simulate


def test_simulate_a_month(benchmark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    warm_up()
    write_jobs(tmp_path / "jobs.csv", 8400, 31, 24 * 3600, seed=0)
    config = bench_config(tmp_path, 5, 8, 31, "1h", ["run-now", "gridshift"])

    def run():  # type: ignore[no-untyped-def]
        return simulate(config, SignalLibrary(tmp_path / "library"))

    report, _ = benchmark.pedantic(run, rounds=1, iterations=1)
    policies = report["policies"]
    benchmark.extra_info.update(
        {
            "gridshift_seconds": policies["gridshift"]["seconds"],
            "run_now_seconds": policies["run-now"]["seconds"],
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "misses": {k: v["deadline_misses"] for k, v in policies.items()},
        }
    )
    assert policies["gridshift"]["deadline_misses"] <= policies["run-now"]["deadline_misses"]
