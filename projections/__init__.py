"""Read models built from the shared history (stream SEND_EVENTS).

`reading/runner.py` is the one JetStream consumer loop for every read model; each read model lives
in its own package (`dataset/`: the shared dataset's indicators) with a pure `fold.py`, a
`store.py` that persists the folded state with the applied stream position in one
transaction, and `queries.py`. `serving/api.py` serves the queries over HTTP.
"""
