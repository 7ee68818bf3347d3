"""Ticket intake under load, in one run on one PostgreSQL server: FinCare, django-helpdesk 2.6.1, and pgbench.

FinCare: `fincare serve --workers 2` on a fresh database; 16 keep-alive connections (wrk) POST
/api/v1/tickets for `FINCARE_BENCH_SECONDS` (default 20) — each request validates, starts its
clocks, writes the ticket, its clock and timeline events and its audit entry in one transaction.
The peer: django-helpdesk's REST API (`benchmarks/peers/`), gunicorn with 2 workers, same load.
The physical limit: pgbench, 16 clients, one single-row INSERT per transaction, same database
server. Every request body differs (`{{n}}`), and the tickets created are counted afterwards. Each
HTTP load is preceded by 3 s of the same load that is not counted (first requests of each server
process, for FinCare and the peer alike).
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from typing import Any

import httpx
from sqlalchemy import func, select

from benchmarks.database import postgres_database, postgres_version
from benchmarks.load import post_load
from benchmarks.peers.django_helpdesk import helpdesk_server, ticket_count
from benchmarks.pgbench import insert_tps
from fincare.customers import service as customers
from fincare.demo.people import synthetic_customer
from fincare.platform.accounts import service as accounts
from fincare.platform.db import unit_of_work
from fincare.platform.permissions import SYSTEM, Role
from fincare.registry import load_jobs, load_models
from fincare.servicedesk.models import Ticket
from fincare.sla import service as sla

SECONDS = int(os.environ.get("FINCARE_BENCH_SECONDS", "20"))
WARM_UP_SECONDS = 3  # the same load first, not counted, for FinCare and the peer alike
CONNECTIONS = 16
WORKERS = 2
BODY = ('{"kind": "consultation", "channel": "phone", "customer_id": %d, "subject": "信用卡年费咨询 {{n}}",'
        ' "description": "客户询问白金卡年费减免政策，请求编号 {{n}}。"}')


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fincare_load(url: str) -> dict[str, Any]:
    """Seed an agent and a customer, serve with `fincare serve --workers 2`, load POST /api/v1/tickets."""
    with unit_of_work() as session:
        sla.ensure_default_policies(session)
        token = accounts.create_account(session, actor=SYSTEM, username="agent_bench", roles=[Role.AGENT],
                                        department_code="customer_service",
                                        password=accounts.generate_password()).api_token
        row = {k: v for k, v in synthetic_customer(random.Random(1), 1).items() if v}
        customer_id = customers.create_customer(session, actor=SYSTEM, data=customers.parse_customer(row)).id
    port = _free_port()
    env = {**os.environ, "FINCARE_DATABASE_URL": url, "FINCARE_MODE": "production", "FINCARE_LOG_JSON": "true"}
    server = subprocess.Popen([sys.executable, "-m", "fincare", "serve", "--port", str(port), "--workers",
                               str(WORKERS)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("fincare serve did not become ready")
            time.sleep(0.2)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        figures = post_load(f"{base}/api/v1/tickets", headers=headers, body=BODY % customer_id,
                            connections=CONNECTIONS, duration_s=SECONDS, warm_up_s=WARM_UP_SECONDS)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    with unit_of_work(read_only=True) as session:
        figures["tickets_created"] = session.execute(select(func.count()).select_from(Ticket)).scalar_one()
    return figures


def run() -> dict[str, Any]:
    load_models()
    load_jobs()
    results: dict[str, Any] = {"scenario": "ticket_intake", "connections": CONNECTIONS, "seconds": SECONDS,
                               "server_workers": WORKERS, "goal_ratio_to_peer": 10, "goal_p99_ms": 50}
    with postgres_database() as engine:
        url = engine.url.render_as_string(hide_password=False)
        results["postgresql"] = postgres_version(engine)
        results["fincare"] = fincare_load(url)
        results["pgbench_insert"] = insert_tps(url, clients=CONNECTIONS, duration_s=SECONDS)
    with helpdesk_server(workers=WORKERS) as peer:
        figures = post_load(peer.url, headers=peer.headers, body=peer.body, connections=CONNECTIONS,
                            duration_s=SECONDS, warm_up_s=WARM_UP_SECONDS)
        figures["tickets_created"] = ticket_count(peer.database)
        results["django_helpdesk"] = figures
    fincare, peer_rps = results["fincare"], results["django_helpdesk"]["requests_per_s"]
    results["ratio_to_peer"] = round(fincare["requests_per_s"] / peer_rps, 1) if peer_rps else None
    results["share_of_pgbench_insert_tps"] = round(fincare["requests_per_s"] / results["pgbench_insert"]["tps"], 3)
    return results


if __name__ == "__main__":
    print(json.dumps(run(), ensure_ascii=False))
