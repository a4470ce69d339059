"""HTTP for live providers: timeouts, retries with jittered exponential back-off, ``Retry-After``,
a per-provider rate limit, a response cache, and one time budget per call.

A call never takes longer than its budget (``deadline_s``): a retry, a back-off, a ``Retry-After``
or a rate-limit wait that would pass it ends the call at once with ``ProviderUnavailableError``, so
callers can fall back instead of waiting. 401/403 become ``ProviderAuthError`` (with the provider's
hint on which key to set), 400/404/422 ``ProviderRequestError``; neither is retried. 429, 5xx,
timeouts and connection errors are retried. The clock, the sleep and the random source are
injected, so tests run in no time and the same way every time.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from gridshift.domain import (
    ProviderAuthError,
    ProviderRequestError,
    ProviderUnavailableError,
)

Clock = Callable[[], float]
Sleep = Callable[[float], None]

RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
AUTH_STATUSES = frozenset({401, 403})
MAX_BODY_BYTES = 32 * 1024 * 1024  # a provider payload larger than this is refused


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


class RateLimiter:
    """A token bucket shared by every client of one provider in this process."""

    def __init__(self, rate_per_s: float, burst: int, clock: Clock) -> None:
        self.rate = rate_per_s
        self.burst = float(burst)
        self.clock = clock
        self.tokens = float(burst)
        self.updated = clock()
        self.lock = threading.Lock()
        self.waited = 0  # how many requests had to wait (a metric)

    def reserve(self) -> float:
        """Take a token; returns how long to wait before using it (0 if one was free)."""
        with self.lock:
            now = self.clock()
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            self.tokens -= 1.0
            if self.tokens >= 0:
                return 0.0
            self.waited += 1
            return -self.tokens / self.rate

    def give_back(self) -> None:
        with self.lock:
            self.tokens = min(self.burst, self.tokens + 1.0)


_LIMITERS: dict[str, RateLimiter] = {}
_LIMITERS_LOCK = threading.Lock()


def limiter_for(provider: str, policy: HttpPolicy, clock: Clock) -> RateLimiter:
    with _LIMITERS_LOCK:
        limiter = _LIMITERS.get(provider)
        if limiter is None or limiter.clock is not clock:
            limiter = RateLimiter(policy.rate_per_s, policy.burst, clock)
            _LIMITERS[provider] = limiter
        return limiter


@dataclass
class ResponseCache:
    """200 answers by request, in memory and (given ``directory``) on disk for later processes.

    Keys leave out secrets (tokens in query strings), so a cached answer never stores a key.
    """

    directory: Path | None = None
    memory: dict[str, tuple[float, bytes]] = field(default_factory=dict)

    def _file(self, key: str) -> Path | None:
        return None if self.directory is None else self.directory / f"{key}.json"

    def get(self, key: str, ttl_s: float, wall: float) -> bytes | None:
        hit = self.memory.get(key)
        if hit is None and (path := self._file(key)) is not None and path.exists():
            try:
                stored = json.loads(path.read_text())
                hit = (float(stored["stored_at"]), bytes.fromhex(stored["body"]))
            except (OSError, ValueError, KeyError, TypeError):
                hit = None
        if hit is None or wall - hit[0] > ttl_s:
            return None
        self.memory[key] = hit
        return hit[1]

    def put(self, key: str, body: bytes, wall: float) -> None:
        self.memory[key] = (wall, body)
        path = self._file(key)
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".tmp")
                tmp.write_text(json.dumps({"stored_at": wall, "body": body.hex()}))
                tmp.replace(path)
            except OSError:
                pass  # a cache that cannot be written is only a slower cache


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


@dataclass(frozen=True)
class Answer:
    """A successful answer: the body and where it came from."""

    body: bytes
    url: str
    from_cache: bool
    attempts: int


class ProviderHttp:
    """The HTTP client of one provider. Use ``get``; it returns the body of a 200 or raises."""

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
            follow_redirects=True,
        )
        self.requests = 0  # requests actually sent (a metric, and what tests count)
        # What an error answer says, for the message: a provider may read its own error format
        # (ENTSO-E's acknowledgement XML); by default the first 200 characters of the body.
        self.error_text: Callable[[bytes], str | None] = _snippet

    def close(self) -> None:
        self.client.close()

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
        ttl = self.policy.cache_ttl_s if cache_ttl_s is None else cache_ttl_s
        key = self.cache_key(url, params, headers)
        if ttl > 0 and (body := self.cache.get(key, ttl, self.wall())) is not None:
            return Answer(body, url, True, 0)
        label = what or url
        started = self.clock()
        deadline = started + self.policy.deadline_s
        last = "no answer"
        for attempt in range(self.policy.retries + 1):
            self._wait(self.limiter.reserve(), deadline, label, "its rate limit")
            remaining = deadline - self.clock()
            if remaining <= 0:
                break
            timeout = httpx.Timeout(min(self.policy.timeout_s, remaining))
            try:
                self.requests += 1
                response = self.client.get(
                    url, params=params, headers=headers, auth=auth, timeout=timeout
                )
                body = response.content
            except httpx.TimeoutException:
                last = f"timed out after {min(self.policy.timeout_s, remaining):.0f} s"
                wait = self._backoff(attempt)
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                wait = self._backoff(attempt)
            else:
                status = response.status_code
                if status == 200:
                    if len(body) > MAX_BODY_BYTES:
                        raise ProviderUnavailableError(
                            f"{label}: answer of {len(body)} bytes is over the "
                            f"{MAX_BODY_BYTES} byte limit",
                            provider=self.provider,
                            status=status,
                        )
                    if ttl > 0 and body.strip():
                        self.cache.put(key, body, self.wall())
                    return Answer(body, url, False, attempt + 1)
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
            if attempt == self.policy.retries:
                break
            self._wait(wait, deadline, label, last)
        raise ProviderUnavailableError(
            f"{label}: {last} (gave up after {self.requests and attempt + 1} attempt(s), "
            f"{self.clock() - started:.1f} s of a {self.policy.deadline_s:.0f} s budget)",
            provider=self.provider,
        )

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.policy.backoff_cap_s, self.policy.backoff_s * 2**attempt)
        return self.rng.uniform(ceiling / 2, ceiling)  # "equal jitter": never zero, never sync

    def _wait(self, seconds: float, deadline: float, label: str, why: str) -> None:
        if seconds <= 0:
            return
        if self.clock() + seconds > deadline:
            raise ProviderUnavailableError(
                f"{label}: {why}; waiting {seconds:.1f} s more would pass the "
                f"{self.policy.deadline_s:.0f} s budget",
                provider=self.provider,
            )
        self.sleep(seconds)
