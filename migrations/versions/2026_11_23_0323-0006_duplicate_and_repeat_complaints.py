"""duplicate and repeat complaints

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 03:23:42.426299
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # batch mode: SQLite adds a foreign key only by rebuilding the table
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.add_column(sa.Column('possible_duplicate_of_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('repeat_complainant', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.create_foreign_key(batch_op.f('fk_ticket_possible_duplicate_of_id_ticket'), 'ticket',
                                    ['possible_duplicate_of_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_ticket_possible_duplicate_of_id_ticket'), type_='foreignkey')
        batch_op.drop_column('repeat_complainant')
        batch_op.drop_column('possible_duplicate_of_id')
