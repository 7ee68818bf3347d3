"""The monthly complaint report: breakdowns by JR/T 0169 code, channel, region and risk grade; the
statutory deadline met or not; regulator transfers and reports — as JSON, CSV, XLSX, a table, over
REST and as a printable page in Chinese."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import Engine, select

from fincare.platform import clock
from fincare.platform.db import unit_of_work
from fincare.platform.permissions import SYSTEM
from fincare.scorecard import periods
from fincare.scorecard.service import complaint_report
from fincare.servicedesk import service
from fincare.servicedesk.models import RegulatorReport, Ticket
from fincare.sla.models import Clock, Target
from tests.factories.accounts import Staff
from tests.factories.customers import make_customer
from tests.factories.tickets import open_ticket
from tests.platform.test_accounts import login
from tests.platform.test_cli import fincare

OCTOBER = datetime(2026, 10, 5, 2, 0, tzinfo=UTC)


def complaint(channel: str = "phone", *, branch: str = "上海分行", risk_grade: str = "low",
              received_at: datetime = OCTOBER, codes: tuple[str, str, str] | None = None) -> Ticket:
    customer = make_customer(branch=branch)
    ticket = open_ticket(SYSTEM, customer_id=customer.id, kind="complaint", channel=channel, risk_grade=risk_grade,
                         received_at=received_at)
    if codes is not None:
        with unit_of_work() as session:
            loaded = session.get(Ticket, ticket.id)
            assert loaded is not None
            service.code_complaint(session, actor=SYSTEM, ticket=loaded, channel_code=codes[0],
                                   business_type_code=codes[1], cause_code=codes[2])
    return ticket


def statutory(ticket: Ticket, *, met_after: timedelta | None = None, breached: bool = False) -> None:
    with unit_of_work() as session:
        found = session.execute(select(Clock).where(Clock.subject_type == "ticket", Clock.subject_id == ticket.id,
                                                    Clock.target == Target.STATUTORY)).scalar_one()
        if breached:
            found.breached_at = found.due_at
        if met_after is not None:
            found.met_at = found.started_at + met_after


@pytest.fixture
def october(db: Engine, frozen_clock: clock.FrozenClock) -> None:
    """Five complaints in October (one a linked duplicate, not counted), one in September."""
    on_time = complaint("phone", codes=("A04", "B03", "C01"))
    statutory(on_time, met_after=timedelta(days=3))
    late = complaint("app", branch="北京分行", risk_grade="medium", codes=("A05", "B03", "C08"))
    statutory(late, breached=True, met_after=timedelta(days=20))
    transferred = complaint("regulator_transfer", risk_grade="high", codes=("A08", "B02", "C08"))
    with unit_of_work() as session:
        report = session.execute(select(RegulatorReport).where(RegulatorReport.ticket_id == transferred.id)
                                 ).scalar_one()
        service.submit_report(session, actor=SYSTEM, report_id=report.id, regulator_reference="YJ-2026-1", note=None)
    still_open = complaint("web", branch="北京分行")  # not coded yet
    duplicate = complaint("phone")
    with unit_of_work() as session:
        linked = session.get(Ticket, duplicate.id)
        assert linked is not None
        linked.duplicate_of_id = on_time.id
    complaint("phone", received_at=datetime(2026, 9, 30, 15, 0, tzinfo=UTC))  # 23:00 on 30 Sep in Beijing
    complaint("phone", received_at=datetime(2026, 9, 30, 16, 30, tzinfo=UTC))  # 00:30 on 1 Oct: October's
    assert still_open.id


def lines(section: list[object]) -> dict[str, int]:
    return {line.key: line.count for line in section}  # type: ignore[attr-defined]


def test_the_report_counts_a_month_of_complaints_by_every_breakdown(october: None) -> None:
    with unit_of_work(read_only=True) as session:
        report = complaint_report(session, periods.parse("2026-10"))

    assert report.total == 5
    assert lines(report.by_channel) == {"A04": 1, "A05": 1, "A08": 1, "uncoded": 2}
    assert lines(report.by_business_type) == {"B03": 2, "B02": 1, "uncoded": 2}
    assert lines(report.by_cause) == {"C01": 1, "C08": 2, "uncoded": 2}
    assert [line.key for line in report.by_business_type] == ["B02", "B03", "uncoded"]
    assert report.by_business_type[0].name_zh == "贷款" and report.by_business_type[0].name_en == "Loans"
    assert lines(report.by_intake_channel) == {"phone": 2, "app": 1, "regulator_transfer": 1, "web": 1}
    assert lines(report.by_region) == {"上海分行": 3, "北京分行": 2}
    assert lines(report.by_risk_grade) == {"low": 3, "medium": 1, "high": 1}
    # on time: the met clock; late: the breached one; open: the transferred one and the uncoded one, and the
    # 00:30 one, whose clocks run yet
    assert (report.within_deadline, report.past_deadline, report.still_open) == (1, 1, 3)
    assert (report.regulator_transferred, report.regulator_reported) == (1, 1)


def test_a_running_clock_past_its_due_time_counts_as_late_before_the_sweep_marks_it(
        october: None, frozen_clock: clock.FrozenClock) -> None:
    frozen_clock.advance(timedelta(days=60))
    with unit_of_work(read_only=True) as session:
        report = complaint_report(session, periods.parse("2026-10"))

    assert (report.within_deadline, report.past_deadline, report.still_open) == (1, 4, 0)


def test_the_cli_writes_json_csv_xlsx_in_chinese_and_a_table(october: None, tmp_path: Path) -> None:
    as_json = fincare("report", "complaints", "--period", "2026-10", "--format", "json")
    assert as_json.returncode == 0, as_json.stderr
    doc = json.loads(as_json.stdout)
    assert {"period", "total", "by_channel", "by_business_type", "by_cause", "by_risk_grade", "within_deadline",
            "regulator_transferred", "regulator_reported", "by_region"} <= set(doc)
    assert doc["period"] == "2026-10" and doc["total"] == 5
    assert {line["key"]: line["count"] for line in doc["by_business_type"]} == {"B03": 2, "B02": 1, "uncoded": 2}

    as_csv = fincare("report", "complaints", "--period", "2026-10", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert {(r["section"], r["key"]): r["count"] for r in rows}[("by_region", "上海分行")] == "3"
    assert {(r["section"], r["key"]): r["count"] for r in rows}[("summary", "total")] == "5"

    xlsx = tmp_path / "report.xlsx"
    written = fincare("report", "complaints", "--period", "2026-10", "--format", "xlsx", "--output", str(xlsx),
                      "--json")
    assert written.returncode == 0, written.stderr
    assert json.loads(written.stdout)["output"] == str(xlsx)
    book = load_workbook(xlsx, read_only=True)
    assert book.sheetnames[:4] == ["汇总", "办理渠道", "业务类型", "投诉原因"] and "风险等级" in book.sheetnames
    summary = {row[0]: row[1] for row in book["汇总"].iter_rows(values_only=True)}
    assert summary["投诉总量"] == 5 and summary["监管转办"] == 1 and summary["已向监管报送"] == 1
    business = list(book["业务类型"].iter_rows(values_only=True))
    assert business[0] == ("编码", "名称", "件数", "占比")
    assert ("B03", "银行卡", 2, 0.4) in business

    table = fincare("report", "complaints", "--period", "2026-10")
    assert table.returncode == 0 and "投诉总量" in table.stdout and "银行卡" in table.stdout

    bad = fincare("report", "complaints", "--period", "October")
    assert bad.returncode == 1 and "period" in bad.stderr


def test_the_api_answers_reports_export_holders_and_refuses_the_others(
        client: TestClient, october: None, supervisor_wang: Staff, agent_li: Staff) -> None:
    denied = client.get("/api/v1/reports/complaints", params={"period": "2026-10"}, headers=agent_li.headers)
    assert denied.status_code == 403

    answer = client.get("/api/v1/reports/complaints", params={"period": "2026-10"}, headers=supervisor_wang.headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["total"] == 5 and answer.json()["regulator_reported"] == 1

    sheet = client.get("/api/v1/reports/complaints", params={"period": "2026-10", "format": "xlsx"},
                       headers=supervisor_wang.headers)
    assert sheet.status_code == 200 and sheet.content[:2] == b"PK"
    assert client.get("/api/v1/reports/complaints", params={"period": "soon"},
                      headers=supervisor_wang.headers).status_code == 422


def test_the_printable_page_is_chinese_by_default_and_switches_to_english(
        client: TestClient, october: None, supervisor_wang: Staff, agent_li: Staff) -> None:
    login(client, "supervisor_wang")
    page = client.get("/reports/complaints", params={"period": "2026-10"})
    assert page.status_code == 200
    assert "投诉统计报表" in page.text and "办理渠道" in page.text and "银行卡" in page.text
    assert "@media print" in page.text and 'data-testid="figure-total"' in page.text
    wrong = client.get("/reports/complaints", params={"period": "soon"})
    assert wrong.status_code == 422 and "月份 2026-10" in wrong.text  # the period's form, in Chinese

    english = client.get("/reports/complaints", params={"period": "2026-10", "lang": "en"})
    assert "Complaint report" in english.text and "Bank cards" in english.text

    client.cookies.clear()
    login(client, "agent_li")
    assert client.get("/reports/complaints", params={"period": "2026-10"}).status_code == 403
