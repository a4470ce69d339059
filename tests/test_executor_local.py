"""LocalExecutor and its supervisor, with real processes.

Every test starts tiny Python processes (``sys.executable -c ...`` or ``gridshift.demo_job``)
and the fixture fences whatever is left when it ends. No patching: a restarted control plane is
a second ``LocalExecutor`` over the same state folder, or a real process killed with -9.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gridshift.executors.base import EXIT_PAUSED, ExecutorError, Launch, Observed, State
from gridshift.executors.local import LocalExecutor
from gridshift.executors.shim import (
    exit_path,
    is_alive,
    proc_stat,
    read_json,
    record_path,
    start_ticks,
    stop_path,
    write_json_atomic,
)

PY = sys.executable
SLEEPER = "import time; print('ready', flush=True); time.sleep(60)"
IGNORES_TERM = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('ready', flush=True); time.sleep(60)"
)
PRINT_ENV = (
    "import json, os; print(json.dumps({k: v for k, v in os.environ.items() "
    "if k.startswith(('GRIDSHIFT_', 'CUDA_', 'FOO', 'SERVER_'))}))"
)

MakeExecutor = Callable[..., LocalExecutor]


# ---- helpers -----------------------------------------------------------------------------------


def py(code: str) -> tuple[str, ...]:
    return (PY, "-c", code)


def launch(
    token: str,
    argv: tuple[str, ...],
    gpus: int = 0,
    *,
    env: dict[str, str] | None = None,
    cwd: str | None = None,
    resume: bool = False,
    checkpoint_dir: Path | None = None,
) -> Launch:
    return Launch(
        token=token,
        job_id=token.split(".")[0],
        argv=argv,
        gpus=gpus,
        env=env or {},
        cwd=cwd,
        resume=resume,
        checkpoint_dir=checkpoint_dir,
    )


def wait_for(predicate: Callable[[], bool], what: str, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.01)


def wait_ended(executor: LocalExecutor, token: str, timeout_s: float = 5.0) -> Observed:
    wait_for(
        lambda: executor.observe(token).state is not State.RUNNING, f"{token} to end", timeout_s
    )
    return executor.observe(token)


def wait_log(executor: LocalExecutor, token: str, text: str) -> str:
    wait_for(lambda: text in executor.logs(token), f"{text!r} in the log of {token}")
    return executor.logs(token)


def gone(pid: int) -> bool:
    stat = proc_stat(pid)
    return stat is None or not stat.alive


def record(executor: LocalExecutor, token: str) -> dict[str, object]:
    data = read_json(record_path(executor.run_dir, token))
    assert data is not None
    return data


def env_of(executor: LocalExecutor, token: str) -> dict[str, str]:
    assert wait_ended(executor, token).succeeded, executor.logs(token)
    env: dict[str, str] = json.loads(executor.logs(token).strip().splitlines()[-1])
    return env


# ---- fixtures ----------------------------------------------------------------------------------


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def make_executor(state_dir: Path) -> Iterator[MakeExecutor]:
    """LocalExecutors over one state folder; every attempt left running is fenced at the end."""

    def make(gpus: int | None = 4) -> LocalExecutor:
        return LocalExecutor("test", gpus, state_dir)

    yield make
    cleaner = LocalExecutor("cleanup", None, state_dir)
    for token in cleaner.tokens():
        cleaner.kill(token)


@pytest.fixture
def executor(make_executor: MakeExecutor) -> LocalExecutor:
    return make_executor()


@pytest.fixture
def strangers() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test starts itself (not through an executor); killed at the end."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        process.kill()
        process.wait()


# ---- start: argv, env, cwd, logs ---------------------------------------------------------------


def test_name_and_capabilities(executor: LocalExecutor) -> None:
    assert executor.name == "local:test"
    assert executor.capabilities.pause
    assert executor.capabilities.resize
    no_pool = LocalExecutor("cpu", None, executor.state_dir)
    assert not no_pool.capabilities.power_cap  # no GPU pool: nothing to cap


def test_runs_and_exits_with_code(executor: LocalExecutor) -> None:
    executor.start(launch("ok.1", py("import time; time.sleep(0.3)")))
    data = record(executor, "ok.1")  # durable before start() returned
    assert data["job_id"] == "ok"
    child_pid, supervisor_pid = int(str(data["child_pid"])), int(str(data["supervisor_pid"]))
    assert data["child_start_ticks"] == start_ticks(child_pid)
    assert data["supervisor_start_ticks"] == start_ticks(supervisor_pid)
    assert executor.observe("ok.1").state is State.RUNNING
    began = time.time()
    observed = wait_ended(executor, "ok.1")
    assert observed.ended_wall is not None
    assert began - 1 <= observed.ended_wall <= time.time()  # when it ended, by its record
    assert observed == Observed("ok.1", State.EXITED, exit_code=0, ended_wall=observed.ended_wall)
    assert observed.succeeded


def test_non_zero_exit(executor: LocalExecutor) -> None:
    executor.start(launch("fails.1", py("raise SystemExit(3)")))
    observed = wait_ended(executor, "fails.1")
    assert observed.state is State.EXITED
    assert observed.exit_code == 3
    assert not observed.succeeded
    assert not observed.stop_requested


def test_unknown_token(executor: LocalExecutor) -> None:
    assert executor.observe("never.1") == Observed("never.1", State.UNKNOWN)
    assert executor.logs("never.1") == ""
    executor.stop("never.1", 1.0)
    executor.kill("never.1")
    executor.forget("never.1")
    assert executor.tokens() == []


@pytest.mark.parametrize("token", ["../up", ".hidden", "a/b", "x.exit", "", "-flag", "a b"])
def test_invalid_tokens_refused(executor: LocalExecutor, token: str) -> None:
    with pytest.raises(ExecutorError, match="invalid attempt token"):
        executor.start(Launch(token, "j", ("true",), 0))


def test_argv_is_not_run_through_a_shell(executor: LocalExecutor, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    args = ("; touch pwned", "$(touch pwned2)", "`touch pwned3`", "a b", "*")
    code = "import json, sys; print(json.dumps(sys.argv[1:]))"
    executor.start(launch("argv.1", (*py(code), *args), cwd=str(work)))
    assert wait_ended(executor, "argv.1").succeeded
    assert json.loads(executor.logs("argv.1").strip()) == list(args)
    assert list(work.iterdir()) == []


def test_env_passed_and_server_secrets_not_leaked(
    executor: LocalExecutor, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GRIDSHIFT_ADMIN_TOKEN", "s3cret-admin")
    monkeypatch.setenv("GRIDSHIFT_DATABASE_URL", "postgresql://u:pw@db/gs")
    monkeypatch.setenv("GRIDSHIFT_RESUME", "1")  # the server's own, not the job's
    monkeypatch.setenv("SERVER_HOME_VAR", "kept")
    checkpoints = tmp_path / "ckpt" / "job"
    executor.start(launch("env.1", py(PRINT_ENV), env={"FOO": "bar"}, checkpoint_dir=checkpoints))
    env = env_of(executor, "env.1")
    assert env["FOO"] == "bar"
    assert env["SERVER_HOME_VAR"] == "kept"
    assert env["GRIDSHIFT_JOB_ID"] == "env"
    assert env["GRIDSHIFT_ATTEMPT_TOKEN"] == "env.1"
    assert env["GRIDSHIFT_CHECKPOINT_DIR"] == str(checkpoints)
    assert checkpoints.is_dir()
    assert "GRIDSHIFT_RESUME" not in env
    assert "GRIDSHIFT_ADMIN_TOKEN" not in env
    assert "GRIDSHIFT_DATABASE_URL" not in env
    assert "s3cret" not in executor.logs("env.1")
    record_text = record_path(executor.run_dir, "env.1").read_text()
    assert "s3cret" not in record_text
    assert "bar" not in record_text  # the job's env is not written to disk either

    executor.start(launch("env.2", py(PRINT_ENV), resume=True))
    env = env_of(executor, "env.2")
    assert env["GRIDSHIFT_RESUME"] == "1"
    assert "GRIDSHIFT_CHECKPOINT_DIR" not in env


def test_cwd_given_default_and_missing(executor: LocalExecutor, tmp_path: Path) -> None:
    code = "import os; print(os.getcwd())"
    executor.start(launch("cwd.1", py(code), cwd=str(tmp_path)))
    executor.start(launch("cwd.2", py(code)))
    assert wait_ended(executor, "cwd.1").succeeded
    assert wait_ended(executor, "cwd.2").succeeded
    assert executor.logs("cwd.1").strip() == str(tmp_path)
    assert executor.logs("cwd.2").strip() == str(executor.state_dir / "work")
    missing = tmp_path / "no-such-dir"
    with pytest.raises(ExecutorError, match="no-such-dir"):
        executor.start(launch("cwd.3", py(code), cwd=str(missing)))
    assert "cwd.3" not in executor.tokens()


def test_stdout_and_stderr_in_one_log(executor: LocalExecutor) -> None:
    code = "import sys; print('to stdout', flush=True); print('to stderr', file=sys.stderr)"
    executor.start(launch("log.1", py(code)))
    assert wait_ended(executor, "log.1").succeeded
    assert executor.log_path("log.1") == executor.state_dir / "logs" / "log.1.log"
    text = executor.logs("log.1")
    assert "to stdout" in text
    assert "to stderr" in text
    assert executor.logs("log.1", tail_bytes=10) == "to stderr\n"


def test_missing_executable_exits_127(executor: LocalExecutor) -> None:
    executor.start(launch("nocmd.1", ("gridshift-no-such-command", "--x")))
    observed = wait_ended(executor, "nocmd.1")
    assert observed.state is State.EXITED
    assert observed.exit_code == 127
    assert "gridshift-no-such-command" in executor.logs("nocmd.1")


# ---- idempotency -------------------------------------------------------------------------------


def test_start_is_idempotent_by_token(executor: LocalExecutor, tmp_path: Path) -> None:
    runs = tmp_path / "runs.txt"
    code = f"open({str(runs)!r}, 'a').write('run\\n'); import time; time.sleep(0.2)"
    job = launch("once.1", py(code))
    executor.start(job)
    executor.start(job)  # running
    assert wait_ended(executor, "once.1").succeeded
    executor.start(job)  # ended
    LocalExecutor("test", 4, executor.state_dir).start(job)  # another control plane
    time.sleep(0.2)
    assert runs.read_text() == "run\n"


def test_concurrent_starts_of_one_token_start_one_process(
    executor: LocalExecutor, tmp_path: Path
) -> None:
    runs = tmp_path / "runs.txt"
    job = launch("race.1", py(f"open({str(runs)!r}, 'a').write('run\\n')"))
    threads = [threading.Thread(target=executor.start, args=(job,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wait_ended(executor, "race.1").succeeded
    assert runs.read_text() == "run\n"


# ---- GPUs --------------------------------------------------------------------------------------


def test_gpus_assigned_from_the_pool_without_overlap(make_executor: MakeExecutor) -> None:
    executor = make_executor(gpus=4)
    code = "import os, time; print(os.environ['CUDA_VISIBLE_DEVICES'], flush=True); time.sleep(60)"
    executor.start(launch("a.1", py(code), gpus=2))
    executor.start(launch("b.1", py(code), gpus=1))
    assert wait_log(executor, "a.1", "\n").strip() == "0,1"
    assert wait_log(executor, "b.1", "\n").strip() == "2"
    assert executor.observe("a.1").gpu_ids == (0, 1)
    assert executor.observe("b.1").gpu_ids == (2,)
    with pytest.raises(ExecutorError, match="only 1 of 4 are free"):
        executor.start(launch("c.1", py(code), gpus=2))
    with pytest.raises(ExecutorError, match="has only 4"):
        executor.start(launch("c.1", py(code), gpus=5))
    assert "c.1" not in executor.tokens()
    executor.kill("a.1")  # freed once it has ended
    executor.start(launch("c.1", py(code), gpus=2))
    assert executor.observe("c.1").gpu_ids == (0, 1)
    executor.start(launch("d.1", py(code), gpus=1))
    assert executor.observe("d.1").gpu_ids == (3,)


def test_no_gpus_asked_hides_the_pool(executor: LocalExecutor) -> None:
    executor.start(launch("cpu.1", py(PRINT_ENV), gpus=0))
    assert env_of(executor, "cpu.1")["CUDA_VISIBLE_DEVICES"] == ""


def test_no_pool_sets_no_cuda_visible_devices(
    make_executor: MakeExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    executor = make_executor(gpus=None)
    executor.start(launch("nopool.1", py(PRINT_ENV), gpus=8))
    assert "CUDA_VISIBLE_DEVICES" not in env_of(executor, "nopool.1")
    assert executor.observe("nopool.1").gpu_ids == ()


def test_power_cap_without_nvml_is_false(executor: LocalExecutor) -> None:
    executor.start(launch("cap.1", py(SLEEPER), gpus=1))
    if not executor.capabilities.power_cap:
        assert executor.set_power_cap("cap.1", 250.0) is False
    assert executor.set_power_cap("unknown.1", 250.0) is False


# ---- the checkpoint protocol -------------------------------------------------------------------


def test_stop_saves_checkpoint_and_resume_continues(
    executor: LocalExecutor, tmp_path: Path
) -> None:
    checkpoints = tmp_path / "ckpt"
    demo = (PY, "-m", "gridshift.demo_job", "--seconds", "1.0", "--tick", "0.05")
    executor.start(launch("demo.1", demo, checkpoint_dir=checkpoints))
    wait_log(executor, "demo.1", "progress")
    executor.stop("demo.1", grace_s=5.0)
    executor.stop("demo.1", grace_s=5.0)  # idempotent
    observed = wait_ended(executor, "demo.1")
    assert observed.exit_code == EXIT_PAUSED
    assert observed.saved_checkpoint
    assert observed.stop_requested
    assert read_json(stop_path(executor.run_dir, "demo.1")) is not None
    saved_s = json.loads((checkpoints / "state.json").read_text())
    assert 0 < saved_s < 1.0

    executor.start(launch("demo.2", demo, checkpoint_dir=checkpoints, resume=True))
    assert wait_ended(executor, "demo.2").succeeded
    log = executor.logs("demo.2")
    assert f"resuming from {saved_s:.2f} s" in log
    first_progress = float(log.split("progress ")[1].split("/")[0])
    assert first_progress > saved_s
    assert "done: 1 s" in log


def test_stop_sigkills_a_job_that_ignores_sigterm_after_the_grace(
    executor: LocalExecutor,
) -> None:
    executor.start(launch("stubborn.1", py(IGNORES_TERM)))
    wait_log(executor, "stubborn.1", "ready")
    started = time.monotonic()
    executor.stop("stubborn.1", grace_s=0.3)
    assert executor.observe("stubborn.1").state is State.RUNNING  # during the grace
    observed = wait_ended(executor, "stubborn.1")
    assert time.monotonic() - started >= 0.3
    assert observed.state is State.EXITED
    assert observed.signal == signal.SIGKILL
    assert observed.exit_code is None
    assert observed.stop_requested
    assert not observed.saved_checkpoint
    assert "grace period over" in executor.logs("stubborn.1")


def test_stop_of_an_ended_attempt_is_a_no_op(executor: LocalExecutor) -> None:
    executor.start(launch("done.1", py("pass")))
    wait_ended(executor, "done.1")
    executor.stop("done.1", 1.0)
    assert not stop_path(executor.run_dir, "done.1").exists()
    assert executor.observe("done.1").succeeded


# ---- restarts, loss, fencing -------------------------------------------------------------------


def test_restarted_control_plane_adopts_running_attempt(make_executor: MakeExecutor) -> None:
    first = make_executor(gpus=2)
    first.start(launch("adopt.1", py(SLEEPER), gpus=2))
    wait_log(first, "adopt.1", "ready")
    del first

    second = make_executor(gpus=2)
    assert second.tokens() == ["adopt.1"]
    assert second.observe("adopt.1") == Observed("adopt.1", State.RUNNING, gpu_ids=(0, 1))
    with pytest.raises(ExecutorError, match="only 0 of 2 are free"):
        second.start(launch("other.1", py(SLEEPER), gpus=1))
    second.stop("adopt.1", grace_s=2.0)
    observed = wait_ended(second, "adopt.1")
    assert observed.signal == signal.SIGTERM  # the default action of a plain Python job
    assert observed.stop_requested
    second.start(launch("other.1", py(SLEEPER), gpus=1))
    assert second.observe("other.1").gpu_ids == (0,)


def test_jobs_survive_kill_9_of_the_control_plane_and_stop_completes(
    make_executor: MakeExecutor, state_dir: Path
) -> None:
    script = textwrap.dedent(
        f"""
        import os, signal, sys, time
        from pathlib import Path
        from gridshift.executors.base import Launch
        from gridshift.executors.local import LocalExecutor
        ex = LocalExecutor("test", 4, Path({str(state_dir)!r}))
        ex.start(Launch("keeps.1", "keeps", {py(SLEEPER)!r}, 1))
        ex.start(Launch("stubborn.1", "stubborn", {py(IGNORES_TERM)!r}, 1))
        while "ready" not in ex.logs("stubborn.1"):
            time.sleep(0.01)
        ex.stop("stubborn.1", 0.5)
        os.killpg(os.getpgrp(), signal.SIGKILL)
        """
    )
    plane = subprocess.run([PY, "-c", script], start_new_session=True, timeout=30, check=False)
    assert plane.returncode == -signal.SIGKILL

    executor = make_executor()
    assert executor.observe("keeps.1").state is State.RUNNING
    observed = wait_ended(executor, "stubborn.1")  # the supervisor finished the protocol
    assert observed.signal == signal.SIGKILL
    assert observed.stop_requested
    assert executor.observe("keeps.1").state is State.RUNNING


def test_kill_9_of_the_supervisor_is_lost_and_kill_fences_the_job(
    executor: LocalExecutor,
) -> None:
    executor.start(launch("lost.1", py(SLEEPER), gpus=4))
    wait_log(executor, "lost.1", "ready")
    data = record(executor, "lost.1")
    child_pid = int(str(data["child_pid"]))
    os.kill(int(str(data["supervisor_pid"])), signal.SIGKILL)
    wait_for(lambda: executor.observe("lost.1").state is State.LOST, "LOST")
    assert executor.observe("lost.1").gpu_ids == (0, 1, 2, 3)
    assert not gone(child_pid)  # the job itself still runs: its GPUs stay held
    with pytest.raises(ExecutorError, match="only 0 of 4"):
        executor.start(launch("next.1", py(SLEEPER), gpus=1))
    with pytest.raises(ExecutorError, match="still running"):
        executor.forget("lost.1")

    executor.kill("lost.1")
    wait_for(lambda: gone(child_pid), "the job to be fenced")
    observed = executor.observe("lost.1")
    assert observed.state is State.EXITED
    assert observed.signal == signal.SIGKILL
    assert not observed.stop_requested
    executor.start(launch("next.1", py(SLEEPER), gpus=1))


def test_kill_fences_the_whole_process_group(executor: LocalExecutor) -> None:
    code = textwrap.dedent(
        """
        import subprocess, sys, time
        grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        print("grandchild", grandchild.pid, flush=True)
        time.sleep(60)
        """
    )
    executor.start(launch("fence.1", py(code)))
    log = wait_log(executor, "fence.1", "grandchild")
    grandchild_pid = int(log.split("grandchild ")[1].split()[0])
    data = record(executor, "fence.1")
    child_pid, supervisor_pid = int(str(data["child_pid"])), int(str(data["supervisor_pid"]))
    assert not gone(grandchild_pid)
    executor.kill("fence.1")
    wait_for(lambda: gone(child_pid) and gone(grandchild_pid), "the group to be gone", 2.0)
    assert gone(supervisor_pid)
    observed = executor.observe("fence.1")
    assert observed.state is State.EXITED
    assert observed.signal == signal.SIGKILL
    executor.kill("fence.1")  # idempotent


def test_leftovers_of_an_ended_job_are_killed(executor: LocalExecutor) -> None:
    code = (
        "import subprocess, sys; p = subprocess.Popen([sys.executable, '-c', "
        "'import time; time.sleep(60)']); print('left', p.pid, flush=True)"
    )
    executor.start(launch("leaves.1", py(code)))
    assert wait_ended(executor, "leaves.1").succeeded
    leftover = int(executor.logs("leaves.1").split("left ")[1].split()[0])
    wait_for(lambda: gone(leftover), "the leftover to be killed", 2.0)


def test_pid_reuse_is_never_mistaken_for_ours(
    make_executor: MakeExecutor, strangers: list[subprocess.Popen[bytes]]
) -> None:
    executor = make_executor(gpus=1)
    stranger = subprocess.Popen([PY, "-c", "import time; time.sleep(60)"])
    strangers.append(stranger)
    ticks = start_ticks(stranger.pid)
    assert ticks is not None
    fake = {
        "token": "reused.1",
        "job_id": "reused",
        "argv": ["x"],
        "gpu_ids": [0],
        "started_at": time.time(),
        "supervisor_pid": stranger.pid,  # the pid our supervisor had, now someone else's
        "supervisor_start_ticks": ticks - 1,
        "child_pid": stranger.pid,
        "child_start_ticks": ticks - 1,
    }
    write_json_atomic(record_path(executor.run_dir, "reused.1"), fake)
    assert not is_alive(stranger.pid, ticks - 1)

    assert executor.observe("reused.1").state is State.LOST
    executor.start(launch("free.1", py("pass"), gpus=1))  # its GPU is not held
    executor.stop("reused.1", 0.0)
    executor.kill("reused.1")
    time.sleep(0.1)
    assert stranger.poll() is None  # never signalled
    assert executor.observe("reused.1").signal == signal.SIGKILL  # recorded as fenced


# ---- tokens, forget ----------------------------------------------------------------------------


def test_tokens_and_forget(executor: LocalExecutor) -> None:
    executor.start(launch("t.1", py("pass")))
    executor.start(launch("t.2", py(SLEEPER)))
    executor.start(launch("t.3", ("gridshift-no-such-command",)))
    assert executor.tokens() == ["t.1", "t.2", "t.3"]
    with pytest.raises(ExecutorError, match="still running"):
        executor.forget("t.2")
    assert executor.observe("t.2").state is State.RUNNING
    wait_ended(executor, "t.1")
    executor.forget("t.1")
    executor.forget("t.1")  # idempotent
    assert executor.observe("t.1").state is State.UNKNOWN
    assert not exit_path(executor.run_dir, "t.1").exists()
    assert executor.log_path("t.1").exists()  # logs stay
    executor.kill("t.2")
    executor.forget("t.2")
    executor.forget("t.3")
    assert executor.tokens() == []
    assert [p.name for p in executor.run_dir.iterdir()] == [".start.lock"]


# ---- the supervisor starts fast ----------------------------------------------------------------


def test_supervisor_imports_only_the_standard_library() -> None:
    result = subprocess.run(
        [PY, "-X", "importtime", "-m", "gridshift.executors.shim", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    modules = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    heavy = {"numpy", "pandas", "pydantic", "httpx", "rich", "typer", "gridshift.cli"}
    assert not heavy & modules
    assert not {m for m in modules if m.startswith("gridshift.") and "executors" not in m}
