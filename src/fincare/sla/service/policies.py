"""Policies (versioned targets) and calendars, and the per-process cache of both."""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import Engine, event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fincare.platform import audit_trail, clock
from fincare.platform.config import get_settings
from fincare.platform.errors import Conflict, Forbidden, Invalid, Message, NotFound
from fincare.platform.permissions import Permission, Principal
from fincare.sla.calendar import AlwaysOn, BusinessHours, Calendar
from fincare.sla.models import CalendarKind, CalendarOverride, SlaPolicy, Target

# Policies and calendar overrides are read on every intake but change a few times a year: each
# process keeps them this long. A revision applies at once in the process that made it and within
# this many seconds everywhere else; a clock still keeps the version it started with.
REFERENCE_TTL_SECONDS = 10.0
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
    # 3 business days of 9 hours
    DefaultPolicy("followup", "followup", Target.FOLLOW_UP, 3 * 9 * 60, CalendarKind.BUSINESS),
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
        raise Conflict(Message("version {version} was already revised; revise the active version",
                               version=policy.version), field="policy_id")
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
