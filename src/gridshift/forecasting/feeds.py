"""Feeds from a site configuration: each signal entry's stored history and, for live sources, its
provider and the forecast archive."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import httpx

from gridshift.config.site import SignalSource, SiteConfig
from gridshift.domain import Forecast, Series, SignalKind
from gridshift.forecasting.service import Feed
from gridshift.signals.archive import ForecastArchive
from gridshift.signals.library import SignalLibrary
from gridshift.signals.providers import Provider, make_provider
from gridshift.signals.providers.base import DEFAULT_STALENESS_S
from gridshift.signals.providers.http import HttpPolicy
from gridshift.signals.sources import load_source

# A forecast call must not hold a decision up: one provider call gets this much, retries included.
LIVE_POLICY = HttpPolicy(timeout_s=5.0, deadline_s=10.0, retries=2)


def connect(
    source: SignalSource,
    data_dir: Path,
    *,
    environ: Mapping[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
    policy: HttpPolicy | None = None,
) -> Provider:
    """The provider a live source names (``ProviderAuthError`` when its key is not set)."""
    assert source.provider is not None
    return make_provider(
        source.source,
        source.provider,
        environ=environ,
        transport=transport,
        policy=policy,
        cache_dir=data_dir / "cache" / "http",
    )


def _live(
    source: SignalSource,
    data_dir: Path,
    environ: Mapping[str, str] | None,
    transport: httpx.BaseTransport | None,
) -> Callable[[], Forecast]:
    """The provider's newest forecast, within one time budget for everything it takes (a login,
    a region lookup, the forecast itself); the provider is kept, so its login token is reused."""
    made: list[Provider] = []

    def fetch() -> Forecast:
        if not made:
            made.append(
                connect(source, data_dir, environ=environ, transport=transport, policy=LIVE_POLICY)
            )
        provider = made[0]
        with provider.http.budget(LIVE_POLICY.deadline_s):
            return provider.forecast(source.zone, source.kind)

    return fetch


def _history(source: SignalSource, library: SignalLibrary) -> Callable[[], Series]:
    def load() -> Series:
        return load_source(source, library)

    return load


def site_feeds(
    site: SiteConfig,
    library: SignalLibrary,
    *,
    live: bool = True,
    environ: Mapping[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
) -> dict[tuple[str, SignalKind], Feed]:
    """A feed per signal entry. ``live=False`` keeps every provider offline (archive only)."""
    archive = ForecastArchive(library.root)
    feeds = {}
    for source in site.signals:
        feed = Feed(
            zone=source.zone,
            kind=source.kind,
            history=_history(source, library),
            source=source.source,
            staleness_s=source.provider.staleness_s if source.provider else DEFAULT_STALENESS_S,
        )
        if source.live:
            feed.archive = archive
            if live:
                feed.live = _live(source, library.root, environ, transport)
        feeds[(source.zone, source.kind)] = feed
    return feeds
