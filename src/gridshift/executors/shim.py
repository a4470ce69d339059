"""The supervisor of one local attempt: ``python -m gridshift.executors.shim``.

``LocalExecutor`` starts one shim per attempt, in its own session, and hands it the attempt's
spec (argv, environment, working directory) as JSON on stdin. The shim then:

1. starts the job's command in a new session (its own process group), output to the log (fd 2);
2. writes ``run/<token>.json`` (both pids and their /proc start times) atomically and answers
   ``ok`` on stdout, so that ``start()`` returns only once the record is durable;
3. on SIGTERM carries out the checkpoint protocol by itself: SIGTERM to the job's process group,
   wait the grace read from ``run/<token>.stop``, then SIGKILL the group; so the protocol ends
   even when the control plane dies meanwhile;
4. when the job ends, SIGKILLs what is left of its process group, writes
   ``run/<token>.exit.json`` atomically and exits.

A command that cannot be executed (FileNotFoundError) ends the attempt with exit code 127 and
the reason in the log, like a shell would.

It must never import anything but the standard library (it starts on every dispatch and must
start fast), never run the command through a shell, and never write to stdout after its answer.
The /proc and atomic-file helpers at the top are shared with ``local.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import FrameType
from typing import Any, NamedTuple

EXIT_NOT_FOUND = 127  # the command does not exist (as a shell reports it)
EXIT_NOT_EXECUTABLE = 126  # the command exists but cannot be executed

# ---- /proc: who is who, immune to pid reuse --------------------------------------------------


class ProcStat(NamedTuple):
    """The fields of /proc/<pid>/stat that we use."""

    state: str  # R, S, D, Z (zombie), X (dead), ...
    pgrp: int
    session: int
    start_ticks: int  # field 22: start time in clock ticks after boot; a reused pid differs

    @property
    def alive(self) -> bool:
        return self.state not in ("Z", "X")


def proc_stat(pid: int) -> ProcStat | None:
    """The process's stat line, or None when no such process exists."""
    try:
        data = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    # The name (field 2) is in parentheses and may hold spaces and parentheses itself.
    fields = data[data.rindex(b")") + 2 :].split()
    # fields[0] is field 3 of the man page, so field N is fields[N - 3].
    return ProcStat(
        state=fields[0].decode(),
        pgrp=int(fields[2]),
        session=int(fields[3]),
        start_ticks=int(fields[19]),
    )


def start_ticks(pid: int) -> int | None:
    stat = proc_stat(pid)
    return None if stat is None else stat.start_ticks


def is_alive(pid: int | None, ticks: int | None) -> bool:
    """True when ``pid`` runs and is the very process that started at ``ticks``."""
    if pid is None or ticks is None:
        return False
    stat = proc_stat(pid)
    return stat is not None and stat.alive and stat.start_ticks == ticks


# ---- durable files ----------------------------------------------------------------------------


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json_atomic(path: Path, data: Mapping[str, Any], *, exclusive: bool = False) -> bool:
    """Write ``data`` to ``path`` all at once (temp file, fsync, rename, fsync of the folder).

    With ``exclusive`` the file is created only if it does not exist yet (link, not rename);
    returns whether this call wrote it.
    """
    temp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        json.dump(data, file)
        file.flush()
        os.fsync(file.fileno())
    written = True
    if exclusive:
        try:
            os.link(temp, path)
        except FileExistsError:
            written = False
        finally:
            temp.unlink()
    else:
        os.replace(temp, path)
    fsync_dir(path.parent)
    return written


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``, or None when the file does not exist."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError(f"{path} does not hold a JSON object")
    return data


def record_path(run_dir: Path, token: str) -> Path:
    return run_dir / f"{token}.json"


def exit_path(run_dir: Path, token: str) -> Path:
    return run_dir / f"{token}.exit.json"


def stop_path(run_dir: Path, token: str) -> Path:
    return run_dir / f"{token}.stop"


def stop_grace_s(run_dir: Path, token: str, default_s: float) -> float:
    """The grace asked for in the stop file; ``default_s`` when there is none (a stray TERM)."""
    try:
        data = read_json(stop_path(run_dir, token))
        return float(data["grace_s"]) if data is not None else default_s
    except (OSError, ValueError, KeyError, TypeError):
        return default_s


# ---- the supervisor ---------------------------------------------------------------------------


def _say(message: str) -> None:
    """A line in the attempt's log (our stderr is the log file)."""
    sys.stderr.write(f"[gridshift] {message}\n")
    sys.stderr.flush()


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


class Supervisor:
    """Runs one attempt's command and records how it ended."""

    def __init__(self, token: str, run_dir: Path, spec: Mapping[str, Any]) -> None:
        self.token = token
        self.run_dir = run_dir
        self.spec = spec
        self.child: subprocess.Popen[bytes] | None = None
        self.term_received = False
        self.forwarded = False
        self.killed_after_grace = False
        self.finished = False

    # -- signals (Python handlers run in the main thread, between bytecodes) --

    def install_handlers(self) -> None:
        # Python-level handlers, not SIG_IGN: the child gets default dispositions on exec.
        signal.signal(signal.SIGINT, _ignore)
        signal.signal(signal.SIGHUP, _ignore)
        signal.signal(signal.SIGTERM, self._on_term)
        signal.signal(signal.SIGALRM, self._on_alarm)

    def _on_term(self, signum: int, frame: FrameType | None) -> None:
        self.term_received = True
        if self.child is not None:
            self._forward_term()

    def _forward_term(self) -> None:
        if self.forwarded or self.finished or self.child is None:
            return
        self.forwarded = True
        default_s = float(self.spec.get("default_grace_s", 30.0))
        grace_s = stop_grace_s(self.run_dir, self.token, default_s)
        _say(f"stop requested: SIGTERM sent; SIGKILL in {grace_s:g} s unless it exits")
        _signal_group(self.child.pid, signal.SIGTERM)
        if grace_s > 0:
            signal.setitimer(signal.ITIMER_REAL, grace_s)
        else:
            self._on_alarm(signal.SIGALRM, None)

    def _on_alarm(self, signum: int, frame: FrameType | None) -> None:
        if self.finished or self.child is None:
            return
        self.killed_after_grace = True
        _say("grace period over: SIGKILL sent")
        _signal_group(self.child.pid, signal.SIGKILL)

    # -- the run --

    def run(self) -> int:
        self.install_handlers()
        child = self._spawn()
        if child is None:
            return 0
        self.child = child
        try:
            self._write_record(child.pid)
        except BaseException:  # never leave a job running that no record accounts for
            _signal_group(child.pid, signal.SIGKILL)
            raise
        _answer("ok")
        if self.term_received:
            self._forward_term()
        returncode = self._wait(child)
        self._write_exit(returncode)
        return 0

    def _spawn(self) -> subprocess.Popen[bytes] | None:
        argv = [str(arg) for arg in self.spec["argv"]]
        try:
            return subprocess.Popen(
                argv,
                env=dict(self.spec["env"]),
                cwd=self.spec["cwd"],
                stdin=subprocess.DEVNULL,
                stdout=2,
                stderr=2,
                start_new_session=True,
                close_fds=True,
            )
        except FileNotFoundError as error:
            self._could_not_start(argv, error, EXIT_NOT_FOUND)
        except OSError as error:
            self._could_not_start(argv, error, EXIT_NOT_EXECUTABLE)
        return None

    def _could_not_start(self, argv: list[str], error: OSError, exit_code: int) -> None:
        _say(f"cannot start {argv[0]!r}: {error.strerror or error}")
        self._write_record(None)
        self._write_exit(exit_code)
        _answer("ok")

    def _wait(self, child: subprocess.Popen[bytes]) -> int:
        # Wait without reaping: while the leader is a zombie its group id cannot be reused, so
        # the leftovers of the group can be killed safely; then reap.
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)
        self.finished = True
        signal.setitimer(signal.ITIMER_REAL, 0)
        _signal_group(child.pid, signal.SIGKILL)
        return child.wait()

    def _write_record(self, child_pid: int | None) -> None:
        spec = self.spec
        record = {
            "token": self.token,
            "job_id": spec["job_id"],
            "argv": list(spec["argv"]),
            "gpu_ids": list(spec["gpu_ids"]),
            "cwd": spec["cwd"],
            "log_path": spec["log_path"],
            "started_at": time.time(),
            "supervisor_pid": os.getpid(),
            "supervisor_start_ticks": start_ticks(os.getpid()),
            "child_pid": child_pid,
            "child_start_ticks": None if child_pid is None else start_ticks(child_pid),
        }
        write_json_atomic(record_path(self.run_dir, self.token), record)

    def _write_exit(self, returncode: int) -> None:
        record = {
            "exit_code": returncode if returncode >= 0 else None,
            "signal": -returncode if returncode < 0 else None,
            "stop_requested": stop_path(self.run_dir, self.token).exists(),
            "term_received": self.term_received,
            "killed_after_grace": self.killed_after_grace,
            "ended_at": time.time(),
        }
        write_json_atomic(exit_path(self.run_dir, self.token), record)


def _ignore(signum: int, frame: FrameType | None) -> None:
    """SIGINT and SIGHUP of a terminal or a dying control plane are not ours to act on."""


def _answer(text: str) -> None:
    """Tell LocalExecutor how the start went, then detach stdout (it may be gone already)."""
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except OSError:
        pass  # the control plane died meanwhile: the record on disk is what counts
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m gridshift.executors.shim",
        description="Supervise one local attempt (run by LocalExecutor; spec as JSON on stdin).",
    )
    parser.add_argument("--run-dir", type=Path, required=True, help="the executor's run/ folder")
    parser.add_argument("--token", required=True, help="the attempt's token")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    try:
        spec = json.loads(sys.stdin.buffer.read())
    except ValueError as error:
        _say(f"supervisor got no valid spec on stdin: {error}")
        return 2
    finally:
        sys.stdin.close()
    return Supervisor(args.token, args.run_dir, spec).run()


if __name__ == "__main__":
    sys.exit(main())
