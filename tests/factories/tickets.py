"""Tickets for tests, opened through the public API or the service."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient

from fincare.platform.db import unit_of_work
from fincare.platform.permissions import Principal
from fincare.servicedesk import service
from fincare.servicedesk.models import Ticket
from tests.factories.accounts import Staff
from tests.factories.customers import make_customer


def ticket_body(customer_id: int, **overrides: Any) -> dict[str, Any]:
    return {"kind": "consultation", "channel": "phone", "customer_id": customer_id,
            "subject": "信用卡年费咨询", "description": "客户询问白金卡年费减免政策。", **overrides}


def open_via_api(client: TestClient, staff: Staff, customer_id: int | None = None, **overrides: Any) -> dict[str, Any]:
    customer_id = customer_id or make_customer().id
    response = client.post("/api/v1/tickets", json=ticket_body(customer_id, **overrides), headers=staff.headers)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def open_ticket(actor: Principal, *, customer_id: int | None = None, received_at: datetime | None = None,
                **overrides: Any) -> Ticket:
    customer_id = customer_id or make_customer().id
    raw = ticket_body(customer_id, **overrides)
    if received_at is not None:
        raw["received_at"] = received_at
    with unit_of_work() as session:
        return service.open_ticket(session, actor=actor, raw=raw).ticket


def decide_via_api(client: TestClient, staff: Staff, ticket_id: int, outcome: str = "partly_upheld",
                   **overrides: Any) -> dict[str, Any]:
    """Send a complaint's decision with the standard reply (routes included): it resolves the complaint."""
    template = client.get(f"/api/v1/tickets/{ticket_id}/decision-template", params={"outcome": outcome},
                          headers=staff.headers)
    assert template.status_code == 200, template.text
    body = {"outcome": outcome, "reply": template.json()["reply"], **overrides}
    response = client.post(f"/api/v1/tickets/{ticket_id}/decisions", json=body, headers=staff.headers)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]
