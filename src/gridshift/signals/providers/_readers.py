"""What the ENTSO-E (XML) and WattTime (JSON) answer readers share: ISO-8601 times with a zone,
read into aware UTC datetimes (anything else is a ``SignalDataError`` naming the field) and written
back; and the forecast cut
from a validated series (the points whose step ends after the cut, as ``_json.to_forecast``)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from gridshift.domain import Forecast, Series, SignalDataError


def aware_utc(text: str, what: str, label: str) -> datetime:
    """``text`` (``2023-03-01T00:00Z``, ``2022-07-15T00:00:00+00:00``) as a UTC datetime; a time
    without a zone, or one that is not ISO-8601 or out of range, is refused."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise SignalDataError(
            f"{what} {text[:40]!r} is not an ISO-8601 time", source=label
        ) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise SignalDataError(f"{what} {text[:40]!r} has no zone", source=label)
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):
        raise SignalDataError(f"{what} {text[:40]!r} is out of range", source=label) from None


def utc_iso(moment: datetime) -> str:
    """``moment`` in UTC to the second: ``2023-03-01T12:10:00+00:00``."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def forecast_from(
    series: Series,
    since: np.datetime64,
    *,
    generated: datetime,
    step_s: int,
    model: str,
    empty: str,
    label: str,
) -> Forecast:
    """The points of ``series`` whose step ends after the cut ``since`` (``time + step_s >
    since``) as a ``Forecast`` made at ``generated``; when there are none,
    ``SignalDataError(empty)``.

    Pass the time the forecast is for (its generation time, or now): the step holding it is the
    first kept, and a step that ended at or before it is dropped, as ``_json.to_forecast`` does
    with ``generated_at``. Passing ``now - step_s`` instead would keep the step that ended at
    ``now``."""
    cut = since.astype("datetime64[s]").astype(np.int64)
    keep = series.times.astype("datetime64[s]").astype(np.int64) + int(step_s) > cut
    if not keep.any():
        raise SignalDataError(empty, source=label)
    return Forecast(
        zone=series.zone,
        kind=series.kind,
        unit=series.unit,
        as_of=generated,
        times=series.times[keep],
        values=series.values[keep],
        step_s=step_s,
        model=model,
        generated_at=generated,
    )
