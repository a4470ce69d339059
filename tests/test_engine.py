"""The engine's loop against a real store (SQLite) and the real local executor, on a manual
clock: dispatch at the planned start with the intent written first, outcomes, the two retry
budgets, cancels, pauses at a checkpoint and resumes, reconciliation after a crash (adopt,
re-queue, fence), leases, quotas, the deadline watchdog and expiry."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gridshift.api.runtime import Runtime, build_runtime
from gridshift.config.site import SiteConfig, site_from_data
from gridshift.domain import Segment
from gridshift.domain.status import AttemptState, JobStatus, TransitionError
from gridshift.engine.clock import ManualClock
from gridshift.engine.loop import Engine, PassReport, token_of
from gridshift.engine.options import EngineOptions
from gridshift.executors.base import Executor, ExecutorError, Launch, Observed
from gridshift.executors.local import LocalExecutor
from gridshift.store import JobRow

START = datetime(2022, 6, 6, 6, 0, tzinfo=UTC)
PY = sys.executable


def site(gpus: int = 8) -> SiteConfig:
    return site_from_data(
        {
            "clusters": [
                {
                    "name": "fra-1",
                    "zone": "DE-LU",
                    "gpus": gpus,
                    "gpu_type": "H100",
                    "pue": 1.2,
                    "tariff": {"kind": "wholesale", "adder_usd_per_mwh": 25},
                }
            ],
            "signals": [
                {"zone": "DE-LU", "kind": "carbon", "source": "bundled"},
                {"zone": "DE-LU", "kind": "price", "source": "bundled"},
            ],
            "objective": {"mode": "combined", "carbon_price_usd_per_tonne": 100},
        },
        "test",
        Path.cwd(),
    )


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Runtime, ManualClock]]:
    clock = ManualClock(START)
    options = EngineOptions(
        grace_s=2.0, cancel_grace_s=1.0, lease_s=30.0, user_retries=1, replan_min_wall_s=0.0
    )
    rt = build_runtime(site(), tmp_path / "data", clock=clock, options=options)
    rt.store.create_team("t", None, START)
    yield rt, clock
    for ex in rt.executors.values():
        for token in ex.tokens():
            with contextlib.suppress(ExecutorError):
                ex.kill(token)
    rt.close()


def spec(name: str, argv: list[str], **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": name,
        "command": argv,
        "resources": {"gpus": 2},
        "duration": "30m",
        "within": "24h",
    }
    base.update(extra)
    return base


def submit(rt: Runtime, data: dict[str, Any]) -> str:
    return str(rt.submit(data, team="t", idempotency_key=None).row.id)


def job(rt: Runtime, job_id: str) -> JobRow:
    row = rt.store.job(job_id)
    assert row is not None
    return row


def until(
    engine: Engine, check: Callable[[], bool], timeout_s: float = 20.0, clock_step_s: float = 0
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        engine.run_pass()
        if check():
            return
        if clock_step_s and isinstance(engine.clock, ManualClock):
            engine.clock.advance(clock_step_s)
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def record_intent(rt: Runtime, clock: ManualClock, job_id: str) -> None:
    """The first attempt's dispatch intent, and nothing more (as a crash right after it)."""
    rt.store.dispatch_intent(
        job(rt, job_id),
        clock.now(),
        token=token_of(job_id, 1),
        cluster="fra-1",
        gpus=2,
        power_cap_w=None,
        resume=False,
        lease_until=clock.now() + timedelta(minutes=1),
        reason="started",
    )


def quick(code: str) -> list[str]:
    return [PY, "-c", code]


def test_a_critical_job_starts_at_once_with_its_intent_written_first(world: Any) -> None:
    rt, _ = world
    job_id = submit(rt, spec("now", quick("print('hello')"), priority="critical"))
    report = rt.engine.run_pass()
    assert report.dispatched == [job_id]
    (attempt,) = rt.store.attempts(job_id)
    assert attempt.token == token_of(job_id, 1)
    assert attempt.state in (AttemptState.RUNNING, AttemptState.ENDED)
    kinds = [e.kind for e in rt.store.events(job_id)]
    assert kinds[:2] == ["pending", "dispatch"]
    until(rt.engine, lambda: job(rt, job_id).status is JobStatus.SUCCEEDED)
    row = job(rt, job_id)
    assert row.done_s == row.duration_s
    assert "hello" in rt.attempt_logs(rt.store.attempts(job_id)[0], 1000)


def test_a_deferrable_job_waits_for_its_planned_start(world: Any) -> None:
    rt, clock = world
    job_id = submit(rt, spec("later", quick("pass")))
    rt.engine.run_pass()
    row = job(rt, job_id)
    assert row.planned_start is not None
    assert row.planned_start > START
    assert row.status is JobStatus.PENDING
    assert not rt.store.attempts(job_id)
    assert row.expected is not None
    assert row.run_now is not None
    assert row.plan_reason
    clock.set(row.planned_start)
    until(rt.engine, lambda: job(rt, job_id).status is JobStatus.SUCCEEDED)
    (attempt,) = rt.store.attempts(job_id)
    assert attempt.started_at is not None
    assert attempt.started_at >= row.planned_start


def test_user_failures_retry_then_fail_and_are_counted_apart(world: Any) -> None:
    rt, _ = world
    flaky = submit(
        rt,
        spec(
            "flaky",
            [PY, "-m", "gridshift.demo_job", "--seconds", "0.2", "--fail-once"],
            priority="critical",
        ),
    )
    broken = submit(rt, spec("broken", quick("import sys; sys.exit(3)"), priority="critical"))
    until(rt.engine, lambda: job(rt, flaky).status.terminal and job(rt, broken).status.terminal)
    ok, bad = job(rt, flaky), job(rt, broken)
    assert ok.status is JobStatus.SUCCEEDED
    assert ok.user_failures == 1
    assert ok.attempts == 2
    assert bad.status is JobStatus.FAILED
    assert bad.user_failures == 2
    assert bad.attempts == 2
    assert bad.infra_failures == 0
    assert "exit code 3" in bad.reason


def test_a_lost_attempt_is_an_infrastructure_failure_and_runs_again(world: Any) -> None:
    rt, _ = world
    job_id = submit(rt, spec("lost", quick("import time; time.sleep(30)"), priority="critical"))
    rt.engine.run_pass()
    (attempt,) = rt.store.attempts(job_id)
    ex = rt.executors["fra-1"]
    assert isinstance(ex, LocalExecutor)
    record = ex._record(attempt.token)
    assert record is not None
    os.kill(record.supervisor_pid, signal.SIGKILL)  # the node dies under it
    until(rt.engine, lambda: job(rt, job_id).attempts == 2)
    row = job(rt, job_id)
    assert row.infra_failures == 1
    assert row.user_failures == 0
    first, second = rt.store.attempts(job_id)
    assert first.state is AttemptState.ENDED
    assert first.ended_at is not None
    assert second.intent_at >= first.ended_at  # attempts never overlap


def test_cancel_of_a_running_job_stops_it(world: Any) -> None:
    rt, _ = world
    job_id = submit(rt, spec("long", quick("import time; time.sleep(60)"), priority="critical"))
    rt.engine.run_pass()
    assert job(rt, job_id).status is JobStatus.RUNNING
    rt.cancel(job(rt, job_id))
    until(rt.engine, lambda: job(rt, job_id).status is JobStatus.CANCELLED, timeout_s=10)
    (attempt,) = rt.store.attempts(job_id)
    assert attempt.stop_reason == "cancel"
    assert rt.executors["fra-1"].observe(attempt.token).state.value == "unknown"  # forgotten


def test_cancel_of_a_waiting_job_is_immediate(world: Any) -> None:
    rt, _ = world
    job_id = submit(rt, spec("later", quick("pass")))
    rt.engine.run_pass()
    done = rt.cancel(job(rt, job_id))
    assert done.status is JobStatus.CANCELLED
    assert done.finished_at is not None
    rt.engine.run_pass()
    assert not rt.store.attempts(job_id)


def test_pause_at_a_checkpoint_credits_work_and_resumes_from_it(world: Any) -> None:
    rt, clock = world
    job_id = submit(
        rt,
        spec(
            "ckpt",
            [PY, "-m", "gridshift.demo_job", "--seconds", "3", "--tick", "0.05"],
            priority="critical",
            interruptible={"checkpoint_overhead": "1m"},
        ),
    )
    rt.engine.run_pass()
    time.sleep(0.8)
    clock.advance(600)  # ten minutes of work on the clock
    (attempt,) = rt.store.open_attempts()
    report = rt.engine.run_pass()
    rt.engine._stop(attempt, "pause", 2.0, report)  # what the plan does at a segment boundary
    until(rt.engine, lambda: len(rt.store.attempts(job_id)) == 2, timeout_s=10)
    first = rt.store.attempts(job_id)[0]
    assert first.outcome is not None
    assert "saved its checkpoint" in first.outcome
    assert first.exit_code == 75
    assert first.work_s == pytest.approx(600, abs=1)  # credited: ten minutes on the clock
    events = [e.kind for e in rt.store.events(job_id)]
    assert events.count("paused") == 1
    until(rt.engine, lambda: job(rt, job_id).status is JobStatus.SUCCEEDED)
    second = rt.store.attempts(job_id)[-1]
    assert second.resume
    log = rt.attempt_logs(second, 10000)
    assert "resuming from" in log  # it restored its checkpoint (GRIDSHIFT_RESUME=1)


def test_reconciliation_requeues_an_intent_the_executor_never_got(world: Any) -> None:
    rt, clock = world
    job_id = submit(rt, spec("crash", quick("pass"), priority="critical"))
    # The intent commits, then the control plane dies before calling the executor.
    record_intent(rt, clock, job_id)
    report = rt.engine.reconcile()
    assert report.ended == {job_id: "pending"}
    row = job(rt, job_id)
    assert row.status is JobStatus.PENDING
    assert row.infra_failures == 0
    until(rt.engine, lambda: job(rt, job_id).status is JobStatus.SUCCEEDED)
    assert [a.outcome for a in rt.store.attempts(job_id)] == ["never started", "exit 0"]


def test_a_restarted_engine_adopts_what_runs_and_fences_orphans(world: Any, tmp_path: Path) -> None:
    rt, clock = world
    job_id = submit(rt, spec("adopt", quick("import time; time.sleep(1.5)"), priority="critical"))
    rt.engine.run_pass()
    assert job(rt, job_id).status is JobStatus.RUNNING
    ex = rt.executors["fra-1"]
    orphan = "jorphan-a1"
    ex.start(Launch(orphan, "jorphan", tuple(quick("import time; time.sleep(60)")), 1))
    # A new control plane over the same data directory (the old one was killed).
    again = build_runtime(site(), rt.data_dir, clock=clock, options=rt.options)
    try:
        report = again.engine.reconcile()
        assert orphan in report.fenced
        assert job_id not in report.ended  # adopted, still running
        assert again.executors["fra-1"].observe(token_of(job_id, 1)).state.value == "running"
        until(again.engine, lambda: job(again, job_id).status is JobStatus.SUCCEEDED)
        assert job(again, job_id).attempts == 1
    finally:
        again.close()


class Unreachable:
    """The local executor behind a link that can be cut (our own interface, not a mock)."""

    def __init__(self, inner: Executor) -> None:
        self.inner = inner
        self.name = inner.name
        self.capabilities = inner.capabilities
        self.cut = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def observe(self, token: str) -> Observed:
        if self.cut:
            raise ExecutorError("connection refused")
        return self.inner.observe(token)


def test_an_unobserved_attempt_is_fenced_when_its_lease_runs_out(world: Any) -> None:
    rt, clock = world
    link = Unreachable(rt.executors["fra-1"])
    rt.engine.executors["fra-1"] = link  # type: ignore[assignment]
    job_id = submit(rt, spec("hang", quick("import time; time.sleep(60)"), priority="critical"))
    rt.engine.run_pass()
    link.cut = True
    rt.engine.run_pass()  # unreachable, lease holds: it waits
    assert job(rt, job_id).status is JobStatus.RUNNING
    clock.advance(31)
    report = rt.engine.run_pass()
    assert report.fenced == [token_of(job_id, 1)]
    row = job(rt, job_id)
    assert row.infra_failures == 1
    assert row.attempts == 2
    first = rt.store.attempts(job_id)[0]
    assert first.outcome is not None
    assert "lease" in first.outcome
    link.cut = False
    assert link.inner.observe(token_of(job_id, 1)).state.value == "exited"  # really ended


def test_team_quota_holds_jobs_back(world: Any) -> None:
    rt, _ = world
    rt.store.create_team("small", 2, START)
    ids = [
        str(
            rt.submit(
                spec(f"q{i}", quick("import time; time.sleep(1)"), priority="critical"),
                team="small",
                idempotency_key=None,
            ).row.id
        )
        for i in range(2)
    ]
    report = rt.engine.run_pass()
    assert len(report.dispatched) == 1
    (waiting,) = report.waiting.values()
    assert "quota" in waiting
    until(rt.engine, lambda: all(job(rt, i).status is JobStatus.SUCCEEDED for i in ids))
    a, b = (rt.store.attempts(i)[0] for i in ids)
    first, second = sorted((a, b), key=lambda x: x.intent_at)
    assert first.ended_at is not None
    assert second.intent_at >= first.ended_at


def test_the_watchdog_fires_and_a_job_past_its_deadline_expires(world: Any) -> None:
    rt, clock = world
    rt.store.create_team("none", 0, START)  # a quota of 0: nothing of this team can run
    job_id = str(
        rt.submit(
            spec("late", quick("pass"), duration="1h", within="2h"),
            team="none",
            idempotency_key=None,
        ).row.id
    )
    rt.engine.run_pass()
    clock.advance(45 * 60)
    rt.engine.run_pass()
    row = job(rt, job_id)
    assert row.urgent
    assert any("watchdog" in e.message for e in rt.store.events(job_id))
    clock.advance(90 * 60)
    rt.engine.run_pass()
    row = job(rt, job_id)
    assert row.status is JobStatus.EXPIRED
    assert "deadline passed" in row.reason


def test_every_status_change_is_guarded(world: Any) -> None:
    rt, _ = world
    job_id = submit(rt, spec("later", quick("pass")))
    done = rt.cancel(job(rt, job_id))
    with pytest.raises(TransitionError):
        rt.store.change(done, START, status=JobStatus.RUNNING)
    assert job(rt, job_id).status is JobStatus.CANCELLED


def test_a_resize_checkpoints_an_elastic_job_and_resumes_it(world: Any) -> None:
    rt, clock = world
    job_id = submit(
        rt,
        spec(
            "grow",
            [PY, "-m", "gridshift.demo_job", "--seconds", "5", "--tick", "0.05"],
            priority="critical",
            interruptible={"checkpoint_overhead": "1m"},
            elastic={"min_gpus": 1, "max_gpus": 4},
        ),
    )
    rt.engine.run_pass()
    (attempt,) = rt.store.open_attempts()
    deadline = time.monotonic() + 10
    while "progress" not in rt.attempt_logs(attempt, 1000) and time.monotonic() < deadline:
        time.sleep(0.05)  # its checkpoint handler is installed once it makes progress
    assert rt.engine.current is not None
    plan = rt.engine.current.by_job[job_id]
    other = 1 if attempt.gpus != 1 else 4
    segment = Segment(clock.now(), clock.now() + timedelta(hours=1), other)
    report = PassReport(clock.now())
    rt.engine._adjust(job(rt, job_id), attempt, segment, plan, report)  # the plan resizes it
    assert report.stopped == [job_id]
    stopping = rt.store.attempt(attempt.token)
    assert stopping is not None
    assert stopping.stop_reason == "resize"
    until(rt.engine, lambda: len(rt.store.attempts(job_id)) == 2, timeout_s=10)
    first, second = rt.store.attempts(job_id)
    assert first.outcome is not None
    assert first.outcome.startswith("resize: saved its checkpoint")
    assert second.resume
    until(rt.engine, lambda: job(rt, job_id).status is JobStatus.SUCCEEDED)
