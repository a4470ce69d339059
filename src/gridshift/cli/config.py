"""``gridshift config check``: validate gridshift.yaml and job specs without running anything."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from gridshift.cli.output import console, print_json
from gridshift.config.jobs import load_job_specs
from gridshift.config.site import SignalSource, load_site
from gridshift.config.units import parse_time
from gridshift.domain.timeutil import to_iso
from gridshift.signals.providers import provider_class

app = typer.Typer(help="Check configuration files.", no_args_is_help=True)


def _keys(source: SignalSource) -> dict[str, Any]:
    """For a live source: which of its provider's environment keys are set."""
    if not source.live:
        return {}
    return {
        "keys": {
            name: bool(os.environ.get(name)) for name in provider_class(source.source).env_vars
        }
    }


@app.command()
def check(
    config: Annotated[Path, typer.Argument(help="The site configuration, gridshift.yaml.")],
    jobs: Annotated[
        Path | None, typer.Option("--jobs", help="A job spec file or a folder of them.")
    ] = None,
    now: Annotated[
        str | None, typer.Option("--now", help="Submission time for 'within:' (default: now).")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Validate a site configuration (and job specs against it); exit 2 on the first problem."""
    site = load_site(config)
    submitted = parse_time(now, field="--now") if now else datetime.now(UTC)
    loaded = load_job_specs(jobs, submitted_at=submitted, site=site) if jobs else []
    result: dict[str, Any] = {
        "config": str(config),
        "clusters": [
            {
                "name": c.name,
                "zone": c.zone,
                "executor": c.executor,
                "gpus": "unlimited" if c.gpus is None else c.gpus,
                "gpu_type": c.gpu_type,
                "pue": c.pue,
                "tariff": c.tariff.kind.value,
            }
            for c in site.clusters
        ],
        "signals": [
            {
                "zone": s.zone,
                "kind": s.kind.value,
                "source": s.source,
                "path": str(s.path) if s.path else None,
                **_keys(s),
            }
            for s in site.signals
        ],
        "objective": site.objective.describe(),
        "jobs": [
            {
                "id": j.id,
                "gpus": j.gpus,
                "duration_s": j.duration_s,
                "deadline": to_iso(j.deadline),
                "slack_s": j.slack_s,
                "priority": j.priority.value,
            }
            for j in loaded
        ],
    }
    if json_out:
        print_json(result)
        return
    table = Table(title=f"{config}: ok", title_justify="left")
    for column in ("cluster", "zone", "executor", "GPUs", "type", "PUE", "tariff"):
        table.add_column(column)
    for c in result["clusters"]:
        table.add_row(
            *(str(c[k]) for k in ("name", "zone", "executor", "gpus", "gpu_type", "pue", "tariff"))
        )
    console.print(table)
    console.print(f"signals: {len(site.signals)}; objective: {result['objective']}")
    for sig in result["signals"]:
        if "keys" in sig:
            missing = [name for name, there in sig["keys"].items() if not there]
            state = (
                f"{', '.join(missing)} not set: fetches fail, forecasts fall back"
                if missing
                else ("keys set" if sig["keys"] else "no key needed")
            )
            console.print(f"live: {sig['zone']} {sig['kind']} from {sig['source']} ({state})")
    if loaded:
        console.print(f"jobs: {len(loaded)} valid ({', '.join(j.id for j in loaded[:10])})")
