"""The management dashboard in a real browser: an executive signs in, opens the dashboard on last
month's KPI tiles (in Chinese), switches to English and to a quarter, and drills into a KPI down to
the tickets behind it. Screenshots of the dashboard go to test-results/."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect
from sqlalchemy import Engine, select

from fincare.followups import service as followups
from fincare.followups.models import SurveyInvitation
from fincare.platform import clock
from fincare.platform.db import unit_of_work
from fincare.platform.permissions import Role
from fincare.scorecard import periods
from tests.e2e.test_console import sign_in
from tests.factories.accounts import PASSWORD, make_staff
from tests.factories.customers import make_customer
from tests.factories.followups import deliver_resolutions, resolved_complaint
from tests.scorecard.test_kpis import answer_consultation

pytestmark = pytest.mark.e2e

RESULTS = Path(__file__).resolve().parents[2] / "test-results"
P90 = "consultation_first_response_p90_minutes"


def a_working_morning(month: periods.Period) -> datetime:
    """A Tuesday to Thursday in the second half of `month`, 10:00 in Shanghai (02:00 UTC)."""
    day = month.first + timedelta(days=14)
    while day.weekday() not in (1, 2, 3):
        day += timedelta(days=1)
    return datetime.combine(day, time(2, 0), tzinfo=UTC)


def test_an_executive_reads_last_month_switches_to_english_and_a_quarter_and_drills_into_a_kpi(
        page: Page, client: TestClient, db: Engine) -> None:
    agent = make_staff("agent_li", Role.AGENT)
    chen = make_staff("specialist_chen", Role.COMPLAINT_SPECIALIST)
    make_staff("exec_feng", Role.EXECUTIVE, department="management")
    month = periods.last_month(datetime.now(UTC))
    with clock.frozen(a_working_morning(month)) as frozen:  # last month: answers, a decided complaint, a survey
        for minutes in (2, 3, 4):
            answer_consultation(client, agent, minutes, frozen)
        resolved_complaint(client, chen, make_customer(email="wang.fang@example.com").id, channel="wechat")
        deliver_resolutions()
        with unit_of_work() as session:
            invitation = session.execute(select(SurveyInvitation)).scalar_one()
            followups.submit(session, followups.token_of(invitation), {"csat": 4, "nps": 8})

    page.goto("/login")
    sign_in(page, "exec_feng", PASSWORD)
    with page.expect_navigation():
        page.locator('nav.sidenav a[href="/dashboard"]').click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("h1")).to_contain_text("管理看板")
    expect(page.locator("[data-testid=period]")).to_have_text(month.label)  # last month by default
    tile = page.locator(f'[data-testid=kpi-tile][data-key="{P90}"]')
    expect(tile.locator("[data-testid=actual]")).to_have_text(re.compile(r"^\d+\.\d 分钟$"))
    expect(tile.locator("[data-testid=target]")).to_have_text("目标 ≤ 5.0 分钟")
    expect(tile.locator("[data-testid=status]")).to_have_text("达标")
    leak = page.locator('[data-testid=kpi-tile][data-key="data_leak_incident_rate"]')
    expect(leak.locator("[data-testid=status]")).to_have_text("暂无数据")
    expect(leak.locator("[data-testid=reason]")).to_contain_text("安全事件")
    expect(page.locator(f'[data-chart="{P90}"] canvas')).to_have_count(1)  # ECharts drew the trend

    RESULTS.mkdir(exist_ok=True)
    page.screenshot(path=str(RESULTS / "e2e-dashboard.png"), full_page=True)

    with page.expect_navigation():
        page.locator("[data-testid=lang-switch]").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_contain_text("Management dashboard")
    expect(tile.locator("[data-testid=status]")).to_have_text("Met")

    first = month.first
    quarter = f"{first.year}-Q{(first.month - 1) // 3 + 1}"
    page.locator("[data-testid=period-select]").select_option(quarter)
    with page.expect_navigation():
        page.locator("[data-testid=show]").click()
    expect(page).to_have_url(re.compile(rf"/dashboard\?period={quarter}$"))
    expect(page.locator("[data-testid=period]")).to_have_text(quarter)
    expect(tile.locator("[data-testid=target]")).to_have_text("Goal ≤ 5.0 min")
    expect(page.locator("[data-testid=complaint-total]")).to_have_text("1")
    page.screenshot(path=str(RESULTS / "e2e-dashboard-quarter-en.png"), full_page=True)

    with page.expect_navigation():
        tile.locator("[data-testid=kpi-link]").click()
    expect(page).to_have_url(re.compile(rf"/dashboard/kpis/{P90}\?period={quarter}$"))
    expect(page.locator("[data-testid=kpi-name]")).to_contain_text("Consultation first response (p90)")
    expect(page.locator("[data-testid=total]")).to_have_text("3")
    expect(page.locator("[data-testid=record-row]")).to_have_count(3)
    expect(page.locator("[data-testid=record-row] [data-testid=ticket-link]").first).to_have_text(
        re.compile(r"^ZX-\d{4}-\d{6}$"))
    page.screenshot(path=str(RESULTS / "e2e-dashboard-drilldown.png"), full_page=True)
