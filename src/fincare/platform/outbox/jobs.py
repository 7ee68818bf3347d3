"""The delivery sweep, run by `fincare worker`."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from fincare.platform.jobs.registry import scheduled
from fincare.platform.outbox.service import deliver_due


@scheduled(every=timedelta(seconds=10), name="platform.outbox.deliver")
def deliver(session: Session) -> None:
    """Send due messages of every configured channel; idempotent (a sent message is never picked again)."""
    deliver_due(session)
