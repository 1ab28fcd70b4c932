"""Who may read what from the query API: the access policy, tokens, the person-level access log,
the index of which organisations mention a person."""
