"""The checkpoint helper for job code: pause on request, resume where it stopped.

    from gridshift import checkpoint

    step = checkpoint.resume(default=0)  # the saved state on a resumed attempt, else default
    for ...:
        ...
        checkpoint.pause_point(step)  # on SIGTERM: save ``step`` and exit with EXIT_PAUSED (75)

gridshift pauses, resizes and cancels a job with the checkpoint protocol: SIGTERM, a grace
period, then SIGKILL. A job that saves its state and exits with ``EXIT_PAUSED`` within the grace
is started again later with ``GRIDSHIFT_RESUME=1`` and the same ``GRIDSHIFT_CHECKPOINT_DIR``.
The state is any JSON value, written atomically to ``<GRIDSHIFT_CHECKPOINT_DIR>/state.json``.

Outside gridshift (no ``GRIDSHIFT_CHECKPOINT_DIR``) everything still works: ``resume`` returns
the default, ``save`` does nothing and returns False, ``pause_point`` still exits 75 on SIGTERM.

It must never import more than the standard library (it runs inside every job), and its SIGTERM
handler must never do more than set a flag (and call a handler that was there before it).
"""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar, cast

EXIT_PAUSED = 75  # the same as gridshift.executors.base.EXIT_PAUSED (EX_TEMPFAIL)
STATE_FILE = "state.json"

T = TypeVar("T")
_Handler = Callable[[int, FrameType | None], Any]

_stop_flag = False  # set by the handler; a plain bool is async-signal-safe
_installed = False
_previous: _Handler | None = None


def directory() -> Path | None:
    """The attempt's checkpoint folder (``GRIDSHIFT_CHECKPOINT_DIR``), or None outside gridshift."""
    value = os.environ.get("GRIDSHIFT_CHECKPOINT_DIR")
    return Path(value) if value else None


def resuming() -> bool:
    """This attempt continues an earlier one (``GRIDSHIFT_RESUME=1``)."""
    return os.environ.get("GRIDSHIFT_RESUME") == "1"


def save(state: object) -> bool:
    """Write ``state`` (any JSON value) atomically; False when there is no checkpoint folder."""
    folder = directory()
    if folder is None:
        return False
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / STATE_FILE
    temp = folder / f".{STATE_FILE}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
    try:
        with open(temp, "w", encoding="utf-8") as file:
            json.dump(state, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
    _fsync_dir(folder)
    return True


def load(default: T) -> T:
    """The saved state, or ``default`` when nothing was saved (or there is no folder)."""
    folder = directory()
    if folder is None:
        return default
    try:
        text = (folder / STATE_FILE).read_text(encoding="utf-8")
    except FileNotFoundError:
        return default
    return cast(T, json.loads(text))


def resume(default: T) -> T:
    """The saved state when this attempt resumes (``GRIDSHIFT_RESUME=1``) and one exists, else
    ``default``. Installs the SIGTERM handler."""
    _install()
    return load(default) if resuming() else default


def stop_requested() -> bool:
    """gridshift asked this attempt to stop (SIGTERM received). Installs the SIGTERM handler."""
    _install()
    return _stop_flag


def pause_point(state: object) -> None:
    """The one line in a job's loop: when a stop was asked for, save ``state`` and exit with
    ``EXIT_PAUSED``; otherwise return at once. Installs the SIGTERM handler."""
    if stop_requested():
        save(state)
        raise SystemExit(EXIT_PAUSED)


def _install() -> None:
    """Install the SIGTERM handler once (only the main thread can; elsewhere it stays off)."""
    global _installed, _previous
    if _installed or threading.current_thread() is not threading.main_thread():
        return
    previous = signal.getsignal(signal.SIGTERM)
    _previous = previous if callable(previous) else None
    signal.signal(signal.SIGTERM, _on_sigterm)
    _installed = True


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    global _stop_flag
    _stop_flag = True
    if _previous is not None:
        _previous(signum, frame)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
