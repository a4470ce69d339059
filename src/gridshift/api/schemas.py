"""The API's payloads (Prefect's split: what comes in, what goes out), as pydantic models so the
OpenAPI document describes every answer exactly."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gridshift.domain.redact import REDACTED, redact_spec, redact_text, secret_values
from gridshift.domain.timeutil import to_iso
from gridshift.store import JobRow


def scrub(value: Any, secrets: Sequence[str]) -> Any:
    """``value`` with each of ``secrets`` replaced wherever it appears, at any depth."""
    if isinstance(value, str):
        return redact_text(value, secrets)
    if isinstance(value, Mapping):
        return {k: scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v, secrets) for v in value]
    if isinstance(value, int | float) and not isinstance(value, bool) and str(value) in secrets:
        return REDACTED
    return value


class Outcome(BaseModel):
    energy_kwh: float
    cost_usd: float
    carbon_kg: float


class JobOut(BaseModel):
    id: str
    status: str
    team: str
    name: str
    reason: str
    priority: str
    gpus: int
    duration_s: float
    submitted_at: str
    release_at: str
    deadline: str
    done_s: float
    attempts: int
    infra_failures: int
    user_failures: int
    urgent: bool
    cancel_requested: bool
    cluster: str | None
    planned_start: str | None
    planned_end: str | None
    plan_reason: str | None
    expected: Outcome | None
    run_now: Outcome | None
    finished_at: str | None
    spec: dict[str, Any] = Field(description="the job spec as submitted; secret env redacted")

    @classmethod
    def of(cls, row: JobRow) -> JobOut:
        # A secret can reach free text too: an executor's error quotes what it was given.
        secrets = secret_values(row.spec.get("env") or {})
        return cls(
            id=row.id,
            status=row.status.value,
            team=row.team,
            name=redact_text(row.name, secrets),
            reason=redact_text(row.reason, secrets),
            priority=row.priority,
            gpus=row.gpus,
            duration_s=row.duration_s,
            submitted_at=to_iso(row.submitted_at),
            release_at=to_iso(row.release_at),
            deadline=to_iso(row.deadline),
            done_s=round(row.done_s, 3),
            attempts=row.attempts,
            infra_failures=row.infra_failures,
            user_failures=row.user_failures,
            urgent=row.urgent,
            cancel_requested=row.cancel_requested,
            cluster=row.cluster,
            planned_start=to_iso(row.planned_start) if row.planned_start else None,
            planned_end=to_iso(row.planned_end) if row.planned_end else None,
            plan_reason=redact_text(row.plan_reason, secrets) if row.plan_reason else None,
            expected=Outcome(**row.expected) if row.expected else None,
            run_now=Outcome(**row.run_now) if row.run_now else None,
            finished_at=to_iso(row.finished_at) if row.finished_at else None,
            spec=scrub(redact_spec(row.spec), secrets),
        )


class JobPage(BaseModel):
    items: list[JobOut]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page")


class Event(BaseModel):
    at: str
    kind: str
    message: str


class Attempt(BaseModel):
    n: int
    token: str
    cluster: str
    gpus: int
    state: str
    power_cap_w: float | None
    resume: bool
    started_at: str | None
    ended_at: str | None
    exit_code: int | None
    outcome: str | None
    work_s: float


class JobDetail(JobOut):
    attempts_detail: list[Attempt]
    events: list[Event]


class TeamIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    gpu_quota: int | None = Field(default=None, ge=0, le=1_000_000)

    @field_validator("gpu_quota", mode="before")
    @classmethod
    def _whole_number(cls, value: Any) -> Any:
        # pydantic's lax mode would make true a quota of 1 and "8" one of 8 (JSON's 8.0 stays)
        if isinstance(value, bool | str):
            raise ValueError("a whole number, not true, false or text")
        return value


class TeamOut(BaseModel):
    name: str
    gpu_quota: int | None
    created_at: str


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    team: str = Field(min_length=1, max_length=64)
    role: str = Field(pattern=r"^(member|operator|admin)$")


class TokenOut(BaseModel):
    id: str
    team: str
    role: str
    token: str = Field(description="the secret; shown once, stored only as a hash")


class TokenInfo(BaseModel):
    id: str
    team: str
    role: str
    created_at: str
    revoked_at: str | None


class ClusterOut(BaseModel):
    name: str
    zone: str
    executor: str
    gpus: int | None
    gpus_in_use: int
    gpu_type: str
    pue: float
    capabilities: dict[str, bool]
    signals: dict[str, float | None]
    running_jobs: int


class SignalOut(BaseModel):
    zone: str
    kind: str
    unit: str
    as_of: str
    model: str
    quality: str
    note: str | None
    current: float | None
    forecast: list[dict[str, Any]]


class Health(BaseModel):
    status: str
    store: str
    engine: dict[str, Any]
