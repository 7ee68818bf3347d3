"""Seal new audit entries into the chain about every second."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from fincare.platform.audit_trail.service import seal_pending
from fincare.platform.jobs import scheduled


@scheduled(every=timedelta(seconds=1), name="audit_trail.seal")
def seal(session: Session) -> None:
    """Chain what committed since the last run (bounded batch; the next run takes the rest)."""
    seal_pending(session, limit=20_000)
