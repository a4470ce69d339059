"""The REST API's behaviour (DESIGN.md §3.6) on the real app, store and local executor: submit
(the quote, idempotency, bad specs, unschedulable jobs, bounded bodies), list (filters, keyset
pages), cancel (waiting, running, finished), a job's run (attempts, events, logs), the plan,
clusters, signals, metrics and health."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from api_fixtures import (
    PROBLEM,
    Api,
    assert_problem,
    job_spec,
    poll,
    running_api,
)
from prometheus_client.parser import text_string_to_metric_families

from gridshift.api.app import MAX_BODY_BYTES, PREFIX
from gridshift.engine.options import EngineOptions

OUTCOME_KEYS = {"energy_kwh", "cost_usd", "carbon_kg"}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with running_api(tmp_path_factory.mktemp("api-jobs")) as api:
        yield api


@pytest.fixture
def member(api: Api) -> str:
    """A member of a new team with a quota of 16 GPUs."""
    return api.member(gpu_quota=16)


def count(api: Api) -> int:
    return len(api.all_jobs())


# -- submit ----------------------------------------------------------------------------------


def test_submit_answers_201_with_the_quote(api: Api) -> None:
    api.team("quoted", gpu_quota=16)
    response = api.submit(api.token("quoted", "member"), api.waiting_spec("a-job"))
    assert response.status_code == 201, response.text
    job = response.json()
    assert job["id"].startswith("j")
    assert (job["status"], job["team"], job["name"]) == ("pending", "quoted", "a-job")
    assert job["planned_start"] >= job["release_at"]
    assert job["cluster"] in {"fra-1", "dfw-1", "lon-1"}
    for key in ("expected", "run_now"):
        assert set(job[key]) == OUTCOME_KEYS
        assert all(value >= 0 for value in job[key].values())
    assert job["expected"]["energy_kwh"] > 0


def test_idempotency_key_replays_the_first_job(api: Api, member: str) -> None:
    first = api.submit(member, api.waiting_spec("once"), key="retry-1")
    again = api.submit(member, api.waiting_spec("once"), key="retry-1")
    assert (first.status_code, again.status_code) == (201, 200), again.text
    assert again.json()["id"] == first.json()["id"]
    assert [j["id"] for j in api.all_jobs(member)] == [first.json()["id"]]
    other_team = api.submit(api.member(), api.waiting_spec("once"), key="retry-1")
    assert other_team.status_code == 201, other_team.text
    assert other_team.json()["id"] != first.json()["id"]


def _without(spec: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in spec.items() if k not in keys}


# name -> (change the spec, the field named, the value echoed (or a function of the spec
# sent), text in "accepted")
BAD_SPECS: dict[str, tuple[Callable[[Api, dict[str, Any]], dict[str, Any]], Any, Any, str]] = {
    "missing-duration": (lambda a, s: _without(s, "duration"), "duration", None, "duration"),
    "unknown-key": (
        lambda a, s: {**_without(s, "duration"), "duraton": "20m"},
        None,  # the key is named in the detail; the problem's field is its holder (the top)
        "20m",
        "did you mean 'duration'?",
    ),
    "naive-deadline": (
        lambda a, s: {**_without(s, "within"), "deadline": "2022-06-02T09:00:00"},
        "deadline",
        "2022-06-02T09:00:00",
        "with a zone",
    ),
    "deadline-before-earliest-finish": (
        lambda a, s: {**_without(s, "within"), "deadline": a.later(0.1)},
        "deadline",
        lambda sent: sent["deadline"],
        "a later deadline",
    ),
    "deadline-and-within": (
        lambda a, s: {**s, "deadline": a.later(5)},
        "within",
        "3h",
        "deadline: <time> or within: <duration>",
    ),
    "bad-duration": (lambda a, s: {**s, "duration": "6 hours"}, "duration", "6 hours", ""),
    "no-command": (lambda a, s: _without(s, "command"), "command", None, "a command line"),
    "empty-command": (lambda a, s: {**s, "command": []}, "command", None, "a command line"),
    "another-teams-name": (lambda a, s: {**s, "team": "someone-else"}, "team", "someone-else", ""),
    "gpus-over-quota": (
        lambda a, s: {**s, "resources": {"gpus": 17}},
        "resources.gpus",
        17,
        "at most 16 GPUs",
    ),
    "gpus-as-text": (lambda a, s: {**s, "resources": {"gpus": "8"}}, "resources.gpus", "8", ""),
    "zone-not-served": (
        lambda a, s: {**s, "placement": {"zones": ["FR"]}},
        "placement.zones[0]",
        "FR",
        "DE-LU, GB, US-TEX-ERCO",
    ),
    "unknown-priority": (
        lambda a, s: {**s, "priority": "urgent"},
        "priority",
        "urgent",
        "critical",
    ),
}


@pytest.mark.parametrize("case", list(BAD_SPECS))
def test_bad_spec_is_422_naming_the_field_and_stores_nothing(
    api: Api, member: str, case: str
) -> None:
    change, field, value, accepted = BAD_SPECS[case]
    before = count(api)
    sent = change(api, job_spec(case))
    body = assert_problem(api.submit(member, sent), 422)
    assert body.get("field") == field, body
    assert body.get("value") == (value(sent) if callable(value) else value), body
    assert accepted in body.get("accepted", ""), body
    if case == "unknown-key":
        assert "unknown key 'duraton'" in body["detail"]
    assert count(api) == before


def test_body_that_is_not_a_mapping_is_422(api: Api, member: str) -> None:
    before = count(api)
    body = assert_problem(api.post("/jobs", member, json=[job_spec("in-a-list")]), 422)
    assert "dictionary" in body["detail"]
    assert count(api) == before


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (
            {"resources": {"gpus": 1000}},
            "it needs 1000 GPUs and the largest allowed cluster has 32",
        ),
        ({"resources": {"gpus": 1, "gpu_type": "A100"}}, "no allowed cluster has A100 GPUs"),
        (
            {"resources": {"gpus": 20}, "placement": {"zones": ["GB"]}},
            "it needs 20 GPUs and the largest allowed cluster has 16",
        ),
    ],
    ids=["gpus-1000", "gpu-type-A100", "gpus-20-in-GB"],
)
def test_a_job_no_cluster_can_run_is_unschedulable_at_once(
    api: Api, change: dict[str, Any], why: str
) -> None:
    """Valid, but no cluster can ever run it: 201 with ``unschedulable`` and the reason (a
    placement zone no cluster serves is a bad spec instead: 422 above)."""
    no_quota = api.member()
    response = api.submit(no_quota, job_spec("too-big", **change))
    assert response.status_code == 201, response.text
    job = response.json()
    assert job["status"] == "unschedulable"
    assert why in job["reason"]
    assert job["finished_at"] is not None
    shown = api.job(job["id"], no_quota)
    assert (shown["status"], shown["attempts"]) == ("unschedulable", 0)


def test_malformed_json_is_400(api: Api, member: str) -> None:
    before = count(api)
    response = api.post(
        "/jobs", member, content=b'{"name": "x", ', headers={"Content-Type": "application/json"}
    )
    assert assert_problem(response, 400)["field"] == "body"
    assert count(api) == before


HOSTILE_NUMBERS = {
    # Python's JSON reader takes NaN and Infinity (they are not JSON); its ints have a limit
    "nan-duration": ('"duration": NaN', 422, "duration"),
    "infinite-within": ('"within": Infinity', 422, "within"),
    "nan-power": ('"power": {"watts_per_gpu": NaN}', 422, "power.watts_per_gpu"),
    "nan-overhead": (
        '"interruptible": {"checkpoint_overhead": NaN}',
        422,
        "interruptible.checkpoint_overhead",
    ),
    "gpus-10e30": ('"resources": {"gpus": 1' + "0" * 30 + "}", 422, "resources.gpus"),
    "5000-digits": ('"resources": {"gpus": ' + "9" * 5000 + "}", 400, None),
}


@pytest.mark.parametrize("case", list(HOSTILE_NUMBERS))
def test_hostile_numbers_are_4xx_and_store_nothing(api: Api, case: str) -> None:
    fragment, status, field = HOSTILE_NUMBERS[case]
    spec = job_spec(case)
    for key in ("duration", "within", "resources"):
        if fragment.startswith(f'"{key}"'):
            del spec[key]
    body = json.dumps(spec)[:-1] + ", " + fragment + "}"
    before = count(api)
    no_quota = api.member()
    response = api.post(
        "/jobs", no_quota, content=body.encode(), headers={"Content-Type": "application/json"}
    )
    problem = assert_problem(response, status)
    if field is not None:
        assert problem["field"] == field
    assert count(api) == before


def _limit_hits(api: Api) -> float:
    metrics = text_string_to_metric_families(api.client.get("/metrics").text)
    return sum(
        s.value
        for family in metrics
        for s in family.samples
        if s.name == "gridshift_limits_hit_total" and s.labels.get("limit") == "body_size"
    )


def _padded(size: int) -> bytes:
    """A valid job spec of exactly ``size`` bytes (padding in an env value)."""
    spec = job_spec("padded", env={"PAD": ""})
    bare = len(json.dumps(spec).encode())
    spec["env"]["PAD"] = "x" * (size - bare)
    body = json.dumps(spec).encode()
    assert len(body) == size
    return body


def test_body_over_64_kib_is_413_with_content_length(api: Api, member: str) -> None:
    before, hits = count(api), _limit_hits(api)
    response = api.post(
        "/jobs",
        member,
        content=_padded(MAX_BODY_BYTES + 1),
        headers={"Content-Type": "application/json"},
    )
    assert assert_problem(response, 413)["limit_bytes"] == MAX_BODY_BYTES
    assert count(api) == before
    assert _limit_hits(api) == hits + 1


def test_body_at_64_kib_is_accepted(api: Api, member: str) -> None:
    body = _padded(MAX_BODY_BYTES)
    response = api.post("/jobs", member, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 201, response.text[:500]
    api.post(f"/jobs/{response.json()['id']}/cancel", member)


def test_body_over_64_kib_is_413_when_streamed_without_length(api: Api, member: str) -> None:
    """Chunked (no Content-Length): the body is counted as it arrives, and refused before the
    rest of it is read."""
    before, hits = count(api), _limit_hits(api)
    headers = [
        (b"host", b"testserver"),
        (b"authorization", f"Bearer {member}".encode()),
        (b"content-type", b"application/json"),
        (b"transfer-encoding", b"chunked"),
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": f"{PREFIX}/jobs",
        "raw_path": f"{PREFIX}/jobs".encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    chunk = b" " * 1024
    total_chunks = 200
    sent = 0
    answer: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent >= total_chunks:
            return {"type": "http.disconnect"}
        sent += 1
        return {"type": "http.request", "body": chunk, "more_body": sent < total_chunks}

    async def send(message: dict[str, Any]) -> None:
        answer.append(message)

    anyio.run(api.client.app, scope, receive, send)
    start = next(m for m in answer if m["type"] == "http.response.start")
    assert start["status"] == 413
    assert (b"content-type", PROBLEM.encode()) in start["headers"]
    assert sent <= MAX_BODY_BYTES // len(chunk) + 1  # it stopped reading at the limit
    assert count(api) == before

    def stream() -> Iterator[bytes]:
        for _ in range(total_chunks):
            yield chunk

    # and through the test client: chunked, no Content-Length
    response = api.post(
        "/jobs", member, content=stream(), headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 413)
    assert count(api) == before
    assert _limit_hits(api) == hits + 2


def test_full_team_queue_is_429(tmp_path: Path) -> None:
    options = EngineOptions(team_queue_limit=2)
    with running_api(tmp_path, start_engine=False, options=options) as api:
        member = api.member()
        for n in range(2):
            assert api.submit(member, api.waiting_spec(f"q{n}")).status_code == 201
        response = api.submit(member, api.waiting_spec("q2"))
        assert_problem(response, 429)
        assert response.headers["retry-after"] == "60"
        assert len(api.all_jobs()) == 2
        assert api.submit(api.member(), api.waiting_spec("other-team")).status_code == 201


def test_idempotency_key_over_200_chars_is_422(api: Api, member: str) -> None:
    before = count(api)
    assert_problem(api.submit(member, api.waiting_spec("long-key"), key="k" * 201), 422)
    assert count(api) == before


# -- teams and tokens ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/teams", {"name": "q-bool", "gpu_quota": True}, "gpu_quota"),
        ("/teams", {"name": "q-text", "gpu_quota": "8"}, "gpu_quota"),
        ("/teams", {"name": "q-negative", "gpu_quota": -1}, "gpu_quota"),
        ("/teams", {"name": "Upper Case"}, "name"),
        ("/teams", {"name": "q-extra", "quota": 3}, "quota"),
        ("/tokens", {"team": "quoted-too", "role": "root"}, "role"),
        ("/tokens", {"team": 7, "role": "member"}, "team"),
    ],
    ids=["quota-true", "quota-text", "quota-negative", "bad-name", "unknown-key", "role", "team"],
)
def test_team_and_token_bodies_are_checked(
    api: Api, path: str, body: dict[str, Any], field: str
) -> None:
    teams = api.get("/teams", api.admin).json()
    problem = assert_problem(api.post(path, api.admin, json=body), 422)
    assert problem["field"] == field
    assert api.get("/teams", api.admin).json() == teams


def test_a_taken_team_name_is_409(api: Api) -> None:
    api.team("taken")
    assert_problem(api.post("/teams", api.admin, json={"name": "taken"}), 409)


# -- list ------------------------------------------------------------------------------------


def test_list_pages_and_filters(api: Api, member: str) -> None:
    ids = []
    for n in range(7):
        response = api.submit(member, api.waiting_spec("even" if n % 2 == 0 else "odd"))
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    for job_id in ids[:2]:
        assert api.post(f"/jobs/{job_id}/cancel", member).json()["status"] == "cancelled"

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = api.get("/jobs", member, params=params).json()
        assert len(page["items"]) <= 3
        seen.extend(item["id"] for item in page["items"])
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert cursor == page["items"][-1]["id"]
    assert seen == ids  # submission order, no duplicates, no gaps
    assert pages == 3

    def listed(**params: Any) -> list[str]:
        return [j["id"] for j in api.all_jobs(member, **params)]

    assert listed(status="cancelled") == ids[:2]
    assert listed(status="pending") == ids[2:]
    assert listed(status=["pending", "cancelled"]) == ids
    assert listed(name="even") == ids[0::2]
    assert listed(name="even", status="pending") == ids[2::2]
    assert listed(name="nobody") == []
    assert listed(status="succeeded") == []
    last = api.get("/jobs", member, params={"limit": 7}).json()
    assert (len(last["items"]), last["next_cursor"]) == (7, None)


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 501}, {"limit": "ten"}, {"status": "done"}, {"cursor": "c" * 41}],
    ids=["limit-0", "limit-501", "limit-text", "unknown-status", "cursor-too-long"],
)
def test_list_with_bad_parameters_is_422(api: Api, member: str, params: dict[str, Any]) -> None:
    body = assert_problem(api.get("/jobs", member, params=params), 422)
    assert body["field"].startswith(f"query.{next(iter(params))}")


# -- cancel ----------------------------------------------------------------------------------


def test_cancel_of_a_pending_job_is_at_once(api: Api, member: str) -> None:
    job_id = api.submit(member, api.waiting_spec("to-cancel")).json()["id"]
    response = api.post(f"/jobs/{job_id}/cancel", member)
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["cancel_requested"]) == ("cancelled", True)
    shown = api.job(job_id, member)
    assert shown["status"] == "cancelled"
    assert shown["attempts"] == 0
    assert shown["events"][-1]["kind"] == "cancelled"
    plan = api.get("/plan", api.admin).json()
    assert job_id not in {j["id"] for j in plan["jobs"]}


def test_cancel_of_a_running_job_stops_it(api: Api, member: str) -> None:
    job_id = api.submit(member, job_spec("long", seconds=60)).json()["id"]
    running = api.wait_for(job_id, {"running"})
    assert running["attempts"] == 1
    response = api.post(f"/jobs/{job_id}/cancel", member)
    assert response.status_code == 200, response.text
    assert response.json()["cancel_requested"] is True
    done = api.wait_for(job_id, {"cancelled"}, timeout_s=10)
    attempt = done["attempts_detail"][-1]
    assert (attempt["state"], attempt["outcome"]) == ("ended", "cancelled")
    assert not api.runtime.store.open_attempts()
    assert "done: 60 s" not in api.get(f"/jobs/{job_id}/logs", member).text


def test_cancel_of_a_finished_job_changes_nothing(api: Api, member: str) -> None:
    job_id = api.submit(member, job_spec("quick")).json()["id"]
    before = api.wait_for(job_id, {"succeeded"})
    response = api.post(f"/jobs/{job_id}/cancel", member)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "succeeded"
    assert response.json()["cancel_requested"] is False
    assert api.job(job_id, member) == before


# -- a run -----------------------------------------------------------------------------------


def test_a_job_runs_to_success_with_attempts_events_and_logs(api: Api, member: str) -> None:
    job_id = api.submit(member, job_spec("runs", seconds=0.3)).json()["id"]
    job = api.wait_for(job_id, {"succeeded"})
    assert job["attempts"] == 1
    assert job["done_s"] == job["duration_s"]
    assert job["finished_at"] is not None
    (attempt,) = job["attempts_detail"]
    assert attempt["token"] == f"{job_id}-a1"
    assert (attempt["state"], attempt["exit_code"], attempt["outcome"]) == ("ended", 0, "exit 0")
    assert attempt["cluster"] == job["cluster"]
    kinds = [event["kind"] for event in job["events"]]
    assert kinds[0] == "pending"
    assert kinds[-1] == "succeeded"
    assert "dispatch" in kinds
    logs = api.get(f"/jobs/{job_id}/logs", member)
    assert logs.status_code == 200
    assert logs.text.startswith(f"==> attempt 1 on {job['cluster']} ({job_id}-a1) <==")
    assert "progress 0.30/0.3 s" in logs.text
    assert logs.text.rstrip().endswith("done: 0.3 s")
    tail = api.get(f"/jobs/{job_id}/logs", member, params={"tail": 12}).text
    assert tail.endswith("done: 0.3 s\n")
    assert "progress" not in tail


def test_a_failing_job_is_retried_then_failed(api: Api, member: str) -> None:
    code = "import sys; print('boom'); sys.exit(3)"
    job_id = api.submit(member, job_spec("fails", command=[sys.executable, "-c", code])).json()[
        "id"
    ]
    job = api.wait_for(job_id, {"failed"})
    assert job["user_failures"] == 2  # the first run and one retry (user_retries=1)
    assert [a["exit_code"] for a in job["attempts_detail"]] == [3, 3]
    assert "exit code 3" in job["reason"]
    assert api.get(f"/jobs/{job_id}/logs", member).text.count("boom") == 2


# -- plan, clusters, signals, metrics, health ------------------------------------------------


def test_plan_has_the_plan_json_keys(api: Api, member: str) -> None:
    job_id = api.submit(member, api.waiting_spec("planned")).json()["id"]
    plan = poll(
        lambda: api.get("/plan", member).json(),
        lambda p: job_id in {j["id"] for j in p["jobs"]},
        10,
        f"{job_id} in the plan",
    )
    for key in ("objective", "energy_kwh", "cost_usd", "carbon_kg", "lower_bound", "gap_pct"):
        assert key in plan
    assert plan["infeasible"] == []
    (entry,) = [j for j in plan["jobs"] if j["id"] == job_id]
    assert {"id", "cluster", "segments", "reason"} <= set(entry)
    assert entry["cluster"] in {"fra-1", "dfw-1", "lon-1"}
    assert entry["reason"]
    assert entry["segments"]
    for segment in entry["segments"]:
        assert set(segment) == {"start", "end", "gpus", "power_cap_w"}
        assert segment["start"] < segment["end"]
        assert segment["gpus"] == 1
    admin_plan = api.get("/plan", api.admin).json()
    assert isinstance(admin_plan["objective"], float)
    assert admin_plan["energy_kwh"] >= plan["energy_kwh"] > 0
    # A member sees its own jobs' share of the objective (cost + carbon at $100/t), no more.
    own = plan["cost_usd"] + plan["carbon_kg"] / 1000.0 * 100.0
    assert plan["objective"] == pytest.approx(own)
    assert plan["lower_bound"] is None


def test_clusters(api: Api, member: str) -> None:
    clusters = api.get("/clusters", member).json()
    assert [c["name"] for c in clusters] == ["fra-1", "dfw-1", "lon-1"]
    for cluster in clusters:
        assert cluster["executor"] == "local"
        assert cluster["gpus_in_use"] >= 0
        assert set(cluster["capabilities"]) == {"pause", "resize", "power_cap"}
        assert cluster["signals"]["carbon"] > 0
    by_name = {c["name"]: c for c in clusters}
    assert (by_name["fra-1"]["zone"], by_name["fra-1"]["gpus"]) == ("DE-LU", 32)
    assert "price" not in by_name["lon-1"]["signals"]  # GB has a fixed tariff, no price signal


def test_signals(api: Api, member: str) -> None:
    signals = api.get("/signals", member).json()
    assert {(s["zone"], s["kind"]) for s in signals} == {
        ("DE-LU", "carbon"),
        ("DE-LU", "price"),
        ("US-TEX-ERCO", "carbon"),
        ("US-TEX-ERCO", "price"),
        ("GB", "carbon"),
    }
    for signal in signals:
        assert signal["unit"]
        assert signal["model"]
        assert signal["quality"]
        assert signal["current"] == signal["forecast"][0]["value"] or signal["current"] > 0
        assert set(signal["forecast"][0]) == {"time", "value"}
    gb = api.get("/signals", member, params={"zone": "GB", "kind": "carbon", "hours": 3}).json()
    assert [(s["zone"], s["kind"]) for s in gb] == [("GB", "carbon")]
    assert 1 <= len(gb[0]["forecast"]) <= 12  # 3 hours at hourly to 15-minute steps
    assert api.get("/signals", member, params={"zone": "GB", "kind": "price"}).json() == []
    assert_problem(api.get("/signals", member, params={"kind": "wind"}), 422)
    assert_problem(api.get("/signals", member, params={"hours": 169}), 422)


def test_metrics_are_prometheus_text(api: Api, member: str) -> None:
    api.get("/jobs", member)
    response = api.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    assert "gridshift_http_request_seconds" in families
    assert "gridshift_jobs" in families
    routes = {s.labels.get("route") for s in families["gridshift_http_request_seconds"].samples}
    assert "/jobs" in routes
    statuses = {s.labels["status"] for s in families["gridshift_jobs"].samples}
    assert "pending" in statuses


def test_healthz(api: Api) -> None:
    response = api.get("/healthz")
    assert response.status_code == 200
    health = response.json()
    assert (health["status"], health["store"]) == ("ok", "ok")
    assert health["engine"]["passes"] > 0


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/nowhere", 404), ("DELETE", "/jobs", 405), ("PUT", "/plan", 405)],
)
def test_unknown_routes_and_methods_are_problems(
    api: Api, member: str, method: str, path: str, status: int
) -> None:
    assert_problem(api.request(method, path, member), status)


@pytest.mark.parametrize(
    ("where", "patch"),
    [
        ("command[1]", {"command": ["true", "a\x00b"]}),
        ("env.X", {"env": {"X": "a\x00b"}}),
        ("workdir", {"workdir": "/tmp/a\x00b"}),
    ],
)
def test_a_nul_character_is_refused_at_the_boundary(
    api: Api, member: str, where: str, patch: dict[str, Any]
) -> None:
    """A NUL cannot reach argv, env or a path: 422 naming the field, nothing stored."""
    before = count(api)
    body = {"name": "nul", "command": ["true"], "duration": "10m", "within": "2h", **patch}
    r = api.submit(member, body)
    assert_problem(r, 422)
    assert r.json()["field"] == where
    assert count(api) == before


def test_a_revoked_token_is_refused_at_once_and_listing_shows_no_secret(api: Api) -> None:
    api.team("revocable")
    created = api.post("/tokens", api.admin, json={"team": "revocable", "role": "member"})
    assert created.status_code == 201, created.text
    token = created.json()
    assert api.get("/jobs", token["token"]).status_code == 200
    listed = api.get("/tokens", api.admin).json()
    mine = [t for t in listed if t["id"] == token["id"]]
    assert mine == [{**mine[0], "revoked_at": None}]
    assert token["token"] not in json.dumps(listed)
    revoked = api.request("DELETE", f"/tokens/{token['id']}", api.admin)
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked_at"] is not None
    assert_problem(api.get("/jobs", token["token"]), 401)
    again = api.request("DELETE", f"/tokens/{token['id']}", api.admin)
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"]  # the first time stands
    assert_problem(api.request("DELETE", "/tokens/t-none", api.admin), 404)
