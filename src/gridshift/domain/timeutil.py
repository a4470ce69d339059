"""Time helpers for the domain: everything inside gridshift is timezone-aware UTC.

Naive times are rejected here, at the boundary of the domain, never guessed. Arrays of times use
``numpy.datetime64[s]`` holding UTC instants (numpy has no zones, so UTC is the convention).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt

from gridshift.domain.errors import ConfigError

__all__ = ["UTC", "as_datetime", "as_np", "require_utc", "to_iso"]

TimeArray = npt.NDArray[np.datetime64]


def require_utc(value: datetime, field: str = "time") -> datetime:
    """Return ``value`` converted to UTC; a naive datetime is an error naming ``field``."""
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ConfigError(
            "time has no zone",
            field=field,
            value=value.isoformat(),
            accepted="ISO-8601 with a zone, e.g. 2026-11-27T09:00:00Z or +01:00",
        )
    return value.astimezone(UTC)


def as_np(value: datetime) -> np.datetime64:
    """A UTC datetime as ``datetime64[s]``."""
    return np.datetime64(int(require_utc(value).timestamp()), "s")


def as_datetime(value: np.datetime64) -> datetime:
    """A ``datetime64`` (UTC by convention) as an aware datetime."""
    seconds = int(value.astype("datetime64[s]").astype(np.int64))
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)


def to_iso(value: datetime | np.datetime64) -> str:
    """ISO-8601 UTC with a ``Z`` suffix, seconds precision."""
    if isinstance(value, np.datetime64):
        value = as_datetime(value)
    return require_utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")
