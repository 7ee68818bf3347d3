"""Housekeeping of the platform's own tables."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from fincare.platform import clock
from fincare.platform.accounts.models import WebSession
from fincare.platform.idempotency import IdempotencyRecord
from fincare.platform.jobs.models import Job, JobState
from fincare.platform.jobs.registry import scheduled

KEEP_FINISHED_JOBS = timedelta(days=30)
KEEP_IDEMPOTENCY_KEYS = timedelta(days=1)


@scheduled(every=timedelta(hours=1), name="platform.housekeeping")
def housekeeping(session: Session) -> None:
    """Forget finished jobs after 30 days, idempotency keys after a day, expired sessions."""
    now = clock.now()
    session.execute(delete(Job).where(Job.state == JobState.DONE, Job.finished_at < now - KEEP_FINISHED_JOBS))
    session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.created_at < now - KEEP_IDEMPOTENCY_KEYS))
    session.execute(delete(WebSession).where(WebSession.expires_at < now))
