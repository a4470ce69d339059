"""Clocks: the engine, the API and the simulator ask one of these, never ``datetime.now()``.

- ``SystemClock``: wall time, UTC.
- ``ScaledClock``: an accelerated clock for demos and fault tests: time runs ``scale`` times as
  fast as wall time from an origin. The origin is a pair (simulated time, wall time), so a
  restarted server that reads the same pair continues the same timeline.
- ``ManualClock``: set and advanced by tests.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...

    def at_wall(self, epoch_s: float) -> datetime:
        """This clock's time at a wall-clock instant (an executor's record of an exit)."""
        ...

    @property
    def scale(self) -> float:
        """Simulated seconds per wall-clock second (1 for the real clock)."""
        ...


class SystemClock:
    scale = 1.0

    def now(self) -> datetime:
        return datetime.now(UTC)

    def at_wall(self, epoch_s: float) -> datetime:
        return datetime.fromtimestamp(epoch_s, UTC)


@dataclass(frozen=True)
class ScaledClock:
    origin: datetime  # simulated time at ``wall_origin``
    wall_origin: float  # epoch seconds
    scale: float

    @classmethod
    def starting(cls, origin: datetime, scale: float) -> ScaledClock:
        return cls(origin, time.time(), scale)

    def now(self) -> datetime:
        return self.origin + timedelta(seconds=(time.time() - self.wall_origin) * self.scale)

    def at_wall(self, epoch_s: float) -> datetime:
        return self.origin + timedelta(seconds=(epoch_s - self.wall_origin) * self.scale)

    def wall_seconds(self, simulated_s: float) -> float:
        return simulated_s / self.scale


class ManualClock:
    scale = 1.0

    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def at_wall(self, epoch_s: float) -> datetime:
        return self._now  # a manual clock has no wall time: what happened, happened now

    def advance(self, seconds: float) -> datetime:
        self._now += timedelta(seconds=seconds)
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when
