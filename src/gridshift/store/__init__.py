"""Persistence: the only package that touches the database (SQLAlchemy 2; SQLite, PostgreSQL)."""

from gridshift.store.db import StoreError, sqlite_url
from gridshift.store.records import ActiveRow, AttemptRow, EventRow, JobRow, TeamRow, TokenRow
from gridshift.store.store import ROLES, ConflictError, NewJob, Store

__all__ = [
    "ROLES",
    "ActiveRow",
    "AttemptRow",
    "ConflictError",
    "EventRow",
    "JobRow",
    "NewJob",
    "Store",
    "StoreError",
    "TeamRow",
    "TokenRow",
    "sqlite_url",
]
