"""The Carbon Intensity API for Great Britain (NESO, formerly National Grid ESO): half-hourly
carbon intensity, national or for one of 17 regions. No key.

Docs: https://carbon-intensity.github.io/api-definitions/ . All times are UTC, written without
seconds (``2018-01-20T12:00Z``); every period is ``{"from", "to", "intensity": {"forecast",
"actual", "index"}}`` and lasts 30 minutes (``step_s = 1800``). Endpoints used:

National (``options.region`` unset), answers ``{"data": [period, ...]}``:

- ``/intensity``: the current half hour;
- ``/intensity/{from}/{to}``: a range of at most 14 days, so longer ranges are asked for in
  14-day windows and merged (each window kept to ``[from, to)``: the API also returns the
  period that ends at ``from``). A range that crosses 1 January returns nothing after
  31 December (a known API bug: carbon-intensity/api-definitions issue 12), so windows are also
  cut at every 1 January 00:00Z, as the ``carbonintensity-api`` client's ``normalise_dates``
  does;
- ``/intensity/{from}/fw48h``: the forecast for the 48 hours from ``from``.

Regional (``options.region`` a region id 1-17; regional periods carry no ``actual``, only
``forecast``, and add a ``generationmix``):

- ``/regional/regionid/{id}``: the current half hour, ``{"data": [{"regionid", "dnoregion",
  "shortname", "data": [period]}]}``;
- ``/regional/intensity/{from}/{to}/regionid/{id}`` and
  ``/regional/intensity/{from}/fw48h/regionid/{id}``: ``{"data": {"regionid", "dnoregion",
  "shortname", "data": [period, ...]}}`` (``data`` an object here, not a list).

History and the latest value prefer ``actual`` (NESO's estimate from metered generation) and fall
back to ``forecast``, marked ``ESTIMATED``; forecasts take ``forecast``. Values are gCO2/kWh.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from gridshift.domain import ConfigError, Forecast, Series, SignalKind
from gridshift.domain.timeutil import require_utc
from gridshift.signals.providers import _json
from gridshift.signals.providers._json import Points
from gridshift.signals.providers.base import Provider, ProviderOptions

NAME = "uk-carbon-intensity"
SOURCE = "uk-carbon-intensity api"
UNIT = "g_per_kwh"
STEP_S = 1800
ZONE = "GB"
TIME_FORMAT = "%Y-%m-%dT%H:%MZ"

REGIONS: dict[int, str] = {
    1: "North Scotland",
    2: "South Scotland",
    3: "North West England",
    4: "North East England",
    5: "Yorkshire",
    6: "North Wales & Merseyside",
    7: "South Wales",
    8: "West Midlands",
    9: "East Midlands",
    10: "East England",
    11: "South West England",
    12: "South England",
    13: "London",
    14: "South East England",
    15: "England",
    16: "Scotland",
    17: "Wales",
}

LATEST = "/intensity"
RANGE = "/intensity/{from}/{to}"
FORECAST = "/intensity/{from}/fw48h"
REGIONAL_LATEST = "/regional/regionid/{id}"
REGIONAL_RANGE = "/regional/intensity/{from}/{to}/regionid/{id}"
REGIONAL_FORECAST = "/regional/intensity/{from}/fw48h/regionid/{id}"


def new_years(start: datetime, end: datetime) -> list[datetime]:
    """Every 1 January 00:00Z after ``start`` and before ``end``: where a range request must end
    (the API answers nothing past 31 December for a range that crosses one)."""
    return [
        moment
        for year in range(start.year + 1, end.year + 1)
        if start < (moment := datetime(year, 1, 1, tzinfo=UTC)) < end
    ]


def label_of(template: str) -> str:
    """How errors name an endpoint: ``uk-carbon-intensity /intensity/{from}/{to}``."""
    return f"{NAME} {template}"


def region_id(options: ProviderOptions) -> int | None:
    """The region id in ``options.region`` (1-17), or None for the national series."""
    if options.region is None:
        return None
    text = str(options.region).strip()
    if text.isascii() and text.isdigit() and int(text) in REGIONS:
        return int(text)
    raise ConfigError(
        "not a Carbon Intensity API region id",
        field="region",
        value=options.region,
        accepted=", ".join(f"{k} {v}" for k, v in REGIONS.items()) + " (or no region: national)",
    )


# --- parsing: pure functions of the body -------------------------------------------------------


def _region_periods(region: Any, where: str, label: str) -> tuple[list[Any], dict[str, Any]]:
    obj = _json.as_object(region, where, label)
    periods = _json.as_list(_json.member(obj, "data", where, label), f"{where}.data", label)
    return periods, obj


def read_periods(body: bytes, label: str) -> tuple[list[Any], dict[str, Any] | None]:
    """The periods of any of the answers above, and the region object where there is one."""
    top = _json.as_object(_json.load(body, label), "the answer", label)
    data = _json.member(top, "data", "the answer", label)
    if isinstance(data, dict):  # /regional/intensity/.../regionid/{id}
        return _region_periods(data, "data", label)
    items = _json.as_list(data, "data", label)
    first = items[0] if items else None
    if isinstance(first, dict) and "data" in first and "intensity" not in first:
        periods, region = _region_periods(first, "data[0]", label)  # /regional/regionid/{id}
        for i, more in enumerate(items[1:], start=1):
            periods = periods + _region_periods(more, f"data[{i}]", label)[0]
        return periods, region
    return items, None


def read_points(periods: list[Any], label: str, *, prefer_actual: bool) -> Points:
    """One point per period at its ``from``: ``actual`` if asked for and present, else
    ``forecast`` (then marked estimated when ``actual`` was preferred)."""
    points = Points()
    for i, period in enumerate(periods):
        where = f"period {i}"
        obj = _json.as_object(period, where, label)
        time = _json.text_time(_json.member(obj, "from", where, label), f"{where}.from", label)
        intensity = _json.as_object(
            _json.member(obj, "intensity", where, label), f"{where}.intensity", label
        )
        actual = intensity.get("actual")
        if prefer_actual and actual is not None:
            points.add(time, actual)
        else:
            forecast = _json.member(intensity, "forecast", f"{where}.intensity", label)
            points.add(time, forecast, estimated=prefer_actual)
    return points


def _region_attrs(region: dict[str, Any] | None) -> dict[str, str]:
    if region is None:
        return {"region": "national"}
    return {
        "region": " ".join(str(region.get(k, "")) for k in ("regionid", "shortname")).strip(),
    }


def series_from(
    points: Points,
    region: dict[str, Any] | None,
    *,
    zone: str,
    kind: SignalKind,
    label: str,
    as_of: datetime | None = None,
) -> Series:
    """Validated points as the provider's ``Series`` (issues in ``attrs["issues"]``)."""
    series, issues = _json.build(
        points, zone=zone, kind=kind, unit=UNIT, label=label, step_s=STEP_S
    )
    return _json.finish(series, issues, source=SOURCE, as_of=as_of, attrs=_region_attrs(region))


def parse_history(
    body: bytes, zone: str, kind: SignalKind, label: str, as_of: datetime | None = None
) -> Series:
    """A range or current-half-hour answer, national or regional (``zone`` is GB)."""
    periods, region = read_periods(body, label)
    points = read_points(periods, label, prefer_actual=True)
    return series_from(points, region, zone=zone, kind=kind, label=label, as_of=as_of)


def parse_forecast(
    body: bytes, zone: str, kind: SignalKind, label: str, generated_at: datetime
) -> Forecast:
    """A ``fw48h`` answer. The API states no generation time: the caller passes the request time
    (floored to the half hour) as ``generated_at``."""
    periods, _ = read_periods(body, label)
    points = read_points(periods, label, prefer_actual=False)
    series, _ = _json.build(points, zone=zone, kind=kind, unit=UNIT, label=label, step_s=STEP_S)
    return _json.to_forecast(
        series,
        generated_at=generated_at,
        model=NAME,
        label=label,
        note="generated_at is the request time: the API does not state one",
    )


# --- the provider ------------------------------------------------------------------------------


class UkCarbonIntensity(Provider):
    """Carbon intensity of Great Britain (zone ``GB``), national or one region (``region``)."""

    name = NAME
    title = "Carbon Intensity API (Great Britain)"
    kinds = frozenset({SignalKind.CARBON})
    env_vars = ()
    option_keys = frozenset({"region"})
    base_url = "https://api.carbonintensity.org.uk"
    docs_url = "https://carbon-intensity.github.io/api-definitions/"
    step_s = STEP_S
    max_range_days = 14

    @classmethod
    def check(cls, zone: str, kind: SignalKind, options: ProviderOptions) -> None:
        """Zone ``GB`` only; ``region`` unset (national) or a region id 1-17."""
        super().check(zone, kind, options)
        if zone != ZONE:
            raise ConfigError(
                "the Carbon Intensity API covers Great Britain only",
                field="zone",
                value=zone,
                accepted=f"{ZONE} (pick a region with 'region': 1-17)",
            )
        region_id(options)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.http.wall(), tz=UTC)

    def _get(self, template: str, **parts: str) -> bytes:
        path = template
        for key, value in parts.items():
            path = path.replace("{" + key + "}", value)
        return self.http.get(path, what=path).body

    def latest(self, zone: str, kind: SignalKind) -> Series:
        """The current half hour; ``as_of`` is the request time."""
        self.check(zone, kind, self.options)
        region = region_id(self.options)
        if region is None:
            template, body = LATEST, self._get(LATEST)
        else:
            template, body = REGIONAL_LATEST, self._get(REGIONAL_LATEST, id=str(region))
        return parse_history(body, zone, kind, label_of(template), as_of=self._now())

    def history(self, zone: str, kind: SignalKind, start: datetime, end: datetime) -> Series:
        """Half hours with ``start <= from < end``, in windows of at most 14 days that never cross
        1 January 00:00Z."""
        self.check(zone, kind, self.options)
        start, end = require_utc(start, "start"), require_utc(end, "end")
        if end <= start:
            raise ConfigError("the end of a history range must be after its start", field="end")
        region = region_id(self.options)
        template = RANGE if region is None else REGIONAL_RANGE
        label = label_of(template)
        points, found = Points(), None
        cuts = new_years(start, end)
        for lo, hi in _json.windows(start, end, self.max_range_days, cuts):
            body = self._get(
                template,
                **{"from": _json.utc_text(lo, TIME_FORMAT), "to": _json.utc_text(hi, TIME_FORMAT)},
                id=str(region),
            )
            periods, found = read_periods(body, label)
            points.extend(read_points(periods, label, prefer_actual=True).within(lo, hi))
        return series_from(points, found, zone=zone, kind=kind, label=label)

    def forecast(self, zone: str, kind: SignalKind) -> Forecast:
        """The next 48 hours from the current half hour.

        The API does not say when its forecast was made, so ``generated_at`` (and ``as_of``) is
        the request time, ``self.http.wall()`` floored to the half hour; the periods that ended
        before it are dropped.
        """
        self.check(zone, kind, self.options)
        region = region_id(self.options)
        generated = _json.floor_time(self._now(), STEP_S)
        start = _json.utc_text(generated, TIME_FORMAT)
        if region is None:
            template, body = FORECAST, self._get(FORECAST, **{"from": start})
        else:
            template = REGIONAL_FORECAST
            body = self._get(REGIONAL_FORECAST, **{"from": start}, id=str(region))
        return parse_forecast(body, zone, kind, label_of(template), generated)
