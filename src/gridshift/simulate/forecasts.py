"""What a policy is told about the signals: forecasts as of a step, by kind (DESIGN.md §3.5).

A ``ForecastView`` answers ``window(key, first, count)``: the values for steps
``[first, first + count)`` as forecast at the start of step ``first``. Kinds:

- ``perfect``: the actual values (``static``: the same whatever the origin);
- ``noisy``: the actual value plus independent Gaussian noise with standard deviation
  ``relative_sd x mean(|actual|)``, one draw per step and a new draw per seed (``static``);
- ``persistence``, ``seasonal-naive``, ``model``: the forecasting models of the live service
  (``forecasting.models``: the last known value; the value a day before; ``ets`` by default),
  run as of each origin on the history before it: the simulation's own past plus
  ``HISTORY_DAYS`` of the data before ``start``. Persistence and seasonal-naive are handed only
  the values before the origin (no look-ahead by construction); ``ets`` runs its causal filter
  once over the series and reads the state before the origin (the filter's state at t depends
  only on values up to t, ``forecasting.models.ets_states``);
- ``file``: issued forecasts (``zone, kind, issued_at, time, value``): at each origin the
  newest one issued at or before it, each step taking the value of the latest forecast time at
  or before it (an issue's last time covers its usual spacing; a one-row issue covers one
  step).

Where a model or a file has nothing for a step (no history yet; beyond an issued forecast),
the value is the last one known before the origin (persistence); where nothing at all is known
yet (a simulation starting where its data starts), the first actual value stands in: a
one-step look-ahead at the very start only, which the README states.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from gridshift.domain import ConfigError, SignalKind
from gridshift.forecasting import models
from gridshift.simulate.config import ForecastSpec

Floats = npt.NDArray[np.float64]
SignalKey = tuple[str, SignalKind]
HISTORY_DAYS = 28  # data before start the as-of models may read
DAY_S = 86400


class ForecastView(Protocol):
    static: bool  # the same values whatever the origin (one whole-trace problem suffices)

    def window(self, key: SignalKey, first: int, count: int) -> Floats: ...


@dataclass
class SeriesView:
    """Fixed values per step: ``perfect`` (the actuals) and ``noisy``."""

    values: dict[SignalKey, Floats]
    static: bool = True

    def window(self, key: SignalKey, first: int, count: int) -> Floats:
        return self.values[key][first : first + count]


def noisy(actual: dict[SignalKey, Floats], relative_sd: float, seed: int) -> SeriesView:
    if relative_sd <= 0:
        return SeriesView(actual)
    rng = np.random.default_rng(seed)
    out = {}
    for key in sorted(actual, key=lambda k: (k[0], k[1].value)):
        values = actual[key]
        sd = relative_sd * float(np.mean(np.abs(values)))
        out[key] = values + rng.normal(0.0, sd, len(values))
    return SeriesView(out)


def _persist(values: Floats, known: Floats, first_actual: float) -> Floats:
    """NaN steps take the last value known before the origin (``known``: the past), or, with
    nothing known at all yet, ``first_actual`` (module docstring)."""
    missing = np.isnan(values)
    if missing.any():
        past = known[~np.isnan(known)]
        values = values.copy()
        values[missing] = past[-1] if len(past) else first_actual
    return values


@dataclass
class ModelView:
    """A forecasting model run as of each origin over history + actual values."""

    model: str
    series: dict[SignalKey, Floats]  # history then the simulation's actual values
    offset: int  # steps of history before the simulation's step 0
    period: int  # steps in a day
    static: bool = False
    _ets: dict[SignalKey, models.EtsStates] = field(default_factory=dict)
    _cache: dict[tuple[SignalKey, int, int], Floats] = field(default_factory=dict)

    def window(self, key: SignalKey, first: int, count: int) -> Floats:
        cached = self._cache.get((key, first, count))
        if cached is not None:
            return cached
        y = self.series[key]
        origin = self.offset + first
        origins = np.array([origin], dtype=np.int64)
        if self.model == "ets":
            states = self._ets.get(key)
            if states is None:
                states = self._ets[key] = models.ets_states(y, self.period)
            values = models.ets_from_states(states, origins, count, self.period)[0]
        else:
            past = np.concatenate([y[:origin], np.full(count, np.nan)])
            values = models.MODELS[self.model](past, origins, count, self.period)[0]
        values = _persist(values, y[:origin], y[self.offset])
        if len(self._cache) > 4096:
            self._cache.clear()
        out: Floats = np.asarray(values, dtype=np.float64)
        self._cache[(key, first, count)] = out
        return out


@dataclass(frozen=True)
class Issued:
    """One key's issued forecasts, on the simulation grid."""

    issued: npt.NDArray[np.int64]  # [I] step at or after which each issue is known, sorted
    first: npt.NDArray[np.int64]  # [I] its first forecast step
    values: list[Floats]  # [I] its values from ``first``, forward-filled onto the grid


@dataclass
class FileView:
    """Issued forecasts from a file (module docstring)."""

    issues: dict[SignalKey, Issued]
    actual: dict[SignalKey, Floats]
    history: dict[SignalKey, Floats]
    static: bool = False

    def window(self, key: SignalKey, first: int, count: int) -> Floats:
        book = self.issues[key]
        known = np.concatenate([self.history[key], self.actual[key][:first]])
        i = int(np.searchsorted(book.issued, first, side="right")) - 1
        out = np.full(count, np.nan)
        if i >= 0:
            vals = book.values[i]
            lo = first - int(book.first[i])
            idx = np.arange(lo, lo + count)
            inside = (idx >= 0) & (idx < len(vals))
            out[inside] = vals[idx[inside]]
        return _persist(out, known, self.actual[key][0])


FILE_COLUMNS = ("zone", "kind", "issued_at", "time", "value")


def read_issued(
    path: Path,
    keys: list[SignalKey],
    t0: np.datetime64,
    step_s: int,
) -> dict[SignalKey, Issued]:
    """Issued forecasts from CSV or Parquet, put on the simulation grid; every one of ``keys``
    must be in the file."""
    import pandas as pd

    source = str(path)
    try:
        frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"cannot read the forecast file: {exc}",
            source=source,
            field="forecast.path",
            hint="a CSV or Parquet file with columns " + ", ".join(FILE_COLUMNS),
        ) from None
    missing = [c for c in FILE_COLUMNS if c not in frame.columns]
    if missing:
        raise ConfigError(
            f"the forecast file lacks the column(s) {', '.join(missing)}",
            source=source,
            field="forecast.path",
            hint="columns: zone, kind (carbon|price|...), issued_at and time (ISO-8601 UTC), value",
        )
    try:
        issued_at = pd.to_datetime(frame["issued_at"], utc=True)
        times = pd.to_datetime(frame["time"], utc=True)
        values = pd.to_numeric(frame["value"])
        blank = issued_at.isna() | times.isna()
        if blank.any():
            row = int(np.flatnonzero(blank.to_numpy())[0]) + 2  # 1-based, after the header
            raise ValueError(f"row {row} has no issued_at or no time")
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"unreadable times or values in the forecast file: {exc}",
            source=source,
            field="forecast.path",
            hint="issued_at and time as ISO-8601 UTC, value as a number",
        ) from None
    step = np.timedelta64(step_s, "s")
    base = t0.astype("datetime64[s]")
    # A forecast issued inside a step is usable from the next step boundary on.
    issued_step = np.ceil(
        (issued_at.dt.tz_localize(None).to_numpy().astype("datetime64[s]") - base) / step
    ).astype(np.int64)
    time_step = np.floor(
        (times.dt.tz_localize(None).to_numpy().astype("datetime64[s]") - base) / step
    ).astype(np.int64)
    issued_ns = issued_at.dt.tz_localize(None).to_numpy().astype("datetime64[ns]").astype(np.int64)
    zone = frame["zone"].astype(str).to_numpy()
    kind = frame["kind"].astype(str).to_numpy()
    vals = values.to_numpy(dtype=np.float64)
    out: dict[SignalKey, Issued] = {}
    absent = []
    for key in keys:
        mine = (zone == key[0]) & (kind == key[1].value)
        if not mine.any():
            absent.append(f"{key[0]} {key[1].value}")
            continue
        at, ts, vs = issued_step[mine], time_step[mine], vals[mine]
        # By usable step, then time, then issue time: for one time in one step, the newest
        # issue comes last and its value stands.
        order = np.lexsort((issued_ns[mine], ts, at))
        at, ts, vs = at[order], ts[order], vs[order]
        starts = np.flatnonzero(np.r_[True, at[1:] != at[:-1]])
        ends = np.r_[starts[1:], len(at)]
        firsts, series = [], []
        for a, b in zip(starts, ends, strict=True):
            t, v = ts[a:b], vs[a:b]
            lo = int(t[0])
            filled = np.full(int(t[-1]) - lo + 1, np.nan)
            filled[t - lo] = v
            # Forward-fill inside the issue (an hourly forecast on a 15-minute grid).
            idx = np.where(~np.isnan(filled), np.arange(len(filled)), -1)
            np.maximum.accumulate(idx, out=idx)
            filled = np.where(idx >= 0, filled[np.clip(idx, 0, None)], np.nan)
            if b - a > 1:  # the last forecast time covers its own interval
                tail = int(np.median(np.diff(t)))
                filled = np.concatenate([filled, np.full(max(0, tail - 1), filled[-1])])
            firsts.append(lo)
            series.append(filled)
        out[key] = Issued(at[starts], np.array(firsts, dtype=np.int64), series)
    if absent:
        raise ConfigError(
            f"the forecast file has no forecasts for {', '.join(absent)}",
            source=source,
            field="forecast.path",
            hint="add rows for every zone and kind the site's signals list",
        )
    return out


def views(
    spec: ForecastSpec,
    actual: dict[SignalKey, Floats],
    history: dict[SignalKey, Floats],
    t0: np.datetime64,
    step_s: int,
) -> list[ForecastView]:
    """One view per seed (``noisy``) or one in all."""
    if spec.kind == "noisy":
        return [noisy(actual, spec.relative_sd, seed) for seed in spec.seeds]
    if spec.model:
        series = {k: np.concatenate([history.get(k, np.empty(0)), v]) for k, v in actual.items()}
        offset = len(next(iter(history.values()))) if history else 0
        return [ModelView(spec.model, series, offset, DAY_S // step_s)]
    if spec.kind == "file":
        assert spec.path is not None
        issues = read_issued(
            spec.path, sorted(actual, key=lambda k: (k[0], k[1].value)), t0, step_s
        )
        past = {k: history.get(k, np.empty(0)) for k in actual}
        return [FileView(issues, actual, past)]
    return [SeriesView(actual)]


def relative_error_pct(
    view: ForecastView, actual: dict[SignalKey, Floats], count: int, samples: int = 200
) -> dict[str, float]:
    """How wrong the view is: per signal, the mean absolute error over ``count`` steps ahead
    at up to ``samples`` origins spread over the grid, in percent of the series' mean."""
    out = {}
    for key in sorted(actual, key=lambda k: (k[0], k[1].value)):
        series = actual[key]
        n = len(series)
        origins = np.unique(np.linspace(0, max(0, n - count), samples).astype(np.int64))
        errors = []
        for o in origins:
            m = min(count, n - int(o))
            errors.append(np.abs(view.window(key, int(o), m) - series[o : o + m]))
        scale = float(np.mean(np.abs(series))) or 1.0
        out[f"{key[0]}/{key[1].value}"] = round(
            100.0 * float(np.mean(np.concatenate(errors))) / scale, 2
        )
    return out
