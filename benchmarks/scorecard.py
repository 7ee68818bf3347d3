"""The scorecard at scale: one month's KPIs over 1,000,000 tickets (a year of them, with their clocks,
survey invitations and answers, and follow-ups) on PostgreSQL and on SQLite, and the dashboard page's
server time.

Rows are generated deterministically in Python and written set-wise (Core executemany). The month
measured is 2026-10 (about 1/12 of the tickets). Each KPI is computed from the records — no snapshot
is read — and the whole catalogue's time is reported beside a plain `count(*)` of the month's tickets
(the cheapest honest query over the same rows) as the baseline. `FINCARE_BENCH_TICKETS` sets the size.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select, text

from benchmarks.database import postgres_database, postgres_version, sqlite_database
from fincare.customers.models import Customer
from fincare.followups.models import FollowUp, SurveyInvitation, SurveyResponse
from fincare.followups.service import ensure_default_surveys
from fincare.platform.accounts import service as accounts
from fincare.platform.db import unit_of_work
from fincare.platform.permissions import SYSTEM, Role
from fincare.registry import load_jobs, load_models
from fincare.scorecard import periods, service
from fincare.servicedesk.models import Ticket
from fincare.sla import service as sla
from fincare.sla.models import Clock

TICKETS = int(os.environ.get("FINCARE_BENCH_TICKETS", "1000000"))
CUSTOMERS = 50_000
START = datetime(2025, 12, 1, tzinfo=UTC)
YEAR = timedelta(days=365)
MONTH = "2026-10"
ROUNDS = 5
PAGE_LOADS = 30
BATCH = 20_000
CHANNELS = ("phone", "app", "online_chat", "wechat", "web", "branch", "email")


def _batches(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _kind(i: int) -> str:
    n = i % 100
    return "consultation" if n < 70 else "complaint" if n < 88 else "feedback"


def _tickets() -> Iterator[dict[str, Any]]:
    step = YEAR / TICKETS
    for i in range(1, TICKETS + 1):
        received = START + step * i
        kind = _kind(i)
        yield {"id": i, "reference": f"{'ZX' if kind == 'consultation' else 'TS' if kind == 'complaint' else 'FK'}"
                                     f"-2026-{i:07d}", "kind": kind, "channel": CHANNELS[i % 7], "status": "closed",
               "priority": "normal", "risk_grade": ("low", "low", "medium", "high")[i % 4] if kind == "complaint"
               else None, "regulator_transfer": False, "customer_id": 1 + i % CUSTOMERS, "subject": f"bench {i}",
               "description": "bench", "received_at": received, "first_response_at": received, "resolved_at": received,
               "closed_at": received, "next_due_at": None, "breached": False, "repeat_complainant": False,
               "created_at": received, "updated_at": received}


def _clock(i: int, target: str, received: datetime, budget: int, met_after: float) -> dict[str, Any]:
    due, met = received + timedelta(seconds=budget), received + timedelta(seconds=met_after)
    return {"subject_type": "ticket", "subject_id": i, "target": target, "policy_id": None, "calendar": "24x7",
            "budget_seconds": budget, "paused_seconds": 0, "started_at": received, "due_at": due,
            "warn_at": received + timedelta(seconds=budget * 0.8), "state": "met" if met <= due else "breached",
            "breached_at": None if met <= due else due, "met_at": met, "extensions": 0}


def _clocks() -> Iterator[dict[str, Any]]:
    step = YEAR / TICKETS
    for i in range(1, TICKETS + 1):
        received, kind = START + step * i, _kind(i)
        if kind == "consultation":
            yield _clock(i, "first_response", received, 300, (i * 7919) % 420)
        elif kind == "complaint":
            yield _clock(i, "feedback", received, 86400, ((i * 7919) % 30) * 3600)
            yield _clock(i, "statutory", received, 15 * 86400, ((i * 104729) % 17) * 86400)
        else:
            yield _clock(i, "resolution", received, 48 * 3600, ((i * 7919) % 55) * 3600)


def _surveys() -> Iterator[tuple[dict[str, Any], dict[str, Any] | None]]:
    step = YEAR / TICKETS
    for i in range(1, TICKETS + 1, 3):  # a third of the tickets are surveyed
        sent = START + step * i + timedelta(hours=1)
        answered = i % 9 == 1  # about a third of those answer
        invitation = {"id": i, "source_key": f"resolution-{i}", "template_id": 1, "trigger": _kind(i),
                      "customer_id": 1 + i % CUSTOMERS, "ticket_id": i, "follow_up_id": None, "agent_id": None,
                      "channel": "email", "language": "zh-CN", "nonce": f"n{i}",
                      "status": "answered" if answered else "sent", "sent_at": sent,
                      "expires_at": sent + timedelta(days=14), "reminded_at": None,
                      "answered_at": sent + timedelta(hours=3) if answered else None}
        csat = (5, 5, 4, 5, 4, 3, 5, 4, 2, 5)[i % 10]
        response = {"invitation_id": i, "submitted_at": sent + timedelta(hours=3), "csat": csat,
                    "nps": (10, 9, 8, 10, 7, 5, 9, 8, 3, 10)[i % 10], "answers": {"csat": csat}, "comment": None} \
            if answered else None
        yield invitation, response


def _follow_ups() -> Iterator[dict[str, Any]]:
    step = YEAR / TICKETS
    outcomes = ("reached_satisfied",) * 7 + ("reached_dissatisfied", "unreachable", "refused")
    for i in range(1, TICKETS + 1):
        if _kind(i) != "complaint":
            continue
        closed = START + step * i + timedelta(days=2)
        yield {"kind": "complaint", "source_key": f"ticket-resolved-{i}", "customer_id": 1 + i % CUSTOMERS,
               "ticket_id": i, "status": "closed", "outcome": outcomes[i % 10], "attempts": 1, "due_at": closed,
               "created_at": closed, "closed_at": closed}


def seed() -> dict[str, int]:
    now = START
    counts = {"customers": CUSTOMERS, "tickets": TICKETS, "clocks": 0, "invitations": 0, "responses": 0,
              "follow_ups": 0}
    with unit_of_work() as session:
        sla.ensure_default_policies(session)
        ensure_default_surveys(session)
        accounts.create_account(session, actor=SYSTEM, username="exec_bench", roles=[Role.EXECUTIVE],
                                department_code="management", password=accounts.generate_password())
        session.execute(insert(Customer), [
            {"uid": i.to_bytes(16, "big"), "kind": "individual", "status": "active", "key_version": 1,
             "name_mask": "张*明", "service_lines": [], "tags": [], "created_at": now, "updated_at": now,
             "language": "zh-CN"} for i in range(1, CUSTOMERS + 1)])
    for batch in _batches(_tickets()):
        with unit_of_work() as session:
            session.execute(insert(Ticket), batch)
    for batch in _batches(_clocks()):
        with unit_of_work() as session:
            session.execute(insert(Clock), batch)
        counts["clocks"] += len(batch)
    pairs = list(_surveys())
    for start in range(0, len(pairs), BATCH):
        chunk = pairs[start:start + BATCH]
        with unit_of_work() as session:
            session.execute(insert(SurveyInvitation), [p[0] for p in chunk])
            answers = [p[1] for p in chunk if p[1] is not None]
            if answers:
                session.execute(insert(SurveyResponse), answers)
        counts["invitations"] += len(chunk)
        counts["responses"] += sum(1 for p in chunk if p[1] is not None)
    for batch in _batches(_follow_ups()):
        with unit_of_work() as session:
            session.execute(insert(FollowUp), batch)
        counts["follow_ups"] += len(batch)
    return counts


def measure_scorecard() -> dict[str, Any]:
    period = periods.parse(MONTH)
    timings, baseline = [], []
    computed = 0
    for _ in range(ROUNDS):
        with unit_of_work(read_only=True) as session:
            started = time.perf_counter()
            session.execute(select(func.count()).select_from(Ticket).where(
                Ticket.received_at >= period.since, Ticket.received_at < period.until)).scalar_one()
            baseline.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            figures = [service.compute(session, kpi, period) for kpi in service.CATALOGUE]
            timings.append((time.perf_counter() - started) * 1000)
            computed = sum(1 for f in figures if f.actual is not None)
    ms, base = statistics.median(timings), statistics.median(baseline)
    return {"scorecard_month_ms_p50": round(ms, 1), "scorecard_month_ms_max": round(max(timings), 1),
            "kpis_computed": computed, "baseline_count_month_ms": round(base, 1),
            "ratio_to_count": round(ms / base, 1) if base else None}


def measure_dashboard() -> dict[str, Any]:
    from fincare.app import create_app
    from fincare.platform.http import SESSION_COOKIE

    app = create_app()
    if not any(getattr(r, "path", None) == "/dashboard" for r in app.routes):
        return {"dashboard_ms_p50": None, "dashboard_note": "no /dashboard route in this build"}
    with unit_of_work() as session:
        account = accounts.get_account_by_username(session, "exec_bench")
        assert account is not None
        account.must_change_password = False
        web = accounts.start_session(session, account=account, source_ip="127.0.0.1")
    client = TestClient(app)
    client.cookies.set(SESSION_COOKIE, web.token)
    timings = []
    for n in range(PAGE_LOADS + 3):
        started = time.perf_counter()
        response = client.get(f"/dashboard?period={MONTH}")
        elapsed = (time.perf_counter() - started) * 1000
        assert response.status_code == 200, response.status_code
        if n >= 3:
            timings.append(elapsed)
    timings.sort()
    return {"dashboard_ms_p50": round(statistics.median(timings), 1),
            "dashboard_ms_p95": round(timings[int(len(timings) * 0.95) - 1], 1)}


def _run_on(backend: str) -> dict[str, Any]:
    started = time.perf_counter()
    counts = seed()
    result: dict[str, Any] = {"backend": backend, "seed_seconds": round(time.perf_counter() - started, 1), **counts}
    result.update(measure_scorecard())
    result.update(measure_dashboard())
    return result


def run() -> dict[str, Any]:
    load_models()
    load_jobs()
    results: dict[str, Any] = {"scenario": "scorecard", "tickets": TICKETS, "month": MONTH,
                               "goal_postgresql_ms": 1000, "goal_sqlite_ms": 2000, "goal_dashboard_ms": 500}
    with postgres_database() as engine:
        results["postgresql_version"] = postgres_version(engine)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("SET maintenance_work_mem = '256MB'"))
        results["postgresql"] = _run_on("postgresql")
    with sqlite_database():
        results["sqlite"] = _run_on("sqlite")
    return results


if __name__ == "__main__":
    print(json.dumps(run(), ensure_ascii=False))
