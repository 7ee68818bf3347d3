"""SLA rules: choose policies, start, pause, resume, meet and extend clocks, sweep for warnings and breaches."""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Engine, event, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fincare.platform import audit_trail, clock, jobs
from fincare.platform.config import get_settings
from fincare.platform.errors import Conflict, Forbidden, Invalid, NotFound
from fincare.platform.permissions import Permission, Principal
from fincare.sla.calendar import AlwaysOn, BusinessHours, Calendar
from fincare.sla.models import CalendarKind, CalendarOverride, Clock, ClockEvent, ClockState, SlaPolicy, Target

WARN_AT = 0.8  # a warning when 80 % of the budget is used
# Policies and calendar overrides are read on every intake but change a few times a year: each
# process keeps them this long. A revision applies at once in the process that made it and within
# this many seconds everywhere else; a clock still keeps the version it started with.
REFERENCE_TTL_SECONDS = 10.0
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


T = TypeVar("T")


@dataclass(frozen=True)
class PolicyTarget:
    """What a clock needs of an active policy target (a snapshot, safe to share between sessions)."""

    id: int
    kind: str
    priority: str | None
    risk_grade: str | None
    channel: str | None
    target: str
    minutes: int
    calendar: str


class _ReferenceCache:
    """Per engine (so each test database has its own), per name: a value and when it was read.

    A generation counter, bumped by every clear, keeps a read that began before a change from
    storing what it read after the change was announced.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: weakref.WeakKeyDictionary[Engine, dict[str, tuple[float, Any]]] = weakref.WeakKeyDictionary()
        self._generation = 0

    def get(self, session: Session, name: str, load: Callable[[], T]) -> T:
        engine = session.get_bind()
        assert isinstance(engine, Engine)
        now = time.monotonic()
        with self._lock:
            cached = self._values.get(engine, {}).get(name)
            generation = self._generation
        if cached is not None and now - cached[0] < REFERENCE_TTL_SECONDS:
            return cached[1]  # type: ignore[no-any-return]
        value = load()
        with self._lock:
            if generation == self._generation:
                self._values.setdefault(engine, {})[name] = (now, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self._generation += 1

    def forget_when_done(self, session: Session) -> None:
        """A change in `session`: forget now and again when it commits or rolls back, so neither the
        state it replaces nor what it wrote but did not keep is served afterwards."""
        self.clear()
        event.listen(session, "after_commit", lambda _: self.clear(), once=True)
        event.listen(session, "after_soft_rollback", lambda *_: self.clear(), once=True)


reference_cache = _ReferenceCache()


def ensure_default_policies(session: Session) -> None:
    """Create version 1 of the default policies where no version exists (idempotent)."""
    existing = {(p.key, p.target) for p in session.execute(select(SlaPolicy)).scalars()}
    for default in DEFAULTS:
        if (default.key, default.target) not in existing:
            session.add(SlaPolicy(key=default.key, version=1, kind=default.kind, risk_grade=default.risk_grade,
                                  target=default.target, minutes=default.minutes, calendar=default.calendar,
                                  active=True, created_at=clock.now()))
    session.flush()
    reference_cache.forget_when_done(session)


def revise_policy(session: Session, *, actor: Principal, policy: SlaPolicy, minutes: int,
                  calendar: CalendarKind | None = None) -> SlaPolicy:
    """A new version of a policy target; running clocks keep the version they started with."""
    if not actor.can(Permission.SLA_POLICY_MANAGE):
        raise Forbidden("your role may not change SLA policies")
    if not 1 <= minutes <= 60 * 24 * 90:
        raise Invalid("a target is between 1 minute and 90 days", field="minutes")
    if not policy.active:
        raise Conflict(f"version {policy.version} was already revised; revise the active version", field="policy_id")
    policy.active = False
    revised = SlaPolicy(key=policy.key, version=policy.version + 1, kind=policy.kind, priority=policy.priority,
                        risk_grade=policy.risk_grade, channel=policy.channel, target=policy.target, minutes=minutes,
                        calendar=calendar or policy.calendar, active=True, created_at=clock.now())
    session.add(revised)
    session.flush()
    reference_cache.forget_when_done(session)
    audit_trail.record(session, actor=actor, action="sla.policy_revised", subject=revised,
                       before={"version": policy.version, "minutes": policy.minutes, "calendar": policy.calendar},
                       after={"version": revised.version, "minutes": minutes, "calendar": revised.calendar})
    return revised


def _active_policies(session: Session) -> tuple[PolicyTarget, ...]:
    def load() -> tuple[PolicyTarget, ...]:
        rows = session.execute(select(SlaPolicy).where(SlaPolicy.active).order_by(SlaPolicy.id)).scalars()
        return tuple(PolicyTarget(p.id, p.kind, p.priority, p.risk_grade, p.channel, p.target, p.minutes, p.calendar)
                     for p in rows)

    return reference_cache.get(session, "policies", load)


def select_policies(session: Session, *, kind: str, priority: str | None = None, risk_grade: str | None = None,
                    channel: str | None = None) -> list[PolicyTarget]:
    """For each target, the most specific active policy matching the subject (None in a policy: any)."""
    best: dict[str, tuple[int, PolicyTarget]] = {}
    for policy in _active_policies(session):
        if policy.kind != kind:
            continue
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
    """The calendar a clock runs on: 24×7, or business hours with the institution's overrides."""
    if kind == CalendarKind.ALWAYS:
        return AlwaysOn()

    def load() -> dict[date, bool]:
        return {o.day: o.workday for o in session.execute(select(CalendarOverride)).scalars()}

    overrides = reference_cache.get(session, "calendar_overrides", load)
    return BusinessHours(timezone=get_settings().timezone, overrides=overrides)


def list_policies(session: Session, *, include_history: bool = False) -> Sequence[SlaPolicy]:
    """Policy targets by key and target; only the active versions unless `include_history`."""
    query = select(SlaPolicy).order_by(SlaPolicy.kind, SlaPolicy.key, SlaPolicy.target, SlaPolicy.version)
    if not include_history:
        query = query.where(SlaPolicy.active)
    return session.execute(query).scalars().all()


def get_policy(session: Session, policy_id: int, *, lock: bool = False) -> SlaPolicy:
    policy = session.get(SlaPolicy, policy_id, with_for_update=lock)
    if policy is None:
        raise NotFound("no such SLA policy", field="policy_id")
    return policy


def list_calendar_overrides(session: Session) -> Sequence[CalendarOverride]:
    return session.execute(select(CalendarOverride).order_by(CalendarOverride.day)).scalars().all()


def set_calendar_override(session: Session, *, actor: Principal, day: date, workday: bool,
                          note: str) -> CalendarOverride:
    """Close a day (a typhoon) or open one (an extra workday) for this institution; wins over the official calendar.

    Clocks already running keep their due times; clocks started, paused or resumed afterwards use it.
    """
    if not actor.can(Permission.SLA_POLICY_MANAGE):
        raise Forbidden("your role may not change the business calendar")
    note = (note or "").strip()
    if not 1 <= len(note) <= 200:
        raise Invalid("say why (1 to 200 characters)", field="note")
    row = session.get(CalendarOverride, day, with_for_update=True)
    before = {"workday": row.workday, "note": row.note} if row else None
    if row is None:
        row = CalendarOverride(day=day, workday=workday, note=note)
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
        except IntegrityError:  # another admin created the same day at the same moment
            raise Conflict("that day was changed at the same moment; reload and try again", field="day") from None
    else:
        row.workday, row.note = workday, note
        session.flush()
    reference_cache.forget_when_done(session)
    audit_trail.record(session, actor=actor, action="sla.calendar_override_set", subject=("sla_calendar_override",
                       day.isoformat()), before=before, after={"workday": workday, "note": note})
    return row


def remove_calendar_override(session: Session, *, actor: Principal, day: date) -> None:
    if not actor.can(Permission.SLA_POLICY_MANAGE):
        raise Forbidden("your role may not change the business calendar")
    row = session.get(CalendarOverride, day, with_for_update=True)
    if row is None:
        raise NotFound("no override on that day", field="day")
    before = {"workday": row.workday, "note": row.note}
    session.delete(row)
    session.flush()
    reference_cache.forget_when_done(session)
    audit_trail.record(session, actor=actor, action="sla.calendar_override_removed",
                       subject=("sla_calendar_override", day.isoformat()), before=before)


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
    clocks = []
    for spec in specs:
        item = Clock(subject_type=subject_type, subject_id=subject_id, target=spec.target, calendar=spec.calendar,
                     policy_id=spec.policy_id, budget_seconds=int(spec.budget.total_seconds()), paused_seconds=0,
                     started_at=started_at, due_at=started_at, warn_at=started_at, state=ClockState.RUNNING,
                     extensions=0)
        _schedule(session, item)
        clocks.append(item)
    session.add_all(clocks)
    session.flush()
    for item in clocks:
        _event(session, item, "started", started_at, due_at=item.due_at.isoformat())
    return clocks


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


@dataclass(frozen=True)
class SweepResult:
    warned: int
    breached: int


def sweep(session: Session, *, now: datetime | None = None, limit: int = 1000) -> SweepResult:
    """Warn at 80 % and mark breaches, each exactly once (rows locked, SKIP LOCKED for other workers).

    A breach enqueues `sla.clock_breached` for the subject's domain to escalate (notify the
    supervisor, raise the priority). Set-based: a few statements however many clocks are due, each
    list found through its partial index.
    """
    now = now or clock.now()
    mark = _mark_postgresql if session.get_bind().dialect.name == "postgresql" else _mark_portable
    warned = mark(session, "warned", now, limit)
    if warned:
        jobs.enqueue_many(session, "sla.clock_warned", [
            (f"sla-warn-{c.id}-{c.extensions}", {"clock_id": c.id, "subject_type": c.subject_type,
                                                 "subject_id": c.subject_id, "target": c.target,
                                                 "extensions": c.extensions}) for c in warned])
    due = mark(session, "breached", now, limit)
    if due:
        jobs.enqueue_many(session, "sla.clock_breached", [
            (f"sla-breach-{c.id}", {"clock_id": c.id, "subject_type": c.subject_type, "subject_id": c.subject_id,
                                    "target": c.target}) for c in due])
    if warned or due:
        session.expire_all()  # clocks loaded earlier in this session must not show their old state
    return SweepResult(warned=len(warned), breached=len(due))


# The work lists of the sweep on PostgreSQL: (condition, order, the change), each matching a partial index.
_MARKS = {
    "warned": ("state = 'running' AND warned_at IS NULL AND warn_at <= :now", "warn_at", "warned_at = :now"),
    "breached": ("state = 'running' AND due_at <= :now", "due_at", "state = 'breached', breached_at = c.due_at"),
}


def _mark_postgresql(session: Session, kind: str, now: datetime, limit: int) -> Sequence[Any]:
    """Lock, change and log the clocks in one statement: no row travels to Python and back."""
    where, order, change = _MARKS[kind]
    return session.execute(text(
        f"WITH picked AS (SELECT id FROM sla_clock WHERE {where} ORDER BY {order} LIMIT :limit"  # noqa: S608
        f" FOR UPDATE SKIP LOCKED),"
        f" marked AS (UPDATE sla_clock AS c SET {change} FROM picked WHERE c.id = picked.id"
        f" RETURNING c.id, c.subject_type, c.subject_id, c.target, c.due_at, c.extensions),"
        f" logged AS (INSERT INTO sla_clock_event (clock_id, kind, at, detail)"
        f" SELECT id, :kind, :now, jsonb_build_object('due_at', to_char(due_at AT TIME ZONE 'UTC',"
        f" 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')) FROM marked)"
        f" SELECT id, subject_type, subject_id, target, extensions FROM marked ORDER BY id"),
        {"now": now, "limit": limit, "kind": kind}).all()


def _mark_portable(session: Session, kind: str, now: datetime, limit: int) -> Sequence[Any]:
    """The same in three statements, for SQLite (one writer at a time: the lock is the database's)."""
    where: tuple[ColumnElement[bool], ...]
    values: dict[str, object]
    if kind == "warned":
        where = (Clock.state == ClockState.RUNNING, Clock.warned_at.is_(None), Clock.warn_at <= now)
        order, values = Clock.warn_at, {"warned_at": now}
    else:
        where = (Clock.state == ClockState.RUNNING, Clock.due_at <= now)
        order, values = Clock.due_at, {"state": ClockState.BREACHED, "breached_at": Clock.due_at}
    picked = session.execute(
        select(Clock.id, Clock.subject_type, Clock.subject_id, Clock.target, Clock.due_at, Clock.extensions)
        .where(*where).order_by(order).limit(limit)
    ).all()
    if picked:
        session.execute(update(Clock).where(Clock.id.in_([c.id for c in picked])).values(**values),
                        execution_options={"synchronize_session": False})
        session.execute(insert(ClockEvent), [{"clock_id": c.id, "kind": kind, "at": now, "actor_id": None,
                                              "detail": {"due_at": c.due_at.isoformat()}} for c in picked])
    return picked
