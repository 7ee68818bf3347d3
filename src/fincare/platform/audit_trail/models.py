"""Audit-trail tables: the entries and the single chain-head row."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from fincare.platform.db import Base

BigId = BigInteger().with_variant(Integer(), "sqlite")
# A reason is as long as the form it came from allows (1,000 characters for a complaint's). SQLite
# keeps its first declaration, VARCHAR(500), which it never enforced: changing it would rebuild the
# guarded table for a label.
Reason = Text().with_variant(String(500), "sqlite")


class AuditEntry(Base):
    __tablename__ = "audit_entry"
    __table_args__ = (
        # The sealer's work list: small however long the trail grows.
        Index("ix_audit_entry_unsealed", "id", sqlite_where=text("seq IS NULL"),
              postgresql_where=text("seq IS NULL")),
        Index("ix_audit_entry_subject", "subject_type", "subject_id", "id"),
        Index("ix_audit_entry_actor", "actor_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    occurred_at: Mapped[datetime] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(8))  # "change" or "read"
    actor_id: Mapped[int | None]
    actor_name: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(80), index=True)
    subject_type: Mapped[str | None] = mapped_column(String(60))
    subject_id: Mapped[str | None] = mapped_column(String(60))
    before: Mapped[dict[str, Any] | None]
    after: Mapped[dict[str, Any] | None]
    reason: Mapped[str | None] = mapped_column(Reason)
    request_id: Mapped[str | None] = mapped_column(String(64))
    source_ip: Mapped[str | None] = mapped_column(String(64))
    seq: Mapped[int | None] = mapped_column(BigId, unique=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))


class AuditChainHead(Base):
    """The last sealed entry; its row lock serialises sealers and its hash anchors the tail."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigId, default=0)
    hash: Mapped[str] = mapped_column(String(64))
    sealed_at: Mapped[datetime | None]
