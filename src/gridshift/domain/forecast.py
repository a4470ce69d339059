"""Forecasts: predicted signal values over a horizon, always as of a time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from gridshift.domain.signal import FloatArray, SignalKind, TimeArray
from gridshift.domain.timeutil import as_np, require_utc


@dataclass(frozen=True, eq=False)
class Forecast:
    """Values predicted at ``as_of`` for ``times`` (all >= as_of), with an optional band.

    Nothing that decides at time t may use a forecast whose ``as_of`` is after t.
    """

    zone: str
    kind: SignalKind
    unit: str
    as_of: datetime
    times: TimeArray
    values: FloatArray
    step_s: int
    model: str
    lower: FloatArray | None = None
    upper: FloatArray | None = None
    quality: str = "ok"  # ok | fallback

    def __post_init__(self) -> None:
        object.__setattr__(self, "as_of", require_utc(self.as_of, "as_of"))
        if len(self.times) != len(self.values):
            raise ValueError("times and values must have the same length")
        if len(self.times) and self.times[0] < as_np(self.as_of) - np.timedelta64(self.step_s, "s"):
            raise ValueError("a forecast may not start before the step that holds its as_of")
