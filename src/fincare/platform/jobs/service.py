"""Enqueue jobs in the caller's transaction; let admins see and retry parked ones."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, select, text
from sqlalchemy.orm import Session

from fincare.platform import audit_trail, clock
from fincare.platform.config import get_settings
from fincare.platform.db import insert_on_conflict
from fincare.platform.errors import Conflict, Label, Message, NotFound
from fincare.platform.jobs.models import Job, JobState
from fincare.platform.jobs.registry import subscriptions
from fincare.platform.permissions import Principal


def enqueue(
    session: Session,
    event: str,
    *,
    dedupe_key: str | None = None,
    run_at: datetime | None = None,
    **payload: Any,
) -> int:
    """Queue one job per handler subscribed to `event`; returns how many rows were written.

    `payload` must be JSON (ids, not objects). With `dedupe_key`, a second enqueue of the same key
    writes nothing, so an event published twice is handled once. An event nobody subscribes to is
    kept as a finished job: the outbox doubles as the event log.
    """
    return enqueue_many(session, event, [(dedupe_key, payload)], run_at=run_at)


def enqueue_many(session: Session, event: str, items: Sequence[tuple[str | None, dict[str, Any]]], *,
                 run_at: datetime | None = None) -> int:
    """`enqueue` for many events of one name: (dedupe key, payload) each, in one executemany."""
    now = clock.now()
    subs = subscriptions(event)
    max_attempts = get_settings().job_max_attempts
    rows: list[dict[str, Any]] = []
    for dedupe_key, payload in items:
        base = {"event": event, "payload": payload, "attempts": 0, "created_at": now, "max_attempts": max_attempts,
                "run_at": run_at or now}
        rows.extend(
            [{**base, "handler": sub.key, "state": JobState.QUEUED, "finished_at": None,
              "dedupe_key": f"{dedupe_key}|{sub.key}" if dedupe_key else None} for sub in subs]
            or [{**base, "handler": None, "state": JobState.DONE, "finished_at": now, "dedupe_key": dedupe_key}])
    if not rows:
        return 0
    if len(rows) > 1 and session.get_bind().dialect.name == "postgresql":
        return _insert_unnest(session, rows)
    stmt = insert_on_conflict(session, cast(Table, Job.__table__)).on_conflict_do_nothing(index_elements=["dedupe_key"])
    return int(session.connection().execute(stmt, rows).rowcount or 0)  # Core executemany: compiled once


_UNNEST = text(
    "INSERT INTO job (event, handler, payload, dedupe_key, state, run_at, attempts, max_attempts, created_at,"
    " finished_at) SELECT :event, u.handler, u.payload, u.dedupe_key, :state, :run_at, 0, :max_attempts,"
    " :created_at, :finished_at FROM unnest(CAST(:handler AS varchar[]), CAST(:payload AS jsonb[]),"
    " CAST(:dedupe_key AS varchar[])) AS u(handler, payload, dedupe_key)"
    " ON CONFLICT (dedupe_key) DO NOTHING")


def _insert_unnest(session: Session, rows: list[dict[str, Any]]) -> int:
    """Many jobs in one statement: only what differs per row travels as arrays (what a sweep of a
    thousand breaches needs to stay fast). Rows of one call share event, state and times."""
    first = rows[0]
    return int(session.execute(_UNNEST, {  # type: ignore[attr-defined]
        "event": first["event"], "state": str(first["state"]), "run_at": first["run_at"],
        "max_attempts": first["max_attempts"], "created_at": first["created_at"], "finished_at": first["finished_at"],
        "handler": [row["handler"] for row in rows], "dedupe_key": [row["dedupe_key"] for row in rows],
        "payload": [json.dumps(row["payload"], ensure_ascii=False) for row in rows],
    }).rowcount or 0)


def list_jobs(session: Session, *, state: JobState | None = None, event: str | None = None,
              before_id: int | None = None, limit: int = 50) -> Sequence[Job]:
    """Newest first; page with `before_id`."""
    query = select(Job).order_by(Job.id.desc()).limit(min(max(limit, 1), 500))
    if state is not None:
        query = query.where(Job.state == state)
    if event:
        query = query.where(Job.event == event)
    if before_id:
        query = query.where(Job.id < before_id)
    return session.execute(query).scalars().all()


def retry_job(session: Session, *, job_id: int, actor: Principal) -> Job:
    """Put a parked job back in the queue with a fresh set of attempts."""
    job = session.get(Job, job_id, with_for_update=True)
    if job is None:
        raise NotFound("no such job", field="job_id")
    if job.state != JobState.PARKED:
        raise Conflict(Message("only a parked job can be retried; this one is {state}",
                               state=Label("job", job.state)), field="job_id")
    before = {"state": job.state, "attempts": job.attempts}
    job.state, job.attempts, job.run_at, job.locked_by = JobState.QUEUED, 0, clock.now(), None
    audit_trail.record(session, actor=actor, action="job.retried", subject=job, before=before,
                       after={"state": job.state, "attempts": 0})
    return job
