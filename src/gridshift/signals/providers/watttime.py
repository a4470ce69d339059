"""WattTime API v3: the marginal operating emissions rate (MOER), live, as history and forecast.

Docs: https://docs.watttime.org/ (OpenAPI: https://docs.watttime.org/openapi.json). Endpoints used:

- ``GET /login`` with HTTP basic auth -> ``{"token": "..."}``. The token is valid for 30 minutes;
  it is kept, renewed a minute before then, and renewed once more when a data call answers 401
  ("If a data call returns HTTP 401 error code, you will need to call /login again").
- ``GET /v3/region-from-loc?latitude=&longitude=&signal_type=co2_moer`` ->
  ``{"region": "ISONE_WCMA", "region_full_name": "...", "signal_type": "co2_moer"}``; used when the
  signal's ``extra`` gives ``latitude``/``longitude`` and no ``region``.
- ``GET /v3/historical?region=&start=&end=&signal_type=co2_moer&include_imputed_marker=true`` ->
  ``{"data": [{"point_time": "2022-07-15T00:00:00+00:00", "value": 870, "imputed_data_used":
  true, ...}], "meta": {"data_point_period_seconds": 300, "units": "lbs_co2_per_mwh", "model":
  {"date": "2023-03-01", ...}, ...}}``. ``start`` and ``end`` are both inclusive and need a zone;
  "each query is limited to 32 days of data", so longer ranges are split (answers from different
  ``meta.model.date`` are merged with an info issue, ``model_version``). ``imputed_data_used`` is
  only in the answer when ``include_imputed_marker=true`` is asked for, so it always is; points
  with it are marked estimated. ``latest()`` asks for whole 5-minute steps, so calls within one
  step share a cached answer.
- ``GET /v3/forecast?region=&signal_type=co2_moer&horizon_hours=`` -> ``{"data": [{"point_time",
  "value"}], "meta": {"generated_at": ..., "data_point_period_seconds": 300, "units": ...}}``; the
  forecast keeps the native step and the provider's ``generated_at``.
- ``GET /v3/signal-index?region=&signal_type=co2_moer`` -> the newest ``data`` point, a 0-100
  percentile of the MOER (``signal_index``); it is a rank, not an emissions rate.

Every call sends ``Authorization: Bearer <token>``. MOER values in lbs CO2/MWh become g/kWh
(x 0.45359237). Bodies are parsed by the pure functions of ``watttime_json`` (``parse_*``), which
return a ``Series``, a ``Forecast`` or a value, or raise ``SignalDataError``: nothing else escapes
them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from gridshift.domain import (
    ConfigError,
    Forecast,
    ProviderAuthError,
    Series,
    SignalDataError,
    SignalKind,
)
from gridshift.domain.timeutil import require_utc
from gridshift.signals.providers._readers import utc_iso
from gridshift.signals.providers.base import Provider, ProviderOptions
from gridshift.signals.providers.http import Answer, ProviderHttp
from gridshift.signals.providers.watttime_json import (
    NAME,
    REGION_RE,
    SIGNAL_TYPE,
    UNITS,
    DataPoints,
    merge_points,
    parse_forecast,
    parse_login,
    parse_region,
    parse_signal_index,
    read_points,
    to_series,
)

TOKEN_TTL_S = 30 * 60  # documented lifetime of a /login token
TOKEN_MARGIN_S = 60  # renew this long before it runs out
MAX_QUERY_DAYS = 32  # documented limit of one /v3/historical query
DEFAULT_HORIZON_HOURS = 24
MAX_HORIZON_HOURS = 72
LIVE_CACHE_TTL_S = 60.0  # forecast, index and latest answers are reused this long at most

# No zone has a default region: WattTime splits balancing authorities into sub-regions (CAISO
# into CAISO_NORTH, CAISO_ESCONDIDO, ...), so a zone does not say which one; a source gives
# ``region`` or ``extra.latitude``/``extra.longitude`` (looked up with /v3/region-from-loc).
REGION_FIX = "region: CAISO_NORTH (a WattTime region, see /v3/my-access), or latitude/longitude"


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


class WattTime(Provider):
    """WattTime's marginal (MOER) signal; see the module docstring for the endpoints."""

    name: ClassVar[str] = NAME
    title: ClassVar[str] = "WattTime marginal emissions (API v3)"
    kinds: ClassVar[frozenset[SignalKind]] = frozenset({SignalKind.MARGINAL})
    env_vars: ClassVar[tuple[str, ...]] = ("WATTTIME_USERNAME", "WATTTIME_PASSWORD")
    option_keys: ClassVar[frozenset[str]] = frozenset({"region", "latitude", "longitude"})
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
        if options.region is not None and not REGION_RE.match(options.region):
            raise ConfigError(
                "not a WattTime region name",
                field="region",
                value=options.region,
                accepted="a region such as CAISO_NORTH (see /v3/my-access)",
            )
        lat = _extra_float(options, "latitude", -90.0, 90.0)
        lon = _extra_float(options, "longitude", -180.0, 180.0)
        _horizon_hours(options)
        if options.region or (lat is not None and lon is not None):
            return
        raise ConfigError(
            f"WattTime needs a region for zone {zone}: it splits grids into sub-regions, so a "
            "zone does not say which",
            field="region",
            accepted=REGION_FIX,
            hint=f"set {REGION_FIX}",
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
        """The WattTime region: ``region``, else looked up from latitude/longitude."""
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
        self.check(zone, SignalKind.MARGINAL, self.options)  # raises the ConfigError
        raise AssertionError("unreachable")  # pragma: no cover

    # -- data

    def _raw_range(
        self, region: str, start: datetime, end: datetime, cache_ttl_s: float | None = None
    ) -> DataPoints:
        """Every point with ``start <= point_time < end``, in requests of at most 32 days, each
        asking for the imputed-data marker."""
        what = "watttime /v3/historical"
        merged = DataPoints([], [], [], UNITS["lbs_co2_per_mwh"], None, {})
        cursor = start
        while cursor < end:
            chunk_end = min(end, cursor + timedelta(days=self.max_range_days))
            params = {
                "region": region,
                "start": utc_iso(cursor),
                "end": utc_iso(chunk_end - timedelta(seconds=1)),  # ``end`` is inclusive
                "signal_type": SIGNAL_TYPE,
                "include_imputed_marker": "true",  # else no point says imputed_data_used
            }
            answer = self._get("/v3/historical", params, what, cache_ttl_s=cache_ttl_s)
            points = read_points(answer.body, what)
            merged = merge_points(merged, points, cursor, chunk_end, what)
            cursor = chunk_end
        return merged

    def history(self, zone: str, kind: SignalKind, start: datetime, end: datetime) -> Series:
        return self._history(zone, kind, start, end)

    def _history(
        self,
        zone: str,
        kind: SignalKind,
        start: datetime,
        end: datetime,
        cache_ttl_s: float | None = None,
    ) -> Series:
        self.check(zone, kind, self.options)
        start, end = require_utc(start, "start"), require_utc(end, "end")
        if end <= start:
            raise ConfigError("end must be after start", field="end", value=end.isoformat())
        label = "watttime /v3/historical"
        points = self._raw_range(self.region(zone), start, end, cache_ttl_s)
        if not points.times:
            raise SignalDataError(
                f"no MOER data from {utc_iso(start)} to {utc_iso(end)}", source=label
            )
        return to_series(points, zone, kind, label)

    def latest(self, zone: str, kind: SignalKind) -> Series:
        """The recent hours (the staleness limit, at least one), in whole 5-minute steps: from
        the step holding ``now - window`` to the end of the step holding now, so every call within
        one step asks the same and shares a cached answer (for ``LIVE_CACHE_TTL_S`` at most)."""
        step = self.step_s
        now = int(self.http.wall())
        window = max(self.options.staleness_s, 3600)
        start = datetime.fromtimestamp((now - window) // step * step, UTC)
        end = datetime.fromtimestamp(now // step * step + step, UTC)
        return self._history(zone, kind, start, end, cache_ttl_s=LIVE_CACHE_TTL_S)

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
