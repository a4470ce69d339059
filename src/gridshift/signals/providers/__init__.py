"""Live signal providers, one module each behind ``base.Provider``; ``make_provider`` builds one.

| ``source:`` | module | kinds | keys (environment) |
|---|---|---|---|
| ``electricitymaps`` | ``electricitymaps`` | carbon | ``ELECTRICITYMAPS_API_TOKEN`` |
| ``watttime`` | ``watttime`` | marginal | ``WATTTIME_USERNAME``, ``WATTTIME_PASSWORD`` |
| ``uk-carbon-intensity`` | ``ukcarbon`` | carbon | none |
| ``entsoe`` | ``entsoe`` | price | ``ENTSOE_SECURITY_TOKEN`` |
"""

from __future__ import annotations

import importlib
import random
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from gridshift.domain import ConfigError
from gridshift.signals.providers.base import DEFAULT_STALENESS_S, Provider, ProviderOptions
from gridshift.signals.providers.http import (
    Clock,
    HttpPolicy,
    ProviderHttp,
    ResponseCache,
    Sleep,
)

__all__ = [
    "DEFAULT_STALENESS_S",
    "PROVIDER_MODULES",
    "Provider",
    "ProviderOptions",
    "make_provider",
    "provider_class",
    "provider_names",
]

# source name -> (module, class)
PROVIDER_MODULES: dict[str, tuple[str, str]] = {
    "electricitymaps": ("gridshift.signals.providers.electricitymaps", "ElectricityMaps"),
    "watttime": ("gridshift.signals.providers.watttime", "WattTime"),
    "uk-carbon-intensity": ("gridshift.signals.providers.ukcarbon", "UkCarbonIntensity"),
    "entsoe": ("gridshift.signals.providers.entsoe", "Entsoe"),
}


def provider_names() -> list[str]:
    return list(PROVIDER_MODULES)


def provider_class(name: str, field: str = "source") -> type[Provider]:
    if name not in PROVIDER_MODULES:
        raise ConfigError(
            "unknown live provider",
            field=field,
            value=name,
            accepted=", ".join(PROVIDER_MODULES),
        )
    module, cls = PROVIDER_MODULES[name]
    found: type[Provider] = getattr(importlib.import_module(module), cls)
    return found


def make_provider(
    name: str,
    options: ProviderOptions | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
    policy: HttpPolicy | None = None,
    cache_dir: Path | None = None,
    clock: Clock = time.monotonic,
    wall: Clock = time.time,
    sleep: Sleep = time.sleep,
    rng: random.Random | None = None,
) -> Provider:
    """A ready provider; its keys come from ``environ`` (missing: ``ProviderAuthError``)."""
    cls = provider_class(name)
    options = options or ProviderOptions()
    credentials = cls.credentials_from(environ)
    http = ProviderHttp(
        cls.name,
        options.base_url or cls.base_url,
        policy=policy,
        transport=transport,
        auth_hint=cls.auth_hint(),
        secret_params=frozenset({"securityToken"}),
        cache=ResponseCache(cache_dir / cls.name if cache_dir is not None else None),
        clock=clock,
        wall=wall,
        sleep=sleep,
        rng=rng,
    )
    return cls(http, credentials, options)
