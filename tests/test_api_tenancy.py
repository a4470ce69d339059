"""The tenancy matrix (RELIABILITY.md): every operation of the REST API × every caller × every
team's jobs, on the real app, store and executor.

Callers: a member and an operator of each of the teams a, b and c, the bootstrap admin
(``GRIDSHIFT_ADMIN_TOKEN``) and an admin token created with ``POST /tokens``. Each team has a
finished job (with logs) and a waiting one (pending, in the plan). The rules checked:

- members and operators see and change only their own team's jobs: another team's job is 404
  (never 403) for show, cancel and logs, and never appears in ``GET /jobs`` or ``GET /plan``;
  a refused cancel changes nothing (the owner checks);
- admins see every team's jobs;
- no token, a malformed header, an unknown or a revoked token: 401 with ``WWW-Authenticate``,
  on every operation but ``/healthz`` (public);
- ``POST /teams``, ``GET /teams`` and ``POST /tokens`` are the admins': 403 for the others;
- every error is ``application/problem+json``.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from api_fixtures import ADMIN_TOKEN, Api, assert_problem, job_spec, poll, revoke, running_api

TEAMS = ("a", "b", "c")
MEMBERS = tuple(f"{role}-{team}" for team in TEAMS for role in ("member", "operator"))
ADMINS = ("admin-bootstrap", "admin-created")
CALLERS = MEMBERS + ADMINS
ADMIN_TEAM = {"admin-bootstrap": "admin", "admin-created": "ops"}  # where an admin's jobs go
KINDS = ("done", "waiting")


def team_of(caller: str) -> str:
    return ADMIN_TEAM.get(caller) or caller.split("-")[1]


def sees(caller: str, team: str) -> bool:
    return caller in ADMINS or team_of(caller) == team


@dataclass
class World:
    api: Api
    tokens: dict[str, str]  # caller -> secret
    jobs: dict[tuple[str, str], str]  # (team, kind) -> job id
    revoked: str  # a real token, revoked

    def token(self, caller: str) -> str:
        return self.tokens[caller]

    def owner(self, team: str) -> str:
        return self.tokens[f"member-{team}"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with running_api(tmp_path_factory.mktemp("tenancy")) as api:
        tokens = {"admin-bootstrap": ADMIN_TOKEN}
        for team in (*TEAMS, "ops"):
            api.team(team, gpu_quota=16)
        for team in TEAMS:
            for role in ("member", "operator"):
                tokens[f"{role}-{team}"] = api.token(team, role)
        tokens["admin-created"] = api.token("ops", "admin")
        revoked = api.token("a", "member")
        assert api.get("/jobs", revoked).status_code == 200
        revoke(api, revoked)

        jobs: dict[tuple[str, str], str] = {}
        for team in TEAMS:
            member = tokens[f"member-{team}"]
            done = api.submit(member, job_spec(f"done-{team}"))
            waiting = api.submit(member, api.waiting_spec(f"waiting-{team}"))
            assert done.status_code == waiting.status_code == 201, (done.text, waiting.text)
            jobs[team, "done"] = done.json()["id"]
            jobs[team, "waiting"] = waiting.json()["id"]
        for team in TEAMS:
            api.wait_for(jobs[team, "done"], {"succeeded"})
        waiting_ids = {jobs[team, "waiting"] for team in TEAMS}
        poll(
            lambda: api.get("/plan", ADMIN_TOKEN).json(),
            lambda plan: waiting_ids <= {j["id"] for j in plan["jobs"]},
            15,
            "every team's waiting job in the plan",
        )
        yield World(api, tokens, jobs, revoked)


# -- the matrix: one case per caller × team × object -----------------------------------------

JOB_CASES = [
    pytest.param(caller, team, kind, id=f"{caller}-on-{team}-{kind}")
    for caller in CALLERS
    for team in TEAMS
    for kind in KINDS
]
CALLER_TEAM_CASES = [
    pytest.param(caller, team, id=f"{caller}-on-{team}") for caller in CALLERS for team in TEAMS
]


@pytest.mark.parametrize(("caller", "team", "kind"), JOB_CASES)
def test_show_job(world: World, caller: str, team: str, kind: str) -> None:
    job_id = world.jobs[team, kind]
    response = world.api.get(f"/jobs/{job_id}", world.token(caller))
    if sees(caller, team):
        assert response.status_code == 200, response.text
        assert (response.json()["id"], response.json()["team"]) == (job_id, team)
    else:
        assert_problem(response, 404)
        assert f"{kind}-{team}" not in response.text  # nothing of the job leaks


@pytest.mark.parametrize(("caller", "team", "kind"), JOB_CASES)
def test_job_logs(world: World, caller: str, team: str, kind: str) -> None:
    job_id = world.jobs[team, kind]
    response = world.api.get(f"/jobs/{job_id}/logs", world.token(caller))
    if sees(caller, team):
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/plain")
        assert ("done: 0.3 s" in response.text) == (kind == "done")
    else:
        assert_problem(response, 404)
        assert "progress" not in response.text


def state(job: dict[str, Any]) -> tuple[Any, ...]:
    """What a cancel would change (a waiting job's plan columns move with every re-plan)."""
    return job["status"], job["cancel_requested"], job["attempts"], job["events"]


@pytest.mark.parametrize(("caller", "team", "kind"), JOB_CASES)
def test_cancel(world: World, caller: str, team: str, kind: str) -> None:
    """Another team's job: 404, and the job is as it was (its owner looks). One's own (an
    admin's: any team's): a waiting job is cancelled, a finished one stays as it was."""
    api = world.api
    if sees(caller, team) and kind == "waiting":
        fresh = api.submit(world.owner(team), api.waiting_spec(f"cancel-me-{team}")).json()
        response = api.post(f"/jobs/{fresh['id']}/cancel", world.token(caller))
        assert response.status_code == 200, response.text
        assert api.job(fresh["id"], world.owner(team))["status"] == "cancelled"
        return
    job_id = world.jobs[team, kind]
    before = api.job(job_id, world.owner(team))
    response = api.post(f"/jobs/{job_id}/cancel", world.token(caller))
    if sees(caller, team):
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "succeeded"
    else:
        assert_problem(response, 404)
    after = api.job(job_id, world.owner(team))
    assert state(after) == state(before)
    assert after["status"] == ("pending" if kind == "waiting" else "succeeded")
    assert after["cancel_requested"] is False


@pytest.mark.parametrize("caller", CALLERS)
def test_unknown_job_is_404_for_everyone(world: World, caller: str) -> None:
    for method, path in (("GET", ""), ("POST", "/cancel"), ("GET", "/logs")):
        response = world.api.request(
            method, f"/jobs/j0000000000000000000{path}", world.token(caller)
        )
        assert_problem(response, 404)


@pytest.mark.parametrize("team_filter", [None, *TEAMS], ids=lambda t: f"team={t}")
@pytest.mark.parametrize("caller", CALLERS)
def test_list_jobs(world: World, caller: str, team_filter: str | None) -> None:
    """``GET /jobs`` (every page): one's own team only, whatever ``?team=`` says; an admin's:
    every team, or the one asked for."""
    params = {"team": team_filter} if team_filter else {}
    items = world.api.all_jobs(world.token(caller), **params)
    listed = {item["id"] for item in items}
    if caller in ADMINS:
        expected_teams = {team_filter} if team_filter else set(TEAMS)
        leaks = [i["id"] for i in items if team_filter and i["team"] != team_filter]
    else:
        expected_teams = {team_of(caller)}
        leaks = [i["id"] for i in items if i["team"] != team_of(caller)]
    assert leaks == []
    for team in expected_teams:
        assert {world.jobs[team, kind] for kind in KINDS} <= listed


@pytest.mark.parametrize(("caller", "team"), CALLER_TEAM_CASES)
def test_list_by_name_of_another_teams_job(world: World, caller: str, team: str) -> None:
    items = world.api.all_jobs(world.token(caller), name=f"done-{team}")
    assert [i["id"] for i in items] == ([world.jobs[team, "done"]] if sees(caller, team) else [])


@pytest.mark.parametrize("caller", CALLERS)
def test_plan(world: World, caller: str) -> None:
    response = world.api.get("/plan", world.token(caller))
    assert response.status_code == 200, response.text
    plan = response.json()
    entries = plan["jobs"] + plan["infeasible"]
    planned = {entry["id"] for entry in entries}
    visible = [team for team in TEAMS if sees(caller, team)]
    assert {world.jobs[team, "waiting"] for team in visible} <= planned
    if caller in MEMBERS:
        others = {world.jobs[t, k] for t in TEAMS for k in KINDS if t != team_of(caller)}
        leaks = [e["id"] for e in entries if e["team"] != team_of(caller) or e["id"] in others]
        assert leaks == []
        assert (plan["lower_bound"], plan["gap_pct"]) == (None, None)  # whole-plan figures


SITE_READS = ("/clusters", "/signals", "/healthz")


@pytest.mark.parametrize("path", SITE_READS)
@pytest.mark.parametrize("caller", CALLERS)
def test_site_reads(world: World, caller: str, path: str) -> None:
    response = world.api.get(path, world.token(caller))
    assert response.status_code == 200, response.text


def _admin_call(world: World, op: str, caller: str) -> httpx.Response:
    token = world.token(caller)
    if op == "POST /teams":
        name = f"new-{caller}-{secrets.token_hex(3)}"
        return world.api.post("/teams", token, json={"name": name})
    if op == "GET /teams":
        return world.api.get("/teams", token)
    if op == "GET /tokens":
        return world.api.get("/tokens", token)
    if op == "DELETE /tokens/{id}":
        victim = world.api.runtime.store.create_token("a", "member", datetime.now(UTC))[0].id
        return world.api.request("DELETE", f"/tokens/{victim}", token)
    # a member minting an admin token for its own team is the escalation to refuse
    team = ADMIN_TEAM.get(caller, team_of(caller))
    return world.api.post(
        "/tokens", token, json={"team": team if team in TEAMS else "a", "role": "admin"}
    )


ADMIN_OPS = ["POST /teams", "GET /teams", "POST /tokens", "GET /tokens", "DELETE /tokens/{id}"]


def _revoked(world: World) -> set[str]:
    listed = world.api.get("/tokens", ADMIN_TOKEN).json()
    return {t["id"] for t in listed if t["revoked_at"] is not None}


@pytest.mark.parametrize("op", ADMIN_OPS)
@pytest.mark.parametrize("caller", CALLERS)
def test_admin_routes(world: World, caller: str, op: str) -> None:
    teams_before = world.api.get("/teams", ADMIN_TOKEN).json()
    revoked_before = _revoked(world)
    response = _admin_call(world, op, caller)
    if caller in ADMINS:
        assert response.status_code == (201 if op.startswith("POST") else 200), response.text
        return
    body = assert_problem(response, 403)
    assert "token" not in body
    assert world.api.get("/teams", ADMIN_TOKEN).json() == teams_before
    assert _revoked(world) == revoked_before  # nothing revoked by a refused call


@pytest.mark.parametrize("caller", CALLERS)
def test_submit_goes_to_the_callers_team(world: World, caller: str) -> None:
    api = world.api
    response = api.submit(world.token(caller), api.waiting_spec(f"mine-{caller}"))
    assert response.status_code == 201, response.text
    assert response.json()["team"] == team_of(caller)


@pytest.mark.parametrize(("caller", "team"), CALLER_TEAM_CASES)
def test_submit_into_another_team(world: World, caller: str, team: str) -> None:
    """A member's ``team:`` must be its own (422, nothing stored); an admin may name any."""
    api = world.api
    count = len(api.all_jobs())
    response = api.submit(world.token(caller), api.waiting_spec(f"into-{team}", team=team))
    if caller in ADMINS or team == team_of(caller):
        assert response.status_code == 201, response.text
        assert response.json()["team"] == team
        return
    body = assert_problem(response, 422)
    assert body["field"] == "team"
    assert len(api.all_jobs()) == count


# -- no valid token: 401 everywhere but /healthz ---------------------------------------------

BAD_AUTH = {
    "no-header": lambda w: {},
    "bearer-without-token": lambda w: {"Authorization": "Bearer"},
    "bearer-blank": lambda w: {"Authorization": "Bearer    "},
    "basic-scheme": lambda w: {"Authorization": "Basic YWRtaW46YWRtaW4="},
    "token-without-scheme": lambda w: {"Authorization": w.owner("a")},
    "unknown-token": lambda w: {"Authorization": f"Bearer gs_{secrets.token_urlsafe(32)}"},
    "revoked-token": lambda w: {"Authorization": f"Bearer {w.revoked}"},
    "admin-token-near-miss": lambda w: {"Authorization": f"Bearer {ADMIN_TOKEN[:-1]}y"},
}
OPERATIONS = (
    "POST /jobs",
    "GET /jobs",
    "GET /jobs/{id}",
    "POST /jobs/{id}/cancel",
    "GET /jobs/{id}/logs",
    "GET /plan",
    "GET /clusters",
    "GET /signals",
    "POST /teams",
    "GET /teams",
    "POST /tokens",
    "GET /tokens",
    "DELETE /tokens/{id}",
)


def _bodies(world: World) -> dict[str, Any]:
    return {
        "POST /jobs": world.api.waiting_spec("sneaky"),
        "POST /teams": {"name": "sneaky"},
        "POST /tokens": {"team": "a", "role": "admin"},
    }


@pytest.mark.parametrize("op", OPERATIONS)
@pytest.mark.parametrize("auth", list(BAD_AUTH))
def test_unauthenticated(world: World, auth: str, op: str) -> None:
    api = world.api
    method, template = op.split(" ")
    job_id = world.jobs["a", "waiting"]
    count = len(api.all_jobs())
    response = api.request(
        method,
        template.replace("{id}", job_id),
        headers=BAD_AUTH[auth](world),
        json=_bodies(world).get(op),
    )
    assert_problem(response, 401)
    assert "waiting-a" not in response.text
    assert len(api.all_jobs()) == count
    job = api.job(job_id, world.owner("a"))
    assert (job["status"], job["cancel_requested"]) == ("pending", False)
    assert "sneaky" not in {t["name"] for t in api.get("/teams", ADMIN_TOKEN).json()}


@pytest.mark.parametrize("auth", list(BAD_AUTH))
def test_healthz_is_public(world: World, auth: str) -> None:
    response = world.api.get("/healthz", headers=BAD_AUTH[auth](world))
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ok"
