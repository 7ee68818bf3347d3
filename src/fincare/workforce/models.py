"""Workforce tables."""

from __future__ import annotations

from datetime import datetime, time
from enum import StrEnum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from fincare.platform.db import Base


class Skill(StrEnum):
    """Product skills a ticket may need and a staff member may hold."""

    DEPOSITS = "deposits"
    LOANS = "loans"
    CARDS = "cards"
    PAYMENTS = "payments"
    WEALTH = "wealth"
    INSURANCE = "insurance"


class Presence(StrEnum):
    AVAILABLE = "available"
    AWAY = "away"


class StaffSkill(Base):
    __tablename__ = "staff_skill"

    account_id: Mapped[int] = mapped_column(ForeignKey("staff_account.id", ondelete="CASCADE"), primary_key=True)
    skill: Mapped[str] = mapped_column(String(20), primary_key=True)


class ShiftPattern(Base):
    """A weekly working window, local time; `ends` ≤ `starts` runs past midnight into the next day."""

    __tablename__ = "shift_pattern"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("staff_account.id", ondelete="CASCADE"), index=True)
    weekday: Mapped[int]  # 0 Monday … 6 Sunday
    starts: Mapped[time]
    ends: Mapped[time]


class Availability(Base):
    """Present or away; an absence may end by itself at `until`."""

    __tablename__ = "staff_availability"

    account_id: Mapped[int] = mapped_column(ForeignKey("staff_account.id", ondelete="CASCADE"), primary_key=True)
    presence: Mapped[str] = mapped_column(String(12))
    until: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime]
