"""The provider HTTP layer: retries, back-off, Retry-After, rate limit, cache and time budget.

A fake clock stands in for time (sleeping advances it), so every wait is exact and instant.
"""

from __future__ import annotations

import email.utils
import random
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from gridshift.domain import (
    ProviderAuthError,
    ProviderRequestError,
    ProviderUnavailableError,
    UserError,
)
from gridshift.signals.providers import http as provider_http
from gridshift.signals.providers.http import (
    HttpPolicy,
    ProviderHttp,
    RateLimiter,
    ResponseCache,
    retry_after_s,
)

WALL0 = 1_700_000_000.0


class FakeTime:
    def __init__(self) -> None:
        self.t = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.t

    def wall(self) -> float:
        return WALL0 + self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


Handler = Callable[[httpx.Request], httpx.Response]


def client(
    handler: Handler,
    fake: FakeTime,
    *,
    policy: HttpPolicy | None = None,
    cache: ResponseCache | None = None,
    name: str = "test-provider",
) -> ProviderHttp:
    provider_http._LIMITERS.pop(name, None)
    return ProviderHttp(
        name,
        "https://api.example.test/v1",
        policy=policy or HttpPolicy(rate_per_s=100, burst=100),
        transport=httpx.MockTransport(handler),
        auth_hint="check EXAMPLE_TOKEN",
        secret_params=frozenset({"securityToken"}),
        cache=cache,
        clock=fake.clock,
        wall=fake.wall,
        sleep=fake.sleep,
        rng=random.Random(7),
    )


def sequence(*responses: httpx.Response) -> tuple[Handler, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return handler, seen


def test_a_200_returns_the_body_and_sends_the_params() -> None:
    handler, seen = sequence(httpx.Response(200, content=b'{"ok": 1}'))
    fake = FakeTime()
    answer = client(handler, fake).get("zone/latest", {"zone": "DE"})
    assert answer.body == b'{"ok": 1}'
    assert answer.attempts == 1
    assert str(seen[0].url) == "https://api.example.test/v1/zone/latest?zone=DE"
    assert fake.sleeps == []


def test_5xx_is_retried_with_jittered_exponential_backoff() -> None:
    handler, seen = sequence(
        httpx.Response(503), httpx.Response(502), httpx.Response(200, content=b"x")
    )
    fake = FakeTime()
    answer = client(handler, fake).get("a")
    assert answer.attempts == 3
    assert len(seen) == 3
    first, second = fake.sleeps
    assert 0.25 <= first <= 0.5  # equal jitter on the 0.5 s base
    assert 0.5 <= second <= 1.0  # doubled


def test_repeated_5xx_gives_up_as_unavailable_after_the_retries() -> None:
    handler, seen = sequence(httpx.Response(500))
    fake = FakeTime()
    with pytest.raises(ProviderUnavailableError, match="HTTP 500") as caught:
        client(handler, fake, policy=HttpPolicy(retries=3, rate_per_s=100)).get("a")
    assert len(seen) == 4
    assert not isinstance(caught.value, UserError)


def test_retry_after_seconds_is_honoured() -> None:
    handler, _ = sequence(
        httpx.Response(429, headers={"Retry-After": "2"}), httpx.Response(200, content=b"x")
    )
    fake = FakeTime()
    assert client(handler, fake).get("a").body == b"x"
    assert fake.sleeps == [2.0]


def test_retry_after_as_an_http_date_is_honoured() -> None:
    fake = FakeTime()
    when = email.utils.formatdate(WALL0 + 5, usegmt=True)
    handler, _ = sequence(
        httpx.Response(503, headers={"Retry-After": when}), httpx.Response(200, content=b"x")
    )
    client(handler, fake).get("a")
    assert fake.sleeps == [pytest.approx(5.0, abs=1.0)]


def test_a_retry_after_longer_than_we_wait_fails_at_once() -> None:
    handler, seen = sequence(httpx.Response(429, headers={"Retry-After": "3600"}))
    fake = FakeTime()
    with pytest.raises(ProviderUnavailableError, match="3600 s"):
        client(handler, fake).get("a")
    assert fake.sleeps == []
    assert len(seen) == 1


def test_no_wait_passes_the_time_budget() -> None:
    handler, _ = sequence(httpx.Response(429, headers={"Retry-After": "20"}))
    fake = FakeTime()
    policy = HttpPolicy(deadline_s=30, rate_per_s=100)
    with pytest.raises(ProviderUnavailableError, match="budget"):
        client(handler, fake, policy=policy).get("a")
    assert sum(fake.sleeps) <= 30


def test_timeouts_and_connection_errors_are_retried_then_unavailable() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            raise httpx.ConnectError("connection refused", request=request)
        raise httpx.ReadTimeout("slow", request=request)

    fake = FakeTime()
    with pytest.raises(ProviderUnavailableError, match="timed out"):
        client(handler, fake, policy=HttpPolicy(retries=2, rate_per_s=100)).get("a")
    assert len(calls) == 3


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failures_are_not_retried_and_name_the_key(status: int) -> None:
    handler, seen = sequence(httpx.Response(status, content=b'{"message": "bad token"}'))
    with pytest.raises(ProviderAuthError) as caught:
        client(handler, FakeTime()).get("a")
    assert len(seen) == 1
    assert caught.value.status == status
    assert "EXAMPLE_TOKEN" in caught.value.one_line()
    assert "bad token" in caught.value.one_line()
    assert isinstance(caught.value, UserError)


def test_a_404_is_a_request_error_not_retried() -> None:
    handler, seen = sequence(httpx.Response(404, content=b"zone not found"))
    with pytest.raises(ProviderRequestError, match="zone not found"):
        client(handler, FakeTime()).get("a")
    assert len(seen) == 1


def test_answers_are_cached_until_their_ttl() -> None:
    handler, seen = sequence(httpx.Response(200, content=b"one"))
    fake = FakeTime()
    http = client(handler, fake, policy=HttpPolicy(cache_ttl_s=60, rate_per_s=100))
    assert http.get("a", {"q": 1}).from_cache is False
    again = http.get("a", {"q": 1})
    assert again.from_cache is True
    assert again.body == b"one"
    assert len(seen) == 1
    http.get("a", {"q": 2})  # other params: another entry
    assert len(seen) == 2
    fake.t += 61
    assert http.get("a", {"q": 1}).from_cache is False
    assert len(seen) == 3


def test_the_disk_cache_serves_another_process_and_never_stores_the_token(tmp_path: Path) -> None:
    handler, seen = sequence(httpx.Response(200, content=b"<doc/>"))
    fake = FakeTime()
    params = {"securityToken": "s3cret-token", "documentType": "A44"}
    client(handler, fake, cache=ResponseCache(tmp_path)).get("api", params)
    later = client(handler, fake, cache=ResponseCache(tmp_path))
    assert later.get("api", params).from_cache is True
    assert len(seen) == 1
    stored = "".join(p.read_text() for p in tmp_path.iterdir())
    assert "s3cret" not in stored
    assert "s3cret-token" in str(seen[0].url)  # it was sent, just not kept


def test_an_empty_200_is_not_cached() -> None:
    handler, seen = sequence(httpx.Response(200, content=b""))
    http = client(handler, FakeTime())
    http.get("a")
    http.get("a")
    assert len(seen) == 2


def test_the_rate_limit_spaces_requests_out() -> None:
    handler, seen = sequence(httpx.Response(200, content=b"x"))
    fake = FakeTime()
    http = client(handler, fake, policy=HttpPolicy(rate_per_s=1.0, burst=2, cache_ttl_s=0))
    for _ in range(4):
        http.get("a")
    assert len(seen) == 4
    assert fake.sleeps == [pytest.approx(1.0), pytest.approx(1.0)]


def test_a_rate_limit_wait_past_the_budget_fails_fast() -> None:
    handler, _ = sequence(httpx.Response(200, content=b"x"))
    fake = FakeTime()
    policy = HttpPolicy(rate_per_s=0.01, burst=1, cache_ttl_s=0, deadline_s=5)
    http = client(handler, fake, policy=policy)
    http.get("a")
    with pytest.raises(ProviderUnavailableError, match="rate limit"):
        http.get("a")
    assert fake.sleeps == []


def test_rate_limiter_refills_over_time() -> None:
    fake = FakeTime()
    limiter = RateLimiter(2.0, 1, fake.clock)
    assert limiter.reserve() == 0.0
    assert limiter.reserve() == pytest.approx(0.5)
    fake.t += 10
    assert limiter.reserve() == 0.0


@pytest.mark.parametrize(
    ("header", "expected"),
    [(None, None), ("", None), ("7", 7.0), ("-3", 0.0), ("soon", None), ("1.5", 1.5)],
)
def test_retry_after_parsing(header: str | None, expected: float | None) -> None:
    assert retry_after_s(header, WALL0) == expected
