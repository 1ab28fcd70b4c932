"""Deliveries outside NATS: HTTPS webhooks carrying a partner's alerts and feed as CloudEvents.

`config.py` (the endpoints), `cloudevent.py` and `signing.py` (what goes on the wire, pure),
`backoff.py` (the retry schedule, pure), `deliverer.py` (one durable consumer per endpoint and
source, at least once), `dead_letters.py` (what could not be delivered), `replay.py` (reading a
partner's messages from a cursor, for the API).
"""
