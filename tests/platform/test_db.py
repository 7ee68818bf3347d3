"""Writing new rows in one round trip: ids for several tables at once, and rows of several tables
in one statement, stored exactly as the session's unit of work would store them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select

from fincare.platform.db import allocate_id_sets, insert_new, unit_of_work
from fincare.sla.models import Clock, ClockEvent


def test_ids_for_several_tables_come_in_one_call_and_are_never_handed_out_twice(db: Engine) -> None:
    at = datetime(2026, 10, 12, 1, 30, tzinfo=UTC)
    with unit_of_work() as session:
        first = allocate_id_sets(session, {"sla_clock": 3, "sla_clock_event": 1, "ticket": 0})
        insert_new(session, [Clock(id=n, subject_type="ticket", subject_id=n, target="resolution", calendar="24x7",
                                   budget_seconds=60, started_at=at, due_at=at, warn_at=at, state="running")
                             for n in first["sla_clock"]])
    with unit_of_work() as session:
        second = allocate_id_sets(session, {"sla_clock": 2})
    assert [len(first["sla_clock"]), len(first["sla_clock_event"]), first["ticket"]] == [3, 1, []]
    assert first["sla_clock"] == sorted(first["sla_clock"])
    assert min(second["sla_clock"]) > max(first["sla_clock"])


def test_new_rows_of_two_tables_are_stored_with_their_defaults_and_stay_transient(db: Engine) -> None:
    at = datetime(2026, 10, 12, 1, 30, tzinfo=UTC)
    with unit_of_work() as session:
        clock_id = allocate_id_sets(session, {"sla_clock": 1})["sla_clock"][0]
        item = Clock(id=clock_id, subject_type="ticket", subject_id=7, target="resolution", calendar="24x7",
                     budget_seconds=60, started_at=at, due_at=at, warn_at=at, state="running")
        event = ClockEvent(clock_id=clock_id, kind="started", at=at, detail={"due_at": at.isoformat(), "名": "值"})
        insert_new(session, [item, event])
        assert item not in session and event not in session
    with unit_of_work(read_only=True) as session:
        stored = session.execute(select(Clock)).scalar_one()
        logged = session.execute(select(ClockEvent)).scalar_one()
    assert (stored.id, stored.due_at, stored.paused_seconds, stored.extensions) == (clock_id, at, 0, 0)
    assert (logged.clock_id, logged.detail, logged.actor_id) == (clock_id, {"due_at": at.isoformat(), "名": "值"}, None)


def test_a_failing_row_writes_none_of_the_others(db: Engine) -> None:
    at = datetime(2026, 10, 12, 1, 30, tzinfo=UTC)
    with pytest.raises(Exception), unit_of_work() as session:  # noqa: B017, PT011 - the driver's own error
        insert_new(session, [ClockEvent(clock_id=1, kind="started", at=at),
                             ClockEvent(clock_id=1, kind=None, at=at)])  # kind is NOT NULL
    with unit_of_work(read_only=True) as session:
        assert session.execute(select(ClockEvent)).first() is None
