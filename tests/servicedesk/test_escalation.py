"""Breaches are escalated exactly once: the priority raised, the breach on the timeline, the supervisors
told — with two workers racing on PostgreSQL, and after a worker is killed in the middle of a sweep."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from fincare.platform import clock, jobs
from fincare.platform.db import reset_after_fork, unit_of_work
from fincare.platform.jobs import Worker
from fincare.platform.notify import Notification
from fincare.platform.permissions import Role
from fincare.servicedesk.models import Ticket, TicketEvent
from fincare.sla import service as sla_service
from tests.factories.accounts import Staff, make_staff
from tests.factories.customers import make_customer
from tests.factories.tickets import open_ticket

START = datetime(2026, 10, 12, 9, 30, tzinfo=UTC)


def drain(*workers: Worker) -> None:
    """Run schedules and jobs until nothing is left, the workers taking turns in threads."""
    def work(worker: Worker) -> None:
        worker.run_schedules()
        while worker.run_once() > 0:
            pass

    threads = [threading.Thread(target=work, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def escalations() -> dict[int, int]:
    with unit_of_work(read_only=True) as session:
        rows = session.execute(select(TicketEvent.ticket_id, func.count()).where(TicketEvent.kind == "sla_breached")
                               .group_by(TicketEvent.ticket_id)).all()
    return {int(ticket_id): int(n) for ticket_id, n in rows}


def tickets() -> list[Ticket]:
    with unit_of_work(read_only=True) as session:
        return list(session.execute(select(Ticket).order_by(Ticket.id)).scalars())


def inbox_of(staff: Staff) -> list[Notification]:
    with unit_of_work(read_only=True) as session:
        return list(session.execute(select(Notification).where(Notification.recipient_id == staff.id)).scalars())


def open_consultations(n: int, agent: Staff) -> None:
    customer_id = make_customer().id
    actor = _principal(agent)
    for _ in range(n):
        open_ticket(actor, customer_id=customer_id)


def _principal(staff: Staff) -> Any:
    from fincare.platform.accounts import service

    with unit_of_work(read_only=True) as session:
        account = service.get_account(session, staff.id)
        assert account is not None
        return service.principal_of(account)


def test_a_breach_raises_the_priority_records_it_and_tells_the_supervisor_once(
        db: Engine, agent_li: Staff, supervisor_wang: Staff) -> None:
    with clock.frozen(START) as frozen:
        open_consultations(1, agent_li)
        frozen.advance(timedelta(minutes=4, seconds=1))  # 80 % of 5 minutes: a warning first
        drain(Worker(name="w1"))
        assert [n.kind for n in inbox_of(agent_li)] == ["sla_warned"]
        frozen.advance(timedelta(minutes=1))
        drain(Worker(name="w1"))
        frozen.advance(timedelta(minutes=1))
        drain(Worker(name="w1"))  # a second sweep and job run change nothing
    (ticket,) = tickets()
    assert ticket.priority == "high" and ticket.breached
    assert escalations() == {ticket.id: 1}
    (note,) = inbox_of(supervisor_wang)
    assert note.kind == "sla_breached" and note.params["reference"] == ticket.reference
    assert note.link == f"/tickets/{ticket.id}"


def test_two_workers_on_postgresql_escalate_each_breach_exactly_once(
        db: Engine, agent_li: Staff, supervisor_wang: Staff) -> None:
    if db.dialect.name != "postgresql":
        pytest.skip("concurrent workers are a PostgreSQL deployment")
    with clock.frozen(START) as frozen:
        open_consultations(150, agent_li)
        frozen.advance(timedelta(minutes=6))
        drain(Worker(name="w1", batch=10), Worker(name="w2", batch=10))
    assert sorted(escalations().values()) == [1] * 150
    assert {t.priority for t in tickets()} == {"high"}
    assert len(inbox_of(supervisor_wang)) == 150


def _doomed_sweep(started: Any) -> None:  # runs in a forked child; never returns
    reset_after_fork()
    real_enqueue_many = jobs.enqueue_many

    def hang_on_breaches(session: Any, event: str, *args: Any, **kwargs: Any) -> int:
        if event == "sla.clock_breached":  # the breaches are marked but not committed: hang until killed
            started.set()
            time.sleep(3600)
        return real_enqueue_many(session, event, *args, **kwargs)

    jobs.enqueue_many = hang_on_breaches  # the sweep looks it up on the module at each call
    with unit_of_work() as session:
        sla_service.sweep(session)


def test_a_worker_killed_mid_sweep_leaves_no_breach_lost_or_doubled(db: Engine, agent_li: Staff,
                                                                   supervisor_wang: Staff) -> None:
    with clock.frozen(START) as frozen:
        open_consultations(8, agent_li)
        frozen.advance(timedelta(minutes=6))
        started = multiprocessing.get_context("fork").Event()
        child = multiprocessing.get_context("fork").Process(target=_doomed_sweep, args=(started,))
        child.start()
        assert started.wait(60), "the doomed sweep never got going"
        os.kill(child.pid or 0, signal.SIGKILL)
        child.join()
        assert escalations() == {}  # what the killed sweep did was never committed
        drain(Worker(name="w1"), Worker(name="w2"))
        drain(Worker(name="w1"))
    assert sorted(escalations().values()) == [1] * 8
    assert len(inbox_of(supervisor_wang)) == 8


def test_the_supervisor_of_the_assignee_s_department_is_the_one_told(db: Engine, agent_li: Staff) -> None:
    desk_supervisor = make_staff("supervisor_wang", Role.SUPERVISOR)  # customer service, like agent_li
    elsewhere = make_staff("supervisor_qian", Role.SUPERVISOR, department="marketing")
    with clock.frozen(START) as frozen:
        open_consultations(1, agent_li)
        frozen.advance(timedelta(minutes=6))
        drain(Worker(name="w1"))
    assert len(inbox_of(desk_supervisor)) == 1 and inbox_of(elsewhere) == []
    with unit_of_work(read_only=True) as session:
        assert session.execute(select(func.count()).select_from(Notification)).scalar_one() == 2  # + the warning


def test_the_supervisor_reads_the_breach_in_their_inbox_and_nobody_else_s(client, agent_li: Staff,  # type: ignore[no-untyped-def]
                                                                          supervisor_wang: Staff) -> None:
    with clock.frozen(START) as frozen:
        open_consultations(1, agent_li)
        frozen.advance(timedelta(minutes=6))
        drain(Worker(name="w1"))
    (ticket,) = tickets()
    mine = client.get("/api/v1/notifications?unread=true", headers=supervisor_wang.headers).json()
    assert [(n["kind"], n["params"]["reference"], n["link"]) for n in mine] == [
        ("sla_breached", ticket.reference, f"/tickets/{ticket.id}")]
    assert [n["kind"] for n in client.get("/api/v1/notifications", headers=agent_li.headers).json()] == [
        "sla_warned"]  # the agent's own warning, never the supervisor's breach
    assert client.get("/api/v1/notifications").status_code == 401
    assert client.post("/api/v1/notifications/read", json={"ids": [mine[0]["id"]]},
                       headers=agent_li.headers).json() == {"marked": 0}  # not theirs to mark
    assert client.post("/api/v1/notifications/read", json={}, headers=supervisor_wang.headers).json() == {
        "marked": 1}
    assert client.get("/api/v1/notifications?unread=true", headers=supervisor_wang.headers).json() == []


def test_the_inbox_page_shows_the_breach_in_chinese(client, agent_li: Staff,  # type: ignore[no-untyped-def]
                                                   supervisor_wang: Staff) -> None:
    from tests.console import post_form, sign_in

    with clock.frozen(START) as frozen:
        open_consultations(1, agent_li)
        frozen.advance(timedelta(minutes=6))
        drain(Worker(name="w1"))
    (ticket,) = tickets()
    sign_in(client, "supervisor_wang", english=False)
    page = client.get("/notifications").text
    assert f"工单 {ticket.reference} 已超出服务时限" in page and "1 条未读" in page
    assert post_form(client, "/notifications/read", {}, page="/notifications").status_code == 303
    assert "0 条未读" in client.get("/notifications").text
