"""JR/T 0169-2018 coding: a complaint closes only once coded by channel, business type and cause, from the
versioned code table, which compliance and admins extend with finer codes of their own."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from fincare.platform.audit_trail.models import AuditEntry
from fincare.platform.db import unit_of_work
from fincare.platform.permissions import Role
from tests.factories.accounts import Staff, make_staff
from tests.factories.tickets import decide_via_api, open_via_api

CODES = {"channel_code": "A05", "business_type_code": "B03", "cause_code": "C01"}


@pytest.fixture
def specialist_chen(db: Engine) -> Staff:
    return make_staff("specialist_chen", Role.COMPLAINT_SPECIALIST)


def resolved_complaint(client: TestClient, staff: Staff) -> dict[str, Any]:
    ticket = open_via_api(client, staff, kind="complaint", channel="app")
    decide_via_api(client, staff, ticket["id"])
    return ticket


def test_the_table_carries_the_standard_s_three_dimensions(client: TestClient, agent_li: Staff) -> None:
    listed = client.get("/api/v1/complaint-codes", headers=agent_li.headers).json()
    by_code = {c["code"]: c for c in listed}
    assert {c["dimension"] for c in listed} == {"channel", "business_type", "cause"}
    assert by_code["A05"]["name_zh"] == "移动客户端" and by_code["B06"]["name_zh"] == "个人金融信息"
    assert by_code["C10"]["name_en"] == "Information security" and by_code["C99"]["dimension"] == "cause"
    assert {c["version"] for c in listed} == {"JR/T 0169-2018"}
    causes = client.get("/api/v1/complaint-codes?dimension=cause", headers=agent_li.headers).json()
    assert causes and all(c["code"].startswith("C") for c in causes)
    assert client.get("/api/v1/complaint-codes?dimension=mood", headers=agent_li.headers).status_code == 422


def test_a_complaint_closes_only_once_coded(client: TestClient, specialist_chen: Staff) -> None:
    ticket = resolved_complaint(client, specialist_chen)
    url = f"/api/v1/tickets/{ticket['id']}"
    refused = client.post(f"{url}/transitions", json={"to": "closed"}, headers=specialist_chen.headers)
    assert refused.status_code == 409 and refused.json()["error"]["field"] == "codes"
    coded = client.post(f"{url}/coding", json=CODES, headers=specialist_chen.headers)
    assert coded.status_code == 200
    assert (coded.json()["code_version"], coded.json()["channel_code"], coded.json()["cause_code"]) == (
        "JR/T 0169-2018", "A05", "C01")
    closed = client.post(f"{url}/transitions", json={"to": "closed"}, headers=specialist_chen.headers)
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    kinds = [e["kind"] for e in client.get(f"{url}/events", headers=specialist_chen.headers).json()]
    assert "coded" in kinds
    with unit_of_work(read_only=True) as session:
        entry = session.execute(select(AuditEntry).where(AuditEntry.action == "complaint.coded")).scalar_one()
    assert entry.after == {"code_version": "JR/T 0169-2018", **CODES}


@pytest.mark.parametrize(("change", "field"), [
    ({"channel_code": "B01"}, "channel_code"),  # a business-type code on the channel axis
    ({"business_type_code": "B77"}, "business_type_code"),
    ({"cause_code": ""}, "cause_code"),
    ({"cause_code": "C01; DROP"}, "cause_code"),
])
def test_codes_outside_the_table_are_refused_with_the_field_named(client: TestClient, specialist_chen: Staff,
                                                                  change: dict[str, str], field: str) -> None:
    ticket = resolved_complaint(client, specialist_chen)
    response = client.post(f"/api/v1/tickets/{ticket['id']}/coding", json={**CODES, **change},
                           headers=specialist_chen.headers)
    assert response.status_code == 422 and response.json()["error"]["field"] == field
    shown = client.get(f"/api/v1/tickets/{ticket['id']}", headers=specialist_chen.headers).json()
    assert shown["channel_code"] is None and shown["cause_code"] is None


def test_only_complaints_are_coded_and_only_by_those_who_handle_them(client: TestClient, agent_li: Staff,
                                                                     specialist_chen: Staff) -> None:
    consultation = open_via_api(client, agent_li)
    assert client.post(f"/api/v1/tickets/{consultation['id']}/coding", json=CODES,
                       headers=agent_li.headers).status_code == 422
    complaint = open_via_api(client, agent_li, kind="complaint")
    assert client.post(f"/api/v1/tickets/{complaint['id']}/coding", json=CODES,
                       headers=agent_li.headers).status_code == 403


def test_compliance_adds_a_finer_code_that_can_then_be_used(client: TestClient, specialist_chen: Staff,
                                                            agent_li: Staff) -> None:
    compliance = make_staff("compliance_qian", Role.COMPLIANCE_OFFICER, department="compliance")
    body = {"dimension": "cause", "code": "C0301", "name_zh": "提前还款规则", "name_en": "Early repayment rules",
            "parent_code": "C03"}
    assert client.post("/api/v1/complaint-codes", json=body, headers=agent_li.headers).status_code == 403
    added = client.post("/api/v1/complaint-codes", json=body, headers=compliance.headers)
    assert added.status_code == 201 and added.json()["custom"] is True
    assert client.post("/api/v1/complaint-codes", json=body, headers=compliance.headers).status_code == 409
    wrong_axis = client.post("/api/v1/complaint-codes", json={**body, "code": "A0301"}, headers=compliance.headers)
    assert wrong_axis.status_code == 422 and wrong_axis.json()["error"]["field"] == "code"
    orphan = client.post("/api/v1/complaint-codes", json={**body, "code": "C0302", "parent_code": "C55"},
                         headers=compliance.headers)
    assert orphan.status_code == 422 and orphan.json()["error"]["field"] == "parent_code"
    ticket = resolved_complaint(client, specialist_chen)
    coded = client.post(f"/api/v1/tickets/{ticket['id']}/coding", json={**CODES, "cause_code": "c0301"},
                        headers=specialist_chen.headers)
    assert coded.status_code == 200 and coded.json()["cause_code"] == "C0301"


def test_the_console_codes_a_complaint_and_then_closes_it(client: TestClient, specialist_chen: Staff) -> None:
    from tests.console import post_form, sign_in
    from tests.servicedesk.test_views import reload

    ticket = resolved_complaint(client, specialist_chen)
    path = f"/tickets/{ticket['id']}"
    sign_in(client, "specialist_chen")
    page = client.get(path).text
    assert 'data-testid="coding"' in page and "A05" in page and "C10" in page
    refused = post_form(client, f"{path}/status", {"to": "closed"}, page=path)
    assert refused.status_code == 409 and reload(ticket["id"]).status == "resolved"
    bad = post_form(client, f"{path}/coding", {**CODES, "cause_code": "C77"}, page=path)
    assert bad.status_code == 422 and reload(ticket["id"]).cause_code is None
    saved = post_form(client, f"{path}/coding", CODES, page=path)
    assert saved.status_code == 303 and saved.headers["location"] == f"{path}#coding"
    assert post_form(client, f"{path}/status", {"to": "closed"}, page=path).status_code == 303
    assert reload(ticket["id"]).status == "closed" and reload(ticket["id"]).channel_code == "A05"
