"""The agent workspace in the console: my queue most urgent first with live countdowns, the ticket page
(SLA, merged timeline, masked customer), new tickets by exact lookup, replies and status through
plain forms, and every refusal shown next to its form or as a 403."""

from __future__ import annotations

import ast
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine, func, select

from fincare.customers import service as customers
from fincare.platform import clock, i18n
from fincare.platform.accounts import service as accounts
from fincare.platform.audit_trail.models import AuditEntry
from fincare.platform.db import unit_of_work
from fincare.platform.permissions import SYSTEM, Principal, Role
from fincare.servicedesk import service
from fincare.servicedesk.models import (
    Channel,
    Priority,
    RiskGrade,
    Ticket,
    TicketKind,
    TicketMessage,
    TicketStatus,
    Visibility,
)
from fincare.servicedesk.workspace import CLOCK_STATES
from fincare.sla.models import Clock, Target
from tests.console import csrf, post_form, sign_in
from tests.factories import customers as make
from tests.factories.accounts import Staff, make_staff
from tests.factories.roster import away
from tests.factories.tickets import open_ticket

SERVICEDESK = Path(service.__file__).resolve().parent.parent
MONDAY = datetime(2026, 10, 12, 9, 30, tzinfo=UTC)  # the frozen clock: 17:30 in Shanghai


@pytest.fixture
def followup_sun(db: Engine) -> Staff:
    return make_staff("followup_sun", Role.FOLLOWUP_AGENT)


def principal(staff: Staff) -> Principal:
    with unit_of_work(read_only=True) as session:
        account = accounts.get_account(session, staff.id)
        assert account is not None
        return accounts.principal_of(account)


def ticket_ids(page: Response, table: str) -> list[int]:
    """The tickets of one queue table, top to bottom."""
    section = page.text.split(f'data-testid="{table}"', 1)[1].split("</table>", 1)[0]
    return [int(i) for i in re.findall(r'data-ticket="(\d+)"', section)]


def count(model: type[Any]) -> int:
    with unit_of_work(read_only=True) as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def audit_actions(prefix: str) -> list[str]:
    with unit_of_work(read_only=True) as session:
        return list(session.execute(select(AuditEntry.action).where(AuditEntry.action.startswith(prefix))
                                    .order_by(AuditEntry.id)).scalars())


def all_tickets() -> list[Ticket]:
    with unit_of_work(read_only=True) as session:
        return list(session.execute(select(Ticket).order_by(Ticket.id)).scalars())


def clear_value(customer_id: int, field: str) -> str:
    with unit_of_work(read_only=True) as session:
        found = customers.get_customer(session, customer_id)
        assert found is not None
        return str(customers.decrypt_all(session, found)[field])


def reload(ticket_id: int) -> Ticket:
    with unit_of_work(read_only=True) as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None
        return ticket


def clock_states(ticket_id: int) -> dict[str, str]:
    with unit_of_work(read_only=True) as session:
        return {c.target: c.state for c in session.execute(
            select(Clock).where(Clock.subject_type == "ticket", Clock.subject_id == ticket_id)).scalars()}


def transition(ticket: Ticket, actor: Principal, to: TicketStatus) -> None:
    with unit_of_work() as session:
        service.transition(session, actor=actor, ticket=service.access_ticket(session, ticket.id, actor,
                                                                              for_write=True), to=to)


def ask_the_customer(ticket: Ticket, actor: Principal) -> None:
    """Reply with a question, then wait for the answer (the only way a ticket waits for the customer)."""
    with unit_of_work() as session:
        service.add_message(session, actor=actor, ticket=service.access_ticket(session, ticket.id, actor,
                                                                               for_write=True),
                            body="请补充交易时间。", visibility=Visibility.PUBLIC)
    transition(ticket, actor, TicketStatus.PENDING_CUSTOMER)


# -- my queue --------------------------------------------------------------------------------------


def test_the_queue_lists_my_active_tickets_most_urgent_first(client: TestClient, agent_li: Staff,
                                                            frozen_clock: clock.FrozenClock) -> None:
    li = principal(agent_li)
    later = open_ticket(li, kind="feedback", subject="网点服务建议")  # 48 business hours
    first = open_ticket(li, subject="年费咨询")  # due 09:35
    frozen_clock.advance(timedelta(minutes=2))
    second = open_ticket(li, subject="积分咨询")  # due 09:37
    done = open_ticket(li, subject="已解决的咨询")
    transition(done, li, TicketStatus.RESOLVED)
    zhou = make_staff("agent_zhou", Role.AGENT)
    someone_elses = open_ticket(principal(zhou), subject="别人的咨询")
    away(agent_li, zhou)  # nobody on duty: routing leaves it waiting
    nobodys = open_ticket(SYSTEM, subject="无人领取的咨询")  # the system owns nothing: unassigned
    complaint = open_ticket(SYSTEM, kind="complaint", subject="无人领取的投诉")  # agents do not work complaints

    sign_in(client, "agent_li")
    page = client.get("/tickets")
    assert page.status_code == 200
    assert ticket_ids(page, "my-queue") == [first.id, second.id, later.id]
    assert ticket_ids(page, "unassigned-queue") == [nobodys.id]
    assert someone_elses.reference not in page.text and complaint.reference not in page.text
    assert done.reference not in page.text
    # a live countdown to the earliest due time, rendered by the server as the script will show it
    assert re.search(r'data-due="2026-10-12T09:35:00\.000\+00:00"[^>]*data-testid="countdown">00:03:00<',
                     page.text)
    assert f'action="/tickets/{nobodys.id}/take"' in page.text
    assert 'href="/tickets"' in page.text and 'src="/static/countdown.js"' in page.text

    frozen_clock.advance(timedelta(minutes=4))  # 09:36: the first is a minute overdue
    overdue = client.get("/tickets")
    assert re.search(r'class="countdown overdue"[^>]*>-00:01:00<', overdue.text)
    assert 'class="overdue-row"' in overdue.text


def test_a_ticket_waiting_for_the_customer_is_paused_in_the_queue(client: TestClient, agent_li: Staff,
                                                                 frozen_clock: clock.FrozenClock) -> None:
    li = principal(agent_li)
    ticket = open_ticket(li, kind="feedback")
    ask_the_customer(ticket, li)
    sign_in(client, "agent_li")
    row = client.get("/tickets").text.split(f'data-ticket="{ticket.id}"', 1)[1].split("</tr>", 1)[0]
    assert "data-paused" in row and ">Paused<" in row and "data-due" not in row


def test_the_console_speaks_chinese_by_default(client: TestClient, agent_li: Staff) -> None:
    li = principal(agent_li)
    ticket = open_ticket(li)
    ask_the_customer(ticket, li)
    sign_in(client, "agent_li", english=False)
    page = client.get("/tickets")
    assert 'lang="zh-CN"' in page.text
    assert "我的工单" in page.text and "待客户回复" in page.text and "已暂停" in page.text and "咨询" in page.text
    assert "My queue" not in page.text
    ticket_page = client.get(f"/tickets/{ticket.id}")
    assert "服务时限" in ticket_page.text and "处理记录" in ticket_page.text and "恢复处理" in ticket_page.text


def test_an_agent_takes_an_unassigned_ticket_from_the_queue(client: TestClient, agent_li: Staff) -> None:
    away(agent_li)
    ticket = open_ticket(SYSTEM)
    sign_in(client, "agent_li")
    taken = post_form(client, f"/tickets/{ticket.id}/take", {})
    assert taken.status_code == 303 and taken.headers["location"] == f"/tickets/{ticket.id}"
    assert reload(ticket.id).assignee_id == agent_li.id and reload(ticket.id).status == TicketStatus.OPEN
    assert ticket_ids(client.get("/tickets"), "my-queue") == [ticket.id]


# -- the ticket page -------------------------------------------------------------------------------


def test_the_ticket_page_shows_sla_timeline_and_the_customer_masked_only(
        client: TestClient, supervisor_wang: Staff, frozen_clock: clock.FrozenClock) -> None:
    body = make.individual(name="张三明", phone="13812345678")
    customer = make.make_customer(**body)
    wang = principal(supervisor_wang)
    ticket = open_ticket(wang, customer_id=customer.id, kind="complaint", risk_grade="high",
                         subject="理财产品亏损投诉", description="客户称销售时未充分揭示风险。")
    frozen_clock.advance(timedelta(minutes=10))
    with unit_of_work() as session:
        loaded = service.access_ticket(session, ticket.id, wang, for_write=True)
        service.add_message(session, actor=wang, ticket=loaded, body="您好，我们已受理您的投诉。",
                            visibility=Visibility.PUBLIC)
        service.add_message(session, actor=wang, ticket=loaded, body="需调取双录视频核实。",
                            visibility=Visibility.INTERNAL)

    sign_in(client, "supervisor_wang")
    page = client.get(f"/tickets/{ticket.id}")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    html = page.text
    assert ticket.reference in html and "理财产品亏损投诉" in html and "High risk" in html
    assert "张*明" in html and "138****5678" in html and f'href="/customers/{customer.id}"' in html
    assert [value for value in (body["name"], body["phone"], body["id_number"], body["email"], body["address"])
            if str(value) in html] == []
    # one row per clock, due times in Shanghai time: received 17:30 on Monday 12 October
    assert "Due (Asia/Shanghai)" in html
    feedback = html.split('data-testid="clock-feedback"', 1)[1].split("</tr>", 1)[0]
    assert 'data-state="met"' in feedback  # the public reply met the feedback target
    statutory = html.split('data-testid="clock-statutory"', 1)[1].split("</tr>", 1)[0]
    assert 'data-state="running"' in statutory and "2026-10-27 17:30" in statutory
    assert 'role="progressbar"' in statutory and 'data-due="2026-10-27T09:30:00.000+00:00"' in statutory
    resolution = html.split('data-testid="clock-resolution"', 1)[1].split("</tr>", 1)[0]
    assert "2026-10-14 17:30" in resolution and "00:10:00" not in resolution  # 48 h around the clock
    # the timeline merges events and messages, oldest first; replies and notes look different
    timeline = html.split('data-testid="timeline"', 1)[1]
    kinds = re.findall(r'data-testid="entry-(\w+)"', timeline)
    assert kinds[0] == "created" and kinds.index("replied") < kinds.index("noted")
    assert re.search(r'class="msg-public" data-testid="entry-replied">.*?您好，我们已受理您的投诉。', timeline, re.S)
    assert re.search(r'class="msg-internal" data-testid="entry-noted">.*?需调取双录视频核实。', timeline, re.S)
    assert 'data-testid="regulator-transfer"' not in html
    assert f'action="/tickets/{ticket.id}/extension"' in html  # supervisors approve extensions


def test_a_regulator_transfer_is_marked_on_the_page(client: TestClient, supervisor_wang: Staff) -> None:
    ticket = open_ticket(principal(supervisor_wang), kind="complaint", channel="regulator_transfer")
    sign_in(client, "supervisor_wang")
    assert 'data-testid="regulator-transfer"' in client.get(f"/tickets/{ticket.id}").text


def test_an_unknown_ticket_is_not_found(client: TestClient, agent_li: Staff) -> None:
    sign_in(client, "agent_li")
    assert client.get("/tickets/999999").status_code == 404
    assert post_form(client, "/tickets/999999/reply", {"body": "x", "visibility": "public"}).status_code == 404


# -- a new ticket ----------------------------------------------------------------------------------


def intake(**overrides: str) -> dict[str, str]:
    return {"lookup_field": "phone", "lookup_value": "", "kind": "consultation", "channel": "phone",
            "subject": "信用卡年费咨询", "description": "客户询问白金卡年费减免政策。", "action": "create",
            **overrides}


def test_a_ticket_is_opened_for_a_customer_found_by_phone(client: TestClient, agent_li: Staff) -> None:
    body = make.individual(phone="13912345678")
    customer = make.make_customer(**body)
    make.make_customer()  # someone else
    sign_in(client, "agent_li")
    form = client.get("/tickets/new")
    assert form.status_code == 200 and 'name="received_at"' not in form.text  # agents do not backdate

    found = post_form(client, "/tickets/new", intake(lookup_value="139 1234 5678", action="find"),
                      page="/tickets/new")
    assert found.status_code == 200
    assert 'data-testid="chosen-customer"' in found.text and "139****5678" in found.text
    assert f'name="customer_id" value="{customer.id}"' in found.text
    assert "13912345678" not in found.text.replace(" ", "")  # the identifier is not echoed back
    assert count(Ticket) == 0

    created = post_form(client, "/tickets/new", intake(lookup_value="13912345678"), page="/tickets/new")
    assert created.status_code == 303
    (ticket,) = all_tickets()
    assert created.headers["location"] == f"/tickets/{ticket.id}"
    assert ticket.customer_id == customer.id and ticket.assignee_id == agent_li.id
    assert ticket.kind == "consultation" and ticket.subject == "信用卡年费咨询"
    assert audit_actions("customer.searched") == ["customer.searched", "customer.searched"]
    page = client.get(created.headers["location"])
    assert page.status_code == 200 and "139****5678" in page.text and "13912345678" not in page.text


def test_the_new_ticket_form_sent_twice_opens_one_ticket(client: TestClient, agent_li: Staff) -> None:
    customer = make.make_customer()
    sign_in(client, "agent_li")
    form = client.get("/tickets/new")
    (key,) = re.findall(r'name="form_key" value="([^"]+)"', form.text)
    assert key not in client.get("/tickets/new").text  # each form shown has its own
    sent = {**intake(customer_id=str(customer.id)), "form_key": key, "csrf_token": csrf(form)}
    first = client.post("/tickets/new", data=sent, follow_redirects=False)
    again = client.post("/tickets/new", data=sent, follow_redirects=False)  # a double click
    assert first.status_code == again.status_code == 303
    assert again.headers["location"] == first.headers["location"] and count(Ticket) == 1
    other = client.post("/tickets/new", data={**sent, "form_key": "another-form"}, follow_redirects=False)
    assert other.status_code == 303 and count(Ticket) == 2  # another form is another ticket
    crafted = client.post("/tickets/new", data={**sent, "form_key": "k" * 300}, follow_redirects=False)
    assert crafted.status_code == 422 and count(Ticket) == 2
    changed = client.post("/tickets/new", data={**sent, "subject": "另一件事"}, follow_redirects=False)
    assert changed.status_code == 409 and count(Ticket) == 2  # the form of an opened ticket, changed
    assert key not in changed.text and 'name="form_key"' in changed.text  # sent again, it opens a new one


def test_a_found_customer_is_kept_while_the_rest_of_the_form_is_corrected(client: TestClient,
                                                                         agent_li: Staff) -> None:
    customer = make.make_customer(**make.individual(id_number=make.resident_id(seq=123)))
    id_number = clear_value(customer.id, "id_number")
    sign_in(client, "agent_li")
    refused = post_form(client, "/tickets/new", intake(lookup_field="id_number", lookup_value=id_number,
                                                       subject="", description="客户来电咨询房贷提前还款。"),
                        page="/tickets/new")
    assert refused.status_code == 422
    assert 'data-testid="error-subject"' in refused.text
    assert "客户来电咨询房贷提前还款。" in refused.text  # what was typed stays
    assert f'name="customer_id" value="{customer.id}"' in refused.text and id_number not in refused.text
    assert count(Ticket) == 0 and audit_actions("ticket.") == []

    created = client.post("/tickets/new", data={**intake(customer_id=str(customer.id)), "csrf_token": csrf(refused)},
                          follow_redirects=False)
    assert created.status_code == 303 and [t.customer_id for t in all_tickets()] == [customer.id]


@pytest.mark.parametrize(("value", "message"), [
    ("12345", "11 digits"),  # malformed: the identity rules say why
    ("13700000000", "no active customer has this identifier"),  # well-formed, nobody has it
    ("", "find the customer by mobile phone or ID number first"),
])
def test_a_lookup_that_finds_nobody_names_the_lookup_field_and_writes_nothing(
        client: TestClient, agent_li: Staff, value: str, message: str) -> None:
    make.make_customer()
    sign_in(client, "agent_li")
    refused = post_form(client, "/tickets/new", intake(lookup_value=value), page="/tickets/new")
    assert refused.status_code == 422
    assert 'data-testid="error-lookup_value"' in refused.text and message in refused.text
    assert f'name="lookup_value" value="{value}"' in refused.text  # to correct it
    assert 'value="信用卡年费咨询"' in refused.text
    assert count(Ticket) == 0 and audit_actions("ticket.") == []


def test_a_risk_grade_on_a_consultation_is_refused_next_to_the_risk_grade(client: TestClient,
                                                                          agent_li: Staff) -> None:
    customer = make.make_customer()
    sign_in(client, "agent_li")
    refused = post_form(client, "/tickets/new", intake(customer_id=str(customer.id), risk_grade="high"),
                        page="/tickets/new")
    assert refused.status_code == 422 and 'data-testid="error-risk_grade"' in refused.text
    assert count(Ticket) == 0


def test_a_control_character_is_refused_next_to_its_field(client: TestClient, agent_li: Staff) -> None:
    customer = make.make_customer()
    ticket = open_ticket(principal(agent_li))
    sign_in(client, "agent_li")
    refused = post_form(client, "/tickets/new", intake(customer_id=str(customer.id), subject="年费\x00咨询"),
                        page="/tickets/new")
    assert refused.status_code == 422 and 'data-testid="error-subject"' in refused.text
    note = post_form(client, f"/tickets/{ticket.id}/reply", {"body": "备注\x00", "visibility": "internal"})
    assert note.status_code == 422 and 'data-testid="error-body"' in note.text
    assert count(Ticket) == 1 and count(TicketMessage) == 0


def test_a_supervisor_records_a_paper_complaint_received_earlier(client: TestClient, supervisor_wang: Staff,
                                                                 frozen_clock: clock.FrozenClock) -> None:
    customer = make.make_customer()
    sign_in(client, "supervisor_wang")
    form = client.get("/tickets/new")
    assert 'name="received_at"' in form.text
    created = client.post("/tickets/new", data={
        **intake(customer_id=str(customer.id), kind="complaint", channel="branch", risk_grade="medium",
                 received_at="2026-10-12T08:00"), "csrf_token": csrf(form)}, follow_redirects=False)
    assert created.status_code == 303
    (ticket,) = all_tickets()
    assert ticket.received_at == datetime(2026, 10, 12, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
    assert ticket.risk_grade == "medium" and ticket.assignee_id == supervisor_wang.id


def test_an_agent_may_not_backdate_a_ticket(client: TestClient, agent_li: Staff,
                                            frozen_clock: clock.FrozenClock) -> None:
    customer = make.make_customer()
    sign_in(client, "agent_li")
    refused = post_form(client, "/tickets/new", intake(customer_id=str(customer.id), received_at="2026-10-11T09:00"),
                        page="/tickets/new")
    assert refused.status_code == 403 and 'data-testid="form-error"' in refused.text
    assert "may not record a ticket received earlier" in refused.text and count(Ticket) == 0


# -- working a ticket ------------------------------------------------------------------------------


def test_reply_wait_for_the_customer_resume_and_resolve_through_the_forms(
        client: TestClient, agent_li: Staff, frozen_clock: clock.FrozenClock) -> None:
    ticket = open_ticket(principal(agent_li), kind="feedback", subject="建议延长营业时间")
    path = f"/tickets/{ticket.id}"
    sign_in(client, "agent_li")

    replied = post_form(client, f"{path}/reply", {"body": "感谢您的建议，我们会转交网点。", "visibility": "public"},
                        page=path)
    assert replied.status_code == 303 and replied.headers["location"] == f"{path}#timeline"
    noted = post_form(client, f"{path}/reply", {"body": "已转网点主任", "visibility": "internal"}, page=path)
    assert noted.status_code == 303
    with unit_of_work(read_only=True) as session:
        assert [(m.visibility, m.body) for m in service.list_messages(session, ticket.id)] == [
            ("public", "感谢您的建议，我们会转交网点。"), ("internal", "已转网点主任")]

    waiting = post_form(client, f"{path}/status", {"to": "pending_customer"}, page=path)
    assert waiting.status_code == 303
    assert reload(ticket.id).status == "pending_customer" and clock_states(ticket.id) == {"resolution": "paused"}
    page = client.get(path)
    assert re.search(r'data-paused data-testid="ticket-countdown">Paused<', page.text)
    assert 'data-testid="to-open"' in page.text and ">Resume<" in page.text

    frozen_clock.advance(timedelta(hours=1))
    assert post_form(client, f"{path}/status", {"to": "open"}, page=path).status_code == 303
    assert clock_states(ticket.id) == {"resolution": "running"}
    resolved = post_form(client, f"{path}/status", {"to": "resolved"}, page=path)
    assert resolved.status_code == 303
    assert reload(ticket.id).status == "resolved" and clock_states(ticket.id) == {"resolution": "met"}
    page = client.get(path)
    assert 'data-testid="status">Resolved<' in page.text
    assert 'data-testid="to-reopened"' in page.text and 'data-testid="to-closed"' in page.text


def test_reopening_without_a_reason_is_refused_next_to_the_reason(client: TestClient, agent_li: Staff) -> None:
    li = principal(agent_li)
    ticket = open_ticket(li)
    transition(ticket, li, TicketStatus.RESOLVED)
    path = f"/tickets/{ticket.id}"
    sign_in(client, "agent_li")
    refused = post_form(client, f"{path}/status", {"to": "reopened", "reason": ""}, page=path)
    assert refused.status_code == 422
    reopen_form = refused.text.split('data-testid="to-reopened"', 1)[1].split("</form>", 1)[0]
    assert 'data-testid="error-reason"' in reopen_form
    assert reload(ticket.id).status == "resolved"
    reopened = post_form(client, f"{path}/status", {"to": "reopened", "reason": "客户不认可答复"}, page=path)
    assert reopened.status_code == 303 and reload(ticket.id).status == "reopened"
    assert "客户不认可答复" in client.get(path).text  # the reason is on the timeline


def test_an_empty_reply_is_refused_next_to_the_text_and_a_stale_status_button_is_explained(
        client: TestClient, agent_li: Staff) -> None:
    ticket = open_ticket(principal(agent_li))
    path = f"/tickets/{ticket.id}"
    sign_in(client, "agent_li")
    empty = post_form(client, f"{path}/reply", {"body": "  ", "visibility": "internal"}, page=path)
    assert empty.status_code == 422 and 'data-testid="error-body"' in empty.text
    assert re.search(r'value="internal" checked', empty.text)  # the choice stays
    stale = post_form(client, f"{path}/status", {"to": "closed"}, page=path)  # open → closed is not allowed
    assert stale.status_code == 409 and 'data-testid="form-error"' in stale.text
    assert count(TicketMessage) == 0 and reload(ticket.id).status == "open"


def test_a_supervisor_extends_a_complaint_s_statutory_deadline_with_a_reason(
        client: TestClient, supervisor_wang: Staff, frozen_clock: clock.FrozenClock) -> None:
    ticket = open_ticket(principal(supervisor_wang), kind="complaint")
    path = f"/tickets/{ticket.id}"
    sign_in(client, "supervisor_wang")
    short = post_form(client, f"{path}/extension", {"reason": "ok"}, page=path)
    assert short.status_code == 422 and 'data-testid="error-reason"' in short.text
    extended = post_form(client, f"{path}/extension", {"reason": "需调取外部机构证据"}, page=path)
    assert extended.status_code == 303 and extended.headers["location"] == f"{path}#sla"
    page = client.get(path).text
    statutory = page.split('data-testid="clock-statutory"', 1)[1].split("</tr>", 1)[0]
    assert "extended ×1" in statutory and "2026-11-11 17:30" in statutory  # 30 days from receipt
    assert "需调取外部机构证据" in page


def test_a_supervisor_hands_a_ticket_over_with_a_reason(client: TestClient, supervisor_wang: Staff,
                                                       agent_li: Staff) -> None:
    ticket = open_ticket(principal(supervisor_wang))
    path = f"/tickets/{ticket.id}"
    sign_in(client, "supervisor_wang")
    page = client.get(path)
    assert f'<option value="{agent_li.id}"' in page.text
    handed = post_form(client, f"{path}/assign", {"assignee_id": str(agent_li.id), "reason": "专员熟悉该客户"},
                       page=path)
    assert handed.status_code == 303 and reload(ticket.id).assignee_id == agent_li.id
    assert re.search(r"supervisor_wang → agent_li", client.get(path).text)


# -- refusals --------------------------------------------------------------------------------------


def test_an_auditor_has_no_service_desk(client: TestClient, auditor_zhao: Staff, agent_li: Staff) -> None:
    ticket = open_ticket(principal(agent_li))
    sign_in(client, "auditor_zhao", two_factor=True)
    assert client.get("/tickets").status_code == 403
    assert client.get(f"/tickets/{ticket.id}").status_code == 403
    assert client.get("/tickets/new").status_code == 403
    assert 'href="/tickets"' not in client.get("/").text


def test_a_follow_up_agent_reads_a_ticket_but_cannot_reply_or_open_one(
        client: TestClient, followup_sun: Staff, agent_li: Staff) -> None:
    ticket = open_ticket(principal(agent_li))
    path = f"/tickets/{ticket.id}"
    sign_in(client, "followup_sun")
    page = client.get(path)
    assert page.status_code == 200 and f'action="{path}/reply"' not in page.text
    assert f'action="{path}/status"' not in page.text
    refused = post_form(client, f"{path}/reply", {"body": "您好", "visibility": "public"}, page=path)
    assert refused.status_code == 403 and "may not work on this kind of ticket" in refused.text
    assert count(TicketMessage) == 0
    assert client.get("/tickets/new").status_code == 403
    assert post_form(client, "/tickets/new", intake(customer_id=str(make.make_customer().id))).status_code == 403
    assert count(Ticket) == 1


def test_a_colleague_s_ticket_page_offers_a_note_but_no_reply_or_status_change(
        client: TestClient, agent_li: Staff) -> None:
    make_staff("agent_zhou", Role.AGENT)
    ticket = open_ticket(principal(agent_li))  # Li owns it
    path = f"/tickets/{ticket.id}"
    sign_in(client, "agent_zhou")
    page = client.get(path)
    assert page.status_code == 200 and 'data-testid="colleagues-ticket"' in page.text
    assert 'value="internal"' in page.text and 'value="public"' not in page.text
    assert f'action="{path}/status"' not in page.text
    refused = post_form(client, f"{path}/reply", {"body": "您好", "visibility": "public"}, page=path)
    assert refused.status_code == 403 and count(TicketMessage) == 0
    assert post_form(client, f"{path}/status", {"to": "resolved"}, page=path).status_code == 403
    noted = post_form(client, f"{path}/reply", {"body": "客户上周来电问过", "visibility": "internal"}, page=path)
    assert noted.status_code == 303 and count(TicketMessage) == 1
    assert reload(ticket.id).status == "open"
    sign_in(client, "agent_li")
    own = client.get(path).text
    assert 'value="public"' in own and f'action="{path}/status"' in own and 'colleagues-ticket' not in own


def test_a_leaver_s_ticket_shows_why_it_changed_hands_in_chinese(client: TestClient, agent_li: Staff,
                                                                supervisor_wang: Staff) -> None:
    ticket = open_ticket(principal(agent_li))
    with unit_of_work() as session:
        account = accounts.get_account_by_username(session, "agent_li")
        assert account is not None
        accounts.set_active(session, account=account, active=False, actor=SYSTEM)
    with unit_of_work() as session:
        assert service.route_waiting(session) == []  # released; nobody else on duty takes consultations
    assert reload(ticket.id).assignee_id is None
    sign_in(client, "supervisor_wang", english=False)
    page = client.get(f"/tickets/{ticket.id}").text
    assert "原负责人账号已停用" in page and "the owner's account is deactivated" not in page


def test_an_agent_reads_a_complaint_but_works_it_only_when_qualified(client: TestClient, agent_li: Staff) -> None:
    ticket = open_ticket(principal(agent_li), kind="complaint")  # taken in by the agent, left unassigned
    path = f"/tickets/{ticket.id}"
    sign_in(client, "agent_li")
    page = client.get(path)
    assert page.status_code == 200 and 'data-testid="take"' not in page.text
    assert f'action="{path}/extension"' not in page.text
    refused = post_form(client, f"{path}/take", {}, page=path)
    assert refused.status_code == 403 and reload(ticket.id).assignee_id is None
    assert post_form(client, f"{path}/extension", {"reason": "需要更多时间"}, page=path).status_code == 403


def test_a_form_without_its_csrf_token_is_refused(client: TestClient, agent_li: Staff) -> None:
    ticket = open_ticket(principal(agent_li))
    customer = make.make_customer()
    sign_in(client, "agent_li")
    for path, data in ((f"/tickets/{ticket.id}/reply", {"body": "您好", "visibility": "public"}),
                       (f"/tickets/{ticket.id}/status", {"to": "resolved"}),
                       ("/tickets/new", intake(customer_id=str(customer.id)))):
        assert client.post(path, data=data, follow_redirects=False).status_code == 403, path
        forged = client.post(path, data={**data, "csrf_token": "forged"}, follow_redirects=False)
        assert forged.status_code == 403, path
    assert count(TicketMessage) == 0 and count(Ticket) == 1 and reload(ticket.id).status == "open"


# -- the words -------------------------------------------------------------------------------------


def event_kinds() -> set[str]:
    """Every timeline event kind the desk records (`add_event(…, "kind", …)`, `new_event(ticket, "kind", …)`
    and the reply/note pair)."""
    found = {"replied", "noted"}
    for path in SERVICEDESK.rglob("*.py"):
        found |= set(re.findall(r'(?:add_event\(\s*session,|new_event\()\s*ticket,\s*"(\w+)"', path.read_text("utf-8")))
    return found


def coded_labels() -> list[str]:
    return ([f"ticket_status:{s}" for s in TicketStatus] + [f"kind:{k}" for k in TicketKind]
            + [f"channel:{c}" for c in Channel] + [f"target:{t}" for t in Target]
            + [f"priority:{p}" for p in Priority] + [f"risk_grade:{g}" for g in RiskGrade]
            + [f"event:{e}" for e in sorted(event_kinds())] + [f"clock_state:{s}" for s in CLOCK_STATES]
            + [f"visibility:{v}" for v in Visibility])


def test_every_coded_label_of_the_desk_reads_as_words_in_chinese_and_english() -> None:
    assert {"event:created", "event:status_changed", "event:sla_breached"} <= set(coded_labels())
    zh, en = i18n.catalogue("zh-CN"), i18n.catalogue("en")
    assert [label for label in coded_labels() if label not in zh] == []
    assert [label for label in coded_labels() if label not in en] == []


def test_every_plain_error_message_the_desk_shows_is_translated() -> None:
    classes = {"Forbidden", "NotFound", "Conflict", "Invalid"}
    messages = set()
    for path in (*sorted((SERVICEDESK / "service").glob("*.py")), SERVICEDESK / "views.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in classes
                    and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                messages.add(node.args[0].value)
    assert "no such ticket" in messages
    zh = json.loads((Path(i18n.__file__).parent / "locale" / "zh-CN.json").read_text("utf-8"))
    assert sorted(m for m in messages if m not in zh) == []


def test_waiting_for_the_customer_is_offered_only_once_they_were_answered(client: TestClient,
                                                                          agent_li: Staff) -> None:
    li = principal(agent_li)
    ticket = open_ticket(li)
    sign_in(client, "agent_li")
    assert 'data-testid="to-pending_customer"' not in client.get(f"/tickets/{ticket.id}").text
    with unit_of_work() as session:
        service.add_message(session, actor=li, ticket=service.access_ticket(session, ticket.id, li, for_write=True),
                            body="请问是哪一张卡？", visibility=Visibility.PUBLIC)
    assert 'data-testid="to-pending_customer"' in client.get(f"/tickets/{ticket.id}").text
