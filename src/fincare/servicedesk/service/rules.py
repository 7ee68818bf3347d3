"""What every service-desk rule shares: limits, input cleaning, who may work a ticket, its timeline."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from fincare.platform import clock
from fincare.platform.errors import Invalid
from fincare.platform.permissions import Permission, Principal
from fincare.servicedesk.models import ACTIVE_STATUSES, Ticket, TicketEvent, TicketKind
from fincare.sla import service as sla
from fincare.sla.models import ClockState

SUBJECT = "ticket"  # the subject type of a ticket's clocks
MAX_SUBJECT = 200
MAX_DESCRIPTION = 20_000
MAX_BODY = 20_000
MAX_REASON = 1000

E = TypeVar("E", bound=StrEnum)


def choice(enum: type[E], value: object, field: str) -> E:
    try:
        return enum(str(value))
    except ValueError:
        raise Invalid(f"one of {', '.join(enum)}", field=field) from None


def clean_text(value: object, field: str, max_len: int, *, required: bool = True) -> str:
    cleaned = value.strip() if isinstance(value, str) else ""
    if required and not cleaned:
        raise Invalid("required", field=field)
    if len(cleaned) > max_len:
        raise Invalid(f"at most {max_len} characters", field=field)
    return cleaned


def may_work(actor: Principal, kind: str) -> bool:
    """Complaints are handled by those qualified for them; other tickets by any desk role."""
    return actor.can(Permission.COMPLAINT_HANDLE if kind == TicketKind.COMPLAINT else Permission.TICKET_WRITE)


def add_event(session: Session, ticket: Ticket, kind: str, actor: Principal | None, at: datetime | None = None,
              **detail: Any) -> TicketEvent:
    """Append one entry to the ticket's timeline (JSON detail, no personal data)."""
    event = TicketEvent(ticket_id=ticket.id, kind=kind, at=at or clock.now(),
                        actor_id=actor.account_id if actor else None, detail=detail)
    session.add(event)
    return event


def refresh_due(session: Session, ticket: Ticket) -> None:
    """Recompute the earliest unmet, unpaused due time (the queue's sort key) and the breach flag."""
    clocks = sla.clocks_of(session, SUBJECT, ticket.id)
    open_dues = [c.due_at for c in clocks if c.met_at is None and c.state != ClockState.PAUSED]
    ticket.next_due_at = min(open_dues) if open_dues and ticket.status in ACTIVE_STATUSES else None
    ticket.breached = any(c.breached_at is not None for c in clocks)
