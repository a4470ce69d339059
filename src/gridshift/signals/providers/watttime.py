"""WattTime API v3: the marginal operating emissions rate (MOER), live, as history and forecast.

Docs: https://docs.watttime.org/ (OpenAPI: https://docs.watttime.org/openapi.json). Endpoints used:

- ``GET /login`` with HTTP basic auth -> ``{"token": "..."}``. The token is valid for 30 minutes;
  it is kept, renewed a minute before then, and renewed once more when a data call answers 401
  ("If a data call returns HTTP 401 error code, you will need to call /login again").
- ``GET /v3/region-from-loc?latitude=&longitude=&signal_type=co2_moer`` ->
  ``{"region": "ISONE_WCMA", "region_full_name": "...", "signal_type": "co2_moer"}``; used when the
  signal's ``extra`` gives ``latitude``/``longitude`` and no ``region``.
- ``GET /v3/historical?region=&start=&end=&signal_type=co2_moer`` -> ``{"data": [{"point_time":
  "2022-07-15T00:00:00+00:00", "value": 870, "imputed_data_used": true, ...}], "meta":
  {"data_point_period_seconds": 300, "units": "lbs_co2_per_mwh", ...}}``. ``start`` and ``end`` are
  both inclusive and need a zone; "each query is limited to 32 days of data", so longer ranges are
  split. Points with ``imputed_data_used`` are marked estimated.
- ``GET /v3/forecast?region=&signal_type=co2_moer&horizon_hours=`` -> ``{"data": [{"point_time",
  "value"}], "meta": {"generated_at": ..., "data_point_period_seconds": 300, "units": ...}}``; the
  forecast keeps the native step and the provider's ``generated_at``.
- ``GET /v3/signal-index?region=&signal_type=co2_moer`` -> the newest ``data`` point, a 0-100
  percentile of the MOER (``signal_index``); it is a rank, not an emissions rate.

Every call sends ``Authorization: Bearer <token>``. MOER values in lbs CO2/MWh become g/kWh
(x 0.45359237). Bodies are parsed by pure functions (``parse_*``) that return a ``Series``, a
``Forecast`` or a value, or raise ``SignalDataError``: nothing else escapes them.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from gridshift.domain import (
    ConfigError,
    Forecast,
    ProviderAuthError,
    Series,
    SignalDataError,
    SignalKind,
)
from gridshift.domain.timeutil import as_np, require_utc
from gridshift.signals.providers.base import Provider, ProviderOptions
from gridshift.signals.providers.http import Answer, ProviderHttp
from gridshift.signals.validate import Issue, RawPoints, build_series

SIGNAL_TYPE = "co2_moer"
SOURCE = "watttime api"
TOKEN_TTL_S = 30 * 60  # documented lifetime of a /login token
TOKEN_MARGIN_S = 60  # renew this long before it runs out
MAX_QUERY_DAYS = 32  # documented limit of one /v3/historical query
DEFAULT_HORIZON_HOURS = 24
MAX_HORIZON_HOURS = 72
LIVE_CACHE_TTL_S = 60.0  # forecast, index and latest answers are reused this long at most

# WattTime ``meta.units`` -> gridshift unit name (documented: lbs_co2_per_mwh).
UNITS: dict[str, str] = {"lbs_co2_per_mwh": "lb_per_mwh"}
INDEX_UNITS = frozenset({"percentile"})

# Electricity Maps zone -> WattTime region, only where the match is certain. WattTime splits some
# balancing authorities into sub-regions; a zone that spans several needs ``region`` or
# ``extra.latitude``/``extra.longitude`` instead.
ZONE_REGIONS: dict[str, str] = {
    "US-CAL-CISO": "CAISO_NORTH",  # WattTime's free preview region (CAISO, northern California)
}

_REGION_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
_JSON_ERRORS = (ValueError, RecursionError)


# ---------------------------------------------------------------------------------------------
# Pure parsing


@dataclass(frozen=True)
class _Points:
    """One answer's points, before validation: ISO time strings, values, estimated flags."""

    times: list[str]
    values: list[float | str]
    estimated: list[bool]
    unit: str
    step_s: int | None
    meta: Mapping[str, Any]


def _load_json(body: bytes, label: str) -> Any:
    if not body or not body.strip():
        raise SignalDataError("the answer is empty", source=label)
    try:
        return json.loads(body)
    except _JSON_ERRORS as exc:
        detail = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise SignalDataError(f"the answer is not valid JSON ({detail})", source=label) from None


def _object(value: Any, what: str, label: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SignalDataError(f"{what} is {_kind_of(value)}, not an object", source=label)
    return value


def _kind_of(value: Any) -> str:
    if value is None:
        return "null"
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}
    names.update({list: "a list", dict: "an object"})
    return names.get(type(value), type(value).__name__)


def _text(value: Any, what: str, label: str) -> str:
    if not isinstance(value, str):
        raise SignalDataError(f"{what} is {_kind_of(value)}, not a string", source=label)
    if not value.strip():
        raise SignalDataError(f"{what} is empty", source=label)
    return value.strip()


def _aware_time(value: Any, what: str, label: str) -> datetime:
    text = _text(value, what, label)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise SignalDataError(
            f"{what} {text[:40]!r} is not an ISO-8601 time", source=label
        ) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise SignalDataError(f"{what} {text[:40]!r} has no zone", source=label)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        raise SignalDataError(f"{what} {text[:40]!r} is out of range", source=label) from None


def _positive_int(value: Any, what: str, label: str, most: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= most:
        raise SignalDataError(
            f"{what} is {str(value)[:40]!r}, not a whole number of seconds in 1..{most}",
            source=label,
        )
    return value


def _finite(value: int | float) -> float | None:
    """``value`` as a finite float; None for NaN, infinity or an integer too large for a float."""
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _number(value: Any) -> float | str:
    """A point's value as a float, or as text (reported as non-numeric by validation)."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        number = _finite(value)
        return "nan" if number is None else number
    if value is None:
        return "nan"
    return value if isinstance(value, str) else json.dumps(value)[:40]


def _unit(meta: Mapping[str, Any], label: str) -> str:
    units = _text(meta.get("units"), "meta.units", label)
    if units.lower() not in UNITS:
        raise SignalDataError(
            f"meta.units is {units[:40]!r}; gridshift reads {', '.join(sorted(UNITS))}",
            source=label,
        )
    return UNITS[units.lower()]


def _check_signal_type(meta: Mapping[str, Any], label: str) -> None:
    signal = meta.get("signal_type")
    if signal is not None and signal != SIGNAL_TYPE:
        raise SignalDataError(
            f"meta.signal_type is {str(signal)[:40]!r}, not {SIGNAL_TYPE}", source=label
        )


def _points(body: bytes, label: str) -> _Points:
    """The ``data`` points and ``meta`` of a /v3/historical or /v3/forecast answer."""
    root = _object(_load_json(body, label), "the answer", label)
    meta = _object(root.get("meta"), "meta", label)
    data = root.get("data")
    if not isinstance(data, list):
        raise SignalDataError(f"data is {_kind_of(data)}, not a list", source=label)
    _check_signal_type(meta, label)
    unit = _unit(meta, label)
    period = meta.get("data_point_period_seconds")
    step_s = (
        None
        if period is None
        else _positive_int(period, "meta.data_point_period_seconds", label, 86400)
    )
    times: list[str] = []
    values: list[float | str] = []
    estimated: list[bool] = []
    for i, item in enumerate(data):
        point = _object(item, f"data[{i}]", label)
        times.append(_text(point.get("point_time"), f"data[{i}].point_time", label))
        if "value" not in point:
            raise SignalDataError(f"data[{i}] has no value", source=label)
        values.append(_number(point["value"]))
        estimated.append(point.get("imputed_data_used") is True)
    return _Points(times, values, estimated, unit, step_s, meta)


def _issue_summary(issues: Sequence[Issue]) -> dict[str, str]:
    if not issues:
        return {}
    return {"issues": "; ".join(f"{i.code}: {i.message}" for i in issues)}


def _series(points: _Points, zone: str, kind: SignalKind, label: str) -> Series:
    if not points.times:
        raise SignalDataError("the answer holds no data points", source=label)
    raw = RawPoints(
        times=pd.Series(points.times, dtype="object"),
        values=pd.Series(points.values, dtype="object"),
        rows=np.arange(1, len(points.times) + 1, dtype=np.int64),
        unit=points.unit,
        naive_times="reject",
        estimated=np.array(points.estimated, dtype=bool),
    )
    try:
        series, issues = build_series(raw, zone=zone, kind=kind, source=label)
    except (ValueError, TypeError, OverflowError) as exc:  # pandas on a hostile payload
        raise SignalDataError(f"the data points cannot be read ({exc})", source=label) from None
    return replace(series, source=SOURCE, attrs=_issue_summary(issues))


def parse_data(body: bytes, zone: str, kind: SignalKind, label: str) -> Series:
    """A /v3/historical answer as a ``Series`` in g/kWh, or ``SignalDataError``."""
    return _series(_points(body, label), zone, kind, label)


def parse_forecast(
    body: bytes, zone: str, kind: SignalKind, label: str, now: datetime | None = None
) -> Forecast:
    """A /v3/forecast answer as a ``Forecast`` as of its ``meta.generated_at``.

    Points more than one step before ``generated_at`` are dropped; the step is the payload's
    ``data_point_period_seconds`` (5 minutes for co2_moer). Given ``now``, a ``generated_at`` after
    it (a clock ahead of ours) is taken as ``now``, so the forecast is never dated in the future."""
    points = _points(body, label)
    generated = _aware_time(points.meta.get("generated_at"), "meta.generated_at", label)
    if now is not None:
        generated = min(generated, require_utc(now, "now"))
    if points.step_s is None:
        raise SignalDataError("meta.data_point_period_seconds is missing", source=label)
    series = _series(points, zone, kind, label)
    keep = series.times >= as_np(generated) - np.timedelta64(points.step_s, "s")
    if not keep.any():
        raise SignalDataError(
            f"no forecast point at or after generated_at {_iso(generated)}", source=label
        )
    try:
        return Forecast(
            zone=zone,
            kind=kind,
            unit=series.unit,
            as_of=generated,
            times=series.times[keep],
            values=series.values[keep],
            step_s=points.step_s,
            model=WattTime.name,
            generated_at=generated,
        )
    except ValueError as exc:
        raise SignalDataError(f"the forecast is inconsistent ({exc})", source=label) from None


def parse_login(body: bytes, label: str) -> str:
    """The token of a /login answer."""
    root = _object(_load_json(body, label), "the answer", label)
    return _text(root.get("token"), "token", label)


def parse_region(body: bytes, label: str) -> str:
    """The ``region`` of a /v3/region-from-loc answer."""
    root = _object(_load_json(body, label), "the answer", label)
    region = _text(root.get("region"), "region", label)
    if not _REGION_RE.match(region):
        raise SignalDataError(f"region {region[:40]!r} is not a region name", source=label)
    return region


def parse_signal_index(body: bytes, label: str) -> tuple[datetime, float]:
    """The newest point of a /v3/signal-index answer: (its time, a 0-100 percentile)."""
    root = _object(_load_json(body, label), "the answer", label)
    meta = root.get("meta")
    if meta is not None:
        meta = _object(meta, "meta", label)
        _check_signal_type(meta, label)
        units = meta.get("units")
        if units is not None and str(units).lower() not in INDEX_UNITS:
            raise SignalDataError(
                f"meta.units is {str(units)[:40]!r}, not a percentile index", source=label
            )
    data = root.get("data")
    if not isinstance(data, list) or not data:
        raise SignalDataError("data holds no index point", source=label)
    newest: tuple[datetime, float] | None = None
    for i, item in enumerate(data):
        point = _object(item, f"data[{i}]", label)
        when = _aware_time(point.get("point_time"), f"data[{i}].point_time", label)
        value = point.get("value")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SignalDataError(f"data[{i}].value is {_kind_of(value)}", source=label)
        number = _finite(value)
        if number is None or not 0.0 <= number <= 100.0:
            raise SignalDataError(
                f"data[{i}].value {str(value)[:20]} is outside the 0-100 percentile range",
                source=label,
            )
        if newest is None or when > newest[0]:
            newest = (when, number)
    assert newest is not None
    return newest


# ---------------------------------------------------------------------------------------------
# The provider


def _extra_float(options: ProviderOptions, key: str, low: float, high: float) -> float | None:
    raw = options.extra.get(key)
    if raw is None or str(raw).strip() == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and low <= value <= high):
        raise ConfigError(
            "not a number in range",
            field=f"extra.{key}",
            value=raw,
            accepted=f"a number from {low:g} to {high:g}",
        )
    return value


def _horizon_hours(options: ProviderOptions) -> int:
    value = _extra_float(options, "horizon_hours", 0, MAX_HORIZON_HOURS)
    return DEFAULT_HORIZON_HOURS if value is None else int(value)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


class WattTime(Provider):
    """WattTime's marginal (MOER) signal; see the module docstring for the endpoints."""

    name: ClassVar[str] = "watttime"
    title: ClassVar[str] = "WattTime marginal emissions (API v3)"
    kinds: ClassVar[frozenset[SignalKind]] = frozenset({SignalKind.MARGINAL})
    env_vars: ClassVar[tuple[str, ...]] = ("WATTTIME_USERNAME", "WATTTIME_PASSWORD")
    base_url: ClassVar[str] = "https://api.watttime.org"
    docs_url: ClassVar[str] = "https://docs.watttime.org/"
    step_s: ClassVar[int] = 300
    max_range_days: ClassVar[int] = MAX_QUERY_DAYS

    def __init__(
        self, http: ProviderHttp, credentials: Mapping[str, str], options: ProviderOptions
    ) -> None:
        super().__init__(http, credentials, options)
        self._token: str | None = None
        self._token_at = -math.inf
        self._regions: dict[str, str] = {}
        self.logins = 0  # how many times we logged in (a metric)

    @classmethod
    def check(cls, zone: str, kind: SignalKind, options: ProviderOptions) -> None:
        super().check(zone, kind, options)
        if options.region is not None and not _REGION_RE.match(options.region):
            raise ConfigError(
                "not a WattTime region name",
                field="region",
                value=options.region,
                accepted="a region such as CAISO_NORTH (see /v3/my-access)",
            )
        lat = _extra_float(options, "latitude", -90.0, 90.0)
        lon = _extra_float(options, "longitude", -180.0, 180.0)
        _horizon_hours(options)
        if options.region or (lat is not None and lon is not None) or zone in ZONE_REGIONS:
            return
        raise ConfigError(
            "no WattTime region known for this zone",
            field="zone",
            value=zone,
            accepted=", ".join(sorted(ZONE_REGIONS)),
            hint=f"accepted: {', '.join(sorted(ZONE_REGIONS))}; otherwise set region: (a "
            "WattTime region such as CAISO_NORTH) or extra latitude and longitude",
        )

    # -- authentication

    def _login(self) -> str:
        answer = self.http.get(
            "/login",
            auth=(self.credentials["WATTTIME_USERNAME"], self.credentials["WATTTIME_PASSWORD"]),
            cache_ttl_s=0,  # a token is a secret: never cached
            what="watttime /login",
        )
        self._token = parse_login(answer.body, "watttime /login")
        self._token_at = self.http.wall()
        self.logins += 1
        return self._token

    def _bearer(self) -> str:
        fresh = self.http.wall() - self._token_at < TOKEN_TTL_S - TOKEN_MARGIN_S
        return self._token if self._token is not None and fresh else self._login()

    def _get(
        self, path: str, params: Mapping[str, Any], what: str, cache_ttl_s: float | None = None
    ) -> Answer:
        """A data call with the bearer token; a 401 logs in again and retries, once."""
        for attempt in range(2):
            headers = {"Authorization": f"Bearer {self._bearer()}"}
            try:
                return self.http.get(
                    path, params, headers=headers, cache_ttl_s=cache_ttl_s, what=what
                )
            except ProviderAuthError as exc:
                if exc.status != 401 or attempt:
                    raise
                self._token = None
        raise AssertionError("unreachable")  # pragma: no cover

    # -- region

    def region(self, zone: str) -> str:
        """The WattTime region: ``region``, else looked up from latitude/longitude, else mapped."""
        if self.options.region:
            return self.options.region
        lat = _extra_float(self.options, "latitude", -90.0, 90.0)
        lon = _extra_float(self.options, "longitude", -180.0, 180.0)
        if lat is not None and lon is not None:
            key = f"{lat},{lon}"
            if key not in self._regions:
                params = {
                    "latitude": f"{lat:g}",
                    "longitude": f"{lon:g}",
                    "signal_type": SIGNAL_TYPE,
                }
                what = "watttime /v3/region-from-loc"
                answer = self._get("/v3/region-from-loc", params, what)
                self._regions[key] = parse_region(answer.body, what)
            return self._regions[key]
        if zone in ZONE_REGIONS:
            return ZONE_REGIONS[zone]
        self.check(zone, SignalKind.MARGINAL, self.options)  # raises the ConfigError
        raise AssertionError("unreachable")  # pragma: no cover

    # -- data

    def _raw_range(self, region: str, start: datetime, end: datetime) -> _Points:
        """Every point with ``start <= point_time < end``, in requests of at most 32 days."""
        what = "watttime /v3/historical"
        merged = _Points([], [], [], UNITS["lbs_co2_per_mwh"], None, {})
        cursor = start
        while cursor < end:
            chunk_end = min(end, cursor + timedelta(days=self.max_range_days))
            params = {
                "region": region,
                "start": _iso(cursor),
                "end": _iso(chunk_end - timedelta(seconds=1)),  # ``end`` is inclusive
                "signal_type": SIGNAL_TYPE,
            }
            points = _points(self._get("/v3/historical", params, what).body, what)
            merged = _merge(merged, points, cursor, chunk_end, what)
            cursor = chunk_end
        return merged

    def history(self, zone: str, kind: SignalKind, start: datetime, end: datetime) -> Series:
        self.check(zone, kind, self.options)
        start, end = require_utc(start, "start"), require_utc(end, "end")
        if end <= start:
            raise ConfigError("end must be after start", field="end", value=end.isoformat())
        label = "watttime /v3/historical"
        points = self._raw_range(self.region(zone), start, end)
        if not points.times:
            raise SignalDataError(f"no MOER data from {_iso(start)} to {_iso(end)}", source=label)
        return _series(points, zone, kind, label)

    def latest(self, zone: str, kind: SignalKind) -> Series:
        now = datetime.fromtimestamp(self.http.wall(), UTC)
        window = timedelta(seconds=max(self.options.staleness_s, 3600))
        return self.history(zone, kind, now - window, now + timedelta(seconds=1))

    def forecast(self, zone: str, kind: SignalKind) -> Forecast:
        self.check(zone, kind, self.options)
        what = "watttime /v3/forecast"
        params = {
            "region": self.region(zone),
            "signal_type": SIGNAL_TYPE,
            "horizon_hours": _horizon_hours(self.options),
        }
        answer = self._get("/v3/forecast", params, what, cache_ttl_s=LIVE_CACHE_TTL_S)
        now = datetime.fromtimestamp(self.http.wall(), UTC)
        return parse_forecast(answer.body, zone, kind, what, now=now)

    def signal_index(self, zone: str) -> tuple[datetime, float]:
        """The current MOER percentile (0 = cleanest, 100 = dirtiest of the recent range).

        A rank, not an emissions rate: never use it as g/kWh."""
        self.check(zone, SignalKind.MARGINAL, self.options)
        what = "watttime /v3/signal-index"
        params = {"region": self.region(zone), "signal_type": SIGNAL_TYPE}
        answer = self._get("/v3/signal-index", params, what, cache_ttl_s=LIVE_CACHE_TTL_S)
        return parse_signal_index(answer.body, what)


def _merge(merged: _Points, points: _Points, start: datetime, end: datetime, label: str) -> _Points:
    """``merged`` plus the points of ``points`` inside ``[start, end)`` (chunks overlap nothing)."""
    if points.unit != merged.unit:
        raise SignalDataError(f"units changed between answers ({points.unit})", source=label)
    lo, hi = start.timestamp(), end.timestamp()
    keep = [i for i, text in enumerate(points.times) if _inside(text, lo, hi)]
    return _Points(
        merged.times + [points.times[i] for i in keep],
        merged.values + [points.values[i] for i in keep],
        merged.estimated + [points.estimated[i] for i in keep],
        merged.unit,
        merged.step_s or points.step_s,
        points.meta,
    )


def _inside(text: str, lo: float, hi: float) -> bool:
    """Whether an ISO time lies in ``[lo, hi)``; an unreadable one is kept for validation."""
    try:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            return True
        return lo <= moment.timestamp() < hi
    except (ValueError, OverflowError):
        return True
