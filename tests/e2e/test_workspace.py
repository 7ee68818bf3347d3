"""The agent workspace in a real browser: the most urgent ticket first, a live countdown, reply, wait
for the customer (the countdown stops), resolve."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine

from fincare.platform import clock
from fincare.platform.accounts import service as accounts
from fincare.platform.db import unit_of_work
from fincare.platform.permissions import Principal, Role
from fincare.servicedesk.models import Ticket
from tests.e2e.test_console import sign_in
from tests.factories.accounts import PASSWORD, make_staff
from tests.factories.tickets import open_ticket

pytestmark = pytest.mark.e2e

RESULTS = Path(__file__).resolve().parents[2] / "test-results"
COUNTDOWN = re.compile(r"^\d{2}:\d{2}:\d{2}$")


def principal_of(username: str) -> Principal:
    with unit_of_work(read_only=True) as session:
        account = accounts.get_account_by_username(session, username)
        assert account is not None
        return accounts.principal_of(account)


def received(ago: timedelta, agent: Principal, **ticket: str) -> Ticket:
    """A ticket the agent took in `ago` (the clock set back while it is opened, as if it were then)."""
    with clock.frozen(datetime.now(UTC) - ago):
        return open_ticket(agent, **ticket)


def test_an_agent_works_the_most_urgent_ticket_from_reply_to_resolution(page: Page, db: Engine) -> None:
    make_staff("agent_li", Role.AGENT)
    li = principal_of("agent_li")
    received(timedelta(days=1), li, kind="feedback", subject="建议增加自助设备")
    received(timedelta(hours=2), li, kind="feedback", subject="网点排队时间过长")
    urgent = received(timedelta(minutes=3), li, subject="信用卡年费咨询")  # 5-minute clock: about 2 minutes left
    received(timedelta(0), li, subject="积分兑换咨询")  # newer, 5 minutes left

    page.goto("/login")
    sign_in(page, "agent_li", PASSWORD)
    page.locator('nav.sidenav a[href="/tickets"]').click()
    expect(page).to_have_url(re.compile(r"/tickets$"))
    first_row = page.locator("[data-testid=my-queue] tbody tr").first
    expect(page.locator("[data-testid=my-queue] tbody tr")).to_have_count(4)
    expect(first_row.locator("[data-testid=ticket-link]")).to_have_text(urgent.reference)
    expect(first_row.locator("[data-testid=countdown]")).to_have_text(re.compile(r"^00:0[0-2]:\d{2}$"))
    expect(first_row.locator(".overdue-badge")).to_be_hidden()  # not due yet: no red

    RESULTS.mkdir(exist_ok=True)
    page.screenshot(path=str(RESULTS / "e2e-queue.png"), full_page=True)

    with page.expect_navigation():
        first_row.locator("[data-testid=ticket-link]").click()
    expect(page).to_have_url(re.compile(rf"/tickets/{urgent.id}$"))
    expect(page.locator("[data-testid=reference]")).to_have_text(urgent.reference)
    countdown = page.locator("[data-testid=ticket-countdown]")
    expect(countdown).to_have_text(COUNTDOWN)
    ticking = countdown.inner_text()
    expect(countdown).not_to_have_text(ticking)  # the script counts down (retried, not a fixed wait)

    reply = page.locator("[data-testid=reply] form")
    reply.locator('textarea[name="body"]').fill("您好，白金卡首年免年费，次年刷卡满 6 次可免。")
    with page.expect_navigation():
        reply.locator('button[type="submit"]').click()
    expect(page.locator("[data-testid=timeline] li.msg-public [data-testid=message]")).to_have_text(
        "您好，白金卡首年免年费，次年刷卡满 6 次可免。")
    expect(page.locator("[data-testid=clock-first_response]")).to_have_attribute("data-state", "met")

    with page.expect_navigation():
        page.locator("[data-testid=to-pending_customer] button").click()
    expect(page.locator("[data-testid=ticket-head] [data-testid=status]")).to_have_text("待客户回复")
    expect(countdown).to_have_text("已暂停")
    page.wait_for_timeout(1500)
    expect(countdown).to_have_text("已暂停")  # paused: it does not count
    expect(page.locator("[data-testid=to-open] button")).to_have_text("恢复处理")

    with page.expect_navigation():
        page.locator("[data-testid=to-resolved] button").click()
    expect(page.locator("[data-testid=ticket-head] [data-testid=status]")).to_have_text("已解决")
    expect(page.locator("[data-testid=timeline] [data-testid=entry-status_changed]")).to_have_count(2)

    page.screenshot(path=str(RESULTS / "e2e-ticket.png"), full_page=True)

    page.goto("/tickets")  # resolved: no longer in the queue
    expect(page.locator("[data-testid=my-queue] tbody tr")).to_have_count(3)
    expect(page.locator("[data-testid=my-queue] [data-testid=ticket-link]").first).not_to_have_text(urgent.reference)
