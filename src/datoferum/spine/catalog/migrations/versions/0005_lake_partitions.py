"""The lake's Parquet objects, with the source that produced each one.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from datoferum.spine.catalog.schema import UtcDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_ID = sa.String(32)


def upgrade() -> None:
    op.create_table(
        "lake_partitions",
        sa.Column("id", _ID, nullable=False),
        sa.Column("dataset", sa.String(64), nullable=False),
        sa.Column("partition_path", sa.String(255), nullable=False),
        sa.Column("path", sa.String(512), nullable=False),
        sa.Column("source_key", sa.String(255), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("file_id", _ID, nullable=True),
        sa.Column("version_id", _ID, nullable=True),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("backend", sa.String(64), nullable=False),
        sa.Column("storage_key", sa.String(1024), nullable=False),
        sa.Column("row_count", sa.BigInteger(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lake_partitions")),
    )
    op.create_index(op.f("ix_lake_partitions_dataset"), "lake_partitions", ["dataset"])
    op.create_index(op.f("ix_lake_partitions_source_key"), "lake_partitions", ["source_key"])
    op.create_index(op.f("ix_lake_partitions_file_id"), "lake_partitions", ["file_id"])


def downgrade() -> None:
    op.drop_table("lake_partitions")
