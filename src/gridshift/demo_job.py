"""A checkpoint-aware sample job for the demo and the tests: ``python -m gridshift.demo_job``.

    python -m gridshift.demo_job --seconds 5 [--tick 0.1] [--fail-once]

It "works" for ``--seconds`` in ticks, printing a progress line per tick, and calls
``checkpoint.pause_point`` each tick: stopped by gridshift, it saves the seconds done and exits
75; resumed (``GRIDSHIFT_RESUME=1``), it continues from the saved seconds. ``--fail-once`` exits
3 on the first attempt (remembered by a marker file in the checkpoint folder; without one, every
run is a first attempt) to exercise the retries of user failures.

It must never import more than the standard library and ``gridshift.checkpoint``.
"""

from __future__ import annotations

import argparse
import sys
import time

from gridshift import checkpoint

EXIT_FAILED_ONCE = 3
FAILED_MARKER = "demo-job-failed-once"


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m gridshift.demo_job", description="A checkpoint-aware sample job."
    )
    parser.add_argument("--seconds", type=float, required=True, help="work to do, in seconds")
    parser.add_argument("--tick", type=float, default=0.1, help="seconds between pause points")
    parser.add_argument("--fail-once", action="store_true", help="exit 3 on the first attempt")
    args = parser.parse_args(argv)
    if args.seconds < 0 or args.tick <= 0:
        parser.error("--seconds must be >= 0 and --tick > 0")
    return args


def _fail_first_attempt() -> bool:
    """True (and remembered) on the first attempt."""
    folder = checkpoint.directory()
    if folder is None:
        return True
    marker = folder / FAILED_MARKER
    if marker.exists():
        return False
    folder.mkdir(parents=True, exist_ok=True)
    marker.touch()
    return True


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    done_s = float(checkpoint.resume(default=0.0))
    if done_s > 0:
        print(f"resuming from {done_s:.2f} s of {args.seconds:g} s", flush=True)
    if args.fail_once and _fail_first_attempt():
        print("failing on purpose (first attempt)", flush=True)
        return EXIT_FAILED_ONCE
    while done_s < args.seconds - 1e-9:
        step_s = min(args.tick, args.seconds - done_s)
        time.sleep(step_s)
        done_s += step_s
        print(f"progress {done_s:.2f}/{args.seconds:g} s", flush=True)
        checkpoint.pause_point(done_s)
    print(f"done: {args.seconds:g} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
