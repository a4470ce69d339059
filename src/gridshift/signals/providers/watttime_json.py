"""WattTime API v3 answers read: pure functions from a JSON body to a ``Series``, a ``Forecast``
or a value; ``watttime`` makes the calls (its docstring shows each endpoint's payload).

The ``parse_*`` functions return their result or raise ``SignalDataError``: nothing else escapes
them. MOER values in lbs CO2/MWh (``meta.units`` ``lbs_co2_per_mwh``) become g/kWh
(x 0.45359237); points with ``imputed_data_used`` (in answers asked for with
``include_imputed_marker=true``) are marked estimated; answers merged from several
``meta.model.date`` are noted (info, ``model_version``); a forecast keeps the native step
(``meta.data_point_period_seconds``) and the provider's ``meta.generated_at``, from the step that
holds it on. The signal index is a 0-100 percentile of the MOER, a rank, not an emissions rate.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from gridshift.domain import Forecast, Series, SignalDataError, SignalKind
from gridshift.domain.timeutil import as_np, require_utc
from gridshift.signals.providers._json import describe, load
from gridshift.signals.providers._readers import aware_utc, forecast_from, utc_iso
from gridshift.signals.providers.base import issues_attr
from gridshift.signals.validate import Issue, RawPoints, build_series

NAME = "watttime"
SIGNAL_TYPE = "co2_moer"
SOURCE = "watttime api"

# WattTime ``meta.units`` -> gridshift unit name (documented: lbs_co2_per_mwh).
UNITS: dict[str, str] = {"lbs_co2_per_mwh": "lb_per_mwh"}
INDEX_UNITS = frozenset({"percentile"})

REGION_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


@dataclass(frozen=True)
class DataPoints:
    """One answer's points, before validation: ISO time strings, values, estimated flags; and
    ``models``, for each answer merged in, its ``meta.model.date`` and how many points it gave."""

    times: list[str]
    values: list[float | str]
    estimated: list[bool]
    unit: str
    step_s: int | None
    meta: Mapping[str, Any]
    models: tuple[tuple[str, int], ...] = ()


def _object(value: Any, what: str, label: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SignalDataError(f"{what} is {describe(value)}, not an object", source=label)
    return value


def _text(value: Any, what: str, label: str) -> str:
    if not isinstance(value, str):
        raise SignalDataError(f"{what} is {describe(value)}, not a string", source=label)
    if not value.strip():
        raise SignalDataError(f"{what} is empty", source=label)
    return value.strip()


def _time(value: Any, what: str, label: str) -> datetime:
    return aware_utc(_text(value, what, label), what, label)


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


def _model_date(meta: Mapping[str, Any]) -> str | None:
    """``meta.model.date`` (the model version), where the answer states one as text."""
    model = meta.get("model")
    date = model.get("date") if isinstance(model, dict) else None
    return date.strip()[:40] if isinstance(date, str) and date.strip() else None


def read_points(body: bytes, label: str) -> DataPoints:
    """The ``data`` points and ``meta`` of a /v3/historical or /v3/forecast answer."""
    root = _object(load(body, label), "the answer", label)
    meta = _object(root.get("meta"), "meta", label)
    data = root.get("data")
    if not isinstance(data, list):
        raise SignalDataError(f"data is {describe(data)}, not a list", source=label)
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
    model = _model_date(meta)
    models = () if model is None or not times else ((model, len(times)),)
    return DataPoints(times, values, estimated, unit, step_s, meta, models)


def merge_points(
    merged: DataPoints, points: DataPoints, start: datetime, end: datetime, label: str
) -> DataPoints:
    """``merged`` plus the points of ``points`` inside ``[start, end)`` (chunks overlap nothing),
    with the model version of the points kept."""
    if points.unit != merged.unit:
        raise SignalDataError(f"units changed between answers ({points.unit})", source=label)
    lo, hi = start.timestamp(), end.timestamp()
    keep = [i for i, text in enumerate(points.times) if _inside(text, lo, hi)]
    model = _model_date(points.meta)
    models = merged.models + (((model, len(keep)),) if model is not None and keep else ())
    return DataPoints(
        merged.times + [points.times[i] for i in keep],
        merged.values + [points.values[i] for i in keep],
        merged.estimated + [points.estimated[i] for i in keep],
        merged.unit,
        merged.step_s or points.step_s,
        points.meta,
        models,
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


def model_notes(models: tuple[tuple[str, int], ...]) -> list[Issue]:
    """An info issue where merged answers came from different model versions (the official
    client checks ``meta.model.date`` is the same across chunks): the data are kept, the points
    from another version than the first counted, and every version named."""
    dates = list(dict.fromkeys(date for date, _ in models))
    if len(dates) < 2:
        return []
    others = sum(count for date, count in models if date != dates[0])
    return [
        Issue(
            "model_version",
            "info",
            others,
            f"the answers come from {len(dates)} WattTime model versions "
            f"({', '.join(dates[:4])}): {others} point(s) are not from model {dates[0]}",
        )
    ]


def to_series(points: DataPoints, zone: str, kind: SignalKind, label: str) -> Series:
    """The points as a validated ``Series`` (``build_series``) in g/kWh; merged answers of
    different model versions are noted (``model_notes``)."""
    if not points.times:
        raise SignalDataError("the answer holds no data points", source=label)
    raw = RawPoints(
        times=pd.Series(points.times, dtype="object"),
        values=pd.Series(points.values, dtype="object"),
        rows=np.arange(1, len(points.times) + 1, dtype=np.int64),
        unit=points.unit,
        naive_times="reject",
        estimated=np.array(points.estimated, dtype=bool),
        notes=model_notes(points.models),
    )
    try:
        series, issues = build_series(raw, zone=zone, kind=kind, source=label)
    except (ValueError, TypeError, OverflowError) as exc:  # pandas on a hostile payload
        raise SignalDataError(f"the data points cannot be read ({exc})", source=label) from None
    return replace(series, source=SOURCE, attrs=issues_attr(issues))


def parse_data(body: bytes, zone: str, kind: SignalKind, label: str) -> Series:
    """A /v3/historical answer as a ``Series`` in g/kWh, or ``SignalDataError``."""
    return to_series(read_points(body, label), zone, kind, label)


def parse_forecast(
    body: bytes, zone: str, kind: SignalKind, label: str, now: datetime | None = None
) -> Forecast:
    """A /v3/forecast answer as a ``Forecast`` as of its ``meta.generated_at``.

    Points whose step ended at or before ``generated_at`` are dropped (the first kept is the step
    holding it); the step is the payload's ``data_point_period_seconds`` (5 minutes for
    co2_moer). Given ``now``, a ``generated_at`` after
    it (a clock ahead of ours) is taken as ``now``, so the forecast is never dated in the future."""
    points = read_points(body, label)
    generated = _time(points.meta.get("generated_at"), "meta.generated_at", label)
    if now is not None:
        generated = min(generated, require_utc(now, "now"))
    if points.step_s is None:
        raise SignalDataError("meta.data_point_period_seconds is missing", source=label)
    series = to_series(points, zone, kind, label)
    try:
        return forecast_from(
            series,
            as_np(generated),
            generated=generated,
            step_s=points.step_s,
            model=NAME,
            empty=f"no forecast point ends after generated_at {utc_iso(generated)}",
            label=label,
        )
    except ValueError as exc:
        raise SignalDataError(f"the forecast is inconsistent ({exc})", source=label) from None


def parse_login(body: bytes, label: str) -> str:
    """The token of a /login answer."""
    root = _object(load(body, label), "the answer", label)
    return _text(root.get("token"), "token", label)


def parse_region(body: bytes, label: str) -> str:
    """The ``region`` of a /v3/region-from-loc answer."""
    root = _object(load(body, label), "the answer", label)
    region = _text(root.get("region"), "region", label)
    if not REGION_RE.match(region):
        raise SignalDataError(f"region {region[:40]!r} is not a region name", source=label)
    return region


def parse_signal_index(body: bytes, label: str) -> tuple[datetime, float]:
    """The newest point of a /v3/signal-index answer: (its time, a 0-100 percentile)."""
    root = _object(load(body, label), "the answer", label)
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
        when = _time(point.get("point_time"), f"data[{i}].point_time", label)
        value = point.get("value")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SignalDataError(f"data[{i}].value is {describe(value)}", source=label)
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
