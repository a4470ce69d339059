"""Forecasts: predicted signal values over a horizon, always as of a time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from gridshift.domain.signal import FloatArray, SignalKind, TimeArray
from gridshift.domain.timeutil import as_np, require_utc


@dataclass(frozen=True, eq=False)
class Forecast:
    """Values predicted for ``times`` (step ``step_s``), as the world stood at ``as_of``.

    ``generated_at`` is when the values were produced: ``as_of`` for our models, the provider's own
    time for a provider forecast (never after ``as_of``). ``lower``/``upper`` are an 80 % band where
    the model has one. ``quality`` is ``fallback`` when a substitute stood in for the preferred
    source, and ``note`` then says what failed and what stood in.

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
    generated_at: datetime | None = None
    note: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "as_of", require_utc(self.as_of, "as_of"))
        generated = self.as_of if self.generated_at is None else self.generated_at
        generated = require_utc(generated, "generated_at")
        if generated > self.as_of:
            raise ValueError("a forecast cannot be generated after its as_of")
        object.__setattr__(self, "generated_at", generated)
        if len(self.times) != len(self.values):
            raise ValueError("times and values must have the same length")
        for band in (self.lower, self.upper):
            if band is not None and len(band) != len(self.values):
                raise ValueError("a band must have one value per time")
        if len(self.times) and self.times[0] < as_np(self.as_of) - np.timedelta64(self.step_s, "s"):
            raise ValueError("a forecast may not start before the step that holds its as_of")

    @property
    def horizon_s(self) -> int:
        """Seconds from ``as_of`` to the end of the last forecast step."""
        if not len(self.times):
            return 0
        end = self.times[-1] + np.timedelta64(self.step_s, "s")
        return int((end - as_np(self.as_of)).astype("timedelta64[s]").astype(np.int64))
