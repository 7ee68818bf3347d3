"""Routing of complaints: qualified, on-duty staff with the fewest open tickets, never the person or
unit a complaint names (回避); the first handler owns the case until an explicit hand-over (首问负责制)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from fincare.platform.accounts import service as accounts
from fincare.platform.accounts.models import Department, StaffAccount
from fincare.platform.audit_trail.models import AuditEntry
from fincare.platform.db import unit_of_work
from fincare.platform.permissions import SYSTEM, Role
from fincare.servicedesk import service
from fincare.servicedesk.models import Ticket, TicketEvent
from fincare.workforce import service as workforce
from tests.factories.accounts import Staff, make_staff
from tests.factories.customers import make_customer
from tests.factories.roster import away
from tests.factories.tickets import decide_via_api, open_ticket, open_via_api


@pytest.fixture
def specialists(db: Engine) -> list[Staff]:
    return [make_staff(f"specialist_{i}", Role.COMPLAINT_SPECIALIST) for i in range(3)]


def department_id(code: str) -> int:
    with unit_of_work(read_only=True) as session:
        return session.execute(select(Department.id).where(Department.code == code)).scalar_one()


def owners(tickets: list[dict[str, Any]]) -> list[int | None]:
    return [t["assignee_id"] for t in tickets]


def test_a_complaint_goes_to_the_least_loaded_specialist_on_duty(client: TestClient, agent_li: Staff,
                                                                  specialists: list[Staff]) -> None:
    first, second, third = specialists
    for _ in range(2):
        open_via_api(client, first, kind="complaint")  # the first handler keeps what they take in
    open_via_api(client, second, kind="complaint")
    routed = open_via_api(client, agent_li, kind="complaint")  # an agent may not handle it: routed
    assert routed["assignee_id"] == third.id and routed["status"] == "open"
    away(third)
    assert open_via_api(client, agent_li, kind="complaint")["assignee_id"] == second.id  # third is away


def test_a_complaint_is_never_routed_to_the_staff_member_it_names_even_the_least_loaded(
        client: TestClient, agent_li: Staff, specialists: list[Staff]) -> None:
    idle, busy, busier = specialists
    open_via_api(client, busy, kind="complaint")
    for _ in range(3):
        open_via_api(client, busier, kind="complaint")
    named = [open_via_api(client, agent_li, kind="complaint", named_staff_ids=[idle.id]) for _ in range(3)]
    assert idle.id not in owners(named)
    assert owners(named)[0] == busy.id  # the least loaded of those who may handle it
    # named people who take the call themselves do not become its owner either
    own = open_via_api(client, idle, kind="complaint", named_staff_ids=[idle.id])
    assert own["assignee_id"] not in (idle.id, None)


def test_a_complaint_naming_a_unit_is_kept_from_everyone_in_that_unit(client: TestClient, agent_li: Staff) -> None:
    colleague = make_staff("specialist_branch", Role.COMPLAINT_SPECIALIST, department="marketing")
    outsider = make_staff("specialist_hq", Role.COMPLAINT_SPECIALIST, department="compliance")
    for _ in range(2):
        open_via_api(client, outsider, kind="complaint")
    ticket = open_via_api(client, agent_li, kind="complaint", named_department_ids=[department_id("marketing")])
    assert ticket["assignee_id"] == outsider.id  # although the colleague has nothing to do
    assert colleague.id != outsider.id


def test_nobody_qualified_on_duty_leaves_the_complaint_waiting_until_someone_comes_on(
        client: TestClient, agent_li: Staff, specialists: list[Staff]) -> None:
    only = specialists[0]
    away(*specialists)
    ticket = open_via_api(client, agent_li, kind="complaint", named_staff_ids=[specialists[1].id])
    assert ticket["assignee_id"] is None and ticket["status"] == "new"
    with unit_of_work() as session:
        workforce.set_availability(session, actor=SYSTEM, account_id=only.id, presence="available")
    with unit_of_work() as session:
        assert service.route_waiting(session) == [ticket["id"]]
    with unit_of_work() as session:
        assert service.route_waiting(session) == []  # run twice: nothing more to do
        assert session.get(Ticket, ticket["id"]).assignee_id == only.id  # type: ignore[union-attr]


def test_a_reassignment_to_the_named_person_is_refused_with_the_field_named(
        client: TestClient, agent_li: Staff, supervisor_wang: Staff, specialists: list[Staff]) -> None:
    named = specialists[0]
    ticket = open_via_api(client, agent_li, kind="complaint", named_staff_ids=[named.id])
    refused = client.post(f"/api/v1/tickets/{ticket['id']}/assignment", headers=supervisor_wang.headers,
                          json={"assignee_id": named.id, "reason": "他最空闲"})
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "assignee_id"
    assert client.get(f"/api/v1/tickets/{ticket['id']}", headers=supervisor_wang.headers).json()["assignee_id"] \
        == ticket["assignee_id"]


def test_product_skills_and_shifts_decide_who_is_routed(client: TestClient, agent_li: Staff,
                                                        frozen_clock) -> None:  # type: ignore[no-untyped-def]
    # frozen at Monday 2026-10-12 17:30 in Shanghai
    cards, wealth, night = (make_staff(n, Role.COMPLAINT_SPECIALIST) for n in ("spec_cards", "spec_wealth",
                                                                             "spec_night"))
    with unit_of_work() as session:
        workforce.set_skills(session, actor=SYSTEM, account_id=cards.id, skills=["cards"])
        workforce.set_skills(session, actor=SYSTEM, account_id=wealth.id, skills=["wealth", "cards"])
        workforce.set_skills(session, actor=SYSTEM, account_id=night.id, skills=["wealth"])
        workforce.set_shifts(session, actor=SYSTEM, account_id=night.id,
                             shifts=workforce.parse_shifts([{"weekday": 0, "starts": "22:00", "ends": "06:00"}]))
    assert open_via_api(client, agent_li, kind="complaint", product="wealth")["assignee_id"] == wealth.id
    assert open_via_api(client, agent_li, kind="complaint", product="cards")["assignee_id"] == cards.id
    assert open_via_api(client, agent_li, kind="complaint", product="wealth")["assignee_id"] == wealth.id
    frozen_clock.advance(timedelta(hours=6))  # 23:30: the night shift is on
    assert open_via_api(client, agent_li, kind="complaint", product="wealth")["assignee_id"] == night.id
    bad = client.post("/api/v1/tickets", headers=agent_li.headers,
                      json={"kind": "complaint", "channel": "app", "customer_id": make_customer().id,
                            "subject": "s", "description": "d", "product": "crypto"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "product"


def test_named_staff_must_exist_and_only_complaints_name_anyone(client: TestClient, agent_li: Staff) -> None:
    body = {"kind": "complaint", "channel": "app", "customer_id": make_customer().id, "subject": "s",
            "description": "d"}
    unknown = client.post("/api/v1/tickets", json={**body, "named_staff_ids": [987654]}, headers=agent_li.headers)
    assert unknown.status_code == 422 and unknown.json()["error"]["field"] == "named_staff_ids"
    consultation = client.post("/api/v1/tickets", json={**body, "kind": "consultation", "named_staff_ids": [1]},
                               headers=agent_li.headers)
    assert consultation.status_code == 422 and consultation.json()["error"]["field"] == "named_staff_ids"
    with unit_of_work(read_only=True) as session:
        assert session.execute(select(Ticket.id)).first() is None


# -- first-contact responsibility -------------------------------------------------------------------


def test_the_first_handler_owns_the_complaint_until_an_explicit_audited_hand_over(
        client: TestClient, specialists: list[Staff]) -> None:
    first, other, _ = specialists
    ticket = open_via_api(client, first, kind="complaint")
    assert ticket["assignee_id"] == first.id and ticket["status"] == "open"
    url = f"/api/v1/tickets/{ticket['id']}/assignment"
    grabbed = client.post(url, json={"assignee_id": other.id, "reason": "我来"}, headers=other.headers)
    assert grabbed.status_code == 403
    with unit_of_work() as session:
        assert service.route_waiting(session) == []  # routing never moves an owned ticket
    silent = client.post(url, json={"assignee_id": other.id}, headers=first.headers)
    assert silent.status_code == 422 and silent.json()["error"]["field"] == "reason"
    handed = client.post(url, json={"assignee_id": other.id, "reason": "涉及信用卡业务，转专岗"}, headers=first.headers)
    assert handed.status_code == 200 and handed.json()["assignee_id"] == other.id
    with unit_of_work(read_only=True) as session:
        event = session.execute(select(TicketEvent).where(TicketEvent.ticket_id == ticket["id"],
                                                          TicketEvent.kind == "assigned")).scalar_one()
        entry = session.execute(select(AuditEntry).where(AuditEntry.action == "ticket.assigned")).scalar_one()
    assert event.detail == {"before": first.id, "after": other.id, "reason": "涉及信用卡业务，转专岗"}
    assert entry.reason == "涉及信用卡业务，转专岗" and entry.actor_name == first.username


# -- fairness ---------------------------------------------------------------------------------------


def test_a_thousand_complaints_split_evenly_over_ten_specialists_on_shift(db: Engine) -> None:
    team = [make_staff(f"fair_{i}", Role.COMPLAINT_SPECIALIST) for i in range(10)]
    customers = [make_customer().id for _ in range(25)]
    for i in range(1000):
        open_ticket(SYSTEM, customer_id=customers[i % 25], kind="complaint", subject=f"投诉 {i}",
                    description=f"第 {i} 件投诉的内容各不相同 {i * 7919}")
    with unit_of_work(read_only=True) as session:
        split = Counter(session.execute(select(Ticket.assignee_id)).scalars())
    assert set(split) == {s.id for s in team}
    assert all(90 <= n <= 110 for n in split.values()), split


def test_a_deactivated_owner_s_tickets_go_back_to_the_queue_and_on_to_someone_on_duty(
        client: TestClient, specialists: list[Staff]) -> None:
    leaver = specialists[0]
    ticket = open_via_api(client, leaver, kind="complaint")  # first contact: the leaver owns it
    resolved = open_via_api(client, leaver)  # a consultation, resolved: stays the leaver's
    with unit_of_work() as session:
        service.transition(session, actor=SYSTEM, ticket=session.get(Ticket, resolved["id"]),  # type: ignore[arg-type]
                           to="resolved")
    with unit_of_work() as session:
        account = session.get(StaffAccount, leaver.id)
        assert account is not None
        accounts.set_active(session, account=account, active=False, actor=SYSTEM)
    with unit_of_work() as session:
        assert service.route_waiting(session) == [ticket["id"]]
    with unit_of_work() as session:
        assert service.route_waiting(session) == []  # run twice: nothing more to do
        owner = session.get(Ticket, ticket["id"]).assignee_id  # type: ignore[union-attr]
        assert owner in {s.id for s in specialists[1:]}
        assert session.get(Ticket, resolved["id"]).assignee_id == leaver.id  # type: ignore[union-attr]
        reasons = [e.detail.get("reason") for e in session.execute(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket["id"], TicketEvent.kind == "assigned")).scalars()]
        assert reasons[-2:] == ["the owner's account is deactivated", "routed"]


def test_starting_work_on_a_waiting_complaint_makes_it_the_starter_s_once(
        client: TestClient, agent_li: Staff, specialists: list[Staff]) -> None:
    starter = specialists[0]
    away(*specialists)
    ticket = open_via_api(client, agent_li, kind="complaint")  # nobody on duty: it waits, new and unowned
    assert (ticket["status"], ticket["assignee_id"]) == ("new", None)
    started = client.post(f"/api/v1/tickets/{ticket['id']}/transitions", json={"to": "open"}, headers=starter.headers)
    assert started.status_code == 200, started.text
    assert (started.json()["status"], started.json()["assignee_id"]) == ("open", starter.id)
    with unit_of_work(read_only=True) as session:
        kinds = [e.kind for e in session.execute(select(TicketEvent).where(
            TicketEvent.ticket_id == ticket["id"]).order_by(TicketEvent.id)).scalars()]
    assert kinds.count("status_changed") == 1 and kinds.count("assigned") == 1



def test_a_decision_awaiting_approval_keeps_a_waiting_complaint_with_its_author(
        client: TestClient, agent_li: Staff, supervisor_wang: Staff, specialists: list[Staff]) -> None:
    author, colleague, _ = specialists
    away(*specialists)
    ticket = open_via_api(client, agent_li, kind="complaint", risk_grade="high")  # nobody on duty: it waits
    assert ticket["assignee_id"] is None
    decision = decide_via_api(client, author, ticket["id"], outcome="upheld")
    assert decision["status"] == "pending_approval"
    with unit_of_work() as session:
        workforce.set_availability(session, actor=SYSTEM, account_id=colleague.id, presence="available")
    with unit_of_work() as session:
        assert service.route_waiting(session) == []  # the author owns it now: routing passes it by
        assert session.get(Ticket, ticket["id"]).assignee_id == author.id  # type: ignore[union-attr]
    approved = client.post(f"/api/v1/decisions/{decision['id']}/approval", json={"approve": True},
                           headers=supervisor_wang.headers)
    assert approved.status_code == 200 and approved.json()["status"] == "sent", approved.text
    after = client.get(f"/api/v1/tickets/{ticket['id']}", headers=author.headers).json()
    assert (after["status"], after["assignee_id"]) == ("resolved", author.id)
