"""The CLI against a running server: ``submit``, ``jobs ls|show|cancel|logs``, ``clusters``, and
``plan`` without ``--jobs`` (the server's current plan). Every command has ``--json``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from gridshift.cli.client import ApiClient
from gridshift.cli.output import console, fmt, print_json
from gridshift.config.yamlio import read_yaml
from gridshift.domain import ConfigError

Url = Annotated[str | None, typer.Option("--url", help="Server URL (default $GRIDSHIFT_URL).")]
Token = Annotated[str | None, typer.Option("--token", help="Bearer token ($GRIDSHIFT_TOKEN).")]
Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]
JobId = Annotated[str, typer.Argument(help="Job id.")]

jobs_app = typer.Typer(help="Jobs of your team: ls, show, cancel, logs.", no_args_is_help=False)


def _when(value: str | None) -> str:
    return value.replace("T", " ").removesuffix("Z") if value else "-"


def _money(out: dict[str, Any] | None) -> str:
    if not out:
        return "-"
    return f"${out['cost_usd']:,.2f} · {out['carbon_kg']:,.1f} kg · {out['energy_kwh']:,.0f} kWh"


def _saving(job: dict[str, Any]) -> str:
    plan, now = job.get("expected"), job.get("run_now")
    if not plan or not now:
        return ""
    parts = []
    for key, label in (("cost_usd", "cost"), ("carbon_kg", "carbon")):
        if now[key] > 0:
            parts.append(f"{label} {100 * (plan[key] - now[key]) / now[key]:+.0f}%")
    return " vs run-now: " + ", ".join(parts) if parts else ""


def submit_command(
    spec: Annotated[Path, typer.Argument(help="Job spec (YAML, DESIGN.md §3.3).")],
    key: Annotated[
        str | None,
        typer.Option("--idempotency-key", help="Retry-safe key (default: a new one per call)."),
    ] = None,
    url: Url = None,
    token: Token = None,
    json_out: Json = False,
) -> None:
    """Submit a job; prints its id, status, planned start, and cost and carbon against run-now."""
    data = read_yaml(spec)
    if not isinstance(data, dict):
        raise ConfigError("a job spec is a mapping of keys", source=str(spec))
    job = ApiClient.configured(url, token).submit(data, key)
    if json_out:
        print_json(job)
        return
    console.print(f"[bold]{job['id']}[/bold]  {job['name']}  {job['status']}")
    if job["status"] == "unschedulable":
        console.print(f"  {job['reason']}")
        return
    console.print(
        f"  planned start  {_when(job.get('planned_start'))} on {job.get('cluster') or '-'}"
    )
    console.print(f"  expected       {_money(job.get('expected'))}")
    console.print(f"  run now        {_money(job.get('run_now'))}{_saving(job)}")


@jobs_app.callback(invoke_without_command=True)
def _jobs_default(
    ctx: typer.Context,
    status: Annotated[
        list[str] | None, typer.Option("--status", help="Only these statuses (repeatable).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many.")] = 100,
    url: Url = None,
    token: Token = None,
    json_out: Json = False,
) -> None:
    """Without a subcommand: ``jobs ls``."""
    if ctx.invoked_subcommand is None:
        ls(status=status, limit=limit, url=url, token=token, json_out=json_out)


@jobs_app.command("ls")
def ls(
    status: Annotated[
        list[str] | None, typer.Option("--status", help="Only these statuses (repeatable).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many.")] = 100,
    url: Url = None,
    token: Token = None,
    json_out: Json = False,
) -> None:
    """Your team's jobs, oldest first."""
    client = ApiClient.configured(url, token)
    params: dict[str, Any] = {"limit": min(limit, 500)}
    if status:
        params["status"] = status
    page = client.request("GET", "/jobs", params=params)
    items = page["items"][:limit]
    if json_out:
        print_json(items)
        return
    table = Table(box=None, header_style="bold")
    for col in ("id", "name", "status", "cluster", "gpus", "planned start", "deadline", "reason"):
        table.add_column(col)
    for j in items:
        why = j["plan_reason"] if j["status"] == "pending" and j["plan_reason"] else j["reason"]
        table.add_row(
            j["id"],
            j["name"],
            j["status"],
            j["cluster"] or "-",
            str(j["gpus"]),
            _when(j["planned_start"]),
            _when(j["deadline"]),
            why[:70],
        )
    console.print(table)
    if page.get("next_cursor"):
        console.print(f"(more: --limit above {limit})")


@jobs_app.command("show")
def show(
    job_id: JobId,
    url: Url = None,
    token: Token = None,
    json_out: Json = False,
) -> None:
    """One job: status, plan and its reason, attempts, events."""
    job = ApiClient.configured(url, token).request("GET", f"/jobs/{job_id}")
    if json_out:
        print_json(job)
        return
    console.print(f"[bold]{job['id']}[/bold]  {job['name']}  team {job['team']}  {job['status']}")
    console.print(f"  reason    {job['reason']}")
    console.print(f"  window    {_when(job['release_at'])} → {_when(job['deadline'])}")
    console.print(
        f"  plan      {job['cluster'] or '-'}  {_when(job['planned_start'])} → "
        f"{_when(job['planned_end'])}"
    )
    if job.get("plan_reason"):
        console.print(f"  why       {job['plan_reason']}")
    console.print(f"  expected  {_money(job.get('expected'))}")
    console.print(f"  run now   {_money(job.get('run_now'))}{_saving(job)}")
    console.print(f"  progress  {fmt(job['done_s'], 0)} of {fmt(job['duration_s'], 0)} s of work")
    for a in job["attempts_detail"]:
        console.print(
            f"  attempt {a['n']}  {a['cluster']}  {a['gpus']} GPUs  {a['state']}  "
            f"{_when(a['started_at'])} → {_when(a['ended_at'])}  {a['outcome'] or ''}"
        )
    for e in job["events"]:
        console.print(f"  {_when(e['at'])}  {e['kind']:<10} {e['message']}")


@jobs_app.command("cancel")
def cancel(
    job_id: JobId,
    url: Url = None,
    token: Token = None,
    json_out: Json = False,
) -> None:
    """Cancel a job (a running one is stopped: SIGTERM, grace, SIGKILL)."""
    job = ApiClient.configured(url, token).request("POST", f"/jobs/{job_id}/cancel")
    if json_out:
        print_json(job)
        return
    note = " (stopping)" if job["status"] == "running" else ""
    console.print(f"{job['id']}  {job['status']}{note}")


@jobs_app.command("logs")
def logs(
    job_id: JobId,
    tail: Annotated[int, typer.Option("--tail", help="Bytes per attempt.")] = 65536,
    url: Url = None,
    token: Token = None,
) -> None:
    """The job's output, every attempt (secrets redacted)."""
    text = ApiClient.configured(url, token).request(
        "GET", f"/jobs/{job_id}/logs", params={"tail": tail}, text=True
    )
    console.print(text, markup=False, highlight=False)


def clusters_command(url: Url = None, token: Token = None, json_out: Json = False) -> None:
    """Clusters: capacity, GPUs in use, executor capabilities, current signals."""
    rows = ApiClient.configured(url, token).request("GET", "/clusters")
    if json_out:
        print_json(rows)
        return
    table = Table(box=None, header_style="bold")
    for col in ("cluster", "zone", "executor", "GPUs used", "jobs", "carbon g/kWh", "price $/MWh"):
        table.add_column(col)
    for c in rows:
        total = "∞" if c["gpus"] is None else str(c["gpus"])
        table.add_row(
            c["name"],
            c["zone"],
            c["executor"],
            f"{c['gpus_in_use']}/{total}",
            str(c["running_jobs"]),
            fmt(c["signals"].get("carbon"), 0),
            fmt(c["signals"].get("price"), 1),
        )
    console.print(table)


def remote_plan(url: str | None, token: str | None, json_out: bool) -> None:
    """``gridshift plan`` against the server."""
    plan = ApiClient.configured(url, token).request("GET", "/plan")
    if json_out:
        print_json(plan)
        return
    console.print(
        f"plan of {_when(plan['created_at'])}: {len(plan['jobs'])} jobs, "
        f"{fmt(plan['energy_kwh'], 0)} kWh, ${fmt(plan['cost_usd'], 2)}, "
        f"{fmt(plan['carbon_kg'], 1)} kg CO2 ({plan['objective_mode']}; {plan['seconds']} s)"
    )
    table = Table(box=None, header_style="bold")
    for col in ("job", "cluster", "start", "end", "gpus", "reason"):
        table.add_column(col)
    for j in plan["jobs"]:
        segs = j["segments"]
        table.add_row(
            j["id"],
            j["cluster"],
            _when(segs[0]["start"]) if segs else "-",
            _when(segs[-1]["end"]) if segs else "-",
            str(segs[0]["gpus"]) if segs else "-",
            j["reason"],
        )
    console.print(table)
    for i in plan["infeasible"]:
        console.print(f"not planned: {i['id']}: {i['reason']}")
