"""Customer records: encrypted at rest, masked everywhere, revealed only with a reason, audited."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine, func, select, text

from fincare.customers import service
from fincare.customers.models import Customer, CustomerStatus
from fincare.platform import keys
from fincare.platform.audit_trail.models import AuditEntry
from fincare.platform.db import unit_of_work
from fincare.platform.permissions import SYSTEM, Role
from tests.concurrency import wait_for_a_lock_wait
from tests.factories import customers as make
from tests.factories.accounts import Staff, make_staff
from tests.rawdb import raw_database


def create(client: TestClient, staff: Staff, **overrides):  # type: ignore[no-untyped-def]
    body = make.individual(**overrides)
    response = client.post("/api/v1/customers", json=body, headers=staff.headers)
    assert response.status_code == 201, response.text
    return body, response.json()


def audit_entries(action: str, subject_id: int | None = None) -> list[AuditEntry]:
    with unit_of_work(read_only=True) as session:
        query = select(AuditEntry).where(AuditEntry.action == action)
        if subject_id is not None:
            query = query.where(AuditEntry.subject_id == str(subject_id))
        return list(session.execute(query).scalars())


def test_a_new_customer_is_shown_masked(client: TestClient, agent_li: Staff) -> None:
    body, shown = create(client, agent_li, name="张三明", phone="13812345678", email="zhang@example.com")
    assert shown["name"] == "张*明"
    assert shown["phone"] == "138****5678"
    assert shown["email"] == "z***@example.com"
    assert shown["id_number"] == body["id_number"][:3] + "*" * 11 + body["id_number"][-4:]
    assert shown["cards"] == ["*" * 15 + body["cards"][0][-4:]]
    assert shown["birth_year"] == 1985 and shown["risk_tolerance"] == "C3" and shown["risk_assessment_valid"]


def test_a_risk_assessment_expires_two_calendar_years_on(client: TestClient, agent_li: Staff) -> None:
    for assessed, expires in (("2025-03-31", "2027-03-31"), ("2026-03-31", "2028-03-31"),
                              ("2024-02-29", "2026-02-28")):
        _body, shown = create(client, agent_li, risk_tolerance="C2", risk_assessed_on=assessed)
        assert shown["risk_expires_on"] == expires, assessed


def test_no_personal_value_is_stored_in_clear(client: TestClient, agent_li: Staff, db: Engine) -> None:
    seeded = [create(client, agent_li)[0] for _ in range(5)]
    secrets = [v for body in seeded for v in (body["name"], body["id_number"], body["phone"], body["email"],
                                               body["address"], body["cards"][0])]
    raw = raw_database(db)
    for secret in secrets:
        assert secret.encode() not in raw, "a personal value was found in the raw database"


def test_an_external_id_a_concurrent_request_took_first_is_refused_naming_it(client: TestClient, agent_li: Staff,
                                                                             db: Engine) -> None:
    if db.dialect.name != "postgresql":
        pytest.skip("SQLite runs one writer at a time: the second request sees the first's customer")
    answers: list[Response] = []
    with unit_of_work() as session:  # the first registration of CRM-7, not committed yet
        data = service.parse_customer(make.individual(external_id="CRM-7"))
        service.create_customer(session, actor=SYSTEM, data=data)
        second = threading.Thread(target=lambda: answers.append(client.post(
            "/api/v1/customers", json=make.individual(external_id="CRM-7"), headers=agent_li.headers)))
        second.start()
        wait_for_a_lock_wait(db)
    second.join()
    assert answers[0].status_code == 409 and answers[0].json()["error"]["field"] == "external_id"
    with unit_of_work(read_only=True) as session:
        assert session.execute(select(func.count()).select_from(Customer)).scalar_one() == 1


def test_an_external_id_given_to_two_customers_at_once_is_refused_for_the_second(client: TestClient,
                                                                                 agent_li: Staff, db: Engine) -> None:
    if db.dialect.name != "postgresql":
        pytest.skip("SQLite runs one writer at a time: the second request sees the first's change")
    first, second = create(client, agent_li)[1], create(client, agent_li)[1]
    answers: list[Response] = []
    with unit_of_work() as session:  # the first customer takes CRM-8, not committed yet
        customer = session.get(Customer, first["id"])
        assert customer is not None
        service.update_customer(session, actor=SYSTEM, customer=customer,
                                data=service.parse_customer({"external_id": "CRM-8"}, partial=True))
        patch = threading.Thread(target=lambda: answers.append(client.patch(
            f"/api/v1/customers/{second['id']}", json={"external_id": "CRM-8"}, headers=agent_li.headers)))
        patch.start()
        wait_for_a_lock_wait(db)
    patch.join()
    assert answers[0].status_code == 409 and answers[0].json()["error"]["field"] == "external_id"
    shown = client.get(f"/api/v1/customers/{second['id']}", headers=agent_li.headers).json()
    assert shown["external_id"] != "CRM-8"


def test_reading_a_customer_adds_exactly_one_read_entry(client: TestClient, agent_li: Staff) -> None:
    _, shown = create(client, agent_li)
    before = len(audit_entries("customer.viewed", shown["id"]))
    assert client.get(f"/api/v1/customers/{shown['id']}", headers=agent_li.headers).status_code == 200
    entries = audit_entries("customer.viewed", shown["id"])
    assert len(entries) == before + 1
    assert entries[-1].kind == "read" and entries[-1].actor_name == "agent_li"


def test_reveal_needs_the_permission_and_a_reason_and_is_audited(client: TestClient, agent_li: Staff,
                                                                 supervisor_wang: Staff) -> None:
    body, shown = create(client, agent_li)
    url = f"/api/v1/customers/{shown['id']}/reveal"
    denied = client.post(url, json={"field": "phone", "reason": "call back"}, headers=agent_li.headers)
    assert denied.status_code == 403
    no_reason = client.post(url, json={"field": "phone", "reason": ""}, headers=supervisor_wang.headers)
    assert no_reason.status_code == 422 and no_reason.json()["error"]["field"] == "reason"
    revealed = client.post(url, json={"field": "phone", "reason": "customer asked for a call back"},
                           headers=supervisor_wang.headers)
    assert revealed.json() == {"field": "phone", "value": body["phone"]}
    assert revealed.headers["cache-control"] == "no-store"  # no browser or proxy keeps the clear value
    entry = audit_entries("customer.revealed", shown["id"])[-1]
    assert entry.reason == "customer asked for a call back" and entry.after == {"field": "phone"}
    assert entry.actor_name == "supervisor_wang" and entry.kind == "read"
    assert body["phone"] not in str(entry.after) + str(entry.before)


def test_a_list_filter_that_names_no_such_value_is_refused_naming_it(client: TestClient, agent_li: Staff) -> None:
    create(client, agent_li)
    compliance = make_staff("compliance_qian", Role.COMPLIANCE_OFFICER, department="compliance", totp=True)
    for name in ("status", "kind", "risk_tolerance"):
        response = client.get("/api/v1/customers", params={name: "bogus"}, headers=agent_li.headers)
        assert response.status_code == 422 and response.json()["error"]["field"] == name, response.text
    assert len(client.get("/api/v1/customers", params={"kind": "individual"}, headers=agent_li.headers).json()) == 1
    rights = client.get("/api/v1/rights-requests", params={"status": "all"}, headers=compliance.headers)
    assert rights.status_code == 422 and rights.json()["error"]["field"] == "status", rights.text


def test_exact_lookup_by_each_identifier(client: TestClient, agent_li: Staff) -> None:
    body, shown = create(client, agent_li)
    create(client, agent_li)  # someone else
    for field, value in (("phone", "+86 " + body["phone"]), ("id_number", body["id_number"].lower()),
                         ("email", body["email"].upper()), ("card_number", body["cards"][0])):
        found = client.get("/api/v1/customers", params={field: value}, headers=agent_li.headers).json()
        assert [c["id"] for c in found] == [shown["id"]], field
    searched = audit_entries("customer.searched")
    assert all(body["phone"] not in str(e.after) for e in searched)


_VALID_ID = make.resident_id()
BAD_CHECK_DIGIT = _VALID_ID[:-1] + ("0" if _VALID_ID[-1] != "0" else "1")


@pytest.mark.parametrize(("field", "value"), [("id_number", BAD_CHECK_DIGIT), ("phone", "12345"),
                                              ("email", "nobody@"), ("cards", ["4111111111111112"]),
                                              ("kind", "alien"), ("risk_tolerance", "C9")])
def test_malformed_input_is_rejected_with_the_field_and_nothing_written(client: TestClient, agent_li: Staff,
                                                                         field: str, value: object) -> None:
    response = client.post("/api/v1/customers", json=make.individual(**{field: value}), headers=agent_li.headers)
    assert response.status_code == 422
    assert response.json()["error"]["field"].startswith(field)
    with unit_of_work(read_only=True) as session:
        assert session.execute(select(func.count()).select_from(Customer)).scalar_one() == 0


def test_organisations_use_a_credit_code_not_an_id_number(client: TestClient, agent_li: Staff) -> None:
    org = {"kind": "enterprise", "name": "北京示例科技有限公司", "credit_code": make.credit_code()}
    assert client.post("/api/v1/customers", json=org, headers=agent_li.headers).status_code == 201
    bad = client.post("/api/v1/customers", json={**org, "id_number": make.resident_id()}, headers=agent_li.headers)
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "id_number"


def test_an_edit_is_audited_with_masked_before_and_after(client: TestClient, agent_li: Staff) -> None:
    _, shown = create(client, agent_li, phone="13812345678")
    response = client.patch(f"/api/v1/customers/{shown['id']}", json={"phone": "13987654321", "segment": "vip"},
                            headers=agent_li.headers)
    assert response.status_code == 200 and response.json()["phone"] == "139****4321"
    entry = audit_entries("customer.updated", shown["id"])[-1]
    assert entry.before == {"phone": "138****5678", "segment": "mass"}
    assert entry.after == {"phone": "139****4321", "segment": "vip"}
    found = client.get("/api/v1/customers", params={"phone": "13987654321"}, headers=agent_li.headers).json()
    assert [c["id"] for c in found] == [shown["id"]]
    assert client.get("/api/v1/customers", params={"phone": "13812345678"}, headers=agent_li.headers).json() == []


def test_a_ciphertext_copied_to_another_row_does_not_decrypt(client: TestClient, agent_li: Staff,
                                                             supervisor_wang: Staff, db: Engine) -> None:
    _, first = create(client, agent_li)
    _, second = create(client, agent_li)
    with db.begin() as connection:
        connection.execute(text("UPDATE customer SET phone_enc = (SELECT phone_enc FROM customer WHERE id = :a) "
                                "WHERE id = :b"), {"a": first["id"], "b": second["id"]})
    with pytest.raises(keys.UndecryptableError):
        client.post(f"/api/v1/customers/{second['id']}/reveal", json={"field": "phone", "reason": "checking"},
                    headers=supervisor_wang.headers)


def test_roles_without_customer_access_are_refused(client: TestClient, agent_li: Staff, admin_root: Staff) -> None:
    _, shown = create(client, agent_li)
    assert client.get(f"/api/v1/customers/{shown['id']}", headers=admin_root.headers).status_code == 403
    assert client.get(f"/api/v1/customers/{shown['id']}/export", headers=agent_li.headers).status_code == 403
    assert client.post(f"/api/v1/customers/{shown['id']}/erase", json={}, headers=agent_li.headers).status_code == 403


def test_views_are_counted_per_staff_member(client: TestClient, agent_li: Staff) -> None:
    from fincare.customers import service
    from fincare.platform import clock

    _, shown = create(client, agent_li)
    for _ in range(3):
        client.get(f"/api/v1/customers/{shown['id']}", headers=agent_li.headers)
    with unit_of_work(read_only=True) as session:
        assert service.views_by_staff(session, day=clock.now().date())[agent_li.id] == 3


def test_a_page_of_the_list_and_a_search_are_audited_reads_counted_per_customer_shown(
        client: TestClient, agent_li: Staff, supervisor_wang: Staff) -> None:
    from fincare.customers import service
    from fincare.platform import clock

    made = [create(client, agent_li) for _ in range(3)]
    page = client.get("/api/v1/customers", params={"limit": 2}, headers=supervisor_wang.headers).json()
    older = client.get("/api/v1/customers", params={"limit": 2, "before_id": page[-1]["id"]},
                       headers=supervisor_wang.headers).json()
    listed = audit_entries("customer.listed")
    assert [e.after["customers"] for e in listed] == [[c["id"] for c in page], [c["id"] for c in older]]
    assert all(e.kind == "read" and e.actor_name == "supervisor_wang" for e in listed)
    assert listed[1].after["before_id"] == page[-1]["id"] and listed[0].after["filters"] == {"status": "active"}
    body = made[0][0]
    client.get("/api/v1/customers", params={"phone": body["phone"]}, headers=supervisor_wang.headers)
    with unit_of_work(read_only=True) as session:
        assert service.views_by_staff(session, day=clock.now().date())[supervisor_wang.id] == 2 + 1 + 1
    assert not any(body["phone"] in str(e.after) or body["name"] in str(e.after) for e in listed)


def test_status_of_new_customers_is_active(client: TestClient, agent_li: Staff) -> None:
    _, shown = create(client, agent_li)
    assert shown["status"] == CustomerStatus.ACTIVE
