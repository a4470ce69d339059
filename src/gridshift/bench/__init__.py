"""Benchmarks: reproducible synthetic instances on real signals, and timing helpers."""
