"""Clusters: pools of GPUs in one zone, with a power profile, a PUE, a site cap and a tariff."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

from gridshift.domain.errors import ConfigError
from gridshift.domain.signal import check_zone
from gridshift.domain.timeutil import as_np, require_utc

EXECUTORS = ("local", "slurm", "ray", "kubernetes", "fake")


@dataclass(frozen=True)
class GpuPowerProfile:
    """Per-GPU power draw: ``idle_w`` when allocated to nothing, ``max_w`` uncapped at load."""

    idle_w: float
    max_w: float

    def __post_init__(self) -> None:
        if not (0 <= self.idle_w <= self.max_w) or self.max_w <= 0:
            raise ConfigError(
                "needs 0 <= idle <= max and max > 0",
                field="gpu_power_w",
                value={"idle": self.idle_w, "max": self.max_w},
                accepted="for example {idle: 70, max: 700}",
            )


class TariffKind(StrEnum):
    WHOLESALE = "wholesale"  # the zone's price signal plus a fixed adder
    FIXED = "fixed"  # one price for every hour


@dataclass(frozen=True)
class Tariff:
    """What the site pays per MWh: wholesale plus an adder, or a fixed rate."""

    kind: TariffKind
    adder_usd_per_mwh: float = 0.0
    fixed_usd_per_mwh: float = 0.0

    def price_usd_per_mwh(self, wholesale: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """The tariff applied to wholesale prices (ignored for a fixed tariff)."""
        if self.kind is TariffKind.FIXED:
            return np.full(np.shape(wholesale), self.fixed_usd_per_mwh, dtype=np.float64)
        return np.asarray(wholesale, dtype=np.float64) + self.adder_usd_per_mwh

    @property
    def needs_price_signal(self) -> bool:
        return self.kind is TariffKind.WHOLESALE


@dataclass(frozen=True)
class PowerCapWindow:
    """A site power limit that holds over ``[start, end)``."""

    start: datetime
    end: datetime
    kw: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", require_utc(self.start, "power_cap_kw.windows.start"))
        object.__setattr__(self, "end", require_utc(self.end, "power_cap_kw.windows.end"))
        if self.end <= self.start:
            raise ConfigError(
                "window ends before it starts",
                field="power_cap_kw.windows",
                value=f"{self.start.isoformat()} .. {self.end.isoformat()}",
                accepted="end after start",
            )
        if self.kw < 0:
            raise ConfigError(
                "negative power limit",
                field="power_cap_kw.windows.kw",
                value=self.kw,
                accepted="kW >= 0",
            )


@dataclass(frozen=True)
class SitePowerCap:
    """A site limit in kW that may vary over time: ``default_kw`` (None = none) plus windows.

    Where windows overlap the lowest limit holds. Demand-response limits use the same mechanism.
    """

    default_kw: float | None = None
    windows: tuple[PowerCapWindow, ...] = ()

    def kw_at(self, times: npt.NDArray[np.datetime64]) -> npt.NDArray[np.float64]:
        """The limit at each time; ``inf`` where there is none."""
        limit = np.full(len(times), np.inf if self.default_kw is None else self.default_kw)
        for window in self.windows:
            inside = (times >= as_np(window.start)) & (times < as_np(window.end))
            limit[inside] = np.minimum(limit[inside], window.kw)
        return limit


@dataclass(frozen=True)
class Cluster:
    """A pool of GPUs in one zone, run by one executor."""

    name: str
    zone: str
    executor: str
    gpus: int | None  # None: unlimited (a cloud region, or a simulation bound)
    gpu_type: str
    gpu_power: GpuPowerProfile
    pue: float = 1.4
    power_cap: SitePowerCap = field(default_factory=SitePowerCap)
    tariff: Tariff = field(default_factory=lambda: Tariff(TariffKind.WHOLESALE))
    executor_options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_zone(self.zone)
        if self.executor not in EXECUTORS:
            raise ConfigError(
                "unknown executor",
                field="executor",
                value=self.executor,
                accepted=", ".join(EXECUTORS),
            )
        if self.gpus is not None and self.gpus < 0:
            raise ConfigError(
                "negative GPU count",
                field="gpus",
                value=self.gpus,
                accepted="a whole number >= 0, or 'unlimited'",
            )
        if not 1.0 <= self.pue <= 3.0:
            raise ConfigError(
                "PUE out of range",
                field="pue",
                value=self.pue,
                accepted="1.0 to 3.0 (typical 1.1-1.6)",
            )
        object.__setattr__(self, "executor_options", MappingProxyType(dict(self.executor_options)))

    def __getstate__(self) -> dict[str, object]:
        """Picklable (the planner may run in a worker process): options as a plain dict."""
        state = dict(self.__dict__)
        state["executor_options"] = dict(self.executor_options)
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        for key, value in state.items():
            object.__setattr__(self, key, value)
        object.__setattr__(self, "executor_options", MappingProxyType(dict(self.executor_options)))

    @property
    def unlimited(self) -> bool:
        return self.gpus is None

    def idle_kw(self) -> float:
        """Facility draw of the whole pool when idle (0 for an unlimited pool)."""
        if self.gpus is None:
            return 0.0
        return self.gpus * self.gpu_power.idle_w * self.pue / 1000.0
