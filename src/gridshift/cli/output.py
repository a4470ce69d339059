"""Printing for the CLI: one console, JSON out, and user errors as one line on stderr."""

from __future__ import annotations

import json
import math
import sys
from typing import Any

from rich.console import Console

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def json_text(data: Any) -> str:
    """JSON text (NaN and infinity as null, so every parser reads it)."""
    return json.dumps(_clean(data), indent=2, ensure_ascii=False) + "\n"


def print_json(data: Any) -> None:
    """JSON on stdout (NaN and infinity as null, so every parser reads it)."""
    sys.stdout.write(json_text(data))
    sys.stdout.flush()


def fmt(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{value:,.{digits}f}"
