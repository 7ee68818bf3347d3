"""customers and data keys

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 14:40:07.197874
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import fincare.platform.db

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table('customer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uid', sa.LargeBinary(length=16), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('key_version', sa.Integer(), nullable=False),
    sa.Column('name_enc', sa.LargeBinary(), nullable=True),
    sa.Column('name_mask', sa.String(length=120), nullable=False),
    sa.Column('id_number_enc', sa.LargeBinary(), nullable=True),
    sa.Column('id_number_lookup', sa.LargeBinary(length=16), nullable=True),
    sa.Column('id_number_mask', sa.String(length=24), nullable=True),
    sa.Column('credit_code_enc', sa.LargeBinary(), nullable=True),
    sa.Column('credit_code_lookup', sa.LargeBinary(length=16), nullable=True),
    sa.Column('credit_code_mask', sa.String(length=24), nullable=True),
    sa.Column('phone_enc', sa.LargeBinary(), nullable=True),
    sa.Column('phone_lookup', sa.LargeBinary(length=16), nullable=True),
    sa.Column('phone_mask', sa.String(length=24), nullable=True),
    sa.Column('email_enc', sa.LargeBinary(), nullable=True),
    sa.Column('email_lookup', sa.LargeBinary(length=16), nullable=True),
    sa.Column('email_mask', sa.String(length=260), nullable=True),
    sa.Column('address_enc', sa.LargeBinary(), nullable=True),
    sa.Column('address_mask', sa.String(length=320), nullable=True),
    sa.Column('birth_year', sa.Integer(), nullable=True),
    sa.Column('gender', sa.String(length=8), nullable=True),
    sa.Column('risk_tolerance', sa.String(length=2), nullable=True),
    sa.Column('risk_assessed_on', sa.Date(), nullable=True),
    sa.Column('risk_expires_on', sa.Date(), nullable=True),
    sa.Column('service_lines', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('branch', sa.String(length=60), nullable=True),
    sa.Column('segment', sa.String(length=60), nullable=True),
    sa.Column('tags', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('external_id', sa.String(length=80), nullable=True),
    sa.Column('relationship_ended_on', sa.Date(), nullable=True),
    sa.Column('created_at', fincare.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', fincare.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer')),
    sa.UniqueConstraint('external_id', name=op.f('uq_customer_external_id')),
    sa.UniqueConstraint('uid', name=op.f('uq_customer_uid'))
    )
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.create_index('ix_customer_branch', ['branch', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_customer_credit_code_lookup'), ['credit_code_lookup'], unique=False)
        batch_op.create_index(batch_op.f('ix_customer_email_lookup'), ['email_lookup'], unique=False)
        batch_op.create_index(batch_op.f('ix_customer_id_number_lookup'), ['id_number_lookup'], unique=False)
        batch_op.create_index(batch_op.f('ix_customer_key_version'), ['key_version'], unique=False)
        batch_op.create_index('ix_customer_list', ['status', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_customer_phone_lookup'), ['phone_lookup'], unique=False)
        batch_op.create_index(batch_op.f('ix_customer_segment'), ['segment'], unique=False)

    op.create_table('customer_view_count',
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('views', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('account_id', 'day', name=op.f('pk_customer_view_count'))
    )
    op.create_table('data_key',
    sa.Column('version', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('wrapped', sa.LargeBinary(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('created_at', fincare.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('retired_at', fincare.platform.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('version', name=op.f('pk_data_key'))
    )
    with op.batch_alter_table('data_key', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_data_key_state'), ['state'], unique=False)

    op.create_table('customer_card',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('uid', sa.LargeBinary(length=16), nullable=False),
    sa.Column('key_version', sa.Integer(), nullable=False),
    sa.Column('number_enc', sa.LargeBinary(), nullable=False),
    sa.Column('number_lookup', sa.LargeBinary(length=16), nullable=False),
    sa.Column('number_mask', sa.String(length=24), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_customer_card_customer_id_customer'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_card')),
    sa.UniqueConstraint('uid', name=op.f('uq_customer_card_uid'))
    )
    with op.batch_alter_table('customer_card', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_card_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_customer_card_key_version'), ['key_version'], unique=False)
        batch_op.create_index(batch_op.f('ix_customer_card_number_lookup'), ['number_lookup'], unique=False)

    op.create_table('customer_consent',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.String(length=40), nullable=False),
    sa.Column('granted', sa.Boolean(), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('recorded_at', fincare.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('recorded_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_customer_consent_customer_id_customer'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_consent'))
    )
    with op.batch_alter_table('customer_consent', schema=None) as batch_op:
        batch_op.create_index('ix_customer_consent_current', ['customer_id', 'purpose', 'id'], unique=False)

    op.create_table('rights_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('received_at', fincare.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('due_at', fincare.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('outcome', sa.Text(), nullable=True),
    sa.Column('closed_at', fincare.platform.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('handled_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_rights_request_customer_id_customer'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rights_request'))
    )
    with op.batch_alter_table('rights_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rights_request_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index('ix_rights_request_open', ['status', 'due_at'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('rights_request', schema=None) as batch_op:
        batch_op.drop_index('ix_rights_request_open')
        batch_op.drop_index(batch_op.f('ix_rights_request_customer_id'))

    op.drop_table('rights_request')
    with op.batch_alter_table('customer_consent', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_consent_current')

    op.drop_table('customer_consent')
    with op.batch_alter_table('customer_card', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customer_card_number_lookup'))
        batch_op.drop_index(batch_op.f('ix_customer_card_key_version'))
        batch_op.drop_index(batch_op.f('ix_customer_card_customer_id'))

    op.drop_table('customer_card')
    with op.batch_alter_table('data_key', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_data_key_state'))

    op.drop_table('data_key')
    op.drop_table('customer_view_count')
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customer_segment'))
        batch_op.drop_index(batch_op.f('ix_customer_phone_lookup'))
        batch_op.drop_index('ix_customer_list')
        batch_op.drop_index(batch_op.f('ix_customer_key_version'))
        batch_op.drop_index(batch_op.f('ix_customer_id_number_lookup'))
        batch_op.drop_index(batch_op.f('ix_customer_email_lookup'))
        batch_op.drop_index(batch_op.f('ix_customer_credit_code_lookup'))
        batch_op.drop_index('ix_customer_branch')

    op.drop_table('customer')

