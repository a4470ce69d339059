"""``signals fetch|forecast|backtest`` and ``plan`` with a live source, as a user runs them.

The live provider is the real ``uk-carbon-intensity`` module talking HTTP to a real local server
(``ThreadingHTTPServer`` on loopback) that answers in the API's documented shapes for whatever
range it is asked; the config points the source at it with ``base_url``. The gridshift command runs
in a subprocess, as users run it.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

GRIDSHIFT = Path(sys.executable).parent / "gridshift"
UK_TIME = "%Y-%m-%dT%H:%MZ"


def intensity(t: datetime) -> int:
    hour = t.hour + t.minute / 60
    return int(180 + 60 * math.sin(2 * math.pi * hour / 24))


def periods(start: datetime, end: datetime, actual: bool) -> list[dict[str, Any]]:
    out = []
    t = start
    while t < end:
        value = intensity(t)
        out.append(
            {
                "from": t.strftime(UK_TIME),
                "to": (t + timedelta(minutes=30)).strftime(UK_TIME),
                "intensity": {
                    "forecast": value + 3,
                    "actual": value if actual else None,
                    "index": "moderate",
                },
            }
        )
        t += timedelta(minutes=30)
    return out


class UkApi(BaseHTTPRequestHandler):
    """``/intensity/{from}/{to}`` and ``/intensity/{from}/fw48h``; ``mode`` makes it fail."""

    mode = "ok"
    seen: list[str] = []  # noqa: RUF012 - shared by the server threads on purpose

    def do_GET(self) -> None:
        UkApi.seen.append(self.path)
        if UkApi.mode == "down":
            self._send(503, b'{"error": "maintenance"}')
            return
        parts = self.path.strip("/").split("/")
        if len(parts) != 3 or parts[0] != "intensity":
            self._send(404, b'{"error": {"code": "404", "message": "not found"}}')
            return
        start = datetime.strptime(parts[1], UK_TIME).replace(tzinfo=UTC)
        if parts[2] == "fw48h":
            body = periods(start, start + timedelta(hours=48), actual=False)
        else:
            end = datetime.strptime(parts[2], UK_TIME).replace(tzinfo=UTC)
            body = periods(start - timedelta(minutes=30), end, actual=True)
        self._send(200, json.dumps({"data": body}).encode())

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def uk_api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), UkApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    UkApi.mode = "ok"
    UkApi.seen = []
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def site(tmp_path: Path, base_url: str, source: str = "uk-carbon-intensity") -> Path:
    path = tmp_path / "gridshift.yaml"
    path.write_text(
        "clusters:\n"
        "  - {name: lon-1, zone: GB, gpus: 16, tariff: {kind: fixed, usd_per_mwh: 120}}\n"
        "signals:\n"
        f"  - {{zone: GB, kind: carbon, source: {source}, base_url: '{base_url}'}}\n"
        "objective: {mode: carbon}\n"
    )
    return path


def run(
    data_dir: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "GRIDSHIFT_DATA_DIR": str(data_dir), "COLUMNS": "200"}
    environ.pop("ELECTRICITYMAPS_API_TOKEN", None)
    environ.update(env or {})
    return subprocess.run(
        [str(GRIDSHIFT), *args], capture_output=True, text=True, env=environ, timeout=120
    )


def test_fetch_stores_history_and_archives_the_forecast(tmp_path: Path, uk_api: str) -> None:
    data = tmp_path / "data"
    config = site(tmp_path, uk_api)
    now = datetime.now(UTC)
    end = now.replace(minute=now.minute - now.minute % 30, second=0, microsecond=0)
    window = ("--from", (end - timedelta(hours=48)).isoformat(), "--to", end.isoformat())
    done = run(data, "signals", "fetch", "--config", str(config), *window, "--json")
    assert done.returncode == 0, done.stderr
    (row,) = json.loads(done.stdout)
    assert row["zone"] == "GB"
    assert row["source"] == "uk-carbon-intensity"
    assert row["history"]["points"] == 96  # 48 h of half hours
    assert row["forecast"]["points"] >= 96
    assert any(p.startswith("/intensity/") and p.endswith("/fw48h") for p in UkApi.seen)
    assert (data / "forecasts" / "GB" / "carbon.parquet").exists()

    shown = run(data, "signals", "show", "--zone", "GB", "--kind", "carbon", "--json")
    assert shown.returncode == 0, shown.stderr
    summary = json.loads(shown.stdout)
    assert summary["step_s"] == 1800
    assert summary["points"] == 96
    expected = [intensity(end - timedelta(minutes=30 * k)) for k in range(1, 97)]
    assert summary["min"] == min(expected)
    assert summary["max"] == max(expected)


def test_forecast_uses_the_provider_then_degrades_when_it_is_down(
    tmp_path: Path, uk_api: str
) -> None:
    data = tmp_path / "data"
    config = site(tmp_path, uk_api)
    args = ("signals", "forecast", "--zone", "GB", "--kind", "carbon", "--config", str(config))
    live = run(data, *args, "--json")
    assert live.returncode == 0, live.stderr
    got = json.loads(live.stdout)
    assert got["model"].startswith("uk-carbon-intensity")
    assert got["quality"] == "ok"
    assert got["step_s"] == 1800
    first = datetime.strptime(got["points"][0]["time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert got["points"][0]["value"] == intensity(first) + 3  # the provider's forecast field

    asked = len(UkApi.seen)
    again = run(data, *args, "--json")
    assert again.returncode == 0, again.stderr
    assert len(UkApi.seen) == asked  # answered from the HTTP cache (5 minutes)

    UkApi.mode = "down"
    shutil.rmtree(data / "cache")  # as if the cache had expired
    down = run(data, *args, "--json")
    assert down.returncode == 0, down.stderr
    fallback = json.loads(down.stdout)
    assert "HTTP 503" in fallback["note"]
    # The forecast fetched a moment ago is in the archive and still fresh: it stands in.
    assert fallback["model"].startswith("uk-carbon-intensity")
    assert all(math.isfinite(p["value"]) for p in fallback["points"])

    text = run(data, *args, "--offline")
    assert text.returncode == 0, text.stderr
    assert "quality" in text.stdout


def test_fetch_reports_a_provider_outage_in_one_line_and_changes_nothing(
    tmp_path: Path, uk_api: str
) -> None:
    data = tmp_path / "data"
    UkApi.mode = "down"
    done = run(data, "signals", "fetch", "--config", str(site(tmp_path, uk_api)))
    assert done.returncode == 1
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("gridshift: error: 1 of 1 source(s) failed: GB carbon")
    assert "HTTP 503" in line
    assert not (data / "signals").exists()


def test_fetch_without_a_key_is_a_user_error_naming_the_variable(tmp_path: Path) -> None:
    done = run(
        tmp_path / "data",
        "signals",
        "fetch",
        "--zone",
        "DE-LU",
        "--kind",
        "carbon",
        "--source",
        "electricitymaps",
    )
    assert done.returncode == 2
    assert "ELECTRICITYMAPS_API_TOKEN not set" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("args", "shows"),
    [
        (["signals", "fetch"], "say what to fetch"),
        (["signals", "fetch", "--zone", "GB", "--kind", "carbon", "--source", "nope"], "nope"),
        (
            [
                "signals",
                "fetch",
                "--zone",
                "GB",
                "--kind",
                "price",
                "--source",
                "uk-carbon-intensity",
            ],
            "does not serve price",
        ),
        (["signals", "forecast", "--zone", "GB", "--kind", "carbon", "--model", "magic"], "magic"),
        (
            ["signals", "forecast", "--zone", "GB", "--kind", "carbon", "--horizon", "30d"],
            "1h to 14d",
        ),
        (
            [
                "signals",
                "forecast",
                "--zone",
                "GB",
                "--kind",
                "carbon",
                "--as-of",
                "2022-01-01T00:00",
            ],
            "zone",
        ),
        (["signals", "backtest", "--zone", "XX", "--kind", "carbon"], "no carbon data for zone XX"),
        (["signals", "backtest", "--zone", "GB", "--kind", "carbon", "--horizon", "90m"], "whole"),
        (
            [
                "signals",
                "backtest",
                "--zone",
                "GB",
                "--kind",
                "carbon",
                "--from",
                "2022-05-01",
                "--to",
                "2022-04-01",
            ],
            "not after",
        ),
    ],
)
def test_mistakes_get_one_line_and_exit_2(tmp_path: Path, args: list[str], shows: str) -> None:
    done = run(tmp_path / "data", *args)
    assert done.returncode == 2, done.stdout + done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("gridshift: error: ")
    assert shows in line


def test_backtest_json_has_the_contract_keys_on_bundled_data(tmp_path: Path) -> None:
    done = run(
        tmp_path / "data",
        "signals",
        "backtest",
        "--zone",
        "DE-LU",
        "--kind",
        "price",
        "--from",
        "2022-06-01",
        "--to",
        "2022-07-01",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    for key in (
        "zone",
        "kind",
        "model",
        "horizon_h",
        "by_horizon",
        "mae",
        "persistence_mae",
        "skill",
    ):
        assert key in got
    assert got["horizon_h"] == 48
    assert len(got["by_horizon"]) == 48
    assert got["skill"] == pytest.approx(1 - got["mae"] / got["persistence_mae"], abs=1e-3)
    assert got["forecasts"] == 30 * 24
    text = run(tmp_path / "data", "signals", "backtest", "--zone", "GB", "--kind", "carbon")
    assert text.returncode == 0, text.stderr
    assert "persistence" in text.stdout
    assert "80 % band" in text.stdout


def test_plan_says_which_forecasts_it_used(tmp_path: Path) -> None:
    config = Path(__file__).resolve().parent.parent / "examples" / "gridshift.yaml"
    jobs = config.parent / "jobs.csv"
    args = ["plan", "--config", str(config), "--jobs", str(jobs), "--now", "2022-06-01T06:00:00Z"]
    done = run(tmp_path / "data", *args, "--json")
    assert done.returncode == 0, done.stderr
    used = json.loads(done.stdout)["forecasts"]
    assert {(u["zone"], u["kind"]) for u in used} >= {("DE-LU", "carbon"), ("GB", "carbon")}
    assert all(u["model"] == "ets" and u["quality"] == "ok" for u in used)
    perfect = run(tmp_path / "data", *args, "--forecast", "perfect", "--json")
    assert {u["model"] for u in json.loads(perfect.stdout)["forecasts"]} == {"perfect"}


def test_bench_forecast_and_backtest_report_their_measurements(tmp_path: Path) -> None:
    done = run(tmp_path / "data", "bench", "forecast", "--zones", "3", "--json")
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert got["zones"] == 3
    assert got["model"] == "ets"
    assert got["steps"] == 3 * 49  # 48 h from 10:20: the 10:00 step and 48 more
    assert got["seconds"] > 0
    done = run(tmp_path / "data", "bench", "backtest", "--zones", "1", "--json")
    assert done.returncode == 0, done.stderr
    (row,) = json.loads(done.stdout)["zones"]
    assert row["forecasts"] == 365 * 24
    bad = run(tmp_path / "data", "bench", "forecast", "--zones", "21")
    assert bad.returncode == 2
    assert "--zones 21 is out of range" in bad.stderr
