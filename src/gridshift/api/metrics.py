"""Prometheus metrics at ``/metrics``: requests, submissions, limits hit, jobs by status (read
from the store at scrape time), re-plans and their duration."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector


class _JobsByStatus(Collector):
    def __init__(self, counts: Callable[[], dict[str, int]]) -> None:
        self.counts = counts

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("gridshift_jobs", "Jobs by status", labels=["status"])
        try:
            for status, n in sorted(self.counts().items()):
                family.add_metric([status], n)
        except Exception:  # a scrape must never fail for the store
            pass
        yield family


class Metrics:
    def __init__(self, counts: Callable[[], dict[str, int]]) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]  # no *_created series
        self.registry = CollectorRegistry()
        self.requests = Histogram(
            "gridshift_http_request_seconds",
            "API request latency",
            ["method", "route", "status"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
        )
        self.submissions = Counter(
            "gridshift_submissions_total",
            "Job submissions by outcome",
            ["outcome"],
            registry=self.registry,
        )
        self.limits = Counter(
            "gridshift_limits_hit_total",
            "Requests refused by a bound (body size, team queue)",
            ["limit"],
            registry=self.registry,
        )
        self.replans = Counter(
            "gridshift_replans_total", "Re-plans by the engine", registry=self.registry
        )
        self.replan_seconds = Gauge(
            "gridshift_replan_seconds", "Duration of the latest re-plan", registry=self.registry
        )
        self.registry.register(_JobsByStatus(counts))
