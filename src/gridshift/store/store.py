"""The store: the only module that touches the database (DESIGN.md §2).

Every change of a job's status goes through ``change`` — the guarded transition: the status table
of ``domain.status`` and a compare-and-set on the job's version (RELIABILITY.md mechanism 4), in
one transaction with the event that says why. A lost race raises ``ConflictError`` (the API answers
409; the engine re-reads and decides again next pass). The dispatch intent (mechanism 1) is one
transaction that moves the job to ``running`` and records the attempt and its token *before* the
executor is called.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Insert, bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from gridshift.domain import GridshiftError, UserError
from gridshift.domain.status import (
    ACTIVE,
    AttemptState,
    JobStatus,
    TransitionError,
    check_transition,
)
from gridshift.store import tables as t
from gridshift.store.db import Engines, open_database
from gridshift.store.records import (
    ActiveRow,
    AttemptRow,
    EventRow,
    JobRow,
    TeamRow,
    TokenRow,
    at,
    from_epoch,
    to_epoch,
)

ROLES = ("member", "operator", "admin")
PLAN_BATCH = 250  # plan rows written per transaction
JOB_INSERT = insert(t.jobs)
EVENT_INSERT = insert(t.events)


class ConflictError(GridshiftError):
    """A lost race (the row changed since it was read) or a name already taken."""


def new_job_id() -> str:
    """Time-ordered ids, so that listing by id follows submission order."""
    return f"j{time.time_ns() // 1000:014x}{secrets.token_hex(3)}"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class NewJob:
    team: str
    name: str
    spec: dict[str, Any]
    submitted_at: datetime
    release_at: datetime
    deadline: datetime
    priority: str
    gpus: int
    duration_s: float
    idempotency_key: str | None = None
    status: JobStatus = JobStatus.PENDING
    reason: str = "accepted"
    planned: Mapping[str, Any] | None = None  # plan columns known at submission (a quote)


class Store:
    def __init__(self, engines: Engines) -> None:
        self.engines = engines
        # SQLite has one writer at a time; writers of this process queue on a lock (woken at
        # once) rather than in SQLite's busy handler (which sleeps in steps of up to 100 ms).
        self._write_lock = threading.Lock() if engines.sqlite else None

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        if self._write_lock is None:
            with self.engines.writer.begin() as conn:
                yield conn
            return
        with self._write_lock, self.engines.writer.begin() as conn:
            yield conn

    @classmethod
    def open(cls, url: str) -> Store:
        return cls(open_database(url))

    def close(self) -> None:
        self.engines.dispose()

    @property
    def dialect(self) -> str:
        return self.engines.writer.dialect.name

    # -- teams and tokens ------------------------------------------------------------------

    def create_team(self, name: str, gpu_quota: int | None, now: datetime) -> TeamRow:
        try:
            with self._write() as conn:
                conn.execute(
                    insert(t.teams).values(name=name, gpu_quota=gpu_quota, created_at=to_epoch(now))
                )
        except IntegrityError:
            raise ConflictError(f"a team named {name!r} exists", hint="pick another name") from None
        return TeamRow(name, gpu_quota, now)

    def team(self, name: str) -> TeamRow | None:
        with self.engines.reader.connect() as conn:
            row = conn.execute(select(t.teams).where(t.teams.c.name == name)).first()
        if row is None:
            return None
        return TeamRow(row.name, row.gpu_quota, at(row.created_at))

    def teams(self) -> list[TeamRow]:
        with self.engines.reader.connect() as conn:
            rows = conn.execute(select(t.teams).order_by(t.teams.c.name)).fetchall()
        return [TeamRow(r.name, r.gpu_quota, at(r.created_at)) for r in rows]

    def create_token(self, team: str, role: str, now: datetime) -> tuple[TokenRow, str]:
        """A new token; the secret is returned once and stored only as its SHA-256."""
        if role not in ROLES:
            raise UserError(f"unknown role {role!r}", hint=f"use one of {', '.join(ROLES)}")
        if self.team(team) is None:
            raise UserError(f"no team named {team!r}", hint="create it first: POST /teams")
        token_id = f"t{secrets.token_hex(6)}"
        secret = f"gs_{secrets.token_urlsafe(32)}"
        with self._write() as conn:
            conn.execute(
                insert(t.tokens).values(
                    id=token_id,
                    team=team,
                    role=role,
                    secret_sha256=hash_secret(secret),
                    created_at=to_epoch(now),
                )
            )
        return TokenRow(token_id, team, role, now), secret

    def token_for(self, secret: str) -> TokenRow | None:
        with self.engines.reader.connect() as conn:
            row = conn.execute(
                select(t.tokens).where(
                    t.tokens.c.secret_sha256 == hash_secret(secret), t.tokens.c.revoked_at.is_(None)
                )
            ).first()
        if row is None:
            return None
        return TokenRow(row.id, row.team, row.role, at(row.created_at))

    def tokens(self) -> list[TokenRow]:
        """Every token (never its secret), oldest first."""
        with self.engines.reader.connect() as conn:
            rows = conn.execute(select(t.tokens).order_by(t.tokens.c.created_at)).fetchall()
        return [
            TokenRow(r.id, r.team, r.role, at(r.created_at), from_epoch(r.revoked_at)) for r in rows
        ]

    def revoke_token(self, token_id: str, now: datetime) -> TokenRow | None:
        """Revoke a token at once (every later request with it is 401); None if unknown. A
        token revoked before keeps its first revocation time."""
        with self._write() as conn:
            conn.execute(
                update(t.tokens)
                .where(t.tokens.c.id == token_id, t.tokens.c.revoked_at.is_(None))
                .values(revoked_at=to_epoch(now))
            )
            row = conn.execute(select(t.tokens).where(t.tokens.c.id == token_id)).first()
        if row is None:
            return None
        return TokenRow(row.id, row.team, row.role, at(row.created_at), from_epoch(row.revoked_at))

    # -- jobs ------------------------------------------------------------------------------

    def submit(self, new: NewJob) -> tuple[JobRow, bool]:
        """Insert a job; with an idempotency key already used by the team, the first job is
        returned instead (``created`` False) and nothing changes."""
        if new.idempotency_key is not None:
            first = self._by_key(new.team, new.idempotency_key)
            if first is not None:
                return first, False
        now = to_epoch(new.submitted_at)
        values = {
            "id": new_job_id(),
            "team": new.team,
            "name": new.name,
            "status": new.status.value,
            "version": 1,
            "reason": new.reason,
            "spec": new.spec,
            "idempotency_key": new.idempotency_key,
            "submitted_at": now,
            "release_at": to_epoch(new.release_at),
            "deadline": to_epoch(new.deadline),
            "priority": new.priority,
            "gpus": new.gpus,
            "duration_s": new.duration_s,
            "done_s": 0.0,
            "attempts": 0,
            "infra_failures": 0,
            "user_failures": 0,
            "urgent": False,
            "cancel_requested": False,
            "updated_at": now,
            "finished_at": now if new.status.terminal else None,
            **_epochs(new.planned or {}),
        }
        try:
            with self._write() as conn:
                conn.execute(JOB_INSERT, values)  # one cached statement, values bound
                self._event(conn, values["id"], now, new.status.value, new.reason)
        except IntegrityError:
            if new.idempotency_key is not None:  # a concurrent retry with the same key won
                first = self._by_key(new.team, new.idempotency_key)
                if first is not None:
                    return first, False
            raise
        defaults = {c.name: None for c in t.jobs.columns}
        return JobRow.of({**defaults, **values}), True

    def _by_key(self, team: str, key: str) -> JobRow | None:
        with self.engines.reader.connect() as conn:
            row = conn.execute(
                select(t.jobs).where(t.jobs.c.team == team, t.jobs.c.idempotency_key == key)
            ).first()
        return None if row is None else JobRow.of(row)

    def job(self, job_id: str) -> JobRow | None:
        with self.engines.reader.connect() as conn:
            row = conn.execute(select(t.jobs).where(t.jobs.c.id == job_id)).first()
        return None if row is None else JobRow.of(row)

    def jobs(
        self,
        *,
        team: str | None = None,
        statuses: Iterable[JobStatus] | None = None,
        name: str | None = None,
        after: str | None = None,
        limit: int | None = None,
    ) -> list[JobRow]:
        """Jobs in id (submission) order, after the id ``after`` (keyset pagination)."""
        query = select(t.jobs).order_by(t.jobs.c.id)
        if team is not None:
            query = query.where(t.jobs.c.team == team)
        if statuses is not None:
            query = query.where(t.jobs.c.status.in_([s.value for s in statuses]))
        if name is not None:
            query = query.where(t.jobs.c.name == name)
        if after is not None:
            query = query.where(t.jobs.c.id > after)
        if limit is not None:
            query = query.limit(limit)
        with self.engines.reader.connect() as conn:
            return [JobRow.of(r) for r in conn.execute(query).fetchall()]

    def jobs_by_ids(self, ids: Sequence[str]) -> list[JobRow]:
        out: list[JobRow] = []
        with self.engines.reader.connect() as conn:
            for i in range(0, len(ids), 500):
                chunk = list(ids[i : i + 500])
                rows = conn.execute(select(t.jobs).where(t.jobs.c.id.in_(chunk))).fetchall()
                out.extend(JobRow.of(r) for r in rows)
        return out

    def near_deadline(self, now: datetime, margin_s: float) -> list[JobRow]:
        """Pending and paused jobs whose deadline, less the work they have left, is within
        ``margin_s`` of ``now`` (or past): what the deadline watchdog and expiry look at."""
        left = t.jobs.c.duration_s - t.jobs.c.done_s
        query = select(t.jobs).where(
            t.jobs.c.status.in_([JobStatus.PENDING.value, JobStatus.PAUSED.value]),
            t.jobs.c.deadline - left <= to_epoch(now) + margin_s,
        )
        with self.engines.reader.connect() as conn:
            return [JobRow.of(r) for r in conn.execute(query).fetchall()]

    def active_rows(self) -> list[ActiveRow]:
        c = t.jobs.c
        query = (
            select(c.id, c.team, c.status, c.done_s, c.urgent, c.cancel_requested)
            .where(c.status.in_([s.value for s in ACTIVE]))
            .order_by(c.id)
        )
        with self.engines.reader.connect() as conn:
            return [
                ActiveRow(r[0], r[1], JobStatus(r[2]), r[3], bool(r[4]), bool(r[5]))
                for r in conn.execute(query).fetchall()
            ]

    def specs(self, ids: Sequence[str]) -> dict[str, tuple[dict[str, Any], datetime]]:
        """Each job's spec as submitted and its submission time."""
        out: dict[str, tuple[dict[str, Any], datetime]] = {}
        c = t.jobs.c
        with self.engines.reader.connect() as conn:
            for i in range(0, len(ids), 500):
                query = select(c.id, c.spec, c.submitted_at).where(c.id.in_(list(ids[i : i + 500])))
                for job_id, spec, submitted in conn.execute(query).fetchall():
                    out[job_id] = (spec, at(submitted))
        return out

    def active_jobs(self) -> list[JobRow]:
        return self.jobs(statuses=ACTIVE)

    def count_by_status(self, team: str | None = None) -> dict[str, int]:
        query = select(t.jobs.c.status, func.count()).group_by(t.jobs.c.status)
        if team is not None:
            query = query.where(t.jobs.c.team == team)
        with self.engines.reader.connect() as conn:
            return {str(s): int(n) for s, n in conn.execute(query).fetchall()}

    def change(
        self,
        job: JobRow,
        now: datetime,
        *,
        status: JobStatus | None = None,
        reason: str | None = None,
        event: str | None = None,
        attempt: tuple[str, Mapping[str, Any]] | None = None,
        **fields: Any,
    ) -> JobRow:
        """The guarded transition: ``job`` (as read) to ``status`` with ``fields``, if the row
        is still at ``job.version``; the attempt update and the event in the same transaction.
        Raises ``ConflictError`` on a lost race, ``TransitionError`` on a forbidden change."""
        new_status = status or job.status
        check_transition(job.status, new_status)
        values = _epochs(fields)
        values["version"] = job.version + 1
        values["updated_at"] = to_epoch(now)
        if status is not None:
            values["status"] = status.value
            if status.terminal:
                values["finished_at"] = to_epoch(now)
        if reason is not None:
            values["reason"] = reason
        with self._write() as conn:
            done = conn.execute(
                update(t.jobs)
                .where(t.jobs.c.id == job.id, t.jobs.c.version == job.version)
                .values(**values)
            )
            if done.rowcount != 1:
                raise ConflictError(
                    f"job {job.id} changed meanwhile (version {job.version} is stale)",
                    hint="read it again and retry",
                )
            if attempt is not None:
                token, changes = attempt
                conn.execute(
                    update(t.attempts).where(t.attempts.c.token == token).values(**_epochs(changes))
                )
            text = event or (reason if reason is not None else "")
            if status is not None or event is not None:
                kind = status.value if status is not None and status != job.status else "note"
                self._event(conn, job.id, to_epoch(now), kind, text)
            row = conn.execute(select(t.jobs).where(t.jobs.c.id == job.id)).one()
        return JobRow.of(row)

    def record_plan(self, plans: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        """The plan's columns of many jobs (advisory, engine-owned: no version change)."""
        if not plans:
            return
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for job_id, fields in plans:
            values = _epochs(fields)
            row = {"_id": job_id, **{f"v_{k}": v for k, v in values.items()}}
            groups.setdefault(tuple(sorted(values)), []).append(row)
        for keys, rows in groups.items():  # one executemany per set of columns
            statement = (
                update(t.jobs)
                .where(t.jobs.c.id == bindparam("_id"))
                .values({k: bindparam(f"v_{k}") for k in keys})
            )
            # Short transactions, so that submissions never wait long for the write lock.
            for i in range(0, len(rows), PLAN_BATCH):
                with self._write() as conn:
                    conn.execute(statement, rows[i : i + PLAN_BATCH])

    # -- attempts --------------------------------------------------------------------------

    def dispatch_intent(
        self,
        job: JobRow,
        now: datetime,
        *,
        token: str,
        cluster: str,
        gpus: int,
        power_cap_w: float | None,
        resume: bool,
        lease_until: datetime,
        reason: str,
    ) -> tuple[JobRow, AttemptRow]:
        """Write-ahead: the job goes to ``running`` and its attempt is recorded as
        ``dispatching`` in one transaction, before the executor hears of it. Only a pending or
        paused job is dispatched: a running one already has an attempt, and two attempts of one
        job never overlap (RELIABILITY.md)."""
        check_transition(job.status, JobStatus.RUNNING)
        if job.status not in (JobStatus.PENDING, JobStatus.PAUSED):
            raise TransitionError(
                f"a {job.status.value} job cannot be dispatched: only pending or paused ones"
            )
        n = job.attempts + 1
        stamp = to_epoch(now)
        with self._write() as conn:
            done = conn.execute(
                update(t.jobs)
                .where(t.jobs.c.id == job.id, t.jobs.c.version == job.version)
                .values(
                    status=JobStatus.RUNNING.value,
                    version=job.version + 1,
                    attempts=n,
                    cluster=cluster,
                    reason=reason,
                    updated_at=stamp,
                )
            )
            if done.rowcount != 1:
                raise ConflictError(f"job {job.id} changed meanwhile", hint="read it again")
            conn.execute(
                insert(t.attempts).values(
                    token=token,
                    job_id=job.id,
                    n=n,
                    cluster=cluster,
                    gpus=gpus,
                    power_cap_w=power_cap_w,
                    resume=resume,
                    state=AttemptState.DISPATCHING.value,
                    intent_at=stamp,
                    lease_until=to_epoch(lease_until),
                    work_s=0.0,
                )
            )
            self._event(conn, job.id, stamp, "dispatch", f"attempt {n} ({token}): {reason}")
            row = conn.execute(select(t.jobs).where(t.jobs.c.id == job.id)).one()
            attempt = conn.execute(select(t.attempts).where(t.attempts.c.token == token)).one()
        return JobRow.of(row), AttemptRow.of(attempt)

    def update_attempt(self, token: str, **fields: Any) -> None:
        with self._write() as conn:
            conn.execute(
                update(t.attempts).where(t.attempts.c.token == token).values(**_epochs(fields))
            )

    def renew_leases(self, tokens: Sequence[str], lease_until: datetime) -> None:
        if not tokens:
            return
        with self._write() as conn:
            conn.execute(
                update(t.attempts)
                .where(t.attempts.c.token.in_(list(tokens)))
                .values(lease_until=to_epoch(lease_until))
            )

    def open_attempts(self) -> list[AttemptRow]:
        with self.engines.reader.connect() as conn:
            rows = conn.execute(
                select(t.attempts)
                .where(t.attempts.c.state != AttemptState.ENDED.value)
                .order_by(t.attempts.c.intent_at)
            ).fetchall()
        return [AttemptRow.of(r) for r in rows]

    def attempts(self, job_id: str | None = None) -> list[AttemptRow]:
        query = select(t.attempts).order_by(t.attempts.c.job_id, t.attempts.c.n)
        if job_id is not None:
            query = query.where(t.attempts.c.job_id == job_id)
        with self.engines.reader.connect() as conn:
            return [AttemptRow.of(r) for r in conn.execute(query).fetchall()]

    def attempt(self, token: str) -> AttemptRow | None:
        with self.engines.reader.connect() as conn:
            row = conn.execute(select(t.attempts).where(t.attempts.c.token == token)).first()
        return None if row is None else AttemptRow.of(row)

    # -- events and key-value --------------------------------------------------------------

    @staticmethod
    def _event(conn: Connection, job_id: str, stamp: float, kind: str, message: str) -> None:
        conn.execute(
            EVENT_INSERT,
            {"job_id": job_id, "at": stamp, "kind": kind, "message": message[:4000]},
        )

    def events(self, job_id: str) -> list[EventRow]:
        with self.engines.reader.connect() as conn:
            rows = conn.execute(
                select(t.events).where(t.events.c.job_id == job_id).order_by(t.events.c.id)
            ).fetchall()
        return [EventRow(r.job_id, at(r.at), r.kind, r.message) for r in rows]

    def put(self, key: str, value: Any) -> None:
        """Insert or replace ``key``'s value: one upsert, so that concurrent puts of a new key
        never collide (an update-then-insert raced into a unique violation on PostgreSQL)."""
        if self.dialect == "postgresql":
            pg = postgresql.insert(t.kv).values(key=key, value=value)
            upsert: Insert = pg.on_conflict_do_update(
                index_elements=[t.kv.c.key], set_={"value": pg.excluded.value}
            )
        else:
            lite = sqlite.insert(t.kv).values(key=key, value=value)
            upsert = lite.on_conflict_do_update(
                index_elements=[t.kv.c.key], set_={"value": lite.excluded.value}
            )
        with self._write() as conn:
            conn.execute(upsert)

    def get(self, key: str) -> Any:
        with self.engines.reader.connect() as conn:
            row = conn.execute(select(t.kv.c.value).where(t.kv.c.key == key)).first()
        return None if row is None else row[0]


def _epochs(fields: Mapping[str, Any]) -> dict[str, Any]:
    return {k: to_epoch(v) if isinstance(v, datetime) else v for k, v in fields.items()}
