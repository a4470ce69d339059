"""Options and helpers shared by the CLI commands."""

from __future__ import annotations

from pathlib import Path

from gridshift.signals.library import SignalLibrary, default_data_dir


def library(data_dir: Path | None) -> SignalLibrary:
    return SignalLibrary(data_dir or default_data_dir())
