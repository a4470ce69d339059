"""The simulation's clock and signals: one grid of steps from ``start`` until every job could be
done (the latest deadline plus a day of drain), the **actual** signal values on it (what every
policy is settled on), and the forecast values each policy plans with.

What a policy is told comes from a ``forecasts.ForecastView`` (perfect, noisy, as-of models,
issued forecasts from a file); a policy deciding at step k is handed forecasts as of k for
``[k, k + horizon)`` only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

from gridshift.domain import Forecast, Job, SignalDataError, SignalKind
from gridshift.domain.timeutil import as_np
from gridshift.signals.align import align
from gridshift.signals.library import SignalLibrary
from gridshift.signals.sources import load_site_signals
from gridshift.simulate.config import SimConfig
from gridshift.simulate.forecasts import HISTORY_DAYS, ForecastView

Floats = npt.NDArray[np.float64]
SignalKey = tuple[str, SignalKind]
DRAIN_S = 86400  # after the latest deadline: late work still runs and is settled


@dataclass(frozen=True)
class SimGrid:
    t0: datetime
    step_s: int
    steps: int

    @property
    def step_h(self) -> float:
        return self.step_s / 3600.0

    @property
    def end(self) -> datetime:
        return self.time_at(self.steps)

    def time_at(self, step: float) -> datetime:
        return self.t0 + timedelta(seconds=step * self.step_s)

    def step_of(self, when: datetime) -> float:
        return (when - self.t0).total_seconds() / self.step_s

    def times(self, first: int = 0, count: int | None = None) -> npt.NDArray[np.datetime64]:
        n = self.steps - first if count is None else count
        return as_np(self.time_at(first)) + np.arange(n, dtype=np.int64) * np.timedelta64(
            self.step_s, "s"
        )


def grid_for(config: SimConfig, jobs: list[Job]) -> SimGrid:
    latest = max([config.end, *(j.deadline for j in jobs)])
    span = (latest - config.start).total_seconds() + DRAIN_S
    return SimGrid(config.start, config.step_s, math.ceil(span / config.step_s))


@dataclass(frozen=True)
class Signals:
    """Values on the grid, by (zone, kind): what happened (``actual``, every step known), and
    the ``HISTORY_DAYS`` before ``start`` (NaN where the data has none) for as-of models."""

    grid: SimGrid
    actual: dict[SignalKey, Floats]
    units: dict[SignalKey, str]
    history: dict[SignalKey, Floats] = field(default_factory=dict)

    def forecasts(self, view: ForecastView, first: int, count: int) -> dict[SignalKey, Forecast]:
        """Forecasts as of step ``first`` for ``count`` steps (cut at the grid's end)."""
        count = max(1, min(count, self.grid.steps - first))
        times = self.grid.times(first, count)
        as_of = self.grid.time_at(first)
        return {
            (zone, kind): Forecast(
                zone=zone,
                kind=kind,
                unit=self.units[(zone, kind)],
                as_of=as_of,
                times=times,
                values=np.asarray(view.window((zone, kind), first, count), dtype=np.float64),
                step_s=self.grid.step_s,
                model="simulated",
            )
            for (zone, kind) in self.actual
        }


def load_signals(config: SimConfig, grid: SimGrid, library: SignalLibrary) -> Signals:
    """The site's signals on the grid; a gap anywhere in it is refused (settlement needs every
    step's actual value)."""
    series = load_site_signals(config.site, library)
    actual: dict[SignalKey, Floats] = {}
    history: dict[SignalKey, Floats] = {}
    units = {}
    for key, s in series.items():
        on_grid = align(s, grid.step_s, grid.t0, grid.end)
        values = np.asarray(on_grid.values, dtype=np.float64)
        missing = ~np.isfinite(values)
        if missing.any():
            first = grid.time_at(int(np.argmax(missing)))
            raise SignalDataError(
                f"the {key[0]} {key[1].value} data has no value at {first.isoformat()} "
                f"({int(missing.sum())} of {len(values)} steps missing between "
                f"{grid.t0.isoformat()} and {grid.end.isoformat()})",
                source=config.source,
                hint=f"the simulation settles every step up to the latest deadline plus a day "
                f"of drain; the data covers {s.start.isoformat()} .. {s.end.isoformat()}: move "
                "start/end or import more data",
            )
        actual[key] = values
        units[key] = s.unit
        before = grid.t0 - timedelta(days=HISTORY_DAYS)
        history[key] = np.asarray(align(s, grid.step_s, before, grid.t0).values, dtype=np.float64)
    return Signals(grid, actual, units, history)
