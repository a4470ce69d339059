"""The REST API (FastAPI): jobs, plan, clusters, signals, teams and tokens under ``/api/v1``."""
