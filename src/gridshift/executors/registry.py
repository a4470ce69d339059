"""Executors by name: one per cluster, built from the site configuration.

Only ``local`` runs in the control plane today; a cluster configured with another executor is
refused at server start with what to do (STYLE.md habit 7: unknown names list the valid ones).
"""

from __future__ import annotations

from pathlib import Path

from gridshift.domain import Cluster, ConfigError
from gridshift.executors.base import Executor

AVAILABLE = ("local",)


def build_executor(cluster: Cluster, state_root: Path, grace_s: float = 30.0) -> Executor:
    if cluster.executor == "local":
        from gridshift.executors.local import LocalExecutor

        return LocalExecutor(
            cluster.name, cluster.gpus, state_root / cluster.name, default_grace_s=grace_s
        )
    raise ConfigError(
        f"the {cluster.executor} executor is not available in the control plane yet",
        field="executor",
        value=cluster.executor,
        accepted=f"one of {', '.join(AVAILABLE)} (gridshift plan and simulate accept every kind)",
    )
