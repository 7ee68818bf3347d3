"""Audit-trail appends with 16 concurrent writers on PostgreSQL, against plain inserts of the
same rows without the chain, in the same run.

Each writer commits one business transaction per entry, as a service does. The chained figure
counts until every entry is *sealed* into the hash chain by a concurrently running sealer (what
the worker does), so it includes the cost of the chain, not only of the append.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Column, MetaData, Table, func, insert, select

from benchmarks.database import postgres_database, postgres_version
from fincare.platform import audit_trail, clock
from fincare.platform.audit_trail.models import AuditEntry
from fincare.platform.db import unit_of_work
from fincare.platform.permissions import Principal

WRITERS = 16
PER_WRITER = 600


def _entry(writer: int, i: int) -> dict[str, Any]:
    return {"action": "ticket.status_changed", "subject": ("ticket", writer * 100_000 + i),
            "before": {"status": "open", "priority": "normal"}, "after": {"status": "pending_customer"}}


def _run_writers(write_one: Callable[[Principal, int, int], None]) -> float:
    barrier = threading.Barrier(WRITERS + 1)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        actor = Principal(account_id=n + 1, username=f"agent_{n}", request_id=f"bench-{n}")
        barrier.wait()
        try:
            for i in range(PER_WRITER):
                write_one(actor, n, i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - started


def run() -> dict[str, Any]:
    rows = WRITERS * PER_WRITER
    with postgres_database(pool_size=WRITERS + 4) as engine:
        plain = Table("bench_plain_audit", MetaData(), *(Column(c.name, c.type, primary_key=c.primary_key)
                                                         for c in AuditEntry.__table__.columns))
        with engine.begin() as connection:
            plain.create(connection)

        def plain_insert(actor: Principal, n: int, i: int) -> None:
            e = _entry(n, i)
            with unit_of_work() as session:
                session.execute(insert(plain).values(
                    occurred_at=clock.now(), kind="change", actor_id=actor.account_id, actor_name=actor.username,
                    action=e["action"], subject_type="ticket", subject_id=str(e["subject"][1]),
                    before=e["before"], after=e["after"], request_id=actor.request_id))

        def chained_append(actor: Principal, n: int, i: int) -> None:
            e = _entry(n, i)
            with unit_of_work() as session:
                audit_trail.record(session, actor=actor, action=e["action"], subject=e["subject"],
                                   before=e["before"], after=e["after"])

        plain_seconds = _run_writers(plain_insert)

        stop = threading.Event()
        sealed_at: list[float] = []

        def sealer() -> None:
            while not stop.is_set():
                with unit_of_work() as session:
                    audit_trail.seal_pending(session, limit=20_000)
                    sealed = session.execute(select(func.count()).select_from(AuditEntry)
                                             .where(AuditEntry.seq.is_not(None))).scalar_one()
                if sealed >= rows:
                    sealed_at.append(time.perf_counter())
                    return
                stop.wait(0.05)

        started = time.perf_counter()
        sealer_thread = threading.Thread(target=sealer)
        sealer_thread.start()
        append_seconds = _run_writers(chained_append)
        sealer_thread.join(timeout=120)
        stop.set()
        sealed_seconds = sealed_at[0] - started if sealed_at else float("nan")
        with unit_of_work() as session:
            verdict = audit_trail.verify(session)
        version = postgres_version(engine)

    plain_rate = rows / plain_seconds
    sealed_rate = rows / sealed_seconds
    return {
        "scenario": "audit_trail_append",
        "postgres": version,
        "writers": WRITERS,
        "rows": rows,
        "plain_insert_rows_per_s": round(plain_rate),
        "chained_append_rows_per_s": round(rows / append_seconds),
        "chained_sealed_rows_per_s": round(sealed_rate),
        "ratio_sealed_to_plain": round(sealed_rate / plain_rate, 3),
        "goal_ratio": 0.7,
        "chain_valid": verdict.ok and verdict.checked == rows,
    }


if __name__ == "__main__":
    print(run())
