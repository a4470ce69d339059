"""The crash test (RELIABILITY.md): submit 500 jobs at 10 per second to a real server process,
kill -9 it at random moments and at each named crash point, restart it, and check the
invariants once the faults stop: 0 lost, 0 duplicated, 0 unaccounted, every feasible deadline
met, attempts of a job never overlapping.

The server runs an accelerated clock (120 simulated seconds per second) so that jobs of minutes
run in seconds; each job is ``gridshift.demo_job``, a checkpoint-aware sleep. Seeded.
"""

from __future__ import annotations

import itertools
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gridshift.domain.status import JobStatus
from gridshift.engine.crash import POINTS
from gridshift.store import Store, sqlite_url

SCALE = 120.0
JOBS = 500
RATE_PER_S = 10.0
RANDOM_KILLS = 10
SEED = 20261126
ADMIN = "crash-test-admin-token"
SITE = """
clusters:
  - {name: fra-1, zone: DE-LU, gpus: 64, gpu_type: H100, pue: 1.2,
     tariff: {kind: wholesale, adder_usd_per_mwh: 25}}
  - {name: dfw-1, zone: US-TEX-ERCO, gpus: 64, gpu_type: H100, pue: 1.3,
     tariff: {kind: wholesale, adder_usd_per_mwh: 20}}
signals:
  - {zone: DE-LU, kind: carbon, source: bundled}
  - {zone: DE-LU, kind: price, source: bundled}
  - {zone: US-TEX-ERCO, kind: carbon, source: bundled}
  - {zone: US-TEX-ERCO, kind: price, source: bundled}
objective: {mode: combined, carbon_price_usd_per_tonne: 100}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``gridshift server`` as a child process that the test kills and restarts."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.config = root / "site.yaml"
        self.config.write_text(SITE)
        self.data = root / "data"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.log = open(root / "server.log", "ab")  # noqa: SIM115 (closed in stop)

    def start(self, crash_at: str | None = None) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDSHIFT_")}
        env["GRIDSHIFT_ADMIN_TOKEN"] = ADMIN
        if crash_at:
            env["GRIDSHIFT_CRASH_AT"] = crash_at
        argv = [sys.executable, "-m", "gridshift.cli.main", "server", "--config",
                str(self.config), "--data-dir", str(self.data), "--port", str(self.port),
                "--time-scale", str(SCALE), "--start", "2022-06-06T06:00:00Z",
                "--replan", "15m", "--grace", "1s"]  # fmt: skip
        self.proc = subprocess.Popen(argv, env=env, stdout=self.log, stderr=self.log)
        self.starts += 1
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return  # died at once (a crash point reached during start-up)
            try:
                if httpx.get(f"{self.url}/api/v1/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError("the server did not come up")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def wait_dead(self, timeout_s: float) -> bool:
        assert self.proc is not None
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return False
        return self.proc.returncode == -signal.SIGKILL

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


def demo_argv(seconds: float) -> list[str]:
    return [
        sys.executable,
        "-m",
        "gridshift.demo_job",
        "--seconds",
        f"{seconds:.2f}",
        "--tick",
        "0.1",
    ]


def job_spec(i: int, rng: random.Random) -> dict[str, Any]:
    minutes = rng.choice([2, 4, 6, 10])
    return {
        "name": f"crash-{i:03d}",
        "command": demo_argv(minutes * 60 / SCALE),
        "resources": {"gpus": rng.choice([1, 2, 4, 8])},
        "duration": f"{minutes}m",
        "within": f"{minutes + 180}m",
        "priority": rng.choice(["low", "normal", "normal", "high"]),
        "interruptible": {"checkpoint_overhead": "1m"} if i % 2 else False,
    }


class Submitter(threading.Thread):
    """Submits at a fixed rate; a submission that gets no answer is retried with the same
    Idempotency-Key until the (restarted) server answers."""

    def __init__(self, url: str, token: str, rng: random.Random) -> None:
        super().__init__(daemon=True)
        self.url, self.token, self.rng = url, token, rng
        self.acked: dict[str, str] = {}  # idempotency key -> job id
        self.errors: list[str] = []

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        started = time.monotonic()
        with httpx.Client(base_url=f"{self.url}/api/v1", timeout=10) as client:
            for i in range(JOBS):
                wait = started + i / RATE_PER_S - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                key = f"key-{i}"
                body = job_spec(i, self.rng)
                while True:
                    try:
                        r = client.post("/jobs", json=body, headers={**headers,
                                        "Idempotency-Key": key})  # fmt: skip
                    except httpx.HTTPError:
                        time.sleep(0.2)
                        continue
                    if r.status_code in (200, 201):
                        self.acked[key] = r.json()["id"]
                    else:
                        self.errors.append(f"{key}: {r.status_code} {r.text[:200]}")
                    break


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    s = Server(tmp_path)
    try:
        yield s
    finally:
        s.stop()
        for run in (s.data / "executors").glob("*/run/*.json"):  # leave nothing running
            if not run.name.endswith(".exit.json"):
                subprocess.run(["pkill", "-9", "-f", run.name.removesuffix(".json")], check=False)


def token_for(url: str) -> str:
    h = {"Authorization": f"Bearer {ADMIN}"}
    httpx.post(f"{url}/api/v1/teams", json={"name": "chaos"}, headers=h).raise_for_status()
    r = httpx.post(f"{url}/api/v1/tokens", json={"team": "chaos", "role": "member"}, headers=h)
    r.raise_for_status()
    return str(r.json()["token"])


def all_done(url: str, token: str, total: int) -> bool:
    try:
        r = httpx.get(f"{url}/api/v1/jobs", params={"limit": 500, "status": ["pending",
                      "running", "paused"]}, headers={"Authorization": f"Bearer {token}"},
                      timeout=5)  # fmt: skip
        done = httpx.get(f"{url}/api/v1/healthz", timeout=5).json()
    except httpx.HTTPError:
        return False
    return r.status_code == 200 and not r.json()["items"] and done["engine"]["active_jobs"] == 0


def test_kill_9_loses_nothing_duplicates_nothing_and_meets_deadlines(server: Server) -> None:
    rng = random.Random(SEED)
    server.start()
    token = token_for(server.url)
    submitter = Submitter(server.url, token, random.Random(SEED + 1))
    submitter.start()
    # 1. Random kill -9s while the submissions arrive.
    window_s = JOBS / RATE_PER_S
    moments = sorted(rng.uniform(2.0, window_s) for _ in range(RANDOM_KILLS))
    began = time.monotonic()
    for at in moments:
        time.sleep(max(0.0, began + at - time.monotonic()))
        server.kill()
        time.sleep(rng.uniform(0.0, 0.5))
        server.start()
    submitter.join(timeout=window_s + 120)
    assert not submitter.is_alive()
    # 2. Each named crash point: the server kills itself there; it is restarted.
    crashed = {}
    for point in POINTS:
        server.kill()
        server.start(crash_at=f"{point}:3")
        crashed[point] = server.wait_dead(timeout_s=60)
        server.start()
    # 3. Faults stop: every job reaches a terminal status.
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not all_done(server.url, token, JOBS):
        time.sleep(1.0)
    server.stop()

    assert crashed == dict.fromkeys(POINTS, True), "each named crash point was reached"
    assert submitter.errors == []
    store = Store.open(sqlite_url(server.data))
    try:
        jobs = store.jobs(team="chaos")
        by_id = {j.id: j for j in jobs}
        # No loss: every acknowledged submission exists and is finished, with a reason.
        assert len(submitter.acked) == JOBS
        missing = [k for k, i in submitter.acked.items() if i not in by_id]
        assert missing == []
        unfinished = [j.id for j in jobs if not j.status.terminal]
        assert unfinished == []
        assert all(j.reason for j in jobs)
        # No duplicates: one job per idempotency key; attempts never overlap; one success.
        keys = [j.idempotency_key for j in jobs]
        assert len(keys) == len(set(keys)) == JOBS
        attempts = store.attempts()
        per_job: dict[str, list[Any]] = {}
        for a in attempts:
            per_job.setdefault(a.job_id, []).append(a)
        for job_id, tries in per_job.items():
            tries.sort(key=lambda a: a.n)
            for before, after in itertools.pairwise(tries):
                assert before.ended_at is not None, f"{job_id}: attempt {before.n} never ended"
                assert after.intent_at >= before.ended_at, f"{job_id}: attempts overlap"
            assert sum(a.outcome == "exit 0" for a in tries) <= 1
        # Everything accounted: every process an executor started maps to a recorded attempt.
        tokens = {a.token for a in attempts}
        started = {p.name.removesuffix(".log") for p in server.data.glob("executors/*/logs/*.log")}
        assert started - tokens == set()
        # Deadlines: every job here was feasible at submission (three hours of slack).
        late = [
            (j.id, j.status.value)
            for j in jobs
            if j.status is not JobStatus.SUCCEEDED
            or j.finished_at is None
            or j.finished_at > j.deadline
        ]
        assert late == []
    finally:
        store.close()
    assert server.starts == 1 + RANDOM_KILLS + 2 * len(POINTS)
