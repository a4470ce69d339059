"""``signals`` entries whose ``source:`` is a live provider."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gridshift.config.site import site_from_data
from gridshift.domain import ConfigError, SignalKind
from gridshift.signals.providers import provider_names

CLUSTER = {"name": "lon", "zone": "GB", "gpus": 8, "tariff": {"kind": "fixed", "usd_per_mwh": 90}}


def load(signal: dict[str, Any], zone: str = "GB") -> Any:
    cluster = {**CLUSTER, "zone": zone}
    return site_from_data(
        {"clusters": [cluster], "signals": [signal], "objective": {"mode": "carbon"}}
        if signal.get("kind") == "carbon"
        else {"clusters": [cluster], "signals": [signal], "objective": {"mode": "cost"}},
        "gridshift.yaml",
        Path("."),
    )


def refused(signal: dict[str, Any], field: str, *shows: str, zone: str = "GB") -> str:
    with pytest.raises(ConfigError) as caught:
        load(signal, zone)
    text = caught.value.one_line()
    assert caught.value.field == f"signals[0].{field}", text
    assert text.startswith(f"gridshift.yaml: signals[0].{field}: "), text
    for part in shows:
        assert part in text, text
    return text


def test_the_keyless_gb_default_loads_with_its_defaults() -> None:
    site = load({"zone": "GB", "kind": "carbon", "source": "uk-carbon-intensity"})
    (source,) = site.signals
    assert source.live
    assert source.kind is SignalKind.CARBON
    assert source.provider is not None
    assert source.provider.staleness_s == 3 * 3600
    assert source.path is None


def test_provider_options_are_carried() -> None:
    site = load(
        {
            "zone": "GB",
            "kind": "carbon",
            "source": "uk-carbon-intensity",
            "region": "13",
            "staleness": "90m",
            "base_url": "http://127.0.0.1:9/mirror",
        }
    )
    options = site.signals[0].provider
    assert options.region == "13"
    assert options.staleness_s == 5400
    assert options.base_url == "http://127.0.0.1:9/mirror"


def test_an_unknown_source_lists_every_provider() -> None:
    text = refused({"zone": "GB", "kind": "carbon", "source": "carbonapi"}, "source", "carbonapi")
    for name in provider_names():
        assert name in text


def test_a_provider_refuses_a_kind_it_does_not_serve() -> None:
    refused(
        {"zone": "GB", "kind": "price", "source": "uk-carbon-intensity"},
        "kind",
        "does not serve price",
        "carbon",
    )


def test_uk_carbon_intensity_serves_gb_only_and_its_regions() -> None:
    refused(
        {"zone": "DE-LU", "kind": "carbon", "source": "uk-carbon-intensity"}, "zone", zone="DE-LU"
    )
    refused(
        {"zone": "GB", "kind": "carbon", "source": "uk-carbon-intensity", "region": "42"},
        "region",
        "42",
    )


@pytest.mark.parametrize("key", ["path", "format", "unit", "timezone"])
def test_file_keys_are_refused_on_a_live_source(key: str) -> None:
    refused(
        {"zone": "GB", "kind": "carbon", "source": "uk-carbon-intensity", key: "x"},
        key,
        "file sources",
    )


@pytest.mark.parametrize(
    ("key", "value"), [("region", "13"), ("staleness", "1h"), ("base_url", "http://x")]
)
def test_provider_keys_are_refused_on_a_file_or_bundled_source(key: str, value: str) -> None:
    refused({"zone": "GB", "kind": "carbon", "source": "bundled", key: value}, key, "live provider")


@pytest.mark.parametrize(
    ("extra", "field", "shows"),
    [
        ({"staleness": "soon"}, "staleness", "soon"),
        ({"base_url": "ftp://mirror"}, "base_url", "http"),
        ({"emission_factor": "marginal"}, "emission_factor", "lifecycle, direct"),
        ({"base_url": "http://[::1"}, "base_url", "http(s)://host"),
        ({"base_url": "http://x y"}, "base_url", "http(s)://host"),
        ({"eur_usd": 1.1}, "eur_usd", "electricitymaps reads: base_url, emission_factor"),
    ],
)
def test_bad_provider_options_name_the_field(extra: dict[str, Any], field: str, shows: str) -> None:
    refused({"zone": "GB", "kind": "carbon", "source": "electricitymaps", **extra}, field, shows)


@pytest.mark.parametrize(
    ("extra", "field", "shows"),
    [
        ({"latitude": 123.0, "longitude": 0.0}, "latitude", "-90 to 90"),
        ({"latitude": 37.8}, "longitude", "go together"),
        ({"emission_factor": "direct"}, "emission_factor", "watttime reads"),
    ],
)
def test_watttime_location_options(extra: dict[str, Any], field: str, shows: str) -> None:
    signal = {"zone": "US-CAL-CISO", "kind": "marginal", "source": "watttime", **extra}
    refused(signal, field, shows, zone="US-CAL-CISO")


def test_a_provider_refuses_options_it_does_not_read() -> None:
    refused(
        {"zone": "GB", "kind": "carbon", "source": "uk-carbon-intensity", "eur_usd": 1.1},
        "eur_usd",
        "uk-carbon-intensity does not use eur_usd",
        "reads: base_url, region, staleness",
    )


def test_a_config_needing_a_key_still_loads_without_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys are read when a provider is called, so `config check` works on any machine."""
    monkeypatch.delenv("ELECTRICITYMAPS_API_TOKEN", raising=False)
    site = load({"zone": "GB", "kind": "carbon", "source": "electricitymaps"})
    assert site.signals[0].source == "electricitymaps"


def test_the_live_example_loads() -> None:
    from gridshift.config.site import load_site

    site = load_site(Path(__file__).resolve().parent.parent / "examples" / "live.yaml")
    assert [(s.zone, s.kind.value, s.source) for s in site.signals] == [
        ("GB", "carbon", "uk-carbon-intensity"),
        ("DE-LU", "carbon", "electricitymaps"),
        ("DE-LU", "price", "entsoe"),
    ]
    assert all(s.live for s in site.signals)


def test_every_entsoe_zone_has_its_time_zone() -> None:
    """Without one, the DST-artefact checks of the validation would run in UTC."""
    from zoneinfo import ZoneInfo

    from gridshift.domain.signal import ZONE_TIMEZONES
    from gridshift.signals.providers.entsoe import ZONE_EIC

    missing = sorted(z for z in ZONE_EIC if z not in ZONE_TIMEZONES)
    assert missing == []
    assert all(ZoneInfo(ZONE_TIMEZONES[z]).key.startswith("Europe/") for z in ZONE_EIC)
