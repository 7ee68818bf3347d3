"""The KPI scorecard: every CONTRACT key, computed from FinCare's own records or null with the reason;
closed periods snapshotted and corrected by revision; the measures plan."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, update

from fincare.platform import clock
from fincare.platform.db import unit_of_work
from fincare.platform.permissions import Role
from fincare.scorecard import periods, service
from fincare.scorecard.models import KpiSnapshot
from fincare.sla.models import Clock
from tests.concurrency import wait_for_a_lock_wait
from tests.factories.accounts import Staff, make_staff
from tests.factories.tickets import open_via_api

API = "/api/v1"
CONTRACT_KEYS = {
    "customer_satisfaction_rate", "consultation_first_response_p90_minutes", "complaint_feedback_p90_hours",
    "feedback_handling_p90_hours", "complaint_statutory_deadline_met_rate", "followup_satisfaction_rate",
    "customer_churn_rate", "data_leak_incident_rate", "security_audit_pass_rate",
    "security_incident_response_p90_minutes", "recommendation_conversion_rate", "training_participation_rate",
    "employee_satisfaction_rate", "lectures_per_quarter", "lecture_attendance", "forums_per_quarter",
    "knowledge_posts_per_month", "knowledge_post_views"}


@pytest.fixture
def exec_feng(db: Engine) -> Staff:
    return make_staff("exec_feng", Role.EXECUTIVE, department="management")


def kpis(client: TestClient, staff: Staff, period: str) -> dict[str, dict[str, Any]]:
    response = client.get(f"{API}/kpis", params={"period": period}, headers=staff.headers)
    assert response.status_code == 200, response.text
    return {k["key"]: k for k in response.json()}


def answer_consultation(client: TestClient, staff: Staff, minutes: int, frozen_clock: clock.FrozenClock) -> None:
    ticket = open_via_api(client, staff)
    frozen_clock.advance(timedelta(minutes=minutes))
    client.post(f"{API}/tickets/{ticket['id']}/replies", json={"body": "您好", "visibility": "public"},
                headers=staff.headers)
    frozen_clock.advance(timedelta(minutes=-minutes))


def test_every_contract_kpi_is_listed_and_those_without_data_are_null_with_the_reason(
        client: TestClient, exec_feng: Staff, frozen_clock: clock.FrozenClock) -> None:
    found = kpis(client, exec_feng, "2026-10")
    assert set(found) == CONTRACT_KEYS
    for key, kpi in found.items():
        assert {"key", "name", "owner", "target", "actual", "unit", "met"} <= set(kpi)
        if kpi["actual"] is None:
            assert kpi["met"] is None and kpi["reason"], key
    assert "security" in found["data_leak_incident_rate"]["reason"]
    assert found["consultation_first_response_p90_minutes"]["reason"] == "no answered consultation in the period"
    assert found["customer_satisfaction_rate"]["target"] == 0.9 and found["customer_satisfaction_rate"]["unit"] == \
        "ratio"
    assert found["customer_satisfaction_rate"]["name"] == "客户满意度（调查合格率）"  # the reader's language


def test_response_times_and_the_statutory_deadline_come_from_the_clocks(
        client: TestClient, agent_li: Staff, supervisor_wang: Staff, exec_feng: Staff,
        frozen_clock: clock.FrozenClock) -> None:
    for minutes in (1, 2, 3, 4, 5, 6, 7, 8, 9, 30):
        answer_consultation(client, agent_li, minutes, frozen_clock)
    found = kpis(client, exec_feng, "2026-10")
    p90 = found["consultation_first_response_p90_minutes"]
    assert p90["actual"] == pytest.approx(9 + 0.1 * 21) and p90["basis"] == 10 and p90["met"] is False
    assert p90["revision"] is None  # October is still open: live
    complaints = [open_via_api(client, supervisor_wang, kind="complaint") for _ in range(4)]
    with unit_of_work() as session:  # two decided on time, one late, one still open
        for ticket, met in zip(complaints[:3], [timedelta(days=3), timedelta(days=10), timedelta(days=20)],
                               strict=True):
            session.execute(update(Clock).where(Clock.subject_id == ticket["id"], Clock.target == "statutory")
                            .values(met_at=frozen_clock.advance(timedelta(0)) + met,
                                    state="met" if met < timedelta(days=15) else "breached",
                                    breached_at=None if met < timedelta(days=15) else
                                    datetime(2026, 10, 27, 9, 30, tzinfo=UTC)))
    rate = kpis(client, exec_feng, "2026-10")["complaint_statutory_deadline_met_rate"]
    assert rate["actual"] == pytest.approx(2 / 3) and rate["basis"] == 3 and rate["met"] is False


def test_a_closed_period_is_snapshotted_and_a_late_correction_is_a_new_revision(
        client: TestClient, agent_li: Staff, exec_feng: Staff, frozen_clock: clock.FrozenClock) -> None:
    answer_consultation(client, agent_li, 2, frozen_clock)
    frozen_clock.advance(timedelta(days=31))  # November: October is closed
    first = kpis(client, exec_feng, "2026-10")["consultation_first_response_p90_minutes"]
    assert (first["actual"], first["revision"], first["met"]) == (pytest.approx(2.0), 1, True)
    frozen_clock.advance(timedelta(days=-31))
    answer_consultation(client, agent_li, 40, frozen_clock)  # an October record arriving late (backfill)
    frozen_clock.advance(timedelta(days=31))
    unchanged = kpis(client, exec_feng, "2026-10")["consultation_first_response_p90_minutes"]
    assert unchanged["revision"] == 1 and unchanged["actual"] == pytest.approx(2.0)  # never a silent change
    with unit_of_work() as session:
        assert service.revise(session, periods.parse("2026-10")) == ["consultation_first_response_p90_minutes"]
    with unit_of_work() as session:
        assert service.revise(session, periods.parse("2026-10")) == []  # twice: no harm
    revised = kpis(client, exec_feng, "2026-10")["consultation_first_response_p90_minutes"]
    assert revised["revision"] == 2 and revised["revised_from"] == pytest.approx(2.0)
    assert revised["actual"] == pytest.approx(2 + 0.9 * 38) and revised["met"] is False


def test_two_first_readings_of_a_closed_month_at_once_keep_one_snapshot(db: Engine,
                                                                        frozen_clock: clock.FrozenClock) -> None:
    if db.dialect.name != "postgresql":
        pytest.skip("SQLite runs one writer at a time: the second reading finds the first's snapshot")
    frozen_clock.advance(timedelta(days=31))  # November: October is closed and has no snapshot yet
    october = periods.parse("2026-10")
    second: list[tuple[str, int | None]] = []

    def read_at_the_same_time() -> None:
        with unit_of_work() as session:
            second.extend((r.kpi.key, r.revision) for r in service.scorecard(session, october))

    with unit_of_work() as session:
        first = [(r.kpi.key, r.revision) for r in service.scorecard(session, october)]  # taken, not committed
        reader = threading.Thread(target=read_at_the_same_time)
        reader.start()
        wait_for_a_lock_wait(db)  # the second reading waits on the first's snapshot row
    reader.join()
    assert second == first and {revision for _, revision in first} == {1}
    with unit_of_work(read_only=True) as session:
        assert session.execute(select(func.count()).select_from(KpiSnapshot)).scalar_one() == len(first)


@pytest.mark.parametrize("period", ["2026-13", "2026-Q5", "26-10", "2026-10-05..2026-10-01", "", "last month"])
def test_a_bad_period_is_refused_naming_the_field(client: TestClient, exec_feng: Staff, period: str) -> None:
    response = client.get(f"{API}/kpis", params={"period": period}, headers=exec_feng.headers)
    assert response.status_code == 422 and response.json()["error"]["field"] == "period"


def test_periods_of_every_kind_and_the_permission(client: TestClient, exec_feng: Staff, agent_li: Staff) -> None:
    for label, first, last in (("2026-Q3", "2026-07-01", "2026-09-30"), ("2026-H2", "2026-07-01", "2026-12-31"),
                               ("2026", "2026-01-01", "2026-12-31"),
                               ("2026-10-01..2026-10-15", "2026-10-01", "2026-10-15")):
        period = periods.parse(label)
        assert (period.first.isoformat(), period.last.isoformat()) == (first, last)
        assert len(kpis(client, exec_feng, label)) == len(CONTRACT_KEYS)
    assert periods.parse("2026-01").previous().label == "2025-12"
    assert periods.parse("2026-Q1").previous(2).label == "2025-Q3"
    assert periods.parse("2026-10").since == datetime(2026, 9, 30, 16, 0, tzinfo=UTC)  # midnight in Shanghai
    assert client.get(f"{API}/kpis", params={"period": "2026-10"}, headers=agent_li.headers).status_code == 403


def test_the_measures_plan_is_seeded_flagged_when_overdue_and_updated_by_its_owner(
        client: TestClient, exec_feng: Staff, frozen_clock: clock.FrozenClock) -> None:
    plan = client.get(f"{API}/measures", headers=exec_feng.headers).json()
    keys = {m["key"]: m for m in plan}
    assert {"leak_response", "complaint_specialists", "security_audit_quarterly"} <= set(keys)
    assert keys["leak_response"]["title_zh"] == "建立客户信息泄露应急响应机制"
    assert keys["leak_response"]["owner_department"] == "security_office"
    assert keys["security_audit_quarterly"]["cadence"] == "quarterly"
    security = make_staff("security_sun", Role.SECURITY_OFFICER, department="security_office", totp=True)
    marketing = make_staff("marketing_wu", Role.MARKETING, department="marketing")
    url = f"{API}/measures/{keys['leak_response']['id']}/progress"
    assert client.post(url, json={"text": "预案草稿"}, headers=marketing.headers).status_code == 403
    bad = client.post(url, json={"text": "预案", "progress": 120}, headers=security.headers)
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "progress"
    done = client.post(url, json={"text": "应急预案已发布并演练", "progress": 100, "status": "done"},
                       headers=security.headers)
    assert done.status_code == 200 and done.json()["status"] == "done"
    notes = client.get(f"{API}/measures/{keys['leak_response']['id']}/notes", headers=exec_feng.headers)
    assert [n["text"] for n in notes.json()] == ["应急预案已发布并演练"]  # the refused ones left none
    missing = client.get(f"{API}/measures/{max(m['id'] for m in plan) + 1}/notes", headers=exec_feng.headers)
    assert missing.status_code == 404 and missing.json()["error"]["field"] == "measure_id"
    frozen_clock.advance(timedelta(days=400))
    later = {m["key"]: m for m in client.get(f"{API}/measures", headers=exec_feng.headers).json()}
    assert later["leak_response"]["overdue"] is False and later["complaint_specialists"]["overdue"] is True


def test_the_cli_reports_kpis_as_json_and_xlsx_with_a_sheet_per_department(
        client: TestClient, agent_li: Staff, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    from tests.platform.test_cli import fincare

    month = periods.current_month(clock.now()).label
    answer = fincare("report", "kpi", "--period", month, "--format", "json")
    assert answer.returncode == 0, answer.stderr
    doc = json.loads(answer.stdout)
    assert doc["period"] == month and {k["key"] for k in doc["kpis"]} == CONTRACT_KEYS
    xlsx = tmp_path / "kpi.xlsx"
    written = fincare("report", "kpi", "--period", "2026-Q3", "--format", "xlsx", "--output", str(xlsx))
    assert written.returncode == 0, written.stderr
    book = load_workbook(xlsx)
    assert book.sheetnames[0] == "汇总 2026-Q3" and {"客服部", "市场部", "人力资源部"} <= set(book.sheetnames)
    only = fincare("report", "kpi", "--period", month, "--department", "hr", "--format", "json")
    assert {k["owner"] for k in json.loads(only.stdout)["kpis"]} == {"hr"}
    bad = fincare("report", "kpi", "--period", "Q3")
    assert bad.returncode != 0 and "period" in bad.stderr
    nobody = fincare("report", "kpi", "--period", month, "--department", "kitchen")
    assert nobody.returncode != 0 and "department" in nobody.stderr


def test_plan_managers_add_and_revise_measures_and_others_may_not(client: TestClient, exec_feng: Staff,
                                                                  agent_li: Staff) -> None:
    body = {"key": "atm_safety", "title_zh": "每季度检查自助设备防诈骗提示",
            "title_en": "Quarterly ATM fraud-warning check", "owner_department": "it", "starts_on": "2026-10-01",
            "due_on": "2027-09-30", "cadence": "quarterly",
            "kpi_keys": ["security_audit_pass_rate"]}
    marketing = make_staff("marketing_wu", Role.MARKETING, department="marketing")
    assert client.post(f"{API}/measures", json=body, headers=marketing.headers).status_code == 403
    for change, field in (({"owner_department": "kitchen"}, "owner_department"), ({"due_on": "2026-09-01"}, "due_on"),
                          ({"cadence": "weekly"}, "cadence"), ({"kpi_keys": ["happiness"]}, "kpi_keys"),
                          ({"key": "bad key!"}, "key")):
        refused = client.post(f"{API}/measures", json={**body, **change}, headers=exec_feng.headers)
        assert refused.status_code == 422 and refused.json()["error"]["field"] == field, change
    added = client.post(f"{API}/measures", json=body, headers=exec_feng.headers)
    assert added.status_code == 201 and added.json()["status"] == "planned" and added.json()["owner_department"] == "it"
    assert client.post(f"{API}/measures", json=body, headers=exec_feng.headers).status_code == 422  # same key
    url = f"{API}/measures/{added.json()['id']}"
    moved = client.patch(url, json={"due_on": "2027-12-31", "owner_department": "security_office"},
                         headers=exec_feng.headers)
    assert moved.status_code == 200 and moved.json()["due_on"] == "2027-12-31"
    assert moved.json()["owner_department"] == "security_office"
    assert client.patch(url, json={"due_on": "2026-01-01"}, headers=exec_feng.headers).status_code == 422
    assert client.patch(url, json={"cadence": "monthly"}, headers=marketing.headers).status_code == 403
    assert client.patch(url, json={"cadence": "monthly"}, headers=agent_li.headers).status_code == 403
