"""The planner: a pure function (jobs, clusters, forecasts, objective, now) -> plan. No I/O.

Stages (SkyPilot's optimizer style): ``model`` lists candidates and builds the cost tables,
``fast`` or ``exact`` solves, ``bound`` gives a lower bound, ``explain`` gives every decision its
reason and every infeasible job its cause. ``window`` is the per-job cheapest-window baseline.
"""

from gridshift.planner.core import SOLVERS, plan, solve
from gridshift.planner.model import PlannerOptions, RunningJob

__all__ = ["SOLVERS", "PlannerOptions", "RunningJob", "plan", "solve"]
