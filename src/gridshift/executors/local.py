"""The local executor: attempts as processes on this machine (the embedded default).

Every attempt runs under its own supervisor (``shim.py``), both in sessions of their own, so a
dead or restarted control plane leaves running jobs alone. All state lives in files under
``state_dir``, keyed by the attempt's token (RELIABILITY.md mechanism 2):

    run/<token>.json       written by the supervisor before start() returns: both pids, their
                           /proc start times, GPU ids, argv, job id, started_at
    run/<token>.exit.json  how it ended: exit_code or signal, stop_requested, ended_at
    run/<token>.stop       a stop was asked for, with its grace (read by the supervisor)
    run/.start.lock        serialises starts (GPU assignment) across threads and processes
    logs/<token>.log       stdout and stderr of the attempt (and the supervisor's notes)
    work/                  the working directory of attempts that name none

A restarted control plane needs nothing but these files: ``observe`` reads them and /proc, GPU
indices held by running attempts are read back from their records, ``stop`` and ``kill`` find
the processes by pid and check /proc start times so that a reused pid is never signalled.

It must never run a command through a shell, never pass the server's ``GRIDSHIFT_*`` variables
to a job, never signal a process whose start time does not match its record, and never start a
subprocess in ``observe`` (it runs every engine pass for every running attempt).
"""

from __future__ import annotations

import fcntl
import importlib
import json
import os
import re
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gridshift
from gridshift.executors.base import (
    Capabilities,
    ExecutorError,
    Launch,
    Observed,
    State,
)
from gridshift.executors.shim import (
    exit_path,
    is_alive,
    proc_stat,
    read_json,
    record_path,
    stop_path,
    write_json_atomic,
)

START_TIMEOUT_S = 30.0  # how long start() waits for the supervisor's answer
KILL_WAIT_S = 2.0  # how long kill() waits for a SIGKILLed supervisor to be gone
_TOKEN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,199}")


@dataclass(frozen=True)
class _Record:
    """``run/<token>.json``: what the supervisor wrote when the attempt started."""

    token: str
    job_id: str
    argv: tuple[str, ...]
    gpu_ids: tuple[int, ...]
    started_at: float
    supervisor_pid: int
    supervisor_start_ticks: int | None
    child_pid: int | None
    child_start_ticks: int | None

    @classmethod
    def parse(cls, data: dict[str, Any]) -> _Record:
        return cls(
            token=str(data["token"]),
            job_id=str(data["job_id"]),
            argv=tuple(str(arg) for arg in data["argv"]),
            gpu_ids=tuple(int(gpu) for gpu in data["gpu_ids"]),
            started_at=float(data["started_at"]),
            supervisor_pid=int(data["supervisor_pid"]),
            supervisor_start_ticks=_int_or_none(data.get("supervisor_start_ticks")),
            child_pid=_int_or_none(data.get("child_pid")),
            child_start_ticks=_int_or_none(data.get("child_start_ticks")),
        )

    @property
    def supervisor_alive(self) -> bool:
        return is_alive(self.supervisor_pid, self.supervisor_start_ticks)

    @property
    def child_alive(self) -> bool:
        return is_alive(self.child_pid, self.child_start_ticks)


def _float_or_none(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _int_or_none(value: object) -> int | None:
    return None if value is None else int(str(value))


def check_token(token: str) -> str:
    """A token names files: letters, digits, ``._-``; not hidden, not ending in ``.exit``."""
    if not _TOKEN.fullmatch(token) or token.endswith(".exit"):
        raise ExecutorError(
            f"invalid attempt token {token!r}: use 1-200 letters, digits, '.', '_' or '-', "
            "not starting with '.' or '-' and not ending in '.exit'"
        )
    return token


class LocalExecutor:
    """Runs attempts as local processes, GPUs assigned from a pool ``0..gpus-1``."""

    def __init__(
        self,
        cluster: str,
        gpus: int | None,
        state_dir: Path,
        *,
        default_grace_s: float = 30.0,
        python: str = sys.executable,
    ) -> None:
        if gpus is not None and gpus < 0:
            raise ValueError(f"gpus must be None (no GPU pool) or >= 0, got {gpus}")
        self.name = f"local:{cluster}"
        self.gpus = gpus
        self.state_dir = Path(state_dir)
        self.default_grace_s = default_grace_s
        self.python = python
        self.run_dir = self.state_dir / "run"
        self.log_dir = self.state_dir / "logs"
        self.work_dir = self.state_dir / "work"
        for directory in (self.run_dir, self.log_dir, self.work_dir):
            directory.mkdir(parents=True, exist_ok=True)
        self.capabilities = Capabilities(
            pause=True, resize=True, power_cap=bool(gpus) and _nvml_has_gpus()
        )
        self._records: dict[str, _Record] = {}  # records never change once written
        self._supervisors: dict[str, subprocess.Popen[bytes]] = {}  # ours, to reap

    # ---- start ------------------------------------------------------------------------------

    def start(self, launch: Launch) -> None:
        token = check_token(launch.token)
        if self._exists(token):
            return
        if not launch.argv:
            raise ExecutorError(f"attempt {token}: empty argv, nothing to run")
        with self._start_lock():
            if self._exists(token):
                return
            self._reap_all()
            cwd = self._cwd(launch)
            gpu_ids = self._assign_gpus(launch)
            if launch.checkpoint_dir is not None:
                Path(launch.checkpoint_dir).mkdir(parents=True, exist_ok=True)
            spec = {
                "job_id": launch.job_id,
                "argv": list(launch.argv),
                "env": self._child_env(launch, gpu_ids),
                "cwd": str(cwd),
                "gpu_ids": list(gpu_ids),
                "log_path": str(self.log_path(token)),
                "default_grace_s": self.default_grace_s,
            }
            self._spawn_supervisor(token, spec)

    def log_path(self, token: str) -> Path:
        return self.log_dir / f"{token}.log"

    def _exists(self, token: str) -> bool:
        return record_path(self.run_dir, token).exists() or exit_path(self.run_dir, token).exists()

    @contextmanager
    def _start_lock(self) -> Iterator[None]:
        fd = os.open(self.run_dir / ".start.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    def _cwd(self, launch: Launch) -> Path:
        if launch.cwd is None:
            return self.work_dir
        cwd = Path(launch.cwd)
        if not cwd.is_dir():
            raise ExecutorError(
                f"attempt {launch.token}: working directory {str(cwd)!r} does not exist "
                "(or is not a directory) on this machine"
            )
        return cwd

    def _assign_gpus(self, launch: Launch) -> tuple[int, ...]:
        """The lowest free indices of the pool; () when the cluster has no pool."""
        if self.gpus is None:
            return ()
        if launch.gpus > self.gpus:
            raise ExecutorError(
                f"attempt {launch.token} needs {launch.gpus} GPUs but {self.name} has "
                f"only {self.gpus}"
            )
        held = self._held_gpu_ids()
        free = [index for index in range(self.gpus) if index not in held]
        if len(free) < launch.gpus:
            raise ExecutorError(
                f"attempt {launch.token} needs {launch.gpus} GPUs but only {len(free)} of "
                f"{self.gpus} are free on {self.name} (held: {sorted(held)})"
            )
        return tuple(free[: launch.gpus])

    def _held_gpu_ids(self) -> set[int]:
        """GPUs of attempts not known to have ended whose supervisor or job still runs."""
        held: set[int] = set()
        for token in self.tokens():
            record = self._record(token)
            if record is None or not record.gpu_ids:
                continue
            if exit_path(self.run_dir, token).exists():
                continue
            if record.supervisor_alive or record.child_alive:
                held.update(record.gpu_ids)
        return held

    def _child_env(self, launch: Launch, gpu_ids: tuple[int, ...]) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDSHIFT_")}
        env.update(launch.env)
        env["GRIDSHIFT_JOB_ID"] = launch.job_id
        env["GRIDSHIFT_ATTEMPT_TOKEN"] = launch.token
        env.pop("GRIDSHIFT_RESUME", None)
        env.pop("GRIDSHIFT_CHECKPOINT_DIR", None)
        if launch.resume:
            env["GRIDSHIFT_RESUME"] = "1"
        if launch.checkpoint_dir is not None:
            env["GRIDSHIFT_CHECKPOINT_DIR"] = str(launch.checkpoint_dir)
        if self.gpus is not None:
            env["CUDA_VISIBLE_DEVICES"] = ",".join(str(index) for index in gpu_ids)
            env["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID"  # CUDA indices = NVML (nvidia-smi) indices
        return env

    def _spawn_supervisor(self, token: str, spec: dict[str, Any]) -> None:
        argv = [
            self.python,
            "-m",
            "gridshift.executors.shim",
            "--run-dir",
            str(self.run_dir),
            "--token",
            token,
        ]
        try:
            with open(self.log_path(token), "ab") as log:
                supervisor = subprocess.Popen(
                    argv,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=log,
                    cwd=self.run_dir,
                    env=_supervisor_env(),
                    start_new_session=True,
                    close_fds=True,
                )
        except OSError as error:
            raise ExecutorError(
                f"attempt {token}: cannot start the supervisor with {self.python!r}: {error}"
            ) from error
        self._supervisors[token] = supervisor
        answer = _handshake(supervisor, json.dumps(spec).encode(), START_TIMEOUT_S)
        if answer == b"ok" and record_path(self.run_dir, token).exists():
            return
        if supervisor.poll() is None:  # no answer in time: give up on it
            supervisor.kill()
            supervisor.wait()
        if record_path(self.run_dir, token).exists():
            return  # it started after all; observe() tells how it goes
        raise ExecutorError(
            f"attempt {token}: the supervisor did not start it "
            f"(answer {answer!r}); log tail: {self.logs(token, 2000)!r}"
        )

    # ---- observe ----------------------------------------------------------------------------

    def observe(self, token: str) -> Observed:
        check_token(token)
        record = self._record(token)
        if record is None:
            return Observed(token, State.UNKNOWN)
        ended = self._exit(token)
        if ended is None:
            self._reap(token)
            if record.supervisor_alive:
                return Observed(token, State.RUNNING, gpu_ids=record.gpu_ids)
            ended = self._exit(token)  # it may have written its record and exited meanwhile
        if ended is None:
            return Observed(token, State.LOST, gpu_ids=record.gpu_ids)
        return Observed(
            token,
            State.EXITED,
            exit_code=_int_or_none(ended.get("exit_code")),
            signal=_int_or_none(ended.get("signal")),
            stop_requested=bool(ended.get("stop_requested", False)),
            gpu_ids=record.gpu_ids,
            ended_wall=_float_or_none(ended.get("ended_at")),
        )

    def tokens(self) -> list[str]:
        names = (path.name for path in self.run_dir.glob("*.json"))
        return sorted(
            name.removesuffix(".json")
            for name in names
            if not name.startswith(".") and not name.endswith(".exit.json")
        )

    def _record(self, token: str) -> _Record | None:
        record = self._records.get(token)
        if record is None:
            data = self._read(record_path(self.run_dir, token))
            if data is None:
                return None
            record = self._records[token] = _Record.parse(data)
        return record

    def _exit(self, token: str) -> dict[str, Any] | None:
        return self._read(exit_path(self.run_dir, token))

    @staticmethod
    def _read(path: Path) -> dict[str, Any] | None:
        try:
            return read_json(path)
        except (OSError, ValueError) as error:
            raise ExecutorError(f"unreadable executor record {path}: {error}") from error

    # ---- stop, kill -------------------------------------------------------------------------

    def stop(self, token: str, grace_s: float) -> None:
        check_token(token)
        record = self._record(token)
        if record is None or self._exit(token) is not None:
            return
        if not record.supervisor_alive:
            return  # LOST: nobody left to carry the protocol out; the engine fences it
        write_json_atomic(
            stop_path(self.run_dir, token), {"grace_s": grace_s, "requested_at": time.time()}
        )
        _signal_verified(record.supervisor_pid, record.supervisor_start_ticks, signal.SIGTERM)

    def kill(self, token: str) -> None:
        check_token(token)
        record = self._record(token)
        if record is None or self._exit(token) is not None:
            return
        if record.child_pid is not None:
            _kill_group(record.child_pid, record.child_start_ticks)
        pid, ticks = record.supervisor_pid, record.supervisor_start_ticks
        if _signal_verified(pid, ticks, signal.SIGKILL):
            self._wait_gone(token, pid, ticks)
        ended = {
            "exit_code": None,
            "signal": int(signal.SIGKILL),
            "stop_requested": stop_path(self.run_dir, token).exists(),
            "fenced": True,
            "ended_at": time.time(),
        }
        write_json_atomic(exit_path(self.run_dir, token), ended, exclusive=True)

    def _wait_gone(self, token: str, pid: int, ticks: int | None) -> None:
        deadline = time.monotonic() + KILL_WAIT_S
        while time.monotonic() < deadline:
            self._reap(token)
            if not is_alive(pid, ticks):
                return
            time.sleep(0.005)

    # ---- the rest ---------------------------------------------------------------------------

    def set_power_cap(self, token: str, watts_per_gpu: float) -> bool:
        if not self.capabilities.power_cap:
            return False
        try:
            record = self._record(check_token(token))
            if record is None or not record.gpu_ids:
                return False
            return _nvml_set_power_limit(record.gpu_ids, watts_per_gpu)
        except Exception:  # never raise: False tells the engine it could not
            return False

    def logs(self, token: str, tail_bytes: int = 65536) -> str:
        path = self.log_path(check_token(token))
        try:
            with open(path, "rb") as file:
                size = file.seek(0, os.SEEK_END)
                file.seek(max(0, size - max(0, tail_bytes)))
                return file.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def forget(self, token: str) -> None:
        check_token(token)
        record = self._record(token)
        ended = self._exit(token) is not None
        if record is not None and not ended and (record.supervisor_alive or record.child_alive):
            raise ExecutorError(
                f"attempt {token} is still running on {self.name}: stop or kill it before "
                "forgetting it"
            )
        self._reap(token)
        # The record goes last: while it exists the token is listed, so a forget cut short by
        # a crash is seen (and done again) by the next reconciliation.
        for path in (
            exit_path(self.run_dir, token),
            stop_path(self.run_dir, token),
            *self.run_dir.glob(f".{token}.*.tmp"),
            record_path(self.run_dir, token),
        ):
            with suppress(FileNotFoundError):
                path.unlink()
        self._records.pop(token, None)

    def _reap(self, token: str) -> None:
        supervisor = self._supervisors.get(token)
        if supervisor is not None and supervisor.poll() is not None:
            self._supervisors.pop(token, None)

    def _reap_all(self) -> None:
        for token in list(self._supervisors):
            self._reap(token)


# ---- helpers ------------------------------------------------------------------------------------


def _supervisor_env() -> dict[str, str]:
    """The server's environment minus its secrets, able to import gridshift."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDSHIFT_")}
    package_root = str(Path(gridshift.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    return env


def _handshake(process: subprocess.Popen[bytes], payload: bytes, timeout_s: float) -> bytes:
    """Send the spec to the supervisor and read its one-line answer (b"" if none in time)."""
    assert process.stdin is not None
    assert process.stdout is not None
    deadline = time.monotonic() + timeout_s
    answer = b""
    to_send = memoryview(payload)
    try:
        with selectors.DefaultSelector() as selector:
            os.set_blocking(process.stdin.fileno(), False)
            selector.register(process.stdin, selectors.EVENT_WRITE)
            selector.register(process.stdout, selectors.EVENT_READ)
            while b"\n" not in answer and (remaining := deadline - time.monotonic()) > 0:
                for key, _ in selector.select(remaining):
                    if key.fileobj is process.stdin:
                        to_send = _send_some(process, to_send, selector)
                        continue
                    chunk = os.read(process.stdout.fileno(), 4096)
                    if not chunk:  # it exited without answering
                        return answer.strip()
                    answer += chunk
    finally:
        with suppress(OSError):
            process.stdin.close()
        process.stdout.close()
    return answer.strip()


def _send_some(
    process: subprocess.Popen[bytes], to_send: memoryview, selector: selectors.BaseSelector
) -> memoryview:
    assert process.stdin is not None
    try:
        sent = os.write(process.stdin.fileno(), to_send)
    except BrokenPipeError:
        sent = len(to_send)  # it died; its answer (EOF) says so
    to_send = to_send[sent:]
    if not to_send:
        selector.unregister(process.stdin)
        process.stdin.close()
    return to_send


def _signal_verified(pid: int, ticks: int | None, signum: int) -> bool:
    """Signal ``pid`` only if it is the process that started at ``ticks``; True if sent."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return False
    except OSError:  # no pidfd on this kernel: check, then signal (a tiny reuse window)
        if not is_alive(pid, ticks):
            return False
        with suppress(ProcessLookupError):
            os.kill(pid, signum)
        return True
    try:
        if not is_alive(pid, ticks):  # checked after the pidfd pinned the process
            return False
        signal.pidfd_send_signal(pidfd, signum)
        return True
    except ProcessLookupError:
        return False
    finally:
        os.close(pidfd)


def _kill_group(leader: int, ticks: int | None) -> None:
    """SIGKILL the process group led by ``leader`` (our job), never a stranger's."""
    stat = proc_stat(leader)
    if stat is not None:
        if stat.start_ticks == ticks:  # alive or a zombie: it holds the group id
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(leader, signal.SIGKILL)
        return  # a reused pid: not ours
    # The leader is gone; members of its group may remain. No other group can have this id
    # while no process has the leader's pid.
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        member = proc_stat(int(entry.name))
        if member is None or member.pgrp != leader or ticks is None:
            continue
        if member.start_ticks >= ticks:  # it started after our job: one of its descendants
            with suppress(ProcessLookupError, PermissionError):
                os.kill(int(entry.name), signal.SIGKILL)


def _nvml() -> Any:
    return importlib.import_module("pynvml")


def _nvml_has_gpus() -> bool:
    """NVML importable, initialisable and seeing at least one GPU; False on any error."""
    try:
        nvml = _nvml()
        nvml.nvmlInit()
        try:
            return int(nvml.nvmlDeviceGetCount()) > 0
        finally:
            nvml.nvmlShutdown()
    except Exception:
        return False


def _nvml_set_power_limit(gpu_ids: tuple[int, ...], watts: float) -> bool:
    nvml = _nvml()
    nvml.nvmlInit()
    try:
        for index in gpu_ids:
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            nvml.nvmlDeviceSetPowerManagementLimit(handle, round(watts * 1000))
        return True
    finally:
        nvml.nvmlShutdown()
