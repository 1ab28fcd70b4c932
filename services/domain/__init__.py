"""The building blocks every kind's domain model shares: aggregates, the base command, the base
application, people, pseudonymous identity."""
