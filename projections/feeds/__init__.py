"""Per-partner feeds: the cohort fold, its store (with the delivery audit), the publisher and the
feed process that applies a data-sharing agreement (`contracts.agreements`) to SEND_EVENTS."""
