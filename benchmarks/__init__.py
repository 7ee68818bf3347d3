"""Benchmarks run by `make bench`; each scenario prints its figures and its ratio to a baseline
measured in the same run, and the runner writes them all to bench-results/latest.json."""
