"""The service desk at 1,000,000 open tickets on PostgreSQL: the breach sweep with 1,000 clocks due, and an
agent's queue page.

Tickets and their clocks are seeded set-based (`generate_series`), spread over 200 agents, due times
spread over the next 30 days; 1,000 clocks are past due (and already warned). The sweep is measured
in a transaction that is rolled back, so every repetition finds the same 1,000 breaches; the plan
of its query is recorded. The queue page is the console's `/tickets` for one agent, timed in-process
(server time, no network). `FINCARE_BENCH_TICKETS` sets the number of tickets.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from benchmarks.database import postgres_database, postgres_version
from fincare.platform.accounts import service as accounts
from fincare.platform.db import unit_of_work
from fincare.platform.permissions import SYSTEM, Role
from fincare.registry import load_jobs, load_models
from fincare.sla import service as sla

TICKETS = int(os.environ.get("FINCARE_BENCH_TICKETS", "1000000"))
DUE = 1000
AGENTS = 200
CUSTOMERS = 10_000
SWEEPS = 15
PAGE_LOADS = 200
NOW = datetime(2026, 11, 23, 10, tzinfo=UTC)


def seed(engine: Engine) -> list[int]:
    """Agents, customers (masks only: the sweep and the queue never read personal data), tickets, clocks."""
    with unit_of_work() as session:
        sla.ensure_default_policies(session)
        agent_ids = [accounts.create_account(session, actor=SYSTEM, username=f"agent_{n:03d}", roles=[Role.AGENT],
                                             department_code="customer_service",
                                             password=accounts.generate_password()).account.id
                     for n in range(AGENTS)]
        session.execute(text("UPDATE staff_account SET must_change_password = false"))
    now = NOW.isoformat()
    statements = [
        f"""INSERT INTO customer (uid, kind, status, key_version, name_mask, phone_mask, service_lines, tags,
                                  created_at, updated_at)
            SELECT decode(md5(i::text), 'hex'), 'individual', 'active', 1, '张*' || (i % 10), '138****' ||
                   lpad((i % 10000)::text, 4, '0'), '[]', '[]', '{now}', '{now}'
            FROM generate_series(1, {CUSTOMERS}) AS i""",
        # ticket i: agent i % AGENTS; the first DUE tickets are past due, the rest due within 30 days
        f"""INSERT INTO ticket (id, reference, kind, channel, status, priority, risk_grade, regulator_transfer,
                                customer_id, subject, description, assignee_id, created_by_id, received_at,
                                next_due_at, breached, created_at, updated_at)
            SELECT i, 'ZX-2026-' || lpad(i::text, 7, '0'), 'consultation', 'phone', 'open', 'normal', NULL, false,
                   1 + i % {CUSTOMERS}, '信用卡年费咨询 ' || i, '客户询问白金卡年费减免政策。',
                   {agent_ids[0]} + i % {AGENTS}, {agent_ids[0]} + i % {AGENTS},
                   '{now}'::timestamptz - interval '1 hour',
                   CASE WHEN i <= {DUE} THEN '{now}'::timestamptz - (i || ' seconds')::interval
                        ELSE '{now}'::timestamptz + ((i * 2.592) || ' seconds')::interval END,
                   false, '{now}', '{now}'
            FROM generate_series(1, {TICKETS}) AS i""",
        f"""INSERT INTO sla_clock (subject_type, subject_id, target, policy_id, calendar, budget_seconds,
                                   paused_seconds, started_at, due_at, warn_at, state, warned_at, extensions)
            SELECT 'ticket', id, 'first_response', 1, '24x7', 300, 0, received_at, next_due_at,
                   next_due_at - interval '1 minute', 'running',
                   CASE WHEN next_due_at <= '{now}'::timestamptz + interval '1 minute' THEN received_at END, 0
            FROM ticket""",
        "SELECT setval(pg_get_serial_sequence('ticket', 'id'), (SELECT max(id) FROM ticket))",
        "VACUUM ANALYZE customer",
        "VACUUM ANALYZE ticket",
        "VACUUM ANALYZE sla_clock",
    ]
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for statement in statements:
            connection.execute(text(statement))
    return agent_ids


def measure_sweep(engine: Engine) -> dict[str, Any]:
    timings = []
    for _ in range(SWEEPS):
        with unit_of_work() as session:
            started = time.perf_counter()
            result = sla.sweep(session, now=NOW, limit=DUE)
            session.flush()
            timings.append((time.perf_counter() - started) * 1000)
            session.rollback()  # the same 1,000 clocks are due again for the next round
        assert result.breached == DUE, result
    with engine.connect() as connection:
        plan = [row[0] for row in connection.execute(text(
            "EXPLAIN SELECT id FROM sla_clock WHERE state = 'running' AND due_at <= :now "
            "ORDER BY due_at LIMIT 1000 FOR UPDATE SKIP LOCKED"), {"now": NOW})]
    return {"sweep_ms_p50": round(statistics.median(timings), 1), "sweep_ms_max": round(max(timings), 1),
            "sweep_breaches": DUE, "sweep_plan": plan,
            "sweep_uses_index": any("ix_sla_clock_due" in line for line in plan)}


def measure_queue(agent_id: int) -> dict[str, Any]:
    from fincare.app import create_app
    from fincare.platform.http import SESSION_COOKIE

    with unit_of_work() as session:
        account = accounts.get_account(session, agent_id)
        assert account is not None
        web = accounts.start_session(session, account=account, source_ip="127.0.0.1")  # agents need no 2FA
        assert web.session.second_factor_done
    client = TestClient(create_app())
    client.cookies.set(SESSION_COOKIE, web.token)
    timings = []
    for n in range(PAGE_LOADS + 20):
        started = time.perf_counter()
        response = client.get("/tickets")
        elapsed = (time.perf_counter() - started) * 1000
        assert response.status_code == 200, response.status_code
        if n >= 20:  # warm-up
            timings.append(elapsed)
    timings.sort()
    return {"queue_page_ms_p50": round(statistics.median(timings), 1),
            "queue_page_ms_p99": round(timings[int(len(timings) * 0.99) - 1], 1),
            "queue_tickets_of_agent": TICKETS // AGENTS}


def run() -> dict[str, Any]:
    load_models()
    load_jobs()
    results: dict[str, Any] = {"scenario": "servicedesk_scale", "tickets": TICKETS, "goal_sweep_ms": 50,
                               "goal_queue_page_p99_ms": 100}
    with postgres_database() as engine:
        results["postgresql"] = postgres_version(engine)
        started = time.perf_counter()
        agents = seed(engine)
        results["seed_seconds"] = round(time.perf_counter() - started, 1)
        results.update(measure_sweep(engine))
        results.update(measure_queue(agents[1]))
    return results


if __name__ == "__main__":
    print(json.dumps(run(), ensure_ascii=False))
