"""What the desk does when a ticket's clock warns or breaches (events from `sla`, run as jobs).

A breach raises the ticket's priority one step, records a timeline event and puts a notification
in the inbox of the supervisors of the assignee's department (every supervisor when the ticket is
unassigned or the department has none). Each handler is idempotent: the outbox delivers an event
once, and a re-run finds its event already on the timeline and does nothing.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from fincare.platform import notify
from fincare.platform.accounts.models import StaffAccount
from fincare.platform.permissions import SYSTEM, Role
from fincare.servicedesk.models import ACTIVE_STATUSES, Ticket, TicketEvent
from fincare.servicedesk.service import SUBJECT, add_event, raise_priority, refresh_due
from fincare.sla import service as sla
from fincare.sla.models import Clock


def _already(session: Session, ticket_id: int, kind: str, clock_id: int, extensions: int | None = None) -> bool:
    for detail in session.execute(select(TicketEvent.detail).where(TicketEvent.ticket_id == ticket_id,
                                                                   TicketEvent.kind == kind)).scalars():
        if detail.get("clock_id") == clock_id and detail.get("extensions") == extensions:
            return True
    return False


def supervisors_for(session: Session, ticket: Ticket) -> list[int]:
    department_id = None
    if ticket.assignee_id is not None:
        assignee = session.get(StaffAccount, ticket.assignee_id)
        department_id = assignee.department_id if assignee else None
    found = notify.staff_with_role(session, Role.SUPERVISOR, department_id=department_id)
    return found or notify.staff_with_role(session, Role.SUPERVISOR)


def escalate_breach(session: Session, *, ticket_id: int, clock_id: int) -> None:
    """Raise the priority, record the breach and notify the supervisors; once per breached clock."""
    ticket = session.get(Ticket, ticket_id, with_for_update=True)
    item = session.get(Clock, clock_id)
    if ticket is None or item is None or _already(session, ticket_id, "sla_breached", clock_id):
        return
    add_event(session, ticket, "sla_breached", SYSTEM, clock_id=clock_id, target=item.target,
              due_at=item.due_at.isoformat(), extensions=None)
    if ticket.status in ACTIVE_STATUSES:  # a target met late at resolution is reported, not reprioritised
        raise_priority(session, actor=SYSTEM, ticket=ticket, reason=f"sla breached: {item.target}")
    refresh_due(ticket, sla.clocks_of(session, SUBJECT, ticket.id))
    notify.notify_staff(session, recipients=supervisors_for(session, ticket), kind="sla_breached",
                        params={"reference": ticket.reference, "target": item.target},
                        dedupe_key=f"sla-breach-{clock_id}", link=f"/tickets/{ticket.id}")


def record_warning(session: Session, *, ticket_id: int, clock_id: int, extensions: int) -> None:
    """80 % of a target used: a timeline event and a note in the assignee's inbox.

    `extensions` is the count when the warning was raised: an extension since then warns anew.
    """
    ticket = session.get(Ticket, ticket_id)
    item = session.get(Clock, clock_id)
    if ticket is None or item is None or _already(session, ticket_id, "sla_warned", clock_id, extensions):
        return
    add_event(session, ticket, "sla_warned", SYSTEM, clock_id=clock_id, target=item.target,
              due_at=item.due_at.isoformat(), extensions=extensions)
    if ticket.assignee_id is not None:
        notify.notify_staff(session, recipients=[ticket.assignee_id], kind="sla_warned",
                            params={"reference": ticket.reference, "target": item.target},
                            dedupe_key=f"sla-warn-{clock_id}-{extensions}", link=f"/tickets/{ticket.id}")
