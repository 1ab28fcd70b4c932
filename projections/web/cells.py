"""How one published figure reads: a number with its unit, or a suppressed cell as published.

Suppressed cells ("<5", "c") and missing values are never numbers here: a hidden count must
not be drawn or written as if it were known.
"""

from __future__ import annotations

Value = int | float | str | None


def numeric(value: Value) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def shown(value: Value, unit: str = "") -> str:
    """How a cell reads in text: numbers with their unit, suppressed cells as published."""
    if value is None:
        return "no figure"
    if value == "c":
        return "c (hidden)"
    number = numeric(value)
    if number is None:
        return str(value)
    text = f"{number:.1f}" if isinstance(value, float) else f"{int(number):,}"
    return f"{text}{unit}"
