"""Taking in a job: the spec validated once at the boundary, the checks that make a job
*unschedulable* at once (no cluster can ever run it), the quote (``engine.quote``: where and
when it would run alone on the current forecast, and the run-now counterfactual), then the
store. The next re-plan (at once: a submission is an event) places it among the others and may
move it; ``GET /jobs/{id}`` shows the current plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gridshift.config.jobs import job_from_data
from gridshift.config.site import SiteConfig
from gridshift.domain import ConfigError, Job
from gridshift.domain.status import JobStatus
from gridshift.engine.quote import QuoteTables, quote
from gridshift.store import JobRow, NewJob, Store


@dataclass(frozen=True)
class Submitted:
    row: JobRow
    created: bool


def parse_spec(
    data: Any, site: SiteConfig, now: datetime, team: str, job_id: str | None = None
) -> Job:
    """The job spec as a ``Job``, or one ``ConfigError`` naming the field and the fix."""
    job = job_from_data(data, source="request body", submitted_at=now, site=site, job_id=job_id)
    if not job.command:
        raise ConfigError(
            "a job submitted to the control plane needs a command to run",
            source="request body",
            field="command",
            value=None,
            accepted='a command line such as "python train.py" or a list of arguments',
        )
    if isinstance(data, dict) and data.get("team") not in (None, team):
        raise ConfigError(
            "a job belongs to the team of the token that submits it",
            source="request body",
            field="team",
            value=data.get("team"),
            accepted=f"{team!r} or leave it out",
        )
    return job


def never_runs(job: Job, site: SiteConfig) -> str | None:
    """Why no configured cluster can ever run ``job``, or None."""
    allowed = [c for c in site.clusters if not job.zones or c.zone in job.zones]
    if not allowed:
        return f"no cluster serves the zones {', '.join(job.zones)}"
    if job.gpu_type is not None:
        typed = [c for c in allowed if c.gpu_type.upper() == job.gpu_type.upper()]
        if not typed:
            kinds = sorted({c.gpu_type for c in allowed})
            return f"no allowed cluster has {job.gpu_type} GPUs (they have {', '.join(kinds)})"
        allowed = typed
    need = job.elastic.min_gpus if job.elastic else job.gpus
    biggest = max((c.gpus if c.gpus is not None else need for c in allowed), default=0)
    if need > biggest:
        return f"it needs {need} GPUs and the largest allowed cluster has {biggest}"
    return None


def submit(
    store: Store,
    site: SiteConfig,
    data: Any,
    *,
    team: str,
    now: datetime,
    tables: QuoteTables | None,
    idempotency_key: str | None,
) -> Submitted:
    job = parse_spec(data, site, now, team)
    spec = dict(data)
    spec.pop("team", None)
    why_not = never_runs(job, site)
    planned: dict[str, Any] = {}
    if why_not is None and tables is not None:
        planned = quote(job, site, tables)
    new = NewJob(
        team=team,
        name=job.name,
        spec=spec,
        submitted_at=now,
        release_at=job.release,
        deadline=job.deadline,
        priority=job.priority.value,
        gpus=job.gpus,
        duration_s=job.duration_s,
        idempotency_key=idempotency_key,
        status=JobStatus.UNSCHEDULABLE if why_not else JobStatus.PENDING,
        reason=f"unschedulable: {why_not}" if why_not else "accepted",
        planned=planned,
    )
    row, created = store.submit(new)
    return Submitted(row, created)
