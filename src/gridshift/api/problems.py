"""Errors as ``application/problem+json`` (RFC 9457): one shape for every 4xx and 5xx.

A user's mistake carries what ``ConfigError`` knows: the field, the value and what would be
accepted, so that the fix is in the answer. A 5xx never carries a traceback.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from gridshift.domain import ConfigError, GridshiftError, UserError
from gridshift.store import ConflictError

PROBLEM = "application/problem+json"
log = logging.getLogger("gridshift.api")

TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
    500: "Internal error",
    503: "Unavailable",
}


Responses = dict[int | str, dict[str, Any]]


def documented(*answers: tuple[int, str]) -> Responses:
    """OpenAPI ``responses`` for error answers, each problem+json (so that clients and
    schemathesis know every status a route may give)."""
    return {
        code: {"description": text, "content": {PROBLEM: {"schema": {"type": "object"}}}}
        for code, text in answers
    }


class ProblemError(Exception):
    def __init__(
        self,
        status: int,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers
        self.extra = extra


def problem_response(
    status: int, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body = {
        "type": "about:blank",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        **{k: v for k, v in extra.items() if v is not None},
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _user_error(exc: UserError) -> JSONResponse:
    if isinstance(exc, ConfigError):
        return problem_response(
            422,
            exc.one_line(),
            field=exc.field,
            value=_jsonable(exc.value),
            accepted=exc.accepted,
        )
    return problem_response(422, exc.one_line())


def _jsonable(value: Any) -> Any:
    # NaN and Infinity parse (Python's JSON reader takes them) but cannot be written back
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def install(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def _problem(_: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(exc.status, exc.detail, exc.headers, **exc.extra)

    @app.exception_handler(ConflictError)
    async def _conflict(_: Request, exc: ConflictError) -> JSONResponse:
        return problem_response(409, exc.one_line())

    @app.exception_handler(UserError)
    async def _user(_: Request, exc: UserError) -> JSONResponse:
        return _user_error(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        message = first.get("msg", "invalid request")
        if first.get("type") == "json_invalid":
            return problem_response(400, "the body is not valid JSON", field="body")
        return problem_response(
            422, f"{where or 'request'}: {message}", field=where or None, errors=len(errors)
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(GridshiftError)
    async def _ours(_: Request, exc: GridshiftError) -> JSONResponse:
        log.error("request failed: %s", exc.one_line())
        return problem_response(503, exc.one_line())

    @app.exception_handler(Exception)
    async def _bug(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return problem_response(500, "an internal error; it is logged on the server")
