"""Alembic environment: always runs on a connection handed in by ``migrate.upgrade``."""

from alembic import context

from datoferum.spine.catalog.schema import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
