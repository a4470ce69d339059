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

POLICIES = ("run-now", "lowest-window", "lowest-slots", "gridshift", "oracle")
FORMATS = ("gridshift", "alibaba-openb", "gaia-pai")
LATER_FORMATS = ("pollux",)
FORECASTS = ("perfect", "noisy")
LATER_FORECASTS = ("persistence", "seasonal-naive", "model", "file")
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
    kind: str = "perfect"  # perfect | noisy
    relative_sd: float = 0.0
    seeds: tuple[int, ...] = (0,)


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


def _one_of(
    value: Any, accepted: tuple[str, ...], later: tuple[str, ...], source: str, key: str
) -> None:
    """``value`` is one of ``accepted``; one of ``later`` is named as not simulated yet."""
    if value in accepted:
        return
    raise ConfigError(
        "not simulated yet" if value in later else "unknown value",
        source=source,
        field=key,
        value=value,
        accepted=", ".join(accepted),
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


def _forecast(value: Any, source: str) -> ForecastSpec:
    if isinstance(value, str):
        kind = value
        data: dict[str, Any] = {}
    else:
        data = _mapping(value, source, "forecast", "perfect, or {kind: noisy, relative_sd: 0.05}")
        _unknown(data, ("kind", "relative_sd", "seeds"), source, "forecast")
        kind = data.get("kind", "")
    _one_of(kind, FORECASTS, LATER_FORECASTS, source, "forecast.kind" if data else "forecast")
    if kind == "perfect":
        return ForecastSpec()
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
    _unknown(workload, ("file", "format", "defaults", "offset"), source, "workload")
    if "file" not in workload or not isinstance(workload["file"], str):
        raise ConfigError(
            "missing or not a path",
            source=source,
            field="workload.file",
            value=workload.get("file"),
            accepted="a path to the jobs file, relative to this file",
        )
    fmt = workload.get("format", "gridshift")
    _one_of(fmt, FORMATS, LATER_FORMATS, source, "workload.format")
    offset_s = 0.0
    if "offset" in workload:  # the trace time that maps onto start (traces only)
        offset_s = parse_duration(workload["offset"], field="workload.offset", source=source)
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
        forecast=_forecast(sim.get("forecast", "perfect"), source),
        policies=_policies(sim.get("policies", list(POLICIES)), source),
        replan_s=replan_s,
        horizon_s=horizon_s,
        seed=seed,
        source=source,
        echo=echo,
    )


def load_sim(path: Path) -> SimConfig:
    return sim_from_data(read_yaml(path), str(path), path.resolve().parent)
