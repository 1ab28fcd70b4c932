"""The shared dataset: the partnership's indicators (EHC plans, timeliness, ...) by LA and month.

`fold.py` (pure, per person) → `facts.py` (rows the indicators count) → `store.py` (SQLite,
with the stream position) → `snapshot.py` (the facts of a period) → `indicators/` (one module
per indicator: its definition, its counting, its published figure; shared machinery in
`counting.py`, `publishing.py` and `figures.py`).
"""
