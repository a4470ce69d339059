"""A small client of the REST API for the CLI: where the server is and who we are, from
``--url``/``--token``, else ``GRIDSHIFT_URL``/``GRIDSHIFT_TOKEN``, else the client file
(``$XDG_CONFIG_HOME/gridshift/client.yaml``: ``{url: ..., token: ...}``).

A problem+json answer becomes one ``UserError`` line (4xx: what to fix) or a ``GridshiftError``
(5xx); an unreachable server says how to start one. Submissions carry an Idempotency-Key, and a
retry after a dropped connection reuses it, so a job is never submitted twice.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import httpx

from gridshift.config.yamlio import read_yaml
from gridshift.domain import GridshiftError, NotFoundError, UserError

DEFAULT_URL = "http://127.0.0.1:8000"
RETRIES = 3


def client_file(environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "gridshift" / "client.yaml"


class ApiClient:
    def __init__(
        self, url: str, token: str | None, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.http = httpx.Client(base_url=f"{self.url}/api/v1", timeout=30.0, transport=transport)

    @classmethod
    def configured(cls, url: str | None = None, token: str | None = None) -> ApiClient:
        saved: dict[str, Any] = {}
        path = client_file()
        if path.exists():
            data = read_yaml(path)
            saved = data if isinstance(data, dict) else {}
        return cls(
            url or os.environ.get("GRIDSHIFT_URL") or str(saved.get("url") or DEFAULT_URL),
            token or os.environ.get("GRIDSHIFT_TOKEN") or saved.get("token"),
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        text: bool = False,
    ) -> Any:
        sent = dict(headers or {})
        if self.token:
            sent["Authorization"] = f"Bearer {self.token}"
        retry = method == "GET" or "Idempotency-Key" in sent
        for attempt in range(RETRIES if retry else 1):
            try:
                response = self.http.request(method, path, json=json, params=params, headers=sent)
                break
            except httpx.TransportError as exc:
                if attempt + 1 < (RETRIES if retry else 1):
                    continue
                raise UserError(
                    f"cannot reach the gridshift server at {self.url} ({type(exc).__name__})",
                    hint="start one with 'gridshift server' (or 'gridshift demo --serve'), or "
                    "set GRIDSHIFT_URL",
                ) from None
        if response.status_code >= 400:
            raise _problem(response)
        return response.text if text else response.json()

    def submit(self, spec: dict[str, Any], key: str | None = None) -> dict[str, Any]:
        result: dict[str, Any] = self.request(
            "POST", "/jobs", json=spec, headers={"Idempotency-Key": key or str(uuid.uuid4())}
        )
        return result


def _problem(response: httpx.Response) -> GridshiftError:
    try:
        body = response.json()
    except ValueError:
        body = {"detail": response.text[:200]}
    detail = str(body.get("detail") or body.get("title") or response.reason_phrase)
    status = response.status_code
    if status == 401:
        return UserError(
            f"the server refused the token: {detail}",
            hint="set GRIDSHIFT_TOKEN (an admin creates tokens with POST /api/v1/tokens)",
        )
    if status == 404:
        return NotFoundError(detail)
    if status < 500:
        hint = None
        if body.get("accepted"):
            hint = f"accepted: {body['accepted']}"
        return UserError(f"{detail} (HTTP {status})", hint=hint)
    return GridshiftError(f"the server failed: {detail} (HTTP {status})")
