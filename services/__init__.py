"""Organisation services (LA, ICB/NHS, providers) and the plumbing they share once:
bus, relay, identity, stores, ingestion, CLI."""
