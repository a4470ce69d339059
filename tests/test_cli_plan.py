"""``gridshift plan`` and ``gridshift bench plan``: the real console script in subprocesses.

The JSON keys checked here are the contract of DESIGN.md §3.2; user mistakes exit 2 with one
line on stderr that starts ``gridshift: error:``, nothing on stdout and no traceback.
"""

from __future__ import annotations

import csv
import itertools
import json
import os
import subprocess
import sys
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).parents[1]
GRIDSHIFT = Path(sys.executable).parent / "gridshift"
CONFIG = "examples/gridshift.yaml"
JOBS = "examples/jobs.csv"
NOW = "2022-06-01T06:00:00Z"
NOW_DT = datetime.fromisoformat(NOW)

PLAN_KEYS = {
    "objective",
    "energy_kwh",
    "cost_usd",
    "carbon_kg",
    "lower_bound",
    "gap_pct",
    "jobs",
    "infeasible",
}
PLAN_JOB_KEYS = {"id", "cluster", "segments", "reason"}
SEGMENT_KEYS = {"start", "end", "gpus", "power_cap_w"}
BENCH_ARGS = ("bench", "plan", "--jobs", "40", "--clusters", "3", "--solver", "fast")
BENCH_KEYS = {
    "solver",
    "jobs",
    "clusters",
    "steps",
    "seconds",
    "peak_rss_mb",
    "objective",
    "lower_bound",
    "gap_pct",
}
EXAMPLE_PLANNED = {"llama-ft", "eval-sweep", "nightly-embed", "pretrain-shard", "hotfix-eval"}
EXAMPLE_CLUSTER_GPUS = {"fra-1": 32, "dfw-1": 32, "lon-1": 16}
EXAMPLE_CLUSTER_ZONES = {"fra-1": "DE-LU", "dfw-1": "US-TEX-ERCO", "lon-1": "GB"}


def cli_env(base: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["GRIDSHIFT_DATA_DIR"] = str(base)
    env["MPLCONFIGDIR"] = str(base)
    return env


def gridshift(base: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(GRIDSHIFT), *args],
        cwd=ROOT,
        env=cli_env(base),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def ok_json(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    data = json.loads(proc.stdout)
    assert isinstance(data, dict)
    return data


def user_error(proc: subprocess.CompletedProcess[str]) -> str:
    """Exit 2, nothing on stdout, exactly one stderr line ``gridshift: error: ...``."""
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("gridshift: error: ")
    return lines[0]


def utc(text: str) -> datetime:
    parsed = datetime.fromisoformat(text)
    assert parsed.tzinfo is not None, text
    assert parsed.utcoffset() == timedelta(0), text
    return parsed


def example_rows() -> dict[str, dict[str, str]]:
    with (ROOT / JOBS).open(newline="", encoding="utf-8") as handle:
        return {row["id"]: row for row in csv.DictReader(handle)}


def plan_args(*extra: str) -> list[str]:
    return ["plan", "--config", CONFIG, "--jobs", JOBS, "--now", NOW, *extra]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gridshift-cli")


@pytest.fixture(scope="module")
def plan_json(base: Path) -> dict[str, Any]:
    return ok_json(gridshift(base, *plan_args("--json")))


@pytest.fixture(scope="module")
def plans_by_solver(base: Path, plan_json: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        "auto": plan_json,
        "fast": ok_json(gridshift(base, *plan_args("--solver", "fast", "--json"))),
        "exact": ok_json(
            gridshift(base, *plan_args("--solver", "exact", "--time-limit", "3", "--json"))
        ),
    }


@pytest.fixture(scope="module")
def bench_seed0(base: Path) -> dict[str, Any]:
    return ok_json(gridshift(base, *BENCH_ARGS, "--json"))


# --- gridshift plan --json on the example ---------------------------------------------------------


def test_plan_json_has_contract_keys(plan_json: dict[str, Any]) -> None:
    assert plan_json.keys() >= PLAN_KEYS
    assert isinstance(plan_json["objective"], str)
    assert plan_json["objective"]
    for job in plan_json["jobs"]:
        assert job.keys() >= PLAN_JOB_KEYS
        assert job["segments"], job["id"]
        for seg in job["segments"]:
            assert seg.keys() >= SEGMENT_KEYS
    for item in plan_json["infeasible"]:
        assert {"id", "reason"} <= item.keys()


def test_plan_json_planned_and_infeasible_jobs(plan_json: dict[str, Any]) -> None:
    assert {j["id"] for j in plan_json["jobs"]} == EXAMPLE_PLANNED
    assert len(plan_json["jobs"]) == 5
    infeasible = {i["id"]: i["reason"] for i in plan_json["infeasible"]}
    assert set(infeasible) == {"big-batch", "too-tight"}
    assert "needs 64 GPUs" in infeasible["big-batch"]
    assert "earliest possible finish" in infeasible["too-tight"]
    assert set(example_rows()) == EXAMPLE_PLANNED | set(infeasible)


def test_plan_json_segments_are_utc_and_inside_each_window(plan_json: dict[str, Any]) -> None:
    rows = example_rows()
    for job in plan_json["jobs"]:
        row = rows[job["id"]]
        release = max(NOW_DT, utc(row["submit_time"]))
        deadline = utc(row["deadline"])
        starts = [utc(s["start"]) for s in job["segments"]]
        ends = [utc(s["end"]) for s in job["segments"]]
        for start, end in zip(starts, ends, strict=True):
            assert start < end, job["id"]
        assert starts == sorted(starts), job["id"]
        for prev_end, next_start in zip(ends, starts[1:], strict=False):
            assert prev_end <= next_start, job["id"]  # segments do not overlap
        assert starts[0] >= release, job["id"]
        assert ends[-1] <= deadline, job["id"]
        assert job["cluster"] in EXAMPLE_CLUSTER_GPUS


def test_plan_json_segment_gpus_and_power_caps(plan_json: dict[str, Any]) -> None:
    rows = example_rows()
    for job in plan_json["jobs"]:
        row = rows[job["id"]]
        lo = int(row["min_gpus"] or row["gpus"])
        hi = int(row["max_gpus"] or row["gpus"])
        for seg in job["segments"]:
            assert isinstance(seg["gpus"], int)
            assert not isinstance(seg["gpus"], bool)
            assert lo <= seg["gpus"] <= hi, job["id"]
            cap = seg["power_cap_w"]
            assert cap is None or (
                isinstance(cap, int | float) and not isinstance(cap, bool) and cap > 0
            ), (job["id"], cap)


def test_plan_json_respects_placement_and_interruptibility(plan_json: dict[str, Any]) -> None:
    rows = example_rows()
    for job in plan_json["jobs"]:
        row = rows[job["id"]]
        zones = [z for z in row["zones"].split("|") if z]
        if zones:
            assert EXAMPLE_CLUSTER_ZONES[job["cluster"]] in zones, job["id"]
        if row["interruptible"] in ("", "false"):
            segs = job["segments"]
            for a, b in itertools.pairwise(segs):
                assert a["end"] == b["start"], job["id"]  # never paused


def test_plan_json_never_exceeds_cluster_gpus(plan_json: dict[str, Any]) -> None:
    events: dict[str, list[tuple[datetime, int]]] = defaultdict(list)
    for job in plan_json["jobs"]:
        for seg in job["segments"]:
            events[job["cluster"]].append((utc(seg["start"]), seg["gpus"]))
            events[job["cluster"]].append((utc(seg["end"]), -seg["gpus"]))
    for cluster, changes in events.items():
        in_use = 0
        for _, delta in sorted(changes):  # at equal times, releases (negative) come first
            in_use += delta
            assert in_use <= EXAMPLE_CLUSTER_GPUS[cluster], cluster


def test_plan_json_reasons_compare_against_run_now(plan_json: dict[str, Any]) -> None:
    for job in plan_json["jobs"]:
        assert isinstance(job["reason"], str)
        assert "against run-now" in job["reason"], job["id"]
        assert job["cluster"] in job["reason"], job["id"]


def test_plan_json_totals_are_sums_over_jobs(plan_json: dict[str, Any]) -> None:
    for key in ("energy_kwh", "cost_usd", "carbon_kg"):
        total = sum(job[key] for job in plan_json["jobs"])
        assert plan_json[key] == pytest.approx(total, rel=1e-9, abs=1e-9), key
        assert plan_json[key] > 0, key


def test_plan_json_bound_and_gap(plan_json: dict[str, Any]) -> None:
    value = plan_json["objective_value"]
    bound = plan_json["lower_bound"]
    assert isinstance(value, float)
    assert value > 0
    assert isinstance(bound, float)
    assert bound <= value + 1e-9
    assert plan_json["gap_pct"] >= 0
    assert plan_json["gap_pct"] == pytest.approx(100 * (value - bound) / value, abs=1e-6)


def test_fast_and_exact_plan_the_same_jobs(plans_by_solver: dict[str, dict[str, Any]]) -> None:
    fast, exact = plans_by_solver["fast"], plans_by_solver["exact"]
    assert fast["solver"] == "fast"
    assert exact["solver"] == "exact"
    for result in plans_by_solver.values():
        assert result.keys() >= PLAN_KEYS
        assert {j["id"] for j in result["jobs"]} == EXAMPLE_PLANNED
        assert {i["id"] for i in result["infeasible"]} == {"big-batch", "too-tight"}
        assert result["lower_bound"] <= result["objective_value"] + 1e-9
    # auto picks one of them, and the exact solver's bound is no weaker than the fast one's
    assert plans_by_solver["auto"]["solver"] in ("fast", "exact")
    assert exact["lower_bound"] >= fast["lower_bound"] - 1e-6
    assert exact["objective_value"] <= fast["objective_value"] * (1 + 1e-6)


def test_plan_table_output(base: Path) -> None:
    proc = gridshift(base, *plan_args())
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert f"plan at {NOW}" in out
    header = next(line for line in out.splitlines() if "job" in line and "cluster" in line)
    assert "GPUs" in header
    for job_id in EXAMPLE_PLANNED:
        assert f"{job_id}: " in out
    assert "big-batch cannot be planned: needs 64 GPUs" in out
    totals = [line for line in out.splitlines() if line.startswith("total:")]
    assert len(totals) == 1
    assert "kWh" in totals[0]
    assert "kg CO2" in totals[0]
    assert "2 infeasible" in totals[0]
    assert not out.lstrip().startswith("{")


def test_plan_with_a_folder_of_job_specs(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "a.yaml").write_text(
        "name: spec-a\nresources: {gpus: 4}\nduration: 2h\nwithin: 12h\n"
        "placement: {zones: [DE-LU]}\n"
    )
    (specs / "b.yml").write_text(
        "name: spec-b\nkind: evaluation\nresources: {gpus: 2}\nduration: 90m\n"
        "deadline: 2022-06-01T20:00:00Z\ninterruptible: {checkpoint_overhead: 5m}\n"
    )
    (specs / "notes.txt").write_text("not a job spec\n")
    data = ok_json(
        gridshift(
            tmp_path, "plan", "--config", CONFIG, "--jobs", str(specs), "--now", NOW, "--json"
        )
    )
    assert {j["id"] for j in data["jobs"]} == {"spec-a", "spec-b"}
    assert data["infeasible"] == []
    deadlines = {"spec-a": NOW_DT + timedelta(hours=12), "spec-b": utc("2022-06-01T20:00:00Z")}
    by_id = {j["id"]: j for j in data["jobs"]}
    assert by_id["spec-a"]["cluster"] == "fra-1"  # the only DE-LU cluster
    for job_id, job in by_id.items():
        assert utc(job["segments"][0]["start"]) >= NOW_DT
        assert utc(job["segments"][-1]["end"]) <= deadlines[job_id]
        assert "against run-now" in job["reason"]


# --- user mistakes --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["plan", "--config", CONFIG, "--jobs", JOBS, "--json"], "--now"),
        (
            ["plan", "--config", CONFIG, "--jobs", JOBS, "--now", "2022-06-01T06:00:00", "--json"],
            "no zone",
        ),
        (plan_args("--solver", "magic", "--json"), "unknown solver 'magic'"),
        (plan_args("--forecast", "seasonal", "--json"), "'seasonal'"),
        (plan_args("--horizon", "0s", "--json"), "--horizon"),
        (
            ["plan", "--config", CONFIG, "--jobs", "examples/missing.csv", "--now", NOW],
            "examples/missing.csv",
        ),
    ],
    ids=["missing-now", "naive-now", "unknown-solver", "seasonal", "horizon-0s", "missing-jobs"],
)
def test_plan_user_errors(base: Path, args: list[str], expected: str) -> None:
    line = user_error(gridshift(base, *args))
    assert expected in line


def test_plan_jobs_csv_with_a_bad_row(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs.csv"
    jobs.write_text(
        "id,submit_time,duration_s,gpus,deadline\n"
        "ok,2022-06-01T06:00:00Z,3600,1,2022-06-02T06:00:00Z\n"
        "bad,2022-06-01T06:00:00Z,3600,1,2022-06-02T06:00:00\n"
    )
    proc = gridshift(tmp_path, "plan", "--config", CONFIG, "--jobs", str(jobs), "--now", NOW)
    line = user_error(proc)
    assert str(jobs) in line
    assert "row 3.deadline" in line
    assert "'2022-06-02T06:00:00'" in line


def test_plan_jobs_csv_bad_number_names_the_file(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs.csv"
    jobs.write_text(
        "id,submit_time,duration_s,gpus,deadline\n"
        "bad,2022-06-01T06:00:00Z,3600,abc,2022-06-02T06:00:00Z\n"
    )
    proc = gridshift(tmp_path, "plan", "--config", CONFIG, "--jobs", str(jobs), "--now", NOW)
    line = user_error(proc)
    assert "'abc'" in line
    assert str(jobs) in line


# --- gridshift bench plan -------------------------------------------------------------------------


def test_bench_plan_json(bench_seed0: dict[str, Any]) -> None:
    data = bench_seed0
    assert data.keys() >= BENCH_KEYS
    assert data["solver"] == "fast"
    assert data["jobs"] == 40
    assert data["clusters"] == 3
    assert data["steps"] == 192  # 48 h at 15 min
    assert data["planned"] + data["infeasible"] == 40
    assert data["seconds"] > 0
    assert data["peak_rss_mb"] > 0
    assert data["objective"] > 0
    assert data["lower_bound"] <= data["objective"] + 1e-9
    assert data["gap_pct"] >= 0


def test_bench_plan_is_deterministic_for_a_seed(base: Path, bench_seed0: dict[str, Any]) -> None:
    again = ok_json(gridshift(base, *BENCH_ARGS, "--json"))
    for key in ("objective", "lower_bound", "planned", "infeasible", "start", "seed"):
        assert again[key] == bench_seed0[key], key


def test_bench_plan_rounds_report_the_median_and_spread(
    base: Path, bench_seed0: dict[str, Any]
) -> None:
    three = ok_json(gridshift(base, *BENCH_ARGS, "--rounds", "3", "--json"))
    assert three["rounds"] == 3
    assert three["seconds_min"] <= three["seconds"] <= three["seconds_max"]
    assert three["objective"] == bench_seed0["objective"]  # the same plan every round
    assert bench_seed0["rounds"] == 1
    assert bench_seed0["seconds_min"] == bench_seed0["seconds"] == bench_seed0["seconds_max"]


def test_bench_plan_other_seed_is_another_instance(base: Path, bench_seed0: dict[str, Any]) -> None:
    other = ok_json(gridshift(base, *BENCH_ARGS, "--seed", "1", "--json"))
    assert other["jobs"] == 40
    assert other["objective"] != bench_seed0["objective"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--jobs", "0"], "--jobs 0"),
        (["--jobs", "40", "--clusters", "0"], "--clusters 0"),
        (["--jobs", "40", "--solver", "magic"], "'magic'"),
        (["--jobs", "40", "--horizon", "0s"], "--horizon"),
        (["--jobs", "40", "--rounds", "0"], "--rounds 0"),
    ],
    ids=["jobs-0", "clusters-0", "unknown-solver", "horizon-0s", "rounds-0"],
)
def test_bench_plan_user_errors(base: Path, args: list[str], expected: str) -> None:
    line = user_error(gridshift(base, "bench", "plan", *args, "--json"))
    assert expected in line
