"""Read models built from the shared history (stream SEND_EVENTS).

`reading/runner.py` is the one JetStream consumer loop for every read model; each read model lives
in its own package (`dataset/`: the shared dataset's indicators, one module each in
`dataset/indicators/`; `tracker/`) with a pure `fold.py`, a `store.py` that persists the folded
state with the applied stream position in one transaction, and its queries. `serving/api.py`
serves them over HTTP.
"""
