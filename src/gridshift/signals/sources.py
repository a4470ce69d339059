"""Load the signal sources a site configuration names as series.

A file is read; bundled data is the shipped series; a live provider's history is what
``gridshift signals fetch`` stored in the library (falling back to bundled data for the zone, which
then counts as stale wherever it is used).
"""

from __future__ import annotations

from gridshift.config.site import SignalSource, SiteConfig
from gridshift.domain import InternalError, Series, SignalKind
from gridshift.signals.importers import import_file
from gridshift.signals.library import SignalLibrary


def load_source(source: SignalSource, library: SignalLibrary) -> Series:
    if source.source == "bundled" or source.live:
        return library.load(source.zone, source.kind)
    if source.source == "file" and source.path is not None and source.options is not None:
        series, _ = import_file(source.path, source.options, label=str(source.path))
        return series
    raise InternalError(f"cannot load signal source {source.source!r}")


def load_site_signals(
    site: SiteConfig, library: SignalLibrary
) -> dict[tuple[str, SignalKind], Series]:
    return {(s.zone, s.kind): load_source(s, library) for s in site.signals}
