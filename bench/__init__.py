"""Benchmarks: a synthetic population (`population`), the raw-bus yardstick (`yardstick`), the
partnership suite (`python -m bench.partnership`, RESULTS.md) and the national targets
(`python -m bench.national`, RESULTS-national.md), every figure a ratio to the yardstick."""
