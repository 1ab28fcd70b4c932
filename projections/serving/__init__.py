"""The read models served: the query API, the live feed (NATS and Server-Sent Events), running
projectors and the API as processes."""
