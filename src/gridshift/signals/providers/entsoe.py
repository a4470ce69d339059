"""ENTSO-E Transparency Platform: day-ahead electricity prices (article 12.1.D), live.

Docs: https://transparency.entsoe.eu/content/static_content/Static%20content/web%20api/Guide.html
(and the platform's knowledge base, https://transparencyplatform.zendesk.com). One endpoint:

``GET https://web-api.tp.entsoe.eu/api?documentType=A44&in_Domain=<EIC>&out_Domain=<EIC>
&periodStart=yyyyMMddHHmm&periodEnd=yyyyMMddHHmm&securityToken=<token>`` (times in UTC; the
answer holds whole delivery days in the zone's own time; "one year range limit applies", so longer
ranges are split). Starts are floored and ends ceiled to the hour (``yyyyMMddHH00``, as entsoe-py
sends them), so repeated live calls ask the same thing and share cache entries; the points outside
the range asked for are dropped. The token is a query parameter; it never enters a cache key or a
message.

No data for a year is an acknowledgement with reason 999 "No matching data found", with HTTP 200
or 400: in a range of several years it is tolerated when another year has prices (and raised when
none has); any other acknowledgement is an error.

Zones map to bidding zones' EIC codes (``ZONE_EIC``, from entsoe-py's ``mappings.Area``), or
``region:`` gives the EIC code. ``DE`` and ``LU`` are not aliases of DE-LU: entsoe-py maps them to
the former DE-AT-LU zone and to country/control areas, not to the DE-LU bidding zone. The answers
are read by ``entsoe_xml``: the ``Publication_MarketDocument`` (only the SDAC day-ahead auction,
classificationSequence 1, where a zone also publishes EXAA's) and the acknowledgement that stands
for no data (its reason also explains an HTTP 400); ``entsoe_prices`` makes the prices read a
series in USD/MWh (EUR at ``extra.eur_usd`` or else ``DEFAULT_EUR_USD`` = 1.08 USD per EUR). A
document's ``createdDateTime`` is when ENTSO-E built the answer (about the download time), not
when the prices were published.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import ClassVar

from gridshift.domain import (
    ConfigError,
    Forecast,
    GridshiftError,
    ProviderRequestError,
    Series,
    SignalDataError,
    SignalKind,
)
from gridshift.domain.timeutil import require_utc
from gridshift.signals.providers.base import Provider, ProviderOptions
from gridshift.signals.providers.entsoe_prices import (
    NAME,
    Prices,
    default_rates,
    no_prices_error,
    to_forecast,
    to_series,
)
from gridshift.signals.providers.entsoe_xml import (
    LABEL,
    AcknowledgementError,
    acknowledgement_text,
    is_no_data,
    read_document,
)
from gridshift.signals.providers.http import ProviderHttp

DOCUMENT_TYPE = "A44"  # Price document
MAX_QUERY_DAYS = 365  # "one year range limit applies"
LIVE_CACHE_TTL_S = 300.0

# Electricity Maps zone -> bidding zone EIC code (ENTSO-E's area codes; entsoe-py's mappings).
ZONE_EIC: dict[str, str] = {
    "AT": "10YAT-APG------L",
    "BE": "10YBE----------2",
    "BG": "10YCA-BULGARIA-R",
    "CH": "10YCH-SWISSGRIDZ",
    "CZ": "10YCZ-CEPS-----N",
    "DE-LU": "10Y1001A1001A82H",
    "DK-DK1": "10YDK-1--------W",
    "DK-DK2": "10YDK-2--------M",
    "EE": "10Y1001A1001A39I",
    "ES": "10YES-REE------0",
    "FI": "10YFI-1--------U",
    "FR": "10YFR-RTE------C",
    "GR": "10YGR-HTSO-----Y",
    "HR": "10YHR-HEP------M",
    "HU": "10YHU-MAVIR----U",
    "IT-CALA": "10Y1001C--00096J",
    "IT-CNO": "10Y1001A1001A70O",
    "IT-CSO": "10Y1001A1001A71M",
    "IT-NO": "10Y1001A1001A73I",
    "IT-SAR": "10Y1001A1001A74G",
    "IT-SIC": "10Y1001A1001A75E",
    "IT-SO": "10Y1001A1001A788",
    "LT": "10YLT-1001A0008Q",
    "LV": "10YLV-1001A00074",
    "NL": "10YNL----------L",
    "NO-NO1": "10YNO-1--------2",
    "NO-NO2": "10YNO-2--------T",
    "NO-NO3": "10YNO-3--------J",
    "NO-NO4": "10YNO-4--------9",
    "NO-NO5": "10Y1001A1001A48H",
    "PL": "10YPL-AREA-----S",
    "PT": "10YPT-REN------W",
    "RO": "10YRO-TEL------P",
    "RS": "10YCS-SERBIATSOV",
    "SE-SE1": "10Y1001A1001A44P",
    "SE-SE2": "10Y1001A1001A45N",
    "SE-SE3": "10Y1001A1001A46L",
    "SE-SE4": "10Y1001A1001A47J",
    "SI": "10YSI-ELES-----O",
    "SK": "10YSK-SEPS-----K",
}

_EIC_RE = re.compile(r"^[0-9]{2}[A-Z0-9-]{13}[A-Z0-9-]$")


def _stamp(moment: datetime, *, up: bool = False) -> str:
    """``moment`` in UTC as ``yyyyMMddHH00``: floored to the hour, or with ``up`` ceiled."""
    utc = moment.astimezone(UTC)
    hour = utc.replace(minute=0, second=0, microsecond=0)
    if up and hour < utc:
        hour += timedelta(hours=1)
    return hour.strftime("%Y%m%d%H00")


def _eic(zone: str, options: ProviderOptions) -> str:
    if options.region:
        return options.region
    if zone in ZONE_EIC:
        return ZONE_EIC[zone]
    raise ConfigError(
        "no ENTSO-E bidding zone known for this zone",
        field="zone",
        value=zone,
        accepted=", ".join(sorted(ZONE_EIC)),
        hint=f"accepted: {', '.join(sorted(ZONE_EIC))}; otherwise set region: to the bidding "
        "zone's EIC code (e.g. 10Y1001A1001A82H for DE-LU)",
    )


class Entsoe(Provider):
    """ENTSO-E day-ahead prices; see the module docstring for the endpoint, ``entsoe_xml``'s for
    the document and ``entsoe_prices``' for the series built from it."""

    name: ClassVar[str] = NAME
    title: ClassVar[str] = "ENTSO-E Transparency Platform day-ahead prices"
    kinds: ClassVar[frozenset[SignalKind]] = frozenset({SignalKind.PRICE})
    env_vars: ClassVar[tuple[str, ...]] = ("ENTSOE_SECURITY_TOKEN",)
    option_keys: ClassVar[frozenset[str]] = frozenset({"region", "eur_usd"})
    base_url: ClassVar[str] = "https://web-api.tp.entsoe.eu/api"
    docs_url: ClassVar[str] = (
        "https://transparency.entsoe.eu/content/static_content/Static%20content/web%20api/"
        "Guide.html"
    )
    step_s: ClassVar[int] = 3600
    max_range_days: ClassVar[int] = MAX_QUERY_DAYS

    def __init__(
        self, http: ProviderHttp, credentials: Mapping[str, str], options: ProviderOptions
    ) -> None:
        super().__init__(http, credentials, options)
        http.error_text = acknowledgement_text

    @classmethod
    def check(cls, zone: str, kind: SignalKind, options: ProviderOptions) -> None:
        super().check(zone, kind, options)
        if options.region is not None and not _EIC_RE.match(options.region):
            raise ConfigError(
                "not an EIC code",
                field="region",
                value=options.region,
                accepted="a 16-character EIC area code such as 10YFR-RTE------C",
            )
        _eic(zone, options)
        default_rates(options.extra)

    def _fetch(self, eic: str, start: datetime, end: datetime, ttl: float | None) -> bytes:
        """The answer for the whole hours around ``start``..``end``."""
        first, last = _stamp(start), _stamp(end, up=True)
        params = {
            "documentType": DOCUMENT_TYPE,
            "in_Domain": eic,
            "out_Domain": eic,
            "periodStart": first,
            "periodEnd": last,
            "securityToken": self.credentials["ENTSOE_SECURITY_TOKEN"],
        }
        what = f"entsoe A44 {eic} {first}-{last}"
        return self.http.get(self.http.base_url, params, cache_ttl_s=ttl, what=what).body

    def _raw(self, zone: str, start: datetime, end: datetime, ttl: float | None = None) -> Prices:
        """The prices with ``start <= time < end``, one request per year at most."""
        self.check(zone, SignalKind.PRICE, self.options)
        eic, rates = _eic(zone, self.options), default_rates(self.options.extra)
        merged, cursor = Prices(), start
        no_data: GridshiftError | None = None  # the first "no matching data" answer
        while cursor < end:
            chunk_end = min(end, cursor + timedelta(days=self.max_range_days))
            part = Prices()
            try:
                read_document(self._fetch(eic, cursor, chunk_end, ttl), LABEL, rates, part)
            except (AcknowledgementError, ProviderRequestError) as exc:
                if not is_no_data(exc):  # another refusal (HTTP 200 or 400): not a quiet year
                    raise
                no_data = no_data or exc  # a year without data; others may have some
            merged.extend(part, int(cursor.timestamp()), int(chunk_end.timestamp()))
            cursor = chunk_end
        if no_data is not None and not merged.times and not merged.other_only:
            raise no_data
        return merged

    def history(self, zone: str, kind: SignalKind, start: datetime, end: datetime) -> Series:
        self.check(zone, kind, self.options)
        start, end = require_utc(start, "start"), require_utc(end, "end")
        if end <= start:
            raise ConfigError("end must be after start", field="end", value=end.isoformat())
        raw = self._raw(zone, start, end)
        if not raw.times:
            raise no_prices_error(
                raw,
                f"no day-ahead prices from {start:%Y-%m-%dT%H:%MZ} to {end:%Y-%m-%dT%H:%MZ}",
                LABEL,
            )
        return to_series(raw, zone, kind, LABEL)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.http.wall(), UTC)

    def latest(self, zone: str, kind: SignalKind) -> Series:
        """The last day of prices up to the one in force now."""
        self.check(zone, kind, self.options)
        now = self._now()
        raw = self._raw(zone, now - timedelta(days=1), now + timedelta(hours=1), LIVE_CACHE_TTL_S)
        series = to_series(raw, zone, kind, LABEL).between(None, now + timedelta(seconds=1))
        if not len(series):
            raise SignalDataError("no price in force now", source=LABEL)
        return series

    def forecast(self, zone: str, kind: SignalKind) -> Forecast:
        """Published day-ahead prices from now to the end of what is published."""
        self.check(zone, kind, self.options)
        now = self._now()
        day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        raw = self._raw(zone, day, day + timedelta(days=2), LIVE_CACHE_TTL_S)
        return to_forecast(raw, zone, kind, now, LABEL)
