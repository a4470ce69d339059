"""The REST API in-process for tests: the real app over a real SQLite store, the real local
executor and the bundled signals, on an accelerated clock (600 simulated seconds a second).

    with running_api(tmp_path) as api:
        token = api.member("ml", gpu_quota=16)
        job = api.submit(token, job_spec("a")).json()
        api.wait_for(job["id"], {"succeeded"})

``running_api`` starts the engine's thread through the app's lifespan (``start_engine=False``
keeps it off) and, on the way out, cancels every job still active, waits for their processes to
end, stops the engine and closes the store, so no thread or process outlives it. Nothing here is
patched: what the tests see is what ``gridshift server`` serves.
"""

from __future__ import annotations

import secrets
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import update

from gridshift.api.app import PREFIX, create_app
from gridshift.api.runtime import Runtime, build_runtime
from gridshift.config.site import load_site
from gridshift.domain.timeutil import to_iso
from gridshift.engine.clock import ScaledClock
from gridshift.engine.options import EngineOptions
from gridshift.store import tables
from gridshift.store.store import hash_secret

EXAMPLE_SITE = Path(__file__).parents[1] / "examples" / "gridshift.yaml"
START = datetime(2022, 6, 1, tzinfo=UTC)  # inside the bundled 2021-2022 signals
SCALE = 600.0  # simulated seconds per wall second
ADMIN_TOKEN = "gs_bootstrap-admin-" + "x" * 24  # what GRIDSHIFT_ADMIN_TOKEN would hold
PROBLEM = "application/problem+json"
TERMINAL = frozenset({"succeeded", "failed", "cancelled", "expired", "unschedulable"})
OPTIONS = EngineOptions(pass_s=0.1, grace_s=2, cancel_grace_s=2)


def job_spec(name: str, *, seconds: float = 0.3, **fields: Any) -> dict[str, Any]:
    """A spec that runs ``python -m gridshift.demo_job`` for ``seconds`` wall seconds, critical
    (never deferred) so that it starts at the next plan step (a wall second or two)."""
    spec: dict[str, Any] = {
        "name": name,
        "command": [sys.executable, "-m", "gridshift.demo_job", "--seconds", str(seconds)],
        "resources": {"gpus": 1},
        "duration": "20m",
        "within": "3h",
        "priority": "critical",
    }
    spec.update(fields)
    return spec


def python_job(name: str, code: str, **fields: Any) -> dict[str, Any]:
    """A critical job running ``python -c code``."""
    return job_spec(name, command=[sys.executable, "-c", code], **fields)


@dataclass
class Api:
    client: TestClient
    runtime: Runtime
    data_dir: Path
    admin: str = ADMIN_TOKEN

    # -- requests ----------------------------------------------------------------------------

    def request(
        self, method: str, path: str, token: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return self.client.request(method, PREFIX + path, headers=headers, **kwargs)

    def get(self, path: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, token, **kwargs)

    def post(self, path: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, token, **kwargs)

    def submit(self, token: str, spec: dict[str, Any], key: str | None = None) -> httpx.Response:
        headers = {"Idempotency-Key": key} if key is not None else {}
        return self.post("/jobs", token, json=spec, headers=headers)

    def job(self, job_id: str, token: str | None = None) -> dict[str, Any]:
        response = self.get(f"/jobs/{job_id}", token or self.admin)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def all_jobs(self, token: str | None = None, **params: Any) -> list[dict[str, Any]]:
        """Every page of ``GET /jobs`` for ``token`` (the admin's: every team's)."""
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            query = {**params, "limit": 500, **({"cursor": cursor} if cursor else {})}
            response = self.get("/jobs", token or self.admin, params=query)
            assert response.status_code == 200, response.text
            page = response.json()
            items.extend(page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                return items

    # -- teams and tokens --------------------------------------------------------------------

    def team(self, name: str, gpu_quota: int | None = None) -> None:
        response = self.post("/teams", self.admin, json={"name": name, "gpu_quota": gpu_quota})
        assert response.status_code == 201, response.text

    def token(self, team: str, role: str) -> str:
        response = self.post("/tokens", self.admin, json={"team": team, "role": role})
        assert response.status_code == 201, response.text
        secret: str = response.json()["token"]
        return secret

    def member(self, team: str | None = None, gpu_quota: int | None = None) -> str:
        """A member token of a new team (a fresh name unless given)."""
        name = team or f"t-{secrets.token_hex(4)}"
        self.team(name, gpu_quota)
        return self.token(name, "member")

    # -- time --------------------------------------------------------------------------------

    def now(self) -> datetime:
        return self.runtime.clock.now()

    def later(self, hours: float) -> str:
        """An ISO time ``hours`` simulated hours from now."""
        return to_iso(self.now() + timedelta(hours=hours))

    def waiting_spec(self, name: str, **fields: Any) -> dict[str, Any]:
        """A job that may not start for 30 simulated hours (three wall minutes): it stays
        pending, and planned, for the length of a test module."""
        spec = job_spec(name, priority="normal", earliest_start=self.later(30))
        spec.pop("within")
        spec["deadline"] = self.later(46)
        spec.update(fields)
        return spec

    def wait_for(
        self, job_id: str, statuses: set[str] | frozenset[str], timeout_s: float = 15.0
    ) -> dict[str, Any]:
        """Poll the job (as the admin) until its status is one of ``statuses``."""
        return poll(
            lambda: self.job(job_id),
            lambda job: job["status"] in statuses,
            timeout_s,
            f"job {job_id} to reach {sorted(statuses)}",
        )

    # -- clean-up ----------------------------------------------------------------------------

    def stop_jobs(self, timeout_s: float = 15.0) -> None:
        """Cancel every active job and wait until no attempt is open."""
        for job in self.all_jobs():
            if job["status"] not in TERMINAL and not job["cancel_requested"]:
                self.post(f"/jobs/{job['id']}/cancel", self.admin)
        deadline = time.monotonic() + timeout_s
        while self.runtime.store.open_attempts() and time.monotonic() < deadline:
            time.sleep(0.05)


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """``response`` is an RFC 9457 problem with ``status``; a 401 also says how to authenticate."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM), response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"], body
    assert body["detail"], body
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Bearer"), response.headers
    return body


def revoke(api: Api, secret: str) -> None:
    """Mark a token revoked by its secret, straight in the store (DELETE /tokens/{id} takes the
    id, which the tests holding only a secret do not keep)."""
    with api.runtime.store.engines.writer.begin() as conn:
        conn.execute(
            update(tables.tokens)
            .where(tables.tokens.c.secret_sha256 == hash_secret(secret))
            .values(revoked_at=time.time())
        )


def poll(read: Callable[[], Any], done: Callable[[Any], bool], timeout_s: float, what: str) -> Any:
    """``read()`` until ``done(value)``, or fail after ``timeout_s`` wall seconds."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}: {value!r}")
        time.sleep(0.05)


def _kill_leftovers(runtime: Runtime) -> None:
    """Last resort after the engine stopped: kill (by token) every attempt still running."""
    for executor in runtime.executors.values():
        for token in executor.tokens():
            executor.kill(token)


@contextmanager
def running_api(
    data_dir: Path,
    *,
    start_engine: bool = True,
    admin_token: str | None = ADMIN_TOKEN,
    options: EngineOptions = OPTIONS,
) -> Iterator[Api]:
    """The app over a fresh store in ``data_dir``; see the module docstring."""
    site = load_site(EXAMPLE_SITE)
    clock = ScaledClock.starting(START, SCALE)
    runtime = build_runtime(site, data_dir, clock=clock, options=options, admin_token=admin_token)
    try:
        with TestClient(create_app(runtime, start_engine=start_engine)) as client:
            api = Api(client, runtime, data_dir, admin_token or "")
            try:
                yield api
            finally:
                if start_engine and admin_token:
                    api.stop_jobs()
    finally:
        runtime.stop()
        _kill_leftovers(runtime)
        runtime.close()
