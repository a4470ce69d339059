"""The checkpoint helper for job code (and the demo job built on it).

Saving, loading and resuming are tested in-process; the SIGTERM behaviour of ``pause_point``
in real subprocesses, as a job would see it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import pytest

from gridshift import checkpoint
from gridshift.executors import base

PY = sys.executable
LOOP = textwrap.dedent(
    """
    import time
    from gridshift import checkpoint
    step = checkpoint.resume(default=0)
    print("ready", step, flush=True)
    while True:
        step += 1
        time.sleep(0.01)
        checkpoint.pause_point(step)
    """
)


@pytest.fixture(autouse=True)
def fresh_helper(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No gridshift variables; the helper's SIGTERM handler uninstalled again afterwards."""
    for name in ("GRIDSHIFT_CHECKPOINT_DIR", "GRIDSHIFT_RESUME"):
        monkeypatch.delenv(name, raising=False)
    handler = signal.getsignal(signal.SIGTERM)
    monkeypatch.setattr(checkpoint, "_installed", False)
    monkeypatch.setattr(checkpoint, "_stop_flag", False)
    monkeypatch.setattr(checkpoint, "_previous", None)
    yield
    signal.signal(signal.SIGTERM, handler)


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "ckpt"
    monkeypatch.setenv("GRIDSHIFT_CHECKPOINT_DIR", str(path))
    return path


def job_env(folder: Path | None, resume: bool = False) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDSHIFT_")}
    if folder is not None:
        env["GRIDSHIFT_CHECKPOINT_DIR"] = str(folder)
    if resume:
        env["GRIDSHIFT_RESUME"] = "1"
    return env


def run_loop_until_sigterm(env: dict[str, str]) -> tuple[int, str]:
    """Start LOOP, SIGTERM it once it runs; its exit code and first line."""
    with subprocess.Popen([PY, "-c", LOOP], env=env, stdout=subprocess.PIPE, text=True) as job:
        assert job.stdout is not None
        first = job.stdout.readline()
        job.send_signal(signal.SIGTERM)
        try:
            return job.wait(timeout=10), first
        finally:
            job.kill()


def test_exit_paused_matches_the_executors() -> None:
    assert checkpoint.EXIT_PAUSED == base.EXIT_PAUSED == 75


def test_save_and_load_round_trip(folder: Path) -> None:
    assert checkpoint.directory() == folder
    assert checkpoint.load(default=None) is None
    assert checkpoint.save({"step": 3, "loss": 0.5}) is True
    assert checkpoint.load(default=None) == {"step": 3, "loss": 0.5}
    assert checkpoint.save([1, 2]) is True  # overwritten whole
    assert json.loads((folder / "state.json").read_text()) == [1, 2]
    assert [p.name for p in folder.iterdir()] == ["state.json"]  # no temp files left


def test_a_failed_save_keeps_the_previous_state(folder: Path) -> None:
    checkpoint.save({"step": 1})
    with pytest.raises(TypeError):
        checkpoint.save({"step": object()})
    assert checkpoint.load(default=None) == {"step": 1}
    assert [p.name for p in folder.iterdir()] == ["state.json"]


def test_outside_gridshift_everything_is_a_no_op() -> None:
    assert checkpoint.directory() is None
    assert checkpoint.save({"step": 1}) is False
    assert checkpoint.load(default=7) == 7
    assert checkpoint.resume(default=7) == 7
    assert checkpoint.stop_requested() is False


def test_resume_only_when_asked_and_saved(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDSHIFT_RESUME", "1")
    assert checkpoint.resume(default=0) == 0  # asked, but nothing saved yet
    checkpoint.save(42)
    assert checkpoint.resume(default=0) == 42
    monkeypatch.delenv("GRIDSHIFT_RESUME")
    assert checkpoint.resume(default=0) == 0  # a fresh attempt starts over


def test_sigterm_sets_the_flag_and_chains_a_previous_handler() -> None:
    calls: list[int] = []

    def previous(signum: int, frame: FrameType | None) -> None:
        calls.append(signum)

    signal.signal(signal.SIGTERM, previous)
    assert checkpoint.stop_requested() is False
    os.kill(os.getpid(), signal.SIGTERM)
    deadline = time.monotonic() + 2.0  # Python runs handlers in the main thread, soon after
    while not checkpoint.stop_requested() and time.monotonic() < deadline:
        time.sleep(0.001)
    assert checkpoint.stop_requested() is True
    assert calls == [signal.SIGTERM]


def test_pause_point_saves_and_exits_75_on_sigterm(tmp_path: Path) -> None:
    folder = tmp_path / "ckpt"
    code, first = run_loop_until_sigterm(job_env(folder))
    assert first.strip() == "ready 0"
    assert code == checkpoint.EXIT_PAUSED
    saved = json.loads((folder / "state.json").read_text())
    assert isinstance(saved, int)
    assert saved >= 1

    code, first = run_loop_until_sigterm(job_env(folder, resume=True))
    assert first.strip() == f"ready {saved}"
    assert code == checkpoint.EXIT_PAUSED


def test_pause_point_exits_75_outside_gridshift() -> None:
    code, _ = run_loop_until_sigterm(job_env(None))
    assert code == checkpoint.EXIT_PAUSED


def test_demo_job_fails_once_then_succeeds(tmp_path: Path) -> None:
    argv = [PY, "-m", "gridshift.demo_job", "--seconds", "0.05", "--tick", "0.02", "--fail-once"]
    env = job_env(tmp_path / "ckpt")
    first = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30)
    second = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30)
    assert first.returncode == 3
    assert second.returncode == 0
    assert "done: 0.05 s" in second.stdout
