"""The planner: a pure function from jobs, clusters, forecasts and an objective to a plan. No I/O."""
