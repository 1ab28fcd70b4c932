"""The partner-facing side of a service: parsing and validating extracts, the service process
(store, relay, command endpoint), the Python client."""
