"""Simulation: replay a workload through the policies on real signals, settle on actual values."""
