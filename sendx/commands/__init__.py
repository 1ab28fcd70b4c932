"""CLI command groups for `sendx` (thin: parse arguments, call one function, print)."""
