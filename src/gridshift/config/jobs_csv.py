"""The gridshift jobs CSV (DESIGN.md §3.5): one job per row.

Columns ``id,submit_time,duration_s,gpus,deadline,interruptible,priority,team,zones,min_gpus,
max_gpus,watts_per_gpu``; only ``id,submit_time,duration_s`` are required. Times are ISO-8601 with
a zone; ``zones`` are separated by ``|``; ``interruptible`` is true/false or a checkpoint overhead
(``5m``). A row without a deadline takes ``submit_time + default_within`` when one is given.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path

from gridshift.config.site import SiteConfig
from gridshift.config.units import parse_duration, parse_nonnegative_duration, parse_time
from gridshift.domain import (
    ConfigError,
    Elastic,
    Interruptible,
    Job,
    Priority,
)

COLUMNS = (
    "id",
    "submit_time",
    "duration_s",
    "gpus",
    "deadline",
    "interruptible",
    "priority",
    "team",
    "zones",
    "min_gpus",
    "max_gpus",
    "watts_per_gpu",
)
REQUIRED = ("id", "submit_time", "duration_s")
_TRUE = {"true", "yes", "1"}
_FALSE = {"false", "no", "0", ""}


def _int(value: str, field: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ConfigError(
            "not a whole number", field=field, value=value, accepted="a whole number"
        ) from None


def _float(value: str, field: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise ConfigError("not a number", field=field, value=value, accepted="a number") from None


def read_jobs_csv(
    path: Path, *, default_within_s: float | None = None, site: SiteConfig | None = None
) -> list[Job]:
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError("no such file", source=source) from None
    except UnicodeDecodeError:
        raise ConfigError("not UTF-8 text", source=source) from None
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    problems = (
        (
            "missing column(s)",
            [c for c in REQUIRED if c not in header],
            f"columns {','.join(COLUMNS)}",
        ),
        (
            "column(s) named twice:",
            sorted({c for c in header if header.count(c) > 1}),
            "each column once",
        ),
        (
            "unknown column(s)",
            [c for c in header if c not in COLUMNS],
            f"columns {','.join(COLUMNS)}",
        ),
    )
    for message, names, accepted in problems:
        if names:
            raise ConfigError(
                f"{message} {', '.join(names)}",
                source=source,
                field="header",
                value=",".join(header),
                accepted=accepted,
            )
    served = set(site.zones) if site is not None else None
    jobs: list[Job] = []
    seen: set[str] = set()
    for raw in reader:
        line = reader.line_num  # the file's own line number (blank lines are skipped)
        where = f"row {line}"
        if None in raw:
            raise ConfigError(
                f"{len(raw[None]) + len(header)} fields but the header has {len(header)}",
                source=source,
                field=where,
                value=",".join(str(v) for v in raw[None]),
                accepted="one value per header column",
            )
        row = {k.strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        if not row.get("id"):
            raise ConfigError(
                "empty job id",
                source=source,
                field=f"{where}.id",
                value=None,
                accepted="a non-empty id",
            )
        try:
            jobs.append(_job(row, where, default_within_s, served))
        except ConfigError as exc:
            raise exc.at(source, where) if exc.source is None else exc from None
        if jobs[-1].id in seen:
            raise ConfigError(
                "job id used twice",
                source=source,
                field=f"{where}.id",
                value=jobs[-1].id,
                accepted="unique ids",
            )
        seen.add(jobs[-1].id)
    if not jobs:
        raise ConfigError("no jobs in the file", source=source)
    return jobs


def _job(
    row: dict[str, str], where: str, default_within_s: float | None, served: set[str] | None
) -> Job:
    submitted = parse_time(row["submit_time"], field="submit_time")
    duration = parse_duration(_float(row["duration_s"], "duration_s"), field="duration_s")
    if row.get("deadline"):
        deadline = parse_time(row["deadline"], field="deadline")
    elif default_within_s is not None:
        deadline = submitted + timedelta(seconds=default_within_s)
    else:
        raise ConfigError(
            "no deadline",
            field="deadline",
            value=None,
            accepted="a deadline column, or a default such as --default-within 24h",
        )
    flag = row.get("interruptible", "").lower()
    if flag in _TRUE:
        interruptible: Interruptible | None = Interruptible()
    elif flag in _FALSE:
        interruptible = None
    else:
        interruptible = Interruptible(parse_nonnegative_duration(flag, field="interruptible"))
    priority_text = row.get("priority") or "normal"
    try:
        priority = Priority(priority_text)
    except ValueError:
        raise ConfigError(
            "unknown priority",
            field="priority",
            value=priority_text,
            accepted="low, normal, high, critical",
        ) from None
    gpus = _int(row["gpus"], "gpus") if row.get("gpus") else 1
    elastic = None
    if row.get("min_gpus") or row.get("max_gpus"):
        lo = _int(row.get("min_gpus") or str(gpus), "min_gpus")
        hi = _int(row.get("max_gpus") or str(gpus), "max_gpus")
        elastic = Elastic(lo, hi)
    zones = tuple(z.strip() for z in row.get("zones", "").split("|") if z.strip())
    if served is not None:
        for zone in zones:
            if zone not in served:
                raise ConfigError(
                    "no configured cluster serves this zone",
                    field="zones",
                    value=zone,
                    accepted=", ".join(sorted(served)),
                )
    watts = _float(row["watts_per_gpu"], "watts_per_gpu") if row.get("watts_per_gpu") else None
    return Job(
        id=row["id"],
        name=row["id"],
        gpus=gpus,
        duration_s=duration,
        submitted_at=submitted,
        deadline=deadline,
        priority=priority,
        interruptible=interruptible,
        elastic=elastic,
        zones=zones,
        watts_per_gpu=watts,
        team=row.get("team") or "default",
    )
