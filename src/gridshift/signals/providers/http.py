"""HTTP for live providers: timeouts, retries with jittered exponential back-off, ``Retry-After``,
and time budgets per call and per operation; each call also goes through the provider's rate limit
(``ratelimit``) and response cache (``cache``), both re-exported here.

A call never takes longer than its budget: the earlier of its own ``deadline_s`` and, inside
``with http.budget(seconds):``, the deadline of the provider operation around it (a login, a
region lookup and a forecast share one budget; nested budgets keep the earlier deadline). A retry,
a back-off, a ``Retry-After`` or a rate-limit wait that would pass it ends the call at once with
``ProviderUnavailableError``, so callers can fall back instead of waiting; a refused rate-limit
wait takes no token. Bodies are streamed: an answer whose ``Content-Length`` is over
``MAX_BODY_BYTES`` is refused unread, one that grows past it is cut off, and one still arriving
when the budget runs out counts like a timeout (each read is also bounded by ``timeout_s``).
401/403 become ``ProviderAuthError`` (with the provider's hint on which key to set), 400/404/422
``ProviderRequestError``; neither is retried. 429, 5xx, timeouts and connection errors are retried.
Redirects are not followed, so custom headers (API keys) never reach another host: a 3xx is a
``ProviderRequestError`` naming where the provider pointed; so is a URL that cannot be requested.
The clock, the sleep and the random source are injected, so tests run in no time and the same way
every time.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from gridshift.domain import (
    ProviderAuthError,
    ProviderRequestError,
    ProviderUnavailableError,
)
from gridshift.signals.providers.cache import ResponseCache
from gridshift.signals.providers.ratelimit import Clock, RateLimiter, limiter_for

__all__ = [
    "AUTH_STATUSES",
    "MAX_BODY_BYTES",
    "MAX_ERROR_BODY_BYTES",
    "RETRY_STATUSES",
    "Answer",
    "Clock",
    "HttpPolicy",
    "ProviderHttp",
    "RateLimiter",
    "ResponseCache",
    "Sleep",
    "limiter_for",
    "retry_after_s",
]

Sleep = Callable[[float], None]

RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
AUTH_STATUSES = frozenset({401, 403})
MAX_BODY_BYTES = 32 * 1024 * 1024  # a provider payload larger than this is refused
MAX_ERROR_BODY_BYTES = 64 * 1024  # of an error answer, only this much is read (for the message)
# A host we can ask: a DNS name (IDNA-encoded), an IPv4 address or an IPv6 literal.
_HOST = re.compile(r"[A-Za-z0-9._~:-]+")


@dataclass(frozen=True)
class HttpPolicy:
    """Limits of one provider's calls. Defaults suit an interactive CLI and the control loop."""

    timeout_s: float = 10.0  # connect/read timeout of one request
    deadline_s: float = 30.0  # the whole call, retries and waits included
    retries: int = 4  # attempts after the first
    backoff_s: float = 0.5  # first back-off; doubles each retry, full jitter
    backoff_cap_s: float = 8.0
    max_retry_after_s: float = 60.0  # a longer Retry-After is not waited for
    rate_per_s: float = 2.0  # sustained requests per second to this provider
    burst: int = 5
    cache_ttl_s: float = 300.0  # how long a 200 answer is reused


def _snippet(body: bytes) -> str:
    return " ".join(body[:200].decode("utf-8", "replace").split())


def retry_after_s(value: str | None, wall: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - wall)


def _seconds(value: float) -> str:
    return f"{value:g}" if value < 10 else f"{value:.0f}"


class _SlowBodyError(Exception):
    """The answer was still arriving when the budget ran out (handled like a timeout)."""


@dataclass(frozen=True)
class _Budget:
    """The deadline a call works to, and how to name it in a message."""

    deadline: float
    seconds: float
    operation: bool

    def __str__(self) -> str:
        kind = "operation budget" if self.operation else "budget"
        return f"{_seconds(self.seconds)} s {kind}"


@dataclass(frozen=True)
class Answer:
    """A successful answer: the body and where it came from."""

    body: bytes
    url: str
    from_cache: bool
    attempts: int


class ProviderHttp:
    """The HTTP client of one provider. Use ``get``; it returns the body of a 200 or raises.

    Wrap the calls of one provider operation in ``with http.budget(seconds):`` to give them one
    time budget together.
    """

    def __init__(
        self,
        provider: str,
        base_url: str,
        *,
        policy: HttpPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
        auth_hint: str = "",
        secret_params: frozenset[str] = frozenset(),
        cache: ResponseCache | None = None,
        clock: Clock = time.monotonic,
        wall: Clock = time.time,
        sleep: Sleep = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.policy = policy or HttpPolicy()
        self.auth_hint = auth_hint
        self.secret_params = secret_params
        self.cache = cache if cache is not None else ResponseCache()
        self.clock = clock
        self.wall = wall
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.limiter = limiter_for(provider, self.policy, clock)
        self.client = httpx.Client(
            transport=transport,
            headers=dict(headers or {}),
            timeout=httpx.Timeout(self.policy.timeout_s),
            # A redirect would carry our headers (API keys) to wherever it points: never follow.
            follow_redirects=False,
        )
        self.requests = 0  # requests actually sent (a metric, and what tests count)
        # What an error answer says, for the message: a provider may read its own error format
        # (ENTSO-E's acknowledgement XML); by default the first 200 characters of the body.
        self.error_text: Callable[[bytes], str | None] = _snippet
        # The operation budget of the calling thread (see ``budget``); None outside one.
        self._operation = threading.local()

    def close(self) -> None:
        self.client.close()

    @contextmanager
    def budget(self, seconds: float) -> Iterator[None]:
        """One time budget for every call made inside: a provider operation that makes several
        requests (log in, look up the region, fetch) ends within ``seconds`` in all. Nested
        budgets keep the earlier deadline; leaving one restores the budget around it. The budget
        belongs to the calling thread."""
        outer: _Budget | None = getattr(self._operation, "budget", None)
        mine = _Budget(self.clock() + seconds, seconds, True)
        self._operation.budget = mine if outer is None or mine.deadline < outer.deadline else outer
        try:
            yield
        finally:
            self._operation.budget = outer

    def cache_key(
        self, url: str, params: Mapping[str, Any], headers: Mapping[str, str] | None = None
    ) -> str:
        """A digest of the request. Secret params and header values only enter it hashed, so two
        keys with different access never share an answer and no key is readable from the cache."""
        public = sorted((k, str(v)) for k, v in params.items() if k not in self.secret_params)
        secret = sorted((k, str(v)) for k, v in params.items() if k in self.secret_params)
        sent = sorted({**self.client.headers, **(headers or {})}.items())
        raw = json.dumps([self.provider, url, public, secret, sent])
        return hashlib.sha256(raw.encode()).hexdigest()[:32]

    def get(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        cache_ttl_s: float | None = None,
        what: str = "",
    ) -> Answer:
        """GET ``path`` (relative to the base URL, or absolute) within the time budget."""
        params = dict(params or {})
        url = path if path.startswith("http") else f"{self.base_url}/{path.lstrip('/')}"
        label = what or url
        self._request(
            label, url, params, headers, None
        )  # a URL we cannot ask fails before anything
        ttl = self.policy.cache_ttl_s if cache_ttl_s is None else cache_ttl_s
        key = self.cache_key(url, params, headers)
        if ttl > 0 and (body := self.cache.get(key, ttl, self.wall())) is not None:
            return Answer(body, url, True, 0)
        started = self.clock()
        budget = _Budget(started + self.policy.deadline_s, self.policy.deadline_s, False)
        operation: _Budget | None = getattr(self._operation, "budget", None)
        if operation is not None and operation.deadline < budget.deadline:
            budget = operation
        deadline = budget.deadline
        last = f"no time left in the {budget}"
        sent = 0  # attempts of this call
        for attempt in range(self.policy.retries + 1):
            left = deadline - self.clock()
            if left <= 0:
                break
            delay = self.limiter.reserve(max_wait=left)  # a refused wait takes no token
            if delay > left:
                raise self._over_budget(label, "its rate limit", delay, budget)
            if delay > 0:
                self.sleep(delay)
            remaining = deadline - self.clock()
            if remaining <= 0:
                self.limiter.give_back()  # the token is not used
                break
            request_timeout = min(self.policy.timeout_s, remaining)
            request = self._request(label, url, params, headers, httpx.Timeout(request_timeout))
            try:
                self.requests += 1
                sent += 1
                response = self.client.send(request, auth=auth, stream=True)
                try:
                    status = response.status_code
                    if 300 <= status < 400:
                        raise self._redirected(label, response)
                    if status == 200:
                        body = self._read_answer(response, label, deadline)
                    else:  # only for the message: bounded, and cut short when time is up
                        body = self._read_error(response, deadline)
                finally:
                    response.close()
            except httpx.TimeoutException:
                last = f"timed out after {request_timeout:.0f} s"
                wait = self._backoff(attempt)
            except _SlowBodyError as exc:
                last = f"the answer was still arriving after {exc}"
                wait = self._backoff(attempt)
            except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
                raise self._bad_url(label, url, exc) from exc
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                wait = self._backoff(attempt)
            else:
                if status == 200:
                    if ttl > 0 and body.strip():
                        self.cache.put(key, body, self.wall())
                    return Answer(body, url, False, sent)
                snippet = self.error_text(body) or _snippet(body)
                if status in AUTH_STATUSES:
                    raise ProviderAuthError(
                        f"{label}: HTTP {status} {response.reason_phrase}"
                        + (f": {snippet}" if snippet else ""),
                        provider=self.provider,
                        status=status,
                        hint=self.auth_hint or None,
                    )
                if status not in RETRY_STATUSES:
                    error = (
                        ProviderRequestError if 400 <= status < 500 else ProviderUnavailableError
                    )
                    raise error(
                        f"{label}: HTTP {status} {response.reason_phrase}"
                        + (f": {snippet}" if snippet else ""),
                        provider=self.provider,
                        status=status,
                        hint="check the zone/region and the dates asked for"
                        if error is ProviderRequestError
                        else None,
                    )
                last = f"HTTP {status} {response.reason_phrase}"
                asked = retry_after_s(response.headers.get("Retry-After"), self.wall())
                if asked is not None and asked > self.policy.max_retry_after_s:
                    raise ProviderUnavailableError(
                        f"{label}: {last}, asked to retry after {asked:.0f} s, more than the "
                        f"{self.policy.max_retry_after_s:.0f} s gridshift waits",
                        provider=self.provider,
                        status=status,
                    )
                wait = asked if asked is not None else self._backoff(attempt)
            if attempt == self.policy.retries or self.clock() >= deadline:
                break
            self._wait(wait, budget, label, last)
        raise ProviderUnavailableError(
            f"{label}: {last} (gave up after {sent} attempt(s), "
            f"{self.clock() - started:.1f} s of the {budget})",
            provider=self.provider,
        )

    def _request(
        self,
        label: str,
        url: str,
        params: Mapping[str, Any],
        headers: Mapping[str, str] | None,
        timeout: httpx.Timeout | None,
    ) -> httpx.Request:
        """The request to send, or ``ProviderRequestError`` for a URL that cannot be asked."""
        try:
            request = self.client.build_request(
                "GET",
                url,
                params=params,
                headers=headers,
                timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
            )
        except (httpx.InvalidURL, httpx.UnsupportedProtocol, ValueError) as exc:
            raise self._bad_url(label, url, exc) from exc
        if request.url.scheme not in ("http", "https"):
            raise self._bad_url(label, url, "only http:// and https:// URLs can be asked")
        if not _HOST.fullmatch(request.url.raw_host.decode("ascii", "replace")):
            raise self._bad_url(label, url, f"no valid host in it ({request.url.host!r})")
        return request

    def _bad_url(self, label: str, url: str, why: object) -> ProviderRequestError:
        prefix = "" if label == url else f"{label}: "
        return ProviderRequestError(
            f"{prefix}cannot request {url!r}: {why}",
            provider=self.provider,
            hint="check base_url",
        )

    def _redirected(self, label: str, response: httpx.Response) -> ProviderRequestError:
        location = response.headers.get("Location")
        if location is None:
            target = "an address it did not give (no Location header)"
        else:
            try:
                where = response.request.url.join(location)
                for name in self.secret_params & set(where.params.keys()):
                    where = where.copy_set_param(name, "REDACTED")
                target = str(where)
            except (httpx.InvalidURL, ValueError):
                target = repr(location.split("?")[0])
        return ProviderRequestError(
            f"{label}: HTTP {response.status_code} {response.reason_phrase}: the provider "
            f"redirected to {target}, and gridshift does not follow redirects",
            provider=self.provider,
            status=response.status_code,
            hint="set base_url to the final address",
        )

    def _read_answer(self, response: httpx.Response, label: str, deadline: float) -> bytes:
        """The body of a 200: refused unread if it says it is too large, cut off if it grows too
        large, and ``_SlowBodyError`` when it is still arriving at the deadline."""
        declared = response.headers.get("Content-Length", "").strip()
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            raise ProviderUnavailableError(
                f"{label}: answer of {int(declared)} bytes is over the {MAX_BODY_BYTES} byte limit",
                provider=self.provider,
                status=response.status_code,
            )
        started = self.clock()
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise ProviderUnavailableError(
                    f"{label}: answer of more than {MAX_BODY_BYTES} bytes is over the "
                    f"{MAX_BODY_BYTES} byte limit",
                    provider=self.provider,
                    status=response.status_code,
                )
            chunks.append(chunk)
            if self.clock() > deadline:
                raise _SlowBodyError(f"{self.clock() - started:.1f} s ({size} bytes read)")
        return b"".join(chunks)

    def _read_error(self, response: httpx.Response, deadline: float) -> bytes:
        """The start of an error answer's body, for the message: at most
        ``MAX_ERROR_BODY_BYTES``, and what has arrived when the deadline passes."""
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            chunks.append(chunk[: MAX_ERROR_BODY_BYTES - size])
            size += len(chunks[-1])
            if size >= MAX_ERROR_BODY_BYTES or self.clock() > deadline:
                break
        return b"".join(chunks)

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.policy.backoff_cap_s, self.policy.backoff_s * 2**attempt)
        return self.rng.uniform(ceiling / 2, ceiling)  # "equal jitter": never zero, never sync

    def _over_budget(
        self, label: str, why: str, seconds: float, budget: _Budget
    ) -> ProviderUnavailableError:
        return ProviderUnavailableError(
            f"{label}: {why}; waiting {seconds:.1f} s more would pass the {budget}",
            provider=self.provider,
        )

    def _wait(self, seconds: float, budget: _Budget, label: str, why: str) -> None:
        if seconds <= 0:
            return
        if self.clock() + seconds > budget.deadline:
            raise self._over_budget(label, why, seconds, budget)
        self.sleep(seconds)
