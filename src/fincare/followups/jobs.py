"""Follow-ups subscribe to resolutions on the service desk and run their periodic work."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from fincare.followups import service
from fincare.followups.models import FollowUp, SurveyTrigger
from fincare.platform.jobs import on, scheduled
from fincare.servicedesk.models import Ticket


@on("servicedesk.ticket_resolved")
def after_resolution(session: Session, *, ticket_id: int, resolution_event_id: int, **_: Any) -> None:
    """A resolved complaint is owed a follow-up call; any resolved ticket may be surveyed (sampled).
    Once per resolution, however often the event is delivered."""
    service.for_resolution(session, ticket_id=ticket_id, resolution_event_id=resolution_event_id)
    ticket = session.get(Ticket, ticket_id)
    if ticket is not None and ticket.duplicate_of_id is None:
        service.invite(session, trigger=SurveyTrigger(ticket.kind), source_key=f"resolution-{resolution_event_id}",
                       customer_id=ticket.customer_id, reference=ticket.reference, ticket_id=ticket.id,
                       agent_id=ticket.assignee_id)


@on("followups.follow_up_reached")
def after_call(session: Session, *, follow_up_id: int, **_: Any) -> None:
    """A customer reached on a follow-up call may be asked how the call went."""
    follow_up = session.get(FollowUp, follow_up_id)
    if follow_up is None:
        return
    ticket = session.get(Ticket, follow_up.ticket_id) if follow_up.ticket_id else None
    service.invite(session, trigger=SurveyTrigger.FOLLOW_UP, source_key=f"follow-up-{follow_up.id}",
                   customer_id=follow_up.customer_id, reference=ticket.reference if ticket else f"HF-{follow_up.id}",
                   ticket_id=follow_up.ticket_id, follow_up_id=follow_up.id, agent_id=follow_up.assignee_id)


@scheduled(every=timedelta(minutes=1), name="followups.route_waiting")
def route_waiting(session: Session) -> None:
    service.route_waiting(session)


@scheduled(every=timedelta(hours=6), name="followups.generate_periodic")
def generate_periodic(session: Session) -> None:
    """Key and high-risk-sales customers' follow-ups for the current period (idempotent)."""
    service.generate(session)


@scheduled(every=timedelta(hours=1), name="followups.survey_reminders")
def survey_reminders(session: Session) -> None:
    service.send_reminders(session)
