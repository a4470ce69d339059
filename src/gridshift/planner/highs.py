"""HiGHS (``highspy``) set up the way the planner uses it: quiet, one thread."""

from __future__ import annotations

import os
import sys
from typing import Any


def quiet_highs() -> Any:
    """A HiGHS instance whose start-up banner does not reach our stdout (it would break JSON)."""
    import highspy

    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            h = highspy.Highs()  # type: ignore[no-untyped-call]
            h.setOptionValue("output_flag", False)
            h.setOptionValue("threads", 1)
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    return h
