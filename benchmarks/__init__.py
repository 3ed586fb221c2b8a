"""Benchmark suite comparing aqueue with other Redis task queues (see benchmarks/README.md).

Kept free of imports: the drivers and task modules under this package are imported by
interpreters in the peers' own virtualenvs, which only have the peer library installed.
"""
