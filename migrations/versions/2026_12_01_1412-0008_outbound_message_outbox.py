"""outbound message outbox

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 14:12:51.991033
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import fincare.platform.db

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('outbound_message',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('uid', sa.LargeBinary(length=16), nullable=False),
    sa.Column('key_version', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=8), nullable=False),
    sa.Column('recipient_enc', sa.LargeBinary(), nullable=False),
    sa.Column('recipient_mask', sa.String(length=260), nullable=False),
    sa.Column('subject_line_enc', sa.LargeBinary(), nullable=True),
    sa.Column('body_enc', sa.LargeBinary(), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('template', sa.String(length=80), nullable=False),
    sa.Column('subject_type', sa.String(length=40), nullable=True),
    sa.Column('subject_id', sa.BigInteger(), nullable=True),
    sa.Column('dedupe_key', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('next_attempt_at', fincare.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', fincare.platform.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', fincare.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbound_message')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_outbound_message_dedupe_key')),
    sa.UniqueConstraint('uid', name=op.f('uq_outbound_message_uid'))
    )
    op.create_index('ix_outbound_message_due', 'outbound_message', ['channel', 'next_attempt_at'], unique=False, sqlite_where=sa.text("status = 'queued'"), postgresql_where=sa.text("status = 'queued'"))
    op.create_index(op.f('ix_outbound_message_key_version'), 'outbound_message', ['key_version'], unique=False)
    op.create_index('ix_outbound_message_status_id', 'outbound_message', ['status', 'id'], unique=False)
    op.create_index('ix_outbound_message_subject', 'outbound_message', ['subject_type', 'subject_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_outbound_message_subject', table_name='outbound_message')
    op.drop_index('ix_outbound_message_status_id', table_name='outbound_message')
    op.drop_index(op.f('ix_outbound_message_key_version'), table_name='outbound_message')
    op.drop_index('ix_outbound_message_due', table_name='outbound_message', sqlite_where=sa.text("status = 'queued'"), postgresql_where=sa.text("status = 'queued'"))
    op.drop_table('outbound_message')
