"""``/plan``, ``/clusters``, ``/signals``, ``/healthz``: what the control plane decided and sees."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, Query, Request

from gridshift.api.auth import Principal, principal
from gridshift.api.problems import ProblemError, documented
from gridshift.api.schemas import ClusterOut, Health, SignalOut
from gridshift.domain import SignalKind
from gridshift.domain.status import ACTIVE
from gridshift.domain.timeutil import to_iso
from gridshift.engine.planning import plan_json

router = APIRouter()
Who = Annotated[Principal, Depends(principal)]
ERRORS = documented((401, "no valid bearer token"), (503, "no plan yet"))


@router.get("/plan", responses=ERRORS)
def current_plan(request: Request, who: Who) -> dict[str, Any]:
    """The current plan (``gridshift plan --json``'s shape), with each decision's reason; your
    team's jobs (an admin's: every job)."""
    runtime = request.app.state.runtime
    current = runtime.engine.current
    if current is None:
        raise ProblemError(503, "the engine has not planned yet; try again in a moment")
    teams = runtime.team_of_active()
    return plan_json(current, teams, None if who.role == "admin" else who.team)


@router.get("/clusters", response_model=list[ClusterOut], responses=ERRORS)
def clusters(request: Request, who: Who) -> list[ClusterOut]:
    """Clusters: capacity, GPUs in use, executor capabilities and the current signals."""
    runtime = request.app.state.runtime
    in_use: dict[str, int] = {}
    running: dict[str, int] = {}
    for a in runtime.store.open_attempts():
        in_use[a.cluster] = in_use.get(a.cluster, 0) + a.gpus
        running[a.cluster] = running.get(a.cluster, 0) + 1
    snapshot = runtime.engine.feed.latest
    out = []
    for c in runtime.site.clusters:
        signals: dict[str, float | None] = {}
        for kind in SignalKind:
            f = snapshot.forecasts.get((c.zone, kind)) if snapshot else None
            if f is not None and len(f.values):
                signals[kind.value] = round(float(f.values[0]), 3)
        ex = runtime.executors.get(c.name)
        caps = ex.capabilities if ex is not None else None
        out.append(
            ClusterOut(
                name=c.name,
                zone=c.zone,
                executor=c.executor,
                gpus=c.gpus,
                gpus_in_use=in_use.get(c.name, 0),
                gpu_type=c.gpu_type,
                pue=c.pue,
                capabilities={
                    "pause": bool(caps and caps.pause),
                    "resize": bool(caps and caps.resize),
                    "power_cap": bool(caps and caps.power_cap),
                },
                signals=signals,
                running_jobs=running.get(c.name, 0),
            )
        )
    return out


@router.get(
    "/signals",
    response_model=list[SignalOut],
    responses={**ERRORS, **documented((422, "an invalid parameter"))},
)
def signals(
    request: Request,
    who: Who,
    zone: Annotated[str | None, Query(max_length=64)] = None,
    kind: Annotated[SignalKind | None, Query()] = None,
    hours: Annotated[int, Query(ge=1, le=168)] = 24,
) -> list[SignalOut]:
    """Each configured signal: its current value and its forecast as of now (model, quality)."""
    runtime = request.app.state.runtime
    snapshot = runtime.engine.feed.latest
    if snapshot is None:
        raise ProblemError(503, "no forecasts yet; try again in a moment")
    out = []
    for (z, k), f in sorted(snapshot.forecasts.items(), key=lambda x: (x[0][0], x[0][1].value)):
        if (zone is not None and z != zone) or (kind is not None and k != kind):
            continue
        n = min(len(f.values), max(1, hours * 3600 // f.step_s))
        values = np.asarray(f.values[:n], dtype=float)
        out.append(
            SignalOut(
                zone=z,
                kind=k.value,
                unit=f.unit,
                as_of=to_iso(f.as_of),
                model=f.model,
                quality=f.quality,
                note=f.note or None,
                current=float(values[0]) if n else None,
                forecast=[
                    {"time": to_iso(t), "value": round(float(v), 4)}
                    for t, v in zip(f.times[:n], values, strict=True)
                ],
            )
        )
    return out


@router.get("/healthz", response_model=Health)
def healthz(request: Request) -> Health:
    """Liveness and readiness (no token needed): the store answers, the engine passes."""
    runtime = request.app.state.runtime
    try:
        counts = runtime.store.count_by_status()
        store = "ok"
    except Exception as exc:
        counts, store = {}, f"error: {type(exc).__name__}"
    engine = runtime.engine
    active = sum(n for s, n in counts.items() if s in {a.value for a in ACTIVE})
    return Health(
        status="ok" if store == "ok" else "degraded",
        store=store,
        engine={
            "passes": engine.passes,
            "replans": engine.replans,
            "active_jobs": active,
            "last_plan_s": round(engine.current.seconds, 3) if engine.current else None,
            "now": to_iso(runtime.clock.now()),
        },
    )
