"""``sim.yaml``: a site (clusters, signals, objective, as in ``gridshift.yaml``) plus the
simulation's own keys (DESIGN.md §3.5):

    start: 2022-03-01T00:00:00Z          # required
    end: 2022-03-15T00:00:00Z            # required; jobs submitted in [start, end)
    step: 15m                            # planning and settlement resolution
    workload: {file: jobs.csv, format: gridshift, defaults: {within: 24h, ...}, offset: 115d}
    forecast: perfect                    # or {kind: noisy, relative_sd: 0.05, seeds: [0, 1, 2]}
    policies: [run-now, lowest-window, lowest-slots, gridshift, oracle]
    replan: 1h                           # gridshift re-plans this often (and on arrivals)
    horizon: 48h                         # ... over this horizon
    seed: 0

Every error names the file, the key, the value and what is accepted, as for ``gridshift.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from gridshift.config.site import SiteConfig, site_from_data
from gridshift.config.units import parse_duration, parse_time
from gridshift.config.yamlio import read_yaml
from gridshift.domain import ConfigError
from gridshift.forecasting import models

POLICIES = ("run-now", "lowest-window", "lowest-slots", "gridshift", "oracle")
FORMATS = ("gridshift", "alibaba-openb", "gaia-pai", "pollux")
FORECASTS = ("perfect", "noisy", "persistence", "seasonal-naive", "model", "file")
# The as-of kinds and the forecasting model each one runs (``forecasting.models``).
AS_OF_MODELS = {"persistence": "persistence", "seasonal-naive": "seasonal-daily"}
DEFAULT_KEYS = ("within", "interruptible", "checkpoint_overhead", "watts_per_gpu")
SIM_KEYS = ("start", "end", "step", "workload", "forecast", "policies", "replan", "horizon", "seed")


@dataclass(frozen=True)
class Defaults:
    """What the workload's rows lack."""

    within_s: float | None = None
    interruptible: bool = False
    checkpoint_overhead_s: float = 300.0
    watts_per_gpu: float | None = None


@dataclass(frozen=True)
class ForecastSpec:
    kind: str = "perfect"  # one of FORECASTS
    relative_sd: float = 0.0  # noisy
    seeds: tuple[int, ...] = (0,)  # noisy
    model: str = (
        ""  # persistence | seasonal-naive | model: the forecasting model run as of each step
    )
    path: Path | None = None  # file: issued forecasts


@dataclass(frozen=True)
class SimConfig:
    site: SiteConfig
    start: datetime
    end: datetime
    step_s: int
    workload: Path
    workload_format: str
    workload_offset_s: float
    defaults: Defaults
    forecast: ForecastSpec
    policies: tuple[str, ...]
    replan_s: int
    horizon_s: int
    seed: int
    source: str
    echo: dict[str, Any] = field(default_factory=dict)  # the simulation keys as given
    gpu_hours: dict[str, float] = field(default_factory=dict)  # pollux: GPU-hours by application


def _mapping(value: Any, source: str, key: str, accepted: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError("not a mapping", source=source, field=key, value=value, accepted=accepted)
    return value


def _unknown(keys: dict[str, Any], allowed: tuple[str, ...], source: str, prefix: str) -> None:
    for key in keys:
        if key not in allowed:
            raise ConfigError(
                "unknown key",
                source=source,
                field=f"{prefix}.{key}" if prefix else key,
                value=key,
                accepted=", ".join(allowed),
            )


def _one_of(value: Any, accepted: tuple[str, ...], source: str, key: str) -> None:
    """``value`` is one of ``accepted``."""
    if value in accepted:
        return
    raise ConfigError(
        "unknown value", source=source, field=key, value=value, accepted=", ".join(accepted)
    )


def _defaults(value: Any, source: str) -> Defaults:
    data = _mapping(value, source, "workload.defaults", ", ".join(DEFAULT_KEYS))
    _unknown(data, DEFAULT_KEYS, source, "workload.defaults")
    within = data.get("within")
    flag = data.get("interruptible", False)
    if not isinstance(flag, bool):
        raise ConfigError(
            "not true or false",
            source=source,
            field="workload.defaults.interruptible",
            value=flag,
            accepted="true or false",
        )
    watts = data.get("watts_per_gpu")
    if watts is not None and (isinstance(watts, bool) or not isinstance(watts, int | float)):
        raise ConfigError(
            "not a number",
            source=source,
            field="workload.defaults.watts_per_gpu",
            value=watts,
            accepted="watts per GPU, e.g. 400",
        )
    if watts is not None and not 0 < float(watts) <= 5000:
        raise ConfigError(
            "out of range",
            source=source,
            field="workload.defaults.watts_per_gpu",
            value=watts,
            accepted="more than 0 and at most 5000",
        )
    overhead = data.get("checkpoint_overhead", "5m")
    return Defaults(
        within_s=None
        if within is None
        else parse_duration(within, field="workload.defaults.within", source=source),
        interruptible=flag,
        checkpoint_overhead_s=parse_duration(
            overhead, field="workload.defaults.checkpoint_overhead", source=source
        ),
        watts_per_gpu=None if watts is None else float(watts),
    )


def _forecast(value: Any, source: str, base: Path) -> ForecastSpec:
    if isinstance(value, str):
        kind = value
        data: dict[str, Any] = {}
    else:
        data = _mapping(
            value,
            source,
            "forecast",
            "perfect, persistence, seasonal-naive, model, {kind: noisy, relative_sd: 0.05} "
            "or {kind: file, path: forecasts.csv}",
        )
        _unknown(data, ("kind", "relative_sd", "seeds", "model", "path"), source, "forecast")
        kind = data.get("kind", "")
    _one_of(kind, FORECASTS, source, "forecast.kind" if data else "forecast")
    if kind == "perfect":
        return ForecastSpec()
    if kind in AS_OF_MODELS:
        return ForecastSpec(kind, model=AS_OF_MODELS[kind])
    if kind == "model":
        name = data.get("model", models.DEFAULT_MODEL)
        if name not in models.MODELS:
            raise ConfigError(
                "unknown forecast model",
                source=source,
                field="forecast.model",
                value=name,
                accepted=", ".join(models.MODELS),
            )
        return ForecastSpec(kind, model=str(name))
    if kind == "file":
        path = data.get("path")
        if not isinstance(path, str) or not path:
            raise ConfigError(
                "missing or not a path",
                source=source,
                field="forecast.path",
                value=path,
                accepted="a CSV or Parquet file of issued forecasts (zone, kind, issued_at, "
                "time, value)",
            )
        resolved = (base / path).resolve()
        if not resolved.is_file():
            raise ConfigError(
                "no such file",
                source=source,
                field="forecast.path",
                value=path,
                accepted=f"an existing file (looked for {resolved})",
            )
        return ForecastSpec(kind, path=resolved)
    sd = data.get("relative_sd")
    if isinstance(sd, bool) or not isinstance(sd, int | float) or not 0 <= float(sd) <= 10:
        raise ConfigError(
            "not a standard deviation",
            source=source,
            field="forecast.relative_sd",
            value=sd,
            accepted="a number from 0 to 10 (0.05 = 5 % of the series' mean)",
        )
    seeds = data.get("seeds", [0])
    if (
        not isinstance(seeds, list)
        or not seeds
        or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)
    ):
        raise ConfigError(
            "not a list of integers",
            source=source,
            field="forecast.seeds",
            value=seeds,
            accepted="e.g. [0, 1, 2]",
        )
    return ForecastSpec("noisy", float(sd), tuple(seeds))


def _gpu_hours(value: Any, source: str) -> dict[str, float]:
    data = _mapping(value, source, "workload.gpu_hours", "{application: GPU-hours}, e.g. {bert: 4}")
    out = {}
    for name, hours in data.items():
        if isinstance(hours, bool) or not isinstance(hours, int | float) or not hours > 0:
            raise ConfigError(
                "not a positive number of GPU-hours",
                source=source,
                field=f"workload.gpu_hours.{name}",
                value=hours,
                accepted="GPU-hours one job of the application takes, e.g. 4",
            )
        out[str(name)] = float(hours)
    return out


def _policies(value: Any, source: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise ConfigError(
            "not a list of policies",
            source=source,
            field="policies",
            value=value,
            accepted=", ".join(POLICIES),
        )
    for name in value:
        if name not in POLICIES:
            raise ConfigError(
                "unknown policy",
                source=source,
                field="policies",
                value=name,
                accepted=", ".join(POLICIES),
            )
    ordered = tuple(dict.fromkeys(value))
    if "run-now" not in ordered:
        ordered = ("run-now", *ordered)  # savings are against run-now: it always runs
    return ordered


def sim_from_data(data: Any, source: str, base: Path) -> SimConfig:
    data = _mapping(data, source, "", "a mapping of keys")
    sim = {k: data[k] for k in SIM_KEYS if k in data}
    site = site_from_data({k: v for k, v in data.items() if k not in SIM_KEYS}, source, base)
    for key in ("start", "end", "workload"):
        if key not in sim:
            raise ConfigError("missing key", source=source, field=key, accepted=f"a {key} key")
    start = parse_time(sim["start"], field="start", source=source)
    end = parse_time(sim["end"], field="end", source=source)
    if end <= start:
        raise ConfigError(
            "end is not after start",
            source=source,
            field="end",
            value=str(sim["end"]),
            accepted=f"a time after start ({start.isoformat()})",
        )
    step_s = int(parse_duration(sim.get("step", "15m"), field="step", source=source))
    if 86400 % step_s:
        raise ConfigError(
            "step does not divide a day",
            source=source,
            field="step",
            value=str(sim.get("step")),
            accepted="e.g. 5m, 15m, 30m, 1h",
        )
    workload = _mapping(sim["workload"], source, "workload", "{file: jobs.csv, format: gridshift}")
    _unknown(workload, ("file", "format", "defaults", "offset", "gpu_hours"), source, "workload")
    if "file" not in workload or not isinstance(workload["file"], str):
        raise ConfigError(
            "missing or not a path",
            source=source,
            field="workload.file",
            value=workload.get("file"),
            accepted="a path to the jobs file, relative to this file",
        )
    fmt = workload.get("format", "gridshift")
    _one_of(fmt, FORMATS, source, "workload.format")
    offset_s = 0.0
    if "offset" in workload:  # the trace time that maps onto start (traces only)
        offset_s = parse_duration(workload["offset"], field="workload.offset", source=source)
    gpu_hours = _gpu_hours(workload.get("gpu_hours", {}), source)
    path = Path(workload["file"])
    path = path if path.is_absolute() else base / path
    replan_s = int(parse_duration(sim.get("replan", "1h"), field="replan", source=source))
    horizon_s = int(parse_duration(sim.get("horizon", "48h"), field="horizon", source=source))
    for key, seconds in (("replan", replan_s), ("horizon", horizon_s)):
        if seconds % step_s:
            raise ConfigError(
                f"{key} is not a whole number of steps",
                source=source,
                field=key,
                value=str(sim.get(key)),
                accepted=f"a multiple of the step ({step_s} s)",
            )
    seed = sim.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError("not an integer", source=source, field="seed", value=seed)
    echo = {k: (str(v) if isinstance(v, datetime) else v) for k, v in sim.items()}
    return SimConfig(
        site=site,
        start=start,
        end=end,
        step_s=step_s,
        workload=path,
        workload_format=fmt,
        workload_offset_s=offset_s,
        defaults=_defaults(workload.get("defaults", {}), source),
        gpu_hours=gpu_hours,
        forecast=_forecast(sim.get("forecast", "perfect"), source, base),
        policies=_policies(sim.get("policies", list(POLICIES)), source),
        replan_s=replan_s,
        horizon_s=horizon_s,
        seed=seed,
        source=source,
        echo=echo,
    )


def load_sim(path: Path) -> SimConfig:
    return sim_from_data(read_yaml(path), str(path), path.resolve().parent)
