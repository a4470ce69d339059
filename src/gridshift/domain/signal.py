"""Signals: one zone's time series of one kind (carbon, marginal, price, renewable).

A ``Series`` is immutable: its arrays are read-only, its times strictly increasing UTC instants,
its values in the kind's canonical unit, and every point carries a ``Quality``. Missing values are
NaN with quality ``MISSING``; they are never silently filled here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum, StrEnum

import numpy as np
import numpy.typing as npt

from gridshift.domain.errors import ConfigError
from gridshift.domain.timeutil import as_datetime, as_np

FloatArray = npt.NDArray[np.float64]
TimeArray = npt.NDArray[np.datetime64]
QualityArray = npt.NDArray[np.uint8]


class SignalKind(StrEnum):
    """What a signal measures. ``price`` may be negative; the others may not."""

    CARBON = "carbon"  # average (consumption-based) gCO2eq/kWh
    MARGINAL = "marginal"  # marginal operating emissions rate, gCO2eq/kWh
    PRICE = "price"  # wholesale electricity price, USD/MWh
    RENEWABLE = "renewable"  # share 0..1 of renewable supply, or on-site output in kW

    @classmethod
    def parse(cls, text: str, field: str = "kind") -> SignalKind:
        try:
            return cls(text.strip().lower())
        except ValueError:
            raise ConfigError(
                "unknown signal kind",
                field=field,
                value=text,
                accepted=", ".join(k.value for k in cls),
            ) from None


class Quality(IntEnum):
    """Per-point quality, ordered from best to worst (a bucket takes its worst point's)."""

    OK = 0  # measured
    ESTIMATED = 1  # the source says it estimated the value, or we refined it between points
    STALE = 2  # older than its staleness limit when used
    FALLBACK = 3  # a substitute (model or default) stood in for the real signal
    MISSING = 4  # no value (NaN)


# unit name -> (canonical unit, factor that converts to it)
_UNITS: dict[str, tuple[str, float]] = {
    "g_per_kwh": ("g_per_kwh", 1.0),
    "kg_per_mwh": ("g_per_kwh", 1.0),
    "lb_per_mwh": ("g_per_kwh", 0.45359237),
    "t_per_mwh": ("g_per_kwh", 1000.0),
    "usd_per_mwh": ("usd_per_mwh", 1.0),
    "usd_per_kwh": ("usd_per_mwh", 1000.0),
    "fraction": ("fraction", 1.0),
    "percent": ("fraction", 0.01),
    "kw": ("kw", 1.0),
    "mw": ("kw", 1000.0),
}
_ALIASES: dict[str, str] = {
    "gco2eq/kwh": "g_per_kwh",
    "gco2/kwh": "g_per_kwh",
    "g/kwh": "g_per_kwh",
    "gco2_per_kwh": "g_per_kwh",
    "gco2eq_per_kwh": "g_per_kwh",
    "kg/mwh": "kg_per_mwh",
    "lbs/mwh": "lb_per_mwh",
    "lb/mwh": "lb_per_mwh",
    "lbs_per_mwh": "lb_per_mwh",
    "usd/mwh": "usd_per_mwh",
    "$/mwh": "usd_per_mwh",
    "usd/kwh": "usd_per_kwh",
    "$/kwh": "usd_per_kwh",
    "%": "percent",
    "share": "fraction",
    "ratio": "fraction",
}
_KIND_UNITS: dict[SignalKind, frozenset[str]] = {
    SignalKind.CARBON: frozenset({"g_per_kwh"}),
    SignalKind.MARGINAL: frozenset({"g_per_kwh"}),
    SignalKind.PRICE: frozenset({"usd_per_mwh"}),
    SignalKind.RENEWABLE: frozenset({"fraction", "kw"}),
}
DEFAULT_UNIT: dict[SignalKind, str] = {
    SignalKind.CARBON: "g_per_kwh",
    SignalKind.MARGINAL: "g_per_kwh",
    SignalKind.PRICE: "usd_per_mwh",
    SignalKind.RENEWABLE: "fraction",
}


def unit_conversion(unit: str, kind: SignalKind, field: str = "unit") -> tuple[str, float]:
    """(canonical unit, factor) for a unit given by a user, checked against the signal kind."""
    key = unit.strip().lower().replace(" ", "")
    key = _ALIASES.get(key, key)
    if key not in _UNITS or _UNITS[key][0] not in _KIND_UNITS[kind]:
        accepted = sorted(name for name, (canon, _) in _UNITS.items() if canon in _KIND_UNITS[kind])
        raise ConfigError(
            f"unit not valid for a {kind.value} signal",
            field=field,
            value=unit,
            accepted=", ".join(accepted),
        )
    return _UNITS[key]


_ZONE_RE = re.compile(r"^[A-Z]{2}(-[A-Z0-9]+)*$")

# IANA time zone of each zone we ship or know, for local daily profiles and DST checks.
ZONE_TIMEZONES: dict[str, str] = {
    "AT": "Europe/Vienna",
    "AU-NSW": "Australia/Sydney",
    "AU-VIC": "Australia/Melbourne",
    "BE": "Europe/Brussels",
    "BG": "Europe/Sofia",
    "BR-SP": "America/Sao_Paulo",
    "CA-ON": "America/Toronto",
    "CH": "Europe/Zurich",
    "CL-SIC": "America/Santiago",
    "CZ": "Europe/Prague",
    "DE-LU": "Europe/Berlin",
    "DK-DK1": "Europe/Copenhagen",
    "DK-DK2": "Europe/Copenhagen",
    "EE": "Europe/Tallinn",
    "ES": "Europe/Madrid",
    "FI": "Europe/Helsinki",
    "FR": "Europe/Paris",
    "GB": "Europe/London",
    "GR": "Europe/Athens",
    "HR": "Europe/Zagreb",
    "HU": "Europe/Budapest",
    "IN-WE": "Asia/Kolkata",
    "IT-CALA": "Europe/Rome",
    "IT-CNO": "Europe/Rome",
    "IT-CSO": "Europe/Rome",
    "IT-NO": "Europe/Rome",
    "IT-SAR": "Europe/Rome",
    "IT-SIC": "Europe/Rome",
    "IT-SO": "Europe/Rome",
    "JP-TK": "Asia/Tokyo",
    "KR": "Asia/Seoul",
    "LT": "Europe/Vilnius",
    "LV": "Europe/Riga",
    "NL": "Europe/Amsterdam",
    "NO-NO1": "Europe/Oslo",
    "NO-NO2": "Europe/Oslo",
    "NO-NO3": "Europe/Oslo",
    "NO-NO4": "Europe/Oslo",
    "NO-NO5": "Europe/Oslo",
    "PL": "Europe/Warsaw",
    "PT": "Europe/Lisbon",
    "RO": "Europe/Bucharest",
    "RS": "Europe/Belgrade",
    "SE-SE1": "Europe/Stockholm",
    "SE-SE2": "Europe/Stockholm",
    "SE-SE3": "Europe/Stockholm",
    "SE-SE4": "Europe/Stockholm",
    "SG": "Asia/Singapore",
    "SI": "Europe/Ljubljana",
    "SK": "Europe/Bratislava",
    "US-CAL-CISO": "America/Los_Angeles",
    "US-MIDA-PJM": "America/New_York",
    "US-NY-NYIS": "America/New_York",
    "US-TEX-ERCO": "America/Chicago",
    "ZA": "Africa/Johannesburg",
}


def check_zone(zone: str, field: str = "zone") -> str:
    """A zone id in Electricity Maps form (``DE-LU``, ``GB``, ``US-CAL-CISO``)."""
    if not isinstance(zone, str) or not _ZONE_RE.match(zone):
        raise ConfigError(
            "not a zone id",
            field=field,
            value=zone,
            accepted="an Electricity Maps zone id such as DE-LU, GB, US-CAL-CISO",
        )
    return zone


def zone_timezone(zone: str) -> str:
    """The zone's IANA time zone, or ``UTC`` for a zone we do not know."""
    return ZONE_TIMEZONES.get(zone, "UTC")


def _readonly(array: np.ndarray, dtype: str) -> np.ndarray:
    out = np.array(array, dtype=dtype, copy=True)
    out.setflags(write=False)
    return out


@dataclass(frozen=True, eq=False)
class Series:
    """One zone's signal of one kind: strictly increasing UTC times, values and quality."""

    zone: str
    kind: SignalKind
    unit: str
    times: TimeArray
    values: FloatArray
    quality: QualityArray
    step_s: int
    source: str = ""
    as_of: datetime | None = None  # when the values became known; None for historical actuals
    attrs: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_zone(self.zone)
        times = _readonly(self.times, "datetime64[s]")
        values = _readonly(self.values, "float64")
        quality = _readonly(self.quality, "uint8")
        if not (len(times) == len(values) == len(quality)):
            raise ValueError("times, values and quality must have the same length")
        if len(times) > 1 and not bool(np.all(np.diff(times.astype(np.int64)) > 0)):
            raise ValueError("series times must be strictly increasing")
        if self.step_s <= 0:
            raise ValueError("step_s must be positive")
        if self.unit not in _KIND_UNITS[self.kind]:
            raise ValueError(f"unit {self.unit!r} is not canonical for {self.kind.value}")
        missing = np.isnan(values)
        if bool(np.any(missing != (quality == Quality.MISSING))):
            raise ValueError("values must be NaN exactly where quality is MISSING")
        if len(quality) and int(quality.max()) > max(Quality):
            raise ValueError("unknown quality code")
        object.__setattr__(self, "times", times)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "quality", quality)

    def __len__(self) -> int:
        return len(self.times)

    @property
    def start(self) -> datetime:
        return as_datetime(self.times[0])

    @property
    def end(self) -> datetime:
        """The end of the last point's interval (exclusive)."""
        return as_datetime(self.times[-1] + np.timedelta64(self.step_s, "s"))

    @property
    def valid(self) -> npt.NDArray[np.bool_]:
        return ~np.isnan(self.values)

    def between(self, start: datetime | None = None, end: datetime | None = None) -> Series:
        """The points with ``start <= time < end``."""
        mask = np.ones(len(self.times), dtype=bool)
        if start is not None:
            mask &= self.times >= as_np(start)
        if end is not None:
            mask &= self.times < as_np(end)
        return self.with_points(self.times[mask], self.values[mask], self.quality[mask])

    def with_points(
        self, times: TimeArray, values: FloatArray, quality: QualityArray, step_s: int | None = None
    ) -> Series:
        """A copy with other points (same zone, kind, unit and source)."""
        return Series(
            zone=self.zone,
            kind=self.kind,
            unit=self.unit,
            times=times,
            values=values,
            quality=quality,
            step_s=step_s or self.step_s,
            source=self.source,
            as_of=self.as_of,
            attrs=dict(self.attrs),
        )
