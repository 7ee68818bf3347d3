"""Input at the edge of what a type can hold — a moment UTC cannot represent, a period in the year
9999, an id past 64 bits, another script's digits, JSON nested past the parser's depth — is a 4xx
naming the field, never a 500. Each case here was a 500 once (found by fuzzing the API)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from fincare.customers.models import RightsRequest
from fincare.platform.db import unit_of_work
from fincare.platform.permissions import Role
from fincare.servicedesk.models import Ticket
from tests.console import sign_in
from tests.factories import customers as make
from tests.factories.accounts import Staff, make_staff
from tests.factories.customers import make_customer

API = "/api/v1"
# as far from UTC as offsets go: neither moment exists in UTC's years 1-9999
BEYOND = ("9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00")


@pytest.fixture
def compliance_qian(db: Engine) -> Staff:
    return make_staff("compliance_qian", Role.COMPLIANCE_OFFICER, department="compliance", totp=True)


def refused(response: Any, field: str) -> bool:
    """A 422 whose error names `field` (a query parameter's or a body field's name, or an item of it)."""
    if response.status_code != 422:
        return False
    error = response.json()["error"]
    named = (str(error.get("field")), *(str(d.get("field")) for d in error.get("details", [])))
    return any(name == field or name.startswith(f"{field}.") for name in named)


def count(model: type[Any]) -> int:
    with unit_of_work(read_only=True) as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def test_moments_utc_cannot_hold_are_refused_naming_the_field(
        client: TestClient, supervisor_wang: Staff, compliance_qian: Staff) -> None:
    customer = make_customer()
    specialist = make_staff("specialist_chen", Role.COMPLAINT_SPECIALIST)
    for moment in BEYOND:
        ticket = client.post(f"{API}/tickets", headers=specialist.headers, json={
            "kind": "complaint", "channel": "branch", "customer_id": customer.id, "subject": "纸质投诉单",
            "description": "网点转来的投诉", "received_at": moment})
        assert refused(ticket, "received_at"), ticket.text
        away = client.put(f"{API}/staff/{supervisor_wang.id}/availability", headers=supervisor_wang.headers,
                          json={"presence": "away", "until": moment})
        assert refused(away, "until"), away.text
        rights = client.post(f"{API}/customers/{customer.id}/rights-requests", headers=supervisor_wang.headers,
                             json={"kind": "access", "received_at": moment})
        assert refused(rights, "received_at"), rights.text
        for path, name in (("/audit", "since"), ("/audit", "until"), ("/followups", "due_before")):
            response = client.get(f"{API}{path}", params={name: moment}, headers=compliance_qian.headers
                                  if path == "/audit" else supervisor_wang.headers)
            assert refused(response, name), (path, response.text)
        results = client.get(f"{API}/survey-results", headers=supervisor_wang.headers,
                             params={"since": "2026-01-01T00:00:00Z", "until": moment})
        assert refused(results, "until"), results.text
    assert count(Ticket) == count(RightsRequest) == 0


def test_a_rights_request_received_before_pipl_took_effect_is_refused(
        client: TestClient, supervisor_wang: Staff) -> None:
    customer = make_customer()
    early = client.post(f"{API}/customers/{customer.id}/rights-requests", headers=supervisor_wang.headers,
                        json={"kind": "access", "received_at": "2021-10-31T23:59:59+08:00"})
    assert refused(early, "received_at")
    on_time = client.post(f"{API}/customers/{customer.id}/rights-requests", headers=supervisor_wang.headers,
                          json={"kind": "access", "received_at": "2021-11-01T00:00:00+08:00"})
    assert on_time.status_code == 201, on_time.text


@pytest.mark.parametrize("period", ["9999", "0001", "9999-12", "9999-Q4", "0001-01-01..0001-01-02",
                                    "9999-12-30..9999-12-31", "\uff12\uff10\uff12\uff16", "\u0662\u0660\u0662\u0666"])
def test_periods_outside_the_years_a_moment_holds_or_in_other_digits_are_refused(
        client: TestClient, compliance_qian: Staff, period: str) -> None:
    for path in ("/kpis", "/reports/complaints"):
        for form in ("json", "csv"):
            response = client.get(f"{API}{path}", params={"period": period, "format": form},
                                  headers=compliance_qian.headers)
            assert refused(response, "period"), (path, form, response.text)


def test_named_ids_past_64_bits_are_refused_naming_the_field(client: TestClient, agent_li: Staff) -> None:
    customer = make_customer()
    body = {"kind": "complaint", "channel": "phone", "customer_id": customer.id, "subject": "投诉",
            "description": "投诉内容"}
    for field in ("named_staff_ids", "named_department_ids"):
        for huge in (2**63, 10**20):
            response = client.post(f"{API}/tickets", json={**body, field: [huge]}, headers=agent_li.headers)
            assert refused(response, field), response.text
    assert count(Ticket) == 0


def test_a_body_nested_past_the_json_parser_depth_is_not_a_server_error(
        client: TestClient, agent_li: Staff) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    for path in ("/customers", "/tickets"):
        response = client.post(f"{API}{path}", content=deep, headers={
            **agent_li.headers, "Content-Type": "text/plain", "Idempotency-Key": f"deep-{path}"})
        assert 400 <= response.status_code < 500, (path, response.status_code)


def test_full_width_phone_and_card_digits_are_stored_and_found_as_ascii(
        client: TestClient, agent_li: Staff) -> None:
    body = make.individual()
    wide = str.maketrans("0123456789", "".join(chr(0xFF10 + d) for d in range(10)))
    typed = {**body, "phone": body["phone"].translate(wide), "cards": [body["cards"][0].translate(wide)]}
    created = client.post(f"{API}/customers", json=typed, headers=agent_li.headers)
    assert created.status_code == 201, created.text
    for field, value in (("phone", body["phone"]), ("card_number", body["cards"][0])):
        found = client.get(f"{API}/customers", params={field: value}, headers=agent_li.headers).json()
        assert [c["id"] for c in found] == [created.json()["id"]], field
    arabic = str.maketrans("0123456789", "".join(chr(0x0660 + d) for d in range(10)))
    other = client.post(f"{API}/customers", json={**make.individual(), "cards": [body["cards"][0].translate(arabic)]},
                        headers=agent_li.headers)
    assert refused(other, "cards"), other.text


def test_true_or_false_for_an_id_and_a_number_for_a_moment_are_refused_naming_the_field(
        client: TestClient, supervisor_wang: Staff, compliance_qian: Staff) -> None:
    assert make_customer().id == 1  # `true` must not be read as this customer's id
    specialist = make_staff("specialist_chen", Role.COMPLAINT_SPECIALIST)
    body = {"kind": "complaint", "channel": "phone", "customer_id": 1, "subject": "年费", "description": "多收年费"}
    for field, value in (("customer_id", True), ("named_staff_ids", [True]), ("received_at", 1764700000),
                         ("received_at", "1764700000"), ("received_at", "+1764700000"), ("received_at", "-1.5e3")):
        response = client.post(f"{API}/tickets", headers=specialist.headers, json={**body, field: value})
        assert refused(response, field), (field, value, response.text)
    assert count(Ticket) == 0
    assert client.post(f"{API}/tickets", headers=specialist.headers, json=body).status_code == 201
    audit = client.get(f"{API}/audit", params={"since": "1764700000"}, headers=compliance_qian.headers)
    assert refused(audit, "since"), audit.text


def test_a_body_that_is_not_json_is_refused_naming_the_body_and_a_page_id_that_is_not_a_number_is_404(
        client: TestClient, agent_li: Staff) -> None:
    broken = client.post(f"{API}/tickets", headers={**agent_li.headers, "Content-Type": "application/json"},
                         content=b'{"kind": "consultation",')
    assert refused(broken, "body") and "not valid JSON" in broken.json()["error"]["message"], broken.text
    sign_in(client, agent_li.username)
    assert client.get("/tickets/abc").status_code == 404
    assert client.get(f"{API}/tickets/abc", headers=agent_li.headers).status_code == 422  # the API names it


def test_an_id_past_its_column_s_range_is_refused_on_every_api_path(client: TestClient, app) -> None:  # type: ignore[no-untyped-def]
    from fastapi.routing import APIRoute

    everyone = make_staff("all_roles", *Role)
    past_integer = 2**31  # one past PostgreSQL's integer, the type of most primary keys
    for route in app.routes:
        if not (isinstance(route, APIRoute) and route.path.startswith(API) and "_id}" in route.path):
            continue
        path = re.sub(r"\{\w+_id\}", str(past_integer), route.path)
        for method in route.methods:
            response = client.request(method, path, json={}, headers=everyone.headers)
            assert 400 <= response.status_code < 500, (method, route.path, response.status_code)
    # the ids of the busiest tables are 64-bit: found or not, never refused for their size
    assert client.get(f"{API}/tickets/{past_integer}", headers=everyone.headers).status_code == 422
    assert client.post(f"{API}/jobs/{past_integer}/retry", headers=everyone.headers).status_code == 404
    assert client.get(f"{API}/audit", params={"before_id": past_integer}, headers=everyone.headers).status_code == 200
    for query in ({"customer_id": past_integer}, {"before_id": past_integer}):
        assert refused(client.get(f"{API}/tickets", params=query, headers=everyone.headers), next(iter(query)))
