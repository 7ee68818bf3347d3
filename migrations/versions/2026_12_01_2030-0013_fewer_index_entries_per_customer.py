"""fewer index entries per customer: blind indexes only where the field is set; no key-version indexes

Rotation walks each encrypted table by its primary key, so the key-version indexes (one entry per
row, on every insert) go; the blind indexes leave out the rows without the field.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 20:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY_VERSION_INDEXES = (("ix_customer_key_version", "customer"), ("ix_customer_card_key_version", "customer_card"),
                       ("ix_outbound_message_key_version", "outbound_message"))
BLIND_INDEXES = ("id_number_lookup", "credit_code_lookup", "phone_lookup", "email_lookup")


def upgrade() -> None:
    for name, table in KEY_VERSION_INDEXES:
        op.drop_index(name, table_name=table)
    for column in BLIND_INDEXES:
        op.drop_index(f"ix_customer_{column}", table_name="customer")
        op.create_index(f"ix_customer_{column}", "customer", [column], unique=False,
                        postgresql_where=sa.text(f"{column} IS NOT NULL"), sqlite_where=sa.text(f"{column} IS NOT NULL"))


def downgrade() -> None:
    for column in BLIND_INDEXES:
        op.drop_index(f"ix_customer_{column}", table_name="customer")
        op.create_index(f"ix_customer_{column}", "customer", [column], unique=False)
    for name, table in KEY_VERSION_INDEXES:
        op.create_index(name, table, ["key_version"], unique=False)
