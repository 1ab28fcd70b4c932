"""The shared dataset: the partnership's indicators (EHC plans, timeliness, ...) by LA and month.

`fold.py` (pure, per person) → `facts.py` (rows the indicators count) → `store.py` (SQLite,
with the stream position) → `snapshot.py` and `queries.py` (the indicators, with their
definitions from `indicators.py`).
"""
