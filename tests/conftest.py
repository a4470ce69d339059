"""Shared test set-up: hypothesis profiles and the rule for tests that need a real service.

Profiles: ``dev`` (default, quick), ``ci`` (selected when CI or GRIDSHIFT_REQUIRE_SERVICES is
set: more examples, no deadline) and ``fuzz`` (GRIDSHIFT_FUZZ=1: 10,000 examples, for
``make fuzz``). ``require_service(name, available, reason)`` skips a test whose
service is not installed, and fails it instead under ``GRIDSHIFT_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Shared assertion helpers get pytest's detailed failure messages too.
pytest.register_assert_rewrite("provider_fakes")

IN_CI = bool(os.environ.get("CI") or os.environ.get("GRIDSHIFT_REQUIRE_SERVICES"))

settings.register_profile("dev", max_examples=100, deadline=None)
settings.register_profile(
    "ci", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
# ``make fuzz``: the RELIABILITY.md target of 10,000 generated inputs per parser.
settings.register_profile(
    "fuzz", max_examples=10_000, deadline=None, suppress_health_check=list(HealthCheck)
)
settings.load_profile("fuzz" if os.environ.get("GRIDSHIFT_FUZZ") else "ci" if IN_CI else "dev")

DATA = Path(__file__).parent / "data"


def require_service(name: str, available: bool, reason: str) -> None:
    """Skip (or, when services are required, fail) a test whose service is missing."""
    if available:
        return
    message = f"{name} is not available: {reason}"
    if os.environ.get("GRIDSHIFT_REQUIRE_SERVICES") == "1":
        pytest.fail(f"GRIDSHIFT_REQUIRE_SERVICES=1 but {message}")
    pytest.skip(message)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty gridshift data directory, set as GRIDSHIFT_DATA_DIR."""
    path = tmp_path / "gridshift-data"
    monkeypatch.setenv("GRIDSHIFT_DATA_DIR", str(path))
    return path
