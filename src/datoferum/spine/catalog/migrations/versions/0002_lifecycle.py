"""Lifecycle: retention on versions, signals, policies, holds, jobs, schedules, plans,
certificates, links and webhooks.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

from datoferum.spine.catalog.schema import UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.String(32)
HASH = sa.String(64)
SEQUENCE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _table(name: str, *items: Any, primary: list[str]) -> None:
    op.create_table(name, *items, sa.PrimaryKeyConstraint(*primary, name=op.f(f"pk_{name}")))


def upgrade() -> None:
    with op.batch_alter_table("versions") as batch:
        batch.add_column(sa.Column("sniffed_type", sa.String(255), nullable=True))
        batch.add_column(sa.Column("tags", sa.Text(), server_default="{}", nullable=False))
        batch.add_column(sa.Column("personal_keys", sa.Text(), server_default="[]", nullable=False))
        batch.add_column(sa.Column("storage_policy", sa.String(64), nullable=True))
        batch.add_column(sa.Column("retain_until", UtcDateTime(), nullable=True))
        batch.add_column(sa.Column("retention_mode", sa.String(16), nullable=True))
        batch.add_column(sa.Column("retention_cause", sa.String(255), nullable=True))
        batch.add_column(sa.Column("expiry_action", sa.String(16), nullable=True))
        batch.add_column(sa.Column("purged_at", UtcDateTime(), nullable=True))
        batch.create_index(op.f("ix_versions_retain_until"), ["retain_until"])

    _table(
        "signals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column(
            "file_id",
            ID,
            sa.ForeignKey("files.id", name=op.f("fk_signals_file_id_files")),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        primary=["id"],
    )
    op.create_index(op.f("ix_signals_file_id_name"), "signals", ["file_id", "name"])
    op.create_index(op.f("ix_signals_name_at"), "signals", ["name", "at"])

    _table(
        "policies",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("source", sa.String(1024), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.UniqueConstraint("name", "version", name=op.f("uq_policies_name_version")),
        primary=["id"],
    )

    _table(
        "holds",
        sa.Column("id", ID, nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("target", sa.String(255), nullable=False),
        sa.Column("query", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("released_at", UtcDateTime(), nullable=True),
        sa.Column("released_by", sa.String(255), nullable=True),
        sa.Column("release_reason", sa.Text(), nullable=True),
        primary=["id"],
    )
    op.create_index(op.f("ix_holds_scope_target"), "holds", ["scope", "target"])
    op.create_index(op.f("ix_holds_released_at"), "holds", ["released_at"])

    _table(
        "jobs",
        sa.Column("id", ID, nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("run_at", UtcDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("lease_until", UtcDateTime(), nullable=True),
        sa.Column("worker", sa.String(128), nullable=True),
        sa.Column("progress_done", sa.BigInteger(), nullable=False),
        sa.Column("progress_total", sa.BigInteger(), nullable=True),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("finished_at", UtcDateTime(), nullable=True),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_jobs_idempotency_key")),
        primary=["id"],
    )
    op.create_index(op.f("ix_jobs_state_run_at"), "jobs", ["state", "run_at"])

    _table(
        "schedules",
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("cron", sa.String(128), nullable=False),
        sa.Column("next_run_at", UtcDateTime(), nullable=False),
        sa.Column("last_run_at", UtcDateTime(), nullable=True),
        primary=["name"],
    )

    _table(
        "plans",
        sa.Column("id", ID, nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("items", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("executed_at", UtcDateTime(), nullable=True),
        primary=["id"],
    )

    _table(
        "certificates",
        sa.Column("id", ID, nullable=False),
        sa.Column("file_id", ID, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("signature", sa.String(128), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        primary=["id"],
    )
    op.create_index(op.f("ix_certificates_file_id_version"), "certificates", ["file_id", "version"])

    _table(
        "erasure_requests",
        sa.Column("id", ID, nullable=False),
        sa.Column("subject_hash", HASH, nullable=False),
        sa.Column("subject_key", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("plan_id", ID, nullable=False),
        sa.Column("preview_counts", sa.Text(), nullable=False),
        sa.Column("job_id", ID, nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("executed_at", UtcDateTime(), nullable=True),
        sa.Column("executed_by", sa.String(255), nullable=True),
        sa.UniqueConstraint("plan_id", name=op.f("uq_erasure_requests_plan_id")),
        primary=["id"],
    )
    op.create_index(op.f("ix_erasure_requests_subject_hash"), "erasure_requests", ["subject_hash"])

    _table(
        "links",
        sa.Column("id", ID, nullable=False),
        sa.Column("secret_hash", HASH, nullable=False),
        sa.Column(
            "file_id",
            ID,
            sa.ForeignKey("files.id", name=op.f("fk_links_file_id_files")),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("max_picks", sa.Integer(), nullable=False),
        sa.Column("picks", sa.Integer(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("purge_after_last_pick", sa.Boolean(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("revoked_at", UtcDateTime(), nullable=True),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_links_secret_hash")),
        primary=["id"],
    )
    op.create_index(op.f("ix_links_file_id"), "links", ["file_id"])

    _table(
        "webhook_subscriptions",
        sa.Column("id", ID, nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("secret", sa.String(255), nullable=False),
        sa.Column("event_types", sa.Text(), nullable=False),
        sa.Column("collection", sa.String(63), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("after_seq", SEQUENCE, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        primary=["id"],
    )
    _table(
        "webhook_deliveries",
        sa.Column("id", ID, nullable=False),
        sa.Column(
            "subscription_id",
            ID,
            sa.ForeignKey(
                "webhook_subscriptions.id",
                name=op.f("fk_webhook_deliveries_subscription_id_webhook_subscriptions"),
            ),
            nullable=False,
        ),
        sa.Column("event_seq", SEQUENCE, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UtcDateTime(), nullable=False),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", UtcDateTime(), nullable=True),
        sa.UniqueConstraint(
            "subscription_id",
            "event_seq",
            name=op.f("uq_webhook_deliveries_subscription_id_event_seq"),
        ),
        primary=["id"],
    )
    op.create_index(
        op.f("ix_webhook_deliveries_state_next_attempt_at"),
        "webhook_deliveries",
        ["state", "next_attempt_at"],
    )

    _table(
        "cursors",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("seq", SEQUENCE, nullable=False),
        primary=["name"],
    )


def downgrade() -> None:
    for table in (
        "cursors", "webhook_deliveries", "webhook_subscriptions", "links", "erasure_requests",
        "certificates", "plans", "schedules", "jobs", "holds", "policies", "signals",
    ):  # fmt: skip
        op.drop_table(table)
    with op.batch_alter_table("versions") as batch:
        batch.drop_index(op.f("ix_versions_retain_until"))
        for column in (
            "purged_at", "expiry_action", "retention_cause", "retention_mode", "retain_until", "storage_policy",
            "personal_keys", "tags", "sniffed_type",
        ):  # fmt: skip
            batch.drop_column(column)
