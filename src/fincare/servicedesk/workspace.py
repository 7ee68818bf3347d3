"""What the agent workspace reads: clocks as of now, the merged timeline (events, messages, and the
delivery status of what the outbox sent the customer), masked customers, staff names, the complaint
procedure's forms a page offers, and the supervisor board's reassignment lists.

Read-only: nothing here writes, records an audit entry or changes a clock. The rules stay in
`service` (and `sla`); this module only puts what they stored into the shape a page shows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fincare.platform import clock, outbox
from fincare.platform.accounts.models import StaffAccount
from fincare.platform.accounts.service import principal_of
from fincare.platform.permissions import Permission, Principal
from fincare.servicedesk import service
from fincare.servicedesk.models import (
    ACTIVE_STATUSES,
    ComplaintDecision,
    ComplaintReview,
    DecisionStatus,
    ReviewStatus,
    Ticket,
    TicketKind,
    TicketMessage,
    TicketStatus,
    Visibility,
)
from fincare.servicedesk.service import routing
from fincare.sla import service as sla
from fincare.sla.models import Clock, ClockState, Target
from fincare.workforce.models import Skill

OUTBOUND = "outbound"  # the timeline kind of a message the outbox sends the customer (not a ticket event)

# What a clock shows, as of now: a running clock past its due time reads "breached" before the
# sweep marks it, so the page never shows a missed target as still running.
RUNNING, PAUSED, MET, BREACHED = "running", "paused", "met", "breached"
CLOCK_STATES = (RUNNING, PAUSED, MET, BREACHED)


@dataclass(frozen=True)
class ClockStatus:
    """One SLA clock of a ticket as of `now` (times aware UTC)."""

    target: str
    calendar: str
    started_at: datetime
    due_at: datetime
    state: str  # running | paused | met | breached
    late: bool  # the due time passed before the target was met (or still unmet)
    used: float  # share of the budget counted so far on the clock's calendar; above 1.0 when late
    met_at: datetime | None
    extensions: int


def clock_statuses(session: Session, clocks: Sequence[Clock], *, now: datetime | None = None) -> list[ClockStatus]:
    """A ticket's clocks (earliest due first) with their state and the share of their budget used."""
    now = now or clock.now()
    found = []
    for item in clocks:
        if item.state == ClockState.CANCELLED:  # a linked duplicate: the other ticket's clocks count
            continue
        end = item.met_at or item.paused_at or now
        counted = sla.calendar_of(session, item.calendar).between(item.started_at, end)
        counted -= timedelta(seconds=item.paused_seconds)  # earlier pauses do not count
        used = max(counted.total_seconds(), 0.0) / item.budget_seconds if item.budget_seconds else 1.0
        if item.met_at is not None:
            state, late = MET, item.breached_at is not None or item.met_at > item.due_at
        elif item.state == ClockState.PAUSED:
            late = item.breached_at is not None or (item.paused_at is not None and item.paused_at >= item.due_at)
            state = PAUSED
        else:
            late = item.breached_at is not None or item.due_at <= now
            state = BREACHED if late else RUNNING
        found.append(ClockStatus(item.target, item.calendar, item.started_at, item.due_at, state, late, used,
                                 item.met_at, item.extensions))
    return found


@dataclass(frozen=True)
class TimelineEntry:
    """One line of a ticket's history: an event and, for a reply or a note, its message; or (kind
    `OUTBOUND`) a message queued in the outbox for the customer, with its delivery status as of now."""

    at: datetime
    kind: str  # the event kind: created, status_changed, replied, noted, assigned, …; or OUTBOUND
    actor_id: int | None
    detail: dict[str, Any]
    message: TicketMessage | None = None
    delivery: outbox.Delivery | None = None

    @property
    def internal(self) -> bool:
        return self.message is not None and self.message.visibility == Visibility.INTERNAL


def timeline(session: Session, ticket_id: int) -> list[TimelineEntry]:
    """Events, messages and outbox deliveries merged, oldest first; a reply or note sits on the event
    that recorded it; a delivery sits where it was queued and shows its status now."""
    messages = {m.id: m for m in service.list_messages(session, ticket_id)}
    entries = []
    for event in service.list_events(session, ticket_id):
        message_id = event.detail.get("message_id")
        message = messages.pop(message_id, None) if isinstance(message_id, int) else None
        entries.append(TimelineEntry(event.at, event.kind, event.actor_id, event.detail, message))
    for message in messages.values():  # a message whose event is missing still belongs on the page
        kind = "replied" if message.visibility == Visibility.PUBLIC else "noted"
        entries.append(TimelineEntry(message.created_at, kind, message.author_id, {}, message))
    for delivery in outbox.messages_for(session, "ticket", [ticket_id]).get(ticket_id, []):
        entries.append(TimelineEntry(delivery.created_at, OUTBOUND, None, {}, delivery=delivery))
    entries.sort(key=lambda e: e.at)  # stable: events keep their recorded order at equal times
    return entries


def staff_names(session: Session, account_ids: Iterable[int | None]) -> dict[int, str]:
    """Usernames of the staff accounts named on a page (authors, assignees)."""
    wanted = sorted({i for i in account_ids if i is not None})
    if not wanted:
        return {}
    rows = session.execute(select(StaffAccount.id, StaffAccount.username).where(StaffAccount.id.in_(wanted)))
    return {r.id: r.username for r in rows}


def colleagues(session: Session, kind: str) -> Sequence[tuple[int, str]]:
    """Active staff qualified to work tickets of `kind`, by username (the supervisor's assign list)."""
    accounts = session.execute(select(StaffAccount).where(StaffAccount.active).order_by(StaffAccount.username))
    return [(a.id, a.username) for a in accounts.scalars() if service.may_work(principal_of(a), kind)]


def reassign_choices(session: Session, tickets: Iterable[Ticket]) -> dict[int, list[tuple[int, str]]]:
    """For each ticket, the colleagues routing deems qualified for it (its kind's queue, its product
    skill, none the complaint names), by username, its current owner left out."""
    tickets = list(tickets)
    pool = routing.queues(session, {TicketKind(t.kind) for t in tickets})
    named = routing.named_of(session, [t.id for t in tickets])
    qualified = {t.id: [a for a in pool.qualified(TicketKind(t.kind), Skill(t.product) if t.product else None,
                                                   named.get(t.id, routing.Named())) if a != t.assignee_id]
                 for t in tickets}
    names = staff_names(session, (a for ids in qualified.values() for a in ids))
    return {t: sorted(((a, names[a]) for a in ids if a in names), key=lambda c: c[1]) for t, ids in qualified.items()}


@dataclass(frozen=True)
class ComplaintForms:
    """The complaint-procedure forms a ticket page shows the actor; the services enforce the same rules."""

    decide: bool  # record the decision and its reply
    approve: ComplaintDecision | None  # the waiting decision this actor may release or send back
    request_extension: bool  # ask a supervisor for more time (for handlers who cannot extend)
    extension_waiting: bool  # a request is already waiting
    link_duplicate: bool
    request_review: bool
    conclude: ComplaintReview | None  # the open review this actor may conclude


def complaint_forms(actor: Principal, ticket: Ticket, *, works: bool, answers: bool, recused: bool,
                    decisions: Sequence[ComplaintDecision], reviews: Sequence[ComplaintReview],
                    clocks: Sequence[ClockStatus], waiting: bool) -> ComplaintForms:
    """`works` and `answers` as in `service.Offered`; `waiting`: an extension request of this ticket
    is waiting for a supervisor; `recused`: the
    complaint names the actor or their unit, who gets no form of its procedure (回避) — `works` is
    False for them already, `recused` also takes away approving and concluding."""
    complaint = ticket.kind == TicketKind.COMPLAINT and ticket.duplicate_of_id is None
    active = complaint and ticket.status in ACTIVE_STATUSES
    pending = next((d for d in decisions if d.status == DecisionStatus.PENDING_APPROVAL), None)
    open_review = next((r for r in reviews if r.status == ReviewStatus.OPEN), None)
    statutory_extendable = any(c.target == Target.STATUTORY and c.state == RUNNING
                               and not sla.at_maximum(c.extensions) for c in clocks)
    return ComplaintForms(
        decide=answers and active and pending is None,
        approve=pending if pending is not None and not recused and service.may_approve(actor, pending) else None,
        request_extension=works and active and statutory_extendable and not waiting
        and not actor.can(Permission.EXTENSION_APPROVE),
        extension_waiting=active and waiting,
        link_duplicate=answers and active and ticket.possible_duplicate_of_id is not None,
        request_review=works and complaint and ticket.status in (TicketStatus.RESOLVED, TicketStatus.CLOSED)
        and ticket.decision_id is not None and open_review is None,
        conclude=open_review if open_review is not None and not recused and actor.can(Permission.COMPLAINT_REVIEW)
        and open_review.reviewer_id in (None, actor.account_id) else None,
    )
