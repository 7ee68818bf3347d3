"""Job outbox throughput: no-op jobs drained by 2 worker processes on PostgreSQL.

Baseline in the same run: one process enqueuing the same number of jobs (the insert side), so the
drain rate can be read against the cost of merely writing the rows.
"""

from __future__ import annotations

import multiprocessing
import time
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from benchmarks.database import postgres_database
from fincare.platform import jobs
from fincare.platform.db import reset_after_fork, unit_of_work
from fincare.platform.jobs import Worker, on
from fincare.platform.jobs.models import Job, JobState

JOBS = 30_000
WORKERS = 2
BATCH = 200


@on("bench.noop")
def noop(session: Session, *, n: int) -> None:
    """Does nothing: the figure is the outbox's own overhead."""


def _drain(name: str) -> None:
    reset_after_fork()
    worker = Worker(name=name, batch=BATCH)
    idle = 0
    while idle < 3:
        if worker.run_once() == 0:
            idle += 1
            time.sleep(0.05)
        else:
            idle = 0


def run() -> dict[str, Any]:
    with postgres_database() as _engine:
        started = time.perf_counter()
        with unit_of_work() as session:
            for start in range(0, JOBS, 5_000):
                for n in range(start, min(start + 5_000, JOBS)):
                    jobs.enqueue(session, "bench.noop", n=n)
        enqueue_seconds = time.perf_counter() - started

        ctx = multiprocessing.get_context("fork")
        processes = [ctx.Process(target=_drain, args=(f"bench-{i}",)) for i in range(WORKERS)]
        started = time.perf_counter()
        for process in processes:
            process.start()
        while True:
            with unit_of_work(read_only=True) as session:
                left = session.execute(select(func.count()).select_from(Job)
                                       .where(Job.state != JobState.DONE)).scalar_one()
            if left == 0:
                break
            time.sleep(0.02)
        drain_seconds = time.perf_counter() - started
        for process in processes:
            process.join(timeout=30)
        with unit_of_work(read_only=True) as session:
            done = session.execute(select(func.count()).select_from(Job)
                                   .where(Job.state == JobState.DONE)).scalar_one()
    return {
        "scenario": "job_outbox",
        "jobs": JOBS,
        "workers": WORKERS,
        "enqueue_jobs_per_s": round(JOBS / enqueue_seconds),
        "drain_jobs_per_s": round(JOBS / drain_seconds),
        "ratio_drain_to_enqueue": round(enqueue_seconds / drain_seconds, 3),
        "goal_jobs_per_s": 2000,
        "all_done_exactly_once": done == JOBS,
    }


if __name__ == "__main__":
    print(run())
