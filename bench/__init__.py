"""Benchmarks: a synthetic population (`population`), the raw-bus yardstick (`yardstick`) and
the partnership run (`python -m bench.partnership`), which writes RESULTS.md as ratios to it."""
