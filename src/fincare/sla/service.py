"""SLA rules: choose policies, start, pause, resume, meet and extend clocks, sweep for warnings and breaches."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from fincare.platform import audit_trail, clock, jobs
from fincare.platform.config import get_settings
from fincare.platform.errors import Conflict, Forbidden, Invalid
from fincare.platform.permissions import Permission, Principal
from fincare.sla.calendar import AlwaysOn, BusinessHours, Calendar
from fincare.sla.models import CalendarKind, CalendarOverride, Clock, ClockEvent, ClockState, SlaPolicy, Target

WARN_AT = 0.8  # a warning when 80 % of the budget is used
STATUTORY_DAYS = 15
STATUTORY_EXTENSIONS = (30, 60)  # total days after the first and the second extension


@dataclass(frozen=True)
class DefaultPolicy:
    key: str
    kind: str
    target: Target
    minutes: int
    calendar: CalendarKind
    risk_grade: str | None = None


# From the source documents: consultations answered within 5 minutes around the clock; complaints
# fed back within 24 h and feedback handled within 48 h (business hours); medium-risk complaints
# answered within 24 h, high-risk ones handled within 48 h (and reported to the regulator).
DEFAULTS = (
    DefaultPolicy("consultation", "consultation", Target.FIRST_RESPONSE, 5, CalendarKind.ALWAYS),
    DefaultPolicy("complaint", "complaint", Target.FEEDBACK, 24 * 60, CalendarKind.BUSINESS),
    DefaultPolicy("complaint.medium", "complaint", Target.FEEDBACK, 24 * 60, CalendarKind.ALWAYS, "medium"),
    DefaultPolicy("complaint.high", "complaint", Target.FEEDBACK, 24 * 60, CalendarKind.ALWAYS, "high"),
    DefaultPolicy("complaint.high", "complaint", Target.RESOLUTION, 48 * 60, CalendarKind.ALWAYS, "high"),
    DefaultPolicy("feedback", "feedback", Target.RESOLUTION, 48 * 60, CalendarKind.BUSINESS),
)


def ensure_default_policies(session: Session) -> None:
    """Create version 1 of the default policies where no version exists (idempotent)."""
    existing = {(p.key, p.target) for p in session.execute(select(SlaPolicy)).scalars()}
    for default in DEFAULTS:
        if (default.key, default.target) not in existing:
            session.add(SlaPolicy(key=default.key, version=1, kind=default.kind, risk_grade=default.risk_grade,
                                  target=default.target, minutes=default.minutes, calendar=default.calendar,
                                  active=True, created_at=clock.now()))
    session.flush()


def revise_policy(session: Session, *, actor: Principal, policy: SlaPolicy, minutes: int,
                  calendar: CalendarKind | None = None) -> SlaPolicy:
    """A new version of a policy target; running clocks keep the version they started with."""
    if not actor.can(Permission.SLA_POLICY_MANAGE):
        raise Forbidden("your role may not change SLA policies")
    if not 1 <= minutes <= 60 * 24 * 90:
        raise Invalid("a target is between 1 minute and 90 days", field="minutes")
    policy.active = False
    revised = SlaPolicy(key=policy.key, version=policy.version + 1, kind=policy.kind, priority=policy.priority,
                        risk_grade=policy.risk_grade, channel=policy.channel, target=policy.target, minutes=minutes,
                        calendar=calendar or policy.calendar, active=True, created_at=clock.now())
    session.add(revised)
    session.flush()
    audit_trail.record(session, actor=actor, action="sla.policy_revised", subject=revised,
                       before={"version": policy.version, "minutes": policy.minutes, "calendar": policy.calendar},
                       after={"version": revised.version, "minutes": minutes, "calendar": revised.calendar})
    return revised


def select_policies(session: Session, *, kind: str, priority: str | None = None, risk_grade: str | None = None,
                    channel: str | None = None) -> list[SlaPolicy]:
    """For each target, the most specific active policy matching the subject (None in a policy: any)."""
    best: dict[str, tuple[int, SlaPolicy]] = {}
    for policy in session.execute(select(SlaPolicy).where(SlaPolicy.active, SlaPolicy.kind == kind)).scalars():
        score = 0
        for wanted, have in ((priority, policy.priority), (risk_grade, policy.risk_grade), (channel, policy.channel)):
            if have is None:
                continue
            if have != wanted:
                break
            score += 1
        else:
            if policy.target not in best or score > best[policy.target][0]:
                best[policy.target] = (score, policy)
    return [policy for _, policy in sorted(best.values(), key=lambda sp: sp[1].target)]


def calendar_of(session: Session, kind: str) -> Calendar:
    if kind == CalendarKind.ALWAYS:
        return AlwaysOn()
    overrides = {o.day: o.workday for o in session.execute(select(CalendarOverride)).scalars()}
    return BusinessHours(timezone=get_settings().timezone, overrides=overrides)


# -- clocks ----------------------------------------------------------------------------------------


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


def start_clock(session: Session, *, subject_type: str, subject_id: int, target: str, calendar: str,
                budget: timedelta, started_at: datetime, policy_id: int | None = None) -> Clock:
    """Start one clock (a second start for the same subject and target returns the first)."""
    existing = session.execute(select(Clock).where(Clock.subject_type == subject_type, Clock.subject_id == subject_id,
                                                   Clock.target == target)).scalar_one_or_none()
    if existing is not None:
        return existing
    item = Clock(subject_type=subject_type, subject_id=subject_id, target=target, calendar=calendar,
                 policy_id=policy_id, budget_seconds=int(budget.total_seconds()), paused_seconds=0,
                 started_at=started_at, due_at=started_at, warn_at=started_at, state=ClockState.RUNNING)
    _schedule(session, item)
    session.add(item)
    session.flush()
    _event(session, item, "started", started_at, due_at=item.due_at.isoformat())
    return item


def start_clocks(session: Session, *, subject_type: str, subject_id: int, kind: str, received_at: datetime,
                 priority: str | None = None, risk_grade: str | None = None, channel: str | None = None
                 ) -> list[Clock]:
    """The clocks a new ticket gets: one per policy target, plus the statutory clock for complaints."""
    clocks = [start_clock(session, subject_type=subject_type, subject_id=subject_id, target=p.target,
                          calendar=p.calendar, budget=timedelta(minutes=p.minutes), started_at=received_at,
                          policy_id=p.id)
              for p in select_policies(session, kind=kind, priority=priority, risk_grade=risk_grade, channel=channel)]
    if kind == "complaint":
        clocks.append(start_clock(session, subject_type=subject_type, subject_id=subject_id, target=Target.STATUTORY,
                                  calendar=CalendarKind.ALWAYS, budget=timedelta(days=STATUTORY_DAYS),
                                  started_at=received_at))
    return clocks


def clocks_of(session: Session, subject_type: str, subject_id: int) -> Sequence[Clock]:
    return session.execute(select(Clock).where(Clock.subject_type == subject_type, Clock.subject_id == subject_id)
                           .order_by(Clock.due_at)).scalars().all()


def pause(session: Session, *, item: Clock, at: datetime | None = None) -> None:
    """Stop counting while waiting for the customer (the statutory clock never pauses)."""
    if item.target == Target.STATUTORY or item.state != ClockState.RUNNING:
        return
    at = at or clock.now()
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
    item.met_at = at
    if item.state == ClockState.RUNNING:
        item.state = ClockState.MET if at <= item.due_at else ClockState.BREACHED
        if item.state == ClockState.BREACHED and item.breached_at is None:
            item.breached_at = item.due_at
    _event(session, item, "met", at, late=at > item.due_at)


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
    if item.extensions >= len(STATUTORY_EXTENSIONS):
        raise Conflict(f"the statutory deadline is already at its maximum of {STATUTORY_EXTENSIONS[-1]} days",
                       field="clock")
    if item.met_at is not None:
        raise Conflict("the complaint was already decided", field="clock")
    if item.state == ClockState.BREACHED:
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


@dataclass(frozen=True)
class SweepResult:
    warned: int
    breached: int


def sweep(session: Session, *, now: datetime | None = None, limit: int = 1000) -> SweepResult:
    """Warn at 80 % and mark breaches, each exactly once (rows locked, SKIP LOCKED for other workers).

    A breach enqueues `sla.clock_breached` for the subject's domain to escalate (notify the
    supervisor, raise the priority).
    """
    now = now or clock.now()
    warned = session.execute(
        select(Clock).where(Clock.state == ClockState.RUNNING, Clock.warned_at.is_(None), Clock.warn_at <= now)
        .order_by(Clock.warn_at).limit(limit).with_for_update(skip_locked=True)
    ).scalars().all()
    for item in warned:
        item.warned_at = now
        _event(session, item, "warned", now)
        jobs.enqueue(session, "sla.clock_warned", dedupe_key=f"sla-warn-{item.id}-{item.extensions}",
                     clock_id=item.id, subject_type=item.subject_type, subject_id=item.subject_id, target=item.target)
    due = session.execute(
        select(Clock).where(Clock.state == ClockState.RUNNING, Clock.due_at <= now)
        .order_by(Clock.due_at).limit(limit).with_for_update(skip_locked=True)
    ).scalars().all()
    for item in due:
        item.state, item.breached_at = ClockState.BREACHED, now
        _event(session, item, "breached", now, due_at=item.due_at.isoformat())
        jobs.enqueue(session, "sla.clock_breached", dedupe_key=f"sla-breach-{item.id}",
                     clock_id=item.id, subject_type=item.subject_type, subject_id=item.subject_id, target=item.target)
    return SweepResult(warned=len(warned), breached=len(due))
