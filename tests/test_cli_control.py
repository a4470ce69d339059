"""The CLI against a real ``gridshift server`` process: submit, jobs ls|show|cancel|logs, plan,
clusters, with ``--json``; user mistakes and an unreachable server as one line and exit 2; a
corrupt store refused at start-up."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parent.parent
GRIDSHIFT = Path(sys.executable).parent / "gridshift"
ADMIN = "cli-admin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(GRIDSHIFT), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=REPO,
        timeout=120,
        check=False,
    )


def one_line_error(proc: subprocess.CompletedProcess[str], code: int, *fragments: str) -> None:
    assert proc.returncode == code, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("gridshift: error:")]
    assert len(lines) == 1, proc.stderr
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    root = tmp_path_factory.mktemp("cli-server")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDSHIFT_")}
    env["GRIDSHIFT_ADMIN_TOKEN"] = ADMIN
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    proc = subprocess.Popen(
        [
            str(GRIDSHIFT),
            "server",
            "--config",
            "examples/gridshift.yaml",
            "--data-dir",
            str(root / "data"),
            "--port",
            str(port),
            "--time-scale",
            "60",
            "--start",
            "2022-06-06T06:00:00Z",
            "--grace",
            "1s",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/api/v1/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        h = {"Authorization": f"Bearer {ADMIN}"}
        httpx.post(f"{url}/api/v1/teams", json={"name": "ml"}, headers=h).raise_for_status()
        r = httpx.post(f"{url}/api/v1/tokens", json={"team": "ml", "role": "member"}, headers=h)
        r.raise_for_status()
        yield {"GRIDSHIFT_URL": url, "GRIDSHIFT_TOKEN": r.json()["token"], "PATH": env["PATH"]}
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def as_json(proc: subprocess.CompletedProcess[str]) -> Any:
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_submit_then_list_show_plan_clusters_and_cancel(server: dict[str, str]) -> None:
    done = cli("submit", "examples/job.yaml", env=server)
    assert done.returncode == 0, done.stderr
    first_line = done.stdout.splitlines()[0]
    job_id = first_line.split()[0]
    assert "finetune-demo" in first_line
    assert "planned start" in done.stdout
    assert "run now" in done.stdout
    listed = as_json(cli("jobs", "--json", env=server))
    assert [j["id"] for j in listed] == [job_id]
    assert listed[0]["spec"]["env"]["HF_TOKEN"] == "***"
    shown = as_json(cli("jobs", "show", job_id, "--json", env=server))
    assert shown["team"] == "ml"
    assert next(e["kind"] for e in shown["events"]) == "pending"
    plan = as_json(cli("plan", "--json", env=server))
    for key in ("objective", "energy_kwh", "cost_usd", "carbon_kg", "jobs", "infeasible"):
        assert key in plan
    assert [j["id"] for j in plan["jobs"]] == [job_id]
    clusters = as_json(cli("clusters", "--json", env=server))
    assert {c["name"] for c in clusters} == {"fra-1", "dfw-1", "lon-1"}
    cancelled = as_json(cli("jobs", "cancel", job_id, "--json", env=server))
    assert cancelled["status"] == "cancelled"
    text = cli("jobs", env={**server, "COLUMNS": "200"})
    assert text.returncode == 0
    assert job_id in text.stdout
    assert "cancelled" in text.stdout


def test_a_job_runs_and_its_logs_come_back(server: dict[str, str], tmp_path: Path) -> None:
    spec = tmp_path / "now.yaml"
    spec.write_text(
        "name: now\ncommand: python -m gridshift.demo_job --seconds 1\nduration: 1m\n"
        "within: 2h\npriority: critical\n"
    )
    job_id = cli("submit", str(spec), env=server).stdout.split()[0]
    deadline = time.monotonic() + 60
    status = ""
    while time.monotonic() < deadline:
        status = as_json(cli("jobs", "show", job_id, "--json", env=server))["status"]
        if status == "succeeded":
            break
        time.sleep(0.5)
    assert status == "succeeded"
    logs = cli("jobs", "logs", job_id, env=server)
    assert logs.returncode == 0
    assert "done: 1 s" in logs.stdout


def test_user_mistakes_are_one_line_and_exit_2(server: dict[str, str], tmp_path: Path) -> None:
    one_line_error(cli("jobs", "show", "nope", env=server), 2, "no job 'nope'")
    bad = {**server, "GRIDSHIFT_TOKEN": "not-a-token"}
    one_line_error(cli("jobs", env=bad), 2, "refused the token")
    spec = tmp_path / "bad.yaml"
    spec.write_text("name: bad\ncommand: 'true'\nduration: 1h\ndeadline: 2022-06-06T06:00:00\n")
    one_line_error(cli("submit", str(spec), env=server), 2, "deadline")
    nowhere = {**server, "GRIDSHIFT_URL": f"http://127.0.0.1:{free_port()}"}
    one_line_error(cli("jobs", env=nowhere), 2, "cannot reach the gridshift server")


def test_the_server_refuses_a_corrupt_store(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "gridshift.db").write_bytes(os.urandom(8192))
    proc = cli("server", "--config", "examples/gridshift.yaml", "--data-dir", str(data),
               "--port", str(free_port()))  # fmt: skip
    one_line_error(proc, 1, "cannot be read", "nothing was dispatched")


def test_the_server_needs_a_site_configuration(tmp_path: Path) -> None:
    proc = cli("server", "--config", str(tmp_path / "missing.yaml"))
    one_line_error(proc, 2, "no site configuration", "--config")
