"""The jobs a simulation replays: a workload file read into domain ``Job``s, with the config's
``defaults`` filling what the trace lacks, kept to the jobs submitted in ``[start, end)``.

Formats: the gridshift jobs CSV (DESIGN.md §3.5). ``defaults``: ``within`` is the deadline of a
row without one; ``interruptible: true`` makes every row that does not say otherwise (and is not
critical) interruptible with ``checkpoint_overhead``; ``watts_per_gpu`` fills rows without it.
"""

from __future__ import annotations

from dataclasses import replace

from gridshift.config.jobs_csv import read_jobs_csv
from gridshift.domain import ConfigError, Interruptible, Job, Priority
from gridshift.simulate.config import SimConfig


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
    jobs = read_jobs_csv(
        config.workload, default_within_s=config.defaults.within_s, site=config.site
    )
    kept = [
        with_defaults(job, config) for job in jobs if config.start <= job.submitted_at < config.end
    ]
    if not kept:
        raise ConfigError(
            "no job of the workload is submitted between start and end",
            source=str(config.workload),
            field="submit_time",
            accepted=f"submit times in [{config.start.isoformat()}, {config.end.isoformat()})",
        )
    return sorted(kept, key=lambda j: (j.submitted_at, j.id))
