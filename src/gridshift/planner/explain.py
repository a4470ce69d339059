"""Reasons: why each job got its plan, with numbers, and why a job cannot be planned at all.

Every planned job gets its run-now counterfactual (the job alone, on the same cluster, started at
its release at the requested GPUs uncapped, contiguous) and a sentence built from the difference:
when it runs, what the signals are then against at release, which levers it uses, what that saves
and how much time is left before its deadline.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np

from gridshift.domain import ObjectiveMode, Outcome, Priority
from gridshift.planner.model import JobTable, Problem
from gridshift.planner.schedule import (
    Placement,
    contiguous,
    finish_step,
    outcome,
    resumes,
    runs,
)


def _hm(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M UTC")


def _hours(seconds: float) -> str:
    hours = seconds / 3600
    if abs(hours) < 1:
        return f"{seconds / 60:.0f} min"
    return f"{hours:.1f} h"


def run_now(problem: Problem, table: JobTable, cluster: int) -> Placement:
    """The job alone on ``cluster`` from its release, uncapped, contiguous (capacity ignored;
    a run longer than the horizon is cut at its end)."""
    length = table.work_s / (table.modes[0].rate * problem.step_s)
    return contiguous(problem, table, cluster, 0, table.release, length)


def _mean_over(values: np.ndarray, placement: Placement) -> float:
    """The time-weighted mean of a per-step signal over the placement's run."""
    weight = placement.frac
    total = float(weight.sum())
    if total <= 0:
        return float("nan")
    return float(values @ weight) / total


def reason(
    problem: Problem,
    table: JobTable,
    placement: Placement,
    planned: Outcome,
    counterpart: tuple[Placement, Outcome] | None = None,
) -> str:
    """The decision in one sentence with its numbers. ``counterpart`` is the run-now placement
    and outcome when the caller has them already."""
    c = placement.cluster
    cluster = problem.clusters[c]
    if counterpart is None:
        now_placement = run_now(problem, table, c)
        baseline = outcome(problem, table, now_placement)
    else:
        now_placement, baseline = counterpart
    parts: list[str] = []
    active_steps = np.nonzero(placement.active())[0]
    first = int(active_steps[0])
    delay_s = (first - table.release) * problem.step_s
    carbon = problem.carbon_g_per_kwh[c]
    usd_mwh = problem.usd_per_kwh[c] * 1000
    if delay_s <= 0:
        parts.append(f"starts at its release ({_hm(problem.time_at(first))}) on {cluster.name}")
    else:
        parts.append(
            f"deferred {_hours(delay_s)} to {_hm(problem.time_at(first))} on {cluster.name}"
        )
    signal_bits = []
    planned_carbon = _mean_over(carbon, placement)
    baseline_carbon = _mean_over(carbon, now_placement)
    if problem.objective.mode is not ObjectiveMode.COST:
        signal_bits.append(
            f"{cluster.zone} carbon {planned_carbon:.0f} g/kWh (run-now {baseline_carbon:.0f})"
        )
    if problem.objective.mode is not ObjectiveMode.CARBON and cluster.tariff.needs_price_signal:
        signal_bits.append(
            f"price ${_mean_over(usd_mwh, placement):.0f}/MWh "
            f"(run-now ${_mean_over(usd_mwh, now_placement):.0f})"
        )
    if signal_bits:
        parts.append("averaging " + " and ".join(signal_bits) + " over its run")
    allowed = int(table.allowed.sum())
    if allowed > 1:
        window = slice(table.release, max(table.release + 1, table.deadline))
        mean_cost = problem.cost[:, window].mean(axis=1)
        cheapest = bool(mean_cost[c] <= mean_cost[table.allowed].min() + 1e-12)
        parts.append(
            f"cheapest of {allowed} allowed clusters ({cluster.zone})"
            if cheapest
            else f"{cluster.zone} of {allowed} allowed clusters: cheaper ones had no room"
        )
    # Levers.
    modes = {int(m) for m in placement.mode[placement.active()]}
    caps = sorted({r for m in modes if (r := table.modes[m].cap_ratio) is not None})
    if caps:
        watts = sorted(
            {round(float(table.modes[m].cap_w[c])) for m in modes if table.modes[m].cap_ratio}
        )
        parts.append(
            f"power-capped to {', '.join(f'{w} W' for w in watts)} per GPU "
            f"({', '.join(f'{r:.0%}' for r in caps)} of its natural draw) to save energy"
        )
    gpu_counts = sorted({table.modes[m].gpus for m in modes})
    if table.job.elastic is not None and gpu_counts != [table.job.gpus]:
        if len(gpu_counts) > 1:
            parts.append(f"elastic on {gpu_counts[0]}-{gpu_counts[-1]} GPUs, more in cheap steps")
        else:
            parts.append(f"elastic: runs on {gpu_counts[0]} GPUs")
    k = resumes(table, placement)
    if k:
        n_runs = len(runs(placement.active()))
        parts.append(
            f"in {n_runs} run{'s' if n_runs != 1 else ''} ({k} resume(s), "
            f"+{_hours(k * table.overhead_s)} checkpoint overhead)"
        )
    # Savings against run-now.
    d_kg = baseline.carbon_kg - planned.carbon_kg
    d_usd = baseline.cost_usd - planned.cost_usd
    if abs(d_kg) < 0.005 and abs(d_usd) < 0.005:
        parts.append("no saving available against run-now")
    else:
        carbon_part = f"{'saves' if d_kg >= 0 else 'adds'} {abs(d_kg):.1f} kg CO2"
        if (d_kg >= 0) == (d_usd >= 0):
            cost_part = f"${abs(d_usd):.2f}"
        else:
            cost_part = f"{'saves' if d_usd >= 0 else 'costs'} ${abs(d_usd):.2f}"
        parts.append(f"{carbon_part} and {cost_part} against run-now")
    slack_s = (table.deadline - finish_step(placement)) * problem.step_s
    if table.beyond_horizon:
        parts.append(f"finishes {_hours(slack_s)} before the horizon ends")
    else:
        deadline_gap = (
            table.job.deadline - problem.time_at(finish_step(placement))
        ).total_seconds()
        parts.append(f"finishes {_hours(deadline_gap)} before its deadline")
    parts.extend(table.notes)
    for key, note in problem.zone_notes.items():
        if key.startswith(cluster.zone + "/"):
            parts.append(note)
    return "; ".join(p for p in parts if p)


def precheck(problem: Problem, table: JobTable) -> str | None:
    """Why a job cannot be planned whatever the others do, or None."""
    job = table.job
    clusters = problem.clusters
    if not table.allowed.any():
        if job.zones:
            served = sorted({c.zone for c in clusters})
            return (
                f"no cluster in its allowed zones {', '.join(job.zones)}"
                + (f" with {job.gpu_type} GPUs" if job.gpu_type else "")
                + f"; clusters serve {', '.join(served)}"
            )
        types = sorted({c.gpu_type for c in clusters})
        return f"needs {job.gpu_type} GPUs; clusters have {', '.join(types)}"
    need = job.elastic.min_gpus if job.elastic else job.gpus
    allowed = [c for c, ok in zip(clusters, table.allowed, strict=True) if ok]
    biggest = max(allowed, key=lambda c: float("inf") if c.gpus is None else c.gpus)
    if biggest.gpus is not None and need > biggest.gpus:
        return f"needs {need} GPUs; the largest allowed cluster ({biggest.name}) has {biggest.gpus}"
    if table.work_s <= 0:
        return "no work left (the running job has done its whole duration): nothing to plan"
    if problem.time_at(table.release) >= job.deadline:
        return f"its deadline {_hm(job.deadline)} has passed"
    pinned = table.priority is Priority.CRITICAL or (
        table.running_on is not None and not table.interruptible
    )
    # Critical and running contiguous work run in mode 0 only (no resize without a restart).
    fastest = table.modes[0].rate if pinned else max(m.rate for m in table.modes)
    finish = problem.time_at(table.release + table.work_s / (fastest * problem.step_s))
    if finish > job.deadline:
        return f"earliest possible finish {_hm(finish)} is after the deadline {_hm(job.deadline)}"
    if table.release >= problem.steps:
        return "its earliest start is after the planning horizon"
    heads = problem.headroom_kw[table.allowed].max(axis=1)
    kws = np.array([m.kw[table.allowed] for m in table.modes])  # [M, A]
    kws = np.where(np.isfinite(kws), kws, np.inf).min(axis=0)
    if np.all(kws > heads):
        i = int(np.argmax(heads))
        name = allowed[i].name
        return (
            f"needs at least {kws[i]:.1f} kW (its least-power mode); the site limit of {name} "
            "leaves "
            f"{heads[i]:.1f} kW after its idle draw"
        )
    return None


def no_room(problem: Problem, table: JobTable) -> str:
    names = ", ".join(c.name for c, ok in zip(problem.clusters, table.allowed, strict=True) if ok)
    kind = "contiguous window" if not table.interruptible else "set of steps"
    return (
        f"no {kind} with {table.job.gpus} free GPUs for {_hours(table.work_s)} on {names} "
        f"before its deadline {_hm(table.job.deadline)}: capacity is held by work of equal or "
        f"higher priority (priority {table.priority.value})"
    )
