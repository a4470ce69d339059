"""The planner: a pure function (jobs, clusters, forecasts, objective, now) -> plan. No I/O."""
