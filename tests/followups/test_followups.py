"""Follow-up commitments (回访): one per resolved complaint however often the event arrives, due in 3
business days, routed to the follow-up agent on duty; outcomes call by call; periodic follow-ups by rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from fincare.followups import service
from fincare.followups.models import Cadence, FollowUp
from fincare.platform import clock
from fincare.platform.db import unit_of_work
from fincare.platform.permissions import Role
from fincare.sla.models import Clock
from tests.factories import customers as make
from tests.factories.accounts import Staff, make_staff
from tests.factories.customers import make_customer
from tests.factories.followups import deliver_resolutions, resolved_complaint
from tests.factories.tickets import open_via_api

API = "/api/v1"


@pytest.fixture
def chen(db: Engine) -> Staff:
    return make_staff("specialist_chen", Role.COMPLAINT_SPECIALIST)


@pytest.fixture
def caller_sun(db: Engine) -> Staff:
    return make_staff("followup_sun", Role.FOLLOWUP_AGENT)


def count(model: type[Any]) -> int:
    with unit_of_work(read_only=True) as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def only_follow_up() -> FollowUp:
    with unit_of_work(read_only=True) as session:
        return session.execute(select(FollowUp)).scalar_one()


def outcome(client: TestClient, staff: Staff, follow_up_id: int, **body: Any) -> Any:
    return client.post(f"{API}/followups/{follow_up_id}/outcome", json=body, headers=staff.headers)


def test_a_resolved_complaint_gets_exactly_one_follow_up_even_when_the_event_arrives_twice(
        client: TestClient, chen: Staff, caller_sun: Staff, frozen_clock: clock.FrozenClock) -> None:
    ticket = resolved_complaint(client, chen)
    deliver_resolutions(times=2)
    follow_up = only_follow_up()
    assert (follow_up.ticket_id, follow_up.kind, follow_up.status) == (ticket["id"], "complaint", "open")
    assert follow_up.assignee_id == caller_sun.id  # the follow-up agent on duty
    with unit_of_work(read_only=True) as session:
        item = session.execute(select(Clock).where(Clock.subject_type == "follow_up")).scalar_one()
    # resolved Monday 17:30 Shanghai: 27 business hours = Thursday 17:30 (Shanghai) = 09:30 UTC
    assert (item.target, item.calendar) == ("follow_up", "business")
    assert item.due_at == follow_up.due_at == datetime(2026, 10, 15, 9, 30, tzinfo=UTC)
    listed = client.get(f"{API}/followups?due_before=2026-10-16T00:00:00Z", headers=caller_sun.headers).json()
    assert [f["id"] for f in listed] == [follow_up.id] and "*" in listed[0]["customer_name"]
    assert client.get(f"{API}/followups?due_before=2026-10-15T00:00:00Z", headers=caller_sun.headers).json() == []


def test_the_follow_up_of_a_complaint_never_goes_to_a_caller_it_names(
        client: TestClient, chen: Staff, caller_sun: Staff, frozen_clock: clock.FrozenClock) -> None:
    zhou = make_staff("followup_zhou", Role.FOLLOWUP_AGENT)  # a higher id: a tie would go to sun
    resolved_complaint(client, chen, named_staff_ids=[caller_sun.id])  # the complaint is about sun
    deliver_resolutions()
    assert only_follow_up().assignee_id == zhou.id  # (回避)


def test_consultations_and_linked_duplicates_get_no_follow_up(client: TestClient, agent_li: Staff,
                                                              caller_sun: Staff) -> None:
    ticket = open_via_api(client, agent_li)
    client.post(f"{API}/tickets/{ticket['id']}/replies", json={"body": "已答复", "visibility": "public"},
                headers=agent_li.headers)
    client.post(f"{API}/tickets/{ticket['id']}/transitions", json={"to": "resolved"}, headers=agent_li.headers)
    deliver_resolutions()
    assert count(FollowUp) == 0


def test_unreachable_on_three_different_days_closes_the_follow_up(
        client: TestClient, chen: Staff, caller_sun: Staff, frozen_clock: clock.FrozenClock) -> None:
    resolved_complaint(client, chen)
    deliver_resolutions()
    follow_up = only_follow_up()
    first = outcome(client, caller_sun, follow_up.id, result="unreachable", note="无人接听")
    assert first.status_code == 200 and first.json()["status"] == "open" and first.json()["attempts"] == 1
    same_day = outcome(client, caller_sun, follow_up.id, result="unreachable")
    assert same_day.status_code == 409 and same_day.json()["error"]["field"] == "result"
    frozen_clock.advance(timedelta(days=1))
    assert outcome(client, caller_sun, follow_up.id, result="unreachable").json()["status"] == "open"
    frozen_clock.advance(timedelta(days=2))
    closed = outcome(client, caller_sun, follow_up.id, result="unreachable").json()
    assert (closed["status"], closed["outcome"], closed["attempts"]) == ("closed", "unreachable", 3)
    again = outcome(client, caller_sun, follow_up.id, result="reached_satisfied")
    assert again.status_code == 409
    attempts = client.get(f"{API}/followups/{follow_up.id}/attempts", headers=caller_sun.headers).json()
    assert [a["result"] for a in attempts] == ["unreachable"] * 3 and attempts[0]["note"] == "无人接听"


def test_a_card_number_in_a_call_note_is_kept_only_masked(client: TestClient, chen: Staff,
                                                          caller_sun: Staff) -> None:
    resolved_complaint(client, chen)
    deliver_resolutions()
    follow_up = only_follow_up()
    card = make.card()
    assert outcome(client, caller_sun, follow_up.id, result="unreachable", note=f"客户留卡号{card}").status_code == 200
    attempts = client.get(f"{API}/followups/{follow_up.id}/attempts", headers=caller_sun.headers).json()
    assert attempts[0]["note"] == f"客户留卡号{'*' * (len(card) - 4)}{card[-4:]}"


def test_a_dissatisfied_complainant_gets_the_complaint_reopened_or_reviewed(
        client: TestClient, chen: Staff, caller_sun: Staff) -> None:
    reopen_me = resolved_complaint(client, chen)
    review_me = resolved_complaint(client, chen)
    deliver_resolutions()
    with unit_of_work(read_only=True) as session:
        by_ticket = {f.ticket_id: f.id for f in session.execute(select(FollowUp)).scalars()}
    no_reason = outcome(client, caller_sun, by_ticket[reopen_me["id"]], result="reached_dissatisfied",
                        next_step="reopen")
    assert no_reason.status_code == 422 and no_reason.json()["error"]["field"] == "reason"
    bogus = outcome(client, caller_sun, by_ticket[reopen_me["id"]], result="reached_dissatisfied", reason="不满意",
                    next_step="sue")
    assert bogus.status_code == 422 and bogus.json()["error"]["field"] == "next_step"
    reopened = outcome(client, caller_sun, by_ticket[reopen_me["id"]], result="reached_dissatisfied",
                       reason="退款金额不对", next_step="reopen")
    assert reopened.status_code == 200 and reopened.json()["outcome"] == "reached_dissatisfied"
    ticket = client.get(f"{API}/tickets/{reopen_me['id']}", headers=chen.headers).json()
    assert ticket["status"] == "reopened"
    reviewed = outcome(client, caller_sun, by_ticket[review_me["id"]], result="reached_dissatisfied",
                       reason="要求上级核查", next_step="review")
    assert reviewed.status_code == 200
    reviews = client.get(f"{API}/tickets/{review_me['id']}/reviews", headers=chen.headers).json()
    assert len(reviews) == 1 and reviews[0]["status"] == "open" and "要求上级核查" in reviews[0]["reason"]


def test_bad_outcomes_are_refused_with_the_field_named_and_nothing_written(
        client: TestClient, chen: Staff, caller_sun: Staff, agent_li: Staff) -> None:
    resolved_complaint(client, chen)
    deliver_resolutions()
    follow_up = only_follow_up()
    for body, field in [({"result": "maybe"}, "result"),
                        ({"result": "reached_satisfied", "reason": "x"}, "reason"),
                        ({"result": "refused", "note": "x" * 1001}, "note")]:
        response = outcome(client, caller_sun, follow_up.id, **body)
        assert response.status_code == 422 and response.json()["error"]["field"] == field, body
    assert only_follow_up().attempts == 0
    assert client.get(f"{API}/followups", headers=agent_li.headers).status_code == 403
    assert outcome(client, agent_li, follow_up.id, result="refused").status_code == 403
    other = make_staff("followup_zhou", Role.FOLLOWUP_AGENT)
    assert outcome(client, other, follow_up.id, result="refused").status_code == 403  # a colleague's


def test_periodic_follow_ups_by_segment_and_tag_are_generated_once_per_period(
        client: TestClient, supervisor_wang: Staff, caller_sun: Staff, frozen_clock: clock.FrozenClock) -> None:
    key = [make_customer(segment="private_banking").id for _ in range(2)]
    make_customer(segment="mass")
    risky = make_customer(tags=["high_risk_sales"]).id
    bad = client.post(f"{API}/followup-rules", json={"kind": "key_customer", "cadence": "weekly",
                                                     "segment": "private_banking"}, headers=supervisor_wang.headers)
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "cadence"
    both = client.post(f"{API}/followup-rules", json={"kind": "key_customer", "cadence": "quarterly"},
                       headers=supervisor_wang.headers)
    assert both.status_code == 422 and both.json()["error"]["field"] == "segment"
    assert client.post(f"{API}/followup-rules", json={"kind": "key_customer", "cadence": "quarterly",
                                                      "segment": "private_banking"},
                       headers=caller_sun.headers).status_code == 403
    for body in ({"kind": "key_customer", "cadence": "quarterly", "segment": "private_banking"},
                 {"kind": "high_risk_sales", "cadence": "monthly", "tag": "high_risk_sales"}):
        assert client.post(f"{API}/followup-rules", json=body, headers=supervisor_wang.headers).status_code == 201
    with unit_of_work() as session:
        assert service.generate(session) == 3
    with unit_of_work() as session:
        assert service.generate(session) == 0  # run twice: no harm
    with unit_of_work(read_only=True) as session:
        rows = {(f.customer_id, f.kind) for f in session.execute(select(FollowUp)).scalars()}
    assert rows == {(key[0], "key_customer"), (key[1], "key_customer"), (risky, "high_risk_sales")}
    frozen_clock.advance(timedelta(days=31))  # a new month, the same quarter
    with unit_of_work() as session:
        assert service.generate(session) == 1
    assert service.period_of(Cadence.QUARTERLY, clock.now()) == "2026Q4"
    assert service.period_of(Cadence.MONTHLY, clock.now()) == "2026-11"
