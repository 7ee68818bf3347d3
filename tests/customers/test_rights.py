"""The PIPL rights desk: requests with deadlines, export, erasure or restriction, consent withdrawal."""

from __future__ import annotations

from datetime import date, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from fincare.customers import service
from fincare.customers.models import ConsentPurpose, Customer
from fincare.platform import clock
from fincare.platform.db import unit_of_work
from fincare.platform.permissions import Role
from tests.factories import customers as make
from tests.factories.accounts import Staff, make_staff


def compliance(db: Engine) -> Staff:
    return make_staff("compliance_qian", Role.COMPLIANCE_OFFICER, department="compliance", totp=True)


def new_customer(client: TestClient, staff: Staff, **overrides):  # type: ignore[no-untyped-def]
    body = make.individual(**overrides)
    return body, client.post("/api/v1/customers", json=body, headers=staff.headers).json()


def open_request(client: TestClient, staff: Staff, customer_id: int, kind: str) -> dict:  # type: ignore[type-arg]
    response = client.post(f"/api/v1/customers/{customer_id}/rights-requests", json={"kind": kind},
                           headers=staff.headers)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_a_request_is_recorded_with_a_fifteen_day_deadline(client: TestClient, agent_li: Staff, db: Engine) -> None:
    _, customer = new_customer(client, agent_li)
    request = open_request(client, agent_li, customer["id"], "access")
    assert request["status"] == "open"
    assert request["due_at"].startswith((clock.now() + timedelta(days=15)).date().isoformat())
    queue = client.get("/api/v1/rights-requests", headers=compliance(db).headers).json()
    assert [r["id"] for r in queue] == [request["id"]]
    assert client.get("/api/v1/rights-requests", headers=agent_li.headers).status_code == 403


def test_a_request_received_in_beijing_time_is_answered_as_a_later_read_shows_it(client: TestClient,
                                                                                 agent_li: Staff, db: Engine) -> None:
    _, customer = new_customer(client, agent_li)
    opened = client.post(f"/api/v1/customers/{customer['id']}/rights-requests", headers=agent_li.headers,
                         json={"kind": "access", "received_at": "2026-10-12T09:30:00+08:00"})
    assert opened.status_code == 201, opened.text
    (listed,) = client.get("/api/v1/rights-requests", headers=compliance(db).headers).json()
    assert opened.json()["received_at"] == listed["received_at"]
    assert opened.json()["received_at"].replace("Z", "+00:00") == "2026-10-12T01:30:00+00:00"


def test_export_holds_everything_in_clear_is_audited_and_fulfils_the_access_request(
    client: TestClient, agent_li: Staff, auditor_zhao: Staff, db: Engine
) -> None:
    officer = compliance(db)
    body, customer = new_customer(client, agent_li)
    request = open_request(client, agent_li, customer["id"], "access")
    answer = client.get(f"/api/v1/customers/{customer['id']}/export", params={"rights_request_id": request["id"]},
                        headers=officer.headers)
    assert answer.headers["cache-control"] == "no-store"
    doc = answer.json()
    assert doc["customer"]["phone"] == body["phone"] and doc["customer"]["id_number"] == body["id_number"]
    assert doc["customer"]["cards"] == body["cards"]
    assert doc["rights_requests"][0]["status"] == "fulfilled"
    exported = client.get("/api/v1/audit", params={"action": "customer.exported"}, headers=auditor_zhao.headers)
    assert exported.json()[0]["actor_name"] == "compliance_qian"


def test_deletion_after_the_retention_period_destroys_the_personal_data(client: TestClient, agent_li: Staff,
                                                                          db: Engine) -> None:
    officer = compliance(db)
    body, customer = new_customer(client, agent_li)
    request = open_request(client, agent_li, customer["id"], "deletion")
    ended = clock.now().date() - timedelta(days=6 * 365)
    outcome = client.post(f"/api/v1/customers/{customer['id']}/erase",
                          json={"rights_request_id": request["id"], "relationship_ended_on": ended.isoformat()},
                          headers=officer.headers).json()
    assert outcome["status"] == "erased"
    with unit_of_work(read_only=True) as session:
        row = session.get(Customer, customer["id"])
        assert row is not None
        assert row.phone_enc is None and row.name_enc is None and row.id_number_lookup is None and row.cards == []
        assert row.name_mask.startswith("已注销客户")
    # the anonymous record still exists, nobody can find it by the old phone, agents cannot open it
    assert client.get("/api/v1/customers", params={"phone": body["phone"]}, headers=agent_li.headers).json() == []
    assert client.get(f"/api/v1/customers/{customer['id']}", headers=agent_li.headers).status_code == 404
    queue = client.get("/api/v1/rights-requests", params={"status": "fulfilled"}, headers=officer.headers).json()
    assert [r["id"] for r in queue] == [request["id"]]


def test_deletion_during_the_retention_period_restricts_with_the_reason(client: TestClient, agent_li: Staff,
                                                                          db: Engine) -> None:
    officer = compliance(db)
    _, customer = new_customer(client, agent_li)
    request = open_request(client, agent_li, customer["id"], "deletion")
    ended = clock.now().date() - timedelta(days=365)
    outcome = client.post(f"/api/v1/customers/{customer['id']}/erase",
                          json={"rights_request_id": request["id"], "relationship_ended_on": ended.isoformat()},
                          headers=officer.headers).json()
    assert outcome["status"] == "restricted"
    assert "retention" in outcome["reason"]
    # stored, not processed: no edits, no marketing, hidden from agents
    assert client.patch(f"/api/v1/customers/{customer['id']}", json={"segment": "vip"},
                        headers=agent_li.headers).status_code == 404
    with unit_of_work(read_only=True) as session:
        assert not service.may_contact_for(session, customer["id"], ConsentPurpose.MARKETING)
        row = session.get(Customer, customer["id"])
        assert row is not None and row.phone_enc is not None
    closed = client.get("/api/v1/rights-requests", params={"status": "restricted"}, headers=officer.headers).json()
    assert closed[0]["outcome"] == outcome["reason"]


def test_deletion_of_an_ongoing_relationship_is_refused_with_a_reason(client: TestClient, agent_li: Staff,
                                                                       db: Engine) -> None:
    officer = compliance(db)
    _, customer = new_customer(client, agent_li)
    outcome = client.post(f"/api/v1/customers/{customer['id']}/erase", json={}, headers=officer.headers).json()
    assert outcome["status"] == "refused" and "ongoing" in outcome["reason"]


def test_a_refusal_needs_a_reason(client: TestClient, agent_li: Staff, db: Engine) -> None:
    officer = compliance(db)
    _, customer = new_customer(client, agent_li)
    request = open_request(client, agent_li, customer["id"], "correction")
    assert client.post(f"/api/v1/rights-requests/{request['id']}/refuse", json={"reason": ""},
                       headers=officer.headers).status_code == 422
    refused = client.post(f"/api/v1/rights-requests/{request['id']}/refuse",
                          json={"reason": "the recorded address matches the contract"}, headers=officer.headers)
    assert refused.json()["status"] == "refused"
    again = client.post(f"/api/v1/rights-requests/{request['id']}/refuse", json={"reason": "twice over"},
                        headers=officer.headers)
    assert again.status_code == 409


def test_consent_withdrawal_is_honoured_by_everything_that_markets(client: TestClient, agent_li: Staff,
                                                                   db: Engine) -> None:
    officer = compliance(db)
    _, customer = new_customer(client, agent_li)
    for purpose in ("marketing", "personalised_recommendations"):
        client.post(f"/api/v1/customers/{customer['id']}/consents", json={"purpose": purpose, "granted": True},
                    headers=agent_li.headers)
    with unit_of_work(read_only=True) as session:
        assert service.may_contact_for(session, customer["id"], ConsentPurpose.MARKETING)
    request = open_request(client, agent_li, customer["id"], "consent_withdrawal")
    done = client.post(f"/api/v1/rights-requests/{request['id']}/withdraw-consent", headers=officer.headers)
    assert done.json()["status"] == "fulfilled"
    with unit_of_work(read_only=True) as session:
        assert not service.may_contact_for(session, customer["id"], ConsentPurpose.MARKETING)
        assert not service.may_contact_for(session, customer["id"], ConsentPurpose.PERSONALISED_RECOMMENDATIONS)
    shown = client.get(f"/api/v1/customers/{customer['id']}", headers=agent_li.headers).json()
    assert {c["purpose"]: c["granted"] for c in shown["consents"]}["marketing"] is False


def test_a_future_relationship_end_is_rejected(client: TestClient, agent_li: Staff, db: Engine) -> None:
    officer = compliance(db)
    _, customer = new_customer(client, agent_li)
    response = client.post(f"/api/v1/customers/{customer['id']}/erase",
                           json={"relationship_ended_on": (date.today() + timedelta(days=3)).isoformat()},
                           headers=officer.headers)
    assert response.status_code == 422 and response.json()["error"]["field"] == "relationship_ended_on"
    with unit_of_work(read_only=True) as session:
        assert session.execute(select(Customer.relationship_ended_on)).scalar_one() is None


def test_the_rights_desk_fulfils_a_correction(client: TestClient, agent_li: Staff, db: Engine) -> None:
    officer = compliance(db)
    _, customer = new_customer(client, agent_li, address="北京市朝阳区旧地址1号")
    request = open_request(client, agent_li, customer["id"], "correction")
    corrected = client.post(f"/api/v1/rights-requests/{request['id']}/correct",
                            json={"address": "上海市浦东新区新地址88号"}, headers=officer.headers)
    assert corrected.status_code == 200 and corrected.json()["address"].startswith("上海市浦东新")
    closed = client.get("/api/v1/rights-requests", params={"status": "fulfilled"}, headers=officer.headers).json()
    assert closed[0]["outcome"] == "corrected: address"
    assert client.post(f"/api/v1/rights-requests/{request['id']}/correct", json={"segment": "x"},
                       headers=agent_li.headers).status_code == 403
