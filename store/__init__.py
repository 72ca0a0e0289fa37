"""The journal store (SQLAlchemy 2 async; SQLite or PostgreSQL) with Alembic migrations."""

from store.journal import FINAL, STATUSES, Claim, IdempotencyConflict, MessageView, Store, Transition

__all__ = ["FINAL", "STATUSES", "Claim", "IdempotencyConflict", "MessageView", "Store", "Transition"]
