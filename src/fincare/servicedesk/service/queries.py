"""Reading tickets: lists, queues, timelines and clocks."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from fincare.platform.errors import one_of
from fincare.platform.permissions import Permission, Principal
from fincare.servicedesk.models import (
    ACTIVE_STATUSES,
    Ticket,
    TicketEvent,
    TicketKind,
    TicketStatus,
)
from fincare.servicedesk.service.rules import (
    SUBJECT,
    may_work,
)
from fincare.sla import service as sla
from fincare.sla.models import Clock


def list_tickets(session: Session, *, actor: Principal, kind: str | None = None, status: str | None = None,
                 breached: bool | None = None, assignee_id: int | None = None, unassigned: bool = False,
                 customer_id: int | None = None, before_id: int | None = None, limit: int = 50) -> Sequence[Ticket]:
    """Newest first, filtered; page with `before_id`."""
    if not actor.can(Permission.TICKET_READ):
        return []
    query = select(Ticket).order_by(Ticket.id.desc()).limit(min(max(limit, 1), 200))
    if kind is not None:
        query = query.where(Ticket.kind == one_of(TicketKind, kind, "kind"))
    if status is not None:
        query = query.where(Ticket.status == one_of(TicketStatus, status, "status"))
    if breached is not None:
        query = query.where(Ticket.breached.is_(breached))
    if unassigned:
        query = query.where(Ticket.assignee_id.is_(None))
    elif assignee_id is not None:
        query = query.where(Ticket.assignee_id == assignee_id)
    if customer_id is not None:
        query = query.where(Ticket.customer_id == customer_id)
    if before_id is not None:
        query = query.where(Ticket.id < before_id)
    return session.execute(query).scalars().all()


def my_queue(session: Session, *, actor: Principal, limit: int = 50) -> Sequence[Ticket]:
    """The actor's active tickets, the one closest to (or furthest past) its deadline first."""
    if actor.account_id is None:
        return []
    return session.execute(
        select(Ticket).where(Ticket.assignee_id == actor.account_id, Ticket.status.in_(ACTIVE_STATUSES))
        .order_by(Ticket.next_due_at.asc().nulls_last(), Ticket.id).limit(min(max(limit, 1), 200))
    ).scalars().all()


def unassigned_queue(session: Session, *, actor: Principal, limit: int = 50) -> Sequence[Ticket]:
    """Active tickets nobody owns yet, of the kinds the actor may work, most urgent first."""
    kinds = [k for k in TicketKind if may_work(actor, k)]
    if not kinds:
        return []
    return session.execute(
        select(Ticket).where(Ticket.assignee_id.is_(None), Ticket.status.in_(ACTIVE_STATUSES),
                             Ticket.kind.in_(kinds))
        .order_by(Ticket.next_due_at.asc().nulls_last(), Ticket.id).limit(min(max(limit, 1), 200))
    ).scalars().all()


def readable_tickets(session: Session, actor: Principal, ticket_ids: Sequence[int]) -> dict[int, Ticket]:
    """The tickets of `ticket_ids` the actor may read, by id, in one query."""
    if not actor.can(Permission.TICKET_READ) or not ticket_ids:
        return {}
    rows = session.execute(select(Ticket).where(Ticket.id.in_(sorted(set(ticket_ids))))).scalars()
    return {t.id: t for t in rows}


def list_events(session: Session, ticket_id: int) -> Sequence[TicketEvent]:
    return session.execute(select(TicketEvent).where(TicketEvent.ticket_id == ticket_id)
                           .order_by(TicketEvent.at, TicketEvent.id)).scalars().all()


def clocks_by_ticket(session: Session, ticket_ids: Sequence[int]) -> dict[int, list[Clock]]:
    """The clocks of a page of tickets in one query."""
    return sla.clocks_of_subjects(session, SUBJECT, ticket_ids)


def clocks(session: Session, ticket: Ticket) -> Sequence[Clock]:
    return sla.clocks_of(session, SUBJECT, ticket.id)
