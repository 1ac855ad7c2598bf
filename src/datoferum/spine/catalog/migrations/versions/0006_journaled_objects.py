"""Small objects kept in the catalog until their storage write is flushed.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from datoferum.spine.catalog.schema import SMALL_OBJECT, UtcDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "journaled_objects",
        sa.Column("backend", sa.String(64), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("data", SMALL_OBJECT, nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("backend", "key", name=op.f("pk_journaled_objects")),
    )


def downgrade() -> None:
    op.drop_table("journaled_objects")
