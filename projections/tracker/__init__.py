"""The transition-from-14 tracker: every young person aged 14 to 25 with an EHC plan, a learning
disability or an autism diagnosis, and for each the preparing-for-adulthood milestones.

`fold.py` (pure: a person's events → the dated facts the milestones need) → `store.py` (one row
per person, with the stream position) → `milestones.py` (the school-year rules and the
milestone list), `rules.py` (the milestone table: applies to, owner, due rule) and `status.py`
(the table evaluated, RAG as of any date, at query time) → `queries.py`.
"""
