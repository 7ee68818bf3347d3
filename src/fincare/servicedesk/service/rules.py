"""What every service-desk rule shares: limits, input cleaning, who may work a ticket, its timeline."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from fincare.customers.identity import redact_identifiers
from fincare.platform import audit_trail, clock
from fincare.platform.db import new_row
from fincare.platform.errors import Forbidden, Invalid, Message
from fincare.platform.permissions import Permission, Principal
from fincare.servicedesk.models import ACTIVE_STATUSES, Ticket, TicketEvent, TicketKind, TicketStatus
from fincare.sla.models import Clock, ClockState

SUBJECT = "ticket"  # the subject type of a ticket's clocks
MAX_SUBJECT = 200
MAX_DESCRIPTION = 20_000
MAX_BODY = 20_000
MAX_REASON = 1000




def clean_text(value: object, field: str, max_len: int, *, required: bool = True) -> str:
    cleaned = value.strip() if isinstance(value, str) else ""
    if required and not cleaned:
        raise Invalid("required", field=field)
    if len(cleaned) > max_len:
        raise Invalid(Message("at most {limit} characters", limit=max_len), field=field)
    return cleaned


def clean_prose(value: object, field: str, max_len: int, *, required: bool = True) -> str:
    """`clean_text` for what people write (descriptions, replies, notes, reasons): a bank-card or
    resident ID number typed into it is kept only as its mask."""
    return redact_identifiers(clean_text(value, field, max_len, required=required))


def may_work(actor: Principal, kind: str) -> bool:
    """Complaints are handled by those qualified for them; other tickets by any desk role."""
    return actor.can(Permission.COMPLAINT_HANDLE if kind == TicketKind.COMPLAINT else Permission.TICKET_WRITE)


def may_answer(actor: Principal, ticket: Ticket) -> bool:
    """Whether `actor`, who may work the ticket's kind, may also speak for the institution on it —
    reply to the customer, change its status, send a complaint's decision or link it as a duplicate:
    its owner, anyone while nobody owns it, or a supervisor (who could hand it to themselves anyway).
    A colleague adds notes (首问负责制: who took the case in answers for it)."""
    return ticket.assignee_id is None or ticket.assignee_id == actor.account_id or actor.can(Permission.TICKET_ASSIGN)


def refuse_unless_answering(actor: Principal, ticket: Ticket, *, field: str) -> None:
    """Forbidden, naming `field`, unless `may_answer`."""
    if not may_answer(actor, ticket):
        raise Forbidden("this ticket is a colleague's: add an internal note, or ask a supervisor to hand it over",
                        field=field)


def record_assignment(session: Session, ticket: Ticket, actor: Principal, assignee_id: int | None,
                      reason: str | None) -> None:
    """Give the ticket to `assignee_id` (a new ticket opens), with its timeline event and audit entry."""
    now = clock.now()
    before, ticket.assignee_id, ticket.updated_at = ticket.assignee_id, assignee_id, now
    if ticket.status == TicketStatus.NEW and assignee_id is not None:
        ticket.status = TicketStatus.OPEN
        add_event(session, ticket, "status_changed", actor, at=now, before=TicketStatus.NEW, after=TicketStatus.OPEN)
    add_event(session, ticket, "assigned", actor, at=now, before=before, after=assignee_id, reason=reason)
    audit_trail.record(session, actor=actor, action="ticket.assigned", subject=ticket,
                       before={"assignee_id": before}, after={"assignee_id": assignee_id}, reason=reason)


def add_event(session: Session, ticket: Ticket, kind: str, actor: Principal | None, at: datetime | None = None,
              **detail: Any) -> TicketEvent:
    """Append one entry to the ticket's timeline (JSON detail, no personal data)."""
    event = new_event(ticket, kind, actor, at, **detail)
    session.add(event)
    return event


def new_event(ticket: Ticket, kind: str, actor: Principal | None, at: datetime | None = None,
              **detail: Any) -> TicketEvent:
    """A timeline entry not yet added, for a caller that writes it with its own rows (`db.insert_new`)."""
    return new_row(TicketEvent, ticket_id=ticket.id, kind=kind, at=at or clock.now(),
                   actor_id=actor.account_id if actor else None, detail=detail)


_NOT_COUNTING = (ClockState.PAUSED, ClockState.CANCELLED)


def next_due(clocks: Sequence[Clock]) -> datetime | None:
    """The earliest due time of a clock still counting: the queue's sort key."""
    return min((c.due_at for c in clocks if c.met_at is None and c.state not in _NOT_COUNTING), default=None)


def refresh_due(ticket: Ticket, clocks: Sequence[Clock]) -> None:
    """Keep the ticket's queue key and breach flag in step with `clocks` (all of its clocks, as changed)."""
    ticket.next_due_at = next_due(clocks) if ticket.status in ACTIVE_STATUSES else None
    ticket.breached = any(c.breached_at is not None for c in clocks)
