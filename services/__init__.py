"""Organisation services (LA, ICB/NHS, providers) and the plumbing they share (bus, relay, identity)."""
