"""service desk tickets and notifications

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 02:03:01.225142
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import fincare.platform.db

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('notification',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('recipient_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('params', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('link', sa.String(length=200), nullable=True),
    sa.Column('dedupe_key', sa.String(length=120), nullable=False),
    sa.Column('created_at', fincare.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('read_at', fincare.platform.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['recipient_id'], ['staff_account.id'], name=op.f('fk_notification_recipient_id_staff_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification')),
    sa.UniqueConstraint('recipient_id', 'dedupe_key', name=op.f('uq_notification_recipient_id'))
    )
    op.create_index('ix_notification_inbox', 'notification', ['recipient_id', 'read_at', 'id'], unique=False)
    op.create_table('ticket',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=20), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('channel', sa.String(length=24), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('priority', sa.String(length=12), nullable=False),
    sa.Column('risk_grade', sa.String(length=12), nullable=True),
    sa.Column('regulator_transfer', sa.Boolean(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('assignee_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('received_at', fincare.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('first_response_at', fincare.platform.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', fincare.platform.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_at', fincare.platform.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('next_due_at', fincare.platform.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('breached', sa.Boolean(), nullable=False),
    sa.Column('created_at', fincare.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', fincare.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['assignee_id'], ['staff_account.id'], name=op.f('fk_ticket_assignee_id_staff_account')),
    sa.ForeignKeyConstraint(['created_by_id'], ['staff_account.id'], name=op.f('fk_ticket_created_by_id_staff_account')),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_ticket_customer_id_customer')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ticket')),
    sa.UniqueConstraint('reference', name=op.f('uq_ticket_reference'))
    )
    op.create_index(op.f('ix_ticket_customer_id'), 'ticket', ['customer_id'], unique=False)
    op.create_index('ix_ticket_kind_status', 'ticket', ['kind', 'status', 'id'], unique=False)
    op.create_index('ix_ticket_queue', 'ticket', ['assignee_id', 'next_due_at'], unique=False, postgresql_where=sa.text("status IN ('new', 'open', 'pending_customer', 'reopened')"), sqlite_where=sa.text("status IN ('new', 'open', 'pending_customer', 'reopened')"))
    op.create_index('ix_ticket_received', 'ticket', ['received_at'], unique=False)
    op.create_table('ticket_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('at', fincare.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('detail', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['staff_account.id'], name=op.f('fk_ticket_event_actor_id_staff_account')),
    sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], name=op.f('fk_ticket_event_ticket_id_ticket'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ticket_event'))
    )
    op.create_index(op.f('ix_ticket_event_ticket_id'), 'ticket_event', ['ticket_id'], unique=False)
    op.create_table('ticket_message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('visibility', sa.String(length=10), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('created_at', fincare.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['staff_account.id'], name=op.f('fk_ticket_message_author_id_staff_account')),
    sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], name=op.f('fk_ticket_message_ticket_id_ticket'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ticket_message'))
    )
    op.create_index(op.f('ix_ticket_message_ticket_id'), 'ticket_message', ['ticket_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_ticket_message_ticket_id'), table_name='ticket_message')
    op.drop_table('ticket_message')
    op.drop_index(op.f('ix_ticket_event_ticket_id'), table_name='ticket_event')
    op.drop_table('ticket_event')
    op.drop_index('ix_ticket_received', table_name='ticket')
    op.drop_index('ix_ticket_queue', table_name='ticket', postgresql_where=sa.text("status IN ('new', 'open', 'pending_customer', 'reopened')"), sqlite_where=sa.text("status IN ('new', 'open', 'pending_customer', 'reopened')"))
    op.drop_index('ix_ticket_kind_status', table_name='ticket')
    op.drop_index(op.f('ix_ticket_customer_id'), table_name='ticket')
    op.drop_table('ticket')
    op.drop_index('ix_notification_inbox', table_name='notification')
    op.drop_table('notification')
