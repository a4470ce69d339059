"""The control plane on PostgreSQL (``GRIDSHIFT_DATABASE_URL``): the engine and the API on a real
PostgreSQL store run a job to success, cancel one, and re-queue an intent the executor never got,
exactly as on SQLite (``test_engine.py``). Marked ``service``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from store_backends import _reset
from test_engine import START, job, quick, record_intent, site, spec, submit, until

from gridshift.api.runtime import Runtime, build_runtime
from gridshift.domain.status import JobStatus
from gridshift.engine.clock import ManualClock
from gridshift.engine.options import EngineOptions
from gridshift.executors.base import ExecutorError

pytest_plugins = ["store_backends"]
pytestmark = pytest.mark.service


@pytest.fixture
def pg_world(postgres_url: str, tmp_path: Path) -> Iterator[tuple[Runtime, ManualClock]]:
    _reset(postgres_url)
    clock = ManualClock(START)
    options = EngineOptions(grace_s=2.0, cancel_grace_s=1.0, replan_min_wall_s=0.0)
    rt = build_runtime(
        site(), tmp_path / "data", database_url=postgres_url, clock=clock, options=options
    )
    assert rt.store.dialect == "postgresql"
    rt.store.create_team("t", None, START)
    yield rt, clock
    for ex in rt.executors.values():
        for token in ex.tokens():
            with contextlib.suppress(ExecutorError):
                ex.kill(token)
    rt.close()


def test_a_job_runs_to_success_on_postgresql(pg_world: Any) -> None:
    rt, _ = pg_world
    job_id = submit(rt, spec("pg", quick("print('on postgres')"), priority="critical"))
    until(rt.engine, lambda: job(rt, job_id).status is JobStatus.SUCCEEDED)
    (attempt,) = rt.store.attempts(job_id)
    assert attempt.outcome == "exit 0"
    assert "on postgres" in rt.attempt_logs(attempt, 1000)
    assert [e.kind for e in rt.store.events(job_id)] == ["pending", "dispatch", "succeeded"]


def test_cancel_and_reconciliation_on_postgresql(pg_world: Any) -> None:
    rt, clock = pg_world
    running = submit(rt, spec("long", quick("import time; time.sleep(60)"), priority="critical"))
    rt.engine.run_pass()
    rt.cancel(job(rt, running))
    until(rt.engine, lambda: job(rt, running).status is JobStatus.CANCELLED, timeout_s=10)
    lost = submit(rt, spec("intent", quick("pass"), priority="critical"))
    record_intent(rt, clock, lost)
    assert rt.engine.reconcile().ended == {lost: "pending"}
    until(rt.engine, lambda: job(rt, lost).status is JobStatus.SUCCEEDED)
