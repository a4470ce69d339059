"""Public workload traces as jobs: times in a trace are offsets from its own start; trace time
``workload.offset`` (default 0) is mapped onto the simulation's ``start``. Traces carry no
deadlines, so ``defaults.within`` is the slack each job gets after its own duration
(deadline = arrival + duration + within), the knob of the slack study.

- ``alibaba-openb`` (Alibaba GPU cluster, ``openb_pod_list_*.csv``): arrival = ``creation_time``,
  duration = ``deletion_time - scheduled_time`` (seconds from the trace start); GPUs =
  ``num_gpu`` (a shared GPU, ``gpu_milli`` < 1000 with ``num_gpu`` 1, counts as one); ``qos`` ->
  priority: ``LS`` and ``Guaranteed`` high, ``Burstable`` normal, ``BE`` low. Pods without GPUs
  (CPU-only) and pods that never ran (no ``scheduled_time`` or no positive duration) are left
  out, and counted.
- ``gaia-pai`` (the Alibaba PAI sample of the GAIA paper): ``arrival_time`` and ``length`` in
  **seconds** (the data's own README says so, and it fits: arrivals span exactly 7 days, the
  week GAIA replays, and lengths run from 5 min to 2.5 days); ``cpus`` is the job's size, taken
  as its GPU count (1 for 86 % of the jobs).

- ``pollux`` (the Philly-derived workloads of the Pollux paper, ``workload-N.csv``): ``time``
  (seconds) is the arrival, ``num_replicas`` the GPUs, ``application`` the model. The trace
  holds no durations (they depend on the model), so each application has a total GPU time
  (``POLLUX_GPU_HOURS``, overridable per application with ``workload.gpu_hours``): the
  geometric middle of the size class the Pollux paper (OSDI '21, Table 1) puts it in (S: up
  to 1 GPU-hour, M: 1-10, L: 10-100, XL: 100-1000; 0.5 for S): CIFAR-10/ResNet-18 and
  NCF/MovieLens S, BERT/SQuAD and DeepSpeech2/CMU-ARCTIC M, YOLOv3/PASCAL-VOC L,
  ResNet-50/ImageNet XL. Its duration on n GPUs is that GPU time / (n x E(n)), with
  POWER-MODELS.md's default data-parallel efficiency E(n) = 1 inside a node (n <= 8) and
  0.92 - 0.005 log2(n / 8) beyond. The paper's class proportions match the trace's
  application mix (about 40 % NCF, 38 % CIFAR-10, 9 % DeepSpeech2, 6 % BERT, 5 % YOLOv3,
  2 % ImageNet), which is why the classes are used, not measured run times.

Jobs longer than the simulated window (``end - start``) are left out and counted: they are
standing services, not work that can move.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from gridshift.domain import ConfigError, Interruptible, Job, Priority
from gridshift.simulate.config import Defaults

QOS = {
    "LS": Priority.HIGH,
    "Guaranteed": Priority.HIGH,
    "Burstable": Priority.NORMAL,
    "BE": Priority.LOW,
}
COLUMNS = {
    "alibaba-openb": ("name", "num_gpu", "qos", "creation_time", "deletion_time", "scheduled_time"),
    "gaia-pai": ("arrival_time", "length", "cpus"),
    "pollux": ("name", "time", "application", "num_replicas"),
}
# GPU-hours of one job per Pollux application (module docstring: the paper's size classes).
POLLUX_GPU_HOURS = {
    "cifar10": 0.5,
    "ncf": 0.5,
    "bert": 3.2,
    "deepspeech2": 3.2,
    "yolov3": 32.0,
    "imagenet": 316.0,
}
NODE_GPUS = 8


def data_parallel_efficiency(gpus: int) -> float:
    """POWER-MODELS.md's default for compute-heavy data-parallel jobs."""
    if gpus <= NODE_GPUS:
        return 1.0
    return 0.92 - 0.005 * math.log2(gpus / NODE_GPUS)


def pollux_duration_s(application: str, gpus: int, gpu_hours: dict[str, float]) -> float:
    return gpu_hours[application] * 3600.0 / (gpus * data_parallel_efficiency(gpus))


@dataclass
class TraceStats:
    read: int = 0
    kept: int = 0
    left_out: Counter[str] = field(default_factory=Counter)


def _text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError("no such file", source=str(path)) from None
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError):
            raise ConfigError("not a readable gzip file", source=str(path)) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError("not UTF-8 text", source=str(path)) from None


def _number(row: dict[str, str], key: str, source: str, line: int) -> float | None:
    text = (row.get(key) or "").strip()
    if text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(
            "not a number", source=source, field=f"row {line}.{key}", value=text
        ) from None
    if value != value or abs(value) > 1e12:
        raise ConfigError(
            "not a usable number", source=source, field=f"row {line}.{key}", value=text
        )
    return value


def read_trace(
    path: Path,
    fmt: str,
    start: datetime,
    window_s: float,
    defaults: Defaults,
    offset_s: float = 0.0,
    gpu_hours: dict[str, float] | None = None,
) -> tuple[list[Job], TraceStats]:
    """The trace's jobs; trace time ``offset_s`` is the simulation's ``start``."""
    source = str(path)
    hours = {**POLLUX_GPU_HOURS, **(gpu_hours or {})}
    if defaults.within_s is None:
        raise ConfigError(
            "the trace has no deadlines",
            source=source,
            field="workload.defaults.within",
            accepted="the slack each job gets after its duration, e.g. within: 24h",
        )
    reader = csv.DictReader(io.StringIO(_text(path)))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in COLUMNS[fmt] if c not in header]
    if missing:
        raise ConfigError(
            f"missing column(s) {', '.join(missing)} for the {fmt} format",
            source=source,
            field="header",
            value=",".join(header),
            accepted=", ".join(COLUMNS[fmt]),
        )
    stats = TraceStats()
    jobs: list[Job] = []
    for i, raw in enumerate(reader):
        line = reader.line_num
        row = {k.strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        stats.read += 1
        if fmt == "alibaba-openb":
            gpus = _number(row, "num_gpu", source, line) or 0
            arrival = _number(row, "creation_time", source, line)
            scheduled = _number(row, "scheduled_time", source, line)
            deleted = _number(row, "deletion_time", source, line)
            if gpus < 1:
                stats.left_out["no GPU (CPU-only pod)"] += 1
                continue
            if arrival is None or scheduled is None or deleted is None or deleted <= scheduled:
                stats.left_out["never ran (no schedule or no duration)"] += 1
                continue
            duration = deleted - scheduled
            job_id = row.get("name") or f"pod-{i}"
            priority = QOS.get(row.get("qos", ""), Priority.NORMAL)
        elif fmt == "pollux":
            arrival = _number(row, "time", source, line)
            gpus = _number(row, "num_replicas", source, line) or 1
            application = row.get("application", "")
            if application not in hours:
                raise ConfigError(
                    "unknown application (no duration model)",
                    source=source,
                    field=f"row {line}.application",
                    value=application,
                    accepted=f"{', '.join(sorted(hours))}, or add it under workload.gpu_hours",
                )
            if arrival is None:
                stats.left_out["no arrival or no duration"] += 1
                continue
            duration = pollux_duration_s(application, max(1, round(gpus)), hours)
            job_id = row.get("name") or f"pollux-{i:04d}"
            priority = Priority.NORMAL
        else:
            arrival = _number(row, "arrival_time", source, line)
            duration = _number(row, "length", source, line) or 0.0
            gpus = _number(row, "cpus", source, line) or 1
            if arrival is None or duration <= 0:
                stats.left_out["no arrival or no duration"] += 1
                continue
            job_id = f"pai-{i:05d}"
            priority = Priority.NORMAL
        if duration > window_s:
            stats.left_out["longer than the simulated window"] += 1
            continue
        submitted = start + timedelta(seconds=arrival - offset_s)
        interruptible = (
            Interruptible(defaults.checkpoint_overhead_s)
            if defaults.interruptible and priority is not Priority.CRITICAL
            else None
        )
        jobs.append(
            Job(
                id=job_id,
                name=job_id,
                gpus=max(1, round(gpus)),
                duration_s=duration,
                submitted_at=submitted,
                deadline=submitted + timedelta(seconds=duration + defaults.within_s),
                priority=priority,
                interruptible=interruptible,
                watts_per_gpu=defaults.watts_per_gpu,
            )
        )
        stats.kept += 1
    return jobs, stats
