"""The SLA sweep, about every 15 seconds: a breach is marked well within a minute of its due time."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from fincare.platform.jobs import scheduled
from fincare.sla import service


@scheduled(every=timedelta(seconds=15), name="sla.sweep")
def sweep(session: Session) -> None:
    service.sweep(session)
