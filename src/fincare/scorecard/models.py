"""Scorecard tables."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from fincare.platform.db import Base


class Cadence(StrEnum):
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    HALF_YEARLY = "half_yearly"


class MeasureStatus(StrEnum):
    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    CANCELLED = "cancelled"


class Measure(Base):
    """One measure of the plan, e.g. 建立客户信息泄露应急响应机制, owned by a department."""

    __tablename__ = "measure"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(60), unique=True)
    title_zh: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(200))
    owner_department: Mapped[str] = mapped_column(String(40), index=True)  # department code
    starts_on: Mapped[date]
    due_on: Mapped[date]
    cadence: Mapped[str] = mapped_column(String(12))
    status: Mapped[str] = mapped_column(String(12))
    progress: Mapped[int] = mapped_column(default=0)  # percent
    kpi_keys: Mapped[list[str]] = mapped_column(default=list)
    updated_at: Mapped[datetime]


class MeasureNote(Base):
    """A progress note on a measure (who, when, what, and the progress it reports)."""

    __tablename__ = "measure_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    measure_id: Mapped[int] = mapped_column(ForeignKey("measure.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    author_id: Mapped[int | None] = mapped_column(ForeignKey("staff_account.id"))
    text: Mapped[str] = mapped_column(Text)
    progress: Mapped[int | None]
    status: Mapped[str | None] = mapped_column(String(12))


class KpiSnapshot(Base):
    """A closed period's figure of one KPI; a recomputation that differs adds a revision."""

    __tablename__ = "kpi_snapshot"
    __table_args__ = (UniqueConstraint("kpi_key", "period", "revision"),
                      Index("ix_kpi_snapshot_period", "period", "kpi_key"))

    id: Mapped[int] = mapped_column(primary_key=True)
    kpi_key: Mapped[str] = mapped_column(String(60))
    period: Mapped[str] = mapped_column(String(24))  # "2026-10", "2026-Q3", "2026-H2", "2026"
    revision: Mapped[int]
    actual: Mapped[float | None]
    target: Mapped[float]
    met: Mapped[bool | None]
    basis: Mapped[int | None]  # how many records the figure rests on
    reason: Mapped[str | None] = mapped_column(String(200))  # why `actual` is null
    computed_at: Mapped[datetime]
