"""audit reason as long as its form: a complaint's 1,000-character reason no longer overflows the entry

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 11:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # PostgreSQL only: varchar to text rewrites nothing and leaves the entries' guard trigger alone;
    # SQLite never enforced the declared length
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("audit_entry", "reason", type_=sa.Text(), existing_type=sa.String(length=500),
                        existing_nullable=True)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("audit_entry", "reason", type_=sa.String(length=500), existing_type=sa.Text(),
                        existing_nullable=True)
