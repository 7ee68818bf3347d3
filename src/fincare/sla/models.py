"""SLA tables."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from fincare.platform.db import Base


class Target(StrEnum):
    FIRST_RESPONSE = "first_response"
    FEEDBACK = "feedback"
    RESOLUTION = "resolution"
    STATUTORY = "statutory"  # the regulator's decision deadline for complaints, in calendar days
    FOLLOW_UP = "follow_up"  # a follow-up call after a complaint is resolved


class CalendarKind(StrEnum):
    ALWAYS = "24x7"
    BUSINESS = "business"


class ClockState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    MET = "met"
    BREACHED = "breached"  # still to be met: it can become met late, but stays recorded as breached
    CANCELLED = "cancelled"  # its subject is handled as part of another (a linked duplicate); counts nowhere


class SlaPolicy(Base):
    """One target of one version of a policy; a clock keeps the row (version) it started with."""

    __tablename__ = "sla_policy"
    __table_args__ = (UniqueConstraint("key", "version", "target"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(60))  # e.g. "complaint.high"
    version: Mapped[int]
    kind: Mapped[str] = mapped_column(String(20))  # subject kind: consultation / complaint / feedback
    priority: Mapped[str | None] = mapped_column(String(12))  # None: any
    risk_grade: Mapped[str | None] = mapped_column(String(12))
    channel: Mapped[str | None] = mapped_column(String(24))
    target: Mapped[str] = mapped_column(String(20))
    minutes: Mapped[int]
    calendar: Mapped[str] = mapped_column(String(12))
    active: Mapped[bool] = mapped_column(default=True, index=True)
    created_at: Mapped[datetime]


class Clock(Base):
    __tablename__ = "sla_clock"
    __table_args__ = (
        UniqueConstraint("subject_type", "subject_id", "target"),
        # the sweep's work lists: tiny however many clocks exist
        Index("ix_sla_clock_due", "due_at", postgresql_where=text("state = 'running'"),
              sqlite_where=text("state = 'running'")),
        Index("ix_sla_clock_warn", "warn_at", postgresql_where=text("state = 'running' AND warned_at IS NULL"),
              sqlite_where=text("state = 'running' AND warned_at IS NULL")),
        # reports by period: a ticket's clocks start when it was received
        Index("ix_sla_clock_started", "subject_type", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[int]
    target: Mapped[str] = mapped_column(String(20))
    policy_id: Mapped[int | None]
    calendar: Mapped[str] = mapped_column(String(12))
    budget_seconds: Mapped[int]  # the target, grown by extensions
    paused_seconds: Mapped[int] = mapped_column(default=0)  # calendar time spent paused
    started_at: Mapped[datetime]
    due_at: Mapped[datetime]
    warn_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(12))
    paused_at: Mapped[datetime | None]
    warned_at: Mapped[datetime | None]
    breached_at: Mapped[datetime | None]
    met_at: Mapped[datetime | None]
    extensions: Mapped[int] = mapped_column(default=0)


class ClockEvent(Base):
    __tablename__ = "sla_clock_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    clock_id: Mapped[int] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(20))  # started, paused, resumed, warned, breached, met, extended
    at: Mapped[datetime]
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    actor_id: Mapped[int | None]


class CalendarOverride(Base):
    """An institution's own exception to the official calendar: a closed day or an extra workday."""

    __tablename__ = "sla_calendar_override"

    day: Mapped[date] = mapped_column(primary_key=True)  # local date
    workday: Mapped[bool]
    note: Mapped[str] = mapped_column(String(200))
