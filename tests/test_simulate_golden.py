"""A small golden run: ``examples/sim.yaml`` (60 jobs, three days, two sites, every policy) with
its figures pinned in ``tests/data/golden/sim-example.json``. Any change to what a policy
decides or how it is settled shows here; when the change is meant, regenerate the file with
``GRIDSHIFT_REGOLD=1 pytest tests/test_simulate_golden.py`` and say why in the commit."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from gridshift.signals.library import SignalLibrary
from gridshift.simulate.config import load_sim
from gridshift.simulate.engine import simulate

ROOT = Path(__file__).parents[1]
GOLDEN = ROOT / "tests" / "data" / "golden" / "sim-example.json"
KEYS = (
    "energy_kwh",
    "cost_usd",
    "carbon_kg",
    "objective",
    "deadline_misses",
    "jobs_completed",
    "mean_delay_s",
    "p95_delay_s",
    "peak_kw",
)


def test_the_example_simulation_matches_its_pinned_figures(tmp_path: Path) -> None:
    report, records = simulate(load_sim(ROOT / "examples" / "sim.yaml"), SignalLibrary(tmp_path))
    got = {
        "policies": {
            name: {key: round(m[key], 6) for key in KEYS} for name, m in report["policies"].items()
        },
        "savings": report["savings"],
        "started_s": {
            name: {r.job_id: r.started for r in recs[:10]} for name, recs in records.items()
        },
    }
    if os.environ.get("GRIDSHIFT_REGOLD"):
        GOLDEN.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
    pinned = json.loads(GOLDEN.read_text())
    assert set(got["policies"]) == set(pinned["policies"])
    for name, figures in pinned["policies"].items():
        for key, value in figures.items():
            assert got["policies"][name][key] == pytest.approx(value, rel=1e-6, abs=1e-6), (
                name,
                key,
            )
    assert got["started_s"] == pinned["started_s"]
    for name, saving in pinned["savings"].items():
        assert got["savings"][name] == pytest.approx(saving, rel=1e-6)
