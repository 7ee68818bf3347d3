"""SLA policies and the institution's calendar over the API: admins change them, the desk and admins read;
a revision is a new version, and an override moves the due times of tickets opened afterwards."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient

from fincare.platform import clock
from fincare.platform.permissions import Role
from tests.factories.accounts import Staff, make_staff
from tests.factories.tickets import open_via_api


def test_an_admin_revises_a_target_as_a_new_version_and_the_old_one_stays_on_record(
        client: TestClient, admin_root: Staff, agent_li: Staff) -> None:
    active = client.get("/api/v1/sla/policies", headers=admin_root.headers).json()  # who edits them reads them
    assert active == client.get("/api/v1/sla/policies", headers=agent_li.headers).json()
    marketing = make_staff("marketing_sun", Role.MARKETING)
    assert client.get("/api/v1/sla/policies", headers=marketing.headers).status_code == 403
    consultation = next(p for p in active if p["key"] == "consultation")
    assert consultation["minutes"] == 5 and consultation["version"] == 1
    url = f"/api/v1/sla/policies/{consultation['id']}/revisions"
    assert client.post(url, json={"minutes": 3}, headers=agent_li.headers).status_code == 403
    revised = client.post(url, json={"minutes": 3}, headers=admin_root.headers)
    assert revised.status_code == 201 and revised.json()["version"] == 2
    assert client.post(url, json={"minutes": 4}, headers=admin_root.headers).status_code == 409  # v1 is history
    assert client.post(f"/api/v1/sla/policies/{revised.json()['id']}/revisions", json={"minutes": 0},
                       headers=admin_root.headers).json()["error"]["field"] == "minutes"
    history = client.get("/api/v1/sla/policies?history=true", headers=agent_li.headers).json()
    assert [(p["version"], p["active"]) for p in history if p["key"] == "consultation"] == [(1, False), (2, True)]
    ticket = open_via_api(client, agent_li)
    first = next(c for c in ticket["sla"] if c["target"] == "first_response")
    assert first["budget_seconds"] == 180


def test_a_day_the_institution_closes_is_skipped_by_business_clocks_opened_afterwards(
        client: TestClient, admin_root: Staff, agent_li: Staff) -> None:
    with clock.frozen(datetime(2026, 11, 16, 1, tzinfo=UTC)):  # Monday 09:00 in Shanghai
        before = open_via_api(client, agent_li, kind="feedback")  # 48 business hours of 9-hour days
        closed = client.put("/api/v1/sla/calendar/overrides/2026-11-18", json={"workday": False, "note": "台风停业"},
                            headers=admin_root.headers)
        assert closed.status_code == 200
        assert client.put("/api/v1/sla/calendar/overrides/2026-11-19", json={"workday": False, "note": "x"},
                          headers=agent_li.headers).status_code == 403
        after = open_via_api(client, agent_li, kind="feedback")
    due = {t["id"]: next(c["due_at"] for c in t["sla"] if c["target"] == "resolution") for t in (before, after)}
    assert due[before["id"]].startswith("2026-11-23T04:00")  # 5 × 9 h by Friday, 3 h more: Monday 12:00
    assert due[after["id"]].startswith("2026-11-24T04:00")  # the closed Wednesday pushes it a day: Tuesday 12:00
    for reader in (agent_li, admin_root):  # the admin who edits the days reads them too
        assert client.get("/api/v1/sla/calendar/overrides", headers=reader.headers).json() == [
            {"day": "2026-11-18", "workday": False, "note": "台风停业"}]
    assert client.delete("/api/v1/sla/calendar/overrides/2026-11-18", headers=admin_root.headers).status_code == 204
    assert client.delete("/api/v1/sla/calendar/overrides/2026-11-18", headers=admin_root.headers).status_code == 404
