"""The engine's knobs, with the defaults ``gridshift server`` uses."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EngineOptions:
    step_s: int = 900  # the plan's step (clock seconds)
    horizon_s: int = 48 * 3600  # how far ahead it plans
    replan_s: float = 900.0  # clock seconds between re-plans (events re-plan sooner)
    signal_refresh_s: float = 900.0  # clock seconds between forecast refreshes
    pass_s: float = 1.0  # wall seconds between passes of the loop
    replan_min_wall_s: float = 1.0  # events re-plan at most this often (wall seconds)
    lease_s: float = 60.0  # wall seconds an attempt may go unobserved before it is fenced
    grace_s: float = 30.0  # wall seconds a job has to save its checkpoint when paused
    cancel_grace_s: float = 10.0  # wall seconds between SIGTERM and SIGKILL on a cancel
    infra_retries: int = 3  # re-queues after infrastructure failures (lost, fenced)
    user_retries: int = 1  # re-runs after the job's own failures (non-zero exit)
    forecast_model: str | None = None  # the forecaster's default when None
    team_queue_limit: int = 10_000  # pending jobs a team may have (bounded queues)

    @property
    def watchdog_s(self) -> float:
        """Slack below which the deadline watchdog runs a job at once."""
        return self.replan_s + self.step_s
