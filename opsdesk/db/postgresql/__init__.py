"""Django's PostgreSQL backend with faster timestamptz reads (see ``base``)."""
