"""Tickets through the API: intake with clocks, bad input refused whole, the lifecycle keeping the clocks in
step, who may do what, and the statutory deadline's extensions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from fincare.customers import rights
from fincare.customers.models import Customer
from fincare.platform import clock
from fincare.platform.audit_trail.models import AuditEntry
from fincare.platform.db import unit_of_work
from fincare.platform.jobs.models import Job
from fincare.platform.permissions import SYSTEM, Role
from fincare.servicedesk import notices
from fincare.servicedesk.models import ComplaintDecision, RegulatorReport, Ticket, TicketEvent, TicketMessage
from fincare.sla.models import Clock
from tests.console import sign_in
from tests.factories import customers as make
from tests.factories.accounts import Staff, make_staff
from tests.factories.customers import make_customer
from tests.factories.tickets import decide_via_api, open_via_api, ticket_body
from tests.rawdb import raw_database


@pytest.fixture
def specialist_chen(db: Engine) -> Staff:
    return make_staff("specialist_chen", Role.COMPLAINT_SPECIALIST)


PUBLIC = {"visibility": "public"}


def count(model: type[Any]) -> int:
    with unit_of_work(read_only=True) as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def queued(event: str) -> list[dict[str, Any]]:
    with unit_of_work(read_only=True) as session:
        return [j.payload for j in session.execute(select(Job).where(Job.event == event)).scalars()]


def sla_of(ticket: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["target"]: c for c in ticket["sla"]}


def at(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def events_of(ticket_id: int) -> list[str]:
    with unit_of_work(read_only=True) as session:
        return list(session.execute(select(TicketEvent.kind).where(TicketEvent.ticket_id == ticket_id)
                                    .order_by(TicketEvent.id)).scalars())


# -- intake ----------------------------------------------------------------------------------------


def test_a_consultation_gets_a_reference_and_a_five_minute_first_response_clock(
        client: TestClient, agent_li: Staff, frozen_clock) -> None:  # type: ignore[no-untyped-def]
    ticket = open_via_api(client, agent_li)
    assert ticket["reference"] == f"ZX-2026-{ticket['id']:06d}"
    assert ticket["status"] == "open" and ticket["assignee_id"] == agent_li.id  # first contact owns it
    first = sla_of(ticket)["first_response"]
    assert at(first["due_at"]) == datetime(2026, 10, 12, 9, 35, tzinfo=UTC) and first["state"] == "running"
    assert ticket["customer"]["name"].count("*") == 1  # masked
    assert events_of(ticket["id"]) == ["created"]
    with unit_of_work(read_only=True) as session:
        entry = session.execute(select(AuditEntry).where(AuditEntry.action == "ticket.opened")).scalar_one()
    assert entry.subject_id == str(ticket["id"]) and entry.actor_name == "agent_li"


def test_a_complaint_runs_its_business_clock_and_the_15_day_statutory_clock(
        client: TestClient, agent_li: Staff, frozen_clock) -> None:  # type: ignore[no-untyped-def]
    ticket = open_via_api(client, agent_li, kind="complaint", subject="理财产品亏损投诉")
    assert ticket["reference"].startswith("TS-2026-")
    assert ticket["risk_grade"] == "low"
    assert ticket["assignee_id"] is None and ticket["status"] == "new"  # agents take complaints in, not handle them
    clocks = sla_of(ticket)
    assert set(clocks) == {"feedback", "statutory"}
    assert at(clocks["statutory"]["due_at"]) == datetime(2026, 10, 27, 9, 30, tzinfo=UTC)
    assert count(RegulatorReport) == 0


def test_high_risk_and_regulator_transferred_complaints_get_a_regulator_report_with_its_deadline(
        client: TestClient, agent_li: Staff, supervisor_wang: Staff,
        frozen_clock) -> None:  # type: ignore[no-untyped-def]
    high = open_via_api(client, agent_li, kind="complaint", risk_grade="high")
    transferred = open_via_api(client, agent_li, kind="complaint", channel="regulator_transfer")
    assert high["priority"] == "high" and set(sla_of(high)) == {"feedback", "resolution", "statutory"}
    assert transferred["regulator_transfer"] is True
    reports = client.get("/api/v1/regulator-reports", headers=supervisor_wang.headers).json()
    by_ticket = {r["ticket_id"]: r for r in reports}
    assert set(by_ticket) == {high["id"], transferred["id"]}
    assert by_ticket[high["id"]]["reasons"] == ["high_risk"] and by_ticket[high["id"]]["status"] == "due"
    assert at(by_ticket[high["id"]]["due_at"]) == at(high["received_at"]) + timedelta(hours=24)
    # a transferred complaint is reported back by its statutory deadline
    assert by_ticket[transferred["id"]]["due_at"] == sla_of(transferred)["statutory"]["due_at"]


def test_a_retry_with_the_same_idempotency_key_creates_nothing_new(client: TestClient, agent_li: Staff) -> None:
    body = ticket_body(make_customer().id)
    headers = {**agent_li.headers, "Idempotency-Key": "branch-form-0042"}
    first = client.post("/api/v1/tickets", json=body, headers=headers)
    again = client.post("/api/v1/tickets", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"] and again.headers["Idempotent-Replayed"] == "true"
    assert count(Ticket) == 1
    other = client.post("/api/v1/tickets", json={**body, "subject": "另一件事"}, headers=headers)
    assert other.status_code == 409 and other.json()["error"]["field"] == "Idempotency-Key"


def test_a_paper_form_from_a_branch_starts_its_clocks_when_it_was_received(
        client: TestClient, specialist_chen: Staff, frozen_clock) -> None:  # type: ignore[no-untyped-def]
    received = "2026-10-09T10:00:00+08:00"
    ticket = open_via_api(client, specialist_chen, kind="complaint", channel="branch", received_at=received)
    assert at(ticket["received_at"]) == at(received)
    assert at(sla_of(ticket)["statutory"]["due_at"]) == at(received) + timedelta(days=15)


@pytest.mark.parametrize(("change", "status", "field"), [
    ({"kind": "question"}, 422, "kind"),
    ({"channel": "fax"}, 422, "channel"),
    ({"customer_id": 999_999}, 422, "customer_id"),
    ({"subject": "x" * 201}, 422, "subject"),
    ({"description": "x" * 20_001}, 422, "description"),
    ({"subject": "   "}, 422, "subject"),
    ({"risk_grade": "high"}, 422, "risk_grade"),  # a consultation has no risk grade
    ({"kind": "complaint", "risk_grade": "severe"}, 422, "risk_grade"),
    ({"channel": "regulator_transfer"}, 422, "channel"),
    ({"received_at": "2099-01-01T00:00:00+08:00"}, 422, "received_at"),
    ({"received_at": "2026-10-01T09:00:00"}, 422, "received_at"),  # no time zone
    ({"received_at": "2026-10-01T09:00:00+08:00"}, 403, "received_at"),  # agents may not backdate
    ({"urgency": "very"}, 422, "urgency"),
    ({"customer_id": "abc"}, 422, "customer_id"),
    ({"received_at": "0001-01-01T00:00:00+08:00"}, 422, "received_at"),
])
def test_bad_input_is_refused_with_the_field_named_and_nothing_written(
        client: TestClient, agent_li: Staff, change: dict[str, Any], status: int, field: str) -> None:
    customer_id = make_customer().id
    entries_before = count(AuditEntry)
    response = client.post("/api/v1/tickets", json={**ticket_body(customer_id), **change}, headers=agent_li.headers)
    assert response.status_code == status, response.text
    assert response.json()["error"]["field"] == field
    assert count(Ticket) == count(Clock) == count(TicketEvent) == 0
    assert count(AuditEntry) == entries_before


@pytest.mark.parametrize("kind", ["consultation", "complaint"])
def test_a_ticket_cannot_be_opened_for_an_erased_customer(client: TestClient, specialist_chen: Staff,
                                                          kind: str) -> None:
    from fincare.customers.models import Customer, CustomerStatus

    customer = make_customer()
    open_via_api(client, specialist_chen, customer_id=customer.id, kind=kind)  # an earlier one of the same kind
    with unit_of_work() as session:
        row = session.get(Customer, customer.id)
        assert row is not None
        row.status = CustomerStatus.RESTRICTED
    entries = count(AuditEntry)
    response = client.post("/api/v1/tickets", json=ticket_body(customer.id, kind=kind), headers=specialist_chen.headers)
    assert response.status_code == 422 and response.json()["error"]["field"] == "customer_id"
    assert count(Ticket) == 1 and count(AuditEntry) == entries


def test_a_complaint_for_no_customer_is_refused_and_draws_no_ticket_number(client: TestClient,
                                                                           specialist_chen: Staff, db: Engine) -> None:
    first = open_via_api(client, specialist_chen, kind="complaint")
    refused = client.post("/api/v1/tickets", json=ticket_body(999_999, kind="complaint"),
                          headers=specialist_chen.headers)
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "customer_id"
    second = open_via_api(client, specialist_chen, kind="complaint")
    assert count(Ticket) == 2
    if db.dialect.name == "postgresql":  # SQLite numbers by max(id) + 1: nothing to draw
        assert second["id"] == first["id"] + 1


def test_card_and_id_numbers_typed_into_a_ticket_are_kept_only_masked(client: TestClient, agent_li: Staff,
                                                                      db: Engine) -> None:
    card, id_number, other_card = make.card(), make.resident_id(), make.card()
    grouped = " ".join(card[i:i + 4] for i in range(0, len(card), 4))
    description = f"客户称卡号 {grouped} 于昨日被盗刷，身份证{id_number}，订单号 20261123000012345678。"
    ticket = open_via_api(client, agent_li, subject=f"卡{card}被盗刷", description=description)
    assert ticket["subject"] == f"卡{'*' * (len(card) - 4)}{card[-4:]}被盗刷"
    assert ticket["description"] == (f"客户称卡号 {'*' * (len(card) - 4)}{card[-4:]} 于昨日被盗刷，"
                                     f"身份证{id_number[:3]}{'*' * 11}{id_number[-4:]}，订单号 20261123000012345678。")
    reply = client.post(f"/api/v1/tickets/{ticket['id']}/replies", headers=agent_li.headers,
                        json={"body": f"已为尾号{other_card[-4:]}的卡 {other_card} 办理挂失", "visibility": "internal"})
    assert reply.status_code == 201 and other_card not in reply.json()["body"]
    shown = client.get(f"/api/v1/tickets/{ticket['id']}", headers=agent_li.headers).json()
    assert shown["description"] == ticket["description"]
    raw = raw_database(db)
    for number in (card, id_number, other_card):
        assert number.encode() not in raw, "a card or ID number typed into a ticket was stored in clear"


def test_an_extension_reason_keeps_a_typed_id_number_only_masked(client: TestClient, specialist_chen: Staff,
                                                                 supervisor_wang: Staff, db: Engine) -> None:
    ticket = open_via_api(client, specialist_chen, kind="complaint")
    id_number = make.resident_id()
    extended = client.post(f"/api/v1/tickets/{ticket['id']}/extensions", headers=supervisor_wang.headers,
                           json={"reason": f"需核实身份证{id_number}的开户记录"})
    assert extended.status_code == 200
    assert id_number.encode() not in raw_database(db)  # timeline, clock event and audit entry alike


# -- lifecycle -------------------------------------------------------------------------------------


def test_the_first_public_reply_meets_the_first_response_clock_and_a_note_does_not(
        client: TestClient, agent_li: Staff, frozen_clock) -> None:  # type: ignore[no-untyped-def]
    ticket = open_via_api(client, agent_li)
    frozen_clock.advance(timedelta(minutes=2))
    note = client.post(f"/api/v1/tickets/{ticket['id']}/replies", json={"body": "查一下卡种", "visibility": "internal"},
                       headers=agent_li.headers)
    assert note.status_code == 201
    assert sla_of(client.get(f"/api/v1/tickets/{ticket['id']}", headers=agent_li.headers).json())[
        "first_response"]["state"] == "running"
    frozen_clock.advance(timedelta(minutes=1))
    reply = client.post(f"/api/v1/tickets/{ticket['id']}/replies", json={"body": "您好，白金卡首年免年费。", **PUBLIC},
                        headers=agent_li.headers)
    assert reply.status_code == 201 and reply.json()["visibility"] == "public"
    shown = client.get(f"/api/v1/tickets/{ticket['id']}", headers=agent_li.headers).json()
    assert sla_of(shown)["first_response"]["state"] == "met"
    assert at(shown["first_response_at"]) == datetime(2026, 10, 12, 9, 33, tzinfo=UTC)
    assert events_of(ticket["id"]) == ["created", "noted", "replied"]
    messages = client.get(f"/api/v1/tickets/{ticket['id']}/messages", headers=agent_li.headers).json()
    assert [m["visibility"] for m in messages] == ["internal", "public"]


def test_waiting_for_the_customer_pauses_the_handling_clock_but_not_the_statutory_one(
        client: TestClient, specialist_chen: Staff, frozen_clock) -> None:  # type: ignore[no-untyped-def]
    ticket = open_via_api(client, specialist_chen, kind="complaint", channel="phone", risk_grade="high")
    resolution_due = at(sla_of(ticket)["resolution"]["due_at"])  # high: handled within 48 h around the clock
    url = f"/api/v1/tickets/{ticket['id']}/transitions"
    unanswered = client.post(url, json={"to": "pending_customer"}, headers=specialist_chen.headers)
    assert unanswered.status_code == 409 and unanswered.json()["error"]["field"] == "to"  # nobody asked them yet
    client.post(f"/api/v1/tickets/{ticket['id']}/replies", json={"body": "请提供交易流水截图。", **PUBLIC},
                headers=specialist_chen.headers)
    paused = client.post(url, json={"to": "pending_customer"}, headers=specialist_chen.headers).json()
    assert sla_of(paused)["resolution"]["state"] == "paused" and sla_of(paused)["statutory"]["state"] == "running"
    assert sla_of(paused)["feedback"]["state"] == "met"
    assert at(paused["next_due_at"]) == at(sla_of(paused)["statutory"]["due_at"])
    frozen_clock.advance(timedelta(hours=3))
    resumed = client.post(url, json={"to": "open"}, headers=specialist_chen.headers).json()
    assert at(sla_of(resumed)["resolution"]["due_at"]) == resolution_due + timedelta(hours=3)
    assert sla_of(resumed)["resolution"]["paused_seconds"] == 3 * 3600
    assert at(sla_of(resumed)["statutory"]["due_at"]) == at(sla_of(ticket)["statutory"]["due_at"])


def test_a_reply_a_few_seconds_late_is_escalated_even_before_the_sweep(
        client: TestClient, agent_li: Staff, frozen_clock) -> None:  # type: ignore[no-untyped-def]
    ticket = open_via_api(client, agent_li)
    frozen_clock.advance(timedelta(minutes=5, seconds=5))  # due at 5 minutes; no sweep has run
    client.post(f"/api/v1/tickets/{ticket['id']}/replies", json={"body": "抱歉久等", **PUBLIC},
                headers=agent_li.headers)
    first = sla_of(client.get(f"/api/v1/tickets/{ticket['id']}", headers=agent_li.headers).json())["first_response"]
    assert first["state"] == "breached" and first["met_at"] is not None
    assert at(first["breached_at"]) == at(first["due_at"])
    assert [(p["subject_id"], p["target"]) for p in queued("sla.clock_breached")] == [
        (ticket["id"], "first_response")]  # the escalation goes out once, as the sweep would have sent it


def test_a_statutory_deadline_that_has_passed_cannot_be_extended_even_before_the_sweep(
        client: TestClient, specialist_chen: Staff, supervisor_wang: Staff,
        frozen_clock) -> None:  # type: ignore[no-untyped-def]
    ticket = open_via_api(client, specialist_chen, kind="complaint")
    frozen_clock.advance(timedelta(days=15, seconds=1))
    late = client.post(f"/api/v1/tickets/{ticket['id']}/extensions", json={"reason": "需调取监控录像"},
                       headers=supervisor_wang.headers)
    assert late.status_code == 409 and queued("sla.statutory_extended") == []


def test_resolving_meets_every_clock_and_announces_the_resolution_once(
        client: TestClient, specialist_chen: Staff) -> None:
    ticket = open_via_api(client, specialist_chen, kind="complaint", risk_grade="medium")
    url = f"/api/v1/tickets/{ticket['id']}/transitions"
    undecided = client.post(url, json={"to": "resolved"}, headers=specialist_chen.headers)
    assert undecided.status_code == 409 and undecided.json()["error"]["field"] == "decision"
    decide_via_api(client, specialist_chen, ticket["id"])  # sending the decision resolves the complaint
    resolved = client.get(f"/api/v1/tickets/{ticket['id']}", headers=specialist_chen.headers).json()
    assert resolved["status"] == "resolved"
    assert {c["state"] for c in resolved["sla"]} == {"met"} and resolved["next_due_at"] is None
    assert len(queued("servicedesk.ticket_resolved")) == 1
    assert client.post(url, json={"to": "reopened"}, headers=specialist_chen.headers).json()["error"]["field"] \
        == "reason"
    reopened = client.post(url, json={"to": "reopened", "reason": "客户不认可处理结果"},
                           headers=specialist_chen.headers)
    assert reopened.json()["status"] == "reopened" and reopened.json()["decision_id"] is None
    decide_via_api(client, specialist_chen, ticket["id"], outcome="upheld")
    assert len(queued("servicedesk.ticket_resolved")) == 2  # a second resolution is news again
    client.post(f"/api/v1/tickets/{ticket['id']}/coding", headers=specialist_chen.headers,
                json={"channel_code": "A04", "business_type_code": "B07", "cause_code": "C04"})
    closed = client.post(url, json={"to": "closed"}, headers=specialist_chen.headers).json()
    assert closed["status"] == "closed" and closed["closed_at"] is not None
    late = client.post(f"/api/v1/tickets/{ticket['id']}/replies", json={"body": "补充", **PUBLIC},
                       headers=specialist_chen.headers)
    assert late.status_code == 409


@pytest.mark.parametrize("to", ["closed", "new", "reopened", "pending_customer"])
def test_impossible_transitions_are_refused(client: TestClient, agent_li: Staff, to: str) -> None:
    ticket = open_via_api(client, agent_li)  # open, and nobody has answered the customer yet
    response = client.post(f"/api/v1/tickets/{ticket['id']}/transitions", json={"to": to, "reason": "试试"},
                           headers=agent_li.headers)
    assert response.status_code == 409 and response.json()["error"]["field"] == "to"


def test_a_reason_as_long_as_the_form_allows_is_audited_whole(client: TestClient, agent_li: Staff) -> None:
    ticket = open_via_api(client, agent_li)
    reason = "客户来电说明情况" * 125  # 1,000 characters, the most a reason may have
    client.post(f"/api/v1/tickets/{ticket['id']}/replies", json={"body": "已答复", **PUBLIC}, headers=agent_li.headers)
    moved = client.post(f"/api/v1/tickets/{ticket['id']}/transitions",
                        json={"to": "pending_customer", "reason": reason}, headers=agent_li.headers)
    assert moved.status_code == 200, moved.text
    with unit_of_work(read_only=True) as session:
        entry = session.execute(select(AuditEntry).where(AuditEntry.action == "ticket.status_changed")).scalar_one()
    assert entry.reason == reason


def test_every_change_leaves_an_audit_entry(client: TestClient, agent_li: Staff) -> None:
    ticket = open_via_api(client, agent_li)
    client.post(f"/api/v1/tickets/{ticket['id']}/replies", json={"body": "已答复", **PUBLIC}, headers=agent_li.headers)
    client.post(f"/api/v1/tickets/{ticket['id']}/transitions", json={"to": "resolved"}, headers=agent_li.headers)
    with unit_of_work(read_only=True) as session:
        actions = list(session.execute(select(AuditEntry.action).where(AuditEntry.subject_type == "ticket")
                                       .order_by(AuditEntry.id)).scalars())
        bodies = session.execute(select(func.count()).select_from(TicketMessage)).scalar_one()
    assert actions == ["ticket.opened", "ticket.replied", "ticket.status_changed"]
    assert bodies == 1


# -- who may do what -------------------------------------------------------------------------------


def test_roles_without_the_service_desk_cannot_read_or_open_tickets(client: TestClient, agent_li: Staff,
                                                                   auditor_zhao: Staff) -> None:
    ticket = open_via_api(client, agent_li)
    assert client.get("/api/v1/tickets", headers=auditor_zhao.headers).status_code == 403
    assert client.get(f"/api/v1/tickets/{ticket['id']}", headers=auditor_zhao.headers).status_code == 403
    refused = client.post("/api/v1/tickets", json=ticket_body(make_customer().id), headers=auditor_zhao.headers)
    assert refused.status_code == 403 and count(Ticket) == 1
    assert client.get("/api/v1/tickets").status_code == 401


def test_follow_up_agents_read_tickets_but_do_not_work_them(client: TestClient, agent_li: Staff) -> None:
    caller = make_staff("followup_sun", Role.FOLLOWUP_AGENT)
    ticket = open_via_api(client, agent_li)
    assert client.get(f"/api/v1/tickets/{ticket['id']}", headers=caller.headers).status_code == 200
    reply = client.post(f"/api/v1/tickets/{ticket['id']}/replies", json={"body": "hi", **PUBLIC},
                        headers=caller.headers)
    assert reply.status_code == 403 and count(TicketMessage) == 0


def test_only_complaint_handlers_work_complaints(client: TestClient, agent_li: Staff, specialist_chen: Staff) -> None:
    ticket = open_via_api(client, agent_li, kind="complaint")
    url = f"/api/v1/tickets/{ticket['id']}"
    assert client.post(f"{url}/replies", json={"body": "x", **PUBLIC}, headers=agent_li.headers).status_code == 403
    # the agent who took the call may not handle a complaint: it is routed to the specialist on duty
    assert (ticket["assignee_id"], ticket["status"]) == (specialist_chen.id, "open")
    mine = client.get("/api/v1/tickets?assignee=me", headers=specialist_chen.headers).json()
    assert [t["id"] for t in mine] == [ticket["id"]]


def test_a_colleague_s_ticket_is_reassigned_only_by_a_supervisor_with_a_reason(
        client: TestClient, agent_li: Staff, supervisor_wang: Staff) -> None:
    other = make_staff("agent_zhou", Role.AGENT)
    ticket = open_via_api(client, agent_li)
    url = f"/api/v1/tickets/{ticket['id']}/assignment"
    assert client.post(url, json={"assignee_id": other.id, "reason": "换人"}, headers=other.headers).status_code == 403
    assert client.post(url, json={"assignee_id": other.id}, headers=supervisor_wang.headers).status_code == 422
    moved = client.post(url, json={"assignee_id": other.id, "reason": "李休假"}, headers=supervisor_wang.headers)
    assert moved.status_code == 200 and moved.json()["assignee_id"] == other.id
    assert events_of(ticket["id"])[-1] == "assigned"


def test_a_colleague_adds_notes_to_a_ticket_but_only_its_owner_or_a_supervisor_answers_for_it(
        client: TestClient, agent_li: Staff, supervisor_wang: Staff) -> None:
    zhou = make_staff("agent_zhou", Role.AGENT)
    ticket = open_via_api(client, agent_li)  # first contact: Li owns it
    url = f"/api/v1/tickets/{ticket['id']}"
    reply = client.post(f"{url}/replies", json={"body": "您好", **PUBLIC}, headers=zhou.headers)
    assert reply.status_code == 403 and reply.json()["error"]["field"] == "visibility"
    status = client.post(f"{url}/transitions", json={"to": "resolved"}, headers=zhou.headers)
    assert status.status_code == 403 and status.json()["error"]["field"] == "to"
    assert count(TicketMessage) == 0 and client.get(url, headers=zhou.headers).json()["status"] == "open"
    note = client.post(f"{url}/replies", json={"body": "客户上周来电问过同一问题", "visibility": "internal"},
                       headers=zhou.headers)
    assert note.status_code == 201
    answered = client.post(f"{url}/replies", json={"body": "您好，已为您查询。", **PUBLIC},
                           headers=supervisor_wang.headers)
    assert answered.status_code == 201
    # back in the queue, nobody owns it: any agent of its kind may answer, and who does owns it
    released = client.post(f"{url}/assignment", json={"assignee_id": None, "reason": "李休假"},
                           headers=supervisor_wang.headers)
    assert released.status_code == 200 and released.json()["assignee_id"] is None
    taken = client.post(f"{url}/replies", json={"body": "您好，由我继续为您处理。", **PUBLIC}, headers=zhou.headers)
    assert taken.status_code == 201
    assert client.get(url, headers=zhou.headers).json()["assignee_id"] == zhou.id
    assert client.post(f"{url}/transitions", json={"to": "resolved"}, headers=agent_li.headers).status_code == 403
    resolved = client.post(f"{url}/transitions", json={"to": "resolved"}, headers=zhou.headers)
    assert resolved.status_code == 200 and resolved.json()["status"] == "resolved"


def test_a_complaint_is_decided_or_linked_only_by_its_handler_or_a_supervisor(
        client: TestClient, specialist_chen: Staff, supervisor_wang: Staff) -> None:
    customer_id = make_customer().id
    first = open_via_api(client, specialist_chen, customer_id, kind="complaint")
    again = open_via_api(client, specialist_chen, customer_id, kind="complaint")
    ticket = open_via_api(client, specialist_chen, kind="complaint")
    other = make_staff("specialist_he", Role.COMPLAINT_SPECIALIST)
    url = f"/api/v1/tickets/{ticket['id']}"
    reply = client.get(f"{url}/decision-template", params={"outcome": "upheld"}, headers=other.headers).json()["reply"]
    refused = client.post(f"{url}/decisions", json={"outcome": "upheld", "reply": reply}, headers=other.headers)
    assert refused.status_code == 403 and refused.json()["error"]["field"] == "ticket_id"
    assert "colleague" in refused.json()["error"]["message"] and count(ComplaintDecision) == 0
    link = {"duplicate_of": first["id"], "reason": "同一事项"}
    linked = client.post(f"/api/v1/tickets/{again['id']}/duplicate-link", json=link, headers=other.headers)
    assert linked.status_code == 403 and linked.json()["error"]["field"] == "ticket_id"
    assert client.get(f"/api/v1/tickets/{again['id']}", headers=other.headers).json()["status"] == "open"
    linked = client.post(f"/api/v1/tickets/{again['id']}/duplicate-link", json=link, headers=specialist_chen.headers)
    assert linked.status_code == 200 and linked.json()["status"] == "closed"
    decide_via_api(client, supervisor_wang, ticket["id"], outcome="upheld")
    assert client.get(url, headers=other.headers).json()["status"] == "resolved"
    decide_via_api(client, specialist_chen, first["id"], outcome="upheld")  # and its handler, of course


# -- the statutory deadline ------------------------------------------------------------------------


def test_the_statutory_deadline_extends_to_30_then_60_days_only_with_a_supervisor(
        client: TestClient, specialist_chen: Staff, supervisor_wang: Staff) -> None:
    ticket = open_via_api(client, specialist_chen, kind="complaint", risk_grade="medium")
    url = f"/api/v1/tickets/{ticket['id']}/extensions"
    received = at(ticket["received_at"])
    refused = client.post(url, json={"reason": "需调取监控录像"}, headers=specialist_chen.headers)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "approval_required"
    first = client.post(url, json={"reason": "需调取监控录像"}, headers=supervisor_wang.headers)
    assert first.status_code == 200 and at(first.json()["due_at"]) == received + timedelta(days=30)
    second = client.post(url, json={"reason": "需上级机构核实"}, headers=supervisor_wang.headers)
    assert at(second.json()["due_at"]) == received + timedelta(days=60)
    third = client.post(url, json={"reason": "还要更久"}, headers=supervisor_wang.headers)
    assert third.status_code == 409
    assert [n["days"] for n in queued("sla.statutory_extended")] == [30, 60]  # the complainant is told each time
    assert events_of(ticket["id"]).count("deadline_extended") == 2
    consultation = open_via_api(client, specialist_chen)
    assert client.post(f"/api/v1/tickets/{consultation['id']}/extensions", json={"reason": "why not"},
                       headers=supervisor_wang.headers).status_code == 422


def test_a_reply_must_say_whether_the_customer_sees_it(client: TestClient, agent_li: Staff) -> None:
    ticket = open_via_api(client, agent_li)
    response = client.post(f"/api/v1/tickets/{ticket['id']}/replies", json={"body": "x"}, headers=agent_li.headers)
    assert response.status_code == 422 and response.json()["error"]["field"] == "visibility"
    assert count(TicketMessage) == 0


@pytest.mark.parametrize("assignee", ["²", "-1", "0", "abc", "99999999999999999999"])
def test_odd_assignee_filters_are_refused_not_crashed(client: TestClient, agent_li: Staff, assignee: str) -> None:
    response = client.get("/api/v1/tickets", params={"assignee": assignee}, headers=agent_li.headers)
    assert response.status_code == 422 and response.json()["error"]["field"] == "assignee"


def test_the_list_shows_each_ticket_with_its_clocks_and_masked_customer(client: TestClient, agent_li: Staff) -> None:
    opened = [open_via_api(client, agent_li), open_via_api(client, agent_li, kind="feedback")]
    listed = client.get("/api/v1/tickets", headers=agent_li.headers).json()
    assert [t["id"] for t in listed] == [opened[1]["id"], opened[0]["id"]]
    assert [c["target"] for c in listed[0]["sla"]] == ["resolution"]
    assert listed[1]["customer"]["name"] == opened[0]["customer"]["name"]


def test_the_reference_carries_the_year_in_the_institution_s_time_zone(client: TestClient, specialist_chen: Staff,
                                                                     frozen_clock) -> None:  # type: ignore[no-untyped-def]
    frozen_clock.set(datetime(2026, 12, 31, 21, tzinfo=UTC))  # 05:00 on New Year's Day in Beijing
    ticket = open_via_api(client, specialist_chen)
    assert ticket["reference"].startswith("ZX-2027-")


def test_a_retried_extension_extends_once(client: TestClient, specialist_chen: Staff, supervisor_wang: Staff) -> None:
    ticket = open_via_api(client, specialist_chen, kind="complaint")
    headers = {**supervisor_wang.headers, "Idempotency-Key": "ext-1"}
    url = f"/api/v1/tickets/{ticket['id']}/extensions"
    first = client.post(url, json={"reason": "需调取监控录像"}, headers=headers)
    again = client.post(url, json={"reason": "需调取监控录像"}, headers=headers)
    assert first.json()["due_at"] == again.json()["due_at"] and again.json()["extensions"] == 1
    assert len(queued("sla.statutory_extended")) == 1


def test_a_resolved_ticket_is_not_handed_over(client: TestClient, agent_li: Staff, supervisor_wang: Staff) -> None:
    ticket = open_via_api(client, agent_li)
    client.post(f"/api/v1/tickets/{ticket['id']}/transitions", json={"to": "resolved"}, headers=agent_li.headers)
    moved = client.post(f"/api/v1/tickets/{ticket['id']}/assignment",
                        json={"assignee_id": supervisor_wang.id, "reason": "复核"}, headers=supervisor_wang.headers)
    assert moved.status_code == 409 and moved.json()["error"]["field"] == "assignee_id"


def test_a_public_reply_reaches_the_customer_once_and_a_note_never_does(client: TestClient, agent_li: Staff) -> None:
    from fincare.platform.jobs.worker import Worker
    from fincare.platform.outbox.models import OutboundMessage
    from fincare.servicedesk import jobs as desk_jobs

    reachable = open_via_api(client, agent_li, make_customer(email="zhao.lei@example.com").id)
    silent = open_via_api(client, agent_li, make_customer(phone=None, email=None).id)
    restricted = open_via_api(client, agent_li, make_customer(email="qian.li@example.com").id)
    with unit_of_work() as session:  # asked to delete their data while a retention period runs
        customer = session.get(Customer, restricted["customer_id"])
        assert customer is not None
        rights.erase(session, actor=SYSTEM, customer=customer,
                     relationship_ended_on=clock.now().date() - timedelta(days=30))
    for ticket in (reachable, silent, restricted):
        for visibility in ("internal", "public"):
            response = client.post(f"/api/v1/tickets/{ticket['id']}/replies", headers=agent_li.headers,
                                   json={"body": f"{visibility}: 年费已为您减免", "visibility": visibility})
            assert response.status_code == 201, response.text
    worker = Worker(name="test")
    while worker.run_once():
        pass
    with unit_of_work() as session:  # a job delivered twice sends nothing more
        for job in session.execute(select(Job).where(Job.event == "servicedesk.reply_published")).scalars():
            desk_jobs.deliver_reply(session, **job.payload)
    with unit_of_work(read_only=True) as session:
        sent = [(m.subject_id, m.channel, m.template) for m in session.execute(select(OutboundMessage)).scalars()]
        undeliverable = session.execute(select(TicketEvent.ticket_id, TicketEvent.detail).where(
            TicketEvent.kind == "reply_undeliverable").order_by(TicketEvent.ticket_id)).all()
    assert sent == [(reachable["id"], "email", "servicedesk.reply")]
    # the handler is told why: to telephone, or not to contact the customer at all
    assert [(ticket_id, detail["reason"]) for ticket_id, detail in undeliverable] == [
        (silent["id"], notices.NO_ADDRESS), (restricted["id"], notices.NOT_PROCESSED)]
    longest = client.post(f"/api/v1/tickets/{reachable['id']}/replies", headers=agent_li.headers,
                          json={"body": "年" * 20_000, "visibility": "public"})
    assert longest.status_code == 201  # a reply may be this long, but no letter holds it with its greeting
    while worker.run_once():
        pass
    with unit_of_work(read_only=True) as session:
        told = session.execute(select(TicketEvent.detail).where(
            TicketEvent.ticket_id == reachable["id"], TicketEvent.kind == "reply_undeliverable")).scalars().all()
        parked = session.execute(select(func.count()).select_from(Job).where(Job.state != "done")).scalar_one()
    assert len(told) == 1 and told[0]["reason"] == notices.TOO_LONG and parked == 0
    sign_in(client, "agent_li", english=False)
    timeline = client.get(f"/tickets/{silent['id']}").text
    assert "回复无法送达" in timeline and "客户既无电子邮箱也无手机号码：请致电客户" in timeline
