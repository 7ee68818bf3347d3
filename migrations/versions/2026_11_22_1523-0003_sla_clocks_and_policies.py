"""sla clocks and policies

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 15:23:18.332368
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import fincare.platform.db

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table('sla_calendar_override',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('workday', sa.Boolean(), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_sla_calendar_override'))
    )
    op.create_table('sla_clock',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subject_type', sa.String(length=40), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('target', sa.String(length=20), nullable=False),
    sa.Column('policy_id', sa.Integer(), nullable=True),
    sa.Column('calendar', sa.String(length=12), nullable=False),
    sa.Column('budget_seconds', sa.Integer(), nullable=False),
    sa.Column('paused_seconds', sa.Integer(), nullable=False),
    sa.Column('started_at', fincare.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('due_at', fincare.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('warn_at', fincare.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('paused_at', fincare.platform.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('warned_at', fincare.platform.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('breached_at', fincare.platform.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('met_at', fincare.platform.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('extensions', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sla_clock')),
    sa.UniqueConstraint('subject_type', 'subject_id', 'target', name=op.f('uq_sla_clock_subject_type'))
    )
    with op.batch_alter_table('sla_clock', schema=None) as batch_op:
        batch_op.create_index('ix_sla_clock_due', ['due_at'], unique=False, postgresql_where=sa.text("state = 'running'"), sqlite_where=sa.text("state = 'running'"))
        batch_op.create_index('ix_sla_clock_warn', ['warn_at'], unique=False, postgresql_where=sa.text("state = 'running' AND warned_at IS NULL"), sqlite_where=sa.text("state = 'running' AND warned_at IS NULL"))

    op.create_table('sla_clock_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clock_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('at', fincare.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('detail', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sla_clock_event'))
    )
    with op.batch_alter_table('sla_clock_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sla_clock_event_clock_id'), ['clock_id'], unique=False)

    op.create_table('sla_policy',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=60), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('priority', sa.String(length=12), nullable=True),
    sa.Column('risk_grade', sa.String(length=12), nullable=True),
    sa.Column('channel', sa.String(length=24), nullable=True),
    sa.Column('target', sa.String(length=20), nullable=False),
    sa.Column('minutes', sa.Integer(), nullable=False),
    sa.Column('calendar', sa.String(length=12), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', fincare.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sla_policy')),
    sa.UniqueConstraint('key', 'version', 'target', name=op.f('uq_sla_policy_key'))
    )
    with op.batch_alter_table('sla_policy', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sla_policy_active'), ['active'], unique=False)



    _seed_default_policies()


# The targets of the source documents (see fincare.sla.service.DEFAULTS), as version 1.
DEFAULT_POLICIES = (
    ("consultation", "consultation", None, "first_response", 5, "24x7"),
    ("complaint", "complaint", None, "feedback", 24 * 60, "business"),
    ("complaint.medium", "complaint", "medium", "feedback", 24 * 60, "24x7"),
    ("complaint.high", "complaint", "high", "feedback", 24 * 60, "24x7"),
    ("complaint.high", "complaint", "high", "resolution", 48 * 60, "24x7"),
    ("feedback", "feedback", None, "resolution", 48 * 60, "business"),
)


def _seed_default_policies() -> None:
    from datetime import UTC, datetime

    policy = sa.table("sla_policy", sa.column("key"), sa.column("version"), sa.column("kind"),
                      sa.column("risk_grade"), sa.column("target"), sa.column("minutes"), sa.column("calendar"),
                      sa.column("active"), sa.column("created_at", fincare.platform.db.UTCDateTime()))
    now = datetime.now(UTC)
    op.bulk_insert(policy, [{"key": key, "version": 1, "kind": kind, "risk_grade": grade, "target": target,
                             "minutes": minutes, "calendar": calendar, "active": True, "created_at": now}
                            for key, kind, grade, target, minutes, calendar in DEFAULT_POLICIES])


def downgrade() -> None:

    with op.batch_alter_table('sla_policy', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sla_policy_active'))

    op.drop_table('sla_policy')
    with op.batch_alter_table('sla_clock_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sla_clock_event_clock_id'))

    op.drop_table('sla_clock_event')
    with op.batch_alter_table('sla_clock', schema=None) as batch_op:
        batch_op.drop_index('ix_sla_clock_warn', postgresql_where=sa.text("state = 'running' AND warned_at IS NULL"), sqlite_where=sa.text("state = 'running' AND warned_at IS NULL"))
        batch_op.drop_index('ix_sla_clock_due', postgresql_where=sa.text("state = 'running'"), sqlite_where=sa.text("state = 'running'"))

    op.drop_table('sla_clock')
    op.drop_table('sla_calendar_override')

