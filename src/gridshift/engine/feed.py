"""The engine's view of the signals: forecasts as of the clock's now over the plan's horizon,
refreshed at an interval; a change of what they say is an event that re-plans.

Forecasts come from ``forecasting.service`` (provider, model on history, seasonal, flat), which
never raises for a provider's fault and never returns NaN: a zone whose signal is down degrades
to a fallback (marked so), never blocks a plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from gridshift.config.site import SiteConfig
from gridshift.domain import Forecast, SignalKind
from gridshift.forecasting.service import Forecaster

Key = tuple[str, SignalKind]


@dataclass
class Snapshot:
    at: datetime
    forecasts: dict[Key, Forecast]


class SignalFeed:
    def __init__(
        self,
        site: SiteConfig,
        forecaster: Forecaster,
        refresh_s: float,
        horizon_s: int,
        model: str | None = None,
    ) -> None:
        self.site = site
        self.forecaster = forecaster
        self.refresh_s = refresh_s
        self.horizon_s = horizon_s
        self.model = model
        self.latest: Snapshot | None = None

    def due(self, now: datetime) -> bool:
        return self.latest is None or (now - self.latest.at).total_seconds() >= self.refresh_s

    def refresh(self, now: datetime) -> bool:
        """New forecasts as of ``now``; True when they differ from the previous ones."""
        got: dict[Key, Forecast] = {}
        for source in self.site.signals:
            key = (source.zone, source.kind)
            got[key] = self.forecaster.forecast(
                source.zone, source.kind, now, self.horizon_s, self.model
            )
        before = self.latest
        self.latest = Snapshot(now, got)
        if before is None:
            return True
        return any(_differs(before.forecasts.get(k), f) for k, f in got.items())

    def current(self, now: datetime) -> dict[Key, Forecast]:
        if self.due(now):
            self.refresh(now)
        assert self.latest is not None
        return self.latest.forecasts


def _differs(old: Forecast | None, new: Forecast) -> bool:
    if old is None or len(old.values) != len(new.values):
        return True
    return not np.allclose(old.values, new.values, rtol=1e-3, equal_nan=True)
