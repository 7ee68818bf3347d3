"""Service-desk tables."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

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


def ticket_reference(kind: str, ticket_id: int, received_at: datetime, zone: ZoneInfo) -> str:
    """`TS-2026-000123`: the year is the institution's (a ticket at 05:00 on 1 January in Beijing is next year's)."""
    return f"{REFERENCE_PREFIX[TicketKind(kind)]}-{received_at.astimezone(zone).year}-{ticket_id:06d}"


class Ticket(Base):
    __tablename__ = "ticket"
    __table_args__ = (
        # "my queue": an agent's active tickets, most urgent first, through one index range
        Index("ix_ticket_queue", "assignee_id", "next_due_at",
              postgresql_where=text("status IN ('new', 'open', 'pending_customer', 'reopened')"),
              sqlite_where=text("status IN ('new', 'open', 'pending_customer', 'reopened')")),
        Index("ix_ticket_kind_status", "kind", "status", "id"),
        # the supervisor board: every active ticket by time-to-breach
        Index("ix_ticket_due", "next_due_at",
              postgresql_where=text("status IN ('new', 'open', 'pending_customer', 'reopened')"),
              sqlite_where=text("status IN ('new', 'open', 'pending_customer', 'reopened')")),
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
    # linked by a handler: this complaint is handled as part of another, whose clocks continue
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"))
    product: Mapped[str | None] = mapped_column(String(20))  # the product skill it needs (workforce.Skill)
    decision_id: Mapped[int | None] = mapped_column(ForeignKey("complaint_decision.id", use_alter=True))
    # imported records: their id in the source (e.g. "cfpb-3571115") and, when the source says so,
    # whether the institution answered in time (CFPB "Timely response?")
    external_id: Mapped[str | None] = mapped_column(String(60), unique=True)
    timely: Mapped[bool | None]
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


class TicketRecusal(Base):
    """A staff member or unit a complaint names as its subject: never routed or assigned it (回避)."""

    __tablename__ = "ticket_recusal"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("staff_account.id"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))


class Outcome(StrEnum):
    UPHELD = "upheld"
    PARTLY_UPHELD = "partly_upheld"
    NOT_UPHELD = "not_upheld"


class DecisionStatus(StrEnum):
    PENDING_APPROVAL = "pending_approval"
    REJECTED = "rejected"  # sent back by the approver; the handler writes a new one
    SENT = "sent"


class ComplaintDecision(Base):
    """The institution's answer to a complaint: outcome, remedy and the reply the complainant receives."""

    __tablename__ = "complaint_decision"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    remedy: Mapped[str | None] = mapped_column(Text)
    reply: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(20))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_account.id"))
    decided_at: Mapped[datetime]
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_account.id"))
    approved_at: Mapped[datetime | None]
    approval_note: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("ticket_message.id"))
    sent_at: Mapped[datetime | None]


class ReportStatus(StrEnum):
    DUE = "due"
    SUBMITTED = "submitted"


class RegulatorReport(Base):
    """A complaint the regulator must hear about: high-risk, or transferred by the regulator itself."""

    __tablename__ = "regulator_report"
    __table_args__ = (Index("ix_regulator_report_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"), unique=True)
    reasons: Mapped[list[str]] = mapped_column(default=list)  # high_risk, regulator_transfer
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(12))
    submitted_at: Mapped[datetime | None]
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_account.id"))
    regulator_reference: Mapped[str | None] = mapped_column(String(60))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class ReviewStatus(StrEnum):
    OPEN = "open"
    CONFIRMED = "confirmed"  # the decision stands
    OVERTURNED = "overturned"  # the complaint is reopened


class ComplaintReview(Base):
    """核查: the superior level looks again at a decision the complainant disputes."""

    __tablename__ = "complaint_review"
    __table_args__ = (Index("ix_complaint_review_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"), index=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("complaint_decision.id"))
    reason: Mapped[str] = mapped_column(Text)
    requested_at: Mapped[datetime]
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_account.id"))
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("staff_account.id"))
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(12))
    finding: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None]


class RequestStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class ExtensionRequest(Base):
    """A handler asks a supervisor-level role to extend a complaint's statutory deadline."""

    __tablename__ = "extension_request"
    __table_args__ = (Index("ix_extension_request_status", "status", "requested_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_account.id"))
    requested_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(12))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_account.id"))
    decided_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(Text)
