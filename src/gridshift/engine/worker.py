"""Where re-plans run: in the engine's thread (``InlinePlanner``, for tests and small sites), or
in a worker process of their own (``ProcessPlanner``, the server's default), so that a re-plan of
ten thousand jobs never holds the API's interpreter lock: the API answers while it runs.

The planner is a pure function, so a request (jobs, running jobs, clusters, forecasts, options)
goes over a pipe and a ``Plan`` comes back; the worker keeps the previous problem for the warm
start. A worker that dies is started again and the pass that lost it fails (and is retried by the
next pass); nothing is lost, since the store holds everything.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pickle
import struct
import subprocess
import sys
import threading
from typing import IO, Any, Protocol

from gridshift.domain import JobPlan, Plan
from gridshift.engine.planning import PlanRequest, StaleJobsError, WarmPlanner

log = logging.getLogger("gridshift.engine")
CHUNK = 500  # jobs per message of a plan


class Planner(Protocol):
    def plan(self, request: PlanRequest) -> Plan: ...

    def close(self) -> None: ...


class InlinePlanner:
    def __init__(self) -> None:
        self.warm = WarmPlanner()

    def plan(self, request: PlanRequest) -> Plan:
        return self.warm.solve(request)

    def close(self) -> None:
        pass


def _read(stream: IO[bytes]) -> Any:
    head = stream.read(8)
    if len(head) < 8:
        raise EOFError("the pipe closed")
    size = struct.unpack("<Q", head)[0]
    body = stream.read(size)
    if len(body) < size:
        raise EOFError("the pipe closed mid-message")
    return pickle.loads(body)


def _write(stream: IO[bytes], value: Any) -> None:
    body = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(struct.pack("<Q", len(body)) + body)
    stream.flush()


def serve(requests: IO[bytes], answers: IO[bytes]) -> None:
    """The worker: solve requests until the pipe closes (the server exited or was killed)."""
    from gridshift.bench.instances import warm_up

    warm_up()  # load the compiled kernels before the first request
    planner = WarmPlanner()
    while True:
        try:
            request = _read(requests)
        except (EOFError, OSError):
            return
        try:
            plan = planner.solve(request)
            # The plan in chunks of jobs: unpickling each is short, so the server's threads
            # (the API) run between them instead of waiting for one long unpickle.
            chunks = [plan.jobs[i : i + CHUNK] for i in range(0, len(plan.jobs), CHUNK)]
            _write(answers, ("ok", dataclasses.replace(plan, jobs=()), len(chunks)))
            for chunk in chunks:
                _write(answers, chunk)
        except StaleJobsError as exc:
            _write(answers, ("stale", str(exc), 0))
        except Exception as exc:  # reported to the engine, which logs it and retries
            planner.last = None
            _write(answers, ("error", f"{type(exc).__name__}: {exc}", 0))


class PlannerWorkerError(Exception):
    """The worker failed a request or died; the next pass tries again."""


class ProcessPlanner:
    """``python -m gridshift.engine.worker`` as a child process, spoken to over its stdin and
    stdout (length-prefixed pickles). It ends when the server does (its stdin closes)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._start()

    def _start(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "gridshift.engine.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )

    def plan(self, request: PlanRequest) -> Plan:
        with self._lock:
            proc = self._proc
            assert proc is not None
            assert proc.stdin is not None
            assert proc.stdout is not None
            try:
                _write(proc.stdin, request)
                status, payload, chunks = _read(proc.stdout)
                jobs: list[JobPlan] = []
                for _ in range(chunks):
                    jobs.extend(_read(proc.stdout))
            except (EOFError, OSError) as exc:
                log.error("the planner worker died (%s); starting a new one", exc)
                self._stop()
                self._start()
                raise StaleJobsError("the planner worker died and was restarted") from None
        if status == "stale":
            raise StaleJobsError(str(payload))
        if status != "ok":
            raise PlannerWorkerError(str(payload))
        plan: Plan = dataclasses.replace(payload, jobs=tuple(jobs))
        return plan

    def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()

    def close(self) -> None:
        with self._lock:
            self._stop()


def main() -> None:
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything printed goes to stderr, never into the answers
    serve(sys.stdin.buffer, answers)


if __name__ == "__main__":
    main()
