"""The supervisor board in the console (breaches, tickets at risk, load, and what waits for a supervisor:
extension requests, decisions to approve, regulator reports, reviews) and the complaint procedure on
the ticket page (decision and reply, extension request, duplicate link, review) — every refusal shown
next to the field it names, with nothing written."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from openpyxl import load_workbook
from sqlalchemy import Engine, func, select

from fincare.platform import clock
from fincare.platform.accounts import service as accounts
from fincare.platform.db import unit_of_work
from fincare.platform.jobs import Worker
from fincare.platform.permissions import Principal, Role
from fincare.servicedesk import service
from fincare.servicedesk.models import (
    ComplaintDecision,
    ComplaintReview,
    ExtensionRequest,
    RegulatorReport,
    Ticket,
    TicketMessage,
    TicketStatus,
)
from fincare.sla.models import Clock, Target
from tests.console import post_form, sign_in
from tests.factories.accounts import Staff, make_staff
from tests.factories.customers import make_customer
from tests.factories.tickets import open_ticket

BOARD = "/board"


@pytest.fixture
def specialist_chen(db: Engine) -> Staff:
    return make_staff("specialist_chen", Role.COMPLAINT_SPECIALIST)


@pytest.fixture
def agent_zhou(db: Engine) -> Staff:
    return make_staff("agent_zhou", Role.AGENT)


def principal(staff: Staff) -> Principal:
    with unit_of_work(read_only=True) as session:
        account = accounts.get_account(session, staff.id)
        assert account is not None
        return accounts.principal_of(account)


def reload(ticket_id: int) -> Ticket:
    with unit_of_work(read_only=True) as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None
        return ticket


def rows(model: type[Any]) -> list[Any]:
    with unit_of_work(read_only=True) as session:
        return list(session.execute(select(model).order_by(model.id)).scalars())


def count(model: type[Any]) -> int:
    with unit_of_work(read_only=True) as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def statutory(ticket_id: int) -> Clock:
    with unit_of_work(read_only=True) as session:
        return session.execute(select(Clock).where(Clock.subject_type == "ticket", Clock.subject_id == ticket_id,
                                                   Clock.target == Target.STATUTORY)).scalar_one()


def section(page: Response, testid: str) -> str:
    return page.text.split(f'data-testid="{testid}"', 1)[1].split("</section>", 1)[0]


def drain() -> None:
    """Sweep the clocks and run the jobs they queue (the escalation marks the ticket breached)."""
    worker = Worker(name="test")
    worker.run_schedules()
    while worker.run_once() > 0:
        pass


def decide(ticket: Ticket, actor: Principal, outcome: str = "partly_upheld") -> ComplaintDecision:
    """Record a decision with the standard (complete) Chinese reply."""
    with unit_of_work() as session:
        loaded = service.access_ticket(session, ticket.id, actor, for_write=True)
        reply = service.reply_template(loaded, outcome=outcome, remedy=None, language="zh-CN")
        return service.decide(session, actor=actor, ticket=loaded, outcome=outcome, reply=reply, language="zh-CN")


def request_extension(ticket: Ticket, actor: Principal) -> ExtensionRequest:
    with unit_of_work() as session:
        loaded = service.access_ticket(session, ticket.id, actor, for_write=True)
        return service.request_extension(session, actor=actor, ticket=loaded, reason="需调取外部机构证据")


def request_review(ticket: Ticket, actor: Principal) -> ComplaintReview:
    with unit_of_work() as session:
        loaded = service.access_ticket(session, ticket.id, actor)
        return service.request_review(session, actor=actor, ticket=loaded, reason="客户不认可处理结果")


# -- the board -------------------------------------------------------------------------------------


def test_the_board_shows_each_section(client: TestClient, supervisor_wang: Staff, agent_li: Staff,
                                      specialist_chen: Staff, frozen_clock: clock.FrozenClock) -> None:
    li, chen = principal(agent_li), principal(specialist_chen)
    late = open_ticket(li, subject="年费咨询")
    frozen_clock.advance(timedelta(minutes=6))
    drain()
    soon = open_ticket(li, subject="积分咨询")  # 5 minutes left
    asking = open_ticket(chen, kind="complaint", subject="理财收益投诉")
    extension = request_extension(asking, chen)
    risky = open_ticket(chen, kind="complaint", risk_grade="high", subject="理财产品亏损投诉")
    waiting = decide(risky, chen)  # a high-risk reply waits for approval
    decided = open_ticket(chen, kind="complaint", subject="信用卡盗刷投诉")
    decide(decided, chen)
    review = request_review(decided, chen)
    assert reload(late.id).breached and not reload(soon.id).breached

    sign_in(client, "supervisor_wang")
    page = client.get(BOARD)
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert re.findall(r'data-testid="breached-row" data-ticket="(\d+)"', page.text) == [str(late.id)]
    assert re.findall(r'data-testid="at-risk-row" data-ticket="(\d+)"', page.text) == [str(soon.id)]
    at_risk = section(page, "at-risk")
    assert re.search(r'data-due="2026-10-12T09:41:00\.000\+00:00"[^>]*data-testid="countdown">00:05:00<', at_risk)
    assert 'src="/static/countdown.js"' in page.text
    breached = section(page, "breached")
    assert "overdue" in breached and f'action="/board/tickets/{late.id}/assign"' in breached
    loads = section(page, "loads")
    li_row = loads.split(f'data-account="{agent_li.id}"', 1)[1].split("</tr>", 1)[0]
    assert 'data-testid="open">2<' in li_row and ">1</span>" in li_row  # two open, one breached
    assert f'data-account="{specialist_chen.id}"' in loads
    assert f'data-request="{extension.id}"' in section(page, "extensions") and "需调取外部机构证据" in page.text
    assert f'data-decision="{waiting.id}"' in section(page, "approvals")
    reports = section(page, "reports")
    assert risky.reference in reports and "High risk" in reports
    assert 'href="/board/regulator-reports.csv"' in reports and 'href="/board/regulator-reports.xlsx"' in reports
    assert f'data-review="{review.id}"' in section(page, "reviews")
    assert 'href="/board"' in client.get("/").text  # the menu leads there


def test_a_supervisor_reassigns_a_breached_ticket_from_the_board(
        client: TestClient, supervisor_wang: Staff, agent_li: Staff, agent_zhou: Staff,
        frozen_clock: clock.FrozenClock) -> None:
    late = open_ticket(principal(agent_li))
    frozen_clock.advance(timedelta(minutes=6))
    drain()
    sign_in(client, "supervisor_wang")
    page = client.get(BOARD)
    form = page.text.split(f'data-testid="reassign-{late.id}"', 1)[1].split("</form>", 1)[0]
    assert f'<option value="{agent_zhou.id}"' in form and f'<option value="{agent_li.id}"' not in form  # the owner
    assert f'<option value="{supervisor_wang.id}"' not in form  # supervisors are not routed work

    no_reason = post_form(client, f"/board/tickets/{late.id}/assign", {"assignee_id": str(agent_zhou.id),
                                                                       "reason": ""}, page=BOARD)
    assert no_reason.status_code == 422
    refused_form = no_reason.text.split(f'data-testid="reassign-{late.id}"', 1)[1].split("</form>", 1)[0]
    assert 'data-testid="error-reason"' in refused_form
    assert f'<option value="{agent_zhou.id}" selected' in refused_form  # what was chosen stays
    assert reload(late.id).assignee_id == agent_li.id

    moved = post_form(client, f"/board/tickets/{late.id}/assign", {"assignee_id": str(agent_zhou.id),
                                                                   "reason": "李专员超时，转周专员"}, page=BOARD)
    assert moved.status_code == 303 and moved.headers["location"] == BOARD
    assert reload(late.id).assignee_id == agent_zhou.id
    assert "李专员超时，转周专员" in client.get(f"/tickets/{late.id}").text


def test_the_board_refuses_a_recused_or_unqualified_assignee_naming_the_field(
        client: TestClient, supervisor_wang: Staff, agent_li: Staff, specialist_chen: Staff,
        frozen_clock: clock.FrozenClock) -> None:
    qian = make_staff("specialist_qian", Role.COMPLAINT_SPECIALIST)
    complaint = open_ticket(principal(supervisor_wang), kind="complaint", risk_grade="medium",
                            named_staff_ids=[specialist_chen.id])  # the complaint is about chen
    frozen_clock.advance(timedelta(hours=25))  # a medium-risk complaint is fed back within 24 h
    drain()
    assert reload(complaint.id).breached
    sign_in(client, "supervisor_wang")
    form = client.get(BOARD).text.split(f'data-testid="reassign-{complaint.id}"', 1)[1].split("</form>", 1)[0]
    assert f'<option value="{qian.id}"' in form
    assert f'<option value="{specialist_chen.id}"' not in form and f'<option value="{agent_li.id}"' not in form

    for assignee, message in ((specialist_chen, "names this staff member"), (agent_li, "not qualified")):
        refused = post_form(client, f"/board/tickets/{complaint.id}/assign",
                            {"assignee_id": str(assignee.id), "reason": "重新分派"}, page=BOARD)
        assert refused.status_code == 422, assignee.username
        refused_form = refused.text.split(f'data-testid="reassign-{complaint.id}"', 1)[1].split("</form>", 1)[0]
        assert 'data-testid="error-assignee_id"' in refused_form and message in refused_form
        assert reload(complaint.id).assignee_id == supervisor_wang.id


def test_the_board_offers_a_supervisor_a_complaint_names_no_form(
        client: TestClient, supervisor_wang: Staff, specialist_chen: Staff, frozen_clock: clock.FrozenClock) -> None:
    chen = principal(specialist_chen)
    about_wang = open_ticket(chen, kind="complaint", risk_grade="high", named_staff_ids=[supervisor_wang.id])
    extension = request_extension(about_wang, chen)
    waiting = decide(about_wang, chen)
    (report,) = rows(RegulatorReport)
    frozen_clock.advance(timedelta(hours=25))
    drain()
    assert reload(about_wang.id).breached
    sun = make_staff("supervisor_sun", Role.SUPERVISOR)
    forms = (f"reassign-{about_wang.id}", f"extension-{extension.id}", f"approval-{waiting.id}",
             f"report-{report.id}")

    sign_in(client, "supervisor_wang")
    page = client.get(BOARD)
    for testid in ("breached", "extensions", "approvals", "reports"):
        shown = section(page, testid)
        assert about_wang.reference in shown and 'data-testid="recused"' in shown, testid
    assert not [form for form in forms if f'data-testid="{form}"' in page.text]
    stale = post_form(client, f"/board/extension-requests/{extension.id}", {"approve": "yes", "note": ""},
                      page=BOARD)
    assert stale.status_code == 403 and 'data-testid="form-error"' in stale.text
    assert [r.status for r in rows(ExtensionRequest)] == ["pending"]

    client.cookies.clear()
    sign_in(client, sun.username)
    page = client.get(BOARD)
    assert [form for form in forms if f'data-testid="{form}"' in page.text] == list(forms)
    assert 'data-testid="recused"' not in page.text


def test_a_supervisor_approves_and_refuses_extension_requests(
        client: TestClient, supervisor_wang: Staff, specialist_chen: Staff, frozen_clock: clock.FrozenClock) -> None:
    chen = principal(specialist_chen)
    first = open_ticket(chen, kind="complaint", subject="理财收益投诉")
    second = open_ticket(chen, kind="complaint", subject="贷款利率投诉")
    granted, refused = request_extension(first, chen), request_extension(second, chen)
    due_before = statutory(first.id).due_at
    sign_in(client, "supervisor_wang")

    approved = post_form(client, f"/board/extension-requests/{granted.id}", {"approve": "yes", "note": ""},
                         page=BOARD)
    assert approved.status_code == 303 and approved.headers["location"] == BOARD
    assert statutory(first.id).extensions == 1 and statutory(first.id).due_at > due_before

    bare = post_form(client, f"/board/extension-requests/{refused.id}", {"approve": "no", "note": ""}, page=BOARD)
    assert bare.status_code == 422  # a refusal says why
    row = bare.text.split(f'data-testid="extension-{refused.id}"', 1)[1].split("</form>", 1)[0]
    assert 'data-testid="error-note"' in row
    assert [r.status for r in rows(ExtensionRequest)] == ["approved", "pending"]

    no = post_form(client, f"/board/extension-requests/{refused.id}", {"approve": "no", "note": "证据已齐备"},
                   page=BOARD)
    assert no.status_code == 303
    assert [(r.status, r.note) for r in rows(ExtensionRequest)] == [("approved", None), ("rejected", "证据已齐备")]
    assert statutory(second.id).extensions == 0
    again = post_form(client, f"/board/extension-requests/{refused.id}", {"approve": "yes"}, page=BOARD)
    assert again.status_code == 409 and 'data-testid="form-error"' in again.text  # a stale page
    assert 'data-testid="extension-row"' not in client.get(BOARD).text


def test_a_supervisor_approves_or_sends_back_a_high_risk_reply(
        client: TestClient, supervisor_wang: Staff, specialist_chen: Staff) -> None:
    chen = principal(specialist_chen)
    first = open_ticket(chen, kind="complaint", risk_grade="high", subject="理财产品亏损投诉")
    second = open_ticket(chen, kind="complaint", risk_grade="high", subject="基金销售误导投诉")
    to_send, to_return = decide(first, chen), decide(second, chen)
    sign_in(client, "supervisor_wang")

    sent = post_form(client, f"/board/decisions/{to_send.id}/approval", {"approve": "yes"}, page=BOARD)
    assert sent.status_code == 303
    assert reload(first.id).status == TicketStatus.RESOLVED and reload(first.id).decision_id == to_send.id

    bare = post_form(client, f"/board/decisions/{to_return.id}/approval", {"approve": "no"}, page=BOARD)
    assert bare.status_code == 422 and 'data-testid="error-note"' in bare.text
    back = post_form(client, f"/board/decisions/{to_return.id}/approval",
                     {"approve": "no", "note": "补偿方案需写明金额"}, page=BOARD)
    assert back.status_code == 303
    assert [d.status for d in rows(ComplaintDecision)] == ["sent", "rejected"]
    assert reload(second.id).status == TicketStatus.OPEN
    page = client.get(f"/tickets/{second.id}")
    assert "补偿方案需写明金额" in page.text and 'data-testid="decision-form"' in page.text  # decide anew


def test_the_author_of_a_decision_does_not_approve_it(client: TestClient, supervisor_wang: Staff) -> None:
    wang = principal(supervisor_wang)
    ticket = open_ticket(wang, kind="complaint", risk_grade="high")
    mine = decide(ticket, wang)
    sign_in(client, "supervisor_wang")
    assert f'data-testid="approval-{mine.id}"' not in client.get(BOARD).text
    refused = post_form(client, f"/board/decisions/{mine.id}/approval", {"approve": "yes"}, page=BOARD)
    assert refused.status_code == 403 and "someone other than its author" in refused.text
    assert [d.status for d in rows(ComplaintDecision)] == ["pending_approval"]


def test_a_regulator_report_is_marked_submitted_and_the_list_exported(
        client: TestClient, supervisor_wang: Staff, specialist_chen: Staff) -> None:
    risky = open_ticket(principal(specialist_chen), kind="complaint", risk_grade="high")
    (report,) = rows(RegulatorReport)
    sign_in(client, "supervisor_wang")
    long = post_form(client, f"/board/regulator-reports/{report.id}", {"regulator_reference": "R" * 61}, page=BOARD)
    assert long.status_code == 422 and 'data-testid="error-regulator_reference"' in long.text
    assert rows(RegulatorReport)[0].status == "due"

    submitted = post_form(client, f"/board/regulator-reports/{report.id}",
                          {"regulator_reference": "YJH-2026-0042", "note": ""}, page=BOARD)
    assert submitted.status_code == 303
    (done,) = rows(RegulatorReport)
    assert done.status == "submitted" and done.regulator_reference == "YJH-2026-0042"
    assert 'data-testid="report-row"' not in client.get(BOARD).text

    csv = client.get("/board/regulator-reports.csv")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in csv.headers["content-disposition"]
    header, line = csv.text.splitlines()
    assert header.startswith("report_id,ticket_reference") and risky.reference in line and "YJH-2026-0042" in line
    xlsx = client.get("/board/regulator-reports.xlsx")
    assert xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None and [c.value for c in sheet[2]][1] == risky.reference


def test_an_agent_has_no_board(client: TestClient, agent_li: Staff, specialist_chen: Staff) -> None:
    chen = principal(specialist_chen)
    request = request_extension(open_ticket(chen, kind="complaint"), chen)
    late = open_ticket(principal(agent_li))
    sign_in(client, "agent_li")
    assert client.get(BOARD).status_code == 403
    assert 'href="/board"' not in client.get("/").text
    assert client.get("/board/regulator-reports.csv").status_code == 403
    assert client.get("/board/regulator-reports.xlsx").status_code == 403
    assert post_form(client, f"/board/extension-requests/{request.id}", {"approve": "yes"}).status_code == 403
    assert post_form(client, f"/board/tickets/{late.id}/assign", {"assignee_id": str(specialist_chen.id),
                                                                  "reason": "x"}).status_code == 403
    assert [r.status for r in rows(ExtensionRequest)] == ["pending"] and reload(late.id).assignee_id == agent_li.id


# -- the complaint procedure on the ticket page ----------------------------------------------------


def test_the_ticket_page_offers_the_staff_member_a_complaint_names_no_form_and_refuses_a_stale_one(
        client: TestClient, specialist_chen: Staff, agent_li: Staff) -> None:
    ticket = open_ticket(principal(agent_li), kind="complaint", named_staff_ids=[specialist_chen.id])
    path = f"/tickets/{ticket.id}"
    sign_in(client, "specialist_chen")
    page = client.get(path)
    assert page.status_code == 200 and 'data-testid="recused"' in page.text
    assert 'data-testid="decision-form"' not in page.text and 'id="reply"' not in page.text
    assert 'data-testid="take"' not in page.text
    stale = post_form(client, f"{path}/reply", {"body": "您好，已收到", "visibility": "public"}, page=path)
    assert stale.status_code == 403 and 'data-testid="error-reply"' not in page.text
    assert "a colleague handles it" in stale.text or "须由其他同事处理" in stale.text  # the refusal, shown
    assert count(TicketMessage) == 0


def test_a_handler_sends_the_decision_from_the_ticket_page(client: TestClient, specialist_chen: Staff) -> None:
    ticket = open_ticket(principal(specialist_chen), kind="complaint")
    path = f"/tickets/{ticket.id}"
    sign_in(client, "specialist_chen")
    page = client.get(path)
    form = page.text.split('data-testid="decision-form"', 1)[1].split("</form>", 1)[0]
    assert ticket.reference in form and "mediation" in form and "arbitration" in form  # the English template
    assert 'value="en" selected' in form
    assert 'data-testid="to-resolved"' not in page.text  # a complaint is resolved by its decision

    drafted = post_form(client, f"{path}/decision", {"outcome": "not_upheld", "remedy": "", "reply": "",
                                                     "language": "zh-CN", "action": "template"}, page=path)
    assert drafted.status_code == 200 and "投诉不成立" in drafted.text and "仲裁" in drafted.text
    assert count(ComplaintDecision) == 0

    no_routes = post_form(client, f"{path}/decision", {"outcome": "upheld", "remedy": "退还年费",
                                                       "reply": "Your complaint is upheld.", "language": "en"},
                          page=path)
    assert no_routes.status_code == 422
    form = no_routes.text.split('data-testid="decision-form"', 1)[1].split("</form>", 1)[0]
    assert 'data-testid="error-reply"' in form and "review, mediation, arbitration, litigation" in form
    assert "Your complaint is upheld." in form and 'value="退还年费"' in form  # what was typed stays
    assert count(ComplaintDecision) == 0 and reload(ticket.id).status == TicketStatus.OPEN

    reply = service.reply_template(ticket, outcome="upheld", remedy="退还年费", language="en")
    sent = post_form(client, f"{path}/decision", {"outcome": "upheld", "remedy": "退还年费", "reply": reply,
                                                  "language": "en"}, page=path)
    assert sent.status_code == 303 and sent.headers["location"] == f"{path}#decision"
    (decision,) = rows(ComplaintDecision)
    assert decision.status == "sent" and decision.language == "en" and decision.remedy == "退还年费"
    assert reload(ticket.id).status == TicketStatus.RESOLVED
    page = client.get(path)
    assert 'data-status="sent"' in page.text and 'data-testid="decision-form"' not in page.text
    assert 'data-testid="entry-decision_sent"' in page.text


def test_a_handler_requests_more_time_for_the_board_to_decide(client: TestClient, specialist_chen: Staff) -> None:
    ticket = open_ticket(principal(specialist_chen), kind="complaint")
    path = f"/tickets/{ticket.id}"
    sign_in(client, "specialist_chen")
    page = client.get(path)
    assert f'action="{path}/extension"' not in page.text and 'data-testid="extension-request"' in page.text
    empty = post_form(client, f"{path}/extension-request", {"reason": " "}, page=path)
    assert empty.status_code == 422 and 'data-testid="error-reason"' in empty.text and count(ExtensionRequest) == 0
    asked = post_form(client, f"{path}/extension-request", {"reason": "需调取外部机构证据"}, page=path)
    assert asked.status_code == 303
    assert [r.status for r in rows(ExtensionRequest)] == ["pending"]
    page = client.get(path)
    assert 'data-testid="extension-waiting"' in page.text and 'data-testid="extension-request"' not in page.text


def test_a_possible_duplicate_is_linked_to_the_earlier_complaint(client: TestClient, specialist_chen: Staff) -> None:
    chen = principal(specialist_chen)
    customer_id = make_customer().id
    earlier = open_ticket(chen, kind="complaint", customer_id=customer_id, subject="信用卡年费被重复扣收",
                          description="客户称本月信用卡年费被重复扣收两次。")
    again = open_ticket(chen, kind="complaint", customer_id=customer_id, subject="信用卡年费被重复扣收",
                        description="客户再次来电称本月信用卡年费被重复扣收两次。")
    assert reload(again.id).possible_duplicate_of_id == earlier.id
    path = f"/tickets/{again.id}"
    sign_in(client, "specialist_chen")
    assert 'data-testid="link-duplicate"' in client.get(path).text

    bare = post_form(client, f"{path}/duplicate", {"duplicate_of": str(earlier.id), "reason": ""}, page=path)
    assert bare.status_code == 422 and 'data-testid="error-reason"' in bare.text
    wrong = post_form(client, f"{path}/duplicate", {"duplicate_of": str(again.id), "reason": "同一事项"}, page=path)
    assert wrong.status_code == 422 and 'data-testid="error-duplicate_of"' in wrong.text
    assert reload(again.id).status == TicketStatus.OPEN and reload(again.id).duplicate_of_id is None

    linked = post_form(client, f"{path}/duplicate", {"duplicate_of": str(earlier.id), "reason": "同一事项"},
                       page=path)
    assert linked.status_code == 303
    assert reload(again.id).status == TicketStatus.CLOSED and reload(again.id).duplicate_of_id == earlier.id
    page = client.get(path)
    assert 'data-testid="duplicate-of"' in page.text and 'data-testid="link-duplicate"' not in page.text
    assert 'data-testid="entry-duplicate_linked"' in client.get(f"/tickets/{earlier.id}").text


def test_a_review_is_requested_and_concluded_from_the_ticket_page(
        client: TestClient, specialist_chen: Staff, supervisor_wang: Staff) -> None:
    chen = principal(specialist_chen)
    ticket = open_ticket(chen, kind="complaint")
    path = f"/tickets/{ticket.id}"
    sign_in(client, "specialist_chen")
    assert 'data-testid="review-request"' not in client.get(path).text  # not decided yet
    decide(ticket, chen)
    assert 'data-testid="review-request"' in client.get(path).text
    empty = post_form(client, f"{path}/review", {"reason": ""}, page=path)
    assert empty.status_code == 422 and 'data-testid="error-reason"' in empty.text and count(ComplaintReview) == 0
    asked = post_form(client, f"{path}/review", {"reason": "客户不认可处理结果"}, page=path)
    assert asked.status_code == 303 and asked.headers["location"] == f"{path}#review"
    (review,) = rows(ComplaintReview)
    assert review.status == "open" and review.reason == "客户不认可处理结果"
    assert 'data-testid="conclusion"' not in client.get(path).text  # the handler does not review

    client.post("/logout")
    sign_in(client, "supervisor_wang")
    page = client.get(path)
    assert 'data-testid="conclusion"' in page.text
    bare = post_form(client, f"{path}/reviews/{review.id}/conclusion", {"outcome": "overturned", "finding": ""},
                     page=path)
    assert bare.status_code == 422 and 'data-testid="error-finding"' in bare.text
    assert 'value="overturned" required checked' in bare.text
    done = post_form(client, f"{path}/reviews/{review.id}/conclusion",
                     {"outcome": "overturned", "finding": "补偿不足，重新处理"}, page=path)
    assert done.status_code == 303
    assert rows(ComplaintReview)[0].status == "overturned" and reload(ticket.id).status == TicketStatus.REOPENED
    assert 'data-testid="decision-form"' in client.get(path).text  # decided anew


def test_the_approver_releases_a_waiting_reply_from_the_ticket_page_in_chinese(
        client: TestClient, supervisor_wang: Staff, specialist_chen: Staff) -> None:
    chen = principal(specialist_chen)
    ticket = open_ticket(chen, kind="complaint", risk_grade="high")
    path = f"/tickets/{ticket.id}"
    sign_in(client, "specialist_chen", english=False)
    page = client.get(path)
    assert "处理决定与答复" in page.text and "投诉成立" in page.text and "仲裁" in page.text  # the Chinese template
    waiting = decide(ticket, chen)
    page = client.get(path)
    assert 'data-testid="decision-waiting"' in page.text and 'data-testid="approval"' not in page.text

    client.post("/logout")
    sign_in(client, "supervisor_wang")
    assert 'data-testid="approval"' in client.get(path).text
    released = post_form(client, f"{path}/decisions/{waiting.id}/approval", {"approve": "yes"}, page=path)
    assert released.status_code == 303 and released.headers["location"] == f"{path}#decision"
    assert [d.status for d in rows(ComplaintDecision)] == ["sent"]
    assert reload(ticket.id).status == TicketStatus.RESOLVED
