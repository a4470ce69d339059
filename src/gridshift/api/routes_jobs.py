"""``/jobs``: submit, list, show, cancel, logs. Every route is scoped to the caller's team; another
team's job answers 404."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from gridshift.api.auth import ADMIN_TEAM, Principal, principal
from gridshift.api.problems import ProblemError, documented
from gridshift.api.schemas import Attempt, Event, JobDetail, JobOut, JobPage, scrub
from gridshift.config.schema import JobSpec
from gridshift.domain import ConfigError
from gridshift.domain.redact import MIN_SECRET_LEN, is_secret, redact_text, secret_values
from gridshift.domain.status import JobStatus
from gridshift.domain.timeutil import to_iso
from gridshift.store import ConflictError, JobRow

router = APIRouter()
Who = Annotated[Principal, Depends(principal)]

ERRORS = documented(
    (401, "no valid bearer token"),
    (404, "no such job in your team"),
    (422, "an invalid parameter: the field and the fix"),
)
SUBMIT_ERRORS = {
    **ERRORS,
    **documented(
        (400, "the body is not JSON"),
        (413, "the body is too large"),
        (422, "the job spec is invalid: the field, the value and the fix"),
        (429, "the team's queue is full"),
    ),
}


def _inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """A pydantic JSON schema with its ``$defs`` put in place of their ``$ref``s: inside the
    OpenAPI document ``#/$defs/...`` would resolve against the document's root, where there are
    none (and the job specs' models are not recursive, so this ends)."""
    defs = schema.get("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return walk(defs[ref.removeprefix("#/$defs/")])
            return {k: walk(v) for k, v in node.items() if k != "$defs"}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    inlined: dict[str, Any] = walk(schema)
    return inlined


SPEC_SCHEMA = _inlined(JobSpec.model_json_schema())
MAX_GPUS = 1_000_000  # as a team's quota (schemas.TeamIn)


def _visible(request: Request, who: Principal, job_id: str) -> JobRow:
    row: JobRow | None = request.app.state.runtime.store.job(job_id)
    if row is None or not who.sees(row.team):
        raise ProblemError(404, f"no job {job_id!r} in your team")
    return row


def _secrets_in(data: Any, secret: bool = False) -> list[str]:
    """What in a submitted body may be a secret: every scalar under a key that names one, at
    any depth, and an ``env`` that is not a mapping (``KEY=value`` text)."""
    if isinstance(data, Mapping):
        return [
            found
            for key, value in data.items()
            for found in _secrets_in(
                value,
                secret or is_secret(str(key)) or (key == "env" and not isinstance(value, Mapping)),
            )
        ]
    if isinstance(data, list):
        return [found for value in data for found in _secrets_in(value, secret)]
    text = str(data)
    return [text] if secret and data is not None and len(text) >= MIN_SECRET_LEN else []


def _hushed(exc: ConfigError, body: dict[str, Any]) -> ConfigError:
    """``exc`` without the body's secrets: a rejected spec's error quotes the bad value, and a
    misspelt ``env`` (an unknown key) holds them all."""
    found = sorted(set(_secrets_in(body)), key=len, reverse=True)
    if not found:
        return exc
    return ConfigError(
        redact_text(exc.detail, found),
        source=exc.source,
        field=exc.field,
        value=scrub(exc.value, found),
        accepted=exc.accepted,
        hint=exc.custom_hint,
    )


@router.post(
    "/jobs",
    status_code=201,
    response_model=JobOut,
    responses={
        200: {"description": "a retry: the job first submitted with this key", "model": JobOut},
        **SUBMIT_ERRORS,
    },
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": SPEC_SCHEMA}}}
    },
)
def submit_job(
    request: Request,
    who: Who,
    body: Annotated[dict[str, Any], Body()],
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Any:
    """Submit a job spec (DESIGN.md §3.3) as JSON. 201 with the job, its status, the quote
    (planned start, expected energy, cost and carbon) and the run-now counterfactual; the same
    ``Idempotency-Key`` again answers 200 with the first job and changes nothing."""
    runtime = request.app.state.runtime
    team = who.team
    if who.role == "admin" and isinstance(body.get("team"), str):
        team = body["team"]
        if team != ADMIN_TEAM and runtime.store.team(team) is None:
            raise ProblemError(422, f"no team named {team!r}", field="team", value=team)
    quota = runtime.team_quota(team)
    gpus = (
        body.get("resources", {}).get("gpus") if isinstance(body.get("resources"), dict) else None
    )
    if isinstance(gpus, int) and gpus > MAX_GPUS:  # the store's integers have 64 bits
        raise ProblemError(
            422,
            f"the job asks for {gpus} GPUs",
            field="resources.gpus",
            value=gpus,
            accepted=f"at most {MAX_GPUS} GPUs",
        )
    if quota is not None and isinstance(gpus, int) and gpus > quota:
        raise ProblemError(
            422,
            f"the job asks for {gpus} GPUs and team {team}'s quota is {quota}",
            field="resources.gpus",
            value=gpus,
            accepted=f"at most {quota} GPUs, or ask an admin to raise the quota",
        )
    if runtime.queue_full(team):
        runtime.metrics.limits.labels("team_queue").inc()
        raise ProblemError(
            429,
            f"team {team} has {runtime.options.team_queue_limit} jobs waiting, the limit",
            headers={"Retry-After": "60"},
        )
    try:
        got = runtime.submit(body, team=team, idempotency_key=idempotency_key)
    except ConfigError as exc:
        raise _hushed(exc, body) from None
    runtime.metrics.submissions.labels("created" if got.created else "replayed").inc()
    out = JobOut.of(got.row).model_dump(mode="json")
    return JSONResponse(out, status_code=201 if got.created else 200)


@router.get("/jobs", response_model=JobPage, responses=ERRORS)
def list_jobs(
    request: Request,
    who: Who,
    status: Annotated[list[JobStatus] | None, Query()] = None,
    name: Annotated[str | None, Query(max_length=200)] = None,
    team: Annotated[str | None, Query(max_length=64, description="admins only")] = None,
    cursor: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> JobPage:
    """Your team's jobs in submission order, ``limit`` a page; filter by status and name."""
    store = request.app.state.runtime.store
    scope = team if who.role == "admin" else who.team
    rows = store.jobs(team=scope, statuses=status, name=name, after=cursor, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return JobPage(
        items=[JobOut.of(r) for r in rows], next_cursor=rows[-1].id if more and rows else None
    )


@router.get("/jobs/{job_id}", response_model=JobDetail, responses=ERRORS)
def show_job(request: Request, who: Who, job_id: str) -> JobDetail:
    """One job with its attempts and its events (why each change happened)."""
    row = _visible(request, who, job_id)
    store = request.app.state.runtime.store
    secrets = secret_values(row.spec.get("env") or {})
    attempts = [
        Attempt(
            n=a.n,
            token=a.token,
            cluster=a.cluster,
            gpus=a.gpus,
            state=a.state.value,
            power_cap_w=a.power_cap_w,
            resume=a.resume,
            started_at=to_iso(a.started_at) if a.started_at else None,
            ended_at=to_iso(a.ended_at) if a.ended_at else None,
            exit_code=a.exit_code,
            outcome=redact_text(a.outcome, secrets) if a.outcome else a.outcome,
            work_s=round(a.work_s, 3),
        )
        for a in store.attempts(job_id)
    ]
    events = [
        Event(at=to_iso(e.at), kind=e.kind, message=redact_text(e.message, secrets))
        for e in store.events(job_id)
    ]
    return JobDetail(**JobOut.of(row).model_dump(), attempts_detail=attempts, events=events)


@router.post("/jobs/{job_id}/cancel", response_model=JobOut, responses=ERRORS)
def cancel_job(request: Request, who: Who, job_id: str) -> JobOut:
    """Cancel: a waiting job at once; a running one is stopped (SIGTERM, grace, SIGKILL) by the
    engine's next pass. Cancelling a finished job changes nothing."""
    runtime = request.app.state.runtime
    for _ in range(5):  # optimistic concurrency: re-read on a lost race
        row = _visible(request, who, job_id)
        try:
            return JobOut.of(runtime.cancel(row))
        except ConflictError:
            continue
    raise ProblemError(409, f"job {job_id} keeps changing; try again")


@router.get(
    "/jobs/{job_id}/logs",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}, **ERRORS},
)
def job_logs(
    request: Request,
    who: Who,
    job_id: str,
    tail: Annotated[int, Query(ge=1, le=10_000_000)] = 65536,
) -> PlainTextResponse:
    """The output of every attempt (stdout and stderr), newest last; secrets redacted."""
    row = _visible(request, who, job_id)
    runtime = request.app.state.runtime
    parts = []
    for attempt in runtime.store.attempts(job_id):
        text = runtime.attempt_logs(attempt, tail)
        parts.append(f"==> attempt {attempt.n} on {attempt.cluster} ({attempt.token}) <==\n{text}")
    secrets = secret_values(row.spec.get("env") or {})
    return PlainTextResponse(redact_text("\n".join(parts), secrets))
