"""Service-desk rules: intake, access, replies and notes, status transitions, assignment, extensions.

Every write records a TicketEvent and an audit entry in the caller's transaction and keeps the
ticket's clocks (`sla`) in step with its status.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from fincare.customers.models import Customer, CustomerStatus
from fincare.platform import audit_trail, clock, jobs
from fincare.platform.accounts.models import StaffAccount
from fincare.platform.accounts.service import principal_of
from fincare.platform.config import get_settings
from fincare.platform.db import allocate_ids
from fincare.platform.errors import Conflict, Forbidden, Invalid, NotFound
from fincare.platform.permissions import Permission, Principal
from fincare.servicedesk.models import (
    ACTIVE_STATUSES,
    PRIORITY_ORDER,
    REFERENCE_PREFIX,
    Channel,
    Priority,
    RiskGrade,
    Ticket,
    TicketEvent,
    TicketKind,
    TicketMessage,
    TicketStatus,
    Visibility,
)
from fincare.sla import service as sla
from fincare.sla.models import Clock, ClockState, Target

SUBJECT = "ticket"  # the subject type of a ticket's clocks
MAX_SUBJECT = 200
MAX_DESCRIPTION = 20_000
MAX_BODY = 20_000
MAX_REASON = 1000
# A clock on a server a little ahead must not make "now" from a client look like the future.
CLOCK_SKEW = timedelta(minutes=2)

EARLIEST_RECEIVED = datetime(2000, 1, 1, tzinfo=UTC)  # historical imports, yes; year 1, no


def _local_year(moment: datetime) -> int:
    """The year on the institution's calendar: a ticket at 05:00 on New Year's Day in Beijing is next year's."""
    return moment.astimezone(ZoneInfo(get_settings().timezone)).year


# Where each status may go. Reopening needs a reason; waiting for the customer needs a reply first.
TRANSITIONS: dict[TicketStatus, frozenset[TicketStatus]] = {
    TicketStatus.NEW: frozenset({TicketStatus.OPEN, TicketStatus.PENDING_CUSTOMER, TicketStatus.RESOLVED}),
    TicketStatus.OPEN: frozenset({TicketStatus.PENDING_CUSTOMER, TicketStatus.RESOLVED}),
    TicketStatus.REOPENED: frozenset({TicketStatus.OPEN, TicketStatus.PENDING_CUSTOMER, TicketStatus.RESOLVED}),
    TicketStatus.PENDING_CUSTOMER: frozenset({TicketStatus.OPEN, TicketStatus.RESOLVED}),
    TicketStatus.RESOLVED: frozenset({TicketStatus.CLOSED, TicketStatus.REOPENED}),
    TicketStatus.CLOSED: frozenset({TicketStatus.REOPENED}),
}
# The first customer-visible reply meets these targets; resolving meets the rest.
REPLY_TARGETS = frozenset({Target.FIRST_RESPONSE, Target.FEEDBACK})

E = TypeVar("E", bound=StrEnum)


def _choice(enum: type[E], value: object, field: str) -> E:
    try:
        return enum(str(value))
    except ValueError:
        raise Invalid(f"one of {', '.join(enum)}", field=field) from None


def _text(value: object, field: str, max_len: int, *, required: bool = True) -> str:
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


# -- intake ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomerSummary:
    """What the desk shows of a customer: the reference and masks, never a clear value."""

    id: int
    name: str
    phone: str | None


@dataclass(frozen=True)
class Intake:
    """A validated new ticket."""

    kind: TicketKind
    channel: Channel
    customer: CustomerSummary
    subject: str
    description: str
    priority: Priority
    risk_grade: RiskGrade | None
    received_at: datetime


def parse_intake(session: Session, *, actor: Principal, raw: dict[str, Any]) -> Intake:
    """Validate a new ticket (API body or console form); Invalid / Forbidden name the field at fault."""
    kind = _choice(TicketKind, raw.get("kind"), "kind")
    channel = _choice(Channel, raw.get("channel"), "channel")
    if channel == Channel.REGULATOR_TRANSFER and kind != TicketKind.COMPLAINT:
        raise Invalid("only complaints are transferred by the regulator", field="channel")
    subject = _text(raw.get("subject"), "subject", MAX_SUBJECT)
    description = _text(raw.get("description"), "description", MAX_DESCRIPTION)
    risk_grade = None
    if raw.get("risk_grade") is not None:
        if kind != TicketKind.COMPLAINT:
            raise Invalid("only complaints carry a risk grade", field="risk_grade")
        risk_grade = _choice(RiskGrade, raw["risk_grade"], "risk_grade")
    elif kind == TicketKind.COMPLAINT:
        risk_grade = RiskGrade.LOW
    priority = _choice(Priority, raw["priority"], "priority") if raw.get("priority") else _default_priority(
        channel, risk_grade)
    now = clock.now()
    received_at = raw.get("received_at")
    if received_at is None:
        received_at = now
    else:
        if not isinstance(received_at, datetime) or received_at.tzinfo is None:
            raise Invalid("a date and time with its time zone, e.g. 2026-10-12T09:30:00+08:00", field="received_at")
        if received_at < EARLIEST_RECEIVED:
            raise Invalid("no earlier than 2000-01-01", field="received_at")
        if received_at > now + CLOCK_SKEW:
            raise Invalid("cannot be in the future", field="received_at")
        if received_at < now - CLOCK_SKEW and not actor.can(Permission.TICKET_BACKDATE):
            raise Forbidden("your role may not record a ticket received earlier", field="received_at")
    customer_id = raw.get("customer_id")
    found = session.execute(select(Customer.status, Customer.name_mask, Customer.phone_mask)
                            .where(Customer.id == customer_id)).one_or_none() \
        if isinstance(customer_id, int) and not isinstance(customer_id, bool) else None
    if found is None:
        raise Invalid("no such customer", field="customer_id")
    if found.status != CustomerStatus.ACTIVE:
        raise Invalid(f"the customer's data is {found.status}; it may not be processed", field="customer_id")
    assert isinstance(customer_id, int)
    return Intake(kind, channel, CustomerSummary(customer_id, found.name_mask, found.phone_mask), subject,
                  description, priority, risk_grade, received_at)


def _default_priority(channel: Channel, risk_grade: RiskGrade | None) -> Priority:
    if risk_grade == RiskGrade.HIGH or channel == Channel.REGULATOR_TRANSFER:
        return Priority.HIGH
    return Priority.NORMAL


@dataclass(frozen=True)
class Opened:
    """A new ticket with what was made with it, so an answer needs no second read."""

    ticket: Ticket
    clocks: list[Clock]
    customer: CustomerSummary


def open_ticket(session: Session, *, actor: Principal, intake: Intake) -> Opened:
    """Record a new ticket and start its clocks from `received_at`.

    First-contact responsibility: whoever takes it in owns it if qualified to work it; otherwise it
    waits unassigned in its kind's queue. A high-risk or regulator-transferred complaint queues
    `servicedesk.regulator_report_due`.
    """
    now = clock.now()
    ticket_id = allocate_ids(session, "ticket", 1)[0]
    owner = actor.account_id if actor.account_id is not None and may_work(actor, intake.kind) else None
    # the clocks first, so the ticket row is written once, with its queue sort key already known
    clocks = sla.start_clocks(session, subject_type=SUBJECT, subject_id=ticket_id, kind=intake.kind,
                              received_at=intake.received_at, priority=intake.priority,
                              risk_grade=intake.risk_grade, channel=intake.channel, new_subject=True)
    ticket = Ticket(
        id=ticket_id, reference=f"{REFERENCE_PREFIX[intake.kind]}-{_local_year(intake.received_at)}-{ticket_id:06d}",
        kind=intake.kind, channel=intake.channel, status=TicketStatus.OPEN if owner else TicketStatus.NEW,
        priority=intake.priority, risk_grade=intake.risk_grade,
        regulator_transfer=intake.channel == Channel.REGULATOR_TRANSFER, customer_id=intake.customer.id,
        subject=intake.subject, description=intake.description, assignee_id=owner,
        created_by_id=actor.account_id, received_at=intake.received_at, created_at=now, updated_at=now,
        next_due_at=min((c.due_at for c in clocks), default=None), breached=False,
    )
    session.add(ticket)
    add_event(session, ticket, "created", actor, at=now, channel=intake.channel, assignee_id=owner,
              received_at=intake.received_at.isoformat())
    audit_trail.record(session, actor=actor, action="ticket.opened", subject=ticket,
                       after={"reference": ticket.reference, "kind": ticket.kind, "channel": ticket.channel,
                              "customer_id": ticket.customer_id, "priority": ticket.priority,
                              "risk_grade": ticket.risk_grade, "received_at": ticket.received_at.isoformat(),
                              "assignee_id": owner})
    if intake.kind == TicketKind.COMPLAINT and (intake.risk_grade == RiskGrade.HIGH or ticket.regulator_transfer):
        jobs.enqueue(session, "servicedesk.regulator_report_due", dedupe_key=f"regulator-report-{ticket.id}",
                     ticket_id=ticket.id)
    return Opened(ticket, clocks, intake.customer)


# -- access ----------------------------------------------------------------------------------------


def get_ticket(session: Session, ticket_id: int) -> Ticket | None:
    return session.get(Ticket, ticket_id)


def access_ticket(session: Session, ticket_id: int, actor: Principal, *, for_write: bool = False) -> Ticket:
    """Load a ticket for `actor`: readable by desk roles; writable by those who may work its kind.

    A ticket the actor may not see is "not found". `for_write` locks the row for this transaction.
    """
    if not actor.can(Permission.TICKET_READ):
        raise NotFound("no such ticket", field="ticket_id")
    ticket = session.get(Ticket, ticket_id, with_for_update=for_write)
    if ticket is None:
        raise NotFound("no such ticket", field="ticket_id")
    if for_write and not may_work(actor, ticket.kind):
        raise Forbidden("your role may not work on this kind of ticket", field="ticket_id")
    return ticket


# -- replies and notes -----------------------------------------------------------------------------


def add_message(session: Session, *, actor: Principal, ticket: Ticket, body: str,
                visibility: Visibility) -> TicketMessage:
    """A reply the customer sees, or an internal note.

    The first public reply meets the first-response and feedback clocks and opens a new ticket.
    """
    body = _text(body, "body", MAX_BODY)
    if ticket.status == TicketStatus.CLOSED:
        raise Conflict("the ticket is closed; reopen it first", field="ticket_id")
    now = clock.now()
    message = TicketMessage(ticket_id=ticket.id, visibility=visibility, body=body, author_id=actor.account_id,
                            created_at=now)
    session.add(message)
    session.flush()
    public = visibility == Visibility.PUBLIC
    add_event(session, ticket, "replied" if public else "noted", actor, at=now, message_id=message.id)
    if public:
        if ticket.first_response_at is None:
            ticket.first_response_at = now
        for item in sla.clocks_of(session, SUBJECT, ticket.id, lock=True):
            if item.target in REPLY_TARGETS:
                sla.meet(session, item=item, at=now)
        if ticket.status in (TicketStatus.NEW, TicketStatus.REOPENED):
            _set_status(session, ticket, TicketStatus.OPEN, actor, now)
    ticket.updated_at = now
    refresh_due(session, ticket)
    audit_trail.record(session, actor=actor, action="ticket.replied" if public else "ticket.noted", subject=ticket,
                       after={"message_id": message.id, "visibility": visibility, "length": len(body)})
    return message


def list_messages(session: Session, ticket_id: int) -> Sequence[TicketMessage]:
    return session.execute(select(TicketMessage).where(TicketMessage.ticket_id == ticket_id)
                           .order_by(TicketMessage.id)).scalars().all()


# -- status ----------------------------------------------------------------------------------------


def _set_status(session: Session, ticket: Ticket, to: TicketStatus, actor: Principal | None, at: datetime,
                reason: str | None = None) -> TicketEvent:
    before = ticket.status
    ticket.status = to
    return add_event(session, ticket, "status_changed", actor, at=at, before=before, after=to, reason=reason)


def transition(session: Session, *, actor: Principal, ticket: Ticket, to: str, reason: str | None = None) -> Ticket:
    """Move a ticket to status `to`, pausing, resuming or meeting its clocks accordingly.

    Waiting for the customer pauses the business clocks (never the statutory one); resolving meets
    every clock and queues `servicedesk.ticket_resolved` once per resolution.
    """
    target = _choice(TicketStatus, to, "to")
    current = TicketStatus(ticket.status)
    if target == TicketStatus.NEW or target not in TRANSITIONS[current]:
        raise Conflict(f"a {current} ticket cannot become {target}", field="to")
    if target == TicketStatus.PENDING_CUSTOMER and ticket.first_response_at is None:
        # waiting for the customer means the bank asked them something; it must not stop the clock unanswered
        raise Conflict("reply to the customer before waiting for their answer", field="to")
    reason = _text(reason, "reason", MAX_REASON, required=target == TicketStatus.REOPENED) or None
    now = clock.now()
    clocks = sla.clocks_of(session, SUBJECT, ticket.id, lock=True)
    if current == TicketStatus.PENDING_CUSTOMER:
        for item in clocks:
            sla.resume(session, item=item, at=now)
    if target == TicketStatus.PENDING_CUSTOMER:
        for item in clocks:
            sla.pause(session, item=item, at=now)
    elif target == TicketStatus.RESOLVED:
        for item in clocks:
            sla.meet(session, item=item, at=now)
        ticket.resolved_at = now
    elif target == TicketStatus.CLOSED:
        ticket.closed_at = now
    elif target == TicketStatus.REOPENED:
        ticket.resolved_at = ticket.closed_at = None
    changed = _set_status(session, ticket, target, actor, now, reason)
    ticket.updated_at = now
    refresh_due(session, ticket)
    audit_trail.record(session, actor=actor, action="ticket.status_changed", subject=ticket,
                       before={"status": current}, after={"status": target}, reason=reason)
    if target == TicketStatus.RESOLVED:  # once per resolution: a reopened ticket resolved again counts anew
        session.flush()
        jobs.enqueue(session, "servicedesk.ticket_resolved", dedupe_key=f"ticket-resolved-{changed.id}",
                     ticket_id=ticket.id, kind=ticket.kind, resolution_event_id=changed.id)
    return ticket


# -- assignment and priority -----------------------------------------------------------------------


def assign(session: Session, *, actor: Principal, ticket: Ticket, assignee_id: int | None,
           reason: str | None = None) -> Ticket:
    """Hand a ticket to a qualified colleague (or take an unassigned one).

    Supervisors may reassign any ticket; anyone may take an unassigned ticket of a kind they work
    or hand over their own. The hand-over is explicit and audited (首问负责制).
    """
    own = ticket.assignee_id is not None and ticket.assignee_id == actor.account_id
    taking = ticket.assignee_id is None and assignee_id == actor.account_id
    if not (actor.can(Permission.TICKET_ASSIGN) or own or taking):
        raise Forbidden("only a supervisor may reassign a colleague's ticket", field="assignee_id")
    reason = _text(reason, "reason", MAX_REASON, required=not taking) or None
    if assignee_id is not None:
        account = session.get(StaffAccount, assignee_id)
        if account is None or not account.active:
            raise Invalid("no such active staff member", field="assignee_id")
        if not may_work(principal_of(account), ticket.kind):
            raise Invalid("this staff member is not qualified for this kind of ticket", field="assignee_id")
    if assignee_id == ticket.assignee_id:
        return ticket
    before = ticket.assignee_id
    ticket.assignee_id = assignee_id
    now = clock.now()
    if ticket.status == TicketStatus.NEW and assignee_id is not None:
        _set_status(session, ticket, TicketStatus.OPEN, actor, now)
    ticket.updated_at = now
    add_event(session, ticket, "assigned", actor, at=now, before=before, after=assignee_id, reason=reason)
    audit_trail.record(session, actor=actor, action="ticket.assigned", subject=ticket,
                       before={"assignee_id": before}, after={"assignee_id": assignee_id}, reason=reason)
    return ticket


def raise_priority(session: Session, *, actor: Principal, ticket: Ticket, reason: str) -> bool:
    """One step up (low → normal → high → urgent); False when already urgent."""
    index = PRIORITY_ORDER.index(Priority(ticket.priority))
    if index == len(PRIORITY_ORDER) - 1:
        return False
    before, ticket.priority = ticket.priority, PRIORITY_ORDER[index + 1]
    add_event(session, ticket, "priority_raised", actor, before=before, after=ticket.priority, reason=reason)
    audit_trail.record(session, actor=actor, action="ticket.priority_raised", subject=ticket,
                       before={"priority": before}, after={"priority": ticket.priority}, reason=reason)
    return True


# -- the statutory deadline ------------------------------------------------------------------------


def extend_deadline(session: Session, *, actor: Principal, ticket: Ticket, reason: str) -> Clock:
    """Extend a complaint's statutory deadline (15 → 30 → 60 days); the actor must be able to approve."""
    if ticket.kind != TicketKind.COMPLAINT:
        raise Invalid("only complaints have a statutory deadline", field="ticket_id")
    clocks = sla.clocks_of(session, SUBJECT, ticket.id, lock=True)
    statutory = next((c for c in clocks if c.target == Target.STATUTORY), None)
    if statutory is None:
        raise Conflict("this complaint has no statutory clock", field="ticket_id")
    approver = actor if actor.can(Permission.EXTENSION_APPROVE) else None
    item = sla.extend_statutory(session, item=statutory, actor=actor, approver=approver, reason=reason)
    add_event(session, ticket, "deadline_extended", actor, days=item.budget_seconds // 86400,
           due_at=item.due_at.isoformat(), reason=reason.strip())
    ticket.updated_at = clock.now()
    refresh_due(session, ticket)
    return item


# -- reading ---------------------------------------------------------------------------------------


def list_tickets(session: Session, *, actor: Principal, kind: str | None = None, status: str | None = None,
                 breached: bool | None = None, assignee_id: int | None = None, unassigned: bool = False,
                 customer_id: int | None = None, before_id: int | None = None, limit: int = 50) -> Sequence[Ticket]:
    """Newest first, filtered; page with `before_id`."""
    if not actor.can(Permission.TICKET_READ):
        return []
    query = select(Ticket).order_by(Ticket.id.desc()).limit(min(max(limit, 1), 200))
    if kind is not None:
        query = query.where(Ticket.kind == _choice(TicketKind, kind, "kind"))
    if status is not None:
        query = query.where(Ticket.status == _choice(TicketStatus, status, "status"))
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


def list_events(session: Session, ticket_id: int) -> Sequence[TicketEvent]:
    return session.execute(select(TicketEvent).where(TicketEvent.ticket_id == ticket_id)
                           .order_by(TicketEvent.at, TicketEvent.id)).scalars().all()


def clocks_by_ticket(session: Session, ticket_ids: Sequence[int]) -> dict[int, list[Clock]]:
    """The clocks of many tickets at once, earliest due first for each."""
    found: dict[int, list[Clock]] = {}
    if ticket_ids:
        for item in session.execute(select(Clock).where(Clock.subject_type == SUBJECT,
                                                        Clock.subject_id.in_(ticket_ids))
                                    .order_by(Clock.due_at)).scalars():
            found.setdefault(item.subject_id, []).append(item)
    return found


def clocks(session: Session, ticket: Ticket) -> Sequence[Clock]:
    return sla.clocks_of(session, SUBJECT, ticket.id)
