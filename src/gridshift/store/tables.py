"""The database schema (SQLAlchemy Core). Migrations in ``migrations/`` create exactly this;
a contract test compares the two.

Times are stored as UTC epoch seconds (double precision) so that SQLite and PostgreSQL agree to
the microsecond without time-zone handling; the store converts at its edge.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

teams = Table(
    "teams",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("gpu_quota", Integer, nullable=True),  # GPUs the team's running jobs may hold at once
    Column("created_at", Float, nullable=False),
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", String(32), primary_key=True),  # public id, the secret's prefix is not stored
    Column("team", String(64), ForeignKey("teams.name"), nullable=False),
    Column("role", String(16), nullable=False),
    Column("secret_sha256", String(64), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    Column("revoked_at", Float, nullable=True),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(40), primary_key=True),  # time-ordered: pagination follows submission
    Column("team", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("version", Integer, nullable=False),  # optimistic concurrency
    Column("reason", Text, nullable=False),
    Column("spec", JSON, nullable=False),  # the job spec as submitted (env values included)
    Column("idempotency_key", String(200), nullable=True),
    Column("submitted_at", Float, nullable=False),
    Column("release_at", Float, nullable=False),
    Column("deadline", Float, nullable=False),
    Column("priority", String(16), nullable=False),
    Column("gpus", Integer, nullable=False),
    Column("duration_s", Float, nullable=False),
    Column("done_s", Float, nullable=False),  # work completed (checkpointed), seconds
    Column("attempts", Integer, nullable=False),  # attempts started
    Column("infra_failures", Integer, nullable=False),
    Column("user_failures", Integer, nullable=False),
    Column("urgent", Boolean, nullable=False),  # the deadline watchdog fired
    Column("cancel_requested", Boolean, nullable=False),
    Column("cluster", String(64), nullable=True),  # planned (or running) cluster
    Column("planned_start", Float, nullable=True),
    Column("planned_end", Float, nullable=True),
    Column("plan_reason", Text, nullable=True),
    Column("expected", JSON, nullable=True),  # {"energy_kwh", "cost_usd", "carbon_kg"}
    Column("run_now", JSON, nullable=True),  # the run-now counterfactual, same keys
    Column("updated_at", Float, nullable=False),
    Column("finished_at", Float, nullable=True),
    UniqueConstraint("team", "idempotency_key", name="uq_jobs_team_idempotency_key"),
)
Index("ix_jobs_status", jobs.c.status)
Index("ix_jobs_team_id", jobs.c.team, jobs.c.id)

attempts = Table(
    "attempts",
    metadata,
    Column("token", String(64), primary_key=True),
    Column("job_id", String(40), ForeignKey("jobs.id"), nullable=False),
    Column("n", Integer, nullable=False),
    Column("cluster", String(64), nullable=False),
    Column("gpus", Integer, nullable=False),
    Column("power_cap_w", Float, nullable=True),
    Column("resume", Boolean, nullable=False),
    Column("state", String(16), nullable=False),
    Column("intent_at", Float, nullable=False),  # the write-ahead intent
    Column("started_at", Float, nullable=True),  # the executor accepted it
    Column("lease_until", Float, nullable=True),
    Column("stop_reason", String(32), nullable=True),  # pause | resize | cancel | fence
    Column("ended_at", Float, nullable=True),
    Column("exit_code", Integer, nullable=True),
    Column("outcome", Text, nullable=True),
    Column("work_s", Float, nullable=False),  # work this attempt is credited with
    UniqueConstraint("job_id", "n", name="uq_attempts_job_n"),
)
Index("ix_attempts_state", attempts.c.state)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", String(40), nullable=False),
    Column("at", Float, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("message", Text, nullable=False),
)
Index("ix_events_job_id", events.c.job_id)

kv = Table(
    "kv",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", JSON, nullable=False),
)
