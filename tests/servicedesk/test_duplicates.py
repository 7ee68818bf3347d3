"""Duplicate and repeat complaints are flagged at intake: the same customer, a similar matter within 7 days;
a customer with two earlier complaints in a year."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from fincare.servicedesk.service.duplicates import similarity
from tests.factories.accounts import Staff
from tests.factories.customers import make_customer
from tests.factories.tickets import open_via_api

CARD_FEE = {"kind": "complaint", "subject": "信用卡年费被重复扣收",
            "description": "本月信用卡年费被扣了两次，要求退还多扣的年费。"}
CARD_FEE_AGAIN = {"kind": "complaint", "subject": "信用卡年费重复扣收",
                  "description": "信用卡年费本月被扣了两次，请退还多扣的年费！"}
BRANCH_QUEUE = {"kind": "complaint", "subject": "网点排队时间过长",
                "description": "周六上午在网点等了两个小时才办理业务。"}


def test_similar_texts_score_high_and_different_ones_low() -> None:
    assert similarity(CARD_FEE["description"], CARD_FEE_AGAIN["description"]) >= 0.5
    assert similarity(CARD_FEE["description"], BRANCH_QUEUE["description"]) < 0.2
    assert similarity("Card fee charged twice", "card fee  charged twice!") == 1.0
    assert similarity("", "anything") == 0.0


def test_the_same_matter_again_within_a_week_is_flagged_with_the_first_complaint(
        client: TestClient, agent_li: Staff, frozen_clock) -> None:  # type: ignore[no-untyped-def]
    customer = make_customer().id
    first = open_via_api(client, agent_li, customer, **CARD_FEE)
    frozen_clock.advance(timedelta(days=3))
    again = open_via_api(client, agent_li, customer, **CARD_FEE_AGAIN)
    other_matter = open_via_api(client, agent_li, customer, **BRANCH_QUEUE)
    someone_else = open_via_api(client, agent_li, make_customer().id, **CARD_FEE_AGAIN)
    assert first["possible_duplicate_of_id"] is None
    assert again["possible_duplicate_of_id"] == first["id"]
    assert other_matter["possible_duplicate_of_id"] is None and someone_else["possible_duplicate_of_id"] is None
    events = client.get(f"/api/v1/tickets/{again['id']}/events", headers=agent_li.headers).json()
    assert [e["detail"]["reference"] for e in events if e["kind"] == "possible_duplicate"] == [first["reference"]]
    assert [e["kind"] for e in events][:2] == ["created", "possible_duplicate"]  # the timeline in the order made
    # its own clocks run from its own receipt: nothing is merged without a person deciding
    assert again["sla"][0]["started_at"] != first["sla"][0]["started_at"]


def test_after_a_week_it_is_a_new_complaint_and_the_customer_a_repeat_complainant(
        client: TestClient, agent_li: Staff, frozen_clock) -> None:  # type: ignore[no-untyped-def]
    customer = make_customer().id
    frozen_clock.set(datetime(2026, 3, 2, 2, tzinfo=UTC))
    first = open_via_api(client, agent_li, customer, **CARD_FEE)
    frozen_clock.advance(timedelta(days=8))
    second = open_via_api(client, agent_li, customer, **CARD_FEE_AGAIN)
    frozen_clock.advance(timedelta(days=30))
    third = open_via_api(client, agent_li, customer, **BRANCH_QUEUE)
    assert second["possible_duplicate_of_id"] is None
    assert (first["repeat_complainant"], second["repeat_complainant"], third["repeat_complainant"]) == (
        False, False, True)
    consultation = open_via_api(client, agent_li, customer)
    assert consultation["repeat_complainant"] is False  # only complaints are examined
