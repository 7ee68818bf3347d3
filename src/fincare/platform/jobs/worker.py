"""The worker loop: run due schedules, claim due jobs under a lease, run them exactly once."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from prometheus_client import Counter, Histogram
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from fincare.platform import clock
from fincare.platform.config import get_settings
from fincare.platform.db import insert_on_conflict, unit_of_work
from fincare.platform.jobs.models import Job, JobSchedule, JobState
from fincare.platform.jobs.registry import Schedule, schedules, subscription

log = logging.getLogger(__name__)

JOBS = Counter("fincare_jobs_total", "Jobs run, by handler and outcome", ["handler", "outcome"])
JOB_SECONDS = Histogram("fincare_job_duration_seconds", "Time spent in job handlers", ["handler"])
SCHEDULED = Counter("fincare_scheduled_runs_total", "Scheduled job runs, by name and outcome",
                    ["name", "outcome"])


def backoff(attempts: int) -> timedelta:
    """Exponential backoff from 5 s, capped at one hour."""
    return timedelta(seconds=min(5 * 2 ** max(attempts - 1, 0), 3600))


@dataclass(frozen=True)
class Claimed:
    id: int
    handler: str | None
    payload: dict[str, Any]
    attempts: int
    max_attempts: int


class Worker:
    """One worker; run several (processes or machines) against one PostgreSQL database."""

    def __init__(self, *, name: str | None = None, batch: int = 100, lease: timedelta | None = None,
                 idle_sleep: float = 0.5) -> None:
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"
        self.batch = batch
        self.lease = lease or timedelta(seconds=get_settings().job_lease_seconds)
        self.idle_sleep = idle_sleep

    # -- schedules -----------------------------------------------------------------------------

    def run_schedules(self) -> int:
        """Run every due `@scheduled` job once; returns how many ran."""
        self._ensure_schedule_rows()
        ran = 0
        for schedule in schedules():
            if self._run_schedule(schedule):
                ran += 1
        return ran

    @staticmethod
    def _ensure_schedule_rows() -> None:
        # Each schedule's row exists before any worker locks it: the locking read skips a row another
        # worker holds, which would otherwise look the same as a row never written — and writing it
        # then fails on its key (every time a schedule was due while another worker ran it). Only
        # missing rows are written: an insert, even ON CONFLICT DO NOTHING, waits for a transaction
        # that has changed the row (a schedule running elsewhere), where a plain read does not. The
        # read takes no write lock (SQLite's), so a pass with nothing missing writes nothing.
        with unit_of_work(read_only=True) as session:
            present = set(session.execute(select(JobSchedule.name)).scalars())
        missing = [s.name for s in schedules() if s.name not in present]
        if not missing:
            return
        with unit_of_work() as session:
            now = clock.now()
            session.execute(insert_on_conflict(session, JobSchedule)
                            .values([{"name": name, "next_run_at": now} for name in missing])
                            .on_conflict_do_nothing(index_elements=["name"]))

    def _run_schedule(self, schedule: Schedule) -> bool:
        try:
            with unit_of_work() as session:
                row = session.execute(
                    select(JobSchedule).where(JobSchedule.name == schedule.name)
                    .with_for_update(skip_locked=True)
                ).scalar_one_or_none()
                now = clock.now()
                if row is None or row.next_run_at > now:  # None: another worker is running it
                    return False
                row.next_run_at, row.last_run_at, row.last_error = now + schedule.every, now, None
                with JOB_SECONDS.labels(schedule.name).time():
                    schedule.fn(session)
            SCHEDULED.labels(schedule.name, "ok").inc()
            return True
        except Exception as exc:
            SCHEDULED.labels(schedule.name, "failed").inc()
            log.exception("scheduled job %s failed", schedule.name)
            self._note_schedule_error(schedule, exc)
            return False

    @staticmethod
    def _note_schedule_error(schedule: Schedule, exc: Exception) -> None:
        # wait at least its period (5 s to 5 min) before the next try, rather than retry every loop
        pause = min(max(schedule.every, timedelta(seconds=5)), timedelta(minutes=5))
        try:
            with unit_of_work() as session:
                session.execute(update(JobSchedule).where(JobSchedule.name == schedule.name)
                                .values(last_error=_describe(exc), next_run_at=clock.now() + pause))
        except Exception:  # the database itself may be what failed
            log.exception("could not record the failure of %s", schedule.name)

    # -- jobs ----------------------------------------------------------------------------------

    def claim(self) -> list[Claimed]:
        """Claim up to `batch` due jobs (queued, or running with an expired lease)."""
        with unit_of_work() as session:
            now = clock.now()
            rows = session.execute(
                select(Job).where(Job.state.in_([JobState.QUEUED, JobState.RUNNING]), Job.run_at <= now)
                .order_by(Job.run_at).limit(self.batch).with_for_update(skip_locked=True)
            ).scalars().all()
            claimed = []
            for job in rows:
                if job.attempts >= job.max_attempts:  # it kept killing its workers: stop trying
                    job.state, job.locked_by, job.finished_at = JobState.PARKED, None, now
                    job.last_error = job.last_error or "abandoned by its worker too many times"
                    JOBS.labels(job.handler or "-", "parked").inc()
                    continue
                job.state, job.locked_by = JobState.RUNNING, self.name
                job.attempts += 1
                job.run_at = now + self.lease
                claimed.append(Claimed(job.id, job.handler, dict(job.payload), job.attempts, job.max_attempts))
            return claimed

    def run_once(self) -> int:
        """Claim and run one batch; returns how many jobs were attempted."""
        return self.execute(self.claim())

    def execute(self, claimed: list[Claimed]) -> int:
        """Run claimed jobs in one transaction, each in its own savepoint; returns how many ran.

        The jobs' rows are locked first, so no other worker can reclaim them meanwhile; a job whose
        lease was already taken over is skipped (its new owner runs it).
        """
        if not claimed:
            return 0
        started = time.monotonic()
        failures: list[tuple[Claimed, str]] = []
        done: list[int] = []
        released: list[int] = []
        with unit_of_work() as session:
            owned = set(session.execute(
                select(Job.id).where(Job.id.in_([job.id for job in claimed]), Job.locked_by == self.name,
                                     Job.state == JobState.RUNNING).with_for_update()
            ).scalars())
            for job in claimed:
                if job.id not in owned:
                    JOBS.labels(job.handler or "-", "lease_lost").inc()
                    log.warning("job %s: lease lost before it ran; its new owner runs it", job.id)
                elif time.monotonic() - started > self.lease.total_seconds() / 2:
                    released.append(job.id)  # leave the rest for a fresh lease rather than race it
                elif (error := self._run_job(session, job)) is None:
                    done.append(job.id)
                else:
                    failures.append((job, error))
            self._settle(session, done, failures, released)
        return len(owned) - len(released)

    def _run_job(self, session: Session, job: Claimed) -> str | None:
        label = job.handler or "-"
        sub = subscription(job.handler) if job.handler else None
        try:
            with session.begin_nested(), JOB_SECONDS.labels(label).time():
                if sub is None:
                    raise LookupError(f"no handler {job.handler} is registered in this worker")
                sub.fn(session, **job.payload)
        except Exception as exc:
            JOBS.labels(label, "failed").inc()
            log.warning("job %s (%s) failed on attempt %s: %s", job.id, label, job.attempts, exc)
            return _describe(exc)
        JOBS.labels(label, "done").inc()
        return None

    def _settle(self, session: Session, done: list[int], failures: list[tuple[Claimed, str]],
                released: list[int]) -> None:
        now = clock.now()
        if done:
            session.execute(update(Job).where(Job.id.in_(done))
                            .values(state=JobState.DONE, finished_at=now, last_error=None, locked_by=None))
        for job, error in failures:
            parked = job.attempts >= job.max_attempts
            session.execute(
                update(Job).where(Job.id == job.id)
                .values(state=JobState.PARKED if parked else JobState.QUEUED, last_error=error,
                        locked_by=None, run_at=now + backoff(job.attempts),
                        finished_at=now if parked else None)
            )
            if parked:
                JOBS.labels(job.handler or "-", "parked").inc()
        if released:
            session.execute(
                update(Job).where(Job.id.in_(released))
                .values(state=JobState.QUEUED, locked_by=None, run_at=now, attempts=Job.attempts - 1)
            )

    # -- loop ----------------------------------------------------------------------------------

    def run(self, stop: threading.Event | None = None, *, schedule_every: float = 1.0) -> None:
        """Work until `stop` is set: schedules about every `schedule_every` s, jobs continuously."""
        stop = stop or threading.Event()
        next_schedules = 0.0
        log.info("worker %s started", self.name)
        while not stop.is_set():
            try:
                if time.monotonic() >= next_schedules:
                    self.run_schedules()
                    next_schedules = time.monotonic() + schedule_every
                if self.run_once() == 0:
                    stop.wait(self.idle_sleep)
            except Exception:
                log.exception("worker %s: loop error; backing off", self.name)
                stop.wait(min(5.0, self.idle_sleep * 4))
        log.info("worker %s stopped", self.name)


def _describe(exc: BaseException) -> str:
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()[:4000]
