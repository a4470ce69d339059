"""``gridshift.bench.instances.build_instance``: seeded planning instances on bundled signals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from gridshift.bench.instances import ZONES, Instance, build_instance
from gridshift.domain import Priority, SignalKind
from gridshift.signals.library import bundled_entries

HORIZON_S = 48 * 3600
STEP_S = 900
STEPS = HORIZON_S // STEP_S  # 192


def build(n: int, c: int, seed: int) -> Instance:
    return build_instance(n, c, HORIZON_S, STEP_S, seed=seed)


def fingerprint(instance: Instance) -> dict[str, object]:
    return {
        "now": instance.now,
        "jobs": [
            (
                j.id,
                j.gpus,
                j.duration_s,
                j.submitted_at,
                j.earliest_start,
                j.deadline,
                j.priority,
                j.interruptible,
                j.elastic,
                j.zones,
            )
            for j in instance.jobs
        ],
        "clusters": [
            (c.name, c.zone, c.gpus, c.pue, c.tariff.adder_usd_per_mwh) for c in instance.clusters
        ],
    }


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_same_seed_same_instance(seed: int) -> None:
    a, b = build(60, 5, seed), build(60, 5, seed)
    assert fingerprint(a) == fingerprint(b)
    assert a.forecasts.keys() == b.forecasts.keys()
    for key, forecast in a.forecasts.items():
        np.testing.assert_array_equal(forecast.times, b.forecasts[key].times)
        np.testing.assert_array_equal(forecast.values, b.forecasts[key].values)


def test_other_seed_other_instance() -> None:
    a, b = build(60, 5, 0), build(60, 5, 1)
    assert [j.id for j in a.jobs] == [j.id for j in b.jobs]  # ids are positional
    assert [j.duration_s for j in a.jobs] != [j.duration_s for j in b.jobs]
    assert [j.deadline for j in a.jobs] != [j.deadline for j in b.jobs]


def test_sizes_ids_and_settings() -> None:
    instance = build(50, 4, 3)
    assert len(instance.jobs) == 50
    assert len(instance.clusters) == 4
    assert [j.id for j in instance.jobs] == [f"job-{i:05d}" for i in range(50)]
    assert len({c.name for c in instance.clusters}) == 4
    assert instance.step_s == STEP_S
    assert instance.horizon_s == HORIZON_S
    assert instance.now.tzinfo is not None
    assert instance.now.utcoffset() == timedelta(0)
    assert datetime(2022, 1, 1, tzinfo=UTC) <= instance.now < datetime(2023, 1, 1, tzinfo=UTC)
    assert instance.now.minute == 0
    assert instance.now.second == 0


@pytest.mark.parametrize("seed", range(6))
def test_every_deadline_inside_horizon_and_after_release_plus_duration(seed: int) -> None:
    instance = build(120, 3, seed)
    end = instance.now + timedelta(seconds=HORIZON_S)
    for job in instance.jobs:
        assert instance.now <= job.release, job.id
        assert job.deadline <= end, job.id
        assert job.release + timedelta(seconds=job.duration_s) <= job.deadline, job.id
        assert job.slack_s >= 0, job.id
        assert 0.25 * 3600 - 1e-6 <= job.duration_s <= HORIZON_S / 3 + 1e-6, job.id
        if job.priority is Priority.CRITICAL:
            assert job.earliest_start is None
            assert job.submitted_at == job.release
        else:
            assert job.submitted_at == instance.now


@pytest.mark.parametrize("seed", range(4))
def test_every_job_fits_a_cluster_it_may_use(seed: int) -> None:
    instance = build(120, 4, seed)
    zones = {c.zone for c in instance.clusters}
    for job in instance.jobs:
        assert set(job.zones) <= zones, job.id
        allowed = [c for c in instance.clusters if not job.zones or c.zone in job.zones]
        assert allowed, job.id
        need = job.elastic.min_gpus if job.elastic else job.gpus
        assert any(c.gpus is None or c.gpus >= need for c in allowed), job.id
        if job.elastic:
            assert job.elastic.min_gpus <= job.gpus <= job.elastic.max_gpus


@pytest.mark.parametrize("n_clusters", [1, 3, 9, 12, 20])
def test_cluster_zones_cycle_over_bundled_zones(n_clusters: int) -> None:
    instance = build(10, n_clusters, 0)
    zones = [c.zone for c in instance.clusters]
    assert zones == [ZONES[i % len(ZONES)] for i in range(n_clusters)]
    if n_clusters >= len(ZONES):
        assert set(zones) == set(ZONES)


def test_instance_zones_have_bundled_carbon_and_price() -> None:
    bundled = {(e.zone, e.kind) for e in bundled_entries()}
    assert len(set(ZONES)) == len(ZONES)
    for zone in ZONES:
        assert (zone, SignalKind.CARBON) in bundled, zone
        assert (zone, SignalKind.PRICE) in bundled, zone


@pytest.mark.parametrize("seed", range(5))
def test_forecasts_cover_every_zone_and_kind_without_gaps(seed: int) -> None:
    instance = build(20, len(ZONES), seed)
    expected = {(z, k) for z in ZONES for k in (SignalKind.CARBON, SignalKind.PRICE)}
    assert set(instance.forecasts) == expected
    start = np.datetime64(instance.now.replace(tzinfo=None), "s")
    grid = start + np.arange(STEPS) * np.timedelta64(STEP_S, "s")
    for (zone, kind), forecast in instance.forecasts.items():
        assert forecast.zone == zone
        assert forecast.kind is kind
        assert forecast.as_of == instance.now
        assert forecast.step_s == STEP_S
        assert len(forecast.values) == STEPS, (zone, kind)
        assert len(forecast.times) == STEPS, (zone, kind)
        assert not np.isnan(forecast.values).any(), (zone, kind)
        assert np.all(np.isfinite(forecast.values)), (zone, kind)
        np.testing.assert_array_equal(forecast.times.astype("datetime64[s]"), grid)
        if kind is SignalKind.CARBON:
            assert (forecast.values >= 0).all(), zone


def test_forecasts_only_for_zones_in_use() -> None:
    instance = build(10, 2, 0)
    assert set(instance.forecasts) == {
        (z, k) for z in ZONES[:2] for k in (SignalKind.CARBON, SignalKind.PRICE)
    }
