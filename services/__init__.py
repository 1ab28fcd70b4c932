"""Organisation services (LA, ICB/NHS, providers) and what they share once:
domain building blocks (`domain/`), the partner-facing endpoint (`endpoint/`),
sharing on the bus (`sharing/`)."""
