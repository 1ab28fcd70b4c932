"""Auditors replay history: what was known when, whether the read models can be trusted, whether
anyone tampered with the shared history, and everything about one person.

- `stream.py`: read-only reads of SEND_EVENTS (batched direct gets); "stored by T" as a
  stream sequence.
- `asof.py`: a projection rebuilt into a fresh store as of T (`recorded` or `occurred`).
- `digest.py`: a store's tables, order-independent digests, and the rows two stores differ on.
- `verify.py`: live read model vs a rebuild to its position, and the first divergent event.
- `tamper.py`: every source's hash chain, with verdicts naming the altered, missing, reordered,
  forged or duplicated event.
- `checkpoint.py`: the auditor's record of the history last verified, and the stream's extent
  and retention checked against it and the declaration (`truncated`, `reconfigured`).
- `findings.py`: what a finding says.
- `person.py`: one person's events across every organisation, as JSON or CSV.
- `report.py`: how the results read, for people and for tools (`sendx audit …`).
"""
