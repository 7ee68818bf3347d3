"""Follow-up tables."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from fincare.platform.db import Base


class FollowUpKind(StrEnum):
    COMPLAINT = "complaint"  # after a complaint is resolved
    KEY_CUSTOMER = "key_customer"  # periodic, by rule
    HIGH_RISK_SALES = "high_risk_sales"  # periodic and more frequent, by rule
    RECOVERY = "recovery"  # a supervisor calls back a customer whose survey said they were unhappy


class FollowUpStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Result(StrEnum):
    """What one call achieved; the last one is the follow-up's outcome."""

    REACHED_SATISFIED = "reached_satisfied"
    REACHED_DISSATISFIED = "reached_dissatisfied"
    UNREACHABLE = "unreachable"
    REFUSED = "refused"


class NextStep(StrEnum):
    """What a dissatisfied complainant is offered."""

    REOPEN = "reopen"
    REVIEW = "review"
    NONE = "none"


class Cadence(StrEnum):
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"


class FollowUp(Base):
    __tablename__ = "follow_up"
    __table_args__ = (
        Index("ix_follow_up_open_due", "status", "due_at"),
        Index("ix_follow_up_assignee", "assignee_id", "status"),
        Index("ix_follow_up_closed", "status", "closed_at"),  # results and KPIs by period
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    # what made it, once: "ticket-resolved-{event}", "rule-{rule}-{customer}-{period}"
    source_key: Mapped[str] = mapped_column(String(80), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"), index=True)
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("follow_up_rule.id"))
    status: Mapped[str] = mapped_column(String(12))
    outcome: Mapped[str | None] = mapped_column(String(24))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff_account.id"))
    attempts: Mapped[int] = mapped_column(default=0)
    dissatisfaction_reason: Mapped[str | None] = mapped_column(Text)
    next_step: Mapped[str | None] = mapped_column(String(12))
    due_at: Mapped[datetime]  # the clock's due time, kept here for the queue's sort and `due_before`
    created_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]


class FollowUpAttempt(Base):
    """One call: when, by whom, with what result."""

    __tablename__ = "follow_up_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    follow_up_id: Mapped[int] = mapped_column(ForeignKey("follow_up.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    local_day: Mapped[date]  # unreachable attempts count once per day in the institution's time zone
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff_account.id"))
    result: Mapped[str] = mapped_column(String(24))
    note: Mapped[str | None] = mapped_column(Text)


class FollowUpRule(Base):
    """Which customers get periodic follow-ups: those of a segment, or carrying a tag."""

    __tablename__ = "follow_up_rule"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    segment: Mapped[str | None] = mapped_column(String(60))
    tag: Mapped[str | None] = mapped_column(String(60))
    cadence: Mapped[str] = mapped_column(String(12))
    active: Mapped[bool] = mapped_column(default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_account.id"))
    created_at: Mapped[datetime]


class QuestionType(StrEnum):
    CSAT = "csat"  # 1–5
    NPS = "nps"  # 0–10
    SINGLE = "single"
    MULTIPLE = "multiple"
    TEXT = "text"


class SurveyTemplate(Base):
    """A questionnaire in Chinese and English; `questions` is a list of
    {id, type, text_zh, text_en, required, options?: [{value, zh, en}]}."""

    __tablename__ = "survey_template"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(40), unique=True)
    title_zh: Mapped[str] = mapped_column(String(120))
    title_en: Mapped[str] = mapped_column(String(120))
    questions: Mapped[list[dict[str, Any]]] = mapped_column()
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]


class SurveyTrigger(StrEnum):
    """What a survey follows."""

    COMPLAINT = "complaint"
    CONSULTATION = "consultation"
    FEEDBACK = "feedback"
    FOLLOW_UP = "follow_up"


class SurveyPolicy(Base):
    """Which template goes out after what, to which share of customers."""

    __tablename__ = "survey_policy"

    trigger: Mapped[str] = mapped_column(String(20), primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("survey_template.id"))
    sampling_rate: Mapped[float]  # 0 to 1
    active: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime]


class InvitationStatus(StrEnum):
    SENT = "sent"
    ANSWERED = "answered"


class SurveyInvitation(Base):
    """One survey sent to one customer: a signed, expiring, single-use link."""

    __tablename__ = "survey_invitation"
    __table_args__ = (
        Index("ix_survey_invitation_customer", "customer_id", "sent_at"),
        Index("ix_survey_invitation_reminder", "status", "reminded_at", "sent_at"),
        Index("ix_survey_invitation_sent", "sent_at"),  # results and KPIs by period
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source_key: Mapped[str] = mapped_column(String(80), unique=True)  # once per resolution / follow-up
    template_id: Mapped[int] = mapped_column(ForeignKey("survey_template.id"))
    trigger: Mapped[str] = mapped_column(String(20))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"), index=True)
    follow_up_id: Mapped[int | None] = mapped_column(ForeignKey("follow_up.id"))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("staff_account.id"))  # whose work it rates
    channel: Mapped[str] = mapped_column(String(8))  # email | sms
    language: Mapped[str] = mapped_column(String(8))
    nonce: Mapped[str] = mapped_column(String(32))  # part of the signed link
    status: Mapped[str] = mapped_column(String(12))
    sent_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    reminded_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]


class SurveyResponse(Base):
    """The answers to one invitation (at most one: the link is single-use)."""

    __tablename__ = "survey_response"

    id: Mapped[int] = mapped_column(primary_key=True)
    invitation_id: Mapped[int] = mapped_column(ForeignKey("survey_invitation.id"), unique=True)
    submitted_at: Mapped[datetime] = mapped_column(index=True)  # the latest comments
    csat: Mapped[int | None]
    nps: Mapped[int | None]
    answers: Mapped[dict[str, Any]] = mapped_column()
    comment: Mapped[str | None] = mapped_column(Text)  # the free-text answers, for reading beside the ticket
