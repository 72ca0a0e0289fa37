"""Alembic environment: the hub runs migrations in-process on a connection it passes in."""

from alembic import context

from store.schema import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
