"""The statutory deadline of a complaint: extensions (15 → 30 → 60 days) granted only by a
supervisor-level role, either directly or by approving a handler's request.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from fincare.customers.identity import redact_identifiers
from fincare.platform import audit_trail, clock, notify
from fincare.platform.errors import Conflict, Forbidden, Invalid, NotFound
from fincare.platform.permissions import Permission, Principal, Role
from fincare.servicedesk.models import (
    ACTIVE_STATUSES,
    ExtensionRequest,
    RequestStatus,
    Ticket,
    TicketKind,
)
from fincare.servicedesk.service import routing
from fincare.servicedesk.service.rules import MAX_REASON, SUBJECT, add_event, clean_prose, refresh_due
from fincare.sla import service as sla
from fincare.sla.models import Clock, ClockState, Target


def may_extend(actor: Principal, clocks: Sequence[Clock]) -> bool:
    """An approver, and a statutory deadline still ahead (a passed one is never extended) and not
    yet at its 60 days."""
    return actor.can(Permission.EXTENSION_APPROVE) and _extendable(clocks)


def _extendable(clocks: Sequence[Clock]) -> bool:
    now = clock.now()
    return any(c.target == Target.STATUTORY and c.met_at is None and c.state == ClockState.RUNNING and c.due_at > now
               and not sla.at_maximum(c.extensions) for c in clocks)


def extend_deadline(session: Session, *, actor: Principal, ticket: Ticket, reason: str) -> Clock:
    """Extend a complaint's statutory deadline (15 → 30 → 60 days); the actor must be able to approve."""
    if ticket.kind != TicketKind.COMPLAINT:
        raise Invalid("only complaints have a statutory deadline", field="ticket_id")
    clocks = sla.clocks_of(session, SUBJECT, ticket.id, lock=True)
    statutory = next((c for c in clocks if c.target == Target.STATUTORY), None)
    if statutory is None:
        raise Conflict("this complaint has no statutory clock", field="ticket_id")
    approver = actor if actor.can(Permission.EXTENSION_APPROVE) else None
    reason = redact_identifiers(reason or "")
    item = sla.extend_statutory(session, item=statutory, actor=actor, approver=approver, reason=reason)
    add_event(session, ticket, "deadline_extended", actor, days=item.budget_seconds // 86400,
              due_at=item.due_at.isoformat(), reason=reason.strip())
    ticket.updated_at = clock.now()
    refresh_due(ticket, clocks)
    return item


def request_extension(session: Session, *, actor: Principal, ticket: Ticket, reason: str) -> ExtensionRequest:
    """A handler asks for more time; supervisors are told and decide on the board. One pending at a time."""
    if ticket.kind != TicketKind.COMPLAINT:
        raise Invalid("only complaints have a statutory deadline", field="ticket_id")
    if ticket.status not in ACTIVE_STATUSES:
        raise Conflict("a resolved or closed complaint needs no more time", field="ticket_id")
    reason = clean_prose(reason, "reason", MAX_REASON)
    clocks = sla.clocks_of(session, SUBJECT, ticket.id)
    for statutory in (c for c in clocks if c.target == Target.STATUTORY):
        sla.refuse_at_maximum(statutory, field="ticket_id")
    if not _extendable(clocks):
        raise Conflict("the statutory deadline has passed or is not running; it cannot be extended",
                       field="ticket_id")
    if pending_extension(session, ticket.id) is not None:
        raise Conflict("an extension request for this complaint is already waiting", field="ticket_id")
    now = clock.now()
    request = ExtensionRequest(ticket_id=ticket.id, reason=reason, requested_by_id=actor.account_id,
                               requested_at=now, status=RequestStatus.PENDING)
    session.add(request)
    session.flush()
    add_event(session, ticket, "extension_requested", actor, at=now, request_id=request.id, reason=reason)
    audit_trail.record(session, actor=actor, action="complaint.extension_requested", subject=ticket,
                       after={"request_id": request.id}, reason=reason)
    # supervisors decide requests on the board; a compliance officer extends from the ticket itself
    approvers = [a for a in notify.staff_with_role(session, Role.SUPERVISOR) if a != actor.account_id]
    notify.notify_staff(session, recipients=approvers, kind="extension_requested",
                        params={"reference": ticket.reference}, dedupe_key=f"extension-request-{request.id}",
                        link="/board")
    return request


def pending_extension(session: Session, ticket_id: int) -> ExtensionRequest | None:
    """The complaint's extension request still waiting for a decision, if any (one at a time)."""
    return session.execute(select(ExtensionRequest).where(
        ExtensionRequest.ticket_id == ticket_id, ExtensionRequest.status == RequestStatus.PENDING)).scalars().first()


def decide_extension(session: Session, *, actor: Principal, request_id: int, approve: bool,
                     note: str | None = None) -> ExtensionRequest:
    """Grant (extending the deadline, notice to the complainant) or refuse a waiting request."""
    if not actor.can(Permission.EXTENSION_APPROVE):
        raise Forbidden("your role may not approve extensions", field="request_id")
    request = session.get(ExtensionRequest, request_id, with_for_update=True)
    if request is None:
        raise NotFound("no such extension request", field="request_id")
    if request.status != RequestStatus.PENDING:
        raise Conflict("this request was already decided", field="request_id")
    note = clean_prose(note, "note", MAX_REASON, required=not approve) or None
    ticket = session.get(Ticket, request.ticket_id, with_for_update=True)
    if ticket is None:
        raise NotFound("no such ticket", field="request_id")
    routing.refuse_if_recused(session, ticket, actor, field="request_id")
    if approve:
        extend_deadline(session, actor=actor, ticket=ticket, reason=request.reason)
    request.status = RequestStatus.APPROVED if approve else RequestStatus.REJECTED
    request.decided_by_id, request.decided_at, request.note = actor.account_id, clock.now(), note
    add_event(session, ticket, "extension_decided", actor, request_id=request.id, approved=approve, note=note)
    audit_trail.record(session, actor=actor, action="complaint.extension_decided", subject=ticket,
                       before={"status": RequestStatus.PENDING}, after={"status": request.status}, reason=note)
    return request


def pending_extensions(session: Session, *, limit: int = 100) -> list[tuple[ExtensionRequest, Ticket]]:
    """Requests waiting for a decision, oldest first (the supervisor board)."""
    rows = session.execute(select(ExtensionRequest, Ticket).join(Ticket, Ticket.id == ExtensionRequest.ticket_id)
                           .where(ExtensionRequest.status == RequestStatus.PENDING)
                           .order_by(ExtensionRequest.requested_at).limit(limit)).all()
    return [(r, t) for r, t in rows]
