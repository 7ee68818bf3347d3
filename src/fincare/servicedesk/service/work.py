"""Working a ticket: access, replies and notes, status, assignment and priority, the statutory deadline.

Every write records a TicketEvent and an audit entry in the caller's transaction and keeps the
ticket's clocks (`sla`) in step with its status.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from fincare.platform import audit_trail, clock, jobs
from fincare.platform.accounts.models import StaffAccount
from fincare.platform.accounts.service import principal_of
from fincare.platform.errors import Conflict, Forbidden, Invalid, Label, Message, NotFound, one_of
from fincare.platform.permissions import Permission, Principal
from fincare.servicedesk.models import (
    ACTIVE_STATUSES,
    PRIORITY_ORDER,
    Priority,
    Ticket,
    TicketEvent,
    TicketKind,
    TicketMessage,
    TicketStatus,
    Visibility,
)
from fincare.servicedesk.service import routing
from fincare.servicedesk.service.coding import is_coded
from fincare.servicedesk.service.deadline import may_extend
from fincare.servicedesk.service.rules import (
    MAX_BODY,
    MAX_REASON,
    SUBJECT,
    add_event,
    clean_prose,
    may_answer,
    may_work,
    record_assignment,
    refresh_due,
    refuse_unless_answering,
)
from fincare.sla import service as sla
from fincare.sla.models import Clock, Target

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


# -- access ----------------------------------------------------------------------------------------


def access_ticket(session: Session, ticket_id: int, actor: Principal, *, for_write: bool = False) -> Ticket:
    """Load a ticket for `actor`: readable by desk roles; writable by those who may work its kind,
    except a complaint by the staff member or unit it names (回避).

    A ticket the actor may not see is "not found". `for_write` locks the row for this transaction.
    """
    if not actor.can(Permission.TICKET_READ):
        raise NotFound("no such ticket", field="ticket_id")
    ticket = session.get(Ticket, ticket_id, with_for_update=for_write)
    if ticket is None:
        raise NotFound("no such ticket", field="ticket_id")
    if for_write:
        if not may_work(actor, ticket.kind):
            raise Forbidden("your role may not work on this kind of ticket", field="ticket_id")
        routing.refuse_if_recused(session, ticket, actor, field="ticket_id")
    return ticket


# -- replies and notes -----------------------------------------------------------------------------


def add_message(session: Session, *, actor: Principal, ticket: Ticket, body: str,
                visibility: Visibility) -> TicketMessage:
    """A reply to the customer, or an internal note.

    The first public reply meets the first-response and feedback clocks and opens a new ticket. A
    public reply is delivered to the customer after the transaction commits (`REPLY_PUBLISHED`).
    """
    body = clean_prose(body, "body", MAX_BODY)
    if ticket.status == TicketStatus.CLOSED:
        raise Conflict("the ticket is closed; reopen it first", field="ticket_id")
    now = clock.now()
    message = TicketMessage(ticket_id=ticket.id, visibility=visibility, body=body, author_id=actor.account_id,
                            created_at=now)
    session.add(message)
    session.flush()
    public = visibility == Visibility.PUBLIC
    add_event(session, ticket, "replied" if public else "noted", actor, at=now, message_id=message.id)
    if public:  # a note changes no clock and no status
        if ticket.first_response_at is None:
            ticket.first_response_at = now
        clocks = sla.clocks_of(session, SUBJECT, ticket.id, lock=True)
        for item in clocks:
            if item.target in REPLY_TARGETS:
                sla.meet(session, item=item, at=now)
        if ticket.status in (TicketStatus.NEW, TicketStatus.REOPENED):
            _set_status(session, ticket, TicketStatus.OPEN, actor, now)
        refresh_due(ticket, clocks)
    ticket.updated_at = now
    audit_trail.record(session, actor=actor, action="ticket.replied" if public else "ticket.noted", subject=ticket,
                       after={"message_id": message.id, "visibility": visibility, "length": len(body)})
    if public:
        jobs.enqueue(session, REPLY_PUBLISHED, dedupe_key=f"ticket-reply-{message.id}", ticket_id=ticket.id,
                     message_id=message.id)
    return message


REPLY_PUBLISHED = "servicedesk.reply_published"  # a public reply, to be delivered to the customer


def reply(session: Session, *, actor: Principal, ticket: Ticket, body: str, visibility: Visibility) -> TicketMessage:
    """An agent's reply or note (`add_message`): a reply only from whoever may answer for the ticket
    (`may_answer`), who takes it if nobody owns it; a colleague adds notes. The procedures that
    answer on their own authority (a decision sent, a review overturned, a follow-up call) call
    `add_message` and `transition`."""
    public = visibility == Visibility.PUBLIC
    if public:
        refuse_unless_answering(actor, ticket, field="visibility")
    message = add_message(session, actor=actor, ticket=ticket, body=body, visibility=visibility)
    if public:
        take_if_unowned(session, actor, ticket)
    return message


def change_status(session: Session, *, actor: Principal, ticket: Ticket, to: str, reason: str | None = None) -> Ticket:
    """An agent's status change (`transition`), only from whoever may answer for the ticket, who
    takes it if nobody owns it and it is still active."""
    refuse_unless_answering(actor, ticket, field="to")
    transition(session, actor=actor, ticket=ticket, to=to, reason=reason)
    take_if_unowned(session, actor, ticket)
    return ticket


def take_if_unowned(session: Session, actor: Principal, ticket: Ticket) -> None:
    """After an agent answered for an unowned active ticket: it becomes theirs (首问负责制), so routing
    does not hand it to someone who never spoke to the customer. Supervisors, who are not given
    tickets by routing, answer without taking."""
    if actor.account_id is not None and not actor.can(Permission.TICKET_ASSIGN) and may_take(actor, ticket):
        record_assignment(session, ticket, actor, actor.account_id, "answered the customer")


def list_messages(session: Session, ticket_id: int) -> Sequence[TicketMessage]:
    return session.execute(select(TicketMessage).where(TicketMessage.ticket_id == ticket_id)
                           .order_by(TicketMessage.id)).scalars().all()


# -- status ----------------------------------------------------------------------------------------


def _set_status(session: Session, ticket: Ticket, to: TicketStatus, actor: Principal | None, at: datetime,
                reason: str | None = None) -> TicketEvent:
    before = ticket.status
    ticket.status = to
    return add_event(session, ticket, "status_changed", actor, at=at, before=before, after=to, reason=reason)


def next_statuses(ticket: Ticket) -> frozenset[TicketStatus]:
    """Where the ticket may go now: waiting for the customer only once they were answered; a complaint
    is resolved only by sending its decision (`resolution.decide`), never by a plain status change."""
    allowed = TRANSITIONS[TicketStatus(ticket.status)]
    if ticket.first_response_at is None:
        allowed -= {TicketStatus.PENDING_CUSTOMER}
    if ticket.kind == TicketKind.COMPLAINT and ticket.decision_id is None:
        allowed -= {TicketStatus.RESOLVED}
    return allowed


def transition(session: Session, *, actor: Principal, ticket: Ticket, to: str, reason: str | None = None) -> Ticket:
    """Move a ticket to status `to`, pausing, resuming or meeting its clocks accordingly.

    Waiting for the customer pauses the business clocks (never the statutory one); resolving meets
    every clock and queues `servicedesk.ticket_resolved` once per resolution.
    """
    target = one_of(TicketStatus, to, "to")
    current = TicketStatus(ticket.status)
    if target == TicketStatus.NEW or target not in TRANSITIONS[current]:
        raise Conflict(Message("a ticket that is {current} cannot become {target}",
                               current=Label("ticket_status", current), target=Label("ticket_status", target)),
                       field="to")
    if ticket.duplicate_of_id is not None:
        raise Conflict("this complaint is handled as part of the one it is linked to", field="ticket_id")
    if target == TicketStatus.RESOLVED and ticket.kind == TicketKind.COMPLAINT and ticket.decision_id is None:
        raise Conflict("send the complaint's decision and reply to resolve it", field="decision")
    if target == TicketStatus.CLOSED and ticket.kind == TicketKind.COMPLAINT and not is_coded(ticket):
        raise Conflict("code the complaint (channel, business type and cause, JR/T 0169-2018) before closing it",
                       field="codes")
    if target == TicketStatus.PENDING_CUSTOMER and ticket.first_response_at is None:
        # waiting for the customer means the bank asked them something; it must not stop the clock unanswered
        raise Conflict("reply to the customer before waiting for their answer", field="to")
    reason = clean_prose(reason, "reason", MAX_REASON, required=target == TicketStatus.REOPENED) or None
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
        ticket.decision_id = None  # a reopened complaint is decided anew
    changed = _set_status(session, ticket, target, actor, now, reason)
    ticket.updated_at = now
    refresh_due(ticket, clocks)
    audit_trail.record(session, actor=actor, action="ticket.status_changed", subject=ticket,
                       before={"status": current}, after={"status": target}, reason=reason)
    if target == TicketStatus.RESOLVED:  # once per resolution: a reopened ticket resolved again counts anew
        session.flush()
        jobs.enqueue(session, "servicedesk.ticket_resolved", dedupe_key=f"ticket-resolved-{changed.id}",
                     ticket_id=ticket.id, kind=ticket.kind, resolution_event_id=changed.id)
    return ticket


# -- assignment and priority -----------------------------------------------------------------------


def may_take(actor: Principal, ticket: Ticket) -> bool:
    """An active ticket nobody owns, of a kind the actor works."""
    return may_work(actor, ticket.kind) and ticket.assignee_id is None and ticket.status in ACTIVE_STATUSES


def may_hand_over(actor: Principal, ticket: Ticket) -> bool:
    """One's own active ticket, or (supervisors) anyone's."""
    own = ticket.assignee_id is not None and ticket.assignee_id == actor.account_id
    return (may_work(actor, ticket.kind) and ticket.status in ACTIVE_STATUSES
            and (own or actor.can(Permission.TICKET_ASSIGN)))


def assign(session: Session, *, actor: Principal, ticket: Ticket, assignee_id: int | None,
           reason: str | None = None) -> Ticket:
    """Hand a ticket to a qualified colleague (or take an unassigned one).

    Supervisors may reassign any ticket; anyone may take an unassigned ticket of a kind they work
    or hand over their own. The hand-over is explicit and audited (首问负责制).
    """
    if ticket.status not in ACTIVE_STATUSES:
        raise Conflict("a resolved or closed ticket is not handed over", field="assignee_id")
    taking = assignee_id is not None and assignee_id == actor.account_id and may_take(actor, ticket)
    if not (taking or may_hand_over(actor, ticket)):
        raise Forbidden("only a supervisor may reassign a colleague's ticket", field="assignee_id")
    reason = clean_prose(reason, "reason", MAX_REASON, required=not taking) or None
    if assignee_id is not None:
        account = session.get(StaffAccount, assignee_id)
        if account is None or not account.active:
            raise Invalid("no such active staff member", field="assignee_id")
        if not may_work(principal_of(account), ticket.kind):
            raise Invalid("this staff member is not qualified for this kind of ticket", field="assignee_id")
        if routing.is_recused(session, ticket.id, account):
            raise Invalid("the complaint names this staff member or their unit (回避)", field="assignee_id")
    if assignee_id == ticket.assignee_id:
        return ticket
    record_assignment(session, ticket, actor, assignee_id, reason)
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


# -- what a page offers ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Offered:
    """What the actor may do to a ticket now: the console shows exactly these; the writes enforce them."""

    work: bool
    answer: bool  # reply to the customer, change the status (`may_answer`); a colleague only adds notes
    take: bool
    hand_over: bool
    extend: bool
    code: bool
    statuses: frozenset[TicketStatus]
    recused: bool  # the complaint names the actor or their unit: nothing above is offered (回避)


def offered(session: Session, actor: Principal, ticket: Ticket, clocks: Sequence[Clock]) -> Offered:
    if routing.recused(session, ticket, actor):
        return Offered(work=False, answer=False, take=False, hand_over=False, extend=False, code=False,
                       statuses=frozenset(), recused=True)
    works = may_work(actor, ticket.kind)
    answers = works and may_answer(actor, ticket)
    return Offered(work=works, answer=answers, take=may_take(actor, ticket),
                   hand_over=may_hand_over(actor, ticket), extend=may_extend(actor, clocks),
                   code=works and ticket.kind == TicketKind.COMPLAINT,
                   statuses=next_statuses(ticket) if answers else frozenset(), recused=False)
