"""Fakes and checks shared by the live-provider tests (Electricity Maps, UK Carbon Intensity,
WattTime, ENTSO-E); a plain module the test files import.

HTTP goes through ``httpx.MockTransport`` to a recording ``Server``; ``FakeTime`` stands in for
the monotonic clock, the wall clock and the sleep, so retries and ``Retry-After`` waits are
recorded, never slept. ``build`` (or ``rig``, which adds the server and the time) makes a provider
the way ``make_provider`` does, over them.

The ``check_*`` functions are rules every provider must keep on its own request paths: the HTTP
layer's (``Retry-After`` waited for or given up on, 5xx retried, 401/403 refused at once) and an
unusable answer being a one-line ``SignalDataError`` that says where it came from. An ``Endpoint``
names the path (a provider whose answers there come from a given handler) and the call that
reaches it. Each check asserts what is common and returns the result or the error for the
provider's own assertions; ``unusable_answers_test``, ``long_retry_after_test`` and
``server_errors_test`` make the tests of those that need none beyond the provider's cases.

Property helpers: ``outcome`` (a result or a one-line ``GridshiftError``, nothing else), the
``assert_valid_*`` checks, strategies for JSON, text and odd field values, and
``property_test``/``parser_property``, which make the hypothesis tests a module binds to its own
``test_*`` names.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridshift.domain import (
    Forecast,
    GridshiftError,
    ProviderAuthError,
    ProviderUnavailableError,
    Quality,
    Series,
    SignalDataError,
)
from gridshift.signals.providers import ProviderOptions, make_provider
from gridshift.signals.providers._json import issues_of
from gridshift.signals.providers.base import Provider
from gridshift.signals.providers.http import HttpPolicy

Handler = Callable[[httpx.Request], httpx.Response]
P = TypeVar("P", bound=Provider)

FIXTURES = Path(__file__).parent / "data" / "providers"
# A rate limit that never makes a test wait (the default one would, after a burst of requests).
FAST = HttpPolicy(rate_per_s=1e6, burst=10_000)


def fixture_loader(folder: str) -> Callable[[str], bytes]:
    """``fixture(name)``: the bytes of a recorded answer under ``data/providers/<folder>``."""
    root = FIXTURES / folder

    def fixture(name: str) -> bytes:
        return (root / name).read_bytes()

    return fixture


def at(text: str) -> datetime:
    """An ISO time without a zone, read as UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def at_np(text: str) -> np.datetime64:
    """An ISO time as the ``datetime64[s]`` that series times are compared with."""
    return np.datetime64(text, "s")


def codes(series: Series | Forecast) -> dict[str, dict[str, Any]]:
    """The issues noted on ``series``, by code."""
    return {issue["code"]: issue for issue in issues_of(series)}


# --- fakes -------------------------------------------------------------------------------------


class FakeTime:
    """A monotonic clock and a wall clock that only sleeping moves, and the sleeps asked for."""

    def __init__(self, wall: datetime) -> None:
        self.mono = 1000.0
        self.wall_s = wall.timestamp()
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.mono

    def wall(self) -> float:
        return self.wall_s

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.mono += seconds
        self.wall_s += seconds


def respond(
    answer: Handler | bytes, request: httpx.Request, headers: Mapping[str, str] | None = None
) -> httpx.Response:
    """``answer(request)``, or a 200 with ``answer`` as its body."""
    if callable(answer):
        return answer(request)
    return httpx.Response(200, content=answer, headers=headers)


class Server:
    """A fake API: answers each request with ``answer`` (a handler, or the body of a 200 with
    ``headers``) and keeps the requests."""

    def __init__(self, answer: Handler | bytes, headers: Mapping[str, str] | None = None) -> None:
        self.answer = answer
        self.headers = headers
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return respond(self.answer, request, self.headers)

    @property
    def paths(self) -> list[str]:
        return [r.url.path for r in self.requests]

    def to(self, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path == path]


def serve(body: bytes, status: int = 200, **headers: str) -> Handler:
    """Every request answered with ``status``, ``body`` and ``headers``."""
    return lambda request: httpx.Response(status, content=body, headers=headers)


def sequence(*answers: httpx.Response) -> Handler:
    """The answers in turn; the last one again from then on."""
    queue = list(answers)
    return lambda request: queue.pop(0) if len(queue) > 1 else queue[0]


def build(
    cls: type[P],
    handler: Handler,
    time: FakeTime,
    *,
    options: ProviderOptions | None = None,
    environ: Mapping[str, str] | None = None,
    policy: HttpPolicy | None = None,
    cache_dir: Path | None = None,
) -> P:
    """Provider ``cls`` as ``make_provider`` makes it, over ``handler`` and ``time``."""
    made = make_provider(
        cls.name,
        options,
        environ={} if environ is None else environ,
        transport=httpx.MockTransport(handler),
        policy=policy,
        cache_dir=cache_dir,
        clock=time.clock,
        wall=time.wall,
        sleep=time.sleep,
        rng=random.Random(0),
    )
    assert isinstance(made, cls)
    return made


def rig(
    cls: type[P], route: Handler, *, now: datetime, **kwargs: Any
) -> tuple[P, Server, FakeTime]:
    """Provider ``cls`` with a ``Server`` answering by ``route`` and a ``FakeTime`` at ``now``."""
    server, time = Server(route), FakeTime(now)
    return build(cls, server, time, **kwargs), server, time


# --- failures every provider shares --------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """One request path of a provider: ``build(handler)`` gives a provider whose answers on that
    path come from ``handler`` (with its server and time), ``call(provider)`` reaches it, and
    ``where`` is how the provider's messages name it."""

    build: Callable[[Handler], tuple[Any, Server, FakeTime]]
    call: Callable[[Any], Any]
    where: str = ""


def check_short_retry_after_is_waited_for(endpoint: Endpoint, ok: bytes) -> Any:
    """A 429 with ``Retry-After: 2`` is slept for and the request made again; returns what the
    call gave from the second answer, a 200 with ``ok``."""
    hits = Server(
        sequence(
            httpx.Response(429, headers={"Retry-After": "2"}),
            httpx.Response(200, content=ok),
        )
    )
    made, _, time = endpoint.build(hits)
    result = endpoint.call(made)
    assert time.sleeps == [2.0], time.sleeps
    assert len(hits.requests) == 2, hits.paths
    return result


def check_long_retry_after_gives_up_at_once(endpoint: Endpoint) -> ProviderUnavailableError:
    """A 429 with ``Retry-After: 3600`` (past the longest wait) gives up without sleeping."""
    hits = Server(serve(b"", 429, **{"Retry-After": "3600"}))
    made, _, time = endpoint.build(hits)
    with pytest.raises(ProviderUnavailableError) as caught:
        endpoint.call(made)
    assert "3600" in caught.value.message, caught.value.message
    assert time.sleeps == [], time.sleeps
    assert len(hits.requests) == 1, hits.paths
    return caught.value


# Server errors as they come, each retried: a plain-text one, a gateway's HTML page, ...
SERVER_ERRORS = {
    500: b"Internal Server Error",
    502: b"<html>502 Bad Gateway</html>",
    503: b"upstream down",
    504: b"Gateway Timeout",
}


def check_server_errors_are_retried_then_unavailable(
    endpoint: Endpoint, status: int, body: bytes
) -> ProviderUnavailableError:
    """A server error is retried as often as the policy allows, after a wait each time."""
    hits = Server(serve(body, status))
    made, _, time = endpoint.build(hits)
    with pytest.raises(ProviderUnavailableError) as caught:
        endpoint.call(made)
    retries = made.http.policy.retries
    assert len(hits.requests) == retries + 1, hits.paths
    assert len(time.sleeps) == retries, time.sleeps
    assert all(s > 0 for s in time.sleeps), time.sleeps
    return caught.value


def check_refusal_is_an_auth_error(
    endpoint: Endpoint, status: int, body: bytes
) -> ProviderAuthError:
    """A 401/403 is an auth error with that status, at once: no retry, no wait, no other
    request."""
    hits = Server(serve(body, status))
    made, server, time = endpoint.build(hits)
    with pytest.raises(ProviderAuthError) as caught:
        endpoint.call(made)
    assert caught.value.status == status
    assert caught.value.provider == made.name
    assert len(server.requests) == len(hits.requests) == 1, server.paths
    assert time.sleeps == [], time.sleeps
    return caught.value


def check_unusable_answer_is_a_signal_data_error(
    endpoint: Endpoint, body: bytes, reason: str
) -> SignalDataError:
    """A 200 whose ``body`` cannot be used is a ``SignalDataError`` whose message says ``reason``
    (a regular expression), on one line that starts with the endpoint's ``where``."""
    made, _, _ = endpoint.build(serve(body))
    with pytest.raises(SignalDataError, match=reason) as caught:
        endpoint.call(made)
    message = caught.value.one_line()
    assert message.startswith(f"{endpoint.where}: "), message
    assert "\n" not in message
    return caught.value


def unusable_answers_test(
    endpoint: Endpoint, cut: bytes, *cases: tuple[bytes, str], syntax: str = "not valid JSON"
) -> Callable[[bytes, str], None]:
    """``check_unusable_answer_is_a_signal_data_error`` on ``endpoint`` as a test, with a case
    per ``(body, reason)``: those of every provider (an empty body, a blank one, and ``cut``, a
    recorded answer cut short, whose reason is ``syntax``) and the provider's own ``cases``; bind
    it to a ``test_*`` name in the test module."""

    @pytest.mark.parametrize(
        ("body", "reason"), [(b"", "empty"), (b"   \n", "empty"), (cut, syntax), *cases]
    )
    def test(body: bytes, reason: str) -> None:
        check_unusable_answer_is_a_signal_data_error(endpoint, body, reason)

    return test


def long_retry_after_test(endpoint: Endpoint) -> Callable[[], None]:
    """``check_long_retry_after_gives_up_at_once`` on ``endpoint`` as a test; bind it to a
    ``test_*`` name in the test module."""

    def test() -> None:
        check_long_retry_after_gives_up_at_once(endpoint)

    return test


def server_errors_test(endpoint: Endpoint) -> Callable[[int], None]:
    """``check_server_errors_are_retried_then_unavailable`` on ``endpoint`` as a test, a case per
    status in ``SERVER_ERRORS``; bind it to a ``test_*`` name in the test module."""

    @pytest.mark.parametrize("status", list(SERVER_ERRORS))
    def test(status: int) -> None:
        check_server_errors_are_retried_then_unavailable(endpoint, status, SERVER_ERRORS[status])

    return test


def assert_merged_span(
    series: Series, start: datetime, span: timedelta, points: int, first: list[float]
) -> None:
    """A history asked for in windows and merged: ``points`` points from ``start`` over ``span``,
    beginning with the values ``first``, and no issue (no duplicate or gap where windows meet)."""
    assert len(series) == points
    assert series.start == start
    assert series.end == start + span
    assert series.values[: len(first)].tolist() == first
    assert codes(series) == {}


# --- properties --------------------------------------------------------------------------------


def outcome(parse: Callable[[], Any]) -> Any:
    """What ``parse`` returns, or None when it raised a ``GridshiftError`` (with a one-line
    message); any other exception propagates and fails the test."""
    error: GridshiftError | None = None
    try:
        return parse()
    except GridshiftError as exc:
        error = exc
    assert error.message
    assert "\n" not in error.one_line()
    return None


def assert_valid_series(series: object, unit: str, *, at_least: int = 1) -> None:
    """``series`` is a Series of ``unit``: ``at_least`` points, strictly increasing times, and
    NaN exactly where the quality says missing."""
    assert isinstance(series, Series)
    times = series.times.astype(np.int64)
    assert len(times) == len(series.values)
    assert len(times) >= at_least
    assert bool(np.all(np.diff(times) > 0))
    assert series.unit == unit
    assert bool(np.all(np.isnan(series.values) == (series.quality == Quality.MISSING)))


def assert_valid_forecast(forecast: object, unit: str) -> Forecast:
    """``forecast`` is a Forecast of ``unit`` dated at its generation time; returned for more."""
    assert isinstance(forecast, Forecast)
    assert len(forecast.times) == len(forecast.values)
    assert forecast.unit == unit
    assert forecast.generated_at == forecast.as_of
    return forecast


def assert_valid_result(result: object, unit: str) -> None:
    """A valid Series, or a valid Forecast that starts at the step holding its ``as_of`` and has
    a point every step."""
    if isinstance(result, Series):
        assert_valid_series(result, unit)
        return
    forecast = assert_valid_forecast(result, unit)
    t = forecast.times.astype(np.int64)
    assert t[0] + forecast.step_s > forecast.as_of.timestamp()
    assert bool(np.all(np.diff(t) == forecast.step_s))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=30,
)
JSON_BODIES = JSON_VALUES.map(lambda value: json.dumps(value).encode())
TEXT_BODIES = st.text(max_size=300).map(lambda text: text.encode("utf-8", "surrogatepass"))
# Field values a documented payload should not have: huge numbers, NaN/inf, text, nothing.
ODD_SCALARS = st.one_of(
    st.integers(-(10**30), 10**30),
    st.floats(),
    st.none(),
    st.text(max_size=6),
    st.booleans(),
)


def odd_times(*samples: str) -> st.SearchStrategy[Any]:
    """Time fields a documented payload should not have, with ``samples`` of near misses."""
    return st.one_of(
        st.text(max_size=30), st.integers(), st.none(), st.floats(), st.sampled_from(samples)
    )


def property_test(bodies: st.SearchStrategy[bytes], check: Callable[[bytes], None]) -> Any:
    """A hypothesis test that gives ``check`` every body ``bodies`` draws; bind it to a
    ``test_*`` name in the test module."""

    @given(body=bodies)
    def test(body: bytes) -> None:
        check(body)

    return test


def parser_property(
    parsers: Mapping[str, Callable[[bytes], Any]],
    valid: Callable[[Any], None],
    bodies: st.SearchStrategy[bytes] | Callable[[str], st.SearchStrategy[bytes]],
) -> Any:
    """A hypothesis test with a case per parser in ``parsers``: each body drawn from ``bodies``
    (or ``bodies(name)``, for bodies shaped for that parser) gives a result that passes ``valid``,
    or a one-line ``GridshiftError``; bind it to a ``test_*`` name in the test module."""

    @pytest.mark.parametrize("name", list(parsers))
    @given(data=st.data())
    def test(name: str, data: st.DataObject) -> None:
        strategy = bodies if isinstance(bodies, st.SearchStrategy) else bodies(name)
        body = data.draw(strategy, label="body")
        result = outcome(lambda: parsers[name](body))
        if result is not None:
            valid(result)

    return test
