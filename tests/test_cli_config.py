"""``gridshift config check`` run as a real process, on good and bad files written to ``tmp_path``.

The contract (DESIGN.md §3.2): a good file exits 0 and prints a table (or JSON with ``--json``);
a user's mistake exits 2 with exactly one line on stderr, ``gridshift: error: ...``, nothing on
stdout and never a traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import gridshift

CLI = [sys.executable, "-m", "gridshift.cli.main"]
SCRIPT = Path(sys.executable).parent / "gridshift"

SITE = """\
clusters:
  - name: fra-1
    zone: DE-LU
    executor: slurm
    gpus: 64
    gpu_type: H100
    gpu_power_w: {idle: 70, max: 700}
    pue: 1.2
    power_cap_kw: 60
    tariff: {kind: wholesale, adder_usd_per_mwh: 25}
  - {name: lon-1, zone: GB, gpus: unlimited, tariff: {kind: fixed, usd_per_mwh: 120}}
signals:
  - {zone: DE-LU, kind: carbon, source: file, path: data/de-carbon.csv, format: electricitymaps}
  - {zone: DE-LU, kind: price, source: bundled}
  - {zone: GB, kind: carbon, source: bundled}
objective: {carbon_price_usd_per_tonne: 80}
"""
EM_CSV = (
    "Datetime (UTC),Zone Id,Carbon Intensity gCO₂eq/kWh (direct)\n"
    "2022-01-01 00:00:00,DE,163.46\n2022-01-01 01:00:00,DE,166.66\n"
)
JOB = """\
name: finetune
command: python train.py --epochs 3
resources: {gpus: 8}
duration: 6h
within: 24h
priority: high
placement: {zones: [DE-LU, GB]}
"""
NOW = "2026-11-26T08:00:00Z"


def run(
    *args: str, cwd: Path, timeout: float = 60, columns: int = 60
) -> subprocess.CompletedProcess[str]:
    """The CLI in a subprocess; narrow by default, since a long error must stay on one line."""
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "CLICOLOR_FORCE")}
    env["COLUMNS"] = str(columns)
    return subprocess.run(
        [*CLI, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def good_site(folder: Path) -> Path:
    write(folder, "data/de-carbon.csv", EM_CSV)
    return write(folder, "gridshift.yaml", SITE)


def assert_user_error(result: subprocess.CompletedProcess[str], *fragments: str) -> str:
    """Exit 2, one stderr line ``gridshift: error: ...`` holding ``fragments``; the error line."""
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert result.stderr.endswith("\n")
    line = lines[0]
    assert line.startswith("gridshift: error: "), line
    for fragment in fragments:
        assert fragment in line, line
    return line


# --- the way in --------------------------------------------------------------------------------


def test_module_invocation_runs_main(tmp_path: Path) -> None:
    result = run("--version", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout == f"gridshift {gridshift.__version__}\n"
    assert result.stderr == ""


@pytest.mark.skipif(not SCRIPT.exists(), reason=f"no console script at {SCRIPT}")
def test_console_script_behaves_the_same(tmp_path: Path) -> None:
    path = good_site(tmp_path)
    by_module = run("config", "check", str(path), "--json", cwd=tmp_path)
    by_script = subprocess.run(
        [str(SCRIPT), "config", "check", str(path), "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert by_script.returncode == by_module.returncode == 0
    assert json.loads(by_script.stdout) == json.loads(by_module.stdout)
    bad = write(tmp_path, "bad.yaml", "clusters: [{name: a, zone: GB, gpus: 8, pue: 9}]\n")
    by_script = subprocess.run(
        [str(SCRIPT), "config", "check", str(bad)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert_user_error(by_script, "clusters[0].pue", "(got 9.0)")


# --- good files --------------------------------------------------------------------------------


def test_good_site_prints_a_table(tmp_path: Path) -> None:
    path = good_site(tmp_path)
    result = run("config", "check", str(path), cwd=tmp_path, columns=200)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    out = result.stdout
    assert f"{path}: ok" in out.replace("\n", "")
    for word in ("fra-1", "lon-1", "DE-LU", "GB", "slurm", "unlimited", "wholesale", "fixed"):
        assert word in out
    assert "signals: 3; objective: cost + carbon at $80/t" in out


def test_good_site_as_json(tmp_path: Path) -> None:
    path = good_site(tmp_path)
    result = run("config", "check", "gridshift.yaml", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    data = json.loads(result.stdout)
    assert data["config"] == "gridshift.yaml"
    assert data["clusters"] == [
        {
            "name": "fra-1",
            "zone": "DE-LU",
            "executor": "slurm",
            "gpus": 64,
            "gpu_type": "H100",
            "pue": 1.2,
            "tariff": "wholesale",
        },
        {
            "name": "lon-1",
            "zone": "GB",
            "executor": "local",
            "gpus": "unlimited",
            "gpu_type": "H100",
            "pue": 1.4,
            "tariff": "fixed",
        },
    ]
    assert data["signals"] == [
        {
            "zone": "DE-LU",
            "kind": "carbon",
            "source": "file",
            "path": str(path.parent.resolve() / "data" / "de-carbon.csv"),
        },
        {"zone": "DE-LU", "kind": "price", "source": "bundled", "path": None},
        {"zone": "GB", "kind": "carbon", "source": "bundled", "path": None},
    ]
    assert data["objective"] == "cost + carbon at $80/t"
    assert data["jobs"] == []


def test_good_site_and_jobs_as_json(tmp_path: Path) -> None:
    path = good_site(tmp_path)
    write(tmp_path, "jobs/b.yaml", JOB)
    write(
        tmp_path, "jobs/a.yml", "name: eval\nduration: 30m\ndeadline: 2026-11-26T12:00:00+01:00\n"
    )
    write(tmp_path, "jobs/notes.txt", "ignored")
    result = run(
        "config", "check", str(path), "--jobs", "jobs", "--now", NOW, "--json", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    jobs = json.loads(result.stdout)["jobs"]
    assert jobs == [
        {
            "id": "eval",
            "gpus": 1,
            "duration_s": 1800.0,
            "deadline": "2026-11-26T11:00:00Z",
            "slack_s": 3 * 3600 - 1800.0,
            "priority": "normal",
        },
        {
            "id": "finetune",
            "gpus": 8,
            "duration_s": 21600.0,
            "deadline": "2026-11-27T08:00:00Z",
            "slack_s": 18 * 3600.0,
            "priority": "high",
        },
    ]


def test_good_jobs_in_the_table(tmp_path: Path) -> None:
    path = good_site(tmp_path)
    job = write(tmp_path, "job.yaml", JOB)
    result = run("config", "check", str(path), "--jobs", str(job), "--now", NOW, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "jobs: 1 valid (finetune)" in result.stdout


def test_now_is_the_default_submission_time(tmp_path: Path) -> None:
    path = good_site(tmp_path)
    job = write(tmp_path, "job.yaml", JOB)
    result = run("config", "check", str(path), "--jobs", str(job), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (entry,) = json.loads(result.stdout)["jobs"]
    assert entry["slack_s"] == 18 * 3600.0
    deadline = datetime.fromisoformat(entry["deadline"].replace("Z", "+00:00"))
    expected = datetime.now(UTC) + timedelta(hours=24)
    assert abs((deadline - expected).total_seconds()) < 300


# --- bad files ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bad:
    """A broken case: files to write (``{site}`` stands for the good site), arguments, and what
    the error line must name."""

    id: str
    files: dict[str, str]
    args: tuple[str, ...]
    shows: tuple[str, ...]


BAD_SITE = [
    Bad(
        "unknown-key",
        {"g.yaml": "clusters:\n  - {name: a, zone: GB, gpus: 8, gpu_typ: A100}\n"},
        ("g.yaml",),
        ("g.yaml: clusters[0]: unknown key 'gpu_typ'", "did you mean 'gpu_type'"),
    ),
    Bad(
        "unknown-top-key",
        {"g.yaml": "clusters: []\nsignal: []\n"},
        ("g.yaml",),
        ("unknown key 'signal'", "did you mean 'signals'"),
    ),
    Bad("missing-file", {}, ("nope.yaml",), ("nope.yaml: no such file",)),
    Bad("directory", {"d/x.txt": ""}, ("d",), ("d: is a directory",)),
    Bad(
        "yaml-syntax",
        {"g.yaml": "clusters:\n  - name: a\n    zone: [GB\n    gpus: 8\n"},
        ("g.yaml",),
        ("g.yaml: not valid YAML at line 4",),
    ),
    Bad(
        "duplicate-key",
        {"g.yaml": "clusters:\n  - name: a\n    name: b\n"},
        ("g.yaml",),
        ("duplicate key 'name'", "line 3"),
    ),
    Bad(
        "empty-file",
        {"g.yaml": ""},
        ("g.yaml",),
        ("g.yaml: expected a mapping of keys",),
    ),
    Bad(
        "no-price-signal",
        {
            "g.yaml": "clusters:\n  - {name: lon-1, zone: GB, gpus: 8}\n"
            "signals: [{zone: GB, kind: carbon, source: bundled}]\n"
        },
        ("g.yaml",),
        ("clusters[0].zone", "'lon-1'", "source: bundled"),
    ),
    Bad(
        "missing-signal-file",
        {
            "g.yaml": "clusters:\n  - {name: lon-1, zone: GB, gpus: 8}\n"
            "signals: [{zone: GB, kind: carbon, path: gone.csv}]\nobjective: {mode: carbon}\n"
        },
        ("g.yaml",),
        ("signals[0].path", "signal file not found", "'gone.csv'"),
    ),
    Bad(
        "unknown-executor",
        {"g.yaml": "clusters:\n  - {name: a, zone: GB, gpus: 8, executor: nomad}\n"},
        ("g.yaml",),
        ("clusters[0].executor", "'nomad'", "local, slurm, ray, kubernetes"),
    ),
    Bad(
        "not-utf8",
        {},
        ("latin1.yaml",),
        ("latin1.yaml: not UTF-8 text",),
    ),
]

BAD_JOBS = [
    Bad(
        "bad-duration",
        {"job.yaml": "name: a\nduration: 6 hours\nwithin: 1d\n"},
        ("--jobs", "job.yaml"),
        ("job.yaml: duration: not a duration (got '6 hours')", "90s, 15m, 6h, 2d"),
    ),
    Bad(
        "deadline-and-within",
        {"job.yaml": "name: a\nduration: 6h\nwithin: 1d\ndeadline: 2026-12-01T00:00:00Z\n"},
        ("--jobs", "job.yaml"),
        ("job.yaml: within:", "not both"),
    ),
    Bad(
        "naive-deadline",
        {"job.yaml": "name: a\nduration: 6h\ndeadline: 2026-11-27 09:00:00\n"},
        ("--jobs", "job.yaml"),
        ("job.yaml: deadline:", "'2026-11-27 09:00:00'", "no zone"),
    ),
    Bad(
        "zone-not-served",
        {"job.yaml": "name: a\nduration: 6h\nwithin: 1d\nplacement: {zones: [GB, FR]}\n"},
        ("--jobs", "job.yaml"),
        ("job.yaml: placement.zones[1]:", "'FR'", "DE-LU, GB"),
    ),
    Bad(
        "deadline-too-early",
        {"job.yaml": "name: a\nduration: 2d\ndeadline: 2026-11-27T08:00:00Z\n"},
        ("--jobs", "job.yaml"),
        ("job.yaml: deadline:", "'2026-11-27T08:00:00Z'", "2026-11-28T08:00:00Z"),
    ),
    Bad(
        "elastic-bounds",
        {"job.yaml": "name: a\nduration: 6h\nwithin: 1d\nelastic: {min_gpus: 8, max_gpus: 2}\n"},
        ("--jobs", "job.yaml"),
        ("job.yaml: elastic:", "min_gpus is greater than max_gpus"),
    ),
    Bad(
        "unknown-resources-key",
        {"job.yaml": "name: a\nduration: 6h\nwithin: 1d\nresources: {gpu: 8}\n"},
        ("--jobs", "job.yaml"),
        ("job.yaml: resources: unknown key 'gpu'", "did you mean 'gpus'"),
    ),
    Bad(
        "duplicate-job-names",
        {
            "jobs/a.yaml": "name: same\nduration: 1h\nwithin: 1d\n",
            "jobs/b.yaml": "name: same\nduration: 2h\nwithin: 1d\n",
        },
        ("--jobs", "jobs"),
        ("b.yaml: name:", "'same'", "also used by a.yaml"),
    ),
    Bad("empty-folder", {"jobs/notes.txt": "x"}, ("--jobs", "jobs"), ("no job specs",)),
    Bad("missing-jobs", {}, ("--jobs", "nope"), ("nope: no such file or folder",)),
]


JSON_TOO = ("unknown-key", "missing-file", "no-price-signal")


@pytest.mark.parametrize(
    ("case", "as_json"),
    [pytest.param(c, False, id=c.id) for c in BAD_SITE]
    + [pytest.param(c, True, id=f"{c.id}-json") for c in BAD_SITE if c.id in JSON_TOO],
)
def test_bad_site_is_one_line_and_exit_2(tmp_path: Path, case: Bad, as_json: bool) -> None:
    for name, text in case.files.items():
        write(tmp_path, name, text)
    if case.id == "not-utf8":
        (tmp_path / "latin1.yaml").write_bytes("clusters: caf\xe9\n".encode("latin-1"))
    args = ["config", "check", *case.args, *(["--json"] if as_json else [])]
    assert_user_error(run(*args, cwd=tmp_path), *case.shows)


@pytest.mark.parametrize("case", BAD_JOBS, ids=[c.id for c in BAD_JOBS])
def test_bad_jobs_are_one_line_and_exit_2(tmp_path: Path, case: Bad) -> None:
    good_site(tmp_path)
    for name, text in case.files.items():
        write(tmp_path, name, text)
    result = run("config", "check", "gridshift.yaml", *case.args, "--now", NOW, cwd=tmp_path)
    assert_user_error(result, *case.shows)


def test_naive_now_refused(tmp_path: Path) -> None:
    good_site(tmp_path)
    write(tmp_path, "job.yaml", JOB)
    result = run(
        "config",
        "check",
        "gridshift.yaml",
        "--jobs",
        "job.yaml",
        "--now",
        "2026-11-26 08:00",
        cwd=tmp_path,
    )
    assert_user_error(result, "--now", "'2026-11-26 08:00'", "no zone")


@pytest.mark.parametrize(
    ("args", "shows"),
    [
        (("config", "check"), "Missing argument"),
        (("config", "check", "gridshift.yaml", "--bogus"), "No such option"),
        (("config", "chek", "gridshift.yaml"), "No such command"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(
    tmp_path: Path, args: tuple[str, ...], shows: str
) -> None:
    good_site(tmp_path)
    assert_user_error(run(*args, cwd=tmp_path), shows)


# --- known bugs, shown through the CLI ---------------------------------------------------------


def test_control_character_error_is_one_line(tmp_path: Path) -> None:
    write(tmp_path, "g.yaml", "clusters: \x07\n")
    assert_user_error(run("config", "check", "g.yaml", cwd=tmp_path), "g.yaml")


def test_unhashable_key_is_a_user_error(tmp_path: Path) -> None:
    write(tmp_path, "g.yaml", "? [a]\n: 1\n")
    assert_user_error(run("config", "check", "g.yaml", cwd=tmp_path), "g.yaml")


def test_impossible_date_is_a_user_error(tmp_path: Path) -> None:
    good_site(tmp_path)
    write(tmp_path, "job.yaml", "name: a\nduration: 1h\ndeadline: 2026-02-30\n")
    result = run("config", "check", "gridshift.yaml", "--jobs", "job.yaml", cwd=tmp_path)
    assert_user_error(result, "job.yaml: deadline:", "2026-02-30")


def test_huge_elastic_range_answers_quickly(tmp_path: Path) -> None:
    good_site(tmp_path)
    write(
        tmp_path,
        "job.yaml",
        "name: a\nduration: 1h\nwithin: 1d\nelastic: {min_gpus: 1, max_gpus: 1000000000}\n",
    )
    result = run(
        "config",
        "check",
        "gridshift.yaml",
        "--jobs",
        "job.yaml",
        "--now",
        NOW,
        cwd=tmp_path,
        timeout=6,
    )
    assert result.returncode in (0, 2)
    assert "Traceback" not in result.stderr
