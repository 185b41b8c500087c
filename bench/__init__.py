"""Benchmarks of the ranking read and the evaluation write; docs/benchmarks.md records their results."""
