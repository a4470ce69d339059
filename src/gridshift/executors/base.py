"""The one interface every executor implements, and the records it speaks in.

An executor runs attempts of jobs somewhere (local processes, Slurm, Ray, Kubernetes). Every
thing it creates carries the attempt's *token* (RELIABILITY.md mechanism 2), so that a retried
start finds the first one and a restarted control plane can list, adopt or fence what runs.

Nomenclature:
- *token*: ``<job id>.<attempt number>``-derived name of one attempt; unique, stable.
- *stop*: the checkpoint protocol: ask the attempt to save and exit (SIGTERM), wait a grace
  period, then kill it (SIGKILL). Used to pause, resize and cancel.
- *kill*: fencing: end the attempt at once, whatever it is doing.
- *forget*: drop the executor's records of an attempt whose outcome the store has recorded.

Executors declare what they can do (``Capabilities``) rather than raising
``NotImplementedError``; the engine checks before it acts. Nothing here touches the database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol

EXIT_PAUSED = 75  # a job that saved its checkpoint and exited on request (EX_TEMPFAIL)


@dataclass(frozen=True)
class Capabilities:
    pause: bool = False  # the checkpoint protocol (stop, then start again with resume)
    resize: bool = False  # start again at another GPU count
    power_cap: bool = False  # set a GPU power limit on a running attempt


@dataclass(frozen=True)
class Launch:
    """What the engine asks an executor to start."""

    token: str
    job_id: str
    argv: tuple[str, ...]
    gpus: int
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    resume: bool = False  # set GRIDSHIFT_RESUME=1: the job should restore its checkpoint
    checkpoint_dir: Path | None = None  # GRIDSHIFT_CHECKPOINT_DIR; the same for every attempt
    power_cap_w: float | None = None


class State(StrEnum):
    RUNNING = "running"  # alive (for a stop in progress too)
    EXITED = "exited"  # ended; exit code or signal recorded
    LOST = "lost"  # started, but gone without a recorded outcome (killed with its supervisor)
    UNKNOWN = "unknown"  # the executor has no record of this token (never started, or forgotten)


@dataclass(frozen=True)
class Observed:
    """What an executor knows of one attempt."""

    token: str
    state: State
    exit_code: int | None = None  # when EXITED by itself
    signal: int | None = None  # when EXITED by a signal
    stop_requested: bool = False  # a stop (checkpoint protocol) was asked for before it ended
    gpu_ids: tuple[int, ...] = ()  # the devices it holds (CUDA_VISIBLE_DEVICES)
    ended_wall: float | None = None  # when it ended (epoch seconds, wall clock), when EXITED

    @property
    def saved_checkpoint(self) -> bool:
        """It ended on request after saving its checkpoint."""
        return self.state is State.EXITED and self.exit_code == EXIT_PAUSED

    @property
    def succeeded(self) -> bool:
        return self.state is State.EXITED and self.exit_code == 0


class ExecutorError(Exception):
    """The executor could not be reached or answered ambiguously: the engine retries later
    (reconciling by token first); it never fails a job for this."""


class Executor(Protocol):
    """Runs attempts on one cluster. Every method is idempotent by token."""

    name: str
    capabilities: Capabilities

    def start(self, launch: Launch) -> None:
        """Start the attempt; a no-op when the token already exists (running or ended)."""
        ...

    def observe(self, token: str) -> Observed: ...

    def tokens(self) -> list[str]:
        """Every token the executor has a record of (running or ended, not yet forgotten)."""
        ...

    def stop(self, token: str, grace_s: float) -> None:
        """SIGTERM now, SIGKILL after ``grace_s`` if still running (survives our own crash)."""
        ...

    def kill(self, token: str) -> None:
        """Fence: end it at once."""
        ...

    def set_power_cap(self, token: str, watts_per_gpu: float) -> bool:
        """Apply a GPU power limit; False where it cannot here (no GPU, no permission)."""
        ...

    def logs(self, token: str, tail_bytes: int = 65536) -> str:
        """The attempt's output (stdout and stderr), at most the last ``tail_bytes``."""
        ...

    def forget(self, token: str) -> None:
        """Drop the records of an ended attempt (its logs stay)."""
        ...
