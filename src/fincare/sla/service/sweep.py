"""The sweep: warn at 80 % and mark breaches, each exactly once, set-based."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, insert, select, text, update
from sqlalchemy.orm import Session

from fincare.platform import clock, jobs
from fincare.sla.models import Clock, ClockEvent, ClockState


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
