"""Bearer tokens: one team each, a role of ``member``, ``operator`` or ``admin`` (DESIGN.md §3.6).

Secrets are stored as SHA-256 (they are 256-bit random, so a plain hash suffices); the one in
``GRIDSHIFT_ADMIN_TOKEN`` is compared in constant time. A missing or unknown token is 401; a
known token without the role is 403; another team's object is 404 (never 403: it does not
reveal that the object exists).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from fastapi import Request

from gridshift.api.problems import ProblemError

RANK = {"member": 0, "operator": 1, "admin": 2}
ADMIN_TEAM = "admin"


@dataclass(frozen=True)
class Principal:
    team: str
    role: str
    token_id: str

    def at_least(self, role: str) -> bool:
        return RANK[self.role] >= RANK[role]

    def sees(self, team: str) -> bool:
        """Members and operators see their team's jobs; admins see every team's."""
        return self.role == "admin" or self.team == team


def principal(request: Request) -> Principal:
    runtime = request.app.state.runtime
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise ProblemError(
            401,
            "a bearer token is required",
            headers={"WWW-Authenticate": "Bearer"},
            hint="send 'Authorization: Bearer <token>'; an admin creates tokens with POST /tokens",
        )
    secret = secret.strip()
    admin = runtime.admin_token
    if admin and hmac.compare_digest(secret.encode(), admin.encode()):
        return Principal(ADMIN_TEAM, "admin", "bootstrap")
    row = runtime.store.token_for(secret)
    if row is None:
        raise ProblemError(
            401, "the token is not valid", headers={"WWW-Authenticate": 'Bearer error="invalid"'}
        )
    return Principal(row.team, row.role, row.id)


def require(who: Principal, role: str) -> None:
    if not who.at_least(role):
        raise ProblemError(403, f"this needs the {role} role; the token has {who.role}")
