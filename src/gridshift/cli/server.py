"""``gridshift server``: the control plane (API and engine together) on one port.

``--time-scale N`` runs an accelerated clock (N simulated seconds per second) from ``--start``:
for demos and fault tests on recorded signals. The clock's origin is kept in the data directory,
so a restarted server continues the same timeline.
"""

from __future__ import annotations

import json
import logging
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from gridshift.config.site import SiteConfig, load_site
from gridshift.config.units import parse_duration, parse_time
from gridshift.domain import UserError
from gridshift.engine.clock import Clock, ScaledClock, SystemClock
from gridshift.engine.options import EngineOptions
from gridshift.signals.library import default_data_dir

CLOCK_FILE = "clock.json"


def scaled_clock(data_dir: Path, start: datetime | None, scale: float) -> ScaledClock:
    """The accelerated clock of this data directory: its saved origin, else a new one."""
    path = data_dir / CLOCK_FILE
    if path.exists():
        saved = json.loads(path.read_text())
        if float(saved["scale"]) == scale:
            return ScaledClock(
                datetime.fromisoformat(saved["origin"]), float(saved["wall_origin"]), scale
            )
    clock = ScaledClock.starting(start or datetime.now(UTC), scale)
    data_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(
        json.dumps(
            {"origin": clock.origin.isoformat(), "wall_origin": clock.wall_origin, "scale": scale}
        )
    )
    os.replace(tmp, path)
    return clock


def engine_options(scale: float, replan: str | None, grace: str | None) -> EngineOptions:
    base = EngineOptions()
    return EngineOptions(
        replan_s=parse_duration(replan, field="--replan") if replan else base.replan_s,
        signal_refresh_s=parse_duration(replan, field="--replan") if replan else base.replan_s,
        grace_s=parse_duration(grace, field="--grace") if grace else base.grace_s,
        pass_s=base.pass_s if scale <= 1 else 0.25,
    )


def site_or_default(config: Path | None) -> SiteConfig:
    path = config or Path("gridshift.yaml")
    if not path.exists():
        raise UserError(
            f"no site configuration at {path}",
            hint="pass --config gridshift.yaml (DESIGN.md §3.4: clusters, signals, objective); "
            "'gridshift demo --serve' runs one ready-made",
        )
    return load_site(path)


def server_command(
    config: Annotated[
        Path | None, typer.Option("--config", help="Site configuration (gridshift.yaml).")
    ] = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="Store, logs, checkpoints (default $GRIDSHIFT_DATA_DIR)."),
    ] = None,
    time_scale: Annotated[
        float, typer.Option("--time-scale", help="Simulated seconds per second (demos, tests).")
    ] = 1.0,
    start: Annotated[
        str | None, typer.Option("--start", help="With --time-scale: the clock's start time.")
    ] = None,
    replan: Annotated[
        str | None, typer.Option("--replan", help="Re-plan interval (clock time), e.g. 15m.")
    ] = None,
    grace: Annotated[
        str | None, typer.Option("--grace", help="Checkpoint grace before SIGKILL, e.g. 30s.")
    ] = None,
) -> None:
    """Run the control plane: the REST API under /api/v1 and the engine, until interrupted."""
    import uvicorn

    from gridshift.api.app import create_app
    from gridshift.api.runtime import build_runtime

    if time_scale <= 0:
        raise UserError(f"--time-scale must be positive, got {time_scale}", hint="e.g. 600")
    site = site_or_default(config)
    root = data_dir or default_data_dir()
    clock: Clock = SystemClock()
    if time_scale != 1.0 or start is not None:
        origin = parse_time(start, field="--start") if start else None
        clock = scaled_clock(root, origin, time_scale)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    runtime = build_runtime(
        site,
        root,
        clock=clock,
        options=engine_options(time_scale, replan, grace),
        admin_token=os.environ.get("GRIDSHIFT_ADMIN_TOKEN") or None,
        planner_process=True,
    )
    app = create_app(runtime)
    started = time.perf_counter()
    print(f"gridshift server on http://{host}:{port}/api/v1 (data in {root})", flush=True)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
    finally:
        runtime.close()
        print(f"gridshift server stopped after {time.perf_counter() - started:.0f} s", flush=True)
