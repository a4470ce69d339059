"""Alembic migrations of the store (run programmatically at start-up by ``store.db``)."""
