"""Loading enriched batches into a database (PostgreSQL)."""
