"""The store's contract, one suite run against every back-end (SQLite and PostgreSQL).

Every test takes the parametrised ``store`` fixture of ``store_backends``: a fresh, migrated store
per test. The PostgreSQL runs are marked ``service`` (skipped where PostgreSQL is not installed,
failed instead under ``GRIDSHIFT_REQUIRE_SERVICES=1``). Durability and integrity are SQLite's
concern (the file is ours; a PostgreSQL server keeps its own) and run on SQLite only.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from gridshift.domain import UserError
from gridshift.domain.status import AttemptState, JobStatus, TransitionError
from gridshift.store import ConflictError, JobRow, NewJob, Store, StoreError, sqlite_url
from gridshift.store import tables as t
from gridshift.store.db import _alembic_config

pytest_plugins = ["store_backends"]

T = TypeVar("T")

NOW = datetime(2026, 3, 1, 12, 0, 0, 123457, tzinfo=UTC)
CEST = timezone(timedelta(hours=2))
SQLITE_ONLY = pytest.mark.parametrize("store", ["sqlite"], indirect=True)


def head_revision() -> str:
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(store: Store) -> str | None:
    with store.engines.writer.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def schema_differences(store: Store) -> list[Any]:
    with store.engines.writer.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn), t.metadata))


def new_job(team: str = "alpha", name: str = "train", key: str | None = None, **kw: Any) -> NewJob:
    values: dict[str, Any] = {
        "team": team,
        "name": name,
        "spec": {"command": ["python", "train.py"], "gpus": 2},
        "submitted_at": NOW,
        "release_at": NOW + timedelta(minutes=5),
        "deadline": NOW + timedelta(hours=6),
        "priority": "normal",
        "gpus": 2,
        "duration_s": 3600.0,
        "idempotency_key": key,
    }
    values.update(kw)
    return NewJob(**values)


def submitted(store: Store, **kw: Any) -> JobRow:
    job, created = store.submit(new_job(**kw))
    assert created
    return job


def dispatched(store: Store, job: JobRow, token: str = "tok-1", **kw: Any) -> JobRow:
    values: dict[str, Any] = {
        "token": token,
        "cluster": "lab",
        "gpus": job.gpus,
        "power_cap_w": 250.0,
        "resume": False,
        "lease_until": NOW + timedelta(minutes=2),
        "reason": "planned start",
    }
    values.update(kw)
    running, _ = store.dispatch_intent(job, NOW, **values)
    return running


def race(n: int, work: Callable[[int], T]) -> list[T | Exception]:
    """``work(i)`` in ``n`` threads released together; results, or the exceptions raised."""
    barrier = threading.Barrier(n)

    def one(i: int) -> T | Exception:
        barrier.wait(timeout=30)
        try:
            return work(i)
        except Exception as exc:
            return exc

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


def is_utc(when: datetime | None) -> bool:
    return when is not None and when.tzinfo is not None and when.utcoffset() == timedelta(0)


# -- migrations ----------------------------------------------------------------------------------


def test_a_fresh_store_is_at_the_head_revision(store: Store) -> None:
    assert current_revision(store) == head_revision()


def test_the_migrations_create_exactly_the_tables_module(store: Store) -> None:
    assert schema_differences(store) == []


def test_opening_twice_is_idempotent(store: Store) -> None:
    store.create_team("alpha", 8, NOW)
    again = Store.open(store.engines.url)
    try:
        assert current_revision(again) == head_revision()
        assert [team.name for team in again.teams()] == ["alpha"]
    finally:
        again.close()
    assert schema_differences(store) == []


def test_a_store_from_an_unknown_revision_is_refused(store: Store) -> None:
    with store.engines.writer.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'f00dfeed9999'"))
    with pytest.raises(StoreError, match="f00dfeed9999") as caught:
        Store.open(store.engines.url)
    assert "does not know" in caught.value.message
    assert current_revision(store) == "f00dfeed9999"  # left as found: nothing migrated


# -- teams and tokens ----------------------------------------------------------------------------


def test_teams_are_created_listed_and_read(store: Store) -> None:
    made = store.create_team("beta", None, NOW)
    store.create_team("alpha", 16, NOW + timedelta(seconds=1))
    assert made.name == "beta"
    assert made.gpu_quota is None
    assert [team.name for team in store.teams()] == ["alpha", "beta"]
    alpha = store.team("alpha")
    assert alpha is not None
    assert alpha.gpu_quota == 16
    assert alpha.created_at == NOW + timedelta(seconds=1)
    assert is_utc(alpha.created_at)
    assert store.team("gamma") is None


def test_a_duplicate_team_is_a_conflict(store: Store) -> None:
    store.create_team("alpha", 4, NOW)
    with pytest.raises(ConflictError, match="alpha"):
        store.create_team("alpha", 8, NOW)
    alpha = store.team("alpha")
    assert alpha is not None
    assert alpha.gpu_quota == 4


def test_a_token_secret_is_returned_once_and_stored_only_as_its_hash(store: Store) -> None:
    store.create_team("alpha", None, NOW)
    token, secret = store.create_token("alpha", "operator", NOW)
    assert (token.team, token.role, token.created_at) == ("alpha", "operator", NOW)
    with store.engines.reader.connect() as conn:
        rows = conn.execute(select(t.tokens)).fetchall()
    assert len(rows) == 1
    assert rows[0].secret_sha256 == hashlib.sha256(secret.encode()).hexdigest()
    for column, value in rows[0]._mapping.items():
        assert secret not in str(value), column
        if isinstance(value, str) and len(value) >= 8:
            assert value not in secret, column  # not even a part of it (a prefix, say)


def test_a_token_is_found_by_its_secret_only(store: Store) -> None:
    store.create_team("alpha", None, NOW)
    token, secret = store.create_token("alpha", "member", NOW)
    other, other_secret = store.create_token("alpha", "admin", NOW)
    assert store.token_for(secret) == token
    assert store.token_for(other_secret) == other
    assert store.token_for(secret + "x") is None
    assert store.token_for("") is None
    assert store.token_for(token.id) is None


def test_a_revoked_token_is_found_no_more_and_listed_as_revoked(store: Store) -> None:
    store.create_team("alpha", None, NOW)
    token, secret = store.create_token("alpha", "member", NOW)
    later = NOW + timedelta(hours=1)
    revoked = store.revoke_token(token.id, later)
    assert revoked is not None
    assert revoked.revoked_at == later
    assert store.token_for(secret) is None
    assert store.revoke_token(token.id, later + timedelta(hours=1)) == revoked  # first time stands
    assert store.revoke_token("t-unknown", later) is None
    assert [(t.id, t.revoked_at) for t in store.tokens()] == [(token.id, later)]


def test_a_token_needs_a_known_role_and_team(store: Store) -> None:
    store.create_team("alpha", None, NOW)
    with pytest.raises(UserError, match="role"):
        store.create_token("alpha", "root", NOW)
    with pytest.raises(UserError, match="no team named 'ghost'"):
        store.create_token("ghost", "member", NOW)
    with store.engines.reader.connect() as conn:
        assert conn.execute(select(t.tokens)).fetchall() == []


# -- jobs ----------------------------------------------------------------------------------------


def test_a_submitted_job_round_trips_every_field(store: Store) -> None:
    spec = {
        "command": ["python", "-c", "print('hé ✓')"],
        "env": {"A": "1", "EMPTY": ""},
        "resources": {"gpus": 4, "memory_gib": 80.5, "spot": False, "zone": None},
        "tags": [],
    }
    local = datetime(2026, 3, 1, 14, 0, 0, 999999, tzinfo=CEST)  # 12:00:00.999999 UTC
    planned = {
        "cluster": "lab",
        "planned_start": local + timedelta(hours=1),
        "planned_end": local + timedelta(hours=2, microseconds=1),
        "plan_reason": "cheapest window",
        "expected": {"energy_kwh": 1.25, "cost_usd": 0.31, "carbon_kg": 0.402},
        "run_now": {"energy_kwh": 1.25, "cost_usd": 0.52, "carbon_kg": 0.731},
    }
    job, created = store.submit(
        new_job(
            team="alpha",
            name="fine-tune",
            key="req-1",
            spec=spec,
            submitted_at=local,
            release_at=local + timedelta(minutes=30, microseconds=7),
            deadline=datetime(2026, 3, 2, 0, 0, 0, 1, tzinfo=UTC),
            priority="high",
            gpus=4,
            duration_s=5400.5,
            planned=planned,
        )
    )
    assert created
    assert job == store.job(job.id)
    assert (job.team, job.name, job.idempotency_key) == ("alpha", "fine-tune", "req-1")
    assert (job.status, job.version, job.reason) == (JobStatus.PENDING, 1, "accepted")
    assert job.spec == spec
    assert job.submitted_at == local
    assert job.release_at == local + timedelta(minutes=30, microseconds=7)
    assert job.deadline == datetime(2026, 3, 2, 0, 0, 0, 1, tzinfo=UTC)
    assert job.updated_at == local
    assert job.planned_start == planned["planned_start"]
    assert job.planned_end == planned["planned_end"]
    for when in (job.submitted_at, job.release_at, job.deadline, job.updated_at):
        assert is_utc(when)
    assert is_utc(job.planned_start)
    assert is_utc(job.planned_end)
    assert (job.priority, job.gpus, job.duration_s) == ("high", 4, 5400.5)
    assert (job.done_s, job.attempts, job.infra_failures, job.user_failures) == (0.0, 0, 0, 0)
    assert (job.urgent, job.cancel_requested, job.finished_at) == (False, False, None)
    assert (job.cluster, job.plan_reason) == ("lab", "cheapest window")
    assert job.expected == planned["expected"]
    assert job.run_now == planned["run_now"]
    assert [(e.kind, e.message, e.at) for e in store.events(job.id)] == [
        ("pending", "accepted", local)
    ]


def test_a_job_submitted_in_a_terminal_status_is_finished(store: Store) -> None:
    job = submitted(store, status=JobStatus.UNSCHEDULABLE, reason="no cluster has 64 GPUs")
    assert job.status is JobStatus.UNSCHEDULABLE
    assert job.finished_at == NOW
    assert [e.kind for e in store.events(job.id)] == ["unschedulable"]


def test_an_idempotency_key_returns_the_first_job_per_team(store: Store) -> None:
    first, created = store.submit(new_job(team="alpha", name="one", key="k"))
    assert created
    again, created_again = store.submit(new_job(team="alpha", name="two", key="k"))
    assert not created_again
    assert again == first
    theirs, created_theirs = store.submit(new_job(team="beta", name="one", key="k"))
    assert created_theirs
    assert theirs.id != first.id
    unkeyed = [store.submit(new_job(team="alpha"))[0].id for _ in range(2)]
    assert len(set(unkeyed)) == 2
    assert len(store.jobs(team="alpha")) == 3
    assert len(store.jobs(team="beta")) == 1
    assert len(store.events(first.id)) == 1


def test_concurrent_submissions_with_one_key_make_one_job(store: Store) -> None:
    results = race(8, lambda i: store.submit(new_job(name=f"try-{i}", key="same")))
    errors = [r for r in results if isinstance(r, Exception)]
    assert errors == []
    outcomes = [r for r in results if not isinstance(r, Exception)]
    assert sum(created for _, created in outcomes) == 1
    assert len({job.id for job, _ in outcomes}) == 1
    assert len(store.jobs(team="alpha")) == 1


def test_jobs_are_listed_with_filters(store: Store) -> None:
    a1 = submitted(store, team="alpha", name="train")
    a2 = submitted(store, team="alpha", name="eval")
    b1 = submitted(store, team="beta", name="train")
    a2 = store.change(a2, NOW, status=JobStatus.CANCELLED, reason="by user")

    def ids(jobs: list[JobRow]) -> list[str]:
        return [job.id for job in jobs]

    assert ids(store.jobs()) == [a1.id, a2.id, b1.id]
    assert ids(store.jobs(team="alpha")) == [a1.id, a2.id]
    assert ids(store.jobs(team="gamma")) == []
    assert ids(store.jobs(statuses=[JobStatus.PENDING])) == [a1.id, b1.id]
    assert ids(store.jobs(statuses=[JobStatus.CANCELLED, JobStatus.RUNNING])) == [a2.id]
    assert ids(store.jobs(statuses=[])) == []
    assert ids(store.jobs(name="train")) == [a1.id, b1.id]
    assert ids(store.jobs(team="beta", name="train", statuses=[JobStatus.PENDING])) == [b1.id]
    assert ids(store.active_jobs()) == [a1.id, b1.id]
    assert ids(store.jobs(after=a1.id)) == [a2.id, b1.id]
    assert ids(store.jobs(team="alpha", after=a1.id, limit=5)) == [a2.id]


def test_keyset_pagination_has_no_duplicates_or_gaps(store: Store) -> None:
    made = [
        submitted(store, team="alpha" if i % 3 else "beta", name=f"j{i}").id for i in range(250)
    ]
    assert made == sorted(made)  # ids follow submission
    for team, limit in ((None, 17), (None, 250), (None, 1000), ("alpha", 10)):
        pages: list[list[str]] = []
        after: str | None = None
        while True:
            page = [job.id for job in store.jobs(team=team, after=after, limit=limit)]
            if not page:
                break
            assert len(page) <= limit
            pages.append(page)
            after = page[-1]
        seen = [job_id for page in pages for job_id in page]
        assert seen == [job.id for job in store.jobs(team=team)]
        assert seen == sorted(set(seen))
    assert len(store.jobs()) == 250
    assert len(store.jobs(team="beta")) == 84


def test_jobs_are_counted_by_status(store: Store) -> None:
    assert store.count_by_status() == {}
    jobs = [submitted(store, team="alpha" if i < 4 else "beta") for i in range(6)]
    store.change(jobs[0], NOW, status=JobStatus.CANCELLED)
    dispatched(store, jobs[1])
    dispatched(store, jobs[4], token="tok-4")
    assert store.count_by_status() == {"pending": 3, "running": 2, "cancelled": 1}
    assert store.count_by_status("alpha") == {"pending": 2, "running": 1, "cancelled": 1}
    assert store.count_by_status("beta") == {"pending": 1, "running": 1}
    assert store.count_by_status("gamma") == {}


# -- the guarded transition ----------------------------------------------------------------------


def test_an_allowed_change_bumps_the_version_and_writes_an_event(store: Store) -> None:
    job = submitted(store)
    later = NOW + timedelta(minutes=1)
    running = store.change(
        job, later, status=JobStatus.RUNNING, reason="started", cluster="lab", urgent=True
    )
    assert (running.status, running.version, running.reason) == (JobStatus.RUNNING, 2, "started")
    assert (running.cluster, running.urgent, running.updated_at) == ("lab", True, later)
    assert running.finished_at is None
    assert running == store.job(job.id)
    noted = store.change(running, later, event="checkpoint at 30%", done_s=1800.0)
    assert (noted.status, noted.version, noted.done_s) == (JobStatus.RUNNING, 3, 1800.0)
    quiet = store.change(noted, later, done_s=1900.0)  # no status, no event: no event row
    assert quiet.version == 4
    end = NOW + timedelta(hours=1, microseconds=3)
    done = store.change(quiet, end, status=JobStatus.SUCCEEDED, reason="exit 0")
    assert (done.status, done.version, done.finished_at) == (JobStatus.SUCCEEDED, 5, end)
    assert is_utc(done.finished_at)
    assert [(e.kind, e.message) for e in store.events(job.id)] == [
        ("pending", "accepted"),
        ("running", "started"),
        ("note", "checkpoint at 30%"),
        ("succeeded", "exit 0"),
    ]
    assert store.events(job.id)[-1].at == end


def test_a_forbidden_change_raises_and_changes_nothing(store: Store) -> None:
    job = store.change(submitted(store), NOW, status=JobStatus.CANCELLED, reason="by user")
    events = store.events(job.id)
    for status in (JobStatus.RUNNING, JobStatus.PENDING, JobStatus.SUCCEEDED):
        with pytest.raises(TransitionError, match=f"cancelled to {status.value}"):
            store.change(job, NOW, status=status, reason="no", done_s=99.0)
    assert store.job(job.id) == job
    assert store.events(job.id) == events
    pending = submitted(store)
    with pytest.raises(TransitionError):
        store.change(pending, NOW, status=JobStatus.SUCCEEDED)
    with pytest.raises(TransitionError):
        store.change(pending, NOW, status=JobStatus.PAUSED)
    assert store.job(pending.id) == pending


def test_a_stale_version_is_a_conflict_and_changes_nothing(store: Store) -> None:
    job = submitted(store)
    current = store.change(job, NOW, reason="re-planned", event="re-planned", cluster="a")
    events = store.events(job.id)
    with pytest.raises(ConflictError, match="stale"):
        store.change(job, NOW, status=JobStatus.CANCELLED, reason="late", cluster="b")
    assert store.job(job.id) == current
    assert store.events(job.id) == events


def test_two_racing_changes_of_one_version_have_one_winner(store: Store) -> None:
    for round_ in range(5):
        job = submitted(store, name=f"race-{round_}")

        def move(i: int, job: JobRow = job) -> JobRow:
            target = (JobStatus.CANCELLED, JobStatus.RUNNING)[i]
            return store.change(job, NOW, status=target, reason=f"t{i}")

        results = race(2, move)
        wins = [r for r in results if isinstance(r, JobRow)]
        losses = [r for r in results if isinstance(r, Exception)]
        assert len(wins) == 1
        assert len(losses) == 1
        assert isinstance(losses[0], ConflictError), losses[0]
        assert store.job(job.id) == wins[0]
        assert wins[0].version == 2
        assert [e.kind for e in store.events(job.id)] == ["pending", wins[0].status.value]


def test_a_change_updates_the_attempt_in_the_same_transaction(store: Store) -> None:
    job = dispatched(store, submitted(store), token="tok-a")
    started = NOW + timedelta(seconds=5)
    job = store.change(
        job,
        started,
        event="executor accepted",
        attempt=("tok-a", {"state": AttemptState.RUNNING, "started_at": started}),
    )
    attempt = store.attempt("tok-a")
    assert attempt is not None
    assert (attempt.state, attempt.started_at) == (AttemptState.RUNNING, started)
    # A stale job version: neither the job nor the attempt changes.
    stale = dispatched(store, submitted(store, name="other"), token="tok-b")
    store.change(stale, NOW, done_s=10.0)
    before = store.attempt("tok-b")
    with pytest.raises(ConflictError):
        store.change(
            stale,
            NOW,
            status=JobStatus.PENDING,
            reason="lost node",
            attempt=("tok-b", {"state": AttemptState.ENDED, "outcome": "lost", "ended_at": NOW}),
        )
    assert store.attempt("tok-b") == before
    assert before is not None
    assert before.state is AttemptState.DISPATCHING


# -- attempts ------------------------------------------------------------------------------------


def test_the_dispatch_intent_is_one_atomic_write(store: Store) -> None:
    job = submitted(store)
    later = NOW + timedelta(seconds=1, microseconds=11)
    lease = later + timedelta(minutes=2)
    running, attempt = store.dispatch_intent(
        job,
        later,
        token="j-1-a1",
        cluster="lab",
        gpus=2,
        power_cap_w=None,
        resume=False,
        lease_until=lease,
        reason="window opened",
    )
    assert (running.status, running.version, running.attempts) == (JobStatus.RUNNING, 2, 1)
    assert (running.cluster, running.reason, running.updated_at) == ("lab", "window opened", later)
    assert running == store.job(job.id)
    assert (attempt.token, attempt.job_id, attempt.n, attempt.cluster) == (
        "j-1-a1",
        job.id,
        1,
        "lab",
    )
    assert (attempt.gpus, attempt.power_cap_w, attempt.resume) == (2, None, False)
    assert attempt.state is AttemptState.DISPATCHING
    assert (attempt.intent_at, attempt.lease_until) == (later, lease)
    assert is_utc(attempt.intent_at)
    assert is_utc(attempt.lease_until)
    assert (attempt.started_at, attempt.ended_at, attempt.work_s) == (None, None, 0.0)
    assert store.attempt("j-1-a1") == attempt
    last = store.events(job.id)[-1]
    assert (last.kind, last.at) == ("dispatch", later)
    assert "j-1-a1" in last.message
    # Back to pending, then a second attempt numbered 2 that resumes.
    paused = store.change(running, later, status=JobStatus.PAUSED, reason="price spike")
    again, second = store.dispatch_intent(
        paused,
        later,
        token="j-1-a2",
        cluster="lab",
        gpus=1,
        power_cap_w=200.0,
        resume=True,
        lease_until=lease,
        reason="resume",
    )
    assert (again.attempts, second.n, second.resume, second.power_cap_w) == (2, 2, True, 200.0)
    assert [a.token for a in store.attempts(job.id)] == ["j-1-a1", "j-1-a2"]


def test_a_stale_dispatch_intent_records_no_attempt(store: Store) -> None:
    job = submitted(store)
    current = store.change(job, NOW, event="re-planned")
    events = store.events(job.id)
    with pytest.raises(ConflictError):
        dispatched(store, job, token="tok-stale")
    assert store.attempt("tok-stale") is None
    assert store.attempts() == []
    assert store.job(job.id) == current
    assert store.events(job.id) == events
    finished = store.change(current, NOW, status=JobStatus.CANCELLED)
    with pytest.raises(TransitionError):
        dispatched(store, finished, token="tok-late")
    assert store.attempts() == []


def test_a_running_job_is_not_dispatched_again(store: Store) -> None:
    running = dispatched(store, submitted(store), token="tok-1")
    events = store.events(running.id)
    with pytest.raises(TransitionError, match="running job cannot be dispatched"):
        dispatched(store, running, token="tok-2")  # a second, overlapping attempt
    assert [a.token for a in store.attempts()] == ["tok-1"]
    assert store.job(running.id) == running
    assert store.events(running.id) == events


def test_a_failed_attempt_insert_rolls_the_job_back(store: Store) -> None:
    first = submitted(store, name="first")
    dispatched(store, first, token="tok-dup")
    second = submitted(store, name="second")
    with pytest.raises(IntegrityError):
        dispatched(store, second, token="tok-dup")  # the token is taken: nothing of it stays
    assert store.job(second.id) == second
    assert [e.kind for e in store.events(second.id)] == ["pending"]
    assert [a.job_id for a in store.attempts()] == [first.id]


def test_attempts_are_read_updated_and_their_leases_renewed(store: Store) -> None:
    a = dispatched(store, submitted(store, name="a"), token="tok-a")
    b = dispatched(store, submitted(store, name="b"), token="tok-b")
    assert b.attempts == a.attempts == 1
    assert store.attempt("nope") is None
    assert store.attempts("no-such-job") == []
    assert [x.token for x in store.attempts()] == sorted(["tok-a", "tok-b"], key=lambda tok: tok)
    assert [x.token for x in store.attempts(a.id)] == ["tok-a"]
    assert {x.token for x in store.open_attempts()} == {"tok-a", "tok-b"}
    started = NOW + timedelta(seconds=3)
    store.update_attempt("tok-a", state=AttemptState.RUNNING, started_at=started)
    new_lease = NOW + timedelta(minutes=10, microseconds=5)
    store.renew_leases(["tok-a", "tok-b"], new_lease)
    store.renew_leases([], NOW)  # nothing to do, no error
    ended = NOW + timedelta(minutes=5)
    store.update_attempt(
        "tok-b", state=AttemptState.ENDED, ended_at=ended, exit_code=0, outcome="ok", work_s=300.0
    )
    attempt_a, attempt_b = store.attempt("tok-a"), store.attempt("tok-b")
    assert attempt_a is not None
    assert attempt_b is not None
    assert (attempt_a.state, attempt_a.started_at, attempt_a.lease_until) == (
        AttemptState.RUNNING,
        started,
        new_lease,
    )
    assert (attempt_b.state, attempt_b.ended_at, attempt_b.exit_code) == (
        AttemptState.ENDED,
        ended,
        0,
    )
    assert (attempt_b.outcome, attempt_b.work_s, attempt_b.lease_until) == ("ok", 300.0, new_lease)
    assert [x.token for x in store.open_attempts()] == ["tok-a"]
    store.update_attempt("tok-a", stop_reason="fence", state=AttemptState.STOPPING)
    stopping = store.attempt("tok-a")
    assert stopping is not None
    assert (stopping.state, stopping.stop_reason) == (AttemptState.STOPPING, "fence")


# -- plans and key-value -------------------------------------------------------------------------


def test_record_plan_writes_the_plan_without_a_new_version(store: Store) -> None:
    a, b = submitted(store, name="a"), submitted(store, name="b")
    start = NOW + timedelta(hours=2, microseconds=9)
    store.record_plan(
        [
            (
                a.id,
                {
                    "cluster": "lab",
                    "planned_start": start,
                    "planned_end": start + timedelta(hours=1),
                    "plan_reason": "low carbon",
                    "expected": {"energy_kwh": 2.0, "cost_usd": 0.4, "carbon_kg": 0.1},
                },
            ),
            (b.id, {"plan_reason": "waiting for capacity", "planned_start": None}),
        ]
    )
    store.record_plan([])
    planned_a, planned_b = store.job(a.id), store.job(b.id)
    assert planned_a is not None
    assert planned_b is not None
    assert (planned_a.version, planned_a.updated_at, planned_a.status) == (
        1,
        NOW,
        JobStatus.PENDING,
    )
    assert (planned_a.cluster, planned_a.plan_reason) == ("lab", "low carbon")
    assert (planned_a.planned_start, planned_a.planned_end) == (start, start + timedelta(hours=1))
    assert planned_a.expected == {"energy_kwh": 2.0, "cost_usd": 0.4, "carbon_kg": 0.1}
    assert (planned_b.version, planned_b.plan_reason, planned_b.planned_start) == (
        1,
        "waiting for capacity",
        None,
    )
    # The engine's next change still applies: the plan did not make ``a`` stale.
    assert store.change(a, NOW, event="dispatch soon").version == 2


def test_key_values_round_trip_insert_then_update(store: Store) -> None:
    assert store.get("planner") is None
    store.put("planner", {"warm": [1, 2, 3], "as_of": "2026-03-01T12:00:00Z"})
    assert store.get("planner") == {"warm": [1, 2, 3], "as_of": "2026-03-01T12:00:00Z"}
    store.put("planner", {"warm": [], "note": "é"})
    assert store.get("planner") == {"warm": [], "note": "é"}
    store.put("count", 3)
    store.put("list", ["a", None, 1.5])
    assert (store.get("count"), store.get("list")) == (3, ["a", None, 1.5])
    with store.engines.reader.connect() as conn:
        assert conn.execute(select(t.kv.c.key).order_by(t.kv.c.key)).scalars().all() == [
            "count",
            "list",
            "planner",
        ]


def test_concurrent_puts_of_a_new_key_never_collide(store: Store) -> None:
    for round_ in range(5):
        key = f"key-{round_}"

        def put(i: int, key: str = key) -> None:
            store.put(key, {"writer": i})

        results = race(8, put)
        assert [r for r in results if isinstance(r, Exception)] == []
        assert store.get(key)["writer"] in range(8)
    with store.engines.reader.connect() as conn:
        assert len(conn.execute(select(t.kv)).fetchall()) == 5


# -- durability (SQLite: the file is ours) -------------------------------------------------------


@SQLITE_ONLY
def test_a_second_store_on_the_file_sees_every_committed_write(store: Store) -> None:
    store.create_team("alpha", 2, NOW)
    job = store.change(submitted(store), NOW, event="noted", done_s=12.5)
    store.put("k", {"v": 1})
    second = Store.open(store.engines.url)  # the first is still open: nothing was flushed by close
    try:
        assert second.job(job.id) == job
        assert second.team("alpha") is not None
        assert second.get("k") == {"v": 1}
        assert second.events(job.id) == store.events(job.id)
    finally:
        second.close()


@SQLITE_ONLY
def test_the_file_uses_wal_and_full_synchronous_writes(store: Store) -> None:
    for engine in (store.engines.writer, store.engines.reader):
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


# -- integrity (SQLite) --------------------------------------------------------------------------


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def _database_file(store: Store) -> Path:
    return Path(store.engines.url.removeprefix("sqlite:///"))


@SQLITE_ONLY
def test_a_corrupted_file_is_refused_and_left_alone(store: Store) -> None:
    for i in range(120):
        submitted(store, name=f"job-{i}", spec={"blob": "x" * 200, "i": i})
    path = _database_file(store)
    store.close()
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # WAL checkpointed
    with path.open("rb") as f:
        page_size = int.from_bytes(f.read(18)[16:18], "big")
    pages = path.stat().st_size // page_size
    assert pages > 4
    with path.open("r+b") as f:
        f.seek((pages // 2) * page_size)
        f.write(b"\xde\xad\xbe\xef" * (page_size // 4))
    before = _snapshot(path.parent)
    with pytest.raises(StoreError, match=r"failed its integrity check|cannot be read") as caught:
        Store.open(sqlite_url(path.parent))
    assert str(path) in caught.value.message
    assert caught.value.hint is not None
    assert "nothing was dispatched" in caught.value.hint
    assert _snapshot(path.parent) == before


@SQLITE_ONLY
def test_a_file_that_is_not_a_database_is_refused_and_left_alone(store: Store) -> None:
    directory = _database_file(store).parent / "elsewhere"
    directory.mkdir()
    path = _database_file(store).parent / "elsewhere" / "gridshift.db"
    path.write_bytes(os.urandom(3 * 4096))
    before = _snapshot(directory)
    with pytest.raises(StoreError, match=r"cannot be read|failed its integrity check") as caught:
        Store.open(sqlite_url(directory))
    assert "not a database" in caught.value.message
    assert _snapshot(directory) == before


# -- PostgreSQL that does not answer -------------------------------------------------------------


def test_an_unreachable_postgresql_is_a_store_error_without_the_password() -> None:
    url = "postgresql://gridshift:s3cr3t-pa55@127.0.0.1:1/gridshift?connect_timeout=5"
    with pytest.raises(StoreError) as caught:
        Store.open(url)
    error = caught.value
    assert "127.0.0.1:1" in error.message
    assert "***" in error.message
    for text_ in (error.message, error.hint or "", str(error), repr(error), error.one_line()):
        assert "s3cr3t-pa55" not in text_
    assert error.__cause__ is None
    assert error.__suppress_context__
