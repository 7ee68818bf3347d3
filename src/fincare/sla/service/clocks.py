"""Clocks: start, pause, resume, meet; the statutory deadline and its extensions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from fincare.platform import audit_trail, clock, jobs
from fincare.platform.db import new_row
from fincare.platform.errors import Conflict, Forbidden, Invalid, Message
from fincare.platform.permissions import Permission, Principal
from fincare.sla.models import CalendarKind, Clock, ClockEvent, ClockState, Target
from fincare.sla.service.policies import calendar_of, select_policies

WARN_AT = 0.8  # a warning when 80 % of the budget is used
STATUTORY_DAYS = 15
STATUTORY_EXTENSIONS = (30, 60)  # total days after the first and the second extension


def at_maximum(extensions: int) -> bool:
    """Whether a statutory deadline extended `extensions` times may be extended no further (60 days)."""
    return extensions >= len(STATUTORY_EXTENSIONS)


def refuse_at_maximum(item: Clock, *, field: str) -> None:
    """Conflict, naming `field`, when the statutory clock `item` is at its maximum."""
    if at_maximum(item.extensions):
        raise Conflict(Message("the statutory deadline is already at its maximum of {days} days",
                               days=STATUTORY_EXTENSIONS[-1]), field=field)


def _event(session: Session, item: Clock, kind: str, at: datetime, actor: Principal | None = None,
           **detail: object) -> None:
    session.add(ClockEvent(clock_id=item.id, kind=kind, at=at, detail=dict(detail),
                           actor_id=actor.account_id if actor else None))


def _schedule(session: Session, item: Clock) -> None:
    """Recompute the due and warning times from the start, the budget and the time spent paused."""
    calendar = calendar_of(session, item.calendar)
    budget = timedelta(seconds=item.budget_seconds + item.paused_seconds)
    item.due_at = calendar.add(item.started_at, budget)
    item.warn_at = calendar.add(item.started_at, timedelta(seconds=item.budget_seconds * WARN_AT + item.paused_seconds))


@dataclass(frozen=True)
class ClockSpec:
    """A clock to start: its target, calendar, budget and the policy version it comes from."""

    target: str
    calendar: str
    budget: timedelta
    policy_id: int | None = None


def start_clock(session: Session, *, subject_type: str, subject_id: int, target: str, calendar: str,
                budget: timedelta, started_at: datetime, policy_id: int | None = None) -> Clock:
    """Start one clock (a second start for the same subject and target returns the first)."""
    existing = session.execute(select(Clock).where(Clock.subject_type == subject_type, Clock.subject_id == subject_id,
                                                   Clock.target == target)).scalar_one_or_none()
    if existing is not None:
        return existing
    return _start(session, subject_type, subject_id, [ClockSpec(target, calendar, budget, policy_id)], started_at)[0]


def _start(session: Session, subject_type: str, subject_id: int, specs: Sequence[ClockSpec],
           started_at: datetime) -> list[Clock]:
    """Insert the clocks in one batch, then their "started" events (written with the next flush)."""
    clocks = [_new_clock(session, subject_type, subject_id, spec, started_at) for spec in specs]
    session.add_all(clocks)
    session.flush()
    session.add_all(_started_event(item) for item in clocks)
    return clocks


def new_clocks(session: Session, *, subject_type: str, subject_id: int, specs: Sequence[ClockSpec],
               started_at: datetime, ids: Sequence[int]) -> tuple[list[Clock], list[ClockEvent]]:
    """The clocks of a subject created in this transaction, with their "started" events, not yet added:
    the caller writes them with its own rows (`db.insert_new`). `ids` are allocated for the clocks."""
    clocks = [_new_clock(session, subject_type, subject_id, spec, started_at) for spec in specs]
    for item, clock_id in zip(clocks, ids, strict=True):
        item.id = clock_id
    return clocks, [_started_event(item) for item in clocks]


def _new_clock(session: Session, subject_type: str, subject_id: int, spec: ClockSpec, started_at: datetime) -> Clock:
    item = new_row(Clock, subject_type=subject_type, subject_id=subject_id, target=spec.target,
                   calendar=spec.calendar, policy_id=spec.policy_id, budget_seconds=int(spec.budget.total_seconds()),
                   paused_seconds=0, started_at=started_at, due_at=started_at, warn_at=started_at,
                   state=ClockState.RUNNING, extensions=0)
    _schedule(session, item)
    return item


def _started_event(item: Clock) -> ClockEvent:
    return new_row(ClockEvent, clock_id=item.id, kind="started", at=item.started_at,
                   detail={"due_at": item.due_at.isoformat()}, actor_id=None)


def clock_specs(session: Session, *, kind: str, priority: str | None = None, risk_grade: str | None = None,
                channel: str | None = None) -> list[ClockSpec]:
    """The clocks a new ticket gets: one per policy target, plus the statutory clock for complaints."""
    specs = [ClockSpec(p.target, p.calendar, timedelta(minutes=p.minutes), p.id)
             for p in select_policies(session, kind=kind, priority=priority, risk_grade=risk_grade, channel=channel)]
    if kind == "complaint":
        specs.append(ClockSpec(Target.STATUTORY, CalendarKind.ALWAYS, timedelta(days=STATUTORY_DAYS)))
    return specs


def start_clocks(session: Session, *, subject_type: str, subject_id: int, kind: str, received_at: datetime,
                 priority: str | None = None, risk_grade: str | None = None, channel: str | None = None,
                 new_subject: bool = False) -> list[Clock]:
    """Start the clocks a subject of `kind` gets (see `clock_specs`); idempotent per subject and target.

    `new_subject` says the subject was created in this transaction, so it cannot have clocks yet:
    the check for existing ones is skipped and all are inserted in one statement.
    """
    specs = clock_specs(session, kind=kind, priority=priority, risk_grade=risk_grade, channel=channel)
    if new_subject:
        return _start(session, subject_type, subject_id, specs, received_at)
    return [start_clock(session, subject_type=subject_type, subject_id=subject_id, target=s.target,
                        calendar=s.calendar, budget=s.budget, started_at=received_at, policy_id=s.policy_id)
            for s in specs]


def clocks_of(session: Session, subject_type: str, subject_id: int, *, lock: bool = False) -> Sequence[Clock]:
    """A subject's clocks, earliest due first. `lock` (for a change) keeps the sweep off them until commit:
    it skips locked clocks rather than mark one breached under a write that is meeting it."""
    query = select(Clock).where(Clock.subject_type == subject_type, Clock.subject_id == subject_id)
    if lock:
        query = query.with_for_update()
    return session.execute(query.order_by(Clock.due_at)).scalars().all()


def clocks_of_subjects(session: Session, subject_type: str, subject_ids: Sequence[int]) -> dict[int, list[Clock]]:
    """The clocks of many subjects in one query, earliest due first for each (a page of tickets)."""
    found: dict[int, list[Clock]] = {}
    if subject_ids:
        for item in session.execute(select(Clock).where(Clock.subject_type == subject_type,
                                                        Clock.subject_id.in_(subject_ids))
                                    .order_by(Clock.due_at)).scalars():
            found.setdefault(item.subject_id, []).append(item)
    return found


def _breach_if_overdue(session: Session, item: Clock, at: datetime) -> None:
    """Record a breach the sweep has not reached yet, exactly as the sweep would (same job key).

    Without it a clock met, paused or extended a few seconds after its due time would never be
    escalated: the sweep only looks at running clocks.
    """
    if item.state != ClockState.RUNNING or item.due_at > at:
        return
    item.state, item.breached_at = ClockState.BREACHED, item.due_at
    _event(session, item, "breached", at, due_at=item.due_at.isoformat())
    jobs.enqueue(session, "sla.clock_breached", dedupe_key=f"sla-breach-{item.id}", clock_id=item.id,
                 subject_type=item.subject_type, subject_id=item.subject_id, target=item.target)


def pause(session: Session, *, item: Clock, at: datetime | None = None) -> None:
    """Stop counting while waiting for the customer (the statutory clock never pauses).

    A clock already past its due time is breached, not paused.
    """
    at = at or clock.now()
    _breach_if_overdue(session, item, at)
    if item.target == Target.STATUTORY or item.state != ClockState.RUNNING:
        return
    item.state, item.paused_at = ClockState.PAUSED, at
    _event(session, item, "paused", at)


def resume(session: Session, *, item: Clock, at: datetime | None = None) -> None:
    """Count again; the due time moves by exactly the working time spent paused."""
    if item.state != ClockState.PAUSED or item.paused_at is None:
        return
    at = at or clock.now()
    paused = calendar_of(session, item.calendar).between(item.paused_at, at)
    item.paused_seconds += int(paused.total_seconds())
    item.state, item.paused_at = ClockState.RUNNING, None
    _schedule(session, item)
    _event(session, item, "resumed", at, paused_seconds=int(paused.total_seconds()), due_at=item.due_at.isoformat())


def meet(session: Session, *, item: Clock, at: datetime | None = None) -> None:
    """The target was reached. A breached clock keeps its breach on record and notes when it was met."""
    if item.met_at is not None:
        return
    at = at or clock.now()
    if item.state == ClockState.PAUSED:
        resume(session, item=item, at=at)
    _breach_if_overdue(session, item, at)
    item.met_at = at
    if item.state == ClockState.RUNNING:
        item.state = ClockState.MET
    _event(session, item, "met", at, late=at > item.due_at)


def cancel(session: Session, *, item: Clock, at: datetime | None = None, reason: str) -> None:
    """Stop a clock whose subject is now handled as part of another; a met or breached clock keeps its record."""
    if item.state not in (ClockState.RUNNING, ClockState.PAUSED):
        return
    at = at or clock.now()
    _breach_if_overdue(session, item, at)
    if item.state == ClockState.BREACHED:
        return
    item.state, item.paused_at = ClockState.CANCELLED, None
    _event(session, item, "cancelled", at, reason=reason)


def extend_statutory(session: Session, *, item: Clock, actor: Principal, approver: Principal | None,
                     reason: str, subject: tuple[str, int] | None = None) -> Clock:
    """Extend the statutory deadline to 30, then 60 days from receipt.

    Only with the approval of a supervisor-level role (who may be the actor); each extension records
    its reason and enqueues a notice to the complainant (`sla.statutory_extended`).
    """
    if item.target != Target.STATUTORY:
        raise Invalid("only the statutory clock is extended this way", field="clock")
    if approver is None or not approver.can(Permission.EXTENSION_APPROVE):
        raise Forbidden("an extension needs the approval of a supervisor or the superior institution",
                        code="approval_required")
    reason = (reason or "").strip()
    if len(reason) < 4 or len(reason) > 1000:
        raise Invalid("state the reason for the extension (4 to 1000 characters)", field="reason")
    refuse_at_maximum(item, field="clock")
    if item.met_at is not None:
        raise Conflict("the complaint was already decided", field="clock")
    if item.state == ClockState.BREACHED or item.due_at <= clock.now():  # the sweep may not have been round yet
        raise Conflict("the statutory deadline has already passed; it cannot be extended afterwards", field="clock")
    before = {"due_at": item.due_at.isoformat(), "days": STATUTORY_DAYS if not item.extensions
              else STATUTORY_EXTENSIONS[item.extensions - 1]}
    days = STATUTORY_EXTENSIONS[item.extensions]
    item.extensions += 1
    item.budget_seconds = days * 86400
    _schedule(session, item)
    item.warned_at = None
    _event(session, item, "extended", clock.now(), actor, days=days, reason=reason,
           approved_by=approver.username)
    audit_trail.record(session, actor=actor, action="sla.statutory_extended", subject=item, before=before,
                       after={"due_at": item.due_at.isoformat(), "days": days, "approved_by": approver.username},
                       reason=reason)
    jobs.enqueue(session, "sla.statutory_extended", dedupe_key=f"sla-extension-{item.id}-{item.extensions}",
                 clock_id=item.id, subject_type=item.subject_type, subject_id=item.subject_id, days=days,
                 due_at=item.due_at.isoformat())
    return item
