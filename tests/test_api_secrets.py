"""Secrets and injection through the REST API (RELIABILITY.md): secret env values are ``***`` in
every answer (submit, show, list, events, attempts, logs, errors) while the job's process gets
the real ones; the server's own ``GRIDSHIFT_*`` variables never reach a job; commands are argv,
never a shell line built from user strings."""

from __future__ import annotations

import json
import secrets
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_fixtures import ADMIN_TOKEN, Api, assert_problem, job_spec, python_job, running_api

SECRET_KEYS = ("API_TOKEN", "DB_PASSWORD", "AWS_SECRET_ACCESS_KEY", "HF_TOKEN")

# Prints every variable it is given, then writes them to its checkpoint folder.
DUMP_ENV = """
import json, os, pathlib, sys
names = sys.argv[1:]
for name in names:
    print(f"{name}={os.environ.get(name)}", flush=True)
folder = pathlib.Path(os.environ["GRIDSHIFT_CHECKPOINT_DIR"])
folder.mkdir(parents=True, exist_ok=True)
(folder / "env.json").write_text(json.dumps(dict(os.environ)))
"""


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with running_api(tmp_path_factory.mktemp("api-secrets")) as api:
        yield api


@pytest.fixture
def member(api: Api) -> str:
    return api.member(gpu_quota=16)


def secret_env() -> dict[str, str]:
    return {key: f"{key.lower()}-{secrets.token_hex(8)}" for key in SECRET_KEYS}


def dump_env_job(name: str, env: dict[str, str], **fields: Any) -> dict[str, Any]:
    spec = python_job(name, DUMP_ENV, env=env, **fields)
    spec["command"] += sorted(env)
    return spec


def env_seen_by(api: Api, job_id: str) -> dict[str, str]:
    path = api.runtime.engine.checkpoint_root / job_id / "env.json"
    env: dict[str, str] = json.loads(path.read_text())
    return env


def leaks(text: str, values: dict[str, str]) -> list[str]:
    return [key for key, value in values.items() if value in text]


def every_answer(api: Api, token: str, job_id: str) -> dict[str, str]:
    """The text of every answer that shows the job."""
    return {
        "show": api.get(f"/jobs/{job_id}", token).text,
        "list": api.get("/jobs", token).text,
        "list-admin": api.get("/jobs", api.admin).text,
        "logs": api.get(f"/jobs/{job_id}/logs", token).text,
        "cancel": api.post(f"/jobs/{job_id}/cancel", token).text,
    }


def test_secret_env_is_redacted_everywhere_but_in_the_process(api: Api, member: str) -> None:
    hidden = secret_env()
    env = {**hidden, "WANDB_MODE": "offline"}
    submitted = api.submit(member, dump_env_job("prints-its-secrets", env))
    assert submitted.status_code == 201, submitted.text
    assert leaks(submitted.text, hidden) == []
    job_id = submitted.json()["id"]
    shown = {**dict.fromkeys(SECRET_KEYS, "***"), "WANDB_MODE": "offline"}
    assert submitted.json()["spec"]["env"] == shown

    job = api.wait_for(job_id, {"succeeded"})
    assert job["spec"]["env"]["WANDB_MODE"] == "offline"
    answers = every_answer(api, member, job_id)
    assert [(name, key) for name, text in answers.items() for key in leaks(text, hidden)] == []
    logs = answers["logs"]
    for key in SECRET_KEYS:
        assert f"{key}=***" in logs
    assert "WANDB_MODE=offline" in logs

    # the process got the real values, and printed them (the executor's raw log has them)
    seen = env_seen_by(api, job_id)
    assert {key: seen[key] for key in env} == env
    (attempt,) = job["attempts_detail"]
    raw = api.runtime.executors[attempt["cluster"]].logs(attempt["token"])
    assert sorted(leaks(raw, hidden)) == sorted(SECRET_KEYS)


def test_a_secret_in_the_control_planes_own_text_is_redacted(api: Api, member: str) -> None:
    """An executor's error quotes what it was given (here a working directory that holds the
    secret): the job's reason, its attempts' outcomes, its events and its spec hide it too."""
    hidden = {"API_TOKEN": f"tok-{secrets.token_hex(8)}"}
    spec = job_spec("bad-workdir", env=hidden, workdir=f"/nonexistent/{hidden['API_TOKEN']}")
    submitted = api.submit(member, spec)
    assert submitted.status_code == 201, submitted.text
    assert leaks(submitted.text, hidden) == []
    job_id = submitted.json()["id"]
    job = api.wait_for(job_id, {"failed"})  # refused on every infrastructure retry
    assert "working directory '/nonexistent/***' does not exist" in job["reason"]
    assert all("/nonexistent/***" in a["outcome"] for a in job["attempts_detail"])
    answers = every_answer(api, member, job_id)
    assert [(name, key) for name, text in answers.items() for key in leaks(text, hidden)] == []


@pytest.mark.parametrize(
    "shape",
    ["misspelt-env", "secret-at-the-top", "env-as-text", "nested-under-secret-key"],
)
def test_a_rejected_spec_does_not_echo_its_secrets(api: Api, member: str, shape: str) -> None:
    value = f"sk-{secrets.token_hex(12)}"
    base = job_spec("bad")
    spec = {
        "misspelt-env": {**base, "evn": {"API_TOKEN": value}},
        "secret-at-the-top": {**base, "HF_TOKEN": value},
        "env-as-text": {**base, "env": f"API_TOKEN={value}"},
        "nested-under-secret-key": {**base, "credentials": {"user": "me", "password": value}},
    }[shape]
    response = api.submit(member, spec)
    body = assert_problem(response, 422)
    assert value not in response.text, body
    assert "***" in response.text, body


def test_the_servers_own_variables_never_reach_a_job(
    api: Api, member: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As ``gridshift server`` runs: its admin token in ``GRIDSHIFT_ADMIN_TOKEN`` (and any other
    ``GRIDSHIFT_*`` of the server) is not in the job's environment."""
    monkeypatch.setenv("GRIDSHIFT_ADMIN_TOKEN", ADMIN_TOKEN)
    monkeypatch.setenv("GRIDSHIFT_SERVER_ONLY", "server-only-value")
    job_id = api.submit(member, dump_env_job("reads-env", {"WANDB_MODE": "offline"})).json()["id"]
    api.wait_for(job_id, {"succeeded"})
    seen = env_seen_by(api, job_id)
    assert "GRIDSHIFT_ADMIN_TOKEN" not in seen
    assert ADMIN_TOKEN not in json.dumps(seen)
    assert "GRIDSHIFT_SERVER_ONLY" not in seen
    assert {k for k in seen if k.startswith("GRIDSHIFT_")} <= {
        "GRIDSHIFT_JOB_ID",
        "GRIDSHIFT_ATTEMPT_TOKEN",
        "GRIDSHIFT_CHECKPOINT_DIR",
        "GRIDSHIFT_RESUME",
    }
    assert seen["GRIDSHIFT_JOB_ID"] == job_id


def test_shell_metacharacters_are_arguments_not_commands(
    api: Api, member: str, tmp_path: Path
) -> None:
    marks = {n: tmp_path / f"pwned-{n}" for n in range(8)}
    tricks = [
        f"; touch {marks[0]}",
        f"$(touch {marks[1]})",
        f"`touch {marks[2]}`",
        f"| touch {marks[3]}",
        f"&& touch {marks[4]}",
    ]
    printer = "import json, os, sys; print(json.dumps(sys.argv[1:])); print(os.environ['TRICK'])"
    as_line = shlex.join([sys.executable, "-c", printer, *tricks])
    first = api.submit(
        member,
        job_spec(
            f"x; touch {marks[5]}",
            command=as_line,  # a string: split into argv (shlex), never given to a shell
            env={"TRICK": f"$(touch {marks[6]})"},
        ),
    )
    second = api.submit(member, job_spec(f"$(touch {marks[7]})", command=[f"; touch {marks[7]}"]))
    assert first.status_code == second.status_code == 201, (first.text, second.text)
    job_id = first.json()["id"]
    assert first.json()["name"] == f"x; touch {marks[5]}"
    api.wait_for(job_id, {"succeeded"})
    logs = api.get(f"/jobs/{job_id}/logs", member).text
    assert json.dumps(tricks) in logs
    assert f"$(touch {marks[6]})" in logs
    failed = api.wait_for(second.json()["id"], {"failed"})  # no program called "; touch ..."
    assert failed["user_failures"] >= 1
    assert [path.name for path in marks.values() if path.exists()] == []
