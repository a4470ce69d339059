"""ENTSO-E day-ahead prices assembled: the ``Prices`` read from A44 documents by ``entsoe_xml``
(several documents, for a range of several years, are gathered with ``Prices.extend``), put on one
step, converted to USD/MWh and built into a validated ``Series`` or ``Forecast``, or a
``SignalDataError``.

Resolutions: since the SDAC's 15-minute go-live (delivery from 2025-10-01) a range can hold hourly
and 15-minute periods. A price holds for its whole period, so a coarser price is repeated over each
step of the finest resolution present before validation (noted as ``resolution``). Overlapping
points keep the first (finest resolution first, then document order), as ``build_series`` reports.

Several auctions: only the day-ahead auction's prices (classificationSequence position
``DAY_AHEAD_SEQUENCE``, the SDAC) are served; the series' issues say so (``sequence``). Time that
only another position covers (EXAA published, SDAC not yet) is left out with a warning
(``day_ahead_missing``); an answer with nothing else is a ``SignalDataError``: EXAA prices are
never served as the day-ahead price.

``createdDateTime`` is when ENTSO-E built this answer (about when it was downloaded), not when the
prices were published: a forecast's ``generated_at`` is therefore at most the download time, an
upper bound on when the prices became known.

Prices become USD/MWh: EUR at ``extra.eur_usd`` or else ``DEFAULT_EUR_USD`` = 1.08 USD per EUR
(about the ECB euro reference rate's 2023-2024 average; set ``eur_usd`` for exact figures); another
currency only with its own rate in ``extra`` (``gbp_usd`` for GBP, and so on).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
import pandas as pd

from gridshift.domain import ConfigError, Forecast, Series, SignalDataError, SignalKind
from gridshift.domain.timeutil import as_np
from gridshift.signals.providers._readers import forecast_from
from gridshift.signals.providers.base import issues_attr
from gridshift.signals.validate import MAX_LOCATIONS, Issue, RawPoints, build_series

NAME = "entsoe"
SOURCE = "entsoe api"
DAY_AHEAD_SEQUENCE = 1  # classificationSequence position of the SDAC auction (DE-LU, AT)
DEFAULT_EUR_USD = 1.08

_CURRENCY_RE = re.compile(r"^[a-z]{3}$")


@dataclass
class Prices:
    """Prices read from documents: Unix seconds, USD/MWh values and the step (s) of the period
    each came from; notes; the newest creation time.

    ``sequence_points`` counts the points read from series that name the day-ahead auction's
    sequence, ``other_sequences`` the other auctions' sequences left out, and ``other_only`` the
    spans (start, end, step, sequence) that only another auction covers."""

    times: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)
    non_numeric: int = 0
    created: datetime | None = None
    sequence_points: int = 0
    other_sequences: set[int] = field(default_factory=set)
    other_only: list[tuple[int, int, int, int]] = field(default_factory=list)

    def extend(self, other: Prices, lo: int | None = None, hi: int | None = None) -> None:
        """Add ``other``'s prices with ``lo <= time < hi`` (each bound optional) and its notes."""
        for moment, value, step in zip(other.times, other.values, other.steps, strict=True):
            if (lo is None or lo <= moment) and (hi is None or moment < hi):
                self.times.append(moment)
                self.values.append(value)
                self.steps.append(step)
        for start, end, step, sequence in other.other_only:
            start = start if lo is None else max(start, lo)
            end = end if hi is None else min(end, hi)
            if start < end:
                self.other_only.append((start, end, step, sequence))
        self.non_numeric += other.non_numeric
        self.sequence_points += other.sequence_points
        self.other_sequences |= other.other_sequences
        if other.created is not None:
            self.created = max(self.created or other.created, other.created)


def usd_rate(currency: str, rates: Mapping[str, float], label: str) -> float:
    """USD per unit of ``currency`` from ``rates``, or ``SignalDataError`` when it has none."""
    rate = rates.get(currency.upper())
    if rate is None:
        raise SignalDataError(
            f"prices are in {currency[:10]!r}, which has no USD rate",
            source=label,
            hint=f"set extra.{currency.lower()[:10]}_usd to the USD value of one {currency[:10]}",
        )
    return rate


def default_rates(extra: Mapping[str, str] | None = None) -> dict[str, float]:
    """USD per unit of each currency: EUR at ``DEFAULT_EUR_USD`` unless ``extra`` says otherwise
    (``eur_usd``, or ``<code>_usd`` for any three-letter currency code)."""
    rates = {"USD": 1.0, "EUR": DEFAULT_EUR_USD}
    for key, value in (extra or {}).items():
        code = key[:-4] if key.endswith("_usd") else ""
        if not _CURRENCY_RE.match(code):
            continue
        try:
            rate = float(value)
        except ValueError:
            rate = math.nan
        if not (math.isfinite(rate) and rate > 0):
            raise ConfigError(
                "not a positive exchange rate",
                field=f"extra.{key}",
                value=value,
                accepted="USD per unit, e.g. 1.08",
            )
        rates[code.upper()] = rate
    return rates


def _iso(moment: int) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%MZ")


def _other_auction_error(raw: Prices, label: str) -> SignalDataError:
    spans = ", ".join(f"{_iso(lo)}..{_iso(hi)}" for lo, hi, _, _ in raw.other_only[:3])
    sequences = ", ".join(str(s) for s in sorted(raw.other_sequences))
    return SignalDataError(
        f"the day-ahead auction (classificationSequence position {DAY_AHEAD_SEQUENCE}, SDAC) has "
        f"no prices for {spans}; only position {sequences} (another auction, such as EXAA) has, "
        "and those are not served as day-ahead prices",
        source=label,
        hint="the SDAC results follow the 12:00 CE(S)T gate closure; try again later",
    )


def no_prices_error(raw: Prices, message: str, label: str) -> SignalDataError:
    """The error for ``raw`` without prices: ``message``, unless only another auction had some."""
    if raw.other_only:
        return _other_auction_error(raw, label)
    return SignalDataError(message, source=label)


def _notes(raw: Prices, repeated: int, finest: int) -> list[Issue]:
    notes = []
    if raw.non_numeric:
        notes.append(
            Issue(
                "non_numeric",
                "warning",
                raw.non_numeric,
                f"{raw.non_numeric} price(s) are not numbers; kept as missing",
            )
        )
    if raw.sequence_points or raw.other_sequences:
        left_out = ", ".join(str(s) for s in sorted(raw.other_sequences)) or "none"
        notes.append(
            Issue(
                "sequence",
                "info",
                raw.sequence_points,
                f"prices of classificationSequence position {DAY_AHEAD_SEQUENCE} (the SDAC "
                f"day-ahead auction); other positions left out: {left_out}",
            )
        )
    if raw.other_only:
        steps = sum((hi - lo) // step for lo, hi, step, _ in raw.other_only)
        notes.append(
            Issue(
                "day_ahead_missing",
                "warning",
                steps,
                f"{steps} step(s) have prices only from another auction (classificationSequence "
                f"position {', '.join(str(s) for s in sorted(raw.other_sequences))}), not from the "
                "day-ahead auction; left out",
                tuple(
                    f"{_iso(lo)}..{_iso(hi)} (position {seq})"
                    for lo, hi, _, seq in raw.other_only[:MAX_LOCATIONS]
                ),
            )
        )
    if repeated:
        notes.append(
            Issue(
                "resolution",
                "info",
                repeated,
                f"{repeated} price(s) of a coarser resolution repeated over each {finest // 60}-"
                "minute step (a price holds for its whole period)",
            )
        )
    return notes


_Int64s = npt.NDArray[np.int64]


def _on_finest_step(
    raw: Prices,
) -> tuple[_Int64s, npt.NDArray[np.float64], _Int64s, _Int64s, int, int]:
    """(times, values, steps, index of each point's source in ``raw``) with every price on the
    finest step present: a coarser price is repeated over the finer steps of its period, as it
    holds for all of them. Also the number of coarser prices repeated, and the finest step."""
    times = np.asarray(raw.times, dtype=np.int64)
    values = np.asarray(raw.values, dtype=np.float64)
    steps = np.asarray(raw.steps, dtype=np.int64)
    finest = int(steps.min())
    source = np.arange(len(times), dtype=np.int64)
    coarse = steps != finest
    if not coarse.any() or bool(np.any(steps % finest)):
        return times, values, steps, source, 0, finest
    counts = steps // finest
    source = np.repeat(source, counts)
    first = np.cumsum(counts) - counts
    offsets = (np.arange(len(source), dtype=np.int64) - np.repeat(first, counts)) * finest
    return times[source] + offsets, values[source], steps[source], source, int(coarse.sum()), finest


def to_series(raw: Prices, zone: str, kind: SignalKind, label: str) -> Series:
    """The prices read as a validated ``Series`` (``build_series``)."""
    if not raw.times:
        raise no_prices_error(raw, "the answer holds no price points", label)
    times, values, steps, source, repeated, finest = _on_finest_step(raw)
    # Several TimeSeries are concatenated: order by time, then step (stably, so of equal times
    # the finest resolution, then the first in the documents, is the one kept) before validation.
    order = np.lexsort((steps, times))
    points = RawPoints(
        times=pd.Series(times[order], dtype="int64"),
        values=pd.Series(values[order], dtype="float64"),
        rows=(source[order] + 1).astype(np.int64),
        unit="usd_per_mwh",
        naive_times="reject",
        notes=_notes(raw, repeated, finest),
    )
    series, issues = build_series(points, zone=zone, kind=kind, source=label)
    return replace(series, source=SOURCE, attrs=issues_attr(issues))


def to_forecast(raw: Prices, zone: str, kind: SignalKind, now: datetime, label: str) -> Forecast:
    """The prices whose step ends after ``now`` (the step holding ``now`` on), as of the newest
    ``createdDateTime`` (or ``now`` when that is later)."""
    series = to_series(raw, zone, kind, label)
    assert raw.created is not None
    generated = min(raw.created, now)
    cut = max(as_np(generated), as_np(now))
    # Filtered here, so that ``forecast_from`` gets only points to keep whichever way it cuts.
    ahead = series.times + np.timedelta64(series.step_s, "s") > cut
    if not ahead.any():
        raise SignalDataError(f"no prices published from {now:%Y-%m-%dT%H:%MZ} on", source=label)
    kept = series.with_points(series.times[ahead], series.values[ahead], series.quality[ahead])
    return forecast_from(
        kept,
        kept.times[0],
        generated=generated,
        step_s=kept.step_s,
        model=NAME,
        empty=f"no prices published from {now:%Y-%m-%dT%H:%MZ} on",
        label=label,
    )
