"""The supervisor board in a real browser: a supervisor signs in, approves a handler's request for more
time on a complaint and hands a breached ticket to a colleague — and the database says so."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine, select

from fincare.platform import clock
from fincare.platform.db import unit_of_work
from fincare.platform.jobs import Worker
from fincare.platform.permissions import Role
from fincare.servicedesk import service
from fincare.servicedesk.models import ExtensionRequest, Ticket
from fincare.sla.models import Clock, Target
from tests.e2e.test_console import sign_in
from tests.e2e.test_workspace import principal_of
from tests.factories.accounts import PASSWORD, make_staff
from tests.factories.tickets import open_ticket

pytestmark = pytest.mark.e2e

RESULTS = Path(__file__).resolve().parents[2] / "test-results"


def drain() -> None:
    """Sweep the clocks and run the escalation jobs (which mark a ticket breached)."""
    worker = Worker(name="e2e")
    worker.run_schedules()
    while worker.run_once() > 0:
        pass


def test_a_supervisor_approves_an_extension_and_reassigns_a_breached_ticket(page: Page, db: Engine) -> None:
    make_staff("supervisor_wang", Role.SUPERVISOR)
    make_staff("agent_li", Role.AGENT)
    zhou = make_staff("agent_zhou", Role.AGENT)
    make_staff("specialist_chen", Role.COMPLAINT_SPECIALIST)
    chen = principal_of("specialist_chen")
    complaint = open_ticket(chen, kind="complaint", subject="理财收益投诉")
    with unit_of_work() as session:
        loaded = service.access_ticket(session, complaint.id, chen, for_write=True)
        request_id = service.request_extension(session, actor=chen, ticket=loaded, reason="需调取外部机构证据").id
    with clock.frozen(datetime.now(UTC) - timedelta(minutes=10)):  # taken in 10 minutes ago: 5 minutes late
        late = open_ticket(principal_of("agent_li"), subject="信用卡年费咨询")
    drain()

    page.goto("/login")
    sign_in(page, "supervisor_wang", PASSWORD)
    with page.expect_navigation():
        page.locator('nav.sidenav a[href="/board"]').click()
    expect(page).to_have_url(re.compile(r"/board$"))
    row = page.locator(f'[data-testid=breached-row][data-ticket="{late.id}"]')
    expect(row.locator("[data-testid=ticket-link]")).to_have_text(late.reference)
    expect(row.locator("[data-testid=assignee]")).to_have_text("agent_li")
    expect(row.locator("[data-testid=countdown]")).to_have_text(re.compile(r"^-00:0\d:\d{2}$"))  # live, overdue
    expect(page.locator("[data-testid=extension-row]")).to_have_count(1)

    RESULTS.mkdir(exist_ok=True)
    page.screenshot(path=str(RESULTS / "e2e-board.png"), full_page=True)

    with page.expect_navigation():
        page.locator(f'[data-testid="extension-{request_id}"] [data-testid=approve]').click()
    expect(page).to_have_url(re.compile(r"/board$"))
    expect(page.locator("[data-testid=extension-row]")).to_have_count(0)

    form = page.locator(f'[data-testid="reassign-{late.id}"]')
    form.locator('select[name="assignee_id"]').select_option(str(zhou.id))
    form.locator('input[name="reason"]').fill("李专员超时未响应，转周专员")
    with page.expect_navigation():
        form.locator("[data-testid=reassign]").click()
    expect(page).to_have_url(re.compile(r"/board$"))
    expect(page.locator(f'[data-testid=breached-row][data-ticket="{late.id}"] [data-testid=assignee]')).to_have_text(
        "agent_zhou")

    with unit_of_work(read_only=True) as session:
        request = session.get(ExtensionRequest, request_id)
        assert request is not None and request.status == "approved" and request.decided_at is not None
        statutory = session.execute(select(Clock).where(Clock.subject_type == "ticket",
                                                        Clock.subject_id == complaint.id,
                                                        Clock.target == Target.STATUTORY)).scalar_one()
        assert statutory.extensions == 1
        ticket = session.get(Ticket, late.id)
        assert ticket is not None and ticket.assignee_id == zhou.id and ticket.breached
        assert [e.kind for e in service.list_events(session, late.id)][-1] == "assigned"
