"""Human forms parsed at the boundary: durations (``90s``, ``15m``, ``6h``, ``2d``) and times.

Times are ISO-8601 with a zone (``2026-11-27T09:00:00Z``, ``...+01:00``); naive times are refused.
A bare date (``2022-03-01``) means that day's 00:00 UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from gridshift.domain import ConfigError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_DURATION_S = 3650 * 86400.0
DURATION_FORMS = "a number with a unit: 90s, 15m, 6h, 2d (or 1w)"
TIME_FORMS = "ISO-8601 with a zone, e.g. 2026-11-27T09:00:00Z or 2026-11-27T10:00:00+01:00"


def parse_duration(value: object, *, field: str, source: str | None = None) -> float:
    """Seconds in a duration such as ``90s``, ``15m``, ``6h``, ``2d``; must be > 0."""
    if isinstance(value, bool):
        seconds = None
    elif isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value.lower())):
        seconds = float(match.group(1)) * _UNIT_S[match.group(2)]
    else:
        seconds = None
    if seconds is not None and seconds != float("inf") and seconds > MAX_DURATION_S:
        raise ConfigError(
            "duration too long",
            source=source,
            field=field,
            value=value,
            accepted="at most 3650d",
        )
    if seconds is None or not seconds > 0 or seconds != seconds or seconds == float("inf"):
        raise ConfigError(
            "not a positive duration" if seconds is not None else "not a duration",
            source=source,
            field=field,
            value=value,
            accepted=DURATION_FORMS,
        )
    return seconds


def parse_nonnegative_duration(value: object, *, field: str, source: str | None = None) -> float:
    """Like ``parse_duration`` but ``0`` (or ``0s``) is allowed."""
    if value in (0, "0", 0.0) or (isinstance(value, str) and value.strip() in ("0s", "0m", "0h")):
        return 0.0
    return parse_duration(value, field=field, source=source)


EARLIEST_YEAR = 1900  # gridshift's times live in 1900-2199, as its signals do
LATEST_YEAR = 2199


def parse_time(value: object, *, field: str, source: str | None = None) -> datetime:
    """An aware UTC datetime from ISO-8601 text with a zone (or a ``datetime``/``date``), in the
    years 1900-2199 (so that a horizon added to it, or a numpy time made of it, cannot overflow)."""
    parsed = _parse_time(value, field=field, source=source)
    if not EARLIEST_YEAR <= parsed.year <= LATEST_YEAR:
        raise ConfigError(
            "time out of range",
            source=source,
            field=field,
            value=value if isinstance(value, str) else parsed.isoformat(),
            accepted=f"a time in the years {EARLIEST_YEAR}-{LATEST_YEAR}",
        )
    return parsed


def _parse_time(value: object, *, field: str, source: str | None = None) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    elif isinstance(value, str) and _DATE.match(value.strip()):
        try:
            day = date.fromisoformat(value.strip())
        except ValueError:
            raise ConfigError(
                "not a calendar date",
                source=source,
                field=field,
                value=value,
                accepted=TIME_FORMS,
            ) from None
        return datetime(day.year, day.month, day.day, tzinfo=UTC)
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ConfigError(
                "not an ISO-8601 time",
                source=source,
                field=field,
                value=value,
                accepted=TIME_FORMS,
            ) from None
    else:
        raise ConfigError(
            "not a time", source=source, field=field, value=value, accepted=TIME_FORMS
        )
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ConfigError(
            "time has no zone (naive times are ambiguous)",
            source=source,
            field=field,
            value=value if isinstance(value, str) else parsed.isoformat(),
            accepted=TIME_FORMS,
        )
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise ConfigError(
            "time out of range",
            source=source,
            field=field,
            value=value,
            accepted=f"a time in the years {EARLIEST_YEAR}-{LATEST_YEAR}",
        ) from None
