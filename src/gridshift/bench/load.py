"""Load generators for ``bench.api``, run as a separate process (``python -m
gridshift.bench.load``) so that the clients never share the server's interpreter: a line of JSON
in (what to do), a line of JSON out (latencies in seconds)."""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any

import httpx


def submit(url: str, token: str, specs: list[dict[str, Any]], clients: int) -> dict[str, Any]:
    latencies: list[list[float]] = [[] for _ in range(clients)]
    failures: list[str] = []

    def client(k: int) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=f"{url}/api/v1", timeout=60) as http:
            for i in range(k, len(specs), clients):
                started = time.perf_counter()
                r = http.post(
                    "/jobs", json=specs[i], headers={**headers, "Idempotency-Key": f"b{i}"}
                )
                latencies[k].append(time.perf_counter() - started)
                if r.status_code != 201:
                    failures.append(f"{r.status_code}: {r.text[:120]}")

    began = time.perf_counter()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {
        "seconds": time.perf_counter() - began,
        "latencies": [x for per in latencies for x in per],
        "failures": failures,
    }


def read(url: str, token: str, ids: list[str], readers: int, seconds: float) -> dict[str, Any]:
    """Reads for ``seconds``: each reader alternates one job and a page of 50; every latency
    with its start time (the caller keeps those inside its window)."""
    samples: list[list[tuple[float, float]]] = [[] for _ in range(readers)]
    stop = time.time() + seconds

    def reader(k: int) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=f"{url}/api/v1", timeout=60) as http:
            i = k
            while time.time() < stop:
                began_wall, began = time.time(), time.perf_counter()
                if i % 2:
                    r = http.get(f"/jobs/{ids[(i * 7919) % len(ids)]}", headers=headers)
                else:
                    r = http.get("/jobs", params={"limit": 50}, headers=headers)
                samples[k].append((began_wall, time.perf_counter() - began))
                r.raise_for_status()
                i += readers

    threads = [threading.Thread(target=reader, args=(k,)) for k in range(readers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"samples": [x for per in samples for x in per]}


def main() -> None:
    task = json.loads(sys.stdin.readline())
    if task["do"] == "submit":
        out = submit(task["url"], task["token"], task["specs"], task["clients"])
    else:
        out = read(task["url"], task["token"], task["ids"], task["readers"], task["seconds"])
    sys.stdout.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
