"""What services and projections share at run time: settings, the event-store selection, the person
key store, health and metrics endpoints, stopping work within bounded time, a bounded LRU, and
the partnership the deployment serves."""
