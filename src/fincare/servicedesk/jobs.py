"""The desk's subscriptions to clock events of its tickets, and routing of tickets left waiting."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from fincare.platform.jobs import on, scheduled
from fincare.servicedesk import escalation
from fincare.servicedesk.service import SUBJECT, route_waiting


@on("sla.clock_breached")
def escalate_breach(session: Session, *, clock_id: int, subject_type: str, subject_id: int, **_: Any) -> None:
    if subject_type == SUBJECT:
        escalation.escalate_breach(session, ticket_id=subject_id, clock_id=clock_id)


@on("sla.clock_warned")
def record_warning(session: Session, *, clock_id: int, subject_type: str, subject_id: int, extensions: int = 0,
                   **_: Any) -> None:
    if subject_type == SUBJECT:
        escalation.record_warning(session, ticket_id=subject_id, clock_id=clock_id, extensions=extensions)


@scheduled(every=timedelta(minutes=1), name="servicedesk.route_waiting")
def route_waiting_tickets(session: Session) -> None:
    """Tickets nobody could take when they arrived go to whoever has come on duty since."""
    route_waiting(session)
