"""The one small interface every live signal provider implements, and what they share.

A provider turns a zone and a kind into a ``Series`` of history or the latest values, or a
``Forecast`` as the provider published it (``generated_at`` is the provider's own time). Payloads go
through ``signals.validate.build_series`` like every file, so a provider's data obeys the same rules
(duplicates, gaps, DST artefacts, out-of-range values are reported; an all-zero or empty answer is
refused). Parsing is a pure function of the bytes (``parse_*``), so it is property-tested apart from
HTTP.
"""

from __future__ import annotations

import json
import os
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar

import numpy as np

from gridshift.domain import (
    ConfigError,
    Forecast,
    ProviderAuthError,
    Quality,
    Series,
    SignalKind,
)
from gridshift.domain.timeutil import as_np
from gridshift.signals.providers.http import ProviderHttp
from gridshift.signals.validate import Issue

DEFAULT_STALENESS_S = 3 * 3600


@dataclass(frozen=True)
class ProviderOptions:
    """What a ``signals`` entry may say about a live source besides zone and kind.

    ``region``: the provider's own area name where it differs from the zone (a WattTime region, a
    UK Carbon Intensity region id, an ENTSO-E EIC code); ``base_url``: a mirror or proxy;
    ``staleness_s``: how old the newest value may be before it counts as stale.
    """

    region: str | None = None
    base_url: str | None = None
    staleness_s: int = DEFAULT_STALENESS_S
    extra: Mapping[str, str] = field(default_factory=dict)


ISSUES_ATTR = "issues"


def issues_attr(issues: Sequence[Issue]) -> dict[str, str]:
    """How a provider's series carries the validation issues found in its payload: JSON under
    ``attrs["issues"]`` (the one convention; ``series_issues`` reads it back)."""
    return {ISSUES_ATTR: json.dumps([issue.as_dict() for issue in issues])}


def series_issues(series: Series) -> list[Issue]:
    """The issues a provider stored on ``series`` (none if it stored none, or something else)."""
    try:
        found = json.loads(series.attrs.get(ISSUES_ATTR, "[]"))
        return [
            Issue(i["code"], i["severity"], int(i["count"]), i["message"], tuple(i["locations"]))
            for i in found
        ]
    except (ValueError, TypeError, KeyError):
        return []


def mark_stale(series: Series, now: datetime, staleness_s: int) -> Series:
    """``series`` with the valid points older than ``staleness_s`` at ``now`` marked ``STALE``."""
    ends = series.times + np.timedelta64(series.step_s, "s")
    old = series.valid & (ends < as_np(now) - np.timedelta64(staleness_s, "s"))
    if not old.any():
        return series
    quality = np.where(old, np.maximum(series.quality, Quality.STALE), series.quality)
    return series.with_points(series.times, series.values, quality.astype(np.uint8))


class Provider(ABC):
    """A live source of grid signals. Subclasses set the class attributes and the three calls."""

    name: ClassVar[str]  # the ``source:`` value in gridshift.yaml
    title: ClassVar[str]
    kinds: ClassVar[frozenset[SignalKind]]
    env_vars: ClassVar[tuple[str, ...]] = ()  # the keys it needs, read from the environment
    option_keys: ClassVar[frozenset[str]] = frozenset()  # gridshift.yaml keys it reads
    base_url: ClassVar[str]
    docs_url: ClassVar[str] = ""
    step_s: ClassVar[int] = 3600
    max_range_days: ClassVar[int] = 10  # longest history range one request may ask for

    def __init__(
        self, http: ProviderHttp, credentials: Mapping[str, str], options: ProviderOptions
    ) -> None:
        self.http = http
        self.credentials = dict(credentials)
        self.options = options

    @classmethod
    def check(cls, zone: str, kind: SignalKind, options: ProviderOptions) -> None:
        """Refuse, at config time, a zone/kind/options this provider cannot serve (``ConfigError``
        naming the field). The default checks the kind only."""
        if kind not in cls.kinds:
            raise ConfigError(
                f"{cls.name} does not serve {kind.value} signals",
                field="kind",
                value=kind.value,
                accepted=", ".join(sorted(k.value for k in cls.kinds)),
            )

    @classmethod
    def credentials_from(cls, environ: Mapping[str, str] | None = None) -> dict[str, str]:
        """The provider's keys from the environment; a missing one is a ``ProviderAuthError``."""
        env = os.environ if environ is None else environ
        missing = [name for name in cls.env_vars if not env.get(name)]
        if missing:
            raise ProviderAuthError(
                f"{', '.join(missing)} not set",
                provider=cls.name,
                hint=f"export {missing[0]}=... (see the README, 'Live providers')",
            )
        return {name: env[name] for name in cls.env_vars}

    def close(self) -> None:
        self.http.close()

    @classmethod
    def auth_hint(cls) -> str:
        if not cls.env_vars:
            return ""
        return f"check {' and '.join(cls.env_vars)} (the provider refused them)"

    @abstractmethod
    def history(self, zone: str, kind: SignalKind, start: datetime, end: datetime) -> Series:
        """Recorded values with ``start <= time < end``, in as many requests as needed."""

    @abstractmethod
    def latest(self, zone: str, kind: SignalKind) -> Series:
        """The most recent value(s) the provider has."""

    def current(self, zone: str, kind: SignalKind, now: datetime) -> Series:
        """``latest``, with every point whose step ended more than the staleness limit before
        ``now`` marked ``STALE`` (a provider that stopped updating is not taken at its word)."""
        series = self.latest(zone, kind)
        return mark_stale(series, now, self.options.staleness_s)

    @abstractmethod
    def forecast(self, zone: str, kind: SignalKind) -> Forecast:
        """The provider's newest forecast; ``as_of`` = ``generated_at`` = its generation time."""
