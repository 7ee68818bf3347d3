"""The complaint procedure after intake: decision and reply (with the routes of review, mediation,
arbitration and litigation; a second pair of eyes for high-risk replies), review (核查) by someone
who did not handle it, duplicates linked without restarting the statutory clock, extension requests
decided by a supervisor, and the regulator report list."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import Engine, func, select

from fincare.platform.db import unit_of_work
from fincare.platform.jobs.models import Job
from fincare.platform.notify import Notification
from fincare.platform.permissions import Role
from fincare.servicedesk.models import ComplaintDecision, ComplaintReview, ExtensionRequest, Ticket, TicketMessage
from fincare.sla.models import Clock, ClockEvent
from tests.console import sign_in
from tests.factories.accounts import Staff, make_staff
from tests.factories.customers import make_customer
from tests.factories.tickets import decide_via_api, open_via_api

API = "/api/v1"


@pytest.fixture
def chen(db: Engine) -> Staff:
    return make_staff("specialist_chen", Role.COMPLAINT_SPECIALIST)


@pytest.fixture
def compliance_qian(db: Engine) -> Staff:
    return make_staff("compliance_qian", Role.COMPLIANCE_OFFICER, department="compliance", totp=True)


def count(model: type[Any]) -> int:
    with unit_of_work(read_only=True) as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def get(client: TestClient, staff: Staff, path: str) -> Any:
    response = client.get(f"{API}{path}", headers=staff.headers)
    assert response.status_code == 200, response.text
    return response.json()


def post(client: TestClient, staff: Staff, path: str, body: dict[str, Any]) -> Any:
    return client.post(f"{API}{path}", json=body, headers=staff.headers)


# -- decision and reply ----------------------------------------------------------------------------


def test_a_reply_without_the_review_and_mediation_routes_is_refused_and_nothing_is_written(
        client: TestClient, chen: Staff) -> None:
    ticket = open_via_api(client, chen, kind="complaint")
    bare = post(client, chen, f"/tickets/{ticket['id']}/decisions",
                {"outcome": "not_upheld", "language": "zh-CN",
                 "reply": "经核实，您的投诉不成立。如有异议可向法院提起诉讼。"})
    assert bare.status_code == 422 and bare.json()["error"]["field"] == "reply"
    message = bare.json()["error"]["message"]
    assert "mediation" in message and "arbitration" in message and "litigation" not in message
    english = post(client, chen, f"/tickets/{ticket['id']}/decisions",
                   {"outcome": "upheld", "reply": "We are sorry. You may ask for a review.", "language": "en"})
    assert english.status_code == 422 and english.json()["error"]["field"] == "reply"
    assert count(ComplaintDecision) == count(TicketMessage) == 0
    assert get(client, chen, f"/tickets/{ticket['id']}")["status"] == "open"


def test_the_decision_reply_reaches_the_complainant_and_resolves_the_complaint(client: TestClient,
                                                                                 chen: Staff) -> None:
    ticket = open_via_api(client, chen, kind="complaint")
    template = get(client, chen, f"/tickets/{ticket['id']}/decision-template?outcome=partly_upheld"
                                 "&remedy=退还年费200元&language=zh-CN")["reply"]
    assert all(word in template for word in ("核查", "调解", "仲裁", "诉讼", "退还年费200元", ticket["reference"]))
    english = get(client, chen, f"/tickets/{ticket['id']}/decision-template?outcome=upheld&language=en")["reply"]
    assert all(w in english for w in ("review", "mediation", "arbitration", "litigation"))
    decision = decide_via_api(client, chen, ticket["id"], remedy="退还年费200元")
    assert decision["status"] == "sent" and decision["outcome"] == "partly_upheld"
    assert decision["remedy"] == "退还年费200元" and decision["decided_by_id"] == chen.id
    after = get(client, chen, f"/tickets/{ticket['id']}")
    assert after["status"] == "resolved" and after["decision_id"] == decision["id"]
    messages = get(client, chen, f"/tickets/{ticket['id']}/messages")
    assert [(m["visibility"], m["body"]) for m in messages] == [("public", decision["reply"])]
    again = post(client, chen, f"/tickets/{ticket['id']}/decisions", {"outcome": "upheld", "reply": template})
    assert again.status_code == 409
    unknown = post(client, chen, f"/tickets/{open_via_api(client, chen, kind='complaint')['id']}/decisions",
                   {"outcome": "maybe", "reply": template})
    assert unknown.status_code == 422 and unknown.json()["error"]["field"] == "outcome"


def test_a_high_risk_reply_waits_for_someone_else_s_approval(client: TestClient, chen: Staff,
                                                            supervisor_wang: Staff) -> None:
    ticket = open_via_api(client, chen, kind="complaint", risk_grade="high")
    decision = decide_via_api(client, chen, ticket["id"], outcome="upheld")
    assert decision["status"] == "pending_approval" and count(TicketMessage) == 0
    assert get(client, chen, f"/tickets/{ticket['id']}")["status"] == "open"
    assert post(client, chen, f"/decisions/{decision['id']}/approval", {"approve": True}).status_code == 403
    assert post(client, chen, f"/tickets/{ticket['id']}/transitions", {"to": "resolved"}).status_code == 409
    refused = post(client, supervisor_wang, f"/decisions/{decision['id']}/approval", {"approve": False})
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "note"
    sent_back = post(client, supervisor_wang, f"/decisions/{decision['id']}/approval",
                     {"approve": False, "note": "补偿方案需写明金额"})
    assert sent_back.json()["status"] == "rejected" and count(TicketMessage) == 0
    second = decide_via_api(client, chen, ticket["id"], outcome="upheld", remedy="赔偿损失1,000元")
    approved = post(client, supervisor_wang, f"/decisions/{second['id']}/approval", {"approve": True})
    assert approved.status_code == 200 and approved.json()["status"] == "sent"
    assert approved.json()["approved_by_id"] == supervisor_wang.id
    assert get(client, chen, f"/tickets/{ticket['id']}")["status"] == "resolved"
    author = make_staff("supervisor_liu", Role.SUPERVISOR)
    own = open_via_api(client, author, kind="complaint", risk_grade="high")
    mine = decide_via_api(client, author, own["id"])
    assert post(client, author, f"/decisions/{mine['id']}/approval", {"approve": True}).status_code == 403


def test_everyone_who_may_approve_a_waiting_decision_is_told_but_not_its_author(
        client: TestClient, chen: Staff, supervisor_wang: Staff, compliance_qian: Staff, agent_li: Staff) -> None:
    author = make_staff("supervisor_liu", Role.SUPERVISOR)
    ticket = open_via_api(client, author, kind="complaint", risk_grade="high")
    decide_via_api(client, author, ticket["id"], outcome="upheld")
    with unit_of_work(read_only=True) as session:
        told = session.execute(select(Notification.kind, Notification.recipient_id)).all()
    approvers = (supervisor_wang, compliance_qian)
    assert sorted(told) == sorted(("decision_awaiting_approval", staff.id) for staff in approvers)


# -- 回避: staff a complaint names ----------------------------------------------------------------


def refused_as_recused(response: Any, field: str) -> bool:
    error = response.json()["error"]
    return response.status_code == 403 and error["code"] == "recused" and error["field"] == field


def test_the_specialist_a_complaint_names_reads_it_but_never_handles_it(
        client: TestClient, chen: Staff, agent_li: Staff) -> None:
    ticket = open_via_api(client, agent_li, kind="complaint", named_staff_ids=[chen.id])
    path = f"/tickets/{ticket['id']}"
    assert get(client, chen, path)["id"] == ticket["id"]  # reading it is not handling it
    template = get(client, chen, f"{path}/decision-template?outcome=upheld")["reply"]
    attempts = {"/replies": {"body": "您好，已收到", "visibility": "public"},
                "/replies#note": {"body": "内部备注", "visibility": "internal"},
                "/transitions": {"to": "resolved"}, "/decisions": {"outcome": "not_upheld", "reply": template},
                "/coding": {"channel_code": "A05", "business_type_code": "B03", "cause_code": "C01"},
                "/extension-requests": {"reason": "需调取三个月流水"},
                "/assignment": {"assignee_id": chen.id}}
    for suffix, body in attempts.items():
        response = post(client, chen, path + suffix.split("#")[0], body)
        assert refused_as_recused(response, "ticket_id"), (suffix, response.text)
    assert count(TicketMessage) == count(ComplaintDecision) == 0
    assert get(client, chen, path)["status"] == ticket["status"]
    colleague = make_staff("specialist_qian", Role.COMPLAINT_SPECIALIST)  # anyone else handles it
    reply = post(client, colleague, f"{path}/replies", {"body": "您好，已收到", "visibility": "public"})
    assert reply.status_code == 201


def test_a_supervisor_a_complaint_names_neither_approves_its_reply_nor_extends_its_deadline(
        client: TestClient, chen: Staff, supervisor_wang: Staff) -> None:
    ticket = open_via_api(client, chen, kind="complaint", risk_grade="high", named_staff_ids=[supervisor_wang.id])
    decision = decide_via_api(client, chen, ticket["id"], outcome="upheld", remedy="赔偿损失1,000元")
    approval = post(client, supervisor_wang, f"/decisions/{decision['id']}/approval", {"approve": True})
    assert refused_as_recused(approval, "decision_id")
    due = statutory(ticket["id"]).due_at
    extension = client.post(f"{API}/tickets/{ticket['id']}/extensions", json={"reason": "案情复杂"},
                            headers={**supervisor_wang.headers, "Idempotency-Key": "ext-1"})
    assert refused_as_recused(extension, "ticket_id")
    request = post(client, chen, f"/tickets/{ticket['id']}/extension-requests", {"reason": "需调取三个月流水"})
    decided = post(client, supervisor_wang, f"/extension-requests/{request.json()['id']}/decision", {"approve": True})
    assert refused_as_recused(decided, "request_id")
    assert statutory(ticket["id"]).due_at == due and count(TicketMessage) == 0
    liu = make_staff("supervisor_liu", Role.SUPERVISOR)  # a supervisor it does not name
    assert post(client, liu, f"/decisions/{decision['id']}/approval", {"approve": True}).json()["status"] == "sent"


def test_staff_a_complaint_names_neither_choose_its_reviewer_nor_report_it_to_the_regulator(
        client: TestClient, chen: Staff, supervisor_wang: Staff, compliance_qian: Staff) -> None:
    ticket = open_via_api(client, chen, kind="complaint", risk_grade="high", named_staff_ids=[compliance_qian.id])
    decision = decide_via_api(client, chen, ticket["id"], outcome="not_upheld")
    post(client, supervisor_wang, f"/decisions/{decision['id']}/approval", {"approve": True})
    # the complainant asks for a review; whoever takes that down only relays it
    review = post(client, chen, f"/tickets/{ticket['id']}/reviews", {"reason": "客户对处理结果不满意"})
    assert review.status_code == 201
    fresh = make_staff("supervisor_he", Role.SUPERVISOR)  # handled none of it: may review it
    chosen = post(client, compliance_qian, f"/reviews/{review.json()['id']}/reviewer", {"reviewer_id": fresh.id})
    assert refused_as_recused(chosen, "review_id")
    (report,) = get(client, compliance_qian, "/regulator-reports")
    submitted = post(client, compliance_qian, f"/regulator-reports/{report['id']}/submission", {})
    assert refused_as_recused(submitted, "report_id")
    assert get(client, supervisor_wang, "/regulator-reports")[0]["status"] == "due"
    liu = make_staff("supervisor_liu", Role.SUPERVISOR)
    assert post(client, liu, f"/reviews/{review.json()['id']}/reviewer", {"reviewer_id": fresh.id}).status_code == 200


# -- review (核查) -----------------------------------------------------------------------------------


def decided_complaint(client: TestClient, handler: Staff) -> dict[str, Any]:
    ticket = open_via_api(client, handler, kind="complaint")
    decide_via_api(client, handler, ticket["id"], outcome="not_upheld")
    return ticket


def test_a_review_is_done_by_someone_other_than_the_original_handler(
        client: TestClient, supervisor_wang: Staff, compliance_qian: Staff) -> None:
    ticket = decided_complaint(client, supervisor_wang)  # a supervisor handled it himself
    refused = post(client, supervisor_wang, f"/tickets/{ticket['id']}/reviews",
                   {"reason": "客户对处理结果不满意", "reviewer_id": supervisor_wang.id})
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "reviewer_id"
    assert count(ComplaintReview) == 0
    review = post(client, supervisor_wang, f"/tickets/{ticket['id']}/reviews", {"reason": "客户对处理结果不满意"})
    assert review.status_code == 201 and review.json()["reviewer_id"] is None
    review_id = review.json()["id"]
    assert review.json()["due_at"] > ticket["received_at"]
    self_review = post(client, supervisor_wang, f"/reviews/{review_id}/conclusion",
                       {"outcome": "confirmed", "finding": "维持原决定"})
    assert self_review.status_code == 422 and self_review.json()["error"]["field"] == "reviewer_id"
    assigned = post(client, supervisor_wang, f"/reviews/{review_id}/reviewer", {"reviewer_id": compliance_qian.id})
    assert assigned.status_code == 200
    overturned = post(client, compliance_qian, f"/reviews/{review_id}/conclusion",
                      {"outcome": "overturned", "finding": "销售录音显示未充分揭示风险"})
    assert overturned.status_code == 200 and overturned.json()["status"] == "overturned"
    reopened = get(client, supervisor_wang, f"/tickets/{ticket['id']}")
    assert reopened["status"] == "reopened" and reopened["decision_id"] is None
    again = post(client, compliance_qian, f"/reviews/{review_id}/conclusion", {"outcome": "confirmed", "finding": "x"})
    assert again.status_code == 409


def test_a_confirmed_review_leaves_the_decision_standing(client: TestClient, chen: Staff,
                                                         supervisor_wang: Staff) -> None:
    ticket = decided_complaint(client, chen)
    assert post(client, chen, f"/tickets/{open_via_api(client, chen, kind='complaint')['id']}/reviews",
                {"reason": "未决定"}).status_code == 409  # nothing decided yet to review
    review = post(client, chen, f"/tickets/{ticket['id']}/reviews",
                  {"reason": "客户要求核查", "reviewer_id": supervisor_wang.id}).json()
    assert post(client, chen, f"/tickets/{ticket['id']}/reviews", {"reason": "再次"}).status_code == 409
    assert post(client, chen, f"/reviews/{review['id']}/conclusion",
                {"outcome": "confirmed", "finding": "x"}).status_code == 403  # specialists do not review
    done = post(client, supervisor_wang, f"/reviews/{review['id']}/conclusion",
                {"outcome": "confirmed", "finding": "原处理决定事实清楚"})
    assert done.json()["status"] == "confirmed"
    assert get(client, chen, f"/tickets/{ticket['id']}")["status"] == "resolved"


# -- duplicates -------------------------------------------------------------------------------------


def statutory(ticket_id: int) -> Clock:
    with unit_of_work(read_only=True) as session:
        return session.execute(select(Clock).where(Clock.subject_id == ticket_id,
                                                   Clock.target == "statutory")).scalar_one()


def test_a_linked_duplicate_does_not_restart_the_statutory_clock(client: TestClient, chen: Staff,
                                                                 frozen_clock) -> None:  # type: ignore[no-untyped-def]
    customer = make_customer().id
    first = open_via_api(client, chen, customer, kind="complaint", subject="信用卡年费被重复扣收",
                         description="我的信用卡年费在十月被重复扣收了两次，要求退还。")
    due_before = statutory(first["id"]).due_at
    frozen_clock.advance(timedelta(days=3))
    second = open_via_api(client, chen, customer, kind="complaint", subject="信用卡年费重复扣收",
                          description="信用卡年费在十月被重复扣收了两次，要求退还！")
    assert second["possible_duplicate_of_id"] == first["id"]
    other = open_via_api(client, chen, kind="complaint")
    wrong = post(client, chen, f"/tickets/{second['id']}/duplicate-link", {"duplicate_of": other["id"], "reason": "同"})
    assert wrong.status_code == 422 and wrong.json()["error"]["field"] == "duplicate_of"
    linked = post(client, chen, f"/tickets/{second['id']}/duplicate-link",
                  {"duplicate_of": first["id"], "reason": "同一笔年费重复扣收"})
    assert linked.status_code == 200
    assert (linked.json()["status"], linked.json()["duplicate_of_id"]) == ("closed", first["id"])
    assert {c["state"] for c in linked.json()["sla"]} == {"cancelled"}
    assert statutory(first["id"]).due_at == due_before  # the first deadline runs on, unchanged
    with unit_of_work(read_only=True) as session:
        starts = session.execute(
            select(func.count()).select_from(ClockEvent).join(Clock, Clock.id == ClockEvent.clock_id)
            .where(Clock.subject_id == first["id"], ClockEvent.kind == "started")).scalar_one()
    assert starts == len(get(client, chen, f"/tickets/{first['id']}")["sla"])  # nothing restarted
    kinds = [e["kind"] for e in get(client, chen, f"/tickets/{first['id']}/events")]
    assert "duplicate_linked" in kinds
    reopen = post(client, chen, f"/tickets/{second['id']}/transitions", {"to": "reopened", "reason": "试"})
    assert reopen.status_code == 409
    twice = post(client, chen, f"/tickets/{second['id']}/duplicate-link", {"duplicate_of": first["id"], "reason": "x"})
    assert twice.status_code == 409


# -- extension requests -----------------------------------------------------------------------------


def test_an_extension_request_extends_the_deadline_only_when_a_supervisor_approves(
        client: TestClient, chen: Staff, supervisor_wang: Staff, agent_li: Staff) -> None:
    ticket = open_via_api(client, chen, kind="complaint")
    due = statutory(ticket["id"]).due_at
    request = post(client, chen, f"/tickets/{ticket['id']}/extension-requests", {"reason": "需调取三个月流水"})
    assert request.status_code == 201 and request.json()["status"] == "pending"
    assert post(client, chen, f"/tickets/{ticket['id']}/extension-requests", {"reason": "再"}).status_code == 409
    assert statutory(ticket["id"]).due_at == due
    assert post(client, chen, f"/extension-requests/{request.json()['id']}/decision",
                {"approve": True}).status_code == 403
    assert post(client, agent_li, f"/extension-requests/{request.json()['id']}/decision",
                {"approve": True}).status_code == 403
    granted = post(client, supervisor_wang, f"/extension-requests/{request.json()['id']}/decision", {"approve": True})
    assert granted.status_code == 200 and granted.json()["status"] == "approved"
    assert statutory(ticket["id"]).due_at == due + timedelta(days=15)
    with unit_of_work(read_only=True) as session:
        notices = session.execute(select(func.count()).select_from(Job).where(
            Job.event == "sla.statutory_extended")).scalar_one()
    assert notices == 1
    assert post(client, supervisor_wang, f"/extension-requests/{request.json()['id']}/decision",
                {"approve": True}).status_code == 409


def test_a_retried_extension_request_is_answered_again_and_asked_once(client: TestClient, chen: Staff) -> None:
    ticket = open_via_api(client, chen, kind="complaint")
    url, key = f"{API}/tickets/{ticket['id']}/extension-requests", {"Idempotency-Key": "ext-req-1"}
    first = client.post(url, json={"reason": "需调取三个月流水"}, headers={**chen.headers, **key})
    again = client.post(url, json={"reason": "需调取三个月流水"}, headers={**chen.headers, **key})
    assert first.status_code == again.status_code == 201, again.text
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    with unit_of_work(read_only=True) as session:
        asked = session.execute(select(func.count()).select_from(ExtensionRequest)).scalar_one()
    assert asked == 1


def test_no_extension_is_asked_for_or_offered_once_the_deadline_is_at_60_days(
        client: TestClient, chen: Staff, supervisor_wang: Staff) -> None:
    ticket = open_via_api(client, chen, kind="complaint")
    for reason in ("需调取三个月流水", "需等待公安机关回函"):
        request = post(client, chen, f"/tickets/{ticket['id']}/extension-requests", {"reason": reason})
        assert request.status_code == 201, request.text
        assert post(client, supervisor_wang, f"/extension-requests/{request.json()['id']}/decision",
                    {"approve": True}).status_code == 200
    sign_in(client, chen.username)
    page = client.get(f"/tickets/{ticket['id']}")
    assert page.status_code == 200 and 'data-testid="extension-request"' not in page.text
    told = count(Notification)
    third = post(client, chen, f"/tickets/{ticket['id']}/extension-requests", {"reason": "仍需更多时间"})
    assert third.status_code == 409 and third.json()["error"]["field"] == "ticket_id"
    assert "60" in third.json()["error"]["message"] and count(Notification) == told


# -- regulator reports ------------------------------------------------------------------------------


def test_regulator_reports_are_listed_submitted_and_exported(client: TestClient, chen: Staff,
                                                              compliance_qian: Staff, agent_li: Staff) -> None:
    high = open_via_api(client, chen, kind="complaint", risk_grade="high")
    open_via_api(client, chen, kind="complaint", channel="regulator_transfer")
    open_via_api(client, chen, kind="complaint")  # low risk: no report
    reports = get(client, compliance_qian, "/regulator-reports")
    assert len(reports) == 2 and {r["status"] for r in reports} == {"due"}
    first = next(r for r in reports if r["ticket_id"] == high["id"])
    submitted = post(client, compliance_qian, f"/regulator-reports/{first['id']}/submission",
                     {"regulator_reference": "JG-2026-1012-007"})
    assert submitted.status_code == 200 and submitted.json()["status"] == "submitted"
    assert post(client, compliance_qian, f"/regulator-reports/{first['id']}/submission", {}).status_code == 409
    assert [r["ticket_id"] for r in get(client, compliance_qian, "/regulator-reports?status=due")] != [high["id"]]
    exported = client.get(f"{API}/regulator-reports/export?format=csv", headers=compliance_qian.headers)
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert exported.headers["content-type"].startswith("text/csv") and len(rows) == 2
    by_reference = {r["ticket_reference"]: r for r in rows}
    assert by_reference[high["reference"]]["regulator_reference"] == "JG-2026-1012-007"
    book = client.get(f"{API}/regulator-reports/export?format=xlsx", headers=compliance_qian.headers)
    sheet = load_workbook(io.BytesIO(book.content)).active
    values = list(sheet.iter_rows(values_only=True))  # type: ignore[union-attr]
    assert values[0][:2] == ("report_id", "ticket_reference") and len(values) == 3
    assert client.get(f"{API}/regulator-reports", headers=agent_li.headers).status_code == 403
    assert client.get(f"{API}/regulator-reports/export", headers=chen.headers).status_code == 403
    assert client.get(f"{API}/regulator-reports/export?format=pdf",
                      headers=compliance_qian.headers).status_code == 422


def test_exported_text_never_runs_as_a_spreadsheet_formula(client: TestClient, chen: Staff,
                                                           compliance_qian: Staff) -> None:
    """Staff-entered text that a spreadsheet would evaluate (CSV injection) is exported as text."""
    open_via_api(client, chen, kind="complaint", risk_grade="high")
    report = get(client, compliance_qian, "/regulator-reports")[0]
    formula = '=HYPERLINK("http://example.invalid","JG")'
    assert post(client, compliance_qian, f"/regulator-reports/{report['id']}/submission",
                {"regulator_reference": formula}).status_code == 200
    exported = client.get(f"{API}/regulator-reports/export?format=csv", headers=compliance_qian.headers)
    assert next(csv.DictReader(io.StringIO(exported.text)))["regulator_reference"] == "'" + formula
    book = client.get(f"{API}/regulator-reports/export?format=xlsx", headers=compliance_qian.headers)
    sheet = load_workbook(io.BytesIO(book.content)).active
    header, row = list(sheet.iter_rows(min_row=1, max_row=2))  # type: ignore[union-attr]
    stored = row[[c.value for c in header].index("regulator_reference")]
    assert (stored.value, stored.data_type) == (formula, "s")  # the text itself, typed as text


def test_the_board_lists_what_waits_for_a_supervisor(client: TestClient, chen: Staff, supervisor_wang: Staff,
                                                     agent_li: Staff) -> None:
    high = open_via_api(client, chen, kind="complaint", risk_grade="high")
    decide_via_api(client, chen, high["id"])
    post(client, chen, f"/tickets/{high['id']}/extension-requests", {"reason": "需要更多时间"})
    call = open_via_api(client, agent_li)  # five minutes to answer: at risk
    board = get(client, supervisor_wang, "/board")
    assert [d["ticket_id"] for d in board["decisions_awaiting_approval"]] == [high["id"]]
    assert [r["ticket_id"] for r in board["extension_requests"]] == [high["id"]]
    assert [r["ticket_id"] for r in board["regulator_reports_due"]] == [high["id"]]
    assert call["id"] in [t["id"] for t in board["at_risk"]] and board["breached"] == []
    loads = {a["account_id"]: a for a in board["loads"]}
    assert loads[chen.id]["open"] == 1 and loads[chen.id]["on_duty"] is True
    assert client.get(f"{API}/board", headers=agent_li.headers).status_code == 403
    assert client.get(f"{API}/board", headers=chen.headers).status_code == 403
    assert count(Ticket) == 2


def test_each_extension_is_announced_to_the_complainant_in_their_language(
        client: TestClient, chen: Staff, supervisor_wang: Staff) -> None:
    from fincare.platform.outbox import render
    from fincare.platform.outbox.models import OutboundMessage
    from fincare.servicedesk import jobs as desk_jobs

    reachable = open_via_api(client, chen, make_customer(email="zhao.lei@example.com", language="en").id,
                             kind="complaint")
    silent = open_via_api(client, chen, make_customer(phone=None, email=None).id, kind="complaint")
    for ticket in (reachable, silent):
        post(client, supervisor_wang, f"/tickets/{ticket['id']}/extensions", {"reason": "需调取第三方支付记录"})
    with unit_of_work(read_only=True) as session:
        payloads = [j.payload for j in session.execute(select(Job).where(Job.event == "sla.statutory_extended")
                                                       .order_by(Job.id)).scalars()]
    for payload in payloads * 2:  # delivered twice: one notice each
        with unit_of_work() as session:
            desk_jobs.notify_extension(session, **payload)
    with unit_of_work(read_only=True) as session:
        messages = list(session.execute(select(OutboundMessage)).scalars())
    assert [(m.subject_type, m.subject_id, m.language, m.channel) for m in messages] == [
        ("ticket", reachable["id"], "en", "email")]
    assert "30 days" in render("servicedesk.statutory_extension", "en",
                               {"reference": "TS-1", "days": 30, "due_date": "2026-11-11"}).body
    kinds = [e["kind"] for e in get(client, chen, f"/tickets/{reachable['id']}/events")]
    assert kinds.count("complainant_notified") == 1
    silent_kinds = [e["kind"] for e in get(client, chen, f"/tickets/{silent['id']}/events")]
    assert silent_kinds.count("notice_undeliverable") == 1  # the handler is told to telephone
