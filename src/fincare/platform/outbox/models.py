"""The outbound message table: one row per message to a customer, its personal parts encrypted."""

from __future__ import annotations

import secrets
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Index, Integer, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from fincare.platform import keys
from fincare.platform.db import Base

BigId = BigInteger().with_variant(Integer(), "sqlite")


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"


class MessageStatus(StrEnum):
    QUEUED = "queued"  # waiting for its `next_attempt_at` (or for a channel to be configured)
    SENT = "sent"  # the server accepted it
    PARKED = "parked"  # given up after the maximum attempts or a permanent refusal; an admin may retry it


def new_uid() -> bytes:
    return secrets.token_bytes(16)


class OutboundMessage(Base):
    """A rendered message to one recipient. Recipient, subject line and body are ciphertexts bound to
    this row (`uid`); `recipient_mask` is what lists show. `last_error` never holds personal data."""

    __tablename__ = "outbound_message"
    __table_args__ = (
        # the delivery sweep: due queued messages of one channel, oldest first
        Index("ix_outbound_message_due", "channel", "next_attempt_at",
              sqlite_where=text("status = 'queued'"), postgresql_where=text("status = 'queued'")),
        Index("ix_outbound_message_status_id", "status", "id"),
        Index("ix_outbound_message_subject", "subject_type", "subject_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    uid: Mapped[bytes] = mapped_column(LargeBinary(16), unique=True, default=new_uid)  # binds ciphertexts
    key_version: Mapped[int]  # no index: rotation walks the primary key
    channel: Mapped[str] = mapped_column(String(8))
    recipient_enc: Mapped[bytes] = mapped_column(LargeBinary)
    recipient_mask: Mapped[str] = mapped_column(String(260))
    subject_line_enc: Mapped[bytes | None] = mapped_column(LargeBinary)  # e-mail only
    body_enc: Mapped[bytes] = mapped_column(LargeBinary)
    language: Mapped[str] = mapped_column(String(8))
    template: Mapped[str] = mapped_column(String(80))
    subject_type: Mapped[str | None] = mapped_column(String(40))  # what the message is about, e.g. "ticket"
    subject_id: Mapped[int | None] = mapped_column(BigInteger)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=MessageStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


ENCRYPTED_COLUMNS = ("recipient_enc", "subject_line_enc", "body_enc")

keys.register(keys.EncryptedTable(OutboundMessage, OutboundMessage.uid, OutboundMessage.key_version,
                                  ENCRYPTED_COLUMNS))
