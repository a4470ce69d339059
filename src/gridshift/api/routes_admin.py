"""``/teams`` and ``/tokens``: admins only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from gridshift.api.auth import Principal, principal, require
from gridshift.api.problems import ProblemError, documented
from gridshift.api.schemas import TeamIn, TeamOut, TokenIn, TokenInfo, TokenOut
from gridshift.domain.timeutil import to_iso
from gridshift.store import TokenRow

router = APIRouter()
Who = Annotated[Principal, Depends(principal)]
ERRORS = documented((401, "no valid bearer token"), (403, "admins only"))
WRITE_ERRORS = {
    **ERRORS,
    **documented(
        (400, "the body is not JSON"),
        (409, "the name is taken"),
        (413, "the body is too large"),
        (422, "invalid input"),
    ),
}


@router.post("/teams", status_code=201, response_model=TeamOut, responses=WRITE_ERRORS)
def create_team(request: Request, who: Who, body: TeamIn) -> TeamOut:
    """Create a team, with an optional GPU quota (GPUs its running jobs may hold at once)."""
    require(who, "admin")
    runtime = request.app.state.runtime
    row = runtime.store.create_team(body.name, body.gpu_quota, runtime.clock.now())
    return TeamOut(name=row.name, gpu_quota=row.gpu_quota, created_at=to_iso(row.created_at))


@router.get("/teams", response_model=list[TeamOut], responses=ERRORS)
def list_teams(request: Request, who: Who) -> list[TeamOut]:
    require(who, "admin")
    rows = request.app.state.runtime.store.teams()
    return [
        TeamOut(name=r.name, gpu_quota=r.gpu_quota, created_at=to_iso(r.created_at)) for r in rows
    ]


@router.post("/tokens", status_code=201, response_model=TokenOut, responses=WRITE_ERRORS)
def create_token(request: Request, who: Who, body: TokenIn) -> TokenOut:
    """Create a token for a team; the secret is in this answer only (stored as a hash)."""
    require(who, "admin")
    runtime = request.app.state.runtime
    if runtime.store.team(body.team) is None:
        raise ProblemError(
            422,
            f"no team named {body.team!r}",
            field="team",
            value=body.team,
            accepted="an existing team (POST /teams)",
        )
    row, secret = runtime.store.create_token(body.team, body.role, runtime.clock.now())
    return TokenOut(id=row.id, team=row.team, role=row.role, token=secret)


def _info(row: TokenRow) -> TokenInfo:
    return TokenInfo(
        id=row.id,
        team=row.team,
        role=row.role,
        created_at=to_iso(row.created_at),
        revoked_at=to_iso(row.revoked_at) if row.revoked_at else None,
    )


@router.get("/tokens", response_model=list[TokenInfo], responses=ERRORS)
def list_tokens(request: Request, who: Who) -> list[TokenInfo]:
    """Every token: id, team, role, when created and revoked (never a secret)."""
    require(who, "admin")
    return [_info(row) for row in request.app.state.runtime.store.tokens()]


@router.delete(
    "/tokens/{token_id}",
    response_model=TokenInfo,
    responses={**ERRORS, **documented((404, "no such token"))},
)
def revoke_token(request: Request, who: Who, token_id: str) -> TokenInfo:
    """Revoke a token: every later request with it answers 401."""
    require(who, "admin")
    runtime = request.app.state.runtime
    row = runtime.store.revoke_token(token_id, runtime.clock.now())
    if row is None:
        raise ProblemError(404, f"no token {token_id!r}")
    return _info(row)
