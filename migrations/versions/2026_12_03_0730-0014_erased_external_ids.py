"""erased external ids: the blind index of an erased customer's external id, so an import refuses it

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 07:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import fincare.platform.db

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "erased_external_id",
        sa.Column("lookup", sa.LargeBinary(length=16), nullable=False),
        sa.Column("erased_at", fincare.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("lookup", name=op.f("pk_erased_external_id")),
    )


def downgrade() -> None:
    op.drop_table("erased_external_id")
