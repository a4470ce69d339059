"""``forecast(zone, kind, as_of, horizon)``: the forecast a decision may use, and what stood in.

The chain, best first; each step that fails says why in the forecast's ``note``, and everything
after the first choice is marked ``quality="fallback"``:

1. **provider** (zones whose source is a live provider): the provider's newest forecast generated at
   or before ``as_of`` — fetched live when ``as_of`` is now, else from the archive — no older than
   the staleness limit. Where it ends before the horizon, the model on history continues it.
2. **model on history** (``ets`` unless another is named): needs a known value within the
   staleness limit of ``as_of``.
3. **seasonal**: the last week (or day) of history known at ``as_of``, however old, repeated by
   time of week (of day).
4. **flat**: the mean of what history there is, or a stated default for the kind.

A forecast that leaves this module has a finite value at every step, so no decision ever sees NaN.
A provider call is bounded by its HTTP time budget; nothing here waits longer or raises for a
provider's fault.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

import numpy as np

from gridshift.domain import ConfigError, Forecast, GridshiftError, Series, SignalKind
from gridshift.domain.signal import DEFAULT_UNIT
from gridshift.domain.timeutil import as_datetime, to_iso
from gridshift.forecasting import models
from gridshift.forecasting.asof import (
    check_model,
    forecast_step,
    forecast_times,
    known_before,
    last_known_time,
    model_forecast,
    on_grid,
)
from gridshift.signals.align import align
from gridshift.signals.archive import ForecastArchive
from gridshift.signals.providers.base import DEFAULT_STALENESS_S

T = TypeVar("T")

PROVIDER = "provider"
MAX_HELD_SHARE = 0.05  # a forecast with more of its steps held than this is a fallback
SEASONAL = "seasonal-fallback"
FLAT = "flat"

# What "flat" assumes when a zone has no history at all: round figures, stated in the README.
FLAT_DEFAULTS: dict[SignalKind, float] = {
    SignalKind.CARBON: 450.0,  # g/kWh, about the world's average grid intensity
    SignalKind.MARGINAL: 700.0,  # g/kWh, a gas-and-coal margin
    SignalKind.PRICE: 80.0,  # USD/MWh
    SignalKind.RENEWABLE: 0.3,  # share
}


@dataclass
class Feed:
    """What is known about one zone and kind: stored history, and maybe a live provider."""

    zone: str
    kind: SignalKind
    history: Callable[[], Series]  # raises a GridshiftError when there is none
    live: Callable[[], Forecast] | None = None  # the provider's newest forecast (network)
    archive: ForecastArchive | None = None
    staleness_s: int = DEFAULT_STALENESS_S
    source: str = "file"
    _series: Series | None = field(default=None, repr=False)
    _history_error: str | None = field(default=None, repr=False)

    def series(self) -> Series | None:
        if self._series is None and self._history_error is None:
            try:
                self._series = self.history()
            except GridshiftError as exc:
                self._history_error = exc.one_line()
        return self._series

    @property
    def history_error(self) -> str | None:
        """Why there is no history, once ``series()`` found none."""
        return self._history_error

    @property
    def has_provider(self) -> bool:
        return self.live is not None or self.archive is not None


class Forecaster:
    """Forecasts for the feeds it was given; ``now`` is injected (the engine's clock)."""

    def __init__(
        self,
        feeds: Mapping[tuple[str, SignalKind], Feed],
        *,
        now: Callable[[], datetime] | None = None,
        model: str = models.DEFAULT_MODEL,
    ) -> None:
        self.feeds = dict(feeds)
        self.now = now
        self.model = check_model(model, extra=(PROVIDER,))

    def forecast(
        self,
        zone: str,
        kind: SignalKind,
        as_of: datetime,
        horizon_s: int,
        model: str | None = None,
    ) -> Forecast:
        if model is not None:
            check_model(model, extra=(PROVIDER,))
        if horizon_s <= 0:
            raise ConfigError("horizon must be positive", field="horizon", value=horizon_s)
        feed = self.feeds.get((zone, kind))
        if feed is None:
            raise ConfigError(
                f"no {kind.value} signal configured for zone {zone}",
                field="zone",
                value=zone,
                accepted=", ".join(sorted({z for z, k in self.feeds if k is kind})) or "none",
            )
        if model == PROVIDER and not feed.has_provider:
            raise ConfigError(
                f"{zone} {kind.value} has no live provider source",
                field="model",
                value=model,
                accepted=f"a model ({', '.join(models.MODELS)}), or a live source for the zone "
                "in gridshift.yaml (--config)",
            )
        notes: list[str] = []
        want = model or (PROVIDER if feed.has_provider else self.model)
        fallback = False
        if want == PROVIDER:
            got = self._provider(feed, as_of, horizon_s, notes)
            if got is not None:
                return got
            fallback = True
        fitted = self.model if want == PROVIDER else want
        series = feed.series()
        if series is None:
            notes.append(f"no history ({feed.history_error})")
        else:
            got = self._on_history(series, feed, as_of, horizon_s, fitted, notes)
            if got is not None:
                return _finish(got, fallback, notes)
            got = _seasonal(series, as_of, horizon_s, notes)
            if got is not None:
                return _finish(got, True, notes)
        return _finish(_flat(feed, series, as_of, horizon_s, notes), True, notes)

    def _provider(
        self, feed: Feed, as_of: datetime, horizon_s: int, notes: list[str]
    ) -> Forecast | None:
        got: Forecast | None = None
        now = self.now() if self.now is not None else None
        if feed.live is not None and now is not None and as_of >= now - timedelta(minutes=5):
            got = _guarded(feed.live, f"{feed.source} failed", notes)
            if got is not None and feed.archive is not None:
                archive, fetched = feed.archive, got
                _guarded(lambda: archive.save(fetched, fetched_at=now), "archiving failed", notes)
            if got is not None and got.generated_at is not None and got.generated_at > as_of:
                notes.append(f"{feed.source} forecast was generated after {to_iso(as_of)}")
                got = None
        if got is None and feed.archive is not None:
            archive = feed.archive
            got = _guarded(
                lambda: archive.latest(feed.zone, feed.kind, as_of), "archive unreadable", notes
            )
            if got is None:
                notes.append(f"no archived {feed.source} forecast known at {to_iso(as_of)}")
        if got is None:
            if feed.live is None and feed.archive is None:
                notes.append("no provider for this zone")
            return None
        generated = got.generated_at or got.as_of
        if as_of - generated > timedelta(seconds=feed.staleness_s):
            notes.append(
                f"newest {feed.source} forecast is stale (generated {to_iso(generated)}, limit "
                f"{feed.staleness_s // 60} min)"
            )
            return None
        return self._continue(got, feed, as_of, horizon_s, notes)

    def _continue(
        self, got: Forecast, feed: Feed, as_of: datetime, horizon_s: int, notes: list[str]
    ) -> Forecast | None:
        """The provider forecast from the step holding ``as_of``; the model continues it."""
        step = got.step_s
        grid = forecast_times(as_of, horizon_s, step)

        def regrid(source: Forecast, values: np.ndarray) -> np.ndarray:
            return on_grid(got, source.times, values, source.step_s, grid[0], len(grid), step)

        values = regrid(got, got.values)
        valid = ~np.isnan(values)
        if not valid.any():
            notes.append(f"{feed.source} forecast does not cover {to_iso(as_of)} onwards")
            return None
        model = got.model
        if not valid.all():
            series = feed.series()
            rest = None
            if series is not None:
                rest = self._on_history(series, feed, as_of, horizon_s, self.model, [])
            if rest is not None:
                values = np.where(valid, values, regrid(rest, rest.values))
                model = f"{got.model}+{rest.model}"
                ends = to_iso(grid[valid][-1] + np.timedelta64(step, "s"))
                notes.append(f"{got.model} forecast ends {ends}; {rest.model} on history after it")
        lower = upper = None
        if got.lower is not None and got.upper is not None:
            lower = regrid(got, got.lower)
            upper = regrid(got, got.upper)
        out = Forecast(
            zone=feed.zone,
            kind=feed.kind,
            unit=got.unit,
            as_of=as_of,
            generated_at=got.generated_at,
            times=grid,
            values=values,
            step_s=step,
            model=model,
            lower=lower,
            upper=upper,
        )
        return _finish(out, False, notes)

    def _on_history(
        self,
        series: Series,
        feed: Feed,
        as_of: datetime,
        horizon_s: int,
        model: str,
        notes: list[str],
    ) -> Forecast | None:
        newest = last_known_time(series, as_of)
        if newest is None:
            notes.append(f"no history known at {to_iso(as_of)}")
            return None
        age = as_of - (newest + timedelta(seconds=series.step_s))
        if age > timedelta(seconds=feed.staleness_s):
            notes.append(
                f"history is stale (newest value {to_iso(newest)}, "
                f"{age.total_seconds() / 3600:.0f} h before {to_iso(as_of)}; "
                f"limit {feed.staleness_s // 60} min)"
            )
            return None
        got = model_forecast(series, as_of, horizon_s, model)
        if np.isnan(got.values).all():
            notes.append(f"{model} had nothing to go on")
            return None
        return got


def _guarded(call: Callable[[], T], what: str, notes: list[str]) -> T | None:
    """``call()``, or None with the reason in ``notes``: a provider's or a file's fault (of any
    type: a payload may surprise a parser) never reaches a decision."""
    try:
        return call()
    except Exception as exc:
        text = exc.one_line() if isinstance(exc, GridshiftError) else repr(exc)
        notes.append(f"{what}: {text}")
        return None


def _seasonal(series: Series, as_of: datetime, horizon_s: int, notes: list[str]) -> Forecast | None:
    """The newest week (or day) of known history, repeated by time of week (or day)."""
    known = known_before(series, as_of)
    valid = known.times[known.valid]
    if len(valid) == 0:
        return None
    step = forecast_step(series)
    newest = as_datetime(valid[-1])
    for days, what in ((7, "week"), (1, "day")):
        lag = days * 86400
        window = align(
            known, step, newest - timedelta(seconds=lag - step), newest + timedelta(seconds=step)
        )
        if np.isnan(window.values).mean() > 0.25:
            continue
        profile = np.where(np.isnan(window.values), np.nanmean(window.values), window.values)
        times = forecast_times(as_of, horizon_s, step)
        phase = ((times - window.times[0]).astype(np.int64) // step) % len(profile)
        notes.append(f"repeating the {what} of history up to {to_iso(newest)}")
        return Forecast(
            zone=series.zone,
            kind=series.kind,
            unit=series.unit,
            as_of=as_of,
            times=times,
            values=profile[phase],
            step_s=step,
            model=SEASONAL,
        )
    return None


def _flat(
    feed: Feed, series: Series | None, as_of: datetime, horizon_s: int, notes: list[str]
) -> Forecast:
    step = forecast_step(series) if series is not None else 3600
    value = FLAT_DEFAULTS[feed.kind]
    what = f"the {feed.kind.value} default {value:g}"
    known = known_before(series, as_of) if series is not None else None
    if known is not None and known.valid.any():  # only what was known then: no look-ahead
        value = float(known.values[known.valid].mean())
        what = f"the mean of the history known then ({value:.1f})"
    notes.append(f"flat at {what}")
    times = forecast_times(as_of, horizon_s, step)
    return Forecast(
        zone=feed.zone,
        kind=feed.kind,
        unit=series.unit if series is not None else DEFAULT_UNIT[feed.kind],
        as_of=as_of,
        times=times,
        values=np.full(len(times), value),
        step_s=step,
        model=FLAT,
    )


def _finish(got: Forecast, fallback: bool, notes: list[str]) -> Forecast:
    """Hold the last prediction over any step the source left empty (the first known one before
    the start), set quality and the note. Filling more than ``MAX_HELD_SHARE`` of the steps makes
    the forecast a fallback."""
    values = got.values
    lower, upper = got.lower, got.upper
    holes = np.isnan(values)
    if holes.any():
        values = models.ffill(values)
        first = values[~np.isnan(values)]
        values = np.where(np.isnan(values), first[0] if len(first) else np.nan, values)
        notes.append(f"{int(holes.sum())} of {len(values)} step(s) held at a neighbouring value")
        if holes.mean() > MAX_HELD_SHARE:
            fallback = True
    if lower is not None and upper is not None and (np.isnan(lower).any() or np.isnan(upper).any()):
        lower = upper = None
    return dataclasses.replace(
        got,
        values=values,
        lower=lower,
        upper=upper,
        quality="fallback" if fallback else "ok",
        note="; ".join(notes),
    )
