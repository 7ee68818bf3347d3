"""The job outbox: enqueued with the caller's transaction, retried with backoff, parked with its
error, run exactly once with two workers, and taken up again after a worker is killed."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from fincare.platform import audit_trail, clock, jobs
from fincare.platform.audit_trail.models import AuditEntry
from fincare.platform.config import reset_settings
from fincare.platform.db import reset_after_fork, unit_of_work
from fincare.platform.jobs import Worker, on, scheduled
from fincare.platform.jobs.models import Job, JobSchedule, JobState
from fincare.platform.permissions import SYSTEM
from tests.factories.accounts import Staff

HANG = False  # set in a child process to make `effect` hang until the process is killed
failures_left: dict[int, int] = {}


@on("test.effect")
def effect(session, *, n: int) -> None:  # type: ignore[no-untyped-def]
    """A job whose effect can be counted: one audit entry per run that commits."""
    audit_trail.record(session, actor=SYSTEM, action="test.effect", subject=("job", n))
    if HANG:
        session.flush()
        time.sleep(600)


@on("test.flaky")
def flaky(session, *, n: int) -> None:  # type: ignore[no-untyped-def]
    audit_trail.record(session, actor=SYSTEM, action="test.flaky", subject=("job", n))
    if failures_left.get(n, 0) > 0:
        failures_left[n] -= 1
        raise RuntimeError(f"downstream unavailable for job {n}")


schedule_runs: list[datetime] = []


@scheduled(every=timedelta(minutes=5), name="test.every_five_minutes")
def every_five_minutes(session) -> None:  # type: ignore[no-untyped-def]
    schedule_runs.append(clock.now())


def effects(action: str = "test.effect") -> list[str]:
    with unit_of_work(read_only=True) as session:
        return list(session.execute(select(AuditEntry.subject_id).where(AuditEntry.action == action)
                                    .order_by(AuditEntry.subject_id)).scalars())


def job_states() -> list[str]:
    with unit_of_work(read_only=True) as session:
        return list(session.execute(select(Job.state).where(Job.handler.is_not(None)).order_by(Job.id)).scalars())


def drain(worker: Worker) -> None:
    while worker.run_once():
        pass


def test_a_job_is_queued_only_if_its_transaction_commits(db: Engine) -> None:
    def failing_change() -> None:
        with unit_of_work() as session:
            jobs.enqueue(session, "test.effect", n=1)
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        failing_change()
    with unit_of_work() as session:
        jobs.enqueue(session, "test.effect", n=2)
    drain(Worker(name="w1"))
    assert effects() == ["2"]


def test_a_dedupe_key_makes_a_second_enqueue_a_no_op(db: Engine) -> None:
    for _ in range(2):
        with unit_of_work() as session:
            jobs.enqueue(session, "test.effect", dedupe_key="ticket-7-resolved", n=7)
    drain(Worker(name="w1"))
    assert effects() == ["7"]


def test_an_event_without_subscribers_is_logged_as_done(db: Engine) -> None:
    with unit_of_work() as session:
        jobs.enqueue(session, "nobody.listens", x=1)
        job = session.execute(select(Job).where(Job.event == "nobody.listens")).scalar_one()
        assert job.state == JobState.DONE and job.handler is None


def test_a_failing_job_is_retried_with_backoff_then_succeeds(db: Engine, frozen_clock) -> None:  # type: ignore[no-untyped-def]
    failures_left[1] = 2
    with unit_of_work() as session:
        jobs.enqueue(session, "test.flaky", n=1)
    worker = Worker(name="w1")
    assert worker.run_once() == 1
    with unit_of_work() as session:
        job = session.execute(select(Job).where(Job.event == "test.flaky")).scalar_one()
        assert job.state == JobState.QUEUED and job.attempts == 1
        assert "downstream unavailable" in (job.last_error or "")
        assert job.run_at == clock.now() + timedelta(seconds=5)
    assert worker.run_once() == 0  # not due yet
    frozen_clock.advance(timedelta(seconds=5))
    assert worker.run_once() == 1  # second failure: the wait doubles
    frozen_clock.advance(timedelta(seconds=9))
    assert worker.run_once() == 0
    frozen_clock.advance(timedelta(seconds=1))
    assert worker.run_once() == 1
    assert job_states() == ["done"]
    assert effects("test.flaky") == ["1"]  # failed attempts left no effect behind


def test_a_job_that_keeps_failing_is_parked_with_its_error_and_an_admin_retries_it(
    client: TestClient, admin_root: Staff, agent_li: Staff, frozen_clock, monkeypatch  # type: ignore[no-untyped-def]
) -> None:
    monkeypatch.setenv("FINCARE_JOB_MAX_ATTEMPTS", "3")
    reset_settings()
    failures_left[2] = 99
    with unit_of_work() as session:
        jobs.enqueue(session, "test.flaky", n=2)
    worker = Worker(name="w1")
    for _ in range(3):
        worker.run_once()
        frozen_clock.advance(timedelta(hours=1))
    assert job_states() == ["parked"]
    parked = client.get("/api/v1/jobs", params={"state": "parked"}, headers=admin_root.headers).json()
    assert len(parked) == 1 and "downstream unavailable" in parked[0]["last_error"]
    assert parked[0]["attempts"] == 3
    assert client.get("/api/v1/jobs", headers=agent_li.headers).status_code == 403

    failures_left[2] = 0
    retried = client.post(f"/api/v1/jobs/{parked[0]['id']}/retry", headers=admin_root.headers)
    assert retried.status_code == 200 and retried.json()["state"] == "queued"
    assert client.post(f"/api/v1/jobs/{parked[0]['id']}/retry", headers=admin_root.headers).status_code == 409
    drain(worker)
    assert job_states() == ["done"]


def test_two_workers_run_each_job_exactly_once(db: Engine) -> None:
    if db.dialect.name != "postgresql":
        pytest.skip("concurrent workers are a PostgreSQL deployment")
    with unit_of_work() as session:
        for n in range(600):
            jobs.enqueue(session, "test.effect", n=n)
    workers = [Worker(name=f"w{i}", batch=25) for i in range(2)]
    ran = {w.name: 0 for w in workers}

    def work(worker: Worker) -> None:
        while (count := worker.run_once()) > 0:
            ran[worker.name] += count

    threads = [threading.Thread(target=work, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done = effects()
    assert len(done) == 600 and len(set(done)) == 600
    assert set(job_states()) == {"done"}
    assert all(count > 0 for count in ran.values()), ran  # both took part


def _hanging_worker() -> None:  # runs in a forked child
    global HANG
    HANG = True
    reset_after_fork()
    Worker(name="doomed", lease=timedelta(seconds=30)).run_once()


def test_a_job_claimed_by_a_killed_worker_is_taken_up_after_its_lease(db: Engine) -> None:
    with unit_of_work() as session:
        jobs.enqueue(session, "test.effect", n=42)
    child = multiprocessing.get_context("fork").Process(target=_hanging_worker)
    child.start()
    deadline = time.monotonic() + 30
    while job_states() != ["running"]:
        assert time.monotonic() < deadline, "the child worker never claimed the job"
        time.sleep(0.05)
    os.kill(child.pid or 0, signal.SIGKILL)
    child.join()
    assert effects() == []  # the killed handler's work was never committed

    rescuer = Worker(name="rescuer")
    assert rescuer.run_once() == 0  # the lease is still running
    with clock.frozen(datetime.now(UTC) + timedelta(seconds=31)):
        assert rescuer.run_once() == 1
    assert effects() == ["42"]
    with unit_of_work() as session:
        job = session.execute(select(Job).where(Job.event == "test.effect")).scalar_one()
        assert job.state == JobState.DONE and job.attempts == 2


def test_a_late_worker_whose_lease_was_taken_over_commits_nothing(db: Engine, frozen_clock) -> None:  # type: ignore[no-untyped-def]
    with unit_of_work() as session:
        jobs.enqueue(session, "test.effect", n=5)
    slow, fast = Worker(name="slow", lease=timedelta(seconds=10)), Worker(name="fast")
    claimed = slow.claim()
    frozen_clock.advance(timedelta(seconds=11))
    assert fast.run_once() == 1
    assert slow.execute(claimed) == 0  # the slow worker finally gets to what it had claimed
    assert effects() == ["5"]


def test_a_scheduled_job_runs_once_per_period_whatever_the_number_of_workers(db: Engine, frozen_clock) -> None:  # type: ignore[no-untyped-def]
    schedule_runs.clear()
    first, second = Worker(name="a"), Worker(name="b")
    first.run_schedules()
    second.run_schedules()
    frozen_clock.advance(timedelta(minutes=4))
    first.run_schedules()
    second.run_schedules()
    frozen_clock.advance(timedelta(minutes=1))
    second.run_schedules()
    first.run_schedules()
    assert len(schedule_runs) == 2
    with unit_of_work() as session:
        row = session.get(JobSchedule, "test.every_five_minutes")
        assert row is not None and row.next_run_at == clock.now() + timedelta(minutes=5)
        assert session.execute(select(func.count()).select_from(Job)).scalar_one() == 0


slow_runs: list[str] = []
slow_gate: dict[str, threading.Event] = {}  # set by the test that wants the run held open


@scheduled(every=timedelta(hours=1), name="test.hourly_and_slow")
def hourly_and_slow(session) -> None:  # type: ignore[no-untyped-def]
    slow_runs.append(threading.current_thread().name)
    session.execute(select(Job.id).limit(1))  # like real jobs: the schedule's row update is flushed now
    if slow_gate:
        slow_gate["started"].set()
        if not slow_gate["release"].wait(30):  # the test never let go: something waited on this run
            slow_runs.append("held until the timeout")


def test_a_worker_finding_a_schedule_running_elsewhere_leaves_it_alone(db: Engine, frozen_clock) -> None:  # type: ignore[no-untyped-def]
    if db.dialect.name != "postgresql":
        pytest.skip("concurrent workers are a PostgreSQL deployment")
    Worker(name="a").run_schedules()  # the first run: every schedule has its row now
    frozen_clock.advance(timedelta(hours=1))
    slow_runs.clear()
    slow_gate.update(started=threading.Event(), release=threading.Event())
    try:
        holder = threading.Thread(target=Worker(name="a").run_schedules, name="a")
        holder.start()
        assert slow_gate["started"].wait(30)  # worker a holds the schedule's row while it runs
        Worker(name="b").run_schedules()
        slow_gate["release"].set()
        holder.join()
    finally:
        slow_gate.clear()
    assert slow_runs == ["a"]
    with unit_of_work(read_only=True) as session:
        row = session.get(JobSchedule, "test.hourly_and_slow")
        assert row is not None and row.last_error is None  # b neither ran it nor recorded a failure
        assert row.next_run_at == clock.now() + timedelta(hours=1)


@scheduled(every=timedelta(seconds=1), name="test.always_fails")
def always_fails(session) -> None:  # type: ignore[no-untyped-def]
    raise RuntimeError("the mail server is down")


def test_a_failing_schedule_waits_before_it_is_tried_again(db: Engine, frozen_clock) -> None:  # type: ignore[no-untyped-def]
    worker = Worker(name="w1")
    worker.run_schedules()
    with unit_of_work(read_only=True) as session:
        row = session.get(JobSchedule, "test.always_fails")
        assert row is not None and "mail server is down" in (row.last_error or "")
        assert row.next_run_at == clock.now() + timedelta(seconds=5)
