"""The jobs a simulation replays: a workload file read into domain ``Job``s, with the config's
``defaults`` filling what the trace lacks, kept to the jobs submitted in ``[start, end)``.

Formats: the gridshift jobs CSV (DESIGN.md §3.5), and the public traces of ``traces``.
For the CSV, ``defaults``: ``within`` is the deadline of a row without one (from its submission);
``interruptible: true`` makes every row that does not say otherwise (and is not critical)
interruptible with ``checkpoint_overhead``; ``watts_per_gpu`` fills rows without it.
"""

from __future__ import annotations

from dataclasses import replace

from gridshift.config.jobs_csv import read_jobs_csv
from gridshift.domain import ConfigError, Interruptible, Job, Priority
from gridshift.simulate.config import SimConfig
from gridshift.simulate.traces import TraceStats, read_trace


def with_defaults(job: Job, config: SimConfig) -> Job:
    defaults = config.defaults
    changes: dict[str, object] = {}
    if (
        defaults.interruptible
        and job.interruptible is None
        and job.priority is not Priority.CRITICAL
    ):
        changes["interruptible"] = Interruptible(defaults.checkpoint_overhead_s)
    if defaults.watts_per_gpu is not None and job.watts_per_gpu is None:
        changes["watts_per_gpu"] = defaults.watts_per_gpu
    return replace(job, **changes) if changes else job  # type: ignore[arg-type]


def load_workload(config: SimConfig) -> list[Job]:
    """The jobs submitted in ``[start, end)``, in submission order (then id)."""
    return load_workload_with_stats(config)[0]


def load_workload_with_stats(config: SimConfig) -> tuple[list[Job], dict[str, object]]:
    """The jobs, and what the import kept and left out (and why)."""
    if config.workload_format == "gridshift":
        jobs = read_jobs_csv(
            config.workload, default_within_s=config.defaults.within_s, site=config.site
        )
        jobs = [with_defaults(job, config) for job in jobs]
        stats = TraceStats(read=len(jobs), kept=len(jobs))
    else:
        window = (config.end - config.start).total_seconds()
        jobs, stats = read_trace(
            config.workload,
            config.workload_format,
            config.start,
            window,
            config.defaults,
            config.workload_offset_s,
            config.gpu_hours,
        )
    kept = [job for job in jobs if config.start <= job.submitted_at < config.end]
    if len(kept) < len(jobs):
        stats.left_out["submitted outside start..end"] += len(jobs) - len(kept)
    if not kept:
        raise ConfigError(
            "no job of the workload is submitted between start and end",
            source=str(config.workload),
            field="submit_time",
            accepted=f"submit times in [{config.start.isoformat()}, {config.end.isoformat()})",
        )
    summary: dict[str, object] = {
        "format": config.workload_format,
        "rows": stats.read,
        "jobs": len(kept),
        "left_out": dict(sorted(stats.left_out.items())),
    }
    return sorted(kept, key=lambda j: (j.submitted_at, j.id)), summary
