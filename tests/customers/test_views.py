"""Customer console pages: masked lists, one audited view per visit, reveals with a reason, the rights desk."""

from __future__ import annotations

import json
import re
from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from fincare.customers import rights, service
from fincare.customers.models import Customer, RightsRequest, RightsRequestKind
from fincare.platform import clock
from fincare.platform.audit_trail.models import AuditEntry
from fincare.platform.db import unit_of_work
from fincare.platform.permissions import SYSTEM, Role
from tests.console import csrf, post_form, sign_in
from tests.factories import customers as make
from tests.factories.accounts import Staff, make_staff


@pytest.fixture
def compliance_qian(db: Engine) -> Staff:
    return make_staff("compliance_qian", Role.COMPLIANCE_OFFICER, department="compliance", totp=True)


def audit_entries(action: str, subject_id: int | None = None) -> list[AuditEntry]:
    with unit_of_work(read_only=True) as session:
        query = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        if subject_id is not None:
            query = query.where(AuditEntry.subject_id == str(subject_id))
        return list(session.execute(query).scalars())


def customer_with(**overrides: object) -> tuple[dict[str, object], Customer]:
    body = make.individual(**overrides)
    return body, make.make_customer(**body)


def clear_values(body: dict[str, object]) -> list[str]:
    cards = body["cards"]
    assert isinstance(cards, list)
    return [str(body[k]) for k in ("name", "id_number", "phone", "email", "address")] + cards


# -- list and search -------------------------------------------------------------------------------


def test_the_list_shows_masks_and_never_a_clear_value(client: TestClient, agent_li: Staff) -> None:
    body, customer = customer_with(name="张三明", phone="13812345678")
    sign_in(client, "agent_li")
    page = client.get("/customers")
    assert page.status_code == 200
    assert customer.reference in page.text and "张*明" in page.text and "138****5678" in page.text
    assert customer.id_number_mask is not None and customer.id_number_mask in page.text
    assert not [value for value in clear_values(body) if value in page.text]
    assert 'href="/customers"' in page.text  # the navigation entry


def test_an_exact_search_shows_masks_does_not_echo_the_value_and_is_audited(client: TestClient,
                                                                             agent_li: Staff) -> None:
    body, customer = customer_with(phone="13912345678")
    customer_with()  # someone else, not found
    sign_in(client, "agent_li")
    found = post_form(client, "/customers", {"field": "phone", "value": "139 1234 5678"}, page="/customers")
    assert found.status_code == 200
    assert customer.reference in found.text and "139****5678" in found.text
    assert not [value for value in clear_values(body) if value in found.text]
    assert "13912345678" not in found.text.replace(" ", "")
    searched = audit_entries("customer.searched")
    assert [e.after for e in searched] == [{"field": "phone", "matches": [customer.id]}]


def test_a_malformed_search_value_is_shown_again_with_its_error(client: TestClient, agent_li: Staff) -> None:
    sign_in(client, "agent_li")
    refused = post_form(client, "/customers", {"field": "phone", "value": "12345"}, page="/customers")
    assert refused.status_code == 422
    assert 'data-testid="error-value"' in refused.text and "11 digits" in refused.text
    assert 'value="12345"' in refused.text  # what the user typed, to correct it
    assert audit_entries("customer.searched") == []


def test_filters_narrow_the_list_and_page_older_customers(client: TestClient, agent_li: Staff) -> None:
    shanghai = make.make_customer(branch="上海分行")
    beijing = make.make_customer(branch="北京分行")
    sign_in(client, "agent_li")
    page = client.get("/customers", params={"branch": "上海分行"})
    assert shanghai.reference in page.text and beijing.reference not in page.text
    older = client.get("/customers", params={"before_id": beijing.id})
    assert shanghai.reference in older.text and beijing.reference not in older.text


# -- the customer page -----------------------------------------------------------------------------


def test_each_visit_of_the_customer_page_records_exactly_one_view(client: TestClient, agent_li: Staff) -> None:
    body, customer = customer_with()
    sign_in(client, "agent_li")
    first = client.get(f"/customers/{customer.id}")
    assert first.status_code == 200
    assert len(audit_entries("customer.viewed", customer.id)) == 1
    client.get(f"/customers/{customer.id}")
    assert len(audit_entries("customer.viewed", customer.id)) == 2
    assert not [value for value in clear_values(body) if value in first.text]
    assert 'data-testid="grade-phone">C2<' in first.text and 'data-testid="grade-card_number">C2<' in first.text
    assert 'data-testid="risk-validity"' in first.text and "badge-ok" in first.text
    for slot in ("tickets", "followups", "loyalty"):
        assert f'data-slot="{slot}"' in first.text


def test_the_customer_page_shows_times_in_the_institution_s_time_zone(client: TestClient, agent_li: Staff) -> None:
    _body, customer = customer_with()
    with unit_of_work(read_only=True) as session:
        created = session.get(Customer, customer.id).created_at  # type: ignore[union-attr]
    shanghai = created.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
    assert shanghai != created.astimezone(UTC).strftime("%Y-%m-%d %H:%M")  # eight hours apart
    sign_in(client, "agent_li")
    assert shanghai in client.get(f"/customers/{customer.id}").text


def test_agents_get_no_reveal_form_and_their_reveal_is_refused(client: TestClient, agent_li: Staff) -> None:
    body, customer = customer_with()
    sign_in(client, "agent_li")
    page = client.get(f"/customers/{customer.id}")
    assert f'action="/customers/{customer.id}/reveal"' not in page.text
    refused = post_form(client, f"/customers/{customer.id}/reveal",
                        {"field": "phone", "reason": "the customer asked on the phone"})
    assert refused.status_code == 403
    assert str(body["phone"]) not in refused.text
    assert audit_entries("customer.revealed") == []


def test_a_supervisor_sees_one_value_in_clear_and_the_reveal_is_audited_with_its_reason(
    client: TestClient, supervisor_wang: Staff
) -> None:
    body, customer = customer_with()
    sign_in(client, "supervisor_wang")
    page = client.get(f"/customers/{customer.id}")
    assert f'action="/customers/{customer.id}/reveal"' in page.text
    shown = client.post(f"/customers/{customer.id}/reveal", data={
        "field": "phone", "reason": "call back about complaint 42", "csrf_token": csrf(page)})
    assert shown.status_code == 200
    assert re.search(r'data-testid="revealed-value">\s*' + str(body["phone"]), shown.text)
    assert str(body["id_number"]) not in shown.text  # only the field asked for
    assert shown.headers["cache-control"] == "no-store"
    (revealed,) = audit_entries("customer.revealed", customer.id)
    assert revealed.reason == "call back about complaint 42" and revealed.after == {"field": "phone"}
    assert len(audit_entries("customer.viewed", customer.id)) == 1  # the reveal is not a second view


def test_a_reveal_without_a_reason_is_refused_next_to_the_reason(client: TestClient,
                                                                 supervisor_wang: Staff) -> None:
    body, customer = customer_with()
    sign_in(client, "supervisor_wang")
    refused = post_form(client, f"/customers/{customer.id}/reveal", {"field": "phone", "reason": "ok"})
    assert refused.status_code == 422
    assert 'data-testid="error-reason"' in refused.text
    assert str(body["phone"]) not in refused.text
    assert audit_entries("customer.revealed") == []


def test_consents_are_granted_and_withdrawn_from_the_customer_page(client: TestClient, agent_li: Staff) -> None:
    _, customer = customer_with()
    sign_in(client, "agent_li")
    path = f"/customers/{customer.id}"
    granted = post_form(client, f"{path}/consents", {"purpose": "marketing", "granted": "true",
                                                     "channel": "phone"})
    assert granted.status_code == 303
    with unit_of_work(read_only=True) as session:
        assert service.current_consents(session, customer.id)["marketing"].granted
    post_form(client, f"{path}/consents", {"purpose": "marketing", "granted": "false", "channel": "branch"})
    with unit_of_work(read_only=True) as session:
        assert not service.current_consents(session, customer.id)["marketing"].granted
    refused = post_form(client, f"{path}/consents", {"purpose": "spam", "granted": "true", "channel": "branch"})
    assert refused.status_code == 422


def test_a_rights_request_is_opened_from_the_customer_page(client: TestClient, agent_li: Staff) -> None:
    _, customer = customer_with()
    sign_in(client, "agent_li")
    opened = post_form(client, f"/customers/{customer.id}/rights-requests", {"kind": "access", "channel": "letter"})
    assert opened.status_code == 303
    page = client.get(f"/customers/{customer.id}")
    assert "Access and copy" in page.text and "Letter" in page.text


# -- create and edit -------------------------------------------------------------------------------


def test_a_bad_phone_on_the_create_form_names_the_phone_field_and_writes_nothing(client: TestClient,
                                                                               agent_li: Staff) -> None:
    sign_in(client, "agent_li")
    refused = post_form(client, "/customers/new", {"kind": "individual", "name": "王小明", "phone": "12345",
                                                   "branch": "北京分行"}, page="/customers/new")
    assert refused.status_code == 422
    assert 'data-testid="error-phone"' in refused.text and "11 digits" in refused.text
    assert 'value="王小明"' in refused.text and 'value="北京分行"' in refused.text  # what was typed stays
    with unit_of_work(read_only=True) as session:
        assert service.count_customers(session) == 0
    assert audit_entries("customer.created") == []


def test_the_create_form_creates_the_customer_and_goes_to_its_page(client: TestClient, agent_li: Staff) -> None:
    body = make.individual()
    sign_in(client, "agent_li")
    cards = body["cards"]
    assert isinstance(cards, list)
    created = post_form(client, "/customers/new", {
        **{k: str(body[k]) for k in ("kind", "name", "id_number", "phone", "email", "address", "branch")},
        "cards": "\n".join(cards), "risk_tolerance": "C4", "service_lines": ["loans", "cards"],
        "tags": "vip，pension", "segment": "affluent"}, page="/customers/new")
    assert created.status_code == 303
    with unit_of_work(read_only=True) as session:
        (customer,) = session.execute(select(Customer)).scalars().all()
        assert created.headers["location"] == f"/customers/{customer.id}"
        assert customer.service_lines == ["cards", "loans"] and customer.tags == ["pension", "vip"]
        assert customer.risk_tolerance == "C4" and len(customer.cards) == 1
        assert service.decrypt_all(session, customer)["phone"] == body["phone"]


def test_the_edit_form_shows_masks_and_sends_only_what_changed(client: TestClient, agent_li: Staff) -> None:
    body, customer = customer_with(phone="13812345678", tags=["vip"])
    sign_in(client, "agent_li")
    form = client.get(f"/customers/{customer.id}/edit")
    assert 'placeholder="138****5678"' in form.text
    assert not [value for value in clear_values(body) if value in form.text]
    assessed_on = customer.risk_assessed_on
    saved = client.post(f"/customers/{customer.id}/edit", data={
        "name": "", "phone": "13700001111", "risk_tolerance": "C3", "risk_assessed_on": str(assessed_on),
        "service_lines": [], "branch": "北京分行", "segment": "mass", "tags": "vip", "external_id": "",
        "csrf_token": csrf(form)}, follow_redirects=False)
    assert saved.status_code == 303
    (updated,) = audit_entries("customer.updated", customer.id)
    assert updated.after == {"phone": "137****1111"}
    with unit_of_work(read_only=True) as session:
        again = service.get_customer(session, customer.id)
        assert again is not None and again.risk_assessed_on == assessed_on and again.name_mask == customer.name_mask


def test_a_refused_edit_keeps_what_was_typed_and_changes_nothing(client: TestClient, agent_li: Staff) -> None:
    _, customer = customer_with(phone="13812345678")
    sign_in(client, "agent_li")
    refused = post_form(client, f"/customers/{customer.id}/edit",
                        {"phone": "13700001111", "email": "not-an-address", "branch": "北京分行",
                         "segment": "mass", "risk_tolerance": "C3"}, page=f"/customers/{customer.id}/edit")
    assert refused.status_code == 422
    assert 'data-testid="error-email"' in refused.text and 'value="not-an-address"' in refused.text
    assert audit_entries("customer.updated") == []
    too_long = post_form(client, f"/customers/{customer.id}/edit?lang=zh-CN", {"branch": "北" * 61},
                         page=f"/customers/{customer.id}/edit")
    assert too_long.status_code == 422 and "最多 60 个字符" in too_long.text  # the limit in a Chinese sentence
    english = post_form(client, f"/customers/{customer.id}/edit?lang=en", {"branch": "北" * 61},
                        page=f"/customers/{customer.id}/edit")
    assert "at most 60 characters" in english.text


# -- the rights desk -------------------------------------------------------------------------------


def open_request(customer: Customer, kind: RightsRequestKind, *, days_ago: int = 0) -> int:
    with unit_of_work() as session:
        found = service.get_customer(session, customer.id)
        assert found is not None
        return rights.open_request(session, actor=SYSTEM, customer=found, kind=kind,
                                   received_at=clock.now() - timedelta(days=days_ago)).id


def request_status(request_id: int) -> str:
    with unit_of_work(read_only=True) as session:
        found = session.get(RightsRequest, request_id)
        assert found is not None
        return found.status


def test_the_rights_desk_is_refused_to_agents(client: TestClient, agent_li: Staff) -> None:
    sign_in(client, "agent_li")
    assert client.get("/rights-requests").status_code == 403
    assert 'href="/rights-requests"' not in client.get("/customers").text


def test_compliance_works_the_queue_and_downloads_an_access_copy(client: TestClient, compliance_qian: Staff) -> None:
    body, customer = customer_with()
    access = open_request(customer, RightsRequestKind.ACCESS)
    refusable = open_request(customer, RightsRequestKind.CORRECTION)
    overdue = open_request(customer, RightsRequestKind.DELETION, days_ago=20)
    sign_in(client, "compliance_qian", two_factor=True)
    desk = client.get("/rights-requests")
    assert desk.status_code == 200
    rows = re.findall(r'<tr data-testid="request-(\d+)"( class="overdue")?', desk.text)
    assert rows == [(str(overdue), ' class="overdue"'), (str(access), ""), (str(refusable), "")]  # earliest due first
    assert f'data-testid="request-{access}"' in desk.text and f'data-testid="refuse-{refusable}"' in desk.text
    assert client.get(f"/customers/{customer.id}/export.json",  # a link cannot fulfil a request
                      params={"rights_request_id": access}).status_code == 405
    download = post_form(client, f"/customers/{customer.id}/export.json?rights_request_id={access}", {},
                         page="/rights-requests")
    assert download.status_code == 200
    assert download.headers["content-disposition"] == f'attachment; filename="{customer.reference}.json"'
    assert json.loads(download.text)["customer"]["phone"] == body["phone"]
    assert request_status(access) == "fulfilled"
    short = post_form(client, f"/rights-requests/{refusable}/refuse", {"reason": "no"}, page="/rights-requests")
    assert short.status_code == 422 and 'data-testid="error-reason"' in short.text
    refused = post_form(client, f"/rights-requests/{refusable}/refuse",
                        {"reason": "the record is already correct"}, page="/rights-requests")
    assert refused.status_code == 200 and request_status(refusable) == "refused"
    assert f'data-testid="request-{refusable}"' not in refused.text  # the queue holds open requests only
    again = post_form(client, f"/rights-requests/{refusable}/refuse?lang=zh-CN",
                      {"reason": "the record is already correct"}, page="/rights-requests")
    assert again.status_code == 409 and "此申请已处于“已拒绝”状态" in again.text  # the status named in Chinese too


def test_the_desk_erases_after_the_retention_period_and_restricts_within_it(client: TestClient,
                                                                           compliance_qian: Staff) -> None:
    body, long_gone = customer_with()
    _, recent = customer_with()
    old_request = open_request(long_gone, RightsRequestKind.DELETION)
    new_request = open_request(recent, RightsRequestKind.DELETION)
    today = clock.now().date()
    sign_in(client, "compliance_qian", two_factor=True)

    erased = post_form(client, f"/rights-requests/{old_request}/erase",
                       {"relationship_ended_on": (today - timedelta(days=6 * 365 + 2)).isoformat()},
                       page="/rights-requests")
    assert erased.status_code == 200 and 'data-testid="done-status">Erased<' in erased.text
    restricted = post_form(client, f"/rights-requests/{new_request}/erase",
                           {"relationship_ended_on": (today - timedelta(days=365)).isoformat()},
                           page="/rights-requests")
    assert restricted.status_code == 200 and 'data-testid="done-status">Restricted<' in restricted.text

    with unit_of_work(read_only=True) as session:
        gone, kept = session.get(Customer, long_gone.id), session.get(Customer, recent.id)
        assert gone is not None and kept is not None
        assert gone.status == "erased" and gone.phone_enc is None and gone.phone_mask is None
        assert kept.status == "restricted" and kept.phone_enc is not None
    assert request_status(old_request) == "fulfilled" and request_status(new_request) == "restricted"
    page = client.get(f"/customers/{long_gone.id}")
    assert page.status_code == 200 and str(body["phone"]) not in page.text


def test_a_future_end_of_relationship_is_refused_next_to_the_date(client: TestClient,
                                                                  compliance_qian: Staff) -> None:
    _, customer = customer_with()
    request = open_request(customer, RightsRequestKind.DELETION)
    sign_in(client, "compliance_qian", two_factor=True)
    tomorrow = (clock.now().date() + timedelta(days=1)).isoformat()
    refused = post_form(client, f"/rights-requests/{request}/erase", {"relationship_ended_on": tomorrow},
                        page="/rights-requests")
    assert refused.status_code == 422 and 'data-testid="error-relationship_ended_on"' in refused.text
    assert f'value="{tomorrow}"' in refused.text
    assert request_status(request) == "open"


def test_a_consent_withdrawal_request_is_honoured_from_the_desk(client: TestClient, compliance_qian: Staff) -> None:
    _, customer = customer_with()
    request = open_request(customer, RightsRequestKind.CONSENT_WITHDRAWAL)
    sign_in(client, "compliance_qian", two_factor=True)
    done = post_form(client, f"/rights-requests/{request}/withdraw-consent", {}, page="/rights-requests")
    assert done.status_code == 200 and request_status(request) == "fulfilled"
    with unit_of_work(read_only=True) as session:
        consents = service.current_consents(session, customer.id)
        assert consents and not any(c.granted for c in consents.values())
