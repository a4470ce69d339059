"""Plans: what the planner decided for each job, with the numbers and the reason."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from gridshift.domain.errors import ConfigError


class ObjectiveMode(StrEnum):
    COST = "cost"  # electricity cost only
    CARBON = "carbon"  # emissions only
    COMBINED = "combined"  # cost + carbon priced at carbon_price_usd_per_tonne


@dataclass(frozen=True)
class Objective:
    """What the planner minimises."""

    mode: ObjectiveMode = ObjectiveMode.COMBINED
    carbon_price_usd_per_tonne: float = 100.0

    def __post_init__(self) -> None:
        if self.carbon_price_usd_per_tonne < 0:
            raise ConfigError(
                "negative carbon price",
                field="objective.carbon_price_usd_per_tonne",
                value=self.carbon_price_usd_per_tonne,
                accepted="USD per tonne >= 0",
            )

    def describe(self) -> str:
        if self.mode is ObjectiveMode.COMBINED:
            return f"cost + carbon at ${self.carbon_price_usd_per_tonne:g}/t"
        return f"{self.mode.value} only"


@dataclass(frozen=True)
class Segment:
    """One contiguous run of a job: ``[start, end)`` on ``gpus`` GPUs at ``power_cap_w``."""

    start: datetime
    end: datetime
    gpus: int
    power_cap_w: float | None = None


@dataclass(frozen=True)
class Outcome:
    """Expected energy, cost and carbon of running something."""

    energy_kwh: float
    cost_usd: float
    carbon_kg: float


@dataclass(frozen=True)
class JobPlan:
    """A job's cluster and segments, its expected outcome, the run-now counterfactual and why."""

    job_id: str
    cluster: str
    segments: tuple[Segment, ...]
    outcome: Outcome
    run_now: Outcome | None
    reason: str


@dataclass(frozen=True)
class Infeasible:
    job_id: str
    reason: str


@dataclass(frozen=True)
class Plan:
    created_at: datetime
    objective: Objective
    jobs: tuple[JobPlan, ...]
    infeasible: tuple[Infeasible, ...]
    lower_bound: float | None = None
    gap_pct: float | None = None
    solver: str = ""
    objective_value: float = 0.0  # in the objective's units: USD, or kg CO2 in carbon mode
    note: str | None = None

    @property
    def energy_kwh(self) -> float:
        return sum(j.outcome.energy_kwh for j in self.jobs)

    @property
    def cost_usd(self) -> float:
        return sum(j.outcome.cost_usd for j in self.jobs)

    @property
    def carbon_kg(self) -> float:
        return sum(j.outcome.carbon_kg for j in self.jobs)
