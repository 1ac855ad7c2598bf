"""Benchmarks of Datoferum against reference servers, run side by side on the same machine.

Each case measures Datoferum and its references in interleaved runs (A, B, C, A, B, C, ...) so
that drifts of the machine (page cache, writeback, other load) hit every system alike, and reports
medians. Run it with ``python -m bench`` (or ``make bench``); ``docs/benchmarks.md`` explains the
cases and records the latest figures.
"""
