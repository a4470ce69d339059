"""The FastAPI application: REST under ``/api/v1`` with its OpenAPI document at
``/api/v1/openapi.json``, Prometheus metrics at ``/metrics``, bounded request bodies, and every
error as problem+json."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager, suppress
from typing import Any

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gridshift import __version__
from gridshift.api import problems, routes_admin, routes_jobs, routes_site
from gridshift.api.runtime import Runtime

PREFIX = "/api/v1"
MAX_BODY_BYTES = 64 * 1024  # a job spec is a few hundred bytes

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class BodyLimit:
    """413 for a body over the limit, declared or streamed (before any of it is parsed)."""

    def __init__(self, app: Any, limit: int, on_hit: Callable[[], None]) -> None:
        self.app = app
        self.limit = limit
        self.on_hit = on_hit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await self._refuse(scope, receive, send)
            return
        seen = 0
        too_large = False
        started = False

        async def limited() -> Message:
            nonlocal seen, too_large
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                too_large = True
                raise _TooLargeError
            return message

        async def guarded(message: Message) -> None:
            # FastAPI turns an error while reading the body into a 400: drop it, ours follows
            nonlocal started
            if too_large:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        with suppress(_TooLargeError):  # raised through, when nothing caught it on the way
            await self.app(scope, limited, guarded)
        if too_large and not started:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.on_hit()
        response = problems.problem_response(
            413, f"the request body is over {self.limit} bytes", limit_bytes=self.limit
        )
        await response(scope, receive, send)


class _TooLargeError(Exception):
    pass


def create_app(runtime: Runtime, *, start_engine: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if start_engine:
            runtime.start()
        try:
            yield
        finally:
            if start_engine:
                runtime.stop()

    app = FastAPI(
        title="gridshift",
        version=__version__,
        description="Energy-aware orchestration for AI workloads.",
        openapi_url=f"{PREFIX}/openapi.json",
        docs_url=f"{PREFIX}/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    problems.install(app)
    for router in (routes_jobs.router, routes_site.router, routes_admin.router):
        app.include_router(router, prefix=PREFIX)

    @app.middleware("http")
    async def _timed(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        runtime.metrics.requests.labels(request.method, path, str(response.status_code)).observe(
            time.perf_counter() - started
        )
        return response

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.add_middleware(
        BodyLimit, limit=MAX_BODY_BYTES, on_hit=runtime.metrics.limits.labels("body_size").inc
    )
    return app
