"""Follow-up tasks: created once per source, routed by load, worked call by call until an outcome."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fincare.customers import service as customers
from fincare.customers.identity import redact_identifiers
from fincare.customers.models import CustomerStatus
from fincare.followups.models import (
    FollowUp,
    FollowUpAttempt,
    FollowUpKind,
    FollowUpStatus,
    NextStep,
    Result,
)
from fincare.platform import audit_trail, clock, jobs, notify
from fincare.platform.accounts.models import StaffAccount
from fincare.platform.config import get_settings
from fincare.platform.errors import Conflict, Forbidden, Invalid, Message, NotFound, one_of
from fincare.platform.permissions import SYSTEM, Permission, Principal, Role
from fincare.servicedesk import service as desk
from fincare.servicedesk.models import Ticket, TicketKind, TicketStatus
from fincare.sla import service as sla
from fincare.workforce import service as workforce

SUBJECT = "follow_up"  # the subject type of a follow-up's clock
POLICY_KIND = "followup"
UNREACHABLE_DAYS = 3  # unreachable on this many different days closes the follow-up
MAX_NOTE = 1000
ROUTE_BATCH = 200


def _local_day(moment: datetime) -> date:
    return moment.astimezone(ZoneInfo(get_settings().timezone)).date()


def open_follow_up(session: Session, *, kind: FollowUpKind, source_key: str, customer_id: int,
                   ticket_id: int | None = None, rule_id: int | None = None,
                   assignee_id: int | None = None) -> FollowUp | None:
    """Create the follow-up of `source_key` unless it exists (a redelivered event does no harm).

    Customers whose data may no longer be processed (erased, restricted) get none. Without an
    `assignee_id` it is routed to a follow-up agent. Returns the new follow-up, or None when there
    is nothing to create.
    """
    if session.execute(select(FollowUp.id).where(FollowUp.source_key == source_key)).first() is not None:
        return None
    summary = customers.summaries(session, [customer_id]).get(customer_id)
    if summary is None or summary.status != CustomerStatus.ACTIVE:
        return None
    now = clock.now()
    try:
        with session.begin_nested():  # two workers on one event: the unique key decides, quietly
            follow_up = FollowUp(kind=kind, source_key=source_key, customer_id=customer_id, ticket_id=ticket_id,
                                 rule_id=rule_id, assignee_id=assignee_id, status=FollowUpStatus.OPEN, attempts=0,
                                 due_at=now, created_at=now)
            session.add(follow_up)
            session.flush()
    except IntegrityError:
        return None
    clocks = sla.start_clocks(session, subject_type=SUBJECT, subject_id=follow_up.id, kind=POLICY_KIND,
                              received_at=now, new_subject=True)
    follow_up.due_at = min((c.due_at for c in clocks), default=now)
    audit_trail.record(session, actor=SYSTEM, action="follow_up.opened", subject=follow_up,
                       after={"kind": kind, "source_key": source_key, "ticket_id": ticket_id})
    route(session, follow_up)
    return follow_up


def for_resolution(session: Session, *, ticket_id: int, resolution_event_id: int) -> FollowUp | None:
    """The follow-up a resolved complaint is owed (once per resolution; none for a linked duplicate)."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is None or ticket.kind != TicketKind.COMPLAINT or ticket.duplicate_of_id is not None:
        return None
    return open_follow_up(session, kind=FollowUpKind.COMPLAINT, source_key=f"ticket-resolved-{resolution_event_id}",
                          customer_id=ticket.customer_id, ticket_id=ticket.id)


# -- routing ---------------------------------------------------------------------------------------


def open_loads(session: Session, account_ids: Collection[int]) -> dict[int, int]:
    if not account_ids:
        return {}
    rows = session.execute(select(FollowUp.assignee_id, func.count()).where(
        FollowUp.assignee_id.in_(account_ids), FollowUp.status == FollowUpStatus.OPEN).group_by(FollowUp.assignee_id))
    return {a: n for a, n in rows if a is not None}


def callers(session: Session) -> dict[int, int]:
    """The follow-up agents on duty now, with their open follow-ups: who `route` may pick."""
    on_duty = workforce.on_duty(session, notify.staff_with_role(session, Role.FOLLOWUP_AGENT))
    loads = open_loads(session, on_duty)
    return {a: loads.get(a, 0) for a in on_duty}


def _not_named(session: Session, follow_up: FollowUp, agents: Collection[int]) -> list[int]:
    """`agents` less those the followed-up complaint names, themselves or by their unit."""
    named = desk.named_in(session, follow_up.ticket_id) if follow_up.ticket_id else None
    if named is None or not (named.staff_ids or named.department_ids):
        return list(agents)
    units = {row.id: row.department_id for row in session.execute(
        select(StaffAccount.id, StaffAccount.department_id).where(StaffAccount.id.in_(list(agents))))}
    return [a for a in agents if not named.excludes(a, units.get(a))]


def route(session: Session, follow_up: FollowUp, *, on_duty: dict[int, int] | None = None) -> int | None:
    """Give an unowned open follow-up to the follow-up agent on duty with the fewest open ones —
    never to one the complaint it follows names, or one of a unit it names (回避).

    `on_duty` (from `callers`) is read once by a batch; each pick counts against the one picked.
    """
    if follow_up.assignee_id is not None or follow_up.status != FollowUpStatus.OPEN:
        return follow_up.assignee_id
    on_duty = callers(session) if on_duty is None else on_duty
    candidates = _not_named(session, follow_up, on_duty)
    if not candidates:
        return None
    follow_up.assignee_id = chosen = workforce.least_loaded(candidates, on_duty)
    on_duty[chosen] += 1
    audit_trail.record(session, actor=SYSTEM, action="follow_up.assigned", subject=follow_up,
                       before={"assignee_id": None}, after={"assignee_id": chosen})
    return chosen


def route_waiting(session: Session, *, limit: int = ROUTE_BATCH) -> list[int]:
    """Route unowned open follow-ups, earliest due first (rows another worker holds are skipped)."""
    waiting = session.execute(select(FollowUp).where(FollowUp.assignee_id.is_(None),
                                                     FollowUp.status == FollowUpStatus.OPEN)
                              .order_by(FollowUp.due_at, FollowUp.id).limit(limit)
                              .with_for_update(skip_locked=True)).scalars().all()
    on_duty = callers(session) if waiting else {}
    return [f.id for f in waiting if route(session, f, on_duty=on_duty) is not None]


# -- reading ---------------------------------------------------------------------------------------


def access(session: Session, follow_up_id: int, actor: Principal, *, for_write: bool = False) -> FollowUp:
    """A follow-up for those who work them (others: not found)."""
    if not actor.can(Permission.FOLLOWUP_WORK):
        raise NotFound("no such follow-up", field="follow_up_id")
    follow_up = session.get(FollowUp, follow_up_id, with_for_update=for_write)
    if follow_up is None:
        raise NotFound("no such follow-up", field="follow_up_id")
    return follow_up


def list_follow_ups(session: Session, *, actor: Principal, status: str | None = "open",
                    due_before: datetime | None = None, assignee_id: int | None = None,
                    unassigned: bool = False, limit: int = 50) -> Sequence[FollowUp]:
    """Earliest due first; `unassigned` only those nobody owns yet."""
    if not actor.can(Permission.FOLLOWUP_WORK):
        return []
    query = select(FollowUp).order_by(FollowUp.due_at, FollowUp.id).limit(min(max(limit, 1), 200))
    if status is not None:
        query = query.where(FollowUp.status == one_of(FollowUpStatus, status, "status"))
    if due_before is not None:
        query = query.where(FollowUp.due_at < due_before)
    if unassigned:
        query = query.where(FollowUp.assignee_id.is_(None))
    elif assignee_id is not None:
        query = query.where(FollowUp.assignee_id == assignee_id)
    return session.execute(query).scalars().all()


def attempts_of(session: Session, follow_up_id: int) -> Sequence[FollowUpAttempt]:
    return session.execute(select(FollowUpAttempt).where(FollowUpAttempt.follow_up_id == follow_up_id)
                           .order_by(FollowUpAttempt.at, FollowUpAttempt.id)).scalars().all()


# -- outcomes --------------------------------------------------------------------------------------


def _clean(value: str | None, field: str, *, required: bool) -> str | None:
    cleaned = (value or "").strip()
    if required and not cleaned:
        raise Invalid("required", field=field)
    if len(cleaned) > MAX_NOTE:
        raise Invalid(Message("at most {limit} characters", limit=MAX_NOTE), field=field)
    return redact_identifiers(cleaned) or None


def record_attempt(session: Session, *, actor: Principal, follow_up: FollowUp, result: str, note: str | None = None,
                   reason: str | None = None, next_step: str | None = None) -> FollowUpAttempt:
    """Record one call. Reached (satisfied or not) and refused close the follow-up; unreachable
    closes it on the third different day. A dissatisfied complainant's reason is required, with
    what they were offered: reopening the complaint, a review (核查), or nothing further.
    """
    if follow_up.status != FollowUpStatus.OPEN:
        raise Conflict("this follow-up is already closed", field="follow_up_id")
    if follow_up.assignee_id not in (None, actor.account_id) and not actor.can(Permission.TICKET_ASSIGN):
        raise Forbidden("this follow-up is a colleague's", field="follow_up_id")
    chosen = one_of(Result, result, "result")
    note = _clean(note, "note", required=False)
    step = NextStep.NONE
    if chosen == Result.REACHED_DISSATISFIED:
        reason = _clean(reason, "reason", required=True)
        step = one_of(NextStep, next_step, "next_step") if next_step else NextStep.NONE
        if step != NextStep.NONE and follow_up.ticket_id is None:
            raise Invalid("only a complaint's follow-up reopens or reviews it", field="next_step")
    elif reason or next_step:
        raise Invalid("only a dissatisfied customer's follow-up records a reason and a next step",
                      field="reason" if reason else "next_step")
    now = clock.now()
    today = _local_day(now)
    tried_on = {a.local_day for a in attempts_of(session, follow_up.id) if a.result == Result.UNREACHABLE}
    if chosen == Result.UNREACHABLE and today in tried_on:
        raise Conflict("already unreachable today; try again on another day", field="result")
    attempt = FollowUpAttempt(follow_up_id=follow_up.id, at=now, local_day=today, actor_id=actor.account_id,
                              result=chosen, note=note)
    session.add(attempt)
    follow_up.attempts += 1
    if follow_up.assignee_id is None:
        follow_up.assignee_id = actor.account_id
    closes = chosen != Result.UNREACHABLE or len(tried_on | {today}) >= UNREACHABLE_DAYS
    if closes:
        follow_up.status, follow_up.outcome, follow_up.closed_at = FollowUpStatus.CLOSED, chosen, now
        for item in sla.clocks_of(session, SUBJECT, follow_up.id, lock=True):
            sla.meet(session, item=item, at=now)
    if closes and chosen in (Result.REACHED_SATISFIED, Result.REACHED_DISSATISFIED):
        # the survey after a call is sent by the worker, after this transaction commits
        jobs.enqueue(session, "followups.follow_up_reached", dedupe_key=f"follow-up-reached-{follow_up.id}",
                     follow_up_id=follow_up.id)
    if chosen == Result.REACHED_DISSATISFIED:
        follow_up.dissatisfaction_reason, follow_up.next_step = reason, step
        _offer(session, actor=actor, follow_up=follow_up, step=step, reason=reason or "")
    audit_trail.record(session, actor=actor, action="follow_up.attempted", subject=follow_up,
                       after={"result": chosen, "attempts": follow_up.attempts, "closed": closes,
                              "next_step": step if chosen == Result.REACHED_DISSATISFIED else None})
    session.flush()
    return attempt


def _offer(session: Session, *, actor: Principal, follow_up: FollowUp, step: NextStep, reason: str) -> None:
    """Reopen the complaint or ask for its review, as the dissatisfied complainant chose."""
    if step == NextStep.NONE or follow_up.ticket_id is None:
        return
    ticket = session.get(Ticket, follow_up.ticket_id, with_for_update=True)
    if ticket is None:
        raise NotFound("no such ticket", field="next_step")
    if step == NextStep.REOPEN:
        if ticket.status not in (TicketStatus.RESOLVED, TicketStatus.CLOSED):
            raise Conflict("the complaint is not resolved; it cannot be reopened", field="next_step")
        desk.transition(session, actor=actor, ticket=ticket, to=TicketStatus.REOPENED,
                        reason=f"follow-up {follow_up.id}: {reason}")
    else:
        desk.request_review(session, actor=actor, ticket=ticket, reason=f"follow-up {follow_up.id}: {reason}")
