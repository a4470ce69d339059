"""The provider HTTP layer: retries, back-off, Retry-After, rate limit, cache and time budget.

A fake clock stands in for time (sleeping advances it), so every wait is exact and instant.
"""

from __future__ import annotations

import email.utils
import random
from collections.abc import Callable, Iterator
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
from gridshift.signals.providers import ratelimit
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
    ratelimit._LIMITERS.pop(name, None)
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


# --- streaming bodies: the budget and the size limit hold while a body arrives ---


def test_a_body_still_arriving_at_the_deadline_ends_the_call() -> None:
    fake = FakeTime()
    chunks_sent: list[int] = []

    def trickle() -> Iterator[bytes]:
        for _ in range(40):  # 1 byte every 0.5 s: 20 s for the whole body
            fake.t += 0.5
            chunks_sent.append(1)
            yield b"x"

    handler, seen = sequence(httpx.Response(200, content=trickle()))
    policy = HttpPolicy(deadline_s=2, rate_per_s=100)
    with pytest.raises(ProviderUnavailableError, match="still arriving") as caught:
        client(handler, fake, policy=policy).get("a")
    assert fake.t <= 2.5  # one chunk past the deadline at most, not 20 s
    assert len(chunks_sent) < 40
    assert len(seen) == 1
    assert "2 s budget" in caught.value.one_line()


def test_a_content_length_over_the_limit_is_refused_unread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(provider_http, "MAX_BODY_BYTES", 1000)
    read: list[bytes] = []

    def body() -> Iterator[bytes]:
        read.append(b"x")
        yield b"x" * 10

    handler, seen = sequence(
        httpx.Response(200, headers={"Content-Length": "5000"}, content=body())
    )
    with pytest.raises(ProviderUnavailableError, match="5000 bytes is over the 1000 byte limit"):
        client(handler, FakeTime()).get("a")
    assert read == []  # not a byte read
    assert len(seen) == 1  # and not retried


def test_a_body_growing_past_the_limit_is_cut_off_early(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(provider_http, "MAX_BODY_BYTES", 1000)
    chunks_sent: list[int] = []

    def endless() -> Iterator[bytes]:
        for _ in range(100):  # 30 000 bytes in all
            chunks_sent.append(1)
            yield b"x" * 300

    handler, seen = sequence(httpx.Response(200, content=endless()))
    with pytest.raises(ProviderUnavailableError, match="1000 byte limit"):
        client(handler, FakeTime()).get("a")
    assert len(chunks_sent) == 4  # 1200 bytes: stopped at the first chunk over the limit
    assert len(seen) == 1


def test_an_error_body_is_read_only_in_part_for_the_message() -> None:
    chunks_sent: list[int] = []

    def endless() -> Iterator[bytes]:
        for _ in range(40):  # 600 000 bytes in all
            chunks_sent.append(1)
            yield b"zone not found " * 1000

    handler, _ = sequence(httpx.Response(404, content=endless()))
    with pytest.raises(ProviderRequestError, match="zone not found"):
        client(handler, FakeTime()).get("a")
    assert len(chunks_sent) <= 5  # 64 KiB of it, not 600 000 bytes


# --- one time budget per provider operation ---


def test_calls_inside_a_budget_share_it() -> None:
    handler, seen = sequence(
        httpx.Response(503, headers={"Retry-After": "4"}),
        httpx.Response(200, content=b"token"),
        httpx.Response(503, headers={"Retry-After": "2"}),
        httpx.Response(200, content=b"forecast"),
    )
    fake = FakeTime()
    http = client(handler, fake, policy=HttpPolicy(deadline_s=30, rate_per_s=100, cache_ttl_s=0))
    with http.budget(5):
        assert http.get("login").body == b"token"
        assert fake.t == 4.0
        with pytest.raises(ProviderUnavailableError, match="5 s operation budget") as caught:
            http.get("forecast")
    assert "waiting 2.0 s more" in caught.value.one_line()
    assert len(seen) == 3
    assert fake.sleeps == [4.0]
    # outside the budget, the per-call deadline alone applies again
    assert http.get("forecast").body == b"forecast"


def test_nested_budgets_keep_the_earlier_deadline_and_leaving_restores_the_outer() -> None:
    timeouts: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        timeouts.append(request.extensions["timeout"]["read"])
        return httpx.Response(200, content=b"x")

    fake = FakeTime()
    http = client(handler, fake, policy=HttpPolicy(timeout_s=10, rate_per_s=100, cache_ttl_s=0))
    with http.budget(6):
        with http.budget(3):
            http.get("a")  # the inner 3 s bound the request timeout
            with http.budget(20):
                http.get("a")  # a longer nested budget does not extend the 3 s
        fake.t += 1
        http.get("a")  # back in the outer budget: 5 s left
    http.get("a")  # no budget: the policy's 10 s timeout
    assert timeouts == [3.0, 3.0, 5.0, 10.0]


def test_a_call_in_a_spent_budget_sends_nothing() -> None:
    handler, seen = sequence(httpx.Response(200, content=b"x"))
    fake = FakeTime()
    http = client(handler, fake)
    with http.budget(1):
        fake.t += 2
        with pytest.raises(ProviderUnavailableError, match="0 attempt"):
            http.get("a")
    assert seen == []


# --- the rate limiter ---


def test_refused_rate_limit_waits_take_no_token() -> None:
    handler, seen = sequence(httpx.Response(200, content=b"x"))
    fake = FakeTime()
    policy = HttpPolicy(rate_per_s=1, burst=1, deadline_s=0.5, cache_ttl_s=0)
    http = client(handler, fake, policy=policy)
    http.get("a")  # the one token of the burst
    for _ in range(50):
        with pytest.raises(ProviderUnavailableError, match="rate limit"):
            http.get("a")
    assert fake.t == 0.0
    fake.t += 1.1
    assert http.get("a").body == b"x"
    assert fake.sleeps == []
    assert len(seen) == 2


def test_rate_limiter_takes_no_token_for_a_wait_it_refuses() -> None:
    fake = FakeTime()
    limiter = RateLimiter(1.0, 1, fake.clock)
    assert limiter.reserve() == 0.0
    assert limiter.reserve(max_wait=0.5) == pytest.approx(1.0)  # refused: no token taken
    assert limiter.reserve(max_wait=0.5) == pytest.approx(1.0)
    assert limiter.reserve() == pytest.approx(1.0)  # accepted: taken
    assert limiter.reserve() == pytest.approx(2.0)


# --- redirects and URLs ---


def test_a_redirect_is_not_followed_and_keeps_the_key_at_home() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "api.example.test":
            return httpx.Response(
                302, headers={"Location": "https://elsewhere.example.test/v2/a?securityToken=t0k"}
            )
        return httpx.Response(200, content=b"stolen")

    http = client(handler, FakeTime())
    with pytest.raises(ProviderRequestError) as caught:
        http.get("a", headers={"auth-token": "s3cret"})
    message = caught.value.one_line()
    assert "redirected to https://elsewhere.example.test/v2/a" in message
    assert "does not follow redirects" in message
    assert "base_url" in message
    assert "t0k" not in message
    assert caught.value.status == 302
    assert [r.url.host for r in seen] == ["api.example.test"]  # asked once, never elsewhere


@pytest.mark.parametrize("base_url", ["http://[::1", "http://x y", "ftp://files.example.test"])
def test_an_invalid_base_url_is_a_request_error(base_url: str) -> None:
    handler, seen = sequence(httpx.Response(200, content=b"x"))
    fake = FakeTime()
    ratelimit._LIMITERS.pop("bad-url", None)
    http = ProviderHttp(
        "bad-url",
        base_url,
        transport=httpx.MockTransport(handler),
        clock=fake.clock,
        wall=fake.wall,
        sleep=fake.sleep,
    )
    with pytest.raises(ProviderRequestError, match="cannot request") as caught:
        http.get("a")
    assert base_url in caught.value.one_line()
    assert "check base_url" in caught.value.one_line()
    assert seen == []
    assert http.limiter.tokens == http.limiter.burst  # nothing was reserved


# --- the give-up message ---


def test_the_give_up_message_counts_the_attempts_of_this_call() -> None:
    handler, seen = sequence(
        httpx.Response(200, content=b"x"),
        httpx.Response(200, content=b"x"),
        httpx.Response(503, headers={"Retry-After": "4"}),
        httpx.Response(503, headers={"Retry-After": "4"}),
        httpx.Response(503, headers={"Retry-After": "2"}),  # ends exactly at the deadline
    )
    fake = FakeTime()
    policy = HttpPolicy(deadline_s=10, retries=5, rate_per_s=100, cache_ttl_s=0)
    http = client(handler, fake, policy=policy)
    http.get("a")
    http.get("a")  # earlier calls on the same client
    with pytest.raises(ProviderUnavailableError) as caught:
        http.get("a")
    assert len(seen) == 5
    assert "gave up after 3 attempt(s)" in caught.value.one_line()
