"""Ticket intake under load, in one run on one PostgreSQL server: FinCare, django-helpdesk 2.6.1, and pgbench.

FinCare: `fincare serve --workers 2` on a fresh database; 16 keep-alive connections (wrk) POST
/api/v1/tickets for `FINCARE_BENCH_SECONDS` (default 20) — each request validates, starts its
clocks, writes the ticket, its clock and timeline events and its audit entry in one transaction.
The peer: django-helpdesk's REST API (`benchmarks/peers/`), gunicorn with 2 workers, same load.
Both servers run side by side and take turns, `ROUNDS` loads each (FinCare, peer, peer, FinCare:
a steady drift favours neither): this machine's speed drifts by up to 2x within minutes, and one
load each, one after the other, gave ratios from 5.6x to 15.9x for the same code. Before each load
both databases are vacuumed and PostgreSQL checkpoints, so the background work one side's writes
leave behind does not land in the other's turn. Each side's rate adds up its rounds (requests
over seconds); its p50, p99 and max are the highest of its rounds'. The physical limit: pgbench, 16
clients, one single-row INSERT per transaction, same database server. Every request body differs
(`{{n}}`, and a prefix per round), and the tickets created are counted afterwards. The first load
of each server is preceded by 3 s of the same load that is not counted (first requests of each
server process, for FinCare and the peer alike), before the first vacuum (see `settle`).
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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
from sqlalchemy import func, select

from benchmarks.database import postgres_database, postgres_version
from benchmarks.load import post_load
from benchmarks.peers.django_helpdesk import helpdesk_server, peer_dsn, ticket_count
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
ROUNDS = 2
CONNECTIONS = 16
WORKERS = 2
BODY = ('{"kind": "consultation", "channel": "phone", "customer_id": %d, "subject": "信用卡年费咨询 {{n}}",'
        ' "description": "客户询问白金卡年费减免政策，请求编号 {{n}}。"}')


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Target:
    """A server under load: POST `body` (each `{{n}}` made unique) to `url` with `headers`; its
    rows go to the database at `dsn`."""

    url: str
    headers: dict[str, str]
    body: str
    dsn: str


@contextmanager
def fincare_server(url: str) -> Iterator[Target]:
    """Seed an agent and a customer, serve with `fincare serve --workers 2`; stopped afterwards."""
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
        yield Target(f"{base}/api/v1/tickets", {"Authorization": f"Bearer {token}",
                                                "Content-Type": "application/json"}, BODY % customer_id,
                     url.replace("postgresql+psycopg://", "postgresql://", 1))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def combined(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """One side's rounds as one figure: requests over seconds; each latency the highest of the rounds'."""
    requests, seconds = sum(r["requests"] for r in rounds), sum(r["duration_s"] for r in rounds)
    return {"requests_per_s": round(requests / seconds, 1) if seconds else 0.0,
            "p50_ms": max(r["p50_ms"] for r in rounds), "p99_ms": max(r["p99_ms"] for r in rounds),
            "max_ms": max(r["max_ms"] for r in rounds), "errors": sum(r["errors"] for r in rounds),
            "requests": requests, "non_2xx": sum(r["non_2xx"] for r in rounds),
            "socket_errors": sum(r["socket_errors"] for r in rounds), "connections": CONNECTIONS,
            "duration_s": round(seconds, 2), "warm_up_requests": rounds[0].get("warm_up_requests", 0),
            "rounds": [{k: r[k] for k in ("requests_per_s", "p50_ms", "p99_ms")} for r in rounds]}


def settle(targets: list[Target]) -> None:
    """Vacuum every target's database and checkpoint: what the last load left to do is done now.

    Only after the warm-up: PostgreSQL plans a foreign-key check once per connection and keeps the
    plan until the table's statistics change. Analysed empty, a table looks cheaper to scan than its
    primary key; each new ticket's events then scanned every ticket (one round: 17,938 scans reading
    160 million rows), a cost that grows with the table until autovacuum analyses it again."""
    for target in targets:
        with psycopg.connect(target.dsn, autocommit=True) as connection:
            connection.execute("VACUUM (ANALYZE)")
    with psycopg.connect(targets[0].dsn, autocommit=True) as connection:
        connection.execute("CHECKPOINT")


def take_turns(targets: list[Target]) -> list[dict[str, Any]]:
    """`ROUNDS` loads of each target, in turn, every other round in reverse order; each target's
    rounds combined, in the order of `targets`. Every target is warmed up first, before the first
    `settle`: statistics gathered from empty tables would plan each foreign-key check of the first
    round as a scan of the whole referenced table (see `settle`)."""
    warm_ups = [post_load(target.url, headers=target.headers, body=target.body.replace("{{n}}", "w{{n}}"),
                          connections=CONNECTIONS, duration_s=WARM_UP_SECONDS)["requests"] for target in targets]
    rounds: list[list[dict[str, Any]]] = [[] for _ in targets]
    turns = list(zip(targets, rounds, strict=True))
    for n in range(ROUNDS):
        for target, done in turns if n % 2 == 0 else reversed(turns):
            settle(targets)
            body = target.body.replace("{{n}}", f"r{n}-{{{{n}}}}")  # no request repeats an earlier round's
            done.append(post_load(target.url, headers=target.headers, body=body, connections=CONNECTIONS,
                                  duration_s=SECONDS))
    for done, warm_up in zip(rounds, warm_ups, strict=True):
        done[0]["warm_up_requests"] = warm_up
    return [combined(done) for done in rounds]


def run() -> dict[str, Any]:
    load_models()
    load_jobs()
    results: dict[str, Any] = {"scenario": "ticket_intake", "connections": CONNECTIONS, "seconds": SECONDS,
                               "rounds": ROUNDS, "server_workers": WORKERS, "goal_ratio_to_peer": 10,
                               "goal_p99_ms": 50}
    with postgres_database() as engine:
        url = engine.url.render_as_string(hide_password=False)
        results["postgresql"] = postgres_version(engine)
        with fincare_server(url) as fincare, helpdesk_server(workers=WORKERS) as peer:
            results["fincare"], results["django_helpdesk"] = take_turns(
                [fincare, Target(peer.url, peer.headers, peer.body, peer_dsn(peer.database))])
            results["django_helpdesk"]["tickets_created"] = ticket_count(peer.database)
        with unit_of_work(read_only=True) as session:
            results["fincare"]["tickets_created"] = session.execute(
                select(func.count()).select_from(Ticket)).scalar_one()
        results["pgbench_insert"] = insert_tps(url, clients=CONNECTIONS, duration_s=SECONDS)
    fincare, peer_rps = results["fincare"], results["django_helpdesk"]["requests_per_s"]
    results["ratio_to_peer"] = round(fincare["requests_per_s"] / peer_rps, 1) if peer_rps else None
    results["share_of_pgbench_insert_tps"] = round(fincare["requests_per_s"] / results["pgbench_insert"]["tps"], 3)
    return results


if __name__ == "__main__":
    print(json.dumps(run(), ensure_ascii=False))
