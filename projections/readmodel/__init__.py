"""What every per-person read model shares: fact tables declared once (`tables.py`), the two
databases behind one small interface (`database.py`: SQLite by default, PostgreSQL by
configuration) and the store that keeps each person's events and re-derives their facts
(`store.py`). The dataset and the transition tracker are both built on it.
"""
