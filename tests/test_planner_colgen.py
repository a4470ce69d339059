"""The exact solver's column generation (forced on small instances with ``full_model_limit=0``):
its plans obey every hard rule, are never worse than the fast plan they start from, and its
Lagrangian bound is a true lower bound."""

from __future__ import annotations

from collections import defaultdict
from itertools import pairwise

import numpy as np
import pytest

from gridshift.bench.instances import build_instance
from gridshift.planner import PlannerOptions, plan

HORIZON = 24 * 3600
STEP = 3600


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_column_generation_plans_are_valid_and_not_worse_than_fast(seed: int) -> None:
    instance = build_instance(30, 3, HORIZON, STEP, seed=seed)
    base = {"step_s": STEP, "horizon_s": HORIZON, "time_limit_s": 5.0}
    fast = plan(
        instance.jobs,
        instance.clusters,
        instance.forecasts,
        instance.objective,
        instance.now,
        solver="fast",
        options=PlannerOptions(**base),
    )
    exact = plan(
        instance.jobs,
        instance.clusters,
        instance.forecasts,
        instance.objective,
        instance.now,
        solver="exact",
        options=PlannerOptions(**base, full_model_limit=0),
    )
    assert exact.note is not None
    assert exact.note.startswith("column generation")
    # Never worse than the fast plan: no fewer jobs, and no dearer when the same jobs fit.
    assert len(exact.jobs) >= len(fast.jobs)
    if len(exact.jobs) == len(fast.jobs):
        assert exact.objective_value <= fast.objective_value + 1e-6
    assert exact.lower_bound is not None
    assert exact.lower_bound <= exact.objective_value + 1e-6
    # Hard rules, recomputed from the segments.
    jobs = {j.id: j for j in instance.jobs}
    clusters = {c.name: c for c in instance.clusters}
    in_use: dict[tuple[str, int], int] = defaultdict(int)
    for jp in exact.jobs:
        job = jobs[jp.job_id]
        assert jp.segments[0].start >= job.release
        assert jp.segments[-1].end <= job.deadline
        assert not job.zones or clusters[jp.cluster].zone in job.zones
        if job.interruptible is None:
            starts_ends = sorted((s.start, s.end) for s in jp.segments)
            for (_, end), (start, _) in pairwise(starts_ends):
                assert start == end  # one contiguous run (segments only change mode)
        for s in jp.segments:
            first = int((s.start - instance.now).total_seconds() // STEP)
            last = int(np.ceil((s.end - instance.now).total_seconds() / STEP))
            for t in range(first, last):
                in_use[(jp.cluster, t)] += s.gpus
    for (name, _), gpus in in_use.items():
        limit = clusters[name].gpus
        assert limit is None or gpus <= limit
