"""Rosters: skills and weekly shifts set by roster managers, availability by oneself; routing reads them."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine, select

from fincare.platform.audit_trail.models import AuditEntry
from fincare.platform.db import unit_of_work
from fincare.platform.permissions import SYSTEM, Role
from fincare.workforce import service as workforce
from tests.concurrency import wait_for_a_lock_wait
from tests.factories.accounts import Staff, make_staff


def roster_url(staff: Staff, part: str = "roster") -> str:
    return f"/api/v1/staff/{staff.id}/{part}"


def test_a_supervisor_sets_skills_and_shifts_and_each_change_is_audited(client: TestClient, agent_li: Staff,
                                                                       supervisor_wang: Staff) -> None:
    skills = client.put(roster_url(agent_li, "skills"), json={"skills": ["wealth", "cards", "wealth"]},
                        headers=supervisor_wang.headers)
    assert skills.status_code == 200 and skills.json()["skills"] == ["cards", "wealth"]
    shifts = client.put(roster_url(agent_li, "shifts"), headers=supervisor_wang.headers,
                        json={"shifts": [{"weekday": 0, "starts": "09:00", "ends": "18:00"},
                                         {"weekday": 5, "starts": "22:00", "ends": "06:00"}]})
    assert shifts.status_code == 200 and [s["weekday"] for s in shifts.json()["shifts"]] == [0, 5]
    mine = client.get(roster_url(agent_li), headers=agent_li.headers).json()
    assert mine["skills"] == ["cards", "wealth"] and mine["presence"] == "available"
    with unit_of_work(read_only=True) as session:
        actions = list(session.execute(select(AuditEntry.action).where(AuditEntry.action.like("workforce.%"))
                                       .order_by(AuditEntry.id)).scalars())
    assert actions == ["workforce.skills_set", "workforce.shifts_set"]


def test_bad_rosters_are_refused_with_the_field_named(client: TestClient, agent_li: Staff,
                                                      supervisor_wang: Staff) -> None:
    cases = [("skills", {"skills": ["crypto"]}, "skills"),
             ("shifts", {"shifts": [{"weekday": 7, "starts": "09:00", "ends": "18:00"}]}, "shifts[0].weekday"),
             ("shifts", {"shifts": [{"weekday": 1, "starts": "9 am", "ends": "18:00"}]}, "shifts[0].starts"),
             ("shifts", {"shifts": [{"weekday": 1, "starts": "09:00", "ends": "09:00"}]}, "shifts[0].ends"),
             ("availability", {"presence": "asleep"}, "presence"),
             ("availability", {"presence": "available", "until": "2030-01-01T00:00:00+08:00"}, "until"),
             ("availability", {"presence": "away", "until": "2001-01-01T00:00:00+08:00"}, "until")]
    for part, body, field in cases:
        response = client.put(roster_url(agent_li, part), json=body, headers=supervisor_wang.headers)
        assert response.status_code == 422 and response.json()["error"]["field"] == field, (part, body)
    assert client.get(roster_url(agent_li), headers=agent_li.headers).json()["skills"] == []


def test_staff_set_their_own_availability_but_nobody_else_s_roster(client: TestClient, agent_li: Staff,
                                                                   supervisor_wang: Staff) -> None:
    colleague = make_staff("agent_zhou", Role.AGENT)
    away = client.put(roster_url(agent_li, "availability"), json={"presence": "away", "reason": "午休"},
                      headers=agent_li.headers)
    assert away.status_code == 200 and away.json()["presence"] == "away"
    assert client.put(roster_url(colleague, "availability"), json={"presence": "away"},
                      headers=agent_li.headers).status_code == 403
    assert client.put(roster_url(agent_li, "skills"), json={"skills": ["cards"]},
                      headers=agent_li.headers).status_code == 403
    assert client.put(roster_url(agent_li, "shifts"), json={"shifts": []}, headers=agent_li.headers).status_code == 403
    assert client.get(roster_url(colleague), headers=agent_li.headers).status_code == 403
    assert client.get(roster_url(agent_li), headers=supervisor_wang.headers).status_code == 200


def test_two_first_settings_of_availability_at_once_are_one_change_and_one_conflict(
        client: TestClient, agent_li: Staff, db: Engine) -> None:
    if db.dialect.name != "postgresql":
        pytest.skip("SQLite runs one writer at a time")
    answers: list[Response] = []
    with unit_of_work() as session:  # agent_li has no availability row yet: this one writes it, not committed
        workforce.set_availability(session, actor=SYSTEM, account_id=agent_li.id, presence="away")
        second = threading.Thread(target=lambda: answers.append(client.put(
            roster_url(agent_li, "availability"), json={"presence": "available"}, headers=agent_li.headers)))
        second.start()
        wait_for_a_lock_wait(db)
    second.join()
    assert answers[0].status_code == 409 and answers[0].json()["error"]["code"] == "conflict"  # not a 500
    assert client.get(roster_url(agent_li), headers=agent_li.headers).json()["presence"] == "away"


def test_on_duty_follows_shifts_across_midnight_and_absences_that_end(
        agent_li: Staff, frozen_clock) -> None:  # type: ignore[no-untyped-def]
    with unit_of_work() as session:
        workforce.set_shifts(session, actor=SYSTEM, account_id=agent_li.id,
                             shifts=workforce.parse_shifts([{"weekday": 4, "starts": "22:00", "ends": "06:00"}]))
    friday_night = datetime(2026, 10, 16, 15, 0, tzinfo=UTC)  # 23:00 Friday in Shanghai
    saturday_early = datetime(2026, 10, 16, 21, 0, tzinfo=UTC)  # 05:00 Saturday
    saturday_day = datetime(2026, 10, 17, 2, 0, tzinfo=UTC)  # 10:00 Saturday
    with unit_of_work(read_only=True) as session:
        assert workforce.on_duty(session, [agent_li.id], friday_night) == {agent_li.id}
        assert workforce.on_duty(session, [agent_li.id], saturday_early) == {agent_li.id}
        assert workforce.on_duty(session, [agent_li.id], saturday_day) == set()
    frozen_clock.set(friday_night - timedelta(hours=1))
    with unit_of_work() as session:  # away for two hours: back at 00:00
        workforce.set_availability(session, actor=SYSTEM, account_id=agent_li.id, presence="away",
                                   until=friday_night + timedelta(hours=1))
    with unit_of_work(read_only=True) as session:
        assert workforce.on_duty(session, [agent_li.id], friday_night) == set()
        assert workforce.on_duty(session, [agent_li.id], saturday_early) == {agent_li.id}
