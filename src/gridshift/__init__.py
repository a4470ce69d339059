"""gridshift: an energy-aware orchestrator for AI workloads."""

__version__ = "0.1.0"
