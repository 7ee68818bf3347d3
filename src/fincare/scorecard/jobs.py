"""The scorecard's periodic work: closed months are snapshotted, and revised when late data changes them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from fincare.platform.jobs import scheduled
from fincare.scorecard import service


@scheduled(every=timedelta(hours=6), name="scorecard.snapshot_recent")
def snapshot_recent(session: Session) -> None:
    service.snapshot_recent(session)
