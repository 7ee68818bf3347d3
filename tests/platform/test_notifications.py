"""A staff member's inbox over REST is theirs alone: reading and marking never reach a colleague's."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from fincare.platform import notify
from fincare.platform.db import unit_of_work
from fincare.platform.notify import Notification
from tests.factories.accounts import Staff


def test_marking_a_colleagues_notification_read_changes_nothing(client: TestClient, agent_li: Staff,
                                                                supervisor_wang: Staff) -> None:
    with unit_of_work() as session:
        notify.notify_staff(session, recipients=[agent_li.id, supervisor_wang.id], kind="ticket_breached",
                            params={"reference": "ZX-2026-000001"}, dedupe_key="breach-1")
    with unit_of_work(read_only=True) as session:
        theirs = session.execute(select(Notification.id).where(
            Notification.recipient_id == supervisor_wang.id)).scalar_one()
    inbox = client.get("/api/v1/notifications", headers=agent_li.headers).json()
    assert [n["id"] for n in inbox] != [theirs] and len(inbox) == 1  # only their own
    marked = client.post("/api/v1/notifications/read", json={"ids": [theirs]}, headers=agent_li.headers)
    assert marked.status_code == 200 and marked.json() == {"marked": 0}
    assert client.post("/api/v1/notifications/read", json={}, headers=agent_li.headers).json() == {"marked": 1}
    unread = client.get("/api/v1/notifications", params={"unread": True}, headers=supervisor_wang.headers).json()
    assert [n["id"] for n in unread] == [theirs]  # every mark of agent_li's left it unread
