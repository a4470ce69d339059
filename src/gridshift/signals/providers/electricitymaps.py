"""Electricity Maps API v3: live and recorded carbon intensity of any Electricity Maps zone.

Docs: https://static.electricitymaps.com/api/docs/index.html and the newer reference at
https://portal.electricitymaps.com/developer-hub/api/reference. Every request carries the token
in the ``auth-token`` header (``ELECTRICITYMAPS_API_TOKEN``). Endpoints used, all ``GET`` with
``zone=<zone id>&shouldUseFallbackCallerLookup=false``. The docs: "If no zone is detected (or we
don't have data for that area), the API will attempt to use your current location based on IP of
the caller" unless that parameter is ``false``; so it is always sent, and an answer whose own
``zone`` (top level or any point) is not the zone asked for is a ``SignalDataError``, never
stored under the zone asked for.

- ``/carbon-intensity/latest``: one point::

      {"zone": "DE", "carbonIntensity": 302, "datetime": "2018-04-25T18:07:00.350Z",
       "updatedAt": "...", "createdAt": "...", "emissionFactorType": "lifecycle",
       "isEstimated": true, "estimationMethod": "TIME_SLICER_AVERAGE"}

- ``/carbon-intensity/history``: the last 24 hours, ``{"zone": "DE", "history": [point, ...]}``
  (free personal tokens have it); used when the whole range asked for is in the last 24 hours.
- ``/carbon-intensity/past-range?start=&end=``: ``{"zone": "DE", "data": [point, ...]}``; the
  range is limited to 10 days (240 hours) at hourly granularity, so longer ranges are asked for
  in 10-day windows and merged (each window's points are kept to ``[start, end)``).
- ``/carbon-intensity/forecast``: ``{"zone": "DK-DK2", "forecast": [{"carbonIntensity": 326,
  "datetime": "2018-11-26T17:00:00.000Z"}, ...], "updatedAt": "2018-11-26T17:25:24.685Z"}``;
  ``updatedAt`` is the forecast's generation time (``as_of`` and ``generated_at``).

Points with ``isEstimated: true`` are marked ``ESTIMATED``. ``extra["emission_factor"]``
(``lifecycle`` or ``direct``) is sent as the documented ``emissionFactorType`` parameter; without
it the API answers with its default, ``lifecycle``. Values are gCO2eq/kWh (``g_per_kwh``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from gridshift.domain import ConfigError, Forecast, Series, SignalDataError, SignalKind
from gridshift.domain.signal import check_zone
from gridshift.domain.timeutil import require_utc
from gridshift.signals.providers import _json
from gridshift.signals.providers._json import Points
from gridshift.signals.providers.base import Provider, ProviderOptions
from gridshift.signals.validate import Issue

NAME = "electricitymaps"
SOURCE = "electricitymaps api"
UNIT = "g_per_kwh"
STEP_S = 3600
TOKEN = "ELECTRICITYMAPS_API_TOKEN"
EMISSION_FACTORS = ("lifecycle", "direct")
HISTORY_SPAN = timedelta(hours=24)  # what /carbon-intensity/history covers
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

LATEST = "carbon-intensity/latest"
HISTORY = "carbon-intensity/history"
PAST_RANGE = "carbon-intensity/past-range"
FORECAST = "carbon-intensity/forecast"


def label_of(path: str) -> str:
    """How errors name an endpoint: ``electricitymaps carbon-intensity/past-range``."""
    return f"{NAME} {path}"


def emission_factor(options: ProviderOptions) -> str | None:
    """The ``emissionFactorType`` asked for in ``extra["emission_factor"]``, checked."""
    value = options.extra.get("emission_factor")
    if value is None:
        return None
    if value not in EMISSION_FACTORS:
        raise ConfigError(
            "unknown Electricity Maps emission factor type",
            field="emission_factor",
            value=value,
            accepted=", ".join(EMISSION_FACTORS),
        )
    return value


# --- parsing: pure functions of the body -------------------------------------------------------


def _point(item: Any, where: str, label: str, points: Points) -> dict[str, Any]:
    obj = _json.as_object(item, where, label)
    time = _json.text_time(_json.member(obj, "datetime", where, label), f"{where}.datetime", label)
    points.add(
        time, _json.member(obj, "carbonIntensity", where, label), obj.get("isEstimated") is True
    )
    return obj


def answered_zone(top: dict[str, Any], items: list[Any], key: str, zone: str, label: str) -> None:
    """Refuse an answer for another zone: its top-level ``zone``, or that of any point object in
    ``items`` (``top[key]``), present and not ``zone``. Unless told
    ``shouldUseFallbackCallerLookup=false``, the API answers for the caller's location when it
    has no data for the zone asked for."""
    found = [("the answer", top)] + [
        (f"{key}[{i}]", item) for i, item in enumerate(items) if isinstance(item, dict)
    ]
    for where, obj in found:
        if "zone" in obj and obj["zone"] != zone:
            said = obj["zone"]
            shown = repr(said[:40]) if isinstance(said, str) else _json.describe(said)
            raise SignalDataError(
                f"{where} is for zone {shown}, not {zone}: refused rather than stored as {zone}",
                source=label,
            )


def _notes(items: list[dict[str, Any]], wanted_factor: str | None) -> list[Issue]:
    """A warning where the emission factor type of the points is not the one asked for."""
    notes: list[Issue] = []
    factors = {str(obj["emissionFactorType"]) for obj in items if "emissionFactorType" in obj}
    if wanted_factor is not None and factors and factors != {wanted_factor}:
        notes.append(
            Issue(
                "emission_factor",
                "warning",
                len(items),
                f"asked for {wanted_factor} emission factors, the answer says "
                f"{', '.join(sorted(factors)[:3])}",
            )
        )
    return notes


def _factor_attrs(items: list[dict[str, Any]]) -> dict[str, str]:
    factors = sorted(
        {str(obj["emissionFactorType"]) for obj in items if "emissionFactorType" in obj}
    )
    return {"emission_factor_type": ", ".join(factors)} if factors else {}


def read_points(
    body: bytes, label: str, zone: str
) -> tuple[Points, list[dict[str, Any]], dict[str, Any]]:
    """The points of a ``history`` or ``past-range`` answer for ``zone``, the point objects and
    the top object. ``history`` answers hold the list under ``history``, ``past-range`` under
    ``data``; an answer for another zone is refused (``answered_zone``)."""
    top = _json.as_object(_json.load(body, label), "the answer", label)
    key = "history" if "history" in top else "data"
    items = _json.as_list(_json.member(top, key, "the answer", label), key, label)
    answered_zone(top, items, key, zone, label)
    points = Points()
    objects = [_point(item, f"{key}[{i}]", label, points) for i, item in enumerate(items)]
    return points, objects, top


def series_from(
    points: Points,
    objects: list[dict[str, Any]],
    top: dict[str, Any],
    *,
    zone: str,
    kind: SignalKind,
    label: str,
    emission_factor: str | None = None,
    as_of: datetime | None = None,
) -> Series:
    """Validated points as the provider's ``Series`` (issues in ``attrs["issues"]``); the
    points' objects and ``top`` must be for ``zone`` (``answered_zone``)."""
    answered_zone(top, objects, "point", zone, label)
    notes = _notes(objects, emission_factor)
    series, issues = _json.build(
        points, zone=zone, kind=kind, unit=UNIT, label=label, step_s=STEP_S, notes=notes
    )
    return _json.finish(series, issues, source=SOURCE, as_of=as_of, attrs=_factor_attrs(objects))


def parse_history(
    body: bytes, zone: str, kind: SignalKind, label: str, emission_factor: str | None = None
) -> Series:
    """A ``/carbon-intensity/history`` or ``/carbon-intensity/past-range`` answer."""
    points, objects, top = read_points(body, label, zone)
    return series_from(
        points, objects, top, zone=zone, kind=kind, label=label, emission_factor=emission_factor
    )


def parse_latest(
    body: bytes, zone: str, kind: SignalKind, label: str, emission_factor: str | None = None
) -> Series:
    """A ``/carbon-intensity/latest`` answer: one point; ``as_of`` is its ``updatedAt``."""
    top = _json.as_object(_json.load(body, label), "the answer", label)
    answered_zone(top, [], "point", zone, label)
    points = Points()
    _point(top, "the answer", label, points)
    updated = top.get("updatedAt")
    as_of = None if updated is None else _json.instant(updated, "updatedAt", label)
    return series_from(
        points,
        [top],
        top,
        zone=zone,
        kind=kind,
        label=label,
        emission_factor=emission_factor,
        as_of=as_of,
    )


def parse_forecast(body: bytes, zone: str, kind: SignalKind, label: str) -> Forecast:
    """A ``/carbon-intensity/forecast`` answer; ``updatedAt`` is when it was generated."""
    top = _json.as_object(_json.load(body, label), "the answer", label)
    items = _json.as_list(_json.member(top, "forecast", "the answer", label), "forecast", label)
    answered_zone(top, items, "forecast", zone, label)
    generated = _json.instant(
        _json.member(top, "updatedAt", "the answer", label), "updatedAt", label
    )
    points = Points()
    for i, item in enumerate(items):
        _point(item, f"forecast[{i}]", label, points)
    series, _ = _json.build(points, zone=zone, kind=kind, unit=UNIT, label=label, step_s=STEP_S)
    return _json.to_forecast(series, generated_at=generated, model=NAME, label=label)


# --- the provider ------------------------------------------------------------------------------


class ElectricityMaps(Provider):
    """Carbon intensity (gCO2eq/kWh) from the Electricity Maps API, any zone id it serves."""

    name = NAME
    title = "Electricity Maps"
    kinds = frozenset({SignalKind.CARBON})
    env_vars = (TOKEN,)
    option_keys = frozenset({"emission_factor"})
    base_url = "https://api.electricitymap.org/v3"
    docs_url = "https://static.electricitymaps.com/api/docs/index.html"
    step_s = STEP_S
    max_range_days = 10  # past-range: 10 days (240 hours) at hourly granularity

    @classmethod
    def check(cls, zone: str, kind: SignalKind, options: ProviderOptions) -> None:
        """Any well-formed zone id (the API says which it serves); carbon only; no region;
        ``extra["emission_factor"]`` one of ``lifecycle``, ``direct``."""
        super().check(zone, kind, options)
        check_zone(zone)
        if options.region is not None:
            raise ConfigError(
                "Electricity Maps has no regions: the zone id names the area",
                field="region",
                value=options.region,
                hint="remove 'region' and set 'zone' to the Electricity Maps zone id",
            )
        emission_factor(options)

    def _params(self, zone: str, **more: str) -> dict[str, str]:
        """The query of every request: the zone, with the caller-location fallback turned off."""
        params = {"zone": zone, "shouldUseFallbackCallerLookup": "false", **more}
        factor = emission_factor(self.options)
        if factor is not None:
            params["emissionFactorType"] = factor
        return params

    def _get(self, path: str, params: dict[str, str], what: str) -> bytes:
        answer = self.http.get(
            path, params, headers={"auth-token": self.credentials.get(TOKEN, "")}, what=what
        )
        return answer.body

    def latest(self, zone: str, kind: SignalKind) -> Series:
        self.check(zone, kind, self.options)
        body = self._get(LATEST, self._params(zone), f"{LATEST} {zone}")
        return parse_latest(body, zone, kind, label_of(LATEST), emission_factor(self.options))

    def history(self, zone: str, kind: SignalKind, start: datetime, end: datetime) -> Series:
        """``/history`` when all of ``[start, end)`` is in the last 24 hours, else
        ``/past-range`` in windows of at most 10 days."""
        self.check(zone, kind, self.options)
        start, end = require_utc(start, "start"), require_utc(end, "end")
        if end <= start:
            raise ConfigError("the end of a history range must be after its start", field="end")
        now = datetime.fromtimestamp(self.http.wall(), tz=UTC)
        if start >= now - HISTORY_SPAN:
            body = self._get(HISTORY, self._params(zone), f"{HISTORY} {zone}")
            points, objects, top = read_points(body, label_of(HISTORY), zone)
            return self._series(points.within(start, end), objects, top, zone, kind, HISTORY)
        points, objects, top = Points(), [], {}
        for lo, hi in _json.windows(start, end, self.max_range_days):
            span = f"{_json.utc_text(lo, TIME_FORMAT)}/{_json.utc_text(hi, TIME_FORMAT)}"
            params = self._params(
                zone, start=_json.utc_text(lo, TIME_FORMAT), end=_json.utc_text(hi, TIME_FORMAT)
            )
            body = self._get(PAST_RANGE, params, f"{PAST_RANGE} {zone} {span}")
            got, got_objects, top = read_points(body, label_of(PAST_RANGE), zone)
            points.extend(got.within(lo, hi))
            objects += got_objects
        return self._series(points, objects, top, zone, kind, PAST_RANGE)

    def _series(
        self,
        points: Points,
        objects: list[dict[str, Any]],
        top: dict[str, Any],
        zone: str,
        kind: SignalKind,
        path: str,
    ) -> Series:
        return series_from(
            points,
            objects,
            top,
            zone=zone,
            kind=kind,
            label=label_of(path),
            emission_factor=emission_factor(self.options),
        )

    def forecast(self, zone: str, kind: SignalKind) -> Forecast:
        self.check(zone, kind, self.options)
        body = self._get(FORECAST, self._params(zone), f"{FORECAST} {zone}")
        return parse_forecast(body, zone, kind, label_of(FORECAST))
