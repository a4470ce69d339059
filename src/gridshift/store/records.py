"""What the store hands out: plain frozen records with timezone-aware UTC times."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gridshift.domain.status import AttemptState, JobStatus


def to_epoch(t: datetime) -> float:
    return t.timestamp()


def from_epoch(x: float | None) -> datetime | None:
    return None if x is None else datetime.fromtimestamp(x, UTC)


def at(x: float) -> datetime:
    return datetime.fromtimestamp(x, UTC)


@dataclass(frozen=True)
class TeamRow:
    name: str
    gpu_quota: int | None
    created_at: datetime


@dataclass(frozen=True)
class TokenRow:
    id: str
    team: str
    role: str
    created_at: datetime
    revoked_at: datetime | None = None


@dataclass(frozen=True)
class JobRow:
    id: str
    team: str
    name: str
    status: JobStatus
    version: int
    reason: str
    spec: dict[str, Any]
    idempotency_key: str | None
    submitted_at: datetime
    release_at: datetime
    deadline: datetime
    priority: str
    gpus: int
    duration_s: float
    done_s: float
    attempts: int
    infra_failures: int
    user_failures: int
    urgent: bool
    cancel_requested: bool
    cluster: str | None
    planned_start: datetime | None
    planned_end: datetime | None
    plan_reason: str | None
    expected: dict[str, float] | None
    run_now: dict[str, float] | None
    updated_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, row: Any) -> JobRow:
        """From a result row, or from the mapping of values that was inserted."""
        m = row._mapping if hasattr(row, "_mapping") else row
        return cls(
            id=m["id"],
            team=m["team"],
            name=m["name"],
            status=JobStatus(m["status"]),
            version=m["version"],
            reason=m["reason"],
            spec=m["spec"],
            idempotency_key=m["idempotency_key"],
            submitted_at=at(m["submitted_at"]),
            release_at=at(m["release_at"]),
            deadline=at(m["deadline"]),
            priority=m["priority"],
            gpus=m["gpus"],
            duration_s=m["duration_s"],
            done_s=m["done_s"],
            attempts=m["attempts"],
            infra_failures=m["infra_failures"],
            user_failures=m["user_failures"],
            urgent=bool(m["urgent"]),
            cancel_requested=bool(m["cancel_requested"]),
            cluster=m["cluster"],
            planned_start=from_epoch(m["planned_start"]),
            planned_end=from_epoch(m["planned_end"]),
            plan_reason=m["plan_reason"],
            expected=m["expected"],
            run_now=m["run_now"],
            updated_at=at(m["updated_at"]),
            finished_at=from_epoch(m["finished_at"]),
        )


@dataclass(frozen=True)
class ActiveRow:
    """What a re-plan reads of each active job (no JSON: cheap for ten thousand rows)."""

    id: str
    team: str
    status: JobStatus
    done_s: float
    urgent: bool
    cancel_requested: bool


@dataclass(frozen=True)
class AttemptRow:
    token: str
    job_id: str
    n: int
    cluster: str
    gpus: int
    power_cap_w: float | None
    resume: bool
    state: AttemptState
    intent_at: datetime
    started_at: datetime | None
    lease_until: datetime | None
    stop_reason: str | None
    ended_at: datetime | None
    exit_code: int | None
    outcome: str | None
    work_s: float

    @classmethod
    def of(cls, row: Any) -> AttemptRow:
        m = row._mapping
        return cls(
            token=m["token"],
            job_id=m["job_id"],
            n=m["n"],
            cluster=m["cluster"],
            gpus=m["gpus"],
            power_cap_w=m["power_cap_w"],
            resume=bool(m["resume"]),
            state=AttemptState(m["state"]),
            intent_at=at(m["intent_at"]),
            started_at=from_epoch(m["started_at"]),
            lease_until=from_epoch(m["lease_until"]),
            stop_reason=m["stop_reason"],
            ended_at=from_epoch(m["ended_at"]),
            exit_code=m["exit_code"],
            outcome=m["outcome"],
            work_s=m["work_s"],
        )


@dataclass(frozen=True)
class EventRow:
    job_id: str
    at: datetime
    kind: str
    message: str
