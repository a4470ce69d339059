"""Reasons: why each job got its plan, with numbers, and why a job cannot be planned at all.

Every planned job gets its run-now counterfactual (the job alone, on the same cluster, started at
its release at the requested GPUs uncapped, contiguous) and a sentence built from the difference:
when it runs, what the signals are then against at release, which levers it uses, what that saves
and how much time is left before its deadline.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np

from gridshift.domain import ObjectiveMode, Priority
from gridshift.planner.flat import CRITICAL, FIXED, arrays_of
from gridshift.planner.model import JobTable, Problem
from gridshift.planner.summary import (
    CARBON,
    FINISH,
    FIRST,
    KG,
    MODES,
    NOW_CARBON,
    NOW_KG,
    NOW_PRICE,
    NOW_USD,
    PRICE,
    RESUMES,
    RUNS,
    USD,
    Summary,
)


def _hm(when: datetime) -> str:
    """``YYYY-MM-DD HH:MM UTC`` (what strftime gives, at a tenth of its cost)."""
    return f"{when.year:04d}-{when.month:02d}-{when.day:02d} {when.hour:02d}:{when.minute:02d} UTC"


def _hours(seconds: float) -> str:
    hours = seconds / 3600
    if abs(hours) < 1:
        return f"{seconds / 60:.0f} min"
    return f"{hours:.1f} h"


def _lever_text(table: JobTable, c: int, mask: int) -> tuple[str, ...]:
    used = [m for i, m in enumerate(table.modes) if mask >> i & 1]
    parts = []
    caps = sorted({m.cap_ratio for m in used if m.cap_ratio is not None})
    if caps:
        watts = sorted({round(float(m.cap_w[c])) for m in used if m.cap_ratio})
        parts.append(
            f"power-capped to {', '.join(f'{w} W' for w in watts)} per GPU "
            f"({', '.join(f'{r:.0%}' for r in caps)} of its natural draw) to save energy"
        )
    gpu_counts = sorted({m.gpus for m in used})
    if table.job.elastic is not None and gpu_counts != [table.job.gpus]:
        if len(gpu_counts) > 1:
            parts.append(f"elastic on {gpu_counts[0]}-{gpu_counts[-1]} GPUs, more in cheap steps")
        else:
            parts.append(f"elastic: runs on {gpu_counts[0]} GPUs")
    return tuple(parts)


def _levers(
    table: JobTable, c: int, mask: int, cache: dict[tuple[int, ...], object]
) -> tuple[str, ...]:
    """Power caps and elastic GPU counts the placement uses. Jobs share their lists of modes
    (``model.build_problem``), so the words are cached per list, cluster and modes used (the
    cache lives as long as the summary, and so do the lists)."""
    key = (id(table.modes), c, mask, table.job.gpus, table.job.elastic is not None)
    text = cache.get(key)
    if text is None:
        text = cache[key] = _lever_text(table, c, mask)
    return text  # type: ignore[return-value]


def reason(problem: Problem, table: JobTable, summary: Summary, p: int) -> str:
    """The decision for the job in row ``p`` of ``summary``, in one sentence with its numbers."""
    numbers = summary.number_rows[p]
    counts = summary.count_rows[p]
    c = int(summary.clusters[p])
    cluster = problem.clusters[c]
    parts: list[str] = []
    first = int(counts[FIRST])
    delay_s = (first - table.release) * problem.step_s
    if delay_s <= 0:
        parts.append(f"starts at its release ({_hm(problem.time_at(first))}) on {cluster.name}")
    elif table.priority is Priority.CRITICAL:
        parts.append(
            f"critical, but no room at its release: starts at the first step with room, "
            f"{_hm(problem.time_at(first))} on {cluster.name} ({_hours(delay_s)} later)"
        )
    else:
        parts.append(
            f"deferred {_hours(delay_s)} to {_hm(problem.time_at(first))} on {cluster.name}"
        )
    signal_bits = []
    if problem.objective.mode is not ObjectiveMode.COST:
        signal_bits.append(
            f"{cluster.zone} carbon {numbers[CARBON]:.0f} g/kWh (run-now {numbers[NOW_CARBON]:.0f})"
        )
    if problem.objective.mode is not ObjectiveMode.CARBON and cluster.tariff.needs_price_signal:
        signal_bits.append(f"price ${numbers[PRICE]:.0f}/MWh (run-now ${numbers[NOW_PRICE]:.0f})")
    if signal_bits:
        parts.append("averaging " + " and ".join(signal_bits) + " over its run")
    allowed = int(summary.allowed[p])
    if allowed > 1:
        parts.append(
            f"cheapest of {allowed} allowed clusters ({cluster.zone})"
            if summary.cheapest[p]
            else f"{cluster.zone} of {allowed} allowed clusters: cheaper ones had no room"
        )
    parts.extend(_levers(table, c, int(counts[MODES]), summary.texts))
    k = int(counts[RESUMES])
    if k:
        n_runs = int(counts[RUNS])
        parts.append(
            f"in {n_runs} run{'s' if n_runs != 1 else ''} ({k} resume(s), "
            f"+{_hours(k * table.overhead_s)} checkpoint overhead)"
        )
    # Savings against run-now.
    d_kg = float(numbers[NOW_KG] - numbers[KG])
    d_usd = float(numbers[NOW_USD] - numbers[USD])
    if abs(d_kg) < 0.005 and abs(d_usd) < 0.005:
        parts.append("no saving available against run-now")
    else:
        carbon_part = f"{'saves' if d_kg >= 0 else 'adds'} {abs(d_kg):.1f} kg CO2"
        if (d_kg >= 0) == (d_usd >= 0):
            cost_part = f"${abs(d_usd):.2f}"
        else:
            cost_part = f"{'saves' if d_usd >= 0 else 'costs'} ${abs(d_usd):.2f}"
        parts.append(f"{carbon_part} and {cost_part} against run-now")
    finish = float(numbers[FINISH])
    if table.beyond_horizon:
        slack_s = (table.deadline - finish) * problem.step_s
        parts.append(f"finishes {_hours(slack_s)} before the horizon ends")
    else:
        deadline_gap = (table.job.deadline - problem.time_at(finish)).total_seconds()
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
    if table.release + table.work_s / (fastest * problem.step_s) > table.deadline + 1e-9:
        # The plan uses whole steps of the grid; the deadline (or the horizon's end) cuts it.
        last = problem.time_at(table.deadline)
        if table.beyond_horizon:
            return (
                f"cannot finish within the planning horizon (ends {_hm(last)}): from its "
                f"release it needs until {_hm(finish)}"
            )
        return (
            f"cannot finish by its deadline {_hm(job.deadline)} on the "
            f"{_hours(problem.step_s)} planning grid: from its release it needs until "
            f"{_hm(finish)}, and the last whole step before the deadline ends at {_hm(last)} "
            "(a finer step would plan it)"
        )
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


def precheck_all(problem: Problem) -> dict[int, str]:
    """``precheck`` for every job: the jobs that cannot be planned, with why. A vectorised pass
    flags the jobs any of its rules might refuse (a superset); ``precheck`` words those."""
    a = arrays_of(problem)
    J = len(problem.jobs)
    if J == 0:
        return {}
    step_s = problem.step_s
    need = np.array([t.job.elastic.min_gpus if t.job.elastic else t.job.gpus for t in problem.jobs])
    due = np.array([(t.job.deadline - problem.t0).total_seconds() for t in problem.jobs])
    real = np.arange(a.rate.shape[1])[None, :] < a.n_modes[:, None]
    pinned = (a.kind == CRITICAL) | (a.kind == FIXED)
    fastest = np.where(pinned, a.rate[:, 0], np.where(real, a.rate, 0.0).max(axis=1))
    with np.errstate(divide="ignore"):
        finish_s = (a.release + a.work / (fastest * step_s)) * step_s
    biggest = np.where(a.allowed, problem.gpus[None, :], 0).max(axis=1)
    kw_least = np.where(np.isfinite(a.kw), a.kw, np.inf).min(axis=1)  # [J, C]
    heads = problem.headroom_kw.max(axis=1)  # [C]
    powered = (a.allowed & (kw_least <= heads[None, :])).any(axis=1)
    flagged = (
        ~a.allowed.any(axis=1)
        | (need > biggest)
        | (a.work <= 0)
        | (a.release * step_s >= due - 1.0)
        | (finish_s > due - 1.0)
        | (a.release >= problem.steps)
        | (a.release + a.work / (fastest * step_s) > a.deadline - 1e-6)
        | ~powered
    )
    out: dict[int, str] = {}
    for j in np.nonzero(flagged)[0].tolist():
        why = precheck(problem, problem.jobs[j])
        if why is not None:
            out[j] = why
    return out


def no_room(problem: Problem, table: JobTable) -> str:
    names = ", ".join(c.name for c, ok in zip(problem.clusters, table.allowed, strict=True) if ok)
    kind = "contiguous window" if not table.interruptible else "set of steps"
    return (
        f"no {kind} with {table.job.gpus} free GPUs for {_hours(table.work_s)} on {names} "
        f"before its deadline {_hm(table.job.deadline)}: capacity is held by work of equal or "
        f"higher priority (priority {table.priority.value})"
    )
