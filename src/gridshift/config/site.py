"""``gridshift.yaml``: clusters, signal sources and the objective, as typed records.

Cross-checks done here (each one ``ConfigError`` naming the file, the field and the fix): cluster
names are unique; every GPU type without ``gpu_power_w`` is one we have figures for; each signal
file exists; every cluster's zone has the signals its tariff and the objective need.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx

from gridshift.config import schema
from gridshift.config.units import parse_duration, parse_time
from gridshift.config.yamlio import read_yaml
from gridshift.domain import (
    Cluster,
    ConfigError,
    GpuPowerProfile,
    Objective,
    ObjectiveMode,
    PowerCapWindow,
    SignalKind,
    SitePowerCap,
    Tariff,
    TariffKind,
    check_zone,
)
from gridshift.domain.power import GPU_DEFAULTS
from gridshift.domain.signal import unit_conversion
from gridshift.signals.importers import KINDS, READERS, ImportOptions, guess_format
from gridshift.signals.library import bundled_entries
from gridshift.signals.providers import ProviderOptions, provider_class, provider_names
from gridshift.signals.providers.base import DEFAULT_STALENESS_S

SOURCES = ("file", "bundled", *provider_names())
FILE_KEYS = ("path", "format", "time_column", "value_column", "unit", "timezone", "start")
COMMON_PROVIDER_KEYS = ("base_url", "staleness")
PROVIDER_KEYS = (
    "region",
    "base_url",
    "staleness",
    "emission_factor",
    "eur_usd",
    "latitude",
    "longitude",
)


@dataclass(frozen=True)
class SignalSource:
    """Where one zone's signal of one kind comes from."""

    zone: str
    kind: SignalKind
    source: str  # file | bundled | a live provider's name (electricitymaps, ...)
    path: Path | None = None
    options: ImportOptions | None = None
    provider: ProviderOptions | None = None

    @property
    def live(self) -> bool:
        return self.provider is not None


@dataclass(frozen=True)
class SiteConfig:
    clusters: tuple[Cluster, ...]
    signals: tuple[SignalSource, ...]
    objective: Objective
    path: Path | None = None
    zones: tuple[str, ...] = field(default=())

    def cluster(self, name: str) -> Cluster:
        for cluster in self.clusters:
            if cluster.name == name:
                return cluster
        raise KeyError(name)


def _cluster(spec: schema.ClusterSpec, i: int, source: str) -> Cluster:
    where = f"clusters[{i}]"
    try:
        # Zone and executor are checked by Cluster itself; here only what needs the spec.
        zone = check_zone(spec.zone)
        if spec.gpu_power_w is not None:
            power = GpuPowerProfile(idle_w=spec.gpu_power_w.idle, max_w=spec.gpu_power_w.max)
        elif spec.gpu_type.upper() in GPU_DEFAULTS:
            known = GPU_DEFAULTS[spec.gpu_type.upper()]
            power = GpuPowerProfile(idle_w=known.idle_w, max_w=known.tdp_w)
        else:
            raise ConfigError(
                "no power figures for this GPU type",
                field="gpu_type",
                value=spec.gpu_type,
                accepted=f"one of {', '.join(GPU_DEFAULTS)}, or give gpu_power_w: "
                "{idle: W, max: W}",
            )
        cap = SitePowerCap()
        if isinstance(spec.power_cap_kw, float | int):
            if spec.power_cap_kw < 0:
                raise ConfigError(
                    "negative power limit",
                    field="power_cap_kw",
                    value=spec.power_cap_kw,
                    accepted="kW >= 0",
                )
            cap = SitePowerCap(default_kw=float(spec.power_cap_kw))
        elif isinstance(spec.power_cap_kw, schema.PowerCapSpec):
            windows = tuple(
                PowerCapWindow(
                    start=parse_time(w.start, field=f"power_cap_kw.windows[{j}].start"),
                    end=parse_time(w.end, field=f"power_cap_kw.windows[{j}].end"),
                    kw=w.kw,
                )
                for j, w in enumerate(spec.power_cap_kw.windows)
            )
            if spec.power_cap_kw.default is not None and spec.power_cap_kw.default < 0:
                raise ConfigError(
                    "negative power limit",
                    field="power_cap_kw.default",
                    value=spec.power_cap_kw.default,
                    accepted="kW >= 0",
                )
            cap = SitePowerCap(default_kw=spec.power_cap_kw.default, windows=windows)
        tariff = _tariff(spec.tariff)
        return Cluster(
            name=spec.name,
            zone=zone,
            executor=spec.executor,
            gpus=None if spec.gpus == "unlimited" else int(spec.gpus),
            gpu_type=spec.gpu_type,
            gpu_power=power,
            pue=spec.pue,
            power_cap=cap,
            tariff=tariff,
            executor_options=spec.executor_options,
        )
    except ConfigError as exc:
        raise exc.at(source, where) from None


def _tariff(spec: schema.TariffSpec) -> Tariff:
    if spec.kind == "fixed":
        if spec.usd_per_mwh is None:
            raise ConfigError(
                "a fixed tariff needs its price",
                field="tariff.usd_per_mwh",
                value=None,
                accepted="tariff: {kind: fixed, usd_per_mwh: 120}",
            )
        if spec.adder_usd_per_mwh is not None:
            raise ConfigError(
                "a fixed tariff has no adder",
                field="tariff.adder_usd_per_mwh",
                value=spec.adder_usd_per_mwh,
                accepted="usd_per_mwh only",
            )
        return Tariff(TariffKind.FIXED, fixed_usd_per_mwh=spec.usd_per_mwh)
    if spec.usd_per_mwh is not None:
        raise ConfigError(
            "a wholesale tariff follows the price signal; it takes an adder",
            field="tariff.usd_per_mwh",
            value=spec.usd_per_mwh,
            accepted="tariff: {kind: wholesale, adder_usd_per_mwh: 25}, or kind: fixed",
        )
    return Tariff(TariffKind.WHOLESALE, adder_usd_per_mwh=spec.adder_usd_per_mwh or 0.0)


def _signal(spec: schema.SignalSpec, i: int, source: str, base: Path) -> SignalSource:
    where = f"signals[{i}]"
    try:
        zone = check_zone(spec.zone)
        kind = SignalKind.parse(spec.kind)
        if spec.source not in SOURCES:
            raise ConfigError(
                "unknown signal source",
                field="source",
                value=spec.source,
                accepted=", ".join(SOURCES),
            )
        if spec.source not in ("file", "bundled"):
            return _live(spec, zone, kind)
        for key in PROVIDER_KEYS:
            if getattr(spec, key) is not None:
                raise ConfigError(
                    f"{key} is for live provider sources",
                    field=key,
                    value=getattr(spec, key),
                    accepted=f"remove it, or use a live source ({', '.join(provider_names())})",
                )
        if spec.source == "bundled":
            shipped = {(e.zone, e.kind) for e in bundled_entries()}
            if (zone, kind) not in shipped:
                have = sorted(z for z, k in shipped if k is kind)
                raise ConfigError(
                    f"no bundled {kind.value} data for {zone}",
                    field="zone",
                    value=zone,
                    accepted=f"bundled {kind.value} zones: {', '.join(have)}; or a file source",
                )
            return SignalSource(zone=zone, kind=kind, source="bundled")
        if not spec.path:
            raise ConfigError(
                "a file source needs a path",
                field="path",
                value=None,
                accepted="path: relative to this file, or absolute",
            )
        try:
            path = Path(spec.path).expanduser()
        except RuntimeError:
            raise ConfigError(
                "cannot expand '~' in this path",
                field="path",
                value=spec.path,
                accepted="an absolute path, or one relative to this file",
            ) from None
        if not path.is_absolute():
            path = base / path
        if not path.is_file():
            raise ConfigError(
                "signal file not found",
                field="path",
                value=spec.path,
                accepted=f"an existing file (looked for {path})",
            )
        fmt = spec.format or guess_format(path)
        if fmt not in READERS:
            raise ConfigError(
                "unknown signal file format",
                field="format",
                value=fmt,
                accepted=", ".join(sorted(READERS)),
            )
        if kind not in KINDS[fmt]:
            raise ConfigError(
                f"the {fmt} format does not carry {kind.value} signals",
                field="format",
                value=fmt,
                accepted=", ".join(f for f, kinds in KINDS.items() if kind in kinds),
            )
        if spec.unit is not None:
            unit_conversion(spec.unit, kind, "unit")
        if spec.timezone is not None:
            try:
                ZoneInfo(spec.timezone)
            except (ZoneInfoNotFoundError, ValueError):
                raise ConfigError(
                    "unknown time zone",
                    field="timezone",
                    value=spec.timezone,
                    accepted="an IANA zone such as UTC or Europe/Berlin",
                ) from None
        options = ImportOptions(
            zone=zone,
            kind=kind,
            format=fmt,
            time_column=spec.time_column,
            value_column=spec.value_column,
            unit=spec.unit,
            timezone=spec.timezone,
            start=parse_time(spec.start, field="start") if spec.start else None,
        )
        return SignalSource(zone=zone, kind=kind, source="file", path=path, options=options)
    except ConfigError as exc:
        raise exc.at(source, where) from None


def _check_url(text: str) -> None:
    try:
        url = httpx.URL(text)
        ok = url.scheme in ("http", "https") and bool(url.host) and " " not in text
    except (httpx.InvalidURL, ValueError, TypeError):
        ok = False
    if not ok:
        raise ConfigError(
            "not an HTTP URL",
            field="base_url",
            value=text,
            accepted="http(s)://host[:port][/path], e.g. https://mirror.example/carbon",
        )


def _live(spec: schema.SignalSpec, zone: str, kind: SignalKind) -> SignalSource:
    """A live provider source: its options checked by the provider itself."""
    for key in FILE_KEYS:
        if getattr(spec, key) is not None:
            raise ConfigError(
                f"{key} is for file sources; {spec.source} is a live provider",
                field=key,
                value=getattr(spec, key),
                accepted="remove it (gridshift signals fetch stores what the provider gives)",
            )
    provider = provider_class(spec.source)
    for key in PROVIDER_KEYS:
        unused = key not in COMMON_PROVIDER_KEYS and key not in provider.option_keys
        if unused and getattr(spec, key) is not None:
            raise ConfigError(
                f"{spec.source} does not use {key}",
                field=key,
                value=getattr(spec, key),
                accepted=f"{spec.source} reads: "
                + ", ".join(sorted(provider.option_keys | set(COMMON_PROVIDER_KEYS))),
            )
    if (spec.latitude is None) != (spec.longitude is None):
        missing = "longitude" if spec.longitude is None else "latitude"
        raise ConfigError(
            "latitude and longitude go together",
            field=missing,
            value=None,
            accepted="both, or neither (then region)",
        )
    extra: dict[str, str] = {}
    if spec.emission_factor is not None:
        if spec.emission_factor not in ("lifecycle", "direct"):
            raise ConfigError(
                "unknown emission factor",
                field="emission_factor",
                value=spec.emission_factor,
                accepted="lifecycle, direct",
            )
        extra["emission_factor"] = spec.emission_factor
    if spec.eur_usd is not None:
        if not 0 < spec.eur_usd < 10:
            raise ConfigError(
                "exchange rate out of range",
                field="eur_usd",
                value=spec.eur_usd,
                accepted="USD per EUR, e.g. 1.08",
            )
        extra["eur_usd"] = repr(spec.eur_usd)
    for key, bound in (("latitude", 90.0), ("longitude", 180.0)):
        value = getattr(spec, key)
        if value is not None:
            if not -bound <= value <= bound:
                raise ConfigError(
                    f"{key} out of range",
                    field=key,
                    value=value,
                    accepted=f"-{bound:g} to {bound:g}",
                )
            extra[key] = repr(value)
    if spec.base_url is not None:
        _check_url(spec.base_url)
    staleness = DEFAULT_STALENESS_S
    if spec.staleness is not None:
        staleness = int(parse_duration(spec.staleness, field="staleness"))
    options = ProviderOptions(
        region=spec.region, base_url=spec.base_url, staleness_s=staleness, extra=extra
    )
    provider.check(zone, kind, options)
    return SignalSource(zone=zone, kind=kind, source=spec.source, provider=options)


def _objective(spec: schema.ObjectiveSpec, source: str) -> Objective:
    mode = ObjectiveMode(spec.mode) if spec.mode else ObjectiveMode.COMBINED
    price = spec.carbon_price_usd_per_tonne
    if price is not None and mode is not ObjectiveMode.COMBINED:
        raise ConfigError(
            f"a carbon price has no effect in {mode.value} mode",
            source=source,
            field="objective.carbon_price_usd_per_tonne",
            value=price,
            accepted="{carbon_price_usd_per_tonne: 100} alone, or {mode: carbon} / {mode: cost}",
        )
    try:
        return Objective(mode=mode, carbon_price_usd_per_tonne=100.0 if price is None else price)
    except ConfigError as exc:
        raise exc.at(source) from None


def site_from_data(data: Any, source: str, base: Path) -> SiteConfig:
    spec = schema.validate(schema.SiteSpec, data, source)
    if not spec.clusters:
        raise ConfigError(
            "no clusters", source=source, field="clusters", accepted="at least one cluster"
        )
    clusters = tuple(_cluster(c, i, source) for i, c in enumerate(spec.clusters))
    names = [c.name for c in clusters]
    for i, name in enumerate(names):
        if names.index(name) != i:
            raise ConfigError(
                "cluster name used twice",
                source=source,
                field=f"clusters[{i}].name",
                value=name,
                accepted="unique names",
            )
    signals = tuple(_signal(s, i, source, base) for i, s in enumerate(spec.signals))
    seen: dict[tuple[str, SignalKind], int] = {}
    for i, sig in enumerate(signals):
        key = (sig.zone, sig.kind)
        if key in seen:
            raise ConfigError(
                f"a second {sig.kind.value} source for {sig.zone} (first at signals[{seen[key]}])",
                source=source,
                field=f"signals[{i}]",
                value=sig.zone,
                accepted="one source per zone and kind",
            )
        seen[key] = i
    objective = _objective(spec.objective, source)
    for i, cluster in enumerate(clusters):
        needed = []
        if cluster.tariff.needs_price_signal and objective.mode is not ObjectiveMode.CARBON:
            needed.append(SignalKind.PRICE)
        if objective.mode is not ObjectiveMode.COST:
            needed.append(SignalKind.CARBON)
        for kind in needed:
            if (cluster.zone, kind) not in seen:
                raise ConfigError(
                    f"cluster {cluster.name!r} needs a {kind.value} signal for {cluster.zone}",
                    source=source,
                    field=f"clusters[{i}].zone",
                    value=cluster.zone,
                    accepted=f"add to signals: {{zone: {cluster.zone}, kind: {kind.value}, "
                    "source: bundled}, or a file"
                    + (
                        ", or use tariff: {kind: fixed, usd_per_mwh: ...}"
                        if kind is SignalKind.PRICE
                        else ""
                    ),
                )
    zones = tuple(sorted({c.zone for c in clusters}))
    return SiteConfig(
        clusters=clusters, signals=signals, objective=objective, path=None, zones=zones
    )


def load_site(path: Path) -> SiteConfig:
    """Read and check ``gridshift.yaml``; relative signal paths are relative to the file."""
    site = site_from_data(read_yaml(path), str(path), path.resolve().parent)
    return SiteConfig(
        clusters=site.clusters,
        signals=site.signals,
        objective=site.objective,
        path=path,
        zones=site.zones,
    )
