"""Service-desk tables."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from fincare.platform.db import Base


class TicketKind(StrEnum):
    CONSULTATION = "consultation"
    COMPLAINT = "complaint"
    FEEDBACK = "feedback"


class Channel(StrEnum):
    PHONE = "phone"
    ONLINE_CHAT = "online_chat"
    APP = "app"
    WEB = "web"
    WECHAT = "wechat"
    EMAIL = "email"
    BRANCH = "branch"
    REGULATOR_TRANSFER = "regulator_transfer"  # forwarded by the regulator's 12378 hotline


class TicketStatus(StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING_CUSTOMER = "pending_customer"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REOPENED = "reopened"


# Statuses in which someone still owes the customer something: the queues and the clocks care.
ACTIVE_STATUSES = (TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.PENDING_CUSTOMER, TicketStatus.REOPENED)


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


PRIORITY_ORDER = (Priority.LOW, Priority.NORMAL, Priority.HIGH, Priority.URGENT)


class RiskGrade(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Visibility(StrEnum):
    PUBLIC = "public"  # a reply the customer sees
    INTERNAL = "internal"  # a note among staff


# Ticket references people read on the phone: 咨询 ZX, 投诉 TS, 反馈 FK, then the year received.
REFERENCE_PREFIX = {TicketKind.CONSULTATION: "ZX", TicketKind.COMPLAINT: "TS", TicketKind.FEEDBACK: "FK"}


class Ticket(Base):
    __tablename__ = "ticket"
    __table_args__ = (
        # "my queue": an agent's active tickets, most urgent first, through one index range
        Index("ix_ticket_queue", "assignee_id", "next_due_at",
              postgresql_where=text("status IN ('new', 'open', 'pending_customer', 'reopened')"),
              sqlite_where=text("status IN ('new', 'open', 'pending_customer', 'reopened')")),
        Index("ix_ticket_kind_status", "kind", "status", "id"),
        Index("ix_ticket_received", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(20))
    priority: Mapped[str] = mapped_column(String(12))
    risk_grade: Mapped[str | None] = mapped_column(String(12))
    regulator_transfer: Mapped[bool] = mapped_column(default=False)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    subject: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff_account.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_account.id"))
    received_at: Mapped[datetime]
    first_response_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    next_due_at: Mapped[datetime | None]  # earliest due time of an unmet, unpaused clock
    # detected at intake (complaints): a similar complaint of the same customer within 7 days, and a
    # customer who keeps complaining
    possible_duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"))
    repeat_complainant: Mapped[bool] = mapped_column(default=False)
    # JR/T 0169-2018 coding (complaints): required before a complaint may close
    code_version: Mapped[str | None] = mapped_column(String(30))
    channel_code: Mapped[str | None] = mapped_column(String(12))
    business_type_code: Mapped[str | None] = mapped_column(String(12))
    cause_code: Mapped[str | None] = mapped_column(String(12))
    breached: Mapped[bool] = mapped_column(default=False)  # some clock was breached
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class TicketMessage(Base):
    """A reply to the customer (public) or a note among staff (internal)."""

    __tablename__ = "ticket_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"), index=True)
    visibility: Mapped[str] = mapped_column(String(10))
    body: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("staff_account.id"))
    created_at: Mapped[datetime]


class TicketEvent(Base):
    """One entry of a ticket's timeline: created, status_changed, replied, noted, assigned, …"""

    __tablename__ = "ticket_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff_account.id"))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class CodeDimension(StrEnum):
    """The three axes of JR/T 0169-2018: A where the business was done, B what it was, C why."""

    CHANNEL = "channel"
    BUSINESS_TYPE = "business_type"
    CAUSE = "cause"


class ComplaintCode(Base):
    """One entry of a versioned complaint code table; institutions may add their own (`custom`)."""

    __tablename__ = "complaint_code"
    __table_args__ = (UniqueConstraint("version", "dimension", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(String(30))  # e.g. "JR/T 0169-2018"
    dimension: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(12))
    name_zh: Mapped[str] = mapped_column(String(80))
    name_en: Mapped[str] = mapped_column(String(120))
    parent_code: Mapped[str | None] = mapped_column(String(12))
    custom: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
