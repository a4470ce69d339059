"""Job statuses (what users see) and the one table of allowed changes.

Every change of a job's status goes through ``check_transition`` (in the store's compare-and-set
update); a change not in ``ALLOWED`` is a bug and is refused. The scheduler's internal state of
an attempt (``AttemptState``) is kept apart from the user-visible status (STYLE.md habit 4).

    pending ──▶ running ──▶ succeeded
       │  ▲        │  ▲
       │  │        ▼  │
       │  └──── paused           (checkpointed; resumes as a new attempt)
       ▼
    cancelled / expired / unschedulable / failed        (terminal; from any non-terminal status)
"""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    PENDING = "pending"  # accepted, waiting for its planned start (or re-queued after a failure)
    RUNNING = "running"  # an attempt is dispatched (its intent is recorded) or running
    PAUSED = "paused"  # an interruptible job stopped at a checkpoint; it will resume
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # a retry budget is spent
    CANCELLED = "cancelled"
    EXPIRED = "expired"  # its deadline passed before it could finish
    UNSCHEDULABLE = "unschedulable"  # no cluster can ever run it (told at once)

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset(
    {
        JobStatus.SUCCEEDED,
        JobStatus.FAILED,
        JobStatus.CANCELLED,
        JobStatus.EXPIRED,
        JobStatus.UNSCHEDULABLE,
    }
)
ACTIVE = frozenset({JobStatus.PENDING, JobStatus.RUNNING, JobStatus.PAUSED})

_S = JobStatus
ALLOWED: dict[JobStatus, frozenset[JobStatus]] = {
    _S.PENDING: frozenset(
        {_S.RUNNING, _S.CANCELLED, _S.EXPIRED, _S.UNSCHEDULABLE, _S.FAILED, _S.PENDING}
    ),
    _S.RUNNING: frozenset(
        {_S.SUCCEEDED, _S.FAILED, _S.PAUSED, _S.PENDING, _S.CANCELLED, _S.EXPIRED, _S.RUNNING}
    ),
    _S.PAUSED: frozenset({_S.RUNNING, _S.CANCELLED, _S.EXPIRED, _S.FAILED, _S.PAUSED}),
    _S.SUCCEEDED: frozenset(),
    _S.FAILED: frozenset(),
    _S.CANCELLED: frozenset(),
    _S.EXPIRED: frozenset(),
    _S.UNSCHEDULABLE: frozenset(),
}


class AttemptState(StrEnum):
    """The scheduler's view of one attempt (not shown as a job status)."""

    DISPATCHING = "dispatching"  # intent committed; the executor may or may not have it
    RUNNING = "running"  # the executor accepted it
    STOPPING = "stopping"  # a stop (pause, resize or cancel) was sent
    ENDED = "ended"  # outcome recorded


class TransitionError(Exception):
    """A status change that the table does not allow (a bug, never a user mistake)."""


def check_transition(old: JobStatus, new: JobStatus) -> None:
    if new not in ALLOWED[old]:
        raise TransitionError(f"a job cannot go from {old.value} to {new.value}")
