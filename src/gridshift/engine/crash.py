"""Named crash points for the fault tests (RELIABILITY.md): with ``GRIDSHIFT_CRASH_AT=NAME`` (or
``NAME:K``, the K-th time it is reached) the process kills itself with SIGKILL there, exactly as
``kill -9`` would. Unset, a crash point costs one dictionary lookup.

Points: ``after-intent`` (the dispatch intent is committed, the executor not yet called),
``after-start`` (the executor accepted the attempt, its status not yet committed),
``before-status`` (an attempt's outcome is known, the job's new status not yet committed).
"""

from __future__ import annotations

import os
import signal

POINTS = ("after-intent", "after-start", "before-status")

_seen: dict[str, int] = {}


def _target() -> tuple[str, int] | None:
    spec = os.environ.get("GRIDSHIFT_CRASH_AT")
    if not spec:
        return None
    name, _, count = spec.partition(":")
    return name, int(count) if count.isdigit() else 1


def point(name: str) -> None:
    target = _target()
    if target is None or target[0] != name:
        return
    _seen[name] = _seen.get(name, 0) + 1
    if _seen[name] >= target[1]:
        os.kill(os.getpid(), signal.SIGKILL)
