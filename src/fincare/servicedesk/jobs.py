"""The desk's subscriptions to clock events of its tickets and to its public replies (delivered to
the customer), and routing of tickets left waiting."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from fincare.platform.jobs import on, scheduled
from fincare.servicedesk import escalation, notices
from fincare.servicedesk.service import SUBJECT, route_waiting
from fincare.servicedesk.service.work import REPLY_PUBLISHED


@on("sla.clock_breached")
def escalate_breach(session: Session, *, clock_id: int, subject_type: str, subject_id: int, **_: Any) -> None:
    if subject_type == SUBJECT:
        escalation.escalate_breach(session, ticket_id=subject_id, clock_id=clock_id)


@on("sla.clock_warned")
def record_warning(session: Session, *, clock_id: int, subject_type: str, subject_id: int, extensions: int = 0,
                   **_: Any) -> None:
    if subject_type == SUBJECT:
        escalation.record_warning(session, ticket_id=subject_id, clock_id=clock_id, extensions=extensions)


@on("sla.statutory_extended")
def notify_extension(session: Session, *, clock_id: int, subject_type: str, subject_id: int, days: int,
                     due_at: str, **_: Any) -> None:
    """The complainant is told of every extension of the statutory deadline."""
    if subject_type == SUBJECT:
        notices.notify_extension(session, ticket_id=subject_id, clock_id=clock_id, days=days, due_at=due_at)


@on(REPLY_PUBLISHED)
def deliver_reply(session: Session, *, ticket_id: int, message_id: int, **_: Any) -> None:
    """A public reply reaches the customer by e-mail or SMS."""
    notices.deliver_reply(session, ticket_id=ticket_id, message_id=message_id)


@scheduled(every=timedelta(minutes=1), name="servicedesk.route_waiting")
def route_waiting_tickets(session: Session) -> None:
    """Tickets nobody could take when they arrived go to whoever has come on duty since."""
    route_waiting(session)
