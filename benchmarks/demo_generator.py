"""The demo generator (`fincare demo`'s data) on PostgreSQL and on SQLite: a fresh database each, 12 months
for `FINCARE_BENCH_DEMO_CUSTOMERS` customers (default 10,000); all rows written (staff, customers, tickets,
clocks, events, messages, decisions, follow-ups, surveys, audit…) per second of `ensure_demo`.

The staff accounts are counted apart: each hashes its password with Argon2 (by design slow), a fixed
cost of about 24 hashes whatever the size.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from sqlalchemy import Engine, func, select

from benchmarks.database import postgres_database, sqlite_database
from fincare.platform.db import Base
from fincare.registry import load_models

CUSTOMERS = int(os.environ.get("FINCARE_BENCH_DEMO_CUSTOMERS", "10000"))
MONTHS = 12
REFERENCE = {"department", "complaint_code", "alembic_version", "sla_policy", "survey_template", "survey_policy",
             "measure", "kpi_definition", "audit_chain_head"}


def _rows(engine: Engine) -> dict[str, int]:
    counts = {}
    with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            if table.name not in REFERENCE:
                n = int(connection.execute(select(func.count()).select_from(table)).scalar_one())
                if n:
                    counts[table.name] = n
    return counts


def measure(backend: str, engine: Engine) -> dict[str, Any]:
    from fincare.demo import ensure_demo

    before = sum(_rows(engine).values())
    marks: dict[str, float] = {}

    def progress(what: str, done: int, total: int) -> None:
        marks.setdefault("customers" if what == "customers" else "history", time.perf_counter())

    started = time.perf_counter()
    ensure_demo(customers=CUSTOMERS, months=MONTHS, seed=7, progress=progress)
    seconds = time.perf_counter() - started
    counts = _rows(engine)
    rows = sum(counts.values()) - before
    staff_seconds = marks.get("customers", started) - started
    generated = seconds - staff_seconds
    started = time.perf_counter()
    ensure_demo(customers=CUSTOMERS, months=MONTHS, seed=7)
    reuse_seconds = time.perf_counter() - started
    return {"backend": backend, "rows": rows, "seconds": round(seconds, 1), "rows_per_s": round(rows / seconds),
            "staff_seconds": round(staff_seconds, 1),
            "rows_per_s_without_staff": round(rows / generated) if generated > 0 else None,
            "customers_seconds": round(marks.get("history", started) - marks.get("customers", started), 1),
            "reuse_seconds": round(reuse_seconds, 2), "tickets": counts.get("ticket", 0),
            "by_table": counts}


def run() -> dict[str, Any]:
    load_models()
    results: dict[str, Any] = {"scenario": "demo_generator", "customers": CUSTOMERS, "months": MONTHS}
    with postgres_database() as engine:
        results["postgresql"] = measure("postgresql", engine)
    with sqlite_database() as engine:
        results["sqlite"] = measure("sqlite", engine)
    return results


if __name__ == "__main__":
    print(json.dumps(run(), ensure_ascii=False))
