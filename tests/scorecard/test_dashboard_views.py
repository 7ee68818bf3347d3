"""The management dashboard in the console: last month's KPI tiles against their targets (a KPI without
data says why), the reader's own department's KPIs first, complaint volume and deadline attainment,
the drill-down to the records behind a tile, the period picker, the language, and who may see it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, select

from fincare.followups import service as followups
from fincare.followups.models import SurveyInvitation
from fincare.platform import clock
from fincare.platform.db import unit_of_work
from fincare.platform.permissions import Role
from tests.console import sign_in
from tests.factories.accounts import Staff, make_staff
from tests.factories.customers import make_customer
from tests.factories.followups import deliver_resolutions, resolved_complaint
from tests.factories.tickets import open_via_api
from tests.scorecard.test_kpis import answer_consultation

SEPTEMBER = datetime(2026, 9, 10, 2, 0, tzinfo=UTC)  # a Thursday, 10:00 in Shanghai; October 12 is "now"
P90 = "consultation_first_response_p90_minutes"


@pytest.fixture
def exec_feng(db: Engine) -> Staff:
    return make_staff("exec_feng", Role.EXECUTIVE, department="management")


@pytest.fixture
def last_month(client: TestClient, agent_li: Staff, frozen_clock: clock.FrozenClock) -> list[dict[str, Any]]:
    """September: three consultations answered in 2, 3 and 4 minutes, a WeChat complaint decided and its
    survey answered 5/5; then back to October 12."""
    frozen_clock.set(SEPTEMBER)
    consultations = []
    for minutes in (2, 3, 4):
        consultations.append(open_via_api(client, agent_li))
        frozen_clock.advance(timedelta(minutes=minutes))
        reply = client.post(f"/api/v1/tickets/{consultations[-1]['id']}/replies",
                            json={"body": "您好", "visibility": "public"}, headers=agent_li.headers)
        assert reply.status_code in (200, 201), reply.text
        frozen_clock.advance(timedelta(minutes=-minutes))
    chen = make_staff("specialist_chen", Role.COMPLAINT_SPECIALIST)
    resolved_complaint(client, chen, make_customer(email="wang.fang@example.com").id, channel="wechat")
    deliver_resolutions()
    with unit_of_work() as session:
        invitation = session.execute(select(SurveyInvitation)).scalar_one()
        followups.submit(session, followups.token_of(invitation), {"csat": 5, "nps": 9})
    frozen_clock.set(datetime(2026, 10, 12, 9, 30, tzinfo=UTC))
    return consultations


def tiles(html: str) -> dict[str, str]:
    """Each KPI tile's markup by its key, in the page's order."""
    found = {}
    for chunk in html.split('data-testid="kpi-tile"')[1:]:
        key = re.search(r'data-key="([^"]+)"', chunk)
        assert key is not None
        found[key.group(1)] = chunk.split("</article>")[0]
    return found


def by_testid(chunk: str, name: str) -> str:
    match = re.search(rf'data-testid="{name}"[^>]*>(.*?)</', chunk, re.DOTALL)
    assert match is not None, name
    return match.group(1).strip()


def test_tiles_show_actual_target_and_met_and_a_kpi_without_data_says_why(
        client: TestClient, exec_feng: Staff, last_month: list[dict[str, Any]]) -> None:
    sign_in(client, "exec_feng")
    page = client.get("/dashboard")
    assert page.status_code == 200, page.text
    assert by_testid(page.text, "period") == "2026-09"  # last month by default
    found = tiles(page.text)
    assert len(found) == 18
    p90 = found[P90]
    assert by_testid(p90, "actual") == "3.8 min"  # p90 of 2, 3, 4 minutes
    assert by_testid(p90, "target") == "Goal ≤ 5.0 min"
    assert 'data-status="met"' in p90 and "Records: 3" in p90
    csat = found["customer_satisfaction_rate"]
    assert by_testid(csat, "actual") == "100.0%" and by_testid(csat, "target") == "Goal ≥ 90.0%"
    leak = found["data_leak_incident_rate"]
    assert by_testid(leak, "actual") == "—" and 'data-status="none"' in leak
    assert "needs security incidents" in by_testid(leak, "reason")
    assert by_testid(found["feedback_handling_p90_hours"], "reason") == "no handled feedback in the period"
    # the trends of the computed KPIs, embedded in the page; September is the last month
    data = re.search(r'<script type="application/json" id="dashboard-data">(.*?)</script>', page.text, re.DOTALL)
    assert data is not None and '"2026-09"' in data.group(1) and '"2025-10"' in data.group(1)
    assert page.text.count('data-testid="trend"') == 7
    # complaint volume and deadline attainment for September's tickets
    assert by_testid(page.text, "complaint-total") == "1"
    assert re.search(r'data-testid="by-channel".*?data-key="wechat".*?data-testid="count">1<', page.text, re.DOTALL)
    row = re.search(r'data-kind="consultation" data-target="first_response">(.*?)</tr>', page.text, re.DOTALL)
    assert row is not None and by_testid(row.group(1), "on-time") == "3" and by_testid(row.group(1), "rate") == "100.0%"
    assert 'data-testid="plan"' in page.text


def test_the_readers_own_department_comes_first(client: TestClient, last_month: list[dict[str, Any]]) -> None:
    make_staff("marketing_wu", Role.MARKETING, department="marketing")
    sign_in(client, "marketing_wu")
    found = tiles(client.get("/dashboard").text)
    owners = ['data-own="yes"' in chunk for chunk in found.values()]
    assert owners[:6] == [True] * 6 and not any(owners[6:])
    assert next(iter(found)) == "recommendation_conversion_rate"
    make_staff("hr_he", Role.HR, department="hr")
    client.cookies.clear()
    sign_in(client, "hr_he")
    assert list(tiles(client.get("/dashboard").text))[:2] == ["training_participation_rate",
                                                              "employee_satisfaction_rate"]


def test_the_drill_down_lists_the_tickets_behind_the_response_time(
        client: TestClient, exec_feng: Staff, supervisor_wang: Staff, last_month: list[dict[str, Any]]) -> None:
    sign_in(client, "exec_feng")
    dashboard = client.get("/dashboard?period=2026-09").text
    assert f'href="/dashboard/kpis/{P90}?period=2026-09"' in dashboard
    page = client.get(f"/dashboard/kpis/{P90}", params={"period": "2026-09"})
    assert page.status_code == 200, page.text
    assert by_testid(page.text, "total") == "3" and by_testid(page.text, "actual") == "3.8 min"
    rows = page.text.split('data-testid="record-row"')[1:]
    slowest_first = [t["reference"] for t in reversed(last_month)]
    assert [by_testid(r, "ticket-link") for r in rows] == slowest_first
    assert [by_testid(r, "measured") for r in rows] == ["4.0 min", "3.0 min", "2.0 min"]
    assert all("On time" in r for r in rows)
    assert not re.search(r"张\*", page.text)  # an executive does not read customers: not even masked names
    assert 'data-testid="revision-row"' in page.text  # September is closed: its snapshot is revision 1
    client.cookies.clear()
    sign_in(client, "supervisor_wang")
    rows = client.get(f"/dashboard/kpis/{P90}", params={"period": "2026-09"}).text.split('data-testid="record-row"')
    assert re.search(r"<td>张\*+[\u4e00-\u9fff]</td>", rows[1])  # one who reads customers: the customer, masked
    client.cookies.clear()
    sign_in(client, "exec_feng")

    null = client.get("/dashboard/kpis/lectures_per_quarter", params={"period": "2026-09"})
    assert null.status_code == 200 and "needs lectures" in by_testid(null.text, "reason")
    assert 'data-testid="records"' not in null.text
    assert client.get("/dashboard/kpis/no_such_kpi").status_code == 404


def test_an_agent_may_not_see_the_dashboard(client: TestClient, agent_li: Staff) -> None:
    sign_in(client, "agent_li")
    assert client.get("/dashboard").status_code == 403
    assert client.get(f"/dashboard/kpis/{P90}").status_code == 403
    assert 'href="/dashboard"' not in client.get("/").text


@pytest.mark.parametrize("period", ["2026-13", "2026-Q5", "last month"])
def test_a_bad_period_is_refused_by_the_picker_saying_why(client: TestClient, exec_feng: Staff, period: str) -> None:
    sign_in(client, "exec_feng")
    page = client.get("/dashboard", params={"period": period})
    assert page.status_code == 422
    assert 'data-testid="error-period"' in page.text and "a quarter 2026-Q3" in by_testid(page.text, "period-error")
    assert 'data-testid="kpi-tile"' not in page.text


def test_chinese_by_default_and_english_on_request(client: TestClient, exec_feng: Staff,
                                                    frozen_clock: clock.FrozenClock) -> None:
    sign_in(client, "exec_feng", english=False)
    page = client.get("/dashboard?period=2026-Q3")
    assert page.status_code == 200 and 'lang="zh-CN"' in page.text
    assert "管理看板" in page.text and "咨询首次响应时间（P90）" in page.text and "暂无数据" in page.text
    assert "需要安全事件数据" in page.text and 'label="季度"' in page.text
    assert '<option value="2026-Q3" selected>' in page.text
    # the language switch comes back to the same period
    assert 'name="back" value="/dashboard?period=2026-Q3"' in page.text
    english = client.get("/dashboard?period=2026-Q3&lang=en")
    assert 'lang="en"' in english.text and "Management dashboard" in english.text
    assert "Consultation first response (p90)" in english.text and "管理看板" not in english.text


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_the_dashboard_takes_a_bounded_number_of_queries(
        client: TestClient, db: Engine, exec_feng: Staff, last_month: list[dict[str, Any]]) -> None:
    sign_in(client, "exec_feng")
    assert client.get("/dashboard").status_code == 200  # the first reading snapshots the closed months
    with statements(db) as warm:
        assert client.get("/dashboard").status_code == 200
    for minutes in (5, 6):  # more records: not more queries
        with clock.frozen(SEPTEMBER + timedelta(days=1)) as frozen:
            answer_consultation(client, make_staff(f"agent_{minutes}", Role.AGENT), minutes, frozen)
    with statements(db) as again:
        assert client.get("/dashboard").status_code == 200
    assert len(again) == len(warm) <= 12, warm  # 3 to sign the request in, 6 or 7 for the page
