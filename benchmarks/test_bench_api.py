"""API benchmarks (pytest-benchmark): ``make bench``. Not part of ``make test``.

Targets (issue 6): submission p99 <= 50 ms and >= 200 submissions/s on SQLite on loopback;
re-planning 10,000 pending jobs never blocks the API (read p99 <= 100 ms while it runs). The
figures go into ``extra_info``; ``gridshift bench api`` prints the same measurement.
"""

from __future__ import annotations

from pathlib import Path

from gridshift.bench.api import bench_reads_during_replan, bench_submissions
from gridshift.bench.instances import warm_up


def test_submissions(benchmark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    warm_up()
    result = benchmark.pedantic(
        lambda: bench_submissions(2000, 4, tmp_path), rounds=1, iterations=1
    )
    benchmark.extra_info.update(result)
    assert result["failures"] == 0


def test_reads_while_replanning_10k(benchmark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    warm_up()
    result = benchmark.pedantic(
        lambda: bench_reads_during_replan(10_000, 2, tmp_path), rounds=1, iterations=1
    )
    benchmark.extra_info.update(result)
    assert result["reads_during_replan"]["n"] > 0
