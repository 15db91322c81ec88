"""Benchmarks of the docs site and its access checker (``make bench``; see bench/run.py)."""
