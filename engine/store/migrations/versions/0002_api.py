"""api: action messages (update/outcome texts) and participant confirmation tokens

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "action_message",
        sa.Column("action_id", sa.String(length=32), nullable=False),
        sa.Column("purpose", sa.String(length=10), nullable=False),
        sa.Column("voice_script", sa.Text(), nullable=False),
        sa.Column("sms_text", sa.Text(), nullable=False),
        sa.Column("audio_hash", sa.String(length=64), nullable=True),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["action_id"], ["action.id"],
                                name=op.f("fk_action_message_action_id_action")),
        sa.PrimaryKeyConstraint("action_id", "purpose", name=op.f("pk_action_message")),
    )
    op.create_table(
        "participant_confirmation",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=12), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_participant_confirmation")),
    )
    with op.batch_alter_table("participant_confirmation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_participant_confirmation_participant_id"), ["participant_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("participant_confirmation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_participant_confirmation_participant_id"))
    op.drop_table("participant_confirmation")
    op.drop_table("action_message")
