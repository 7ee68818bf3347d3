"""Job outbox tables."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from fincare.platform.db import Base

BigId = BigInteger().with_variant(Integer(), "sqlite")


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"  # claimed; `run_at` is the lease expiry, after which anyone may reclaim it
    DONE = "done"
    PARKED = "parked"  # gave up after max_attempts; an admin may retry it


class Job(Base):
    __tablename__ = "job"
    __table_args__ = (
        Index("ix_job_due", "run_at", sqlite_where=text("state IN ('queued', 'running')"),
              postgresql_where=text("state IN ('queued', 'running')")),
        Index("ix_job_state_id", "state", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event: Mapped[str] = mapped_column(String(120))
    handler: Mapped[str | None] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]]
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    state: Mapped[JobState] = mapped_column(String(16))
    run_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int]
    locked_by: Mapped[str | None] = mapped_column(String(80))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class JobSchedule(Base):
    """One row per `@scheduled` job: its next due time, claimed by one worker at a time."""

    __tablename__ = "job_schedule"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    next_run_at: Mapped[datetime]
    last_run_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
