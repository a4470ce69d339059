"""Job specs (DESIGN.md §3.3) as ``Job`` records: one YAML file, or a folder of them.

``within:`` is resolved against the submission time, which the caller passes (the clock is
injected; nothing here reads it). Checked here besides the shapes: durations, zoned times,
``deadline`` xor ``within``, the deadline against the earliest possible finish, elastic bounds,
and, given a site, that every placement zone is served by a configured cluster.
"""

from __future__ import annotations

import shlex
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from gridshift.config import schema
from gridshift.config.site import SiteConfig
from gridshift.config.units import parse_duration, parse_nonnegative_duration, parse_time
from gridshift.config.yamlio import read_yaml
from gridshift.domain import (
    ConfigError,
    Elastic,
    Interruptible,
    Job,
    JobKind,
    Priority,
)

JOB_FILE_SUFFIXES = (".yaml", ".yml")


def _command(value: str | list[str] | None, source: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, list):
        return tuple(value)
    try:
        return tuple(shlex.split(value))
    except ValueError as exc:
        raise ConfigError(
            f"command cannot be split into arguments ({exc})",
            source=source,
            field="command",
            value=value,
            accepted="balanced quotes, or a list of arguments",
        ) from None


def _no_nul(spec: schema.JobSpec) -> None:
    """A NUL cannot reach a process's argv, env or path: refused here, not after four failed
    attempts."""
    texts: list[tuple[str, str]] = [("name", spec.name)]
    command = spec.command if isinstance(spec.command, list) else [spec.command or ""]
    texts += [(f"command[{i}]", str(arg)) for i, arg in enumerate(command)]
    texts += [(f"env.{k}", f"{k}{v}") for k, v in spec.env.items()]
    if spec.workdir is not None:
        texts.append(("workdir", spec.workdir))
    for field, text in texts:
        if "\x00" in text:
            raise ConfigError(
                "contains a NUL character",
                field=field,
                value=text.replace("\x00", "\\0"),
                accepted="text without NUL characters",
            )


def job_from_data(
    data: Any,
    *,
    source: str,
    submitted_at: datetime,
    site: SiteConfig | None = None,
    job_id: str | None = None,
) -> Job:
    """A ``Job`` from a parsed job spec; every problem is one ``ConfigError`` in ``source``."""
    spec = schema.validate(schema.JobSpec, data, source)
    try:
        duration_s = parse_duration(spec.duration, field="duration")
        if spec.deadline is not None and spec.within is not None:
            raise ConfigError(
                "give either deadline or within, not both",
                field="within",
                value=spec.within,
                accepted="deadline: <time> or within: <duration>",
            )
        if spec.deadline is not None:
            deadline = parse_time(spec.deadline, field="deadline")
        elif spec.within is not None:
            deadline = submitted_at + timedelta(seconds=parse_duration(spec.within, field="within"))
        else:
            raise ConfigError(
                "a job needs a deadline",
                field="deadline",
                value=None,
                accepted="deadline: 2026-11-27T09:00:00Z or within: 24h",
            )
        earliest = (
            parse_time(spec.earliest_start, field="earliest_start") if spec.earliest_start else None
        )
        interruptible = None
        if isinstance(spec.interruptible, schema.InterruptibleSpec):
            interruptible = Interruptible(
                parse_nonnegative_duration(
                    spec.interruptible.checkpoint_overhead,
                    field="interruptible.checkpoint_overhead",
                )
            )
        elif spec.interruptible is True:
            interruptible = Interruptible()
        elastic = (
            Elastic(min_gpus=spec.elastic.min_gpus, max_gpus=spec.elastic.max_gpus)
            if spec.elastic
            else None
        )
        zones = tuple(spec.placement.zones) if spec.placement else ()
        if site is not None:
            served = set(site.zones)
            for j, zone in enumerate(zones):
                if zone not in served:
                    raise ConfigError(
                        "no configured cluster serves this zone",
                        field=f"placement.zones[{j}]",
                        value=zone,
                        accepted=f"zones with clusters: {', '.join(sorted(served))}",
                    )
        _no_nul(spec)
        return Job(
            id=job_id or spec.name,
            name=spec.name,
            kind=JobKind(spec.kind),
            command=_command(spec.command, source),
            image=spec.image,
            env={
                str(k): str(v).lower() if isinstance(v, bool) else str(v)
                for k, v in spec.env.items()
            },
            gpus=spec.resources.gpus,
            gpu_type=spec.resources.gpu_type,
            duration_s=duration_s,
            submitted_at=submitted_at,
            deadline=deadline,
            earliest_start=earliest,
            priority=Priority(spec.priority),
            interruptible=interruptible,
            elastic=elastic,
            zones=zones,
            watts_per_gpu=spec.power.watts_per_gpu if spec.power else None,
            team=spec.team or "default",
        )
    except ConfigError as exc:
        if exc.source is not None:
            raise
        raise exc.at(source) from None


def load_job_spec(path: Path, *, submitted_at: datetime, site: SiteConfig | None = None) -> Job:
    return job_from_data(read_yaml(path), source=str(path), submitted_at=submitted_at, site=site)


def load_job_specs(
    path: Path, *, submitted_at: datetime, site: SiteConfig | None = None
) -> list[Job]:
    """One job spec file, or every ``*.yaml``/``*.yml`` in a folder (sorted by name)."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in JOB_FILE_SUFFIXES)
        if not files:
            raise ConfigError(
                "no job specs in this folder",
                source=str(path),
                accepted="files ending in .yaml or .yml",
            )
    elif path.exists():
        files = [path]
    else:
        raise ConfigError("no such file or folder", source=str(path))
    jobs = [load_job_spec(f, submitted_at=submitted_at, site=site) for f in files]
    seen: dict[str, Path] = {}
    for job, f in zip(jobs, files, strict=True):
        if job.id in seen:
            raise ConfigError(
                f"job name {job.id!r} is also used by {seen[job.id].name}",
                source=str(f),
                field="name",
                value=job.id,
                accepted="unique job names",
            )
        seen[job.id] = f
    return jobs
