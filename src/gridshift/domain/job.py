"""Jobs: finite work with GPUs, a duration estimate, a time window, a priority and levers.

A ``Job`` is what a validated job spec (DESIGN.md §3.3) becomes. Its deadline is absolute (a
``within:`` was resolved against the submission time at the boundary).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType

from gridshift.domain.errors import ConfigError
from gridshift.domain.power import elastic_speedup
from gridshift.domain.signal import check_zone
from gridshift.domain.timeutil import require_utc, to_iso


class Priority(StrEnum):
    """Under scarcity higher priority is served first; ``critical`` starts now, never paused."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _PRIORITY_RANK[self]


_PRIORITY_RANK = {Priority.LOW: 0, Priority.NORMAL: 1, Priority.HIGH: 2, Priority.CRITICAL: 3}


class JobKind(StrEnum):
    TRAINING = "training"
    FINE_TUNING = "fine-tuning"
    BATCH_INFERENCE = "batch-inference"
    EVALUATION = "evaluation"


@dataclass(frozen=True)
class Interruptible:
    """The job can be paused at a checkpoint; each resume costs ``checkpoint_overhead_s``."""

    checkpoint_overhead_s: float = 300.0

    def __post_init__(self) -> None:
        if self.checkpoint_overhead_s < 0:
            raise ConfigError(
                "negative checkpoint overhead",
                field="interruptible.checkpoint_overhead",
                value=self.checkpoint_overhead_s,
                accepted="a duration >= 0 such as 5m",
            )


@dataclass(frozen=True)
class Elastic:
    """The job can run on ``min_gpus..max_gpus``; throughput scales sub-linearly."""

    min_gpus: int
    max_gpus: int

    def __post_init__(self) -> None:
        if self.min_gpus < 1:
            raise ConfigError(
                "min_gpus must be at least 1",
                field="elastic.min_gpus",
                value=self.min_gpus,
                accepted="a whole number >= 1",
            )
        if self.max_gpus > 100_000:
            raise ConfigError(
                "max_gpus is implausibly large",
                field="elastic.max_gpus",
                value=self.max_gpus,
                accepted="at most 100000",
            )
        if self.min_gpus > self.max_gpus:
            raise ConfigError(
                "min_gpus is greater than max_gpus",
                field="elastic",
                value={"min_gpus": self.min_gpus, "max_gpus": self.max_gpus},
                accepted="min_gpus <= max_gpus",
            )


@dataclass(frozen=True)
class Job:
    """One unit of finite work, validated."""

    id: str
    name: str
    gpus: int
    duration_s: float  # estimate at ``gpus`` GPUs, uncapped
    submitted_at: datetime
    deadline: datetime
    earliest_start: datetime | None = None
    kind: JobKind = JobKind.TRAINING
    command: tuple[str, ...] = ()
    image: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    gpu_type: str | None = None
    priority: Priority = Priority.NORMAL
    interruptible: Interruptible | None = None
    elastic: Elastic | None = None
    zones: tuple[str, ...] = ()  # allow-list; empty means any zone
    watts_per_gpu: float | None = None  # overrides the cluster's profile
    team: str = "default"

    def __post_init__(self) -> None:
        object.__setattr__(self, "submitted_at", require_utc(self.submitted_at, "submitted_at"))
        object.__setattr__(self, "deadline", require_utc(self.deadline, "deadline"))
        if self.earliest_start is not None:
            object.__setattr__(
                self, "earliest_start", require_utc(self.earliest_start, "earliest_start")
            )
        object.__setattr__(self, "env", MappingProxyType(dict(self.env)))
        for zone in self.zones:
            check_zone(zone, "placement.zones")
        if self.gpus < 1:
            raise ConfigError(
                "a job needs at least one GPU",
                field="resources.gpus",
                value=self.gpus,
                accepted="a whole number >= 1",
            )
        if not self.duration_s > 0:
            raise ConfigError(
                "duration must be positive",
                field="duration",
                value=self.duration_s,
                accepted="a duration > 0 such as 90s, 15m, 6h, 2d",
            )
        if self.watts_per_gpu is not None and not self.watts_per_gpu > 0:
            raise ConfigError(
                "power must be positive",
                field="power.watts_per_gpu",
                value=self.watts_per_gpu,
                accepted="watts > 0",
            )
        if self.elastic is not None and not (
            self.elastic.min_gpus <= self.gpus <= self.elastic.max_gpus
        ):
            raise ConfigError(
                "requested GPUs lie outside the elastic range",
                field="resources.gpus",
                value=self.gpus,
                accepted=f"{self.elastic.min_gpus}..{self.elastic.max_gpus} (elastic range)",
            )
        finish = self.earliest_finish
        if finish > self.deadline:
            raise ConfigError(
                f"the deadline is before the earliest possible finish {to_iso(finish)} "
                f"(start {to_iso(self.release)} + {timedelta(seconds=round(self.min_duration_s))}"
                f"{' at max GPUs' if self.elastic else ''})",
                field="deadline",
                value=to_iso(self.deadline),
                accepted="a later deadline, a longer 'within', or a shorter duration",
            )

    def __getstate__(self) -> dict[str, object]:
        """Picklable (the planner may run in a worker process): the env as a plain dict."""
        state = dict(self.__dict__)
        state["env"] = dict(self.env)
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        for key, value in state.items():
            object.__setattr__(self, key, value)
        object.__setattr__(self, "env", MappingProxyType(dict(self.env)))

    @property
    def release(self) -> datetime:
        """The earliest time the job may start."""
        if self.earliest_start is None:
            return self.submitted_at
        return max(self.submitted_at, self.earliest_start)

    @property
    def min_duration_s(self) -> float:
        """The shortest possible run: at max GPUs if elastic, uncapped, without pauses."""
        if self.elastic is None:
            return self.duration_s
        return self.duration_s / elastic_speedup(self.elastic.max_gpus, self.gpus)

    @property
    def earliest_finish(self) -> datetime:
        return self.release + timedelta(seconds=self.min_duration_s)

    @property
    def slack_s(self) -> float:
        """How long the job can wait and still meet its deadline, at best."""
        return (self.deadline - self.earliest_finish).total_seconds()
