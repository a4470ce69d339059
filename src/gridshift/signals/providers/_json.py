"""What the JSON providers share: reading a payload, walking it, and turning its points into a
``Series`` or ``Forecast`` through ``validate.build_series``.

Every function here raises ``SignalDataError`` (one line, naming the endpoint in ``label``) for a
payload it cannot use, never ``KeyError``/``TypeError``/``ValueError``: a provider's answer is
outside data, so a malformed one is the provider's mistake, reported like a bad file.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from gridshift.domain import Forecast, Quality, Series, SignalDataError, SignalKind
from gridshift.domain.signal import unit_conversion
from gridshift.domain.timeutil import as_datetime, as_np, require_utc
from gridshift.signals.providers.base import issues_attr, series_issues
from gridshift.signals.validate import (
    EARLIEST_S,
    LATEST_S,
    Issue,
    RawPoints,
    build_series,
    parse_times,
    parse_values,
)

MAX_FORECAST_STEPS = 10_000  # a forecast grid longer than this is a corrupt payload, not data


def load(body: bytes, label: str) -> Any:
    """The JSON value of ``body``; an empty, undecodable or truncated body is refused."""
    if not body.strip():
        raise SignalDataError("the answer is empty", source=label)
    try:
        return json.loads(body)
    except RecursionError:
        raise SignalDataError("the answer is nested too deeply to be data", source=label) from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        reason = " ".join(str(exc).split())[:120]
        raise SignalDataError(f"the answer is not valid JSON ({reason})", source=label) from None


def describe(value: Any) -> str:
    """A JSON value's type in JSON words, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def as_object(value: Any, what: str, label: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SignalDataError(f"{what} should be an object, not {describe(value)}", source=label)
    return value


def as_list(value: Any, what: str, label: str) -> list[Any]:
    if not isinstance(value, list):
        raise SignalDataError(f"{what} should be a list, not {describe(value)}", source=label)
    return value


def member(obj: Mapping[str, Any], key: str, what: str, label: str) -> Any:
    """``obj[key]``; a missing key is refused, naming ``what`` holds it."""
    if key not in obj:
        raise SignalDataError(f"{what} has no {key!r}", source=label)
    return obj[key]


def text_time(value: Any, what: str, label: str) -> str:
    """A time as the payload wrote it: it must be a string (``validate`` parses it)."""
    if not isinstance(value, str):
        raise SignalDataError(
            f"{what} should be a time string, not {describe(value)}", source=label
        )
    return value


def instant(value: Any, what: str, label: str) -> datetime:
    """An ISO-8601 time with a zone (``2018-11-26T17:25:24.685Z``) as an aware UTC datetime."""
    text = text_time(value, what, label)
    try:
        parsed = datetime.fromisoformat(text.strip())
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            raise ValueError("no zone")
        result = parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise SignalDataError(
            f"{what} is not an ISO-8601 time with a zone: {text[:40]!r}", source=label
        ) from None
    if not EARLIEST_S <= result.timestamp() < LATEST_S:
        raise SignalDataError(f"{what} is outside 1900-2199: {text[:40]!r}", source=label)
    return result


def number_or_text(value: Any) -> float | str | None:
    """A JSON value as ``validate`` reads a cell: numbers as floats, null as missing, anything else
    as text (which ``validate`` reports as non-numeric)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return json.dumps(value)[:40]
    if isinstance(value, str):
        return value
    try:
        return float(value)
    except OverflowError:  # an integer with hundreds of digits
        return math.inf


def utc_text(when: datetime, fmt: str) -> str:
    """``when`` in UTC, formatted for a request (``%Y-%m-%dT%H:%M:%SZ`` and the like)."""
    return require_utc(when, "time").strftime(fmt)


def floor_time(when: datetime, step_s: int) -> datetime:
    seconds = int(require_utc(when, "time").timestamp())
    return datetime.fromtimestamp(seconds - seconds % step_s, tz=UTC)


def windows(
    start: datetime, end: datetime, max_days: int, cuts: Iterable[datetime] = ()
) -> list[tuple[datetime, datetime]]:
    """``[start, end)`` cut into consecutive windows of at most ``max_days`` days; a window also
    ends at each of ``cuts`` inside the range (where an API cannot answer across one), and the
    next starts there."""
    start, end = require_utc(start, "start"), require_utc(end, "end")
    width = timedelta(days=max_days)
    inside = sorted({cut for cut in (require_utc(c, "cut") for c in cuts) if start < cut < end})
    out: list[tuple[datetime, datetime]] = []
    while start < end:
        hi = min(start + width, end, next((cut for cut in inside if cut > start), end))
        out.append((start, hi))
        start = hi
    return out


@dataclass
class Points:
    """Raw points read from payloads: times as written, values as numbers or text."""

    times: list[str] = field(default_factory=list)
    values: list[float | str | None] = field(default_factory=list)
    estimated: list[bool] = field(default_factory=list)

    def add(self, time: str, value: Any, estimated: bool = False) -> None:
        self.times.append(time)
        self.values.append(number_or_text(value))
        self.estimated.append(estimated)

    def extend(self, other: Points) -> None:
        self.times += other.times
        self.values += other.values
        self.estimated += other.estimated

    def within(self, start: datetime, end: datetime) -> Points:
        """The points with ``start <= time < end``; a time that does not parse is kept, so
        validation reports it."""
        try:
            parsed = pd.to_datetime(
                pd.Series(self.times, dtype=object), format="ISO8601", utc=True, errors="coerce"
            )
            ns = parsed.to_numpy(dtype="datetime64[ns]")
        except (ValueError, OverflowError, TypeError):
            return self
        lo = np.datetime64(int(start.timestamp()), "s").astype("datetime64[ns]")
        hi = np.datetime64(int(end.timestamp()), "s").astype("datetime64[ns]")
        keep = np.isnat(ns) | ((ns >= lo) & (ns < hi))
        out = Points()
        for i in np.nonzero(keep)[0]:
            out.times.append(self.times[i])
            out.values.append(self.values[i])
            out.estimated.append(self.estimated[i])
        return out

    def raw(self, unit: str, notes: list[Issue]) -> RawPoints:
        n = len(self.times)
        return RawPoints(
            times=pd.Series(self.times, dtype=object),
            values=pd.Series(self.values, dtype=object),
            rows=np.arange(1, n + 1, dtype=np.int64),
            unit=unit,
            naive_times="reject",
            estimated=np.array(self.estimated, dtype=bool),
            notes=list(notes),
        )


def build(
    points: Points,
    *,
    zone: str,
    kind: SignalKind,
    unit: str,
    label: str,
    step_s: int,
    notes: list[Issue] | None = None,
) -> tuple[Series, list[Issue]]:
    """Validate ``points`` into a ``Series`` (``build_series``); a single point, which
    ``build_series`` cannot give a resolution, gets the provider's ``step_s``."""
    if not points.times:
        raise SignalDataError("the answer holds no data points", source=label)
    raw = points.raw(unit, notes or [])
    try:
        if len(points.times) == 1:
            return _single(raw, zone=zone, kind=kind, label=label, step_s=step_s)
        return build_series(raw, zone=zone, kind=kind, source=label)
    except (ValueError, TypeError, OverflowError) as exc:  # a case validate does not name
        raise SignalDataError(
            f"the data points cannot be used ({' '.join(str(exc).split())[:120]})", source=label
        ) from None


def _single(
    raw: RawPoints, *, zone: str, kind: SignalKind, label: str, step_s: int
) -> tuple[Series, list[Issue]]:
    """One point, held to the rules ``build_series`` applies to many."""
    issues: list[Issue] = list(raw.notes)
    canonical, factor = unit_conversion(raw.unit, kind)
    seconds = parse_times(raw, label)
    value = float(parse_values(raw, issues)[0] * factor)
    if math.isnan(value):
        raise SignalDataError("the only value is not a number", source=label)
    if kind is not SignalKind.PRICE and value < 0:
        raise SignalDataError(f"the only value is negative ({value:g})", source=label)
    if kind is not SignalKind.RENEWABLE and value == 0:
        raise SignalDataError(
            f"the only value is 0: the source returned no real {kind.value} data", source=label
        )
    estimated = bool(raw.estimated is not None and raw.estimated[0])
    if estimated:
        issues.append(
            Issue("estimated", "info", 1, "1 point(s) are estimates according to the source")
        )
    series = Series(
        zone=zone,
        kind=kind,
        unit=canonical,
        times=seconds.astype("datetime64[s]"),
        values=np.array([value]),
        quality=np.array([Quality.ESTIMATED if estimated else Quality.OK], dtype=np.uint8),
        step_s=step_s,
        source=label,
    )
    return series, issues


def finish(
    series: Series,
    issues: list[Issue],
    *,
    source: str,
    as_of: datetime | None = None,
    attrs: Mapping[str, str] | None = None,
) -> Series:
    """The validated series labelled for the library: ``source``, ``as_of`` and ``attrs`` (the
    issues found, as JSON under ``issues``, and whatever the provider adds)."""
    merged = dict(series.attrs)
    merged.update(attrs or {})
    merged.update(issues_attr(issues))
    return dataclasses.replace(series, source=source, as_of=as_of, attrs=merged)


def issues_of(series: Series) -> list[dict[str, Any]]:
    """The issues a provider stored on a series, as dictionaries."""
    return [issue.as_dict() for issue in series_issues(series)]


def to_forecast(
    series: Series, *, generated_at: datetime, model: str, label: str, note: str = ""
) -> Forecast:
    """A provider forecast from its validated points: the points whose step ends after
    ``generated_at``, on a regular grid of the series' step (a missing step is NaN)."""
    step = series.step_s
    as_of = require_utc(generated_at, "generated_at")
    t = series.times.astype(np.int64)
    keep = t + step > int(as_of.timestamp())
    if not keep.any():
        raise SignalDataError(
            f"no forecast point is after its generation time {as_of:%Y-%m-%dT%H:%M:%SZ}",
            source=label,
        )
    t, values = t[keep], series.values[keep]
    offsets = t - t[0]
    on_grid = offsets % step == 0
    n_steps = int(offsets[-1] // step) + 1
    if n_steps > MAX_FORECAST_STEPS or n_steps > 4 * len(t) + 48:
        raise SignalDataError(
            f"forecast times are too irregular to put on a {step} s grid ({len(t)} points "
            f"spread over {n_steps} steps)",
            source=label,
        )
    grid = np.full(n_steps, np.nan)
    grid[offsets[on_grid] // step] = values[on_grid]
    notes = [note] if note else []
    if dropped := int((~on_grid).sum()):
        notes.append(f"{dropped} point(s) off the {step} s grid dropped")
    first = as_datetime(np.datetime64(int(t[0]), "s"))
    return Forecast(
        zone=series.zone,
        kind=series.kind,
        unit=series.unit,
        as_of=as_of,
        times=as_np(first) + np.arange(n_steps, dtype=np.int64) * np.timedelta64(step, "s"),
        values=grid,
        step_s=step,
        model=model,
        generated_at=as_of,
        note="; ".join(notes),
    )
